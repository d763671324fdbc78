"""The HTTP contract (docs/api.md) through the real nginx, FastCGI program and MariaDB."""
import json
import os
import pwd
import re
import select
import signal
import socket
import subprocess
import threading
import time
import unittest
import urllib.parse

from fcgi_client import fcgi_request
from harness import Stack, wait_until

S = None


def setUpModule():
    global S
    # The front half: the worker runs too (at the default 60 cities/min),
    # so no assertion here may rely on a city staying pending for long,
    # except in requests far larger than a minute's allowance.  POSTs are
    # never deferred (that is test_defer's part): QueueLockWait's premise
    # is a POST that takes the queue lock itself.  Deferred while the
    # worker says it is behind (a busy machine: once, under the
    # sanitizers), the POST leaves that lock to the resolver, whose round
    # holds the request's row while it waits for the lock the test holds;
    # one CI run's "Lock wait timeout" in that test fits this.
    S = Stack(env={"OWMCOLLECT_HTTP_DEFER": "never"}).start()


def tearDownModule():
    if S:
        S.stop()


def requests_count():
    return int(S.sql("SELECT COUNT(*) FROM requests")[0][0])


def cities_count():
    return int(S.sql("SELECT COUNT(*) FROM request_data")[0][0])


class Collect(unittest.TestCase):
    def test_post_default_cities_then_get(self):
        t0 = time.monotonic()
        status, headers, doc = S.post_collect({"id": "default-1"})
        elapsed = time.monotonic() - t0
        self.assertEqual(status, 202, doc)
        self.assertLess(elapsed, 2.0)  # generous: it never waits for collection
        self.assertEqual(doc["id"], "default-1")
        self.assertEqual(doc["total"], 167)
        self.assertEqual(doc["status_url"], "/get?id=default-1")
        self.assertEqual(headers["location"], "/get?id=default-1")
        self.assertRegex(doc["requested_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
        self.assertTrue(headers["content-type"].startswith("application/json"))
        status, _, got = S.get("default-1")
        self.assertEqual(status, 200)
        self.assertEqual(got["total"], 167)
        self.assertEqual(got["requested_at"], doc["requested_at"])
        for k in ("id", "requested_at", "finished_at", "progress", "total", "collected", "failed", "data"):
            self.assertIn(k, got)
        self.assertGreaterEqual(got["progress"], 0)
        self.assertLessEqual(got["progress"], 100)
        # Every city is in the database, in order, from the compiled-in list.
        with open(os.path.join(os.path.dirname(__file__), "..", "..", "etc", "cities.txt")) as f:
            want = [int(x) for x in f.read().split()]
        rows = S.sql("SELECT city_id FROM request_data WHERE id = 'default-1' ORDER BY pos")
        self.assertEqual([int(r[0]) for r in rows], want)

    def test_post_given_cities(self):
        status, _, doc = S.post_collect({"id": "given", "cities": [2643743, 2988507, 5128581]})
        self.assertEqual(status, 202, doc)
        self.assertEqual(doc["total"], 3)
        self.assertEqual(S.get("given").json["total"], 3)

    def test_form_post(self):
        r = S.request("POST", "/collect", "id=form%20%E2%9C%93&cities=1,2,3",
                      {"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(r.status, 202, r.body)
        self.assertEqual(r.json["id"], "form \u2713")
        self.assertEqual(r.json["total"], 3)

    def test_unicode_id_round_trips(self):
        ids = ["Zürich-東京-🌍", "quote\"back\\slash/", "a b&c=d?e#f%g+h", "\u2028line\u2029sep",
               "é" * 64, "x" * 128, "'; DROP TABLE requests; --", "ﬀ\ufeffBOM"]
        for ident in ids:
            with self.subTest(ident=ident):
                status, headers, doc = S.post_collect({"id": ident, "cities": [1]})
                self.assertEqual(status, 202, doc)
                self.assertEqual(doc["id"], ident)
                loc = headers["location"]
                self.assertEqual(urllib.parse.unquote(loc.split("=", 1)[1]), ident)
                r = S.request("GET", loc)
                self.assertEqual(r.status, 200)
                self.assertEqual(r.json["id"], ident)
                self.assertEqual(r.json["id"].encode("utf-8"), ident.encode("utf-8"))
        # JSON escapes decode to the same bytes as raw UTF-8.
        status, _, doc = S.post_collect(b'{"id": "caf\\u00e9-\\ud83c\\udf0d", "cities": [1]}')
        self.assertEqual(status, 202, doc)
        self.assertEqual(S.get("café-🌍").status, 200)

    def test_duplicate_id_is_409(self):
        self.assertEqual(S.post_collect({"id": "dup", "cities": [1]}).status, 202)
        before = cities_count()
        status, _, doc = S.post_collect({"id": "dup", "cities": [1, 2]})
        self.assertEqual(status, 409)
        self.assertIn("error", doc)
        self.assertEqual(cities_count(), before)

    def test_concurrent_posts_one_id(self):
        for round_ in range(5):
            ident = "race-%d" % round_
            barrier = threading.Barrier(8)
            results = []

            def go():
                barrier.wait()
                results.append(S.post_collect({"id": ident}).status)
            threads = [threading.Thread(target=go) for _ in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual(sorted(results), [202] + [409] * 7, ident)
            rows = S.sql("SELECT COUNT(*) FROM request_data WHERE id = '%s'" % ident)
            self.assertEqual(int(rows[0][0]), 167)

    def test_many_concurrent_posts_all_accepted(self):
        # 16 clients x 15 POSTs of the same 167 cities while the worker
        # stores readings for them: lock conflicts must resolve, never 503.
        statuses = []

        def client(k):
            for j in range(15):
                statuses.append(S.post_collect({"id": "load-%d-%d" % (k, j)}).status)
        threads = [threading.Thread(target=client, args=(k,)) for k in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(len(statuses), 240)
        self.assertEqual(set(statuses), {202})

    def test_get_unknown_and_missing(self):
        r = S.get("never-posted")
        self.assertEqual(r.status, 404)
        self.assertIn("error", r.json)
        for path in ("/get", "/get?", "/get?foo=1", "/get?id="):
            r = S.request("GET", path)
            self.assertEqual(r.status, 400, path)
            self.assertIn("error", r.json)

    def test_head_get(self):
        S.post_collect({"id": "head", "cities": [1]})
        r = S.request("HEAD", "/get?id=head")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"")


J = {"Content-Type": "application/json"}
F = {"Content-Type": "application/x-www-form-urlencoded"}

# (name, method, path, headers, body, status, error substring)
BAD = [
    ("empty body", "POST", "/collect", J, b"", 400, "empty"),
    ("not json", "POST", "/collect", J, b"hello", 400, "JSON"),
    ("truncated", "POST", "/collect", J, b'{"id": "a"', 400, "truncated"),
    ("truncated string", "POST", "/collect", J, b'{"id": "a', 400, "truncated"),
    ("array", "POST", "/collect", J, b'["a"]', 400, "object"),
    ("string", "POST", "/collect", J, b'"a"', 400, "object"),
    ("two values", "POST", "/collect", J, b'{"id":"a"}{"id":"b"}', 400, "JSON"),
    ("trailing garbage", "POST", "/collect", J, b'{"id":"a"} x', 400, "JSON"),
    ("trailing comma", "POST", "/collect", J, b'{"id":"a",}', 400, "JSON"),
    ("single quotes", "POST", "/collect", J, b"{'id':'a'}", 400, "JSON"),
    ("missing id", "POST", "/collect", J, b'{}', 400, "id is missing"),
    ("missing id with cities", "POST", "/collect", J, b'{"cities":[1]}', 400, "id is missing"),
    ("empty id", "POST", "/collect", J, b'{"id":""}', 400, "empty"),
    # An id is a string or a JSON integer (tests IntegerId); nothing else.
    ("fraction id", "POST", "/collect", J, b'{"id":1.5}', 400, "string or an integer"),
    ("exponent id", "POST", "/collect", J, b'{"id":1e3}', 400, "string or an integer"),
    ("true id", "POST", "/collect", J, b'{"id":true}', 400, "string or an integer"),
    ("null id", "POST", "/collect", J, b'{"id":null}', 400, "string or an integer"),
    ("array id", "POST", "/collect", J, b'{"id":[]}', 400, "string or an integer"),
    ("object id", "POST", "/collect", J, b'{"id":{}}', 400, "string or an integer"),
    ("object id with a member", "POST", "/collect", J, b'{"id":{"a":1}}', 400, "string or an integer"),
    ("integer id of 129 digits", "POST", "/collect", J, b'{"id":' + b"9" * 129 + b'}', 400, "128"),
    ("fraction id, trailing slash", "POST", "/collect/", J, b'{"id":2.0}', 400, "string or an integer"),
    ("overlong id", "POST", "/collect", J, json.dumps({"id": "x" * 129}).encode(), 400, "128"),
    ("overlong unicode id", "POST", "/collect", J, json.dumps({"id": "é" * 65}, ensure_ascii=False).encode(), 400, "128"),
    ("newline in id", "POST", "/collect", J, b'{"id":"a\\nb"}', 400, "control"),
    ("NUL escape in id", "POST", "/collect", J, b'{"id":"a\\u0000b"}', 400, "control"),
    ("raw control in id", "POST", "/collect", J, b'{"id":"a\x01b"}', 400, "control"),
    ("C1 control in id", "POST", "/collect", J, b'{"id":"a\\u0085b"}', 400, "control"),
    ("invalid utf-8 id", "POST", "/collect", J, b'{"id":"a\xff\xfeb"}', 400, "UTF-8"),
    ("overlong utf-8", "POST", "/collect", J, b'{"id":"\xc0\xaf"}', 400, "UTF-8"),
    ("lone surrogate", "POST", "/collect", J, b'{"id":"\\ud800"}', 400, "surrogate"),
    ("duplicate id key", "POST", "/collect", J, b'{"id":"a","id":"b"}', 400, "repeats"),
    ("unknown field", "POST", "/collect", J, b'{"id":"a","citys":[1]}', 400, "unknown field"),
    ("cities not array", "POST", "/collect", J, b'{"id":"a","cities":5}', 400, "array"),
    ("cities empty", "POST", "/collect", J, b'{"id":"a","cities":[]}', 400, "1 to 1000"),
    ("cities negative", "POST", "/collect", J, b'{"id":"a","cities":[-1]}', 400, "positive"),
    ("cities zero", "POST", "/collect", J, b'{"id":"a","cities":[0]}', 400, "positive"),
    ("cities float", "POST", "/collect", J, b'{"id":"a","cities":[1.5]}', 400, "integer"),
    ("cities exponent", "POST", "/collect", J, b'{"id":"a","cities":[1e3]}', 400, "integer"),
    ("cities string", "POST", "/collect", J, b'{"id":"a","cities":["1"]}', 400, "integer"),
    ("cities null", "POST", "/collect", J, b'{"id":"a","cities":[null]}', 400, "integer"),
    ("cities nested", "POST", "/collect", J, b'{"id":"a","cities":[[1]]}', 400, "integer"),
    ("cities too big", "POST", "/collect", J, b'{"id":"a","cities":[4294967296]}', 400, "at most"),
    ("cities duplicate", "POST", "/collect", J, b'{"id":"a","cities":[5,6,5]}', 400, "repeat"),
    ("cities over 1000", "POST", "/collect", J, json.dumps({"id": "a", "cities": list(range(1, 1002))}).encode(), 400, "1 to 1000"),
    ("form no id", "POST", "/collect", F, b"cities=1", 400, "id is missing"),
    ("form bad percent", "POST", "/collect", F, b"id=%zz", 400, "percent"),
    ("form NUL", "POST", "/collect", F, b"id=a%00b", 400, "control"),
    ("form bad cities", "POST", "/collect", F, b"id=a&cities=1,,2", 400, "cities"),
    ("form unknown field", "POST", "/collect", F, b"id=a&x=1", 400, "unknown field"),
    ("text/plain", "POST", "/collect", {"Content-Type": "text/plain"}, b'{"id":"a"}', 415, "Content-Type"),
    ("no content type", "POST", "/collect", {}, b'{"id":"a"}', 415, "Content-Type"),
    ("json latin1 charset", "POST", "/collect", {"Content-Type": "application/json; charset=latin1"}, b'{"id":"a"}', 415, "Content-Type"),
    ("multipart", "POST", "/collect", {"Content-Type": "multipart/form-data; boundary=x"}, b'--x--', 415, "Content-Type"),
    ("too large", "POST", "/collect", J, b'{"id":"' + b"a" * 70000 + b'"}', 413, "too large"),
    ("PUT collect", "PUT", "/collect", J, b'{"id":"a"}', 405, "method"),
    ("DELETE collect no id", "DELETE", "/collect", {}, None, 400, "id is missing"),
    ("DELETE collect bad id", "DELETE", "/collect?id=%ff", {}, None, 400, "UTF-8"),
    ("list bad limit", "GET", "/collect?limit=0", {}, None, 400, "limit"),
    ("list huge limit", "GET", "/collect?limit=101", {}, None, 400, "limit"),
    ("list bad cursor", "GET", "/collect?before=abc", {}, None, 400, "before"),
    ("PATCH collect", "PATCH", "/collect", J, b'{}', 405, "method"),
    ("POST get", "POST", "/get?id=a", J, b'{}', 405, "method"),
    ("get NUL", "GET", "/get?id=a%00b", {}, None, 400, "control"),
    ("get bad percent", "GET", "/get?id=%zz", {}, None, 400, "percent"),
    ("get truncated percent", "GET", "/get?id=ab%4", {}, None, 400, "percent"),
    ("get invalid utf-8", "GET", "/get?id=%ff", {}, None, 400, "UTF-8"),
    ("get overlong", "GET", "/get?id=" + "x" * 129, {}, None, 400, "128"),
    ("get repeated id", "GET", "/get?id=a&id=b", {}, None, 400, "repeats"),
    ("unknown path", "GET", "/nope", {}, None, 404, "endpoint"),
    # The trailing-slash spellings refuse what the plain ones do.
    ("PUT collect/", "PUT", "/collect/", J, b'{"id":"a"}', 405, "method"),
    ("POST get/", "POST", "/get/?id=a", J, b'{}', 405, "method"),
    ("POST health/", "POST", "/health/", J, b'{}', 405, "method"),
    ("POST metrics/", "POST", "/metrics/", J, b'{}', 405, "method"),
    ("get/ no id", "GET", "/get/", {}, None, 400, "id is missing"),
    ("collect/ empty body", "POST", "/collect/", J, b"", 400, "empty"),
    ("two slashes more", "GET", "/get/x?id=a", {}, None, 404, "endpoint"),
]


class BadInput(unittest.TestCase):
    def test_table(self):
        self.assertGreaterEqual(len(BAD), 50)
        before = (requests_count(), cities_count())
        for name, method, path, headers, body, status, why in BAD:
            with self.subTest(name):
                r = S.request(method, path, body, headers)
                self.assertEqual(r.status, status, "%s: %s" % (name, r.body[:200]))
                doc = r.json
                self.assertIsInstance(doc.get("error"), str, name)
                self.assertIn(why, doc["error"], name)
                if status == 405:
                    self.assertIn("allow", r.headers, name)
        # Nothing was written by any of them, and the stack still serves.
        self.assertEqual((requests_count(), cities_count()), before)
        self.assertEqual(S.post_collect({"id": "after-bad-input", "cities": [1]}).status, 202)


class Manage(unittest.TestCase):
    def test_list_newest_first_paginated(self):
        mine = ["list-%d" % i for i in range(5)]
        for ident in mine:
            self.assertEqual(S.post_collect({"id": ident, "cities": [7, 8]}).status, 202)
        seen, path = [], "/collect?limit=2"
        for _ in range(100):
            r = S.request("GET", path)
            self.assertEqual(r.status, 200, r.body)
            doc = r.json
            self.assertLessEqual(len(doc["requests"]), 2)
            seen += [x["id"] for x in doc["requests"]]
            for x in doc["requests"]:
                for k in ("requested_at", "finished_at", "progress", "total", "collected", "failed"):
                    self.assertIn(k, x)
            if doc["next"] is None:
                break
            path = "/collect?limit=2&before=" + doc["next"]
        # Newest first, each exactly once.
        self.assertEqual(len(seen), len(set(seen)))
        order = [i for i in seen if i in mine]
        self.assertEqual(order, list(reversed(mine)))

    def test_cancel(self):
        cities = list(range(800000001, 800000301))   # 300 cities: far more than a minute's worth
        self.assertEqual(S.post_collect({"id": "to-cancel", "cities": cities}).status, 202)
        r = S.request("DELETE", "/collect?id=to-cancel")
        self.assertEqual(r.status, 200, r.body)
        doc = r.json
        self.assertEqual(doc["progress"], 100)
        self.assertIsNotNone(doc["finished_at"])
        self.assertEqual(doc["collected"] + doc["failed"], 300)
        cancelled = [d for d in doc["data"] if d.get("error") == "cancelled"]
        self.assertGreater(len(cancelled), 200)
        self.assertEqual(len(doc["data"]), 300)
        # Its queue entries go: at once those no batch holds, the rest
        # when their batch ends.
        wait_until(lambda: S.sql("SELECT COUNT(*) FROM city_tasks "
                                 "WHERE city_id BETWEEN 800000001 AND 800000300") == [["0"]],
                   60, what="the cancelled request's queue entries to go")
        # A second cancel changes nothing; an unknown id is 404.
        again = S.request("DELETE", "/collect?id=to-cancel").json
        self.assertEqual(again["failed"], doc["failed"])
        self.assertEqual(S.request("DELETE", "/collect?id=nope").status, 404)

    def test_cancel_on_new_connections(self):
        # DELETE prepares its statements on a connection's first DELETE:
        # again on the connections that replace those the server dropped.
        for i in range(36):
            self.assertEqual(S.request("DELETE", "/collect?id=nope-%d" % i).status, 404)
        ids = S.sql("SELECT id FROM information_schema.processlist "
                    "WHERE user = 'owmcollect' AND id <> CONNECTION_ID()")
        self.assertTrue(ids)
        for (cid,) in ids:
            try:
                S.sql("KILL CONNECTION %s" % cid)
            except RuntimeError:
                pass            # gone meanwhile
        for i in range(36):
            r = S.request("DELETE", "/collect?id=nope-again-%d" % i)
            self.assertEqual(r.status, 404, r.body)
        cities = list(range(800001001, 800001301))
        self.assertEqual(S.post_collect({"id": "to-cancel-2", "cities": cities}).status, 202)
        r = S.request("DELETE", "/collect?id=to-cancel-2")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json["collected"] + r.json["failed"], 300)
        self.assertGreater(len([d for d in r.json["data"] if d.get("error") == "cancelled"]), 200)


class IntegerId(unittest.TestCase):
    """The service owmcollect replaces took a JSON number as the id and
    kept its decimal text (Python's str(int)): an integer id is stored and
    answered as that text, and found by it."""

    def test_integer_round_trip(self):
        status, headers, doc = S.post_collect(b'{"id": 12345, "cities": [1]}')
        self.assertEqual(status, 202, doc)
        self.assertEqual(doc["id"], "12345")
        self.assertEqual(headers["location"], "/get?id=12345")
        r = S.request("GET", "/get?id=12345")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json["id"], "12345")
        self.assertEqual(S.sql("SELECT ext_id FROM requests WHERE ext_id = '12345'"), [["12345"]])
        # The string of the same text is the same id.
        status, _, doc = S.post_collect({"id": "12345", "cities": [1]})
        self.assertEqual(status, 409, doc)
        status, _, doc = S.post_collect(b'{"id": 12345}')
        self.assertEqual(status, 409, doc)

    def test_negative_and_long_integers(self):
        # str(int) of a negative number keeps its sign; -0 is 0; up to 128 bytes of text.
        big = "9" * 128
        for body, ident in ((b'{"id": -42, "cities": [1]}', "-42"),
                            (b'{"cities": [1], "id": -0}', "0"),
                            (b'{"id": ' + big.encode() + b', "cities": [1]}', big)):
            with self.subTest(ident=ident):
                status, _, doc = S.post_collect(body)
                self.assertEqual(status, 202, doc)
                self.assertEqual(doc["id"], ident)
                self.assertEqual(S.get(ident).json["id"], ident)

    def test_seed_client(self):
        # As the seed's clients ask: a number, the trailing slashes.
        r = S.request("POST", "/collect/", b'{"id": 67890, "cities": [2643743]}', J)
        self.assertEqual(r.status, 202, r.body)
        self.assertEqual(r.json["id"], "67890")
        r = S.request("GET", "/get/?id=67890")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual((r.json["id"], r.json["total"]), ("67890", 1))


class TrailingSlash(unittest.TestCase):
    """Every endpoint answers under both spellings, /collect and /collect/,
    with the same handler, limits and cache rules (no redirect: a client
    that follows one with a GET would lose its POST's body)."""

    def test_post_get_delete_head(self):
        cities = list(range(810000001, 810000301))   # 300: unfinished for minutes
        r = S.request("POST", "/collect/", json.dumps({"id": "slash-1", "cities": cities}), J)
        self.assertEqual(r.status, 202, r.body)
        self.assertEqual((r.json["id"], r.json["total"]), ("slash-1", 300))
        self.assertEqual(r.headers["location"], "/get?id=slash-1")
        r = S.request("POST", "/collect/", "id=slash-form&cities=1,2", F)
        self.assertEqual(r.status, 202, r.body)
        self.assertEqual((r.json["id"], r.json["total"]), ("slash-form", 2))
        get = S.request("GET", "/get/?id=slash-1")
        self.assertEqual(get.status, 200, get.body)
        self.assertEqual(get.json["id"], "slash-1")
        self.assertEqual(get.headers["cache-control"], "no-store")
        self.assertNotEqual(S.request("GET", "/get/?id=slash-1").headers.get("x-cache"), "HIT")
        head = S.request("HEAD", "/get/?id=slash-1")
        self.assertEqual((head.status, head.body), (200, b""))
        csv = S.request("GET", "/get/?id=slash-1&format=csv")
        self.assertEqual(csv.status, 200)
        self.assertTrue(csv.headers["content-type"].startswith("text/csv"), csv.headers)
        self.assertEqual(S.request("GET", "/get/?id=slash-never").status, 404)
        # The list, under both spellings.
        for path in ("/collect/?limit=100", "/collect?limit=100"):
            r = S.request("GET", path)
            self.assertEqual(r.status, 200, path)
            self.assertIn("slash-1", [x["id"] for x in r.json["requests"]], path)
            h = S.request("HEAD", path)
            self.assertEqual((h.status, h.body), (200, b""), path)
        r = S.request("DELETE", "/collect/?id=slash-1")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json["progress"], 100)
        self.assertIsNotNone(r.json["finished_at"])
        self.assertEqual(S.request("DELETE", "/collect/?id=slash-never").status, 404)

    def test_finished_document_cached_like_get(self):
        # A cancelled request is finished at once: its document is immutable.
        for ident in ("slash-cache-json", "slash-cache-csv"):
            fmt = "&format=csv" if ident.endswith("csv") else ""
            self.assertEqual(S.post_collect({"id": ident, "cities": list(range(820000001, 820000101))}).status, 202)
            self.assertEqual(S.request("DELETE", "/collect?id=" + ident).status, 200)
            plain = S.request("GET", "/get?id=" + ident + fmt)
            self.assertIn("immutable", plain.headers["cache-control"])
            path = "/get/?id=" + ident + fmt
            with self.subTest(path=path):
                # A HEAD first: it must leave a whole document in the cache.
                head = S.request("HEAD", path)
                self.assertEqual((head.status, head.body), (200, b""))
                self.assertEqual(head.headers["cache-control"], plain.headers["cache-control"])
                self.assertEqual(int(head.headers["content-length"]), len(plain.body))
                # nginx answers the HEAD's headers first and finishes
                # writing the cache entry from the rest of the program's
                # answer just after: a GET sent at once may miss it.
                time.sleep(1.0)
                for n in range(2):
                    get = S.request("GET", path)
                    self.assertEqual(get.status, 200)
                    self.assertEqual(get.body, plain.body, "GET %d after HEAD" % (n + 1))
                    self.assertEqual(get.headers["cache-control"], plain.headers["cache-control"])
                    self.assertEqual(get.headers.get("x-cache"), "HIT", "GET %d after HEAD" % (n + 1))

    def test_operators_endpoints(self):
        for path in ("/health/", "/metrics/"):
            plain = S.request("GET", path[:-1])
            r = S.request("GET", path)
            with self.subTest(path=path):
                self.assertEqual(r.status, plain.status, r.body[:200])
                self.assertEqual(r.headers["content-type"], plain.headers["content-type"])
                self.assertEqual(r.headers.get("cache-control"), "no-store")
                self.assertNotIn("x-cache", r.headers)
                h = S.request("HEAD", path)
                self.assertEqual((h.status, h.body), (plain.status, b""))
        self.assertIn(b"owmcollect_requests_accepted_total", S.request("GET", "/metrics/").body)
        self.assertIn("status", S.request("GET", "/health/").json)


class DatabaseOutage(unittest.TestCase):
    def test_sigstop_gives_503_then_recovers(self):
        S.post_collect({"id": "before-outage", "cities": [1]})
        S.signal("mysqld", signal.SIGSTOP)
        try:
            for req in (lambda: S.get("before-outage"),
                        lambda: S.post_collect({"id": "during-outage", "cities": [1]})):
                t0 = time.monotonic()
                r = req()
                took = time.monotonic() - t0
                self.assertEqual(r.status, 503, r.body)
                self.assertIn("retry-after", r.headers)
                self.assertIn("error", r.json)
                self.assertLess(took, 8.0)
        finally:
            S.signal("mysqld", signal.SIGCONT)
        wait_until(lambda: S.get("before-outage").status == 200, 60, 0.2, "recovery")
        self.assertEqual(S.post_collect({"id": "after-outage", "cities": [1]}).status, 202)
        # The POST answered 503 left no trace.
        self.assertEqual(S.get("during-outage").status, 404)


def raw_http(data, timeout=30):
    """Send raw request bytes to nginx; (status, body) of its answer."""
    with socket.create_connection(("127.0.0.1", S.port), timeout=timeout) as c:
        c.sendall(data)
        out = b""
        while True:
            got = c.recv(65536)
            if not got:
                break
            out += got
    head, _, body = out.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


class ContentLength(unittest.TestCase):
    """Content-Length as a decimal number: leading zeros are still that
    number (RFC 9110 allows them, nginx reads them so)."""

    def test_leading_zeros_through_nginx(self):
        body = b"id=cl-0010"
        self.assertEqual(len(body), 10)
        status, answer = raw_http(b"POST /collect HTTP/1.1\r\nHost: t\r\n"
                                  b"Content-Type: application/x-www-form-urlencoded\r\n"
                                  b"Content-Length: 010\r\nConnection: close\r\n\r\n" + body)
        self.assertEqual(status, 202, answer)
        self.assertEqual(json.loads(answer)["id"], "cl-0010")
        self.assertEqual(S.get("cl-0010").status, 200)

    def test_program_reads_the_value(self):
        # Straight to the FastCGI program: nginx refuses most of these
        # itself, but the program must not rely on that.
        sock = os.path.join(S.dir, "run", "fcgi.sock")
        form = {"CONTENT_TYPE": "application/x-www-form-urlencoded"}
        cases = [
            # (Content-Length, body, status, error substring)
            ("010", b"id=cl-d010", 202, None),
            ("0000000000000000000000000000000011", b"id=cl-d0011", 202, None),
            ("0", b"", 400, "empty"),
            ("00", b"", 400, "empty"),
            ("65537", b"id=x", 413, "too large"),
            ("0065537", b"id=x", 413, "too large"),
            ("99999999999999999999999999", b"id=x", 413, "too large"),
            ("18446744073709551616", b"id=x", 413, "too large"),
            ("1e1", b"id=cl-e", 400, "Content-Length"),
            ("-10", b"id=cl-neg", 400, "Content-Length"),
            ("+10", b"id=cl-pos", 400, "Content-Length"),
            (" 10", b"id=cl-sp", 400, "Content-Length"),
            ("10 ", b"id=cl-sp2", 400, "Content-Length"),
            ("0x0a", b"id=cl-hex", 400, "Content-Length"),
            ("ten", b"id=cl-ten", 400, "Content-Length"),
        ]
        for cl, body, status, why in cases:
            with self.subTest(content_length=cl):
                st, _, got = fcgi_request(sock, "POST", "/collect", body=body, headers=form,
                                          content_length=cl)
                self.assertEqual(st, status, got)
                if why:
                    self.assertIn(why, json.loads(got)["error"])
        self.assertEqual(S.get("cl-d010").status, 200)
        self.assertEqual(S.get("cl-d0011").status, 200)


def conf_setting(name):
    """A number from etc/owmcollect.conf (the stacks' configuration)."""
    with open(os.path.join(os.path.dirname(__file__), "..", "..", "etc", "owmcollect.conf")) as f:
        return int(re.search(r"^\s*%s\s*=\s*(\d+);" % name, f.read(), re.M).group(1))


class LockHolder:
    """A mysql session of the stack's database that holds a named lock
    until release() (or close())."""

    def __init__(self, name):
        self.name = name
        self.p = subprocess.Popen(["mariadb", "--no-defaults", "--socket=" + os.path.join(S.run, "mysqld.sock"),
                                   "-u" + pwd.getpwuid(os.getuid()).pw_name, "--batch",
                                   "--skip-column-names", "--unbuffered", "owmcollect"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.ask("SELECT GET_LOCK('%s', 0), CONNECTION_ID()" % name)
        got, self.conn_id = self.answer.split()
        assert got == "1", "the lock is not free: %r" % self.answer

    def ask(self, query):
        self.p.stdin.write(query + ";\n")
        self.p.stdin.flush()
        ready, _, _ = select.select([self.p.stdout], [], [], 30)
        assert ready, "mariadb did not answer %r" % query
        self.answer = self.p.stdout.readline().strip()

    def release(self):
        self.ask("SELECT RELEASE_LOCK('%s')" % self.name)
        assert self.answer == "1", self.answer

    def close(self):
        if self.p.poll() is None:
            self.p.stdin.close()
            self.p.wait(30)


def log_mark(name):
    try:
        return os.path.getsize(os.path.join(S.log, name))
    except OSError:
        return 0


def log_since(name, mark):
    with open(os.path.join(S.log, name), errors="replace") as f:
        f.seek(mark)
        return f.read()


class QueueLockWait(unittest.TestCase):
    """The queue lock (GET_LOCK, fcgi/post.c) held elsewhere longer than
    mysql.read_timeout: the POST gives up waiting before its read would
    time out, so it is a 503 of its own, rolled back on a live connection,
    not a connection taken for lost while the server still runs the
    transaction (and holds the id)."""

    def test_lock_held_past_read_timeout(self):
        read_timeout = conf_setting("read_timeout")
        ident, cities = "lock-held", [870000001, 870000002, 870000003]   # new: they need the lock
        before = requests_count()
        mark = log_mark("fcgi.log")
        holder = LockHolder("owmcollect.queue")
        try:
            t0 = time.monotonic()
            r = S.post_collect({"id": ident, "cities": cities})
            took = time.monotonic() - t0
            # Nothing of the POST is left on the server at its answer: no
            # session still waits for the lock, none holds the id.
            waiting = S.sql("SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                            "WHERE STATE = 'User lock'")
            held = S.sql("SET SESSION innodb_lock_wait_timeout = 1; "
                         "SELECT COUNT(*) FROM requests WHERE ext_id = '%s' FOR UPDATE" % ident)
            self.assertEqual(r.status, 503, r.body)
            self.assertIn("retry-after", r.headers)
            self.assertIn("error", r.json)
            print("queue lock held: POST answered %d in %.2f s (read_timeout %d s)" % (r.status, took, read_timeout))
            self.assertLess(took, read_timeout + 3.0)     # about the read timeout, no more
            self.assertEqual(waiting, [["0"]], "a session still waits for the queue lock")
            self.assertEqual(held, [["0"]])
            log = log_since("fcgi.log", mark)
            self.assertIn("queue lock was not granted", log)
            self.assertNotIn("connection lost", log)
            # No half-written row.
            self.assertEqual(requests_count(), before)
            self.assertEqual(S.sql("SELECT COUNT(*) FROM city_tasks WHERE city_id BETWEEN "
                                   "870000001 AND 870000003"), [["0"]])
            holder.release()
            r = S.post_collect({"id": ident, "cities": cities})
            self.assertEqual(r.status, 202, r.body)
        finally:
            holder.close()
        self.assertEqual(requests_count(), before + 1)
        rows = S.sql("SELECT city_id FROM request_data WHERE id = '%s' ORDER BY pos" % ident)
        self.assertEqual([int(x[0]) for x in rows], cities)


if __name__ == "__main__":
    unittest.main()

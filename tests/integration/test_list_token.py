"""With http.token set, the list of requests (GET /collect) needs the token,
as POST and DELETE do: the list names every request's id, and an id is all
it takes to read a document.  Reading one document by its id (GET /get)
stays open, as in the service owmcollect replaces.  No cache, nginx's or
a FastCGI process's own, serves the list to a client without the token.

Without a token configured the list stays open (test_api.Manage).  The
status page asks for the token when the list answers 401 (StatusPage, in
headless Chromium: tests/browser/status_page.test.js --token).
"""
import os
import shutil
import unittest
import urllib.parse

from harness import BUILD, ROOT, Stack
from test_status_page import run_browser

S = None
TOKEN = "list-token_7f3a9c.Zq"
ENV = {"OWMCOLLECT_HTTP_TOKEN": TOKEN, "OWMCOLLECT_OWM_CITIES_PER_MINUTE": "1200",
       # One FastCGI process: the page it built for the token's holder is
       # in its cache when the next client asks.
       "OWMCOLLECT_HTTP_PROCESSES": "1"}
AUTH = {"Authorization": "Bearer " + TOKEN}


def setUpModule():
    global S
    S = Stack(env=ENV).start()


def tearDownModule():
    if S:
        S.stop()


def list_as(headers, query="limit=20", method="GET"):
    return S.request(method, "/collect?" + query, headers=headers)


class ListToken(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ids = ["tok-%d" % i for i in range(3)]
        for ident in cls.ids:
            r = S.post_collect({"id": ident, "cities": [2643743]}, AUTH)
            assert r.status == 202, r.body

    def refused(self, r, what):
        self.assertEqual(r.status, 401, "%s: %s" % (what, r.body[:200]))
        self.assertEqual(r.headers.get("www-authenticate"), "Bearer", what)
        self.assertIn("no-store", r.headers.get("cache-control", ""), what)
        if r.body:
            self.assertIn("Bearer", r.json["error"], what)
            for ident in self.ids:
                self.assertNotIn(ident.encode(), r.body, what)

    def test_list_needs_the_token(self):
        wrong = [
            ("no Authorization", {}),
            ("wrong token", {"Authorization": "Bearer nope"}),
            ("its prefix", {"Authorization": "Bearer " + TOKEN[:-1]}),
            ("longer", {"Authorization": "Bearer " + TOKEN + "0"}),
            ("another scheme", {"Authorization": "Basic " + TOKEN}),
            ("no scheme", {"Authorization": TOKEN}),
            ("empty bearer", {"Authorization": "Bearer "}),
        ]
        for what, h in wrong:
            with self.subTest(what):
                self.refused(list_as(h), what)
                self.refused(list_as(h, method="HEAD"), "HEAD, " + what)
        r = list_as(AUTH)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(set(self.ids) - {x["id"] for x in r.json["requests"]}, set())
        # The scheme's case does not matter (RFC 7235); the token's does.
        self.assertEqual(list_as({"Authorization": "bearer " + TOKEN}).status, 200)
        self.refused(list_as({"Authorization": "Bearer " + TOKEN.upper()}), "token upper-cased")
        head = list_as(AUTH, method="HEAD")
        self.assertEqual((head.status, head.body), (200, b""))

    def test_every_page_needs_it(self):
        first = list_as(AUTH, "limit=1")
        self.assertEqual(first.status, 200)
        nxt = first.json["next"]
        self.assertIsNotNone(nxt)
        self.refused(list_as({}, "limit=1&before=" + nxt), "second page")
        self.assertEqual(list_as(AUTH, "limit=1&before=" + nxt).status, 200)
        # A bad query is still refused for the token first: nothing about
        # the list is told to a client without it.
        self.refused(list_as({}, "limit=0"), "bad limit")

    def test_no_cache_serves_the_list_without_it(self):
        for query in ("limit=20", "limit=2", "limit=20&before=18446744073709551615"):
            for n in range(3):
                with self.subTest(query=query, round=n):
                    ok = list_as(AUTH, query)
                    self.assertEqual(ok.status, 200)
                    self.assertIn("no-store", ok.headers.get("cache-control", ""))
                    self.assertNotIn("x-cache", ok.headers)     # not nginx's cache
                    self.refused(list_as({}, query), "after the token's holder, " + query)

    def test_documents_stay_open(self):
        ident = self.ids[0]
        q = urllib.parse.quote(ident, safe="")
        for path in ("/get?id=" + q, "/get?id=" + q + "&format=csv"):
            with self.subTest(path):
                r = S.request("GET", path)
                self.assertEqual(r.status, 200, r.body[:200])
                self.assertEqual(S.request("HEAD", path).status, 200)
        self.assertEqual(S.request("GET", "/get?id=tok-never").status, 404)

    def test_changes_still_need_it(self):
        self.refused(S.post_collect({"id": "tok-no", "cities": [1]}), "POST")
        self.refused(S.request("DELETE", "/collect?id=" + self.ids[1]), "DELETE")
        self.assertEqual(S.request("GET", "/get?id=tok-no").status, 404)


class StatusPage(unittest.TestCase):
    def test_token_prompt_in_chromium(self):
        # tests/browser/status_page.test.js --token: the page asks for the
        # token when the list answers 401 and keeps it for the tab only.
        out = os.path.join(ROOT, BUILD, "test-output", "status_page_token")
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(out)
        run_browser(self, S, "--token", TOKEN, "--out", out)
        print("status page (token): screenshots in %s: %s" % (out, ", ".join(sorted(os.listdir(out)))))


if __name__ == "__main__":
    unittest.main()

"""The status page at /: nginx serves it, and headless Chromium drives it.

The browser part is tests/browser/status_page.test.js (playwright-core from
npm, the system's /usr/bin/chromium from the Debian package `chromium`).
A missing Chromium is a failure, not a skip: `make deps` installs it.
"""
import os
import shutil
import subprocess
import unittest

from harness import ROOT, Stack

BROWSER = os.path.join(ROOT, "tests", "browser")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")

S = None


def setUpModule():
    global S
    S = Stack(env={"OWMCOLLECT_OWM_CITIES_PER_MINUTE": "1200"})
    try:
        S.start()
    except BaseException:
        S.stop()
        raise


def tearDownModule():
    if S:
        S.stop()
        if not S.keep:
            shutil.rmtree(S.dir, ignore_errors=True)


class Static(unittest.TestCase):
    def test_page_and_assets(self):
        for path, ctype in (("/", "text/html"), ("/index.html", "text/html"),
                            ("/app.js", "text/javascript"), ("/style.css", "text/css"),
                            ("/favicon.svg", "image/svg+xml")):
            with self.subTest(path):
                r = S.request("GET", path)
                self.assertEqual(r.status, 200, r.body[:200])
                self.assertTrue(r.headers["content-type"].startswith(ctype), r.headers)
                self.assertIn("no-cache", r.headers.get("cache-control", ""))
                self.assertIn("etag", r.headers)
                self.assertIn("script-src 'self'", r.headers.get("content-security-policy", ""))
                # Revalidation costs a 304.
                again = S.request("GET", path, headers={"If-None-Match": r.headers["etag"]})
                self.assertEqual(again.status, 304)
        page = S.request("GET", "/").body.decode("utf-8")
        for needle in ('id="collect-form"', 'id="collect-id"', 'id="collect-cities"',
                       'id="requests"', 'src="app.js"'):
            self.assertIn(needle, page)

    def test_unknown_paths_stay_json(self):
        r = S.request("GET", "/../etc/passwd")  # nginx refuses it before any location
        self.assertEqual((r.status, r.json), (400, {"error": "bad request"}))
        for path in ("/nope", "/nope/", "/index.htm", "/.git/config", "/www/", "/collect/x"):
            with self.subTest(path):
                r = S.request("GET", path)
                self.assertEqual(r.status, 404, r.body[:200])
                self.assertTrue(r.headers["content-type"].startswith("application/json"), r.headers)
                self.assertEqual(r.json, {"error": "no such endpoint"})

    def test_other_methods(self):
        r = S.request("POST", "/", b"{}", {"Content-Type": "application/json"})
        self.assertEqual(r.status, 405, r.body[:200])
        self.assertIn("GET", r.headers.get("allow", ""))
        self.assertIsInstance(r.json["error"], str)
        self.assertEqual(S.request("POST", "/nope", b"{}").json, {"error": "no such endpoint"})


class Browser(unittest.TestCase):
    def test_status_page_in_chromium(self):
        if not os.path.exists(CHROMIUM):
            self.fail("%s is missing: the browser test needs the Debian package chromium "
                      "(make deps installs it; or apt-get install chromium)" % CHROMIUM)
        node = shutil.which("node")
        self.assertIsNotNone(node, "node is missing (Debian packages nodejs and npm)")
        if not os.path.isdir(os.path.join(BROWSER, "node_modules", "playwright-core")):
            npm = shutil.which("npm")
            self.assertIsNotNone(npm, "npm is missing (Debian package npm)")
            p = subprocess.run([npm, "ci", "--prefix", BROWSER, "--no-audit", "--no-fund"],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, timeout=300)
            self.assertEqual(p.returncode, 0, "npm ci failed:\n" + p.stdout)
        p = subprocess.run([node, os.path.join(BROWSER, "status_page.test.js"),
                            "http://127.0.0.1:%d/" % S.port],
                           cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=600)
        print(p.stdout, end="")
        self.assertEqual(p.returncode, 0, "browser test failed:\n%s\n%s" % (p.stdout, S.logs_tail()))


if __name__ == "__main__":
    unittest.main()

"""The status page at /: nginx serves it, and headless Chromium drives it.

The browser part is tests/browser/status_page.test.js (playwright-core from
npm, the system's /usr/bin/chromium from the Debian package `chromium`).
A missing Chromium is a failure, not a skip: `make deps` installs it.
Its screenshots and the CSV it downloaded stay in OUT (printed), which
outlives the stack: the build folder's test-output/status_page/.

The gate runs at 120 cities a minute in batches of 4 (one every 2 s), so
a request of 15 cities is seen in progress for several seconds, long
enough for the page's estimate of the time left to be read.  The page's
token prompt (a stack with http.token) runs in test_list_token.
"""
import os
import re
import shutil
import subprocess
import unittest

from harness import BUILD, ROOT, Stack

BROWSER = os.path.join(ROOT, "tests", "browser")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
OUT = os.path.join(ROOT, BUILD, "test-output", "status_page")

S = None


def setUpModule():
    global S
    S = Stack(env={"OWMCOLLECT_OWM_CITIES_PER_MINUTE": "120", "OWMCOLLECT_OWM_BATCH_SIZE": "4"})
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
                            ("/app.js", "text/javascript"), ("/format.js", "text/javascript"),
                            ("/style.css", "text/css"), ("/favicon.svg", "image/svg+xml"),
                            # the map's files, copied in by make (nginx/vendor/)
                            ("/vendor/d3-array.min.js", "text/javascript"),
                            ("/vendor/d3-geo.min.js", "text/javascript"),
                            ("/vendor/topojson-client.min.js", "text/javascript"),
                            ("/vendor/countries-110m.json", "application/json"),
                            ("/vendor/LICENSES.txt", "text/plain")):
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
                       'id="requests"', 'src="app.js"', 'src="vendor/d3-geo.min.js"'):
            self.assertIn(needle, page)
        # Everything from this host: no address of another in the page.
        self.assertEqual(re.findall(r'(?:src|href)="(?:[a-z]+:)?//[^"]*"', page), [])
        self.assertNotIn("<style", page)
        self.assertNotIn(" style=", page)
        # The strict CSP holds: no inline script, no eval, no HTML from data.
        self.assertEqual(re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page), [])
        for js in ("app.js", "format.js"):
            with open(os.path.join(ROOT, "nginx", "www", js), encoding="utf-8") as f:
                code = f.read()
            for bad in ("eval(", "new Function", "innerHTML", "outerHTML", "insertAdjacentHTML",
                        "document.write", 'setAttribute("style"'):
                self.assertNotIn(bad, code, js)
        topo = S.request("GET", "/vendor/countries-110m.json").json
        self.assertEqual(topo["type"], "Topology")
        self.assertIn("countries", topo["objects"])

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


def run_browser(test, stack, *args):
    """tests/browser/status_page.test.js against stack's page with args
    (in stack's environment: VAR and B name it to tools/stack.sh); fails
    test unless it passes.  Also used by test_list_token (--token)."""
    if not os.path.exists(CHROMIUM):
        test.fail("%s is missing: the browser test needs the Debian package chromium "
                  "(make deps installs it; or apt-get install chromium)" % CHROMIUM)
    node = shutil.which("node")
    test.assertIsNotNone(node, "node is missing (Debian packages nodejs and npm)")
    if not os.path.isdir(os.path.join(BROWSER, "node_modules", "playwright-core")):
        npm = shutil.which("npm")
        test.assertIsNotNone(npm, "npm is missing (Debian package npm)")
        p = subprocess.run([npm, "ci", "--prefix", BROWSER, "--no-audit", "--no-fund"],
                           cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=300)
        test.assertEqual(p.returncode, 0, "npm ci failed:\n" + p.stdout)
    p = subprocess.run([node, os.path.join(BROWSER, "status_page.test.js"),
                        "http://127.0.0.1:%d/" % stack.port] + list(args),
                       cwd=ROOT, env=stack.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=600)
    print(p.stdout, end="")
    test.assertEqual(p.returncode, 0, "browser test failed:\n%s\n%s" % (p.stdout, stack.logs_tail()))


class Browser(unittest.TestCase):
    def test_status_page_in_chromium(self):
        shutil.rmtree(OUT, ignore_errors=True)
        os.makedirs(OUT)
        print("\nstatus page: screenshots and the CSV go to %s" % OUT, flush=True)
        # --gate: the test pauses the gate through tools/stack.sh mysql,
        # which finds this stack by the environment (VAR, B).
        try:
            run_browser(self, S, "--out", OUT, "--gate")
        finally:
            print("status page: output in %s: %s" % (OUT, ", ".join(sorted(os.listdir(OUT)))))


if __name__ == "__main__":
    unittest.main()

"""etc/openapi.yaml through tools no one here wrote, pinned in
tests/openapi/package.json (and its lockfile; `make test-tools` runs npm
ci there):

- Redocly CLI's recommended rules: no error and no warning, and (the
  control) a copy with one operationId taken out gets its warning.
- Stoplight Prism as a validating proxy (`prism proxy --errors`) in front
  of two stacks, one with http.token: every documented case the
  description lets a client send goes through it and Prism finds no
  violation in the answer (no sl-violations header, no answer of its own,
  nothing in its log); what the description forbids Prism refuses itself
  (a fraction as the id: 422; a method a path does not have: its own 405,
  since it only forwards described operations, so the service's 405 is
  checked beside it, straight from the stack, against NotAllowed).  The
  control: Prism in front of the same stack with a copy of the description
  that is wrong about one field reports that violation.
"""
import http.client
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest
import urllib.parse

from harness import ROOT, Response, Stack, free_port, wait_until

TOOLS = os.path.join(ROOT, "tests", "openapi")
BIN = os.path.join(TOOLS, "node_modules", ".bin")
SPEC = os.path.join(ROOT, "etc", "openapi.yaml")
TOKEN = "openapi-tools-token"
J = {"Content-Type": "application/json"}
F = {"Content-Type": "application/x-www-form-urlencoded"}
# Neither tool may call home or nag (Redocly's telemetry is on by default).
QUIET = {"REDOCLY_TELEMETRY": "off", "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true",
         "SCARF_ANALYTICS": "false", "DO_NOT_TRACK": "1"}
PRISM_ERROR = "https://stoplight.io/prism/errors#"

S = T = None
PROXIES = []


def tools_env():
    env = dict(os.environ)
    env.update(QUIET)
    return env


def install_tools():
    """npm ci in tests/openapi unless make test-tools has done it."""
    if os.path.exists(os.path.join(BIN, "prism")) and os.path.exists(os.path.join(BIN, "redocly")):
        return
    npm = shutil.which("npm")
    assert npm, "npm is missing (make deps installs it)"
    p = subprocess.run([npm, "ci", "--prefix", TOOLS, "--ignore-scripts", "--no-audit", "--no-fund"],
                       cwd=ROOT, env=tools_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=600)
    assert p.returncode == 0, "npm ci in tests/openapi failed:\n" + p.stdout


def setUpModule():
    global S, T
    install_tools()
    S = Stack(env={"OWMCOLLECT_OWM_CITIES_PER_MINUTE": "1200"}).start()
    T = Stack(env={"OWMCOLLECT_HTTP_TOKEN": TOKEN}).start()


def tearDownModule():
    for p in PROXIES:
        p.stop()
    for s in (S, T):
        if s:
            s.stop()


class Prism:
    """`prism proxy --errors spec` on a port of its own in front of
    stack's nginx, its log in the stack's log directory."""

    def __init__(self, stack, spec, name):
        self.stack = stack
        self.port = free_port()
        self.log_path = os.path.join(stack.log, "prism-%s.log" % name)
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [os.path.join(BIN, "prism"), "proxy", "--errors", "-h", "127.0.0.1",
                 "-p", str(self.port), spec, "http://127.0.0.1:%d" % stack.port],
                cwd=TOOLS, env=tools_env(), stdout=log, stderr=subprocess.STDOUT)
        PROXIES.append(self)

        def listening():
            assert self.proc.poll() is None, "prism exited:\n" + self.log()
            try:
                return self.request("GET", "/metrics").status == 200
            except OSError:
                return False
        wait_until(listening, 120, 0.2, "prism to listen on %d" % self.port)

    def request(self, method, path, body=None, headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        finally:
            c.close()

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)


def quoted(ident):
    return urllib.parse.quote(ident, safe="")


class Redocly(unittest.TestCase):
    def lint(self, spec):
        p = subprocess.run([os.path.join(BIN, "redocly"), "lint", "--config",
                            os.path.join(TOOLS, "redocly.yaml"), "--format=json", spec],
                           cwd=ROOT, env=tools_env(), capture_output=True, text=True, timeout=300)
        try:
            return p.returncode, json.loads(p.stdout)
        except ValueError:
            self.fail("redocly lint printed no JSON (exit %d):\n%s\n%s" % (p.returncode, p.stdout, p.stderr))

    def test_recommended_rules_clean(self):
        rc, out = self.lint(SPEC)
        problems = ["%s %s: %s at %s" % (x["severity"], x["ruleId"], x["message"],
                                         x["location"][0].get("pointer")) for x in out["problems"]]
        print("redocly %s recommended: %s" % (out.get("version"), out["totals"]))
        self.assertEqual((out["totals"]["errors"], out["totals"]["warnings"]), (0, 0),
                         "\n".join(problems))
        self.assertEqual(out["totals"]["ignored"], 0)
        self.assertEqual(rc, 0)

    def test_control_a_missing_operation_id_is_found(self):
        with open(SPEC) as f:
            text = f.read()
        broken, n = re.subn(r"^\s*operationId: getRequest\n", "", text, flags=re.M)
        self.assertEqual(n, 1)
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "openapi.yaml")
            with open(path, "w") as f:
                f.write(broken)
            rc, out = self.lint(path)
        rules = [(x["ruleId"], x["location"][0].get("pointer")) for x in out["problems"]]
        self.assertEqual(rules, [("operation-operationId", "#/paths/~1get/get/operationId")])


class ThroughPrism(unittest.TestCase):
    """Each call goes through Prism; the answer must be the service's own
    (status as expected, no Prism problem document) with no violation."""

    @classmethod
    def setUpClass(cls):
        cls.ps = Prism(S, SPEC, "open")
        cls.pt = Prism(T, SPEC, "token")
        cls.forwarded = {cls.ps: 0, cls.pt: 0}
        cls.refused = 0

    def call(self, prism, method, path, status, body=None, headers=None):
        r = prism.request(method, path, body, headers)
        what = "%s %s through prism" % (method, path)
        self.assertNotIn("sl-violations", r.headers, "%s: %s" % (what, r.headers.get("sl-violations")))
        self.assertEqual(r.status, status, "%s: %s" % (what, r.body[:300]))
        if r.body.startswith(b"{"):
            self.assertFalse(str(r.json.get("type", "")).startswith(PRISM_ERROR), "%s: %s" % (what, r.body))
        self.forwarded[prism] += 1
        return r

    def refused_by_prism(self, prism, method, path, status, kind, body=None, headers=None):
        r = prism.request(method, path, body, headers)
        self.assertEqual(r.status, status, r.body[:300])
        self.assertEqual(r.json["type"], PRISM_ERROR + kind, r.body[:300])
        self.refused += 1
        return r

    def finished(self, ident, cities):
        """POST through Prism, then (straight to the stack) until done."""
        self.call(self.ps, "POST", "/collect", 202, json.dumps({"id": ident, "cities": cities}), J)

        def done():
            r = S.get(ident)
            return r.status == 200 and r.json["finished_at"] is not None
        wait_until(done, 120, 0.2, "%r to finish" % ident)

    def test_every_documented_case(self):
        ps, pt = self.ps, self.pt
        # POST: JSON, a form, an integer id; 409; a 400 the description
        # cannot see (a control character); 413.
        r = self.call(ps, "POST", "/collect", 202, json.dumps({"id": "tools-run", "cities": list(range(830000001, 830000301))}), J)
        self.assertEqual(r.json["total"], 300)
        self.call(ps, "POST", "/collect", 202, "id=tools-form&cities=2643743,360630", F)
        r = self.call(ps, "POST", "/collect", 202, b'{"id": 424242, "cities": [2643743]}', J)
        self.assertEqual(r.json["id"], "424242")
        self.call(ps, "POST", "/collect", 409, b'{"id": "424242"}', J)
        self.call(ps, "POST", "/collect", 400, b'{"id": "a\\u0001b"}', J)
        self.call(ps, "POST", "/collect", 413, b'{"id":"' + b"a" * 70000 + b'"}', J)
        # GET /get: in progress and finished, JSON and CSV; 404; 400.
        for fmt, ctype in (("", "application/json"), ("&format=csv", "text/csv")):
            r = self.call(ps, "GET", "/get?id=tools-run" + fmt, 200)
            self.assertTrue(r.headers["content-type"].startswith(ctype))
            self.assertEqual(r.headers["cache-control"], "no-store")
        self.finished("tools-done", [2643743, 360630, 900000001])
        for fmt, ctype in (("", "application/json"), ("&format=csv", "text/csv")):
            r = self.call(ps, "GET", "/get?id=tools-done" + fmt, 200)
            self.assertTrue(r.headers["content-type"].startswith(ctype))
            self.assertIn("immutable", r.headers["cache-control"])
        self.call(ps, "GET", "/get?id=tools-never", 404)
        self.call(ps, "GET", "/get?id=" + quoted("a\x01b"), 400)
        # The list, two pages of it; DELETE, and a 404 for it.
        r = self.call(ps, "GET", "/collect?limit=2", 200)
        self.assertIsNotNone(r.json["next"])
        self.call(ps, "GET", "/collect?limit=2&before=" + r.json["next"], 200)
        r = self.call(ps, "DELETE", "/collect?id=tools-run", 200)
        self.assertEqual(r.json["progress"], 100)
        self.call(ps, "DELETE", "/collect?id=tools-never", 404)
        # The operators' endpoints.
        wait_until(lambda: S.request("GET", "/health").status == 200, 60, 0.2, "health")
        r = self.call(ps, "GET", "/health", 200)
        self.assertEqual(r.json["status"], "ok")
        self.call(ps, "GET", "/metrics", 200)
        # With http.token: 401 without it, the same calls with it.
        for method, path, body in (("POST", "/collect", b'{"id": "tools-t"}'),
                                   ("GET", "/collect", None),
                                   ("DELETE", "/collect?id=tools-t", None)):
            r = self.call(pt, method, path, 401, body, J if body else None)
            self.assertEqual(r.headers["www-authenticate"], "Bearer")
        bearer = {"Authorization": "Bearer " + TOKEN}
        self.call(pt, "POST", "/collect", 202, b'{"id": "tools-t", "cities": [1]}', dict(J, **bearer))
        self.call(pt, "GET", "/collect?limit=5", 200, None, bearer)
        self.call(pt, "GET", "/get?id=tools-t", 200)
        self.call(pt, "DELETE", "/collect?id=tools-t", 200, None, bearer)
        # What the description forbids, Prism refuses without asking.
        for body in (b'{"id": 1.5}', b'{"id": true}', b'{"id": "x", "cities": [0]}', b'{}'):
            self.refused_by_prism(ps, "POST", "/collect", 422, "UNPROCESSABLE_ENTITY", body, J)
        # A method a path does not have: Prism only forwards described
        # operations, so it answers its own 405; the service's 405 is the
        # shared NotAllowed response, asked here without Prism.
        for method, path in (("PUT", "/collect"), ("POST", "/get?id=x"), ("POST", "/health"),
                             ("DELETE", "/metrics")):
            self.refused_by_prism(ps, method, path, 405, "NO_METHOD_MATCHED_ERROR", b"{}", J)
            r = S.request(method, path, b"{}", J)
            self.assertEqual(r.status, 405, (method, path))
            self.assertIn("allow", r.headers)
            self.assertEqual(list(r.json), ["error"])
        # Prism's logs: each forwarded call answered, no violation at all.
        for p, n in self.forwarded.items():
            # + the start-up probe; each call's lines are written as it goes.
            wait_until(lambda: len(re.findall(r"< Received forward response", p.log())) >= n + 1,
                       30, 0.1, "prism's log of %d calls" % (n + 1))
            log = p.log()
            self.assertEqual(len(re.findall(r"The upstream call to \S+ has returned \d+", log)), n + 1,
                             log[-3000:])
            self.assertNotIn("VIOLATIONS", log)
            self.assertNotRegex(log, r"(?i)violation|✖  error.*upstream|\bwarn(ing)?\b")
        print("prism: %d calls forwarded and found valid (%d open, %d with the token), "
              "%d refused by prism itself" % (sum(self.forwarded.values()), self.forwarded[ps],
                                             self.forwarded[pt], self.refused))

    def test_control_a_wrong_description_is_caught(self):
        with open(SPEC) as f:
            text = f.read()
        field = "        total: {type: integer}\n        progress: {type: number}\n        status_url:"
        self.assertEqual(text.count(field), 1)
        with tempfile.TemporaryDirectory() as d:
            wrong = os.path.join(d, "openapi.yaml")
            with open(wrong, "w") as f:
                f.write(text.replace(field, field.replace("total: {type: integer}", "total: {type: string}")))
            p = Prism(S, wrong, "wrong")
            try:
                r = p.request("POST", "/collect", b'{"id": "tools-wrong", "cities": [1]}', J)
                # Its log says so too (written as the answer goes).
                wait_until(lambda: "VIOLATIONS" in p.log(), 30, 0.1, "prism to log the violation")
            finally:
                p.stop()
        self.assertEqual(r.status, 500, r.body[:300])
        self.assertEqual(r.json["type"], PRISM_ERROR + "VIOLATIONS")
        found = json.loads(r.headers["sl-violations"])
        self.assertEqual([v["location"] for v in found], [["response", "body", "total"]])


if __name__ == "__main__":
    unittest.main()

"""The recurring collection (owmcollect-collect.service's script) as `make
install` installs it, run against a real stack with http.token set and the
rate scaled up, with the installed collect.env filled in and read the way
systemd reads an EnvironmentFile, and the token handed over as the unit's
LoadCredential= does ($CREDENTIALS_DIRECTORY/token).

Every run goes through a curl wrapper first in PATH that records curl's
arguments (what ps shows) and environment, and every run checks that the
token is in neither, nor in the script's output.  A proxy in front of nginx
loses answers and answers 503 on purpose, and reads the running curl's
/proc/<pid>/cmdline while it holds a request.
"""
import datetime
import http.client
import http.server
import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import threading
import unittest
import urllib.parse

from harness import ROOT, Stack, free_port, wait_until

S = None
TMP = None
TOKEN = "tok-" + secrets.token_hex(16)
with open(os.path.join(ROOT, "etc", "cities.txt")) as _f:
    ALL_CITIES = [int(x) for x in _f.read().split()]
# The stack's own list (`cities`), which an empty OWMCOLLECT_CITIES collects.
DEFAULT = ALL_CITIES[:4]
SCRIPT = ENV_FILE = CURL_LOG = WRAPPERS = CRED = None
ID_TIME = r"(\d{4}-\d\d-\d\dT\d\d:\d\dZ)"


def setUpModule():
    global S, TMP, SCRIPT, ENV_FILE, CURL_LOG, WRAPPERS, CRED
    TMP = tempfile.mkdtemp(prefix="owmcollect-timer-")
    dest = os.path.join(TMP, "dest")
    p = subprocess.run(["make", "--no-print-directory", "-C", ROOT, "install", "DESTDIR=" + dest,
                        "PREFIX=/usr/local"], capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        raise RuntimeError("make install failed:\n" + p.stdout + p.stderr)
    SCRIPT = os.path.join(dest, "usr/local/bin/owmcollect-collect")
    ENV_FILE = os.path.join(dest, "etc/owmcollect/collect.env")

    # curl as the script finds it in PATH: a wrapper that records, then the real one.
    real = shutil.which("curl")
    assert real, "curl is missing"
    WRAPPERS = os.path.join(TMP, "bin")
    os.mkdir(WRAPPERS)
    CURL_LOG = os.path.join(TMP, "curl.log")
    with open(os.path.join(WRAPPERS, "curl"), "w") as f:
        f.write('#!/bin/sh\n'
                '# What ps would show of curl, and its environment; then the real one,\n'
                '# with the same standard input.\n'
                '{ printf "argv:"; for a in "$@"; do printf " %%s" "$a"; done; printf "\\n"\n'
                '  env | sed "s/^/env: /"; } >> "$CURL_LOG"\n'
                'exec %s "$@"\n' % real)
    os.chmod(os.path.join(WRAPPERS, "curl"), 0o755)

    # The credential directory systemd would make for the unit.
    CRED = os.path.join(TMP, "credentials")
    os.mkdir(CRED, 0o700)
    with open(os.path.join(CRED, "token"), "w") as f:
        f.write(TOKEN + "\n")
    os.chmod(os.path.join(CRED, "token"), 0o400)

    S = Stack(env={"OWMCOLLECT_HTTP_TOKEN": TOKEN,
                   "OWMCOLLECT_OWM_CITIES_PER_MINUTE": "1200",
                   "OWMCOLLECT_CITIES": ",".join(str(c) for c in DEFAULT)}).start()


def tearDownModule():
    try:
        if S:
            S.stop()
    finally:
        if TMP:
            shutil.rmtree(TMP, ignore_errors=True)


def env_file(**values):
    """The installed collect.env with values set, read as systemd reads an
    EnvironmentFile (NAME=value lines, the value stripped)."""
    with open(ENV_FILE) as f:
        text = f.read()
    for k, v in values.items():
        # Its line, else the commented-out one ("#OWMCOLLECT_TRIES=5").
        for pattern in (r"(?m)^%s=.*$", r"(?m)^#%s=.*$"):
            text, n = re.subn(pattern % k, lambda _: "%s=%s" % (k, v), text, count=1)
            if n:
                break
        assert n == 1, "collect.env has no line for " + k
    env = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            k, _, v = line.partition("=")
            env[k.strip()] = v.strip()
    return env


def minute_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%MZ")


class Run:
    def __init__(self, p, before, after, calls):
        self.rc, self.out, self.err = p.returncode, p.stdout, p.stderr
        self.minutes = {before, after}
        self.calls = calls      # curl's argument lists (what ps shows)


class CollectTimer(unittest.TestCase):
    def run_script(self, token=True, url=None, **values):
        """The installed script with collect.env's values (the stack's nginx
        unless url), the token as the unit's credential (or as
        OWMCOLLECT_TOKEN_FILE when token is a path, none when False).  Checks
        that the token is in no argument list or environment of curl and not
        in the output."""
        values.setdefault("OWMCOLLECT_URL", url or "http://127.0.0.1:%d" % S.port)
        env = env_file(**values)
        env.update({"PATH": WRAPPERS + ":/usr/bin:/bin", "CURL_LOG": CURL_LOG})
        if token is True:
            env["CREDENTIALS_DIRECTORY"] = CRED
        elif token:
            env["OWMCOLLECT_TOKEN_FILE"] = token
        if os.path.exists(CURL_LOG):
            os.unlink(CURL_LOG)
        before = minute_now()
        p = subprocess.run([SCRIPT], env=env, capture_output=True, text=True, timeout=300)
        after = minute_now()
        log = ""
        if os.path.exists(CURL_LOG):
            with open(CURL_LOG) as f:
                log = f.read()
        self.assertNotIn(TOKEN, log, "the token reached curl's arguments or environment")
        self.assertNotIn(TOKEN, p.stdout + p.stderr, "the token is in the script's output")
        calls = [line[len("argv:"):].split() for line in log.splitlines() if line.startswith("argv:")]
        return Run(p, before, after, calls)

    def started(self, r, prefix, total):
        """The one line of a run that started a collection; its id."""
        self.assertEqual(r.rc, 0, r.err)
        m = re.fullmatch(r"owmcollect-collect: (%s-%s): started, %d cities \(HTTP 202\); "
                         r"progress: http://127\.0\.0\.1:%d(/get\?id=\S+)\n"
                         % (re.escape(prefix), ID_TIME, total, S.port), r.out)
        self.assertTrue(m, r.out)
        ident, when, status_url = m.groups()
        self.assertIn(when, r.minutes)          # the UTC minute it ran in
        self.assertEqual(status_url, "/get?id=" + urllib.parse.quote(ident, safe=""))
        return ident

    def cities_of(self, ident):
        """The request's cities in order, done or not (GET shows done ones)."""
        self.assertEqual(S.get(ident).status, 200)
        return [int(row[0]) for row in
                S.sql("SELECT city_id FROM request_data WHERE id = '%s' ORDER BY pos" % ident)]

    def count(self):
        return int(S.sql("SELECT COUNT(*) FROM requests")[0][0])

    # -- a collection ---------------------------------------------------------------
    def test_listed_cities_with_the_token(self):
        listed = [ALL_CITIES[10], ALL_CITIES[11], ALL_CITIES[12]]
        r = self.run_script(OWMCOLLECT_CITIES="%d, %d  %d" % tuple(listed),
                            OWMCOLLECT_ID_PREFIX="listed")
        ident = self.started(r, "listed", 3)
        self.assertEqual(r.err, "")
        self.assertEqual(self.cities_of(ident), listed)      # exactly those, in order
        doc = S.wait_progress(ident, 100, timeout=120)
        self.assertEqual(doc["collected"], 3, doc)
        # curl got the token on standard input: a header file, not an argument.
        self.assertEqual(len(r.calls), 1, r.calls)
        self.assertIn("@-", r.calls[0])

    def test_empty_list_is_the_configured_one_and_the_documented_queries_read_it(self):
        r = self.run_script()       # collect.env as installed: prefix hourly, no cities
        ident = self.started(r, "hourly", len(DEFAULT))
        self.assertEqual(self.cities_of(ident), DEFAULT)
        S.wait_progress(ident, 100, timeout=120)
        hour = datetime.datetime.strptime(ident[-17:], "%Y-%m-%dT%H:%MZ")

        with open(os.path.join(ROOT, "docs", "production.md"), encoding="utf-8") as f:
            section = f.read().split("## Recurring collections\n", 1)[1].split("\n## ", 1)[0]
        sql = section.split("<<'SQL'\n", 1)[1].split("\nSQL\n", 1)[0]
        queries = [q for q in sql.split(";\n") if q.strip()]
        self.assertEqual(len(queries), 2, sql)
        rows = S.sql(queries[0] + ";")
        self.assertEqual([int(row[0]) for row in rows], sorted(DEFAULT), rows)
        # (name and country: NULL until the worker fills the cities table.)
        for city, name, country, at, temperature, humidity in rows:
            self.assertEqual(at, hour.strftime("%Y-%m-%d %H:%M:00"), rows)
            float(temperature)
            int(humidity)
        rows = S.sql(queries[1] + ";")
        self.assertEqual([int(row[0]) for row in rows], sorted(DEFAULT), rows)
        for row in rows:
            self.assertEqual(row[3], hour.strftime("%Y-%m-%d %H:00"), rows)
            self.assertEqual(row[6], "1", rows)

    # -- the token --------------------------------------------------------------------
    def test_without_the_token_it_fails_and_says_why(self):
        before = self.count()
        r = self.run_script(token=False, OWMCOLLECT_CITIES=str(ALL_CITIES[20]),
                            OWMCOLLECT_ID_PREFIX="no-token")
        self.assertEqual(r.rc, 1, r.out + r.err)
        self.assertEqual(r.out, "")
        self.assertRegex(r.err, r"owmcollect-collect: no-token-%s: not started: the service needs a "
                                r"bearer token \(401: .+\); put it in /etc/owmcollect/collect.token"
                         % ID_TIME)
        self.assertEqual(len(r.calls), 1)       # no retry of a 401

        wrong = os.path.join(TMP, "wrong-token")
        with open(wrong, "w") as f:
            f.write(TOKEN[:-1] + "\n")
        os.chmod(wrong, 0o600)
        r = self.run_script(token=wrong, OWMCOLLECT_CITIES=str(ALL_CITIES[20]),
                            OWMCOLLECT_ID_PREFIX="wrong-token")
        self.assertEqual(r.rc, 1, r.out + r.err)
        self.assertIn("not started: the service refused the token in %s (401: " % wrong, r.err)
        self.assertEqual(self.count(), before)      # nothing stored

        # A token that cannot be a header line is refused before any request.
        bad = os.path.join(TMP, "bad-token")
        with open(bad, "w") as f:
            f.write(TOKEN + " x\n")
        r = self.run_script(token=bad)
        self.assertEqual(r.rc, 2, r.out + r.err)
        self.assertIn("must be one line of visible ASCII characters", r.err)
        self.assertEqual(r.calls, [])

    def test_a_token_file_readable_by_everyone_draws_a_warning(self):
        loose = os.path.join(TMP, "loose-token")
        with open(loose, "w") as f:
            f.write(TOKEN + "\n")
        os.chmod(loose, 0o644)
        r = self.run_script(token=loose, OWMCOLLECT_CITIES=str(ALL_CITIES[21]),
                            OWMCOLLECT_ID_PREFIX="loose")
        self.started(r, "loose", 1)
        self.assertIn("%s is readable by everyone: make it mode 0600" % loose, r.err)

    # -- bad settings ------------------------------------------------------------------
    def test_bad_settings_are_refused_before_any_request(self):
        before = self.count()
        cases = [
            ({"OWMCOLLECT_CITIES": "0"}, '"0" is not a city id'),
            ({"OWMCOLLECT_CITIES": "2643743, 12a"}, '"12a" is not a city id'),
            ({"OWMCOLLECT_CITIES": "-5"}, '"-5" is not a city id'),
            ({"OWMCOLLECT_CITIES": "0123"}, '"0123" is not a city id'),
            ({"OWMCOLLECT_CITIES": "4294967296"}, '"4294967296" is not a city id'),
            ({"OWMCOLLECT_CITIES": "1.5"}, '"1.5" is not a city id'),
            ({"OWMCOLLECT_CITIES": "1;2"}, '"1;2" is not a city id'),
            ({"OWMCOLLECT_CITIES": "[1, 2]"}, '"[1" is not a city id'),
            ({"OWMCOLLECT_CITIES": "1,,2"}, "a comma must stand between two city ids"),
            ({"OWMCOLLECT_CITIES": "1, 2,"}, "a comma must stand between two city ids"),
            ({"OWMCOLLECT_CITIES": ",1"}, "a comma must stand between two city ids"),
            ({"OWMCOLLECT_CITIES": "7 8 7"}, "city 7 is listed twice"),
            ({"OWMCOLLECT_CITIES": ",".join(str(i) for i in range(1, 1002))}, "at most 1000 cities"),
            ({"OWMCOLLECT_ID_PREFIX": "a b"}, "OWMCOLLECT_ID_PREFIX may hold only"),
            ({"OWMCOLLECT_ID_PREFIX": 'x"}'}, "OWMCOLLECT_ID_PREFIX may hold only"),
            ({"OWMCOLLECT_URL": "ftp://127.0.0.1"}, "OWMCOLLECT_URL must be http://"),
            ({"OWMCOLLECT_URL": "http://user:pw@127.0.0.1"}, "must not carry credentials"),
            ({"OWMCOLLECT_TRIES": "0"}, "OWMCOLLECT_TRIES must be"),
            ({"OWMCOLLECT_RETRY_DELAY": "x"}, "OWMCOLLECT_RETRY_DELAY must be"),
        ]
        for values, says in cases:
            with self.subTest(values=str(values)[:60]):
                r = self.run_script(**values)
                self.assertEqual(r.rc, 2, r.out + r.err)
                self.assertIn(says, r.err)
                self.assertEqual(r.out, "")
                self.assertEqual(r.calls, [], "curl ran")
        self.assertEqual(self.count(), before)

    # -- repeats and retries ----------------------------------------------------------
    def test_a_second_run_in_the_same_minute_is_refused_clearly(self):
        # Both runs in one minute: start early in one.
        wait_until(lambda: datetime.datetime.now(datetime.timezone.utc).second < 40, 30, 0.5,
                   "a minute with 20 s to spare")
        listed = [ALL_CITIES[30], ALL_CITIES[31]]
        first = self.run_script(OWMCOLLECT_CITIES="%d,%d" % tuple(listed), OWMCOLLECT_ID_PREFIX="twice")
        ident = self.started(first, "twice", 2)
        second = self.run_script(OWMCOLLECT_CITIES=str(ALL_CITIES[32]), OWMCOLLECT_ID_PREFIX="twice")
        self.assertEqual(second.rc, 3, second.out + second.err)
        self.assertEqual(second.out, "")
        self.assertIn("owmcollect-collect: %s: not started: the id is already used (409), so this "
                      "minute was collected before this run" % ident, second.err)
        self.assertIn("progress: http://127.0.0.1:%d/get?id=%s" %
                      (S.port, urllib.parse.quote(ident, safe="")), second.err)
        self.assertEqual(len(second.calls), 1)      # no retry of a 409
        self.assertEqual(self.cities_of(ident), listed)   # the first run's collection stands

    def test_a_lost_answer_is_retried_with_the_same_id(self):
        # The proxy stores the first POST and closes the connection without
        # an answer; the retry's 409 means it was stored: success.
        with Proxy(["store-then-drop", "forward"]) as px:
            r = self.run_script(url="http://127.0.0.1:%d" % px.port, OWMCOLLECT_RETRY_DELAY="0",
                                OWMCOLLECT_CITIES=str(ALL_CITIES[40]), OWMCOLLECT_ID_PREFIX="lost")
        self.assertEqual(r.rc, 0, r.out + r.err)
        m = re.fullmatch(r"owmcollect-collect: (lost-%s): already collected: attempt 2 was told the id "
                         r"is used, so an earlier attempt of this run was stored; progress: "
                         r"http://127\.0\.0\.1:%d/get\?id=\S+\n" % (ID_TIME, px.port), r.out)
        self.assertTrue(m, r.out)
        ident = m.group(1)
        self.assertRegex(r.err, r"attempt 1 of 5: no answer \(curl exit 52\); trying again in 0s "
                                r"with the same id")
        self.assertEqual(len(px.bodies), 2)
        self.assertEqual(px.bodies[0], px.bodies[1])          # the same id, the same cities
        self.assertEqual(json.loads(px.bodies[0]), {"id": ident, "cities": [ALL_CITIES[40]]})
        self.assertEqual(px.statuses, [202, 409])
        self.assertEqual(self.cities_of(ident), [ALL_CITIES[40]])
        self.assertEqual(S.sql("SELECT COUNT(*) FROM requests WHERE ext_id LIKE 'lost-%'"), [["1"]])
        # curl as it ran, read from /proc while the proxy held its request.
        self.assertEqual(len(px.cmdlines), 2, px.cmdlines)
        for cmd in px.cmdlines:
            self.assertIn(b"@-", cmd)
            self.assertNotIn(TOKEN.encode(), cmd)

    def test_a_503_is_retried_and_the_retry_starts_it(self):
        with Proxy(["503", "forward"]) as px:
            r = self.run_script(url="http://127.0.0.1:%d" % px.port, OWMCOLLECT_RETRY_DELAY="0",
                                OWMCOLLECT_CITIES=str(ALL_CITIES[41]), OWMCOLLECT_ID_PREFIX="busy")
        self.assertRegex(r.err, r"attempt 1 of 5: HTTP 503: the database is unavailable; trying again")
        self.assertEqual(r.rc, 0, r.err)
        self.assertIn(": started, 1 cities (HTTP 202)", r.out)
        self.assertEqual(px.statuses, [503, 202])
        self.assertEqual(px.bodies[0], px.bodies[1])

    def test_no_answer_at_all_gives_up_after_its_tries(self):
        port = free_port()      # reserved, nothing listens
        r = self.run_script(url="http://127.0.0.1:%d" % port, OWMCOLLECT_TRIES="3",
                            OWMCOLLECT_RETRY_DELAY="0")
        self.assertEqual(r.rc, 1, r.out + r.err)
        self.assertRegex(r.err, r"hourly-%s: not started: no usable answer in 3 attempt\(s\); "
                                r"the last: no answer \(curl exit 7\)" % ID_TIME)
        self.assertEqual(len(r.calls), 3)

    def test_other_refusals_fail(self):
        r = self.run_script(url="http://127.0.0.1:%d/nowhere" % S.port)
        self.assertEqual(r.rc, 1, r.out + r.err)
        self.assertRegex(r.err, r"not started: HTTP 4\d\d: ")
        self.assertEqual(len(r.calls), 1)


class Proxy:
    """An HTTP proxy to the stack's nginx that plays one action per POST:
    "forward"; "store-then-drop" (forward, then close without an answer);
    "503" (answer as owmcollect-fcgi does while the database is away,
    forwarding nothing).  Records each body, the status it forwarded or made
    up, and the command line of the test's curl while it ran."""

    def __init__(self, actions):
        self.actions, self.bodies, self.statuses, self.cmdlines = list(actions), [], [], []
        self.port = free_port()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                proxy.bodies.append(body)
                proxy.cmdlines.extend(running_curls())
                action = proxy.actions.pop(0) if proxy.actions else "forward"
                if action == "503":
                    proxy.statuses.append(503)
                    self.answer(503, b'{"error": "the database is unavailable"}\n', {"Retry-After": "2"})
                    return
                c = http.client.HTTPConnection("127.0.0.1", S.port, timeout=30)
                headers = {k: self.headers[k] for k in ("Content-Type", "Authorization")
                           if self.headers[k] is not None}
                c.request("POST", "/collect", body=body, headers=headers)
                resp = c.getresponse()
                data = resp.read()
                c.close()
                proxy.statuses.append(resp.status)
                if action == "store-then-drop":
                    self.close_connection = True
                    return
                self.answer(resp.status, data, {})

            def answer(self, status, data, headers):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def running_curls():
    """The command lines of the curl processes this test started (the
    wrapper's CURL_LOG in their environment), as /proc shows them to ps."""
    mark = b"\0CURL_LOG=" + CURL_LOG.encode() + b"\0"
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/comm" % p, "rb") as f:
                if f.read().strip() != b"curl":
                    continue
            with open("/proc/%s/environ" % p, "rb") as f:
                if mark not in b"\0" + f.read():
                    continue
            with open("/proc/%s/cmdline" % p, "rb") as f:
                out.append(f.read())
        except OSError:
            continue
    return out


if __name__ == "__main__":
    unittest.main()

"""Integration-test harness: a private owmcollect stack per test module.

Each Stack gets its own temp dir (VAR), free ports for nginx and MariaDB,
and its own API stand-in, by running tests/stack.sh with that environment,
so tests never collide with a running `make run` or with each other.
Extra OWMCOLLECT_* settings go in through the environment.

    with Stack(env={"OWMCOLLECT_OWM_CITIES_PER_MINUTE": "1200"}) as s:
        status, headers, doc = s.post_collect({"id": "x"})
        s.wait_progress("x", 100, timeout=60)
"""
import http.client
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STACK = os.path.join(ROOT, "tests", "stack.sh")
BUILD = os.environ.get("B", "build")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_retention_conf(path, days):
    """etc/owmcollect.conf at path, with retention.readings_days and
    retention.requests_days set to days (0: off)."""
    with open(os.path.join(ROOT, "etc", "owmcollect.conf")) as f:
        text = f.read()
    text, n = re.subn(r"(readings_days|requests_days) = 0;", r"\1 = %d;" % days, text)
    assert n == 2, "etc/owmcollect.conf has no retention group"
    with open(path, "w") as f:
        f.write(text)


def wait_until(pred, timeout, interval=0.05, what="condition"):
    """Poll pred() until it returns a true value; fail after timeout s."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __iter__(self):  # status, headers, doc = ...
        doc = None
        try:
            doc = self.json
        except (ValueError, UnicodeDecodeError):
            pass
        return iter((self.status, self.headers, doc))


class Stack:
    def __init__(self, env=None, keep=False):
        # Mode 0700 and left so: nothing of nginx's workers is in VAR when
        # root (tests/stack.sh), so every stack is also a private VAR.
        self.dir = tempfile.mkdtemp(prefix="owmtest-")
        self.port = free_port()
        self.db_port = free_port()
        self.keep = keep or os.environ.get("OWMTEST_KEEP") == "1"
        self.env = dict(os.environ)
        self.env.update({"VAR": self.dir, "PORT": str(self.port),
                         "DB_PORT": str(self.db_port), "B": BUILD})
        for k in list(self.env):
            if k.startswith("OWMCOLLECT_"):
                del self.env[k]
        self.env.update(env or {})
        self.run = os.path.join(self.dir, "run")
        self.log = os.path.join(self.dir, "log")

    # -- life cycle ---------------------------------------------------------
    def stack(self, cmd, *args, timeout=180, check=True):
        p = subprocess.run([STACK, cmd] + list(args), env=self.env, cwd=ROOT, timeout=timeout,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if check and p.returncode != 0:
            raise RuntimeError("stack.sh %s failed (%d):\n%s\n%s" %
                               (cmd, p.returncode, p.stdout, self.logs_tail()))
        return p

    def start(self):
        self.stack("start")
        return self

    def stop(self):
        self.stack("stop", check=False)
        self.check_sanitizers()

    def check_sanitizers(self):
        """With `make SANITIZE=1 test`, any sanitizer report in a log fails."""
        if not os.path.isdir(self.log):
            return
        for f in os.listdir(self.log):
            with open(os.path.join(self.log, f), errors="replace") as fh:
                text = fh.read()
            for mark in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
                if mark in text:
                    raise AssertionError("sanitizer report in %s:\n%s" % (f, text[text.index(mark) - 200:][:3000]))

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc):
        self.stop()
        if not self.keep and exc[0] is None:
            shutil.rmtree(self.dir, ignore_errors=True)

    def logs_tail(self, n=20):
        out = []
        if os.path.isdir(self.log):
            for f in sorted(os.listdir(self.log)):
                if f.startswith("standin-access"):
                    continue
                with open(os.path.join(self.log, f), errors="replace") as fh:
                    lines = fh.readlines()[-n:]
                out.append("== %s\n%s" % (f, "".join(lines)))
        return "\n".join(out)

    def pid(self, name):
        try:
            with open(os.path.join(self.run, name + ".pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def children(self, name="worker"):
        """{pid: comm} of the children of a component (its pid file's)."""
        parent, out = self.pid(name), {}
        for p in os.listdir("/proc"):
            if not p.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % p) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                with open("/proc/%s/comm" % p) as f:
                    comm = f.read().strip()
            except OSError:
                continue
            if int(fields[1]) == parent:
                out[int(p)] = comm
        return out

    def signal(self, name, sig):
        pid = self.pid(name)
        assert pid, "no pid for " + name
        os.kill(pid, sig)

    # -- HTTP ------------------------------------------------------------------
    def request(self, method, path, body=None, headers=None, timeout=30):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            if isinstance(body, str):
                body = body.encode("utf-8")
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        finally:
            c.close()

    def post_collect(self, doc, headers=None):
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        body = doc if isinstance(doc, (bytes, str)) else json.dumps(doc)
        return self.request("POST", "/collect", body, h)

    def get(self, ident):
        return self.request("GET", "/get?id=" + urllib.parse.quote(ident, safe=""))

    def wait_progress(self, ident, at_least=100, timeout=60):
        def done():
            r = self.get(ident)
            if r.status == 200 and r.json["progress"] >= at_least:
                return r.json
            return None
        return wait_until(done, timeout, 0.1, "progress of %r to reach %s" % (ident, at_least))

    def wait_settled(self, idents, timeout=30):
        """Until the worker's settle has written each request's row
        (finished_at and its counts), which follows its last batch within
        about a second; GET is exact before that."""
        idents = [idents] if isinstance(idents, str) else list(idents)
        q = ("SELECT COUNT(*) FROM requests WHERE finished_at IS NOT NULL AND ext_id IN (%s)"
             % ", ".join("'%s'" % i.replace("'", "''") for i in idents))
        return wait_until(lambda: int(self.sql(q)[0][0]) == len(idents), timeout, 0.1,
                          "%d requests to be settled" % len(idents))

    # -- the API stand-in --------------------------------------------------------
    @property
    def standin_port(self):
        with open(os.path.join(self.run, "standin.port")) as f:
            return int(f.read().strip())

    def standin(self, method, path, doc=None):
        c = http.client.HTTPConnection("127.0.0.1", self.standin_port, timeout=10)
        try:
            body = json.dumps(doc) if doc is not None else None
            c.request(method, path, body=body,
                      headers={"Content-Type": "application/json"} if body else {})
            r = c.getresponse()
            data = r.read()
            assert r.status == 200, "stand-in %s %s: %d %s" % (method, path, r.status, data)
            return json.loads(data)
        finally:
            c.close()

    def standin_config(self, **kw):
        return self.standin("POST", "/_standin/config", kw)

    def access_log(self):
        """Every API request the stand-in saw, in arrival order."""
        path = os.path.join(self.log, "standin-access.log")
        out = []
        if os.path.exists(path):
            with open(path) as f:
                for line in f:
                    if line.endswith("\n"):
                        out.append(json.loads(line))
        return out

    # -- the database ---------------------------------------------------------------
    def sql(self, query):
        """Run SQL as the database owner; rows as lists of strings (None = NULL)."""
        p = subprocess.run(["mariadb", "--no-defaults", "--socket=" + os.path.join(self.run, "mysqld.sock"),
                            "-u" + pwd.getpwuid(os.getuid()).pw_name, "--batch", "--skip-column-names",
                            "owmcollect"], input=query, text=True, capture_output=True, timeout=30)
        if p.returncode != 0:
            raise RuntimeError("sql failed: %s" % p.stderr)
        rows = []
        for line in p.stdout.splitlines():
            rows.append([None if v == "NULL" else v for v in line.split("\t")])
        return rows


def max_window(entries, window=60.0):
    """Largest number of cities in any `window`-second span of arrivals."""
    ev = sorted((e["t"], len(e["ids"])) for e in entries if e.get("ids"))
    best, total, lo = 0, 0, 0
    for t, n in ev:
        total += n
        while ev[lo][0] <= t - window:
            total -= ev[lo][1]
            lo += 1
        best = max(best, total)
    return best


def side_by_side(scenarios):
    """Run scenarios, each (name, fn, env), each on its own stack, side by
    side; {name: fn(stack), or the exception it raised}.  The stacks start
    one after the other (concurrent mariadb-install-db runs trip over each
    other's temporary files) and are stopped at the end."""
    import threading
    results, stacks = {}, []

    def run(name, fn, s):
        try:
            results[name] = fn(s)
        except BaseException as e:  # reported by the test that needs it
            results[name] = e
    try:
        for name, fn, env in scenarios:
            stacks.append((name, fn, Stack(env=env).start()))
        threads = [threading.Thread(target=run, args=x) for x in stacks]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        for _, _, s in stacks:
            s.stop()
    return results


def result_of(results, name):
    """A side_by_side result, re-raising what its scenario raised."""
    r = results.get(name)
    if isinstance(r, BaseException):
        raise r
    return r


def second_worker(s, env):
    """Another worker supervisor on s's database, over TCP, with its own
    settings (another "host"), on the stand-in, which must accept any key
    (s.standin_config(key=""): this one cannot know the stack's)."""
    with open(os.path.join(s.dir, "secrets", "mysql-password")) as f:
        pw = f.read().strip()
    env2 = dict(s.env, OWMCOLLECT_MYSQL_SOCKET="", OWMCOLLECT_MYSQL_HOST="127.0.0.1",
                OWMCOLLECT_MYSQL_PORT=str(s.db_port), OWMCOLLECT_MYSQL_PASSWORD=pw,
                OWMCOLLECT_OWM_KEY="second-host",
                OWMCOLLECT_OWM_URL="http://127.0.0.1:%d/data/2.5" % s.standin_port)
    env2.update(env)
    with open(os.path.join(s.log, "worker2.log"), "ab") as log:
        return subprocess.Popen([os.path.join(ROOT, BUILD, "owmcollect-worker"), "-c",
                                 os.path.join(ROOT, "etc", "owmcollect.conf")],
                                env=env2, cwd=ROOT, stdout=log, stderr=log)


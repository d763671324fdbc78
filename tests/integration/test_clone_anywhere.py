"""A clone anywhere runs: a clone inside a mode-0700 directory,
built there, `make start` with its own PORT and the default VAR (the clone's
var/), the status page and the API through nginx, then `make stop`.

Twice when root: as root with the clone under a 0700 directory in root's
home, then as a throw-away ordinary user (created here, removed at the end)
whose 0700 home holds the clone.  As an ordinary user the first part runs
in that user's home and the second is skipped.

Nothing may chmod the homes, and nginx's workers must never run as root.
The clone is `git clone` of this checkout with its working tree copied over
it (uncommitted and untracked, not ignored files included), so the clone
is what `git commit` would make of this tree; in CI, a fresh clone, the
copy changes nothing.
"""
import grp
import http.client
import json
import os
import pwd
import shutil
import signal
import stat
import subprocess
import tempfile
import time
import unittest

from harness import ROOT, free_port, wait_until

MAKE_TIMEOUT = 300          # make start builds the clone (a few seconds on 2 cores)
HTTP_TIMEOUT = 10
# Debian's PATH for ordinary users: no /usr/sbin, where nginx and mariadbd are.
USER_PATH = "/usr/local/bin:/usr/bin:/bin"
# What the outer make (make test) or the caller set must not steer the clone's.
DROP_ENV = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "B", "VAR", "PORT",
            "DB_PORT", "SANITIZE", "DB", "POST_RATE", "CONF", "STANDIN_PORT")


def git(*args, cwd=ROOT):
    return subprocess.run(["git", "-c", "safe.directory=*"] + list(args), cwd=cwd,
                          capture_output=True, timeout=120)


def copy_checkout(dest):
    """dest: this checkout as a clone would be, with its working tree."""
    p = git("ls-files", "-z", "--cached", "--others", "--exclude-standard")
    if p.returncode != 0:
        raise AssertionError("git ls-files in %s failed: %s" % (ROOT, p.stderr.decode(errors="replace")))
    files = [f.decode() for f in p.stdout.split(b"\0") if f]
    c = git("clone", "-q", "--no-hardlinks", ROOT, dest, cwd=os.path.dirname(dest))
    if c.returncode != 0:
        raise AssertionError("git clone %s failed: %s" % (ROOT, c.stderr.decode(errors="replace")))
    # Overlay the working tree: changed and new files, and what it deleted.
    present = set()
    for f in files:
        src = os.path.join(ROOT, f)
        if not os.path.lexists(src):
            continue
        present.add(f)
        dst = os.path.join(dest, f)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if os.path.lexists(dst) and not os.path.isdir(dst):
            os.unlink(dst)
        shutil.copy2(src, dst, follow_symlinks=False)
    p = git("ls-files", "-z", cwd=dest)
    for f in (f.decode() for f in p.stdout.split(b"\0") if f):
        if f not in present and os.path.lexists(os.path.join(dest, f)):
            os.unlink(os.path.join(dest, f))


def clean_env(base):
    env = {k: v for k, v in base.items() if not k.startswith("OWMCOLLECT_") and k not in DROP_ENV}
    env["DB_PORT"] = str(free_port())
    return env


def http_get(port, path, method="GET", body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=HTTP_TIMEOUT)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


def pids_under(var):
    """The live pids the stack's pid files name."""
    out = {}
    run = os.path.join(var, "run")
    if os.path.isdir(run):
        for f in os.listdir(run):
            if f.endswith(".pid"):
                try:
                    with open(os.path.join(run, f)) as fh:
                        pid = int(fh.read().strip())
                except (OSError, ValueError):
                    continue
                if os.path.exists("/proc/%d" % pid):
                    out[f[:-4]] = pid
    return out


def proc_status(pid):
    fields = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                fields[k] = v.split()
    except OSError:
        pass
    return fields


def children_of(pid):
    kids = []
    for d in os.listdir("/proc"):
        if d.isdigit() and proc_status(int(d)).get("PPid") == [str(pid)]:
            kids.append(int(d))
    return kids


def processes_of_uid(uid):
    found = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = proc_status(int(d))
            if st.get("Uid", [None])[0] == str(uid):
                found.append(int(d))
    return found


def processes_mentioning(path):
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if path in cmd:
            found.append((int(d), cmd))
    return found


class CloneAnywhere(unittest.TestCase):
    def run_clone(self, clone, env, user=None):
        """make start in clone, check it through nginx, make stop."""
        port = free_port()
        var = os.path.join(clone, "var")
        kw = dict(cwd=clone, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                  text=True)
        if user is not None:
            kw.update(user=user.pw_uid, group=user.pw_gid, extra_groups=[])

        def make(*args, timeout=MAKE_TIMEOUT):
            return subprocess.run(["make", "--no-print-directory", "-j2"] + list(args) +
                                  ["PORT=%d" % port], timeout=timeout, **kw)

        def start():
            """make start; on other ports again when one was taken (the
            failed start has stopped what it started)."""
            nonlocal port
            for attempt in range(5):
                p = make("start")
                if p.returncode == 0 or "is in use" not in p.stdout or attempt == 4:
                    return p
                print("\n  make start: %s; again on other ports"
                      % [l for l in p.stdout.splitlines() if "is in use" in l][0], flush=True)
                port = free_port()
                env["DB_PORT"] = str(free_port())

        def logs():
            out = []
            log = os.path.join(var, "log")
            if os.path.isdir(log):
                for f in sorted(os.listdir(log)):
                    if f.startswith("standin-access"):
                        continue
                    with open(os.path.join(log, f), errors="replace") as fh:
                        out.append("== %s\n%s" % (f, "".join(fh.readlines()[-15:])))
            return "\n".join(out)

        t0 = time.monotonic()
        stopped = False
        try:
            p = start()
            took = time.monotonic() - t0
            self.assertEqual(p.returncode, 0, "make start failed in %s:\n%s\n%s" % (clone, p.stdout, logs()))
            who = user.pw_name if user else pwd.getpwuid(os.getuid()).pw_name
            print("\n  [%s: make start %.1f s, the build included] " % (who, took), end="", flush=True)

            # The status page, from the clone's nginx/www.
            st, h, body = http_get(port, "/")
            self.assertEqual(st, 200, "GET / -> %d %r\n%s" % (st, body[:200], logs()))
            self.assertTrue(h.get("content-type", "").startswith("text/html"), h)
            self.assertIn(b'id="collect-form"', body)
            st, h, body = http_get(port, "/app.js")
            self.assertEqual(st, 200, body[:200])

            # The API: POST, then GET until the stand-in's reading is in.
            st, h, body = http_get(port, "/collect", "POST",
                                   json.dumps({"id": "anywhere", "cities": [2643743]}),
                                   {"Content-Type": "application/json"})
            self.assertEqual(st, 202, "POST /collect -> %d %r\n%s" % (st, body[:300], logs()))

            def finished():
                s, hh, b = http_get(port, "/get?id=anywhere")
                self.assertEqual(s, 200, b[:300])
                doc = json.loads(b)
                return doc if doc["progress"] >= 100 else None
            doc = wait_until(finished, 60, 0.2, "the clone's request to finish")
            self.assertEqual(doc["id"], "anywhere")
            self.assertEqual(doc["collected"], 1, doc)

            # A finished answer is cached: nginx's workers write the cache.
            def cached():
                s, hh, b = http_get(port, "/get?id=anywhere")
                return s == 200 and hh.get("x-cache") == "HIT"
            wait_until(cached, 60, 0.2, "a cached GET /get (X-Cache: HIT)\n" + logs())

            # nginx's workers never run as root.
            pids = pids_under(var)
            self.assertIn("nginx", pids)
            workers = children_of(pids["nginx"])
            self.assertTrue(workers, "nginx has no workers")
            for w in workers:
                uid = proc_status(w).get("Uid", ["0"])[0]
                self.assertNotEqual(uid, "0", "nginx worker %d runs as root" % w)

            # As root, what they touch is in a private directory, not here.
            webdir = None
            if os.getuid() == 0 and user is None:
                with open(os.path.join(var, "run", "nginx.dir")) as f:
                    webdir = f.read().strip()
                self.assertFalse(webdir.startswith(clone), webdir)

            st = make("status", timeout=60)
            self.assertEqual(st.returncode, 0, st.stdout)

            p = make("stop", timeout=180)
            stopped = True
            self.assertEqual(p.returncode, 0, p.stdout)
            for name, pid in pids.items():
                self.assertFalse(os.path.exists("/proc/%d" % pid), "%s (pid %d) survived make stop" % (name, pid))
            wait_until(lambda: not processes_mentioning(clone), 60, 0.2,
                       "no process left mentioning %s" % clone)
            if webdir:
                self.assertFalse(os.path.exists(webdir), "make stop left " + webdir)
        finally:
            if not stopped:
                subprocess.run(["make", "--no-print-directory", "stop"], timeout=180, **kw)
        return time.monotonic() - t0

    def test_1_clone_in_private_dir(self):
        """The current user, the clone under a 0700 directory in its home."""
        home = os.path.expanduser("~")
        if not (os.path.isdir(home) and os.access(home, os.W_OK)):
            home = None                 # no home: a 0700 directory still
        home_mode = os.stat(home).st_mode if home else None
        base = tempfile.mkdtemp(prefix="owmclone-", dir=home)
        try:
            self.assertEqual(stat.S_IMODE(os.stat(base).st_mode), 0o700)
            clone = os.path.join(base, "owmcollect")
            copy_checkout(clone)
            took = self.run_clone(clone, clean_env(os.environ))
            print("[start to stop %.1f s] " % took, end="", flush=True)
            self.assertEqual(stat.S_IMODE(os.stat(base).st_mode), 0o700, "the private dir was chmodded")
            if home:
                self.assertEqual(os.stat(home).st_mode, home_mode, "the home was chmodded")
        finally:
            shutil.rmtree(base, ignore_errors=True)

    def test_2_clone_in_ordinary_users_home(self):
        """As root: a throw-away ordinary user, the clone in its 0700 home."""
        if os.getuid() != 0:
            self.skipTest("not root: the ordinary-user part needs root to create a "
                          "throw-away user (test_1 ran as the current ordinary user)")
        for tool in ("useradd", "userdel"):
            if shutil.which(tool) is None:
                self.fail("%s is missing (Debian package passwd)" % tool)
        name = "owmt" + os.urandom(4).hex()
        while True:
            try:
                pwd.getpwnam(name)
            except KeyError:
                break
            name = "owmt" + os.urandom(4).hex()
        home = "/home/" + name
        p = subprocess.run(["useradd", "--create-home", "--home-dir", home, "--user-group",
                            "--shell", "/bin/sh", "--comment", "owmcollect test", name],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, "useradd failed: " + p.stderr)
        uid = pwd.getpwnam(name).pw_uid
        try:
            user = pwd.getpwnam(name)
            os.chmod(home, 0o700)
            clone = os.path.join(home, "owmcollect")
            copy_checkout(clone)
            for d, dirs, files in os.walk(home):
                for f in [d] + [os.path.join(d, x) for x in dirs + files]:
                    os.lchown(f, user.pw_uid, user.pw_gid)
            env = {"HOME": home, "USER": name, "LOGNAME": name, "SHELL": "/bin/sh",
                   "PATH": USER_PATH, "LANG": "C.UTF-8"}
            env = clean_env(env)
            took = self.run_clone(clone, env, user)
            print("[start to stop %.1f s] " % took, end="", flush=True)
            self.assertEqual(stat.S_IMODE(os.stat(home).st_mode), 0o700, "the home was chmodded")
            left = [(pid, proc_status(pid).get("Name")) for pid in processes_of_uid(uid)]
            self.assertEqual(left, [], "processes of %s left after make stop" % name)
        finally:
            # Whatever of the throw-away user's is still there is this
            # test's: end it by pid, then remove the user and its home.
            for pid in processes_of_uid(uid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            for _ in range(100):
                r = subprocess.run(["userdel", "--remove", name], capture_output=True, text=True,
                                   timeout=60)
                try:
                    pwd.getpwnam(name)
                except KeyError:
                    break
                time.sleep(0.1)     # killed processes still being reaped
            try:
                grp.getgrnam(name)
                subprocess.run(["groupdel", name], capture_output=True, timeout=60)
            except KeyError:
                pass
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()

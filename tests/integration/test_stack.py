"""make start / stop / status semantics on a private stack: a second start
starts nothing, stop leaves no process behind, a restart reuses the data;
as root, nginx's workers use a private directory of their own, never VAR.
A start that fails (a server's port taken) says so and leaves nothing
running; the harness then starts on other ports."""
import grp
import os
import re
import socket
import stat
import subprocess
import unittest

from harness import Stack


def processes_mentioning(path):
    """Pids whose command line or executable mentions path."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if path in cmd:
            found.append((int(pid), cmd))
    return found


def nginx_dir(s):
    """As root: the private directory of nginx's workers the stack names."""
    with open(os.path.join(s.run, "nginx.dir")) as f:
        return f.read().strip()


class StartStop(unittest.TestCase):
    def test_start_twice_stop_restart(self):
        s = Stack()
        try:
            s.start()
            self.assertEqual(s.post_collect({"id": "kept", "cities": [1, 2]}).status, 202)
            pids = {n: s.pid(n) for n in ("mysqld", "fcgi", "nginx", "standin")}
            for n, pid in pids.items():
                self.assertTrue(pid and os.path.exists("/proc/%d" % pid), n)
            st = s.stack("status")
            self.assertIn("running", st.stdout)
            # VAR stays as private as it was made (harness: mkdtemp, 0700).
            self.assertEqual(stat.S_IMODE(os.stat(s.dir).st_mode), 0o700)
            web = None
            if os.getuid() == 0:
                web = nginx_dir(s)
                st_web = os.stat(web)
                self.assertEqual(stat.S_IMODE(st_web.st_mode), 0o750, web)
                self.assertEqual(grp.getgrgid(st_web.st_gid).gr_name, "www-data")
                self.assertEqual(os.path.realpath(os.path.join(s.run, "fcgi.sock")),
                                 os.path.join(web, "fcgi.sock"))
                with open(os.path.join(s.dir, "nginx", "owmcollect-site.conf")) as f:
                    site = f.read()
                self.assertNotIn(s.dir, site)   # the workers need nothing in VAR
                self.assertRegex(site, r"\broot\s+%s/www;" % re.escape(web))
            again = s.stack("start")
            self.assertIn("already running", again.stdout)
            self.assertEqual({n: s.pid(n) for n in pids}, pids)  # nothing new started
            s.stop()
            for n, pid in pids.items():
                self.assertFalse(os.path.exists("/proc/%d" % pid), "%s (pid %d) survived stop" % (n, pid))
            self.assertEqual(processes_mentioning(s.dir), [])
            if web:
                self.assertFalse(os.path.exists(web), "stop left " + web)
                self.assertFalse(os.path.lexists(os.path.join(s.run, "nginx.dir")))
            self.assertNotEqual(s.stack("status", check=False).returncode, 0)
            # A second start on the same data: schema applies again, data kept.
            s.start()
            r = s.get("kept")
            self.assertEqual(r.status, 200)
            self.assertEqual(r.json["total"], 2)
            web2 = nginx_dir(s) if web else None
        finally:
            s.stop()
        self.assertEqual(processes_mentioning(s.dir), [])
        if web:
            self.assertFalse(os.path.exists(web2), "stop left " + web2)

    def test_bad_config_refused_with_line(self):
        s = Stack(env={"OWMCOLLECT_OWM_BATCH_SIZE": "21"})
        p = subprocess.run([os.path.join(os.environ.get("B", "build"), "owmcollect-fcgi"), "-t",
                            "-c", "etc/owmcollect.conf"], env=s.env, capture_output=True, text=True,
                           cwd=os.path.join(os.path.dirname(__file__), "..", ".."))
        self.assertEqual(p.returncode, 2)
        self.assertIn("OWMCOLLECT_OWM_BATCH_SIZE: must be between 1 and 20", p.stderr)
        with self.assertRaises(RuntimeError):
            s.start()
        s.stop()


def occupy(port):
    """A listening socket on 127.0.0.1:port, as another program's would be."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(1)
    return s


class FailedStart(unittest.TestCase):
    maxDiff = None

    def test_port_taken_start_fails_and_leaves_nothing(self):
        """Each server's port taken in turn (nginx, the last to start, first):
        stack.sh start fails naming the port, and no process of the stack
        is left: not MariaDB, the stand-in, the FastCGI program and its
        children, the worker or nginx (found by VAR in their environment
        or command line, and by parentage)."""
        s = Stack()
        try:
            standin_port = s.ports.take()
            for what, key, port in (("nginx", "PORT", s.port), ("MariaDB", "DB_PORT", s.db_port),
                                    ("the API stand-in", "STANDIN_PORT", standin_port)):
                with self.subTest(what), occupy(port):
                    env = dict(s.env)
                    s.env[key] = str(port)
                    try:
                        p = s.stack("start", check=False)
                    finally:
                        s.env = env
                    left = s.processes()
                    s.end_leftovers(0)      # so that the next case starts clean
                    self.assertEqual(left, {}, "%s's port taken: the failed start left these "
                                     "running:\n%s" % (what, p.stdout))
                    self.assertNotEqual(p.returncode, 0, p.stdout)
                    self.assertIn("port %d is in use" % port, p.stdout)
                    self.assertIn(what, p.stdout)
                    live = {n: pid for n in ("mysqld", "standin", "fcgi", "worker", "nginx")
                            for pid in [s.pid(n)] if pid and os.path.exists("/proc/%d" % pid)}
                    self.assertEqual(live, {}, "pid files name live processes")
                    # As root: nginx's private directory went too.
                    for web in re.findall(r"FastCGI socket: (\S+)", p.stdout):
                        self.assertFalse(os.path.exists(web), "the failed start left " + web)
            # The harness starts again on other ports when one is taken.
            taken = s.port
            with occupy(taken):
                s.start()
                self.assertNotEqual(s.port, taken)
                self.assertEqual(s.request("GET", "/get").status, 400)
        finally:
            s.stop()


if __name__ == "__main__":
    unittest.main()

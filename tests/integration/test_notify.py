"""owmcollect-worker speaks sd_notify (Type=notify, WatchdogSec): READY=1 once
its children run, WATCHDOG=1 while WATCHDOG_USEC is set, STOPPING=1 on
SIGTERM, then exit 0.  A second worker runs against a stack's database with
the environment the stack gave its own worker, and NOTIFY_SOCKET pointing at
a datagram socket this test listens on."""
import os
import signal
import socket
import subprocess
import time
import unittest

from harness import BUILD, ROOT, Stack, wait_until


def comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return ""


def proc_environ(pid):
    with open("/proc/%d/environ" % pid, "rb") as f:
        items = f.read().split(b"\0")
    env = {}
    for item in items:
        if b"=" in item:
            k, v = item.split(b"=", 1)
            env[k.decode()] = v.decode()
    return env


class Notify(unittest.TestCase):
    def test_ready_watchdog_stopping(self):
        with Stack() as s:
            wait_until(lambda: s.pid("worker"), 60, what="the stack's worker")
            stack_env = proc_environ(s.pid("worker"))
            env = {k: v for k, v in stack_env.items() if k.startswith("OWMCOLLECT_")}
            for k in ("OWMCOLLECT_MYSQL_SOCKET", "OWMCOLLECT_MYSQL_PASSWORD",
                      "OWMCOLLECT_OWM_URL", "OWMCOLLECT_OWM_KEY"):
                self.assertIn(k, env)
            self.assertEqual(env["OWMCOLLECT_MYSQL_SOCKET"], os.path.join(s.run, "mysqld.sock"))
            with open(os.path.join(s.dir, "secrets", "mysql-password")) as f:
                self.assertEqual(env["OWMCOLLECT_MYSQL_PASSWORD"], f.read().strip())
            env["PATH"] = os.environ.get("PATH", "/usr/bin:/bin")
            env["OWMCOLLECT_WORKER_STOP_SECONDS"] = "5"
            path = os.path.join(s.dir, "notify.sock")
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sock.bind(path)
            sock.settimeout(0.2)
            env["NOTIFY_SOCKET"] = path
            # Fed at a third of it, but the supervisor's loop turns once a
            # second: every ~1 s here, every 10 s under WatchdogSec=30.
            env["WATCHDOG_USEC"] = "1500000"
            log = open(os.path.join(s.log, "worker-notify.log"), "w")
            p = subprocess.Popen([os.path.join(ROOT, BUILD, "owmcollect-worker"), "-c",
                                  os.path.join(ROOT, "etc", "owmcollect.conf")],
                                 env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
            got = []

            def received(what):
                def check():
                    try:
                        msg = sock.recv(4096).decode()
                    except socket.timeout:
                        msg = ""
                    if msg:
                        got.append((time.monotonic(), msg))
                    return any(what in m.split("\n") for _, m in got)
                return check
            try:
                t0 = time.monotonic()
                wait_until(received("READY=1"), 60, 0, "READY=1")
                ready_after = time.monotonic() - t0
                self.assertTrue(any(l.startswith("STATUS=") for _, m in got for l in m.split("\n")), got)
                # The children beat, and the watchdog is fed.
                def kids():
                    """The fetching children (not the housekeeping one)."""
                    with open("/proc/%d/task/%d/children" % (p.pid, p.pid)) as f:
                        pids = sorted(int(x) for x in f.read().split())
                    return [k for k in pids if comm(k) != "owm-housekeep"]

                def beating():
                    pids = kids()
                    rows = s.sql("SELECT pid FROM worker_children WHERE heartbeat_at > "
                                 "NOW(6) - INTERVAL 10 SECOND")
                    return len(pids) == 2 and set(pids) <= {int(r[0]) for r in rows}
                wait_until(beating, 60, 0.2, "the second worker's children to beat")
                got.clear()
                deadline = time.monotonic() + 3.5
                while time.monotonic() < deadline:
                    received("WATCHDOG=1")()
                feeds = [t for t, m in got if "WATCHDOG=1" in m.split("\n")]
                self.assertGreaterEqual(len(feeds), 3, got)
                gaps = [b - a for a, b in zip(feeds, feeds[1:])]
                self.assertLess(max(gaps), 1.5, gaps)
                self.assertEqual(p.poll(), None)
                got.clear()
                p.send_signal(signal.SIGTERM)
                wait_until(received("STOPPING=1"), 30, 0, "STOPPING=1")
                self.assertEqual(p.wait(timeout=60), 0)
                print("READY=1 after %.2fs; %d watchdog feeds in 3.5s" % (ready_after, len(feeds)))
            finally:
                if p.poll() is None:
                    p.kill()
                    p.wait()
                sock.close()
                log.close()


if __name__ == "__main__":
    unittest.main()

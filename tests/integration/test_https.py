"""The worker over HTTPS, as it talks to the real API: certificate checked
against owm.ca_file (a throw-away test CA, tests/standin/make_test_ca.sh),
and a certificate from a CA it does not trust refused before any request
is sent: the API unreachable, the gate held, no city failed, until the
setting is fixed.

The stand-in serves TLS on its own port; the stack gets a key, so it
starts no stand-in of its own and the worker goes to owm.url.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

from harness import BUILD, ROOT, Stack, wait_until

S = None
TLS = None
STANDIN = None
KEY = "https-test-key"


def setUpModule():
    global S, TLS, STANDIN
    TLS = tempfile.mkdtemp(prefix="owmtls-")
    subprocess.run([os.path.join(ROOT, "tests", "standin", "make_test_ca.sh"), TLS],
                   check=True, capture_output=True, timeout=60)
    ready = os.path.join(TLS, "port")
    STANDIN = subprocess.Popen(
        [sys.executable, os.path.join(ROOT, "tests", "standin", "owm_standin.py"),
         "--listen", "127.0.0.1:0", "--ready-file", ready,
         "--log", os.path.join(TLS, "access.log"),
         "--tls-cert", os.path.join(TLS, "server.pem"),
         "--tls-key", os.path.join(TLS, "server.key")],
        env=dict(os.environ, OWM_STANDIN_KEY=KEY), stdout=subprocess.DEVNULL,
        stderr=open(os.path.join(TLS, "standin.err"), "w"))
    wait_until(lambda: os.path.exists(ready), 60, what="the TLS stand-in")
    with open(ready) as f:
        port = int(f.read())
    S = Stack(env={"OWMCOLLECT_OWM_KEY": KEY,
                   "OWMCOLLECT_OWM_URL": "https://localhost:%d/data/2.5" % port,
                   "OWMCOLLECT_OWM_CA_FILE": os.path.join(TLS, "ca.pem"),
                   "OWMCOLLECT_OWM_CITIES_PER_MINUTE": "6000",
                   "OWMCOLLECT_OWM_TIMEOUT_MS": "2000",
                   "OWMCOLLECT_OWM_CONNECT_TIMEOUT_MS": "1000",
                   "OWMCOLLECT_WORKER_MAX_ATTEMPTS": "2",
                   "OWMCOLLECT_WORKER_STOP_SECONDS": "5"}).start()


def tearDownModule():
    if S:
        S.stop()
    if STANDIN:
        STANDIN.send_signal(signal.SIGTERM)
        STANDIN.wait(timeout=10)
    if TLS:
        shutil.rmtree(TLS, ignore_errors=True)


def arrived(ids):
    """API requests the TLS stand-in read for any of ids."""
    path = os.path.join(TLS, "access.log")
    out = []
    if os.path.exists(path):
        import json
        with open(path) as f:
            for line in f:
                e = json.loads(line)
                if set(e["ids"]) & set(ids):
                    out.append(e)
    return out


class Https(unittest.TestCase):
    def test_1_verified_certificate(self):
        ids = [51001, 51002, 51003]
        status, _, _ = S.post_collect({"id": "tls-ok", "cities": ids})
        self.assertEqual(status, 202)
        doc = S.wait_progress("tls-ok", 100, timeout=60)
        self.assertEqual(doc["collected"], 3)
        self.assertEqual(sorted(i for e in arrived(ids) for i in e["ids"]), ids)

    def test_2_unknown_ca_refused(self):
        # The same worker, trusting only another CA: stop it and run one
        # with that setting.
        S.signal("worker", signal.SIGTERM)
        wait_until(lambda: (lambda p: p is None or not os.path.exists("/proc/%d" % p))(
            S.pid("worker")), 60, what="the worker to stop")
        env = dict(S.env, OWMCOLLECT_OWM_CA_FILE=os.path.join(TLS, "other-ca.pem"))
        p = subprocess.run([os.path.join(ROOT, "tools", "stack.sh"), "start-one", "worker"],
                           env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        ids = [52001, 52002]
        status, _, _ = S.post_collect({"id": "tls-bad", "cities": ids})
        self.assertEqual(status, 202)
        # A certificate the worker cannot trust is not the cities' fault:
        # the gate holds, and says why; nothing fails.
        gate = wait_until(lambda: (lambda g: g if g["state"] == "held" else None)(
            S.request("GET", "/health").json["gate"]), 60, 0.2, "the gate held")
        self.assertRegex(gate["error"], r"(?i)certificate|SSL")
        time.sleep(3)
        doc = S.get("tls-bad").json
        self.assertEqual((doc["collected"], doc["failed"]), (0, 0), doc)
        # Refused in the handshake: no request ever reached the server.
        self.assertEqual(arrived(ids), [])
        # The CA fixed (the worker started again with its first setting):
        # the probe gets through, the hold ends, every city is collected.
        S.signal("worker", signal.SIGTERM)
        wait_until(lambda: (lambda p: p is None or not os.path.exists("/proc/%d" % p))(
            S.pid("worker")), 60, what="the worker to stop")
        p = subprocess.run([os.path.join(ROOT, "tools", "stack.sh"), "start-one", "worker"],
                           env=S.env, cwd=ROOT, capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        doc = S.wait_progress("tls-bad", 100, timeout=90)
        self.assertEqual((doc["collected"], doc["failed"]), (2, 0), doc)
        self.assertEqual(S.request("GET", "/health").json["gate"]["state"], "running")


if __name__ == "__main__":
    unittest.main()

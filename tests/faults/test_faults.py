#!/usr/bin/env python3
"""make test-faults: the promises of docs/design.md, "Faults and hostile input", each a check that can fail.

While several requests collect at once on one private stack (1,200 cities/min,
3 worker children), and with the stand-in answering 10% 5xx, 5% broken JSON,
2% hangs and 1% 429: kill -9 worker children 20 times and the supervisor once;
SIGSTOP MariaDB for 10 s; stop and restart MariaDB; reload nginx under load.
After each: every request reaches 100, each (request, city) has exactly one
outcome and the counters agree with the rows, no 60-second window of API
arrivals is over the limit, no process leaked, no zombie.
"""
import os
import random
import signal
import subprocess
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
from harness import Stack, max_window, wait_until  # noqa: E402

LIMIT = 1200
S = None
POSTED = []


def setUpModule():
    global S
    S = Stack(env={
        "OWMCOLLECT_OWM_CITIES_PER_MINUTE": str(LIMIT),
        "OWMCOLLECT_WORKER_CHILDREN": "3",
        "OWMCOLLECT_WORKER_MAX_ATTEMPTS": "10",
        "OWMCOLLECT_WORKER_REUSE_SECONDS": "0",
        "OWMCOLLECT_OWM_TIMEOUT_MS": "2000",
        "OWMCOLLECT_OWM_CONNECT_TIMEOUT_MS": "1000",
        "OWMCOLLECT_WORKER_LEASE_SECONDS": "8",
        "OWMCOLLECT_WORKER_STOP_SECONDS": "5",
    }).start()


def tearDownModule():
    if S:
        S.stop()
        leaked = [p for p in own_processes() if p[0] != os.getpid()]
        assert not leaked, "processes left after stop: %r" % leaked


def children_of(pid):
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open("/proc/%s/stat" % p) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid:
                    out.append((int(p), fields[0]))
            except (OSError, IndexError, ValueError):
                pass
    return out


def own_processes():
    """Every process whose command line or environment names our stack dir."""
    found = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % p, "rb") as f:
                cmd = f.read()
            with open("/proc/%s/environ" % p, "rb") as f:
                env = f.read()
        except OSError:
            continue
        if S.dir.encode() in cmd or (b"VAR=" + S.dir.encode()) in env:
            found.append((int(p), cmd.replace(b"\0", b" ").decode(errors="replace")[:80]))
    return found


def post(ident, cities):
    r = S.post_collect({"id": ident, "cities": cities})
    assert r.status == 202, (ident, r.status, r.body)
    POSTED.append(ident)


def check_invariants(test, timeout=180):
    # Every request reaches 100.
    for ident in POSTED:
        S.wait_progress(ident, 100, timeout=timeout)
    S.wait_settled(POSTED, 30)
    # Exactly one outcome per (request, city), and counters match the rows.
    rows = S.sql("""
        SELECT r.ext_id, r.total, r.collected, r.failed, r.finished_at IS NOT NULL,
               COUNT(d.pos), SUM(d.state = 'collected'), SUM(d.state = 'failed'),
               SUM(d.state = 'pending'),
               SUM(d.state = 'collected' AND (d.temperature IS NULL OR d.error IS NOT NULL)),
               SUM(d.state = 'failed' AND (d.error IS NULL OR d.temperature IS NOT NULL))
        FROM requests r JOIN request_data d ON d.request_id = r.id
        GROUP BY r.id""")
    test.assertEqual(len(rows), len(POSTED))
    for (ident, total, collected, failed, finished, n, n_col, n_fail, n_pend, bad_col, bad_fail) in rows:
        test.assertEqual(int(n), int(total), ident)
        test.assertEqual(int(n_pend), 0, ident)
        test.assertEqual((int(collected), int(failed)), (int(n_col), int(n_fail)), ident)
        test.assertEqual(int(collected) + int(failed), int(total), ident)
        test.assertEqual(finished, "1", ident)
        test.assertEqual((int(bad_col), int(bad_fail)), (0, 0), ident)
    # Every stored reading was fetched once per claim: no reading stored twice
    # for a city within one lease (no duplicate outcome writes).
    test.assertEqual(S.sql("SELECT COUNT(*) FROM city_tasks")[0][0], "0")
    # The rate limit, over every arrival the API saw (retries, 429s, hangs).
    test.assertLessEqual(max_window(S.access_log()), LIMIT)
    # No zombie among the stack's processes and their children.
    for pid, _ in own_processes():
        for child, state in children_of(pid):
            test.assertNotEqual(state, "Z", "zombie %d (parent %d)" % (child, pid))


def worker_children():
    return [p for p, state in children_of(S.pid("worker") or -1) if state != "Z"]


class Faults(unittest.TestCase):
    def test_1_chaos_and_kill9(self):
        S.standin_config(p_5xx=0.10, p_broken=0.05, p_hang=0.02, p_429=0.01)
        base = 810000000
        for i in range(4):
            post("chaos-%d" % i, list(range(base + i * 100, base + i * 100 + 200)))  # overlapping
        with open(os.path.join(HERE, "..", "..", "etc", "cities.txt")) as f:
            post("chaos-default", [int(x) for x in f.read().split()])
        rng = random.Random(7)
        kills = 0
        # Children killed within 2 s of their start are restarted with a
        # growing delay (the supervisor's throttle), so allow for it.
        deadline = time.monotonic() + 120
        while kills < 20 and time.monotonic() < deadline:
            kids = worker_children()
            if kids:
                os.kill(rng.choice(kids), signal.SIGKILL)
                kills += 1
            time.sleep(1.0)
        self.assertEqual(kills, 20)
        # The supervisor once: its children wind down (parent-death signal),
        # and it is started again as systemd would.
        sup = S.pid("worker")
        kids = [p for p, _ in children_of(sup)]
        os.kill(sup, signal.SIGKILL)
        wait_until(lambda: not any(os.path.exists("/proc/%d" % p) for p in kids), 15, 0.1,
                   "orphaned worker children to exit")
        S.stack("start-one", "worker")
        check_invariants(self)
        S.standin_config(p_5xx=0, p_broken=0, p_hang=0, p_429=0)

    def test_2_database_frozen(self):
        post("frozen", list(range(820000000, 820000300)))
        S.signal("mysqld", signal.SIGSTOP)
        t_stop = time.monotonic()
        try:
            for req in (lambda: S.get("frozen"),
                        lambda: S.post_collect({"id": "during-freeze", "cities": [1]})):
                t0 = time.monotonic()
                r = req()
                self.assertEqual(r.status, 503, r.body)
                self.assertIn("retry-after", r.headers)
                self.assertLess(time.monotonic() - t0, 8.0)
            time.sleep(max(0, 10 - (time.monotonic() - t_stop)))
        finally:
            S.signal("mysqld", signal.SIGCONT)
        # 3 fetching children and the housekeeping one: the worker waited;
        # nobody crashed.
        self.assertEqual(len(worker_children()), 4)
        check_invariants(self)

    def test_3_database_restarted(self):
        post("restart", list(range(830000000, 830000300)))
        pid = S.pid("mysqld")
        os.kill(pid, signal.SIGTERM)
        wait_until(lambda: not os.path.exists("/proc/%d" % pid), 60, 0.1, "MariaDB to stop")
        r = S.get("restart")
        self.assertEqual(r.status, 503)
        S.stack("start-one", "mysqld")
        check_invariants(self)

    def test_4_nginx_reload_under_load(self):
        post("reload", list(range(840000000, 840000100)))
        errors, done = [], threading.Event()
        counts = [0]

        def load():
            while not done.is_set():
                try:
                    r = S.get("reload")
                    if r.status != 200:
                        errors.append(r.status)
                    counts[0] += 1
                except OSError as e:
                    errors.append(repr(e))
        threads = [threading.Thread(target=load) for _ in range(4)]
        for t in threads:
            t.start()
        try:
            for _ in range(3):
                time.sleep(1)
                S.signal("nginx", signal.SIGHUP)
            time.sleep(1)
        finally:
            done.set()
            for t in threads:
                t.join()
        self.assertEqual(errors, [])
        self.assertGreater(counts[0], 100)
        check_invariants(self)


if __name__ == "__main__":
    unittest.main(verbosity=2)

"""The API's bad days: down for longer than a city's attempts last, every
call a 5xx, and a 429 whose batch cannot be stored.

The worker here is a second supervisor whose owm.url is a switch: a TCP
forwarder to the stand-in (harness.Forwarder) on a port of its own that
the test closes (connections refused, kept-alive ones cut) and opens
again.  While the
API is unreachable no city may fail: the gate holds every child's calls
but one probe, /health says "held" (why, since when), /metrics says
owmcollect_api_unreachable 1, the worker logs it once; and the cities are
collected by themselves within a minute of the API's return.
"""
import os
import subprocess
import time
import unittest
import pwd

from harness import Forwarder, Stack, second_worker, wait_beating, wait_until

LIMIT = 1200
S = None
SWITCH = None
WORKER = None
WORKER_ENV = {"OWMCOLLECT_OWM_CITIES_PER_MINUTE": str(LIMIT),
              "OWMCOLLECT_WORKER_CHILDREN": "2",
              "OWMCOLLECT_WORKER_STOP_SECONDS": "5"}
OUTAGE_S = 35           # longer than the old five attempts (about 18 s)
BACK_WITHIN_S = 60      # the promise: collected within a minute of the return


def setUpModule():
    global S, SWITCH, WORKER
    S = Stack(env={"OWMCOLLECT_OWM_CITIES_PER_MINUTE": str(LIMIT)}).start()
    S.standin_config(key="")
    # The stack's own worker goes: only the one behind the switch fetches.
    pid = S.pid("worker")
    S.signal("worker", 15)
    wait_until(lambda: not os.path.exists("/proc/%d" % pid), 60, what="the stack's worker to stop")
    SWITCH = Forwarder(S.standin_port)     # down(): refused, up(): back
    WORKER = second_worker(S, dict(WORKER_ENV, OWMCOLLECT_OWM_URL="http://127.0.0.1:%d/data/2.5"
                                   % SWITCH.port))
    wait_beating(S, WORKER, 2)


def tearDownModule():
    if WORKER and WORKER.poll() is None:
        WORKER.terminate()
        try:
            WORKER.wait(30)
        except subprocess.TimeoutExpired:
            WORKER.kill()
            WORKER.wait()
    if SWITCH:
        SWITCH.close()
    if S:
        S.stop()


def worker_log():
    with open(os.path.join(S.log, "worker2.log"), errors="replace") as f:
        return f.read()


def metric(name):
    for line in S.request("GET", "/metrics").body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError("no %s in /metrics" % name)


def ride_out(test, ident, seconds):
    """Poll for seconds: no city of ident fails, nothing is collected,
    /health says held, and the worker never says it is behind.  Returns
    the held gates seen."""
    held, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        doc = S.get(ident).json
        test.assertEqual(doc["failed"], 0, "a city failed during the outage: %r" %
                         [d for d in doc["data"] if "error" in d][:3])
        test.assertEqual(doc["collected"], 0)
        h = S.request("GET", "/health")
        test.assertEqual(h.status, 200, h.body)
        gate = h.json["gate"]
        # An API that is down is no reason for the POSTs to give way.
        test.assertEqual(metric("owmcollect_worker_behind"), 0,
                         "the worker said it was behind while the API was down")
        if gate["state"] == "held":
            held.append((h.json["status"], gate))
        time.sleep(1.0)
    return held


def check_held(test, held, error_part):
    test.assertTrue(held, "/health never said held during the outage")
    status, gate = held[-1]
    test.assertEqual(status, "degraded")
    test.assertEqual(gate["reason"], "API unreachable")
    test.assertRegex(gate["since"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
    test.assertIn(error_part, gate["error"])
    # The same outage throughout: one start.
    test.assertEqual(len({g["since"] for _, g in held}), 1, held)


def come_back(test, ident, n):
    """The API is back: every city collected within a minute; /health and
    /metrics say so.  Returns the seconds it took."""
    t0 = time.monotonic()
    doc = S.wait_progress(ident, 100, timeout=BACK_WITHIN_S)
    took = time.monotonic() - t0
    test.assertEqual((doc["collected"], doc["failed"]), (n, 0), doc)
    gate = wait_until(lambda: (lambda g: g if g["state"] == "running" else None)(
        S.request("GET", "/health").json["gate"]), 10, 0.2, "the gate running again")
    test.assertIsNone(gate["since"])
    test.assertEqual(metric("owmcollect_api_unreachable"), 0)
    return took


class Outage(unittest.TestCase):
    def test_1_refused_for_longer_than_the_attempts(self):
        ids = list(range(930001, 930031))
        self.assertEqual(S.post_collect({"id": "before", "cities": [930000]}).status, 202)
        S.wait_progress("before", 100, timeout=30)
        SWITCH.down()
        t_down = time.monotonic()
        try:
            self.assertEqual(S.post_collect({"id": "refused", "cities": ids}).status, 202)
            held = ride_out(self, "refused", OUTAGE_S)
            check_held(self, held, "connect")
            self.assertEqual(metric("owmcollect_api_unreachable"), 1)
            self.assertGreater(metric("owmcollect_api_unreachable_seconds"), OUTAGE_S / 2)
        finally:
            SWITCH.up()
        took = come_back(self, "refused", len(ids))
        print("refused %.0f s: every city collected %.1f s after the API came back"
              % (time.monotonic() - t_down - took, took))
        log = worker_log()
        self.assertEqual(log.count("the API is unreachable"), 1, log[-3000:])
        self.assertEqual(log.count("the API answers again"), 1, log[-3000:])

    def test_2_every_call_a_5xx(self):
        ids = list(range(931001, 931021))
        S.standin_config(p_5xx=1.0)
        try:
            self.assertEqual(S.post_collect({"id": "all-5xx", "cities": ids}).status, 202)
            held = ride_out(self, "all-5xx", 25)
            check_held(self, held, "HTTP 5")
        finally:
            S.standin_config(p_5xx=0.0)
        took = come_back(self, "all-5xx", len(ids))
        print("every call 5xx for 25 s: collected %.1f s after" % took)

    def test_3_a_429_pauses_everyone_while_its_batch_waits_to_be_stored(self):
        """The 429 is told to the gate before the batch's outcomes are
        stored: here the completion waits for a lock this test holds on the
        city's queue entry, and the pause must be in force meanwhile."""
        city = 932001
        # The call takes 5 s: the lock below is taken long before it ends.
        S.standin_config(latency_ms=5000, p_429=1.0)
        holder = None
        try:
            self.assertEqual(S.post_collect({"id": "limited", "cities": [city]}).status, 202)
            wait_until(lambda: S.sql("SELECT lease_owner IS NOT NULL FROM city_tasks "
                                     "WHERE city_id = %d" % city) == [["1"]], 20, 0.05,
                       "the city claimed")
            holder = subprocess.Popen(
                ["mariadb", "--no-defaults", "--socket=" + os.path.join(S.run, "mysqld.sock"),
                 "-u" + pwd.getpwuid(os.getuid()).pw_name, "-N", "-B", "--unbuffered", "owmcollect"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            holder.stdin.write("START TRANSACTION; SELECT city_id FROM city_tasks WHERE "
                               "city_id = %d FOR UPDATE; SELECT 'locked';\n" % city)
            holder.stdin.flush()
            while holder.stdout.readline().strip() != "locked":
                pass
            wait_until(lambda: S.sql("SELECT pause_reason, paused_until > NOW(6) "
                                     "FROM rate_gate")[0] == ["429", "1"],
                       20, 0.1, "the 429 pause while the batch waits to be stored")
            # Still waiting: the entry is still leased, nothing stored,
            # and the city was asked once: this is the first 429's pause.
            self.assertEqual(S.sql("SELECT lease_owner IS NOT NULL FROM city_tasks "
                                   "WHERE city_id = %d" % city), [["1"]])
            self.assertEqual([e["status"] for e in S.access_log() if e["ids"] == [city]],
                             [429])
        finally:
            S.standin_config(latency_ms=0, p_429=0.0)
            if holder:
                holder.stdin.write("ROLLBACK;\n")
                holder.stdin.close()
                holder.wait(30)
        doc = S.wait_progress("limited", 100, timeout=90)
        self.assertEqual((doc["collected"], doc["failed"]), (1, 0), doc)


if __name__ == "__main__":
    unittest.main()

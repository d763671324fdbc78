"""GET /health and GET /metrics against the real stack: a healthy stack is
200 with every field, a paused gate shows (an invalid key is 503, a 429 only
degraded), a stopped database is 503 at once, a stopped worker is 503 once
its heartbeats age; /metrics is valid Prometheus text whose counters grow
with a collection and whose window never exceeds the limit.

One stack for the module at 600 cities/min.  Tests run in
name order; the last one stops the worker."""
import os
import re
import signal
import threading
import time
import unittest

from harness import Stack, wait_stopped, wait_until

S = None
LIMIT = 600
ENV = {"OWMCOLLECT_OWM_CITIES_PER_MINUTE": str(LIMIT), "OWMCOLLECT_WORKER_STOP_SECONDS": "5"}

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"'
                    r'(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*)?\})? '
                    r'(-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|NaN|[+-]Inf)$')
FAMILIES = {
    "owmcollect_requests_accepted_total": "counter",
    "owmcollect_cities": "gauge",
    "owmcollect_api_calls_total": "counter",
    "owmcollect_gate_window_cities": "gauge",
    "owmcollect_gate_limit_cities_per_minute": "gauge",
    "owmcollect_gate_wait_seconds_total": "counter",
    "owmcollect_worker_children_alive": "gauge",
    "owmcollect_worker_restarts_total": "counter",
    "owmcollect_queue_cities": "gauge",
    "owmcollect_api_unreachable": "gauge",
    "owmcollect_api_unreachable_seconds": "gauge",
    "owmcollect_gate_paused": "gauge",
    "owmcollect_queue_oldest_age_seconds": "gauge",
    "owmcollect_http_answers_total": "counter",
    "owmcollect_worker_behind": "gauge",
    "owmcollect_http_post_waits_total": "counter",
    "owmcollect_http_post_wait_seconds_total": "counter",
    "owmcollect_unresolved_oldest_age_seconds": "gauge",
}
# Each running count (etc/schema.sql, counters) and what it counts.
COUNTED = (("requests", "SELECT COUNT(*) FROM requests"),
           ("cities", "SELECT COALESCE(SUM(total), 0) FROM requests"),
           ("collected", "SELECT COALESCE(SUM(collected), 0) FROM requests"),
           ("failed", "SELECT COALESCE(SUM(failed), 0) FROM requests"),
           ("queued", "SELECT COUNT(*) FROM city_tasks"))


def setUpModule():
    global S
    S = Stack(env=ENV).start()


def tearDownModule():
    if S:
        S.stop()


def parse_metrics(test, text):
    """{(name, labels-string): float}; fails on any line out of format."""
    types, helps, samples = {}, set(), {}
    test.assertTrue(text.endswith("\n"))
    for line in text.splitlines():
        if line.startswith("# HELP "):
            helps.add(line.split(" ")[2])
            continue
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ")
            test.assertIn(typ, ("counter", "gauge", "untyped", "summary", "histogram"), line)
            test.assertNotIn(name, types, "TYPE twice: " + line)
            types[name] = typ
            continue
        test.assertFalse(line.startswith("#") or line == "", repr(line))
        m = SAMPLE.match(line)
        test.assertIsNotNone(m, "not a sample line: %r" % line)
        name, labels = m.group(1), m.group(3) or ""
        test.assertIn(name, types, "sample before its TYPE: " + line)
        test.assertNotIn((name, labels), samples, "repeated sample: " + line)
        samples[(name, labels)] = float(m.group(4))
    for name, typ in FAMILIES.items():
        test.assertEqual(types.get(name), typ, name)
        test.assertIn(name, helps, name)
        test.assertTrue(any(n == name for n, _ in samples), name)
    return samples


def metrics(test):
    r = S.request("GET", "/metrics")
    test.assertEqual(r.status, 200, r.body)
    test.assertEqual(r.headers["content-type"], "text/plain; version=0.0.4; charset=utf-8")
    return parse_metrics(test, r.body.decode("utf-8"))


def exited(pid):
    """pid is gone or a zombie (read once: it may vanish meanwhile)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def paused(m):
    """owmcollect_gate_paused's samples, by reason."""
    return {labels[len('reason="'):-1]: v for (name, labels), v in m.items()
            if name == "owmcollect_gate_paused"}


def answers(m, code):
    return m[("owmcollect_http_answers_total", 'code="%s"' % code)]


def healthy():
    r = S.request("GET", "/health")
    return r if r.status == 200 else None


def beating():
    """/health 200 with a heartbeat younger than 2 s on every host: a
    worker that has just beaten (healthy() alone also takes one whose
    last beat is 9 s old, as after the database's freeze)."""
    r = healthy()
    return r if r and all(w["heartbeat_age_s"] is not None and w["heartbeat_age_s"] < 2
                          for w in r.json["workers"]) else None


class Health(unittest.TestCase):
    def test_1_healthy(self):
        # Both children beat within 2 s of their start; allow a loaded
        # machine (sanitizers, other stacks) some slack.
        r = wait_until(lambda: (lambda r: r if r and r.json["workers"] and
                                r.json["workers"][0]["children_alive"] == 2 else None)(healthy()),
                       20, 0.2, "/health 200 with both children alive")
        self.assertTrue(r.headers["content-type"].startswith("application/json"))
        self.assertEqual(r.headers.get("cache-control"), "no-store")
        doc = r.json
        self.assertEqual(doc["status"], "ok")
        self.assertIs(doc["database"]["reachable"], True)
        self.assertEqual(len(doc["workers"]), 1)
        w = doc["workers"][0]
        self.assertIsInstance(w["host"], str)
        self.assertEqual(w["children_alive"], 2)
        self.assertLess(w["heartbeat_age_s"], 10)
        self.assertEqual(doc["gate"], {"state": "running", "reason": None, "until": None,
                                       "since": None, "error": None})
        self.assertIsInstance(doc["queue"]["cities"], int)
        self.assertIn("oldest_age_s", doc["queue"])
        # The children keep beating: the age stays small.
        for _ in range(3):
            time.sleep(1.0)
            self.assertLess(S.request("GET", "/health").json["workers"][0]["heartbeat_age_s"], 4)
        self.assertEqual(S.request("HEAD", "/health").body, b"")
        r = S.request("POST", "/health", "{}", {"Content-Type": "application/json"})
        self.assertEqual(r.status, 405)
        self.assertIn("allow", r.headers)

    def test_2_metrics_grow_with_a_collection(self):
        before = metrics(self)
        self.assertEqual(before[("owmcollect_gate_limit_cities_per_minute", "")], LIMIT)
        self.assertEqual(before[("owmcollect_worker_children_alive", "")], 2)
        # The sliding window would let all 100 cities go at once: fill it
        # with a full reservation 57 s old, so the batches wait ~4 s for it
        # to leave the window (60 s + margin).
        S.sql("INSERT INTO rate_slots (slot_at, cities, owner) "
              "VALUES (NOW(6) - INTERVAL 57 SECOND, %d, 'test')" % LIMIT)
        cities = list(range(910001, 910101))     # 100 cities: 5 batches
        self.assertEqual(S.post_collect({"id": "metrics-1", "cities": cities}).status, 202)
        windows = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            m = metrics(self)
            windows.append(m[("owmcollect_gate_window_cities", "")])
            if S.get("metrics-1").json["progress"] >= 100:
                break
            time.sleep(0.3)
        S.wait_progress("metrics-1", 100, 60)
        S.wait_settled("metrics-1", 60)     # collected counts once settled
        after = metrics(self)
        self.assertLessEqual(max(windows), LIMIT)
        self.assertEqual(max(windows), LIMIT)    # the full reservation, counted
        self.assertEqual(after[("owmcollect_requests_accepted_total", "")],
                         before[("owmcollect_requests_accepted_total", "")] + 1)
        self.assertGreaterEqual(after[("owmcollect_cities", 'state="collected"')],
                                before[("owmcollect_cities", 'state="collected"')] + 100)
        ok = ("owmcollect_api_calls_total", 'outcome="ok"')
        self.assertGreaterEqual(after[ok] - before.get(ok, 0), 100)
        # Both children waited ~4 s at the gate (reported by the next beat).
        wait_until(lambda: metrics(self)[("owmcollect_gate_wait_seconds_total", "")] >=
                   before[("owmcollect_gate_wait_seconds_total", "")] + 5, 30, 0.5, "gate wait to grow")
        self.assertEqual(after[("owmcollect_queue_cities", "")], 0)
        # The children's own totals arrive with their next beat (2 s).
        wait_until(lambda: int(S.sql("SELECT SUM(cities) FROM worker_children")[0][0]) >= 100,
                   30, 0.2, "the children's city totals")
        self.assertEqual(S.request("HEAD", "/metrics").body, b"")
        self.assertEqual(S.request("DELETE", "/metrics").status, 405)

    def test_2b_metrics_exact_under_concurrency(self):
        # /metrics reads running counts kept by the POST, cancel and
        # completion transactions (sharded rows of `counters`): they must
        # equal what the tables say, in any one snapshot while POSTs and
        # batches commit side by side, and in /metrics once all is done.
        snapshot = ("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ; "
                    "START TRANSACTION WITH CONSISTENT SNAPSHOT; SELECT "
                    + ", ".join("(SELECT COALESCE(SUM(%s), 0) FROM counters), (%s)" % c
                                for c in COUNTED) + "; COMMIT")

        def counted():
            vals = [int(v) for v in S.sql(snapshot)[0]]
            return {name: (vals[2 * i], vals[2 * i + 1]) for i, (name, _) in enumerate(COUNTED)}

        fresh = list(range(910001, 910101))      # collected by test_2: served at once
        shared = list(range(920001, 920031))     # new, queued by many POSTs at once
        errors, snapshots = [], []

        def poster(t):
            try:
                for i in range(6):
                    k = t * 6 + i
                    cities = fresh[k % 50:k % 50 + 20] + shared[k * 7 % 26:k * 7 % 26 + 5]
                    if k % 5 == 0:
                        cities.append(930001 + k)            # a city of its own
                    if k % 7 == 0:
                        cities.append(900000701 + k % 2)     # unknown: fails
                    r = S.post_collect({"id": "exact-%d" % k, "cities": cities})
                    if r.status != 202:
                        errors.append((k, r.status, r.body))
            except Exception as e:  # reported below
                errors.append(e)
        # A big request to cancel while its cities wait: the cancel path
        # fails its pending cities and drops the queue entries only it had.
        self.assertEqual(S.post_collect({"id": "exact-cancel",
                                         "cities": list(range(940001, 940201))}).status, 202)
        threads = [threading.Thread(target=poster, args=(t,)) for t in range(16)]
        for t in threads:
            t.start()
        r = S.request("DELETE", "/collect?id=exact-cancel")
        self.assertEqual(r.status, 200, r.body)
        while any(t.is_alive() for t in threads):
            snapshots.append(counted())
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        # The batches go on: more snapshots until every city is done.
        deadline = time.monotonic() + 90
        while True:
            snap = counted()
            snapshots.append(snap)
            if snap["queued"][1] == 0 and snap["cities"][1] == snap["collected"][1] + snap["failed"][1]:
                break
            self.assertLess(time.monotonic(), deadline, "every city to be done: %r" % snap)
            time.sleep(0.2)
        for snap in snapshots:
            for name, (kept, table) in snap.items():
                self.assertEqual(kept, table, "%s: counted %d, the tables say %d" % (name, kept, table))
        self.assertGreater(snapshots[-1]["failed"][1], 0)
        m = metrics(self)
        tables = snapshots[-1]
        self.assertEqual(m[("owmcollect_requests_accepted_total", "")], tables["requests"][1])
        self.assertEqual(m[("owmcollect_cities", 'state="collected"')], tables["collected"][1])
        self.assertEqual(m[("owmcollect_cities", 'state="failed"')], tables["failed"][1])
        self.assertEqual(m[("owmcollect_cities", 'state="pending"')],
                         tables["cities"][1] - tables["collected"][1] - tables["failed"][1])
        self.assertEqual(m[("owmcollect_queue_cities", "")], 0)
        q = S.request("GET", "/health").json["queue"]
        self.assertEqual(q, {"cities": 0, "oldest_age_s": None})
        print("counters equal the tables in %d snapshots taken while %d POSTs and their batches "
              "committed" % (len(snapshots), 96))

    def test_3_gate_pauses(self):
        try:
            S.pause_gate(60, "invalid key")
            r = S.request("GET", "/health")
            self.assertEqual(r.status, 503, r.body)
            self.assertEqual(r.json["status"], "down")
            self.assertEqual(r.json["gate"]["state"], "paused")
            self.assertEqual(r.json["gate"]["reason"], "invalid key")
            self.assertRegex(r.json["gate"]["until"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
            m = metrics(self)
            self.assertEqual(paused(m), {"invalid key": 1, "429": 0, "monthly cap": 0})
            # Nothing is fetched while paused: a new city waits in the
            # queue, and /metrics gives its age as /health does.
            self.assertEqual(S.post_collect({"id": "metrics-oldest", "cities": [950001]}).status, 202)
            time.sleep(2.0)
            m = metrics(self)
            q = S.request("GET", "/health").json["queue"]
            self.assertGreaterEqual(m[("owmcollect_queue_cities", "")], 1)
            self.assertGreaterEqual(m[("owmcollect_queue_oldest_age_seconds", "")], 2.0)
            self.assertLess(m[("owmcollect_queue_oldest_age_seconds", "")], 60)
            self.assertAlmostEqual(m[("owmcollect_queue_oldest_age_seconds", "")], q["oldest_age_s"],
                                   delta=1.0)
            S.sql("UPDATE rate_gate SET pause_reason = '429' WHERE id = 1")
            r = S.request("GET", "/health")
            self.assertEqual(r.status, 200, r.body)
            self.assertEqual(r.json["status"], "degraded")
            self.assertEqual(r.json["gate"]["reason"], "429")
            self.assertEqual(paused(metrics(self)), {"invalid key": 0, "429": 1, "monthly cap": 0})
            S.sql("UPDATE rate_gate SET pause_reason = 'monthly cap' WHERE id = 1")
            self.assertEqual(paused(metrics(self)), {"invalid key": 0, "429": 0, "monthly cap": 1})
        finally:
            S.pause_gate(0)
        self.assertEqual(S.request("GET", "/health").json["gate"]["state"], "running")
        self.assertEqual(paused(metrics(self)), {"invalid key": 0, "429": 0, "monthly cap": 0})
        # Once fetched, the queue is empty and its oldest age 0.
        S.wait_progress("metrics-oldest", 100, 60)
        wait_until(lambda: metrics(self)[("owmcollect_queue_oldest_age_seconds", "")] == 0, 30, 0.2,
                   "the oldest queued age back to 0")

    def test_3b_answers_by_status_class(self):
        # Every process of the FastCGI program adds to the same counts:
        # 30 answers, served by whichever of its 12 processes, all count.
        before = metrics(self)
        for i in range(30):
            self.assertEqual(S.get("no-such-request-%d" % i).status, 404)
        after = metrics(self)
        self.assertEqual(answers(after, "4xx") - answers(before, "4xx"), 30)
        self.assertEqual(answers(after, "2xx") - answers(before, "2xx"), 1)   # before's /metrics
        self.assertEqual(answers(after, "5xx"), answers(before, "5xx"))

    def test_4_database_stopped(self):
        before = answers(metrics(self), "5xx")
        S.signal("mysqld", signal.SIGSTOP)
        try:
            for path in ("/health", "/metrics", "/health"):
                t0 = time.monotonic()
                r = S.request("GET", path)
                took = time.monotonic() - t0
                self.assertEqual(r.status, 503, r.body)
                self.assertLess(took, 8.0, path)
                self.assertIn("retry-after", r.headers)
                if path == "/health":
                    self.assertEqual(r.json["status"], "down")
                    self.assertIs(r.json["database"]["reachable"], False)
                else:
                    self.assertIn("error", r.json)
        finally:
            S.signal("mysqld", signal.SIGCONT)
        statuses = []

        def healthy_again():
            statuses.append(S.request("GET", "/health").status)
            return statuses[-1] == 200
        wait_until(healthy_again, 60, 0.2, "/health 200 again")
        # The three 503s are counted though the database could not be,
        # and any /health gave while it came back.
        self.assertEqual(answers(metrics(self), "5xx") - before,
                         3 + sum(1 for st in statuses if st >= 500), statuses)

    def test_5_worker_frozen_heartbeats_age(self):
        # From a fresh beat: /health must then say 200 for 8 s more.
        wait_until(beating, 60, 0.1, "/health 200 with a fresh heartbeat")
        pgid = S.pid("worker")       # setsid: the supervisor leads the group
        t0 = time.monotonic()
        os.killpg(pgid, signal.SIGSTOP)
        try:
            for pid in [pgid] + list(S.children("worker")):
                wait_stopped(pid)
            r = wait_until(lambda: (lambda r: r if r.status == 503 else None)(S.request("GET", "/health")),
                           60, 0.2, "/health 503 with frozen heartbeats")
            took = time.monotonic() - t0
            self.assertGreaterEqual(took, 7.5)       # alive means younger than 10 s
            w = r.json["workers"][0]
            self.assertEqual(w["children_alive"], 0)
            self.assertGreaterEqual(w["heartbeat_age_s"], 10)
        finally:
            os.killpg(pgid, signal.SIGCONT)
        wait_until(healthy, 60, 0.2, "/health 200 after SIGCONT")
        print("/health 503 %.1fs after the worker froze" % took)

    def test_6_worker_stopped(self):
        wait_until(healthy, 60, 0.2, "/health 200")
        pid = S.pid("worker")
        os.kill(pid, signal.SIGTERM)
        wait_until(lambda: exited(pid), 60, 0.1, "the worker to exit")
        t0 = time.monotonic()
        r = wait_until(lambda: (lambda r: r if r.status == 503 else None)(S.request("GET", "/health")),
                       60, 0.2, "/health 503 without a worker")
        self.assertEqual(r.json["status"], "down")
        self.assertIs(r.json["database"]["reachable"], True)
        self.assertTrue(all(w["children_alive"] == 0 for w in r.json["workers"]), r.json)
        self.assertEqual(metrics(self)[("owmcollect_worker_children_alive", "")], 0)
        print("/health 503 %.1fs after the worker exited" % (time.monotonic() - t0))


if __name__ == "__main__":
    unittest.main()

"""The worker's share (docs/design.md, "The worker's share"): while the
worker says it is behind (rate_gate.behind_until), at most
http.posts_while_behind POSTs of the host run at once and the others wait
for a turn, slowed but never refused; once the row's time runs out, no
POST waits.  A worker fetching a backlog at the Expert plan's rate beside a
flood of cold POSTs says it is behind, and the POSTs give way; so does one
on a machine busy with other work, all along; one slowed by a slow API
(not by the machine) never does."""
import subprocess
import threading
import time
import unittest

from harness import Stack, wait_until

S = None
# A limit no 2-core machine reaches beside a flood: what holds the worker
# back is the machine (at 100,000 a faster machine kept up, 90-100 % of
# it, and rightly never said it was behind).
LIMIT = 300000
ENV = {"OWMCOLLECT_OWM_CITIES_PER_MINUTE": str(LIMIT), "OWMCOLLECT_OWM_MODE": "group",
       "OWMCOLLECT_WORKER_CHILDREN": "2", "OWMCOLLECT_WORKER_REUSE_SECONDS": "0",
       "OWMCOLLECT_OWM_MARGIN_MS": "100", "OWMCOLLECT_HTTP_POSTS_WHILE_BEHIND": "1",
       "POST_RATE": "100000"}
THREADS = 8


def setUpModule():
    global S
    S = Stack(env=ENV).start()


def tearDownModule():
    if S:
        S.stop()


def metrics():
    """{name: value} of /metrics' unlabelled samples."""
    r = S.request("GET", "/metrics")
    assert r.status == 200, r.status
    out = {}
    for line in r.body.decode().splitlines():
        if line and not line.startswith("#") and "{" not in line:
            name, value = line.split(" ")
            out[name] = float(value)
    return out


def flood(seconds, prefix, stop_when=None):
    """THREADS clients POSTing the default cities under new ids for up to
    seconds (until stop_when() holds, checked every 0.5 s); their answers
    by status."""
    answers = {}
    lock = threading.Lock()
    end = time.monotonic() + seconds
    done = threading.Event()

    def client(t):
        n = 0
        while time.monotonic() < end and not done.is_set():
            r = S.post_collect({"id": "%s-%d-%d" % (prefix, t, n)})
            with lock:
                answers[r.status] = answers.get(r.status, 0) + 1
            n += 1
    threads = [threading.Thread(target=client, args=(t,)) for t in range(THREADS)]
    for t in threads:
        t.start()
    while time.monotonic() < end and not done.is_set():
        time.sleep(0.5)
        if stop_when and stop_when():
            done.set()
    done.set()
    for t in threads:
        t.join()
    return answers


def backlog(first, n):
    """n unique cities from first on, queued by POSTs of 1,000."""
    for i in range(0, n, 1000):
        cities = list(range(first + i, first + min(i + 1000, n)))
        assert S.post_collect({"id": "backlog-%d" % (first + i), "cities": cities}).status == 202


def behind_over():
    """Wait for the worker no longer to say it is behind (the row's time
    runs out at most 2 s after its last reservation)."""
    wait_until(lambda: metrics()["owmcollect_worker_behind"] == 0, 10, 0.2,
               "the worker no longer behind")


def not_behind():
    """Wait for an empty queue and a worker that no longer says it is
    behind (a flood may have left the row set up to 2 s ahead)."""
    wait_until(queue_empty, 60, 0.2, "an empty queue")
    behind_over()


def queue_empty():
    return int(S.sql("SELECT COUNT(*) FROM city_tasks")[0][0]) == 0


class WorkerShare(unittest.TestCase):
    def test_1_posts_wait_their_turn_while_the_worker_is_behind(self):
        # As a child writes it: behind for the next 4 s.
        S.sql("UPDATE rate_gate SET behind_until = NOW(6) + INTERVAL 4 SECOND WHERE id = 1")
        before = metrics()
        self.assertEqual(before["owmcollect_worker_behind"], 1)
        answers = flood(2, "behind")
        during = metrics()
        print("\n  behind: %r, %d POSTs waited for a turn (%.2f s in all)" % (
            answers, during["owmcollect_http_post_waits_total"] -
            before["owmcollect_http_post_waits_total"],
            during["owmcollect_http_post_wait_seconds_total"] -
            before["owmcollect_http_post_wait_seconds_total"]))
        self.assertEqual(set(answers), {202})
        self.assertGreater(during["owmcollect_http_post_waits_total"],
                           before["owmcollect_http_post_waits_total"])
        # The row's time runs out: no POST waits any more.  The gate is
        # paused meanwhile, so that the worker, fetching what the flood
        # queued beside it, cannot say it is behind again itself (as it
        # may on a busy machine, and rightly).
        S.pause_gate(20)
        try:
            behind_over()
            time.sleep(0.2)
            after = metrics()
            answers = flood(2, "caught-up")
            self.assertEqual(set(answers), {202})
            self.assertEqual(metrics()["owmcollect_http_post_waits_total"],
                             after["owmcollect_http_post_waits_total"])
        finally:
            S.pause_gate(0)

    def test_2_a_slow_api_is_no_reason_to_be_behind(self):
        not_behind()
        S.standin_config(latency_ms=300)
        try:
            backlog(790000001, 2000)
            seen = []
            t_end = time.monotonic() + 5
            while time.monotonic() < t_end:
                seen.append(metrics()["owmcollect_worker_behind"])
                time.sleep(0.25)
            # Full batches at an open gate all along, but waiting on the API.
            self.assertGreater(int(S.sql("SELECT COUNT(*) FROM city_tasks")[0][0]), 0)
            self.assertEqual(set(seen), {0})
        finally:
            S.standin_config(latency_ms=0)
        wait_until(queue_empty, 60, 0.2, "an empty queue")

    def test_3_a_busy_machine_and_the_worker_says_so_all_along(self):
        """Two busy loops beside the stack, as on a machine running other
        work: the worker fetching a backlog beside a flood is held back by
        the machine, not the limit, and says so all along.  Its slot is
        then now and then a few ms ahead after tens of ms at the database;
        when such a round ended its count, it said so in 11 and in 0 of
        13 samples."""
        not_behind()
        backlog(792000001, 30000)
        loops = [subprocess.Popen(["sh", "-c", "while :; do :; done"])
                 for _ in range(2)]
        seen = []
        t0 = time.time()
        try:
            answers = flood(8, "busy", lambda: seen.append(
                metrics()["owmcollect_worker_behind"]) and False)
        finally:
            for p in loops:
                p.kill()
                p.wait()
        t1 = time.time()
        # The premise, where the API sees it: the machine held the worker
        # well below its limit all along.
        sent = sum(len(e["ids"]) for e in S.access_log() if t0 + 1 <= e["t"] <= t1)
        rate = sent / (t1 - t0 - 1) * 60
        settled = seen[3:]      # from 1.5 s on: behind takes a second to say
        print("\n  busy: %r; the worker at %.0f cities/min (limit %d), behind in %d of %d "
              "samples from 1.5 s on" % (answers, rate, LIMIT, settled.count(1), len(settled)))
        self.assertLess(rate, 0.8 * LIMIT)
        self.assertEqual(set(answers), {202})
        self.assertGreaterEqual(len(settled), 8)
        self.assertGreaterEqual(settled.count(1), 0.9 * len(settled))

    def test_4_a_flood_beside_a_backlog_and_the_posts_give_way(self):
        not_behind()
        backlog(791000001, 30000)
        before = metrics()
        seen = []

        def given_way():
            m = metrics()
            seen.append(m["owmcollect_worker_behind"])
            return (1 in seen and m["owmcollect_http_post_waits_total"] >
                    before["owmcollect_http_post_waits_total"])
        answers = flood(30, "flood", given_way)
        after = metrics()
        print("\n  flood: %r; the worker behind in %d of %d samples; %d POSTs waited "
              "(%.2f s in all)" % (answers, seen.count(1), len(seen),
                                   after["owmcollect_http_post_waits_total"] -
                                   before["owmcollect_http_post_waits_total"],
                                   after["owmcollect_http_post_wait_seconds_total"] -
                                   before["owmcollect_http_post_wait_seconds_total"]))
        self.assertEqual(set(answers), {202})
        self.assertIn(1, seen)
        self.assertGreater(after["owmcollect_http_post_waits_total"],
                           before["owmcollect_http_post_waits_total"])


if __name__ == "__main__":
    unittest.main()

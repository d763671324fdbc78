"""Scaled: cold POSTs (readings never reused, so every city of
every POST is either queued already or queued by it) from many clients at
once, while the worker completes those same cities at a high limit.  Every
answer must be a 202 (no 503 from a deadlock or a lock wait: POST locks
no row a batch holds), every request must reach 100 with one outcome per
city, be settled into its row, and the running counts must equal the
tables.  Before requests were stored by reference, a batch updated every
waiting request's rows while POSTs share-locked its queue entries, and
this load gave 503s ("still deadlocked after 5 tries")."""
import os
import sys
import unittest

from harness import Stack, cold_flood, wait_until

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "bench"))
import bench  # noqa: E402

S = None
ENV = {"OWMCOLLECT_OWM_CITIES_PER_MINUTE": "60000", "OWMCOLLECT_OWM_MODE": "group",
       "OWMCOLLECT_WORKER_CHILDREN": "2", "OWMCOLLECT_WORKER_REUSE_SECONDS": "0",
       "OWMCOLLECT_OWM_MARGIN_MS": "100", "POST_RATE": "100000"}
CITIES = list(range(760001, 760168))     # 167 cities, as the default list
THREADS, SECONDS = 8, 10


def setUpModule():
    global S
    S = Stack(env=ENV).start()


def tearDownModule():
    if S:
        S.stop()


def lock_errors(name):
    with open(os.path.join(S.log, name), errors="replace") as f:
        return [l for l in f if "deadlock" in l.lower() or "lock wait" in l.lower()]


def warnings(name):
    with open(os.path.join(S.log, name), errors="replace") as f:
        return [l.strip() for l in f if "warn" in l.lower() or "error" in l.lower()]


class ColdPath(unittest.TestCase):
    def test_cold_posts_beside_their_batches(self):
        answers, ids = cold_flood(S, "cold", CITIES, THREADS, SECONDS)
        print("\n  %d POSTs in %d s from %d clients: %r" % (sum(answers.values()), SECONDS,
                                                         THREADS, answers))
        self.assertEqual(set(answers), {202}, "%r; the FastCGI program's warnings: %s"
                         % (answers, warnings("fcgi.log")[-10:]))
        self.assertGreater(answers[202], 50)
        self.assertEqual(lock_errors("fcgi.log"), [])
        # The worker fetched the cities many times over while the POSTs
        # came (each fetch serves every request queued before it ended).
        fetched = int(S.sql("SELECT COUNT(*) FROM fetches WHERE city_id BETWEEN 760001 AND 760167")[0][0])
        self.assertGreater(fetched, len(CITIES))

        for ident in ids[::max(1, len(ids) // 20)]:
            doc = S.wait_progress(ident, 100, timeout=60)
            self.assertEqual(doc["collected"], len(CITIES), ident)
            self.assertEqual(len(doc["data"]), len(CITIES), ident)
        S.wait_settled(ids, 60)
        rows = S.sql("SELECT COUNT(*), SUM(r.collected), SUM(r.failed) FROM requests r "
                     "WHERE r.ext_id LIKE 'cold-%'")[0]
        self.assertEqual([int(x) for x in rows], [len(ids), len(ids) * len(CITIES), 0])
        pending = S.sql("SELECT COUNT(*) FROM requests q JOIN request_data d ON d.request_id = q.id "
                        "WHERE q.ext_id LIKE 'cold-%' AND d.state <> 'collected'")[0][0]
        self.assertEqual(pending, "0")
        counted = S.sql("SELECT (SELECT SUM(requests) FROM counters), (SELECT COUNT(*) FROM requests), "
                        "(SELECT SUM(collected) FROM counters), (SELECT SUM(collected) FROM requests), "
                        "(SELECT SUM(queued) FROM counters), (SELECT COUNT(*) FROM city_tasks)")[0]
        self.assertEqual(counted[0], counted[1])
        self.assertEqual(counted[2], counted[3])
        self.assertEqual(counted[4], counted[5])
        self.assertEqual(lock_errors("worker.log"), [])

    def test_the_bench_client_in_each_mode(self):
        # make bench's ceilings beside the cold POSTs come from this C
        # client: each mode must do what it says on this stack, and a
        # process of it that fails must fail the run (its look-up once
        # failed in every process and the bench printed 0 req/s).
        for mode in ("min", "look", "post"):
            rate, p50, p99 = bench.post_direct(S, mode, 2, 1, rate=40)
            stored = int(S.sql("SELECT COUNT(*) FROM requests WHERE ext_id LIKE '%s-%%'"
                               % mode)[0][0])
            print("\n  post_direct -m %s: %.0f in 1 s, p50 %.1f ms, %d rows" % (mode, rate, p50,
                                                                              stored))
            self.assertGreater(rate, 10, mode)
            self.assertEqual(stored, int(rate), mode)


if __name__ == "__main__":
    unittest.main()

"""Deferred POSTs (http.defer): a POST stores its request with the cities
unresolved (wait_fetch 0) and the worker's resolver queues them in rounds.
What a POST would have done must be done, once: the request reaches 100
with one outcome per city, fresh readings serve it without a fetch, its
new cities are queued on its behalf (created_by) at its turns, a cancel
before the round wins (nothing is queued for it), and the running counts
equal the tables."""
import os
import signal
import time
import unittest

from harness import Stack, cold_flood, wait_until

S = None
ENV = {"OWMCOLLECT_HTTP_DEFER": "always", "OWMCOLLECT_OWM_CITIES_PER_MINUTE": "60000",
       "OWMCOLLECT_OWM_MODE": "group", "OWMCOLLECT_WORKER_CHILDREN": "2",
       "OWMCOLLECT_OWM_MARGIN_MS": "100", "POST_RATE": "100000"}


def setUpModule():
    global S
    S = Stack(env=ENV).start()


def tearDownModule():
    if S:
        S.stop()


def housekeeper():
    pids = [p for p, c in S.children("worker").items() if c == "owm-housekeep"]
    assert len(pids) == 1, pids
    return pids[0]


class Paused:
    """The resolver held (its child stopped), so requests stay unresolved."""

    def __enter__(self):
        self.pid = housekeeper()
        os.kill(self.pid, signal.SIGSTOP)
        return self

    def __exit__(self, *exc):
        os.kill(self.pid, signal.SIGCONT)


def unresolved_age():
    """/metrics' age of the oldest unresolved request, in seconds."""
    r = S.request("GET", "/metrics")
    assert r.status == 200, r.status
    for line in r.body.decode().splitlines():
        if line.startswith("owmcollect_unresolved_oldest_age_seconds "):
            return float(line.split(" ")[1])
    raise AssertionError("no owmcollect_unresolved_oldest_age_seconds in /metrics")


def row(ident):
    r = S.sql("SELECT wait_fetch, collected, finished_at IS NOT NULL, cancelled_at IS NOT NULL "
              "FROM requests WHERE ext_id = '%s'" % ident)
    return r[0] if r else None


def counted():
    c = S.sql("SELECT (SELECT SUM(requests) FROM counters), (SELECT COUNT(*) FROM requests), "
              "(SELECT SUM(cities) FROM counters), (SELECT SUM(total) FROM requests), "
              "(SELECT SUM(collected) FROM counters), (SELECT SUM(collected) FROM requests), "
              "(SELECT SUM(failed) FROM counters), (SELECT SUM(failed) FROM requests), "
              "(SELECT SUM(queued) FROM counters), (SELECT COUNT(*) FROM city_tasks)")[0]
    return [(c[i], c[i + 1]) for i in range(0, len(c), 2)]


class Deferred(unittest.TestCase):
    def assert_counts(self):
        # Every request settled and resolved, then each count equals its
        # table's (the counts change in the transactions that change what
        # they count; requests' own collected/failed follow the settle).
        wait_until(lambda: S.sql("SELECT COUNT(*) FROM requests WHERE finished_at IS NULL")[0][0]
                   == "0", 60, what="every request settled")
        for n, (a, b) in enumerate(counted()):
            self.assertEqual(a, b, "count %d: %r" % (n, counted()))

    def test_1_unresolved_then_resolved_and_collected(self):
        cities = list(range(770001, 770041))
        with Paused():
            status, _, doc = S.post_collect({"id": "d-1", "cities": cities})
            self.assertEqual(status, 202, doc)
            self.assertEqual(doc["progress"], 0)
            self.assertEqual(row("d-1")[0], "0", "stored unresolved: wait_fetch 0")
            status, _, got = S.get("d-1")
            self.assertEqual(status, 200)
            self.assertEqual(got["progress"], 0)
            self.assertEqual(got["data"], [], "no city done yet")
            self.assertEqual(S.sql("SELECT COUNT(*) FROM city_tasks WHERE city_id BETWEEN "
                                   "770001 AND 770040")[0][0], "0", "nothing queued yet")
            time.sleep(1)
            self.assertGreaterEqual(unresolved_age(), 1.0)
            self.assertLess(unresolved_age(), 30)
        doc = S.wait_progress("d-1", 100, timeout=60)
        self.assertEqual(unresolved_age(), 0)
        self.assertEqual(doc["collected"], len(cities))
        self.assertEqual([c["city_id"] for c in doc["data"]], cities)
        self.assertTrue(all(c["temperature"] is not None for c in doc["data"]))
        fetched = S.sql("SELECT COUNT(*), COUNT(DISTINCT city_id) FROM fetches "
                        "WHERE city_id BETWEEN 770001 AND 770040")[0]
        self.assertEqual(fetched, [str(len(cities))] * 2, "each city fetched once")
        S.wait_settled(["d-1"], 30)
        self.assertNotEqual(row("d-1")[0], "0")
        self.assert_counts()

    def test_2_fresh_readings_serve_it_without_a_fetch(self):
        cities = list(range(770001, 770041))
        S.wait_progress("d-1", 100, timeout=60)
        before = S.sql("SELECT COUNT(*) FROM fetches")[0][0]
        status, _, doc = S.post_collect({"id": "d-2", "cities": cities[::-1]})
        self.assertEqual(status, 202, doc)
        doc = S.wait_progress("d-2", 100, timeout=30)
        self.assertEqual(doc["collected"], len(cities))
        self.assertEqual([c["city_id"] for c in doc["data"]], cities[::-1])
        wait_fetch, collected, finished, _ = row("d-2")
        self.assertEqual((wait_fetch, collected, finished), (None, str(len(cities)), "1"),
                         "resolved finished at once from fresh readings")
        self.assertEqual(S.sql("SELECT COUNT(*) FROM fetches")[0][0], before, "no new fetch")
        self.assert_counts()

    def test_3_a_cancel_before_the_round_wins(self):
        mine, other = list(range(771001, 771021)), list(range(771101, 771121))
        with Paused():
            self.assertEqual(S.post_collect({"id": "d-3", "cities": mine}).status, 202)
            self.assertEqual(S.post_collect({"id": "d-4", "cities": other}).status, 202)
            status, _, doc = S.request("DELETE", "/collect?id=d-3")
            self.assertEqual(status, 200, doc)
            wait_fetch, _, finished, cancelled = row("d-3")
            self.assertEqual((wait_fetch, finished, cancelled), (None, "1", "1"))
        S.wait_progress("d-4", 100, timeout=60)
        status, _, doc = S.get("d-3")
        self.assertEqual(doc["failed"], len(mine))
        self.assertEqual({c["error"] for c in doc["data"]}, {"cancelled"})
        self.assertEqual(S.sql("SELECT COUNT(*) FROM fetches WHERE city_id BETWEEN 771001 "
                               "AND 771020")[0][0], "0", "nothing fetched for the cancelled one")
        self.assertEqual(S.sql("SELECT COUNT(*) FROM city_tasks WHERE city_id BETWEEN 771001 "
                               "AND 771020")[0][0], "0")
        self.assert_counts()

    def test_4_a_round_of_many_requests_shares_the_queue_fairly(self):
        # Two requests resolved in one round that share cities: each city
        # is queued once, by the first request listing it, at the turn of
        # its earliest position.
        a, b = list(range(772001, 772031)), list(range(772030, 772000, -1))
        with Paused():
            S.pause_gate(30)
            self.assertEqual(S.post_collect({"id": "d-5", "cities": a}).status, 202)
            self.assertEqual(S.post_collect({"id": "d-6", "cities": b}).status, 202)
        wait_until(lambda: row("d-6")[0] != "0", 30, what="d-6 resolved")
        q = S.sql("SELECT t.city_id, t.turn - (SELECT MIN(turn) FROM city_tasks "
                  "WHERE city_id BETWEEN 772001 AND 772030), r.ext_id FROM city_tasks t "
                  "JOIN requests r ON r.id = t.created_by "
                  "WHERE t.city_id BETWEEN 772001 AND 772030 ORDER BY t.city_id")
        self.assertEqual(len(q), 30)
        self.assertEqual({x[2] for x in q}, {"d-5"}, "queued on behalf of the first request")
        for city, turn, _ in q:
            k = int(city) - 772001
            self.assertEqual(int(turn), min(k, 29 - k), "city %s" % city)
        S.pause_gate(0)
        S.wait_progress("d-5", 100, timeout=60)
        S.wait_progress("d-6", 100, timeout=60)
        self.assert_counts()

    def test_5_a_flood_of_deferred_posts(self):
        cities = list(range(773001, 773168))
        answers, ids = cold_flood(S, "df", cities, 8, 5)
        print("\n  %d deferred POSTs in 5 s: %r" % (sum(answers.values()), answers))
        self.assertEqual(set(answers), {202})
        self.assertGreater(answers[202], 50)
        S.wait_settled(ids, 120)
        rows = S.sql("SELECT COUNT(*), SUM(collected), SUM(failed), SUM(wait_fetch IS NOT NULL) "
                     "FROM requests WHERE ext_id LIKE 'df-%'")[0]
        self.assertEqual([int(x) for x in rows], [len(ids), len(ids) * len(cities), 0, 0])
        self.assert_counts()
        with open(os.path.join(S.log, "worker.log"), errors="replace") as f:
            self.assertEqual([l for l in f if "resolve:" in l and "warn" in l.lower()], [])

    def test_6_a_round_larger_than_one_statement(self):
        # 200 requests of the same 1,000 cities, each in its own order
        # (rotated by its number), resolved in one round whose references
        # (some 4 MB) go to the database in several parts: every city of
        # every request, at its place, refers to its city's one fetch.
        n, base = 200, 775000
        S.pause_gate(300)
        try:
            with Paused():
                for i in range(n):
                    cities = [base + (k + i) % 1000 for k in range(1000)]
                    r = S.post_collect({"id": "big-%03d" % i, "cities": cities})
                    self.assertEqual(r.status, 202)
            wait_until(lambda: S.sql("SELECT COUNT(*) FROM requests WHERE ext_id LIKE 'big-%' "
                                     "AND wait_fetch = 0")[0][0] == "0", 60,
                       what="the big round resolved")
            got = S.sql("SELECT COUNT(*), SUM(d.city_id = %d + MOD(d.pos + "
                        "CAST(SUBSTRING(d.id, 5) AS UNSIGNED), 1000)), "
                        "SUM(d.fetch_id = t.fetch_id), COUNT(DISTINCT d.fetch_id) "
                        "FROM request_data d LEFT JOIN city_tasks t ON t.city_id = d.city_id "
                        "WHERE d.id LIKE 'big-%%'" % base)[0]
            self.assertEqual([int(x) for x in got], [n * 1000, n * 1000, n * 1000, 1000])
        finally:
            S.pause_gate(0)
        for i in (0, n - 1):
            S.wait_progress("big-%03d" % i, 100, timeout=120)
        self.assert_counts()

    def test_7_a_request_that_cannot_be_resolved_holds_no_other_back(self):
        # A marked request whose list is out of bounds (a city 0, as a hand
        # or a bug might write it) fails its round: the resolver passes it
        # over, with a warning naming it, and resolves the others.
        with Paused():
            for ident, first in (("p-1", 776001), ("p-2", 776011)):
                r = S.post_collect({"id": ident, "cities": list(range(first, first + 3))})
                self.assertEqual(r.status, 202)
            S.sql("UPDATE requests SET cities = JSON_SET(cities, '$[1][0]', 0) "
                  "WHERE ext_id = 'p-1'")
        S.wait_progress("p-2", 100, timeout=60)
        self.assertEqual(row("p-1")[0], "0", "p-1 still unresolved")
        bad = S.sql("SELECT id FROM requests WHERE ext_id = 'p-1'")[0][0]
        with open(os.path.join(S.log, "worker.log"), errors="replace") as f:
            said = [l for l in f if "request %s cannot be resolved" % bad in l]
        self.assertGreaterEqual(len(said), 1)
        self.assertIn("does not match its total", said[0])
        status, _, _ = S.request("DELETE", "/collect?id=p-1")
        self.assertEqual(status, 200)
        self.assertEqual(row("p-1")[3], "1", "cancelled")


class WhileBehind(unittest.TestCase):
    """http.defer "behind": a POST is deferred only while the worker says
    it is behind (rate_gate.behind_until, read at most every 250 ms)."""

    def test_deferred_only_while_behind(self):
        env = dict(ENV, OWMCOLLECT_HTTP_DEFER="behind")
        with Stack(env=env) as b:
            def stored(ident):
                return b.sql("SELECT wait_fetch FROM requests WHERE ext_id = '%s'" % ident)[0][0]
            hk = [p for p, c in b.children("worker").items() if c == "owm-housekeep"][0]
            os.kill(hk, signal.SIGSTOP)
            try:
                self.assertEqual(b.post_collect({"id": "wb-1", "cities": [774001, 774002]}).status,
                                 202)
                self.assertNotEqual(stored("wb-1"), "0", "not behind: resolved by the POST")
                b.sql("UPDATE rate_gate SET behind_until = NOW(6) + INTERVAL 60 SECOND "
                      "WHERE id = 1")
                time.sleep(0.5)     # every process reads it again within 250 ms
                for i in range(12):     # each FastCGI process
                    self.assertEqual(b.post_collect({"id": "wb-2-%d" % i,
                                                     "cities": [774003, 774004]}).status, 202)
                    self.assertEqual(stored("wb-2-%d" % i), "0", "behind: deferred")
                b.sql("UPDATE rate_gate SET behind_until = NULL WHERE id = 1")
                time.sleep(0.5)
                self.assertEqual(b.post_collect({"id": "wb-3", "cities": [774005]}).status, 202)
                self.assertNotEqual(stored("wb-3"), "0", "no longer behind")
            finally:
                os.kill(hk, signal.SIGCONT)
            for i in range(12):
                b.wait_progress("wb-2-%d" % i, 100, timeout=60)


if __name__ == "__main__":
    unittest.main()

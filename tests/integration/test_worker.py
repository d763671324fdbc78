"""owmcollect-worker against the real stack and the API stand-in: the data it
stores, unknown cities, retries, 429, an invalid key, kill -9, sharing, reuse
and fairness.  The rate-limit proofs are in test_worker_rate.py.

One stack for the module, at a scaled rate (6000 cities/min, batches of 20)
with short timeouts so failure paths take seconds.  Each test uses its own
city ids, so tests do not see each other's readings, and puts the stand-in
back to normal when it ends.
"""
import calendar
import json
import os
import signal
import threading
import time
import unittest

import owm_standin
from harness import Stack, wait_until

S = None
MAX_ATTEMPTS = 4
ENV = {
    "OWMCOLLECT_OWM_CITIES_PER_MINUTE": "6000",
    "OWMCOLLECT_OWM_BATCH_SIZE": "20",
    "OWMCOLLECT_OWM_TIMEOUT_MS": "1500",
    "OWMCOLLECT_OWM_CONNECT_TIMEOUT_MS": "1000",
    "OWMCOLLECT_WORKER_CHILDREN": "2",
    "OWMCOLLECT_WORKER_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
    "OWMCOLLECT_WORKER_LEASE_SECONDS": "8",
    "OWMCOLLECT_WORKER_STOP_SECONDS": "5",
}
NORMAL = {"latency_ms": 0, "p_5xx": 0, "p_broken": 0, "p_hang": 0, "p_429": 0,
          "hostile": None}


def setUpModule():
    global S
    S = Stack(env=ENV).start()


def tearDownModule():
    if S:
        S.stop()


def epoch(iso):
    """'2026-01-02T03:04:05.123456Z' -> Unix time (float)."""
    head, _, frac = iso.rstrip("Z").partition(".")
    t = calendar.timegm(time.strptime(head, "%Y-%m-%dT%H:%M:%S"))
    return t + (float("0." + frac) if frac else 0.0)


def calls_for(ids, since=0.0):
    """Access-log entries since `since` that asked for any of ids."""
    ids = set(ids)
    return [e for e in S.access_log() if e["t"] >= since and ids & set(e["ids"])]


def fetch_count(ids, since=0.0):
    """How many times each id was asked for."""
    n = {i: 0 for i in ids}
    for e in calls_for(ids, since):
        for i in e["ids"]:
            if i in n:
                n[i] += 1
    return n


def check_data(test, doc):
    """Every collected city holds exactly what the stand-in serves."""
    for d in doc["data"]:
        if "error" in d:
            continue
        cid = d["city_id"]
        test.assertRegex(d["observed_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d0:00Z$")
        # The stand-in's values depend on the observation's time too.
        dt = calendar.timegm(time.strptime(d["observed_at"], "%Y-%m-%dT%H:%M:%SZ"))
        test.assertEqual(d["temperature"], owm_standin.celsius(cid, dt), cid)
        test.assertEqual(d["humidity"], owm_standin.humidity(cid, dt), cid)


def check_outcomes(test, ext_id):
    """One outcome per (request, city) and counters that match them,
    once the worker's settle has written them (within a second or so of
    the request's last batch)."""
    S.wait_settled(ext_id, 60)
    rows = S.sql("SELECT r.total, r.collected, r.failed, "
                 "SUM(d.state = 'collected'), SUM(d.state = 'failed'), "
                 "SUM(d.state = 'pending'), COUNT(DISTINCT d.city_id), "
                 "r.finished_at IS NOT NULL "
                 "FROM requests r JOIN request_data d ON d.request_id = r.id "
                 "WHERE r.ext_id = '%s' GROUP BY r.id" % ext_id)
    total, coll, failed, s_coll, s_failed, pending, distinct, fin = map(int, rows[0])
    test.assertEqual((coll, failed), (s_coll, s_failed))
    test.assertEqual(pending, 0)
    test.assertEqual(coll + failed, total)
    test.assertEqual(distinct, total)
    test.assertEqual(fin, 1)


def post(test, ext_id, cities=None):
    doc = {"id": ext_id}
    if cities is not None:
        doc["cities"] = cities
    status, _, body = S.post_collect(doc)
    test.assertEqual(status, 202, body)
    return body


def children():
    """Pids of the worker supervisor's fetching children (not its
    housekeeping child)."""
    return [p for p, c in S.children("worker").items() if c != "owm-housekeep"]


def worker_log():
    with open(os.path.join(S.log, "worker.log"), errors="replace") as f:
        return f.read()


class Worker(unittest.TestCase):
    def tearDown(self):
        S.standin_config(**NORMAL)

    def test_default_cities_single_mode(self):
        body = post(self, "w-default")
        posted = epoch(body["requested_at"])
        doc = S.wait_progress("w-default", 100, timeout=60)
        self.assertEqual((doc["total"], doc["collected"], doc["failed"]), (167, 167, 0))
        check_data(self, doc)
        check_outcomes(self, "w-default")
        calls = calls_for([d["city_id"] for d in doc["data"]], posted - 1)
        self.assertEqual(len(calls), 167)
        self.assertTrue(all(c["path"] == "/data/2.5/weather" and len(c["ids"]) == 1
                            and c["units"] == "metric" for c in calls))
        first = min(c["t"] for c in calls) - posted
        print("\n  first API call %.3f s after the POST, 167 cities in %.2f s"
              % (first, epoch(doc["finished_at"]) - posted))
        self.assertLess(first, 1.0)
        # The key never reaches a log.
        self.assertNotIn("appid", worker_log())

    def test_unknown_ids_fail_city_not_found(self):
        ids = [900000001, 31001, 999999999, 31002]
        post(self, "w-unknown", ids)
        doc = S.wait_progress("w-unknown", 100, timeout=60)
        self.assertEqual((doc["collected"], doc["failed"]), (2, 2))
        errors = {d["city_id"]: d.get("error") for d in doc["data"]}
        self.assertEqual(errors[900000001], "city not found")
        self.assertEqual(errors[999999999], "city not found")
        self.assertIsNone(errors[31001])
        check_data(self, doc)
        check_outcomes(self, "w-unknown")
        # Not retried: one call each.
        self.assertEqual(fetch_count(ids), {i: 1 for i in ids})

    def test_sharing_and_reuse(self):
        ids = list(range(32001, 32041))
        post(self, "w-share-1", ids)
        post(self, "w-share-2", list(reversed(ids)))
        for r in ("w-share-1", "w-share-2"):
            doc = S.wait_progress(r, 100, timeout=60)
            self.assertEqual(doc["collected"], 40)
            check_data(self, doc)
            check_outcomes(self, r)
        self.assertEqual(fetch_count(ids), {i: 1 for i in ids})
        # Within reuse_seconds: served from city_latest without a call.
        before = len(S.access_log())
        body = post(self, "w-share-3", ids[:10])
        self.assertEqual(body["progress"], 100)
        time.sleep(1)
        self.assertEqual(len(S.access_log()), before)

    def test_post_racing_a_completion_is_not_fetched_again(self):
        """A POST decides from a consistent read of city_latest;
        a completion committing just before its INSERT IGNORE leaves a
        queue entry for a city just fetched.  The worker serves it from
        that reading instead of calling the API again."""
        ids = list(range(45001, 45006))
        post(self, "w-race-1", ids)
        first = S.wait_progress("w-race-1", 100, timeout=60)
        self.assertEqual(fetch_count(ids), {i: 1 for i in ids})
        # What the racing POST wrote: its request pointing at new queue
        # entries, as if city_latest had still been stale for it.
        S.sql("START TRANSACTION;"
              "INSERT INTO city_tasks (city_id, turn, ready_at, created_at) VALUES %s;"
              "INSERT INTO requests (ext_id, requested_at, total, collected, cities, wait_fetch) "
              "SELECT 'w-race-2', NOW(6), %d, 0, "
              "JSON_ARRAYAGG(JSON_ARRAY(city_id, 0, fetch_id) ORDER BY city_id), MAX(fetch_id) "
              "FROM city_tasks WHERE city_id BETWEEN 45001 AND 45005;"
              "COMMIT;" % (", ".join("(%d, 0, NOW(6), NOW(6))" % c for c in ids), len(ids)))
        second = S.wait_progress("w-race-2", 100, timeout=60)
        self.assertEqual(second["collected"], len(ids))
        self.assertEqual(fetch_count(ids), {i: 1 for i in ids})
        self.assertEqual([(d["city_id"], d["observed_at"]) for d in second["data"]],
                         [(d["city_id"], d["observed_at"]) for d in first["data"]])
        check_outcomes(self, "w-race-2")
        self.assertEqual(S.sql("SELECT COUNT(*) FROM city_tasks WHERE city_id "
                               "BETWEEN 45001 AND 45005"), [["0"]])

    def test_dropped_fetch_is_queued_again(self):
        """What a POST racing a cancel leaves: the POST pointed a city at a
        queue entry that the cancel of another request (which had
        created it) dropped before the POST committed.  The settle finds
        the dropped fetch and queues the city again for this request."""
        S.sql("INSERT INTO fetches (id, city_id, state, error, done_at) "
              "VALUES (1900000001, 46001, 'dropped', 'cancelled', NOW(6));"
              "INSERT INTO requests (ext_id, requested_at, total, cities, wait_fetch) "
              "VALUES ('w-dropped', NOW(6), 2, '[[46002, 0, 1900000002], [46001, 0, 1900000001]]', "
              "1900000001);"
              "INSERT INTO fetches (id, city_id, state, error, done_at) "
              "VALUES (1900000002, 46002, 'failed', 'city not found', NOW(6));"
              "UPDATE counters SET requests = requests + 1, cities = cities + 2 WHERE shard = 1")
        doc = S.wait_progress("w-dropped", 100, timeout=60)
        self.assertEqual((doc["collected"], doc["failed"]), (1, 1))
        self.assertEqual(doc["data"][0], {"city_id": 46002, "name": None, "country": None,
                                          "lat": None, "lon": None, "error": "city not found"})
        self.assertIn("temperature", doc["data"][1])
        check_outcomes(self, "w-dropped")
        refs = json.loads(S.sql("SELECT cities FROM requests WHERE ext_id = 'w-dropped'")[0][0])
        self.assertEqual(refs[0], [46002, 0, 1900000002])
        self.assertNotEqual(refs[1][2], 1900000001)
        self.assertEqual(fetch_count([46001]), {46001: 1})

    def test_retries_reach_100_with_correct_data(self):
        S.standin_config(p_5xx=0.15, p_broken=0.1, p_hang=0.03)
        ids = list(range(33001, 33061))
        post(self, "w-retry", ids)
        doc = S.wait_progress("w-retry", 100, timeout=60)
        check_data(self, doc)
        check_outcomes(self, "w-retry")
        counts = fetch_count(ids)
        self.assertGreater(sum(counts.values()), len(ids))  # some were retried
        # Only answers that do not serve the city count as attempts: a
        # 5xx or a hang is the API's trouble, retried without counting.
        counted = {i: 0 for i in ids}
        for e in calls_for(ids):
            if e["status"] is not None and e["status"] < 500 and e["fault"] != "hang":
                counted[e["ids"][0]] += 1
        self.assertLessEqual(max(counted.values()), MAX_ATTEMPTS)
        for d in doc["data"]:
            if "error" in d:   # rare: every counted attempt was broken
                self.assertRegex(d["error"], r"^invalid response: .* after %d attempts$"
                                 % MAX_ATTEMPTS)
        self.assertGreaterEqual(doc["collected"], 54)

    def test_fails_after_max_attempts_with_last_reason(self):
        # Answers that never serve the city (broken bodies) fail it after
        # worker.max_attempts; 5xx and timeouts never do (test_outage).
        S.standin_config(p_broken=1.0)
        ids = [34001, 34002]
        post(self, "w-broken", ids)
        doc = S.wait_progress("w-broken", 100, timeout=60)
        self.assertEqual(doc["failed"], 2)
        for d in doc["data"]:
            self.assertRegex(d["error"], r"^invalid response: .* after %d attempts$"
                             % MAX_ATTEMPTS)
        self.assertEqual(fetch_count(ids), {i: MAX_ATTEMPTS for i in ids})
        check_outcomes(self, "w-broken")

    def test_hostile_bodies_are_retried_not_stored(self):
        for k, kind in enumerate(("huge", "nan", "string_numbers", "wrong_types",
                                  "foreign_ids", "truncated", "deep", "many_items",
                                  "drip")):
            S.standin_config(hostile=kind)
            ids = [35001 + k]
            t0 = time.time()
            post(self, "w-hostile-" + kind, ids)
            wait_until(lambda: calls_for(ids, t0 - 1), 30, what="a call for " + kind)
            S.standin_config(hostile=None)
            # A drip is cut by owm.timeout_ms, then retried after a backoff.
            doc = S.wait_progress("w-hostile-" + kind, 100, timeout=60)
            self.assertEqual(doc["collected"], 1, kind)
            check_data(self, doc)
            self.assertGreaterEqual(fetch_count(ids)[ids[0]], 2, kind)

    def test_claim_tops_up_a_batch_split_with_another(self):
        """A claim whose candidates were mostly taken by someone else (two
        children claiming at once split 19 and 1) tops its batch up with
        the next due cities instead of sending a batch of one: each short
        batch costs a rate slot of its own.  Here another session holds
        the first 19 queue entries (as a concurrent claim does) while the
        gate's pause ends."""
        ids = list(range(430001, 430041))
        S.pause_gate(3)
        since = S.sql("SELECT NOW(6)")[0][0]
        post(self, "w-split", ids)
        first = [int(r[0]) for r in S.sql(
            "SELECT city_id FROM city_tasks WHERE city_id BETWEEN %d AND %d "
            "ORDER BY turn LIMIT 19" % (ids[0], ids[-1]))]
        self.assertEqual(len(first), 19)

        def holder():
            # Through the primary key, as a claim locks them: a covering
            # scan of the claim index would lock all 40.
            S.sql("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED; "
                  "START TRANSACTION; SELECT city_id FROM city_tasks FORCE INDEX (PRIMARY) "
                  "WHERE city_id IN (%s) "
                  "FOR UPDATE; DO SLEEP(5); COMMIT;" % ",".join(map(str, first)))
        t = threading.Thread(target=holder)
        t.start()
        try:
            doc = S.wait_progress("w-split", 100, timeout=60)
        finally:
            t.join()
        self.assertEqual(doc["collected"], 40)
        slots = [int(r[0]) for r in S.sql(
            "SELECT cities FROM rate_slots WHERE slot_at >= '%s' ORDER BY id" % since)]
        print("\n  40 cities, the first 19 held by another session: slots of %s" % slots)
        self.assertEqual(sum(slots), 40)
        # 20 (the 20th and the next 19), 1 (the 40th), then the 19 held;
        # or, when the other child claims at the same moment and wins the
        # top-up's rows, 19 and 2 (each topped up past what the other
        # took); without the top-up, a slot of one city each while they
        # are held.
        self.assertLessEqual(len(slots), 4)
        self.assertGreaterEqual(max(slots), 19)

    def test_429_pauses_everyone(self):
        S.standin_config(p_429=1.0)
        ids = list(range(36001, 36101))
        t0 = time.time()
        post(self, "w-429", ids)

        def bursts():
            ts = sorted(e["t"] for e in calls_for(ids, t0 - 1) if e["status"] == 429)
            out = []
            for t in ts:
                if not out or t - out[-1][-1] > 0.4:
                    out.append([t])
                else:
                    out[-1].append(t)
            return out
        got = wait_until(lambda: len(bursts()) >= 2 and bursts(), 60, what="two 429 bursts")
        S.standin_config(p_429=0)
        doc = S.wait_progress("w-429", 100, timeout=60)
        self.assertEqual(doc["collected"], 100)
        check_outcomes(self, "w-429")
        # Everyone waited: after the first 429 burst nothing arrived for a
        # pause of about a second (1 s backoff, jitter-free), then less than
        # a batch per child came before the second.
        gap = got[1][0] - got[0][-1]
        print("\n  429 pause: %.2f s between the first two bursts" % gap)
        self.assertGreater(gap, 0.9)
        self.assertLessEqual(len(got[0]), 2 * 20)
        self.assertIn("429", worker_log())

    def test_invalid_key_fails_nothing_then_resumes_after_sighup(self):
        S.standin_config(key="not-the-workers-key")
        ids = list(range(37001, 37031))
        t0 = time.time()
        post(self, "w-key", ids)
        wait_until(lambda: [e for e in calls_for(ids, t0 - 1) if e["status"] == 401], 30,
                   what="a 401")
        time.sleep(2)
        doc = S.get("w-key").json
        self.assertEqual((doc["collected"], doc["failed"]), (0, 0))
        self.assertEqual(S.sql("SELECT pause_reason FROM rate_gate")[0][0], "invalid key")
        # One probe batch per pause, not a storm.
        self.assertLessEqual(len(calls_for(ids, t0 - 1)), 2 * 20)
        self.assertEqual(worker_log().count("refused the key"), 1)
        # Released uncounted: a refused key is no attempt.
        self.assertEqual(S.sql("SELECT MAX(attempts) FROM city_tasks "
                               "WHERE city_id BETWEEN 37001 AND 37030")[0][0], "0")
        # The fix: a key the API accepts, then a reload.
        S.standin_config(key="")
        S.signal("worker", signal.SIGHUP)
        doc = S.wait_progress("w-key", 100, timeout=60)
        self.assertEqual((doc["collected"], doc["failed"]), (30, 0))
        check_outcomes(self, "w-key")

    def test_kill9_mid_batch_loses_nothing(self):
        S.standin_config(latency_ms=1000)
        ids = list(range(38001, 38101))
        t0 = time.time()
        post(self, "w-kill", ids)
        wait_until(lambda: len(calls_for(ids, t0 - 1)) >= 20, 30, what="a batch in flight")
        victim = children()[0]
        os.kill(victim, signal.SIGKILL)
        S.standin_config(latency_ms=0)
        doc = S.wait_progress("w-kill", 100, timeout=60)
        self.assertEqual(doc["collected"], 100)
        check_data(self, doc)
        check_outcomes(self, "w-kill")
        self.assertIn("killed by signal 9", worker_log())
        wait_until(lambda: len(children()) == 2, 30, what="the child to be replaced")

    def test_database_gone_worker_waits_and_reconnects(self):
        S.standin_config(latency_ms=300)
        ids = list(range(42001, 42201))
        before = sorted(children())
        t0 = time.time()
        post(self, "w-dbgone", ids)
        wait_until(lambda: calls_for(ids, t0 - 1), 30, what="the first batch")
        mysqld = S.pid("mysqld")
        S.signal("mysqld", signal.SIGSTOP)
        try:
            time.sleep(7)       # past mysql.read_timeout (5 s)
        finally:
            os.kill(mysqld, signal.SIGCONT)
        S.standin_config(latency_ms=0)
        doc = S.wait_progress("w-dbgone", 100, timeout=60)
        self.assertEqual(doc["collected"], 200)
        check_data(self, doc)
        check_outcomes(self, "w-dbgone")
        self.assertEqual(sorted(children()), before)     # nobody crashed
        self.assertIn("database", worker_log())

    def small_during_big(self, big_id, big, small_id, small, what):
        """small, posted 2 s into big (collected slowly), finishes within
        5 s while big is still under way; both end with their outcomes."""
        S.standin_config(latency_ms=600)
        post(self, big_id, big)
        time.sleep(2)
        t0 = time.monotonic()
        post(self, small_id, small)
        S.wait_progress(small_id, 100, timeout=60)
        took = time.monotonic() - t0
        big_doc = S.get(big_id).json
        print("\n  %s done in %.2f s; the 1000-city request was at %.1f%%"
              % (what, took, big_doc["progress"]))
        self.assertLess(big_doc["progress"], 100)
        self.assertLess(took, 5)
        S.standin_config(latency_ms=0)
        S.wait_progress(big_id, 100, timeout=60)
        check_outcomes(self, big_id)
        check_outcomes(self, small_id)

    def test_fairness_small_request_during_a_big_one(self):
        self.small_during_big("w-big", list(range(400001, 401001)),
                              "w-small", list(range(39001, 39006)), "5-city request")

    def test_fairness_shared_cities_move_forward(self):
        """A small request of the last 5 cities of a big one: their queue
        entries move forward to the small request's turns."""
        big = list(range(410001, 411001))
        self.small_during_big("w-big2", big, "w-tail", big[-5:],
                              "the big request's last 5 cities")


class MarginZero(unittest.TestCase):
    """owm.margin_ms = 0 (benchmarks use it): a child wakes at its slot a
    little late, as every sleep does, and still sends instead of
    reserving again for ever."""

    def test_margin_zero_collects(self):
        s = Stack(env=dict(ENV, OWMCOLLECT_OWM_CITIES_PER_MINUTE="1200",
                           OWMCOLLECT_OWM_MARGIN_MS="0")).start()
        try:
            cities = list(range(420001, 420101))
            self.assertEqual(s.post_collect({"id": "m0", "cities": cities}).status, 202)
            # 100 cities at 1,200/min in batches of 20: about 5 s.
            doc = s.wait_progress("m0", 100, timeout=60)
            self.assertEqual(doc["collected"], 100)
            with open(os.path.join(s.log, "worker.log"), errors="replace") as f:
                again = f.read().count("reserving again")
            # Reserving again for ever would never send: the wait above
            # fails first.  A busy machine wakes a few ms late at some
            # slots, and each costs one more reservation: CI runs saw 6
            # and, under the sanitizers on a loaded machine, 20 for these
            # 5 batches.  Ten a batch is far past a loaded machine's and
            # still catches a child that reserves again at nearly every
            # slot before it sends.
            print("\n  100 cities collected; %d wake-ups past the slot" % again)
            self.assertLess(again, 50)
        finally:
            s.stop()


class GroupMode(unittest.TestCase):
    """A second stack in group mode (the mode comes from the environment,
    which a reload does not change), with a monthly cap."""

    @classmethod
    def setUpClass(cls):
        cls.S = Stack(env=dict(ENV, OWMCOLLECT_OWM_MODE="group",
                               OWMCOLLECT_OWM_CITIES_PER_MONTH="1000000")).start()

    @classmethod
    def tearDownClass(cls):
        cls.S.stop()

    def test_default_cities_and_unknown_ids_group_mode(self):
        s = self.S
        status, _, body = s.post_collect({"id": "g-default"})
        self.assertEqual(status, 202)
        doc = s.wait_progress("g-default", 100, timeout=60)
        self.assertEqual(doc["collected"], 167)
        global S
        saved, S = S, s
        try:
            check_data(self, doc)
            check_outcomes(self, "g-default")
            # Calls name cities; the warm-ups that open connections
            # before a slot name none (and no key).
            log = [e for e in s.access_log() if e["ids"]]
            self.assertTrue(all(e["path"] == "/data/2.5/group" for e in log))
            self.assertEqual(sum(len(e["ids"]) for e in log), 167)
            self.assertLessEqual(max(len(e["ids"]) for e in log), 20)
            # Unknown ids: left out of the group answer, then one
            # confirming single call each, then "city not found".
            ids = [900000005, 41001, 41002, 900000006]
            status, _, _ = s.post_collect({"id": "g-unknown", "cities": ids})
            doc = s.wait_progress("g-unknown", 100, timeout=60)
            errors = {d["city_id"]: d.get("error") for d in doc["data"]}
            self.assertEqual(errors, {900000005: "city not found", 41001: None,
                                      41002: None, 900000006: "city not found"})
            singles = [e for e in s.access_log() if e["path"] == "/data/2.5/weather"]
            self.assertEqual(sorted(i for e in singles for i in e["ids"]),
                             [900000005, 900000006])
            check_outcomes(self, "g-unknown")
        finally:
            S = saved

    def test_monthly_cap_pauses_and_fails_nothing(self):
        s = self.S
        # 3 cities left this month.
        s.sql("UPDATE rate_gate SET month = DATE_FORMAT(NOW(), '%Y-%m'), "
              "month_used = 1000000 - 3")
        ids = list(range(43001, 43011))
        status, _, _ = s.post_collect({"id": "g-month", "cities": ids})
        self.assertEqual(status, 202)
        wait_until(lambda: s.sql("SELECT pause_reason FROM rate_gate")[0][0] == "monthly cap",
                   30, what="the monthly pause")
        # The 3 cities the cap left are collected (their batch may still be
        # under way when the pause is written), and then nothing more.
        wait_until(lambda: (lambda d: d["collected"] + d["failed"] >= 3)(s.get("g-month").json),
                   30, 0.2, "the 3 cities the cap allows")
        time.sleep(1)
        doc = s.get("g-month").json
        self.assertEqual((doc["collected"], doc["failed"]), (3, 0))
        self.assertEqual(s.sql("SELECT paused_until = DATE_FORMAT(NOW() + INTERVAL 1 MONTH, "
                               "'%Y-%m-01'), month_used FROM rate_gate")[0], ["1", "1000000"])
        # The month turns.
        s.sql("UPDATE rate_gate SET month = '2000-01', paused_until = NOW(6), "
              "pause_reason = NULL")
        doc = s.wait_progress("g-month", 100, timeout=60)
        self.assertEqual((doc["collected"], doc["failed"]), (10, 0))


if __name__ == "__main__":
    unittest.main()

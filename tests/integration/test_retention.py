"""Retention (worker/purge.c) on a private stack with retention.requests_days
= retention.readings_days = 1: old data inserted straight into the tables,
fresh data through POST /collect, then the purge child must delete exactly
what expired, in transactions of at most 1,000 rows, and nothing a request
still stored shows.

Ages are from the moment of the insert (T); the cut-offs (purge.h):
requests: finished and requested before T - 1 d; readings: fetched before
T - 1 d and before (the oldest request still stored) - 2 d.

  phase 1: the oldest request left is live-b (4 d, unfinished), so
           readings before T - 6 d go; every old-* request goes.
  phase 2: live-b is cancelled (finished, so expired) and goes; the oldest
           left is live-l1 (23 h), so readings before T - 71 h go.  live-l1
           still shows a reading 25 h old (older than readings_days).

The settings come from a configuration file (CONF), so that the last test
can turn retention off by SIGHUP and see the purge child stop.
"""
import json
import os
import re
import signal
import time
import unittest

from harness import Stack, wait_until, write_retention_conf

S = None
CONF = None
DAY, HOUR = 86400, 3600
ENV = {
    "OWMCOLLECT_OWM_CITIES_PER_MINUTE": "6000",
    "OWMCOLLECT_OWM_TIMEOUT_MS": "1500",
    "OWMCOLLECT_OWM_CONNECT_TIMEOUT_MS": "1000",
    "OWMCOLLECT_WORKER_CHILDREN": "2",
    "OWMCOLLECT_WORKER_LEASE_SECONDS": "8",
    "OWMCOLLECT_WORKER_STOP_SECONDS": "5",
}
FRESH = [62001, 62002, 62003]
SUMMARY = re.compile(r"purge: deleted (\d+) requests, (\d+) fetches, (\d+) readings "
                     r"and (\d+) city_latest rows in (\d+) transactions, the largest (\d+) rows")


def write_conf(days):
    write_retention_conf(CONF, days)


def setUpModule():
    global S, CONF
    S = Stack(env=ENV)
    CONF = os.path.join(S.dir, "owmcollect.conf")
    write_conf(1)
    S.env["CONF"] = CONF
    S.start()


def tearDownModule():
    if S:
        S.stop()


def children():
    """{pid: comm} of the worker supervisor's children."""
    return S.children("worker")


def purge_pids():
    return [p for p, c in children().items() if c == "owm-housekeep"]


def worker_log():
    with open(os.path.join(S.log, "worker.log"), errors="replace") as f:
        return f.read()


def summaries(since):
    """(requests, fetches, readings, latest, transactions, largest) of each
    pass logged after offset since."""
    return [tuple(map(int, m.groups())) for m in SUMMARY.finditer(worker_log()[since:])]


def cities_json(refs):
    return json.dumps([[c, r, f] for c, r, f in refs])


# The old data, one transaction (a pass sees all of it or none).  @T is
# the insert's clock; every age below is from it.
OLD_DATA = """
START TRANSACTION;
SET @T = NOW(6);
-- 2,500 readings 6.5-9.4 days old of 50 cities: all go in phase 1.
INSERT INTO readings (city_id, temperature, humidity, observed_at, fetched_at)
    SELECT 70001 + s.seq %% 50, 1.5, 50, @T - INTERVAL 7 DAY,
           @T - INTERVAL 561600 + s.seq * 100 SECOND FROM seq_1_to_2500 s;
SET @old_x = (SELECT id FROM readings WHERE city_id = 70001 ORDER BY fetched_at DESC LIMIT 1);
SET @old_1 = (SELECT MIN(id) FROM readings WHERE city_id = 70002);
SET @old_2 = (SELECT MIN(id) FROM readings WHERE city_id = 70003);
SET @old_3 = (SELECT MIN(id) FROM readings WHERE city_id = 70004);
-- live-b's reading, reused at its POST 5 minutes after it was fetched.
INSERT INTO readings (city_id, temperature, humidity, observed_at, fetched_at)
    VALUES (71001, 4.25, 40, @T - INTERVAL 4 DAY, @T - INTERVAL 4 DAY - INTERVAL 300 SECOND);
SET @r_b = LAST_INSERT_ID();
-- live-l1's: one reused at its POST (23 h + 500 s), one a batch served
-- from a reading fresh when it was claimed (25 h: older than a day).
INSERT INTO readings (city_id, temperature, humidity, observed_at, fetched_at)
    VALUES (72001, 11.5, 61, @T - INTERVAL 1 DAY, @T - INTERVAL 23 HOUR - INTERVAL 500 SECOND);
SET @r_l1b = LAST_INSERT_ID();
INSERT INTO readings (city_id, temperature, humidity, observed_at, fetched_at)
    VALUES (72002, 12.5, 62, @T - INTERVAL 1 DAY, @T - INTERVAL 25 HOUR);
SET @r_l1 = LAST_INSERT_ID();
-- 30 readings 3.5-3.7 days old (phase 2), 10 of 2 days, 2 of 1.5 days
-- (kept: within two days of the oldest request).
INSERT INTO readings (city_id, temperature, humidity, observed_at, fetched_at)
    SELECT 73001 + s.seq %% 10, 2, 20, @T - INTERVAL 4 DAY,
           @T - INTERVAL 302400 + s.seq * 600 SECOND FROM seq_1_to_30 s;
SET @mid_y = (SELECT id FROM readings WHERE city_id = 73001 ORDER BY fetched_at DESC LIMIT 1);
INSERT INTO readings (city_id, temperature, humidity, observed_at, fetched_at)
    SELECT 74000 + s.seq, 3, 30, @T - INTERVAL 2 DAY,
           @T - INTERVAL 172800 + s.seq * 60 SECOND FROM seq_1_to_10 s;
SET @recent_z = (SELECT id FROM readings WHERE city_id = 74001);
INSERT INTO readings (city_id, temperature, humidity, observed_at, fetched_at)
    VALUES (75001, 5, 50, @T - INTERVAL 2 DAY, @T - INTERVAL 36 HOUR),
           (75002, 5, 50, @T - INTERVAL 2 DAY, @T - INTERVAL 36 HOUR);
-- city_latest: X (phase 1), Y (phase 2), Z (kept).
INSERT INTO city_latest (city_id, reading_id, fetched_at) VALUES
    (70001, @old_x, (SELECT fetched_at FROM readings WHERE id = @old_x)),
    (73001, @mid_y, (SELECT fetched_at FROM readings WHERE id = @mid_y)),
    (74001, @recent_z, (SELECT fetched_at FROM readings WHERE id = @recent_z));

-- The fetches the old requests point at: 3 that served 300 requests, 5
-- days ago, and the 1,000 failures of one; live-l1's, 23 h ago.
INSERT INTO fetches (id, city_id, state, reading_id, done_at) VALUES
    (1000000001, 70002, 'collected', @old_1, @T - INTERVAL 5 DAY + INTERVAL 1 MINUTE),
    (1000000002, 70003, 'collected', @old_2, @T - INTERVAL 5 DAY + INTERVAL 1 MINUTE),
    (1000000003, 70004, 'collected', @old_3, @T - INTERVAL 5 DAY + INTERVAL 1 MINUTE),
    (1000000004, 72002, 'collected', @r_l1, @T - INTERVAL 23 HOUR);
INSERT INTO fetches (id, city_id, state, error, done_at)
    SELECT 1000001000 + s.seq, 80000 + s.seq, 'failed', 'city not found', @T - INTERVAL 5 DAY
    FROM seq_0_to_999 s;
-- 300 finished requests of 3 waited cities, 5 days old.
INSERT INTO requests (ext_id, requested_at, finished_at, total, collected, cities)
    SELECT CONCAT('old-s-', s.seq), @T - INTERVAL 5 DAY - INTERVAL s.seq SECOND,
           @T - INTERVAL 5 DAY - INTERVAL s.seq SECOND + INTERVAL 1 MINUTE, 3, 3,
           '[[70002, 0, 1000000001], [70003, 0, 1000000002], [70004, 0, 1000000003]]'
    FROM seq_1_to_300 s;
-- One of 1,000 cities, all failed.
INSERT INTO requests (ext_id, requested_at, finished_at, total, failed, cities)
    VALUES ('old-big', @T - INTERVAL 5 DAY + INTERVAL 10 SECOND, @T - INTERVAL 5 DAY + INTERVAL 1 HOUR,
            1000, 1000, '%(big)s');
-- Finished 36 h ago, served at POST time.
INSERT INTO requests (ext_id, requested_at, finished_at, total, collected, cities)
    VALUES ('old-c', @T - INTERVAL 36 HOUR, @T - INTERVAL 36 HOUR, 1, 1,
            CONCAT('[[70004, ', @old_3, ', 0]]'));
-- Expired but unfinished: kept, and so are the readings it may show.
-- Its two cities wait in queue entries it created, not due for a day.
INSERT INTO requests (ext_id, requested_at, total, collected, cities, wait_fetch)
    VALUES ('live-b', @T - INTERVAL 4 DAY, 3, 1,
            CONCAT('[[71001, ', @r_b, ', 0], [71002, 0, 1000002001], [71003, 0, 1000002002]]'),
            1000002002);
INSERT INTO city_tasks (city_id, fetch_id, turn, ready_at, created_at, created_by) VALUES
    (71002, 1000002001, 0, @T + INTERVAL 1 DAY, @T, LAST_INSERT_ID()),
    (71003, 1000002002, 0, @T + INTERVAL 1 DAY, @T, LAST_INSERT_ID());
-- Live and finished, 23 h old.
INSERT INTO requests (ext_id, requested_at, finished_at, total, collected, cities)
    VALUES ('live-l1', @T - INTERVAL 23 HOUR, @T - INTERVAL 23 HOUR + INTERVAL 30 SECOND, 2, 2,
            CONCAT('[[72001, ', @r_l1b, ', 0], [72002, 0, 1000000004]]'));
COMMIT;
"""

LIVE = ["live-b", "live-l1", "fresh-1", "fresh-2"]


def data_of(ext_id):
    return S.sql("SELECT pos, city_id, temperature, humidity, observed_at, state, error "
                 "FROM request_data WHERE id = '%s' ORDER BY pos" % ext_id)


def ages():
    """Ages in seconds from the insert (T = live-l1's requested_at + 23 h)
    of the readings of the test's own cities (70000-79999), sorted."""
    rows = S.sql("SELECT TIMESTAMPDIFF(SECOND, fetched_at, (SELECT requested_at + INTERVAL 23 HOUR "
                 "FROM requests WHERE ext_id = 'live-l1')) FROM readings "
                 "WHERE city_id BETWEEN 70000 AND 79999")
    return sorted(int(r[0]) for r in rows)


# What each phase must leave of them (seconds before T): live-l1's two,
# 1.5 days, 2 days; phase 1 also live-b's (4 d + 300 s) and 3.5-3.7 days.
KEPT_2 = sorted([23 * HOUR + 500, 25 * HOUR, 36 * HOUR, 36 * HOUR] +
                [2 * DAY + k * 60 for k in range(1, 11)])
KEPT_1 = sorted(KEPT_2 + [4 * DAY + 300] + [302400 + k * 600 for k in range(1, 31)])


def totals(since):
    return [sum(p[i] for p in summaries(since)) for i in range(5)]


def count(q):
    return int(S.sql(q)[0][0])


class Retention(unittest.TestCase):
    def test_purges_exactly_what_expired(self):
        # Fresh data through the service: one fetched, one served from it.
        status, _, body = S.post_collect({"id": "fresh-1", "cities": FRESH})
        self.assertEqual(status, 202, body)
        S.wait_progress("fresh-1", 100, timeout=60)
        status, _, body = S.post_collect({"id": "fresh-2", "cities": FRESH})
        self.assertEqual((status, body["progress"]), (202, 100))

        wait_until(purge_pids, 60, 0.1, "the purge child")
        mark = len(worker_log())
        S.sql(OLD_DATA % {"big": cities_json((80000 + p, 0, 1000001000 + p) for p in range(1000))})
        before = {r: data_of(r) for r in LIVE}
        gets = {r: S.get(r).json for r in LIVE}
        self.assertEqual([len(before[r]) for r in LIVE], [3, 2, 3, 3])
        # live-l1's second city shows the 25 h old reading.
        self.assertEqual([before["live-l1"][1][i] for i in (1, 2, 3, 5)],
                         ["72002", "12.50", "62", "collected"])
        fresh_readings = count("SELECT COUNT(*) FROM readings WHERE city_id IN (62001, 62002, 62003)")
        kept_fetches = count("SELECT COUNT(*) FROM fetches WHERE id < 1000000000")

        # Phase 1, at the purge child's start: it is killed, the
        # supervisor replaces it, and the new one's first pass purges
        # (unless the old one's periodic pass came first).
        old = purge_pids()[0]
        os.kill(old, signal.SIGKILL)
        wait_until(lambda: (lambda p: p and p[0] != old)(purge_pids()), 60, 0.1, "a new purge child")
        wait_until(lambda: totals(mark)[:4] == [302, 1003, 2500, 1], 60, 0.2,
                   "phase 1's purge and its log lines")
        self.assertIn("killed by signal 9", worker_log()[mark:])

        self.assertEqual(count("SELECT COUNT(*) FROM requests WHERE ext_id LIKE 'old-%'"), 0)
        # The fetches only they pointed at, done 5 days ago, went; live-l1's
        # (23 h) and the service's own stay.
        self.assertEqual(count("SELECT COUNT(*) FROM fetches WHERE id BETWEEN 1000000001 AND 1000001999"
                               " AND id <> 1000000004"), 0)
        self.assertEqual(count("SELECT COUNT(*) FROM fetches WHERE id = 1000000004"), 1)
        # Readings: everything older than 6 days (live-b's 4 days + 2), and
        # nothing younger.
        self.assertEqual(ages(), KEPT_1)
        self.assertEqual(count("SELECT COUNT(*) FROM readings WHERE city_id IN (62001, 62002, 62003)"),
                         fresh_readings)
        self.assertEqual(sorted(int(r[0]) for r in S.sql(
            "SELECT city_id FROM city_latest WHERE city_id BETWEEN 70000 AND 79999")), [73001, 74001])
        self.assertEqual(count("SELECT COUNT(*) FROM city_latest WHERE city_id IN (62001, 62002, 62003)"), 3)
        # What is stored still shows the same.
        for r in LIVE:
            self.assertEqual(data_of(r), before[r], r)
            self.assertEqual(S.get(r).json, gets[r], r)
        self.assertEqual(count("SELECT COUNT(*) FROM fetches WHERE id < 1000000000"), kept_fetches)
        for r in ("old-s-1", "old-s-300", "old-big", "old-c"):
            self.assertEqual(S.get(r).status, 404, r)
        # A purged id stays used: unique forever.
        self.assertEqual(count("SELECT COUNT(*) FROM purged_requests WHERE ext_id IN "
                               "('old-s-1', 'old-s-300', 'old-big', 'old-c')"), 4)
        status, _, body = S.post_collect({"id": "old-big", "cities": [1]})
        self.assertEqual(status, 409, body)

        # Exactly these rows (above), in transactions of at most 1,000
        # rows: the 302 requests (weighing 2,505 rows with their cities
        # and purged ids) need 3 at least, the 1,003 fetches 2, the 2,501
        # readings and city_latest rows 3 more.
        passes = summaries(mark)
        print("\n  phase 1 (requests, fetches, readings, city_latest, transactions, largest): %s"
              % passes)
        self.assertGreaterEqual(totals(mark)[4], 8)
        self.assertLessEqual(max(p[5] for p in passes), 1000)

        # Phase 2: live-b finishes (cancelled), so it expires; the next
        # periodic pass deletes it and the readings its bound kept.
        mark = len(worker_log())
        self.assertEqual(S.request("DELETE", "/collect?id=live-b").status, 200)
        wait_until(lambda: count("SELECT COUNT(*) FROM requests WHERE ext_id = 'live-b'") == 0,
                   60, 0.5, "live-b to be purged")
        wait_until(lambda: totals(mark)[:4] == [1, 0, 31, 1], 30, 0.2,
                   "phase 2's log line")
        print("  phase 2: %s" % summaries(mark))
        self.assertLessEqual(max(p[5] for p in summaries(mark)), 1000)
        self.assertEqual(S.get("live-b").status, 404)
        # Before T - 71 h (live-l1's 23 h + 2 days) gone; after it kept,
        # the 25 h reading live-l1 shows included.
        self.assertEqual(ages(), KEPT_2)
        self.assertEqual(sorted(int(r[0]) for r in S.sql(
            "SELECT city_id FROM city_latest WHERE city_id BETWEEN 70000 AND 79999")), [74001])
        for r in ("live-l1", "fresh-1", "fresh-2"):
            self.assertEqual(data_of(r), before[r], r)
            self.assertEqual(S.get(r).json, gets[r], r)
        self.assertEqual(count("SELECT COUNT(*) FROM city_tasks WHERE city_id IN (71002, 71003)"), 0)

    def test_settles_during_a_long_purge(self):
        # A purge pass of 60 transactions or more, each followed by its
        # pause: the housekeeping child interleaves its settle steps with
        # them, so a request whose cities are all in is settled within
        # about a second still, not once the purge is over.
        n = 60000
        S.sql("INSERT INTO readings (city_id, temperature, humidity, observed_at, fetched_at) "
              "SELECT 77001 + s.seq %% 100, 1, 10, NOW(6) - INTERVAL 10 DAY, "
              "NOW(6) - INTERVAL 10 DAY FROM seq_1_to_%d s" % n)
        old = "SELECT COUNT(*) FROM readings WHERE city_id BETWEEN 77001 AND 77100"
        wait_until(lambda: 0 < count(old) < n, 60, 0.2, "the purge of the old readings to begin")
        mark = len(worker_log())
        status, _, body = S.post_collect({"id": "during-purge", "cities": [62005, 62006]})
        self.assertEqual(status, 202, body)
        S.wait_progress("during-purge", 100, timeout=60)
        done = time.monotonic()
        S.wait_settled("during-purge", 10)
        late = time.monotonic() - done
        left = count(old)
        print("\n  settled %.2f s after its last city, %d old readings still to purge" % (late, left))
        self.assertGreater(left, 0, "the purge ended before the settle: nothing was shown")
        self.assertLess(late, 5.0)
        # The pass ends on its own, and says so once.
        wait_until(lambda: count(old) == 0, 600, 0.5, "the purge of the old readings to end")
        wait_until(lambda: summaries(mark), 30, 0.2, "the pass's log line")

    def test_zz_reload_without_retention_stops_purging(self):
        # The housekeeping child also settles requests, so it stays: the
        # reload rolls it, and the new one purges nothing.
        pids = wait_until(purge_pids, 60, 0.1, "the housekeeping child")
        write_conf(0)
        try:
            mark = len(worker_log())
            S.signal("worker", signal.SIGHUP)
            wait_until(lambda: (lambda p: p and pids[0] not in p)(purge_pids()), 60, 0.2,
                       "the housekeeping child to be rolled")
            S.sql("INSERT INTO requests (ext_id, requested_at, finished_at, total, collected, cities) "
                  "VALUES ('expired-after-reload', NOW(6) - INTERVAL 5 DAY, "
                  "NOW(6) - INTERVAL 5 DAY, 1, 1, '[[62001, 1, 0]]')")
            status, _, body = S.post_collect({"id": "after-reload", "cities": [62004]})
            self.assertEqual(status, 202, body)
            S.wait_progress("after-reload", 100, timeout=60)
            S.wait_settled("after-reload", 60)     # the new child settles
            time.sleep(2)
            self.assertEqual(count("SELECT COUNT(*) FROM requests "
                                   "WHERE ext_id = 'expired-after-reload'"), 1)
            self.assertEqual(summaries(mark), [])
            self.assertEqual(len(children()), 3)
        finally:
            write_conf(1)


if __name__ == "__main__":
    unittest.main()

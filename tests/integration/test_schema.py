"""etc/schema.sql applied again, and over the schema of 2026-11-27 (every
city of a request in request_cities, no requests.cities, no fetches),
while the stack runs: requests stored the old way are carried over into
references (requests.cities, fetches), still answer GET, reach 100 and
show in the report views."""
import json
import os
import re
import unittest

from harness import Stack

S = None
SCHEMA = os.path.join(os.path.dirname(__file__), "..", "..", "etc", "schema.sql")
LONDON, PARIS, UNKNOWN = 2643743, 2988507, 900000123


def setUpModule():
    global S
    S = Stack(env={"OWMCOLLECT_OWM_CITIES_PER_MINUTE": "1200"}).start()


def tearDownModule():
    if S:
        S.stop()


def to_old_shape():
    """Back to the schema of 2026-11-27 (what an earlier test left goes,
    so the old queue entries can be numbered afresh)."""
    S.sql("DELETE FROM requests; DELETE FROM city_tasks; DROP TABLE fetches; "
          "ALTER TABLE requests DROP COLUMN cities, DROP COLUMN wait_fetch, "
          "DROP COLUMN cancelled_at; "
          "ALTER TABLE city_tasks DROP COLUMN fetch_id, DROP COLUMN created_by; "
          "CREATE TABLE request_cities (request_id BIGINT UNSIGNED NOT NULL, "
          "pos SMALLINT UNSIGNED NOT NULL, city_id INT UNSIGNED NOT NULL, "
          "state ENUM('pending', 'collected', 'failed') NOT NULL DEFAULT 'pending', "
          "reading_id BIGINT UNSIGNED NULL, error VARCHAR(200) NULL, "
          "done_at DATETIME(6) NULL, PRIMARY KEY (request_id, pos), "
          "UNIQUE KEY request_city (request_id, city_id), "
          "KEY city_state (city_id, state)) ENGINE=InnoDB;")


def apply_schema():
    with open(SCHEMA) as f:
        S.sql(f.read())


class Schema(unittest.TestCase):
    def test_apply_twice(self):
        before = S.sql("SHOW CREATE TABLE requests")
        apply_schema()
        apply_schema()
        self.assertEqual(S.sql("SHOW CREATE TABLE requests"), before)
        self.assertEqual(S.post_collect({"id": "after-reapply", "cities": [524901]}).status, 202)
        self.assertEqual(S.wait_progress("after-reapply", 100, timeout=60)["collected"], 1)

    def test_upgrade_from_every_city_in_request_cities(self):
        # Back to the old shape, then a request stored the old way: one
        # city collected, one failed, one pending with its queue entry.
        # (A database that old has no fetches yet: what test_apply_twice
        # left goes, so the old queue entries can be numbered afresh.)
        to_old_shape()
        S.sql("""
            INSERT INTO readings (city_id, temperature, humidity, observed_at, fetched_at)
                VALUES (%(l)d, 11.50, 80, '2026-11-27 10:00:00', NOW(6));
            SET @rd = LAST_INSERT_ID();
            INSERT INTO requests (ext_id, requested_at, total, collected, failed)
                VALUES ('old', NOW(6), 3, 1, 1);
            SET @rq = LAST_INSERT_ID();
            INSERT INTO request_cities (request_id, pos, city_id, state, reading_id, error, done_at)
                VALUES (@rq, 0, %(l)d, 'collected', @rd, NULL, NOW(6)),
                       (@rq, 1, %(u)d, 'failed', NULL, 'city not found', NOW(6)),
                       (@rq, 2, %(p)d, 'pending', NULL, NULL, NULL);
            INSERT INTO city_tasks (city_id, turn, ready_at, created_at)
                VALUES (%(p)d, 0, NOW(6), NOW(6));
        """ % {"l": LONDON, "u": UNKNOWN, "p": PARIS})
        apply_schema()

        # Every city now points at a fetch: the done ones at fetches of
        # their own, the pending one at its city's queue entry.
        cities = json.loads(S.sql("SELECT cities FROM requests WHERE ext_id = 'old'")[0][0])
        self.assertEqual([(c, r) for c, r, _ in cities], [(LONDON, 0), (UNKNOWN, 0), (PARIS, 0)])
        fetch = [f for _, _, f in cities]
        self.assertEqual(len(set(fetch)), 3)
        self.assertEqual(S.sql("SELECT id, state, error FROM fetches WHERE id IN (%d, %d) ORDER BY id"
                               % (fetch[0], fetch[1])),
                         [[str(fetch[0]), "collected", None], [str(fetch[1]), "failed", "city not found"]])
        self.assertEqual(S.sql("SHOW TABLES LIKE 'request_cities'"), [])

        # The worker fulfils the pending city through its queue entry.
        doc = S.wait_progress("old", 100, timeout=60)
        self.assertEqual((doc["total"], doc["collected"], doc["failed"]), (3, 2, 1))
        self.assertEqual([d["city_id"] for d in doc["data"]], [LONDON, UNKNOWN, PARIS])
        self.assertEqual(doc["data"][0]["temperature"], 11.5)
        self.assertEqual(doc["data"][0]["humidity"], 80)
        self.assertEqual(doc["data"][1], {"city_id": UNKNOWN, "name": None, "country": None, "lat": None, "lon": None,
                                           "error": "city not found"})
        self.assertIn("temperature", doc["data"][2])
        rows = S.sql("SELECT pos, city_id, state, error FROM request_data "
                     "WHERE id = 'old' ORDER BY pos")
        self.assertEqual(rows, [["0", str(LONDON), "collected", None],
                                ["1", str(UNKNOWN), "failed", "city not found"],
                                ["2", str(PARIS), "collected", None]])

        # A new request beside it: Paris's fresh reading fulfils it at
        # once; London (not in city_latest) points at a new queue entry.
        status, _, acc = S.post_collect({"id": "new-beside-old", "cities": [LONDON, PARIS]})
        self.assertEqual(status, 202, acc)
        self.assertEqual(acc["progress"], 50)
        got = json.loads(S.sql("SELECT cities FROM requests WHERE ext_id = 'new-beside-old'")[0][0])
        self.assertEqual([c[0] for c in got], [LONDON, PARIS])
        self.assertEqual(got[0][1], 0)
        self.assertGreater(got[0][2], max(fetch))
        self.assertGreater(got[1][1], 0)
        self.assertEqual(got[1][2], 0)
        doc = S.wait_progress("new-beside-old", 100, timeout=60)
        self.assertEqual(doc["collected"], 2)

    def test_upgrade_while_the_worker_ends_a_fetch(self):
        # A live worker may end a pending city's fetch (and drop its queue
        # entry) at any moment of the upgrade.  A trigger does it at the
        # worst one, as the done cities become fetches; under load a worker
        # once did, and the city was left pointing at no fetch (0), its
        # request never reaching 100.  (The trigger needs the fetches
        # table: an empty one, as a database a day newer would have.)
        to_old_shape()
        with open(SCHEMA) as f:
            S.sql(re.search(r"CREATE TABLE IF NOT EXISTS fetches \(.*?\) ENGINE=InnoDB;",
                            f.read(), re.S).group(0))
        S.sql("""
            INSERT INTO requests (ext_id, requested_at, total, collected, failed)
                VALUES ('racing', NOW(6), 2, 0, 1);
            SET @rq = LAST_INSERT_ID();
            INSERT INTO request_cities (request_id, pos, city_id, state, error, done_at)
                VALUES (@rq, 0, %(u)d, 'failed', 'city not found', NOW(6)),
                       (@rq, 1, %(p)d, 'pending', NULL, NULL);
            INSERT INTO city_tasks (city_id, turn, ready_at, created_at)
                VALUES (%(p)d, 0, NOW(6), NOW(6));
            CREATE TRIGGER owmtest_worker_ends AFTER INSERT ON fetches
                FOR EACH ROW DELETE FROM city_tasks WHERE city_id = %(p)d;
        """ % {"u": UNKNOWN, "p": PARIS})
        try:
            apply_schema()
        finally:
            S.sql("DROP TRIGGER IF EXISTS owmtest_worker_ends")
        cities = json.loads(S.sql("SELECT cities FROM requests WHERE ext_id = 'racing'")[0][0])
        self.assertEqual(cities[1][:2], [PARIS, 0])
        self.assertGreater(cities[1][2], 0, "Paris points at no fetch: %r" % cities)
        doc = S.wait_progress("racing", 100, timeout=60)
        self.assertEqual((doc["collected"], doc["failed"]), (1, 1))


if __name__ == "__main__":
    unittest.main()

"""The cities table: what the API said of each city it answered
for, upserted by the batch that stored the reading.

One stack at a scaled rate (1200 cities/min).  Real cities of the
stand-in's PLACES come back with their real names byte for byte (compared
as HEX of the column against the UTF-8 bytes), countries and coordinates;
hostile places served through the stand-in's "places" control (a
10,000-character name, lat 1e308, control characters, a formula) are not
stored while their readings are, and the worker log names the city and the
reason, never the value; a later answer with a new name updates the row,
and a reading reused without a call leaves it alone.
"""
import os
import time
import unittest

import owm_standin
from harness import Stack, wait_until

S = None
ENV = {
    "OWMCOLLECT_OWM_CITIES_PER_MINUTE": "1200",
    "OWMCOLLECT_OWM_BATCH_SIZE": "20",
    "OWMCOLLECT_WORKER_CHILDREN": "2",
}
REAL = [2643743, 360630, 3448439, 3094802, 3413829, 3688689, 2934246, 1850147]
VALID = {"name": "Valid Town", "country": "UY", "lat": -34.5, "lon": -56.25}


def setUpModule():
    global S
    S = Stack(env=ENV).start()


def tearDownModule():
    if S:
        S.stop()


def worker_log():
    with open(os.path.join(S.log, "worker.log"), "rb") as f:
        return f.read()


def collect(test, ext_id, ids):
    status, _, body = S.post_collect({"id": ext_id, "cities": ids})
    test.assertEqual(status, 202, body)
    doc = S.wait_progress(ext_id, 100, timeout=120)
    test.assertEqual((doc["collected"], doc["failed"]), (len(ids), 0), doc)
    return doc


def cities(ids):
    """{city_id: (name as UTF-8 bytes, country, lat, lon, seen_at)} from
    the table, the name read as HEX so no client conversion touches it."""
    rows = S.sql("SELECT city_id, HEX(name), country, lat, lon, seen_at FROM cities "
                 "WHERE city_id IN (%s)" % ", ".join(str(i) for i in ids))
    return {int(r[0]): (bytes.fromhex(r[1]), r[2], r[3], r[4], r[5]) for r in rows}


def states(ext_id):
    """{city_id: (state, temperature, HEX name or None, the temperature the
    stand-in serves for it at its observed_at)} of a request."""
    rows = S.sql("SELECT city_id, state, temperature, HEX(name), "
                 "TIMESTAMPDIFF(SECOND, '1970-01-01', observed_at) FROM request_data "
                 "WHERE id = '%s'" % ext_id)
    return {int(r[0]): (r[1], float(r[2]) if r[2] is not None else None, r[3],
                        owm_standin.celsius(int(r[0]), int(r[4])) if r[4] is not None else None)
            for r in rows}


def calls_for(cid):
    """API requests the stand-in saw that asked for cid."""
    return sum(1 for e in S.access_log() if cid in e["ids"])


def coord(x):
    return "%.6f" % x


class Cities(unittest.TestCase):
    def tearDown(self):
        S.standin_config(places={})

    def test_real_cities_stored_byte_for_byte(self):
        collect(self, "c-real", REAL)
        got = cities(REAL)
        self.assertEqual(sorted(got), sorted(REAL))
        for cid in REAL:
            name, country, lat, lon = owm_standin.PLACES[cid]
            self.assertEqual(got[cid][0], name.encode("utf-8"), cid)
            self.assertEqual(got[cid][1:4], (country, coord(lat), coord(lon)), cid)
        # São Paulo's and Reykjavík's bytes, spelled out.
        self.assertEqual(got[3448439][0], b"S\xc3\xa3o Paulo")
        self.assertEqual(got[3413829][0], b"Reykjav\xc3\xadk")
        # The views join them: request_data shows each city's name.
        for cid, (state, temp, hexname, served) in states("c-real").items():
            self.assertEqual(state, "collected")
            self.assertEqual(temp, served)
            self.assertEqual(bytes.fromhex(hexname), owm_standin.PLACES[cid][0].encode())
        # seen_at is the database's clock of the batch that stored the
        # reading: at or just after the reading's fetched_at.
        lag = S.sql("SELECT MIN(TIMESTAMPDIFF(MICROSECOND, rd.fetched_at, c.seen_at)), "
                    "MAX(TIMESTAMPDIFF(MICROSECOND, rd.fetched_at, c.seen_at)) "
                    "FROM cities c JOIN city_latest cl ON cl.city_id = c.city_id "
                    "JOIN readings rd ON rd.id = cl.reading_id WHERE c.city_id IN (%s)"
                    % ", ".join(str(i) for i in REAL))[0]
        self.assertGreaterEqual(int(lag[0]), 0)
        self.assertLess(int(lag[1]), 1000000)

    def test_unusual_but_valid_places_stored(self):
        places = {
            "61201": {"name": "Globe \U0001F30D \"quoted\" \\ back", "country": None,
                      "lat": -90, "lon": 180},
            "61202": {"name": "S\u00e3o Tom\u00e9", "country": "", "lat": 0.3365,
                      "lon": 6.7273},
            "61203": {"name": "x" * 255, "country": "ST", "lat": 90.0, "lon": -180.0},
            "61204": {"name": "\u00e9" * 127 + "a", "country": "FR", "lat": 1, "lon": 2},
        }
        S.standin_config(places=places)
        ids = [int(k) for k in places]
        collect(self, "c-unusual", ids)
        got = cities(ids)
        self.assertEqual(sorted(got), ids)
        for k, p in places.items():
            name, country, lat, lon, _ = got[int(k)]
            self.assertEqual(name, p["name"].encode("utf-8"), k)
            self.assertEqual(country, p["country"] or None, k)
            self.assertEqual((lat, lon), (coord(p["lat"]), coord(p["lon"])), k)
        self.assertEqual(len(got[61203][0]), 255)
        self.assertEqual(len(got[61204][0]), 255)

    def test_hostile_places_not_stored_readings_kept(self):
        hostile = {
            61001: ({"name": "x" * 10000}, "name longer than 255 bytes"),
            61002: ({"lat": 1e308}, "latitude out of range"),
            61003: ({"name": "Ann\u0001Arbor"}, "name has a control character"),
            61004: ({"name": "=1+1"}, "name starts like a formula"),
            61005: ({"name": "@SUM(A1:A9)"}, "name starts like a formula"),
            61006: ({"country": "GBR"}, "country is not two letters A-Z"),
            61007: ({"country": "gb"}, "country is not two letters A-Z"),
            61008: ({"lon": -180.5}, "longitude out of range"),
            61009: ({"name": "Ann\u0085Arbor"}, "name has a control character"),
            61010: ({"name": "Ann\u007fArbor"}, "name has a control character"),
            61011: ({"lat": "12"}, "latitude is not a finite number"),
            61013: ({"name": 12}, "name is not a string"),
            # coord stays, empty: present and invalid
            61014: ({"lat": None, "lon": None}, "latitude missing"),
        }
        absent = {61020: {"name": None}, 61012: {"name": ""}}  # the API knows none
        # Each a whole place but for the one member (the stand-in gives
        # these ids none of its own).
        places = {str(k): dict(VALID, **v[0]) for k, v in hostile.items()}
        places.update({str(k): dict(VALID, **v) for k, v in absent.items()})
        S.standin_config(places=places)
        ids = sorted(hostile) + sorted(absent)
        before = len(worker_log())
        collect(self, "c-hostile", ids)
        # Every reading collected and stored as served.
        for cid, (state, temp, hexname, served) in states("c-hostile").items():
            self.assertEqual((state, temp, hexname), ("collected", served, None), cid)
        # No place stored, not even a part of one.
        self.assertEqual(cities(ids), {})
        self.assertEqual(S.sql("SELECT COUNT(*) FROM latest_readings WHERE name IS NOT NULL "
                               "AND city_id IN (%s)" % ", ".join(map(str, ids))), [["0"]])
        # One warning per refused place, naming the city and the reason.
        log = wait_until(lambda: (lambda l: l if all(
            (b"city %d: " % c) in l for c in hostile) else None)(worker_log()[before:]),
            30, 0.1, "the worker's warnings")
        lines = [ln for ln in log.splitlines() if b"not kept" in ln]
        for cid, (_, why) in hostile.items():
            mine = [ln for ln in lines if (b"city %d: " % cid) in ln]
            self.assertEqual(len(mine), 1, (cid, mine))
            self.assertIn(why.encode(), mine[0], cid)
        # Absent members are no place and nothing to say.
        for cid in absent:
            self.assertNotIn(b"city %d: " % cid, log)
        # The values themselves never reach the log.
        for v in (b"x" * 300, b"=1+1", b"@SUM", b"GBR", b"Ann\x01", b"Ann\xc2\x85", b"1e+308"):
            self.assertNotIn(v, log)

    def test_new_name_updates_row_reuse_does_not(self):
        cid = 61101
        S.standin_config(places={str(cid): {"name": "Oldtown", "country": "DE",
                                            "lat": 10.25, "lon": 20.5}})
        collect(self, "c-old", [cid])
        first = cities([cid])[cid]
        self.assertEqual(first[:4], (b"Oldtown", "DE", coord(10.25), coord(20.5)))
        new = {"name": "Neustadt \u00fc", "country": "AT", "lat": -10.125, "lon": -20.0625}
        S.standin_config(places={str(cid): new})
        # Within worker.reuse_seconds: served from the stored reading, no
        # call, and the row is what that reading's answer said.
        calls = calls_for(cid)
        status, _, body = S.post_collect({"id": "c-reused", "cities": [cid]})
        self.assertEqual((status, body["progress"]), (202, 100))
        time.sleep(1)
        self.assertEqual(calls_for(cid), calls)
        self.assertEqual(cities([cid])[cid], first)
        # Once the reading is stale, the city is fetched again and its
        # row takes the new answer.
        S.sql("UPDATE city_latest SET fetched_at = fetched_at - INTERVAL 1 DAY "
              "WHERE city_id = %d" % cid)
        collect(self, "c-new", [cid])
        self.assertEqual(calls_for(cid), calls + 1)
        second = cities([cid])[cid]
        self.assertEqual(second[:4], (new["name"].encode(), "AT", coord(-10.125), coord(-20.0625)))
        self.assertGreater(second[4], first[4])
        self.assertEqual(bytes.fromhex(states("c-new")[cid][2]), new["name"].encode())


if __name__ == "__main__":
    unittest.main()

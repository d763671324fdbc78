"""GET /get's city fields (name, country, lat, lon) and its CSV
(?format=csv) through the real nginx, FastCGI program and MariaDB.

A document shows each city's place as the answer of its reading gave it
(readings.name, country, lat, lon).  Names the worker would refuse from
the API (CR, LF, U+2028) must still come out escaped, so the tests write
the places themselves, as the database owner, into the readings (and the
cities rows) once a request's cities are all done and before anything has
read its document (a finished document is cached for good by nginx and
each FastCGI process).  Values are passed as hex, so every byte is the
test's: non-ASCII names, a comma, a double quote, CR and LF."""
import csv
import io
import json
import re
import unittest
import urllib.parse

from harness import Stack, wait_until

S = None
ENV = {"OWMCOLLECT_OWM_CITIES_PER_MINUTE": "1200"}

# city_id -> (name, country, lat, lon) as stored (DECIMAL text), and lat,
# lon as GET /get's JSON writes them.
PLACES = {
    2643743: ("London", "GB", "51.508500", "-0.125700", "51.5085", "-0.1257"),
    3448439: ("São Paulo", "BR", "-23.547500", "-46.636110", "-23.5475", "-46.63611"),
    3094802: ("Kraków", "PL", "50.083300", "19.916700", "50.0833", "19.9167"),
    1850147: ("東京", "JP", "35.689500", "139.691710", "35.6895", "139.69171"),
    100001: ("Weather 🌦️ Town 🌍", "ZZ", "10.000000", "0.000000", "10", "0"),
    100002: ("Washington, D.C.", "US", "38.895100", "-77.036400", "38.8951", "-77.0364"),
    100003: ('The "Big" Apple', "US", "40.712800", "-74.006000", "40.7128", "-74.006"),
    100004: ("Line\nbreak\r\nCity", "XX", "-90.000000", "180.000000", "-90", "180"),
    100005: ("No country, \"all\" of it\r", None, "0.500000", "-0.500000", "0.5", "-0.5"),
    100006: ("back\\slash\u2028sep ,", "", "-0.000100", "99.999999", "-0.0001", "99.999999"),
    # Unknown to the stand-in ("city not found"), but seen once: a failed
    # city shows no place all the same (what a finished document shows
    # never changes, and a failed city's place may come later).
    900000002: ("Atlantis", "AQ", "-75.250000", "0.000100", "-75.25", "0.0001"),
}
NEVER = 900000001       # unknown to the stand-in, and no row: nulls
CITIES = list(PLACES)[:-1] + [NEVER, 900000002]
MAIN = "cities \"São Paulo\" & co"
HEADER = ["city_id", "name", "country", "temperature", "humidity", "observed_at", "error"]


def lit(v):
    """A SQL literal of v's exact UTF-8 bytes (None: NULL)."""
    return "NULL" if v is None else "_utf8mb4 X'%s'" % v.encode("utf-8").hex()


def put_places(places):
    rows = ", ".join("(%d, %s, %s, %s, %s, NOW(6))" % (cid, lit(p[0]), lit(p[1]), p[2], p[3])
                     for cid, p in places.items())
    S.sql("INSERT INTO cities (city_id, name, country, lat, lon, seen_at) VALUES %s "
          "ON DUPLICATE KEY UPDATE name = VALUES(name), country = VALUES(country), "
          "lat = VALUES(lat), lon = VALUES(lon), seen_at = VALUES(seen_at)" % rows)
    S.sql("".join("UPDATE readings SET place = 1, name = %s, country = %s, lat = %s, lon = %s "
                  "WHERE city_id = %d;" % (lit(p[0]), lit(p[1]), p[2], p[3], cid)
                  for cid, p in places.items()))


def wait_done(ident, timeout=120):
    """Until no city of the request is pending, read in SQL: a GET would
    put its document in the caches."""
    q = ("SELECT COUNT(*), COALESCE(SUM(d.state = 'pending'), 0) FROM requests q "
         "JOIN request_data d ON d.request_id = q.id WHERE q.ext_id = %s" % lit(ident))

    def done():
        n, pending = (int(x) for x in S.sql(q)[0])
        return n > 0 and pending == 0
    wait_until(done, timeout, 0.2, "every city of %r to be done" % ident)


def post_done(ident, cities):
    r = S.post_collect({"id": ident, "cities": cities})
    assert r.status == 202, (r.status, r.body)
    wait_done(ident)


def path(ident, fmt=None, extra=""):
    p = "/get?id=" + urllib.parse.quote(ident, safe="")
    if fmt is not None:
        p += "&format=" + fmt
    return p + extra


def get(ident, fmt=None, extra="", method="GET"):
    return S.request(method, path(ident, fmt, extra))


def raw_json(body):
    """A document with every number as its text, as written."""
    return json.loads(body.decode("utf-8"), parse_float=str, parse_int=str)


def csv_of(doc):
    """The CSV the contract derives from a JSON document, written by
    Python's csv module (RFC 4180: minimal quoting, CRLF)."""
    out = io.StringIO(newline="")
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(HEADER)
    for it in doc["data"]:
        w.writerow([it["city_id"], it["name"], it["country"], it.get("temperature"),
                    it.get("humidity"), it.get("observed_at"), it.get("error")])
    return out.getvalue().encode("utf-8")


def csv_rows(body):
    return list(csv.reader(io.StringIO(body.decode("utf-8"), newline=""), strict=True))


def disposition(ident):
    b = ident.encode("utf-8")
    return "attachment; filename=\"%s.csv\"; filename*=UTF-8''%s.csv" % (
        re.sub(rb"[^A-Za-z0-9._-]", b"_", b).decode("ascii"), urllib.parse.quote(b, safe=""))


def setUpModule():
    global S
    S = Stack(env=ENV).start()
    post_done(MAIN, CITIES)
    put_places(PLACES)


def tearDownModule():
    if S:
        S.stop()


class Fields(unittest.TestCase):
    def test_stored_as_given(self):
        rows = S.sql("SELECT city_id, HEX(name), HEX(country), lat, lon FROM cities "
                     "WHERE city_id IN (%s)" % ", ".join(map(str, PLACES)))
        got = {int(r[0]): (bytes.fromhex(r[1]).decode(), r[2] and bytes.fromhex(r[2]).decode(), r[3], r[4])
               for r in rows}
        self.assertEqual(got, {c: p[:4] for c, p in PLACES.items()})

    def test_json_items(self):
        r = get(MAIN)
        self.assertEqual(r.status, 200, r.body)
        self.assertTrue(r.headers["content-type"].startswith("application/json"))
        doc = raw_json(r.body)
        self.assertIsNotNone(doc["finished_at"])
        data = doc["data"]
        self.assertEqual([int(it["city_id"]) for it in data], CITIES)
        for it in data:
            cid = int(it["city_id"])
            with self.subTest(city=cid):
                # The new members follow city_id, in the contract's order.
                self.assertEqual(list(it)[:5], ["city_id", "name", "country", "lat", "lon"])
                if cid >= 900000000:
                    self.assertEqual((it["name"], it["country"], it["lat"], it["lon"]),
                                     (None, None, None, None))
                    self.assertEqual(it["error"], "city not found")
                    self.assertNotIn("temperature", it)
                    continue
                name, country, _, _, lat, lon = PLACES[cid]
                self.assertEqual((it["name"], it["country"], it["lat"], it["lon"]),
                                 (name, country, lat, lon))
                self.assertNotIn("error", it)
                self.assertIn("temperature", it)
        # Non-ASCII goes out raw, byte for byte, not as \\u escapes.
        for cid in (3448439, 3094802, 1850147, 100001):
            self.assertIn(json.dumps(PLACES[cid][0], ensure_ascii=False).encode("utf-8"), r.body)
        # Escaped where JSON needs it: quote, backslash, CR, LF, U+2028.
        self.assertIn(b'"The \\"Big\\" Apple"', r.body)
        self.assertIn(b'"Line\\nbreak\\r\\nCity"', r.body)
        self.assertIn(b'"back\\\\slash\\u2028sep ,"', r.body)

    def test_format_json_is_the_default(self):
        a, b = get(MAIN), get(MAIN, "json")
        self.assertEqual((a.status, b.status), (200, 200))
        self.assertEqual(a.body, b.body)
        self.assertEqual(a.headers["content-type"], b.headers["content-type"])
        self.assertNotIn("content-disposition", b.headers)


class Csv(unittest.TestCase):
    def test_document(self):
        j, c = get(MAIN), get(MAIN, "csv")
        self.assertEqual(c.status, 200, c.body)
        self.assertEqual(c.headers["content-type"], "text/csv; charset=utf-8")
        self.assertEqual(c.headers["cache-control"], j.headers["cache-control"])
        self.assertIn("immutable", c.headers["cache-control"])
        # Byte for byte what Python's csv module makes of the JSON's data.
        self.assertEqual(c.body, csv_of(raw_json(j.body)))
        self.assertTrue(c.body.endswith(b"\r\n"))
        rows = csv_rows(c.body)
        self.assertEqual(rows[0], HEADER)
        self.assertEqual([int(r[0]) for r in rows[1:]], CITIES)
        for row in rows[1:]:
            cid = int(row[0])
            with self.subTest(city=cid):
                self.assertEqual(len(row), len(HEADER))
                if cid >= 900000000:
                    self.assertEqual(row[1:], ["", "", "", "", "", "city not found"])
                    continue
                name, country = PLACES[cid][:2]
                self.assertEqual((row[1], row[2]), (name, country or ""))
                self.assertRegex(row[3], r"^-?\d+\.\d\d$")
                self.assertRegex(row[4], r"^\d+$")
                self.assertRegex(row[5], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
                self.assertEqual(row[6], "")
        # Quoted exactly where RFC 4180 needs it, quotes doubled.
        for raw in (b'"Washington, D.C."', b'"The ""Big"" Apple"', b'"Line\nbreak\r\nCity"',
                    b'"No country, ""all"" of it\r"', "Kraków,PL".encode()):
            self.assertIn(raw, c.body)

    def test_content_disposition(self):
        for ident in ('report "Q3" São Paulo', "a\\b;c=d, 100% ~x", "é" * 64, "東京 🌦️"):
            with self.subTest(ident=ident):
                post_done(ident, [NEVER])
                r = get(ident, "csv")
                self.assertEqual(r.status, 200, r.body)
                value = r.headers["content-disposition"]
                self.assertEqual(value, disposition(ident))
                self.assertRegex(value, r"^[\x20-\x7e]+$")
                self.assertEqual(value.count('"'), 2)
                # RFC 6266 / 8187, read back: the ext-value is attr-chars
                # and %XX only, and decodes to the id's bytes.
                kind, plain, ext = value.split("; ")
                self.assertEqual(kind, "attachment")
                self.assertRegex(plain, r'^filename="[A-Za-z0-9._-]+\.csv"$')
                self.assertTrue(ext.startswith("filename*=UTF-8''"), ext)
                ext = ext[len("filename*=UTF-8''"):]
                self.assertRegex(ext, r"^([A-Za-z0-9!#$&+.^_`|~-]|%[0-9A-F]{2})+$")
                self.assertEqual(urllib.parse.unquote_to_bytes(ext), ident.encode("utf-8") + b".csv")
                self.assertEqual(csv_rows(r.body), [HEADER, [str(NEVER), "", "", "", "", "", "city not found"]])

    def test_head(self):
        r = get(MAIN, "csv", method="HEAD")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"")
        self.assertEqual(r.headers["content-type"], "text/csv; charset=utf-8")
        self.assertEqual(r.headers["content-disposition"], disposition(MAIN))

    def test_errors_stay_json(self):
        cases = [
            (path(MAIN, "bogus"), 400, "format must be json or csv"),
            (path(MAIN, "CSV"), 400, "format must be json or csv"),
            (path(MAIN, ""), 400, "format must be json or csv"),
            (path(MAIN, "csv", "&format=csv"), 400, "repeats"),
            (path(MAIN, "%zz"), 400, "percent"),
            ("/get?format=csv", 400, "id is missing"),
            (path("never-posted", "csv"), 404, "no request has this id"),
        ]
        for p, status, why in cases:
            with self.subTest(path=p):
                r = S.request("GET", p)
                self.assertEqual(r.status, status, r.body)
                self.assertTrue(r.headers["content-type"].startswith("application/json"), r.headers)
                self.assertNotIn("content-disposition", r.headers)
                self.assertIn(why, r.json["error"])
        self.assertEqual(S.request("GET", path(MAIN, "bogus")).json,
                         {"error": "format must be json or csv"})


class Caching(unittest.TestCase):
    def test_finished_csv_cached_like_json(self):
        ident = "cache me"
        post_done(ident, [2643743, NEVER])
        first = {f: get(ident, f) for f in (None, "csv", "json")}
        for f, r in first.items():
            self.assertEqual(r.status, 200, r.body)
            self.assertEqual(r.headers.get("x-cache"), "MISS", f)
            self.assertIn("immutable", r.headers["cache-control"])
        for _ in range(2):
            for f, r in first.items():
                again = get(ident, f)
                self.assertEqual(again.headers.get("x-cache"), "HIT", f)
                self.assertEqual(again.body, r.body, f)
                for h in ("content-type", "cache-control", "content-disposition"):
                    self.assertEqual(again.headers.get(h), r.headers.get(h), (f, h))
        self.assertEqual(first[None].body, first["json"].body)
        self.assertTrue(first["csv"].body.startswith(b"city_id,name,"))
        self.assertEqual(first["csv"].body, csv_of(raw_json(first[None].body)))

    def test_json_and_csv_never_mixed(self):
        # Past nginx's cache (a new URI each time), so the FastCGI
        # processes' own caches answer: each keeps a request's JSON and
        # CSV apart.
        want = {f: get(MAIN, f, "&n=ref") for f in ("json", "csv")}
        for k in range(48):
            f = ("json", "csv")[k % 2]
            r = get(MAIN, f, "&n=%d" % k)
            self.assertEqual(r.status, 200)
            self.assertEqual(r.headers.get("x-cache"), "MISS")
            self.assertEqual(r.headers["content-type"], want[f].headers["content-type"], k)
            self.assertEqual(r.body, want[f].body, k)

    def test_unfinished_not_stored(self):
        ident = "in progress"
        cities = list(range(700000001, 700000301))  # 15 s at 1200/min
        self.assertEqual(S.post_collect({"id": ident, "cities": cities}).status, 202)
        seen = []
        for f in ("csv", "json", "csv", "json"):
            r = get(ident, f)
            self.assertEqual(r.status, 200, r.body)
            self.assertEqual(r.headers["cache-control"], "no-store", f)
            self.assertNotEqual(r.headers.get("x-cache"), "HIT", f)
            if f == "csv":
                rows = csv_rows(r.body)
                self.assertEqual(rows[0], HEADER)
                ids = [int(x[0]) for x in rows[1:]]
                seen.append(len(ids))
                # Done cities only, in request order.
                self.assertEqual(ids, sorted(ids))
                self.assertTrue(set(ids) <= set(cities))
            else:
                self.assertIsNone(r.json["finished_at"])
        self.assertLess(min(seen), len(cities))
        # Cancelled, it is finished: every city a record, then cached.
        self.assertEqual(S.request("DELETE", "/collect?id=" + urllib.parse.quote(ident)).status, 200)
        j = get(ident)
        c = get(ident, "csv")
        self.assertIn("immutable", c.headers["cache-control"])
        self.assertEqual(c.body, csv_of(raw_json(j.body)))
        self.assertEqual(len(csv_rows(c.body)), 1 + len(cities))
        self.assertEqual(get(ident, "csv").headers.get("x-cache"), "HIT")


if __name__ == "__main__":
    unittest.main()

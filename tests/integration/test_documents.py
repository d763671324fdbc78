"""A finished document is the same bytes forever, from every cache and
from a fresh build.

- The API renames a city (or moves it) after a request got its reading:
  that request still shows the place its own reading's answer gave.
- A cancel that races the commit of a batch storing one of the request's
  cities: the batch writes the fetch's outcome, then waits (here for a
  lock this test holds on the city's `cities` row) before it commits; the
  DELETE comes meanwhile.  The cancel must see that outcome (it waits for
  the commit), so that what it answers, what the caches keep, a fresh
  build and the request's row all say the same.

A fresh build is the document under a key no cache has seen: the id with
one byte percent-encoded (nginx keys on the request URI) after the
FastCGI processes started again (their own cache keys on the id).
"""
import os
import pwd
import subprocess
import threading
import time
import unittest
import urllib.parse

from harness import Stack, wait_until

LIMIT = 1200
S = None


def setUpModule():
    global S
    S = Stack(env={"OWMCOLLECT_OWM_CITIES_PER_MINUTE": str(LIMIT),
                   "OWMCOLLECT_WORKER_REUSE_SECONDS": "0"}).start()


def tearDownModule():
    if S:
        S.stop()


def spelled_anew(ident):
    """The same id with its first byte percent-encoded: a key no cache has."""
    return "%%%02X" % ord(ident[0]) + urllib.parse.quote(ident[1:], safe="")


def fresh_get(ident):
    """The document built anew: the FastCGI program restarted (its cache
    goes), the URI spelled as no one has asked for it (nginx's)."""
    pid = S.pid("fcgi")
    S.signal("fcgi", 15)
    wait_until(lambda: not os.path.exists("/proc/%d" % pid), 30, what="fcgi to stop")
    S.stack("start-one", "fcgi")
    r = S.request("GET", "/get?id=" + spelled_anew(ident))
    assert r.status == 200, r.body
    return r


class Holder:
    """A second database session holding row locks until release()."""

    def __init__(self, statement):
        self.p = subprocess.Popen(
            ["mariadb", "--no-defaults", "--socket=" + os.path.join(S.run, "mysqld.sock"),
             "-u" + pwd.getpwuid(os.getuid()).pw_name, "-N", "-B", "--unbuffered", "owmcollect"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.p.stdin.write("START TRANSACTION; %s; SELECT 'locked';\n" % statement)
        self.p.stdin.flush()
        while self.p.stdout.readline().strip() != "locked":
            if self.p.poll() is not None:
                raise AssertionError("the holding session ended")

    def release(self):
        if self.p.poll() is None:
            self.p.stdin.write("ROLLBACK;\n")
            self.p.stdin.close()
            self.p.wait(30)


class FinishedDocuments(unittest.TestCase):
    def test_rename_after_the_reading(self):
        city = 940001
        first = {"name": "Villa Primera", "country": "UY", "lat": -34.5, "lon": -56.25}
        S.standin_config(places={str(city): first})
        try:
            self.assertEqual(S.post_collect({"id": "named-1", "cities": [city]}).status, 202)
            doc1 = S.wait_progress("named-1", 100, timeout=30)
            self.assertEqual(doc1["data"][0]["name"], "Villa Primera")
            before = S.request("GET", "/get?id=named-1").body
            # The API renames and moves the city; a new request fetches it.
            S.standin_config(places={str(city): {"name": "Ciudad Nueva", "country": "AR",
                                                 "lat": -31.0, "lon": -60.5}})
            self.assertEqual(S.post_collect({"id": "named-2", "cities": [city]}).status, 202)
            doc2 = S.wait_progress("named-2", 100, timeout=30)
            self.assertEqual((doc2["data"][0]["name"], doc2["data"][0]["country"]),
                             ("Ciudad Nueva", "AR"))
        finally:
            S.standin_config(places={})
        # The first request's place, stored and served, is its own answer's.
        self.assertEqual(S.sql("SELECT name, country, lat, lon FROM request_data "
                               "WHERE id = 'named-1'"),
                         [["Villa Primera", "UY", "-34.500000", "-56.250000"]])
        self.assertEqual(S.request("GET", "/get?id=named-1").body, before)
        self.assertEqual(fresh_get("named-1").body, before)
        # The city's row says what the API says now (the report view).
        self.assertEqual(S.sql("SELECT name FROM latest_readings WHERE city_id = %d" % city),
                         [["Ciudad Nueva"]])

    def test_cancel_racing_a_batch_commit(self):
        city = 941001
        # The batch's upsert of the city's row will wait for this lock,
        # after it wrote the fetch's outcome.
        S.sql("INSERT INTO cities (city_id, name, country, lat, lon, seen_at) "
              "VALUES (%d, 'Held', 'UY', 1, 1, NOW(6))" % city)
        hold = Holder("SELECT city_id FROM cities WHERE city_id = %d FOR UPDATE" % city)
        answer = {}
        try:
            self.assertEqual(S.post_collect({"id": "race", "cities": [city]}).status, 202)
            wait_until(lambda: S.sql("SET SESSION TRANSACTION ISOLATION LEVEL READ UNCOMMITTED; "
                                     "SELECT COUNT(*) FROM fetches WHERE city_id = %d" % city)
                       == [["1"]], 30, 0.05, "the batch to write the fetch's outcome")

            def cancel():
                answer["r"] = S.request("DELETE", "/collect?id=race")
            t = threading.Thread(target=cancel)
            t.start()
            time.sleep(1.5)     # the DELETE meets the batch in flight
        finally:
            hold.release()
        t.join(30)
        r = answer["r"]
        self.assertEqual(r.status, 200, r.body)
        said = r.json
        self.assertEqual((said["collected"], said["failed"]), (1, 0), said)
        self.assertNotIn("error", said["data"][0])
        S.wait_settled(["race"])
        self.assertEqual(S.sql("SELECT collected, failed FROM requests WHERE ext_id = 'race'"),
                         [["1", "0"]])
        served = S.request("GET", "/get?id=race").body
        self.assertEqual(fresh_get("race").body, served)
        self.assertEqual(S.get("race").json["data"][0]["temperature"],
                         said["data"][0]["temperature"])


if __name__ == "__main__":
    unittest.main()

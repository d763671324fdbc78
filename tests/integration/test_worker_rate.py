"""The rate limit (docs/design.md, "The rate limit"), proven on the stand-in's access log: the API
server never sees more than cities_per_minute cities in any 60-second window
of arrivals, with one child, with several children, and with two worker
supervisors sharing one database.

The window is the API's minute and cannot be scaled, so each scenario posts
more cities than one minute allows and runs a little over a minute; the
scenarios run side by side (each on its own stack) to keep the suite short.

Every call the server sees was reserved: a third scenario has the server
read, count and then drop one request in ten without answering, which on a
reused connection makes libcurl send the request again unasked (the
worker refuses that resend: one reservation, one send).
"""
import signal
import time
import unittest

from harness import max_window, result_of, second_worker, side_by_side, wait_beating, wait_until

RESULTS = {}


def post(s, ext_id, cities):
    status, _, body = s.post_collect({"id": ext_id, "cities": cities})
    assert status == 202, body
    return body


def audit(s):
    log = s.access_log()
    return {
        "max_window": max_window(log),
        "cities": sum(len(e["ids"]) for e in log),
        "limit_faults": sum(1 for e in log if e["fault"] == "limit"),
        "span": log[-1]["t"] - log[0]["t"] if log else 0,
        "log": log,
    }


ONE_CHILD = {"OWMCOLLECT_OWM_CITIES_PER_MINUTE": "600", "OWMCOLLECT_OWM_BATCH_SIZE": "20",
             "OWMCOLLECT_WORKER_CHILDREN": "1"}
TWO_SUPERVISORS = {"OWMCOLLECT_OWM_CITIES_PER_MINUTE": "1200", "OWMCOLLECT_OWM_BATCH_SIZE": "20",
                   "OWMCOLLECT_WORKER_CHILDREN": "3"}
DROPPED = {"OWMCOLLECT_OWM_CITIES_PER_MINUTE": "1200", "OWMCOLLECT_OWM_BATCH_SIZE": "20",
           "OWMCOLLECT_WORKER_CHILDREN": "2"}


def one_child(s):
    """1 child, 600/min: 800 cities, plus 5 posted once the first minute's
    allowance is spent."""
    t0 = time.time()
    post(s, "r1-big", list(range(500001, 500801)))
    wait_until(lambda: sum(len(e["ids"]) for e in s.access_log()) >= 600, 75,
               what="the first minute's 600 cities")
    burst = time.time() - t0
    time.sleep(2)
    post(s, "r1-small", list(range(510001, 510006)))
    big = s.wait_progress("r1-big", 100, timeout=120)
    small = s.wait_progress("r1-small", 100, timeout=10)
    r = audit(s)
    r.update(limit=600, burst=burst, big=big, small=small, took=time.time() - t0)
    return r


def two_supervisors(s):
    """2 supervisors on one database, 1200/min: 1600 cities.  The second
    connects over TCP with its own configuration (2 children, group mode)."""
    # The second "host" reaches the database over TCP, with another
    # configuration: 2 children in group mode (the first: 3, single).
    s.standin_config(key="")
    w2 = second_worker(s, {"OWMCOLLECT_OWM_MODE": "group", "OWMCOLLECT_WORKER_CHILDREN": "2"})
    try:
        wait_beating(s, w2, 2)
        t0 = time.time()
        post(s, "r2-a", list(range(600001, 600801)))
        post(s, "r2-b", list(range(610001, 610801)))
        a = s.wait_progress("r2-a", 100, timeout=120)
        b = s.wait_progress("r2-b", 100, timeout=30)
        owners = s.sql("SELECT DISTINCT SUBSTRING_INDEX(SUBSTRING_INDEX(owner, ':', 2), "
                       "':', -1) FROM rate_slots")
        parents = set()
        for (pid,) in owners:
            try:
                with open("/proc/%s/stat" % pid) as f:
                    parents.add(int(f.read().rsplit(")", 1)[1].split()[1]))
            except OSError:
                pass
        r = audit(s)
        r.update(limit=1200, a=a, b=b, took=time.time() - t0,
                 supervisors=parents & {s.pid("worker"), w2.pid},
                 children=len(owners))
    finally:
        w2.send_signal(signal.SIGTERM)
        w2.wait(timeout=40)
    return r


def dropped(s):
    """400 cities at 1200/min; the server counts one request in ten and
    closes its connection without a byte of answer."""
    s.standin_config(p_drop=0.1)
    t0 = time.time()
    post(s, "r3-drop", list(range(620001, 620401)))
    doc = s.wait_progress("r3-drop", 100, timeout=120)
    r = audit(s)
    r.update(limit=1200, doc=doc, took=time.time() - t0,
             drops=sum(1 for e in r["log"] if e["fault"] == "drop"),
             reserved=int(s.sql("SELECT COALESCE(SUM(cities), 0) FROM api_minutes")[0][0]))
    return r


def setUpModule():
    # The minute-long scenarios run side by side, each on its stack.
    RESULTS.update(side_by_side([("one_child", one_child, ONE_CHILD),
                                 ("two_supervisors", two_supervisors, TWO_SUPERVISORS),
                                 ("dropped", dropped, DROPPED)]))


class RateLimit(unittest.TestCase):
    def result(self, name):
        return result_of(RESULTS, name)

    def check_window(self, r, total):
        print("\n  %d cities, max %d in any 60 s window (limit %d), span %.1f s, %d over-limit 429s"
              % (r["cities"], r["max_window"], r["limit"], r["span"], r["limit_faults"]))
        self.assertEqual(r["cities"], total)
        self.assertLessEqual(r["max_window"], r["limit"])
        self.assertEqual(r["limit_faults"], 0)
        # Paced by cities (a batch of 20 every 20/limit minutes), the
        # whole allowance is used and no more: the last batch leaves about
        # (cities - 20) / limit minutes after the first.
        paced = (total - 20) * 60.0 / r["limit"]
        self.assertGreater(r["span"], paced - 2)
        self.assertLess(r["span"], paced + 8)

    def test_one_child(self):
        r = self.result("one_child")
        self.check_window(r, 805)
        self.assertEqual(r["big"]["collected"], 800)
        # Posted while the gate was shut, the small request rode the first
        # batches after it reopened, ahead of the big one's tail.
        self.assertLessEqual(r["small"]["finished_at"], r["big"]["finished_at"])
        ts = [e["t"] for e in r["log"]]
        small_at = max(e["t"] for e in r["log"] if e["ids"][0] >= 510001)
        self.assertLessEqual(sum(1 for t in ts if t < small_at), 600 + 3 * 20)

    def test_two_supervisors_several_children(self):
        r = self.result("two_supervisors")
        self.check_window(r, 1600)
        self.assertEqual((r["a"]["collected"], r["b"]["collected"]), (800, 800))
        print("  %d children of %d supervisors reserved slots" % (r["children"], len(r["supervisors"])))
        self.assertEqual(len(r["supervisors"]), 2)
        self.assertGreaterEqual(r["children"], 4)
        # Both kinds of call arrived (single from one host, group from the
        # other), and no city was fetched twice.
        paths = {e["path"] for e in r["log"]}
        self.assertEqual(paths, {"/data/2.5/weather", "/data/2.5/group"})
        fetched = [i for e in r["log"] if e["status"] == 200 for i in e["ids"]]
        self.assertEqual(len(fetched), len(set(fetched)))
        self.assertEqual(len(set(fetched)), 1600)

    def test_each_call_reserved_even_when_the_connection_drops(self):
        r = self.result("dropped")
        print("\n  %d cities asked of the server for %d reserved, %d dropped unanswered, "
              "done in %.1f s" % (r["cities"], r["reserved"], r["drops"], r["took"]))
        self.assertGreater(r["drops"], 0)
        # A request dropped on a reused connection was not sent again
        # unreserved: what the server saw is at most what was reserved.
        self.assertLessEqual(r["cities"], r["reserved"])
        self.assertLessEqual(r["max_window"], r["limit"])
        self.assertEqual((r["doc"]["collected"], r["doc"]["failed"]), (400, 0))


if __name__ == "__main__":
    unittest.main()

"""A worker child killed mid-batch holds its cities only for moments.

Group mode, 3 children, 1,200 cities/min (the API stand-in answering after
~1.5 s, so a batch is in flight most of the time), two requests of the
same new cities posted together.  Ten times, a fetching child holding
leases (found through its lease's owner and its heartbeat row, checked
against the supervisor's children in /proc) is stopped, the cities still
leased to it are noted, and it is killed with SIGKILL: every one of those
cities must be asked of the API again within 10 s (the supervisor replaces
the child at once; its leases alone would hold the cities for
worker.lease_seconds, 60 s by default).  Then both requests reach 100 %,
each city collected once per request.

A child that does not die but stops (a host frozen, or gone without its
supervisor noticing) leaves its leases to expire: they end soon after its
calls' deadline (owm.margin_ms + owm.timeout_ms after the slot, then 10 s
to store), not worker.lease_seconds after the claim.
"""
import os
import signal
import time
import unittest

from harness import Stack, fetching_children, wait_stopped, wait_until

S = None
CHILDREN = 3
KILLS = 10
REFETCH_S = 10          # generous: a replacement starts within a second
# A stopped child's lease: the slot + 1 s margin + 10 s timeout + 10 s to
# store, and a claim; 60 s (worker.lease_seconds) before.
EXPIRE_S = 40
# Two pairs of requests (a request holds 1,000 cities at most), each pair
# the same cities: enough work for the ten kills.
REQUESTS = {"ck-a": list(range(660001, 661001)), "ck-b": list(range(660001, 661001)),
            "ck-c": list(range(661001, 661601)), "ck-d": list(range(661001, 661601))}
ENV = {
    "OWMCOLLECT_OWM_CITIES_PER_MINUTE": "1200",
    "OWMCOLLECT_OWM_MODE": "group",
    "OWMCOLLECT_WORKER_CHILDREN": str(CHILDREN),
}


def setUpModule():
    global S
    S = Stack(env=ENV).start()


def tearDownModule():
    if S:
        S.stop()


def victim():
    """(pid, batch owner) of a fetching child that holds leases, has run for
    3 s at least (a child dying sooner is restarted only after a pause, by
    design) and, when one has, whose batch's calls were sent; or None."""
    rows = S.sql(
        "SELECT w.pid, t.lease_owner, "
        "EXISTS (SELECT 1 FROM rate_slots s WHERE s.owner = t.lease_owner "
        "AND s.slot_at <= NOW(6)) AS sent "
        "FROM city_tasks t JOIN worker_children w "
        "ON t.lease_owner LIKE CONCAT(w.owner, ':%') "
        "WHERE t.ready_at > NOW(6) "
        "AND w.heartbeat_at > NOW(6) - INTERVAL 10 SECOND "
        "AND w.started_at < NOW(6) - INTERVAL 3 SECOND "
        "GROUP BY w.pid, t.lease_owner ORDER BY sent DESC")
    ours = set(fetching_children(S.pid("worker")))
    for pid, owner, _ in rows:
        if int(pid) in ours:
            return int(pid), owner
    return None


def asked_since(t0):
    """City ids the API was asked for after t0."""
    out = set()
    for e in S.access_log():
        if e["t"] > t0:
            out.update(i for i in e["ids"] if isinstance(i, int))
    return out


def check_requests(test, requests):
    """Each request of {ext_id: cities} at 100 %, every city collected, one
    outcome per (request, city)."""
    for ext, cities in requests.items():
        doc = S.wait_progress(ext, 100, timeout=120)
        test.assertEqual((doc["collected"], doc["failed"]), (len(cities), 0), ext)
    S.wait_settled(list(requests), 60)
    rows = S.sql("SELECT r.ext_id, COUNT(*), COUNT(DISTINCT d.city_id), "
                 "SUM(d.state = 'collected') FROM requests r "
                 "JOIN request_data d ON d.request_id = r.id "
                 "WHERE r.ext_id IN (%s) GROUP BY r.ext_id ORDER BY r.ext_id"
                 % ", ".join("'%s'" % x for x in requests))
    test.assertEqual(rows, [[ext, str(len(c)), str(len(c)), str(len(c))]
                            for ext, c in sorted(requests.items())])


class ChildKill(unittest.TestCase):
    def test_killed_childs_cities_are_fetched_again_at_once(self):
        S.standin_config(latency_ms=1500)
        try:
            waits = self.kill_many()
        finally:
            S.standin_config(latency_ms=0)
        print("\n  %d kills, %d cities held; fetched again after %.1f s at most "
              "(mean %.1f s)" % (len(waits), sum(n for n, _ in waits),
                                 max(w for _, w in waits), sum(w for _, w in waits) / len(waits)))
        check_requests(self, REQUESTS)

    def kill_many(self):
        """KILLS kills; [(cities held, seconds until all were asked again)]."""
        for ext, cities in REQUESTS.items():
            status, _, body = S.post_collect({"id": ext, "cities": cities})
            self.assertEqual(status, 202, body)
        waits = []
        for _ in range(4 * KILLS):          # bounded: a try may find nothing held
            if len(waits) == KILLS:
                break
            v = wait_until(victim, 30, 0.1, "a child holding leases")
            got = self.kill(*v)
            if got:
                waits.append(got)
            wait_until(lambda: len(fetching_children(S.pid("worker"))) == CHILDREN, 30, 0.1,
                       "the child to be replaced")
        self.assertEqual(len(waits), KILLS, "kills of a child holding cities")
        return waits

    def kill(self, pid, owner):
        """Stop pid, note the cities still leased to owner, kill it; (n, s):
        n cities, all asked of the API again s seconds after the kill."""
        os.kill(pid, signal.SIGSTOP)
        wait_stopped(pid)
        time.sleep(1)       # what it sent before stopping has run
        held = {int(r[0]) for r in S.sql("SELECT city_id FROM city_tasks "
                                         "WHERE lease_owner = '%s'" % owner)}
        os.kill(pid, signal.SIGKILL)
        t0 = time.time()
        if not held:
            return None
        wait_until(lambda: held <= asked_since(t0), REFETCH_S, 0.1,
                   "the %d cities child %d held (%s) to be asked for again" % (len(held), pid, owner))
        return len(held), time.time() - t0


    def test_stopped_childs_leases_end_soon_after_its_calls(self):
        requests = {"cs-a": list(range(662001, 662201)), "cs-b": list(range(662001, 662201))}
        S.standin_config(latency_ms=1500)
        try:
            for ext, cities in requests.items():
                status, _, body = S.post_collect({"id": ext, "cities": cities})
                self.assertEqual(status, 202, body)
            pid, owner = wait_until(victim, 30, 0.1, "a child holding leases")
            os.kill(pid, signal.SIGSTOP)
            t0 = time.time()
            try:
                wait_stopped(pid)
                time.sleep(1)
                held = {int(r[0]) for r in S.sql("SELECT city_id FROM city_tasks "
                                                 "WHERE lease_owner = '%s'" % owner)}
                self.assertTrue(held, "the stopped child holds cities")
                wait_until(lambda: held <= asked_since(t0), EXPIRE_S, 0.2,
                           "the %d cities stopped child %d holds to be asked for again"
                           % (len(held), pid))
                print("\n  %d cities of a stopped child asked for again after %.1f s"
                      % (len(held), time.time() - t0))
            finally:
                os.kill(pid, signal.SIGCONT)
        finally:
            S.standin_config(latency_ms=0)
        # Woken, the child finds its leases gone and stores nothing twice.
        check_requests(self, requests)


if __name__ == "__main__":
    unittest.main()

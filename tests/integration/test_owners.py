"""Worker identities across hosts: two worker hosts with the same long host
name (47 bytes, as containers and cloud instances have) and the same pids
are two hosts.

Each extra worker supervisor runs in its own UTS and pid namespaces
(`unshare --uts --pid --fork`, root only), so both have the same 47-byte
host name and their children the same pids.  /health must name the host
by its real name and count both hosts' children; the heartbeat rows must
stay apart; and the batch owners each host leased its cities and reserved
its rate slots under (its log, with -d, names each batch's owner) must never
be the other's, or one host could release or extend the other's leases.
A third host's name is as long as a host name gets (64 bytes).
"""
import json
import os
import re
import signal
import subprocess
import time
import unittest

from harness import BUILD, ROOT, Stack, wait_until

S = None
NAME = "worker-" + "n" * 32 + ".example"   # 47 bytes: past the old 32
LONGEST = "w" * 56 + ".example"             # 64 bytes: HOST_NAME_MAX
CHILDREN = 2            # fetching children of each namespaced supervisor
ENV = {
    "OWMCOLLECT_OWM_CITIES_PER_MINUTE": "6000",
    "OWMCOLLECT_OWM_MODE": "group",
    "OWMCOLLECT_WORKER_CHILDREN": "2",
}


def setUpModule():
    global S
    S = Stack(env=ENV).start()


def tearDownModule():
    if S:
        S.stop()


def ns_worker(s, tag, name=NAME, children=CHILDREN):
    """A worker supervisor on s's database (over TCP, as another host
    would), in new UTS and pid namespaces named name, debug logging to
    log/worker-<tag>.log.  The stand-in must accept any key."""
    with open(os.path.join(s.dir, "secrets", "mysql-password")) as f:
        pw = f.read().strip()
    env = dict(s.env, OWMCOLLECT_MYSQL_SOCKET="", OWMCOLLECT_MYSQL_HOST="127.0.0.1",
               OWMCOLLECT_MYSQL_PORT=str(s.db_port), OWMCOLLECT_MYSQL_PASSWORD=pw,
               OWMCOLLECT_OWM_KEY="ns-host",
               OWMCOLLECT_OWM_URL="http://127.0.0.1:%d/data/2.5" % s.standin_port,
               OWMCOLLECT_WORKER_CHILDREN=str(children))
    # The supervisor is the namespace's init (the shell execs it), so both
    # namespaces hand out the same pids to its children.
    cmd = ["unshare", "--uts", "--pid", "--fork", "--kill-child", "--",
           "sh", "-c", 'hostname "$1" && exec "$2" -d -c "$3"', "sh", name,
           os.path.join(ROOT, BUILD, "owmcollect-worker"), os.path.join(ROOT, "etc", "owmcollect.conf")]
    with open(ns_log(s, tag), "ab") as log:
        return subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=log, stderr=log)


def ns_log(s, tag):
    return os.path.join(s.log, "worker-%s.log" % tag)


def kids(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def supervisor(proc):
    """The host pid of the namespace's init: the worker supervisor."""
    k = kids(proc.pid)
    return k[0] if k else None


def stop(proc):
    """SIGTERM to the supervisor (the namespace's init takes it: it waits
    for it), then unshare ends; SIGKILL of unshare (--kill-child) if not."""
    sup = supervisor(proc)
    if sup and proc.poll() is None:
        os.kill(sup, signal.SIGTERM)
    try:
        proc.wait(timeout=40)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def batch_owners(path):
    """The owners of the batches a worker's debug log reports."""
    with open(path, errors="replace") as f:
        return set(re.findall(r"batch (\S+): \d+ collected", f.read()))


def health_host(name):
    r = S.request("GET", "/health")
    if r.status != 200:
        return None
    for w in r.json["workers"]:
        if w["host"] == name:
            return w
    return None


class Owners(unittest.TestCase):
    def test_same_long_host_name_and_pids_are_two_hosts(self):
        self.assertEqual(os.geteuid(), 0, "unshare --uts needs root")
        self.assertEqual(len(NAME), 47)
        S.standin_config(key="", latency_ms=200)
        w = [ns_worker(S, 1), ns_worker(S, 2), ns_worker(S, 3, LONGEST, 1)]
        try:
            self.run_hosts(w)
        finally:
            for p in w:
                stop(p)
            S.standin_config(latency_ms=0)

    def run_hosts(self, w):
        def up():
            for p in w:
                if p.poll() is not None:
                    raise AssertionError("a namespaced worker exited (%s)" % p.returncode)
            return all(supervisor(p) and len(kids(supervisor(p))) >= 2 for p in w)
        wait_until(up, 30, 0.2, "the namespaced supervisors' children")
        # /health names the host as it is, and counts the children of both.
        try:
            wait_until(lambda: (health_host(NAME) or {}).get("children_alive") == 2 * CHILDREN,
                       20, 0.2, "/health to show %s with %d children" % (NAME, 2 * CHILDREN))
        except AssertionError as e:
            raise AssertionError("%s; /health said %s" % (e, json.dumps(S.request("GET", "/health").json)))
        self.assertEqual(len(LONGEST), 64)
        wait_until(lambda: (health_host(LONGEST) or {}).get("children_alive") == 1, 20, 0.2,
                   "/health to show the 64-byte host name")
        rows = S.sql("SELECT owner, pid FROM worker_children WHERE host = '%s' "
                     "AND heartbeat_at > NOW(6) - INTERVAL 10 SECOND" % NAME)
        self.assertEqual(len({r[0] for r in rows}), 2 * CHILDREN, rows)
        # Same pids in both namespaces: each pid twice, yet two rows.
        pids = sorted(int(r[1]) for r in rows)
        self.assertEqual(pids[0::2], pids[1::2], rows)

        ids = list(range(640001, 641001))
        status, _, body = S.post_collect({"id": "own-a", "cities": ids})
        self.assertEqual(status, 202, body)
        doc = S.wait_progress("own-a", 100, timeout=120)
        self.assertEqual((doc["collected"], doc["failed"]), (1000, 0))
        S.wait_settled("own-a", 60)
        got = S.sql("SELECT COUNT(*), COUNT(DISTINCT d.city_id) FROM requests r "
                    "JOIN request_data d ON d.request_id = r.id WHERE r.ext_id = 'own-a'")
        self.assertEqual(got, [["1000", "1000"]])

        # Each host's batches, from its own log: never the other's owners.
        o1, o2 = (batch_owners(ns_log(S, t)) for t in (1, 2))
        o1 |= batch_owners(ns_log(S, 3))     # the third host's are apart too
        self.assertTrue(o1 and o2, "both namespaced hosts ran batches: %d, %d" % (len(o1), len(o2)))
        self.assertEqual(o1 & o2, set(), "owner ids shared by two hosts")
        slots = {r[0] for r in S.sql("SELECT DISTINCT owner FROM rate_slots")}
        self.assertTrue(o1 <= slots and o2 <= slots, "every batch reserved under its owner")
        for o in o1 | o2:
            self.assertLessEqual(len(o.encode()), 64, o)


if __name__ == "__main__":
    unittest.main()

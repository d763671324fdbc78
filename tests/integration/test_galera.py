"""DB=galera: three Galera nodes behind HAProxy, one writer.

One stack for the module, at a scaled rate (1200 cities/min).  The start
leaves three Synced nodes with the settings Galera needs, node 1 the
writer, and the schema and the user replicated to every node.  Then, while
a collection runs and a client POSTs every 200 ms, kill -9 of the writer:
HAProxy moves to another node within seconds, every POST answered 202
(before, during and after) is stored and reaches 100, and so does the
collection; some 503s meanwhile are expected.  The killed node, started
again, rejoins by IST (its log says so, and no backup was prepared for it:
no SST), becomes Synced and does not take the writes back.  Stop leaves no
process.  The seconds from the kill to the first POST accepted again are
printed.
"""
import os
import re
import socket
import threading
import time
import unittest

from harness import Stack, wait_until

S = None
ENV = {
    "OWMCOLLECT_OWM_CITIES_PER_MINUTE": "1200",
    "OWMCOLLECT_OWM_TIMEOUT_MS": "1500",
    "OWMCOLLECT_OWM_CONNECT_TIMEOUT_MS": "1000",
    # A batch cut off by the kill holds its cities until its lease ends.
    "OWMCOLLECT_WORKER_LEASE_SECONDS": "8",
    "OWMCOLLECT_WORKER_STOP_SECONDS": "5",
}
CITIES = list(range(850000000, 850000300))


def setUpModule():
    global S
    S = Stack(db="galera", env=ENV)
    t0 = time.monotonic()
    S.start()
    print("galera stack started in %.1f s" % (time.monotonic() - t0), flush=True)


def tearDownModule():
    if S and S.up:
        S.stop()


def log_since(path, mark):
    with open(path, errors="replace") as f:
        f.seek(mark)
        return f.read()


class Poster(threading.Thread):
    """POST /collect every 200 ms; (sent, answered, status, id) of each, in
    monotonic time."""

    def __init__(self):
        super().__init__(daemon=True)
        self.results, self.stop = [], threading.Event()

    def run(self):
        i = 0
        while not self.stop.is_set():
            ident = "during-%d" % i
            sent = time.monotonic()
            try:
                status = S.post_collect({"id": ident, "cities": [CITIES[i % 20]]}).status
            except OSError as e:
                status = "error: %s" % e
            self.results.append((sent, time.monotonic(), status, ident))
            i += 1
            self.stop.wait(0.2)


class Galera(unittest.TestCase):
    maxDiff = None

    def test_1_started(self):
        self.assertEqual(S.writer(), 1)
        st = S.stack("status").stdout
        self.assertIn("writer db-1", st)
        for n in (1, 2, 3):
            self.assertRegex(st, r"db-%d +running \(pid \d+\), wsrep_local_state 4 \(Synced\), "
                             r"cluster size 3, HAProxy UP\n" % n)
            row = S.node_sql(n, "SELECT @@wsrep_on, @@binlog_format, @@innodb_autoinc_lock_mode, "
                             "@@innodb_flush_log_at_trx_commit, @@wsrep_sst_method, "
                             "@@wsrep_sync_wait, @@wsrep_node_name")[0]
            self.assertEqual(row, ["1", "ROW", "2", "1", "mariabackup", "0", "db-%d" % n])
            opts = S.node_sql(n, "SELECT @@wsrep_provider_options")[0][0]
            ports = {k: S.env[k].split()[n - 1] for k in S.GALERA_PORTS}
            self.assertIn("gmcast.listen_addr = tcp://127.0.0.1:%s" % ports["DB_GCOMM_PORTS"], opts)
            self.assertIn("ist.recv_addr = 127.0.0.1:%s" % ports["DB_IST_PORTS"], opts)
            self.assertIn("gcache.size = 128M", opts)
            # The schema and the user came through the writer, by replication.
            self.assertEqual(S.node_sql(n, "SELECT table_name FROM information_schema.tables "
                                        "WHERE table_schema = 'owmcollect' AND table_type = 'BASE TABLE' "
                                        "AND table_name NOT IN (SELECT table_name FROM "
                                        "information_schema.table_constraints WHERE table_schema = "
                                        "'owmcollect' AND constraint_type = 'PRIMARY KEY')"), [])
            self.assertEqual(S.node_sql(n, "SELECT COUNT(*) FROM mysql.user WHERE user = 'owmcollect'"),
                             [["2"]])
        # The programs reach node 1 through HAProxy, over TCP.
        self.assertEqual(S.post_collect({"id": "first", "cities": CITIES[:3]}).status, 202)
        S.wait_progress("first", 100, timeout=30)
        for n in (1, 2, 3):
            wait_until(lambda: S.node_sql(n, "SELECT COUNT(*) FROM requests WHERE ext_id = 'first'")
                       == [["1"]], 10, 0.1, "the request on db-%d" % n)

    def test_2_desynced(self):
        """A node desynced (a backup's, or a donor's state) leaves HAProxy,
        unless it is the writer: that one keeps committing, and moving the
        writer would be a failover for nothing."""
        try:
            for n in (1, 2):
                S.node_sql(n, "SET GLOBAL wsrep_desync = ON")
            wait_until(lambda: re.search(r"db-2 .*Donor/Desynced.*HAProxy DOWN",
                                         S.stack("status", check=False).stdout), 10, 0.2,
                       "HAProxy to take db-2 out")
            st = S.stack("status", check=False).stdout
            self.assertRegex(st, r"db-1 .*Donor/Desynced.*HAProxy UP")
            self.assertIn("writer db-1", st)
            self.assertEqual(S.post_collect({"id": "desynced", "cities": CITIES[:3]}).status, 202)
        finally:
            for n in (1, 2):
                S.node_sql(n, "SET GLOBAL wsrep_desync = OFF")
        wait_until(lambda: S.stack("status").stdout.count("(Synced), cluster size 3, HAProxy UP\n") == 3,
                   20, 0.2, "every node Synced and up again")
        self.assertEqual(S.writer(), 1)

    def test_3_kill_writer(self):
        self.assertEqual(S.post_collect({"id": "failover", "cities": CITIES}).status, 202)
        S.wait_progress("failover", 10, timeout=60)
        poster = Poster()
        poster.start()
        try:
            time.sleep(1)
            kill = time.monotonic()
            S.kill_node(1)
            writer = wait_until(lambda: (lambda w: w if w not in (None, 1) else None)(S.writer()),
                                10, 0.1, "HAProxy to move to another node")
            moved = time.monotonic() - kill
            # From the kill to the answer of the first POST sent after it
            # and accepted.
            wait_until(lambda: any(s > kill and st == 202 for s, _, st, _ in poster.results), 60,
                       0.1, "a POST accepted after the kill")
            back = min(a for s, a, st, _ in poster.results if s > kill and st == 202) - kill
            S.wait_progress("failover", 100, timeout=120)
            time.sleep(2)
        finally:
            poster.stop.set()
            poster.join()
        res = poster.results
        refused = [st for _, _, st, _ in res if st != 202]
        print("failover: HAProxy moved to db-%d %.1f s after the kill; first POST accepted "
              "%.1f s after it; %d of %d POSTs refused (%s)"
              % (writer, moved, back, len(refused), len(res), sorted(set(map(str, refused)))),
              flush=True)
        print("POSTs sent from 1 s before the kill to 8 s after (sent/answered s: status): " +
              ", ".join("%.1f/%.1f: %s" % (s - kill, a - kill, st)
                        for s, a, st, _ in res if -1 < s - kill < 8), flush=True)
        self.assertLess(moved, 5)
        self.assertEqual([st for st in refused if st != 503], [])
        # Every 202 is stored and reaches 100: on the new writer.
        accepted = [i for _, _, st, i in res if st == 202]
        for ident in accepted:
            S.wait_progress(ident, 100, timeout=60)

        # The killed node starts again: IST, not SST; Synced; no fail-back.
        log = os.path.join(S.log, "db-1.err")
        mark = os.path.getsize(log)
        t0 = time.monotonic()
        S.start_node(1)
        print("db-1 rejoined and Synced in %.1f s" % (time.monotonic() - t0), flush=True)
        text = log_since(log, mark)
        self.assertRegex(text, r"WSREP: IST received: [0-9a-f-]+:\d+")
        self.assertIn("Running IST", text)
        self.assertNotIn("Preparing the backup", text)      # an SST's copy
        S.wait_synced(1)
        self.assertEqual(S.writer(), writer)
        for n in (1, 2, 3):
            self.assertEqual(S.node_status(n, "wsrep_cluster_size"), "3")
        # Node 1 has everything the new writer took.
        q = "SELECT COUNT(*), COALESCE(SUM(finished_at IS NOT NULL), 0) FROM requests"
        want = S.node_sql(writer, q)
        wait_until(lambda: S.node_sql(1, q) == want, 10, 0.1, "db-1 to hold the writer's rows")

    def test_4_stop_leaves_nothing(self):
        S.stop()        # fails when a process of the stack outlives it
        self.assertEqual(S.processes(), {})
        for n in ("db-1", "db-2", "db-3", "haproxy"):
            pid = S.pid(n)
            self.assertFalse(pid and os.path.exists("/proc/%d" % pid), n)
        self.assertNotEqual(S.stack("status", check=False).returncode, 0)


class FailedStart(unittest.TestCase):
    def test_gcomm_port_taken(self):
        """db-2's group communication port taken: the start fails naming
        it, after node 1 had started, and leaves nothing running."""
        s = Stack(db="galera")
        port = int(s.env["DB_GCOMM_PORTS"].split()[1])
        busy = socket.socket()
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        busy.bind(("127.0.0.1", port))
        busy.listen(1)
        try:
            p = s.stack("start", check=False)
            left = s.processes()
            s.end_leftovers(0)
            self.assertEqual(left, {}, p.stdout)
            self.assertNotEqual(p.returncode, 0, p.stdout)
            self.assertIn("starting the Galera cluster from db-1", p.stdout)
            self.assertIn("Galera node db-2", p.stdout)
            self.assertIn("port %d is in use" % port, p.stdout)
        finally:
            busy.close()
            s.stop()


if __name__ == "__main__":
    unittest.main()

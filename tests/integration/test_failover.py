"""Both programs survive a lost connection to the database writer.

The programs reach MariaDB over TCP through a small proxy in this test
(MySQLProxy), which can cut a connection at a chosen moment: right after it
forwarded a COMMIT (COM_QUERY "COMMIT") of a chosen transaction and the
server answered it, before that answer reaches the client (the COMMIT took
effect, the client cannot know), or every connection at once (the writer
died: HAProxy's on-marked-down shutdown-sessions).  What a Galera failover
does to a client, on the single-node stack.

- a POST whose COMMIT was cut answers 202 exactly once, and the request
  exists once (the FastCGI program reconnects and recognises its own row
  by its unique id);
- a batch completion whose COMMIT was cut leaves each (request, city) with
  exactly one outcome, each city fetched once, the counters equal to the
  rows;
- cutting every connection a few times during a collection, a stream of
  POSTs and GETs: every POST 202, every GET 200, nothing lost, no city
  fetched twice, and the stand-in never sees more than R cities in a 60 s
  window;
- GET_LOCK('owmcollect.queue') held by a session that died blocks no one.
"""
import os
import subprocess
import threading
import time
import unittest

from harness import Forwarder, MySQLLink, Stack, max_window, wait_until

LIMIT = 1200
ENV = {
    "OWMCOLLECT_OWM_CITIES_PER_MINUTE": str(LIMIT),
    "OWMCOLLECT_OWM_BATCH_SIZE": "20",
    "OWMCOLLECT_OWM_MARGIN_MS": "100",
    "OWMCOLLECT_OWM_TIMEOUT_MS": "2000",
    "OWMCOLLECT_OWM_CONNECT_TIMEOUT_MS": "1000",
    "OWMCOLLECT_WORKER_CHILDREN": "2",
    "OWMCOLLECT_WORKER_REUSE_SECONDS": "0",
    "OWMCOLLECT_WORKER_LEASE_SECONDS": "30",
    "OWMCOLLECT_WORKER_STOP_SECONDS": "5",
}
COM_QUERY, COM_STMT_PREPARE, COM_STMT_EXECUTE = 0x03, 0x16, 0x17

S = None
PROXY = None


class CommitLink(MySQLLink):
    """One client connection and its server connection, with what the proxy
    learnt of it: the ids of watched prepared statements, and whether the
    open transaction executed one."""

    def __init__(self, fwd, client, server):
        super().__init__(fwd, client, server)
        self.prepared = {}          # statement id: its SQL
        self.prepare_pending = None
        self.marked = False         # this transaction ran a watched one
        self.drop_reply = False     # cut once the server's next packet comes

    def client_packet(self, pkt):
        """pkt, or None: the link is cut instead of forwarding it."""
        payload = pkt[4:]
        if pkt[3] == 0 and payload:        # a command starts a sequence
            cmd = payload[0]
            if cmd == COM_STMT_PREPARE:
                self.prepare_pending = payload[1:].decode(errors="replace")
            elif cmd == COM_STMT_EXECUTE:
                sql = self.prepared.get(int.from_bytes(payload[1:5], "little"), "")
                if any(w in sql for w in self.fwd.watch):
                    self.marked = True
            elif cmd == COM_QUERY:
                q = payload[1:].strip().upper()
                if q in (b"START TRANSACTION", b"ROLLBACK"):
                    self.marked = False
                elif q == b"COMMIT":
                    marked, self.marked = self.marked, False
                    mode = marked and self.fwd.take_cut()
                    if mode == "before":            # never reaches it
                        self.fwd.note_cut()
                        return None
                    if mode == "after":
                        self.drop_reply = True      # forwarded, then cut
        return pkt

    def server_packet(self, pkt):
        if self.drop_reply:
            # The server answered the COMMIT: it took effect.  The client
            # never hears it.
            self.fwd.note_cut()
            return None
        payload = pkt[4:]
        if self.prepare_pending is not None and pkt[3] == 1 and payload:
            if payload[0] == 0:                 # COM_STMT_PREPARE_OK
                self.prepared[int.from_bytes(payload[1:5], "little")] = self.prepare_pending
            self.prepare_pending = None
        return pkt


class MySQLProxy(Forwarder):
    """127.0.0.1:port -> MariaDB at 127.0.0.1:db_port, cutting the COMMIT
    it is armed for; cut_all() cuts every connection, as a writer's death
    does."""

    def __init__(self, db_port):
        self.watch = ()             # SQL fragments of the transaction to cut
        self.mode = "after"
        self.cuts_left = 0
        self.cuts_done = 0
        super().__init__(db_port, CommitLink)

    def arm(self, watch, count=1, mode="after"):
        """Cut the COMMIT of the next `count` transactions that executed a
        statement whose SQL holds one of the watch fragments: "after" the
        server answered it (it took effect), or "before" it reaches the
        server (rolled back); the client cannot tell which."""
        with self.lock:
            self.watch = tuple(watch)
            self.mode = mode
            self.cuts_left = count
            self.cuts_done = 0

    def take_cut(self):
        """The mode of the cut to make now, or None."""
        with self.lock:
            if self.cuts_left <= 0:
                return None
            self.cuts_left -= 1
            return self.mode

    def note_cut(self):
        with self.lock:
            self.cuts_done += 1


def setUpModule():
    global S, PROXY
    S = Stack(env=ENV)
    PROXY = MySQLProxy(S.db_port)
    S.env.update({"OWMCOLLECT_MYSQL_SOCKET": "", "OWMCOLLECT_MYSQL_HOST": "127.0.0.1",
                  "OWMCOLLECT_MYSQL_PORT": str(PROXY.port)})
    S.start()


def tearDownModule():
    if S:
        S.stop()
    if PROXY:
        PROXY.close()


def outcomes(test, idents):
    """Every request of idents done, settled, each (request, city) with
    exactly one outcome, and the counters equal to the rows."""
    for ident in idents:
        S.wait_progress(ident, 100, timeout=120)
    S.wait_settled(idents, 60)
    q = ", ".join("'%s'" % i for i in idents)
    rows = S.sql("""
        SELECT r.ext_id, r.total, r.collected, r.failed, COUNT(d.pos),
               SUM(d.state = 'collected'), SUM(d.state = 'failed'), SUM(d.state = 'pending')
        FROM requests r JOIN request_data d ON d.request_id = r.id
        WHERE r.ext_id IN (%s) GROUP BY r.id""" % q)
    test.assertEqual(sorted(r[0] for r in rows), sorted(idents))
    for ident, total, collected, failed, n, n_col, n_fail, n_pend in rows:
        test.assertEqual(int(n), int(total), ident)
        test.assertEqual(int(n_pend), 0, ident)
        test.assertEqual((int(collected), int(failed)), (int(n_col), int(n_fail)), ident)
        test.assertEqual(int(collected) + int(failed), int(total), ident)
    # One outcome per fetch of the queue, one reading per collected fetch.
    test.assertEqual(S.sql("SELECT COUNT(*) FROM city_tasks")[0][0], "0")
    test.assertEqual(S.sql("SELECT COUNT(*) - COUNT(DISTINCT reading_id) FROM fetches "
                           "WHERE state = 'collected'")[0][0], "0")
    counted = S.sql("""SELECT
        (SELECT SUM(requests) FROM counters), (SELECT COUNT(*) FROM requests),
        (SELECT SUM(cities) FROM counters), (SELECT SUM(total) FROM requests),
        (SELECT SUM(collected) FROM counters), (SELECT SUM(collected) FROM requests),
        (SELECT SUM(failed) FROM counters), (SELECT SUM(failed) FROM requests),
        (SELECT SUM(queued) FROM counters), (SELECT COUNT(*) FROM city_tasks),
        (SELECT SUM(ended) FROM counters), (SELECT COUNT(*) FROM fetches)""")[0]
    pairs = [(int(counted[i]), int(counted[i + 1])) for i in range(0, 12, 2)]
    names = ("requests", "cities", "collected", "failed", "queued", "ended")
    test.assertEqual(dict(zip(names, [a for a, _ in pairs])), dict(zip(names, [b for _, b in pairs])))


def calls_counted():
    """Until the API calls the workers counted (api_calls) are those the
    stand-in saw; both figures."""
    def same():
        counted = int(S.sql("SELECT SUM(n) FROM api_calls")[0][0])
        seen = len([e for e in S.access_log() if e.get("ids")])
        return (counted, seen) if counted == seen else None
    try:
        return wait_until(same, 10, 0.2, "the API calls to be counted")
    except AssertionError:
        return (int(S.sql("SELECT SUM(n) FROM api_calls")[0][0]),
                len([e for e in S.access_log() if e.get("ids")]))


def fetched_twice(cities):
    """The cities of `cities` the stand-in was asked for more than once."""
    seen = {}
    for e in S.access_log():
        for c in e.get("ids", []):
            seen[c] = seen.get(c, 0) + 1
    return sorted(c for c in cities if seen.get(c, 0) > 1)


def log_since(name, mark):
    with open(os.path.join(S.log, name), errors="replace") as f:
        f.seek(mark)
        return f.read()


def log_mark(name):
    try:
        return os.path.getsize(os.path.join(S.log, name))
    except OSError:
        return 0


class CommitCut(unittest.TestCase):
    def test_1_post_commit_cut_answers_202_once(self):
        mark = log_mark("fcgi.log")
        cities = list(range(871000001, 871000006))
        PROXY.arm(["INSERT INTO requests"])
        r = S.post_collect({"id": "cut-post", "cities": cities})
        self.assertEqual(PROXY.cuts_done, 1, "the POST's COMMIT was not cut")
        self.assertEqual(r.status, 202, r.body)
        self.assertEqual(r.json["total"], 5)
        self.assertEqual(r.headers.get("location"), "/get?id=cut-post")
        # Stored once, with its cities once each, and answered from it.
        rows = S.sql("SELECT COUNT(*), MIN(total), "
                     "DATE_FORMAT(MIN(requested_at), '%Y-%m-%dT%H:%i:%s.%fZ') "
                     "FROM requests WHERE ext_id = 'cut-post'")
        self.assertEqual(rows[0][:2], ["1", "5"])
        self.assertEqual(r.json["requested_at"], rows[0][2])
        self.assertIn("had taken effect", log_since("fcgi.log", mark))
        # The same id again is someone else's POST: 409, as always.
        self.assertEqual(S.post_collect({"id": "cut-post", "cities": cities}).status, 409)
        outcomes(self, ["cut-post"])

    def test_2_post_commit_cut_then_another_client_takes_nothing(self):
        # A different request with the id taken by an unanswered COMMIT of
        # another POST is still a 409 (not mistaken for its own).
        PROXY.arm(["INSERT INTO requests"])
        r = S.post_collect({"id": "cut-post-2", "cities": [871000011]})
        self.assertEqual((PROXY.cuts_done, r.status), (1, 202), r.body)
        r2 = S.post_collect({"id": "cut-post-2", "cities": [871000012]})
        self.assertEqual(r2.status, 409, r2.body)
        self.assertEqual(S.sql("SELECT COUNT(*) FROM requests WHERE ext_id = 'cut-post-2'")[0][0], "1")
        outcomes(self, ["cut-post-2"])

    def test_3_completion_commit_cut_stores_once(self):
        mark = log_mark("worker.log")
        cities = list(range(872000001, 872000041))
        # The next batch's completion (it writes the fetches' outcomes).
        PROXY.arm(["INSERT INTO fetches"])
        t0 = time.monotonic()
        r = S.post_collect({"id": "cut-batch", "cities": cities})
        self.assertEqual(r.status, 202, r.body)
        wait_until(lambda: PROXY.cuts_done == 1, 60, 0.05, "a completion's COMMIT to be cut")
        outcomes(self, ["cut-batch"])
        # Done well before the batch's leases (30 s) could have expired and
        # the cities been fetched again: the completion was not lost.
        self.assertLess(time.monotonic() - t0, 25)
        self.assertEqual(fetched_twice(cities), [])
        # The batch went on to count its calls, as one never cut does.
        counted, seen = calls_counted()
        self.assertEqual(counted, seen)
        log = log_since("worker.log", mark)
        self.assertIn("had stored", log)
        self.assertNotIn("results not stored", log)

    def test_4_post_commit_lost_before_the_server_runs_again(self):
        PROXY.arm(["INSERT INTO requests"], mode="before")
        r = S.post_collect({"id": "cut-post-4", "cities": [871000041, 871000042]})
        self.assertEqual((PROXY.cuts_done, r.status), (1, 202), r.body)
        self.assertEqual(S.sql("SELECT COUNT(*) FROM requests WHERE ext_id = 'cut-post-4'")[0][0], "1")
        outcomes(self, ["cut-post-4"])

    def test_5_completion_commit_lost_before_the_server_runs_again(self):
        mark = log_mark("worker.log")
        cities = list(range(872000101, 872000121))
        PROXY.arm(["INSERT INTO fetches"], mode="before")
        t0 = time.monotonic()
        self.assertEqual(S.post_collect({"id": "cut-batch-5", "cities": cities}).status, 202)
        wait_until(lambda: PROXY.cuts_done == 1, 60, 0.05, "a completion's COMMIT to be cut")
        outcomes(self, ["cut-batch-5"])
        # Stored by the completion run again, not fetched again once the
        # leases (30 s) expired.
        self.assertLess(time.monotonic() - t0, 25)
        self.assertEqual(fetched_twice(cities), [])
        self.assertEqual(*calls_counted())
        self.assertNotIn("results not stored", log_since("worker.log", mark))


    def test_6_reservation_commit_cut_is_counted_never_used(self):
        # The rate reservation's COMMIT took effect, its answer was lost:
        # the batch is dropped before any call, its cities go back to the
        # queue at once (not when the 30 s leases expire), and the slot
        # stays counted.
        cities = list(range(872000201, 872000221))
        since = S.sql("SELECT NOW(6)")[0][0]
        t_log = time.time()
        PROXY.arm(["INSERT INTO rate_slots"])
        t0 = time.monotonic()
        self.assertEqual(S.post_collect({"id": "cut-gate", "cities": cities}).status, 202)
        wait_until(lambda: PROXY.cuts_done == 1, 60, 0.05, "a reservation's COMMIT to be cut")
        outcomes(self, ["cut-gate"])
        self.assertLess(time.monotonic() - t0, 25)
        self.assertEqual(fetched_twice(cities), [])
        reserved = int(S.sql("SELECT COALESCE(SUM(cities), 0) FROM rate_slots "
                             "WHERE slot_at >= '%s'" % since)[0][0])
        sent = sum(len(e["ids"]) for e in S.access_log() if e.get("ids") and e["t"] >= t_log)
        self.assertEqual(sent, 20)
        self.assertGreater(reserved, sent, "the cut reservation was not counted")
        self.assertLessEqual(max_window(S.access_log()), LIMIT)

    def test_7_claim_commit_cut_goes_back_to_the_queue(self):
        # The claim's COMMIT took effect, its answer was lost: the child
        # never learnt which cities it leased; it releases them by the
        # batch's owner at once.
        mark = log_mark("worker.log")
        cities = list(range(872000301, 872000321))
        PROXY.arm(["SET lease_owner = ?, ready_at"])
        t0 = time.monotonic()
        self.assertEqual(S.post_collect({"id": "cut-claim", "cities": cities}).status, 202)
        wait_until(lambda: PROXY.cuts_done == 1, 60, 0.05, "a claim's COMMIT to be cut")
        outcomes(self, ["cut-claim"])
        self.assertLess(time.monotonic() - t0, 25)
        self.assertEqual(fetched_twice(cities), [])
        self.assertIn("back to the queue", log_since("worker.log", mark))


class QueueLock(unittest.TestCase):
    def test_lock_of_a_dead_session_blocks_no_one(self):
        # Another session (through the proxy, as the programs connect)
        # takes the queue's named lock and idles, as a POST that lost its
        # connection between GET_LOCK and RELEASE_LOCK would.
        with open(os.path.join(S.dir, "secrets", "mysql-password")) as f:
            pw = f.read().strip()
        holder = subprocess.Popen(
            ["mariadb", "--no-defaults", "-h127.0.0.1", "-P%d" % PROXY.port, "-uowmcollect",
             "--batch", "--skip-column-names", "owmcollect"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={"MYSQL_PWD": pw, "PATH": os.environ["PATH"]})
        try:
            holder.stdin.write(b"SELECT GET_LOCK('owmcollect.queue', 5);\n")
            holder.stdin.flush()

            def held():
                return S.sql("SELECT IS_USED_LOCK('owmcollect.queue') IS NOT NULL")[0][0] == "1"
            wait_until(held, 30, 0.05, "the other session to hold the queue lock")
            # While its session lives, a POST that queues a city waits for it
            # (until mysql.read_timeout, 5 s, ends the wait) and answers 503:
            # the lock is real.
            t0 = time.monotonic()
            r = S.post_collect({"id": "lock-held", "cities": [874000001]})
            self.assertEqual(r.status, 503, r.body)
            self.assertGreater(time.monotonic() - t0, 4)
            # The session dies (every connection cut, as a writer's death or
            # HAProxy's shutdown-sessions does): its lock goes with it.
            PROXY.cut_all()
            wait_until(lambda: not held(), 10, 0.05, "the dead session's lock to go")
            t0 = time.monotonic()
            r = S.post_collect({"id": "lock-gone", "cities": [874000002]})
            self.assertEqual(r.status, 202, r.body)
            self.assertLess(time.monotonic() - t0, 5)
            outcomes(self, ["lock-gone"])
        finally:
            holder.stdin.close()
            try:
                holder.wait(10)
            except subprocess.TimeoutExpired:
                holder.kill()
                holder.wait()


class CutEverything(unittest.TestCase):
    def test_cut_every_connection_during_a_collection(self):
        base = 873000000
        cities = list(range(base + 1, base + 401))
        idents, errors, stop = [], [], threading.Event()
        took = {"POST": [], "GET": []}

        def poster():
            k = 0
            while not stop.is_set():
                ident = "cut-all-%d" % k
                own = [base + 1000 + 2 * k, base + 1001 + 2 * k]
                cities.extend(own)
                t0 = time.monotonic()
                r = S.post_collect({"id": ident, "cities": own})
                took["POST"].append(time.monotonic() - t0)
                if r.status == 202:
                    idents.append(ident)
                else:
                    errors.append((ident, r.status, r.body))
                k += 1
                time.sleep(0.25)

        def getter():
            while not stop.is_set():
                for path in ("/get?id=cut-all", "/collect?limit=5", "/metrics"):
                    t0 = time.monotonic()
                    r = S.request("GET", path)
                    took["GET"].append(time.monotonic() - t0)
                    if r.status != 200:
                        errors.append((path, r.status, r.body))
                time.sleep(0.1)

        first = S.post_collect({"id": "cut-all", "cities": cities[:400]})
        self.assertEqual(first.status, 202, first.body)
        idents.append("cut-all")
        threads = [threading.Thread(target=poster), threading.Thread(target=getter)]
        for t in threads:
            t.start()
        try:
            for _ in range(4):
                time.sleep(4)
                self.assertGreater(PROXY.cut_all(), 0)
        finally:
            stop.set()
            for t in threads:
                t.join()
        # Every POST answered 202 and every GET 200: one in flight, or the
        # first on each process's dead connection, ran again on a new one.
        self.assertEqual(errors, [])
        outcomes(self, idents)
        self.assertEqual(fetched_twice(cities), [])
        self.assertLessEqual(max_window(S.access_log()), LIMIT)
        print("%d POSTs (slowest %.0f ms), %d GETs (slowest %.0f ms) across 4 cuts; %d cities, "
              "at most %d in 60 s (R = %d) ... " %
              (len(took["POST"]), 1000 * max(took["POST"]), len(took["GET"]),
               1000 * max(took["GET"]), len(cities), max_window(S.access_log()), LIMIT),
              end="", flush=True)


if __name__ == "__main__":
    unittest.main()

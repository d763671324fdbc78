#!/usr/bin/env python3
"""make test-cluster: the writer killed under load, on the Galera stack.

Three Galera nodes behind HAProxy (one writer), R = 600 cities/min, two
worker supervisors (the stack's, over HAProxy, and a second one with its
own children, as another host would run it), a collection of 400 cities
and, throughout, a POST every 200 ms of one city of its own.  The writer
is killed (kill -9) three times; each time the killed node is started
again and must rejoin by IST (its log says so; no SST) before the next
kill.  Then:

- every POST answered 202 is stored and reaches 100, and so does the
  collection; no answer but 202 or 503 (with Retry-After);
- each (request, city) has exactly one outcome, the queue is empty, each
  collected fetch has its own reading, and the counters equal the rows;
- no city was fetched twice (the stand-in's access log: every city here is
  in one request only, so a second fetch is a double claim);
- the stand-in never saw more than R cities in any 60 s window, and never
  refused one for the limit;
- the nodes saw no write conflict (wsrep_local_cert_failures and
  wsrep_local_bf_aborts, polled on every node each second) away from a
  failover: with one writer there is nothing to conflict with (within
  15 s of a kill, the dead writer's last write-sets may still be applied
  beside the new writer's first transactions: counted, printed, allowed);
- no process of the stack is left after stop.

Printed per failover: seconds from the kill to HAProxy's move and to the
first POST accepted again (sent after the kill), the 503s and the slowest
POST until the next kill, and the IST rejoin time.

NEGATIVE=1 is the control that shows these checks can fail: the second
supervisor connects straight to node 3 instead of through HAProxy, so two
nodes take writes at once (the kills never hit node 3: HAProxy's writer is
the first node up, 1 or 2).  The run must then report a violation, and it
exits 0 only if it does.
"""
import os
import shutil
import signal
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

from harness import Stack, max_window, second_worker, wait_beating, wait_until  # noqa: E402

NEGATIVE = os.environ.get("NEGATIVE", "") not in ("", "0")
LIMIT = 600
KILLS = 3
GAP = 8             # seconds on the new writer before the next kill
ENV = {
    "OWMCOLLECT_OWM_CITIES_PER_MINUTE": str(LIMIT),
    "OWMCOLLECT_OWM_BATCH_SIZE": "20",
    "OWMCOLLECT_OWM_TIMEOUT_MS": "2000",
    "OWMCOLLECT_OWM_CONNECT_TIMEOUT_MS": "1000",
    "OWMCOLLECT_WORKER_CHILDREN": "2",
    "OWMCOLLECT_WORKER_REUSE_SECONDS": "0",
    # Longer than a failover: a batch whose completion was cut runs it
    # again on the new writer while it still holds its cities.
    "OWMCOLLECT_WORKER_LEASE_SECONDS": "30",
    "OWMCOLLECT_WORKER_STOP_SECONDS": "5",
}
BIG = list(range(880000001, 880000401))        # the collection: 400 cities
OWN = 881000000                                 # the POSTs' cities: OWN + k
CONFLICTS = ("wsrep_local_cert_failures", "wsrep_local_bf_aborts")
FAILOVER_S = 15


def log(msg):
    print(msg, flush=True)


class Poster(threading.Thread):
    """A POST /collect every 200 ms, each in a thread of its own (so one
    held up by a failover does not delay the next), each a new id with a
    city of its own; (sent, answered, status, retry_after, id, city) of
    each, in monotonic time."""

    def __init__(self, s):
        super().__init__(daemon=True)
        self.s, self.results, self.stop = s, [], threading.Event()
        self.lock, self.threads = threading.Lock(), []

    def one(self, k):
        ident, city = "p-%d" % k, OWN + k
        sent = time.monotonic()
        retry = None
        try:
            r = self.s.post_collect({"id": ident, "cities": [city]})
            status, retry = r.status, r.headers.get("retry-after")
        except OSError as e:
            status = "error: %s" % e
        with self.lock:
            self.results.append((sent, time.monotonic(), status, retry, ident, city))

    def run(self):
        k, tick = 0, time.monotonic()
        while not self.stop.is_set():
            t = threading.Thread(target=self.one, args=(k,), daemon=True)
            t.start()
            self.threads.append(t)
            k += 1
            tick += 0.2
            self.stop.wait(max(0, tick - time.monotonic()))
        for t in self.threads:
            t.join()

    def done(self):
        with self.lock:
            return sorted(self.results)


class Conflicts(threading.Thread):
    """Galera's count of write conflicts (wsrep_local_cert_failures +
    wsrep_local_bf_aborts), read from every live node once a second, as
    (time, node, increase) events; a node's counters start again at 0 when
    it restarts.  With one writer nothing conflicts, except the dead
    writer's last write-sets, still being applied on the new writer as its
    first transactions run: so an event within FAILOVER_S of a kill is
    counted apart; any other is two nodes writing the same rows at once."""

    def __init__(self, s):
        super().__init__(daemon=True)
        self.s, self.events, self.last, self.stop = s, [], {}, threading.Event()

    def read(self, n):
        try:
            rows = self.s.node_sql(n, "SHOW GLOBAL STATUS WHERE Variable_name IN ('%s')"
                                   % "', '".join(CONFLICTS), timeout=5)
        except Exception:
            return None
        return sum(int(v) for _, v in rows)

    def poll(self):
        for n in (1, 2, 3):
            v = self.read(n)
            if v is None:
                continue
            was = self.last.get(n, 0)
            grown = v - was if v >= was else v     # restarted: from 0
            if grown:
                self.events.append((time.monotonic(), n, grown))
            self.last[n] = v

    def run(self):
        while not self.stop.wait(1):
            self.poll()

    def finish(self):
        self.stop.set()
        self.join()
        self.poll()
        return self.events


def log_size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def log_since(path, mark):
    with open(path, errors="replace") as f:
        f.seek(mark)
        return f.read()


def check_rows(s, idents, problems):
    """Each request present, done, one outcome per (request, city), the
    counters equal to the rows; violations appended to problems as
    sentences."""
    q = ", ".join("'%s'" % i for i in idents)
    rows = s.sql("""
        SELECT r.ext_id, r.total, r.collected, r.failed, COUNT(d.pos),
               SUM(d.state = 'collected'), SUM(d.state = 'failed'), SUM(d.state = 'pending')
        FROM requests r JOIN request_data d ON d.request_id = r.id
        WHERE r.ext_id IN (%s) GROUP BY r.id""" % q)
    found = [r[0] for r in rows]
    missing = sorted(set(idents) - set(found))
    if missing:
        problems.append("%d requests answered 202 are not stored: %s" % (len(missing), missing[:10]))
    if len(found) != len(set(found)):
        problems.append("a request id stored twice")
    for ident, total, collected, failed, n, n_col, n_fail, n_pend in rows:
        if (int(n), int(n_pend), int(collected), int(failed)) != (int(total), 0, int(n_col), int(n_fail)) \
                or int(collected) + int(failed) != int(total):
            problems.append("%s: total %s, collected %s, failed %s, but rows %s (%s collected, %s failed, "
                            "%s pending)" % (ident, total, collected, failed, n, n_col, n_fail, n_pend))
    dup = s.sql("SELECT COUNT(*) FROM (SELECT request_id, pos FROM request_data "
                "GROUP BY request_id, pos HAVING COUNT(*) > 1) x")[0][0]
    if dup != "0":
        problems.append("%s (request, city) pairs with more than one row" % dup)
    queued = s.sql("SELECT COUNT(*) FROM city_tasks")[0][0]
    if queued != "0":
        problems.append("%s cities still queued" % queued)
    shared = s.sql("SELECT COUNT(*) - COUNT(DISTINCT reading_id) FROM fetches "
                   "WHERE state = 'collected'")[0][0]
    if shared != "0":
        problems.append("%s collected fetches share a reading" % shared)
    twice = s.sql("SELECT COUNT(*) FROM (SELECT city_id FROM fetches WHERE city_id >= %d "
                  "GROUP BY city_id HAVING COUNT(*) > 1) x" % BIG[0])[0][0]
    if twice != "0":
        problems.append("%s cities with more than one fetch outcome" % twice)
    counted = s.sql("""SELECT
        (SELECT SUM(requests) FROM counters), (SELECT COUNT(*) FROM requests),
        (SELECT SUM(cities) FROM counters), (SELECT SUM(total) FROM requests),
        (SELECT SUM(collected) FROM counters), (SELECT SUM(collected) FROM requests),
        (SELECT SUM(failed) FROM counters), (SELECT SUM(failed) FROM requests),
        (SELECT SUM(queued) FROM counters), (SELECT COUNT(*) FROM city_tasks),
        (SELECT SUM(ended) FROM counters), (SELECT COUNT(*) FROM fetches)""")[0]
    names = ("requests", "cities", "collected", "failed", "queued", "ended")
    for i, name in enumerate(names):
        a, b = int(counted[2 * i] or 0), int(counted[2 * i + 1] or 0)
        if a != b:
            problems.append("counter %s is %d, the rows say %d" % (name, a, b))


def main():
    t_start = time.monotonic()
    log("test-cluster%s: 3 Galera nodes + HAProxy, R = %d/min, 2 worker supervisors, "
        "%d cities + a POST every 200 ms, %d kills of the writer"
        % (" (NEGATIVE: the second supervisor writes to db-3 directly)" if NEGATIVE else "",
           LIMIT, len(BIG), KILLS))
    s = Stack(db="galera", env=ENV)
    s.start()
    log("stack started in %.0f s" % (time.monotonic() - t_start))
    # problems: what two writers can break (the data, the limit); other:
    # the rest (answers, IST, processes), a failure in either mode.
    problems, other, w2, poster, conflicts = [], [], None, None, None
    failovers = []
    try:
        s.standin_config(key="")    # the second supervisor cannot know the key
        extra = {"OWMCOLLECT_WORKER_CHILDREN": "2"}
        if NEGATIVE:
            extra["OWMCOLLECT_MYSQL_PORT"] = s.env["DB_NODE_PORTS"].split()[2]
        w2 = second_worker(s, extra)
        wait_beating(s, w2, 2)
        conflicts = Conflicts(s)
        conflicts.poll()
        conflicts.start()

        t0 = time.monotonic()
        r = s.post_collect({"id": "big", "cities": BIG})
        if r.status != 202:
            raise AssertionError("the collection's POST: %d %s" % (r.status, r.body))
        poster = Poster(s)
        poster.start()
        s.wait_progress("big", 5, timeout=60)

        for k in range(1, KILLS + 1):
            time.sleep(GAP)
            w = s.writer()
            if w is None:
                raise AssertionError("no writer before kill %d" % k)
            errlog = os.path.join(s.log, "db-%d.err" % w)
            pid = s.pid("db-%d" % w)
            kill = time.monotonic()
            os.kill(pid, signal.SIGKILL)        # kill -9, by its pid file
            wait_until(lambda: not os.path.exists("/proc/%d" % pid), 10, 0.01,
                       "db-%d (pid %d) to die" % (w, pid))
            new = wait_until(lambda: (lambda x: x if x not in (None, w) else None)(s.writer()),
                             20, 0.1, "HAProxy to move off db-%d" % w)
            moved = time.monotonic() - kill
            wait_until(lambda: any(x[0] > kill and x[2] == 202 for x in poster.done()), 60, 0.1,
                       "a POST accepted after kill %d" % k)
            back = min(x[1] for x in poster.done() if x[0] > kill and x[2] == 202) - kill
            mark = log_size(errlog)
            t_join = time.monotonic()
            s.start_node(w)
            joined = time.monotonic() - t_join
            text = log_since(errlog, mark)
            ist = "IST received" in text and "Running IST" in text
            sst = "Preparing the backup" in text or "SST request" in text
            if not ist or sst:
                other.append("db-%d did not rejoin by IST after kill %d (IST %s, SST %s)"
                                % (w, k, ist, sst))
            failovers.append({"kill": k, "node": w, "to": new, "at": kill - t0, "t": kill,
                              "moved": moved, "back": back, "joined": joined, "ist": ist and not sst})
            log("kill %d: db-%d at %.0f s; HAProxy on db-%d after %.1f s; first POST accepted "
                "%.1f s after the kill; db-%d rejoined by %s in %.1f s"
                % (k, w, kill - t0, new, moved, back, w, "IST" if ist and not sst else "SST?", joined))
        # POSTs go on until the collection is done.
        s.wait_progress("big", 100, timeout=240)
        poster.stop.set()
        poster.join()
        res = poster.done()

        # The 503s of each failover: the POSTs sent from its kill to the next.
        for i, f in enumerate(failovers):
            until = failovers[i + 1]["t"] if i + 1 < len(failovers) else float("inf")
            f["503"] = sum(1 for x in res if f["t"] <= x[0] < until and x[2] == 503)
            f["slowest"] = max([x[1] - x[0] for x in res if f["t"] - 5 <= x[0] < until] or [0])
        odd = [(x[4], x[2]) for x in res if x[2] not in (202, 503)]
        if odd:
            other.append("POSTs answered neither 202 nor 503: %s" % odd[:10])
        no_retry = [x[4] for x in res if x[2] == 503 and not x[3]]
        if no_retry:
            other.append("503s without Retry-After: %s" % no_retry[:10])
        accepted = ["big"] + [x[4] for x in res if x[2] == 202]
        cities = BIG + [x[5] for x in res if x[2] == 202]

        # Every request answered 202 reaches 100, then is settled.
        for ident in accepted:
            s.wait_progress(ident, 100, timeout=60)
        s.wait_settled(accepted, 60)
        took = time.monotonic() - t0
        check_rows(s, accepted, problems)

        entries = s.access_log()
        seen = {}
        for e in entries:
            if e.get("status") == 200:
                for c in e.get("ids", []):
                    seen[c] = seen.get(c, 0) + 1
        twice = sorted(c for c, n in seen.items() if n > 1)
        if twice:
            problems.append("%d cities fetched more than once (a double claim): %s"
                            % (len(twice), twice[:10]))
        never = sorted(set(cities) - set(seen))
        if never:
            problems.append("%d cities never fetched: %s" % (len(never), never[:10]))
        win = max_window(entries)
        if win > LIMIT:
            problems.append("%d cities in one 60 s window (R = %d)" % (win, LIMIT))
        refused = sum(1 for e in entries if e.get("fault") == "limit")
        if refused:
            problems.append("the stand-in refused %d calls for the limit (429)" % refused)
        events = conflicts.finish()
        kills = [f["t"] for f in failovers]
        at_failover = [e for e in events if any(k <= e[0] <= k + FAILOVER_S for k in kills)]
        clash = sum(e[2] for e in events if e not in at_failover)
        clash_failover = sum(e[2] for e in at_failover)
        if clash:
            problems.append("%d write conflicts between nodes away from any failover: two nodes "
                            "wrote the same rows at once (at %s)"
                            % (clash, ", ".join("%.0f s on db-%d: %d" % (e[0] - t0, e[1], e[2])
                                                for e in events if e not in at_failover)))

        n503 = sum(1 for x in res if x[2] == 503)
        log("%d POSTs (%d accepted, %d answered 503), %d cities in the stand-in's log, "
            "largest 60 s window %d (R = %d), %d refused for the limit, %d write conflicts "
            "(%d more within %d s of a kill), collection done %.0f s after its POST"
            % (len(res), len(accepted) - 1, n503, sum(len(e.get("ids", [])) for e in entries),
               win, LIMIT, refused, clash, clash_failover, FAILOVER_S, took))
        for f in failovers:
            log("failover %d: db-%d -> db-%d, kill to HAProxy's move %.1f s, kill to first POST "
                "accepted %.1f s, %d POSTs answered 503, slowest POST %.1f s, rejoin by %s %.1f s"
                % (f["kill"], f["node"], f["to"], f["moved"], f["back"], f["503"], f["slowest"],
                   "IST" if f["ist"] else "SST?", f["joined"]))
    finally:
        if poster:
            poster.stop.set()
            poster.join()
        if conflicts:
            conflicts.stop.set()
        if w2:
            w2.send_signal(signal.SIGTERM)
            try:
                w2.wait(timeout=40)
            except Exception:
                w2.kill()
                w2.wait()
        try:
            s.stop()        # fails when a process of the stack outlives it
            left = s.processes()
            if left:
                other.append("processes left after stop: %r" % left)
        except AssertionError as e:
            other.append(str(e))
    log("run time %.0f s" % (time.monotonic() - t_start))
    for p in problems:
        log("VIOLATION: " + p)
    for p in other:
        log("FAILED: " + p)
    if NEGATIVE:
        if problems and not other:
            log("test-cluster NEGATIVE: the checks caught the second writer (%d violations): PASS"
                % len(problems))
            ok = True
        else:
            log("test-cluster NEGATIVE: %s: FAIL" % ("two writers, and no check failed"
                                                    if not problems else "other failures"))
            ok = False
    else:
        ok = not problems and not other
        log("test-cluster: %s" % ("OK" if ok else "FAIL (logs kept in %s)" % s.dir))
    if ok and not s.keep:
        shutil.rmtree(s.dir, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""A reload or a stop of owmcollect-fcgi under load drops nothing.

SIGHUP to the supervisor rolls every child: each finishes the request in
hand and exits, connections wait on the shared listening socket for the
new children, and so no answer under load is an error, GET or POST.

SIGTERM to the supervisor and a new start: the requests in hand and the
connections already queued are served before the old processes exit;
while no program listens nginx cannot connect and answers 503 (its 502,
in the API's shape), and only then; every POST answered 202 is stored.

Load: wrk on a GET of a request in progress (never cached: it changes), and
client threads POSTing unique ids.  The worker collects slowly (60 cities a
minute), so the request stays in progress throughout."""
import http.client
import json
import os
import re
import signal
import subprocess
import threading
import time
import unittest

from harness import Stack, wait_until

S = None
# POST_RATE: while nginx answers 503 at once, the clients POST faster than
# its per-address limit (2,000/s by default) allows.
ENV = {"OWMCOLLECT_OWM_CITIES_PER_MINUTE": "60", "POST_RATE": "100000"}
IN_PROGRESS = list(range(770000001, 770001001))	# 1,000 cities: minutes of work
HUPS, HUP_EVERY = 12, 0.5			# the reloads, half a second apart
POSTERS = 4


def setUpModule():
    global S
    S = Stack(env=ENV).start()
    r = S.post_collect({"id": "in-progress", "cities": IN_PROGRESS})
    if r.status != 202:
        S.stop()
        raise AssertionError("POST in-progress: %d %r" % (r.status, r.body))


def tearDownModule():
    if S:
        S.stop()


def wrk(path, seconds):
    """wrk -t2 -c16 on path, in the background; wrk_result() reads it."""
    return subprocess.Popen(["wrk", "-t2", "-c16", "-d%ds" % seconds, "--timeout", "10s",
                             "http://127.0.0.1:%d%s" % (S.port, path)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wrk_result(p, seconds):
    out = p.communicate(timeout=seconds + 30)[0]
    total = re.search(r"(\d+) requests in", out)
    assert total, out
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {"requests": int(total.group(1)), "non2xx": int(bad.group(1)) if bad else 0,
            "socket_errors": sum(int(x) for x in sock.groups()) if sock else 0, "out": out}


class Posters:
    """POSTERS threads POSTing unique ids (prefix-thread-n) over keep-alive
    connections until stopped; every answer as (start, end, status or
    (status, body) or exception text, id)."""

    def __init__(self, prefix):
        self.prefix, self.done, self.answers = prefix, threading.Event(), []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(t,)) for t in range(POSTERS)]

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        for t in self.threads:
            t.join()

    def run(self, t):
        c, n = None, 0
        while not self.done.is_set():
            ident = "%s-%d-%d" % (self.prefix, t, n)
            n += 1
            body = json.dumps({"id": ident, "cities": [2643743, 2988507, 5128581]})
            t0 = time.monotonic()
            try:
                if c is None:
                    c = http.client.HTTPConnection("127.0.0.1", S.port, timeout=20)
                c.request("POST", "/collect", body, {"Content-Type": "application/json"})
                r = c.getresponse()
                data = r.read()
                got = r.status if r.status == 202 else (r.status, data[:80])
            except (OSError, http.client.HTTPException) as e:
                got = repr(e)
                c.close()
                c = None
            with self.lock:
                self.answers.append((t0, time.monotonic(), got, ident))
        if c is not None:
            c.close()

    def accepted(self):
        return [a[3] for a in self.answers if a[2] == 202]

    def others(self):
        return [a for a in self.answers if a[2] != 202]



def nginx_log_end():
    return os.path.getsize(os.path.join(S.log, "nginx-error.log"))


def upstream_errors(since):
    """nginx's error log lines about owmcollect-fcgi written after since."""
    with open(os.path.join(S.log, "nginx-error.log"), errors="replace") as f:
        f.seek(since)
        return [l.strip()[:240] for l in f if "upstream" in l]


def stored(test, prefix, ids):
    """Every id answered 202 is in the database and GET /get finds it."""
    rows = S.sql("SELECT ext_id FROM requests WHERE ext_id LIKE '%s-%%'" % prefix)
    have = {r[0] for r in rows}
    missing = [i for i in ids if i not in have]
    test.assertEqual(missing[:10], [], "%d of %d POSTs answered 202 are not stored" %
                     (len(missing), len(ids)))
    for i in ids[::max(1, len(ids) // 20)]:
        test.assertEqual(S.get(i).status, 200, i)


def fcgi_children():
    return set(S.children("fcgi"))


class Reload(unittest.TestCase):
    def test_1_sighup_under_load_drops_nothing(self):
        before, log = fcgi_children(), nginx_log_end()
        seconds = int(HUPS * HUP_EVERY + 4)
        p = wrk("/get?id=in-progress", seconds)
        with Posters("hup") as posts:
            time.sleep(1.5)
            for _ in range(HUPS):
                S.signal("fcgi", signal.SIGHUP)
                time.sleep(HUP_EVERY)
            got = wrk_result(p, seconds)
        print("\n  SIGHUP x%d: GET %d requests, %d non-2xx, %d socket errors; POST %d, %d not 202"
              % (HUPS, got["requests"], got["non2xx"], got["socket_errors"],
                 len(posts.answers), len(posts.others())))
        # The children were rolled: none of the first ones is left.
        after = wait_until(lambda: (lambda c: c if c and not c & before else None)(fcgi_children()),
                           20, 0.1, "every owmcollect-fcgi child to be replaced")
        self.assertFalse(after & before)
        lost = upstream_errors(log)
        self.assertEqual(lost[:5], [], "%d connections lost" % len(lost))
        self.assertEqual((got["non2xx"], got["socket_errors"]), (0, 0), got["out"])
        self.assertGreater(got["requests"], 1000, got["out"])
        self.assertEqual(posts.others()[:10], [])
        self.assertGreater(len(posts.answers), 100)
        stored(self, "hup", posts.accepted())

    def test_2_sigterm_and_start_again(self):
        pid, log = S.pid("fcgi"), nginx_log_end()
        seconds = 8
        p = wrk("/get?id=in-progress", seconds)
        with Posters("term") as posts:
            time.sleep(1.5)
            t_term = time.monotonic()
            S.signal("fcgi", signal.SIGTERM)
            wait_until(lambda: not os.path.exists("/proc/%d" % pid), 15, 0.02,
                       "the old owmcollect-fcgi to exit")
            S.stack("start-one", "fcgi")
            t_up = time.monotonic()
            time.sleep(2)
            got = wrk_result(p, seconds)
        down = t_up - t_term
        others = posts.others()
        print("\n  SIGTERM, start again (%.2f s without a socket): GET %d requests, %d non-2xx, "
              "%d socket errors; POST %d, %d not 202"
              % (down, got["requests"], got["non2xx"], got["socket_errors"],
                 len(posts.answers), len(others)))
        with open(os.path.join(S.log, "fcgi.log"), errors="replace") as f:
            fcgi_log = f.read()
        self.assertNotIn("killing", fcgi_log)	# every old process exited in time
        # nginx loses no connection it made (reset, closed early): it only
        # fails to make one, while no socket is there to connect to.
        lost = [l for l in upstream_errors(log) if "connect() to unix:" not in l]
        self.assertEqual(lost[:5], [], "%d connections lost" % len(lost))
        self.assertEqual(got["socket_errors"], 0, got["out"])
        # Anything else than a 202: a 503, for a request made while no
        # program was listening (nginx answers it at once).
        self.assertEqual([a for a in others if not isinstance(a[2], tuple) or a[2][0] != 503], [])
        self.assertEqual([a for a in others if a[1] < t_term or a[0] > t_up], [])
        self.assertGreater(len(posts.answers), 100)
        stored(self, "term", posts.accepted())
        self.assertEqual(S.get("in-progress").status, 200)


if __name__ == "__main__":
    unittest.main(verbosity=2)

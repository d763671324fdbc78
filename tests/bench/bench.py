#!/usr/bin/env python3
"""make bench: owmcollect's figures beside their ceilings, measured in one run.

  HTTP    wrk through nginx (2 threads x 32 connections, 10 s after a 2 s
          warm-up): GET of a finished 167-city request, GET of one still in
          progress, POST with a unique id each (167 cities each); ceilings:
          the same nginx build serving a static copy of the GET body, and
          the POST's database work done directly by a C loop (post_direct),
          and the least a POST must do (post_direct -m min: its row, its
          counters, one commit), same concurrency.
  Worker  cities/min sustained against the stand-in with the limit raised
          to 200,000/min, group and single mode; time from POST to the
          first API call; at the real 60/min: completion time for the 167
          default cities, share of the limit used, windows over it.
  Memory  resident (RSS) and proportional (PSS) memory of the FastCGI and
          worker processes under load.
  Cold    POSTs whose cities are never fresh beside a worker fetching a
          backlog (COLD_LIMIT cities/min, COLD_CHILDREN children,
          COLD_SECONDS per phase): the worker's rate before and during the
          flood, and where the time goes: cores used by each part of the
          stack, the database's counts per batch and per POST; then, beside
          the same worker, its ceilings started at COLD_RATE (1,000) a
          second by post_direct: the least a POST must do, the least after
          the look-up every POST starts with, and the POST's own database
          work, each with the worker's rate during it.
  Stand-in  the API stand-in's single-city calls a second over one
          keep-alive connection, from http.client beside a raw socket
          client (its ceiling: the same calls without http.client's cost).

Sections can be picked: bench.py http worker memory realtime cold waiters purge
growth standin.  memory: idle and after load, per program, for this build
and, with BENCH_BEFORE=<another build folder>, that one in the same run.
"""
import http.client
import json
import os
import pwd
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from harness import Stack, free_port, max_window, wait_until, write_retention_conf  # noqa: E402

B = os.environ.get("B", "build")
ROWS = []


def row(what, value, ceiling=None, note=""):
    ROWS.append((what, value, ceiling, note))
    ratio = ""
    if ceiling:
        ratio = "  (%.0f%% of %s)" % (100.0 * value[0] / ceiling[0], ceiling[1])
    print("  %-44s %s%s %s" % (what, value[1], ratio, note), flush=True)


def wrk(url, seconds=10, script=None, warmup=2):
    base = ["wrk", "-t2", "-c32", "--latency"]
    if script:
        base += ["-s", script]
    # A script gets its run's name as args[1]: POST ids stay unique.
    subprocess.run(base + ["-d%ds" % warmup, url, "--", "warm"], capture_output=True, text=True)
    out = subprocess.run(base + ["-d%ds" % seconds, url, "--", "run"], capture_output=True,
                         text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def pct(p):
        m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)\s*$" % p, out, re.M)
        v = float(m.group(1))
        return v / 1000 if m.group(2) == "us" else v * 1000 if m.group(2) == "s" else v
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, pct(50), pct(99), int(non2xx.group(1)) if non2xx else 0


def fmt(rps, p50, p99, bad=0):
    return (rps, "%8.0f req/s  p50 %6.2f ms  p99 %6.2f ms%s" %
            (rps, p50, p99, "  (%d non-2xx!)" % bad if bad else ""))


def static_nginx(body, tmp):
    """The same nginx, same worker count, serving body as a static file."""
    port = free_port()
    os.makedirs(os.path.join(tmp, "www"), exist_ok=True)
    with open(os.path.join(tmp, "www", "get.json"), "wb") as f:
        f.write(body)
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as f:
        f.write("""
%s
worker_processes 2; pid %s/nginx.pid; error_log %s/error.log;
events { worker_connections 4096; }
http { access_log %s/access.log combined buffer=64k flush=1s; sendfile on; tcp_nopush on;
  server { listen 127.0.0.1:%d; root %s/www; default_type application/json; } }
""" % ("user www-data;" if os.getuid() == 0 else "", tmp, tmp, tmp, port, tmp))
    os.chmod(tmp, 0o755)
    subprocess.run(["nginx", "-p", tmp, "-c", conf], check=True)
    return port, os.path.join(tmp, "nginx.pid")


def stop_pidfile(path):
    try:
        with open(path) as f:
            os.kill(int(f.read().strip()), 15)
    except (OSError, ValueError):
        pass


def processes(pidfile):
    """The supervisor from pidfile and its children."""
    with open(pidfile) as f:
        top = int(f.read().strip())
    pids = [top]
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open("/proc/%s/stat" % p) as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == top:
                        pids.append(int(p))
            except (OSError, IndexError, ValueError):
                pass
    return pids


def pages(pids):
    """The distinct physical pages the processes map (root only: other
    users read no page frame numbers): their PSS if nothing else on the
    machine mapped the same libraries, the figure that does not move with
    what else runs.  None when unreadable."""
    seen = set()
    for p in pids:
        try:
            with open("/proc/%d/maps" % p) as f:
                maps = [line.split() for line in f]
            with open("/proc/%d/pagemap" % p, "rb") as pm:
                for m in maps:
                    if m[-1] == "[vsyscall]":
                        continue
                    a, b = (int(x, 16) for x in m[0].split("-"))
                    pm.seek(a // 4096 * 8)
                    data = pm.read((b - a) // 4096 * 8)
                    for i in range(0, len(data), 8):
                        e = int.from_bytes(data[i:i + 8], "little")
                        if e >> 63:
                            seen.add(e & ((1 << 55) - 1))
        except OSError:
            pass
    if not seen or seen == {0}:
        return None
    return len(seen) * 4 / 1024


def memory_detail(pids):
    """MiB: PSS, private dirty, shared (clean and dirty), from smaps_rollup."""
    got = {"Pss": 0, "Private_Dirty": 0, "Shared_Clean": 0, "Shared_Dirty": 0}
    for p in pids:
        try:
            with open("/proc/%d/smaps_rollup" % p) as f:
                for line in f:
                    k = line.split(":")[0]
                    if k in got:
                        got[k] += int(line.split()[1])
        except OSError:
            pass
    return {k: v / 1024 for k, v in got.items()}


def memory(pids):
    rss = pss = 0
    for p in pids:
        try:
            with open("/proc/%d/smaps_rollup" % p) as f:
                for line in f:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except OSError:
            pass
    return rss / 1024, pss / 1024


# Where the time goes: CPU seconds per component of a stack (its pid
# file's process and that one's children, as processes() finds them) and
# the database's own counts, read before and after a phase.
COMPONENTS = ("mysqld", "fcgi", "worker", "nginx", "standin")
DB_COUNTS = ("Questions", "Com_commit", "Com_stmt_execute", "Com_select", "Com_insert",
             "Com_update", "Com_delete", "Handler_commit", "Handler_read_key",
             "Handler_read_next", "Handler_write", "Handler_update", "Innodb_rows_read",
             "Innodb_row_lock_waits", "Innodb_row_lock_time", "Innodb_deadlocks")


def cpu_seconds(pids):
    tick = os.sysconf("SC_CLK_TCK")
    t = 0
    for p in pids:
        try:
            with open("/proc/%d/stat" % p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            t += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            pass
    return t


def profile(s):
    """A snapshot for profile_diff: CPU per component, the database's counts."""
    snap = {"t": time.time(), "cpu": {}, "db": {}}
    for c in COMPONENTS:
        path = os.path.join(s.run, c + ".pid")
        if os.path.exists(path):
            snap["cpu"][c] = cpu_seconds(processes(path))
    snap["cpu"]["machine"] = machine_cpu()
    rows = s.sql("SHOW GLOBAL STATUS WHERE Variable_name IN (%s)"
                 % ",".join("'%s'" % k for k in DB_COUNTS))
    snap["db"] = {k: int(v) for k, v in rows}
    return snap


def machine_cpu():
    """Busy CPU seconds of the whole machine (every core), from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")


def profile_diff(a, b, per=None, what=""):
    """One line of CPU (cores used by each component over the phase) and
    one of the database's counts, per unit of work when per is given."""
    span = max(b["t"] - a["t"], 1e-3)
    cores = ", ".join("%s %.2f" % (c, (b["cpu"][c] - a["cpu"].get(c, 0)) / span)
                      for c in list(COMPONENTS) + ["machine"] if c in b["cpu"])
    print("    cores used (%s, %.0f s): %s" % (what, span, cores), flush=True)
    if per:
        d = {k: (b["db"].get(k, 0) - a["db"].get(k, 0)) / per for k in DB_COUNTS}
        print("    database per %s: %s" % (what, ", ".join(
            "%s %.1f" % (k, v) for k, v in d.items() if v)), flush=True)


POST_LUA = """
local n = 0
local tid = 0
local tag = ""
local counter = 0
local cities = "%s"
function setup(thread) counter = counter + 1; thread:set("tid", counter) end
function init(args) n = 0; tid = wrk.thread:get("tid"); tag = args[1] or "" end
function request()
  n = n + 1
  return wrk.format("POST", "/collect", {["Content-Type"] = "application/json"},
    string.format('{"id": "bench-%%s-%%s-%%d-%%d"%%s}', os.time(), tag, tid, n, cities))
end
"""


def bench_http():
    print("HTTP (wrk -t2 -c32, 10 s after 2 s warm-up)", flush=True)
    # wrk is one client doing the load of many: nginx's per-client POST
    # limit (POST_RATE, 2,000/s by default) is raised so that it measures
    # the service, not the limiter.
    env = {"OWMCOLLECT_OWM_CITIES_PER_MINUTE": "200000", "OWMCOLLECT_OWM_MODE": "group",
           "POST_RATE": "100000"}
    with Stack(env=env) as s, tempfile.TemporaryDirectory() as tmp:
        s.post_collect({"id": "finished"})
        s.wait_progress("finished", 100, timeout=120)
        # In progress: the stand-in stops answering; the 167 default cities
        # are fresh, so this request holds 167 readings and 833 pending.
        s.standin_config(p_hang=1.0)
        extra = list(range(700000001, 700000834))
        import harness
        with open(os.path.join(ROOT, "etc", "cities.txt")) as f:
            default = [int(x) for x in f.read().split()]
        s.post_collect({"id": "in-progress", "cities": default + extra})
        doc = s.get("in-progress").json
        assert doc["finished_at"] is None and len(doc["data"]) == 167, doc["progress"]
        body = s.request("GET", "/get?id=finished").body
        port, pidfile = static_nginx(body, tmp)
        try:
            base = "http://127.0.0.1:%d" % s.port
            st = wrk("http://127.0.0.1:%d/get.json" % port)
            row("nginx static copy of the GET body (%d B)" % len(body), fmt(*st))
            fin = wrk(base + "/get?id=finished")
            row("GET /get, finished request", fmt(*fin), (st[0], "static"))
            prog = wrk(base + "/get?id=in-progress")
            row("GET /get, in progress (167 of 1000)", fmt(*prog), (st[0], "static"))
        finally:
            stop_pidfile(pidfile)
        lua = os.path.join(tmp, "post.lua")
        with open(lua, "w") as f:
            f.write(POST_LUA % "")
        # The same, with 167 cities none of which has a reading: each POST
        # queues all 167 (the queue entries every POST shares).
        lua_queued = os.path.join(tmp, "post-queued.lua")
        with open(lua_queued, "w") as f:
            f.write(POST_LUA % (', \\"cities\\": [%s]' %
                                ",".join(str(c) for c in range(710000001, 710000168))))
        mem = {}

        def sample():
            time.sleep(5)
            mem["fcgi"] = memory(processes(os.path.join(s.run, "fcgi.pid")))
            mem["worker"] = memory(processes(os.path.join(s.run, "worker.pid")))
        t = threading.Thread(target=sample)
        t.start()
        post = wrk(base + "/collect", script=lua, warmup=1)
        t.join()

        def direct(mode):
            return post_direct(s, mode, 12, 10)
        # The POSTs and their two ceilings one after another, in rounds:
        # the machine's other load moves less within a round than across
        # the run, so each round's ratios are the figures.
        for rnd in range(int(os.environ.get("POST_ROUNDS", "2"))):
            if rnd:
                post = wrk(base + "/collect", script=lua, warmup=1)
            same = direct("post")
            least = direct("min")
            row("round %d: least a POST must do (C, 12 procs: row, counters, commit)" % (rnd + 1),
                fmt(*least))
            row("round %d: POST /collect db work direct (C, 12 procs, as http.processes)"
                % (rnd + 1), fmt(*same), (least[0], "least"))
            row("round %d: POST /collect, unique ids, 167 cities" % (rnd + 1), fmt(*post),
                (same[0], "direct"))
            row("round %d:   the same POSTs beside the least" % (rnd + 1), fmt(*post),
                (least[0], "least"))
        queued = wrk(base + "/collect", script=lua_queued, warmup=1)
        row("POST, 167 cities all queued (none fresh)", fmt(*queued))
        return mem


SEED_APP = os.path.join(ROOT, "tests", "bench", "seedstack")


def seed_stack(s, rows):
    """The seed's stack (seedstack/app.py) under uvicorn, one process a
    core, its cities' rows written as rows says, in a database of its own
    on s's MariaDB: (its process, its base URL)."""
    db = "seed_" + rows
    s.sql("CREATE DATABASE %s" % db)
    port = free_port()
    url = "mysql+pymysql://%s@localhost/%s?unix_socket=%s" % (
        pwd.getpwuid(os.getuid()).pw_name, db, os.path.join(s.run, "mysqld.sock"))
    env = dict(os.environ, SEED_DB_URL=url, SEED_ROWS=rows,
               SEED_CITIES=os.path.join(ROOT, "etc", "cities.txt"))
    with open(os.path.join(s.log, "seed-%s.log" % rows), "w") as log:
        proc = subprocess.Popen(["/usr/bin/python3", "-m", "uvicorn", "app:app", "--app-dir",
                                 SEED_APP, "--host", "127.0.0.1", "--port", str(port),
                                 "--workers", str(os.cpu_count()), "--log-level", "warning",
                                 "--no-access-log"], env=env, stdout=log, stderr=log,
                                start_new_session=True)
    base = "http://127.0.0.1:%d" % port

    def up():
        try:
            urllib.request.urlopen(base + "/get/?id=none", timeout=2)
        except urllib.error.HTTPError as e:
            return e.code == 404
        except OSError:
            return False
        return False
    try:
        wait_until(up, 60, 0.2, what="the seed's stack to answer")
    except Exception:
        os.killpg(proc.pid, signal.SIGTERM)
        raise
    return proc, base


def bench_seed():
    """POST with fresh readings (the 167 default cities, all fresh, as in
    bench_http) beside the seed's stack, both ways its cities' rows are
    commonly written.  The same wrk (-t2 -c32, unique ids), one after
    another, in rounds; the seed is reached directly, this service
    through nginx."""
    env = {"OWMCOLLECT_OWM_CITIES_PER_MINUTE": "200000", "OWMCOLLECT_OWM_MODE": "group",
           "POST_RATE": "100000"}
    with Stack(env=env) as s, tempfile.TemporaryDirectory() as tmp:
        s.post_collect({"id": "fresh"})
        s.wait_progress("fresh", 100, timeout=120)
        lua = os.path.join(tmp, "post.lua")
        with open(lua, "w") as f:
            f.write(POST_LUA % "")
        lua_seed = os.path.join(tmp, "post-seed.lua")
        with open(lua_seed, "w") as f:
            text = (POST_LUA % "").replace('"/collect"', '"/collect/"')
            assert '"/collect/"' in text, "POST_LUA no longer names /collect"
            f.write(text)
        for rows in ("orm", "many"):
            proc, seed = seed_stack(s, rows)
            try:
                for rnd in range(int(os.environ.get("SEED_ROUNDS", "2"))):
                    theirs = wrk(seed + "/collect/", script=lua_seed, warmup=1)
                    ours = wrk("http://127.0.0.1:%d/collect" % s.port, script=lua, warmup=1)
                    row("%s, round %d: the seed's stack, POST /collect/" % (rows, rnd + 1),
                        fmt(*theirs))
                    row("%s, round %d: POST /collect, 167 cities fresh" % (rows, rnd + 1),
                        fmt(*ours), note="(%.1fx the seed's stack; target >= 15x)"
                        % (ours[0] / max(theirs[0], 1e-9)))
            finally:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=30)
            n = s.sql("SELECT COUNT(*), (SELECT COUNT(*) FROM seed_{0}.city_weather) "
                      "FROM seed_{0}.collections".format(rows))
            print("    the seed's stack (%s) stored %s collections, %s city rows"
                  % (rows, n[0][0], n[0][1]))


def memory_load(s, tmp):
    """A finished 167-city request and one in progress of 1000 (the
    biggest answers the HTTP rows build), then POSTs and GETs of both."""
    s.post_collect({"id": "finished"})
    s.wait_progress("finished", 100, timeout=120)
    time.sleep(2)
    idle = memory_sample(s)
    s.standin_config(p_hang=1.0)
    with open(os.path.join(ROOT, "etc", "cities.txt")) as f:
        default = [int(x) for x in f.read().split()]
    s.post_collect({"id": "in-progress", "cities": default + list(range(700000001, 700000834))})
    lua = os.path.join(tmp, "post.lua")
    with open(lua, "w") as f:
        f.write(POST_LUA % "")
    base = "http://127.0.0.1:%d" % s.port
    wrk(base + "/collect", seconds=10, script=lua, warmup=1)
    wrk(base + "/get?id=finished", seconds=5, warmup=0)
    wrk(base + "/get?id=in-progress", seconds=5, warmup=0)
    wrk(base + "/collect?limit=100", seconds=3, warmup=0)
    time.sleep(2)
    return idle, memory_sample(s)


def memory_sample(s):
    got = {}
    for k in ("fcgi", "worker"):
        pids = processes(os.path.join(s.run, k + ".pid"))
        got[k] = memory_detail(pids)
        got[k]["alone"] = pages(pids)
    both = processes(os.path.join(s.run, "fcgi.pid")) + processes(os.path.join(s.run, "worker.pid"))
    got["alone"] = pages(both)
    return got


def memory_text(m):
    alone = " (alone: %.1f)" % m["alone"] if m["alone"] is not None else ""
    return "PSS %5.1f MiB%s, private dirty %5.1f, shared %5.1f" % (
        m["Pss"], alone, m["Private_Dirty"], m["Shared_Clean"] + m["Shared_Dirty"])


def bench_memory():
    """The two programs' memory idle and after load, for this build and,
    when BENCH_BEFORE names another build folder (e.g. the code before a
    change, built with make B=build-old), for that one in the same run.
    PSS divides a page among every process on the machine that maps it,
    so it falls as other programs share the same libraries; "alone"
    counts each page the two programs map once: their PSS on a machine
    of their own."""
    builds = [b for b in (os.environ.get("BENCH_BEFORE"), B) if b]
    got = {}
    for b in builds:
        env = {"OWMCOLLECT_OWM_CITIES_PER_MINUTE": "200000", "OWMCOLLECT_OWM_MODE": "group",
               "POST_RATE": "100000", "B": b}
        with Stack(env=env) as s, tempfile.TemporaryDirectory() as tmp:
            got[b] = memory_load(s, tmp)
    for when, i in (("idle", 0), ("after load", 1)):
        for b in builds:
            m = got[b][i]
            for k in ("fcgi", "worker"):
                row("%s %s, %s" % (b, k, when), (m[k]["Pss"], memory_text(m[k])))
            tot = m["fcgi"]["Pss"] + m["worker"]["Pss"]
            alone = m["alone"]
            before = got[builds[0]][i] if len(builds) > 1 and b != builds[0] else None
            ceiling = None
            if before and alone is not None and before["alone"] is not None:
                ceiling = (before["alone"], "%s alone" % builds[0])
            row("%s fcgi + worker, %s" % (b, when),
                (alone if alone is not None else tot,
                 "PSS %.1f MiB, alone %s MiB (target <= 20 MiB)" %
                 (tot, "%.1f" % alone if alone is not None else "?")), ceiling)


def arrivals(s):
    return [e for e in s.access_log() if e.get("ids")]


def bench_worker_rate(mode, n_req):
    """n_req requests of 1,000 new cities each, posted at once; cities/min
    at the stand-in once every POST is in (the worker alone), and over the
    whole run (from the first arrival, POSTs competing for the database)."""
    env = {"OWMCOLLECT_OWM_CITIES_PER_MINUTE": "200000", "OWMCOLLECT_OWM_MODE": mode,
           "OWMCOLLECT_WORKER_CHILDREN": os.environ.get("BENCH_CHILDREN", "4"),
           "OWMCOLLECT_WORKER_REUSE_SECONDS": "0",
           # The gate paces at limit x 60 / (60 + margin): with the default
           # 1 s margin, 196,700/min.  The stand-in is on loopback: 100 ms
           # of margin (199,700/min) is ample, and leaves a child waking
           # late under load 50 ms before its slot is given up.
           "OWMCOLLECT_OWM_MARGIN_MS": "100"}
    with Stack(env=env) as s:
        per = 1000
        for i in range(n_req):
            cities = list(range(100000000 + i * per, 100000000 + (i + 1) * per))
            assert s.post_collect({"id": "load-%d" % i, "cities": cities}).status == 202
        posted = time.time()
        for i in range(n_req):
            s.wait_progress("load-%d" % i, 100, timeout=300)
        ev = arrivals(s)
        t = sorted(e["t"] for e in ev)
        cities = sum(len(e["ids"]) for e in ev)
        span = max(t[-1] - t[0], 1e-3)
        whole = cities / span * 60
        late = [e for e in ev if e["t"] >= posted]
        lspan = max(t[-1] - min(e["t"] for e in late), 1e-3)
        rate = sum(len(e["ids"]) for e in late) / lspan * 60
        # Each full 5 s of the run, to show the rate holds.
        buckets = {}
        for e in ev:
            buckets[int((e["t"] - t[0]) / 5)] = buckets.get(int((e["t"] - t[0]) / 5), 0) + len(e["ids"])
        full = sorted(v * 12 for k, v in buckets.items() if (k + 1) * 5 <= span)
        per5 = "; each 5 s: %.0f-%.0f/min" % (full[0], full[-1]) if full else ""
        row("worker, %s mode, limit 200,000/min, margin 100 ms" % mode,
            (rate, "%8.0f cities/min once posted (%.1f s)%s; whole run %.0f/min "
             "(%d cities in %.1f s, %d calls)" % (rate, lspan, per5, whole, cities, span, len(ev))),
            (200000, "the limit"), "max in any 60 s: %d" % max_window(ev))
        return rate


def bench_first_call():
    with Stack(env={"OWMCOLLECT_OWM_CITIES_PER_MINUTE": "60"}) as s:
        time.sleep(1)
        lat = []
        for i in range(5):
            city = 600000001 + i
            t0 = time.time()
            s.post_collect({"id": "first-%d" % i, "cities": [city]})
            ev = wait_until(lambda: [e for e in s.access_log() if city in (e.get("ids") or [])], 10)
            lat.append(ev[0]["t"] - t0)
            time.sleep(1.5)
        row("POST to first API call (5 samples)", (max(lat), "max %.3f s, median %.3f s" %
                                                   (max(lat), sorted(lat)[2])))


def arrived_between(ev, t0, t1):
    """The calls and the cities the stand-in saw arrive in [t0, t1)."""
    got = [len(e["ids"]) for e in ev if t0 <= e["t"] < t1]
    return len(got), sum(got)


def post_direct(s, mode, procs, secs, rate=None):
    """The C client's POSTs (tests/bench/post_direct.c) on s's database:
    (rate, p50 ms, p99 ms)."""
    env = dict(s.env)
    env["OWMCOLLECT_MYSQL_SOCKET"] = os.path.join(s.run, "mysqld.sock")
    with open(os.path.join(s.dir, "secrets", "mysql-password")) as f:
        env["OWMCOLLECT_MYSQL_PASSWORD"] = f.read().strip()
    argv = [os.path.join(ROOT, B, "tests", "post_direct"), "-c",
            os.path.join(ROOT, "etc", "owmcollect.conf"), "-m", mode,
            "-p", str(procs), "-d", str(secs)]
    if rate:
        argv += ["-r", str(rate)]
    run = subprocess.run(argv, env=env, capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError("post_direct -m %s: exit %d: %s" % (mode, run.returncode,
                                                              run.stderr[-3000:]))
    out = run.stdout
    m = dict(zip(out.split()[0::2], out.split()[1::2]))
    return (float(m["rate"]), float(m["p50_ms"]), float(m["p99_ms"]))


def bench_cold():
    """The cold path: every POST takes the cold path (readings are
    never reused) while the worker fetches a backlog of unique cities at a
    high limit; the worker's rate without and during the flood, measured
    at the stand-in in the same run."""
    secs = int(os.environ.get("COLD_SECONDS", "60"))
    limit = int(os.environ.get("COLD_LIMIT", "30000"))
    env = {"OWMCOLLECT_OWM_CITIES_PER_MINUTE": str(limit), "OWMCOLLECT_OWM_MODE": "group",
           "OWMCOLLECT_WORKER_CHILDREN": os.environ.get("COLD_CHILDREN", "2"),
           "OWMCOLLECT_WORKER_REUSE_SECONDS": "0",
           "OWMCOLLECT_OWM_MARGIN_MS": "100", "POST_RATE": "100000"}
    # Fewer FastCGI processes: fewer POSTs at the database at once.
    if os.environ.get("COLD_PROCESSES"):
        env["OWMCOLLECT_HTTP_PROCESSES"] = os.environ["COLD_PROCESSES"]
    # When POSTs leave their cities to the worker's resolver (http.defer).
    if os.environ.get("COLD_DEFER"):
        env["OWMCOLLECT_HTTP_DEFER"] = os.environ["COLD_DEFER"]
    # POSTs of a host at the database at once while the worker is behind.
    if os.environ.get("COLD_TURNS"):
        env["OWMCOLLECT_HTTP_POSTS_WHILE_BEHIND"] = os.environ["COLD_TURNS"]
    with Stack(env=env) as s, tempfile.TemporaryDirectory() as tmp:
        # A backlog for both phases and then some: the worker never idles.
        n = int(limit * (5 * secs + 60) / 60 / 1000) + 2
        for i in range(n):
            cities = list(range(300000000 + i * 1000, 300000000 + (i + 1) * 1000))
            assert s.post_collect({"id": "backlog-%d" % i, "cities": cities}).status == 202
        wait_until(lambda: len(arrivals(s)) > 50, 30, what="the worker to start")
        time.sleep(2)
        q0, pa = time.time(), profile(s)
        time.sleep(secs)
        q1, pb = time.time(), profile(s)
        lua = os.path.join(tmp, "post.lua")
        with open(lua, "w") as f:
            f.write(POST_LUA % "")
        f0, pc = time.time(), profile(s)
        post = wrk("http://127.0.0.1:%d/collect" % s.port, seconds=secs, script=lua, warmup=0)
        f1, pd = time.time(), profile(s)
        lag = resolver_lag(s)
        ev = arrivals(s)
        calls, cities = arrived_between(ev, q0, q1)
        fcalls, fcities = arrived_between(ev, f0 + 1, f1)
        quiet = cities / max(q1 - q0, 1e-3) * 60
        flood = fcities / max(f1 - f0 - 1, 1e-3) * 60
        print("    calls/s before %.1f (%.1f cities each), during %.1f (%.1f cities each)" % (
            calls / (q1 - q0), cities / max(calls, 1),
            fcalls / (f1 - f0 - 1), fcities / max(fcalls, 1)))
        profile_diff(pa, pb, calls, "batch, worker alone")
        profile_diff(pc, pd, post[0] * secs, "POST, beside the worker")
        errs = sum(1 for l in open(os.path.join(s.log, "fcgi.log"), errors="replace")
                   if "deadlock" in l or "lock wait" in l.lower())
        row("cold POST (167 default cities, stale), %d s of wrk" % secs, fmt(*post),
            note="(fcgi log: %d lock errors; target >= 1000 req/s, p99 < 100 ms, only 202)"
            % errs)
        if lag:
            print("    deferred POSTs unresolved at the flood's end: %d, all resolved %.1f s "
                  "later" % lag)
        row("worker beside it (group, %s children, limit %d/min; %s FastCGI processes; "
            "http.defer %s, posts_while_behind %s)"
            % (env["OWMCOLLECT_WORKER_CHILDREN"], limit,
               env.get("OWMCOLLECT_HTTP_PROCESSES", "the configured"),
               env.get("OWMCOLLECT_HTTP_DEFER", "the configured"),
               env.get("OWMCOLLECT_HTTP_POSTS_WHILE_BEHIND", "the configured")),
            (flood, "%.0f cities/min during the flood, %.0f before it" % (flood, quiet)),
            (quiet, "before"), "target >= 90 %")
        # What the target asks of any POST, beside the same worker: the
        # least a POST must do, the least after the look-up every POST
        # starts with, then this POST's database work (no HTTP, no turns),
        # each started at COLD_RATE a second by the C client.
        rate = int(os.environ.get("COLD_RATE", "1000"))
        procs = int(env.get("OWMCOLLECT_HTTP_PROCESSES", "12"))
        for mode, what in (("min", "the least a POST must do"),
                           ("look", "the least after the look-up"),
                           ("post", "this POST's database work")):
            time.sleep(2)
            t0 = time.time()
            d = post_direct(s, mode, procs, secs, rate=rate)
            t1 = time.time()
            _, c = arrived_between(arrivals(s), t0 + 1, t1)
            beside = c / max(t1 - t0 - 1, 1e-3) * 60
            row("%s (C, %d processes, %d/s asked), %d s" % (what, procs, rate, secs), fmt(*d))
            row("  worker beside it", (beside, "%.0f cities/min" % beside), (quiet, "before"),
                "target >= 90 %")


def resolver_lag(s):
    """(requests still unresolved, seconds until none is) when a flood
    ends; None when none was."""
    q = "SELECT COUNT(*) FROM requests WHERE wait_fetch = 0"
    left, t0 = int(s.sql(q)[0][0]), time.time()
    if left == 0:
        return None
    wait_until(lambda: int(s.sql(q)[0][0]) == 0, 300, 0.2, what="the resolver to catch up")
    return left, time.time() - t0


def bench_waiters():
    """Many waiters: 100,000 requests wait for the same 20
    cities (written in SQL, as 100,000 POSTs of them would have), then the
    worker fetches those 20 in one batch while wrk POSTs beside it.  The
    batch's completion is timed from its calls' arrival at the stand-in
    to its fetches' done_at (one clock: the same machine); the settle from
    then to the last request's finished_at."""
    n = int(os.environ.get("WAITERS", "100000"))
    env = {"OWMCOLLECT_OWM_CITIES_PER_MINUTE": "1200", "OWMCOLLECT_OWM_MODE": "group",
           "POST_RATE": "100000"}
    cities = list(range(720000001, 720000021))
    with Stack(env=env) as s, tempfile.TemporaryDirectory() as tmp:
        # Not due until every waiter is in.
        s.sql("""
            INSERT INTO city_tasks (city_id, turn, ready_at, created_at)
                SELECT seq, 0, NOW(6) + INTERVAL 1 DAY, NOW(6)
                FROM seq_720000001_to_720000020;
            SET @list = (SELECT JSON_ARRAYAGG(JSON_ARRAY(city_id, 0, fetch_id) ORDER BY city_id)
                FROM city_tasks WHERE city_id BETWEEN 720000001 AND 720000020);
            SET @wait = (SELECT MAX(fetch_id) FROM city_tasks
                WHERE city_id BETWEEN 720000001 AND 720000020);
            INSERT INTO requests (ext_id, requested_at, total, cities, wait_fetch)
                SELECT CONCAT('waiter-', seq), NOW(6), 20, @list, @wait FROM seq_1_to_%d;
            UPDATE counters SET requests = requests + %d, cities = cities + %d, queued = queued + 20
                WHERE shard = 1;
        """ % (n, n, 20 * n))
        lua = os.path.join(tmp, "post.lua")
        with open(lua, "w") as f:
            f.write(POST_LUA % (', \\"cities\\": [%s]' %
                                ",".join(str(c) for c in range(730000001, 730000168))))
        box = {}
        t = threading.Thread(target=lambda: box.update(
            post=wrk("http://127.0.0.1:%d/collect" % s.port, seconds=20, script=lua, warmup=0)))
        t.start()
        time.sleep(3)
        s.sql("UPDATE city_tasks SET ready_at = NOW(6) WHERE city_id BETWEEN 720000001 AND 720000020")
        ev = wait_until(lambda: [e for e in arrivals(s) if set(e["ids"]) & set(cities)], 30,
                        what="the batch's calls")
        wait_until(lambda: s.sql("SELECT COUNT(*) FROM fetches WHERE city_id "
                                 "BETWEEN 720000001 AND 720000020")[0][0] == "20", 30,
                   what="all 20 fetches")
        done = s.sql("SELECT UNIX_TIMESTAMP(MAX(done_at)) FROM fetches "
                     "WHERE city_id BETWEEN 720000001 AND 720000020")[0]
        batch = float(done[0]) - max(e["t"] for e in ev)
        # finished_at is when the last city was done, not when the row
        # was settled: the settle is timed here, polling every 0.2 s.
        wait_until(lambda: s.sql(
            "SELECT 1 FROM requests WHERE ext_id LIKE 'waiter-%%' "
            "HAVING COUNT(*) = SUM(finished_at IS NOT NULL)"), 600, 0.2, what="every waiter settled")
        settled = time.time() - float(done[0])
        t.join()
        sample = s.get("waiter-%d" % n).json
        assert sample["progress"] == 100 and sample["collected"] == 20, sample
        row("%d requests waiting on 20 cities: their batch" % n,
            (batch, "completed %.0f ms after its calls arrived" % (batch * 1000)),
            note="target < 1 s")
        row("  ... and the %d requests settled" % n,
            (settled, "%.1f s later (worker's housekeeping child, in the background)" % settled))
        row("  cold POSTs meanwhile (20 s of wrk)", fmt(*box["post"]))


def bench_purge():
    """The purge beside POSTs: PURGE_ROWS readings older than
    retention.readings_days (generated in SQL), deleted by the
    housekeeping child while wrk POSTs for 60 s; POST p99 beside the same
    POSTs with nothing to purge, in the same run."""
    rows = int(os.environ.get("PURGE_ROWS", "10000000"))
    secs = int(os.environ.get("PURGE_SECONDS", "60"))
    env = {"OWMCOLLECT_OWM_CITIES_PER_MINUTE": "200000", "OWMCOLLECT_OWM_MODE": "group",
           "POST_RATE": "100000"}
    tmp = tempfile.mkdtemp()
    conf = os.path.join(tmp, "owmcollect.conf")

    write_retention_conf(conf, 0)   # off while the rows go in; on by a reload
    env["CONF"] = conf
    with Stack(env=env) as s:
        lua = os.path.join(tmp, "post.lua")
        with open(lua, "w") as f:
            f.write(POST_LUA % "")
        base = "http://127.0.0.1:%d/collect" % s.port
        s.post_collect({"id": "warm", "cities": [1]})
        quiet = wrk(base, seconds=secs, script=lua, warmup=2)
        t0 = time.monotonic()
        growth_parallel(s, """
            INSERT INTO readings (city_id, temperature, humidity, observed_at, fetched_at)
            SELECT 740000000 + s.seq %% 5000, 1.5, 50, NOW() - INTERVAL 30 DAY,
                NOW(6) - INTERVAL 30 DAY + INTERVAL s.seq MICROSECOND
            FROM seq_%(a)d_to_%(b)d s""", rows, 500000, 2)
        fill = time.monotonic() - t0
        left = lambda: int(s.sql("SELECT COUNT(*) FROM readings WHERE city_id >= 740000000")[0][0])
        write_retention_conf(conf, 1)
        s.signal("worker", 1)      # SIGHUP: the reload turns the purge on
        busy = wrk(base, seconds=secs, script=lua, warmup=0)
        at_end = left()
        gone = rows - at_end
        time.sleep(10)
        idle = (at_end - left()) / 10.0
        row("purge beside POSTs: %d expired readings (filled in %.0f s)" % (rows, fill),
            (gone, "%d deleted during %d s of POSTs (%.0f rows/s); %.0f rows/s once they "
             "stopped" % (gone, secs, gone / secs, idle)))
        row("  POST beside the purge", fmt(*busy), (quiet[0], "without: %.0f req/s, p99 %.2f ms"
                                                    % (quiet[0], quiet[2])),
            "target p99 < 100 ms")


# A network that is not polite: a small accept queue, one new
# connection in ten held 1-3 s, idle connections closed after 5 s, 200 ms of
# one-way jitter and 150 ms answers.
ROUGH = {"backlog": 5, "p_slow_conn": 0.1, "slow_conn_s": [1, 3], "idle_close": 5,
         "jitter_ms": 200, "latency_ms": 150}


def lateness(s, ev):
    """Slot -> arrival (as the stand-in stamped it) of every call: each call
    belongs to the newest slot at or before its arrival."""
    slots = [float(r[0]) for r in s.sql(
        "SELECT TIMESTAMPDIFF(MICROSECOND, '1970-01-01', slot_at) / 1e6 "
        "FROM rate_slots ORDER BY slot_at")]
    out = []
    for e in ev:
        before = [t for t in slots if t <= e["t"] + 1e-6]
        if before:
            out.append(e["t"] - before[-1])
    return sorted(out)


def other_client(s, at, n):
    """Someone else using the same key: n calls, `at` seconds from now."""
    import http.client
    with open(os.path.join(s.dir, "secrets", "standin-key")) as f:
        key = f.read().strip()
    time.sleep(at)
    for i in range(n):
        c = http.client.HTTPConnection("127.0.0.1", s.standin_port, timeout=10)
        try:
            c.request("GET", "/data/2.5/weather?id=%d&units=metric&appid=%s" % (890000001 + i, key))
            c.getresponse().read()
        finally:
            c.close()


def realtime_run(name, rough, results, other=0):
    try:
        with Stack(env={"OWMCOLLECT_OWM_CITIES_PER_MINUTE": "60",
                        "OWMCOLLECT_OWM_BATCH_SIZE": "20"}) as s:
            if rough:
                s.standin_config(**ROUGH)
            time.sleep(1)
            t0 = time.time()
            s.post_collect({"id": "realtime"})
            if other:
                threading.Thread(target=other_client, args=(s, 30, other)).start()
            doc = s.wait_progress("realtime", 100, timeout=400)
            took = time.time() - t0
            ev = [e for e in arrivals(s) if e["ids"][0] < 890000001]
            t = sorted(e["t"] for e in ev)
            # Share of the limit used while work was queued: cities that
            # left before the last batch, over the time they took.
            before_last = sum(len(e["ids"]) for e in ev if e["t"] < t[-1] - 0.5)
            share = before_last / ((t[-1] - t[0]) / 60.0) / 60.0 if t[-1] > t[0] else 0
            fetched = {}
            for e in ev:
                if e["status"] in (200, 404):
                    for i in e["ids"]:
                        fetched[i] = fetched.get(i, 0) + 1
            results[name] = {
                # The server's window holds the other client's calls too.
                "took": took, "share": share, "doc": doc,
                "max": max_window([e for e in arrivals(s) if e["fault"] != "limit"]),
                "429": sum(1 for e in ev if e["status"] == 429),
                "repeated": sum(1 for v in fetched.values() if v > 1),
                "late": lateness(s, ev),
                "warmups": sum(1 for e in s.access_log() if not e.get("ids")),
                "new_conn": sum(1 for e in ev if e.get("new_conn"))}
    except BaseException as e:  # printed by the caller
        results[name] = e


def bench_realtime():
    results = {}
    runs = [threading.Thread(target=realtime_run, args=(n, r, results, o))
            for n, r, o in (("polite", False, 0), ("rough", True, 0),
                            ("another client's 5 calls at 30 s", False, 5))]
    for t in runs:
        t.start()
        time.sleep(5)   # one mariadb-install-db at a time
    for t in runs:
        t.join()
    for name, target in (("polite", 165), ("rough", 170),
                         ("another client's 5 calls at 30 s", 165)):
        r = results[name]
        if isinstance(r, BaseException):
            raise r
        late = r["late"]

        def q(p):
            return late[min(len(late) - 1, int(p * len(late)))] * 1000
        row("60/min, %s: 167 cities complete in" % name,
            (r["took"], "%.1f s (target <= %d s%s)" % (r["took"], target,
                                                       " + the pause" if r["429"] else "")))
        row("60/min, %s: share of the limit used" % name,
            (r["share"] * 100, "%.1f %%" % (r["share"] * 100)))
        row("60/min, %s: max in any 60 s, 429s, repeats" % name,
            (r["max"], "%d (limit 60)%s, %d x 429, %d cities fetched twice"
             % (r["max"], "  OVER!" if r["max"] > 60 else "", r["429"], r["repeated"])))
        row("60/min, %s: slot -> arrival" % name,
            (q(0.5), "p50 %.0f ms, p90 %.0f ms, p99 %.0f ms, max %.0f ms (%d calls, %d on new "
             "connections; %d warm-ups)" % (q(0.5), q(0.9), q(0.99), late[-1] * 1000, len(late),
                                            r["new_conn"], r["warmups"])))
        assert r["doc"]["collected"] + r["doc"]["failed"] == 167


# BENCH=growth: the same figures on an empty database and on one holding a
# year of use at the free plan, generated in SQL (GROWTH_SCALE=0.1 for a
# tenth: fewer readings and requests, same shapes).
YEAR_S = 365 * 86400
GROWTH_READINGS = 60 * 60 * 24 * 365    # 60 cities a minute for a year
GROWTH_REQUESTS = 1000000


def growth_sql(s, query):
    """SQL as the database owner, without the harness's 30 s limit; unsigned
    columns may go negative in the arithmetic."""
    import pwd
    query = ("SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_UNSIGNED_SUBTRACTION'); "
             "SET SESSION innodb_lock_wait_timeout = 3600;\n" + query)
    p = subprocess.run(["mariadb", "--no-defaults", "--socket=" + os.path.join(s.run, "mysqld.sock"),
                        "-u" + pwd.getpwuid(os.getuid()).pw_name, "--batch", "--skip-column-names",
                        "owmcollect"], input=query, text=True, capture_output=True)
    if p.returncode != 0:
        raise RuntimeError("sql failed: %s\n%s" % (p.stderr, query[:2000]))
    return [line.split("\t") for line in p.stdout.splitlines()]


def growth_parallel(s, template, total, chunk, workers, **kw):
    """template over [a, b] ranges of 1..total, one statement per chunk,
    workers at once (an INSERT ... SELECT into a table with an
    auto-increment column holds the table's AUTO-INC lock throughout)."""
    from concurrent.futures import ThreadPoolExecutor
    ranges = [(a, min(total, a + chunk - 1)) for a in range(1, total + 1, chunk)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for _ in pool.map(lambda r: growth_sql(s, template % dict(kw, a=r[0], b=r[1])), ranges):
            pass


def growth_fill(s, scale):
    """A year at the free plan in s's database: R readings, one every
    year/R seconds, round robin over U cities (the 167 default ones
    first, so each city is read every U readings); Q requests evenly over
    the year, most of 1-10 cities, 2.5 % of the 167 default ones, 0.5 % of
    1,000 (14.5 cities a request on average).  Each city of a request is
    what POST and the worker write: served at once by its city's newest
    reading when that is younger than worker.reuse_seconds (its reading in
    requests.cities), else a reference to the fetch of the city's next
    reading (one fetches row per reading, shared by every request it
    served), or to a failed fetch of its own (0.2 %: city not found).
    Requests end U readings before the last, so every one is finished.
    The running counts are then taken from the tables the way an upgrade
    does (schema.sql on an empty counters table)."""
    R = max(int(GROWTH_READINGS * scale), 20000)
    Q = max(int(GROWTH_REQUESTS * scale), 1000)
    U = min(20000, R // 10)
    step = YEAR_S * 1000000 // R            # microseconds between readings
    K = R - U
    cores = max(2, os.cpu_count() or 2)
    import shutil
    with open(os.path.join(ROOT, "etc", "cities.txt")) as f:
        default = [int(x) for x in f.read().split()]
    free = shutil.disk_usage(s.dir).free
    if free < 12e9 * scale + 2e9:
        raise RuntimeError("growth: %.1f GB free in %s, about %.1f GB needed (GROWTH_SCALE=%s)"
                           % (free / 1e9, s.dir, (12e9 * scale + 2e9) / 1e9, scale))
    t0 = time.monotonic()
    # Room for the load (buffer pool, redo log), given back before
    # measuring: the year-old stack is measured with the empty one's
    # settings.
    pool, logsize = growth_sql(s, "SELECT @@innodb_buffer_pool_size, @@innodb_log_file_size")[0]
    growth_sql(s, "SET GLOBAL innodb_buffer_pool_size = 4294967296; "
                  "SET GLOBAL innodb_log_file_size = 1073741824")
    growth_sql(s, """
        DROP TABLE IF EXISTS g_cities, g_ent, g_start;
        CREATE TABLE g_cities (idx INT UNSIGNED NOT NULL PRIMARY KEY,
            city_id INT UNSIGNED NOT NULL) ENGINE=InnoDB;
        INSERT INTO g_cities VALUES %s;
        INSERT INTO g_cities SELECT seq, 500000000 + seq FROM seq_%d_to_%d;
        CREATE TABLE g_ent (r INT UNSIGNED NOT NULL, p SMALLINT UNSIGNED NOT NULL,
            city_id INT UNSIGNED NOT NULL, k BIGINT UNSIGNED NOT NULL,
            rd BIGINT UNSIGNED NOT NULL, failed TINYINT NOT NULL,
            PRIMARY KEY (r, p)) ENGINE=InnoDB;
        CREATE TABLE g_start (t DATETIME(6) NOT NULL) ENGINE=InnoDB;
        INSERT INTO g_start VALUES (NOW(6) - INTERVAL %d SECOND);
    """ % (",".join("(%d,%d)" % (i, c) for i, c in enumerate(default)), len(default), U - 1,
           YEAR_S + 3600))
    growth_parallel(s, """
        SET @t0 = (SELECT t FROM g_start);
        INSERT INTO readings (id, city_id, temperature, humidity, observed_at, fetched_at)
        SELECT s.seq, c.city_id, (s.seq * 7919 %% 6001) / 100 - 20, s.seq * 31 %% 101,
            @t0 + INTERVAL (s.seq * %(step)d - s.seq %% 600 * 1000000) MICROSECOND,
            @t0 + INTERVAL s.seq * %(step)d MICROSECOND
        FROM seq_%(a)d_to_%(b)d s JOIN g_cities c ON c.idx = (s.seq - 1) %% %(U)d
    """, R, 500000, 1, step=step, U=U)
    took = {"readings": time.monotonic() - t0}
    # Each request's cities (r, p): k, the readings taken when it was
    # posted; rd, the reading that served the city: its newest at k if
    # fresh (rd <= k), else its next one (rd > k), 0 if it failed.
    growth_parallel(s, """
        INSERT INTO g_ent (r, p, city_id, k, rd, failed)
        SELECT e.r, e.p, c.city_id, e.k,
            IF(e.failed, 0, IF(e.k > e.idx AND (e.k - 1 - e.idx) %% %(U)d <= %(reuse)d,
                e.k - (e.k - 1 - e.idx) %% %(U)d,
                IF(e.k > e.idx, e.k - (e.k - 1 - e.idx) %% %(U)d + %(U)d, e.idx + 1))),
            e.failed
        FROM (SELECT q.r, s.seq AS p, q.k,
                CASE q.size WHEN 167 THEN s.seq WHEN 1000 THEN (q.start + s.seq) %% %(U)d
                    ELSE (q.start + s.seq * 97) %% %(U)d END AS idx,
                (q.r * 31 + s.seq) %% 500 = 7 AS failed
            FROM (SELECT seq AS r, CASE WHEN seq %% 200 = 0 THEN 1000
                    WHEN seq %% 40 = 1 THEN 167 ELSE 1 + seq * 7 %% 10 END AS size,
                    seq * 7919 %% %(U)d AS start, seq * %(K)d DIV %(Q)d AS k
                FROM seq_%(a)d_to_%(b)d) q
            JOIN seq_0_to_999 s ON s.seq < q.size) e
        JOIN g_cities c ON c.idx = e.idx
    """, Q, 20000, cores, U=U, reuse=600 * 1000000 // step, K=K, Q=Q)
    growth_parallel(s, """
        SET @t0 = (SELECT t FROM g_start);
        INSERT IGNORE INTO fetches (id, city_id, state, reading_id, error, done_at)
        SELECT IF(failed, %(R)d + r * 1000 + p, rd), city_id, IF(failed, 'failed', 'collected'),
            IF(failed, NULL, rd), IF(failed, 'city not found', NULL),
            @t0 + INTERVAL IF(failed, k * %(step)d + 1000000, rd * %(step)d) MICROSECOND
        FROM g_ent WHERE r BETWEEN %(a)d AND %(b)d AND (failed OR rd > k);
        SET SESSION group_concat_max_len = 1048576;
        INSERT INTO requests (id, ext_id, requested_at, finished_at, total, collected, failed, cities)
        SELECT r, CONCAT('y', LEFT(MD5(r), 10), '-', r), @t0 + INTERVAL k * %(step)d MICROSECOND,
            @t0 + INTERVAL GREATEST(k * %(step)d + IF(MAX(failed), 1000000, 0),
                MAX(IF(failed, 0, rd)) * %(step)d) MICROSECOND,
            COUNT(*), COUNT(*) - SUM(failed), SUM(failed),
            CONCAT('[', GROUP_CONCAT('[', city_id, ',', IF(failed OR rd > k, 0, rd), ',',
                IF(failed, %(R)d + r * 1000 + p, IF(rd > k, rd, 0)), ']'
                ORDER BY p SEPARATOR ','), ']')
        FROM g_ent WHERE r BETWEEN %(a)d AND %(b)d GROUP BY r
    """, Q, 20000, cores, step=step, R=R)
    took["requests"] = time.monotonic() - t0 - took["readings"]
    growth_sql(s, """
        SET @t0 = (SELECT t FROM g_start);
        INSERT INTO city_latest (city_id, reading_id, fetched_at)
        SELECT c.city_id, %(R)d - (%(R)d - 1 - c.idx) %% %(U)d,
            @t0 + INTERVAL (%(R)d - (%(R)d - 1 - c.idx) %% %(U)d) * %(step)d MICROSECOND
        FROM g_cities c
        ON DUPLICATE KEY UPDATE reading_id = VALUES(reading_id), fetched_at = VALUES(fetched_at);
        DROP TABLE g_cities, g_ent, g_start;
        DELETE FROM counters;
    """ % {"R": R, "U": U, "step": step})
    with open(os.path.join(ROOT, "etc", "schema.sql")) as f:
        growth_sql(s, f.read())
    growth_sql(s, "ANALYZE TABLE readings, requests, fetches, city_latest")
    growth_sql(s, "SET GLOBAL innodb_buffer_pool_size = %s; SET GLOBAL innodb_log_file_size = %s"
               % (pool, logsize))
    took["all"] = time.monotonic() - t0
    rows = growth_sql(s, "SELECT (SELECT COUNT(*) FROM readings), (SELECT COUNT(*) FROM requests), "
                         "(SELECT COUNT(*) FROM fetches), (SELECT SUM(total) FROM requests)")[0]
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in
               os.walk(os.path.join(s.dir, "mysql", "data")) for f in fs)
    return took, [int(x) for x in rows], size


def growth_timed(s, path, n=200):
    """n GETs of path one after another on one connection: p50, p99 (ms)."""
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
    lat = []
    try:
        for _ in range(n + 10):
            t0 = time.perf_counter()
            c.request("GET", path)
            r = c.getresponse()
            r.read()
            assert r.status == 200, (path, r.status)
            lat.append((time.perf_counter() - t0) * 1000)
    finally:
        c.close()
    lat = sorted(lat[10:])
    return lat[n // 2], lat[int(n * 0.99)]


# Measured in this order: POST fresh first, within worker.reuse_seconds
# of the fetch that made the default cities fresh.
GROWTH_FIGURES = ("post_fresh", "get_fin", "get_prog", "post_cold", "list_1", "list_1000",
                  "health", "metrics")


def growth_prepare(s, tmp):
    """A finished 167-city request, one in progress (the stand-in stops
    answering: 167 fresh readings and 833 pending) and the POST scripts."""
    with open(os.path.join(ROOT, "etc", "cities.txt")) as fh:
        default = [int(x) for x in fh.read().split()]
    assert s.post_collect({"id": "finished"}).status == 202
    s.wait_progress("finished", 100, timeout=120)
    s.standin_config(p_hang=1.0)
    s.post_collect({"id": "in-progress", "cities": default + list(range(700000001, 700000834))})
    with open(os.path.join(tmp, "fresh.lua"), "w") as fh:
        fh.write(POST_LUA % "")
    with open(os.path.join(tmp, "cold.lua"), "w") as fh:
        fh.write(POST_LUA % (', \\"cities\\": [%s]' %
                             ",".join(str(c) for c in range(710000001, 710000168))))


def growth_figure(s, key, tmp):
    """One figure of GROWTH_FIGURES on stack s (prepared in tmp)."""
    base = "http://127.0.0.1:%d" % s.port
    if key == "post_fresh":
        return wrk(base + "/collect", script=os.path.join(tmp, "fresh.lua"), warmup=1)
    if key == "post_cold":
        return wrk(base + "/collect", script=os.path.join(tmp, "cold.lua"), warmup=1)
    if key == "get_fin":
        return wrk(base + "/get?id=finished")
    if key == "get_prog":
        return wrk(base + "/get?id=in-progress")
    if key == "list_1":
        return wrk(base + "/collect?limit=20")
    if key == "list_1000":
        # Its cursor is the id of the 19,980th newest request; the POSTs
        # made that many, or more are made.
        while int(s.sql("SELECT COUNT(*) FROM requests")[0][0]) < 20000:
            wrk(base + "/collect", seconds=3, script=os.path.join(tmp, "fresh.lua"), warmup=1)
        before = s.sql("SELECT id FROM requests ORDER BY id DESC LIMIT 1 OFFSET 19979")[0][0]
        return wrk(base + "/collect?limit=20&before=" + before)
    return growth_timed(s, "/" + key)


def bench_growth():
    scale = float(os.environ.get("GROWTH_SCALE", "1.0"))
    print("Growth: an empty database beside a year at the free plan (GROWTH_SCALE=%s)" % scale,
          flush=True)
    env = {"OWMCOLLECT_OWM_CITIES_PER_MINUTE": "200000", "OWMCOLLECT_OWM_MODE": "group",
           "POST_RATE": "100000"}
    # The fill first, then each figure on both stacks, alternating, twice,
    # the better of the two kept: the machine's other load moves less
    # between two runs a few seconds apart than over the fill's minutes.
    with Stack(env=env) as s:
        took, (nrd, nrq, nrc, ncities), size = growth_fill(s, scale)
        row("growth: fill in SQL", (took["all"], "%.0f s (readings %.0f s, requests %.0f s): "
                                    "%d readings, %d requests (%d cities, %d fetches), "
                                    "%.1f GB on disk" % (took["all"], took["readings"],
                                                         took["requests"], nrd, nrq, ncities, nrc,
                                                         size / 1e9)))
        empty, year = {}, {}
        with Stack(env=env) as e, tempfile.TemporaryDirectory() as te, \
                tempfile.TemporaryDirectory() as ty:
            growth_prepare(e, te)
            growth_prepare(s, ty)
            for key in GROWTH_FIGURES:
                for _ in range(2):
                    for st, tmp, got in ((e, te, empty), (s, ty, year)):
                        f = growth_figure(st, key, tmp)
                        if key not in got or (f[0] > got[key][0] if len(f) == 4
                                              else f[0] < got[key][0]):
                            got[key] = f
    for key, what in (("post_fresh", "POST, 167 default cities fresh"),
                      ("post_cold", "POST, 167 cities never fetched (queued)"),
                      ("get_fin", "GET /get, finished 167-city request"),
                      ("get_prog", "GET /get, in progress (167 of 1000)"),
                      ("list_1", "GET /collect?limit=20, first page"),
                      ("list_1000", "GET /collect?limit=20, 1000th page")):
        e, y = empty[key], year[key]
        row("growth: " + what, fmt(*y), (e[0], "empty: %.0f req/s, p99 %.2f ms" % (e[0], e[2])),
            "target >= 80 %")
    for key in ("health", "metrics"):
        e, y = empty[key], year[key]
        row("growth: GET /%s, one at a time" % key,
            (y[0], "p50 %6.2f ms  p99 %6.2f ms" % y), (e[0], "empty: p50 %.2f ms, p99 %.2f ms" % e),
            "target <= 120 %, < 50 ms")


STANDIN_SECONDS = 3


def start_standin(tmp, key):
    """The stand-in on a free port (its ready file names it), no limit;
    returns (process, port)."""
    ready = os.path.join(tmp, "standin.port")
    proc = subprocess.Popen(
        [sys.executable, os.path.join(ROOT, "tests", "standin", "owm_standin.py"),
         "--listen", "127.0.0.1:0", "--ready-file", ready,
         "--log", os.path.join(tmp, "standin-access.log")],
        env=dict(os.environ, OWM_STANDIN_KEY=key), stdout=subprocess.DEVNULL)
    try:
        wait_until(lambda: os.path.exists(ready) and os.path.getsize(ready) > 0, 60,
                   what="the stand-in to listen")
    except AssertionError:
        proc.kill()
        proc.wait()
        raise
    with open(ready) as f:
        return proc, int(f.read())


def standin_rate_httpclient(port, path):
    """Single-city calls a second through http.client, keep-alive."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < STANDIN_SECONDS:
        conn.request("GET", path % (n % 5000 + 1))
        r = conn.getresponse()
        r.read()
        if r.status != 200:
            raise RuntimeError("stand-in answered %d" % r.status)
        n += 1
    rate = n / (time.perf_counter() - t0)
    conn.close()
    return rate


def standin_rate_raw(port, path):
    """The same over a raw socket: one request in flight, framed by its
    Content-Length."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    n, t0, buf = 0, time.perf_counter(), b""
    while time.perf_counter() - t0 < STANDIN_SECONDS:
        s.sendall(b"GET " + (path % (n % 5000 + 1)).encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        while True:
            end = buf.find(b"\r\n\r\n")
            if end >= 0:
                i = buf.find(b"Content-Length: ")
                total = end + 4 + int(buf[i + 16:buf.find(b"\r\n", i)])
                if len(buf) >= total:
                    if not buf.startswith(b"HTTP/1.1 200 "):
                        raise RuntimeError("stand-in answered %r" % buf[:40])
                    buf = buf[total:]
                    break
            data = s.recv(65536)
            if not data:
                raise RuntimeError("the stand-in closed the connection")
            buf += data
        n += 1
    rate = n / (time.perf_counter() - t0)
    s.close()
    return rate


def bench_standin():
    key = "bench-%d" % os.getpid()
    path = "/data/2.5/weather?id=%d&units=metric&appid=" + key
    with tempfile.TemporaryDirectory() as tmp:
        proc, port = start_standin(tmp, key)
        try:
            raw = standin_rate_raw(port, path)
            lib = standin_rate_httpclient(port, path)
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    row("stand-in: GET /weather, 1 keep-alive connection", (lib, "%8.0f req/s" % lib),
        (raw, "a raw socket client: %.0f req/s" % raw), "(http.client)")


def main():
    sections = sys.argv[1:] or ["http", "worker", "realtime"]
    print("owmcollect bench on %d cores, %s" % (os.cpu_count(), time.strftime("%Y-%m-%d %H:%M")), flush=True)
    mem = None
    if "http" in sections:
        mem = bench_http()
        print("Memory under POST load", flush=True)
        for k in ("fcgi", "worker"):
            rss, pss = mem[k]
            row("%s processes" % k, (rss, "RSS %6.1f MiB, PSS %6.1f MiB" % (rss, pss)))
        tot = mem["fcgi"][1] + mem["worker"][1]
        row("fcgi + worker, PSS total", (tot, "%.1f MiB (target < 20 MiB)" % tot))
    if "memory" in sections:
        print("Memory idle and after load%s" % (
            ", beside %s" % os.environ["BENCH_BEFORE"] if os.environ.get("BENCH_BEFORE") else ""),
            flush=True)
        bench_memory()
    if "worker" in sections:
        print("Worker", flush=True)
        # Group mode is the target: 100,000 cities, 30 s at the limit.
        bench_worker_rate("group", 100)
        bench_worker_rate("single", 40)
        bench_first_call()
    if "cold" in sections:
        print("Cold path: POSTs that queue every city beside a busy worker", flush=True)
        bench_cold()
    if "waiters" in sections:
        print("Many requests waiting for the same cities", flush=True)
        bench_waiters()
    if "purge" in sections:
        print("Retention's purge beside POSTs", flush=True)
        bench_purge()
    if "growth" in sections:
        bench_growth()
    if "seed" in sections:
        print("POST beside the seed's stack (FastAPI + SQLAlchemy + MariaDB), wrk -t2 -c32, "
              "10 s each", flush=True)
        bench_seed()
    if "standin" in sections:
        print("The API stand-in, %d s per client" % STANDIN_SECONDS, flush=True)
        bench_standin()
    if "realtime" in sections:
        print("Worker at the real 60 cities/min (about 3 minutes)", flush=True)
        bench_realtime()
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""make test-installed: owmcollect as production runs it.

Boots Debian 12 with systemd as PID 1 under systemd-nspawn (the root from
rootfs.py, thrown away after the run by --volatile=overlay), runs
docs/production.md's blocks (those fenced as "sh production") in order, as written,
as root in the folder holding the package, and then checks, through nginx on
port 80:

  - the configuration is root:owmcollect 0640, the FastCGI processes'
    environments hold no API key (the worker's does) and their uid is not
    the worker's;
  - a POST reaches 100 % with its data;
  - `systemctl reload` of both services under wrk's load fails no request,
    and a collection in progress during the reloads finishes;
  - `systemctl restart` of both: new processes that serve;
  - the watchdog: the worker frozen (SIGSTOP to all its processes) does no
    work; systemd kills it and starts it again, and the collection posted
    meanwhile finishes;
  - `systemctl start owmcollect-collect.service` makes a collection, which
    finishes;
  - `systemctl stop` leaves no process;
  - `apt-get purge` removes what the package made.

What the test adds to docs/production.md's commands, and only that: the answers an
operator types at the prompts (apt's "continue?" and the API key, through a
terminal), DEBIAN_FRONTEND=noninteractive, fresh package lists when the
root's are over a day old, a drop-in that points the worker at the
project's API stand-in (run here on the host's loopback, which the
container shares) at 3,000 cities a minute, with its key typed as
docs/production.md says, and MariaDB without TCP (skip-networking; the services use its
socket), so that it takes no port of the host's.

The container shares the host's network: nginx takes port 80 on it, which
must be free (checked first).  Every wait has a
deadline.  Timings are printed as each step ends and in a table at the end.
"""
import fcntl
import http.client
import json
import os
import re
import secrets
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import termios
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import rootfs  # noqa: E402

DEBS = os.path.join(SRC, "build", "deb")
STANDIN = os.path.join(SRC, "tests", "standin", "owm_standin.py")
with open(os.path.join(SRC, "etc", "cities.txt")) as _f:
    CITIES = [int(x) for x in _f.read().split()]
RATE = 3000                 # the worker's cities a minute here
HOST_PORTS = (80,)          # nginx in the container, on the host's network
ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
       "HOME": "/root", "LANG": "C.UTF-8", "TERM": "dumb",
       "DEBIAN_FRONTEND": "noninteractive"}

TIMES = []


class Failed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failed(what)


def say(msg):
    print(msg, flush=True)


class Step:
    """Times a step; prints it when it ends."""
    def __init__(self, name):
        self.name = name

    def __enter__(self):
        self.t0 = time.monotonic()
        say("== %s" % self.name)
        return self

    def __exit__(self, exc, *_):
        dt = time.monotonic() - self.t0
        TIMES.append((self.name, dt, exc is None))
        say("   %s: %.1f s%s" % (self.name, dt, "" if exc is None else " (FAILED)"))


def wait_for(pred, timeout, what, interval=0.2):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise Failed("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(interval)


def port_free(port):
    # SO_REUSEADDR: only a listener holds the port, not the TIME_WAIT
    # connections a previous run's clients left (nginx binds so too).
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("0.0.0.0", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


# -- docs/production.md -----------------------------------------------------

def production_blocks():
    """docs/production.md's blocks fenced as ```sh production, in order."""
    with open(os.path.join(SRC, "docs", "production.md")) as f:
        text = f.read()
    blocks = re.findall(r"^```sh production\n(.*?)^```$", text, re.S | re.M)
    check(blocks, "docs/production.md has no ```sh production blocks")
    return blocks


# -- the container -----------------------------------------------------------

class Container:
    def __init__(self, log):
        self.name = "owmcollect-test-%d" % os.getpid()
        self.log = log
        self.proc = None
        self.pid1 = None
        self.cgroups = ["/sys/fs/cgroup/%s/nspawn-%s" % (h, self.name)
                        for h in ("systemd", "unified")
                        if os.path.isdir("/sys/fs/cgroup/" + h)]

    def boot(self, timeout=120):
        # nspawn in a cgroup of its own (it refuses to run in the root one
        # here), with --register=no --keep-unit: there is no systemd on the
        # host to register with.
        for cg in self.cgroups:
            os.makedirs(cg, exist_ok=True)
        join = "".join("echo $$ > %s/cgroup.procs; " % cg for cg in self.cgroups)
        cmd = ("exec systemd-nspawn -q -D %s -M %s --boot --register=no --keep-unit "
               "--console=pipe --volatile=overlay --bind-ro=%s:/mnt/debs "
               "--bind=%s:/var/cache/apt/archives" % (rootfs.ROOT, self.name, DEBS, rootfs.APT_CACHE))
        self.proc = subprocess.Popen(["sh", "-c", join + cmd], stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

        def pid1():
            check(self.proc.poll() is None, "systemd-nspawn exited (%s)" % self.proc.returncode)
            try:
                with open("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)) as f:
                    kids = f.read().split()
            except OSError:
                return None
            for k in kids:
                try:
                    with open("/proc/%s/comm" % k) as f:
                        if f.read().strip() == "systemd":
                            return int(k)
                except OSError:
                    pass
            return None
        self.pid1 = wait_for(pid1, timeout, "the container's systemd")

        def running():
            p = self.run("systemctl is-system-running", check=False, timeout=30)
            state = p.stdout.strip()
            if state == "degraded":
                failed = self.run("systemctl --failed --no-legend", check=False).stdout
                raise Failed("the container booted degraded:\n" + failed)
            return state == "running"
        wait_for(running, timeout, "systemctl is-system-running = running")

    def argv(self, script):
        return ["nsenter", "-t", str(self.pid1), "-a", "sh", "-ec", script]

    def run(self, script, check=True, timeout=120, input=None):
        p = subprocess.run(self.argv(script), capture_output=True, text=True, env=ENV,
                           timeout=timeout, input=input)
        if check and p.returncode != 0:
            raise Failed("in the container, %r exited %d:\n%s%s" % (script, p.returncode,
                                                                  p.stdout, p.stderr))
        return p

    def run_tty(self, script, answers, timeout):
        """Runs script on a terminal, typing each answer when its prompt
        shows, once per prompt ({prompt: (answer, secret)}; a secret only
        once the terminal no longer echoes); returns (exit code, output)."""
        master, slave = os.openpty()

        def ctty():
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)
        p = subprocess.Popen(self.argv(script), stdin=slave, stdout=slave, stderr=slave,
                             env=ENV, preexec_fn=ctty)
        os.close(slave)
        out, given = b"", {}
        deadline = time.monotonic() + timeout
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    p.kill()
                    p.wait(10)
                    raise Failed("timed out after %d s running:\n%s\n-- output:\n%s" %
                                 (timeout, script, out.decode(errors="replace")[-3000:]))
                r, _, _ = select.select([master], [], [], min(left, 0.5))
                if r:
                    try:
                        chunk = os.read(master, 65536)
                    except OSError:        # EIO: the terminal's last writer is gone
                        chunk = b""
                    if not chunk:
                        break
                    out += chunk
                    for prompt, (answer, secret) in answers.items():
                        n = out.count(prompt.encode())
                        if n > given.get(prompt, 0):
                            given[prompt] = n
                            if secret:      # typed once the prompt has turned echo off
                                wait_for(lambda: not termios.tcgetattr(master)[3] & termios.ECHO,
                                         10, "echo off at %r" % prompt, interval=0.02)
                            os.write(master, answer.encode() + b"\n")
                elif p.poll() is not None:
                    break
            return p.wait(timeout=max(1, deadline - time.monotonic())), out.decode(errors="replace")
        finally:
            os.close(master)

    def read(self, path):
        return self.run("cat " + path).stdout

    def show(self, unit, prop):
        return self.run("systemctl show -P %s %s" % (prop, unit)).stdout.strip()

    def unit_pids(self, unit):
        cg = self.show(unit, "ControlGroup")
        if not cg:
            return []
        # cgroup v2 alone, or the hybrid layout's v2 or name=systemd tree
        p = self.run("cat /sys/fs/cgroup%s/cgroup.procs 2>/dev/null || "
                     "cat /sys/fs/cgroup/unified%s/cgroup.procs 2>/dev/null || "
                     "cat /sys/fs/cgroup/systemd%s/cgroup.procs" % (cg, cg, cg), check=False)
        return [int(x) for x in p.stdout.split()]

    def journal(self, *units, lines=60):
        args = " ".join("-u " + u for u in units)
        return self.run("journalctl --no-pager -o short-monotonic -n %d %s" % (lines, args),
                        check=False, timeout=60).stdout

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)    # nspawn shuts the container down
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)
        for cg in self.cgroups:
            for d, _, _ in sorted(os.walk(cg), key=lambda x: -x[0].count("/")):
                try:
                    os.rmdir(d)
                except OSError:
                    pass


# -- HTTP through the container's nginx --------------------------------------

def request(method, path, body=None, timeout=30):
    c = http.client.HTTPConnection("127.0.0.1", 80, timeout=timeout)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        c.request(method, path, body=json.dumps(body) if body is not None else None,
                  headers=headers)
        r = c.getresponse()
        data = r.read()
        return r.status, data
    finally:
        c.close()


def post(ident, cities):
    status, data = request("POST", "/collect", {"id": ident, "cities": cities})
    check(status == 202, "POST %s: %d %s" % (ident, status, data[:300]))
    return json.loads(data)


def doc(ident):
    status, data = request("GET", "/get?id=" + ident)
    check(status == 200, "GET %s: %d %s" % (ident, status, data[:300]))
    return json.loads(data)


def wait_done(ident, timeout):
    def done():
        d = doc(ident)
        return d if d["progress"] >= 100 else None
    return wait_for(done, timeout, "%s to reach 100 %%" % ident, interval=0.5)


def check_data(d, cities):
    check(d["total"] == len(cities) and d["collected"] == len(cities) and d["failed"] == 0,
          "%s: %d collected, %d failed of %d" % (d["id"], d["collected"], d["failed"], d["total"]))
    got = sorted(x["city_id"] for x in d["data"])
    check(got == sorted(cities), "%s: the data's cities are not the ones posted" % d["id"])
    check(all(x["temperature"] is not None and x["humidity"] is not None for x in d["data"]),
          "%s: a city without its reading" % d["id"])


# -- the run -----------------------------------------------------------------

def scenario(ct, key, standin_port):
    with Step("install: docs/production.md's blocks"):
        blocks = production_blocks()
        # Only the worker's address for the API differs from docs/production.md.
        ct.run("mkdir -p /etc/systemd/system/owmcollect-worker.service.d && "
               "printf '[Service]\\nEnvironment=OWMCOLLECT_OWM_URL=http://127.0.0.1:%d/data/2.5\\n"
               "Environment=OWMCOLLECT_OWM_CITIES_PER_MINUTE=%d\\n' "
               "> /etc/systemd/system/owmcollect-worker.service.d/standin.conf"
               % (standin_port, RATE))
        # MariaDB in the container would listen on the host's 3306 (a
        # shared network): the services use its socket (mysql.host
        # "localhost"), so it needs no port here.
        ct.run("mkdir -p /etc/mysql/mariadb.conf.d && printf '[mysqld]\\nskip-networking\\n' "
               "> /etc/mysql/mariadb.conf.d/99-no-tcp.cnf")
        if ct.run("find /var/lib/apt/lists -maxdepth 1 -name '*Release' -mtime -1 | head -n 1"
                  ).stdout.strip() == "":
            ct.run("apt-get update -q", timeout=600)
        answers = {"Do you want to continue? [Y/n]": ("y", False),
                   "OpenWeatherMap API key:": (key, True)}
        for i, block in enumerate(blocks):
            t0 = time.monotonic()
            rc, out = ct.run_tty("cd /mnt/debs\n" + block, answers, timeout=600)
            first = block.strip().splitlines()[0]
            say("   block %d (%s): exit %d, %.1f s" % (i + 1, first[:60], rc, time.monotonic() - t0))
            if rc != 0:
                raise Failed("docs/production.md block %d exited %d:\n%s\n-- output:\n%s" %
                             (i + 1, rc, block, out[-4000:]))
            check(key not in out, "the API key was echoed")

    with Step("as installed: modes, users, the key only in the worker"):
        st = ct.run("stat -c '%a %U %G' /etc/owmcollect/owmcollect.conf").stdout.split()
        check(st == ["640", "root", "owmcollect"], "owmcollect.conf is %s" % st)
        for f in ("owmcollect.env", "worker.env", "collect.token"):
            st = ct.run("stat -c '%a %U' /etc/owmcollect/" + f).stdout.split()
            check(st == ["600", "root"], "%s is %s" % (f, st))
        p = ct.run("test ! -e /etc/nginx/sites-enabled/default && nginx -t 2>&1", check=False)
        check(p.returncode == 0, "nginx -t: %s%s" % (p.stdout, p.stderr))
        wait_for(lambda: request("GET", "/health")[0] == 200, 60, "/health to answer 200")
        status, body = request("GET", "/health")
        check(json.loads(body)["status"] == "ok", "/health: %s" % body[:300])
        fcgi, worker = ct.unit_pids("owmcollect-fcgi"), ct.unit_pids("owmcollect-worker")
        check(len(fcgi) > 1 and len(worker) > 1, "processes: fcgi %s, worker %s" % (fcgi, worker))
        uids = {}
        for unit, pids in (("fcgi", fcgi), ("worker", worker)):
            for pid in pids:
                p = ct.run("cat /proc/%d/environ; echo; stat -c %%u /proc/%d" % (pid, pid),
                           check=False)
                if p.returncode != 0:
                    continue            # gone meanwhile (a child rolled)
                env, uid = p.stdout.rsplit("\n", 2)[0], p.stdout.split()[-1]
                uids.setdefault(unit, set()).add(uid)
                if unit == "fcgi":
                    check(key not in env and "OWMCOLLECT_OWM_KEY" not in env,
                          "owmcollect-fcgi pid %d holds the API key in its environment" % pid)
                else:
                    check("OWMCOLLECT_OWM_KEY=" + key in env,
                          "owmcollect-worker pid %d has no key: the check above proves nothing" % pid)
        check(uids["fcgi"].isdisjoint(uids["worker"]), "fcgi and worker share a uid: %s" % uids)
        dumped = ct.run("journalctl -o cat -u owmcollect-fcgi | grep '^owm.key = ' | tail -n 1"
                        ).stdout.strip()
        check(dumped == "owm.key = (empty)", "owmcollect-fcgi -t says %r" % dumped)
        say("   fcgi uid %s, worker uid %s; %d fcgi processes' environments without the key" %
            (",".join(uids["fcgi"]), ",".join(uids["worker"]), len(fcgi)))

    with Step("as installed: the documents the units and man pages name"):
        docs = ct.run("ls /usr/share/doc/owmcollect").stdout.split()
        for d in ("README.md", "api.md", "configuration.md", "production.md", "cluster.md",
                  "design.md", "testing.md"):
            check(d in docs, "/usr/share/doc/owmcollect has no %s (uncompressed): %s" % (d, docs))
        named = set()
        for unit in ("owmcollect-fcgi.service", "owmcollect-worker.service",
                     "owmcollect-collect.service", "owmcollect-collect.timer"):
            uris = ct.run("systemctl show -P Documentation " + unit).stdout.split()
            check(uris, "%s has no Documentation=" % unit)
            named.update(u[len("file://"):] for u in uris if u.startswith("file://"))
        for page in ("owmcollect-fcgi", "owmcollect-worker", "owmcollect-collect"):
            text = ct.run("zcat /usr/share/man/man8/%s.8.gz" % page).stdout
            named.update(re.findall(r"/usr/share/doc/owmcollect/[\w.-]+", text))
        for path in sorted(named):
            check(ct.run("test -s " + path, check=False).returncode == 0,
                  "%s is named as documentation but not installed" % path)
        say("   %d documents; the units and man pages name %s" % (len(docs), ", ".join(sorted(named))))

    with Step("POST reaches 100 % with its data"):
        cities = CITIES[:5]
        post("first", cities)
        check_data(wait_done("first", 60), cities)

    with Step("reload of both services under wrk's load"):
        status, _ = request("GET", "/collect?limit=20")
        check(status == 200, "GET /collect: %d" % status)
        busy = list(range(770000001, 770000401))        # 400 cities: about 8 s of work
        post("during-reloads", busy)
        before = {u: set(ct.unit_pids(u)) for u in ("owmcollect-fcgi", "owmcollect-worker")}
        mains = {u: ct.show(u, "MainPID") for u in before}
        wrk = subprocess.Popen(["wrk", "-t2", "-c16", "-d10s", "--timeout", "5s",
                                "http://127.0.0.1:80/collect?limit=20"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            for pause in (2.0, 3.0):        # reloads at about 2 s and 5 s of the 10
                time.sleep(pause)
                ct.run("systemctl reload owmcollect-fcgi owmcollect-worker", timeout=60)
            out, _ = wrk.communicate(timeout=60)
        finally:
            if wrk.poll() is None:
                wrk.kill()
                wrk.wait(10)
        say("   " + "\n   ".join(out.strip().splitlines()))
        check(wrk.returncode == 0, "wrk exited %d" % wrk.returncode)
        check("Non-2xx" not in out and "Socket errors" not in out, "wrk saw failed requests")
        n = int(re.search(r"(\d+) requests in", out).group(1))
        check(n > 100, "wrk made only %d requests" % n)
        for u in before:
            check(ct.show(u, "MainPID") == mains[u], "%s's supervisor changed on reload" % u)
            after = set(ct.unit_pids(u))
            check(not (before[u] - {int(mains[u])}) & after, "%s: no child rolled on reload" % u)
        d = wait_done("during-reloads", 120)
        check(d["collected"] == len(busy) and d["failed"] == 0,
              "during-reloads: %d collected, %d failed" % (d["collected"], d["failed"]))
        say("   %d requests, none failed; 2 reloads; the collection in progress finished" % n)

    with Step("restart of both services"):
        mains = {u: ct.show(u, "MainPID") for u in ("owmcollect-fcgi", "owmcollect-worker")}
        ct.run("systemctl restart owmcollect-fcgi owmcollect-worker", timeout=120)
        for u in mains:
            check(ct.show(u, "ActiveState") == "active", u + " is not active after restart")
            check(ct.show(u, "MainPID") != mains[u], u + ": the same process after restart")
        cities = CITIES[5:10]
        post("after-restart", cities)
        check_data(wait_done("after-restart", 60), cities)

    with Step("watchdog: a frozen worker is killed and started again"):
        u = "owmcollect-worker"
        main, restarts = ct.show(u, "MainPID"), int(ct.show(u, "NRestarts"))
        ct.run("systemctl kill -s SIGSTOP " + u)
        frozen = ct.unit_pids(u)
        states = ct.run("for p in %s; do cut -d' ' -f3 /proc/$p/stat; done" %
                        " ".join(map(str, frozen))).stdout.split()
        check(frozen and set(states) == {"T"}, "the worker is not stopped: %s" % states)
        t0 = time.monotonic()
        cities = CITIES[10:50]
        post("while-frozen", cities)
        time.sleep(3)
        check(doc("while-frozen")["progress"] == 0, "a frozen worker made progress")
        wait_for(lambda: ct.show(u, "MainPID") not in ("0", main) and
                 ct.show(u, "ActiveState") == "active", 150, "systemd to restart the worker",
                 interval=0.5)
        took = time.monotonic() - t0
        check(int(ct.show(u, "NRestarts")) == restarts + 1, "NRestarts did not grow by one")
        check("Watchdog timeout" in ct.journal(u, lines=200), "no watchdog timeout in the journal")
        check_data(wait_done("while-frozen", 120), cities)
        say("   restarted %.1f s after the freeze (WatchdogSec=30); done %.1f s after it" %
            (took, time.monotonic() - t0))

    with Step("owmcollect-collect.service makes a collection"):
        check(ct.show("owmcollect-collect.timer", "ActiveState") == "active", "the timer is not active")
        ct.run("systemctl start owmcollect-collect.service", timeout=300)
        log = ct.run("journalctl -o cat -u owmcollect-collect").stdout
        m = re.search(r"(hourly-\S+): started, (\d+) cities \(HTTP 202\)", log)
        check(m, "the collection's journal says:\n" + log[-2000:])
        check(int(m.group(2)) == len(CITIES), "started %s cities, not the %d of the list" %
              (m.group(2), len(CITIES)))
        d = wait_done(m.group(1), 180)
        check_data(d, CITIES)
        say("   %s: %d cities collected" % (m.group(1), d["collected"]))

    with Step("systemctl stop leaves no process"):
        count = ("for p in /proc/[0-9]*; do readlink $p/exe; done 2>/dev/null | "
                 "grep -c '^/usr/bin/owmcollect-' || true")
        before = int(ct.run(count).stdout)
        check(before > 2, "only %d owmcollect processes before the stop" % before)
        ct.run("systemctl stop owmcollect-collect.timer owmcollect-fcgi owmcollect-worker",
               timeout=120)
        left = int(ct.run(count).stdout)
        check(left == 0, "%d owmcollect processes left after stop" % left)
        check(ct.run("test ! -e /run/owmcollect", check=False).returncode == 0,
              "/run/owmcollect is left")
        say("   %d processes before, none after" % before)

    with Step("apt-get purge removes what the package made"):
        files = ct.run("dpkg -L owmcollect").stdout.split("\n")
        ct.run("apt-get purge -y -q owmcollect", timeout=300)
        ours = [f for f in files if "owmcollect" in f] + [
            "/etc/owmcollect", "/etc/nginx/sites-enabled/owmcollect",
            "/var/cache/nginx/owmcollect", "/run/owmcollect",
            "/etc/systemd/system/multi-user.target.wants/owmcollect-fcgi.service",
            "/etc/systemd/system/multi-user.target.wants/owmcollect-worker.service",
            "/etc/systemd/system/timers.target.wants/owmcollect-collect.timer"]
        left = ct.run("for f in %s; do if [ -e \"$f\" ] || [ -L \"$f\" ]; then echo \"$f\"; fi; done"
                      % " ".join(ours)).stdout.split()
        # The worker's drop-in is the test's own, not the package's.
        left = [f for f in left if not f.startswith("/etc/systemd/system/owmcollect-worker.service.d")]
        check(left == [], "left after purge: %s" % left)
        p = ct.run("nginx -t 2>&1 && systemctl is-active nginx", check=False)
        check(p.returncode == 0, "nginx after purge: %s%s" % (p.stdout, p.stderr))
        units = ct.run("systemctl list-unit-files --no-legend 'owmcollect*'", check=False)
        check(units.stdout.strip() == "", "owmcollect units left: %s" % units.stdout)
        kept = ct.run("getent passwd owmcollect", check=False).stdout.strip()
        say("   %d paths gone; kept, as documented: the owmcollect user (%s) and the database" %
            (len(ours), "yes" if kept else "no"))


def main():
    for tool in ("systemd-nspawn", "debootstrap", "nsenter", "wrk"):
        check(shutil.which(tool), "%s is missing (make deps-test installs it)" % tool)
    debs = [f for f in os.listdir(DEBS) if re.match(r"owmcollect_.*\.deb$", f)] \
        if os.path.isdir(DEBS) else []
    check(len(debs) == 1, "build/deb/ must hold one owmcollect_*.deb (make deb): %s" % debs)
    for port in HOST_PORTS:
        check(port_free(port), "port %d is taken on this machine (the container shares its "
              "network)" % port)
    tmp = tempfile.mkdtemp(prefix="owmcollect-installed-")
    log = open(os.path.join(tmp, "container.log"), "wb")
    key = "k" + secrets.token_hex(16)
    standin = ct = None
    t_all = time.monotonic()
    ok = False
    try:
        with Step("root file system (made or reused)"):
            made = rootfs.ensure(os.path.join(tmp, "rootfs.log"))
            say("   %s: %s" % (rootfs.ROOT, "made in %.1f s" % made if made else "reused"))

        with Step("API stand-in on the host's loopback"):
            ready = os.path.join(tmp, "standin.port")
            standin = subprocess.Popen(
                [sys.executable, STANDIN, "--listen", "127.0.0.1:0", "--ready-file", ready,
                 "--log", os.path.join(tmp, "standin.log")],
                env=dict(os.environ, OWM_STANDIN_KEY=key), stdout=subprocess.DEVNULL,
                stderr=open(os.path.join(tmp, "standin.err"), "wb"))
            wait_for(lambda: os.path.exists(ready) or standin.poll() is not None, 30, "the stand-in")
            check(standin.poll() is None, "the stand-in exited")
            with open(ready) as f:
                standin_port = int(f.read())

        with Step("boot"):
            ct = Container(log)
            ct.boot()

        scenario(ct, key, standin_port)
        ok = True
    except Failed as e:
        say("FAILED: %s" % e)
        if ct is not None and ct.pid1:
            say("-- the journal:\n" + ct.journal("owmcollect-fcgi", "owmcollect-worker",
                                                 "owmcollect-collect", "nginx", lines=80))
    finally:
        if ct is not None:
            with Step("shutdown"):
                ct.stop()
        if standin is not None:
            standin.terminate()
            try:
                standin.wait(timeout=30)
            except subprocess.TimeoutExpired:
                standin.kill()
                standin.wait(timeout=10)
        log.close()
        say("\ntimings:")
        for name, dt, good in TIMES:
            say("  %-60s %6.1f s%s" % (name, dt, "" if good else "  FAILED"))
        say("  %-60s %6.1f s" % ("total", time.monotonic() - t_all))
        if ok:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            say("logs kept in " + tmp)
    say("test-installed: %s" % ("OK" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Integration-test harness: a private owmcollect stack per test module.

Each Stack gets its own temp dir (VAR), free ports for nginx and MariaDB,
and its own API stand-in, by running tools/stack.sh with that environment,
so tests never collide with a running `make run` or with each other.
Extra OWMCOLLECT_* settings go in through the environment.

    with Stack(env={"OWMCOLLECT_OWM_CITIES_PER_MINUTE": "1200"}) as s:
        status, headers, doc = s.post_collect({"id": "x"})
        s.wait_progress("x", 100, timeout=60)
"""
import atexit
import fcntl
import http.client
import json
import os
import pwd
import random
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STACK = os.path.join(ROOT, "tools", "stack.sh")
BUILD = os.environ.get("B", "build")


# -- ports ---------------------------------------------------------------------
# A port picked by binding port 0 and closing the socket is free only until
# someone else binds it: another stack of a test module running beside this
# one, or any outgoing connection (the kernel gives those ports of the same
# ephemeral range).  So every stack's servers listen on ports of a slot: a
# run of SLOT_PORTS ports outside the ephemeral range
# (/proc/sys/net/ipv4/ip_local_port_range), owned by whoever holds an
# exclusive flock(2) on the slot's file in PORT_DIR.  The lock goes with the
# process that took it (the kernel drops it on exit, crash included), every
# process on the machine that uses this harness sees the same slots, and a
# port is also checked free (bound) before it is handed out; what a foreign
# program might still take in between, Stack.start() survives by starting
# again on new ports (stack.sh says "port N is in use").
PORT_DIR = os.environ.get("OWMTEST_PORT_DIR") or "/tmp/owmtest-ports"
PORTS_FROM = 10000      # below: well-known services
SLOT_PORTS = 16


def ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split())
        return lo, hi
    except (OSError, ValueError):
        return 32768, 60999


def slot_bases():
    """The first port of every slot: runs of SLOT_PORTS from PORTS_FROM to
    65535 that do not touch the ephemeral range."""
    lo, hi = ephemeral_range()
    bases = []
    for a, b in ((PORTS_FROM, lo - 1), (hi + 1, 65535)):
        p = a
        while p + SLOT_PORTS - 1 <= b:
            bases.append(p)
            p += SLOT_PORTS
    return bases


def port_dir():
    """PORT_DIR, shared by every user (1777, like /tmp); when another user
    made it unusable for us, a directory of our own beside it."""
    for d in (PORT_DIR, "%s-%d" % (PORT_DIR, os.getuid())):
        try:
            os.mkdir(d, 0o1777)
            os.chmod(d, 0o1777)     # whatever the umask took
        except FileExistsError:
            pass
        except OSError:
            continue
        st = os.lstat(d)
        if stat.S_ISDIR(st.st_mode) and os.access(d, os.W_OK | os.X_OK):
            return d
    raise RuntimeError("no usable directory for port slots (%s)" % PORT_DIR)


def port_is_free(port):
    """Nothing is bound to 127.0.0.1:port (strictly: not even a TIME_WAIT
    socket, which SO_REUSEADDR servers would tolerate)."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class PortSlot:
    """Ports of one slot, held (flock) for as long as this object lives."""

    def __init__(self):
        self.fd = None
        bases = slot_bases()
        if not bases:
            raise RuntimeError("no ports outside the ephemeral range %d-%d" % ephemeral_range())
        d = port_dir()
        start = random.randrange(len(bases))
        for k in range(len(bases)):
            base = bases[(start + k) % len(bases)]
            path = os.path.join(d, "%d.lock" % base)
            flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
            try:
                # Another user's file in a sticky directory opens without
                # O_CREAT only (fs.protected_regular); flock needs no write.
                try:
                    fd = os.open(path, flags)
                except FileNotFoundError:
                    fd = os.open(path, flags | os.O_CREAT, 0o644)
            except OSError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            self.fd, self.base, self.next = fd, base, base
            return
        raise RuntimeError("every port slot in %s is taken" % d)

    def take(self):
        """The next port of the slot that is free now; None once none is."""
        while self.next < self.base + SLOT_PORTS:
            p = self.next
            self.next += 1
            if port_is_free(p):
                return p
        return None

    def release(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __del__(self):
        self.release()


class Ports:
    """Ports for one owner (a stack, a test): from a slot of its own, and
    from a new one whenever that one runs out."""

    def __init__(self):
        self.slots = [PortSlot()]

    def take(self):
        for _ in range(100):
            p = self.slots[-1].take()
            if p is not None:
                return p
            self.slots.append(PortSlot())
        raise RuntimeError("no free port in 100 slots")

    def release(self):
        for s in self.slots:
            s.release()


_PORTS = None


def free_port():
    """A port for a server a test starts itself, reserved for this process
    (never handed out twice, never in the ephemeral range)."""
    global _PORTS
    if _PORTS is None:
        _PORTS = Ports()
    return _PORTS.take()


# -- a TCP forwarder in front of a server ---------------------------------------
class Link:
    """One connection through a Forwarder: the client's socket and the one
    to the server.  from_client and from_server get each chunk read from
    that side and yield what to pass on; a None cuts the connection there
    (both sides).  This one passes every byte untouched; a subclass
    watches or rewrites."""

    def __init__(self, fwd, client, server):
        self.fwd, self.client, self.server = fwd, client, server
        self.dead = False
        self.lock = threading.Lock()

    def from_client(self, data):
        yield data

    def from_server(self, data):
        yield data

    def kill(self):
        """Both sockets shut and closed, once."""
        with self.lock:
            if self.dead:
                return
            self.dead = True
        for s in (self.client, self.server):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


class MySQLLink(Link):
    """A Link that sees whole MySQL packets (3-byte length, sequence id,
    payload): client_packet and server_packet return the packet to pass
    on, another, or None to cut the connection."""

    def __init__(self, fwd, client, server):
        super().__init__(fwd, client, server)
        self.partial = {"client": b"", "server": b""}

    def from_client(self, data):
        return self._packets("client", data, self.client_packet)

    def from_server(self, data):
        return self._packets("server", data, self.server_packet)

    def _packets(self, side, data, passing):
        buf = self.partial[side] + data
        while len(buf) >= 4:
            n = int.from_bytes(buf[:3], "little")
            if len(buf) < 4 + n:
                break
            pkt, buf = buf[:4 + n], buf[4 + n:]
            self.partial[side] = buf
            yield passing(pkt)
        self.partial[side] = buf

    def client_packet(self, pkt):
        return pkt

    def server_packet(self, pkt):
        return pkt


class Forwarder:
    """127.0.0.1:port forwarded to 127.0.0.1:target, two threads per
    connection.  What a test turns: down() refuses new connections and
    cuts every open one (the server is gone), up() accepts again on the
    same port, cut_all() drops every open connection and keeps accepting
    (a writer's death behind HAProxy); link, a Link subclass, watches or
    rewrites what passes.  close() when done."""

    def __init__(self, target, link=Link):
        self.target, self.link = target, link
        self.port = free_port()
        self.lock = threading.Lock()
        self.links = []
        self.listener = None
        self.up()

    def up(self):
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", self.port))
        ls.listen(128)
        self.listener = ls
        threading.Thread(target=self._accept, args=(ls,), daemon=True).start()

    def down(self):
        """Nothing listens any more, and every connection is cut."""
        ls, self.listener = self.listener, None
        if ls is not None:
            try:
                ls.shutdown(socket.SHUT_RDWR)   # wakes its accept()
            except OSError:
                pass
            ls.close()
        self.cut_all()

    close = down

    def cut_all(self):
        """Every open connection at once; how many there were."""
        with self.lock:
            links, self.links = self.links, []
        live = [k for k in links if not k.dead]
        for k in live:
            k.kill()
        return len(live)

    def _accept(self, ls):
        while True:
            try:
                c, _ = ls.accept()
            except OSError:
                return
            try:
                s = socket.create_connection(("127.0.0.1", self.target), timeout=5)
                s.settimeout(None)
            except OSError:
                c.close()
                continue
            for x in (c, s):
                x.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            link = self.link(self, c, s)
            with self.lock:
                self.links = [k for k in self.links if not k.dead] + [link]
            if self.listener is not ls:     # went down meanwhile
                link.kill()
                return
            threading.Thread(target=self._pump, args=(link, c, s, link.from_client),
                             daemon=True).start()
            threading.Thread(target=self._pump, args=(link, s, c, link.from_server),
                             daemon=True).start()

    @staticmethod
    def _pump(link, src, dst, passing):
        try:
            while Forwarder._pass_chunk(src, dst, passing):
                pass
        except OSError:
            pass
        link.kill()

    @staticmethod
    def _pass_chunk(src, dst, passing):
        """One chunk from src to dst as passing says; False: the link ends."""
        data = src.recv(65536)
        if not data:
            return False
        for piece in passing(data):
            if piece is None:
                return False
            dst.sendall(piece)
        return True


def write_retention_conf(path, days):
    """etc/owmcollect.conf at path, with retention.readings_days and
    retention.requests_days set to days (0: off)."""
    with open(os.path.join(ROOT, "etc", "owmcollect.conf")) as f:
        text = f.read()
    text, n = re.subn(r"(readings_days|requests_days) = 0;", r"\1 = %d;" % days, text)
    assert n == 2, "etc/owmcollect.conf has no retention group"
    with open(path, "w") as f:
        f.write(text)


def stopped(pid):
    """Every thread of pid is stopped (or pid is gone)."""
    try:
        tasks = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return True
    for t in tasks:
        try:
            with open("/proc/%d/task/%s/stat" % (pid, t)) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state not in ("T", "t", "Z", "X"):
            return False
    return True


def wait_stopped(pid, timeout=60):
    """After SIGSTOP: until it has taken effect.  kill() only queues it, and
    a multi-threaded process (MariaDB) stops once the thread picked for it
    is scheduled; on a loaded machine its other threads may answer a query
    meanwhile."""
    wait_until(lambda: stopped(pid), timeout, 0.01, "pid %d to stop (SIGSTOP)" % pid)


def wait_until(pred, timeout, interval=0.05, what="condition"):
    """Poll pred() until it returns a true value; fail after timeout s."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __iter__(self):  # status, headers, doc = ...
        doc = None
        try:
            doc = self.json
        except (ValueError, UnicodeDecodeError):
            pass
        return iter((self.status, self.headers, doc))


_STACKS = []


def clean_up(everything=False):
    """The files of every stack of this process that is not running (and
    not kept, OWMTEST_KEEP=1): its database always (about 90 MB each: a
    suite's worth fills a shared disk), the rest (logs) too when
    everything.  run.py calls it with everything when a module passed;
    otherwise it runs at exit."""
    for s in _STACKS:
        if s.keep or s.up or not os.path.isdir(s.dir):
            continue
        shutil.rmtree(s.dir if everything else os.path.join(s.dir, "mysql"), ignore_errors=True)


atexit.register(clean_up)


class Stack:
    """db="galera": three Galera nodes behind HAProxy instead of one MariaDB
    (tools/stack.sh, DB=galera): db_port is HAProxy's, and writer(),
    kill_node(n), start_node(n), wait_synced(n) and node_sql(n, ...) reach
    the nodes; sql() goes to the writer."""

    def __init__(self, env=None, keep=False, db=None):
        # Mode 0700 and left so: nothing of nginx's workers is in VAR when
        # root (tools/stack.sh), so every stack is also a private VAR.
        self.dir = tempfile.mkdtemp(prefix="owmtest-")
        self.keep = keep or os.environ.get("OWMTEST_KEEP") == "1"
        self.up = False
        _STACKS.append(self)
        self.env = dict(os.environ)
        for k in list(self.env):
            if (k.startswith("OWMCOLLECT_") or k == "STANDIN_PORT" or k == "DB"
                    or (k.startswith("DB_") and k.endswith("_PORTS"))):
                del self.env[k]
        self.env.update({"VAR": self.dir, "B": BUILD})
        self.db = db
        if db:
            self.env["DB"] = db
        # The stand-in keeps port 0: the kernel picks its port as it binds,
        # so it races nobody, and it reports it in run/standin.port.
        self.ports = Ports()
        self.new_ports()
        self.given = dict(env or {})
        self.env.update(self.given)
        self.run = os.path.join(self.dir, "run")
        self.log = os.path.join(self.dir, "log")

    GALERA_PORTS = ("DB_NODE_PORTS", "DB_GCOMM_PORTS", "DB_IST_PORTS", "DB_SST_PORTS")

    def new_ports(self):
        """Ports for nginx and MariaDB (HAProxy) from this stack's slot; with
        Galera, each node's client, gmcast, IST and SST ports too."""
        self.port = self.ports.take()
        self.db_port = self.ports.take()
        self.env.update({"PORT": str(self.port), "DB_PORT": str(self.db_port)})
        if self.db == "galera":
            for k in self.GALERA_PORTS:
                self.env[k] = " ".join(str(self.ports.take()) for _ in range(3))

    # -- life cycle ---------------------------------------------------------
    def stack(self, cmd, *args, timeout=600, check=True):
        p = subprocess.run([STACK, cmd] + list(args), env=self.env, cwd=ROOT, timeout=timeout,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if check and p.returncode != 0:
            raise RuntimeError("stack.sh %s failed (%d):\n%s\n%s" %
                               (cmd, p.returncode, p.stdout, self.logs_tail()))
        return p

    # A start that failed because a port was taken (by a program outside
    # the slots, between the check and the bind) is tried again on others.
    START_TRIES = 5

    def start(self):
        """stack.sh start; when it fails, nothing of the stack is left
        running (stack.sh stops what it started; this makes sure, also
        after a timeout) and the error says why."""
        for attempt in range(1, self.START_TRIES + 1):
            try:
                p = self.stack("start", check=False)
            except subprocess.TimeoutExpired as e:
                self.abandon_start()
                raise RuntimeError("stack.sh start took over %s s:\n%s" % (e.timeout, self.logs_tail()))
            if p.returncode == 0:
                self.up = True
                return self
            taken = re.search(r"port (\d+) is in use", p.stdout)
            retry = (taken and attempt < self.START_TRIES and
                     not any(k in self.given for k in ("PORT", "DB_PORT") + self.GALERA_PORTS))
            left = self.abandon_start()
            if not retry:
                raise RuntimeError("stack.sh start failed (%d)%s:\n%s\n%s" %
                                   (p.returncode, "; left running: %r" % left if left else "",
                                    p.stdout, self.logs_tail()))
            print("stack in %s: port %s was taken, starting again on other ports (try %d)"
                  % (self.dir, taken.group(1), attempt + 1), flush=True)
            self.new_ports()

    def abandon_start(self):
        """After a failed start: stop by pid file whatever it left (nothing,
        unless stack.sh was killed), then end any process of the stack
        still alive; {pid: command line} of those."""
        self.stack("stop", check=False)
        return self.end_leftovers()

    def stop(self):
        self.stack("stop", check=False)
        left = self.end_leftovers()
        self.up = False
        if left:
            raise AssertionError("processes of the stack in %s outlived stack.sh stop: %r"
                                 % (self.dir, left))
        self.check_sanitizers()

    def processes(self):
        """{pid: command line} of every process of this stack: started with
        its VAR in the environment or on the command line (nginx rewrites
        its environment, not its title), and their descendants."""
        mark_env = b"\0VAR=" + self.dir.encode() + b"\0"
        mark_cmd = self.dir.encode()
        found, parent = {}, {}
        for p in os.listdir("/proc"):
            if not p.isdigit() or int(p) == os.getpid():
                continue
            try:
                with open("/proc/%s/stat" % p, "rb") as f:
                    fields = f.read().rsplit(b")", 1)[1].split()
                with open("/proc/%s/cmdline" % p, "rb") as f:
                    cmd = f.read()
                try:
                    with open("/proc/%s/environ" % p, "rb") as f:
                        environ = b"\0" + f.read()
                except OSError:
                    environ = b""
            except OSError:
                continue
            if fields[0] == b"Z":
                continue        # exited, not yet reaped: holds nothing
            pid = int(p)
            parent[pid] = int(fields[1])
            if mark_env in environ or mark_cmd in cmd:
                found[pid] = cmd.replace(b"\0", b" ").decode(errors="replace").strip()
        grown = True
        while grown:
            grown = False
            for pid, pp in parent.items():
                if pid not in found and pp in found:
                    found[pid] = "(child of %d)" % pp
                    grown = True
        return found

    def end_leftovers(self, wait=30):
        """Wait up to `wait` s for the stack's processes to end; KILL (by
        pid) those that do not; {pid: command line} of those."""
        try:
            wait_until(lambda: not self.processes(), wait, 0.2, "the stack's processes to end")
            return {}
        except AssertionError:
            pass
        left = self.processes()
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            wait_until(lambda: not self.processes(), 10, 0.1, "the killed processes to end")
        except AssertionError:
            pass
        return left

    def check_sanitizers(self):
        """With `make SANITIZE=1 test`, any sanitizer report in a log fails."""
        if not os.path.isdir(self.log):
            return
        for f in os.listdir(self.log):
            with open(os.path.join(self.log, f), errors="replace") as fh:
                text = fh.read()
            for mark in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
                if mark in text:
                    raise AssertionError("sanitizer report in %s:\n%s" % (f, text[text.index(mark) - 200:][:3000]))

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        if not self.keep and exc[0] is None:
            shutil.rmtree(self.dir, ignore_errors=True)

    def logs_tail(self, n=20):
        out = []
        if os.path.isdir(self.log):
            for f in sorted(os.listdir(self.log)):
                if f.startswith("standin-access"):
                    continue
                with open(os.path.join(self.log, f), errors="replace") as fh:
                    lines = fh.readlines()[-n:]
                out.append("== %s\n%s" % (f, "".join(lines)))
        return "\n".join(out)

    def pid(self, name):
        try:
            with open(os.path.join(self.run, name + ".pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def children(self, name="worker"):
        """{pid: comm} of the children of a component (its pid file's)."""
        parent, out = self.pid(name), {}
        for p in os.listdir("/proc"):
            if not p.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % p) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                with open("/proc/%s/comm" % p) as f:
                    comm = f.read().strip()
            except OSError:
                continue
            if int(fields[1]) == parent:
                out[int(p)] = comm
        return out

    def signal(self, name, sig):
        """Send sig to a component; SIGSTOP returns once it has stopped."""
        pid = self.pid(name)
        assert pid, "no pid for " + name
        os.kill(pid, sig)
        if sig == signal.SIGSTOP:
            try:
                wait_stopped(pid)
            except BaseException:
                os.kill(pid, signal.SIGCONT)
                raise

    # -- HTTP ------------------------------------------------------------------
    def request(self, method, path, body=None, headers=None, timeout=30):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            if isinstance(body, str):
                body = body.encode("utf-8")
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        finally:
            c.close()

    def post_collect(self, doc, headers=None):
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        body = doc if isinstance(doc, (bytes, str)) else json.dumps(doc)
        return self.request("POST", "/collect", body, h)

    def get(self, ident):
        return self.request("GET", "/get?id=" + urllib.parse.quote(ident, safe=""))

    def wait_progress(self, ident, at_least=100, timeout=60):
        def done():
            r = self.get(ident)
            if r.status == 200 and r.json["progress"] >= at_least:
                return r.json
            return None
        return wait_until(done, timeout, 0.1, "progress of %r to reach %s" % (ident, at_least))

    def wait_settled(self, idents, timeout=30):
        """Until the worker's settle has written each request's row
        (finished_at and its counts), which follows its last batch within
        about a second; GET is exact before that."""
        idents = [idents] if isinstance(idents, str) else list(idents)
        q = ("SELECT COUNT(*) FROM requests WHERE finished_at IS NOT NULL AND ext_id IN (%s)"
             % ", ".join("'%s'" % i.replace("'", "''") for i in idents))
        return wait_until(lambda: int(self.sql(q)[0][0]) == len(idents), timeout, 0.1,
                          "%d requests to be settled" % len(idents))

    # -- the API stand-in --------------------------------------------------------
    @property
    def standin_port(self):
        with open(os.path.join(self.run, "standin.port")) as f:
            return int(f.read().strip())

    def standin(self, method, path, doc=None):
        c = http.client.HTTPConnection("127.0.0.1", self.standin_port, timeout=10)
        try:
            body = json.dumps(doc) if doc is not None else None
            c.request(method, path, body=body,
                      headers={"Content-Type": "application/json"} if body else {})
            r = c.getresponse()
            data = r.read()
            assert r.status == 200, "stand-in %s %s: %d %s" % (method, path, r.status, data)
            return json.loads(data)
        finally:
            c.close()

    def standin_config(self, **kw):
        return self.standin("POST", "/_standin/config", kw)

    def access_log(self):
        """Every API request the stand-in saw, in arrival order."""
        path = os.path.join(self.log, "standin-access.log")
        out = []
        if os.path.exists(path):
            with open(path) as f:
                for line in f:
                    if line.endswith("\n"):
                        out.append(json.loads(line))
        return out

    # -- the database ---------------------------------------------------------------
    def sql(self, query):
        """Run SQL as the database owner; rows as lists of strings (None = NULL).
        With Galera, on the node HAProxy sends the programs to."""
        if self.db == "galera":
            w = self.writer()
            if w is None:
                raise RuntimeError("sql failed: no Galera node is up")
            return self.node_sql(w, query)
        return self._sql(os.path.join(self.run, "mysqld.sock"), query)

    def pause_gate(self, seconds, reason="429"):
        """Pause the rate gate for seconds, as the worker does for reason
        (a 429, 'invalid key', ...); 0 ends the pause."""
        if seconds:
            self.sql("UPDATE rate_gate SET paused_until = NOW(6) + INTERVAL %d SECOND, "
                     "pause_reason = '%s' WHERE id = 1" % (seconds, reason))
        else:
            self.sql("UPDATE rate_gate SET paused_until = NOW(6), pause_reason = NULL "
                     "WHERE id = 1")

    def _sql(self, sock, query, database="owmcollect", timeout=30):
        p = subprocess.run(["mariadb", "--no-defaults", "--socket=" + sock,
                            "-u" + pwd.getpwuid(os.getuid()).pw_name, "--batch", "--skip-column-names",
                            database], input=query, text=True, capture_output=True, timeout=timeout)
        if p.returncode != 0:
            raise RuntimeError("sql failed: %s" % p.stderr)
        rows = []
        for line in p.stdout.splitlines():
            rows.append([None if v == "NULL" else v for v in line.split("\t")])
        return rows

    # -- Galera (db="galera") -------------------------------------------------------
    def node_sql(self, n, query, timeout=30):
        """SQL on Galera node n (1..3) through its own socket."""
        return self._sql(os.path.join(self.run, "db-%d.sock" % n), query, timeout=timeout)

    def node_status(self, n, name):
        """A status variable of node n, or None when it does not answer."""
        try:
            rows = self.node_sql(n, "SHOW GLOBAL STATUS LIKE '%s'" % name, timeout=5)
        except (RuntimeError, subprocess.TimeoutExpired):
            return None
        return rows[0][1] if rows else None

    def writer(self):
        """The node HAProxy sends connections to (stack.sh writer), or None."""
        p = self.stack("writer", check=False, timeout=30)
        out = p.stdout.strip()
        return int(out) if p.returncode == 0 and out.isdigit() else None

    def kill_node(self, n):
        """kill -9 of node n (by its pid file)."""
        self.stack("db-kill", str(n))

    def start_node(self, n, timeout=300):
        """Start node n again; it joins the cluster and returns once Synced."""
        self.stack("db-start", str(n), timeout=timeout)

    def wait_synced(self, n, timeout=120):
        """Until node n is Synced (wsrep_local_state 4)."""
        wait_until(lambda: self.node_status(n, "wsrep_local_state") == "4", timeout, 0.2,
                   "db-%d to be Synced" % n)


def max_window(entries, window=60.0):
    """Largest number of cities in any `window`-second span of arrivals."""
    ev = sorted((e["t"], len(e["ids"])) for e in entries if e.get("ids"))
    best, total, lo = 0, 0, 0
    for t, n in ev:
        total += n
        while ev[lo][0] <= t - window:
            total -= ev[lo][1]
            lo += 1
        best = max(best, total)
    return best


def cold_flood(stack, prefix, cities, threads, seconds):
    """POSTs of the same cities from threads clients for seconds, each
    request's list shifted ("<prefix>-<client>-<n>"): the same cities,
    queued in different orders by different requests.  Returns ({status:
    count}, [ids answered 202])."""
    answers, ids, lock = {}, [], threading.Lock()
    stop = time.monotonic() + seconds

    def client(t):
        n = 0
        while time.monotonic() < stop:
            ident = "%s-%d-%d" % (prefix, t, n)
            k = (t * 13 + n) % len(cities)
            r = stack.post_collect({"id": ident, "cities": cities[k:] + cities[:k]})
            with lock:
                answers[r.status] = answers.get(r.status, 0) + 1
                if r.status == 202:
                    ids.append(ident)
            n += 1
    workers = [threading.Thread(target=client, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return answers, ids


def side_by_side(scenarios):
    """Run scenarios, each (name, fn, env), each on its own stack, side by
    side; {name: fn(stack), or the exception it raised}.  The stacks start
    one after the other (concurrent mariadb-install-db runs trip over each
    other's temporary files) and are stopped at the end."""
    import threading
    results, stacks = {}, []

    def run(name, fn, s):
        try:
            results[name] = fn(s)
        except BaseException as e:  # reported by the test that needs it
            results[name] = e
    try:
        for name, fn, env in scenarios:
            stacks.append((name, fn, Stack(env=env).start()))
        threads = [threading.Thread(target=run, args=x) for x in stacks]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        failed = None
        for _, _, s in stacks:
            try:
                s.stop()
            except Exception as e:  # every stack is stopped; then the first error
                failed = failed or e
        if failed:
            raise failed
    return results


def result_of(results, name):
    """A side_by_side result, re-raising what its scenario raised."""
    r = results.get(name)
    if isinstance(r, BaseException):
        raise r
    return r


def second_worker(s, env):
    """Another worker supervisor on s's database, over TCP, with its own
    settings (another "host"), on the stand-in, which must accept any key
    (s.standin_config(key=""): this one cannot know the stack's)."""
    with open(os.path.join(s.dir, "secrets", "mysql-password")) as f:
        pw = f.read().strip()
    env2 = dict(s.env, OWMCOLLECT_MYSQL_SOCKET="", OWMCOLLECT_MYSQL_HOST="127.0.0.1",
                OWMCOLLECT_MYSQL_PORT=str(s.db_port), OWMCOLLECT_MYSQL_PASSWORD=pw,
                OWMCOLLECT_OWM_KEY="second-host",
                OWMCOLLECT_OWM_URL="http://127.0.0.1:%d/data/2.5" % s.standin_port)
    env2.update(env)
    with open(os.path.join(s.log, "worker2.log"), "ab") as log:
        return subprocess.Popen([os.path.join(ROOT, BUILD, "owmcollect-worker"), "-c",
                                 os.path.join(ROOT, "etc", "owmcollect.conf")],
                                env=env2, cwd=ROOT, stdout=log, stderr=log)



def fetching_children(pid):
    """Pids of a worker supervisor's fetching children (not housekeeping)."""
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            kids = [int(x) for x in f.read().split()]
    except OSError:
        return []
    out = []
    for k in kids:
        try:
            with open("/proc/%d/comm" % k) as f:
                if f.read().strip() != "owm-housekeep":
                    out.append(k)
        except OSError:
            pass
    return out


def wait_beating(s, proc, children, timeout=60):
    """Until the worker supervisor proc (a second_worker) has its children
    running and each has beaten into s's database."""
    def beating():
        if proc.poll() is not None:
            raise AssertionError("the second worker exited (%s)" % proc.returncode)
        kids = fetching_children(proc.pid)
        rows = s.sql("SELECT pid FROM worker_children WHERE heartbeat_at > NOW(6) - INTERVAL 10 SECOND")
        return len(kids) >= children and set(kids) <= {int(r[0]) for r in rows}
    wait_until(beating, timeout, 0.2, "the second worker's %d children to beat" % children)

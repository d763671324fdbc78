"""Both programs refuse a database server older than MariaDB 10.7, or not
MariaDB at all (lib/db.h: db_server_check).

Only one MariaDB is installed here, so the programs reach it through a
small proxy (VersionProxy) that can make it claim another version: it
rewrites the programs' "SELECT VERSION()" into a SELECT of the claimed
string, and forwards everything else untouched.

- at start, a refused server stops either program with exit status 2 (a
  bad configuration: systemd does not restart it) and one sentence that
  names both versions; MySQL's is told that MariaDB is needed;
- a server the check accepts (the real one, through the same proxy) lets
  them start and serve;
- a reconnect after start that meets a refused server (a failover to an
  old node) is logged as an error and tried again: nothing exits, the
  FastCGI program answers 503 with Retry-After meanwhile, and both are
  back once the server is one they accept.
"""
import os
import signal
import subprocess
import tempfile
import time
import unittest

from fcgi_client import fcgi_request
from harness import BUILD, ROOT, Forwarder, MySQLLink, Stack, free_port, wait_beating, wait_until

COM_QUERY = 0x03
S = None
PROXY = None
OLD = "10.6.12-MariaDB-1:10.6.12+maria~deb11"
OLD_SENTENCE = "MariaDB 10.6.12 is too old: owmcollect needs MariaDB 10.7 or later"
MYSQL = "8.0.36"
MYSQL_SENTENCE = "the server is 8.0.36, MySQL or another, not MariaDB: owmcollect needs MariaDB 10.7 or later"


class VersionLink(MySQLLink):
    """Rewrites a SELECT VERSION() into a SELECT of the proxy's claim."""

    def client_packet(self, pkt):
        claim, payload = self.fwd.claim, pkt[4:]
        if (claim is None or pkt[3] != 0 or payload[:1] != bytes([COM_QUERY])
                or payload[1:].strip().upper() != b"SELECT VERSION()"):
            return pkt
        with self.fwd.lock:
            self.fwd.rewritten += 1
        q = bytes([COM_QUERY]) + b"SELECT '" + claim.replace("'", "''").encode() + b"'"
        return len(q).to_bytes(3, "little") + b"\x00" + q


class VersionProxy(Forwarder):
    """127.0.0.1:port -> MariaDB at 127.0.0.1:db_port; while `claim` is
    set, the server's VERSION() is that string.  cut_all(): every
    connection at once, as a failover does."""

    def __init__(self, db_port):
        self.claim = None
        self.rewritten = 0
        super().__init__(db_port, VersionLink)


def setUpModule():
    global S, PROXY
    S = Stack().start()
    PROXY = VersionProxy(S.db_port)
    S.standin_config(key="")    # the extra worker cannot know the stack's key


def tearDownModule():
    if PROXY:
        PROXY.close()
    if S:
        S.stop()


def program_env(extra=None):
    """The programs' environment: the stack's database through the proxy."""
    with open(os.path.join(S.dir, "secrets", "mysql-password")) as f:
        pw = f.read().strip()
    env = dict(S.env, OWMCOLLECT_MYSQL_SOCKET="", OWMCOLLECT_MYSQL_HOST="127.0.0.1",
               OWMCOLLECT_MYSQL_PORT=str(PROXY.port), OWMCOLLECT_MYSQL_PASSWORD=pw,
               OWMCOLLECT_OWM_KEY="version-test",
               OWMCOLLECT_OWM_URL="http://127.0.0.1:%d/data/2.5" % S.standin_port,
               OWMCOLLECT_HTTP_PROCESSES="1", OWMCOLLECT_WORKER_CHILDREN="1")
    env.update(extra or {})
    return env


class Program:
    """owmcollect-fcgi or owmcollect-worker started by this test, its
    output in a log file of its own; stopped by its pid."""

    def __init__(self, name, env):
        self.log = os.path.join(S.log, "%s-%d.log" % (name, free_port()))
        with open(self.log, "ab") as log:
            self.p = subprocess.Popen([os.path.join(ROOT, BUILD, "owmcollect-" + name), "-c",
                                       os.path.join(ROOT, "etc", "owmcollect.conf")],
                                      env=env, cwd=ROOT, stdout=log, stderr=log,
                                      start_new_session=True)

    def output(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def exit_status(self, timeout=60):
        """Its exit status, once it exits on its own (None: it did not)."""
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(30)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(10)


class AtStart(unittest.TestCase):
    def start_refused(self, name, claim, sentence):
        PROXY.claim = claim
        sock = os.path.join(tempfile.mkdtemp(dir=S.dir), "fcgi.sock")
        prog = Program(name, program_env({"OWMCOLLECT_HTTP_SOCKET": sock}))
        try:
            rc = prog.exit_status()
            out = prog.output()
            self.assertEqual(rc, 2, "%s with the server claiming %r: %s\n%s"
                             % (name, claim, "still running" if rc is None else "exit %s" % rc, out))
            self.assertIn(sentence, out)
            self.assertEqual(out.count(sentence), 1, out)
            self.assertFalse(os.path.exists(sock), "a refused fcgi made its socket")
        finally:
            prog.stop()
            PROXY.claim = None

    def test_fcgi_refuses_old_mariadb(self):
        self.start_refused("fcgi", OLD, OLD_SENTENCE)

    def test_fcgi_refuses_mysql(self):
        self.start_refused("fcgi", MYSQL, MYSQL_SENTENCE)

    def test_worker_refuses_old_mariadb(self):
        self.start_refused("worker", OLD, OLD_SENTENCE)

    def test_worker_refuses_mysql(self):
        self.start_refused("worker", MYSQL, MYSQL_SENTENCE)

    def test_replication_prefix_is_read(self):
        # What some clients see of a MariaDB: still refused for its own
        # version, the prefix not taken for MySQL 5.5.5.
        self.start_refused("fcgi", "5.5.5-" + OLD, OLD_SENTENCE)

    def test_accepted_server_starts(self):
        PROXY.claim = "5.5.5-10.11.6-MariaDB-log"
        before = PROXY.rewritten
        sock = os.path.join(tempfile.mkdtemp(dir=S.dir), "fcgi.sock")
        prog = Program("fcgi", program_env({"OWMCOLLECT_HTTP_SOCKET": sock}))
        try:
            wait_until(lambda: os.path.exists(sock) or prog.p.poll() is not None, 60, 0.1,
                       "owmcollect-fcgi to listen")
            self.assertIsNone(prog.p.poll(), prog.output())
            st, _, body = fcgi_request(sock, "GET", "/get", "id=no-such-request")
            self.assertEqual(st, 404, body)
            self.assertGreater(PROXY.rewritten, before, "the programs did not ask VERSION()")
        finally:
            prog.stop()
            PROXY.claim = None


class AfterStart(unittest.TestCase):
    """A reconnect that meets a refused server: logged, retried, no exit."""

    def test_fcgi_reconnect_to_old_server(self):
        PROXY.claim = None
        sock = os.path.join(tempfile.mkdtemp(dir=S.dir), "fcgi.sock")
        prog = Program("fcgi", program_env({"OWMCOLLECT_HTTP_SOCKET": sock}))
        try:
            wait_until(lambda: os.path.exists(sock) or prog.p.poll() is not None, 60, 0.1,
                       "owmcollect-fcgi to listen")
            self.assertEqual(fcgi_request(sock, "GET", "/get", "id=nope")[0], 404)
            PROXY.claim = OLD
            PROXY.cut_all()

            def refused():
                st, hdrs, body = fcgi_request(sock, "GET", "/get", "id=nope")
                return (st, hdrs, body) if "database refused" in prog.output() else None
            st, hdrs, body = wait_until(refused, 60, 0.2, "the refusal to be logged")
            self.assertEqual(st, 503, body)
            self.assertIn("retry-after", hdrs)
            self.assertIn("%s; trying again" % OLD_SENTENCE, prog.output())
            # Still refused a second later, not crashed.
            time.sleep(1.5)
            self.assertEqual(fcgi_request(sock, "GET", "/get", "id=nope")[0], 503)
            self.assertIsNone(prog.p.poll(), prog.output())
            PROXY.claim = None
            wait_until(lambda: fcgi_request(sock, "GET", "/get", "id=nope")[0] == 404, 60, 0.2,
                       "owmcollect-fcgi to accept the server again")
            self.assertIn("database reachable again", prog.output())
            self.assertIsNone(prog.p.poll())
        finally:
            prog.stop()
            PROXY.claim = None

    def test_worker_reconnect_to_old_server(self):
        PROXY.claim = None
        prog = Program("worker", program_env())
        try:
            wait_beating(S, prog.p, 1)
            supervisor = prog.p.pid
            PROXY.claim = OLD
            PROXY.cut_all()
            wait_until(lambda: "%s; trying again" % OLD_SENTENCE in prog.output(), 60, 0.2,
                       "the worker to log the refusal")
            self.assertIsNone(prog.p.poll(), prog.output())
            self.assertEqual(prog.p.pid, supervisor)
            # Refused, so no heartbeat: the database's clock when it may
            # beat again, and a beat after it.
            PROXY.claim = None
            back = S.sql("SELECT NOW(6)")[0][0]
            wait_until(lambda: S.sql("SELECT COUNT(*) FROM worker_children WHERE ppid = %d "
                                     "AND heartbeat_at > '%s'" % (supervisor, back)) != [["0"]],
                       90, 0.2, "the worker's child to beat again")
            wait_until(lambda: "database reachable again" in prog.output(), 60, 0.2,
                       "the worker to log its return")
            after = prog.output().split(OLD_SENTENCE, 1)[1]
            self.assertNotIn("exited", after)
            self.assertNotIn("killed by signal", after)
        finally:
            prog.stop()
            PROXY.claim = None


if __name__ == "__main__":
    unittest.main()

"""A real Prometheus server (Debian's prometheus) scrapes a running stack's
/metrics with the shipped alert rules (etc/prometheus/owmcollect.rules.yml):
the target is up, every family of /metrics is stored, no alert fires on a
healthy stack, and stopping the worker fires OwmcollectNoWorker once its
"for" has passed, pending first.

The server runs from a temp dir of its own on a free loopback port,
scraping and evaluating every second.  The rules are the shipped file with
one change: OwmcollectNoWorker's "for: 2m" rendered as 15 s, so the test
waits seconds, not minutes (promtool test rules checks the shipped 2m,
make test-rules).  Tests run in name order; the last stops the worker."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

from harness import ROOT, Stack, free_port, wait_until
from test_health import FAMILIES, exited

S = None
PROM = None
RULES = os.path.join(ROOT, "etc", "prometheus", "owmcollect.rules.yml")
NO_WORKER_FOR = 15      # s: the test's "for" of OwmcollectNoWorker
ALIVE_S = 10            # a child is alive while its heartbeat is younger


class Prometheus:
    """One prometheus process in its own temp dir; stop() ends it by pid."""

    def __init__(self, target):
        self.dir = tempfile.mkdtemp(prefix="owmprom-")
        self.port = free_port()
        self.proc = None
        rules = os.path.join(self.dir, "owmcollect.rules.yml")
        with open(RULES) as f:
            text = f.read()
        head, sep, tail = text.partition("- alert: OwmcollectNoWorker\n")
        assert sep, "no OwmcollectNoWorker in " + RULES
        rule = tail.replace("for: 2m\n", "for: %ds\n" % NO_WORKER_FOR, 1)
        assert rule != tail, "OwmcollectNoWorker has no 'for: 2m'"
        with open(rules, "w") as f:
            f.write(head + sep + rule)
        with open(os.path.join(self.dir, "prometheus.yml"), "w") as f:
            f.write("global: {scrape_interval: 1s, evaluation_interval: 1s, scrape_timeout: 1s}\n"
                    "rule_files: [%s]\n"
                    "scrape_configs:\n"
                    "  - job_name: owmcollect\n"
                    "    metrics_path: /metrics\n"
                    "    static_configs: [{targets: ['127.0.0.1:%d']}]\n"
                    % (json.dumps(rules), target))

    def start(self):
        self.log = open(os.path.join(self.dir, "prometheus.log"), "wb")
        self.proc = subprocess.Popen(
            ["prometheus", "--config.file=" + os.path.join(self.dir, "prometheus.yml"),
             "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
             "--web.listen-address=127.0.0.1:%d" % self.port],
            cwd=self.dir, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_until(self.ready, 60, 0.2, "prometheus to be ready")
        return self

    def ready(self):
        if self.proc.poll() is not None:
            raise AssertionError("prometheus exited (%d):\n%s" % (self.proc.returncode, self.tail()))
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/-/ready" % self.port, timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def api(self, path, **params):
        url = "http://127.0.0.1:%d/api/v1/%s" % (self.port, path)
        if params:
            url += "?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=10) as r:
            doc = json.load(r)
        assert doc["status"] == "success", doc
        return doc["data"]

    def query(self, expr):
        return self.api("query", query=expr)["result"]

    def alerts(self, name):
        return [a for a in self.api("alerts")["alerts"] if a["labels"]["alertname"] == name]

    def tail(self):
        try:
            with open(os.path.join(self.dir, "prometheus.log"), "rb") as f:
                return f.read()[-3000:].decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        if self.proc:
            self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def setUpModule():
    global S, PROM
    if shutil.which("prometheus") is None:
        raise AssertionError("prometheus is not installed (make deps-test installs it)")
    S = Stack().start()
    PROM = Prometheus(S.port)
    PROM.start()


def tearDownModule():
    if PROM:
        PROM.stop()
    if S:
        S.stop()


def target_up():
    t = [t for t in PROM.api("targets")["activeTargets"] if t["labels"]["job"] == "owmcollect"]
    return t if t and t[0]["health"] == "up" else None


class PrometheusScrape(unittest.TestCase):
    def test_1_target_up_and_samples_stored(self):
        t = wait_until(target_up, 60, 0.5, "the owmcollect target up")
        self.assertEqual(t[0]["scrapeUrl"], "http://127.0.0.1:%d/metrics" % S.port)
        self.assertEqual(t[0]["lastError"], "")
        up = wait_until(lambda: PROM.query('up{job="owmcollect"}'), 30, 0.5, "up stored")
        self.assertEqual(up[0]["value"][1], "1")
        # Every family /metrics has is stored (a family Prometheus did not
        # take, an exposition error, would be missing).
        for name in FAMILIES:
            got = PROM.query('count({__name__="%s", job="owmcollect"})' % name)
            self.assertTrue(got and int(got[0]["value"][1]) >= 1, name)
        alive = wait_until(lambda: (lambda r: r if r and r[0]["value"][1] == "2" else None)(
            PROM.query("owmcollect_worker_children_alive")), 30, 0.5, "both children alive")
        self.assertEqual(alive[0]["metric"]["job"], "owmcollect")
        # Several evaluations on a healthy stack: no alert at all.
        time.sleep(3)
        self.assertEqual(PROM.api("alerts")["alerts"], [])
        rules = PROM.api("rules")["groups"]
        self.assertEqual([g["name"] for g in rules], ["owmcollect"])
        self.assertTrue(all(r["health"] == "ok" for r in rules[0]["rules"]), rules)

    def test_2_worker_stopped_fires_no_worker(self):
        wait_until(target_up, 60, 0.5, "the owmcollect target up")
        self.assertEqual(PROM.alerts("OwmcollectNoWorker"), [])
        pid = S.pid("worker")
        S.signal("worker", signal.SIGTERM)
        wait_until(lambda: exited(pid), 60, 0.1, "the worker to exit")
        t0 = time.monotonic()
        states = []

        def firing():
            a = PROM.alerts("OwmcollectNoWorker")
            if a:
                states.append((round(time.monotonic() - t0, 1), a[0]["state"]))
            return a if a and a[0]["state"] == "firing" else None
        # Its children's heartbeats age out within 10 s, then "for".
        a = wait_until(firing, ALIVE_S + NO_WORKER_FOR + 30, 0.5, "OwmcollectNoWorker firing")
        took = time.monotonic() - t0
        print("OwmcollectNoWorker firing %.1fs after the worker exited (for: %ds); seen %s"
              % (took, NO_WORKER_FOR, states[:1] + states[-1:]))
        self.assertEqual(states[0][1], "pending", states)
        self.assertGreaterEqual(took, NO_WORKER_FOR - 2)   # "for" held it (scrape, eval: 1 s each)
        self.assertLessEqual(took, ALIVE_S + NO_WORKER_FOR + 30)
        labels = a[0]["labels"]
        self.assertEqual((labels["job"], labels["severity"]), ("owmcollect", "critical"))
        self.assertEqual(labels["instance"], "127.0.0.1:%d" % S.port)
        self.assertEqual(a[0]["annotations"]["summary"], "no owmcollect worker child is alive")
        self.assertEqual(PROM.query("owmcollect_worker_children_alive")[0]["value"][1], "0")
        self.assertEqual(PROM.query('up{job="owmcollect"}')[0]["value"][1], "1")   # the service still up


if __name__ == "__main__":
    unittest.main()

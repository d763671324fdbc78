#!/usr/bin/env python3
"""Run the integration tests and exit non-zero on any failure.

    run.py                 every tests/integration/test_*.py, JOBS modules at a time
    run.py test_api ...    the named modules or tests, in this process

Each module starts its own private stack (own ports, own temp dir), so
modules run side by side; most of their time is spent waiting on the rate
limit, not on the CPU.  A module's output is printed whole when it ends.
"""
import os
import re
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "standin"))
JOBS = int(os.environ.get("JOBS", "3"))
# Longest first, so the slow ones do not start last.
ORDER = ["test_rate_network", "test_worker_rate", "test_worker", "test_cold", "test_health", "test_openapi", "test_api",
         "test_status_page", "test_clone_anywhere", "test_stack", "test_notify", "test_retention", "test_install"]


def run_here(names):
    suite = unittest.TestLoader().loadTestsFromNames(names)
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    import harness
    harness.clean_up(everything=result.wasSuccessful())
    print("integration: %d tests, %d failures, %d errors, %d skipped" %
          (result.testsRun, len(result.failures), len(result.errors), len(result.skipped)))
    return 0 if result.wasSuccessful() else 1


def run_all():
    found = sorted(f[:-3] for f in os.listdir(HERE) if f.startswith("test_") and f.endswith(".py"))
    modules = [m for m in ORDER if m in found] + [m for m in found if m not in ORDER]
    t0 = time.monotonic()
    pending, running, totals, failed = list(modules), [], [0, 0, 0, 0], []
    while pending or running:
        while pending and len(running) < JOBS:
            m = pending.pop(0)
            p = subprocess.Popen([sys.executable, os.path.abspath(__file__), m], cwd=HERE,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            running.append((m, p, time.monotonic()))
        for item in list(running):
            m, p, start = item
            if p.poll() is None:
                continue
            running.remove(item)
            out = p.stdout.read()
            print("==== %s (%.0f s)\n%s" % (m, time.monotonic() - start, out), flush=True)
            got = re.search(r"integration: (\d+) tests, (\d+) failures, (\d+) errors, (\d+) skipped", out)
            if got:
                for i in range(4):
                    totals[i] += int(got.group(i + 1))
            if p.returncode != 0 or not got:
                failed.append(m)
        time.sleep(0.2)
    print("integration: %d tests, %d failures, %d errors, %d skipped in %.0fs%s" %
          (totals[0], totals[1], totals[2], totals[3], time.monotonic() - t0,
           ("; FAILED: " + " ".join(failed)) if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(run_here(sys.argv[1:]) if sys.argv[1:] else run_all())

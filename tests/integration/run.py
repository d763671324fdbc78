#!/usr/bin/env python3
"""Run every tests/integration/test_*.py (or those named) and exit non-zero on failure."""
import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "standin"))


def main():
    loader = unittest.TestLoader()
    names = sys.argv[1:]
    if names:
        suite = loader.loadTestsFromNames(names)
    else:
        suite = loader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    t0 = time.monotonic()
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    print("integration: %d tests, %d failures, %d errors, %d skipped in %.0fs" %
          (result.testsRun, len(result.failures), len(result.errors),
           len(result.skipped), time.monotonic() - t0))
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""README's layout table against the tree: every source file of lib/, fcgi/
and worker/ is named in it, and every file it names exists."""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def table(readme):
    """The backquoted paths of the "## Layout" section's first column."""
    section = readme.split("## Layout\n", 1)[1].split("\n## ", 1)[0]
    paths = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            paths.update(re.findall(r"`([^`]+)`", line.split("|")[1]))
    return paths


def main():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        named = table(f.read())
    tree = {"%s/%s" % (d, n) for d in ("lib", "fcgi", "worker")
            for n in os.listdir(os.path.join(ROOT, d)) if n.endswith(".c")}
    errors = ["%s is not in README.md's layout table" % p
              for p in sorted(tree - named)]
    errors += ["README.md's layout table names %s, which does not exist" % p
               for p in sorted(named) if not os.path.exists(os.path.join(ROOT, p))]
    for e in errors:
        print("check_layout: " + e, file=sys.stderr)
    print("check_layout: %d files named, %d source files, %d errors" %
          (len(named), len(tree), len(errors)))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

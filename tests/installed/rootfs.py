"""The Debian 12 root file system make test-installed boots: debootstrap's
minbase with systemd, made once under /var/tmp and reused (the container
boots it with --volatile=overlay, so nothing a run writes stays in it).

The mirror and the suites come from this machine's own apt sources, read at
run time, so no registry's name is written here; the root gets the same
sources (main, updates, security), and their package lists.  The .debs apt
downloads inside the container are kept in a folder beside the root and
bound into every run, so only the first run downloads them.
"""
import glob
import os
import shutil
import subprocess
import time

ROOT = os.environ.get("OWMCOLLECT_ROOTFS", "/var/tmp/owmcollect-bookworm")
APT_CACHE = ROOT + ".apt-archives"
SUITE = "bookworm"
# Written last: a root without it is a failed or interrupted debootstrap.
DONE = os.path.join(ROOT, ".owmcollect-rootfs-done")


def apt_sources():
    """(uri, suites, components) of every "deb" entry of this machine's apt
    sources: the one-line sources.list and the deb822 *.sources files."""
    entries = []
    for path in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
        if not os.path.isfile(path):
            continue
        with open(path) as f:
            for line in f:
                words = line.split("#", 1)[0].split()
                if words[:1] != ["deb"]:
                    continue
                words = [w for w in words[1:] if not w.startswith("[")]
                if len(words) >= 3:
                    entries.append((words[0], [words[1]], words[2:]))
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        with open(path) as f:
            stanzas = f.read().split("\n\n")
        for st in stanzas:
            fields = {}
            for line in st.splitlines():
                if line.startswith("#") or ":" not in line or line[:1].isspace():
                    continue
                k, v = line.split(":", 1)
                fields[k.strip().lower()] = v.split()
            if "deb" in fields.get("types", []) and fields.get("enabled", ["yes"]) != ["no"]:
                for uri in fields.get("uris", []):
                    entries.append((uri, fields.get("suites", []), fields.get("components", [])))
    return entries


def mirror():
    for uri, suites, _ in apt_sources():
        if SUITE in suites:
            return uri
    raise RuntimeError("no apt source on this machine serves %s (/etc/apt/sources.list*)" % SUITE)


def sources_list():
    """The container's sources.list: this machine's bookworm entries."""
    lines = []
    for uri, suites, comps in apt_sources():
        for s in suites:
            if s == SUITE or s.startswith(SUITE + "-"):
                lines.append("deb %s %s %s\n" % (uri, s, " ".join(comps or ["main"])))
    return "".join(lines)


def ensure(log):
    """Make the root unless a finished one is there; returns the seconds
    spent (0 when reused)."""
    os.makedirs(APT_CACHE, exist_ok=True)
    if os.path.exists(DONE):
        return 0.0
    for tool in ("debootstrap", "systemd-nspawn"):
        if shutil.which(tool) is None:
            raise RuntimeError("%s is missing (make deps-test installs it)" % tool)
    t0 = time.monotonic()
    if os.path.exists(ROOT):
        shutil.rmtree(ROOT)
    with open(log, "ab") as out:
        subprocess.run(["debootstrap", "--variant=minbase", "--include=systemd,systemd-sysv,dbus",
                        SUITE, ROOT, mirror()], stdout=out, stderr=subprocess.STDOUT,
                       check=True, timeout=1200)
        with open(os.path.join(ROOT, "etc/apt/sources.list"), "w") as f:
            f.write(sources_list())
        # Package lists in the root itself; a run refreshes them only when
        # an install finds them out of date.
        subprocess.run(["chroot", ROOT, "apt-get", "update", "-q"], stdout=out,
                       stderr=subprocess.STDOUT, check=True, timeout=600)
        subprocess.run(["chroot", ROOT, "apt-get", "clean"], check=True, timeout=60)
    with open(DONE, "w") as f:
        f.write("made by tests/installed/rootfs.py\n")
    return time.monotonic() - t0


if __name__ == "__main__":
    print("root file system %s: %.1f s" % (ROOT, ensure("/dev/stderr")))

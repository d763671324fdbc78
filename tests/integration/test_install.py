"""make install / uninstall into temp trees, and the systemd units verified;
the installed programs read their configuration as their units run them."""
import configparser
import grp
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UNITS = ("owmcollect-fcgi.service", "owmcollect-worker.service",
         "owmcollect-collect.service", "owmcollect-collect.timer")


def unit_service(path):
    """The [Service] settings of a unit file: name -> list of values."""
    cp = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",),
                                   comment_prefixes=("#", ";"), dict_type=_MultiDict)
    cp.optionxform = str
    with open(path) as f:
        cp.read_file(f)
    return {k: v.split("\n") for k, v in cp["Service"].items()}


class _MultiDict(dict):
    """configparser keeps the last of repeated keys; systemd uses them all."""
    def __setitem__(self, key, value):
        if isinstance(value, list) and key in self:
            self[key].extend(value)
        else:
            super().__setitem__(key, value)


def make(*args):
    p = subprocess.run(["make", "--no-print-directory", "-C", ROOT] + list(args),
                       capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise AssertionError("make %s failed:\n%s%s" % (" ".join(args), p.stdout, p.stderr))
    return p


class Install(unittest.TestCase):
    def setUp(self):
        self.dest = tempfile.mkdtemp(prefix="owminstall-")

    def tearDown(self):
        shutil.rmtree(self.dest, ignore_errors=True)

    def path(self, *p):
        return os.path.join(self.dest, *p)

    def test_destdir_install_keeps_config_and_uninstalls(self):
        make("install", "DESTDIR=" + self.dest, "PREFIX=/usr/local")
        for prog in ("owmcollect-fcgi", "owmcollect-worker", "owmcollect-collect"):
            st = os.stat(self.path("usr/local/bin", prog))
            self.assertTrue(st.st_mode & stat.S_IXUSR, prog)
        conf = self.path("etc/owmcollect/owmcollect.conf")
        self.assertEqual(stat.S_IMODE(os.stat(conf).st_mode), 0o640)
        for f in ("usr/local/share/owmcollect/schema.sql", "usr/local/share/owmcollect/cities.txt",
                  "usr/local/share/owmcollect/prometheus/owmcollect.rules.yml",
                  "usr/local/share/doc/owmcollect/README.md",
                  "etc/nginx/sites-available/owmcollect", "etc/owmcollect/collect.env",
                  # the status page and the map's files make copies in
                  "usr/local/share/owmcollect/www/index.html",
                  "usr/local/share/owmcollect/www/app.js",
                  "usr/local/share/owmcollect/www/vendor/d3-geo.min.js",
                  "usr/local/share/owmcollect/www/vendor/countries-110m.json") + \
                tuple("usr/local/lib/systemd/system/" + u for u in UNITS):
            self.assertTrue(os.path.isfile(self.path(f)), f)
        # The documents: README.md and every page of docs/, as they are
        # (not compressed: the units' Documentation= and the man pages name
        # them so), and every file:// page a unit names is one of them.
        docdir = self.path("usr/local/share/doc/owmcollect")
        pages = ["README.md"] + sorted(n for n in os.listdir(os.path.join(ROOT, "docs"))
                                       if n.endswith(".md"))
        self.assertGreaterEqual(len(pages), 7, pages)
        self.assertEqual(sorted(os.listdir(docdir)), sorted(pages))
        for page in pages:
            src = os.path.join(ROOT, page) if page == "README.md" else os.path.join(ROOT, "docs", page)
            with open(src, "rb") as a, open(os.path.join(docdir, page), "rb") as b:
                self.assertEqual(a.read(), b.read(), page)
        for u in UNITS:
            with open(self.path("usr/local/lib/systemd/system", u)) as f:
                uris = [x for line in f if line.startswith("Documentation=")
                        for x in line.split("=", 1)[1].split()]
            self.assertTrue(uris, u)
            for uri in uris:
                self.assertTrue(uri.startswith("file:///usr/local/share/doc/owmcollect/"), (u, uri))
                self.assertTrue(os.path.isfile(self.path(uri[len("file:///"):])), (u, uri))
        # The recurring collection's token: an empty file only root reads.
        token = self.path("etc/owmcollect/collect.token")
        self.assertEqual(stat.S_IMODE(os.stat(token).st_mode), 0o600)
        self.assertEqual(os.path.getsize(token), 0)
        with open(self.path("etc/nginx/sites-available/owmcollect")) as f:
            site = f.read()
        self.assertNotIn("@", site.replace("$", ""))  # every placeholder filled
        self.assertIn("unix:/run/owmcollect/fcgi.sock", site)
        with open(self.path("usr/local/lib/systemd/system/owmcollect-fcgi.service")) as f:
            self.assertIn("ExecStart=/usr/local/bin/owmcollect-fcgi -c /etc/owmcollect/owmcollect.conf", f.read())
        with open(self.path("usr/local/lib/systemd/system/owmcollect-collect.service")) as f:
            unit = f.read()
        for line in ("Type=oneshot", "ExecStart=/usr/local/bin/owmcollect-collect",
                     "EnvironmentFile=-/etc/owmcollect/collect.env",
                     "LoadCredential=token:/etc/owmcollect/collect.token"):
            self.assertIn("\n" + line + "\n", unit)
        with open(self.path("usr/local/lib/systemd/system/owmcollect-collect.timer")) as f:
            timer = f.read()
        for line in ("OnCalendar=hourly", "Persistent=true", "RandomizedDelaySec=0",
                     "Unit=owmcollect-collect.service"):
            self.assertIn("\n" + line + "\n", timer)

        # A second install never overwrites the administrator's config,
        # the collection's settings or its token.
        env = self.path("etc/owmcollect/collect.env")
        for f in (conf, env):
            with open(f, "a") as fh:
                fh.write("# mine\n")
        with open(token, "w") as fh:
            fh.write("secret\n")
        make("install", "DESTDIR=" + self.dest, "PREFIX=/usr/local")
        for f in (conf, env):
            with open(f) as fh:
                self.assertTrue(fh.read().endswith("# mine\n"), f)
            self.assertTrue(os.path.isfile(f + ".dist"), f)
        with open(token) as fh:
            self.assertEqual(fh.read(), "secret\n")

        # Uninstall keeps what is the administrator's: a token that was set.
        make("uninstall", "DESTDIR=" + self.dest, "PREFIX=/usr/local")
        left = sorted(os.path.relpath(os.path.join(d, f), self.dest)
                      for d, _, fs in os.walk(self.dest) for f in fs)
        self.assertEqual(left, ["etc/owmcollect/collect.env", "etc/owmcollect/collect.token",
                                "etc/owmcollect/owmcollect.conf"])
        # and removes the token file it made when it was left empty.
        make("install", "DESTDIR=" + self.dest, "PREFIX=/usr/local")
        with open(token, "w"):
            pass
        make("uninstall", "DESTDIR=" + self.dest, "PREFIX=/usr/local")
        self.assertFalse(os.path.exists(token))

    def test_units_verify(self):
        # Installed with PREFIX (not DESTDIR) into the temp tree, so the
        # programs the units start exist where the units name them;
        # `verify --root=DESTDIR` would need a whole systemd tree there
        # (sysinit.target, /bin/kill).
        if shutil.which("systemd-analyze") is None:
            self.fail("systemd-analyze is missing (Debian package systemd)")
        make("install", "PREFIX=" + self.path("usr"), "CONFDIR=" + self.path("etc/owmcollect"),
             "NGINXDIR=" + self.path("etc/nginx"))
        units = [self.path("usr/lib/systemd/system", u) for u in UNITS]
        with open(units[UNITS.index("owmcollect-collect.service")]) as f:
            self.assertIn("LoadCredential=token:%s\n" % self.path("etc/owmcollect/collect.token"),
                          f.read())
        p = subprocess.run(["systemd-analyze", "verify"] + units, capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(p.stderr.strip(), "", p.stderr)

    def test_service_reads_config(self):
        # A real install (no DESTDIR), into the temp tree: as the units
        # run them (User=, Group=, SupplementaryGroups=; a DynamicUser= is
        # some uid of no group but those), both programs must read the
        # configuration `make install` wrote, and a user outside the
        # service's group must not.
        os.chmod(self.dest, 0o755)      # the service's user walks down to the files
        make("install", "PREFIX=" + self.path("usr"), "CONFDIR=" + self.path("etc/owmcollect"),
             "NGINXDIR=" + self.path("etc/nginx"))
        conf = self.path("etc/owmcollect/owmcollect.conf")
        for unit, prog in (("owmcollect-fcgi.service", "owmcollect-fcgi"),
                           ("owmcollect-worker.service", "owmcollect-worker")):
            svc = unit_service(self.path("usr/lib/systemd/system", unit))
            dynamic = svc.get("DynamicUser", ["no"])[-1] == "yes"
            user = "nobody" if dynamic else svc["User"][-1]
            groups = [g for v in svc.get("SupplementaryGroups", []) for g in v.split()]
            group = svc.get("Group", [None])[-1] or (groups[0] if dynamic else user)
            try:
                pwd.getpwnam(user)
                grp.getgrnam(group)
            except KeyError as e:
                self.fail("%s: make install did not create its user or group: %s" % (unit, e))
            cmd = ["setpriv", "--reuid=" + user, "--regid=" + group,
                   "--groups=" + ",".join([group] + groups) if groups else "--clear-groups",
                   "--", self.path("usr/bin", prog), "-t", "-c", conf]
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, 0, "%s as %s:%s: %s" % (prog, user, group, p.stderr))
            self.assertIn("# " + conf, p.stdout)
        # Nobody else: nobody, of no group of the service's.
        p = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--",
                            self.path("usr/bin/owmcollect-fcgi"), "-t", "-c", conf],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertIn("Permission denied", p.stderr)
        st = os.stat(conf)
        self.assertEqual((stat.S_IMODE(st.st_mode), st.st_uid, grp.getgrgid(st.st_gid).gr_name),
                         (0o640, 0, "owmcollect"))

    def test_key_only_in_worker(self):
        # The API key's file is the worker's alone; the FastCGI program
        # loads only the shared one, drops a key put there by mistake, and
        # runs as a uid of its own.  (tests/installed/ reads the running
        # processes' environments under systemd.)
        units = os.path.join(ROOT, "etc", "systemd")
        fcgi = unit_service(os.path.join(units, "owmcollect-fcgi.service"))
        worker = unit_service(os.path.join(units, "owmcollect-worker.service"))
        self.assertIn("-/etc/owmcollect/worker.env", worker["EnvironmentFile"])
        self.assertNotIn("-/etc/owmcollect/worker.env", fcgi["EnvironmentFile"])
        self.assertNotIn("LoadCredential", fcgi)
        self.assertIn("OWMCOLLECT_OWM_KEY", " ".join(fcgi.get("UnsetEnvironment", [])).split())
        self.assertEqual(fcgi.get("DynamicUser"), ["yes"])
        self.assertNotIn("User", fcgi)


if __name__ == "__main__":
    unittest.main()

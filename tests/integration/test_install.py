"""make install / uninstall into temp trees, and the systemd units verified."""
import os
import shutil
import stat
import subprocess
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


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
        for prog in ("owmcollect-fcgi", "owmcollect-worker"):
            st = os.stat(self.path("usr/local/bin", prog))
            self.assertTrue(st.st_mode & stat.S_IXUSR, prog)
        conf = self.path("etc/owmcollect/owmcollect.conf")
        self.assertEqual(stat.S_IMODE(os.stat(conf).st_mode), 0o640)
        for f in ("usr/local/share/owmcollect/schema.sql", "usr/local/share/owmcollect/cities.txt",
                  "usr/local/share/doc/owmcollect/README.md",
                  "usr/local/lib/systemd/system/owmcollect-fcgi.service",
                  "usr/local/lib/systemd/system/owmcollect-worker.service",
                  "etc/nginx/sites-available/owmcollect",
                  # the status page and the map's files make copies in
                  "usr/local/share/owmcollect/www/index.html",
                  "usr/local/share/owmcollect/www/app.js",
                  "usr/local/share/owmcollect/www/vendor/d3-geo.min.js",
                  "usr/local/share/owmcollect/www/vendor/countries-110m.json"):
            self.assertTrue(os.path.isfile(self.path(f)), f)
        with open(self.path("etc/nginx/sites-available/owmcollect")) as f:
            site = f.read()
        self.assertNotIn("@", site.replace("$", ""))  # every placeholder filled
        self.assertIn("unix:/run/owmcollect/fcgi.sock", site)
        with open(self.path("usr/local/lib/systemd/system/owmcollect-fcgi.service")) as f:
            self.assertIn("ExecStart=/usr/local/bin/owmcollect-fcgi -c /etc/owmcollect/owmcollect.conf", f.read())

        # A second install never overwrites the administrator's config.
        with open(conf, "a") as f:
            f.write("# mine\n")
        make("install", "DESTDIR=" + self.dest, "PREFIX=/usr/local")
        with open(conf) as f:
            self.assertTrue(f.read().endswith("# mine\n"))
        self.assertTrue(os.path.isfile(conf + ".dist"))

        make("uninstall", "DESTDIR=" + self.dest, "PREFIX=/usr/local")
        left = sorted(os.path.relpath(os.path.join(d, f), self.dest)
                      for d, _, fs in os.walk(self.dest) for f in fs)
        self.assertEqual(left, ["etc/owmcollect/owmcollect.conf"])

    def test_units_verify(self):
        if shutil.which("systemd-analyze") is None:
            self.fail("systemd-analyze is missing (Debian package systemd)")
        make("install", "PREFIX=" + self.path("usr"), "CONFDIR=" + self.path("etc/owmcollect"),
             "NGINXDIR=" + self.path("etc/nginx"))
        units = [self.path("usr/lib/systemd/system", u)
                 for u in ("owmcollect-fcgi.service", "owmcollect-worker.service")]
        p = subprocess.run(["systemd-analyze", "verify"] + units, capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(p.stderr.strip(), "", p.stderr)


if __name__ == "__main__":
    unittest.main()

"""Foundation: pgemuctl.  Text for people, JSON with -j, a clear message and
a non-zero exit on every error: no socket, unknown command, unknown link,
bad fault, missing arguments; a lab file that cannot be read or has
errors, a node it does not name, a socket we may not use (issue 7, item
10).  -h and --help list every command, the roles' too; --version.
"""
import json
import os
import re
import subprocess

from pgemu_test import PGEMUCTL, check, run


def test(Lab):
    lab = Lab("ctl")
    lab.start_all()
    lab.wait_links_up()

    rc, out, err = lab.ctl_raw("pg-a", "status", json_out=False)
    check(rc == 0, "status text: %d %s" % (rc, err))
    check("node pg-a (pg side A) of lab ctl" in out and
          "router-link" in out and "private-link" in out and "UP" in out,
          "status text:\n%s" % out)
    rc, out, err = lab.ctl_raw("pg-a", "status")
    st = json.loads(out)
    check(st["role"] == "pg" and st["side"] == "A" and
          len(st["links"]) == 3 and st["uptime"] > 0, "status json %r" % st)

    rc, out, err = lab.ctl_raw("router", "events", "5")
    ev = json.loads(out)
    check(rc == 0 and 1 <= len(ev) <= 5 and all("seq" in e for e in ev),
          "events: %r" % ev)
    rc, out, err = lab.ctl_raw("router", "events", json_out=False)
    check(rc == 0 and "router: link pg-a: IDLE -> UP (HELLO)" in out,
          "events text:\n%s" % out)

    errors = [
        (["nosuch", "status"], "cannot reach node nosuch"),
        (["pg-a", "frobnicate"], "unknown command \"frobnicate\""),
        (["pg-a", "fault", "nolink", "down"],
         "no link \"nolink\" on node pg-a; links: router-link acd-link "
         "private-link"),
        (["pg-a", "fault", "acd-link", "explode"],
         "unknown fault \"explode\""),
        (["pg-a", "fault", "acd-link"], "usage: fault LINK"),
        (["pg-a", "fault", "acd-link", "up"], "is not down by a fault"),
        (["pg-a", "fault", "acd-link", "thaw"], "is not frozen"),
        (["pg-a", "events", "x"], "events: bad count"),
    ]
    for args, msg in errors:
        rc, out, err = lab.ctl_raw(*args)
        check(rc == 1 and msg in err, "pgemuctl %s: exit %d, %r" % (
            " ".join(args), rc, err))
    r = subprocess.run([PGEMUCTL], capture_output=True, text=True)
    check(r.returncode == 2 and "usage:" in r.stderr, "no args: %r" % (
        r.stderr,))
    # -h and --help: every command, the roles' too.
    for opt in ("-h", "--help"):
        r = subprocess.run([PGEMUCTL, opt], capture_output=True, text=True)
        for want in ("fault LINK down|up|freeze|thaw", "router commands:",
                     "  peripherals ", "  intervals [N] ", "acd commands:",
                     "  agent ID set STATE|auto ",
                     "  stop|start cti-manager primary|backup",
                     "  traffic on|off ", "router-link, acd-link, "
                     "private-link"):
            check(r.returncode == 0 and want in r.stdout,
                  "pgemuctl %s: exit %d, no %r in:\n%s%s" % (
                      opt, r.returncode, want, r.stdout, r.stderr))
    r = subprocess.run([PGEMUCTL, "--version"], capture_output=True,
                       text=True)
    check(r.returncode == 0 and re.match(r"pgemuctl \d+\.\d+", r.stdout),
          "--version: exit %d %r %r" % (r.returncode, r.stdout, r.stderr))

    # The lab file: one that cannot be read is said so (no silent fall
    # back to /run/pgemu); a node it does not name is said so; the nodes
    # it names are found in its control_dir.
    r = subprocess.run([PGEMUCTL, "-c", "/no/such.conf", "router", "status"],
                       capture_output=True, text=True)
    check(r.returncode == 1 and r.stderr.strip() ==
          "pgemuctl: cannot read the lab file /no/such.conf: No such file "
          "or directory", "-c /no/such.conf: exit %d %r" % (
              r.returncode, r.stderr))
    r = subprocess.run([PGEMUCTL, "-c", lab.conf, "pg-c", "status"],
                       capture_output=True, text=True)
    check(r.returncode == 1 and r.stderr.strip() ==
          "pgemuctl: no node pg-c in the lab file %s (its nodes: router acd "
          "pg-a pg-b)" % lab.conf, "-c LAB pg-c: exit %d %r" % (
              r.returncode, r.stderr))
    r = subprocess.run([PGEMUCTL, "-j", "-c", lab.conf, "pg-a", "status"],
                       capture_output=True, text=True)
    check(r.returncode == 0 and json.loads(r.stdout)["node"] == "pg-a",
          "-c LAB pg-a status: exit %d %r" % (r.returncode, r.stderr))
    bad = os.path.join(lab.dir, "bad.conf")
    with open(bad, "w") as f:
        f.write("lab: { name = 3; };\n")
    r = subprocess.run([PGEMUCTL, "-c", bad, "router", "status"],
                       capture_output=True, text=True)
    check(r.returncode == 1 and "pgemuctl: the lab file %s has " % bad in
          r.stderr and "%s:1: " % bad in r.stderr,
          "-c BAD: exit %d %r" % (r.returncode, r.stderr))

    # Permission denied is said as such, not "is pgemud running?".
    sock = os.path.join(lab.dir, "router.sock")
    if os.geteuid() == 0:
        os.chmod(lab.dir, 0o755)
        wrap = ["setpriv", "--reuid=65534", "--regid=65534",
                "--clear-groups"]
    else:
        os.chmod(sock, 0)
        wrap = []
    r = subprocess.run(wrap + [PGEMUCTL, "-s", lab.dir, "router", "status"],
                       capture_output=True, text=True)
    if not wrap:
        os.chmod(sock, 0o660)
    check(r.returncode == 1 and
          "cannot reach node router at %s: Permission denied (the control "
          "sockets are for the user and group pgemud runs as" % sock in
          r.stderr and "running?" not in r.stderr,
          "permission denied: exit %d %r" % (r.returncode, r.stderr))
    check(lab.status("pg-a")["node"] == "pg-a", "still serving")


run(test)

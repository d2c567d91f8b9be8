"""Foundation: pgemuctl.  Text for people, JSON with -j, a clear message and
a non-zero exit on every error: no socket, unknown command, unknown link,
bad fault, missing arguments.
"""
import json
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
    r = subprocess.run([PGEMUCTL, "-h"], capture_output=True, text=True)
    check(r.returncode == 0 and "fault LINK down|up|freeze|thaw" in r.stdout,
          "help")
    check(lab.status("pg-a")["node"] == "pg-a", "still serving")


run(test)

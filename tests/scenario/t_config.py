"""Foundation: the lab file on the command line and on reload.

--check-config exits 1 with every error as file:line: message (a
relative directory among them), and warns for each port in the kernel's
ephemeral range; --dump-config prints the normalised lab; --version.
SIGHUP (and `pgemuctl reload`) re-read the file aside: a file with
errors is refused and the old one kept; new heartbeat settings are
applied to every link without dropping one; a moved peer restarts only
its own link.
"""
import os
import signal
import subprocess

from pgemu_test import PGEMUD, SRCDIR, check, log, run, wait_for


def pgemud(*args):
    r = subprocess.run([PGEMUD] + list(args), capture_output=True,
                       text=True, timeout=20)
    return r.returncode, r.stdout, r.stderr


def test(Lab):
    lab = Lab("conf")
    rc, out, err = pgemud("-c", lab.conf, "--check-config")
    check(rc == 0 and "OK: lab conf, 4 nodes, 20 agents, 2 MRDs" in out,
          "check-config of a good file: %d %r %r" % (rc, out, err))
    # The harness's ports come from bind(0): in the kernel's ephemeral
    # range, each gets a warning with its line, and the file is still OK.
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split())
    except (OSError, ValueError):
        lo, hi = 32768, 60999
    text = lab.conf_text()
    # The harness's cti-a and cti-b are the CTI ports of pg-a and pg-b.
    def setting(name):
        return ("%s.cti_port" % name.replace("cti-", "pg-")
                if name.startswith("cti-") else "%s.port" % name)
    want = ["%s:%d: warning: nodes.%s: %d is in the kernel's ephemeral "
            "port range %d-%d (net.ipv4.ip_local_port_range): an outgoing "
            "connection may hold it when the node starts" % (
                lab.conf, 1 + text[:text.index("port = %d;" % port)].count(
                    "\n"), setting(node), port, lo, hi)
            for node, port in sorted(lab.ports.items(),
                                     key=lambda np: text.index(
                                         "port = %d;" % np[1]))
            if lo <= port <= hi]
    check(want and err.splitlines() == want,
          "check-config warnings:\n%s\nexpected:\n%s" % (
              err, "\n".join(want)))
    # The sample lab (the README's first command runs it) draws no warning:
    # its ports are below the ephemeral range.
    rc, out, err = pgemud("-c", os.path.join(SRCDIR, "etc", "pgemu.conf"),
                          "--check-config")
    check(rc == 0 and err == "", "the sample lab: %d %r" % (rc, err))
    # Relative directories are refused.
    rel = os.path.join(lab.dir, "rel.conf")
    with open(rel, "w") as f:
        f.write(text.replace('state_dir = "%s";' % lab.dir,
                             'state_dir = "state";'))
    rc, out, err = pgemud("-c", rel, "--check-config")
    check(rc == 1 and 'lab.state_dir: "state" is a relative path; give an '
          'absolute one' in err, "relative state_dir: %d %r" % (rc, err))
    rc, out, err = pgemud("--version")
    check(rc == 0 and out.startswith("pgemud "), "version %r" % out)
    rc, out, err = pgemud("-c", lab.conf, "--dump-config")
    check(rc == 0 and "misses = 5;" in out and "task_life = 1200;" in out
          and "stable_ms = 5000;" in out, "dump-config: %r" % out[:400])

    # Every error, each with file:line.
    bad = os.path.join(lab.dir, "bad.conf")
    text = lab.conf_text().replace('role = "acd";', 'role = "switch";')
    text = text.replace("misses = 5;", "misses = 500;", 1)
    text += "\nbogus = 1;\n"
    with open(bad, "w") as f:
        f.write(text)
    rc, out, err = pgemud("-c", bad, "--check-config")
    lines = err.strip().splitlines()
    check(rc == 1, "check-config of a bad file exits %d" % rc)
    lineof = lambda s: 1 + text[:text.index(s)].count("\n")
    want = ["%s:%d: heartbeat.private.misses: 500 is out of range 2..100" %
            (bad, lineof("misses = 500")),
            "%s:%d: nodes.acd.role: \"switch\" is not one of "
            "router|acd|pg|desk|agents|app" %
            (bad, lineof('role = "switch"')),
            "%s:%d: unknown setting \"bogus\"" % (bad, lineof("bogus")),
            "%s: 3 errors" % bad]
    check(lines == want, "errors:\n%s\nexpected:\n%s" % (
        "\n".join(lines), "\n".join(want)))
    rc, out, err = pgemud("-c", os.path.join(lab.dir, "nope.conf"),
                          "--check-config")
    check(rc == 1 and "nope.conf:0: cannot read the file" in err,
          "missing file: %r" % err)
    rc, out, err = pgemud("-c", lab.conf, "-n", "nosuch")
    check(rc == 1 and "no node \"nosuch\"" in err, "unknown node: %r" % err)

    # Reload.
    lab.start_all()
    lab.wait_links_up()
    w = lab.watch("pg-a")
    before = {l["name"]: l["counters"]["connects"]
              for l in lab.status("pg-a")["links"]}
    lab.write_conf(hb_private=(50, 4), hb_router=(200, 6))
    w.mark()
    lab.kill("pg-a", signal.SIGHUP)
    e = w.wait(lambda e: e.get("event") == "config_reloaded", 3,
               "reload event")
    check(e["links_kept"] == 3 and e["links_restarted"] == 0,
          "reload kept %r" % e)
    lab.wait_notify("pg-a", "RELOADING=1", 2)
    st = lab.status("pg-a")
    for l in st["links"]:
        check(l["state"] == "UP" and l["counters"]["drops"] == 0 and
              l["counters"]["connects"] == before[l["name"]],
              "link %s disturbed by reload: %r" % (l["name"], l))
    check(lab.link("pg-a", "private-link")["heartbeat"] ==
          {"interval_ms": 50, "misses": 4}, "private heartbeat not applied")
    check(lab.link("pg-a", "router-link")["heartbeat"] ==
          {"interval_ms": 200, "misses": 6}, "router heartbeat not applied")

    # A file with errors is refused, the old one kept.
    with open(lab.conf, "w") as f:
        f.write(lab.conf_text().replace("misses = 5;", "misses = 0;", 1))
    rc, out, err = lab.ctl_raw("pg-a", "reload")
    check(rc == 1 and "config has 1 error, not reloading" in err and
          "heartbeat.private.misses: 0 is out of range" in err,
          "pgemuctl reload of a bad file: %d %r" % (rc, err))
    lab.kill("pg-a", signal.SIGHUP)
    lab.wait_log("pg-a", r"config has errors, not reloading")
    lab.wait_log("pg-a", r"lab\.conf:\d+: heartbeat\.private\.misses: 0 is "
                 r"out of range")
    check(lab.link("pg-a", "private-link")["heartbeat"]["interval_ms"] ==
          50, "bad reload changed the heartbeat")
    check(lab.links_up("pg-a"), "bad reload dropped a link")

    # The ACD moves: only acd-link restarts (and finds nothing there).
    lab.write_conf()
    text = lab.conf_text().replace(
        "port = %d;" % lab.ports["acd"], "port = %d;" % (lab.ports["acd"]
                                                        + 0))
    newport = lab.ports["acd"]
    lab.ports["acd"] = 1
    with open(lab.conf, "w") as f:
        f.write(lab.conf_text())
    lab.ports["acd"] = newport
    rc, out, err = lab.ctl_raw("pg-a", "reload")
    check(rc == 0, "reload with a moved acd: %r" % err)
    e = w.wait(lambda e: e.get("event") == "config_reloaded", 3, "reload")
    check(e["links_restarted"] == 1 and e["links_kept"] == 2,
          "moved acd: %r" % e)
    wait_for(lambda: lab.link("pg-a", "acd-link")["state"] != "UP", 2,
             "acd-link to leave")
    check(lab.link("pg-a", "router-link")["state"] == "UP" and
          lab.link("pg-a", "private-link")["state"] == "UP",
          "other links kept")
    lab.write_conf()
    lab.ctl("pg-a", "reload")
    wait_for(lambda: lab.links_up("pg-a"), 5, "acd-link back")

    # Its own port may not change under it.
    text = lab.conf_text().replace("port = %d;" % lab.ports["pg-b"],
                                   "port = %d;" % (lab.ports["pg-b"] + 1))
    with open(lab.conf, "w") as f:
        f.write(text)
    rc, out, err = lab.ctl_raw("pg-b", "reload")
    check(rc == 1 and "restart it" in err, "own port change: %r" % err)
    log("reload paths checked")


run(test)

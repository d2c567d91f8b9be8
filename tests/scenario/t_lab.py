"""pgemu-lab: the lab runner says when a node ends, and stops the lab
(issue 7, item 1).

- A lab whose router cannot start (a history database of random bytes):
  pgemu-lab makes the missing control_dir and state_dir, reports "router
  (pid P) exited with status 1" with the router's last line, stops the
  other nodes (SIGTERM, by PID) and exits 1; none of them is left.
- A node killed with SIGKILL: "pg-a (pid P) was killed by SIGKILL", the
  others stopped cleanly ("stopped" in their logs), exit 1.
- With -k the lab runs degraded, and says so; the others keep serving
  until SIGINT, then exit 1 (a node had ended).
- SIGINT to a lab whose nodes all run stops them all: exit 0.
"""
import os
import re
import signal
import stat
import subprocess

from pgemu_test import PGEMUCTL, SRCDIR, check, log, run, wait_for

LAB = os.path.join(SRCDIR, "src", "pgemu-lab")
NODES = ("router", "acd", "pg-a", "pg-b")


def lab_file(lab, ctl, state, history=None):
    text = lab.conf_text()
    head = 'control_dir = "%s"; state_dir = "%s";' % (lab.dir, lab.dir)
    check(head in text, "the harness's lab line changed")
    new = 'control_dir = "%s"; state_dir = "%s";' % (ctl, state)
    if history:
        new += ' history_db = "%s";' % history
    with open(lab.conf, "w") as f:
        f.write(text.replace(head, new))


class Runner:
    """pgemu-lab on the lab's file, its output in a file of the lab."""

    def __init__(self, lab, *args):
        self.out = os.path.join(lab.dir, "pgemu-lab.out")
        with open(self.out, "w") as f:
            self.proc = subprocess.Popen(["bash", LAB] + list(args) +
                                         [lab.conf], stdout=f,
                                         stderr=subprocess.STDOUT)
        lab.pids.append(self.proc)
        lab.logs["pgemu-lab"] = self.out
        m = wait_for(lambda: re.search(
            r"pgemu-lab: started router acd pg-a pg-b \(pids ([0-9 ]+)\)",
            self.text()), 10, "pgemu-lab's 'started' line")
        self.pids = dict(zip(NODES, map(int, m.group(1).split())))
        log("pgemu-lab %d: nodes %s" % (self.proc.pid, self.pids))

    def text(self):
        with open(self.out, errors="replace") as f:
            return f.read()

    def wait(self):
        rc = self.proc.wait(timeout=40)
        log("pgemu-lab exit %d; its output ends:\n%s" % (
            rc, "\n".join(self.text().splitlines()[-12:])))
        return rc

    def gone(self):
        for n, p in self.pids.items():
            try:
                os.kill(p, 0)
            except ProcessLookupError:
                continue
            check(False, "%s (pid %d) is still there" % (n, p))


def status(ctl, node):
    r = subprocess.run([PGEMUCTL, "-s", ctl, "-j", node, "status"],
                       capture_output=True, text=True, timeout=20)
    return r.returncode == 0 and '"node": "%s"' % node in r.stdout


def ready(ctl, nodes=NODES):
    for n in nodes:
        wait_for(lambda: status(ctl, n), 15, "%s to answer" % n,
                 interval=0.05)


def has(runner, line):
    check(line in runner.text(), "no %r in pgemu-lab's output:\n%s" % (
        line, runner.text()[-3000:]))


def test(Lab):
    # The router cannot start: reported, the others stopped, exit 1.
    lab = Lab("labrouter")
    ctl = os.path.join(lab.dir, "run", "ctl")
    state = os.path.join(lab.dir, "var", "state")
    junk = os.path.join(lab.dir, "junk.db")
    with open(junk, "wb") as f:
        f.write(os.urandom(4096))
    lab_file(lab, ctl, state, history=junk)
    r = Runner(lab)
    check(r.wait() == 1, "pgemu-lab did not exit 1")
    has(r, "pgemu-lab: made lab.control_dir %s" % ctl)
    has(r, "pgemu-lab: made lab.state_dir %s" % state)
    check(stat.S_IMODE(os.stat(state).st_mode) == 0o750,
          "state_dir mode %o" % stat.S_IMODE(os.stat(state).st_mode))
    has(r, "pgemu-lab: router (pid %d) exited with status 1; its last "
        "lines:" % r.pids["router"])
    check(re.search(r"\n    [0-9:.]+ router: error: cannot start: history "
                    "database %s: file is not a database" % re.escape(junk),
                    r.text()), "the router's last line is not shown")
    has(r, "pgemu-lab: stopping acd pg-a pg-b (SIGTERM)")
    has(r, "pgemu-lab: the lab is stopped; not every node ended well")
    r.gone()

    # A node killed: reported with its signal, the others stopped.
    lab = Lab("labkill")
    ctl = os.path.join(lab.dir, "ctl")
    lab_file(lab, ctl, os.path.join(lab.dir, "state"))
    r = Runner(lab)
    ready(ctl)
    os.kill(r.pids["pg-a"], signal.SIGKILL)
    check(r.wait() == 1, "pgemu-lab did not exit 1")
    has(r, "pgemu-lab: pg-a (pid %d) was killed by SIGKILL" % r.pids["pg-a"])
    has(r, "pgemu-lab: stopping router acd pg-b (SIGTERM)")
    for n in ("router", "acd", "pg-b"):
        check(re.search(r"\n[0-9:.]+ %s: stopped\n" % n, r.text()),
              "%s did not stop cleanly" % n)
    has(r, "pgemu-lab: the lab is stopped; not every node ended well")
    r.gone()

    # -k: the lab runs degraded until SIGINT.
    lab = Lab("labkeep")
    ctl = os.path.join(lab.dir, "ctl")
    lab_file(lab, ctl, lab.dir)
    r = Runner(lab, "-k")
    ready(ctl)
    os.kill(r.pids["pg-b"], signal.SIGKILL)
    wait_for(lambda: "pgemu-lab: the lab runs degraded, without pg-b; "
             "Ctrl-C stops the rest" in r.text(), 10, "the degraded line")
    has(r, "pgemu-lab: pg-b (pid %d) was killed by SIGKILL" % r.pids["pg-b"])
    ready(ctl, ("router", "acd", "pg-a"))
    check(r.proc.poll() is None, "pgemu-lab ended with -k")
    r.proc.send_signal(signal.SIGINT)
    check(r.wait() == 1, "pgemu-lab -k did not exit 1 after a node ended")
    has(r, "pgemu-lab: stopping router acd pg-a (SIGTERM)")
    r.gone()

    # SIGINT stops a whole lab: exit 0.
    lab = Lab("labint")
    ctl = os.path.join(lab.dir, "ctl")
    lab_file(lab, ctl, lab.dir)
    r = Runner(lab)
    ready(ctl)
    r.proc.send_signal(signal.SIGINT)
    check(r.wait() == 0, "pgemu-lab did not exit 0 on SIGINT")
    has(r, "pgemu-lab: stopping router acd pg-a pg-b (SIGTERM)")
    check(r.text().rstrip().endswith("pgemu-lab: the lab is stopped"),
          "last line: %r" % r.text().rstrip().splitlines()[-1])
    r.gone()


run(test)

"""pgemu-lab status and watch: the whole lab at a glance (issue 13).

A lab of five nodes and two peripherals: router, acd, pg-a, pg-b run;
acd2 (the ACD of peripheral 5001) is never started.

- status on it: one row per node, in the lab file's order: the four that
  run with their pid, role (and side), "running", their links up/total
  and their summary; acd2 "down", never started; then the peripherals as
  the router has them: 5000 online, its active side and node, its epoch
  and agents logged in; 5001 offline.  Exit 1: a node does not answer.
- watch, piped: every node's events, one line each, no colour, merged in
  time order: a fault on the active side's ACD link shows lines of
  several nodes, times never going back.  pg-b killed: "lost pg-b";
  started again: "watching pg-b" and its events.
- status with pg-b killed (down: nobody listens on its socket, killed?;
  "not reporting" in the peripheral's sides, not its last state),
  pg-a stopped (SIGSTOP: "stopped", its pid, not answering within the
  timeout, SIGCONT resumes it) and acd2 never started; the whole status
  takes about the timeout once, not once per node.  After SIGCONT pg-a
  runs again.
- watch on a terminal colours the node names.  Ended with SIGTERM, it
  leaves no watcher on any node.
- "status FILE": a lab file named status is the FILE after the command.
"""
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import time

from pgemu_test import SLOW, SRCDIR, check, log, run, wait_for

LAB = os.path.join(SRCDIR, "src", "pgemu-lab")
NODES = ("router", "acd", "pg-a", "pg-b", "acd2")
LINE = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d\d\d) ([\w-]+): (.*)$")


def status(lab, conf=None, cwd=None):
    """pgemu-lab status: (exit, node rows by name, peripheral rows by id,
    seconds it took)."""
    t0 = time.monotonic()
    r = subprocess.run(["bash", LAB, "status", conf or lab.conf],
                       capture_output=True, text=True, timeout=30, cwd=cwd)
    took = time.monotonic() - t0
    log("pgemu-lab status: exit %d in %.2f s\n%s%s" % (
        r.returncode, took, r.stdout, r.stderr))
    nodes, _, periphs = r.stdout.partition("\n\n")
    return (r.returncode, rows(nodes, "NODE", 6), rows(periphs,
                                                       "PERIPHERAL", 7),
            took)


def rows(text, first, ncols):
    """A table of pgemu-lab: its rows by first column, each cell under
    its header."""
    lines = text.rstrip("\n").split("\n")
    head = lines[0]
    cols = [m.start() for m in re.finditer(r"\S+", head)]
    check(head.startswith(first) and len(cols) == ncols,
          "header %r" % head)
    out = {}
    for line in lines[1:]:
        cells = []
        for i, off in enumerate(cols):
            end = cols[i + 1] if i + 1 < len(cols) else len(line)
            check(len(line) > off and line[off] != " " and
                  (off == 0 or line[off - 1] == " "),
                  "%r: column %d not under its header %r" % (line, i, head))
            cells.append(line[off:end].rstrip())
        out[cells[0]] = cells
    return out


class Watch:
    """pgemu-lab watch, its output in a file (piped: no colour)."""

    def __init__(self, lab):
        self.out = os.path.join(lab.dir, "watch.out")
        # A loaded machine may deliver an event late: hold lines longer.
        env = dict(os.environ, PGEMU_LAB_HOLD_MS=str(int(1000 * SLOW)))
        with open(self.out, "w") as f:
            self.proc = subprocess.Popen(["bash", LAB, "watch", lab.conf],
                                         stdout=f, stderr=subprocess.STDOUT,
                                         env=env)
        lab.pids.append(self.proc)
        lab.logs["pgemu-lab watch"] = self.out

    def lines(self):
        with open(self.out, errors="replace") as f:
            return f.read().splitlines()

    def wait(self, pred, what, since=0, timeout=10):
        return wait_for(lambda: [l for l in self.lines()[since:]
                                 if pred(l)], timeout, "watch: " + what)


def watchers(lab, node):
    return lab.status(node)["watchers"]


def test(Lab):
    lab = Lab("labstat", agents=3, extra_acds=("acd2",), peripherals=[
        dict(id=5000, acd="acd", agents=3, first_id=1001),
        dict(id=5001, acd="acd2", agents=2, first_id=2001)],
        hb_private=(50, 5), hb_router=(100, 5), hb_acd=(100, 5))
    running = NODES[:4]
    lab.start_all(running)
    lab.wait_links_up(("router", "acd"))
    for n in ("pg-a", "pg-b"):      # acd-link-acd2 stays down: no acd2
        wait_for(lambda: lab.links_up(n, ("router-link", "acd-link-acd",
                                          "private-link")), 10,
                 "%s's links up" % n)
    p = wait_for(lambda: (lambda p: p if p["online"] and
                          p["agents_logged_in"] == 3 else None)(
        lab.status("router")["peripherals"][0]), 10,
        "peripheral 5000 online, 3 agents")
    active = {"A": "pg-a", "B": "pg-b"}[p["active_side"]]

    # Every node but acd2 runs.
    rc, nodes, periphs, _ = status(lab)
    check(rc == 1, "status exit %d with acd2 down" % rc)
    check(list(nodes) == list(NODES), "rows %r" % list(nodes))
    for n in running:
        st = lab.status(n)
        role = st["role"] + (" " + st["side"] if "side" in st else "")
        up = sum(1 for l in st["links"] if l["state"] == "UP")
        check(nodes[n][1:5] == [role, str(st["pid"]), "running",
                                "%d/%d" % (up, len(st["links"]))] and
              nodes[n][5].startswith(st["summary"].split(":")[0] + ":"),
              "row of %s: %r, status %r" % (n, nodes[n], (
                  role, st["pid"], up, st["summary"])))
    check(nodes["acd2"][1:5] == ["acd", "-", "down", "-"] and
          "never started" in nodes["acd2"][5], "acd2: %r" % nodes["acd2"])
    check(periphs["5000"][2:6] == ["online", "%s (%s)" % (
        p["active_side"], active), str(p["epoch"]), "3"] and
        "%s ACTIVE" % active in periphs["5000"][6],
        "peripheral 5000: %r" % periphs["5000"])
    check(periphs["5001"][2].startswith("offline") and
          periphs["5001"][3] == "-", "peripheral 5001: %r" % periphs["5001"])

    # watch: the events of several nodes, in time order, plain.
    w = Watch(lab)
    for n in running:
        wait_for(lambda: watchers(lab, n) >= 1, 10, "pgemu-lab watching "
                 + n)
    lab.ctl(active, "fault", "acd-link-acd", "down")
    w.wait(lambda l: l.endswith("%s: link acd-link-acd: UP -> ADMIN_DOWN "
                                "(FAULT_DOWN): fault injected: down"
                                % active), "the fault's link event")
    w.wait(lambda l: re.search(r" router: \[R2\] peripheral 5000 offline",
                               l), "the router's R2 line")
    w.wait(lambda l: " acd: " in l, "a line of the acd")
    lab.ctl(active, "fault", "acd-link-acd", "up")
    lines = w.lines()
    events = [LINE.match(l) for l in lines]
    check(all(events), "lines not 'HH:MM:SS.mmm node: text': %r" % [
        l for l, m in zip(lines, events) if not m])
    check("\x1b" not in "".join(lines), "colour when piped")
    stamps = [m.group(1, 2, 3, 4) for m in events]
    check(stamps == sorted(stamps), "not in time order:\n%s" % "\n".join(
        lines))
    check({m.group(5) for m in events} >= {"router", "acd", active,
                                           "pgemu-lab"},
          "nodes in watch: %r" % {m.group(5) for m in events})

    # pg-b killed, then back: lost, watched again, its events.
    lab.kill("pg-b")
    lab.reap("pg-b")
    w.wait(lambda l: l.endswith("pgemu-lab: lost pg-b; waiting for it to "
                                "come back"), "lost pg-b")
    mark = len(w.lines())
    lab.start("pg-b")
    w.wait(lambda l: l.endswith("pgemu-lab: watching pg-b"),
           "pg-b watched again", since=mark)
    wait_for(lambda: watchers(lab, "pg-b") >= 1, 10, "pg-b watched")
    lab.ctl("pg-b", "fault", "acd-link-acd2", "down")
    w.wait(lambda l: " pg-b: link acd-link-acd2: " in l and
           "ADMIN_DOWN" in l, "pg-b's event after it came back", since=mark)

    # pg-b killed, pg-a stopped, acd2 never started.
    lab.kill("pg-b")
    lab.reap("pg-b")
    lab.kill("pg-a", signal.SIGSTOP)
    rc, nodes, periphs, took = status(lab)
    check(rc == 1, "status exit %d" % rc)
    check(nodes["pg-a"][2:5] == [str(lab.pid("pg-a")), "stopped", "-"] and
          "not answering within 1 s" in nodes["pg-a"][5] and
          "SIGSTOP" in nodes["pg-a"][5], "stopped pg-a: %r" % nodes["pg-a"])
    check(nodes["pg-b"][2:4] == ["-", "down"] and
          "killed?" in nodes["pg-b"][5], "killed pg-b: %r" % nodes["pg-b"])
    check(nodes["acd2"][3] == "down" and "never started" in
          nodes["acd2"][5], "acd2: %r" % nodes["acd2"])
    for n in ("router", "acd"):
        check(nodes[n][3] == "running", "%s: %r" % (n, nodes[n]))
    check("5000" in periphs, "no peripheral row from the router")
    # The killed side's last report is not its state: "not reporting".
    check("pg-b not reporting (link " in periphs["5000"][6] and
          "pg-b IDLE" not in periphs["5000"][6] and
          "pg-b ACTIVE" not in periphs["5000"][6],
          "killed pg-b in the peripheral's sides: %r" % periphs["5000"])
    check(took < 4, "status took %.1f s: the nodes one after the other?"
          % took)
    lab.kill("pg-a", signal.SIGCONT)
    wait_for(lambda: status(lab)[1]["pg-a"][3] == "running", 10,
             "pg-a running again after SIGCONT")

    # On a terminal: the node names coloured.
    before = watchers(lab, "pg-a")
    master, slave = pty.openpty()
    tty = subprocess.Popen(["bash", LAB, "watch", lab.conf], stdout=slave,
                           stderr=slave)
    lab.pids.append(tty)
    os.close(slave)
    got = [b""]
    wait_for(lambda: watchers(lab, "pg-a") > before, 10,
             "pg-a watched on the terminal")
    lab.ctl("pg-a", "fault", "acd-link-acd2", "down")

    def coloured():
        while select.select([master], [], [], 0)[0]:
            try:
                got[0] += os.read(master, 4096)
            except OSError:
                break
        return re.search(rb"\x1b\[3\dmpg-a\x1b\[0m: link acd-link-acd2",
                         got[0]) and \
            re.search(rb"\x1b\[1mpgemu-lab\x1b\[0m: watching ", got[0])
    try:
        wait_for(coloured, 10, "coloured node names on a terminal")
    finally:
        log("on the terminal: %r" % got[0][-2000:])
    tty.terminate()
    tty.wait(timeout=10)
    os.close(master)

    # SIGTERM: pgemu-lab watch ends, and its watchers with it.
    w.proc.terminate()
    w.proc.wait(timeout=10)
    for n in ("router", "acd", "pg-a"):
        wait_for(lambda: watchers(lab, n) == 0, 10,
                 "no watcher left on %s" % n)

    # A lab file named status: the FILE after the command.
    shutil.copy(lab.conf, os.path.join(lab.dir, "status"))
    rc, nodes, _, _ = status(lab, conf="status", cwd=lab.dir)
    check(nodes["router"][3] == "running", "status status: %r" % nodes)


run(test)

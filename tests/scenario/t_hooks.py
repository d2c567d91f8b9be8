"""Notify hooks (pgemu.conf(5), hooks): programs a node runs on chosen events.

Proves, on a lab with short heartbeats whose lab file names five hooks:
 (a) the lab file's hooks are checked: a relative program, an unknown event
     and an unknown node are each an error at their file:line;
 (b) kill -9 of the active side: the recording hook ran for pim_active on
     the new active side and for peripheral_online on the router, with the
     event's fields in its environment (PGEMU_EVENT, PGEMU_RULE, PGEMU_NODE,
     PGEMU_MESSAGE, PGEMU_TIME, PGEMU_EPOCH, ...) equal to the event's, and
     its name as argument; the node filter holds (no hook ran on the acd,
     which emits link_state events too);
 (c) a hook that exits 3, one that sleeps past its timeout (killed, its
     process gone) and a missing program are each logged at warning on the
     new active side, and counted in its status (run, failed, dropped);
 (d) the node keeps serving: the takeover is within 50 ms of the kill,
     and the side answers status while its sleeping hook runs;
 (e) at most 16 hooks run at once: 20 reloads of the new active side
     with a hook on config_reloaded that waits on a FIFO run 16 and drop
     4, logged once (warning) and once more when they ran (notice),
     counted in status; the node answers meanwhile.
"""
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

import pgemu_test
from pgemu_test import (FAST, PGEMUD, check, ev, log, run, start_duplex,
                        wait_for)

RECORD = """#!/bin/sh
# One file per event: its argument and the PGEMU_ environment.
f=%(out)s/$PGEMU_NODE.$PGEMU_SEQ
{ echo "ARG=$1"; env | grep '^PGEMU_' | sort; } > "$f.tmp"
mv "$f.tmp" "$f.env"
"""
FAIL = "#!/bin/sh\nexit 3\n"
GATE = "#!/bin/sh\ncat %(out)s/gate >/dev/null\n"
SLOW = "#!/bin/sh\necho $$ > %(out)s/slow.pid\nsleep 30\n"


def hooks_text(d):
    return """hooks = (
  { events = [ "pim_active", "peripheral_online", "peripheral_offline",
               "link_state" ];
    program = "%(d)s/record.sh"; nodes = [ "router", "pg-a", "pg-b" ]; },
  { events = [ "pim_active" ]; program = "%(d)s/fail.sh";
    nodes = [ "pg-a", "pg-b" ]; },
  { events = [ "pim_active" ]; program = "%(d)s/slow.sh";
    nodes = [ "pg-a", "pg-b" ]; timeout_ms = 500; },
  { events = [ "pim_active" ]; program = "/nonexistent/pgemu-hook";
    nodes = [ "pg-a", "pg-b" ]; },
  { events = [ "config_reloaded" ]; program = "%(d)s/gate.sh"; }
);
""" % {"d": d}


def records(out):
    """Every hook run recorded: a list of dicts of its environment."""
    recs = []
    for name in sorted(os.listdir(out)):
        if not name.endswith(".env"):
            continue
        with open(os.path.join(out, name)) as f:
            recs.append(dict(l.rstrip("\n").split("=", 1)
                             for l in f if "=" in l))
    return recs


def find_record(out, node, event, **fields):
    def got():
        for r in records(out):
            if (r.get("PGEMU_NODE") == node and
                    r.get("PGEMU_EVENT") == event and
                    all(r.get(k) == v for k, v in fields.items())):
                return r
        return None
    return wait_for(got, 5, "hook record of %s on %s" % (event, node))


def check_env(r, e):
    """The hook's environment is the event's fields."""
    want = {"PGEMU_EVENT": e["event"], "PGEMU_NODE": e["node"],
            "PGEMU_RULE": e["rule"] or "", "PGEMU_MESSAGE": e["message"],
            "PGEMU_TIME": "%.6f" % e["time"], "PGEMU_SEQ": str(e["seq"]),
            "ARG": e["event"]}
    for k, v in e.items():
        if isinstance(v, bool):
            want["PGEMU_" + k.upper()] = "true" if v else "false"
        elif isinstance(v, int):
            want["PGEMU_" + k.upper()] = str(v)
        elif isinstance(v, str):
            want["PGEMU_" + k.upper()] = v
    for k, v in want.items():
        check(r.get(k) == v, "hook of %s on %s: %s=%r, the event has %r"
              % (e["event"], e["node"], k, r.get(k), v))


def bad_configs(lab, d):
    """(a) Each mistake of a hook is an error at its line."""
    text = open(lab.conf).read()
    cases = [
        ('program = "%s/record.sh"' % d, 'program = "record.sh"',
         r'hooks\.\[\]\.program: "record\.sh" is not an absolute path'),
        ('"peripheral_offline"', '"peripheral_gone"',
         r'hooks\.\[\]\.events: "peripheral_gone" is not an event'),
        ('nodes = [ "router", "pg-a"', 'nodes = [ "routr", "pg-a"',
         r'hooks\.\[\]\.nodes: no node "routr" in the lab'),
    ]
    for old, new, msg in cases:
        check(old in text, "the lab file has no %r" % old)
        bad = text.replace(old, new, 1)
        line = bad[:bad.index(new)].count("\n") + 1
        path = os.path.join(d, "bad.conf")
        with open(path, "w") as f:
            f.write(bad)
        r = subprocess.run([PGEMUD, "-c", path, "--check-config"],
                           capture_output=True, text=True, timeout=10)
        pat = r"%s:%d: %s" % (re.escape(path), line, msg)
        check(r.returncode == 1 and re.search(pat, r.stderr),
              "(a) %s: exit %d, stderr %r, expected /%s/" %
              (new, r.returncode, r.stderr, pat))
        log("(a) %s: %s" % (new, r.stderr.strip()))


def test(Lab):
    d = tempfile.mkdtemp(prefix="pgemu-hooks-")
    try:
        scripts(Lab, d)
    finally:
        slow = os.path.join(d, "slow.pid")
        if os.path.exists(slow):
            try:
                os.killpg(int(open(slow).read()), signal.SIGKILL)
            except (ProcessLookupError, ValueError, PermissionError):
                pass
        shutil.rmtree(d, ignore_errors=True)


def scripts(Lab, d):
    out = os.path.join(d, "out")
    os.mkdir(out)
    for name, text in (("record.sh", RECORD), ("fail.sh", FAIL),
                       ("slow.sh", SLOW), ("gate.sh", GATE)):
        with open(os.path.join(d, name), "w") as f:
            f.write(text % {"out": out} if "%(out)s" in text else text)
        os.chmod(os.path.join(d, name), 0o755)

    lab = Lab("hooks", extra=hooks_text(d), **FAST)
    bad_configs(lab, d)
    act, stby, e0 = start_duplex(lab)
    find_record(out, act, "pim_active")
    # The first slow hook (of the first activation) ends before the kill.
    wait_for(lambda: lab.status(act)["hooks"]["running"] == 0, 5,
             "%s: its hooks ended" % act)
    os.unlink(os.path.join(out, "slow.pid"))
    wr = lab.watch("router")
    ws = lab.watch(stby)
    m = wr.mark()

    log("(b) %s active with epoch %d; kill -9 of it" % (act, e0))
    t0 = time.time()
    lab.kill(act, signal.SIGKILL)
    e = ws.wait(ev("pim_active"), 2, "%s: pim_active" % stby)
    dt = e["time"] - t0
    log("(d) %s active %.1f ms after the kill" % (stby, dt * 1000))
    # A hook that blocked the loop would hold it for seconds; a sanitizer
    # build on a busy machine is slower by its own factor.
    slow = pgemu_test.SLOW
    check(dt < 0.050 * slow, "(d) takeover after kill -9 took %.1f ms, "
          "over %d ms" % (dt * 1000, 50 * slow))
    check(e["epoch"] == e0 + 1, "(b) epoch %r, expected %d" %
          (e["epoch"], e0 + 1))
    r = find_record(out, stby, "pim_active", PGEMU_EPOCH=str(e0 + 1))
    check_env(r, e)
    check(r.get("PGEMU_RULE") == "R5", "(b) pim_active hook: PGEMU_RULE=%r"
          % r.get("PGEMU_RULE"))
    on = wr.wait(ev("peripheral_online"), 3, "router: peripheral_online",
                 since=m)
    check_env(find_record(out, "router", "peripheral_online",
                          PGEMU_SEQ=str(on["seq"])), on)
    log("(b) hooks ran for pim_active on %s and peripheral_online on the "
        "router, with the events' fields" % stby)
    check(any(r["PGEMU_NODE"] == "router" and
              r["PGEMU_EVENT"] == "link_state" for r in records(out)),
          "(b) no link_state hook on the router")
    check(not [r for r in records(out) if r["PGEMU_NODE"] == "acd"],
          "(b) a hook ran on the acd, which no hook names")

    # (d) The side serves while its slow hook runs.
    pid = int(wait_for(lambda: open(os.path.join(out, "slow.pid")).read()
                       if os.path.exists(os.path.join(out, "slow.pid"))
                       else None, 5, "slow hook started"))
    st = lab.status(stby)
    check(st["hooks"]["running"] >= 1, "(d) %s status while its slow hook "
          "runs: %r" % (stby, st["hooks"]))
    check(time.time() - t0 < 0.5, "(d) status answered %.0f ms after the "
          "kill, the slow hook's timeout is 500 ms" %
          ((time.time() - t0) * 1000))

    # (c) Failures, logged at warning and counted.
    lab.wait_log(stby, r"warning: hook %s/fail\.sh \(event pim_active, pid "
                 r"\d+\) failed: exit status 3" % re.escape(d))
    lab.wait_log(stby, r"warning: hook %s/slow\.sh \(event pim_active, pid "
                 r"%d\) ran longer than 500 ms: killed" % (re.escape(d),
                                                          pid))
    lab.wait_log(stby, r"warning: hook /nonexistent/pgemu-hook \(event "
                 r"pim_active\) cannot run: No such file or directory")

    def gone():
        try:
            os.kill(pid, 0)
            return False
        except ProcessLookupError:
            return True
    wait_for(gone, 5, "the slow hook (pid %d) gone" % pid)
    h = wait_for(lambda: (lambda h: h if h["running"] == 0 else None)(
        lab.status(stby)["hooks"]), 5, "%s: no hook running" % stby)
    check(h["failed"] >= 3 and h["run"] >= 3 and h["dropped"] == 0,
          "(c) %s hooks counters %r: expected run >= 3, failed >= 3, "
          "dropped 0" % (stby, h))
    rc, text, err = lab.ctl_raw(stby, "status", json_out=False)
    check(rc == 0 and re.search(r"\nhooks:\n +run: \d+\n +failed: "
                             r"\d+\n +dropped: 0\n", text),
          "(c) pgemuctl status shows no hooks: %r" % text)
    log("(c) failures logged; %s hooks %r" % (stby, h))
    cap(lab, stby, out, h)


def cap(lab, node, out, h0):
    """(e) 20 hooks at once: 16 run, 4 dropped, logged once per burst."""
    os.mkfifo(os.path.join(out, "gate"))
    for _ in range(20):
        lab.ctl(node, "reload")
    h = lab.status(node)["hooks"]
    # Other events' hooks (a link_state of a loaded machine) may run too,
    # quickly: 16 gated ones run at once, 4 are dropped.
    check(h["running"] == 16 and h["dropped"] == h0["dropped"] + 4 and
          h["run"] >= h0["run"] + 16,
          "(e) after 20 reloads: hooks %r, before %r" % (h, h0))
    lines = lab.grep_log(node, r"warning: hooks: 16 running, the next ones "
                         r"are dropped until one ends")
    check(len(lines) == 1, "(e) the drops logged %d times" % len(lines))

    def opened():
        # Each writer that comes and goes lets every waiting reader end.
        try:
            os.close(os.open(os.path.join(out, "gate"),
                             os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass    # no reader yet
        return lab.status(node)["hooks"]["running"] == 0
    wait_for(opened, 10, "%s: the gated hooks ended" % node)
    lab.wait_log(node, r"hooks: 4 dropped while 16 ran; hooks run "
                 r"again")
    h = lab.status(node)["hooks"]
    check(h["failed"] == h0["failed"] and h["dropped"] == h0["dropped"] + 4,
          "(e) after the gate: hooks %r, before %r" % (h, h0))
    log("(e) 16 hooks ran, 4 dropped, logged once: %r" % h)


run(test)

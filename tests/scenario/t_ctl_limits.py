"""The control socket is bounded, and pgemuctl never waits forever (issue
14).

A node serves at most control.max_clients clients at once (4 here): with
4 idle connections open, each one more, pgemuctl's included, gets an
error reply "too many control clients (4, control.max_clients): try
again later" and is closed; the node logs one line for the burst, not
one per connection, and the count of the burst once there is room again.
A client that does not watch and sends nothing for control.idle_ms (1 s
here) is closed; a watcher is not.  Then `pgemuctl status` works again
and the node is the same process.  A node that is stopped (SIGSTOP) makes
pgemuctl give up with a clear message: no reply within 10 s once
connected, naming the stopped process, and no connection within 5 s once
the socket's backlog is full; -t SECONDS shortens both.
"""
import json
import os
import signal
import socket
import struct
import subprocess
import time

from pgemu_test import PGEMUCTL, check, log, run, wait_for

LIMIT = 4
REFUSAL = ("too many control clients (%d, control.max_clients): try again "
           "later" % LIMIT)


def ctl_t(lab, secs):
    """pgemuctl -t SECS router status: (exit, stdout, stderr)."""
    r = subprocess.run([PGEMUCTL, "-s", lab.dir, "-t", secs, "router",
                        "status"], capture_output=True, text=True,
                       timeout=30)
    return r.returncode, r.stdout, r.stderr


def connect(path, blocking=True):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.setblocking(blocking)
    s.connect(path)
    return s


def read_frame(s, timeout=5):
    """One frame (a dict), or None at end of file."""
    s.settimeout(timeout)
    data = b""
    while len(data) < 4 or len(data) < 4 + struct.unpack(">I",
                                                         data[:4])[0]:
        chunk = s.recv(65536)
        if not chunk:
            check(data == b"", "a frame cut short: %r" % data)
            return None
        data += chunk
    return json.loads(data[4:].decode())


def test(Lab):
    lab = Lab("ctllim", extra="control: { max_clients = %d; "
              "idle_ms = 1000; };" % LIMIT)
    lab.start("router")
    pid = lab.status("router")["pid"]
    path = os.path.join(lab.dir, "router.sock")

    # LIMIT idle clients, then three more: each of those is refused.
    idle = [connect(path) for _ in range(LIMIT)]
    extra = [connect(path) for _ in range(3)]
    for s in extra:
        f = read_frame(s)
        check(f == {"ok": False, "error": REFUSAL}, "refusal: %r" % (f,))
        check(read_frame(s) is None, "a refused client was kept")
        s.close()
    rc, out, err = lab.ctl_raw("router", "status")
    check(rc == 1 and err.strip() == "pgemuctl: router: %s" % REFUSAL,
          "pgemuctl while full: exit %d: %r" % (rc, err))
    lines = lab.grep_log("router", "refusing more")
    check(len(lines) == 1 and "%d clients connected, the limit "
          "(control.max_clients): refusing more, first client pid" % LIMIT
          in lines[0], "one log line for the burst: %r" % lines)

    # The idle ones are closed after idle_ms; the operator is back.
    for s in idle:
        check(read_frame(s, timeout=10) is None, "an idle client got data")
        s.close()
    wait_for(lambda: lab.ctl_raw("router", "status")[0] == 0, 5,
             "pgemuctl status to work again")
    lab.wait_log("router", r"room for clients again; 4 refused while 4 "
                 r"were connected")
    check(len(lab.grep_log("router", "refusing more")) == 1,
          "more than one refusal line: %r" %
          lab.grep_log("router", "refusing more"))

    # A watcher is no idle client: it outlives one that is.
    w = lab.watch("router")
    s = connect(path)
    check(read_frame(s, timeout=10) is None, "an idle client got data")
    s.close()
    st = lab.status("router")
    check(st["watchers"] == 1 and w.proc.poll() is None,
          "the watcher was closed as idle: %r" % st["watchers"])
    check(st["pid"] == pid, "the router was replaced")
    w.stop()

    # A stopped node: pgemuctl gives up on the reply, then on connecting.
    lab.kill("router", signal.SIGSTOP)
    rc, out, err = lab.ctl_raw("router", "status")
    log("stopped: exit %d: %s" % (rc, err.strip()))
    stopped = ("its process (pid %d) is stopped (SIGSTOP? SIGCONT resumes "
               "it)" % pid)
    check(rc == 1 and err.strip() == "pgemuctl: router: no reply within "
          "10 s: " + stopped, "pgemuctl on a stopped node: exit %d: %r" % (
              rc, err))
    t0 = time.monotonic()
    rc, out, err = ctl_t(lab, "0.5")
    check(rc == 1 and err.strip() == "pgemuctl: router: no reply within "
          "0.5 s: " + stopped and time.monotonic() - t0 < 5,
          "pgemuctl -t 0.5 on a stopped node: exit %d: %r" % (rc, err))
    queued = []
    try:
        while len(queued) < 1000:
            queued.append(connect(path, blocking=False))
    except BlockingIOError:
        pass
    check(len(queued) < 1000, "the backlog of the socket never filled")
    rc, out, err = lab.ctl_raw("router", "status")
    log("backlog full: exit %d: %s" % (rc, err.strip()))
    check(rc == 1 and err.strip() == "pgemuctl: cannot reach node router "
          "at %s: no connection within 5 s (the node does not accept: "
          "stopped, or too busy?)" % path, "pgemuctl on a full backlog: "
          "exit %d: %r" % (rc, err))
    rc, out, err = ctl_t(lab, "0.3")
    check(rc == 1 and "no connection within 0.3 s" in err,
          "pgemuctl -t 0.3 on a full backlog: exit %d: %r" % (rc, err))
    for s in queued:
        s.close()
    lab.kill("router", signal.SIGCONT)
    wait_for(lambda: lab.ctl_raw("router", "status")[0] == 0, 10,
             "pgemuctl status after SIGCONT")
    check(lab.status("router")["pid"] == pid, "the router was replaced")
    lab.stop("router")


run(test)

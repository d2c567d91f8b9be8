"""A service manager that does not read its notify socket never stops a
node: with the socket's queue full, WATCHDOG=1 every 10 ms, STATUS=,
RELOADING=1, READY=1 and STOPPING=1 are dropped, and the node still answers
its control socket, reloads and stops on SIGTERM.  Once the socket is read
again, the node's messages arrive again.
"""
import os
import socket
import subprocess

from pgemu_test import PGEMUD, check, log, run, wait_for


def queue_full(path):
    """True when a datagram to path would block (the queue is full)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.setblocking(False)
    try:
        s.sendto(b"PROBE=1", path)
        return False
    except BlockingIOError:
        return True
    finally:
        s.close()


def drain(sock):
    got = []
    sock.setblocking(False)
    while True:
        try:
            got.append(sock.recv(4096).decode(errors="replace"))
        except BlockingIOError:
            return got


def test(Lab):
    lab = Lab("nfull")
    path = os.path.join(lab.dir, "notify-undrained.sock")
    ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ns.bind(path)
    env = dict(os.environ, NOTIFY_SOCKET=path, WATCHDOG_USEC="20000")
    env.pop("WATCHDOG_PID", None)
    logf = open(os.path.join(lab.dir, "router.log"), "a")
    lab.logs["router"] = logf.name
    p = subprocess.Popen([PGEMUD, "-f", "-v", "-c", lab.conf, "-n",
                          "router"], stdout=logf, stderr=logf, env=env)
    logf.close()
    lab.procs["router"] = p
    lab.pids.append(p)
    try:
        wait_for(lambda: lab.status("router"), 10, "router's control socket")
        wait_for(lambda: queue_full(path), 5, "the notify queue to fill")
        log("notify queue full")
        # The node is not stuck in a send: it answers 10 watchdog
        # periods later, and reloads (RELOADING=1, READY=1 into the full
        # queue).
        t0 = lab.status("router")["uptime"]
        wait_for(lambda: lab.status("router")["uptime"] > t0 + 0.1, 5,
                 "the router to answer 0.1 s after its queue filled")
        check(queue_full(path), "the queue is still full")
        check(lab.ctl("router", "reload")["config"] == lab.conf, "reload")
        msgs = drain(ns)
        check(any(m.startswith("READY=1\nSTATUS=") for m in msgs[:2]),
              "no READY=1 first: %r" % msgs[:3])
        # Read again: its messages come again.
        got = []
        wait_for(lambda: [m for m in got.extend(drain(ns)) or got
                          if m == "WATCHDOG=1"], 5,
                 "WATCHDOG=1 after the socket is read again")
        rc = lab.stop("router", timeout=5)
        check(rc == 0, "exit %d on SIGTERM" % rc)
        check(lab.grep_log("router", r"notify: \w+ not sent: Resource "
                           r"temporarily unavailable; dropping")
              and lab.grep_log("router", r"notify: .* takes messages "
                               r"again \(\d+ dropped\)"),
              "the log says when notifications drop and resume")
    finally:
        ns.close()


run(test)

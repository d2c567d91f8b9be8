"""Bounded resources (issue 14): a flood cannot keep a real peer out, a
peer that does not read cannot grow a node without end, and refusals
cannot flood the log.

  1. lab.max_pending = 8, lab.log_rate = 3: 200 silent connections to the
     router's port.  At most 8 wait at once (listener "pending"); the
     oldest make room ("evicted"), so pg-a, restarted in the middle of the
     flood, is back (its router link UP) while the flood still holds its
     slots.  The router logs at most 3 refusal lines a second and says how
     many it suppressed ("more lines of this kind suppressed"); the
     listener's JSON counts them.
  2. lab.max_output = 65536: a GED-188 client of the active CTI server
     that sends 1,000,000 HEARTBEAT_REQ and never reads is cut, with one line
     "does not read", while pg-a keeps serving (its other links UP, a
     second client opens a session).
  3. Every daemon runs with the fd limit at 1,024 (soft and hard, so it
     cannot raise it): up to 1,100 silent connections each to every TCP
     listener of the lab (router, acd, pg-b's private port, both CTI
     ports) and to every node's control socket, all held at once.  No
     node dies, `pgemuctl status` of each answers again within
     control.idle_ms (1 s here: the idle control clients are closed, the
     ones past control.max_clients refused at once), and nothing moved:
     every link UP, the same active side and epoch, the peripheral online.
"""
import os
import resource
import socket
import struct
import sys
import time

from pgemu_test import (check, cti_open_active, log, raw_connect, run,
                        wait_for, wait_online)

import ged188_client as ged


# The daemons' fd limit, soft and hard: a node cannot raise it.
NOFILE = 1024
LIMIT = (sys.executable, "-c",
         "import os, resource, sys; "
         "resource.setrlimit(resource.RLIMIT_NOFILE, (%d, %d)); "
         "os.execvp(sys.argv[1], sys.argv[1:])" % (NOFILE, NOFILE))
FLOOD = 1100


def start(lab, node):
    """Start node under the fd limit, and check that it has it."""
    p = lab.start(node, wrapper=LIMIT)
    with open("/proc/%d/limits" % p.pid) as f:
        line = [l for l in f if l.startswith("Max open files")][0]
    check(line.split()[3:5] == [str(NOFILE)] * 2, "%s: %s" % (node, line))


def answers(lab, node):
    """pgemuctl NODE status answers."""
    return lab.ctl_raw(node, "status")[0] == 0


def hold(connect, n):
    """Up to n connections made by connect, held open; three in a row
    that cannot be made (a node that does not accept) end it."""
    held = []
    failed = 0
    for _ in range(n):
        try:
            held.append(connect())
            failed = 0
        except OSError:
            failed += 1
            if failed == 3:
                break
    return held


def tcp(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(1)
    try:
        s.connect(("127.0.0.1", port))
    except OSError:
        s.close()
        raise
    return s


def unix(path):
    """A blocking connect that waits up to a second for room in the
    backlog (a non-blocking one fails at once when it is full)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO,
                 struct.pack("ll", 1, 0))
    try:
        s.connect(path)
    except OSError:
        s.close()
        raise
    return s


def flood_everything(lab):
    """3. Every listener and control socket flooded at once."""
    p0 = wait_online(lab, 10, agents=5)
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    # pg-a connects to pg-b's private port; it listens on none.
    targets = [("port %s" % n, lab.ports[n])
               for n in ("router", "acd", "pg-b")]
    targets += [("%s's CTI port" % n, port)
                for n, port in sorted(lab.cti_ports.items())]
    held = []
    try:
        for what, port in targets:
            got = hold(lambda: tcp(port), FLOOD)
            log("%s: %d connections held" % (what, len(got)))
            held += got
        for node in lab.nodes:
            got = hold(lambda: unix("%s/%s.sock" % (lab.dir, node)),
                       FLOOD)
            log("%s's control socket: %d connections held" % (node,
                                                              len(got)))
            check(len(got) > 64, "%s's control socket took %d" % (
                node, len(got)))
            held += got
        check(len(held) > NOFILE, "%d connections held" % len(held))
        for node in lab.nodes:
            check(lab.procs[node].poll() is None, "%s died" % node)
            wait_for(lambda: answers(lab, node), 5,
                     "pgemuctl %s status during the flood" % node)
        for node in lab.nodes:
            check(lab.links_up(node), "%s lost a link" % node)
        p1 = wait_online(lab, 5, agents=5)
        check(p1["active_side"] == p0["active_side"] and
              p1["epoch"] == p0["epoch"], "the peripheral moved: %r -> %r"
              % (p0, p1))
    finally:
        for s in held:
            s.close()


def test(Lab):
    lab = Lab("limits", agents=5, hb_router=(100, 5), hb_acd=(100, 5),
              sections={"lab": "max_pending = 8; log_rate = 3; "
                        "max_output = 65536;"},
              extra="control: { idle_ms = 1000; };")
    for node in lab.nodes:
        start(lab, node)
    lab.wait_links_up()
    wait_online(lab, 10, agents=5)

    # 1. The flood.
    flood = []
    for i in range(100):
        flood.append(raw_connect(lab.ports["router"]))
    lst = [x for x in lab.status("router")["listeners"]
           if x["port"] == lab.ports["router"]][0]
    check(lst["pending"] <= 8, "pending %d over 8" % lst["pending"])
    check(lab.stop("pg-a") == 0, "stop pg-a")
    for i in range(100):
        flood.append(raw_connect(lab.ports["router"]))
    start(lab, "pg-a")
    wait_for(lambda: lab.link("router", "pg-a")["state"] == "UP", 5,
             "pg-a back at the router during the flood")
    lst = [x for x in lab.status("router")["listeners"]
           if x["port"] == lab.ports["router"]][0]
    log("router listener: %r" % lst)
    check(lst["pending"] <= 8, "pending %d over 8" % lst["pending"])
    check(lst["refused"] >= 150, "refused %d" % lst["refused"])
    for s in flood:
        s.close()
    # The next second's first refusal line says what was suppressed.
    time.sleep(1.1)     # a new rate window: the only way to open one
    s = raw_connect(lab.ports["router"])
    s.sendall(b"\0\0\0\0\0\0\x99\x99")
    s.close()
    lab.wait_log("router", r"listener router: \d+ more lines? of this kind "
                 r"suppressed in the last second \(at most 3 a second\)", 3)
    lines = [l for l in lab.log_text("router").splitlines()
             if "listener router: connection from" in l]
    check(len(lines) < 60, "%d refusal lines logged for ~200 refusals" %
          len(lines))
    lst = [x for x in lab.status("router")["listeners"]
           if x["port"] == lab.ports["router"]][0]
    check(lst["log_lines_suppressed"] > 100, "suppressed %r" % lst)

    # 2. A CTI client that never reads.
    node, c, _ = cti_open_active(lab)
    c.close()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", lab.cti_ports[node]))
    s.sendall(ged.encode(ged.OPEN_REQ, dict(
        InvokeID=1, VersionNumber=20, IdleTimeout=ged.NO_IDLE_TIMEOUT,
        PeripheralID=ged.NULL_PERIPHERAL_ID,
        ServicesRequested=ged.CTI_SERVICE_ALL_EVENTS, CallMsgMask=0,
        AgentStateMask=ged.AGENT_STATE_MASK_ALL, ConfigMsgMask=0,
        Reserved1=0, Reserved2=0, Reserved3=0),
        [(ged.CLIENT_ID_TAG, b"deaf\0")], 20))
    hb = b"".join(ged.encode(ged.HEARTBEAT_REQ, dict(InvokeID=i + 2),
                             version=20) for i in range(1000000))
    s.settimeout(10)
    try:
        s.sendall(hb)
    except OSError:
        pass
    line = lab.wait_log(node, r"does not read: \d+ bytes would wait for "
                        r"it, over lab\.max_output \(65536\)", 10)
    log(line[0])
    s.close()
    check(lab.links_up(node), "%s lost a link" % node)
    node2, c2, _ = cti_open_active(lab, name="cti2")
    check(node2 == node, "the active CTI server moved")
    c2.close()

    flood_everything(lab)


if __name__ == "__main__":
    run(test)

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
"""
import socket
import struct
import time

from pgemu_test import (check, cti_open_active, log, raw_connect, run,
                        wait_for, wait_online)

import ged188_client as ged


def test(Lab):
    lab = Lab("limits", agents=5, hb_router=(100, 5), hb_acd=(100, 5),
              sections={"lab": "max_pending = 8; log_rate = 3; "
                        "max_output = 65536;"})
    lab.start_all()
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
    lab.start("pg-a")
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


if __name__ == "__main__":
    run(test)

"""valgrind finds no error and no leak in pgemud: every role runs under
valgrind through CTI sessions (opened, refused by the standby, agents
set, reset: R9, malformed, the CTI server stopped and started, a standby
session open when its side stops), a
failover (kill -9 of the active side, its restart, a fault down/up, a
reload), then stops on SIGTERM; then the desktop servers and the
desktops, in a lab of their own, through desk-a's stop (the desktops go
to desk-b: R9, R10), a desktop's faults at both ends, the CTI link's
fault, a state asked through a desktop, a reload; then media routing in
a lab of its own (the app, both PG sides and the router under valgrind:
routed tasks, the app's own, its MR link and ARM session cut, an MR PIM
stopped and started, a reload); valgrind's exit code and report decide.  Skipped (77) where valgrind is missing, and in the
sanitizer build (PGEMU_TEST_SLOW > 1), where ASan does this job.
"""
import os
import shutil
import signal
import socket
import struct
import sys

import ged_mini as G
from pgemu_test import SLOW, check, log, run, wait_for

if shutil.which("valgrind") is None or SLOW > 1:
    print("SKIP: valgrind missing, or a sanitizer build")
    sys.exit(77)


def active_cti(lab):
    """The side whose CTI server is active, once exactly one is."""
    def one():
        act = [n for n in ("pg-a", "pg-b") if lab.ctl(n, "cti")["active"]]
        return act[0] if len(act) == 1 else None
    return wait_for(one, 30, "one active CTI server")


def cti_sessions(lab):
    """The CTI server's paths: sessions opened, refused, malformed, reset
    (R9), agents set, its stop and start."""
    node = active_cti(lab)
    port = lab.ports["cti-a" if node == "pg-a" else "cti-b"]
    sby = lab.ports["cti-b" if node == "pg-a" else "cti-a"]
    c = G.Client(sby)
    c.open_req(client_id="vg")
    check(c.closed(30), "standby: refused")
    c.close()
    c = G.Client(port, 19)
    c.open(client_id="vg", services=G.CLIENT_EVENTS, periph=5000,
           agent=1001)
    c.set_state(5000, 1001, 0)
    c.set_state(5000, 1001, 2, 5)
    c.query(5000, 1001)
    c.heartbeat()
    while c.recv(30).type != G.HEARTBEAT_CONF:
        pass
    c.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                   struct.pack("ii", 1, 0))
    c.close()
    c = G.Client(port)
    c.open(client_id="vg2")
    c.send(G.SET_AGENT_STATE_REQ, b"\0" * 5)
    check(c.closed(30), "malformed: closed")
    c.close()
    c = G.Client(port)
    c.open(client_id="vg3")
    lab.ctl(node, "stop", "cti-server")
    check(c.closed(30), "stopped: closed")
    c.close()
    lab.ctl(node, "start", "cti-server")


def vg_stop(lab, nodes):
    for n in nodes:
        rc = lab.stop(n, timeout=60)
        text = lab.log_text(n)
        bad = [l for l in text.splitlines() if l.startswith("==")]
        check(rc == 0 and not bad, "%s under valgrind: exit %d\n%s" % (
            n, rc, "\n".join(bad[-40:])))
        log("%s: valgrind clean, exit 0" % n)


def desktops(Lab, vg):
    lab = Lab("vgdesk", agents=10, desktops=True, hb_desktop=(200, 5),
              hb_private=(200, 5), hb_router=(400, 5), hb_acd=(400, 5))
    for n in ("router", "acd", "pg-a", "pg-b"):
        lab.start(n)
    for n in ("desk-a", "desk-b", "agents"):
        lab.start(n, wrapper=vg, ready_timeout=60)
    wait_for(lambda: lab.ctl("agents", "status")["agents"]["states"] ==
             {"available": 10}, 60, "every desktop's agent available")
    vg_stop(lab, ["desk-a"])
    wait_for(lambda: lab.ctl("agents", "status")["agents"]["servers"] ==
             {"desk-b": 10} and lab.ctl("agents", "status")["agents"]
             ["states"] == {"available": 10}, 60, "every desktop on desk-b")
    lab.ctl("agents", "fault", "1001", "down")
    lab.ctl("agents", "fault", "1001", "up")
    lab.ctl("desk-b", "fault", "desktop", "1002", "down")
    lab.ctl("desk-b", "fault", "desktop", "1002", "up")
    lab.ctl("desk-b", "fault", "cti-link", "down")
    lab.ctl("desk-b", "fault", "cti-link", "up")
    wait_for(lambda: lab.ctl("agents", "status")["agents"]["states"] ==
             {"available": 10}, 60, "every agent back")
    lab.ctl("agents", "agent", "1003", "set", "not_ready", "5")
    lab.ctl("desk-b", "desktops")
    lab.ctl("agents", "reload")
    lab.ctl("desk-b", "reload")
    vg_stop(lab, ["agents", "desk-b"])


def media(Lab, vg):
    """Media routing under valgrind: the app, both PG sides (MR PIM, ARM
    task table, CTI server) and the router (routing, task table, task
    history) through routed tasks, the app's own tasks while routing is
    off, its MR link and ARM session cut, an MR PIM stopped and started,
    a reload, then SIGTERM."""
    lab = Lab("vgmr", agents=6, desktops=True, agent_mrds=[1, 2],
              media=True, mr_traffic=5, hb_desktop=(200, 5),
              hb_private=(200, 5), hb_router=(400, 5), hb_acd=(400, 5),
              hb_mr=(400, 5))
    for n in ("router", "pg-a", "pg-b", "app"):
        lab.start(n, wrapper=vg, ready_timeout=60)
    for n in ("acd", "desk-a", "desk-b", "agents"):
        lab.start(n)

    def ledger():
        return lab.status("app")["app"]["ledger"]
    wait_for(lambda: ledger()["routed"] >= 5, 60, "5 tasks routed")
    mr = lab.status("router")["media_routing"]
    act = {"A": "pg-a", "B": "pg-b"}.get(mr["active_side"], "pg-a")
    lab.ctl("app", "fault", "cti-link", "down")
    lab.ctl("app", "fault", "cti-link", "up")
    lab.ctl("app", "fault", act, "down")
    lab.ctl("app", "new-task", "Email", "3")
    lab.ctl("app", "fault", act, "up")
    lab.ctl("pg-a", "stop", "mr-pim")
    lab.ctl("pg-a", "start", "mr-pim")
    lab.ctl("app", "reload")
    n0 = ledger()["routed"]
    wait_for(lambda: lab.status("app")["app"]["routing"] and
             ledger()["routed"] > n0, 60, "routing again")
    lab.ctl("app", "tasks")
    lab.ctl("router", "tasks")
    lab.ctl("pg-a", "cti")
    check(ledger()["balanced"], "ledger: %r" % ledger())
    vg_stop(lab, ["app", "pg-a", "pg-b", "router"])


def test(Lab):
    lab = Lab("vg", agents=50, hb_private=(200, 5), hb_router=(400, 5),
              hb_acd=(400, 5), traffic=True, interval=2)
    vg = ["valgrind", "-q", "--leak-check=full", "--show-leak-kinds=all",
          "--errors-for-leak-kinds=definite,indirect,possible",
          "--error-exitcode=99"]
    for n in ("router", "acd", "pg-a", "pg-b"):
        lab.start(n, wrapper=vg, ready_timeout=60)
    lab.wait_links_up(timeout=30)
    wait_for(lambda: lab.status("router")["peripheral"]["online"], 30,
             "online")
    cti_sessions(lab)
    per = lab.status("router")["peripheral"]
    act = "pg-a" if per["active_side"] == "A" else "pg-b"
    lab.kill(act)
    lab.reap(act, timeout=30)
    wait_for(lambda: lab.status("router")["peripheral"]["online"] and
             lab.status("router")["peripheral"]["epoch"] > per["epoch"],
             30, "failover")
    lab.start(act, wrapper=vg, ready_timeout=60)
    lab.wait_links_up(timeout=30)
    other = "pg-b" if act == "pg-a" else "pg-a"
    lab.ctl(other, "fault", "acd-link", "down")
    lab.ctl(other, "fault", "acd-link", "up")
    lab.ctl(other, "reload")
    wait_for(lambda: lab.status("router")["peripheral"]["online"], 30,
             "online again")
    wait_for(lambda: lab.status("router")["counters"]["rows_stored"] > 0,
             30, "an interval stored")
    # A standby session left open through the stop (SIGTERM).
    sby = "pg-b" if active_cti(lab) == "pg-a" else "pg-a"
    keep = G.Client(lab.ports["cti-b" if sby == "pg-b" else "cti-a"], 24)
    keep.open(client_id="vg4", services=G.ALL_EVENTS | G.ACTIVE_STANDBY)
    vg_stop(lab, (sby, "pg-a" if sby == "pg-b" else "pg-b", "acd",
                  "router"))
    desktops(Lab, vg)
    media(Lab, vg)


run(test)

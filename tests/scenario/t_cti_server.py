"""The CTI server (GED-188) of the PG sides, with real pgemud processes and
a client written from the public tables (ged_mini.py), not pgemu's codec.

Proves, on a duplex lab (cti.idle_scale_ms = 50, so a 20 s IdleTimeout is
1 s):
 * one side's CTI server is active, the other standby (`pgemuctl NODE
   cti`), and the standby refuses clients as the product's pre-v24 one:
   E_CTI_CTI_SERVER_OFFLINE (15) below v24, E_CTI_INVALID_CLIENT_FOR_-
   STANDBY (107) from v24;
 * OPEN at versions 13, 19, 20, 24, 25: OPEN_CONF at the version's fixed
   length (26, 30, 30, 32, 32 bytes), SessionType active from 24,
   NumPeripherals and the PeripheralID / MultilineAgentControl pair, then
   one SYSTEM_EVENT per peripheral (PERIPHERAL_ONLINE 5000); HEARTBEAT_REQ
   -> CONF with its InvokeID; CLOSE_REQ -> CLOSE_CONF and the close;
 * every OPEN rule's status: no ClientID 6, bad version 1, IdleTimeout
   under 20 s 18, reserved fields 22, unknown service bits 19, agent state
   mask bits above 0x3fff 21, a request before OPEN 4 (session kept),
   second OPEN 5, CLIENT_EVENTS without PeripheralID or agent 6, unknown
   peripheral 7, unknown agent 8, a device another client has 10, the same
   client re-opening its device: the old session gets FAILURE_EVENT 11;
 * idle time-out: FAILURE_EVENT E_CTI_TIMEOUT (16), then the close;
 * a message type the server does not know: FAILURE_CONF 12, session kept;
   a malformed one: FAILURE_CONF with the decoder's status, the session
   closed, a warning naming the peer and the type; the others go on;
 * `pgemuctl ACTIVE stop cti-server`: its clients get FAILURE_EVENT 15, the
   other side's becomes active (cti_active), and the stopped one started
   again stays standby (no fail-back); kill -9 of the side with the active
   CTI server: the other's becomes active and serves.
"""
import signal
import struct

import ged_mini as G
from pgemu_test import (FAST, check, ev, log, run, start_duplex, wait_for)

PERIPH = 5000


def cti(lab, node):
    return lab.ctl(node, "cti")


def active_side(lab):
    """The node whose CTI server is active, once exactly one is."""
    def one():
        act = [n for n in ("pg-a", "pg-b") if cti(lab, n)["active"]]
        return act[0] if len(act) == 1 else None
    return wait_for(one, 10, "exactly one active CTI server")


def port(lab, node):
    return lab.ports["cti-a" if node == "pg-a" else "cti-b"]


def refused(lab, node, status, what, **kw):
    c = G.Client(port(lab, node), kw.pop("cversion", 20))
    try:
        inv = c.open_req(**kw)
        m = c.recv()
        check(m.type == G.FAILURE_CONF and m.f["Status"] == status and
              m.f["InvokeID"] == inv, "%s: %r, expected FAILURE_CONF %d" % (
                  what, m, status))
        log("%s -> FAILURE_CONF %d" % (what, status))
        return c
    finally:
        c.close()


def versions(lab, node):
    for v, flen in ((13, 26), (19, 30), (20, 30), (24, 32), (25, 32)):
        c = G.Client(port(lab, node), v)
        m = c.open(client_id="v%d" % v)
        check(m.fixed_len == flen and len(m.body) > flen,
              "v%d OPEN_CONF fixed part %d, expected %d" % (v, m.fixed_len,
                                                            flen))
        check(m.f["PeripheralType"] == 17 and m.f["PeripheralOnline"] == 1
              and m.f["PGStatus"] == 0 and m.f["ServicesGranted"] ==
              G.ALL_EVENTS, "v%d OPEN_CONF %r" % (v, m.f))
        if v >= 24:
            check(m.f["SessionType"] == 1, "v%d SessionType %r" % (
                v, m.f["SessionType"]))
        check(m.u16(G.T_NUM_PERIPHERALS) == [1] and
              m.u32(G.T_PERIPHERAL_ID) == [PERIPH] and
              m.u16(G.T_MULTI_LINE) == [0],
              "v%d OPEN_CONF floating %r" % (v, m.flt))
        se = c.expect(G.SYSTEM_EVENT)
        check(se.f["SystemEventID"] == 3 and se.f["SystemEventArg1"] == PERIPH
              and se.f["EventDeviceType"] == 0xFFFF,
              "v%d SYSTEM_EVENT %r" % (v, se.f))
        inv = c.heartbeat()
        check(c.expect(G.HEARTBEAT_CONF).f["InvokeID"] == inv,
              "v%d heartbeat" % v)
        inv = c.close_req()
        check(c.expect(G.CLOSE_CONF).f["InvokeID"] == inv, "v%d close" % v)
        check(c.closed(3), "v%d: not closed after CLOSE_CONF" % v)
        c.close()
        log("v%d: OPEN_CONF %d bytes, SYSTEM_EVENT, heartbeat, close" % (
            v, flen))


def open_rules(lab, node):
    refused(lab, node, 6, "no ClientID", client_id=None)
    refused(lab, node, 1, "version 12", version=12)
    refused(lab, node, 1, "version 26", version=26)
    refused(lab, node, 18, "IdleTimeout 19", idle=19)
    refused(lab, node, 22, "Reserved2 set", reserved=(0, 1, 0))
    refused(lab, node, 19, "service bit 0x4000", services=0x4010)
    refused(lab, node, 21, "agent state mask 0x4000", state_mask=0x7fff)
    refused(lab, node, 6, "CLIENT_EVENTS without PeripheralID",
            services=G.CLIENT_EVENTS, agent=1001)
    refused(lab, node, 6, "CLIENT_EVENTS without an agent",
            services=G.CLIENT_EVENTS, periph=PERIPH)
    refused(lab, node, 7, "CLIENT_EVENTS unknown peripheral",
            services=G.CLIENT_EVENTS, periph=4999, agent=1001)
    refused(lab, node, 8, "CLIENT_EVENTS unknown agent",
            services=G.CLIENT_EVENTS, periph=PERIPH, agent=999)

    # A request before OPEN: FAILURE_CONF 4, the session stays.
    c = G.Client(port(lab, node))
    inv = c.heartbeat()
    m = c.expect(G.FAILURE_CONF)
    check(m.f["Status"] == 4 and m.f["InvokeID"] == inv,
          "heartbeat before OPEN: %r" % m)
    c.open(client_id="late")
    c.expect(G.SYSTEM_EVENT)
    inv = c.open_req(client_id="again")
    m = c.expect(G.FAILURE_CONF)
    check(m.f["Status"] == 5 and m.f["InvokeID"] == inv,
          "second OPEN: %r" % m)
    inv = c.heartbeat()
    c.expect(G.HEARTBEAT_CONF)
    log("request before OPEN -> 4 (kept), second OPEN -> 5 (kept)")

    # A device another client has: 10; the same client again: the old
    # session gets FAILURE_EVENT 11 and goes, the new one opens.
    d1 = G.Client(port(lab, node))
    d1.open(services=G.CLIENT_EVENTS, periph=PERIPH, agent=1001,
            client_id="desk", signature="desk-1")
    refused(lab, node, 10, "device in use", services=G.CLIENT_EVENTS,
            periph=PERIPH, agent=1001, client_id="other")
    d2 = G.Client(port(lab, node))
    m = d2.open(services=G.CLIENT_EVENTS, periph=PERIPH, agent=1001,
                client_id="desk", signature="desk-1")
    check(m.str(G.T_AGENT_ID) == "1001", "CLIENT_EVENTS OPEN_CONF %r" % m)
    m = d1.expect(G.FAILURE_EVENT)
    check(m.f["Status"] == 11, "old session: %r" % m)
    check(d1.closed(3), "old session not closed")
    log("device in use -> 10; same client again -> old FAILURE_EVENT 11")
    for x in (c, d1, d2):
        x.close()


def idle_and_bad(lab, node):
    c = G.Client(port(lab, node))
    c.open(idle=20, client_id="idle")
    c.expect(G.SYSTEM_EVENT)
    m = c.expect(G.FAILURE_EVENT, 5)
    check(m.f["Status"] == 16, "idle: %r" % m)
    check(c.closed(3), "idle session not closed")
    c.close()
    log("IdleTimeout 20 s (x 50 ms) -> FAILURE_EVENT 16, closed")

    keep = G.Client(port(lab, node))
    keep.open(client_id="bystander")
    keep.expect(G.SYSTEM_EVENT)
    c = G.Client(port(lab, node))
    c.open(client_id="bad")
    c.expect(G.SYSTEM_EVENT)
    c.send(999, struct.pack(">I", 77))
    m = c.expect(G.FAILURE_CONF)
    check(m.f["Status"] == 12 and m.f["InvokeID"] == 77,
          "unknown type: %r" % m)
    c.heartbeat()
    c.expect(G.HEARTBEAT_CONF)
    # SET_AGENT_STATE_REQ of 10 bytes: its fixed part is 21.
    src = "127.0.0.1:%d" % c.s.getsockname()[1]
    c.send(G.SET_AGENT_STATE_REQ, struct.pack(">IIH", 78, PERIPH, 3))
    m = c.expect(G.FAILURE_CONF)
    check(m.f["Status"] == 2 and m.f["InvokeID"] == 78,
          "short SET_AGENT_STATE_REQ: %r" % m)
    check(c.closed(3), "malformed: session not closed")
    c.close()
    line = lab.wait_log(node, r"protocol error from %s: "
                        r"SET_AGENT_STATE_REQ: length 10 under" % src, 3)
    log("malformed -> FAILURE_CONF 2, closed: %s" % line[0])
    # A floating field running past the end: the decoder's status.
    c = G.Client(port(lab, node), 13)
    c.open(client_id="bad2")
    c.expect(G.SYSTEM_EVENT)
    c.send(G.QUERY_AGENT_STATE_REQ, struct.pack(">IIiI", 79, PERIPH, 1,
                                                1001) + b"\x05\x09ab")
    m = c.expect(G.FAILURE_CONF)
    check(m.f["Status"] == 25 and m.f["InvokeID"] == 79,
          "field past the end: %r" % m)
    check(c.closed(3), "bad floating field: session not closed")
    c.close()
    keep.heartbeat()
    keep.expect(G.HEARTBEAT_CONF)
    keep.close()
    check(lab.status(node)["node"] == node, "%s not serving" % node)
    log("the bystander session is still served")


def standby(lab, node):
    refused(lab, node, 15, "standby, v20", cversion=20)
    refused(lab, node, 15, "standby, v23", cversion=23)
    refused(lab, node, 107, "standby, v24 without ACTIVE_STANDBY",
            cversion=24)


def failover(lab, act, sby):
    wa, wb = lab.watch(act), lab.watch(sby)
    c = G.Client(port(lab, act))
    c.open(client_id="bridge")
    c.expect(G.SYSTEM_EVENT)
    lab.ctl(act, "stop", "cti-server")
    m = c.expect(G.FAILURE_EVENT)
    check(m.f["Status"] == 15, "stop cti-server: %r" % m)
    check(c.closed(3), "stopped: session not closed")
    c.close()
    e = wa.wait(ev("cti_standby"), 3, "%s: cti_standby" % act)
    check("stopped" in e["why"], "cti_standby why: %r" % e)
    e = wb.wait(ev("cti_active"), 3, "%s: cti_active" % sby)
    log("stop cti-server on %s -> FAILURE_EVENT 15; %s active: %s" % (
        act, sby, e["why"]))
    c = G.Client(port(lab, sby))
    c.open(client_id="bridge")
    c.close()
    lab.ctl(act, "start", "cti-server")
    wa.wait(ev("cti_started"), 3, "%s: cti_started" % act)
    st = cti(lab, act)
    check(st["running"] and not st["active"] and
          "no fail-back" in st["why"], "restarted: %r" % st)
    check(cti(lab, sby)["active"], "%s no longer active" % sby)
    log("%s started again stays standby: %s" % (act, st["why"]))

    # kill -9 of the side whose CTI server is active.
    c = G.Client(port(lab, sby))
    c.open(client_id="bridge")
    lab.kill(sby, signal.SIGKILL)
    check(c.closed(3), "kill -9: session not closed")
    c.close()
    wa.wait(ev("cti_active"), 5, "%s: cti_active after kill -9" % act)
    c = G.Client(port(lab, act))
    c.open(client_id="bridge")
    c.close()
    log("kill -9 of %s -> %s active and serving" % (sby, act))


def test(Lab):
    lab = Lab("cti", agents=20, extra="cti: { idle_scale_ms = 50; };",
              **FAST)
    start_duplex(lab)
    act = active_side(lab)
    sby = "pg-b" if act == "pg-a" else "pg-a"
    st = cti(lab, sby)
    check(st["running"] and not st["active"], "standby: %r" % st)
    log("CTI server active on %s (%s); %s standby (%s)" % (
        act, cti(lab, act)["why"], sby, st["why"]))
    versions(lab, act)
    open_rules(lab, act)
    idle_and_bad(lab, act)
    standby(lab, sby)
    failover(lab, act, sby)


run(test)

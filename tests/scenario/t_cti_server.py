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
 * SYSTEM_EVENTs as things change: the router link cut and back
   (CENTRAL_CONTROLLER_OFFLINE with PGS_CC_DOWN, ONLINE), the ACD killed
   and restarted (PERIPHERAL_OFFLINE 5000 with PGS_PERIPHERAL_OFFLINE: R2
   seen by a CTI client; PERIPHERAL_ONLINE), and on a lab of 2 s intervals
   SYS_HALF_HOUR_CHANGE at each boundary;
 * a message type the server does not know: FAILURE_CONF 12, session kept;
   a malformed one: FAILURE_CONF with the decoder's status, the session
   closed, a warning naming the peer and the type; the others go on;
 * `pgemuctl ACTIVE stop cti-server`: its clients get FAILURE_EVENT 15, the
   other side's becomes active (cti_active), and the stopped one started
   again stays standby (no fail-back); kill -9 of the side with the active
   CTI server: the other's becomes active and serves;
 * agent state, through the CTI server on the PIM's side and then through
   the other side's (the holder's mirror, PEER_AGENTS / PEER_SET_AGENT):
   QUERY_AGENT_STATE_CONF (state, MRDID, ICMAgentID, skill group, AgentID)
   and its refusals (MRD 88, agent 8, none named 6, peripheral 7);
   SET_AGENT_STATE not ready with a reason, ready, logout with a reason,
   login -> SET_AGENT_STATE_CONF, the ACD's state, and AGENT_STATE_EVENT
   (reason, MRDID, skill group, AgentID) to ALL_EVENTS sessions whose mask
   has the state's bit and to the agent's own CLIENT_EVENTS session only;
   refusals as CONTROL_FAILURE_CONF 22 (state), 259 (signed on), 256
   (agent); the logout's ReasonCode in Agent_Logout;
 * R9: a session reset (SO_LINGER 0) or closed logs out the agents it
   logged in with 50002 (cti_client_lost, Agent_Logout ReasonCode 50002,
   the log line); R10: a LOGIN of agents another live session owns moves
   them (one agent_moved for the burst, logout 50002, logged in again).
"""
import signal
import socket
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


def next_of(c, mtype, timeout=5.0):
    """The next message of mtype, others (SYSTEM_EVENTs) passed over."""
    while True:
        m = c.recv(timeout)
        if m.type == mtype:
            return m
        check(m.type in (G.SYSTEM_EVENT, G.AGENT_STATE_EVENT),
              "waiting for type %d: %r" % (mtype, m))


def agent_event(c, agent, state, timeout=5.0):
    """The next AGENT_STATE_EVENT of agent in state (others passed)."""
    while True:
        m = next_of(c, G.AGENT_STATE_EVENT, timeout)
        if m.f["ICMAgentID"] == agent and m.f["AgentState"] == state:
            return m


def quiet(c, what):
    """Nothing but what a heartbeat answers is waiting on c."""
    c.heartbeat()
    m = c.recv()
    check(m.type == G.HEARTBEAT_CONF, "%s: got %r" % (what, m))


def set_ok(c, agent, state, reason=0):
    inv = c.set_state(PERIPH, agent, state, reason)
    m = next_of(c, G.SET_AGENT_STATE_CONF)
    check(m.f["InvokeID"] == inv, "SET_AGENT_STATE_CONF %r" % m)


def control_failure(c, agent, state, code, what):
    inv = c.set_state(PERIPH, agent, state)
    m = next_of(c, G.CONTROL_FAILURE_CONF)
    check(m.f["InvokeID"] == inv and m.f["FailureCode"] == code,
          "%s: %r, expected CONTROL_FAILURE_CONF %d" % (what, m, code))


def acd_state(lab, agent):
    return lab.ctl("acd", "agent", str(agent))["state"]


def agents(lab, node, tag, base):
    """Query, set, events and masks through node's CTI server, with
    agents base .. base + 3 (tag says whose PIM serves them)."""
    a1, a2, a3, a4 = base, base + 1, base + 2, base + 3
    wall = G.Client(port(lab, node), 25)
    wall.open(client_id="wall-" + tag)
    desk = G.Client(port(lab, node), 19)
    desk.open(services=G.CLIENT_EVENTS, periph=PERIPH, agent=a2,
              client_id="desk-" + tag)
    nr = G.Client(port(lab, node), 13)
    nr.open(client_id="nr-" + tag, state_mask=0x4)  # NOT_READY only

    inv = wall.query(PERIPH, a1)
    m = next_of(wall, G.QUERY_AGENT_STATE_CONF)
    check(m.f["InvokeID"] == inv and m.f["AgentState"] == 3 and
          m.f["MRDID"] == 1 and m.f["ICMAgentID"] == a1 and
          m.f["NumSkillGroups"] == 1 and m.f["AgentAvailabilityStatus"] == 1
          and m.str(G.T_AGENT_ID) == str(a1) and
          m.u32(G.T_SKILL_GROUP_NUMBER) == [100],
          "%s: QUERY_AGENT_STATE_CONF %r" % (tag, m))
    for kw, status, what in ((dict(agent=a1, mrd=2), 88, "voice MRD only"),
                             (dict(agent=999), 8, "unknown agent"),
                             (dict(), 6, "no agent named")):
        inv = wall.query(PERIPH, **kw)
        m = next_of(wall, G.FAILURE_CONF)
        check(m.f["Status"] == status, "%s: query %s: %r" % (tag, what, m))
    inv = wall.query(4999, a1)
    check(next_of(wall, G.FAILURE_CONF).f["Status"] == 7,
          "%s: query of an unknown peripheral" % tag)

    # Not ready with a reason: the ALL_EVENTS sessions, the agent's own
    # CLIENT_EVENTS session and the NOT_READY mask hear it.
    set_ok(wall, a2, 2, 42)
    for c, who in ((wall, "wall"), (desk, "desk"), (nr, "nr")):
        m = agent_event(c, a2, 2)
        check(m.f["EventReasonCode"] == 42 and m.f["MRDID"] == 1 and
              m.f["PeripheralID"] == PERIPH and
              m.f["SkillGroupNumber"] == 100 and
              m.f["PeripheralType"] == 17 and
              m.str(G.T_AGENT_ID) == str(a2),
              "%s: %s AGENT_STATE_EVENT %r" % (tag, who, m))
    wait_for(lambda: acd_state(lab, a2) == "not_ready", 3,
             "acd: %d not ready" % a2)
    # Ready: not for the NOT_READY mask.
    set_ok(desk, a2, 3)
    agent_event(wall, a2, 3)
    m = agent_event(desk, a2, 3)
    check(m.f["AgentAvailabilityStatus"] == 1, "%s: avail %r" % (tag, m))
    quiet(nr, "%s: the NOT_READY mask heard AVAILABLE" % tag)
    # Another agent's change: not for a2's CLIENT_EVENTS session.
    set_ok(wall, a1, 2, 7)
    agent_event(wall, a1, 2)
    agent_event(nr, a1, 2)
    quiet(desk, "%s: a CLIENT_EVENTS session heard another agent" % tag)
    log("%s: query, not ready (42) and ready heard by the sessions their "
        "masks and devices select" % tag)

    # Logout with a reason, login again: LOGIN puts it Not Ready.
    set_ok(wall, a3, 1, 77)
    agent_event(wall, a3, 1)
    wait_for(lambda: acd_state(lab, a3) == "logout", 3, "acd: logout")
    control_failure(wall, a3, 2, 22, "not ready while logged out")
    set_ok(wall, a3, 0)
    agent_event(wall, a3, 2)
    control_failure(wall, a3, 0, 259, "LOGIN twice by the same session")
    control_failure(wall, a3, 4, 22, "TALKING")
    control_failure(wall, 999, 3, 256, "unknown agent")
    wait_for(lambda: [r for r in lab.query(
        "SELECT ReasonCode FROM Agent_Logout WHERE SkillTargetID = ?",
        (a3,)) if r[0] == 77], 3, "Agent_Logout row of %d, code 77" % a3)
    log("%s: logout (77) in the history database, login -> not ready, "
        "refusals 22, 259, 256" % tag)
    st = [x for x in cti(lab, node)["sessions"]
          if x["client_id"] == "wall-" + tag][0]
    check(st["agents_owned"] == 1 and st["version"] == 25 and
          st["services"] == G.ALL_EVENTS, "%s: cti session %r" % (tag, st))
    d = [x for x in cti(lab, node)["sessions"]
         if x["client_id"] == "desk-" + tag][0]
    check(d["agent_id"] == a2, "%s: desk session %r" % (tag, d))
    for c in (wall, desk, nr):
        c.close_req()
        next_of(c, G.CLOSE_CONF)
        c.close()


def r9_r10(lab, node, base):
    """R9: a lost session's agents out with 50002; R10: an agent another
    live session owns, logged in by a new one, moves."""
    w = lab.watch(node)
    a1, a2, a3 = base, base + 1, base + 2
    old = G.Client(port(lab, node))
    old.open(client_id="desk-a")
    for a in (a1, a2, a3):
        set_ok(old, a, 0)        # logged in already: now old's
    new = G.Client(port(lab, node))
    new.open(client_id="desk-b")
    for a in (a2, a3):
        set_ok(new, a, 0)        # old is alive: they move
    e = w.wait(ev("agent_moved"), 3, "agent_moved")
    check(e["agents"] == 2 and e["client_id"] == "desk-b" and
          e["rule"] == "R10", "agent_moved %r" % e)
    for a in (a2, a3):
        wait_for(lambda: lab.query(
            "SELECT ReasonCode FROM Agent_Logout WHERE SkillTargetID = ?",
            (a,)) == [(50002,)], 3, "Agent_Logout of moved %d" % a)
        wait_for(lambda: acd_state(lab, a) == "not_ready", 3,
                 "%d logged in again" % a)
    log("R10: 2 agents moved to desk-b: one agent_moved, logged out "
        "(50002) and back in")
    # The old desktop server dies (reset): only the agent it still owns.
    old.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                     struct.pack("ii", 1, 0))
    old.close()
    e = w.wait(ev("cti_client_lost"), 3, "cti_client_lost")
    check(e["agents"] == 1 and e["client_id"] == "desk-a" and
          e["reason_code"] == 50002 and e["rule"] == "R9",
          "cti_client_lost %r" % e)
    lab.wait_log(node, r"CTI client \"desk-a\" .* lost: .*1 agent it "
                 r"logged in logged out \(50002\)", 3)
    wait_for(lambda: lab.query(
        "SELECT ReasonCode, Rule FROM Agent_Logout WHERE SkillTargetID = ?",
        (a1,)) != [], 3, "Agent_Logout of %d" % a1)
    rows = lab.query("SELECT ReasonCode FROM Agent_Logout WHERE "
                     "SkillTargetID = ?", (a1,))
    check(rows == [(50002,)], "Agent_Logout of %d: %r" % (a1, rows))
    check(acd_state(lab, a1) == "logout" and
          acd_state(lab, a2) == "not_ready", "after R9: %s %s" % (
              acd_state(lab, a1), acd_state(lab, a2)))
    # The new one ends gracefully: R9 all the same for its two agents.
    new.close_req()
    next_of(new, G.CLOSE_CONF)
    new.close()
    e = w.wait(ev("cti_client_lost"), 3, "cti_client_lost (closed)")
    check(e["agents"] == 2, "desk-b: %r" % e)
    log("R9: desk-a reset -> its 1 agent out with 50002 (Agent_Logout), "
        "desk-b closed -> its 2")


def system_event(c, event_id, timeout=5.0):
    while True:
        m = next_of(c, G.SYSTEM_EVENT, timeout)
        if m.f["SystemEventID"] == event_id:
            return m


def system_events(lab, node):
    """The router link and the peripheral as node's clients see them."""
    c = G.Client(port(lab, node))
    c.open(client_id="sys")
    system_event(c, 3)
    lab.ctl(node, "fault", "router-link", "down")
    m = system_event(c, 2)
    check(m.f["PGStatus"] & 0x2, "CC offline: PGStatus %#x" %
          m.f["PGStatus"])
    lab.ctl(node, "fault", "router-link", "up")
    m = system_event(c, 1)
    check(not m.f["PGStatus"] & 0x2, "CC online: PGStatus %#x" %
          m.f["PGStatus"])
    log("%s: router link down/up -> SYS_CENTRAL_CONTROLLER_OFFLINE "
        "(PGS_CC_DOWN) / ONLINE" % node)
    # The ACD killed: the peripheral offline (R2), back (R4).
    lab.kill("acd", signal.SIGKILL)
    m = system_event(c, 4)
    check(m.f["SystemEventArg1"] == PERIPH and m.f["PGStatus"] & 0x4,
          "peripheral offline: %r" % m.f)
    lab.reap("acd")
    lab.start("acd")
    m = system_event(c, 3, 10)
    check(m.f["SystemEventArg1"] == PERIPH and m.f["PGStatus"] == 0,
          "peripheral online: %r" % m.f)
    c.close()
    log("%s: ACD killed and restarted -> SYS_PERIPHERAL_OFFLINE "
        "(PGS_PERIPHERAL_OFFLINE) / ONLINE %d" % (node, PERIPH))


def half_hour(Lab):
    """SYS_HALF_HOUR_CHANGE at each boundary of lab.interval (2 s)."""
    lab = Lab("ctihh", agents=2, interval=2, **FAST)
    start_duplex(lab)
    c = G.Client(port(lab, active_side(lab)))
    c.open(client_id="hh")
    m1 = system_event(c, 9, 4)
    m2 = system_event(c, 9, 4)
    check(m2.f["ICMCentralControllerTime"] -
          m1.f["ICMCentralControllerTime"] in (1, 2, 3),
          "half-hour changes at %d and %d" % (
              m1.f["ICMCentralControllerTime"],
              m2.f["ICMCentralControllerTime"]))
    c.close()
    log("SYS_HALF_HOUR_CHANGE at two interval boundaries, 2 s apart")


def test(Lab):
    lab = Lab("cti", agents=20, extra="cti: { idle_scale_ms = 50; };",
              **FAST)
    pim = start_duplex(lab)[0]
    act = active_side(lab)
    sby = "pg-b" if act == "pg-a" else "pg-a"
    st = cti(lab, sby)
    check(st["running"] and not st["active"] and st["peer_active"] and
          lab.status(sby)["cti"]["active"] is False and
          lab.status(act)["cti"]["active"] is True and
          lab.status(act)["cti"]["port"] == port(lab, act),
          "standby: %r" % st)
    log("CTI server active on %s (%s); %s standby (%s); PIM on %s" % (
        act, cti(lab, act)["why"], sby, st["why"], pim))
    versions(lab, act)
    open_rules(lab, act)
    idle_and_bad(lab, act)
    standby(lab, sby)
    agents(lab, act, "cti %s, pim %s" % (act, pim), 1001)
    r9_r10(lab, act, 1011)
    # The CTI server on the side without the PIM: the holder's mirror.
    if act == pim:
        lab.ctl(act, "stop", "cti-server")
        lab.ctl(act, "start", "cti-server")
        act, sby = sby, act
        check(cti(lab, act)["active"], "%s not active" % act)
    agents(lab, act, "cti %s, pim %s" % (act, pim), 1005)
    r9_r10(lab, act, 1015)
    system_events(lab, act)
    failover(lab, act, sby)
    half_hour(Lab)


run(test)

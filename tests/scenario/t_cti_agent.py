"""Agent state through the CTI server (GED-188), seen by the tests'
client (ged188_client.py, from the public tables), on a duplex lab of 4
agents (1001..1004, peripheral 5000, MRD 1 voice, all available).

Sessions: bridge-18 (ALL_EVENTS, v18, every agent state), bridge-24
(ALL_EVENTS, v24, every state but NOT_READY), desk-1001 (CLIENT_EVENTS +
CLIENT_CONTROL for agent 1001, v24), desk-1002 (the same for 1002, v20).

 (1) QUERY_AGENT_STATE_REQ (PeripheralID, MRDID 1, AgentID) -> CONF with
     the ACD's state, the fixed part of the version, the AgentID back; by
     extension as well;
 (2) SET_AGENT_STATE_REQ NOT_READY reason 7 -> SET_AGENT_STATE_CONF, then
     AGENT_STATE_EVENT AgentState 2, EventReasonCode 7, MRDID 1 to
     bridge-18 (58-byte fixed part, 1-byte floating) and to desk-1001
     (62, 2-byte); the ACD has the agent not ready with reason 7;
 (3) the agent state mask honoured: bridge-24 gets the next change
     (AVAILABLE) and never the NOT_READY before it; CLIENT_EVENTS
     sessions get only their own agent's events;
 (4) logout with reason 9 -> AGENT_STATE_EVENT LOGOUT reason 9, the ACD
     and the router count the agent logged out; login -> logged in again;
 (5) an agent the lab does not have: CONTROL_FAILURE_CONF or FAILURE_CONF
     with the InvokeID, the session kept.
"""
import ged188_client as g
from pgemu_test import (FAST, SLOW, check, cti_connect, log, periph, run,
                        start_duplex, wait_cti_active, wait_for)

PERIPHERAL = 5000
AGENTS = 4
CE = g.CTI_SERVICE_CLIENT_EVENTS | g.CTI_SERVICE_CLIENT_CONTROL


def acd_agent(lab, agent):
    return lab.ctl("acd", "agent", str(agent))


def ase(agent, state=None):
    """An AGENT_STATE_EVENT of agent (in state, if given)."""
    return lambda m: (m["type"] == g.AGENT_STATE_EVENT and
                      m.string(g.AGENT_ID_TAG) == str(agent) and
                      (state is None or m["AgentState"] == state))


def of_agent(s, agent):
    return [m for m in s.log if ase(agent)(m)]


def check_event(m, version, state, reason, what):
    check("error" not in m and
          m["fixed_len"] == (62 if version >= 19 else 58) and
          g.encode_floating(m["floating"], version) ==
          m["body"][m["fixed_len"]:], "%s: AGENT_STATE_EVENT not at v%d: %r"
          % (what, version, m))
    check(m["PeripheralID"] == PERIPHERAL and m["AgentState"] == state and
          m["EventReasonCode"] == reason and m["MRDID"] == 1,
          "%s: AGENT_STATE_EVENT %r, expected state %d reason %d" % (
              what, m, state, reason))


def change(s, agent, state, reason=0, **kw):
    """Session s sets agent's state: SET_AGENT_STATE_CONF, InvokeID only."""
    r = s.set_agent_state(PERIPHERAL, state, reason=reason,
                          agent_id=str(agent), **kw)
    check(r["type"] == g.SET_AGENT_STATE_CONF and r["InvokeID"] == s.invoke
          and len(r["body"]) == 4, "%s: SET_AGENT_STATE %d of %d: %r" % (
              s.name, state, agent, r))


def seen(s, version, agent, state, reason):
    """The AGENT_STATE_EVENT of agent in state that s receives, checked."""
    e = s.wait_for(ase(agent, state), 5 * SLOW, "%s: %d in state %d" % (
        s.name, agent, state))
    check_event(e, version, state, reason, s.name)
    return e


def opened(lab, node, cid, **kw):
    s = cti_connect(lab, node, cid)
    m = s.open(client_id=cid, **kw)
    check(m["type"] == g.OPEN_CONF, "%s: OPEN answered %r" % (cid, m))
    return s


def test(Lab):
    lab = Lab("ctiag", agents=AGENTS, **FAST)
    act, _, _ = start_duplex(lab)
    wait_cti_active(lab, act)
    b18 = opened(lab, act, "bridge-18", version=18,
                 services=g.CTI_SERVICE_ALL_EVENTS,
                 agent_state_mask=g.AGENT_STATE_MASK_ALL)
    b24 = opened(lab, act, "bridge-24", version=24,
                 services=g.CTI_SERVICE_ALL_EVENTS,
                 agent_state_mask=g.AGENT_STATE_MASK_ALL &
                 ~g.AGENT_NOT_READY_MASK)
    d1 = opened(lab, act, "desk-1001", version=24, services=CE,
                peripheral_id=PERIPHERAL, agent_id="1001")
    d2 = opened(lab, act, "desk-1002", version=20, services=CE,
                peripheral_id=PERIPHERAL, agent_id="1002", extension="1002")

    # (1) Query, by AgentID and by extension.
    for s, v in ((b18, 18), (d1, 24)):
        q = s.query_agent_state(PERIPHERAL, mrdid=1, agent_id="1001")
        want = g.AGENT_STATE_NAMES.index(acd_agent(lab, 1001)["state"])
        check(q["type"] == g.QUERY_AGENT_STATE_CONF and
              q["InvokeID"] == s.invoke and
              q["fixed_len"] == (34 if v >= 19 else 30) and
              q["AgentState"] == want == g.AGENT_STATE_AVAILABLE and
              q["MRDID"] == 1 and q.string(g.AGENT_ID_TAG) == "1001",
              "v%d QUERY_AGENT_STATE 1001: %r (ACD: %d)" % (v, q, want))
    q = d2.query_agent_state(PERIPHERAL, mrdid=1, extension="1002")
    check(q["type"] == g.QUERY_AGENT_STATE_CONF and
          q["AgentState"] == g.AGENT_STATE_AVAILABLE,
          "QUERY_AGENT_STATE by extension 1002: %r" % q)
    log("(1) QUERY_AGENT_STATE: 1001 available at v18 and v24, 1002 by "
        "extension")

    # (2) Not ready with reason 7.
    change(d1, 1001, g.AGENT_STATE_NOT_READY, 7)
    e = seen(b18, 18, 1001, g.AGENT_STATE_NOT_READY, 7)
    check(e["MonitorID"] == 0, "ALL_EVENTS MonitorID %r" % e["MonitorID"])
    seen(d1, 24, 1001, g.AGENT_STATE_NOT_READY, 7)
    a = acd_agent(lab, 1001)
    check(a["state"] == "not_ready" and a["reason"] == 7,
          "ACD after NOT_READY 7: %r" % a)
    q = b24.query_agent_state(PERIPHERAL, mrdid=1, agent_id="1001")
    check(q["AgentState"] == g.AGENT_STATE_NOT_READY, "query: %r" % q)
    log("(2) NOT_READY 7: CONF, events to bridge-18 (58 bytes) and "
        "desk-1001 (62), ACD not_ready 7")

    # (3) The mask: bridge-24 gets AVAILABLE, never the NOT_READY before.
    change(d1, 1001, g.AGENT_STATE_AVAILABLE)
    seen(b24, 24, 1001, g.AGENT_STATE_AVAILABLE, 0)
    check([m["AgentState"] for m in of_agent(b24, 1001)] ==
          [g.AGENT_STATE_AVAILABLE],
          "bridge-24 (no NOT_READY in its mask) got %r" %
          of_agent(b24, 1001))
    seen(b18, 18, 1001, g.AGENT_STATE_AVAILABLE, 0)
    # desk-1002 sees its agent's change, and none of 1001's.
    change(d2, 1002, g.AGENT_STATE_NOT_READY, 3)
    seen(d2, 20, 1002, g.AGENT_STATE_NOT_READY, 3)
    check(not of_agent(d2, 1001), "desk-1002 got 1001's events: %r" %
          of_agent(d2, 1001))
    seen(b18, 18, 1002, g.AGENT_STATE_NOT_READY, 3)
    log("(3) masks: bridge-24 without NOT_READY, desk-1002 only 1002")

    # (4) Logout with reason 9, then login.
    logged_in = periph(lab)["agents_logged_in"]
    change(d1, 1001, g.AGENT_STATE_NOT_READY, 8)
    seen(d1, 24, 1001, g.AGENT_STATE_NOT_READY, 8)
    change(d1, 1001, g.AGENT_STATE_LOGOUT, 9)
    seen(d1, 24, 1001, g.AGENT_STATE_LOGOUT, 9)
    seen(b18, 18, 1001, g.AGENT_STATE_LOGOUT, 9)
    check(acd_agent(lab, 1001)["state"] == "logout", "ACD: %r" %
          acd_agent(lab, 1001))
    wait_for(lambda: periph(lab)["agents_logged_in"] == logged_in - 1, 3,
             "router: %d agents logged in" % (logged_in - 1))
    check(not of_agent(d1, 1002), "desk-1001 got 1002's events: %r" %
          of_agent(d1, 1002))
    log("(4) LOGOUT 9: events, ACD logout, router %d logged in" %
        (logged_in - 1))
    change(d1, 1001, g.AGENT_STATE_LOGIN, instrument="1001")
    e = d1.wait_for(lambda m: ase(1001)(m) and
                    m["AgentState"] != g.AGENT_STATE_LOGOUT, 5 * SLOW,
                    "desk-1001: logged in")
    check(acd_agent(lab, 1001)["state"] != "logout", "ACD after LOGIN: %r"
          % acd_agent(lab, 1001))
    wait_for(lambda: periph(lab)["agents_logged_in"] == logged_in, 3,
             "router: %d agents logged in" % logged_in)
    q = b18.query_agent_state(PERIPHERAL, mrdid=1, agent_id="1001")
    check(q["AgentState"] not in (g.AGENT_STATE_LOGOUT,
                                  g.AGENT_STATE_UNKNOWN),
          "query after LOGIN: %r" % q)
    log("(4) LOGIN: event state %d, ACD %s" % (
        e["AgentState"], acd_agent(lab, 1001)["state"]))

    # (4b) A state asked right behind the LOGIN, before its event: the
    # server passes both to the ACD in order (one round trip, as a desktop
    # server logging 10,000 agents in needs), and the agent ends in it.
    change(d1, 1001, g.AGENT_STATE_LOGOUT, 9)
    seen(d1, 24, 1001, g.AGENT_STATE_LOGOUT, 9)
    mark = len(d1.log)
    flt = g.flt_strings(True, (g.AGENT_ID_TAG, "1001"),
                        (g.AGENT_INSTRUMENT_TAG, "1001"))
    invokes, frames = [], b""
    for st in (g.AGENT_STATE_LOGIN, g.AGENT_STATE_AVAILABLE):
        invokes.append(d1.next_invoke())
        frames += g.encode(g.SET_AGENT_STATE_REQ, dict(
            InvokeID=invokes[-1], PeripheralID=PERIPHERAL, AgentState=st,
            AgentWorkMode=0, NumSkillGroups=0, EventReasonCode=0,
            ForcedFlag=0, AgentServiceReq=0), flt, d1.version)
    d1.send_frame(frames)  # one write: both read before the ACD answers

    for inv in invokes:
        r = d1.wait_for(lambda m: m.get("InvokeID") == inv, 5 * SLOW,
                        "the answer to SET_AGENT_STATE %d" % inv,
                        since=mark)
        check(r["type"] == g.SET_AGENT_STATE_CONF, "LOGIN then AVAILABLE "
              "back to back: invoke %d answered %r" % (inv, r))
    seen(d1, 24, 1001, g.AGENT_STATE_AVAILABLE, 0)
    wait_for(lambda: acd_agent(lab, 1001)["state"] == "available", 3,
             "ACD: 1001 available after LOGIN + AVAILABLE back to back")
    log("(4b) LOGIN and AVAILABLE back to back: both confirmed, available")

    # (5) An agent the lab does not have.
    r = b24.set_agent_state(PERIPHERAL, g.AGENT_STATE_NOT_READY, reason=1,
                            agent_id="9999")
    check(r["type"] in (g.CONTROL_FAILURE_CONF, g.FAILURE_CONF) and
          r["InvokeID"] == b24.invoke, "SET for agent 9999: %r" % r)
    check(b24.heartbeat()["type"] == g.HEARTBEAT_CONF,
          "session lost after a refused SET")
    log("(5) unknown agent: %s" % r)
    for s in (b18, b24, d1, d2):
        check(s.close()["type"] == g.CLOSE_CONF, "%s close" % s.name)


run(test)

"""Non-voice MRDs through the CTI server, seen by the tests' client
(ged188_client.py: the public tables, and the pgemu-defined layouts of
docs/protocol.md), on a duplex lab whose MRDs are 1 (voice) and 2 (chat,
max_tasks 5: an email MRD's sign-ins outlive R9, R6 and a move, R19,
r19_*.py): agents 1001, 1002 in the voice MRD only, 2001..2004 in
MRDs 1 and 2 (the lab file's list[].mrds), every one available.

 (1) MEDIA_LOGIN_REQ refusals, as MEDIA_LOGIN_RESP Status: no such agent
     2, an MRD not one of the agent's 3 (one of the lab, one not), the
     voice MRD 11;
 (2) MEDIA_LOGIN_REQ 2001 to MRD 2 -> RESP 0 (MRDID 2, ICMAgentID 2001),
     AGENT_STATE_EVENT NOT_READY with MRDID 2 and MaxTaskLimit 5 (at v24
     and at v18), the router's entry (2001, MRD 2) logged in, a login row
     of MRD 2; again -> Status 1, its MaxTaskLimit reset to the new one, and
     the event of its state there;
 (3) QUERY_AGENT_STATE with MRDID 2 -> that MRD's state; 88 for an agent
     without it;
 (4) SET_AGENT_STATE_REQ with MR_DOMAIN_ID (216) = 2: ready, not ready
     with reason 12 (its Agent_Event_Detail row of MRD 2), the voice MRD
     untouched; 88 for an agent without MRD 2; LOGIN with 216 -> 22;
 (5) MEDIA_LOGOUT_IND reason 7 -> AGENT_STATE_EVENT LOGOUT MRDID 2 reason
     7, Agent_Logout of MRD 2 with 7; FAILURE_RESP 6 when not signed in,
     2, 11 and 3 as (1);
 (6) R9: a session that logged 2002 in (voice) and signed it in to MRD 2,
     reset: Agent_Logout rows of MRD 1 and MRD 2 with 50002, one
     cti_client_lost;
 (6b) a CTI Manager failover (R6, the same PIM on the backup endpoint):
     2004's MRD 2 logged out with 50002 (event, R6 Agent_Logout row) and
     not back, its voice MRD back (R8);
 (7) the CTI server on the side without the PIM (the holder's mirror,
     PEER_AGENTS, PEER_SET_AGENT with the MRD): sign-in, event, query,
     ready; R10: a LOGIN of 2003 by another session moves it out of both
     MRDs with 50002, and its sign-in to MRD 2 is a new one (Status 0,
     Not Ready);
 (8) PG failover (kill -9 of the PIM's side): MRD 2 of 2001 and 2003
     logged out with 50002 (Agent_Logout rows of R6), QUERY says so on
     the surviving side's CTI server, the voice MRD back (R8) and MRD 2
     not; a sign-in there again works;
 (9) no PIM (the killed side back, then the ACD killed): the router logs
     the voice MRD out (R3) and keeps MRD 2 (R23); the active CTI
     server's side keeps the non-voice states (R23): MEDIA_LOGIN_RESP 0
     and its event, a 216 SET, MEDIA_LOGOUT_IND, each at the router; a
     voice SET still CONTROL_FAILURE_CONF 269 (no PIM).
"""
import signal

import ged188_client as g
from pgemu_test import (FAST, SLOW, check, cti, cti_connect, cti_open_active,
                        ev, free_ports, log, other, run, start_duplex,
                        wait_cti_active, wait_for, wait_online)

PERIPHERAL = 5000
CHAT = 2        # what R9, R6 and R10 do to a non-voice MRD but email
MRDS = ('{ id = 1; name = "Cisco_Voice"; media = "voice"; },\n'
        '  { id = 2; name = "Chat"; media = "chat"; max_tasks = 5; }')
MRD_AGENTS = (2001, 2002, 2003, 2004)
LIST = ",\n    ".join('{ id = %d; skill_groups = [ 100 ]; mrds = [ 1, 2 ]; }'
                      % a for a in MRD_AGENTS)
ALL = g.CTI_SERVICE_ALL_EVENTS | g.CTI_SERVICE_CLIENT_CONTROL
T = 5 * SLOW


def ase(agent, mrd, state=None):
    """An AGENT_STATE_EVENT of agent in mrd (in state, if given)."""
    return lambda m: (m["type"] == g.AGENT_STATE_EVENT and
                      m["ICMAgentID"] == agent and m["MRDID"] == mrd and
                      (state is None or m["AgentState"] == state))


def seen(s, agent, mrd, state, reason=0, since=None):
    e = s.wait_for(ase(agent, mrd, state), T, "%s: %d in MRD %d state %d"
                   % (s.name, agent, mrd, state), since)
    check(e["EventReasonCode"] == reason and e["PeripheralID"] == PERIPHERAL
          and "error" not in e, "%s: event %r, expected reason %d" % (
              s.name, e, reason))
    return e


def opened(lab, node, cid, version=24):
    s = cti_connect(lab, node, cid)
    m = s.open(client_id=cid, version=version, services=ALL)
    check(m["type"] == g.OPEN_CONF, "%s: OPEN answered %r" % (cid, m))
    return s


def login(s, agent, mrd=CHAT, status=g.E_ARM_STAT_OK, **kw):
    r = s.media_login(PERIPHERAL, mrd, agent_id=str(agent), **kw)
    check(r["type"] == g.MEDIA_LOGIN_RESP and r["InvokeID"] == s.invoke and
          r["Status"] == status and r["MRDID"] == mrd and
          r["fixed_len"] == 16, "%s: MEDIA_LOGIN_REQ %d MRD %d: %r, "
          "expected Status %d" % (s.name, agent, mrd, r, status))
    return r


def logout_refused(s, agent, mrd, status):
    inv = s.media_logout(PERIPHERAL, mrd, agent_id=str(agent))
    r = s.wait_type((g.FAILURE_RESP, g.FAILURE_CONF), T, inv)
    check(r["type"] == g.FAILURE_RESP and r["Status"] == status,
          "MEDIA_LOGOUT_IND %d MRD %d: %r, expected FAILURE_RESP %d" % (
              agent, mrd, r, status))


def set_state(s, agent, state, reason=0, mrdid=CHAT, answer=None):
    r = s.set_agent_state(PERIPHERAL, state, reason=reason,
                          agent_id=str(agent), mrdid=mrdid)
    check(r["type"] == (answer or g.SET_AGENT_STATE_CONF) and
          r["InvokeID"] == s.invoke, "%s: SET %d of %d (216 = %r): %r" % (
              s.name, state, agent, mrdid, r))
    return r


def query(s, agent, mrd=CHAT):
    return s.query_agent_state(PERIPHERAL, mrdid=mrd, agent_id=str(agent))


def router_entry(lab, agent, mrd):
    for a in lab.ctl("router", "agents"):
        if a["id"] == agent and a["mrd"] == mrd:
            return a
    raise AssertionError("router: no entry of %d in MRD %d" % (agent, mrd))


def wait_router(lab, agent, mrd, logged_in):
    wait_for(lambda: router_entry(lab, agent, mrd)["logged_in"] ==
             logged_in, T, "router: %d in MRD %d %s" % (
                 agent, mrd, "logged in" if logged_in else "logged out"))


def logouts(lab, agent):
    return lab.query("SELECT MRDomainID, ReasonCode FROM Agent_Logout "
                     "WHERE SkillTargetID = ? ORDER BY MRDomainID, "
                     "LogoutDateTime", (agent,))


def wait_logouts(lab, agent, want, before=()):
    """Agent_Logout rows of agent: those before and those of want."""
    want = sorted(list(before) + want)
    wait_for(lambda: logouts(lab, agent) == want, T,
             "Agent_Logout of %d: %r" % (agent, want))


def refusals(b):
    login(b, 9999, status=g.E_ARM_STAT_AGENT_NOT_FOUND)
    login(b, 1001, status=g.E_ARM_STAT_MRD_LIST_ENTRY_NOT_FOUND)
    login(b, 2001, mrd=3, status=g.E_ARM_STAT_MRD_LIST_ENTRY_NOT_FOUND)
    login(b, 2001, mrd=1, status=g.E_ARM_STAT_CANT_LOGIN_TO_VOICE_MRD)
    check(query(b, 2001)["AgentState"] == g.AGENT_STATE_LOGOUT,
          "2001 in MRD 2 after refusals")
    log("(1) MEDIA_LOGIN_RESP 2 (agent), 3 (MRD 2 of 1001, MRD 3), 11 "
        "(voice MRD)")


def sign_in(lab, b, b18):
    login(b, 2001)
    e = seen(b, 2001, CHAT, g.AGENT_STATE_NOT_READY)
    check(e["MaxTaskLimit"] == 5 and e["fixed_len"] == 62,
          "MRD 2 event at v24: %r" % e)
    e = seen(b18, 2001, CHAT, g.AGENT_STATE_NOT_READY)
    check(e["fixed_len"] == 58 and e["MRDID"] == CHAT,
          "MRD 2 event at v18: %r" % e)
    wait_router(lab, 2001, CHAT, True)
    check(router_entry(lab, 2001, 1)["state"] == "available",
          "voice MRD of 2001 changed: %r" % router_entry(lab, 2001, 1))
    wait_for(lambda: lab.query(
        "SELECT Rule FROM Agent_Event_Detail WHERE SkillTargetID = 2001 "
        "AND Event = 1 AND MRDomainID = 2") == [(None,)], T,
        "login row of 2001, MRD 2")
    login(b, 2001, status=g.E_ARM_STAT_AGENT_ALREADY_LOGGED_IN, max_tasks=3)
    # The state it is in there, for a client that lost track of it.
    e = seen(b, 2001, CHAT, g.AGENT_STATE_NOT_READY)
    check(e["MaxTaskLimit"] == 3, "MRD 2 event after Status 1: %r" % e)
    q = query(b, 2001)
    check(q["type"] == g.QUERY_AGENT_STATE_CONF and q["MRDID"] == CHAT and
          q["AgentState"] == g.AGENT_STATE_NOT_READY and
          q["MaxTaskLimit"] == 3 and q["ICMAgentID"] == 2001,
          "QUERY of 2001 in MRD 2: %r" % q)
    log("(2) 2001 signed in to MRD 2: RESP 0, events MRDID 2 at v24 and "
        "v18, router entry and login row; again: Status 1 and the event of "
        "its state there, MaxTaskLimit 3")
    r = query(b, 1001)
    check(r["type"] == g.FAILURE_CONF and
          r["Status"] == g.E_CTI_INVALID_MR_DOMAIN, "QUERY 1001 MRD 2: %r"
          % r)
    check(query(b, 2001, 1)["AgentState"] == g.AGENT_STATE_AVAILABLE,
          "2001's voice MRD")
    log("(3) QUERY MRDID 2: Not Ready, MaxTaskLimit 3; 88 for 1001")


def ready_not_ready(lab, b):
    set_state(b, 2001, g.AGENT_STATE_AVAILABLE)
    seen(b, 2001, CHAT, g.AGENT_STATE_AVAILABLE)
    wait_for(lambda: router_entry(lab, 2001, CHAT)["state"] == "available",
             T, "router: 2001 available in MRD 2")
    set_state(b, 2001, g.AGENT_STATE_NOT_READY, 12)
    seen(b, 2001, CHAT, g.AGENT_STATE_NOT_READY, 12)
    wait_for(lambda: lab.query(
        "SELECT MRDomainID FROM Agent_Event_Detail WHERE SkillTargetID = "
        "2001 AND Event = 3 AND ReasonCode = 12") == [(CHAT,)], T,
        "not-ready row of 2001 in MRD 2, reason 12")
    check(lab.ctl("acd", "agent", "2001")["state"] == "available" and
          query(b, 2001, 1)["AgentState"] == g.AGENT_STATE_AVAILABLE,
          "the voice MRD of 2001 changed with MRD 2's")
    r = set_state(b, 1001, g.AGENT_STATE_NOT_READY, 1,
                  answer=g.FAILURE_CONF)
    check(r["Status"] == g.E_CTI_INVALID_MR_DOMAIN, "216 for 1001: %r" % r)
    r = set_state(b, 2001, g.AGENT_STATE_LOGIN,
                  answer=g.CONTROL_FAILURE_CONF)
    check(r["FailureCode"] == 22, "LOGIN with 216: %r" % r)
    log("(4) SET_AGENT_STATE with 216: ready, not ready 12 (its row), voice "
        "untouched; 88 for 1001, 22 for LOGIN")


def sign_out(lab, b):
    b.media_logout(PERIPHERAL, CHAT, reason=7, agent_id="2001")
    seen(b, 2001, CHAT, g.AGENT_STATE_LOGOUT, 7)
    wait_logouts(lab, 2001, [(CHAT, 7)])
    logout_refused(b, 2001, CHAT, g.E_ARM_STAT_AGENT_NOT_LOGGED_IN)
    logout_refused(b, 9999, CHAT, g.E_ARM_STAT_AGENT_NOT_FOUND)
    logout_refused(b, 2001, 1, g.E_ARM_STAT_CANT_LOGIN_TO_VOICE_MRD)
    logout_refused(b, 1001, CHAT, g.E_ARM_STAT_MRD_LIST_ENTRY_NOT_FOUND)
    log("(5) MEDIA_LOGOUT_IND 7: event, Agent_Logout (MRD 2, 7); "
        "FAILURE_RESP 6, 2, 11, 3")


def r9(lab, node, b):
    d = opened(lab, node, "desk-r9")
    check(d.set_agent_state(PERIPHERAL, g.AGENT_STATE_LOGIN,
                            agent_id="2002")["type"] ==
          g.SET_AGENT_STATE_CONF, "desk-r9 LOGIN 2002")
    login(d, 2002)
    seen(b, 2002, CHAT, g.AGENT_STATE_NOT_READY)
    wait_router(lab, 2002, CHAT, True)
    w = lab.watch(node)
    mark = b.mark()
    d.close_socket(reset=True)
    e = w.wait(ev("cti_client_lost"), T, "cti_client_lost")
    check(e["agents"] == 1 and e["client_id"] == "desk-r9",
          "cti_client_lost %r" % e)
    seen(b, 2002, CHAT, g.AGENT_STATE_LOGOUT, 50002, mark)
    seen(b, 2002, 1, g.AGENT_STATE_LOGOUT, 50002, mark)
    wait_logouts(lab, 2002, [(1, 50002), (CHAT, 50002)])
    log("(6) R9: desk-r9 reset -> 2002 out of MRD 1 and MRD 2 with 50002")


def cti_manager(lab, b):
    login(b, 2004)
    seen(b, 2004, CHAT, g.AGENT_STATE_NOT_READY)
    wait_router(lab, 2004, CHAT, True)
    mark = b.mark()
    lab.ctl("acd", "stop", "cti-manager", "primary")
    seen(b, 2004, CHAT, g.AGENT_STATE_LOGOUT, 50002, mark)
    wait_for(lambda: r6_rows(lab, 2004) == [(1, 50002), (CHAT, 50002)], T,
             "R6 Agent_Logout rows of 2004 in MRDs 1 and 2")
    wait_online(lab, 10 * SLOW)
    wait_router(lab, 2004, 1, True)
    check(not router_entry(lab, 2004, CHAT)["logged_in"] and
          query(b, 2004)["AgentState"] == g.AGENT_STATE_LOGOUT,
          "2004's MRD 2 back after the CTI Manager failover")
    lab.ctl("acd", "start", "cti-manager", "primary")
    log("(6b) CTI Manager failover: 2004 out of MRD 2 with 50002 (event, "
        "R6 row), voice back (R8), MRD 2 not")


def mirror(lab, cti_node, b):
    login(b, 2001)
    seen(b, 2001, CHAT, g.AGENT_STATE_NOT_READY)
    wait_router(lab, 2001, CHAT, True)
    set_state(b, 2001, g.AGENT_STATE_AVAILABLE)
    seen(b, 2001, CHAT, g.AGENT_STATE_AVAILABLE)
    check(query(b, 2001)["AgentState"] == g.AGENT_STATE_AVAILABLE,
          "query through the mirror")
    # R10 through the mirror: 2003 in both MRDs for desk-x, taken by desk-y.
    x = opened(lab, cti_node, "desk-x")
    y = opened(lab, cti_node, "desk-y")
    set_state(x, 2003, g.AGENT_STATE_LOGIN, mrdid=None)
    login(x, 2003)
    set_state(x, 2003, g.AGENT_STATE_AVAILABLE)
    seen(b, 2003, CHAT, g.AGENT_STATE_AVAILABLE)
    w = lab.watch(cti_node)
    b.mark()
    before = logouts(lab, 2003)
    set_state(y, 2003, g.AGENT_STATE_LOGIN, mrdid=None)
    login(y, 2003)
    seen(b, 2003, CHAT, g.AGENT_STATE_LOGOUT, 50002)
    seen(b, 2003, CHAT, g.AGENT_STATE_NOT_READY)
    w.wait(ev("agent_moved"), T, "agent_moved")
    wait_logouts(lab, 2003, [(1, 50002), (CHAT, 50002)], before)
    wait_router(lab, 2003, CHAT, True)
    wait_router(lab, 2003, 1, True)
    x.close()
    y.close_socket()
    log("(7) %s without the PIM: sign-in, ready, query through the mirror; "
        "R10 moved 2003 out of both MRDs (50002) and in again" % cti_node)


def r6_rows(lab, agent):
    return lab.query("SELECT MRDomainID, ReasonCode FROM Agent_Logout WHERE "
                     "SkillTargetID = ? AND Rule = 'R6' ORDER BY MRDomainID",
                     (agent,))


def failover(lab, pim, b):
    """(8); b, of the surviving side, is closed when its CTI server goes
    standby for the takeover (private link down, no PIM yet): the new
    session it opens again."""
    wait_router(lab, 2003, CHAT, False)     # y's session lost: R9
    login(b, 2003)
    seen(b, 2003, CHAT, g.AGENT_STATE_NOT_READY)
    wait_router(lab, 2003, CHAT, True)
    before = {a: r6_rows(lab, a) for a in (2001, 2003)}
    lab.kill(pim, signal.SIGKILL)
    wait_online(lab, 10 * SLOW)
    b.close_socket()
    _, b, _ = cti_open_active(lab, name="bridge-c", client_id="bridge-c",
                              services=ALL)
    # 2003's voice MRD went with desk-y (R9): only its MRD 2 was in.
    for a, want in ((2001, [(1, 50002), (CHAT, 50002)]),
                    (2003, [(CHAT, 50002)])):
        want = sorted(before[a] + want)
        wait_for(lambda: r6_rows(lab, a) == want, T,
                 "R6 Agent_Logout rows of %d: %r" % (a, want))
        wait_router(lab, a, CHAT, False)
        check(query(b, a)["AgentState"] == g.AGENT_STATE_LOGOUT,
              "%d in MRD 2 after the failover" % a)
    wait_for(lambda: router_entry(lab, 2001, 1)["logged_in"], T,
             "router: 2001's voice MRD back (R8)")
    check(query(b, 2001, 1)["AgentState"] == g.AGENT_STATE_AVAILABLE,
          "2001's voice MRD after R8")
    login(b, 2001)
    seen(b, 2001, CHAT, g.AGENT_STATE_NOT_READY)
    wait_router(lab, 2001, CHAT, True)
    log("(8) kill -9 %s: MRD 2 of 2001, 2003 out with 50002 (R6 rows), "
        "voice back by R8, MRD 2 not; signed in again" % pim)
    return b


def no_pim(lab, b):
    b.mark()
    lab.kill("acd", signal.SIGKILL)
    b.wait_for(lambda m: m["type"] == g.SYSTEM_EVENT and
               m["SystemEventID"] == g.SYS_PERIPHERAL_OFFLINE, T,
               "PERIPHERAL_OFFLINE")
    wait_router(lab, 2001, 1, False)
    check(router_entry(lab, 2001, CHAT)["logged_in"],
          "router: 2001's MRD 2 went with the voice PIM")
    login(b, 2004)
    seen(b, 2004, CHAT, g.AGENT_STATE_NOT_READY)
    wait_router(lab, 2004, CHAT, True)
    set_state(b, 2001, g.AGENT_STATE_AVAILABLE)
    seen(b, 2001, CHAT, g.AGENT_STATE_AVAILABLE)
    b.media_logout(PERIPHERAL, CHAT, reason=7, agent_id="2004")
    seen(b, 2004, CHAT, g.AGENT_STATE_LOGOUT, 7)
    wait_router(lab, 2004, CHAT, False)
    r = set_state(b, 2001, g.AGENT_STATE_NOT_READY, mrdid=None,
                  answer=g.CONTROL_FAILURE_CONF)
    check(r["FailureCode"] == 269, "voice SET with no PIM: %r" % r)
    log("(9) no PIM: voice logged out (R3), MRD 2 kept; sign-in, ready, "
        "sign-out processed (R23); voice SET 269")


def test(Lab):
    lab = Lab("ctimrd", agents=2, list_agents=LIST, mrds=MRDS, sections={
        "acd": "backup_port = %d;" % free_ports(1)[0]}, **FAST)
    pim, _, _ = start_duplex(lab)
    wait_cti_active(lab, pim)
    b = opened(lab, pim, "bridge")
    b18 = opened(lab, pim, "bridge-18", version=18)
    refusals(b)
    sign_in(lab, b, b18)
    ready_not_ready(lab, b)
    sign_out(lab, b)
    r9(lab, pim, b)
    cti_manager(lab, b)
    b18.close_socket()
    # The CTI server of the other side, serving from the holder's mirror.
    lab.ctl(pim, "stop", "cti-server")
    lab.ctl(pim, "start", "cti-server")
    node = other(pim)
    check(cti(lab, node)["active"], "%s not active" % node)
    b.close_socket()
    b = opened(lab, node, "bridge-b")
    mirror(lab, node, b)
    b = failover(lab, pim, b)
    # The killed side back, standby: the CTI server stays where it is
    # when the ACD goes (private link up, no fail-back).
    lab.start(pim)
    lab.wait_links_up()
    no_pim(lab, b)
    b.close_socket()


run(test)

"""R19, R23: an agent's non-voice MRD states are the PIM's, whichever side
holds it; the CTI server of either side shows them, and the router sees
the same.  Two hand-overs that used to leave them apart
(r16_mr_split_brain.py found them at random):

 (1) the side whose PIM the ACD fences reads the new holder's agents
     before the fence (its PIM still ACTIVE, it drops them: its own are
     newer) and goes on with its own: its ACD link frozen, its router
     link cut (the router gives the PIM to the other side, R5, R6; the
     email MRD stays signed in, R19), a client of its CTI server sets
     2001 Not Ready in MRD 2 (its PIM, fenced unawares, takes it), the
     ACD link thawed (the fence read: IDLE).  The holder then gives it
     its agents again: the client sees 2001 available in MRD 2 again, as
     the router does (its not-ready never reached the router), and
     requests about it reach the holder's PIM and the router;
 (2) a side restarted while the other keeps the non-voice states (R23:
     the ACD killed, side A's CTI server active keeps them) takes the
     PIM over with them: side A's CTI server the active one (moved there
     if need be), 2002 not ready in MRD 2, the ACD killed, side A's voice
     PIM stopped, side B killed and started again (side A keeps them
     again once it is back, and gives them to it), the ACD started: side
     B's PIM serves the peripheral with MRD 2 as side A kept it (no
     Agent_Logout row of MRD 2, the router's entries signed in with their
     states, and the CTI server's).

Agents 2001, 2002 in MRDs 1 (voice) and 2 (email), signed in to MRD 2
and ready by the test's GED-188 client; the ACD link's heartbeat 100 ms
x 20, so that a frozen ACD link is not lost for 2 s.
"""
import ged188_client as g
from pgemu_test import (FAST, SLOW, check, cti, cti_connect, cti_open_active,
                        ev, log, other, run, start_duplex, wait_cti_active,
                        wait_for)

PERIPHERAL = 5000
EMAIL = 2
MRDS = ('{ id = 1; name = "Cisco_Voice"; media = "voice"; },\n'
        '  { id = 2; name = "Email"; media = "email"; max_tasks = 5; }')
AGENTS = (2001, 2002)
LIST = ",\n    ".join('{ id = %d; skill_groups = [ 100 ]; mrds = [ 1, 2 ]; }'
                      % a for a in AGENTS)
ALL = g.CTI_SERVICE_ALL_EVENTS | g.CTI_SERVICE_CLIENT_CONTROL
T = 5 * SLOW
NAMES = {g.AGENT_STATE_NOT_READY: "not_ready",
         g.AGENT_STATE_AVAILABLE: "available"}


def ase(agent, state):
    return lambda m: (m["type"] == g.AGENT_STATE_EVENT and
                      m["ICMAgentID"] == agent and m["MRDID"] == EMAIL and
                      m["AgentState"] == state)


def seen(s, agent, state, what):
    s.wait_for(ase(agent, state), T, "%s: %s" % (s.name, what))


def set_state(s, agent, state, reason=0):
    r = s.set_agent_state(PERIPHERAL, state, reason=reason,
                          agent_id=str(agent), mrdid=EMAIL)
    check(r["type"] == g.SET_AGENT_STATE_CONF, "%s: SET %d of %d in MRD 2: "
          "%r" % (s.name, state, agent, r))


def query(s, agent):
    q = s.query_agent_state(PERIPHERAL, mrdid=EMAIL, agent_id=str(agent))
    check(q["type"] == g.QUERY_AGENT_STATE_CONF, "QUERY %d: %r" % (agent, q))
    return q["AgentState"]


def router_email(lab):
    """{agent: (state, logged in)} of MRD 2 at the router."""
    return {a["id"]: (a["state"], a["logged_in"])
            for a in lab.ctl("router", "agents")
            if a["mrd"] == EMAIL and a["id"] in AGENTS}


def email_logouts(lab):
    return lab.query("SELECT COUNT(*) FROM Agent_Logout WHERE MRDomainID = "
                     "?", (EMAIL,))[0][0]


def pim_state(lab, node):
    return lab.status(node)["pim"]["state"]


def sign_in(lab, s):
    for a in AGENTS:
        r = s.media_login(PERIPHERAL, EMAIL, agent_id=str(a))
        check(r["type"] == g.MEDIA_LOGIN_RESP and r["Status"] == 0,
              "MEDIA_LOGIN_REQ %d: %r" % (a, r))
        seen(s, a, g.AGENT_STATE_NOT_READY, "%d signed in" % a)
        set_state(s, a, g.AGENT_STATE_AVAILABLE)
        seen(s, a, g.AGENT_STATE_AVAILABLE, "%d ready" % a)
    wait_for(lambda: router_email(lab) == {a: ("available", True)
                                           for a in AGENTS}, T,
             "router: every agent available in MRD 2")


def fenced(lab, pim, s):
    """(1): the side whose PIM is fenced hears the holder's agents
    again."""
    holder = other(pim)
    rows = email_logouts(lab)
    s.mark()
    lab.ctl(pim, "fault", "acd-link", "freeze")
    lab.ctl(pim, "fault", "router-link", "down")
    wait_for(lambda: pim_state(lab, holder) == "ACTIVE" and
             lab.status("router")["peripheral"]["online"], T,
             "%s's PIM serving the peripheral" % holder)
    check(pim_state(lab, pim) == "ACTIVE", "%s's PIM %s before the thaw: "
          "the fence was read too soon" % (pim, pim_state(lab, pim)))
    # Its PIM, fenced unawares, takes a change the holder never hears.
    set_state(s, 2001, g.AGENT_STATE_NOT_READY, 12)
    seen(s, 2001, g.AGENT_STATE_NOT_READY, "2001 not ready on %s" % pim)
    lab.ctl(pim, "fault", "acd-link", "thaw")
    lab.ctl(pim, "fault", "router-link", "up")
    wait_for(lambda: pim_state(lab, pim) == "IDLE", T,
             "%s's PIM idle (fenced)" % pim)
    check(cti(lab, pim)["active"], "%s's CTI server no longer active" % pim)
    # The holder's state of it, for the client as for the router.
    seen(s, 2001, g.AGENT_STATE_AVAILABLE, "2001 available again (the "
         "holder's)")
    check(query(s, 2001) == g.AGENT_STATE_AVAILABLE and
          router_email(lab)[2001] == ("available", True),
          "2001 in MRD 2: client %r, router %r" % (query(s, 2001),
                                                  router_email(lab)))
    check(email_logouts(lab) == rows, "MRD 2 logged out by the failover "
          "(R19)")
    # Its requests reach the holder's PIM, and the router.
    for st in (g.AGENT_STATE_NOT_READY, g.AGENT_STATE_AVAILABLE):
        set_state(s, 2001, st, 12 if st == g.AGENT_STATE_NOT_READY else 0)
        seen(s, 2001, st, "2001 %s through %s" % (NAMES[st], holder))
        wait_for(lambda: router_email(lab)[2001] == (NAMES[st], True), T,
                 "router: 2001 %s" % NAMES[st])
    log("(1) %s fenced after it read %s's agents: 2001 available in MRD 2 "
        "again at its CTI server as at the router; not ready, ready "
        "through %s" % (pim, holder, holder))


def restarted(lab):
    """(2): a side restarted while side A keeps them takes them over."""
    if not cti(lab, "pg-a")["active"]:
        lab.ctl("pg-b", "stop", "cti-server")
        wait_cti_active(lab, "pg-a")
        lab.ctl("pg-b", "start", "cti-server")
    _, s, _ = cti_open_active(lab, name="client-1", client_id="client-1",
                              services=ALL)
    check(cti(lab, "pg-a")["active"], "pg-a's CTI server not active")
    set_state(s, 2002, g.AGENT_STATE_NOT_READY, 7)
    seen(s, 2002, g.AGENT_STATE_NOT_READY, "2002 not ready")
    kept = {2001: ("available", True), 2002: ("not_ready", True)}
    wait_for(lambda: router_email(lab) == kept, T, "router: %r" % kept)
    rows = email_logouts(lab)
    wa = lab.watch("pg-a")
    lab.kill("acd")
    lab.reap("acd")
    wa.wait(ev("media_kept", rule="R23"), T, "pg-a: media_kept")
    wait_for(lambda: lab.status("router")["peripheral"]["media_keeper"] ==
             "A", T, "router: side A keeps the non-voice states")
    lab.ctl("pg-a", "stop", "pim")
    m = wa.mark()
    lab.kill("pg-b")
    lab.reap("pg-b")
    lab.start("pg-b")
    wait_for(lambda: lab.link("pg-a", "private-link")["state"] == "UP", T,
             "pg-a: private link up again")
    wa.wait(ev("media_kept", rule="R23"), T, "pg-a: media_kept again",
            since=m)
    lab.start("acd")
    wait_for(lambda: pim_state(lab, "pg-b") == "ACTIVE" and
             lab.status("router")["peripheral"]["online"], 10 * SLOW,
             "pg-b's PIM serving the peripheral")
    check(router_email(lab) == kept, "router MRD 2 after pg-b took the "
          "PIM over: %r, expected %r" % (router_email(lab), kept))
    check(email_logouts(lab) == rows, "MRD 2 logged out: %d Agent_Logout "
          "rows" % (email_logouts(lab) - rows))
    _, c, _ = cti_open_active(lab, name="client-2", client_id="client-2",
                              services=ALL)
    got = {a: query(c, a) for a in AGENTS}
    check(got == {2001: g.AGENT_STATE_AVAILABLE,
                  2002: g.AGENT_STATE_NOT_READY},
          "the CTI server's MRD 2: %r" % got)
    wa.stop()
    log("(2) pg-b restarted while pg-a kept MRD 2 (R23), then the PIM's: "
        "2001 available, 2002 not ready there, at the router and the CTI "
        "server; no Agent_Logout of MRD 2")


def test(Lab):
    lab = Lab("r23peer", agents=1, list_agents=LIST, mrds=MRDS,
              **dict(FAST, hb_acd=(100, 20)))
    pim, _, _ = start_duplex(lab)
    wait_cti_active(lab, pim)
    s = cti_connect(lab, pim, "client")
    m = s.open(client_id="client", services=ALL)
    check(m["type"] == g.OPEN_CONF, "OPEN: %r" % m)
    sign_in(lab, s)
    fenced(lab, pim, s)
    s.close_socket()
    restarted(lab)


run(test)

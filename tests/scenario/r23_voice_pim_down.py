"""R23: the voice PIM shuts down while the other side cannot take over:
its agents lose voice routing, the router still routes them non-voice
tasks, the CTI server still processes their non-voice MRD messages, and
voice routing comes back with the PIM; their non-voice logins are kept
all along (no sign-in again).

A lab with media routing (the app node's traffic, 4 tasks a second, 400
ms each), the ACD's call traffic, 4 agents in MRDs 1 (voice) and 2
(email) with their desktops, and agent 3001 in MRDs 1 and 2 without one.
The CTI server is moved to the side that does not hold the voice PIM (so
that side keeps the non-voice states from its mirror of the PIM's), and
that side's ACD link is cut (it cannot take the PIM over).  Then, twice:

 (1) `pgemuctl pg-X stop pim` on the side holding the voice PIM, later
     `start pim`;
 (2) the ACD killed (kill -9), later started again.

While the voice peripheral is offline:
 * router: peripheral_offline [R2], the voice MRD logged out
   (agents_logged_out [R3], Agent_Logout rows of MRD 1 only), media_kept
   [R23] with every MRD 2 login; `router status` names the side that
   keeps them (media_keeper); no voice state reaches it;
 * the CTI server's side: media_kept [R23];
 * tasks are still routed to the agents (Route_Call_Detail), reported
   (the CTI server takes the app's ARM messages) and end with a
   Termination_Call_Detail row (CallDisposition 13, MRD 2);
 * a client's MEDIA_LOGIN_REQ of 3001 (RESP 0, AGENT_STATE_EVENT MRD 2),
   ready with MR_DOMAIN_ID, MEDIA_LOGOUT_IND: each processed and seen at
   the router.
When it is back: peripheral_online, voice_back [R23] at the router,
media_released [R23] at the keeping side, the voice MRD logged in again
(after the ACD's restart, of the agents it logs in itself: 3001; the
desktops' agents wait for their desktops, as after any ACD restart) and
the ACD's calls reach the router again (an agent talking in MRD 1).
Throughout: the desktops' agents stay signed in to MRD 2 (no Agent_Logout
row of MRD 2, no second login row, the router's entries logged in).
"""
import time

import ged188_client as g
from pgemu_test import (DEFAULT_NODES, FAST, check, cti_open_active, ev,
                        find_event, log, other, run, wait_for, wait_online)

AGENTS = 4
IDS = list(range(1001, 1001 + AGENTS))
EXTRA = 3001
PERIPHERAL = 5000
VOICE, EMAIL = 1, 2
LIST = ('{ id = 3001; skill_groups = [ 100 ]; mrds = [ 1, 2 ]; '
        'state = "available"; }')


def router_entry(lab, agent, mrd):
    for a in lab.ctl("router", "agents"):
        if a["id"] == agent and a["mrd"] == mrd:
            return a
    raise AssertionError("router: no entry of %d in MRD %d" % (agent, mrd))


def logged_in(lab, mrd, ids=IDS):
    return {a["id"]: a["logged_in"] for a in lab.ctl("router", "agents")
            if a["mrd"] == mrd and a["id"] in ids}


def counts(lab):
    return lab.ctl("router", "tasks")["counts"]


def tcd(lab):
    return lab.query("SELECT COUNT(*) FROM Termination_Call_Detail WHERE "
                     "MRDomainID = 2 AND CallDisposition = 13")[0][0]


def email_rows(lab):
    """The desktops' agents' MRD 2 logouts and logins, in the history."""
    out = lab.query("SELECT COUNT(*) FROM Agent_Logout WHERE "
                    "MRDomainID = 2 AND SkillTargetID < 2000")[0][0]
    ins = lab.query("SELECT COUNT(*) FROM Agent_Event_Detail WHERE "
                    "MRDomainID = 2 AND Event = 1 AND "
                    "SkillTargetID < 2000")[0][0]
    return out, ins


def desktops_in(lab):
    """Every desktop's agent signed in to MRD 2 (any state)."""
    for a in IDS:
        st = {m["mrd"]: m["state"] for m in
              lab.ctl("agents", "agent", str(a))["mrds"]}
        if st.get(EMAIL) in (None, "logout", "unknown"):
            return False
    return True


def taken(lab, node):
    t = lab.status(node)["cti"]["tasks"]["taken"]
    return sum(t.values())


def ase(agent, mrd, state):
    return lambda m: (m["type"] == g.AGENT_STATE_EVENT and
                      m["ICMAgentID"] == agent and m["MRDID"] == mrd and
                      m["AgentState"] == state)


def outage(lab, cti, wr, wc, mark_r, mark_c, s, rule_code):
    """What holds while no PIM serves the peripheral."""
    e = wr.wait(ev("peripheral_offline"), 5, "router: peripheral_offline",
                since=mark_r)
    check(e["rule"] == "R2", "peripheral_offline: %r" % e)
    e = wr.wait(ev("agents_logged_out"), 5, "router: agents_logged_out",
                since=mark_r)
    check(e["rule"] == "R3" and e["reason_code"] == rule_code,
          "agents_logged_out: %r" % e)
    e = wr.wait(ev("media_kept"), 5, "router: media_kept", since=mark_r)
    check(e["rule"] == "R23" and e["logins"] == AGENTS,
          "router media_kept: %r" % e)
    e = wc.wait(ev("media_kept"), 5, "%s: media_kept" % cti, since=mark_c)
    check(e["rule"] == "R23" and e["signed_in"] == AGENTS,
          "%s media_kept: %r" % (cti, e))
    side = "A" if cti == "pg-a" else "B"
    wait_for(lambda: lab.status("router")["peripheral"]["media_keeper"] ==
             side, 5, "router: side %s keeps the non-voice states" % side)
    p = lab.status("router")["peripheral"]
    check(not p["online"] and p["active_side"] is None and p["media_kept"],
          "router peripheral: %r" % p)
    check(logged_in(lab, VOICE) == {a: False for a in IDS},
          "voice MRD: %r" % logged_in(lab, VOICE))
    check(logged_in(lab, EMAIL) == {a: True for a in IDS},
          "MRD 2: %r" % logged_in(lab, EMAIL))
    check(lab.status(cti)["pim"]["media_kept"], "%s: media_kept %r" % (
        cti, lab.status(cti)["pim"]))
    # Tasks go on: routed, reported, recorded.
    c0, t0, k0 = counts(lab), tcd(lab), taken(lab, cti)
    wait_for(lambda: counts(lab)["routed"] >= c0["routed"] + 6 and
             tcd(lab) >= t0 + 6, 10, "6 tasks routed and recorded")
    check(taken(lab, cti) > k0 + 12, "the CTI server took %d ARM "
          "messages" % (taken(lab, cti) - k0))
    check(counts(lab)["failed"] == c0["failed"], "routing failed: %r" %
          counts(lab))
    check(all(a["state"] == "logout" for a in lab.ctl("router", "agents")
              if a["mrd"] == VOICE and a["id"] in IDS),
          "a voice state reached the router")
    # A client's non-voice requests.
    s.mark()
    r = s.media_login(PERIPHERAL, EMAIL, agent_id=str(EXTRA))
    check(r["type"] == g.MEDIA_LOGIN_RESP and r["Status"] == 0,
          "MEDIA_LOGIN_REQ: %r" % r)
    s.wait_for(ase(EXTRA, EMAIL, g.AGENT_STATE_NOT_READY), 5,
               "%d Not Ready in MRD 2" % EXTRA)
    wait_for(lambda: router_entry(lab, EXTRA, EMAIL)["logged_in"], 5,
             "router: %d in MRD 2" % EXTRA)
    r = s.set_agent_state(PERIPHERAL, g.AGENT_STATE_AVAILABLE,
                          agent_id=str(EXTRA), mrdid=EMAIL)
    check(r["type"] == g.SET_AGENT_STATE_CONF, "216 SET: %r" % r)
    wait_for(lambda: router_entry(lab, EXTRA, EMAIL)["state"] in
             ("available", "reserved", "active"), 5,
             "router: %d ready in MRD 2" % EXTRA)
    s.media_logout(PERIPHERAL, EMAIL, reason=7, agent_id=str(EXTRA))
    s.wait_for(ase(EXTRA, EMAIL, g.AGENT_STATE_LOGOUT), 5,
               "%d out of MRD 2" % EXTRA)
    wait_for(lambda: not router_entry(lab, EXTRA, EMAIL)["logged_in"], 5,
             "router: %d out of MRD 2" % EXTRA)
    return counts(lab)["routed"] - c0["routed"], tcd(lab) - t0


def back(lab, cti, wr, wc, mark_r, mark_c, voice):
    """Voice is back for the agents in voice (those the ACD has logged
    in: a restarted ACD waits for the desktops' agents to log in)."""
    e = wr.wait(ev("voice_back"), 10, "router: voice_back", since=mark_r)
    check(e["rule"] == "R23" and e["voice"] == len(voice) and
          e["media"] == AGENTS, "voice_back: %r" % e)
    e = wc.wait(ev("media_released"), 5, "%s: media_released" % cti,
                since=mark_c)
    check(e["rule"] == "R23" and e["to"] == "pim", "media_released: %r" %
          e)
    p = wait_online(lab, 10)
    check(not p["media_kept"] and p["media_keeper"] is None,
          "router peripheral: %r" % p)
    every = IDS + [EXTRA]
    wait_for(lambda: logged_in(lab, VOICE, every) ==
             {a: a in voice for a in every}, 5,
             "voice MRD logged in again: %r" % voice)
    check(logged_in(lab, EMAIL) == {a: True for a in IDS},
          "MRD 2: %r" % logged_in(lab, EMAIL))
    check(not lab.status(cti)["pim"]["media_kept"], "still kept")
    # The ACD's calls reach the router again.
    lab.ctl("acd", "traffic", "on")
    wait_for(lambda: any(a["state"] == "talking" for a in
                         lab.ctl("router", "agents")
                         if a["mrd"] == VOICE), 10,
             "router: an agent talking in the voice MRD")
    lab.ctl("acd", "traffic", "off")


def test(Lab):
    lab = Lab("r23", agents=AGENTS, desktops=True, media=True,
              agent_mrds=[1, 2], hb_desktop=(100, 3), mr_traffic=4,
              list_agents=LIST, **FAST)
    lab.start_all()
    lab.wait_links_up(DEFAULT_NODES)
    p = wait_online(lab, 10, agents=AGENTS + 1)
    pim = "pg-a" if p["active_side"] == "A" else "pg-b"
    wait_for(lambda: desktops_in(lab) and counts(lab)["ended"] >= 5, 15,
             "desktops signed in to MRD 2, 5 tasks ended")
    # The CTI server on the side without the PIM, whose ACD link is cut.
    cti = pim
    for n in ("pg-a", "pg-b"):
        if lab.status(n)["cti"]["active"]:
            cti = n
    if cti == pim:
        lab.ctl(pim, "stop", "cti-server")
        wait_for(lambda: lab.status(other(pim))["cti"]["active"], 5,
                 "%s: CTI server active" % other(pim))
        lab.ctl(pim, "start", "cti-server")
        cti = other(pim)
    lab.ctl(cti, "fault", "acd-link", "down")
    wait_for(lambda: not [x for x in lab.status("router")["peripheral"]
                          ["sides"] if x["node"] == cti][0]["acd_up"], 5,
             "router: %s has no ACD link" % cti)
    wait_for(lambda: lab.status("app")["app"]["arm"]["server"] == cti and
             desktops_in(lab), 10, "the app and the desktops on %s" % cti)
    _, s, _ = cti_open_active(lab, name="client", client_id="client",
                              services=g.CTI_SERVICE_ALL_EVENTS |
                              g.CTI_SERVICE_CLIENT_CONTROL)
    rows0 = email_rows(lab)
    wr, wc = lab.watch("router"), lab.watch(cti)
    log("voice PIM on %s, CTI server on %s (no ACD link); MRD 2 rows %r" %
        (pim, cti, rows0))

    # (1) stop pim -------------------------------------------------------
    mr, mc = wr.mark(), wc.mark()
    r = lab.ctl(pim, "stop", "pim")
    check(r[0]["stopped"] and r[0]["state"] == "IDLE", "stop pim: %r" % r)
    routed, rows = outage(lab, cti, wr, wc, mr, mc, s, -2)
    check(lab.query("SELECT COUNT(*) FROM Agent_Logout WHERE ReasonCode "
                    "= -2 AND MRDomainID != 1")[0][0] == 0,
          "non-voice logouts with the PIM")
    log("(1) %s stop pim: voice out (R3, -2), MRD 2 kept (R23, kept by "
        "%s); %d tasks routed, %d Termination_Call_Detail meanwhile; "
        "MEDIA_LOGIN, 216 SET, MEDIA_LOGOUT processed" % (pim, cti, routed,
                                                         rows))
    mr, mc = wr.mark(), wc.mark()
    lab.ctl(pim, "start", "pim")
    back(lab, cti, wr, wc, mr, mc, IDS + [EXTRA])
    log("(1) start pim: voice back (R23 voice_back), calls reach the "
        "router")

    # (2) the ACD killed for good, then started again -------------------
    mr, mc = wr.mark(), wc.mark()
    lab.kill("acd")
    lab.reap("acd")
    routed, rows = outage(lab, cti, wr, wc, mr, mc, s, -1)
    log("(2) ACD killed: voice out (R3, -1), MRD 2 kept; %d tasks routed, "
        "%d recorded meanwhile" % (routed, rows))
    mr, mc = wr.mark(), wc.mark()
    lab.start("acd")
    back(lab, cti, wr, wc, mr, mc, [EXTRA])
    log("(2) ACD back: voice back (the desktops' agents logged out of it "
        "by the ACD's restart), calls reach the router")

    # Throughout: the desktops' agents never left MRD 2.
    time.sleep(0.5)
    check(email_rows(lab) == rows0, "MRD 2 logouts, logins: %r, before "
          "%r" % (email_rows(lab), rows0))
    check(desktops_in(lab), "a desktop out of MRD 2")
    check(lab.status("app")["app"]["ledger"]["balanced"], "ledger: %r" %
          lab.status("app")["app"]["ledger"])
    e = find_event(lab, "router", ev("media_kept"), "media_kept")
    log("MRD 2 rows unchanged %r; %s" % (rows0, e["message"]))



run(test)

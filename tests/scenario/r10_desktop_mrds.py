"""R9, R10 in every MRD of the agent: desktops whose agents are in MRDs 1
(voice) and 2 (chat) by the lab file (peripheral.agents.mrds).  An email
MRD's sign-ins outlive all of this (R19: r19_*.py).

Proves, with 6 desktops on desk-a (real pgemud processes):
 * the first login signs each agent in to both MRDs, available in both
   (MEDIA_LOGIN_REQ, then ready with MR_DOMAIN_ID); `agents agent ID` and
   `desk-a desktops` show each MRD's state, the router one entry per MRD;
 * kill -9 of desk-a (R9): one Agent_Logout row per agent and MRD
   (MRDomainID 1 and 2) with ReasonCode 50002; through desk-b (R10) every
   agent in again, a login row (Agent_Event_Detail Event 1) of each MRD
   after its logout, available in the voice MRD (Table 2) and Not Ready
   in MRD 2 (no task yet);
 * `pgemuctl agents agent 1002 set ready mrd 2`: available in MRD 2 at
   the desktop and the router, voice as it was; `set not_ready 7 mrd 2`:
   a not-ready row of MRD 2 with reason 7; `mrd 3` (not its) and a logout
   of one MRD refused;
 * `pgemuctl agents fault 1001 down` (desk-b loses the desktop, R9):
   Agent_Logout rows of 1001 in MRDs 1 and 2 with 50002, the others
   still in; `up` (R10): 1001 in both again, MRD 2 Not Ready;
 * a CTI Manager failover (R6: the PIM logs MRD 2 out with 50002, the CTI
   session stays): desk-b signs every agent in to MRD 2 again
   (media_relogin, R10), Not Ready, on the same CTI session;
 * a PG failover (kill -9 of the PIM's side): every agent's MRD 2 logged
   out with 50002 (Agent_Logout rows), signed in again by the desk, Not
   Ready, the voice MRD back (R8).
"""
from pgemu_test import (check, desk_lab_online, ev, free_ports, log,
                        node_of, periph, run, wait_for, wait_online)

AGENTS = 6
IDS = list(range(1001, 1001 + AGENTS))
CHAT = 2        # an email MRD is R19's
MRDS = ('{ id = 1; name = "Cisco_Voice"; media = "voice"; },\n'
        '  { id = 2; name = "Chat"; media = "chat"; max_tasks = 5; }')


def mrd_states(lab, agent):
    """{mrd: state} of the agent's desktop (`agents agent ID`)."""
    return {m["mrd"]: m["state"] for m in
            lab.ctl("agents", "agent", str(agent))["mrds"]}


def all_in(lab, voice, chat, ids=IDS):
    return all(mrd_states(lab, a) == {1: voice, CHAT: chat} for a in ids)


def desk_mrds(lab, desk):
    """{agent: {mrd: state}} as the desktop server shows its desktops."""
    return {d["agent"]: {m["mrd"]: m["state"] for m in d["mrds"]}
            for d in lab.ctl(desk, "desktops")}


def router_chat(lab):
    """{agent: logged in} of the router's entries of MRD 2."""
    return {a["id"]: a["logged_in"] for a in lab.ctl("router", "agents")
            if a["mrd"] == CHAT}


def router_state(lab, agent, mrd):
    """The agent's state in an MRD as the router has it."""
    return [a["state"] for a in lab.ctl("router", "agents")
            if a["id"] == agent and a["mrd"] == mrd][0]


def logouts(lab, agent=None):
    return lab.query("SELECT SkillTargetID, MRDomainID, ReasonCode, "
                     "LogoutDateTime FROM Agent_Logout" +
                     (" WHERE SkillTargetID = %d" % agent if agent else "") +
                     " ORDER BY LogoutDateTime")


def logins_after(lab, out):
    """{(agent, mrd)} with a login row at or after out[(agent, mrd)]."""
    return {(r[0], r[1]) for r in lab.query(
        "SELECT SkillTargetID, MRDomainID, DateTime FROM "
        "Agent_Event_Detail WHERE Event = 1")
        if (r[0], r[1]) in out and r[2] >= out[(r[0], r[1])]}


def both_out(lab, ids, since):
    """The logout rows of ids in MRDs 1 and 2 after the first since rows:
    {(agent, mrd): LogoutDateTime}, once each has one, 50002."""
    rows = logouts(lab)[since:]
    out = {(r[0], r[1]): r[3] for r in rows if r[0] in ids}
    want = {(a, m) for a in ids for m in (1, CHAT)}
    if set(out) != want:
        return None
    check(all(r[2] == 50002 for r in rows if r[0] in ids),
          "Agent_Logout rows: %r" % rows)
    return out


def wait(pred, timeout, what):
    """wait_for at a pace of a few control calls per agent."""
    return wait_for(pred, timeout, what, interval=0.05)


def test(Lab):
    backup = free_ports(1)[0]
    lab = desk_lab_online(Lab, "r10m", AGENTS, agent_mrds=[1, CHAT],
                          mrds=MRDS,
                          sections={"acd": "backup_port = %d;" % backup})
    wait(lambda: all_in(lab, "available", "available"), 10,
             "every agent available in MRDs 1 and 2")
    check(desk_mrds(lab, "desk-a") ==
          {a: {1: "available", CHAT: "available"} for a in IDS},
          "desk-a desktops: %r" % lab.ctl("desk-a", "desktops"))
    d = lab.ctl("agents", "agent", "1001")["mrds"]
    check([(m["mrd"], m["media"]) for m in d] == [(1, "voice"),
                                                   (2, "chat")],
          "agents agent 1001: %r" % d)
    wait(lambda: router_chat(lab) == {a: True for a in IDS}, 5,
             "router: every agent in MRD 2")
    check(not logouts(lab), "logout rows before any fault")

    # R9 then R10: desk-a killed, the desktops on desk-b.
    wa = lab.watch("agents")
    lab.kill("desk-a")
    out = wait(lambda: both_out(lab, IDS, 0), 5,
                   "Agent_Logout of every agent in MRDs 1 and 2, 50002")
    e = wa.wait(ev("desktop_relogin"), 10, "agents: desktop_relogin")
    check(e["agents"] == AGENTS and e["server"] == "desk-b",
          "desktop_relogin: %r" % e)
    wait(lambda: all_in(lab, "available", "not_ready"), 5,
             "every agent back: available, MRD 2 not ready")
    check(desk_mrds(lab, "desk-b") ==
          {a: {1: "available", CHAT: "not_ready"} for a in IDS},
          "desk-b desktops: %r" % lab.ctl("desk-b", "desktops"))
    wait(lambda: router_chat(lab) == {a: True for a in IDS}, 5,
             "router: every agent in MRD 2 again")
    wait(lambda: logins_after(lab, out) == set(out), 5,
             "a login row of each MRD after its logout")
    log("kill -9 desk-a: %d Agent_Logout rows (MRDs 1, 2; 50002), all back "
        "through desk-b, MRD 2 not ready" % len(out))

    # The agent makes itself ready in MRD 2 (and not ready again), its
    # voice MRD as it is.
    lab.ctl("agents", "agent", "1002", "set", "ready", "mrd", str(CHAT))
    wait(lambda: mrd_states(lab, 1002) == {1: "available",
                                           CHAT: "available"} and
         router_state(lab, 1002, CHAT) == "available", 5,
         "1002 available in MRD 2 (desktop, router)")
    lab.ctl("agents", "agent", "1002", "set", "not_ready", "7", "mrd",
            str(CHAT))
    wait(lambda: lab.query(
        "SELECT MRDomainID FROM Agent_Event_Detail WHERE SkillTargetID = "
        "1002 AND Event = 3 AND ReasonCode = 7") == [(CHAT,)], 5,
         "a not-ready row of 1002 in MRD 2, reason 7")
    check(mrd_states(lab, 1002) == {1: "available", CHAT: "not_ready"} and
          router_state(lab, 1002, 1) == "available",
          "1002: %r" % mrd_states(lab, 1002))
    for bad in (["set", "ready", "mrd", "3"], ["set", "logout", "7", "mrd",
                                                str(CHAT)]):
        rc, _, err = lab.ctl_raw("agents", "agent", "1002", *bad)
        check(rc != 0 and err, "agents agent 1002 %s: exit %d, %r" % (
            " ".join(bad), rc, err))
    log("agents agent 1002 set ready|not_ready mrd 2: MRD 2 alone")

    # R9, R10 for one desktop.
    n = len(logouts(lab))
    lab.ctl("agents", "fault", "1001", "down")
    out = wait(lambda: both_out(lab, [1001], n), 5,
                   "Agent_Logout of 1001 in MRDs 1 and 2, 50002")
    wait(lambda: not router_chat(lab)[1001], 5,
             "router: 1001 out of MRD 2")
    check(all(router_chat(lab)[a] for a in IDS[1:]), "others out of MRD 2")
    check(len(logouts(lab)) == n + 2, "other rows: %r" % logouts(lab)[n:])
    lab.ctl("agents", "fault", "1001", "up")
    wait(lambda: all_in(lab, "available", "not_ready"), 10,
             "1001 back: available, MRD 2 not ready")
    wait(lambda: logins_after(lab, out) == set(out), 5,
             "1001's login rows after its logouts")
    log("agents fault 1001 down/up: out of MRDs 1 and 2 (50002), back")

    # The PIM logs MRD 2 out (a CTI Manager failover): the desk signs in.
    opens = lab.status("desk-b")["desk"]["cti"]["opens"]
    wb = lab.watch("desk-b")
    n = len(logouts(lab))
    lab.ctl("acd", "stop", "cti-manager", "primary")
    e = wb.wait(ev("media_relogin"), 10, "desk-b: media_relogin")
    check(e["rule"] == "R10" and sorted(e["agents"]) == IDS and
          e["signins"] == AGENTS, "media_relogin: %r" % e)
    wait(lambda: all_in(lab, "available", "not_ready"), 10,
             "every agent in MRD 2 again, not ready")
    wait(lambda: router_chat(lab) == {a: True for a in IDS}, 5,
             "router: every agent in MRD 2 again")
    rows = [r for r in logouts(lab)[n:] if r[1] == CHAT]
    check(sorted(r[0] for r in rows) == IDS and
          all(r[2] == 50002 for r in rows), "MRD 2 logouts: %r" % rows)
    check(lab.status("desk-b")["desk"]["cti"]["opens"] == opens,
          "desk-b's CTI session was opened again")
    log("CTI Manager failover: %s" % e["message"])

    # A PG failover: the PIM's side killed.
    act = node_of(periph(lab)["active_side"])
    n = len(logouts(lab))
    lab.kill(act)
    wait(lambda: {r[0] for r in logouts(lab)[n:] if r[1] == CHAT}
             == set(IDS), 10, "Agent_Logout of every agent in MRD 2")
    check(all(r[2] == 50002 for r in logouts(lab)[n:]),
          "PG failover logouts: %r" % logouts(lab)[n:])
    wait_online(lab, 10, agents=AGENTS)
    wait(lambda: router_chat(lab) == {a: True for a in IDS}, 10,
             "router: every agent signed in to MRD 2 again")
    wait(lambda: all_in(lab, "available", "not_ready"), 10,
             "every agent: voice available (R8), MRD 2 not ready")
    log("kill -9 %s: MRD 2 out (50002) and signed in again by the desk"
        % act)


if __name__ == "__main__":
    run(test)

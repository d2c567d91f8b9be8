"""R19 when the CTI server stops (`pgemuctl pg-X stop cti-server`): 3
agents in MRDs 1 (voice) and 2 (email, task_life 60 s) with their
desktops, the app's tasks of 5 s.

Proves:
 * two tasks routed and started; the active CTI server stopped, then the
   other one too: the app and the desktop server have no CTI session;
   every agent stays logged in, voice and email, as today for voice (the
   router's real-time table all along, no Agent_Logout row; both CTI
   servers' views, `pgemuctl pg-X cti`), and the desktops' views keep the
   email MRD as it was (never logged out);
 * meanwhile the app's third task, routed by the router, is recorded by
   the app (its agent ACTIVE in its record);
 * the other CTI server started again: the desktops sign in again there
   (voice by LOGIN, email: MEDIA_LOGIN_RESP 1, signed in already), the
   app's bracket: 3 agents, 3 tasks known by TaskID (two in the table the
   server had from the other side, PEER_TASK; one it never heard of,
   recreated), agents_resynced (R19) at both ends; the router's states
   and the desktops' views as the app recorded them (the desktops hear
   their email MRD's state as they sign in again), Agent_Event_Detail
   rows of each agent Recreated;
 * the tasks end: three Termination_Call_Detail rows, only the one the
   router never heard the start of flagged Recreated; every agent
   available again;
 * desk-a killed (its CTI session lost, R9 at the CTI server): the voice
   MRD logged out with 50002 (cti_client_lost, or agent_moved, R10: one
   Agent_Logout row each, of MRD 1 only) and in again through desk-b
   (R10), the email MRD in all along,
   desk-b's desktops told its state as they sign in again.
"""
import signal

from email_lab import (AGENTS, EMAIL, IDS, T, app_tasks, arm, cti_email,
                       desk_email, email_lab, router_mrd,
                       tasks_end_recreated, third_task)
from pgemu_test import check, ev, log, other, run, wait_for


def all_in(lab, seen):
    """Every agent logged in to both MRDs at the router, signed in to the
    email MRD at both CTI servers and at every desktop; what the desktops
    showed is kept."""
    v, e, d = router_mrd(lab, 1), router_mrd(lab, EMAIL), desk_email(lab)
    seen.append(d)
    for node in ("pg-a", "pg-b"):
        c = cti_email(lab, node)
        check(sum(c.values()) == AGENTS and "logout" not in c,
              "%s's CTI server, email: %r" % (node, c))
    check(all(v[i] != "logged out" and e[i] != "logged out" for i in IDS),
          "router: voice %r, email %r" % (v, e))
    check(all(s not in ("logout", "unknown") for s in d.values()),
          "desktops, email: %r" % d)


def test(Lab):
    lab, _ = email_lab(Lab, "r19cti")
    wait_for(lambda: arm(lab)["agents_available"] == AGENTS and
             desk_email(lab) == {i: "available" for i in IDS}, T,
             "3 agents available in MRD 2 (the app's view, the desktops)")
    act = arm(lab)["server"]
    stand = other(act)
    check(lab.status(act)["cti"]["active"], "%s's CTI server not active"
          % act)

    log("two tasks routed and started on %s" % act)
    lab.ctl("app", "new-task", "Email", "2")
    wait_for(lambda: [t["state"] for t in app_tasks(lab).values()] ==
             ["started"] * 2 and
             len(lab.ctl(stand, "cti")["tasks"]["table"]) == 2, T,
             "2 tasks started, in the standby's copy of the table")
    first = app_tasks(lab)

    log("both CTI servers stopped: no session; everyone stays in")
    seen = []
    wa, wd = lab.watch("app"), lab.watch("desk-a")
    lab.ctl(act, "stop", "cti-server")
    wait_for(lambda: lab.status(stand)["cti"]["active"], T,
             "%s's CTI server active" % stand)
    lab.ctl(stand, "stop", "cti-server")
    wa.wait(ev("cti_session_lost"), T, "app: cti_session_lost")
    wd.wait(ev("cti_session_lost"), T, "desk-a: cti_session_lost")
    wait_for(lambda: arm(lab)["state"] != "UP" and
             lab.status("desk-a")["desk"]["cti"]["state"] != "UP", T,
             "the app and desk-a: no CTI session")
    all_in(lab, seen)
    wa.mark()
    wd.mark()

    log("a task routed meanwhile: recorded by the app")
    third = third_task(lab, first)
    all_in(lab, seen)

    log("%s's CTI server started: sign-ins again, the bracket" % stand)
    ws = lab.watch(stand)
    lab.ctl(stand, "start", "cti-server")
    e = ws.wait(ev("agents_resynced"), T, "%s: agents_resynced" % stand)
    check(e["rule"] == "R19" and e["agents"] == AGENTS and
          e["tasks_known"] == 3 and e["tasks_begun"] == 0 and
          e["refused"] == 0, "CTI: %r" % e)
    e = wa.wait(ev("agents_resynced", rule="R19"), T, "app: agents_resynced")
    check(e["agents"] == AGENTS and e["tasks_known"] == 3 and
          e["server"] == stand, "app: %r" % e)
    c = lab.status(stand)["cti"]["tasks"]
    # The app may have opened a session there (and resynced) between the
    # two stops: what the table had then is known too.
    check(c["resync"]["known"] >= 2 and c["resync"]["recreated"] == 1 and
          c["tasks"] == 3, "%s counters: %r" % (stand, c))
    wd.wait(ev("desktop_relogin"), T, "desk-a: desktop_relogin (R10)")
    wait_for(lambda: router_mrd(lab, EMAIL) == {i: "active" for i in IDS}
             and desk_email(lab) == {i: "active" for i in IDS}, T,
             "router and desktops: the 3 agents ACTIVE in MRD 2")
    all_in(lab, seen)
    # One bracket per session: the app may have opened one on the other
    # side between the two stops.
    rows = lab.query("SELECT DISTINCT SkillTargetID, Event, Rule FROM "
                     "Agent_Event_Detail WHERE Recreated = 1 AND "
                     "MRDomainID = 2 ORDER BY SkillTargetID")
    check(rows == [(i, 4, "R19") for i in IDS],
          "recreated Agent_Event_Detail: %r" % rows)

    tasks_end_recreated(lab, first, third)
    check(not lab.query("SELECT * FROM Agent_Logout"),
          "Agent_Logout: %r" % lab.query("SELECT * FROM Agent_Logout"))
    check(all(all(s not in ("logout", "unknown") for s in d.values())
              for d in seen), "the desktops' email MRD: %r" % seen)

    log("desk-a killed (R9): voice out and in through desk-b, email in")
    wg = lab.watch("agents")
    lab.kill("desk-a", signal.SIGKILL)
    # Some desktops (all, on a slow machine) may reach desk-b before the
    # CTI server reads desk-a's end: those agents move (R10, agent_moved),
    # out with 50002 all the same (docs/failover.md).
    out = 0
    while out < AGENTS:
        e = ws.wait(lambda x: x.get("event") in ("cti_client_lost",
                                                 "agent_moved"), T,
                    "%s: cti_client_lost or agent_moved" % stand)
        check(e["rule"] == ("R9" if e["event"] == "cti_client_lost" else
                            "R10"), "%r" % e)
        out += e["agents"]
    check(out == AGENTS, "agents out of desk-a's session: %d" % out)
    wg.wait(ev("desktop_relogin", rule="R10"), T, "agents: desktop_relogin")
    wait_for(lambda: router_mrd(lab, 1) == {i: "available" for i in IDS} and
             {d["agent"]: [m["state"] for m in d["mrds"]
                           if m["mrd"] == EMAIL][0]
              for d in lab.ctl("desk-b", "desktops")} ==
             {i: "available" for i in IDS}, T,
             "voice back through desk-b, desk-b's desktops available in "
             "MRD 2")
    all_in(lab, seen)
    wait_for(lambda: len(lab.query("SELECT 1 FROM Agent_Logout")) >=
             AGENTS, T, "3 Agent_Logout rows")
    rows = lab.query("SELECT SkillTargetID, MRDomainID, ReasonCode FROM "
                     "Agent_Logout ORDER BY SkillTargetID")
    check(rows == [(i, 1, 50002) for i in IDS],
          "Agent_Logout: %r (none of MRD 2)" % rows)
    check(router_mrd(lab, EMAIL) == {i: "available" for i in IDS},
          "router, email: %r" % router_mrd(lab, EMAIL))


run(test)

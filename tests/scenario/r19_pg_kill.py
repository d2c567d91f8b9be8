"""R19 when the active PG side is killed (kill -9): 3 agents in MRDs 1
(voice) and 2 (email, task_life 60 s) with their desktops, the app's
tasks of 5 s.

Proves:
 * two tasks routed and started; the app's ARM session cut, a third task
   routed then (the app records its agent ACTIVE); the side holding the
   PIM and the CTI server killed;
 * the voice MRD as today (R6, R7, R8): every agent logged out of it with
   50002 (Agent_Logout rows of MRD 1, event agents_logged_out), back in
   on the other side; the email MRD not (R19): logged in all along at the
   router (no Agent_Logout row of MRD 2), its states kept by the PIM that
   takes over (from the killed side's PEER_AGENTS; its CTI server's view,
   `pgemuctl pg-X cti`), the desktops' email MRD never logged out (they
   sign in again there: signed in already);
 * the app's session back, on the surviving side: the bracket (3 agents,
   3 tasks known by TaskID: two from the copy of the table, PEER_TASK,
   one the survivor never heard of), agents_resynced (R19) at both ends;
 * the tasks end: three Termination_Call_Detail rows, the one the router
   never heard the start of flagged Recreated; every agent available.
"""
import signal

from email_lab import (AGENTS, EMAIL, IDS, T, app_tasks, arm, cti_email,
                       desk_email, email_lab, router_mrd,
                       tasks_end_recreated, third_task)
from pgemu_test import check, ev, log, node_of, other, run, wait_for


def email_in(lab, seen, node):
    e, d, c = router_mrd(lab, EMAIL), desk_email(lab), cti_email(lab, node)
    seen.append((e, d, c))
    check(sum(c.values()) == AGENTS and "logout" not in c,
          "%s's CTI server, email: %r" % (node, c))
    check(all(e[i] != "logged out" for i in IDS), "router, email: %r" % e)
    check(all(s not in ("logout", "unknown") for s in d.values()),
          "desktops, email: %r" % d)


def test(Lab):
    lab, p = email_lab(Lab, "r19pg")
    act = node_of(p["active_side"])
    surv = other(act)
    wait_for(lambda: arm(lab)["agents_available"] == AGENTS and
             arm(lab)["server"] == act and
             desk_email(lab) == {i: "available" for i in IDS}, T,
             "3 agents available in MRD 2, the app on %s" % act)

    log("two tasks routed and started; the ARM session cut, a third")
    lab.ctl("app", "new-task", "Email", "2")
    wait_for(lambda: [t["state"] for t in app_tasks(lab).values()] ==
             ["started"] * 2 and
             len(lab.ctl(surv, "cti")["tasks"]["table"]) == 2, T,
             "2 tasks started, in %s's copy of the table" % surv)
    first = app_tasks(lab)
    wa = lab.watch("app")
    lab.ctl("app", "fault", "cti-link", "down")
    wa.wait(ev("cti_session_lost"), T, "app: cti_session_lost")
    third = third_task(lab, first)

    log("kill -9 of %s: voice out and back (R6, R8), email in (R19)" % act)
    seen = []
    wr, ws = lab.watch("router"), lab.watch(surv)
    lab.kill(act, signal.SIGKILL)
    e = wr.wait(ev("agents_logged_out"), T, "router: agents_logged_out")
    check(e["rule"] == "R6" and e["agents"] == AGENTS, "R6: %r" % e)
    email_in(lab, seen, surv)
    wr.wait(ev("peripheral_online", rule="R8"), T, "router: R8 online")
    wait_for(lambda: router_mrd(lab, 1) == {i: "available" for i in IDS},
             T, "router: every agent back in the voice MRD")
    email_in(lab, seen, surv)
    rows = lab.query("SELECT SkillTargetID, MRDomainID, ReasonCode, Rule "
                     "FROM Agent_Logout ORDER BY SkillTargetID")
    check(rows == [(i, 1, 50002, "R6") for i in IDS],
          "Agent_Logout: %r (none of MRD 2)" % rows)
    # Kept as they were: the third one RESERVED by the router's PRECALL,
    # its start not heard yet.
    want = {t["agent"]: "active" for t in first.values()}
    want[third["agent"]] = "reserved"
    check(router_mrd(lab, EMAIL) == want, "router, email: %r, want %r" % (
        router_mrd(lab, EMAIL), want))
    wait_for(lambda: lab.status("desk-a")["desk"]["cti"]["server"] == surv,
             T, "desk-a's CTI session on %s" % surv)
    email_in(lab, seen, surv)

    log("the ARM session back, on %s: the bracket" % surv)
    lab.ctl("app", "fault", "cti-link", "up")
    e = ws.wait(ev("agents_resynced"), T, "%s: agents_resynced" % surv)
    check(e["rule"] == "R19" and e["agents"] == AGENTS and
          e["tasks_known"] == 3 and e["tasks_begun"] == 0 and
          e["refused"] == 0, "CTI: %r" % e)
    e = wa.wait(ev("agents_resynced", rule="R19"), T, "app: agents_resynced")
    check(e["server"] == surv and e["agents"] == AGENTS and
          e["tasks_known"] == 3, "app: %r" % e)
    c = lab.status(surv)["cti"]["tasks"]
    check(c["resync"]["known"] == 2 and c["resync"]["recreated"] == 1 and
          c["tasks"] == 3, "%s counters: %r" % (surv, c))
    wait_for(lambda: desk_email(lab) == {i: "active" for i in IDS} and
             router_mrd(lab, EMAIL) == {i: "active" for i in IDS}, T,
             "the router and the desktops: ACTIVE in MRD 2 (as recorded)")
    email_in(lab, seen, surv)

    tasks_end_recreated(lab, first, third)
    check(not lab.query("SELECT * FROM Agent_Logout WHERE MRDomainID = 2"),
          "Agent_Logout rows of MRD 2")


run(test)

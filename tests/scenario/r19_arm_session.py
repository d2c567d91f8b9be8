"""R19, the email MRD exception: the application's ARM session cut
(`pgemuctl app fault cti-link down`), 3 agents in MRDs 1 (voice) and 2
(email, task_life 60 s) with their desktops, tasks of 5 s.

Proves:
 * while the session is down every agent stays logged in, voice and email
   (the router's real-time table, the desktops' views; no Agent_Logout
   row), the app keeps its record of the email MRD: two tasks the router
   routes meanwhile make their agents ACTIVE there, and with its MR links
   cut too (routing off) the app assigns a third task itself on that
   record (to the one agent left available: RESERVED), its offer waiting
   (routing comes back before it ends: it is reported);
 * the session back: the CTI server says AGENT_INIT_READY_EVENT, the app
   answers with the bracket, in order in the CTI server's log
   (BEGIN_AGENT_INIT_IND, AGENT_INIT_REQ x3, TASK_INIT_IND x2 for the
   routed tasks, TASK_INIT_REQ for its own, END_AGENT_INIT_IND), event
   agents_resynced (R19) at both ends with those counts, the [R19] lines;
   the CTI server's counters and task table (3 tasks, the app's own with a
   TaskID of the server's); the queued messages those tasks had are not
   sent (they would be refused);
 * the router: the agents' states as recorded (two ACTIVE, one RESERVED
   then ACTIVE once its task starts), an Agent_Event_Detail row of each
   (Event 4, Recreated 1, Rule R19, MRD 2); when the tasks end, three
   Termination_Call_Detail rows flagged Recreated (two routed, type 25,
   one the app's, 26), the agents AVAILABLE again everywhere.
"""
import re

from email_lab import (AGENTS, EMAIL, IDS, T, app_tasks, arm, cti_email,
                       desk_email, email_lab, router_mrd)
from pgemu_test import check, ev, log, run, wait_for


def debug_lines(lab, node, pattern):
    return [i for i, l in enumerate(lab.log_text(node).splitlines())
            if re.search(pattern, l)]


def test(Lab):
    lab, _ = email_lab(Lab, "r19arm")
    wait_for(lambda: arm(lab)["agents_available"] == AGENTS and
             arm(lab)["resync"]["brackets"] == 1, T,
             "the app sees 3 agents available in MRD 2, its first bracket")
    server = arm(lab)["server"]
    wa, wp = lab.watch("app"), lab.watch(server)

    log("the ARM session cut: every agent stays in, voice and email")
    lab.ctl("app", "fault", "cti-link", "down")
    wa.wait(ev("cti_session_lost"), T, "app: cti_session_lost")
    check(router_mrd(lab, 1) == {i: "available" for i in IDS} and
          router_mrd(lab, EMAIL) == {i: "available" for i in IDS},
          "router: %r %r" % (router_mrd(lab, 1), router_mrd(lab, EMAIL)))
    check(arm(lab)["resync"]["email_states"] == {"available": AGENTS},
          "the app's record of MRD 2: %r" % arm(lab)["resync"])

    log("two tasks routed meanwhile: their agents ACTIVE in the record")
    lab.ctl("app", "new-task", "Email", "2")
    wait_for(lambda: [t["state"] for t in app_tasks(lab).values()] ==
             ["started"] * 2, T, "2 routed tasks started")
    check(arm(lab)["resync"]["email_states"] == {"active": 2,
                                                 "available": 1},
          "record: %r" % arm(lab)["resync"])
    routed = app_tasks(lab)

    log("routing off too: the app assigns a task itself on its record")
    lab.ctl("app", "fault", "pg-a", "down")
    lab.ctl("app", "fault", "pg-b", "down")
    wait_for(lambda: not lab.status("app")["app"]["routing"], T,
             "app: routing off")
    lab.ctl("app", "new-task", "Email", "1")
    own = wait_for(lambda: [t for d, t in app_tasks(lab).items()
                            if d not in routed and t["assigned"] == "app"],
                   T, "a task assigned by the app")[0]
    free = [i for i in IDS if i not in [t["agent"] for t in
                                        routed.values()]]
    check(own["agent"] == free[0] and own["state"] == "offering" and
          own["task"] is None, "the app's task: %r" % own)
    check(arm(lab)["resync"]["email_states"] == {"active": 2,
                                                 "reserved": 1},
          "record: %r" % arm(lab)["resync"])
    check(arm(lab)["queued"] >= 5, "queued messages: %r" % arm(lab))
    check(router_mrd(lab, 1) == {i: "available" for i in IDS},
          "router, voice: %r" % router_mrd(lab, 1))
    check(all(router_mrd(lab, EMAIL)[i] != "logged out" for i in IDS),
          "router, email: %r" % router_mrd(lab, EMAIL))
    check(set(desk_email(lab).values()) <= {"available", "reserved",
                                            "active"},
          "desktops, email: %r" % desk_email(lab))
    c = cti_email(lab, server)
    check(sum(c.values()) == AGENTS and "logout" not in c,
          "%s's CTI server, email: %r" % (server, c))

    log("the session back: the bracket, answered in order")
    lab.ctl("app", "fault", "cti-link", "up")
    e = wp.wait(ev("agents_resynced"), T, "%s: agents_resynced" % server)
    check(e["rule"] == "R19" and e["agents"] == AGENTS and
          e["tasks_known"] == 2 and e["tasks_begun"] == 1 and
          e["refused"] == 0 and e["client_id"] == "app", "CTI: %r" % e)
    e = wa.wait(ev("agents_resynced", rule="R19"), T, "app: agents_resynced")
    check(e["agents"] == AGENTS and e["tasks_known"] == 2 and
          e["tasks_begun"] == 1 and e["messages_dropped"] >= 4,
          "app: %r" % e)
    begin = debug_lines(lab, server, r"resync bracket of peripheral 5000 "
                        r"opened")
    agent = debug_lines(lab, server, r"AGENT_INIT_REQ: agent 100[123] ")
    known = debug_lines(lab, server, r"TASK_INIT_IND of task .* taken")
    new = debug_lines(lab, server, r"TASK_INIT_REQ of task .* taken")
    end = debug_lines(lab, server, r"\[R19\] client \"app\" .* resynced")
    check(len(begin) == 2 and len(agent) == 3 and len(known) == 2 and
          len(new) == 1 and len(end) == 2, "bracket lines: %r" % (
              [begin, agent, known, new, end],))
    check(begin[1] < min(agent) and max(agent) < min(known) and
          max(known) < new[0] < end[1],
          "the bracket out of order in %s's log: %r" % (
              server, [begin, agent, known, new, end]))
    check(not debug_lines(lab, server, r"refused.*FAILURE_(RESP|CONF) "
                          r"\d+$"), "%s refused a message" % server)
    c = lab.status(server)["cti"]["tasks"]
    check(c["resync"] == {"known": 0, "recreated": 3, "brackets": 2,
                          "agents": 3, "refused": 0, "ended_untold": 0} and
          c["tasks"] == 3 and
          c["refused"] == 0, "CTI counters: %r" % c)
    t = wait_for(lambda: app_tasks(lab)[own["dialogue"]]["task"], T,
                 "the app's own task has its TaskID")
    table = {tuple(k["task"]): k for k in
             lab.ctl(server, "cti")["tasks"]["table"]}
    check(tuple(t) in table and table[tuple(t)]["app"] and
          table[tuple(t)]["agent"] == own["agent"] and t[0] > 10 ** 9,
          "the app's task %r in the table: %r" % (t, table))

    # Routing back before the app's task ends: it is reported (not left
    # out, R15).
    lab.ctl("app", "fault", "pg-a", "up")
    lab.ctl("app", "fault", "pg-b", "up")
    wait_for(lambda: lab.status("app")["app"]["routing"], T,
             "app: routing on again")

    log("the router: states corrected, rows flagged Recreated")
    wait_for(lambda: router_mrd(lab, EMAIL) == {i: "active" for i in IDS},
             T, "router: the 3 agents ACTIVE in MRD 2")
    rows = lab.query("SELECT SkillTargetID, MRDomainID, Event, Rule, "
                     "Recreated FROM Agent_Event_Detail WHERE Recreated = 1 "
                     "ORDER BY SkillTargetID")
    check(rows == [(i, EMAIL, 4, "R19", 1) for i in IDS],
          "recreated Agent_Event_Detail rows: %r" % rows)
    wait_for(lambda: lab.query("SELECT COUNT(*) FROM "
                               "Termination_Call_Detail")[0][0] == 3, T,
             "3 Termination_Call_Detail rows")
    rows = lab.query("SELECT AgentSkillTargetID, PeripheralCallType, "
                     "CallDisposition, Recreated FROM Termination_Call_Detail"
                     " ORDER BY AgentSkillTargetID")
    check(sorted(r[1] for r in rows) == [25, 25, 26] and
          all(r[2] == 13 and r[3] == 1 for r in rows),
          "Termination_Call_Detail: %r" % rows)
    wait_for(lambda: router_mrd(lab, EMAIL) == {i: "available" for i in IDS}
             and arm(lab)["agents_available"] == AGENTS, T,
             "every agent available again in MRD 2")
    check(not lab.query("SELECT * FROM Agent_Logout"),
          "Agent_Logout rows: %r" % lab.query("SELECT * FROM Agent_Logout"))
    check(lab.ctl("router", "tasks")["counts"]["ended_recreated"] == 3,
          "router counts: %r" % lab.ctl("router", "tasks")["counts"])


run(test)

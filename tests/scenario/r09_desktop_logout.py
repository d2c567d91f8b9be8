"""R9: an agent whose desktop loses its desktop server is logged out of
every MRD of the peripheral (the voice MRD here), with reason code 50002.

Proves, with 20 desktops on desk-a (real pgemud processes, the CTI server
of the active PG side):
 * kill -9 of desk-a: the active CTI server loses desk-a's session and
   logs out every agent that session logged in: its cti_client_lost event
   (R9) and its log line, for 20 agents less those whose desktops reached
   desk-b before the server read desk-a's end (the kernel tells the
   sockets of a dead process one by one): those it moved, out with 50002
   then in (agent_moved, R10), so that the two count 20; one Agent_Logout
   row per agent with ReasonCode 50002 in the history database, and the
   agents node's desktop_lost event (R9) for the 20 desktops of desk-a;
 * `pgemuctl agents fault 1001 down`: desk-b (where the desktops went)
   logs 1001 alone out with 50002: its desktop_lost event (R9) naming
   1001, a new Agent_Logout row for 1001 with 50002, the router's and the
   ACD's JSON show 1001 logged out, the other agents logged in;
 * on a fresh lab, desk-a hung (kill -STOP): the desktops see it after
   their hold time and reach desk-b; the CTI server, whose session with
   desk-a is still alive, moves each agent: its agent_moved event (R10)
   for the 20, one Agent_Logout row per agent with 50002 (R9), every
   agent available again through desk-b; desk-a woken (kill -CONT) finds
   its desktops gone and logs their agents out (its desktop_lost, R9),
   which the CTI server refuses: they are signed on through desk-b now
   (the log line says so), every agent stays available, no new
   Agent_Logout row; `pgemuctl agents fault 1002 freeze` on that lab:
   desk-b hears nothing more from that desktop and logs 1002 out with
   50002 (R9).
"""
import signal

from pgemu_test import (check, desk_lab_online, ev, log, run, wait_for)

AGENTS = 20
IDS = list(range(1001, 1001 + AGENTS))


def active_cti(lab):
    for n in ("pg-a", "pg-b"):
        if lab.ctl(n, "cti")["active"]:
            return n
    return None


def logouts(lab, agent=None):
    return lab.query("SELECT SkillTargetID, ReasonCode FROM Agent_Logout" +
                     (" WHERE SkillTargetID = %d" % agent if agent else "") +
                     " ORDER BY SkillTargetID")


def test(Lab):
    lab = desk_lab_online(Lab, "r09", AGENTS)
    cti = wait_for(lambda: active_cti(lab), 5, "an active CTI server")
    check(lab.query("SELECT COUNT(*) FROM Agent_Logout")[0][0] == 0,
          "logout rows before any fault")
    wc = lab.watch(cti)
    wa = lab.watch("agents")
    lab.kill("desk-a")
    e = wc.wait(ev("cti_client_lost", client_id="desk-a"), 5,
                "%s: cti_client_lost of desk-a" % cti)
    check(e["rule"] == "R9" and 0 < e["agents"] <= AGENTS and
          e["reason_code"] == 50002, "cti_client_lost: %r" % e)
    lab.wait_log(cti, r'\[R9\] CTI client "desk-a" .* lost: .*; %d agents? '
                 r'it logged in logged out \(50002\)' % e["agents"])
    moved = 0
    while e["agents"] + moved < AGENTS:
        m = wc.wait(ev("agent_moved"), 5, "%s: agent_moved of the %d "
                    "others" % (cti, AGENTS - e["agents"] - moved))
        check(m["reason_code"] == 50002, "agent_moved: %r" % m)
        moved += m["agents"]
    check(e["agents"] + moved == AGENTS, "R9 for %d + %d agents, not %d" % (
        e["agents"], moved, AGENTS))
    e = wa.wait(ev("desktop_lost"), 5, "agents: desktop_lost")
    check(e["rule"] == "R9" and e["desktops"] == AGENTS and
          e["server"] == "desk-a", "desktop_lost: %r" % e)
    wait_for(lambda: len(logouts(lab)) >= AGENTS, 5,
             "20 Agent_Logout rows")
    rows = logouts(lab)
    check([r[0] for r in rows] == IDS and all(r[1] == 50002 for r in rows),
          "Agent_Logout after kill -9 of desk-a: %r" % rows)
    log("kill -9 desk-a: %s; 20 Agent_Logout rows, 50002" % e["message"])

    # The desktops went to desk-b, which logged their agents in again.
    wait_for(lambda: lab.ctl("agents", "status")["agents"]["states"] ==
             {"available": AGENTS}, 10, "the agents back, through desk-b")
    wb = lab.watch("desk-b")
    lab.ctl("agents", "fault", "1001", "down")
    e = wb.wait(ev("desktop_lost"), 5, "desk-b: desktop_lost")
    check(e["rule"] == "R9" and e["agents"] == [1001] and
          e["desktops"] == 1 and e["logged_out"] == 1 and
          e["reason_code"] == 50002, "desk-b desktop_lost: %r" % e)
    lab.wait_log("desk-b", r"\[R9\] 1 desktop lost \(1001: .*\): 1 agent "
                 r"logged out, reason 50002")
    wait_for(lambda: len(logouts(lab, 1001)) == 2, 5,
             "a second Agent_Logout row for 1001")
    check(all(r[1] == 50002 for r in logouts(lab, 1001)),
          "1001's rows: %r" % logouts(lab, 1001))
    check(len(logouts(lab)) == AGENTS + 1, "other agents logged out: %r" %
          logouts(lab))
    wait_for(lambda: {a["id"]: a for a in lab.ctl("router", "agents")}
             [1001]["state"] == "logout", 5, "router: 1001 logged out")
    ra = {a["id"]: a for a in lab.ctl("router", "agents")}
    check(all(ra[i]["logged_in"] for i in IDS[1:]), "router: others out")
    acd = {a["id"]: a for a in lab.ctl("acd", "agents")}
    check(acd[1001]["state"] == "logout" and acd[1001]["reason"] == 50002,
          "acd: 1001 %r" % acd[1001])
    log("agents fault 1001 down: %s" % e["message"])
    hung(Lab)


def hung(Lab):
    lab = desk_lab_online(Lab, "r09h", AGENTS)
    cti = wait_for(lambda: active_cti(lab), 5, "an active CTI server")
    wc = lab.watch(cti)
    lab.kill("desk-a", signal.SIGSTOP)
    try:
        moved = 0
        while moved < AGENTS:
            e = wc.wait(ev("agent_moved"), 10, "%s: agent_moved" % cti)
            check(e["rule"] == "R10" and e["reason_code"] == 50002,
                  "agent_moved: %r" % e)
            moved += e["agents"]
        check(moved == AGENTS, "%d agents moved, expected %d" % (
            moved, AGENTS))
        wait_for(lambda: len(logouts(lab)) >= AGENTS, 5,
                 "20 Agent_Logout rows")
        rows = logouts(lab)
        check([r[0] for r in rows] == IDS and
              all(r[1] == 50002 for r in rows),
              "Agent_Logout after kill -STOP of desk-a: %r" % rows)
        wait_for(lambda: lab.ctl("agents", "status")["agents"] ==
                 dict(lab.ctl("agents", "status")["agents"],
                      servers={"desk-b": AGENTS},
                      states={"available": AGENTS}), 10,
                 "every desktop on desk-b, available")
        log("kill -STOP desk-a: %d agents moved to desk-b (R9 50002, R10)"
            % moved)
        lab.kill("desk-a", signal.SIGCONT)
        # Its events from its ring: it reads its desktops' ends at once.
        e = wait_for(lambda: next((x for x in lab.ctl("desk-a", "events",
                                                      "100")
                                   if x.get("event") == "desktop_lost"),
                                  None), 5, "desk-a: desktop_lost, woken")
        wait_for(lambda: lab.grep_log(cti, r'by client "desk-a" ') or
                 len(logouts(lab)) > AGENTS, 5, "desk-a's logouts answered")
        check(len(logouts(lab)) == AGENTS, "desk-a's late R9 logged agents "
              "out again: %r" % logouts(lab))
        acd = lab.ctl("acd", "agents")
        check(all(a["state"] == "available" for a in acd),
              "desk-a's late R9 reached the ACD: %r" % [
                  (a["id"], a["state"]) for a in acd
                  if a["state"] != "available"])
        lab.wait_log(cti, r'LOGOUT of agent \d+ by client "desk-a" '
                     r'refused: it is signed on through client "desk-b"')
        log("desk-a woken: its R9 for %d desktops refused, every agent "
            "available through desk-b" % e["desktops"])
        wb = lab.watch("desk-b")
        lab.ctl("agents", "fault", "1002", "freeze")
        e = wb.wait(ev("desktop_lost"), 5, "desk-b: desktop_lost of 1002")
        check(e["agents"] == [1002] and e["reason_code"] == 50002,
              "desk-b desktop_lost: %r" % e)
        wait_for(lambda: len(logouts(lab, 1002)) == 2, 5,
                 "a second Agent_Logout row for 1002")
        check(all(r[1] == 50002 for r in logouts(lab, 1002)),
              "1002's rows: %r" % logouts(lab, 1002))
        log("agents fault 1002 freeze: %s" % e["message"])
    finally:
        lab.kill("desk-a", signal.SIGCONT)


if __name__ == "__main__":
    run(test)

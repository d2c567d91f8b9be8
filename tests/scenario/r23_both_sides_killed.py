"""R23 then R6: the ACD killed (no PIM serves the peripheral, a side's
CTI server keeps the non-voice MRD states), then both PG sides killed
(kill -9): nobody keeps them any more.  3 agents in MRDs 1 (voice), 2
(email) and 3 (chat) with their desktops.  Four rounds, each in a lab of
its own, the router:

 0. up all along;
 1. killed (kill -9) and started again between the ACD's death and the
    PG sides': it learns from the keeper's report that R23 is in effect;
 2. killed before the PG sides, started again while they are gone: it
    knows R23 was in effect from its history (no PIM held, non-voice
    sessions open), and no side says it keeps the states in the time a
    side alive takes to reach it;
 3. killed before the PG sides, started again after them and the ACD:
    the new PIM's snapshot has the agents signed out of the chat MRD.

Proves, in each:
 * the ACD killed: the voice MRD logged out (R3, -1), the non-voice
   logins kept (media_kept, R23), a side named as their keeper;
 * both PG sides killed: the agents' PG stopped, nobody keeps the chat
   states: the router logs the chat MRD out (Agent_Logout rows of MRD 3
   with 50002 and R6; in round 0 and 1 at once: agents_logged_out R6,
   logout_reason R7), not the email MRD (R19: logged in all along);
 * the ACD and both sides started again: the peripheral online, and
   never an Agent_Logout row without its rule, of MRD 2, or a second of
   an agent in MRD 3 (the chat logins were not left for the next PIM's
   snapshot to log out with no rule).
"""
import signal

from pgemu_test import (DEFAULT_NODES, FAST, SLOW, check, ev, log, periph,
                        run, wait_for, wait_online)

AGENTS = 3
IDS = (1001, 1002, 1003)
T = 10 * SLOW
MRDS = ('{ id = 1; name = "Cisco_Voice"; media = "voice"; },\n'
        '  { id = 2; name = "Email"; media = "email"; max_tasks = 5;'
        ' task_life = 60; },\n'
        '  { id = 3; name = "Chat"; media = "chat"; max_tasks = 2; }')


def logged_in(lab, mrd):
    return {a["id"]: a["logged_in"] for a in lab.ctl("router", "agents")
            if a["mrd"] == mrd and a["id"] in IDS}


def logouts(lab):
    return lab.query("SELECT SkillTargetID, MRDomainID, ReasonCode, Rule "
                     "FROM Agent_Logout ORDER BY MRDomainID, SkillTargetID")


def round_(Lab, mode):
    lab = Lab("r23both%d" % mode, agents=AGENTS, desktops=True,
              media=True,
              agent_mrds=[1, 2, 3], mrds=MRDS, hb_desktop=(100, 3),
              **FAST)
    lab.start_all()
    lab.wait_links_up(DEFAULT_NODES)
    wait_online(lab, 10, agents=AGENTS)
    every = {i: True for i in IDS}
    want = ([(i, 1, -1, "R3") for i in IDS] +
            [(i, 3, 50002, "R6") for i in IDS])
    wait_for(lambda: logged_in(lab, 2) == every and
             logged_in(lab, 3) == every, T,
             "every agent signed in to MRDs 2 and 3")

    log("the ACD killed: voice out (R3), non-voice kept (R23)")
    wr = lab.watch("router")
    lab.kill("acd", signal.SIGKILL)
    e = wr.wait(ev("agents_logged_out"), T, "router: agents_logged_out")
    check(e["rule"] == "R3", "router: %r" % e)
    wr.wait(ev("media_kept", rule="R23"), T, "router: media_kept")
    wait_for(lambda: periph(lab)["media_keeper"] is not None, T,
             "router: a side keeps the non-voice states")
    if mode == 1:
        # Its history written first: the router started again does not
        # learn R23 from a PIM it would think still held.
        wait_for(lambda: logouts(lab) == want[:AGENTS], T,
                 "Agent_Logout: voice R3")
        log("the router killed and started again")
        lab.kill("router", signal.SIGKILL)
        lab.start("router")
        wr = lab.watch("router")
        wait_for(lambda: periph(lab)["media_keeper"] is not None and
                 periph(lab)["media_kept"], T,
                 "the router started again: a side keeps the non-voice "
                 "states")

    if mode >= 2:
        # Its history written first, as above.
        wait_for(lambda: logouts(lab) == want[:AGENTS], T,
                 "Agent_Logout: voice R3")
        log("the router killed, then both PG sides")
        lab.kill("router", signal.SIGKILL)
    log("both PG sides killed: nobody keeps them; chat out (R6), email "
        "in (R19)")
    lab.kill("pg-a", signal.SIGKILL)
    lab.kill("pg-b", signal.SIGKILL)
    if mode <= 1:
        e = wr.wait(ev("agents_logged_out", rule="R6"), T,
                    "router: agents_logged_out R6")
        check(e["agents"] == AGENTS and e["reason_code"] == 50002,
              "router: %r" % e)
        wr.wait(ev("logout_reason", rule="R7"), T,
                "router: logout_reason R7")
    elif mode == 2:
        log("the router started again while no side runs")
        lab.start("router")
        wait_for(lambda: logouts(lab) == want, T,
                 "Agent_Logout: voice R3, chat R6 50002")
        check("no PG side keeps the non-voice MRD states since the router "
              "started" in lab.log_text("router"), "router's log: no R6 "
              "line for the states nobody keeps")
    else:
        log("both sides and the ACD started again, then the router")
        lab.start("acd")
        lab.start("pg-a")
        lab.start("pg-b")
        lab.start("router")
        wait_online(lab, T)
        wait_for(lambda: logouts(lab) == want, T,
                 "Agent_Logout: voice R3, chat R6 50002 (the new PIM's "
                 "snapshot)")
        check("not in the snapshot of the PIM that serves it now" in
              lab.log_text("router"), "router's log: no R6 line for the "
              "logins the snapshot has not")
    if mode <= 2:
        check(logged_in(lab, 3) == {i: False for i in IDS} and
              logged_in(lab, 2) == every, "router: chat %r, email %r" % (
                  logged_in(lab, 3), logged_in(lab, 2)))
        wait_for(lambda: logouts(lab) == want, T,
                 "Agent_Logout: voice R3, chat R6 50002")
        log("the ACD and both sides back")
        lab.start("acd")
        lab.start("pg-a")
        lab.start("pg-b")
    wait_online(lab, T)
    wait_for(lambda: logged_in(lab, 1) == every, T,
             "every agent back in the voice MRD")
    check(logged_in(lab, 2) == every, "router, email: %r" %
          logged_in(lab, 2))
    rows = logouts(lab)
    check(rows == want, "Agent_Logout: %r, want %r (none without its "
          "rule, none of MRD 2, one per agent of MRD 3)" % (rows, want))
    for n in list(lab.nodes):
        lab.stop(n)


def test(Lab):
    for mode in range(4):
        round_(Lab, mode)


run(test)

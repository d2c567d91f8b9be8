"""Media routing: the router's task table and its history, from the
TASK_EVENTs a CTI server sends (here a fake side B on the router's port:
pg-b is not started), with the fake application on the app node's port
and 3 agents in MRDs 1 and 2 (task_start_timeout 2 s).

Proves:
 * a routed task's OFFER, START, END: one Termination_Call_Detail row
   (PeripheralID the agent's peripheral, MRDomainID, AgentSkillTargetID,
   RouterCallKeyDay/RouterCallKey of its TaskID, PeripheralCallType 25,
   CallDisposition 13, CallDispositionFlag 1, StartDateTime, Duration,
   DialogueID); the task table empty again;
 * the router reads the lab file again (its MRDs and routes: a reload
   frees the old ones) and routes on;
 * a task that started is not released when task_start_timeout passes
   (one routed after it and never started is: RONA, CallDisposition 19);
 * an END told again (a cached one resent), before or after the router
   forgot the task: still one row; `router tasks` counts the duplicate;
 * the application's own task (TASKF_APP_ROUTED, no TaskID): a row with
   PeripheralCallType 26;
 * an application task assigned and ended while routing was down
   (TASKF_ROUTING_DOWN | TASKF_ENDED_DOWN): no Termination_Call_Detail,
   one pgemu_left_out row and tasks_left_out, R15 while the MR peripheral
   was online (the application's own path was down), R17 for one that
   began while the router was down (told after it came back);
 * a ROUTE_TASK from side B, whose MR PIM is not the active one: logged,
   dropped, counted;
 * a TASK_EVENT with an unknown code is a bad message: the router closes
   that link and says why.
"""
import time

from fake_app import (DO_THIS_WITH_TASK, EV_APP_OFFER, EV_APP_START,
                      EV_END, EV_OFFER, EV_START, ROUTE_TASK, TASK_EVENT,
                      TASKF_APP_ROUTED, TASKF_CACHED, TASKF_ENDED_DOWN,
                      TASKF_ROUTING_DOWN, FakeApp, Peer)
from pgemu_test import (FAST, check, dbtime, ev, log, run, wait_for,
                        wait_online)

AGENTS = 3
EMAIL = 2
MRDS = ('{ id = 1; name = "Cisco_Voice"; media = "voice"; },\n'
        '  { id = 2; name = "Email"; media = "email"; max_tasks = 5;'
        ' task_start_timeout = 2; }')


def counts(lab):
    return lab.ctl("router", "tasks")["counts"]


def tcd(lab, dialogue):
    return lab.query("SELECT PeripheralID, MRDomainID, AgentSkillTargetID, "
                     "RouterCallKeyDay, RouterCallKey, PeripheralCallType, "
                     "CallDisposition, CallDispositionFlag, StartDateTime, "
                     "Duration, DateTime FROM Termination_Call_Detail "
                     "WHERE DialogueID = ?", (dialogue,))


def event(side, code, dialogue, agent, task=(0, 0, 0), flags=0, when=None):
    """A TASK_EVENT of the agents' peripheral, as a CTI server sends it."""
    side.send_task(TASK_EVENT, peripheral=5000, dialogue=dialogue, mrd=EMAIL,
                   agent=agent, task=task, code=code, flags=flags,
                   when=int(when if when is not None else time.time()))


def route(p, app, dialogue):
    m0 = p.mark()
    app.new_task(dialogue)
    m = p.wait(lambda m: m["type"] == DO_THIS_WITH_TASK and
               m["dialogue"] == dialogue, 5, "DO_THIS of %d" % dialogue, m0)
    return m


def side_b(lab):
    """A fake side B on the router's port: its router link, heartbeats."""
    return Peer.connect(lab.ports["router"], "pg-b", lab.name, hb_ms=20,
                        side="B", key=lab.key())


def test(Lab):
    lab = Lab("mrtasks", agents=AGENTS, desktops=True, media=True,
              agent_mrds=[1, EMAIL], mrds=MRDS, hb_desktop=(100, 3), **FAST)
    app = FakeApp(lab.ports["app"], lab.name, lab.key)
    sides = []
    try:
        body(lab, app, sides)
    finally:
        for s in sides:
            s.close()
        app.close()


def body(lab, app, sides):
    for n in ("router", "acd", "pg-a", "desk-a", "desk-b", "agents"):
        lab.start(n)
    b = side_b(lab)
    sides.append(b)
    wait_online(lab, 10, agents=AGENTS)
    wait_for(lambda: lab.status("router")["media_routing"]["online"], 10,
             "MR peripheral online")
    wait_for(lambda: all(a["state"] == "available" for a in
                         lab.ctl("router", "agents") if a["mrd"] == EMAIL),
             10, "agents available in MRD 2")
    p = app.peer("pg-a")

    log("a routed task's life, its Termination_Call_Detail")
    r = route(p, app, 1)
    t0 = int(time.time())
    event(b, EV_OFFER, 1, r["agent"], r["task"], when=t0)
    event(b, EV_START, 1, r["agent"], r["task"], when=t0 + 1)
    event(b, EV_END, 1, r["agent"], r["task"], when=t0 + 8)
    wait_for(lambda: tcd(lab, 1), 5, "Termination_Call_Detail of 1")
    check(tcd(lab, 1) == [(5000, EMAIL, r["agent"], r["task_high"],
                           r["task_low"], 25, 13, 1, dbtime(t0 + 1), 7,
                           dbtime(t0 + 8))], "TCD of 1: %r" % tcd(lab, 1))
    c = counts(lab)
    check(c["ended"] == 1 and c["in_progress"] == 0 and
          lab.ctl("router", "tasks")["tasks"] == [], "counts: %r" % c)

    log("the lab file read again: the router routes on")
    lab.ctl("router", "reload")

    log("started: not released at task_start_timeout")
    r2 = route(p, app, 2)
    event(b, EV_START, 2, r2["agent"], r2["task"])
    wait_for(lambda: [t for t in lab.ctl("router", "tasks")["tasks"]
                      if t["dialogue"] == 2 and t["state"] == "started"],
             5, "task of 2 started")
    # Routed after it and never started: its release (RONA) says that
    # task_start_timeout has passed for task 2 too.
    r4 = route(p, app, 4)
    wait_for(lambda: counts(lab)["rona"] == 1, 5, "task of 4 released")
    check(tcd(lab, 4)[0][5:8] == (25, 19, 2), "TCD of 4: %r" % tcd(lab, 4))
    tasks = lab.ctl("router", "tasks")["tasks"]
    check([(t["dialogue"], t["state"], t["agent"]) for t in tasks] ==
          [(2, "started", r2["agent"])] and r4["agent"] != r2["agent"],
          "tasks: %r" % tasks)
    event(b, EV_END, 2, r2["agent"], r2["task"])
    wait_for(lambda: tcd(lab, 2), 5, "Termination_Call_Detail of 2")

    log("an END told again: one row")
    r3 = route(p, app, 3)
    event(b, EV_START, 3, r3["agent"], r3["task"])
    event(b, EV_START, 3, r3["agent"], r3["task"], flags=TASKF_CACHED)
    wait_for(lambda: counts(lab)["task_events_duplicate"] == 1, 5,
             "the START told again counted a duplicate")
    event(b, EV_END, 3, r3["agent"], r3["task"])
    event(b, EV_END, 3, r3["agent"], r3["task"], flags=TASKF_CACHED)
    event(b, EV_END, 1, r["agent"], r["task"], flags=TASKF_CACHED,
          when=t0 + 8)
    wait_for(lambda: counts(lab)["task_events"] == 10, 5,
             "10 TASK_EVENTs in")
    wait_for(lambda: tcd(lab, 3), 5, "Termination_Call_Detail of 3")
    check(len(tcd(lab, 1)) == 1 and len(tcd(lab, 3)) == 1,
          "rows of 1: %r; of 3: %r" % (tcd(lab, 1), tcd(lab, 3)))

    log("the application's own task: PeripheralCallType 26")
    event(b, EV_APP_OFFER, 500, 1001, flags=TASKF_APP_ROUTED)
    event(b, EV_APP_START, 500, 1001, flags=TASKF_APP_ROUTED)
    event(b, EV_END, 500, 1001, flags=TASKF_APP_ROUTED)
    wait_for(lambda: tcd(lab, 500), 5, "Termination_Call_Detail of 500")
    check(tcd(lab, 500)[0][:8] == (5000, EMAIL, 1001, 0, 0, 26, 13, 1),
          "TCD of 500: %r" % tcd(lab, 500))

    log("R15: assigned and ended while the application's path was down")
    wr = lab.watch("router")
    down = TASKF_APP_ROUTED | TASKF_ROUTING_DOWN
    event(b, EV_APP_OFFER, 501, 1002, (7, 501, 0), flags=down)
    event(b, EV_APP_START, 501, 1002, (7, 501, 0), flags=down)
    event(b, EV_END, 501, 1002, (7, 501, 0), flags=down | TASKF_ENDED_DOWN)
    e = wr.wait(ev("tasks_left_out"), 5, "tasks_left_out")
    check(e["rule"] == "R15" and e["count"] == 1 and e["dialogues"] == [501],
          "tasks_left_out: %r" % e)
    wr.stop()
    # Written before the kill: a row still queued then is lost (and
    # recorded so, history_lost), not what this test is about.
    wait_for(lambda: lab.query("SELECT COUNT(*) FROM pgemu_left_out WHERE "
                               "DialogueID = 501")[0][0] == 1, 5,
             "the pgemu_left_out row of 501 written")

    log("R17: assigned and ended while the router was down")
    lab.kill("router")
    lab.reap("router")
    b.close()
    t_down = int(time.time())
    lab.start("router")
    b = side_b(lab)
    sides.append(b)
    wr = lab.watch("router")
    for code in (EV_APP_OFFER, EV_APP_START, EV_END):
        event(b, code, 502, 1003, (7, 502, 0), when=t_down,
              flags=down | TASKF_CACHED |
              (TASKF_ENDED_DOWN if code == EV_END else 0))
    e = wr.wait(ev("tasks_left_out"), 5, "tasks_left_out")
    check(e["rule"] == "R17" and e["dialogues"] == [502],
          "tasks_left_out: %r" % e)
    wr.stop()
    wait_for(lambda: lab.query("SELECT DialogueID, Rule, Flags, "
                               "AgentSkillTargetID, TaskGroupLow FROM "
                               "pgemu_left_out ORDER BY DialogueID") ==
             [(501, "R15", 14, 1002, 501), (502, "R17", 30, 1003, 502)], 5,
             "pgemu_left_out rows of 501 (R15), 502 (R17)")
    check(tcd(lab, 501) == [] and tcd(lab, 502) == [],
          "a task left out has a Termination_Call_Detail row")

    log("a ROUTE_TASK from side B, not the MR-active side: dropped")
    wait_for(lambda: lab.status("router")["media_routing"]["online"], 10,
             "MR peripheral online")
    epoch = lab.status("router")["media_routing"]["epoch"]
    b.send_task(ROUTE_TASK, peripheral=5001, epoch=epoch, dialogue=900,
                mrd=EMAIL, selector="Email")
    wait_for(lambda: counts(lab)["dropped"] == 1, 5, "ROUTE_TASK dropped")
    check(counts(lab)["received"] == 0, "counts: %r" % counts(lab))
    lab.wait_log("router", r"NEW_TASK of dialogue 900 from side B dropped")

    log("a TASK_EVENT with an unknown code: the link closed")
    event(b, 9, 600, 1001, (7, 600, 0))
    wait_for(lambda: b.closed, 5, "the router closes side B's link")
    lab.wait_log("router", r"TASK_EVENT: unknown code 9")


run(test)

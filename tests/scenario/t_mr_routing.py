"""Media routing: the MR PIM of each PG side and routing at the router,
against a fake application (fake_app.py) on the app node's port, with 3
agents signed in to MRDs 1 (voice) and 2 (email) by their desktops.
MRD 2: task_start_timeout 5 s, max_tasks_in_queue 2, max_time_in_queue
2 s; route "Email" -> MRD 2, skill group 100.

Proves:
 * one side's MR PIM is granted and activated with an epoch (the app sees
   PIM_ACTIVATE with the router's token of the grant, accepts it), then
   ROUTING_ENABLED (no rule); the router
   shows the MR peripheral online with that side active;
 * NEW_TASK is routed to the agent AVAILABLE in MRD 2 for the longest
   time, who becomes RESERVED there at once (router real-time table, the
   agent's desktop), DO_THIS_WITH_TASK carries the agent and a TaskID
   (RouterCallKeyDay, RouterCallKey); the next goes to another agent;
 * a resend (TASKF_RESEND) of a routed dialogue is answered as before (same
   TaskID and agent), not routed twice; without the flag it fails
   DUPLICATE; a bad selector fails BAD_SELECTOR, an unknown or voice MRD
   BAD_MRD;
 * no agent available (desktops stopped): requests wait in MRD 2's queue
   (`router tasks`), a third fails NO_AGENT at once, the two fail NO_AGENT
   after max_time_in_queue; queued requests are routed oldest first when
   the agents come back;
 * a routed task that does not start within task_start_timeout is
   released (RONA): Termination_Call_Detail with CallDisposition 19, the
   agent available again;
 * R12: the application goes with requests queued: the MR PIM's
   mr_path_lost, the router's tasks_discarded (R12) naming them and one
   pgemu_task_discard row each; the application back: a new activation
   with a higher epoch, ROUTING_ENABLED, the MR peripheral online (R14);
 * R16: kill -9 of the router: ROUTING_DISABLED (routing_disabled, R16),
   NEW_TASK fails ROUTING_DOWN at once (new_task_failed, R16); R17: the
   router back, ROUTING_ENABLED (routing_enabled, R17), agents it reserved
   before it died released by their side, new TaskIDs past the old ones;
 * `pgemuctl NODE stop mr-pim` of the MR-active side with a request
   queued: PIM_DEACTIVATE to the app, tasks_discarded (R12) at the
   router, the other side's MR PIM activated with a higher epoch (the app
   sees its PIM_ACTIVATE), ROUTING_ENABLED from it; `start mr-pim`: the
   side a candidate again;
 * kill -9 of the MR-active side with a request queued: tasks_discarded
   (R17), the MR PIM back on the first side with a higher epoch;
 * Route_Call_Detail: one row per NEW_TASK the router answered (routed or
   failed; a resend answered as before adds none), with its error code.
"""
import time

from fake_app import (DO_THIS_WITH_TASK, FAIL_BAD_MRD, FAIL_BAD_SELECTOR,
                      FAIL_DUPLICATE, FAIL_NO_AGENT, FAIL_ROUTING_DOWN,
                      NEW_TASK_FAILURE, PIM_ACTIVATE, PIM_DEACTIVATE,
                      ROUTING_DISABLED,
                      ROUTING_ENABLED, TASKF_RESEND, FakeApp)
from pgemu_test import (DEFAULT_NODES, FAST, check, ev, find_event,
                        grant_token, log, node_of, other, run, wait_for,
                        wait_online)

AGENTS = 3
IDS = list(range(1001, 1001 + AGENTS))
EMAIL = 2
MR = 5001
MRDS = ('{ id = 1; name = "Cisco_Voice"; media = "voice"; },\n'
        '  { id = 2; name = "Email"; media = "email"; max_tasks = 5;'
        ' task_start_timeout = 5; max_tasks_in_queue = 2;'
        ' max_time_in_queue = 2; }')


def email(lab):
    """{agent: its router entry in MRD 2}."""
    return {a["id"]: a for a in lab.ctl("router", "agents")
            if a["mrd"] == EMAIL}


def all_available(lab):
    return all(a["state"] == "available" and a["logged_in"]
               for a in email(lab).values())


def longest_available(lab):
    """The agents AVAILABLE in MRD 2 the longest: within 50 ms of the
    longest (each entry's seconds are read at its own instant; agents who
    logged in together are tied)."""
    av = [a for a in email(lab).values() if a["state"] == "available"]
    top = max(a["seconds_in_state"] for a in av)
    return {a["id"] for a in av if a["seconds_in_state"] >= top - 0.05}


def mr_status(lab):
    return lab.status("router")["media_routing"]


def tasks(lab):
    return lab.ctl("router", "tasks")


def answer(peer, dialogue, since, timeout=5):
    """The app's answer to a dialogue: DO_THIS_WITH_TASK or
    NEW_TASK_FAILURE, received after mark since."""
    return peer.wait(lambda m: m["type"] in (DO_THIS_WITH_TASK,
                                             NEW_TASK_FAILURE) and
                     m["dialogue"] == dialogue, timeout,
                     "answer to dialogue %d" % dialogue, since)


def routed(peer, app, dialogue, **kw):
    m0 = peer.mark()
    app.new_task(dialogue, **kw)
    m = answer(peer, dialogue, m0)
    check(m["type"] == DO_THIS_WITH_TASK, "dialogue %d not routed: %r" % (
        dialogue, m))
    return m


def failed(peer, app, dialogue, code, **kw):
    m0 = peer.mark()
    app.new_task(dialogue, **kw)
    m = answer(peer, dialogue, m0)
    check(m["type"] == NEW_TASK_FAILURE and m["code"] == code,
          "dialogue %d: expected failure %d, got %r" % (dialogue, code, m))
    return m


def activated(lab, app, timeout=10):
    """The router's MR peripheral online; (its active node, the app's
    connection to it, the epoch), once that MR PIM said ROUTING_ENABLED."""
    st = wait_for(lambda: (lambda s: s if s["online"] else None)(
        mr_status(lab)), timeout, "router: MR peripheral online")
    node = node_of(st["active_side"])
    p = wait_for(lambda: app.peer(node), 5, "app: %s connected" % node)
    act = p.wait(lambda m: m["type"] == PIM_ACTIVATE and
                 m["a"] == st["epoch"], 5, "PIM_ACTIVATE epoch %d from %s" %
                 (st["epoch"], node))
    check(act["token"] == grant_token(lab.key(), MR, st["epoch"],
                                      st["active_side"]),
          "PIM_ACTIVATE of %s without the router's token of the grant: %r"
          % (node, act))
    p.wait(lambda m: m["type"] == ROUTING_ENABLED, 5, "ROUTING_ENABLED")
    return node, p, st["epoch"]


def failover(lab, app, wr, old, new, epoch, queued, rule, how):
    """The MR PIM of old given up by how() with the request queued
    waiting: tasks_discarded (rule) naming it, new's MR PIM activated
    with an epoch above epoch, ROUTING_ENABLED from it, the router's MR
    peripheral online with it.  (The new epoch, the app's peer new.)"""
    pn = app.peer(new)
    mark, m0 = wr.mark(), pn.mark()
    how()
    e = wr.wait(ev("tasks_discarded"), 5, "tasks_discarded", mark)
    check(e["rule"] == rule and e["dialogues"] == [queued],
          "tasks_discarded: %r" % e)
    act = pn.wait(lambda m: m["type"] == PIM_ACTIVATE, 10,
                  "PIM_ACTIVATE from %s" % new, m0)
    check(act["a"] > epoch and act["b"] == MR, "activation of %s: %r" % (
        new, act))
    pn.wait(lambda m: m["type"] == ROUTING_ENABLED, 5,
            "ROUTING_ENABLED from %s" % new, m0)
    check(app.holder == new and (new, act["a"], True) in app.activations,
          "app: holder %s, activations %r" % (app.holder, app.activations))
    st = wait_for(lambda: (lambda s: s if s["online"] and
                           s["epoch"] == act["a"] else None)(
        mr_status(lab)), 5, "MR online with epoch %d" % act["a"])
    check(node_of(st["active_side"]) == new, "router: %r" % st)
    return act["a"], pn


def test(Lab):
    lab = Lab("mr", agents=AGENTS, desktops=True, media=True,
              agent_mrds=[1, EMAIL], mrds=MRDS, hb_desktop=(100, 3), **FAST)
    app = FakeApp(lab.ports["app"], lab.name, lab.key)
    try:
        body(lab, app)
    finally:
        app.close()


def body(lab, app):
    nodes = [n for n in lab.nodes if n != "app"]
    lab.start_all(nodes)
    lab.wait_links_up(DEFAULT_NODES)
    wait_online(lab, 10, agents=AGENTS)
    wait_for(lambda: all_available(lab), 10, "agents available in MRD 2")

    log("activation: one MR PIM, an epoch, ROUTING_ENABLED")
    x, p, e1 = activated(lab, app)
    check(e1 >= 1 and app.activations == [(x, e1, True)],
          "activations: %r (epoch %d)" % (app.activations, e1))
    mx, my = lab.status(x)["mr"], lab.status(other(x))["mr"]
    check(mx["state"] == "ACTIVE" and mx["epoch"] == e1 and
          mx["routing_enabled"], "%s mr: %r" % (x, mx))
    check(my["state"] == "IDLE" and my["link"] == "UP" and
          not my["routing_enabled"], "%s mr: %r" % (other(x), my))
    e = find_event(lab, x, ev("routing_enabled", peripheral=MR),
                   "routing_enabled")
    check(e["rule"] is None, "first routing_enabled: %r" % e)

    log("routing: the longest available, RESERVED, a TaskID")
    want = longest_available(lab)
    r1 = routed(p, app, 1)
    check(r1["agent"] in want and r1["mrd"] == EMAIL and
          r1["agent_periph"] == 5000 and r1["peripheral"] == MR and
          r1["task_high"] == int(time.time() // 86400) and
          r1["task_low"] >= 1 and r1["task_seq"] == 0,
          "DO_THIS_WITH_TASK %r, expected an agent of %r" % (r1, want))
    a1 = r1["agent"]
    check(email(lab)[a1]["state"] == "reserved",
          "router: %d not reserved in MRD 2: %r" % (a1, email(lab)[a1]))
    wait_for(lambda: {m["mrd"]: m["state"] for m in lab.ctl(
        "agents", "agent", str(a1))["mrds"]}.get(EMAIL) == "reserved",
        5, "agents: %d reserved in MRD 2" % a1)

    r1b = routed(p, app, 1, flags=TASKF_RESEND)
    check(r1b["task"] == r1["task"] and r1b["agent"] == r1["agent"],
          "resend answered %r, first %r" % (r1b, r1))
    failed(p, app, 1, FAIL_DUPLICATE)
    failed(p, app, 2, FAIL_BAD_SELECTOR, selector="Chat")
    failed(p, app, 3, FAIL_BAD_MRD, mrd=7)
    failed(p, app, 4, FAIL_BAD_MRD, mrd=1)
    c = tasks(lab)["counts"]
    check(c["routed"] == 1 and c["resends_answered"] == 1 and
          c["failed_by"]["duplicate"] == 1, "counts: %r" % c)

    want2 = longest_available(lab)
    check(a1 not in want2, "next pick %r: the agent just reserved" % want2)
    r10 = routed(p, app, 10)
    check(r10["agent"] in want2 and r10["task_low"] > r1["task_low"],
          "dialogue 10: %r, expected an agent of %r" % (r10, want2))
    r11 = routed(p, app, 11)
    check(sorted({r1["agent"], r10["agent"], r11["agent"]}) == IDS,
          "three tasks, three agents: %r" % [r1, r10, r11])

    log("queue: no agent, the limits")
    lab.stop("agents")
    wait_for(lambda: all(not a["logged_in"] for a in email(lab).values()),
             5, "MRD 2 logged out")
    m0 = p.mark()
    t_q = time.monotonic()
    app.new_task(12)
    app.new_task(13)
    wait_for(lambda: [q["dialogue"] for q in tasks(lab)["queued"]] ==
             [12, 13], 5, "router tasks: 12, 13 queued")
    q = tasks(lab)["queued"][0]
    check(q["state"] == "queued" and q["mrd"] == EMAIL and
          q["selector"] == "Email" and 0 < q["time_left_s"] <= 2 and
          "fails (no agent)" in q["fate"], "queued: %r" % q)
    failed(p, app, 14, FAIL_NO_AGENT)
    for d in (12, 13):
        f = answer(p, d, m0)
        check(f["type"] == NEW_TASK_FAILURE and f["code"] == FAIL_NO_AGENT,
              "dialogue %d: %r" % (d, f))
        check(f["at"] - t_q >= 1.8, "dialogue %d failed after %.2f s" % (
            d, f["at"] - t_q))

    log("RONA: not started in task_start_timeout")
    wait_for(lambda: tasks(lab)["counts"]["rona"] == 3, 8,
             "router: 3 tasks released (RONA)")
    rows = lab.query("SELECT DialogueID, CallDisposition, "
                     "CallDispositionFlag, PeripheralCallType, PeripheralID,"
                     " MRDomainID, AgentSkillTargetID, RouterCallKeyDay, "
                     "RouterCallKey FROM Termination_Call_Detail "
                     "ORDER BY DialogueID")
    check([r[0] for r in rows] == [1, 10, 11] and
          all(r[1:6] == (19, 2, 25, 5000, EMAIL) for r in rows) and
          rows[0][6:] == (r1["agent"], r1["task_high"], r1["task_low"]),
          "Termination_Call_Detail: %r" % rows)
    check(tasks(lab)["tasks"] == [], "tasks left: %r" % tasks(lab)["tasks"])

    log("queued requests routed oldest first when agents come back")
    m0 = p.mark()
    app.new_task(15)
    app.new_task(16)
    wait_for(lambda: len(tasks(lab)["queued"]) == 2, 5, "15, 16 queued")
    lab.start("agents")
    a15, a16 = answer(p, 15, m0, 10), answer(p, 16, m0, 10)
    check(a15["type"] == a16["type"] == DO_THIS_WITH_TASK and
          a15["at"] <= a16["at"] and a15["task_low"] < a16["task_low"],
          "15, 16: %r %r" % (a15, a16))
    wait_for(lambda: sum(a["state"] == "available" for a in
                         email(lab).values()) == 1, 5, "one agent left")
    routed(p, app, 30)

    log("R12: the application goes with requests queued")
    wr = lab.watch("router")
    wx = lab.watch(x)
    m0 = p.mark()
    app.new_task(31)
    app.new_task(32)
    wait_for(lambda: len(tasks(lab)["queued"]) == 2, 5, "31, 32 queued")
    mark = wr.mark()
    app.disconnect()
    e = wr.wait(ev("tasks_discarded"), 5, "tasks_discarded", mark)
    check(e["rule"] == "R12" and e["count"] == 2 and
          e["dialogues"] == [31, 32] and e["peripheral"] == MR,
          "tasks_discarded: %r" % e)
    e = wr.wait(ev("peripheral_offline", peripheral=MR), 5, "MR offline",
                mark)
    check(e["rule"] == "R12", "peripheral_offline: %r" % e)
    e = wx.wait(ev("mr_path_lost"), 5, "mr_path_lost")
    check(e["rule"] == "R12", "mr_path_lost: %r" % e)
    wait_for(lambda: lab.query(
        "SELECT DialogueID, MRDomainID, Selector, Rule, PeripheralID FROM "
        "pgemu_task_discard ORDER BY DialogueID") == [
            (31, EMAIL, "Email", "R12", MR), (32, EMAIL, "Email", "R12", MR)],
        5, "pgemu_task_discard rows of 31, 32 (R12)")
    check(tasks(lab)["counts"]["discarded"] == 2, "discarded count")

    log("the application back: a new activation")
    app.listen()
    x2, p, e2 = activated(lab, app)
    check(e2 > e1, "epoch %d after %d" % (e2, e1))
    e = wr.wait(ev("peripheral_online", peripheral=MR), 5, "MR online")
    check(e["rule"] == "R14", "peripheral_online: %r" % e)
    wr.stop()
    wx.stop()

    log("R16: the router killed")
    wx = lab.watch(x2)
    m0 = p.mark()
    lab.kill("router")
    lab.reap("router")
    p.wait(lambda m: m["type"] == ROUTING_DISABLED, 5, "ROUTING_DISABLED",
           m0)
    e = wx.wait(ev("routing_disabled"), 5, "routing_disabled")
    check(e["rule"] == "R16", "routing_disabled: %r" % e)
    f = failed(p, app, 40, FAIL_ROUTING_DOWN)
    check(f["at"] - p.find(lambda m: m["type"] == ROUTING_DISABLED,
                           m0)["at"] < 2, "failure not at once")
    e = wx.wait(ev("new_task_failed", dialogue=40), 5, "new_task_failed")
    check(e["rule"] == "R16" and e["code"] == FAIL_ROUTING_DOWN,
          "new_task_failed: %r" % e)

    log("R17: the router back")
    m0 = p.mark()
    lab.start("router")
    p.wait(lambda m: m["type"] == ROUTING_ENABLED, 10, "ROUTING_ENABLED",
           m0)
    e = wx.wait(ev("routing_enabled"), 5, "routing_enabled")
    check(e["rule"] == "R17", "routing_enabled: %r" % e)
    wx.stop()
    wait_online(lab, 10, agents=AGENTS)
    wait_for(lambda: all_available(lab), 10,
             "agents the dead router reserved available again")
    r41 = routed(p, app, 41)
    check(r41["task_low"] > a16["task_low"], "TaskID %r after %r" % (
        r41["task"], a16["task"]))
    routed(p, app, 42)
    routed(p, app, 43)

    log("stop mr-pim: the router gives the MR PIM to the other side")
    wr = lab.watch("router")
    app.new_task(44)
    wait_for(lambda: [q["dialogue"] for q in tasks(lab)["queued"]] == [44],
             5, "44 queued")
    y = other(x2)
    e3, py = failover(lab, app, wr, x2, y, e2, 44, "R12",
                      lambda: lab.ctl(x2, "stop", "mr-pim"))
    check(p.find(lambda m: m["type"] == PIM_DEACTIVATE and m["a"] == e2),
          "no PIM_DEACTIVATE of epoch %d from %s" % (e2, x2))
    mx = lab.status(x2)["mr"]
    check(mx["stopped"] and mx["state"] == "IDLE", "%s mr: %r" % (x2, mx))
    lab.ctl(x2, "start", "mr-pim")
    wait_for(lambda: [s for s in mr_status(lab)["sides"] if s["node"] == x2
                      and s["acd_up"] and not s["resigning"]], 5,
             "router: %s a candidate for the MR PIM again" % x2)

    log("kill -9 of the MR-active side: R17, the other side's MR PIM")
    app.new_task(45)
    wait_for(lambda: [q["dialogue"] for q in tasks(lab)["queued"]] == [45],
             5, "45 queued")
    failover(lab, app, wr, y, x2, e3, 45, "R17", lambda: lab.kill(y))
    wr.stop()

    log("Route_Call_Detail: one row per request answered")
    want = sorted([(1, 0), (1, FAIL_DUPLICATE), (2, FAIL_BAD_SELECTOR),
                   (3, FAIL_BAD_MRD), (4, FAIL_BAD_MRD), (10, 0), (11, 0),
                   (12, FAIL_NO_AGENT), (13, FAIL_NO_AGENT),
                   (14, FAIL_NO_AGENT), (15, 0), (16, 0), (30, 0), (41, 0),
                   (42, 0), (43, 0)])
    wait_for(lambda: sorted(lab.query(
        "SELECT DialogueID, RouterErrorCode FROM Route_Call_Detail")) ==
        want, 5, "Route_Call_Detail rows %r" % want)
    row = lab.query("SELECT RouterCallKeyDay, RouterCallKey, "
                    "AgentSkillTargetID, AgentPeripheralID, MRDomainID, "
                    "DialedNumberString, SkillGroupSkillTargetID, "
                    "PeripheralID FROM Route_Call_Detail WHERE DialogueID = 1"
                    " AND RouterErrorCode = 0")
    check(row == [(r1["task_high"], r1["task_low"], r1["agent"], 5000,
                   EMAIL, "Email", 100, MR)], "RCD of 1: %r" % row)
    tcd = lab.query("SELECT DialogueID, COUNT(*) FROM "
                    "Termination_Call_Detail GROUP BY DialogueID "
                    "HAVING COUNT(*) > 1")
    check(tcd == [], "Termination_Call_Detail twice: %r" % tcd)


run(test)

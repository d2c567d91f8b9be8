"""Helpers of the media-routing rule tests (r12_* ... r17_*): a whole lab
with media routing (router, acd, pg-a, pg-b, desk-a, desk-b, agents, app),
requests held pending at the router, and the NEW_TASK ledger: the app's
balanced, and its agreement with the router's counts.

The agreement, once nothing is in flight (every NEW_TASK sent reached the
router or the MR PIM that failed it; every answer reached the app):
  app sent     == router received + dropped + failed at the MR PIM
  app routed   == router routed
  app failed   == router failed + failed at the MR PIM (ROUTING_DOWN)
  app resent + pending == router discarded + queued + dropped
(a request pending at the app waits in the router's queue, or was
discarded or dropped there and waits to be sent again), and the router
answered no resend as before (resends_answered 0): every request the app
sent again had been deleted by the router (R12, R17) or never reached
it.  Counted from the router's start (or from a snapshot of the app's
ledger taken while the router was down, for a router that restarted).
"""
from pgemu_test import (FAST, TestFailure, check, node_of, wait_for,
                        wait_online)

MR = 5001
AGENT_PERIPH = 5000
EMAIL = 2
FAIL_ROUTING_DOWN = 2
TASKF_APP_ROUTED, TASKF_ROUTING_DOWN, TASKF_ENDED_DOWN = 0x2, 0x4, 0x8
PG = ("pg-a", "pg-b")
# MRD 2 keeps requests waiting long enough for any test.
MRDS = ('{ id = 1; name = "Cisco_Voice"; media = "voice"; },\n'
        '  { id = 2; name = "Email"; media = "email"; max_tasks = 5;'
        ' task_start_timeout = 30; max_tasks_in_queue = 1000;'
        ' max_time_in_queue = 300; }')


def mr_lab(Lab, name, agents=4, **kw):
    """A whole lab with media routing, started: every link up, the voice
    peripheral online with every agent, the MR peripheral online, the app
    routing through the router's MR-active side, every agent available
    in MRD 2."""
    for k, v in dict(FAST, desktops=True, media=True, agent_mrds=[1, EMAIL],
                     hb_desktop=(100, 3), mrds=MRDS).items():
        kw.setdefault(k, v)
    lab = Lab(name, agents=agents, **kw)
    lab.agents_n = agents
    lab.start_all()
    settled(lab)
    return lab


def running(lab, node):
    p = lab.procs.get(node)
    return p is not None and p.poll() is None


def settled(lab, timeout=10, desks=True):
    """Every link of every node that runs up, both peripherals online,
    the app routing through the MR-active side, every agent available in
    MRD 2 (unless the desktops are stopped, or desks is False): (the
    MR-active node, its epoch)."""
    lab.wait_links_up([n for n in lab.nodes if running(lab, n)],
                      timeout=timeout)
    desks = desks and running(lab, "agents")
    wait_online(lab, timeout, agents=lab.agents_n if desks else None)
    x = wait_routing(lab, timeout)
    if desks:
        wait_for(lambda: email_available(lab) == lab.agents_n, timeout,
                 "every agent available in MRD 2")
    return x


def mr_status(lab):
    return lab.status("router")["media_routing"]


def app(lab):
    return lab.ctl("app", "status")["app"]


def ledger(lab):
    return app(lab)["ledger"]


def rcounts(lab):
    return lab.ctl("router", "tasks")["counts"]


def routing(lab):
    """(the MR-active node, its epoch) when the router's MR peripheral is
    online and the app routes through that side's MR PIM with the same
    epoch; None otherwise."""
    m = mr_status(lab)
    if not (m["online"] and m["active_side"]):
        return None
    a = app(lab)
    x = node_of(m["active_side"])
    if not (a["routing"] and a["accepted_pim"] == x and
            a["accepted_epoch"] == m["epoch"]):
        return None
    return x, m["epoch"]


def wait_routing(lab, timeout=10):
    return wait_for(lambda: routing(lab), timeout, "the router's MR "
                    "peripheral online, the app routing through its "
                    "active side")


def email_agents(lab):
    """{agent: its router entry in MRD 2}."""
    return {a["id"]: a for a in lab.ctl("router", "agents")
            if a["mrd"] == EMAIL}


def email_available(lab):
    return sum(a["state"] == "available" and a["logged_in"]
               for a in email_agents(lab).values())


def hold_agents(lab):
    """No agent in MRD 2 (the desktops stopped): requests wait in the
    router's queue, and the app has nobody to assign a task to."""
    lab.stop("agents")
    wait_for(lambda: not any(a["logged_in"] for a in
                             email_agents(lab).values()), 10,
             "every agent logged out of MRD 2 at the router")
    wait_for(lambda: app(lab)["arm"]["agents_available"] == 0, 10,
             "the app knows no agent available")


def release_agents(lab):
    """The desktops back: every agent available in MRD 2 again."""
    lab.start("agents")
    wait_for(lambda: email_available(lab) == lab.agents_n, 10,
             "every agent available in MRD 2 again")


def new_tasks(lab, count):
    """count new tasks of the app (`pgemuctl app new-task Email COUNT`):
    their DialogueIDs."""
    r = lab.ctl("app", "new-task", "Email", str(count))
    return list(range(r["first_dialogue"], r["first_dialogue"] + count))


def pending(lab):
    return sorted(p["dialogue"] for p in lab.ctl("app", "pending"))


def queued(lab):
    return sorted(q["dialogue"] for q in lab.ctl("router", "tasks")
                  ["queued"])


def queue_requests(lab, count):
    """count requests of new tasks, waiting in the router's queue (no
    agent in MRD 2) and pending at the app: their DialogueIDs."""
    before = set(queued(lab))
    ds = new_tasks(lab, count)
    wait_for(lambda: set(queued(lab)) == before | set(ds), 5,
             "router: %r queued" % ds)
    check(set(ds) <= set(pending(lab)), "app: %r not pending: %r" % (
        ds, pending(lab)))
    return ds


def app_tasks(lab):
    return {t["dialogue"]: t for t in lab.ctl("app", "tasks")}


def routing_down_failures(lab):
    """NEW_TASK_FAILUREs with ROUTING_DOWN the app took (from the MR
    PIM, which answers them alone)."""
    return sum(1 for t in lab.ctl("app", "tasks")
               if t["failure"] == FAIL_ROUTING_DOWN)


def check_balanced(lab, what=""):
    led = ledger(lab)
    check(led["balanced"] and led["sent"] == led["routed"] +
          led["failed"] + led["resent"] + led["pending"],
          "%sthe app's ledger does not balance: %r" % (
              what and what + ": ", led))
    return led


def snapshot(lab):
    """The app's ledger and its ROUTING_DOWN failures, to count from (a
    router that restarts counts from 0)."""
    return dict(ledger(lab), down=routing_down_failures(lab))


def agreement(lab, since=None):
    """The differences between the app's ledger (since the snapshot
    since) and the router's counts; {} when they agree."""
    led = ledger(lab)
    c = rcounts(lab)
    down = routing_down_failures(lab)
    if since is not None:
        led = {k: v - since[k] if isinstance(v, int) and
               not isinstance(v, bool) else v for k, v in led.items()}
        down -= since["down"]
    nq = len(lab.ctl("router", "tasks")["queued"])
    want = {
        "sent": c["received"] + c["dropped"] + down,
        "routed": c["routed"],
        "failed": c["failed"] + down,
        "resent+pending": c["discarded"] + nq + c["dropped"],
        "resends_answered": 0,
    }
    led = dict(led, **{"resent+pending": led["resent"] + led["pending"],
                       "resends_answered": c["resends_answered"]})
    return {k: (led[k], v) for k, v in want.items() if led[k] != v}


def check_agree(lab, since=None, what="", timeout=5):
    """The ledger balanced and agreeing with the router's counts (once
    what is in flight has landed)."""
    try:
        wait_for(lambda: not agreement(lab, since) and
                 ledger(lab)["balanced"], timeout,
                 "the app's ledger to agree with the router's counts")
    except TestFailure:
        pass            # said below, with the counts
    bad = agreement(lab, since)
    check(not bad, "%sapp ledger %r, router counts %r: disagree on %r "
          "(app, router)" % (what and what + ": ", ledger(lab),
                             rcounts(lab), bad))
    return check_balanced(lab, what)


def rule_line(lab, node, rule, pattern, timeout=5):
    """NODE's log line tagged [RULE] matching pattern."""
    return lab.wait_log(node, r"\[%s\] .*%s" % (rule, pattern), timeout)


def discards(lab, since_id=0):
    """pgemu_task_discard rows after id since_id: (DialogueID, MRD,
    Selector, Rule, PeripheralID), by dialogue."""
    return sorted(lab.query(
        "SELECT DialogueID, MRDomainID, Selector, Rule, PeripheralID FROM "
        "pgemu_task_discard WHERE id > ? ORDER BY DialogueID", (since_id,)))


def last_discard_id(lab):
    return lab.query("SELECT COALESCE(MAX(id), 0) FROM "
                     "pgemu_task_discard")[0][0]


def routed_rows(lab, dialogues):
    """{dialogue: [(RouterCallKeyDay, RouterCallKey, agent)]} of the
    routed Route_Call_Detail rows of dialogues."""
    rows = {}
    for d, day, key, agent in lab.query(
            "SELECT DialogueID, RouterCallKeyDay, RouterCallKey, "
            "AgentSkillTargetID FROM Route_Call_Detail WHERE "
            "RouterErrorCode = 0"):
        if d in dialogues:
            rows.setdefault(d, []).append((day, key, agent))
    return rows


def check_routed_once(lab, dialogues):
    """Each dialogue routed by the router once: the app's task names the
    agent and the TaskID of its one routed Route_Call_Detail row."""
    tasks = app_tasks(lab)
    rows = routed_rows(lab, set(dialogues))
    for d in dialogues:
        t = tasks[d]
        check(t["assigned"] == "router" and t["fate"] == "routed",
              "dialogue %d: %r" % (d, t))
        check(rows.get(d) == [(t["task"][0], t["task"][1], t["agent"])],
              "dialogue %d: routed rows %r, the app's task %r" % (
                  d, rows.get(d), t))


def wait_done(lab, dialogues, timeout=10):
    """The app's tasks of dialogues ended (routed or its own)."""
    ds = set(dialogues)
    wait_for(lambda: all(t["state"] == "ended" for d, t in
                         app_tasks(lab).items() if d in ds) and
             ds <= set(app_tasks(lab)), timeout,
             "tasks of dialogues %r ended" % sorted(ds))


def watch_all(lab, nodes=("router", "app") + PG):
    return {n: lab.watch(n) for n in nodes}


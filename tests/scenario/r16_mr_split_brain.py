"""R12-R17 under random failure sequences on the media-routing path: never
two MR PIMs obeyed by the application, never a NEW_TASK lost without a
record, routing always back.

On a whole lab (router, acd, pg-a, pg-b, desk-a, desk-b, agents, app; 4
agents in MRDs 1 and 2, short heartbeats, the app's traffic at 5 tasks a
second), runs random sequences (seeded by PGEMU_SEED, default 12345; the
seed and every step are printed, so a failure can be replayed) of 1-4
steps each, drawn from:
  kill -9 of a PG side, then restart;      kill -STOP, -CONT of a PG side;
  kill -9 of the router, then restart;     kill -STOP, -CONT of the router;
  kill -9 of the app, then restart;        kill -STOP, -CONT of the app;
  pgemuctl PG fault mr-link down / up;     pgemuctl app fault PG down / up;
  pgemuctl app fault PG freeze / thaw;     pgemuctl PG stop / start mr-pim;
  pgemuctl PG fault router-link down / up.
Faults hit the MR-active side more often.  Each step's remedy comes at
once, once the fault has been noticed (a link of a running node not UP,
or the MR PIM stopped, as the router sees it: event-driven waits), or at
the end of the sequence, so that faults overlap.  After each healed
sequence (the desktops signed in again if an outage of their PIM signed
them out of MRD 2), the test checks:
  * the router sees every agent in MRD 2 as the desktops do, within 3
    s of their sign-in (no agent left out of it at the router while
    its desktop shows it in);
  * liveness: within LIVE_S of the last remedy, every link of every node
    UP, both peripherals online, and the app routing again through the
    router's MR-active side (ROUTING_ENABLED taken);
  * the app never had two MR PIMs accepted at once (its fencer's
    max_accepted_at_once is 1, and no "SPLIT BRAIN" line in its log over
    all its runs);
  * at most one PG side's MR PIM is ACTIVE, and it is the router's
    MR-active side, with the router's epoch, the app's accepted epoch;
    the MR peripheral's grants (pgemu_activation) have increasing
    epochs;
  * the NEW_TASK ledger balanced (sent = routed + failed + resent +
    pending); with the traffic paused, every pending request is answered
    within DRAIN_S (none waits for ever);
  * no request lost without a record: every task the app says the router
    routed has its routed Route_Call_Detail row with that TaskID and
    agent, or, if a kill -9 of the router took the row with it before
    it was written, a loss the restarted router recorded (pgemu_discard,
    Rule none: the missing rows are at most its Rows); every failure the
    router gave has its row with that code; every request the router
    discarded (pgemu_task_discard) was sent again by the app.
PGEMU_MR_SEQUENCES sequences (default 40) or until PGEMU_MR_BUDGET_S
seconds (default 70, scaled by PGEMU_TEST_SLOW) have passed, whichever
comes first: set both for a longer run.
"""
import os
import signal
import time

from mr_rules import (EMAIL, MR, PG, app, app_tasks, email_agents,
                      ledger, mr_lab, mr_status, running, settled)
from pgemu_test import (SLOW, TestFailure, check, log, node_of, rng, run,
                        wait_for)

SEQUENCES = int(os.environ.get("PGEMU_MR_SEQUENCES", "40"))
BUDGET_S = float(os.environ.get("PGEMU_MR_BUDGET_S", "70")) * SLOW
LIVE_S = 8.0
DRAIN_S = 12.0
AGENTS = 4
# MRD 2: a request waits 3 s for an agent at most (none can wait for ever).
MRDS = ('{ id = 1; name = "Cisco_Voice"; media = "voice"; },\n'
        '  { id = 2; name = "Email"; media = "email"; max_tasks = 5;'
        ' task_start_timeout = 3; max_tasks_in_queue = 50;'
        ' max_time_in_queue = 3; }')
PROCS = ("kill_pg", "stop_pg", "kill_router", "stop_router", "kill_app",
         "stop_app")
# kind: (what it faults, remedy)
FAULTS = {
    "mr_link_down": ("pg", ("fault", "mr-link", "down"),
                     ("fault", "mr-link", "up")),
    "app_link_down": ("app", ("fault", "PG", "down"), ("fault", "PG", "up")),
    "app_link_freeze": ("app", ("fault", "PG", "freeze"),
                        ("fault", "PG", "thaw")),
    "stop_mrpim": ("pg", ("stop", "mr-pim"), ("start", "mr-pim")),
    "router_link_down": ("pg", ("fault", "router-link", "down"),
                         ("fault", "router-link", "up")),
}


# The link (or the PIM) each fault takes: one fault at a time on each.
LINK_OF = {"mr_link_down": "mr", "app_link_down": "mr",
           "app_link_freeze": "mr", "stop_mrpim": "mrpim",
           "router_link_down": "router"}


class Chaos:
    def __init__(self, lab, r):
        self.lab = lab
        self.r = r
        self.dead = set()
        self.stopped = set()
        self.faults = set()     # (kind, pg)

    def running(self, node):
        return node not in self.dead and node not in self.stopped

    def holder(self, kind):
        """The node a fault's command goes to."""
        return FAULTS[kind][0]

    def choices(self):
        c = []
        for pg in PG:
            if pg not in self.dead:
                c.append(("kill_pg", pg))
            if self.running(pg):
                c.append(("stop_pg", pg))
        for n in ("router", "app"):
            if n not in self.dead:
                c.append(("kill_" + n, n))
            if self.running(n):
                c.append(("stop_" + n, n))
        for kind in FAULTS:
            for pg in PG:
                at = pg if self.holder(kind) == "pg" else "app"
                # One fault at a time on a link (down would end a freeze).
                if self.running(at) and not [
                        f for f in self.faults if f[1] == pg and
                        LINK_OF[f[0]] == LINK_OF[kind]]:
                    c.append((kind, pg))
        return c

    def mr_active(self):
        if self.running("router"):
            side = mr_status(self.lab)["active_side"]
            if side:
                return node_of(side)
        return None

    def pick(self):
        c = self.choices()
        kind = self.r.choice(sorted(set(k for k, _ in c)))
        c = [x for x in c if x[0] == kind]
        act = self.mr_active()
        if self.r.random() < 0.7 and (kind, act) in c:
            return kind, act
        return self.r.choice(c)

    def link(self, node, name):
        return self.lab.link(node, name)["state"]

    def noticed(self, kind, node):
        """A predicate true once the fault has been seen by a running
        node, or None when none can see it."""
        lab = self.lab
        if kind in ("kill_pg", "stop_pg", "router_link_down"):
            if self.running("router"):
                return lambda: self.link("router", node) != "UP"
            return None
        if kind in ("kill_router", "stop_router"):
            pgs = [p for p in PG if self.running(p)]
            return (lambda: all(self.link(p, "router-link") != "UP"
                                for p in pgs)) if pgs else None
        if kind in ("kill_app", "stop_app"):
            pgs = [p for p in PG if self.running(p)]
            return (lambda: all(self.link(p, "mr-link") != "UP"
                                for p in pgs)) if pgs else None
        if kind in ("mr_link_down", "app_link_down"):
            if self.running("app"):
                return lambda: self.link("app", node) != "UP"
            return None
        if kind == "app_link_freeze":
            return lambda: self.link("app", node) != "UP"
        if kind == "stop_mrpim":
            if self.running("router"):
                return lambda: [s for s in mr_status(lab)["sides"]
                                if s["node"] == node and s["resigning"]]
            return None
        raise AssertionError(kind)

    def apply(self, kind, node):
        lab = self.lab
        if kind.startswith("kill_"):
            self.kill(node)
        elif kind.startswith("stop_") and kind != "stop_mrpim":
            lab.kill(node, signal.SIGSTOP)
            self.stopped.add(node)
        else:
            _, cut, _ = FAULTS[kind]
            at = node if self.holder(kind) == "pg" else "app"
            lab.ctl(at, *[node if a == "PG" else a for a in cut])
            self.faults.add((kind, node))

    def kill(self, node):
        if node in self.dead:
            return
        self.lab.kill(node, signal.SIGKILL)
        self.lab.reap(node)
        self.dead.add(node)
        self.stopped.discard(node)
        # A fault lives in the process that holds it.
        self.faults = set(
            f for f in self.faults
            if (f[1] if self.holder(f[0]) == "pg" else "app") != node)

    def remedy(self, kind, node):
        lab = self.lab
        if kind.startswith("kill_"):
            if node in self.dead:
                lab.start(node)
                self.dead.discard(node)
        elif kind.startswith("stop_") and kind != "stop_mrpim":
            if node in self.stopped:
                lab.kill(node, signal.SIGCONT)
                self.stopped.discard(node)
        elif (kind, node) in self.faults:
            _, _, mend = FAULTS[kind]
            at = node if self.holder(kind) == "pg" else "app"
            lab.ctl(at, *[node if a == "PG" else a for a in mend])
            self.faults.discard((kind, node))

    def fault_node(self, kind, node):
        if kind in PROCS:
            return None
        return node if self.holder(kind) == "pg" else "app"

    def sequence(self):
        steps, pending = [], []
        for _ in range(self.r.randint(1, 4)):
            kind, node = self.pick()
            when = self.r.choice(("now", "noticed", "end"))
            log("  step %s %s, remedy %s" % (kind, node, when))
            self.apply(kind, node)
            if when == "noticed":
                pred = self.noticed(kind, node)
                if pred is not None:
                    wait_for(pred, 5, "%s of %s to be noticed" % (kind,
                                                                  node))
                else:
                    when = "now"
            steps.append("%s %s (remedy %s)" % (kind, node, when))
            if when == "end":
                pending.append((kind, node))
            else:
                self.remedy(kind, node)
        # A fault held by a process that is stopped waits for it.
        self.r.shuffle(pending)
        while pending:
            kind, node = pending.pop(0)
            at = self.fault_node(kind, node)
            if at is not None and not self.running(at):
                if at in self.dead:
                    continue    # gone with it
                pending.append((kind, node))
                continue
            log("  remedy %s %s" % (kind, node))
            self.remedy(kind, node)
        check(not self.dead and not self.stopped and not self.faults,
              "not healed: dead %r stopped %r faults %r" % (
                  self.dead, self.stopped, self.faults))
        return steps


def increasing(xs):
    return all(a < b for a, b in zip(xs, xs[1:]))


IN_MRD = ("available", "reserved", "active")


def desktops_in(lab):
    """Every agent signed in to MRD 2 and not Not Ready there, as the
    router sees it."""
    return all(a["logged_in"] and a["state"] in IN_MRD
               for a in email_agents(lab).values())


def desks_say_in(lab):
    """The same, as the desktops see it."""
    return all(m["state"] in IN_MRD for i in range(1001, 1001 + AGENTS)
               for m in lab.ctl("agents", "agent", str(i))["mrds"]
               if m["mrd"] == EMAIL)


def heal_desktops(lab):
    """An outage of the agents' PIM signs them out of MRD 2 (or Not
    Ready there): the agents sign in again (their desktops restarted).
    Then the router must see them in MRD 2 as the desktops do: the
    states are the PIM's, whichever side holds it, and the CTI server
    the desktops talk to shows them (a side whose PIM the ACD fenced
    hears its successor's again, a side that kept them while no PIM
    held the peripheral gives them to the other, R23)."""
    if desktops_in(lab) and desks_say_in(lab):
        return False
    # A CTI failover just after brings MRD 2 back Not Ready (Table 2 of
    # a desktop server that lost its session): they sign in once more.
    why = ""
    for _ in range(3):
        lab.stop("agents")
        lab.start("agents")
        try:
            wait_for(lambda: desks_say_in(lab), 5,
                     "every desktop back in MRD 2")
            break
        except TestFailure as e:
            why = str(e)
            log("desktops signed in again, not all back in MRD 2: %r" % [
                m["state"] for i in range(1001, 1001 + AGENTS)
                for m in lab.ctl("agents", "agent", str(i))["mrds"]
                if m["mrd"] == EMAIL])
    else:
        raise TestFailure("%s: desktops %r; PG sides (PIM, its peer's, CTI "
                          "server active) %r" % (why, [
                              (d["server"], d["mrds"]) for d in (
                                  lab.ctl("agents", "agent", str(i)) for i
                                  in range(1001, 1001 + AGENTS))],
                              [(pg, lab.status(pg)["pim"]["state"],
                                lab.status(pg)["peer"]["state"],
                                lab.ctl(pg, "cti")["active"]) for pg in PG]))
    try:
        wait_for(lambda: desktops_in(lab), 3, "the router to see them")
    except TestFailure:
        raise TestFailure(
            "the router sees MRD 2 %r, the desktops are back in it; PG "
            "sides (PIM, its peer's, CTI server active): %r" % (
                [(a["id"], a["state"], a["logged_in"]) for a in
                 email_agents(lab).values()],
                [(pg, lab.status(pg)["pim"]["state"],
                  lab.status(pg)["peer"]["state"],
                  lab.ctl(pg, "cti")["active"]) for pg in PG]))
    return True


def answered(lab):
    """Every request answered: nothing pending at the app."""
    return ledger(lab)["pending"] == 0


def records(lab, what):
    """No request lost without a record (see the docstring)."""
    tasks = app_tasks(lab)
    rcd = {}
    for d, day, key, agent, err in lab.query(
            "SELECT DialogueID, RouterCallKeyDay, RouterCallKey, "
            "AgentSkillTargetID, RouterErrorCode FROM Route_Call_Detail"):
        rcd.setdefault(d, []).append((day, key, agent, err))
    missing = []
    for d, t in tasks.items():
        if t["assigned"] == "router" and t["fate"] == "routed":
            if (t["task"][0], t["task"][1], t["agent"], 0) not in \
                    rcd.get(d, []):
                missing.append((d, t["agent"], t["task"], rcd.get(d)))
        elif t["fate"] == "failed" and t["failure"] != 2:
            check(any(r[3] == t["failure"] for r in rcd.get(d, [])),
                  "%s: dialogue %d failed with %r without its "
                  "Route_Call_Detail row: %r" % (what, d, t["failure"],
                                                 rcd.get(d)))
    if missing:
        lost = lab.query("SELECT COALESCE(SUM(Rows), 0) FROM pgemu_discard "
                         "WHERE Rule = 'none'")[0][0]
        check(len(missing) <= lost, "%s: routed without their "
              "Route_Call_Detail row, and no loss of the router's "
              "recorded for them (%d rows recorded): %r" % (
                  what, lost, missing))
        log("%s: %d routed dialogues without their Route_Call_Detail row, "
            "lost with a router killed, recorded (%d rows): %r" % (
                what, len(missing), lost, missing))
    for (d,) in lab.query("SELECT DISTINCT DialogueID FROM "
                          "pgemu_task_discard"):
        t = tasks.get(d)
        check(t is None or t["sends"] >= 2, "%s: dialogue %d discarded by "
              "the router and not sent again: %r" % (what, d, t))


def verify(lab, n, steps, healed):
    what = "sequence %d (%s)" % (n, "; ".join(steps))
    try:
        x, epoch = settled(lab, LIVE_S, desks=False)
    except TestFailure as e:
        raise TestFailure("%s: %s; router MR %r, app %r" % (
            what, e, mr_status(lab), app(lab)))
    live = time.monotonic() - healed
    check(live <= LIVE_S * SLOW, "%s: routing again only %.2f s after the "
          "last remedy" % (what, live))
    signed = heal_desktops(lab)
    # One consistent view: nothing moved while we looked.
    for _ in range(5):
        a = app(lab)
        mrs = {pg: lab.status(pg)["mr"] for pg in PG}
        m = mr_status(lab)
        if (node_of(m["active_side"]), m["epoch"]) == (x, epoch) and \
                a["accepted_epoch"] == epoch:
            break
        log("%s: moved on while we looked" % what)
        x, epoch = settled(lab, LIVE_S, desks=False)
    check(a["max_accepted_at_once"] == 1,
          "%s: SPLIT BRAIN at the app: max_accepted_at_once %r" % (
              what, a["max_accepted_at_once"]))
    check(not lab.grep_log("app", r"SPLIT BRAIN"), "%s: SPLIT BRAIN at "
          "the app: %r" % (what, lab.grep_log("app", r"SPLIT BRAIN")))
    actives = [pg for pg in PG if mrs[pg]["state"] == "ACTIVE"]
    check(actives == [x] and mrs[x]["epoch"] == epoch and
          a["accepted_pim"] == x and a["accepted_epoch"] == epoch,
          "%s: router MR-active %s epoch %d, MR PIMs %r, app accepted %s "
          "epoch %r" % (what, x, epoch, {p: (mrs[p]["state"],
                                            mrs[p]["epoch"]) for p in PG},
                        a["accepted_pim"], a["accepted_epoch"]))
    epochs = [r[0] for r in lab.query(
        "SELECT Epoch FROM pgemu_activation WHERE PeripheralID = ? "
        "ORDER BY id", (MR,))]
    check(increasing(epochs), "%s: MR activation epochs not increasing: "
          "%r" % (what, epochs))
    led = ledger(lab)
    check(led["balanced"], "%s: ledger does not balance: %r" % (what, led))
    lab.ctl("app", "traffic", "off")
    try:
        wait_for(lambda: answered(lab), DRAIN_S, "every request answered")
    except TestFailure as e:
        raise TestFailure("%s: %s: app pending %r, router queued %r" % (
            what, e, lab.ctl("app", "pending")[:10],
            lab.ctl("router", "tasks")["queued"][:10]))
    led = ledger(lab)
    check(led["balanced"], "%s: ledger does not balance: %r" % (what, led))
    records(lab, what)
    lab.ctl("app", "traffic", "on")
    return x, epoch, live, signed, led


def test(Lab):
    seed = int(os.environ.get("PGEMU_SEED", "12345"))
    log("PGEMU_SEED=%d, up to %d sequences in %.0f s" % (seed, SEQUENCES,
                                                          BUDGET_S))
    r = rng(seed)
    lab = mr_lab(Lab, "mrsplit", agents=AGENTS, mrds=MRDS, mr_traffic=5,
                 reconnect=(20, 200, 500))
    verify(lab, 0, ["start"], time.monotonic())
    chaos = Chaos(lab, r)
    t0 = time.monotonic()
    slowest = 0.0
    done = 0
    for n in range(1, SEQUENCES + 1):
        if time.monotonic() - t0 > BUDGET_S:
            log("time budget spent after %d sequences" % done)
            break
        ts = time.monotonic()
        steps = chaos.sequence()
        x, epoch, live, signed, led = verify(lab, n, steps,
                                             time.monotonic())
        slowest = max(slowest, live)
        done = n
        log("sequence %d: %s -> %s routes, epoch %d (%.2f s, routing %.2f "
            "s after the last remedy%s); ledger %r" % (
                n, "; ".join(steps), x, epoch, time.monotonic() - ts, live,
                ", desktops signed in again" if signed else "", led))
    check(done > 0, "no sequence ran")
    c = lab.ctl("router", "tasks")["counts"]
    log("%d sequences; the router (since its last start): %r; slowest "
        "return of routing %.2f s (limit %.1f)" % (done, c, slowest,
                                                   LIVE_S))
    check(running(lab, "app"), "app not running")


run(test)

"""R5 under random failure sequences: never a split brain.

On one lab with short heartbeats (private 20 ms x 5, router and ACD links
50 ms x 5), runs SEQUENCES random sequences (seeded by PGEMU_SEED, default
12345; the seed and every step are printed, so a failure can be replayed)
of 1-4 steps each, drawn from:
  kill -9 of a pg side, then restart it;   kill -STOP, then -CONT of a pg side;
  fault private-link freeze / thaw;        fault router-link freeze / thaw
  (on a pg side);                          kill -9 of the router, then restart;
  fault acd-link down / up (on a pg side);  kill -STOP, then -CONT of the
  router (a router that hangs);             kill -9 of both pg sides back
  to back;                                  kill -9 of the active side
  and, the moment the router grants the PIM to the other side, of that
  side too (a grant to a side that dies).
Each step's remedy comes at once, once the fault has been noticed (the
router, the ACD or the peer lost the link: event-driven waits, no sleeps),
or only at the end of the sequence, so faults overlap.  After each
sequence everything is healed and, once the router's peripheral is online
with an active side and every link is up, the test checks:
  * the ACD never had two PIMs accepted at once (max_accepted_at_once == 1);
  * at most one pg side reports pim.state ACTIVE, and it is the router's
    active side, with pg epoch == router epoch == ACD accepted_epoch;
  * the epochs in pgemu_activation (by id) are strictly increasing;
  * the epochs the ACD accepted (its pim_accepted events) are strictly
    increasing, and every epoch in pgemu_activation is one of them (no
    activation row for an epoch nobody used);
  * every pgemu_discard row has rows (no loss recorded for a side that
    held nothing);
  * liveness: the peripheral was online again, every link up, within
    LIVE_S seconds of the last remedy (it never stays offline for good).
At the end: every stale activation the ACD refused was logged (lines
"refused PIM activation" in its log == acd stale_refused).
"""
import os
import signal
import time

from pgemu_test import (SLOW, TestFailure, check, log, other, rng, run,
                        wait_for)

SEQUENCES = int(os.environ.get("PGEMU_SEQUENCES", "50"))
PGS = ("pg-a", "pg-b")
KINDS = ("kill_pg", "stop_pg", "freeze_private", "freeze_router",
         "kill_router", "acd_down", "stop_router", "kill_both",
         "kill_granted")
LIVE_S = 6.0


class Chaos:
    def __init__(self, lab, r):
        self.lab = lab
        self.r = r
        self.dead = set()       # nodes killed, not restarted yet
        self.stopped = set()    # pg sides under SIGSTOP
        self.faults = set()     # (node, link, "freeze"|"down")

    # What may be done now -----------------------------------------------
    def running(self, node):
        return node not in self.dead and node not in self.stopped

    def choices(self):
        c = []
        for pg in PGS:
            if pg not in self.dead:
                c.append(("kill_pg", pg))
            if self.running(pg):
                c.append(("stop_pg", pg))
                if (pg, "private-link", "freeze") not in self.faults:
                    c.append(("freeze_private", pg))
                if (pg, "router-link", "freeze") not in self.faults:
                    c.append(("freeze_router", pg))
                if (pg, "acd-link", "down") not in self.faults:
                    c.append(("acd_down", pg))
        if "router" not in self.dead and "router" not in self.stopped:
            c.append(("kill_router", "router"))
            c.append(("stop_router", "router"))
        if all(self.running(pg) for pg in PGS):
            c.append(("kill_both", self.active_pg() or "pg-a"))
            if self.running("router"):
                c.append(("kill_granted", self.active_pg() or "pg-a"))
        return c

    def active_pg(self):
        """The side that serves the peripheral, as far as we can tell."""
        if self.running("router"):
            side = self.lab.status("router")["peripheral"]["active_side"]
            if side:
                return "pg-a" if side == "A" else "pg-b"
        for pg in PGS:
            if self.running(pg) and \
                    self.lab.status(pg)["pim"]["state"] != "IDLE":
                return pg
        return None

    def pick(self):
        """A random step; faults hit the active side more often."""
        c = self.choices()
        if not c:
            return None         # everything is down or stopped already
        kinds = sorted(set(k for k, _ in c))
        kind = self.r.choice(kinds)
        c = [x for x in c if x[0] == kind]
        act = self.active_pg()
        if self.r.random() < 0.7 and (kind, act) in c:
            return kind, act
        return self.r.choice(c)

    # Faults and remedies --------------------------------------------------
    def link_state(self, node, link):
        return self.lab.link(node, link)["state"]

    def noticed(self, kind, node):
        """A predicate that turns true once the fault has been seen, or
        None when no running node can see it."""
        router_up = self.running("router")
        if kind in ("kill_both", "kill_granted"):
            kind = "kill_pg"
        if kind == "stop_router":
            pgs = [p for p in PGS if self.running(p)]
            return lambda: all(self.link_state(p, "router-link") != "UP"
                               for p in pgs)
        if kind in ("kill_pg", "stop_pg", "freeze_router"):
            if router_up:
                return lambda: self.link_state("router", node) != "UP"
            peer = other(node)
            if kind != "freeze_router" and self.running(peer):
                return lambda: self.link_state(peer, "private-link") != "UP"
            return None
        if kind == "freeze_private":
            peer = other(node)
            if self.running(peer):
                return lambda: self.link_state(peer, "private-link") != "UP"
            return None
        if kind == "acd_down":
            return lambda: self.link_state("acd", node) != "UP"
        if kind == "kill_router":
            pgs = [p for p in PGS if self.running(p)]
            return lambda: all(self.link_state(p, "router-link") != "UP"
                               for p in pgs)
        raise AssertionError(kind)

    def apply(self, kind, node):
        lab = self.lab
        if kind in ("kill_pg", "kill_router"):
            self.kill(node)
        elif kind == "kill_both":
            os.kill(lab.pid(node), signal.SIGKILL)
            os.kill(lab.pid(other(node)), signal.SIGKILL)
            self.kill(node)
            self.kill(other(node))
        elif kind == "kill_granted":
            grants = lab.status("router")["counters"]["grants"]
            self.kill(node)
            try:
                wait_for(lambda: lab.status("router")["counters"]["grants"]
                         > grants, 2, "a grant after %s died" % node,
                         interval=0.001)
            except TestFailure:
                pass            # nobody to grant: fine
            self.kill(other(node))
        elif kind == "stop_router":
            lab.kill(node, signal.SIGSTOP)
            self.stopped.add(node)
        elif kind == "stop_pg":
            lab.kill(node, signal.SIGSTOP)
            self.stopped.add(node)
        elif kind == "freeze_private":
            lab.ctl(node, "fault", "private-link", "freeze")
            self.faults.add((node, "private-link", "freeze"))
        elif kind == "freeze_router":
            lab.ctl(node, "fault", "router-link", "freeze")
            self.faults.add((node, "router-link", "freeze"))
        elif kind == "acd_down":
            lab.ctl(node, "fault", "acd-link", "down")
            self.faults.add((node, "acd-link", "down"))

    def kill(self, node):
        if node in self.dead:
            return
        self.lab.kill(node, signal.SIGKILL)
        self.lab.reap(node)
        self.dead.add(node)
        self.stopped.discard(node)
        self.faults = set(f for f in self.faults if f[0] != node)

    def remedy(self, kind, node):
        """Undo one fault, if it still stands (a kill may have undone it)."""
        lab = self.lab
        if kind in ("kill_both", "kill_granted"):
            self.remedy("kill_pg", node)
            self.remedy("kill_pg", other(node))
        elif kind in ("kill_pg", "kill_router"):
            if node in self.dead:
                lab.start(node)
                self.dead.discard(node)
        elif kind in ("stop_pg", "stop_router"):
            if node in self.stopped:
                lab.kill(node, signal.SIGCONT)
                self.stopped.discard(node)
        else:
            link, what = {"freeze_private": ("private-link", "freeze"),
                          "freeze_router": ("router-link", "freeze"),
                          "acd_down": ("acd-link", "down")}[kind]
            if (node, link, what) in self.faults:
                lab.ctl(node, "fault", link, "thaw" if what == "freeze"
                        else "up")
                self.faults.discard((node, link, what))

    def sequence(self, n):
        steps = []
        pending = []
        for _ in range(self.r.randint(1, 4)):
            step = self.pick()
            if step is None:
                break
            kind, node = step
            when = self.r.choice(("now", "noticed", "end"))
            log("  step %s %s, remedy %s" % (kind, node, when))
            self.apply(kind, node)
            if when == "noticed":
                pred = self.noticed(kind, node)
                if pred is not None:
                    wait_for(pred, 3, "%s of %s to be noticed" % (kind,
                                                                  node))
                else:
                    when = "now"
            steps.append("%s %s (remedy %s)" % (kind, node, when))
            if when == "end":
                pending.append((kind, node))
            else:
                self.remedy(kind, node)
        # The remedies left, in random order; a fault on a link of a side
        # that is stopped or dead waits until that side is back.
        self.r.shuffle(pending)
        while pending:
            kind, node = pending.pop(0)
            if kind not in ("kill_pg", "stop_pg", "kill_router",
                            "stop_router", "kill_both", "kill_granted") and \
                    not self.running(node):
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


def acd_accepted(lab, wacd):
    """Epochs of every pim_accepted event of the ACD, in order: its ring
    of recent events (from before the watch) and the watch's."""
    evs = {e["seq"]: e for e in lab.ctl("acd", "events", "500")}
    evs.update((e["seq"], e) for e in wacd.events)
    return [evs[k]["epoch"] for k in sorted(evs)
            if evs[k].get("event") == "pim_accepted"]


def settled(lab):
    p = lab.status("router")["peripheral"]
    if not (p["online"] and p["active_side"]):
        return None
    if not all(lab.links_up(n) for n in lab.nodes):
        return None
    return p


def verify(lab, wacd, n, steps, healed=None):
    what = "sequence %d (%s)" % (n, "; ".join(steps))
    healed = healed or time.monotonic()
    try:
        p = wait_for(lambda: settled(lab), LIVE_S,
                     "router online with an active side, every link up")
    except TestFailure as e:
        raise TestFailure("%s: %s; router %r" % (what, e, lab.status(
            "router")["peripheral"]))
    live = time.monotonic() - healed
    check(live <= LIVE_S * SLOW, "%s: online again only %.2f s after the "
          "last remedy" % (what, live))
    acd = lab.status("acd")["acd"]
    pims = {pg: lab.status(pg)["pim"] for pg in PGS}
    # One consistent view: the router did not move on while we looked.
    for _ in range(5):
        q = lab.status("router")["peripheral"]
        if (q["active_side"], q["epoch"]) == (p["active_side"], p["epoch"]):
            break
        log("%s: the router moved on (%s %d -> %s %d) while we looked" % (
            what, p["active_side"], p["epoch"], q["active_side"],
            q["epoch"]))
        p = wait_for(lambda: settled(lab), 8, "router online again")
        acd = lab.status("acd")["acd"]
        pims = {pg: lab.status(pg)["pim"] for pg in PGS}
    active = "pg-a" if p["active_side"] == "A" else "pg-b"
    check(acd["max_accepted_at_once"] == 1,
          "%s: SPLIT BRAIN at the ACD: max_accepted_at_once %r" % (
              what, acd["max_accepted_at_once"]))
    actives = [pg for pg in PGS if pims[pg]["state"] == "ACTIVE"]
    check(len(actives) <= 1, "%s: two PG sides ACTIVE: %r" % (what, pims))
    check(actives == [active] and pims[active]["epoch"] == p["epoch"] ==
          acd["accepted_epoch"] and acd["accepted_pim"] == active,
          "%s: router active side %s epoch %d, pg %r, ACD accepted %s "
          "epoch %r" % (what, active, p["epoch"], pims,
                        acd["accepted_pim"], acd["accepted_epoch"]))
    epochs = [r[0] for r in lab.query(
        "SELECT Epoch FROM pgemu_activation ORDER BY id")]
    check(increasing(epochs), "%s: pgemu_activation epochs not strictly "
          "increasing: %r" % (what, epochs))
    accepted = acd_accepted(lab, wacd)
    check(increasing(accepted), "%s: ACD accepted epochs not strictly "
          "increasing: %r" % (what, accepted))
    unused = sorted(set(epochs) - set(accepted))
    check(not unused, "%s: pgemu_activation rows for epochs the ACD never "
          "accepted: %r" % (what, unused))
    empty = lab.query("SELECT PGSide, Reason FROM pgemu_discard WHERE "
                      "Rows = 0")
    check(not empty, "%s: losses recorded for sides that held nothing: %r"
          % (what, empty))
    return p, live


def test(Lab):
    seed = int(os.environ.get("PGEMU_SEED", "12345"))
    log("PGEMU_SEED=%d, %d sequences" % (seed, SEQUENCES))
    r = rng(seed)
    lab = Lab("split", hb_private=(20, 5), hb_router=(50, 5),
              hb_acd=(50, 5), traffic=False, reconnect=(20, 200, 500))
    lab.start_all()
    lab.wait_links_up()
    wacd = lab.watch("acd")
    verify(lab, wacd, 0, ["start"])
    chaos = Chaos(lab, r)
    longest = slowest = 0.0
    for n in range(1, SEQUENCES + 1):
        t0 = time.monotonic()
        steps = chaos.sequence(n)
        p, live = verify(lab, wacd, n, steps, time.monotonic())
        dt = time.monotonic() - t0
        longest = max(longest, dt)
        slowest = max(slowest, live)
        log("sequence %d: %s -> side %s active, epoch %d (%.2f s, online "
            "%.2f s after the last remedy)" % (
                n, "; ".join(steps), p["active_side"], p["epoch"], dt,
                live))
    acd = lab.status("acd")["acd"]
    wait_for(lambda: len(lab.grep_log("acd", r"refused PIM activation")) >=
             acd["stale_refused"], 2, "acd log lines for every refusal")
    lines = lab.grep_log("acd", r"refused PIM activation")
    check(len(lines) == acd["stale_refused"],
          "acd refused %d stale activations but logged %d" % (
              acd["stale_refused"], len(lines)))
    accepted = acd_accepted(lab, wacd)
    log("%d sequences: %d grants (last epoch %d), ACD accepts %d, fences "
        "%d, stale refused %d; longest sequence %.2f s" % (
            SEQUENCES, lab.query("SELECT COUNT(*) FROM pgemu_activation")[0][0],
            lab.status("router")["peripheral"]["epoch"], acd["accepts"],
            acd["fences"], acd["stale_refused"], longest))
    log("slowest return online after the last remedy: %.2f s (limit %.1f)"
        % (slowest, LIVE_S))
    check(acd["accepts"] == len(accepted),
          "ACD counts %d accepts, its events show %d" % (acd["accepts"],
                                                         len(accepted)))


run(test)

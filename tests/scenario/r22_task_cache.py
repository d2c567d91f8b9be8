"""R22: the CTI server's router link or the router goes, the application
keeps reporting to the CTI server, and the cached reporting reaches the
router when it is back: nothing lost, nothing twice, proven as the PIM's
interval spool is (t_router_outage): counts on both ends.

A lab with media routing (the app node's traffic, 6 tasks a second, 400
ms each), 10 agents in MRDs 1 and 2 with their desktops.  The CTI server
is moved off the side that holds the voice PIM first (stop cti-server,
start again: no fail-back), so that the side whose router link is frozen
below is not the voice PIM's (no R6 in the middle of the proof).  Each
outage happens with tasks flowing; between them the traffic stops and
everything settles, and the two ends are compared:

 * the CTI server: every TASK_EVENT it made (`events`) is sent
   (`waiting` 0, `dropped` 0), those made while the router was away
   counted (`cached`) and sent once it is back, flagged (event
   task_events_cached [R22] at the loss, task_events_sent [R22] with
   the count and dropped 0 at the return);
 * the router (not restarted: kill -STOP, the side's router-link frozen):
   every TASK_EVENT the CTI servers made is applied exactly once, the
   ones sent again are counted as duplicates:
   task_events - task_events_duplicate == the CTI servers' events;
 * the history database: every task the application ended has exactly
   one row, in Termination_Call_Detail (CallDisposition 13) or, assigned
   by the application and ended while routing was down, in
   pgemu_left_out (R17); no task in both, none twice; the CTI servers
   took as many END_TASK_INDs as there are such tasks.

The outages: (1) kill -9 of the router; (2) kill -STOP of the router
(longer than its hold time), then -CONT; (3) the CTI server's side's
router-link frozen (`pgemuctl pg-X fault router-link freeze`) past its
hold time, then thawed; (4) a PG side failover while the router is away:
the router killed, tasks reported and cached on the CTI server's side X,
then X killed (kill -9): the other side's CTI server becomes active, takes
X's copy over (task_events_adopted [R22], count) and sends it when the
router is back (before the copy, those TASK_EVENTs died with X: their
tasks had no row).
"""
import signal
import time

from pgemu_test import (DEFAULT_NODES, OUTAGE, check, ev, find_event, log,
                        other, run, wait_for, wait_online)

AGENTS = 10
RATE = 6
NODES = ("pg-a", "pg-b")


def cti_tasks(lab, node):
    return lab.status(node)["cti"]["tasks"]


def cti_active(lab):
    act = [n for n in NODES if lab.status(n)["cti"]["active"]]
    check(len(act) == 1, "active CTI servers: %r" % act)
    return act[0]


def app(lab):
    return lab.status("app")["app"]


def rcounts(lab):
    return lab.ctl("router", "tasks")["counts"]


def traffic(lab, on):
    lab.ctl("app", "traffic", "on" if on else "off")


def settle(lab, nodes, what, timeout=15):
    """Traffic off, every task of the app ended and reported, nothing
    waits at a CTI server, no task left at the router."""
    traffic(lab, False)

    def quiet():
        a = app(lab)
        if a["tasks_live"] or a["arm"]["queued"] or a["arm"]["in_flight"]:
            return False
        for n in nodes:
            t = cti_tasks(lab, n)
            if t["tasks"] or t["waiting"]:
                return False
        return rcounts(lab)["in_progress"] == 0
    wait_for(quiet, timeout, "everything settled (%s)" % what,
             interval=0.1)


def events_made(lab, nodes, dead=None):
    """The TASK_EVENTs the CTI servers made, a killed one's as last read."""
    return sum(cti_tasks(lab, n)["events"] for n in nodes) + (
        dead or 0)


def applied(lab):
    c = rcounts(lab)
    return c["task_events"] - c["task_events_duplicate"]


def wait_cached(lab, node, n, what):
    c0 = cti_tasks(lab, node)["cached"]
    wait_for(lambda: cti_tasks(lab, node)["cached"] >= c0 + n, 10,
             "%s: %d TASK_EVENTs cached (%s)" % (node, n, what),
             interval=0.05)


def sent_back(w, node, mark):
    """task_events_sent [R22] of node since mark: count, dropped 0."""
    e = w.wait(lambda e: e.get("event") == "task_events_sent", 10,
               "%s: task_events_sent" % node, since=mark)
    check(e["rule"] == "R22" and e["count"] > 0 and e["dropped"] == 0,
          "task_events_sent: %r" % e)
    return e


def account(lab, ends_taken):
    """Every task the app ended: exactly one row, TCD or left out."""
    ended = {}
    for t in lab.ctl("app", "tasks"):
        if t["state"] == "ended":
            ended[(t["dialogue"], tuple(t["task"]))] = t
    tcd = lab.query("SELECT DialogueID, RouterCallKeyDay, RouterCallKey, "
                    "RouterCallKeySequenceNumber, CallDisposition FROM "
                    "Termination_Call_Detail")
    left = lab.query("SELECT DialogueID, TaskGroupHigh, TaskGroupLow, "
                     "SequenceNumber, Rule FROM pgemu_left_out")
    keys_t = [(r[0], tuple(r[1:4])) for r in tcd]
    keys_l = [(r[0], tuple(r[1:4])) for r in left]
    check(len(set(keys_t)) == len(keys_t), "Termination_Call_Detail: a "
          "task twice")
    check(len(set(keys_l)) == len(keys_l), "pgemu_left_out: a task twice")
    both = set(keys_t) & set(keys_l)
    check(not both, "tasks both reported and left out: %r" % sorted(both))
    check(all(r[4] == 13 for r in tcd), "dispositions: %r" %
          sorted(set(r[4] for r in tcd)))
    check(all(r[4] in ("R15", "R17") for r in left), "left out: %r" %
          sorted(set(r[4] for r in left)))
    rows = set(keys_t) | set(keys_l)
    lost = sorted(set(ended) - rows)
    extra = sorted(rows - set(ended))
    check(not lost, "%d tasks ended with no row: %r" % (len(lost),
                                                        lost[:10]))
    check(not extra, "%d rows of tasks the app did not end: %r" % (
        len(extra), extra[:10]))
    check(ends_taken == len(ended), "the CTI servers took %d "
          "END_TASK_INDs, the app ended %d tasks" % (ends_taken,
                                                     len(ended)))
    return len(ended), len(keys_t), len(keys_l)


def ends(lab, nodes, dead=0):
    return sum(cti_tasks(lab, n)["taken"]["end"] for n in nodes) + dead


def proof(lab, what, made0, applied0):
    """The router not restarted since made0/applied0: each TASK_EVENT the
    CTI servers made applied once."""
    made = events_made(lab, NODES) - made0
    got = applied(lab) - applied0
    c = rcounts(lab)
    check(made > 0 and got == made, "%s: the CTI servers made %d "
          "TASK_EVENTs, the router applied %d (%r)" % (what, made, got, c))
    for n in NODES:
        t = cti_tasks(lab, n)
        check(t["waiting"] == 0 and t["dropped"] == 0, "%s: %r" % (n, t))
    n, t, lft = account(lab, ends(lab, NODES))
    log("%s: %d TASK_EVENTs made, %d applied once (%d duplicates so far); "
        "%d tasks ended: %d Termination_Call_Detail, %d left out" % (
            what, made, got, c["task_events_duplicate"], n, t, lft))


def test(Lab):
    lab = Lab("r22", agents=AGENTS, desktops=True, media=True,
              agent_mrds=[1, 2], hb_desktop=(100, 3), mr_traffic=RATE,
              **OUTAGE)
    lab.start_all()
    lab.wait_links_up(DEFAULT_NODES)
    p = wait_online(lab, 10, agents=AGENTS)
    voice = "pg-a" if p["active_side"] == "A" else "pg-b"
    wait_for(lambda: rcounts(lab)["ended"] >= 10, 15, "10 tasks ended")

    # The CTI server away from the voice PIM's side.
    x = cti_active(lab)
    if x == voice:
        lab.ctl(x, "stop", "cti-server")
        wait_for(lambda: lab.status(other(x))["cti"]["active"], 5,
                 "%s: CTI server active" % other(x))
        lab.ctl(x, "start", "cti-server")
        x = other(x)
    wait_for(lambda: app(lab)["arm"]["server"] == x, 10,
             "the app's ARM session on %s" % x)
    check(x != voice, "the CTI server on %s, the voice PIM on %s" % (
        x, voice))
    settle(lab, NODES, "start")
    log("CTI server on %s, voice PIM on %s" % (x, voice))
    wx = lab.watch(x)

    # (1) kill -9 of the router -------------------------------------
    traffic(lab, True)
    time.sleep(1)
    m = wx.mark()
    lab.kill("router")
    lab.reap("router")
    e = wx.wait(ev("task_events_cached"), 5, "task_events_cached", since=m)
    check(e["rule"] == "R22", "task_events_cached: %r" % e)
    wait_cached(lab, x, 10, "router killed")
    lab.start("router")
    sent_back(wx, x, m)
    wait_online(lab, 10, agents=AGENTS)
    time.sleep(1)
    settle(lab, NODES, "router restarted")
    n, t, lft = account(lab, ends(lab, NODES))
    check(cti_tasks(lab, x)["dropped"] == 0, "dropped")
    log("(1) router killed and restarted: %d tasks ended, %d "
        "Termination_Call_Detail, %d left out" % (n, t, lft))

    # (2) kill -STOP of the router ----------------------------------
    made0, applied0 = events_made(lab, NODES), applied(lab)
    traffic(lab, True)
    time.sleep(1)
    m = wx.mark()
    lab.kill("router", signal.SIGSTOP)
    wait_for(lambda: lab.link(x, "router-link")["state"] != "UP", 5,
             "%s: the router link lost" % x)
    wait_cached(lab, x, 10, "router stopped")
    lab.kill("router", signal.SIGCONT)
    sent_back(wx, x, m)
    wait_online(lab, 10, agents=AGENTS)
    time.sleep(1)
    settle(lab, NODES, "router woken")
    proof(lab, "(2) router stopped and woken", made0, applied0)

    # (3) the CTI server's side's router link frozen ------------------
    made0, applied0 = events_made(lab, NODES), applied(lab)
    traffic(lab, True)
    time.sleep(1)
    m = wx.mark()
    lab.ctl(x, "fault", "router-link", "freeze")
    wait_for(lambda: lab.link(x, "router-link")["state"] == "FROZEN_LOST",
             5, "%s: the frozen router link lost" % x)
    # The router hears no START from x: each agent it routed a task to
    # stays reserved for it, so only about one task per agent is routed
    # meanwhile (their OFFER, START, END are cached).
    wait_cached(lab, x, 6, "router link frozen")
    lab.ctl(x, "fault", "router-link", "thaw")
    sent_back(wx, x, m)
    time.sleep(1)
    settle(lab, NODES, "router link thawed")
    proof(lab, "(3) %s's router link frozen and thawed" % x, made0,
          applied0)

    # (4) a PG side failover while the router is away ----------------
    y = other(x)
    wy = lab.watch(y)
    traffic(lab, True)
    time.sleep(1)
    lab.kill("router")
    lab.reap("router")
    wait_cached(lab, x, 15, "router killed")
    # The app's messages all taken by x before it dies (an indication
    # unread in a killed process's socket is the app's loss, not R22's).
    traffic(lab, False)
    wait_for(lambda: not app(lab)["tasks_live"] and
             not app(lab)["arm"]["queued"] and
             not app(lab)["arm"]["in_flight"] and
             not cti_tasks(lab, x)["tasks"], 10, "the app's tasks ended")
    time.sleep(0.2)
    tx = cti_tasks(lab, x)
    copy = cti_tasks(lab, y)["peer_copy"]
    check(tx["waiting"] > 0 and copy["held"] >= tx["waiting"],
          "%s waits with %d TASK_EVENTs, %s holds a copy of %d" % (
              x, tx["waiting"], y, copy["held"]))
    m = wy.mark()
    lab.kill(x)
    lab.reap(x)
    e = wy.wait(ev("task_events_adopted"), 10, "task_events_adopted",
                since=m)
    check(e["rule"] == "R22" and e["count"] >= tx["waiting"] and
          not e["router_up"], "task_events_adopted: %r" % e)
    lab.start("router")
    sent_back(wy, y, m)
    wait_for(lambda: cti_tasks(lab, y)["waiting"] == 0, 10,
             "%s: nothing waits" % y)
    wait_for(lambda: rcounts(lab)["in_progress"] == 0, 10,
             "the router: every task ended")
    n, t, lft = account(lab, ends(lab, (y,), tx["taken"]["end"]))
    log("(4) %s killed while the router was away: %s sent its %d "
        "TASK_EVENTs; %d tasks ended, %d Termination_Call_Detail, %d left "
        "out" % (x, y, e["count"], n, t, lft))


run(test)

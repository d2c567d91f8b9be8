"""R14: when the application is restored after its own kill -9 (or a
clean stop) and restart, it resends every pending NEW_TASK it had no
answer for; R12 meanwhile: the router discarded them when it went.

On a whole lab (router, acd, pg-a, pg-b, desk-a, desk-b, agents, app),
with no agent in MRD 2 (the desktops stopped) so that requests wait in
the router's queue.  For kill -9, then SIGTERM, of the app with requests
pending (4, then 4 more):
 * the MR-active side's MR PIM: mr_path_lost (R12); the router: MR
   peripheral offline (R12), tasks_discarded (R12) naming every request
   waiting, one pgemu_task_discard row each, its [R12] log line;
 * the app started again reads its pending table back: `app pending`
   lists the same requests and its ledger (sent, routed, resent, pending)
   is the one it had, before any MR PIM routes;
 * an MR PIM activated with a higher epoch; routing_enabled (no rule:
   the app's own restart, cause restart); tasks_resent (R14, cause
   restart) with the count of pending requests and its [R14] log line;
   the router has every one queued again (the same DialogueIDs);
 * a new task after the restart has a DialogueID above every one before;
 * the agents back: each request routed once (one routed
   Route_Call_Detail row, the app's TaskID); the ledger balanced and
   agreeing with the router's counts (which never restarted).
"""
import signal

from mr_rules import (EMAIL, MR, check_agree, check_routed_once,
                      discards, hold_agents, last_discard_id, ledger,
                      mr_lab, pending, queue_requests, queued, rcounts,
                      release_agents, rule_line, settled, wait_done,
                      wait_routing)
from pgemu_test import check, ev, find_event, log, run, wait_for


def test(Lab):
    lab = mr_lab(Lab, "r14app")
    hold_agents(lab)
    waiting = []
    for how, sig in (("kill -9", signal.SIGKILL),
                     ("SIGTERM", signal.SIGTERM)):
        x, e1 = wait_routing(lab)
        waiting += queue_requests(lab, 4)
        before = ledger(lab)
        check(before["pending"] == len(waiting), "ledger %r" % before)
        top = max(waiting)
        last = last_discard_id(lab)
        wr, wx = lab.watch("router"), lab.watch(x)
        log("%s of the app with %d requests pending (%s routes, epoch %d)"
            % (how, len(waiting), x, e1))
        lab.kill("app", sig)
        rc = lab.reap("app")
        check(sig == signal.SIGKILL or rc == 0, "app exit %d" % rc)
        e = wx.wait(ev("mr_path_lost", peripheral=MR), 5,
                    "%s: mr_path_lost" % x)
        check(e["rule"] == "R12", "%s: %r" % (x, e))
        e = wr.wait(ev("peripheral_offline", peripheral=MR), 5,
                    "router: MR offline")
        check(e["rule"] == "R12", "router: %r" % e)
        e = wr.wait(ev("tasks_discarded"), 5, "router: discards")
        check(e["rule"] == "R12" and e["count"] == len(waiting) and
              sorted(e["dialogues"]) == waiting, "router: %r" % e)
        wait_for(lambda: discards(lab, last) ==
                 [(d, EMAIL, "Email", "R12", MR) for d in waiting], 5,
                 "pgemu_task_discard rows (R12)")
        rule_line(lab, "router", "R12", r"%d pending NEW_TASK requests of "
                  r"MR peripheral %d discarded" % (len(waiting), MR))
        check(queued(lab) == [], "router queued %r" % queued(lab))
        wr.stop()
        wx.stop()

        log("the app started again")
        lab.start("app")
        check(pending(lab) == waiting, "pending table read back: %r" %
              pending(lab))
        led = ledger(lab)
        check(all(led[k] == before[k] for k in ("sent", "routed", "failed",
                                                "resent", "pending")),
              "ledger after the restart %r, before %r" % (led, before))
        e = find_event(lab, "app", ev("tasks_resent"), "tasks_resent", 10)
        check(e["rule"] == "R14" and e["cause"] == "restart" and
              e["count"] == len(waiting), "app: %r" % e)
        e = find_event(lab, "app", ev("routing_enabled"), "routing_enabled")
        check(e["rule"] is None and e["cause"] == "restart" and
              e["pending"] == len(waiting), "app: %r" % e)
        rule_line(lab, "app", "R14", r"%d pending NEW_TASK requests sent "
                  r"again to the MR PIM of pg-[ab] \(the app restarted\)"
                  % len(waiting))
        y, e2 = settled(lab)
        check(e2 > e1, "epoch %d after %d" % (e2, e1))
        wait_for(lambda: queued(lab) == waiting, 5, "queued again")
        led = check_agree(lab, what="after the %s" % how)
        check(led["resent"] == before["resent"] + len(waiting),
              "ledger %r" % led)
        d = queue_requests(lab, 1)[0]
        check(d > top, "DialogueID %d after %d: reused" % (d, top))
        waiting.append(d)
        log("%s: %d resent (R14) to %s (epoch %d)" % (how, len(waiting) - 1,
                                                     y, e2))

    log("the agents back: every request routed once")
    release_agents(lab)
    wait_for(lambda: pending(lab) == [], 10, "nothing pending")
    wait_done(lab, waiting)
    check_routed_once(lab, waiting)
    led = check_agree(lab, what="the end")
    c = rcounts(lab)
    check(led["routed"] == len(waiting) and led["sent"] == c["received"]
          and led["resent"] == c["discarded"] == 4 + 9,
          "ledger %r, router %r" % (led, c))


run(test)

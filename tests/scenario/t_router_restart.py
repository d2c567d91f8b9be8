"""Which side is active: a restarted router adopts the side that still
holds the PIM, even when that side comes back late (its reconnection
back-off at the cap) and the standby reaches the new router first: the
standby says, from the private link, that its peer holds the PIM, and the
router waits for that peer.  No grant, no fencing, no data deleted.

Then both sides late: the router stays down until both sides' back-off
is at the cap (3 s, six times the restarted router's hold time), so
neither side is back when its hold time is over.  The database says which
side held the PIM: the router waits for it (it never judges a side it has
not heard from before that side's back-off is over), adopts it, and
nothing is lost: no pim_lost, no grant, no logout, no pgemu_discard row.
"""
import signal

from pgemu_test import check, lab_online, log, run, wait_for

# The restarted router's hold time (500 ms) far under the sides' capped
# reconnection back-off (3 s).
SLOW_BACK = dict(hb_router=(100, 5), reconnect=(100, 3000, 10000))


def both_late(Lab):
    lab, per = lab_online(Lab, "rlate", 5, **SLOW_BACK)
    lab.kill("router")
    lab.reap("router")
    wait_for(lambda: all(lab.link(pg, "router-link")["backoff_ms"] >= 3000
                         for pg in ("pg-a", "pg-b")), 15,
             "both sides' router back-off at the cap")
    lab.start("router")
    w = lab.watch("router")
    e = w.wait(lambda e: e.get("event") in ("pim_adopted", "pim_granted",
                                             "pim_lost"), 10,
               "adoption", since=0)
    check(e["event"] == "pim_adopted", "the router judged a side it had "
          "not heard from: %s" % e["message"])
    wait_for(lambda: lab.status("router")["peripheral"]["online"], 5,
             "online after resync")
    per2 = lab.status("router")["peripheral"]
    check((per2["active_side"], per2["epoch"]) ==
          (per["active_side"], per["epoch"]), "roles changed: %r -> %r" % (
              per, per2))
    check(lab.status("router")["counters"]["grants"] == 0, "a grant")
    check(not lab.query("SELECT * FROM pgemu_discard"), "a loss recorded")
    check(not lab.query("SELECT * FROM Agent_Logout WHERE ReasonCode <> 0"),
          "agents logged out")
    check(lab.grep_log("router", r"held the PIM .* neither side has "
                       r"reported yet: waiting"),
          "the router did not say it waited for the holder")
    log("both sides late: side %s adopted with epoch %d" % (
        per2["active_side"], per2["epoch"]))


def test(Lab):
    both_late(Lab)
    active_late(Lab)


def active_late(Lab):
    lab, per = lab_online(Lab, "rrestart", 5, **SLOW_BACK)
    act = "pg-a" if per["active_side"] == "A" else "pg-b"
    sb = "pg-b" if act == "pg-a" else "pg-a"
    lab.kill("router")
    lab.reap("router")
    # The active side's retry delay reaches the cap: it will be late.
    wait_for(lambda: lab.link(act, "router-link")["backoff_ms"] >= 3000,
             15, "%s's router back-off at the cap" % act)
    # The standby restarts too, so it reaches the new router at once.
    lab.kill(sb)
    lab.reap(sb)
    lab.start(sb)
    wait_for(lambda: lab.link(sb, "private-link")["state"] == "UP", 5,
             "private link back")
    wait_for(lambda: lab.status(sb)["peer"]["state"] == "ACTIVE", 5,
             "%s to know its peer is active" % sb)
    w = None
    lab.start("router")
    w = lab.watch("router")
    wait_for(lambda: lab.link(act, "router-link")["state"] == "UP", 10,
             "%s back at the router" % act)
    e = w.wait(lambda e: e.get("event") in ("pim_adopted", "pim_granted"),
               5, "adoption", since=0)
    check(e["event"] == "pim_adopted", "the router granted instead of "
          "adopting: %s" % e["message"])
    per2 = lab.status("router")["peripheral"]
    check(per2["active_side"] == per["active_side"] and
          per2["epoch"] == per["epoch"], "roles changed: %r -> %r" % (
              (per["active_side"], per["epoch"]),
              (per2["active_side"], per2["epoch"])))
    wait_for(lambda: lab.status("router")["peripheral"]["online"], 5,
             "online after resync")
    check(lab.status("router")["counters"]["grants"] == 0, "a grant")
    check(lab.status("acd")["acd"]["fences"] == 0, "the ACD fenced")
    check(lab.status(act)["reporting"]["rows_discarded"] == 0,
          "data deleted on the active side")
    check(lab.grep_log("router", r"says side . holds the PIM .*waiting"),
          "the router did not say it waited")
    log("router restart: side %s adopted with epoch %d" % (
        per2["active_side"], per2["epoch"]))


run(test)

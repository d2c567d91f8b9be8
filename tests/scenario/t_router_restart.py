"""Which side is active: a restarted router adopts the side that still
holds the PIM, even when that side comes back late (its reconnection
back-off at the cap) and the standby reaches the new router first: the
standby says, from the private link, that its peer holds the PIM, and the
router waits for that peer.  No grant, no fencing, no data deleted.
"""
import signal

from pgemu_test import check, log, run, wait_for


def test(Lab):
    lab = Lab("rrestart", hb_router=(100, 5), reconnect=(100, 3000, 10000),
              agents=5)
    lab.start_all()
    lab.wait_links_up()
    wait_for(lambda: lab.status("router")["peripheral"]["online"], 10,
             "online")
    per = lab.status("router")["peripheral"]
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

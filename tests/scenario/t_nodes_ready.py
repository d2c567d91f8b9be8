"""Foundation: the four nodes come up READY and connect as DESIGN.md draws
them; STATUS=, WATCHDOG=1 and STOPPING=1 reach the notify socket; a
restarted pg-a reconnects; SIGTERM is a clean exit.
"""
import signal

from pgemu_test import check, log, run, wait_for


def test(Lab):
    lab = Lab("ready")
    for n in ("router", "acd", "pg-a", "pg-b"):
        lab.start(n, extra_env={"WATCHDOG_USEC": "200000"}
                  if n == "router" else None)
        msgs = lab.notify_msgs(n)
        ready = [m for m in msgs if "READY=1" in m]
        check(ready and "STATUS=" in ready[0],
              "%s: READY=1 without STATUS=: %r" % (n, msgs))
        st = lab.status(n)
        check(st["node"] == n and st["lab"] == "ready",
              "%s: status names %s of %s" % (n, st["node"], st["lab"]))
    lab.wait_links_up()

    # Who connects to whom.
    names = lambda n: sorted(l["name"] for l in lab.status(n)["links"])
    check(names("router") == ["pg-a", "pg-b"], "router links %s" %
          names("router"))
    check(names("acd") == ["pg-a", "pg-b"], "acd links %s" % names("acd"))
    check(names("pg-a") == ["acd-link", "private-link", "router-link"],
          "pg-a links %s" % names("pg-a"))
    a = lab.link("pg-a", "private-link")
    b = lab.link("pg-b", "private-link")
    check(a["side"] == "client" and b["side"] == "server",
          "private link: side A connects, side B listens")
    check(a["heartbeat"] == {"interval_ms": 100, "misses": 5},
          "private heartbeat %r" % a["heartbeat"])
    check(lab.link("pg-a", "router-link")["heartbeat"] ==
          {"interval_ms": 400, "misses": 5}, "router heartbeat")

    # Heartbeats flow and are counted both ways.
    wait_for(lambda: lab.link("pg-b", "private-link")["counters"]
             ["heartbeats_in"] >= 5, 3, "private heartbeats at pg-b")
    t = lab.link("pg-a", "private-link")["types"]
    check(t["HEARTBEAT"]["out"] >= 1 and t["HELLO"]["out"] == 1 and
          t["HELLO_ACK"]["in"] == 1, "per-type counters %r" % t)

    # Watchdog and status updates.
    lab.wait_notify("router", "WATCHDOG=1", 2)
    check(any("STATUS=" in m and "pg-a UP" in m
              for m in lab.notify_msgs("router")),
          "router STATUS= never showed pg-a UP: %r" %
          lab.notify_msgs("router"))

    # A restarted pg-a reconnects to everything.
    w = lab.watch("pg-b")
    lab.kill("pg-a", signal.SIGKILL)
    lab.reap("pg-a")
    w.wait(lambda e: e.get("event") == "link_state" and
           e.get("link") == "private-link" and e.get("to") == "IDLE",
           2, "pg-b to see the private link go")
    lab.start("pg-a")
    w.wait(lambda e: e.get("event") == "link_state" and
           e.get("link") == "private-link" and e.get("to") == "UP",
           5, "pg-b to see pg-a back")
    lab.wait_links_up()
    check(lab.link("router", "pg-a")["counters"]["connects"] == 2,
          "router saw pg-a connect twice")

    # SIGTERM: STOPPING=1 and exit 0, for every node.
    for n in ("pg-a", "pg-b", "acd", "router"):
        rc = lab.stop(n)
        check(rc == 0, "%s exited %d on SIGTERM" % (n, rc))
        lab.wait_notify(n, "STOPPING=1", 2, exited_ok=True)
        check(lab.grep_log(n, r": stopped$"), "%s logged no stop" % n)
    log("all nodes stopped cleanly")


run(test)

"""Foundation: how fast a lost peer is seen.

kill -9 of pg-a is seen by pg-b within 50 ms (the kernel closes the
socket); kill -STOP of pg-a and `fault freeze` are seen within interval x
misses plus a small margin (private link 100 ms x 5, router link 400 ms x 5),
and not before: detection is by missed heartbeats.  A continued or thawed
side reconnects; `fault down`/`up` cut and restore a link.
"""
import signal
import time

from pgemu_test import check, link_event, log, run, wait_for

MARGIN = 0.15


def lost(e, link):
    return (e.get("event") == "link_state" and e.get("link") == link and
            e.get("from") in ("UP", "FROZEN") and e.get("to") != "UP")


def test(Lab):
    lab = Lab("detect")
    lab.start_all()
    lab.wait_links_up()
    wb = lab.watch("pg-b")
    wr = lab.watch("router")

    # kill -9: the closed connection is seen at once.
    wb.mark()
    t0 = time.time()
    lab.kill("pg-a", signal.SIGKILL)
    e = wb.wait(lambda e: lost(e, "private-link"), 2, "pg-b: private lost")
    dt = e["time"] - t0
    log("kill -9 pg-a seen by pg-b after %.1f ms (%s)" % (dt * 1000,
                                                         e["message"]))
    check(dt < 0.050, "kill -9 seen after %.1f ms, over 50 ms" % (dt * 1000))
    check(e["cause"] == "CLOSED", "cause %s, expected CLOSED" % e["cause"])
    lab.reap("pg-a")
    lab.start("pg-a")
    lab.wait_links_up()

    # kill -STOP: seen by missed heartbeats, private 500 ms, router 2 s.
    m = wb.mark()
    wr.mark()
    t0 = time.time()
    lab.kill("pg-a", signal.SIGSTOP)
    e = wb.wait(lambda e: lost(e, "private-link"), 3, "pg-b: private lost")
    dt = e["time"] - t0
    log("kill -STOP pg-a seen by pg-b after %.1f ms" % (dt * 1000))
    check(e["cause"] == "HOLD_EXPIRED", "cause %s" % e["cause"])
    check(0.5 - 0.1 - 0.02 <= dt <= 0.5 + MARGIN,
          "private link loss after %.3f s, expected 0.4..%.2f" %
          (dt, 0.5 + MARGIN))
    e = wr.wait(lambda e: lost(e, "pg-a"), 4, "router: pg-a lost")
    dt = e["time"] - t0
    log("kill -STOP pg-a seen by router after %.1f ms" % (dt * 1000))
    check(e["cause"] == "HOLD_EXPIRED", "router cause %s" % e["cause"])
    check(2.0 - 0.4 - 0.02 <= dt <= 2.0 + MARGIN,
          "router link loss after %.3f s, expected 1.6..%.2f" %
          (dt, 2.0 + MARGIN))
    check(all(x.get("link") != "private-link" or x.get("to") != "UP"
              for x in wb.since(m)), "pg-b link came back while pg-a "
          "was stopped")
    lab.kill("pg-a", signal.SIGCONT)
    lab.wait_links_up()
    log("pg-a continued and reconnected")

    # fault freeze on pg-a's private link: pg-b sees a hang.
    wb.mark()
    t0 = time.time()
    st = lab.ctl("pg-a", "fault", "private-link", "freeze")
    check(st["state"] == "FROZEN" and st["frozen"], "freeze reply %r" % st)
    e = wb.wait(lambda e: lost(e, "private-link"), 3, "pg-b: private lost")
    dt = e["time"] - t0
    log("fault freeze seen by pg-b after %.1f ms" % (dt * 1000))
    check(0.4 - 0.02 <= dt <= 0.5 + MARGIN,
          "freeze seen after %.3f s" % dt)
    wait_for(lambda: lab.link("pg-a", "private-link")["state"] ==
             "FROZEN_LOST", 2, "pg-a private link FROZEN_LOST")
    # While frozen, pg-a does not reconnect.
    check(lab.link("pg-b", "private-link")["state"] == "IDLE",
          "pg-b private link should wait")
    lab.ctl("pg-a", "fault", "private-link", "thaw")
    wb.wait(link_event("private-link", to="UP"), 3, "pg-b: private back")
    lab.wait_links_up(["pg-a", "pg-b"])

    # freeze on the router's side of its link to pg-a: pg-a sees 2 s.
    wa = lab.watch("pg-a")
    wa.mark()
    t0 = time.time()
    lab.ctl("router", "fault", "pg-a", "freeze")
    e = wa.wait(lambda e: lost(e, "router-link"), 4, "pg-a: router lost")
    dt = e["time"] - t0
    log("router-side freeze seen by pg-a after %.1f ms" % (dt * 1000))
    check(1.6 - 0.02 <= dt <= 2.0 + MARGIN, "seen after %.3f s" % dt)
    # A frozen server link refuses the reconnecting client.
    wait_for(lambda: lab.status("router")["listeners"][0]["refused"] >= 1,
             3, "router to refuse pg-a while frozen")
    check(lab.link("pg-a", "router-link")["state"] in ("BACKOFF",
                                                       "CONNECT", "HELLO"),
          "pg-a keeps retrying")
    lab.ctl("router", "fault", "pg-a", "thaw")
    wa.wait(link_event("router-link", to="UP"), 5, "pg-a: router back")

    log("router-side thawed")
    # fault down / up: the peer sees the close at once.
    t0 = time.time()
    st = lab.ctl("pg-b", "fault", "acd-link", "down")
    check(st["state"] == "ADMIN_DOWN", "down reply %r" % st)
    wacd = lab.watch("acd")
    wait_for(lambda: lab.link("acd", "pg-b")["state"] == "IDLE", 1,
             "acd to see pg-b's link close")
    connects = lab.link("pg-b", "acd-link")["counters"]["connects"]
    check(lab.link("pg-b", "acd-link")["state"] == "ADMIN_DOWN",
          "stays down")
    lab.ctl("pg-b", "fault", "acd-link", "up")
    wacd.wait(link_event("pg-b", to="UP"), 3, "acd: pg-b back")
    check(lab.link("pg-b", "acd-link")["counters"]["connects"] ==
          connects + 1, "one reconnect after up")


run(test)

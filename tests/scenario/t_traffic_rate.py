"""Simulated traffic produces what it is asked for.

`pgemuctl acd traffic rate N` changes the offered calls a second live: the
ACD's call counter then grows by N a second (within 10 % over a 3 s
window, or 5 standard deviations of the Poisson stream when more) at 100 and at 1,000 calls a second, when the agents can carry it
(2,000 agents, calls of about 0.7 s), the changes of one turn of the
ACD's loop go in one message, and every change reaches the router's
real-time table.  `traffic off` stops the calls, `traffic on`
starts them again at the rate last asked.  A rate that is not a number,
negative or too large is refused.
"""
import math
import time

from pgemu_test import check, log, run, wait_for

AGENTS = 2000
WINDOW = 3.0


def calls(lab):
    return lab.status("acd")["acd"]["calls"]


def measured_rate(lab):
    """Calls a second over WINDOW, after a second to settle."""
    time.sleep(1.0)
    c0, t0 = calls(lab), time.monotonic()
    time.sleep(WINDOW)
    c1, t1 = calls(lab), time.monotonic()
    return (c1 - c0) / (t1 - t0)


def test(Lab):
    lab = Lab("traffic-rate", agents=AGENTS, traffic=True, interval=1800)
    lab.start_all()
    lab.wait_links_up()
    wait_for(lambda: lab.status("router")["peripheral"]["agents_logged_in"]
             == AGENTS, 20, "every agent logged in at the router")

    for rate in (100, 1000):
        r = lab.ctl("acd", "traffic", "rate", str(rate))
        check(r == {"traffic": True, "calls_per_second": rate},
              "traffic rate %d: %r" % (rate, r))
        got = measured_rate(lab)
        st = lab.status("acd")["acd"]
        log("asked %d calls/s: %.1f calls/s, %d without an agent" % (
            rate, got, st["calls_no_agent"]))
        # The calls are a Poisson stream: over the window, N expected
        # calls vary by sqrt(N); 10 %, or 5 standard deviations when
        # that is more (300 calls at 100 a second: 29 %).
        expected = rate * WINDOW
        tol = max(0.10, 5 * math.sqrt(expected) / expected)
        check(abs(got - rate) <= rate * tol, "asked %d calls a second, "
              "got %.1f (tolerance %.0f %%)" % (rate, got, tol * 100))
        check(st["calls_per_second"] == rate, "status %r" % st)
        if rate == 1000:
            # Changes of one turn of the ACD's loop go in one message:
            # at 1,000 calls a second (4 changes each) many share one.
            check(st["changes_sent"] > 1.5 * st["change_messages"],
                  "%d changes in %d ACD_AGENTS messages: not batched" % (
                      st["changes_sent"], st["change_messages"]))
            log("%d changes in %d ACD_AGENTS messages" % (
                st["changes_sent"], st["change_messages"]))

    # The changes reach the router: once traffic stops and the last calls
    # end, every agent is available at the ACD and at the router.
    r = lab.ctl("acd", "traffic", "off")
    check(r == {"traffic": False, "calls_per_second": 1000}, "off: %r" % r)
    c = calls(lab)
    time.sleep(0.2)
    check(calls(lab) == c, "calls went on after traffic off")

    def same():
        if lab.status("acd")["acd"]["states"] != {"available": AGENTS}:
            return False
        return all(a["state"] == "available"
                   for a in lab.ctl("router", "agents"))
    wait_for(same, 10, "every agent available at the ACD and the router")

    r = lab.ctl("acd", "traffic", "on")
    check(r == {"traffic": True, "calls_per_second": 1000}, "on: %r" % r)
    wait_for(lambda: calls(lab) > c + 100, 5, "calls again")

    for bad in ("-1", "fast", "2000000", "nan", ""):
        rc, out, err = lab.ctl_raw("acd", "traffic", "rate", bad)
        check(rc != 0 and "rate" in err, "traffic rate %r: %d %s %s" % (
            bad, rc, out, err))
    check(lab.status("acd")["acd"]["calls_per_second"] == 1000,
          "a bad rate changed the rate")


run(test)

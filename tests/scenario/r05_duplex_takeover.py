"""R5: with a duplex PG, when the active side loses its connection, the other
side comes up and becomes active (docs/failover.md, "Which side is active").

Proves, on a lab with short heartbeats (private 20 ms x 5, router and ACD
links 50 ms x 5):
 (a) kill -9 of the active side: the other side's pim_active event comes
     within 50 ms of the kill; the router's pim_granted (rule R5) names the
     other side with the epoch + 1;
 (b) the killed side, restarted, stays IDLE although it is a standing
     candidate (no failback), and the active side keeps its epoch;
 (d) `fault acd-link down` on the active side: the router loses the PIM
     ("PIM went idle", R2/R3 with reason code -1) and grants the other side;
 (e) SIGTERM of the active side: it resigns, the router grants the other
     side at once (pim_active < 100 ms after the signal, far under any
     heartbeat time-out), reason "resigned", agents logged out with R6
     and reason code 50002;
 (f) `fault private-link freeze` on the active side: once the peer has lost
     the private link and told the router, nothing changes hands;
and, on a lab with the product's default router heartbeat (400 ms x 5):
 (c) kill -STOP of the active side: the router grants the other side only
     once its own link to the stopped side has timed out (1.6..2.0 s after
     the stop, + 0.2 s margin); after SIGCONT the old side ends IDLE (its
     ACD link closed, or fenced/refused by the ACD) and is never ACTIVE
     again.
The lab of (c) runs first; then (a), (b), (d), (f), (e) on one lab.
"""
import signal
import time

from pgemu_test import (FAST, check, ev, log, node_of, other, periph, run,
                        start_duplex, wait_candidate, wait_for, wait_online)


def side_of(node):
    return {"pg-a": "A", "pg-b": "B"}[node]


def link_lost(link):
    def pred(e):
        return (e.get("event") == "link_state" and e.get("link") == link
                and e.get("from") in ("UP", "FROZEN") and
                e.get("to") not in ("UP", "FROZEN"))
    return pred


def pim(lab, node):
    return lab.status(node)["pim"]


def fast_part(Lab):
    lab = Lab("r05", **FAST)
    act, stby, e0 = start_duplex(lab)
    wr = lab.watch("router")
    ws = lab.watch(stby)
    log("(a) %s active with epoch %d; kill -9 of it" % (act, e0))

    # (a) kill -9 of the active side.
    m = wr.mark()
    t0 = time.time()
    lab.kill(act, signal.SIGKILL)
    e = ws.wait(ev("pim_active"), 2, "%s: pim_active" % stby)
    dt = e["time"] - t0
    log("(a) %s active %.1f ms after the kill" % (stby, dt * 1000))
    check(dt < 0.050, "(a) takeover after kill -9 took %.1f ms, over 50 ms"
          % (dt * 1000))
    check(e["epoch"] == e0 + 1, "(a) %s active with epoch %r, expected %d"
          % (stby, e["epoch"], e0 + 1))
    g = wr.wait(ev("pim_granted"), 2, "router: pim_granted", since=m)
    check(g["rule"] == "R5" and g["side"] == side_of(stby) and
          g["epoch"] == e0 + 1,
          "(a) router grant %r, expected R5 to side %s with epoch %d" %
          (g, side_of(stby), e0 + 1))
    lost = wr.wait(ev("pim_lost"), 1, "router: pim_lost", since=m)
    check(lost["rule"] == "R5" and lost["side"] == side_of(act) and
          lost["seq"] < g["seq"] and "router link went" in lost["reason"],
          "(a) router pim_lost %r" % lost)
    check(lab.reap(act) == -signal.SIGKILL, "%s not killed" % act)

    # (b) restart: no failback.
    grants = lab.status("router")["counters"]["grants"]
    m = wr.mark()
    lab.start(act)
    lab.wait_links_up()
    wait_candidate(lab, act)
    st = pim(lab, act)
    check(st["state"] == "IDLE" and st["activations"] == 0,
          "(b) restarted %s is not idle: %r" % (act, st))
    p = periph(lab)
    check(p["active_side"] == side_of(stby) and p["epoch"] == e0 + 1 and
          p["online"], "(b) router after the restart: %r" % p)
    check(lab.status("router")["counters"]["grants"] == grants and
          not [x for x in wr.since(m) if x.get("event") in
               ("pim_granted", "pim_lost")],
          "(b) the router granted or lost the PIM on the restart: %r" %
          [x["message"] for x in wr.since(m)])
    st = pim(lab, stby)
    check(st["state"] == "ACTIVE" and st["epoch"] == e0 + 1,
          "(b) %s changed: %r" % (stby, st))
    acd = lab.status("acd")["acd"]
    check(acd["accepted_pim"] == stby and acd["accepted_epoch"] == e0 + 1,
          "(b) ACD accepts %r" % acd)
    log("(b) restarted %s stays IDLE, %s keeps epoch %d" % (act, stby,
                                                          e0 + 1))

    # (d) the active side's ACD link cut.
    cur, nxt, e1 = stby, act, e0 + 1
    wn = lab.watch(nxt)
    m = wr.mark()
    lab.ctl(cur, "fault", "acd-link", "down")
    lost = wr.wait(ev("pim_lost"), 2, "router: pim_lost", since=m)
    check(lost["rule"] == "R5" and lost["side"] == side_of(cur) and
          "PIM went idle" in lost["reason"],
          "(d) router pim_lost %r, expected side %s's PIM went idle" %
          (lost, side_of(cur)))
    lo = wr.wait(ev("agents_logged_out"), 2, "router: agents_logged_out",
                 since=m)
    check(lo["rule"] == "R3" and lo["reason_code"] == -1,
          "(d) ACD link cut: logout %r, expected R3 with reason code -1" %
          lo)
    g = wr.wait(ev("pim_granted"), 2, "router: pim_granted", since=m)
    check(g["rule"] == "R5" and g["side"] == side_of(nxt) and
          g["epoch"] == e1 + 1 and g["seq"] > lost["seq"],
          "(d) router grant %r, expected side %s epoch %d" %
          (g, side_of(nxt), e1 + 1))
    wn.wait(ev("pim_active", epoch=e1 + 1), 2, "%s: pim_active" % nxt)
    check(pim(lab, cur)["state"] == "IDLE", "(d) %s not idle" % cur)
    lab.ctl(cur, "fault", "acd-link", "up")
    wait_candidate(lab, cur)
    wait_online(lab)
    log("(d) ACD link cut on %s: %s active with epoch %d" % (cur, nxt,
                                                            e1 + 1))

    # (f) private link frozen on the active side: nothing changes hands.
    act, peer, e3 = nxt, cur, e1 + 1
    wp = lab.watch(peer)
    grants = lab.status("router")["counters"]["grants"]
    pg_status_in = lab.link("router", peer)["types"]["PG_STATUS"]["in"]
    m = wr.mark()
    mp = wp.mark()
    lab.ctl(act, "fault", "private-link", "freeze")
    wp.wait(link_lost("private-link"), 2, "%s: private link lost" % peer)
    wp.wait(ev("peer_lost"), 1, "%s: peer_lost" % peer, since=mp)
    # The peer told the router (a PG_STATUS after the loss): the router
    # has decided on it.
    wait_for(lambda: lab.link("router", peer)["types"]["PG_STATUS"]["in"] >
             pg_status_in, 2, "router: a PG_STATUS from %s" % peer)
    p = periph(lab)
    check(p["active_side"] == side_of(act) and p["epoch"] == e3 and
          p["online"], "(f) private link freeze changed the router: %r" % p)
    check(lab.status("router")["counters"]["grants"] == grants,
          "(f) the router granted on a private link freeze")
    check(pim(lab, act)["state"] == "ACTIVE" and
          pim(lab, peer)["state"] == "IDLE",
          "(f) PIM states changed: %s %r, %s %r" % (
              act, pim(lab, act), peer, pim(lab, peer)))
    lab.ctl(act, "fault", "private-link", "thaw")
    lab.wait_links_up(["pg-a", "pg-b"])
    p = periph(lab)
    check(p["active_side"] == side_of(act) and p["epoch"] == e3 and
          lab.status("router")["counters"]["grants"] == grants and
          not [x for x in wr.since(m) if x.get("event") in
               ("pim_granted", "pim_lost")],
          "(f) the PIM changed hands around a private link freeze: %r" %
          [x["message"] for x in wr.since(m)])
    log("(f) private link freeze on %s: %s still active, epoch %d" % (
        act, act, e3))

    # (e) SIGTERM of the active side: it resigns.
    cur, nxt, e2 = act, peer, e3
    wn = lab.watch(nxt)
    m = wr.mark()
    t0 = time.time()
    lab.kill(cur, signal.SIGTERM)
    e = wn.wait(ev("pim_active"), 2, "%s: pim_active" % nxt)
    dt = e["time"] - t0
    log("(e) %s active %.1f ms after SIGTERM of %s" % (nxt, dt * 1000, cur))
    check(dt < 0.100, "(e) takeover after SIGTERM took %.1f ms" %
          (dt * 1000))
    check(e["epoch"] == e2 + 1, "(e) epoch %r, expected %d" % (e["epoch"],
                                                             e2 + 1))
    lost = wr.wait(ev("pim_lost"), 1, "router: pim_lost", since=m)
    check(lost["side"] == side_of(cur) and "resigned" in lost["reason"],
          "(e) router pim_lost %r, expected side %s resigned" %
          (lost, side_of(cur)))
    g = wr.wait(ev("pim_granted"), 1, "router: pim_granted", since=m)
    check(g["rule"] == "R5" and g["side"] == side_of(nxt) and
          "resigned" in g["reason"] and g["epoch"] == e2 + 1,
          "(e) router grant %r" % g)
    lo = wr.wait(ev("agents_logged_out"), 2, "router: agents_logged_out",
                 since=m)
    check(lo["rule"] == "R6" and lo["reason_code"] == 50002,
          "(e) SIGTERM: logout %r, expected R6 with reason code 50002" % lo)
    check(lab.reap(cur) == 0, "(e) %s did not exit 0 on SIGTERM" % cur)
    lab.start(cur)
    lab.wait_links_up()
    wait_candidate(lab, cur)
    log("(e) SIGTERM of %s: %s active with epoch %d" % (cur, nxt, e2 + 1))


def stop_part(Lab):
    # The product's router heartbeat: 400 ms x 5.
    lab = Lab("r05stop", hb_private=(20, 5), hb_router=(400, 5),
              hb_acd=(50, 5), traffic=False)
    lab.start_all()
    lab.wait_links_up()
    p = wait_online(lab)
    act = node_of(p["active_side"])
    stby = other(act)
    e0 = p["epoch"]
    wait_candidate(lab, stby)
    wr = lab.watch("router")
    wa = lab.watch(act)
    ws = lab.watch(stby)
    wacd = lab.watch("acd")
    m = wr.mark()
    t0 = time.time()
    lab.kill(act, signal.SIGSTOP)
    g = wr.wait(ev("pim_granted"), 4, "router: pim_granted")
    dt = g["time"] - t0
    gone = wr.wait(link_lost(act), 1, "router: link to %s lost" % act,
                   since=m)
    log("(c) kill -STOP of %s: router link lost after %.3f s, grant "
        "after %.3f s" % (act, gone["time"] - t0, dt))
    check(gone["cause"] == "HOLD_EXPIRED" and gone["seq"] < g["seq"],
          "(c) the grant %r came before the router's link to %s timed out"
          " (%r)" % (g["message"], act, gone))
    check(1.6 - 0.02 <= dt <= 2.0 + 0.2,
          "(c) grant %.3f s after kill -STOP, expected 1.6..2.2 s" % dt)
    check(g["rule"] == "R5" and g["side"] == side_of(stby) and
          g["epoch"] == e0 + 1, "(c) router grant %r" % g)
    ws.wait(ev("pim_active", epoch=e0 + 1), 2, "%s: pim_active" % stby)

    ma = wa.mark()
    mc = wacd.mark()
    lab.kill(act, signal.SIGCONT)
    lab.wait_links_up()
    wait_for(lambda: pim(lab, act)["state"] == "IDLE", 3,
             "(c) continued %s to go IDLE" % act)
    wait_candidate(lab, act)
    mine = lambda e: e.get("pim") == act
    fenced = [e for e in wacd.since(mc)
              if e.get("event") in ("pim_fenced", "pim_refused") and mine(e)]
    closed = [e for e in wa.since(ma) if link_lost("acd-link")(e)]
    log("(c) SIGCONT: %s IDLE; fenced/refused %s, ACD link closed %s" % (
        act, [e["message"] for e in fenced], [e["message"] for e in closed]))
    check(fenced or closed, "(c) the continued side was neither fenced nor"
          " refused by the ACD nor lost its ACD link")
    check(not [e for e in wa.since(ma) if e.get("event") == "pim_active"],
          "(c) the continued side became ACTIVE again")
    st = pim(lab, act)
    check(st["state"] == "IDLE", "(c) %s: %r" % (act, st))
    p = periph(lab)
    acd = lab.status("acd")["acd"]
    check(p["active_side"] == side_of(stby) and p["epoch"] == e0 + 1 and
          acd["accepted_pim"] == stby and acd["accepted_epoch"] == e0 + 1
          and acd["max_accepted_at_once"] == 1,
          "(c) after SIGCONT: router %r, ACD %r" % (p, acd))


def test(Lab):
    stop_part(Lab)
    fast_part(Lab)


run(test)

"""R6: when the agent's PG or the CTI Manager service stops, agents are
temporarily logged out, and logged back in once the backup PG side or CTI
Manager works (docs/failover.md, "What each trigger does").

Proves, with 20 agents and short heartbeats:
 * PG side failover (kill -9 of the active side): the router emits
   agents_logged_out with rule R6 for all 20 agents (reason code 50002),
   then peripheral_online with rule R8; afterwards every agent is logged in
   again at the router, served by the other side;
 * CTI Manager failover (`pgemuctl acd stop cti-manager primary`, with a
   backup endpoint): the ACD emits cti_manager_stopped (R6), the router
   agents_logged_out (R6, 20 agents, 50002), the active PG side
   pim_recovering naming the backup port, then the router peripheral_online
   (R8); the same side stays active with the SAME epoch (no grant), the
   ACD accepts that epoch again, and the side's acd-link now runs on the
   backup port (port == alt_port).
"""
import signal

from pgemu_test import (FAST, check, ev, free_ports, log, node_of, other,
                        periph, run, start_duplex, wait_candidate, wait_for,
                        wait_online)

AGENTS = 20


def all_logged_in(lab):
    ags = lab.ctl("router", "agents")
    return len(ags) == AGENTS and all(a["logged_in"] for a in ags)


def pg_side_failover(Lab):
    lab = Lab("r06", agents=AGENTS, **FAST)
    lab.start_all()
    lab.wait_links_up()
    p = wait_online(lab)
    act = node_of(p["active_side"])
    stby = other(act)
    wait_candidate(lab, stby)
    check(p["agents_logged_in"] == AGENTS and all_logged_in(lab),
          "before: %r" % p)
    wr = lab.watch("router")
    ws = lab.watch(stby)
    m = wr.mark()
    lab.kill(act, signal.SIGKILL)
    lo = wr.wait(ev("agents_logged_out"), 2, "router: agents_logged_out")
    log("kill -9 %s: %s" % (act, lo["message"]))
    check(lo["rule"] == "R6" and lo["agents"] == AGENTS and
          lo["reason_code"] == 50002,
          "agents_logged_out %r, expected R6, %d agents, reason 50002" %
          (lo, AGENTS))
    on = wr.wait(ev("peripheral_online"), 2, "router: peripheral_online")
    log("then: %s" % on["message"])
    check(on["rule"] == "R8" and on["agents"] == AGENTS,
          "peripheral_online %r, expected R8 with %d agents" % (on, AGENTS))
    off = [e for e in wr.since(m) if e.get("event") == "peripheral_offline"]
    check(len(off) == 1 and off[0]["seq"] < lo["seq"],
          "peripheral_offline before the logout: %r" % off)
    ws.wait(ev("agents_relogin"), 2, "%s: agents_relogin" % stby)
    p = periph(lab)
    check(p["online"] and p["active_side"] == stby[-1].upper() and
          p["agents_logged_in"] == AGENTS and all_logged_in(lab),
          "after the failover: %r, agents %r" % (
              p, lab.ctl("router", "agents")))


def cti_manager_failover(Lab):
    backup = free_ports(1)[0]
    lab = Lab("r06cti", agents=AGENTS,
              sections={"acd": "backup_port = %d;" % backup}, **FAST)
    act, stby, e0 = start_duplex(lab)
    l = lab.link(act, "acd-link")
    check(l.get("alt_port") == backup and l["port"] != backup,
          "%s acd-link before: %r" % (act, l))
    grants = lab.status("router")["counters"]["grants"]
    wr = lab.watch("router")
    wa = lab.watch(act)
    wacd = lab.watch("acd")
    m = wr.mark()
    res = lab.ctl("acd", "stop", "cti-manager", "primary")
    check(res == {"primary": False, "backup": True}, "stop reply %r" % res)
    e = wacd.wait(ev("cti_manager_stopped"), 2, "acd: cti_manager_stopped")
    check(e["rule"] == "R6" and e["endpoint"] == "primary",
          "cti_manager_stopped %r" % e)
    lo = wr.wait(ev("agents_logged_out"), 2, "router: agents_logged_out")
    log("CTI Manager primary stopped: %s" % lo["message"])
    check(lo["rule"] == "R6" and lo["agents"] == AGENTS and
          lo["reason_code"] == 50002,
          "agents_logged_out %r, expected R6, %d agents, reason 50002" %
          (lo, AGENTS))
    rec = wa.wait(ev("pim_recovering"), 2, "%s: pim_recovering" % act)
    check(rec["rule"] == "R6" and rec["port"] == backup,
          "pim_recovering %r, expected the backup port %d" % (rec, backup))
    on = wr.wait(ev("peripheral_online"), 2, "router: peripheral_online")
    log("then: %s" % on["message"])
    check(on["rule"] == "R8" and on["agents"] == AGENTS and
          on["seq"] > lo["seq"],
          "peripheral_online %r, expected R8 with %d agents" % (on, AGENTS))
    acc = wacd.wait(ev("pim_accepted"), 2, "acd: pim_accepted")
    check(acc["pim"] == act and acc["epoch"] == e0,
          "ACD accepted %r, expected %s again with epoch %d" % (acc, act,
                                                              e0))
    p = periph(lab)
    check(p["online"] and p["active_side"] == act[-1].upper() and
          p["epoch"] == e0 and p["agents_logged_in"] == AGENTS and
          all_logged_in(lab), "after the CTI Manager failover: %r" % p)
    check(lab.status("router")["counters"]["grants"] == grants and
          not [x for x in wr.since(m) if x.get("event") in
               ("pim_granted", "pim_lost")],
          "the PIM changed hands on a CTI Manager failover: %r" %
          [x["message"] for x in wr.since(m)])
    st = lab.status(act)
    check(st["pim"]["state"] == "ACTIVE" and st["pim"]["epoch"] == e0,
          "%s pim %r" % (act, st["pim"]))
    l = [x for x in st["links"] if x["name"] == "acd-link"][0]
    check(l["state"] == "UP" and l["port"] == l["alt_port"] == backup,
          "%s acd-link not on the backup endpoint: %r" % (act, l))
    acd = lab.status("acd")["acd"]
    check(acd["accepted_pim"] == act and acd["accepted_epoch"] == e0 and
          acd["max_accepted_at_once"] == 1 and
          acd["cti_manager"] == {"primary": False, "backup": True},
          "ACD after: %r" % acd)


def test(Lab):
    pg_side_failover(Lab)
    cti_manager_failover(Lab)


run(test)

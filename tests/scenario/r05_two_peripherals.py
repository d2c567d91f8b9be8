"""Two voice peripherals, one PG pair: each fails over on its own, with
its own epochs.

The lab has two ACD nodes (acd serves peripheral 5000, acd2 peripheral
5001, with other agent ids), both served by pg-a and pg-b; their links are
acd-link-acd and acd-link-acd2 on each side.

(1) Both peripherals come online, each with its agents, and each is
    granted its own first epoch (1).
(2) kill -9 of acd: peripheral 5000 loses its PIM (R5), its undelivered
    data is discarded (R1), it goes offline (R2) and its agents are
    logged out (R3); 5001 stays online with the same side and epoch, and
    no Agent_Logout row is written for its agents.  The restarted acd
    brings 5000 back online (R4) with every agent.
(3) The active side of 5001 loses acd-link-acd2: 5001 fails over to the
    other side (R5) with its next epoch while 5000 keeps its side and
    epoch; then back to the first side with its third.  pgemu_activation
    holds each peripheral's own epochs, and pgemu_meta each one's highest
    and holder (max_epoch, max_epoch.5001, ...).
(4) kill -9 of the router and a restart: it reads each peripheral's keys
    back and adopts each side that holds a PIM with its own epoch (5000:
    2, 5001: 3), granting nothing.
"""
import signal

from pgemu_test import check, ev, log, node_of, run, wait_for

P1, P2 = 5000, 5001
N1, N2 = 20, 10
OTHER = {"A": "B", "B": "A"}


def periphs(lab):
    return {p["id"]: p for p in lab.ctl("router", "peripherals")}


def wait_both_online(lab, timeout=10):
    def ok():
        ps = periphs(lab)
        return ps if (ps[P1]["online"] and ps[P2]["online"] and
                      ps[P1]["active_side"] and ps[P2]["active_side"] and
                      ps[P1]["agents_logged_in"] == N1 and
                      ps[P2]["agents_logged_in"] == N2) else None
    return wait_for(ok, timeout, "both peripherals online, every agent in")


def of(periph):
    """Events of one peripheral."""
    return lambda e: e.get("peripheral") == periph


def logouts(lab, periph):
    return lab.query("SELECT COUNT(*) FROM Agent_Logout WHERE "
                     "PeripheralID = ?", (periph,))[0][0]


def test(Lab):
    lab = Lab("r05tp", interval=2, hb_private=(20, 5), hb_router=(50, 5),
              hb_acd=(50, 5), extra_acds=("acd2",), peripherals=[
                  dict(id=P1, acd="acd", agents=N1, first_id=1001),
                  dict(id=P2, acd="acd2", agents=N2, first_id=2001)])
    lab.start_all()
    lab.wait_links_up()

    # (1) Both online, each with its own first epoch ---------------------
    ps = wait_both_online(lab)
    for pid in (P1, P2):
        check(ps[pid]["epoch"] == 1 and ps[pid]["max_epoch"] == 1,
              "peripheral %d: not its own first epoch: %r" % (pid, ps[pid]))
    agents = lab.ctl("router", "agents")
    check(sorted(a["id"] for a in agents if a["peripheral"] == P2) ==
          list(range(2001, 2001 + N2)) and
          len([a for a in agents if a["peripheral"] == P1]) == N1,
          "router agents by peripheral: %r" % agents)
    for node in ("pg-a", "pg-b"):
        names = [l["name"] for l in lab.status(node)["links"]]
        check("acd-link-acd" in names and "acd-link-acd2" in names,
              "%s links: %r" % (node, names))
        check(sorted(x["peripheral"] for x in
                     lab.status(node)["peripherals"]) == [P1, P2],
              "%s status peripherals" % node)
    check(lab.status("acd2")["acd"]["peripheral"] == P2 and
          lab.status("acd2")["acd"]["agents"] == N2, "acd2 status")
    log("online: 5000 side %s, 5001 side %s, each epoch 1" %
        (ps[P1]["active_side"], ps[P2]["active_side"]))

    # (2) kill -9 of the ACD of 5000: only 5000 goes offline -------------
    before = ps[P2]
    wr = lab.watch("router")
    m = wr.mark()
    lab.kill("acd", signal.SIGKILL)
    lab.reap("acd")
    wr.wait(lambda e: ev("pim_lost", rule="R5")(e) and of(P1)(e), 3,
            "router: pim_lost R5 of 5000", since=m)
    wr.wait(lambda e: ev("peripheral_offline", rule="R2")(e) and of(P1)(e),
            3, "router: peripheral_offline R2 of 5000", since=m)
    wr.wait(lambda e: ev("agents_logged_out", rule="R3")(e) and of(P1)(e),
            3, "router: agents_logged_out R3 of 5000", since=m)
    wr.wait(lambda e: ev("data_discarded", rule="R1")(e) and of(P1)(e),
            3, "router: data_discarded R1 of 5000", since=m)
    wait_for(lambda: logouts(lab, P1) == N1, 5,
             "%d Agent_Logout rows of 5000" % N1)
    ps = periphs(lab)
    check(not ps[P1]["online"] and ps[P1]["agents_logged_in"] == 0,
          "5000 after its ACD died: %r" % ps[P1])
    check(ps[P2]["online"] and ps[P2]["epoch"] == before["epoch"] and
          ps[P2]["active_side"] == before["active_side"] and
          ps[P2]["agents_logged_in"] == N2,
          "5001 touched by the loss of 5000's ACD: %r" % ps[P2])
    check(not [e for e in wr.since(m) if of(P2)(e)],
          "events of 5001: %r" % [e["message"] for e in wr.since(m)
                                  if of(P2)(e)])
    check(logouts(lab, P2) == 0, "Agent_Logout rows of 5001")
    log("acd killed: 5000 offline, 5001 online (side %s, epoch %d)" %
        (ps[P2]["active_side"], ps[P2]["epoch"]))

    m = wr.mark()
    lab.start("acd")
    wr.wait(lambda e: ev("peripheral_online", rule="R4")(e) and of(P1)(e),
            10, "router: peripheral_online R4 of 5000", since=m)
    ps = wait_both_online(lab)
    check(ps[P1]["epoch"] == 2, "5000 back with epoch %d, not 2" %
          ps[P1]["epoch"])
    check(ps[P2]["epoch"] == before["epoch"], "5001 epoch moved: %r" %
          ps[P2])
    check(not [e for e in wr.since(m) if of(P2)(e)],
          "events of 5001 while 5000 came back")

    # (3) 5001's active side loses its ACD link: 5001 alone fails over ---
    first = ps[P1]
    act = ps[P2]["active_side"]
    m = wr.mark()
    lab.ctl(node_of(act), "fault", "acd-link-acd2", "down")
    wr.wait(lambda e: ev("pim_lost", rule="R5")(e) and of(P2)(e), 3,
            "router: pim_lost R5 of 5001", since=m)
    g = wr.wait(lambda e: ev("pim_granted")(e) and of(P2)(e), 3,
                "router: pim_granted of 5001", since=m)
    check(g["side"] == OTHER[act] and g["epoch"] == 2,
          "5001 granted %r, not side %s epoch 2" % (g, OTHER[act]))
    wr.wait(lambda e: ev("peripheral_online")(e) and of(P2)(e), 5,
            "router: peripheral_online of 5001", since=m)
    ps = wait_both_online(lab)
    check(ps[P2]["active_side"] == OTHER[act] and ps[P2]["epoch"] == 2,
          "5001 after the failover: %r" % ps[P2])
    check(ps[P1]["active_side"] == first["active_side"] and
          ps[P1]["epoch"] == first["epoch"] and ps[P1]["online"],
          "5000 touched by 5001's failover: %r" % ps[P1])
    check(not [e for e in wr.since(m) if of(P1)(e)],
          "events of 5000: %r" % [e["message"] for e in wr.since(m)
                                  if of(P1)(e)])
    log("5001 failed over to side %s (epoch 2); 5000 kept side %s, epoch "
        "%d" % (OTHER[act], first["active_side"], first["epoch"]))
    lab.ctl(node_of(act), "fault", "acd-link-acd2", "up")
    wait_for(lambda: all(x["acd_up"] for x in periphs(lab)[P2]["sides"]),
             5, "both sides of 5001 reach acd2 again")

    # And back: 5001 on its third epoch, 5000 still on its second.
    m = wr.mark()
    lab.ctl(node_of(OTHER[act]), "fault", "acd-link-acd2", "down")
    g = wr.wait(lambda e: ev("pim_granted")(e) and of(P2)(e), 3,
                "router: pim_granted of 5001", since=m)
    check(g["side"] == act and g["epoch"] == 3, "5001 granted %r" % g)
    ps = wait_both_online(lab)
    lab.ctl(node_of(OTHER[act]), "fault", "acd-link-acd2", "up")

    # The history: each peripheral's own epochs.
    rows = lab.query("SELECT PeripheralID, PGSide, Epoch FROM "
                     "pgemu_activation ORDER BY id")
    for pid, want in ((P1, [1, 2]), (P2, [1, 2, 3])):
        got = [r[2] for r in rows if r[0] == pid]
        check(got == want, "pgemu_activation epochs of %d: %r" % (pid, got))
    meta = dict(lab.query("SELECT key, value FROM pgemu_meta"))
    check(meta.get("max_epoch") == 2 and meta.get("max_epoch.5001") == 3 and
          meta.get("holder_epoch") == 2 and
          meta.get("holder_epoch.5001") == 3, "pgemu_meta: %r" % meta)

    # (4) A restarted router reads each peripheral's keys back: it adopts
    # each holder with its own epoch, and grants nothing.
    grants = lab.status("router")["counters"]["grants"]
    lab.kill("router", signal.SIGKILL)
    lab.reap("router")
    lab.start("router")
    lab.wait_links_up(["router"])
    ps = wait_both_online(lab)
    check(ps[P1]["epoch"] == 2 and ps[P1]["max_epoch"] == 2 and
          ps[P1]["holder"] == first["active_side"],
          "5000 after the router restart: %r" % ps[P1])
    check(ps[P2]["epoch"] == 3 and ps[P2]["max_epoch"] == 3 and
          ps[P2]["holder"] == act,
          "5001 after the router restart: %r" % ps[P2])
    check(lab.status("router")["counters"]["grants"] == 0,
          "the restarted router granted (%d grants before it)" % grants)
    log("router restarted: 5000 adopted at epoch 2, 5001 at epoch 3")


run(test)

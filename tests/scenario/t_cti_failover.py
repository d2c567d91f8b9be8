"""The CTI server through failovers, seen by the tests' GED-188 client
(ged188_client.py, from the public tables) as a real client does: it
tries side A, then side B, until one answers OPEN_CONF.

Clients: bridge (ALL_EVENTS, v24), bridge-19 (ALL_EVENTS, v19),
desk-1001 (CLIENT_EVENTS + CLIENT_CONTROL for agent 1001, v24).

 (a) kill -9 of the active PG side: every client's connection drops; the
     other side's CTI server becomes active (pgemuctl cti); the clients
     reconnect to it and get a SYSTEM_EVENT for the peripheral (online,
     or offline then online; PGStatus agrees with the event); agent 1001,
     set not ready (reason 7) before, is not ready again there (R8
     Table 1); the killed side, restarted, runs an idle CTI server that
     refuses a v23 client with 15 (no failback);
 (b) `pgemuctl NODE stop cti-server` on the active one: its clients get
     FAILURE_EVENT 15 and are closed; the other side's CTI server becomes
     active, the clients reconnect there and agent state events flow
     (AVAILABLE); `start cti-server` brings it back idle;
 (c) the peripheral offline (both ACD links cut, the standby's first) is
     told to a connected ALL_EVENTS client as SYSTEM_EVENT
     SYS_PERIPHERAL_OFFLINE with PGS_PERIPHERAL_OFFLINE; an ACD link
     back brings SYS_PERIPHERAL_ONLINE (to that client, or after OPEN_CONF
     to a client that had to reconnect).
"""
import signal

import ged188_client as g
from pgemu_test import (FAST, SLOW, check, cti, cti_connect,
                        cti_open_active, log, node_of, other, periph, run,
                        start_duplex, wait_candidate, wait_cti_active,
                        wait_for, wait_online)

PERIPHERAL = 5000
AGENTS = 4
CE = g.CTI_SERVICE_CLIENT_EVENTS | g.CTI_SERVICE_CLIENT_CONTROL
CLIENTS = {
    "bridge": dict(version=24, services=g.CTI_SERVICE_ALL_EVENTS),
    "bridge-19": dict(version=19, services=g.CTI_SERVICE_ALL_EVENTS),
    "desk-1001": dict(version=24, services=CE, peripheral_id=PERIPHERAL,
                      agent_id="1001"),
}


def sys_event(ev_id):
    return lambda m: (m["type"] == g.SYSTEM_EVENT and
                      m["SystemEventID"] == ev_id and
                      m["SystemEventArg1"] == PERIPHERAL)


def check_sys_events(s):
    """Every SYSTEM_EVENT s got has PGS_PERIPHERAL_OFFLINE exactly when it
    says the peripheral is offline."""
    for m in s.log:
        if m["type"] == g.SYSTEM_EVENT and m["SystemEventID"] in (
                g.SYS_PERIPHERAL_ONLINE, g.SYS_PERIPHERAL_OFFLINE):
            off = m["SystemEventID"] == g.SYS_PERIPHERAL_OFFLINE
            check(bool(m["PGStatus"] & g.PGS_PERIPHERAL_OFFLINE) == off,
                  "%s: SYSTEM_EVENT %r: PGStatus disagrees" % (s.name, m))


def connect_all(lab, expect):
    """Every client opened through cti_open_active, each on expect;
    the ALL_EVENTS ones have the peripheral online."""
    out = {}
    for cid, kw in CLIENTS.items():
        node, s, m = cti_open_active(lab, 10, name=cid, client_id=cid, **kw)
        check(node == expect, "%s opened on %s, expected %s" % (
            cid, node, expect))
        if kw["services"] & g.CTI_SERVICE_ALL_EVENTS:
            s.wait_for(sys_event(g.SYS_PERIPHERAL_ONLINE), 5 * SLOW,
                       "%s: SYS_PERIPHERAL_ONLINE" % cid)
            check_sys_events(s)
        out[cid] = s
    return out


def query(s, agent="1001"):
    q = s.query_agent_state(PERIPHERAL, mrdid=1, agent_id=agent)
    check(q["type"] == g.QUERY_AGENT_STATE_CONF, "%s: query %r" % (s.name,
                                                                  q))
    return q["AgentState"]


def test(Lab):
    lab = Lab("ctifo", agents=AGENTS, **FAST)
    act, stby, _ = start_duplex(lab)
    wait_cti_active(lab, act)
    check(not cti(lab, stby)["active"] and cti(lab, stby)["running"],
          "%s cti: %r" % (stby, cti(lab, stby)))
    cl = connect_all(lab, act)
    r = cl["desk-1001"].set_agent_state(PERIPHERAL, g.AGENT_STATE_NOT_READY,
                                        reason=7, agent_id="1001")
    check(r["type"] == g.SET_AGENT_STATE_CONF, "NOT_READY: %r" % r)
    cl["bridge"].wait_for(lambda m: m["type"] == g.AGENT_STATE_EVENT and
                          m["AgentState"] == g.AGENT_STATE_NOT_READY,
                          5 * SLOW, "bridge: 1001 NOT_READY")
    log("clients on %s; 1001 not ready (7)" % act)

    # (a) kill -9 of the active side.
    lab.kill(act, signal.SIGKILL)
    for cid, s in cl.items():
        check(s.wait_closed(5 * SLOW), "(a) %s: connection kept after "
              "kill -9 of %s" % (cid, act))
        s.close_socket()
    wait_cti_active(lab, stby, 5)
    cl = connect_all(lab, stby)
    wait_for(lambda: query(cl["desk-1001"]) == g.AGENT_STATE_NOT_READY,
             5, "(a) 1001 not ready on %s" % stby)
    log("(a) kill -9 of %s: clients back on %s, 1001 not ready" % (act,
                                                                  stby))
    check(lab.reap(act) == -signal.SIGKILL, "%s not killed" % act)
    lab.start(act)
    lab.wait_links_up()
    wait_candidate(lab, act)
    wait_for(lambda: cti(lab, act)["running"], 5,
             "(a) restarted %s: CTI server running" % act)
    check(not cti(lab, act)["active"] and cti(lab, stby)["active"],
          "(a) failback: %s %r, %s %r" % (act, cti(lab, act), stby,
                                          cti(lab, stby)))
    s = cti_connect(lab, act, "late-23")
    m = s.open(version=23, client_id="late-23", invoke=23)
    check(m["type"] == g.FAILURE_CONF and m["InvokeID"] == 23 and
          m["Status"] == g.E_CTI_CTI_SERVER_OFFLINE,
          "(a) restarted side answered a v23 client %r" % m)
    check(s.wait_closed(5 * SLOW), "(a) refused client not closed")
    s.close_socket()
    log("(a) restarted %s: idle CTI server, v23 refused with 15" % act)

    # (b) stop cti-server on the active one.
    cur, nxt = stby, act
    lab.ctl(cur, "stop", "cti-server")
    for cid, s in cl.items():
        f = s.wait_type(g.FAILURE_EVENT, 5 * SLOW)
        check(f["Status"] == g.E_CTI_CTI_SERVER_OFFLINE,
              "(b) %s: FAILURE_EVENT %r" % (cid, f))
        check(s.wait_closed(5 * SLOW), "(b) %s not closed" % cid)
        s.close_socket()
    wait_cti_active(lab, nxt, 5)
    st = cti(lab, cur)
    check(not st["running"] and not st["active"] and not st["sessions"],
          "(b) stopped %s cti: %r" % (cur, st))
    cl = connect_all(lab, nxt)
    check(query(cl["desk-1001"]) == g.AGENT_STATE_NOT_READY,
          "(b) 1001 not ready on %s" % nxt)
    r = cl["desk-1001"].set_agent_state(PERIPHERAL, g.AGENT_STATE_AVAILABLE,
                                        agent_id="1001")
    check(r["type"] == g.SET_AGENT_STATE_CONF, "(b) AVAILABLE: %r" % r)
    for cid in ("bridge", "bridge-19", "desk-1001"):
        e = cl[cid].wait_for(
            lambda m: m["type"] == g.AGENT_STATE_EVENT and
            m.string(g.AGENT_ID_TAG) == "1001" and
            m["AgentState"] == g.AGENT_STATE_AVAILABLE, 5 * SLOW,
            "(b) %s: 1001 AVAILABLE" % cid)
        check(e["fixed_len"] == (62 if CLIENTS[cid]["version"] >= 19
                                 else 58), "(b) %s: %r" % (cid, e))
    lab.ctl(cur, "start", "cti-server")
    wait_for(lambda: cti(lab, cur)["running"], 5,
             "(b) %s: CTI server running again" % cur)
    check(not cti(lab, cur)["active"] and cti(lab, nxt)["active"],
          "(b) after start: %s %r, %s %r" % (cur, cti(lab, cur), nxt,
                                             cti(lab, nxt)))
    log("(b) stop cti-server on %s: FAILURE_EVENT 15, clients on %s" % (
        cur, nxt))

    # (c) The peripheral offline and back, as SYSTEM_EVENTs.
    p = wait_online(lab)
    pim = node_of(p["active_side"])
    b = cl["bridge"]
    lab.ctl(other(pim), "fault", "acd-link", "down")
    wait_for(lambda: not [x for x in periph(lab)["sides"]
                          if x["node"] == other(pim)][0]["acd_up"], 3,
             "(c) the router to know %s has no ACD link" % other(pim))
    lab.ctl(pim, "fault", "acd-link", "down")
    e = b.wait_for(sys_event(g.SYS_PERIPHERAL_OFFLINE), 5 * SLOW,
                   "(c) bridge: SYS_PERIPHERAL_OFFLINE")
    check(e["PGStatus"] & g.PGS_PERIPHERAL_OFFLINE, "(c) %r" % e)
    log("(c) both ACD links cut: SYSTEM_EVENT offline, PGStatus %#x" %
        e["PGStatus"])
    lab.ctl(pim, "fault", "acd-link", "up")
    lab.ctl(other(pim), "fault", "acd-link", "up")
    wait_online(lab, 10)
    try:
        b.wait_for(sys_event(g.SYS_PERIPHERAL_ONLINE), 5 * SLOW,
                   "(c) bridge: SYS_PERIPHERAL_ONLINE")
        how = "to the connected client"
    except g.CtiError:
        check(b.eof, "(c) no SYS_PERIPHERAL_ONLINE on a live session: %r"
              % b.log[-5:])
        node, b, m = cti_open_active(lab, 10, name="bridge-again",
                                     client_id="bridge-again",
                                     **CLIENTS["bridge"])
        b.wait_for(sys_event(g.SYS_PERIPHERAL_ONLINE), 5 * SLOW,
                   "(c) bridge-again: SYS_PERIPHERAL_ONLINE")
        how = "after OPEN_CONF on %s" % node
    check_sys_events(b)
    log("(c) ACD links back: SYSTEM_EVENT online %s" % how)


run(test)

"""The CTI server's sessions (GED-188), seen by a client written from the
public tables (ged188_client.py), on a duplex lab whose PG sides each
have a cti_port, with `cti.idle_scale_ms = 50` (IdleTimeout 20 = 1 s).

 (a) versions 13, 19, 20, 24 and 25 on the active side: OPEN_CONF with the
     InvokeID and the fixed part of the version (26, 30, 32 bytes), every
     floating field at the version's width (1-byte tag and length up to
     19, 2-byte from 20), SessionType active from 24; one SYSTEM_EVENT
     SYS_PERIPHERAL_ONLINE for the peripheral after it; a
     QUERY_AGENT_STATE_CONF with its fixed part of the version and the
     AgentID byte for byte; `pgemuctl cti` lists each session (client id,
     signature defaulting to it, version, services, peer);
 (b) strings sent without their NUL are taken as well;
 (c) every OPEN rule: FAILURE_CONF with the InvokeID and its status
     (6, 1, 18, 22, 19, 21), IdleTimeout 20 the lowest taken;
 (d) a request before OPEN: FAILURE_CONF 4, the connection kept, OPEN
     then works; a second OPEN_REQ: FAILURE_CONF 5, the session kept;
 (e) CLIENT_EVENTS: an agent another session has is refused (10, by id or
     extension); the same ClientID and signature re-opening the agent
     takes over, the old session gets FAILURE_EVENT 11 and is closed;
 (f) HEARTBEAT_CONF echoes any InvokeID;
 (g) IdleTimeout 20 without traffic: FAILURE_EVENT 16 after about 1 s and
     the connection closed; a session that heartbeats stays;
 (h) CLOSE_REQ: CLOSE_CONF, then the server closes, the session gone;
 (i) malformed frames (fixed part cut short, floating field past the end
     at either width, a cut OPEN_REQ, a length over the maximum): the
     session closed, FAILURE_CONF 2 or 25 where the frame was read, a log
     line naming the peer and the message type; the other sessions keep
     working;
 (j) a request the server does not serve (SET_CALL_DATA_REQ):
     FAILURE_CONF 12 with its InvokeID, the session kept;
 (k) the standby side: a client under 24 gets FAILURE_CONF 15, one of 24
     without CTI_SERVICE_ACTIVE_STANDBY 107, both closed; one with it
     opens as a standby session (SessionType 2);
 (m) a connection that sends no OPEN_REQ within cti.open_timeout_ms
     (600 ms here) gets FAILURE_EVENT 16 and is closed: it does not keep
     a session;
 (l) a lab with `cti.client_password`: an OPEN_REQ without it, or with
     another, gets FAILURE_CONF 36 (E_CTI_INVALID_PASSWORD), at v19 and
     v24; with it (its NUL counted or not), OPEN_CONF.
"""
import struct
import time

import ged188_client as g
from pgemu_test import (FAST, SLOW, check, cti, cti_connect, cti_log_names,
                        cti_session, log, run, start_duplex,
                        wait_cti_active, wait_for)

PERIPHERAL = 5000
AGENTS = 4
FIRST = 1001


def acd_state(lab, agent):
    """The ACD's state of agent, as a GED-188 AgentState value."""
    return g.AGENT_STATE_NAMES.index(lab.ctl("acd", "agent",
                                             str(agent))["state"])


def floating_at_width(m, version):
    """The message decoded whole at the version's width: no error, and the
    floating part re-encoded at that width gives the same bytes."""
    check("error" not in m, "%s v%d does not decode: %s" % (
        m["name"], version, m.get("error")))
    rest = m["body"][m["fixed_len"]:]
    check(g.encode_floating(m["floating"], version) == rest,
          "%s v%d floating part %s not at the version's width" % (
              m["name"], version, rest.hex(" ")))


def expect_failure(m, invoke, status, what):
    check(m["type"] == g.FAILURE_CONF and m["InvokeID"] == invoke and
          m["Status"] == status and len(m["body"]) == 8,
          "%s: expected FAILURE_CONF InvokeID %d status %d, got %r" % (
              what, invoke, status, m))


def part_versions(lab, act):
    port = lab.cti_ports[act]
    sessions = {}
    for v, fixed in ((13, 26), (19, 30), (20, 30), (24, 32), (25, 32)):
        cid = "bridge-v%d" % v
        s = cti_connect(lab, act, cid)
        m = s.open(version=v, client_id=cid, invoke=1000 + v,
                   services=g.CTI_SERVICE_ALL_EVENTS)
        check(m["type"] == g.OPEN_CONF and m["InvokeID"] == 1000 + v,
              "v%d: OPEN answered %r" % (v, m))
        check(m["fixed_len"] == fixed, "v%d: OPEN_CONF fixed part %d" %
              (v, m["fixed_len"]))
        floating_at_width(m, v)
        check(m["ServicesGranted"] & g.CTI_SERVICE_ALL_EVENTS and
              m["PeripheralOnline"] == 1 and
              not m["PGStatus"] & g.PGS_PERIPHERAL_OFFLINE,
              "v%d: OPEN_CONF %r" % (v, m))
        if v >= 24:
            check(m["SessionType"] == g.SESSION_TYPE_ACTIVE,
                  "v%d: SessionType %r on the active side" % (
                      v, m["SessionType"]))
        e = s.wait_type(g.SYSTEM_EVENT, 5 * SLOW)
        check(e["SystemEventID"] == g.SYS_PERIPHERAL_ONLINE and
              e["SystemEventArg1"] == PERIPHERAL and
              not e["PGStatus"] & g.PGS_PERIPHERAL_OFFLINE and
              e["fixed_len"] == 26, "v%d: SYSTEM_EVENT %r" % (v, e))
        floating_at_width(e, v)
        # The query answers after everything sent after OPEN_CONF: one
        # SYSTEM_EVENT for the peripheral, no more.
        q = s.query_agent_state(PERIPHERAL, mrdid=1, agent_id=str(FIRST))
        check(q["type"] == g.QUERY_AGENT_STATE_CONF and
              q["fixed_len"] == (34 if v >= 19 else 30) and
              q["MRDID"] == 1 and q["AgentState"] == acd_state(lab, FIRST),
              "v%d: QUERY_AGENT_STATE answered %r" % (v, q))
        floating_at_width(q, v)
        hdr = (struct.pack(">HH", 5, 5) if v >= 20 else
               struct.pack(">BB", 5, 5))
        check(hdr + b"1001\0" in q["body"][q["fixed_len"]:],
              "v%d: AgentID not as %s in %s" % (
                  v, (hdr + b"1001\0").hex(" "), q["body"].hex(" ")))
        sys_ev = [x for x in s.log if x["type"] == g.SYSTEM_EVENT and
                  x["SystemEventArg1"] == PERIPHERAL]
        check(len(sys_ev) == 1, "v%d: %d SYSTEM_EVENTs for %d" % (
            v, len(sys_ev), PERIPHERAL))
        x = cti_session(lab, act, cid)
        check(x is not None and x["version"] == v and
              x["signature"] == cid and
              x["services"] & g.CTI_SERVICE_ALL_EVENTS and
              x["peer"] == "127.0.0.1:%d" % s.local_port(),
              "v%d: pgemuctl %s cti: %r" % (v, act, x))
        sessions[v] = s
        log("(a) v%d: OPEN_CONF %d bytes, SYSTEM_EVENT, QUERY %d bytes" % (
            v, len(m["body"]), q["fixed_len"]))
    check(cti(lab, act)["port"] == port, "pgemuctl cti port")
    return sessions


def part_no_nul(lab, act):
    for v in (19, 20):
        cid = "nonul-%d" % v
        s = cti_connect(lab, act, cid)
        m = s.open(version=v, client_id=cid, nul=False)
        check(m["type"] == g.OPEN_CONF, "v%d without NUL: %r" % (v, m))
        x = cti_session(lab, act, cid)
        check(x is not None and x["client_id"] == cid,
              "v%d without NUL: pgemuctl %r" % (v, x))
        check(s.close()["type"] == g.CLOSE_CONF, "close %s" % cid)
        s.close_socket()
    log("(b) strings without NUL taken at v19 and v20")


def part_open_rules(lab, act):
    cases = [
        ("missing ClientID", dict(omit_client_id=True),
         g.E_CTI_REQUIRED_DATA_MISSING),
        ("version 12", dict(version=12), g.E_CTI_INVALID_VERSION),
        ("version 26", dict(version=26), g.E_CTI_INVALID_VERSION),
        ("IdleTimeout 19", dict(idle_timeout=19), g.E_CTI_INVALID_TIMEOUT),
        ("IdleTimeout 0", dict(idle_timeout=0), g.E_CTI_INVALID_TIMEOUT),
        ("Reserved1", dict(reserved=(1, 0, 0)),
         g.E_CTI_INVALID_RESERVED_FIELD),
        ("Reserved2", dict(reserved=(0, 7, 0)),
         g.E_CTI_INVALID_RESERVED_FIELD),
        ("Reserved3", dict(reserved=(0, 0, 0x80000000)),
         g.E_CTI_INVALID_RESERVED_FIELD),
        ("unused service bit 0x4000",
         dict(services=g.CTI_SERVICE_ALL_EVENTS | g.CTI_SERVICE_UNUSED_4000),
         g.E_CTI_INVALID_SERVICE_MASK),
        ("unknown service bit 0x10000",
         dict(services=g.CTI_SERVICE_ALL_EVENTS | 0x10000),
         g.E_CTI_INVALID_SERVICE_MASK),
        ("agent state mask 0x4000", dict(agent_state_mask=0x4000),
         g.E_CTI_INVALID_AGENT_STATE_MASK),
        ("agent state mask 0x3fff|0x80000",
         dict(agent_state_mask=0x3fff | 0x80000),
         g.E_CTI_INVALID_AGENT_STATE_MASK),
    ]
    for i, (what, kw, status) in enumerate(cases):
        for v in (19, 24):
            args = dict(version=v, client_id="rule-%d" % i, invoke=200 + i)
            args.update(kw)
            s = cti_connect(lab, act, what)
            m = s.open(**args)
            expect_failure(m, 200 + i, status, "%s (v%d)" % (what, v))
            s.close_socket()
            log("(c) %s v%d: FAILURE_CONF %d" % (what, args["version"],
                                                 status))
    check(not [x for x in cti(lab, act)["sessions"]
               if x["client_id"].startswith("rule-")],
          "a refused OPEN left a session: %r" % cti(lab, act)["sessions"])
    # The lowest IdleTimeout taken: 20.
    s = cti_connect(lab, act, "idle20")
    m = s.open(version=24, client_id="idle20", idle_timeout=20)
    check(m["type"] == g.OPEN_CONF, "IdleTimeout 20 refused: %r" % m)
    s.close()
    s.close_socket()


def part_sequence(lab, act):
    # (d) Before OPEN: FAILURE_CONF 4, the connection kept.
    s = cti_connect(lab, act, "early")
    s.version = 24
    s.send(g.HEARTBEAT_REQ, {"InvokeID": 31})
    expect_failure(s.wait_type(g.FAILURE_CONF, 5 * SLOW), 31,
                   g.E_CTI_SESSION_NOT_OPEN, "HEARTBEAT_REQ before OPEN")
    s.send(g.QUERY_AGENT_STATE_REQ, dict(InvokeID=32, PeripheralID=PERIPHERAL,
                                         MRDID=1, ICMAgentID=-1),
           [(g.AGENT_ID_TAG, g.flt_str(str(FIRST)))])
    expect_failure(s.wait_type(g.FAILURE_CONF, 5 * SLOW), 32,
                   g.E_CTI_SESSION_NOT_OPEN, "QUERY_AGENT_STATE before OPEN")
    m = s.open(version=24, client_id="early", invoke=33)
    check(m["type"] == g.OPEN_CONF and m["InvokeID"] == 33,
          "OPEN after a refused request: %r" % m)
    # A second OPEN_REQ: FAILURE_CONF 5, the first session kept.
    m = s.open(version=20, client_id="early-again", invoke=34)
    expect_failure(m, 34, g.E_CTI_SESSION_ALREADY_OPEN, "second OPEN_REQ")
    s.version = 24
    check(s.heartbeat()["type"] == g.HEARTBEAT_CONF,
          "session lost after a second OPEN_REQ")
    x = cti_session(lab, act, "early")
    check(x is not None and x["version"] == 24 and
          cti_session(lab, act, "early-again") is None,
          "second OPEN_REQ changed the session: %r" % cti(lab, act))
    log("(d) before OPEN: 4, kept; second OPEN: 5, kept")
    return s


def part_devices(lab, act):
    ce = g.CTI_SERVICE_CLIENT_EVENTS
    d1 = cti_connect(lab, act, "desk-1001")
    m = d1.open(version=24, client_id="desk-1001", services=ce,
                peripheral_id=PERIPHERAL, agent_id=str(FIRST),
                extension=str(FIRST))
    check(m["type"] == g.OPEN_CONF and m["PeripheralOnline"] == 1 and
          m["AgentState"] == acd_state(lab, FIRST),
          "CLIENT_EVENTS OPEN for %d: %r" % (FIRST, m))
    for what, kw in (("agent id", dict(agent_id=str(FIRST))),
                     ("extension", dict(extension=str(FIRST)))):
        s = cti_connect(lab, act, "intruder")
        m = s.open(version=24, client_id="intruder", services=ce,
                   peripheral_id=PERIPHERAL, invoke=77, **kw)
        expect_failure(m, 77, g.E_CTI_DEVICE_IN_USE, "%s in use" % what)
        s.close_socket()
    d2 = cti_connect(lab, act, "desk-1002")
    m = d2.open(version=19, client_id="desk-1002", services=ce,
                peripheral_id=PERIPHERAL, agent_id=str(FIRST + 1))
    check(m["type"] == g.OPEN_CONF, "another agent refused: %r" % m)
    log("(e) agent in use: 10 by id and by extension; another agent opens")
    # The same client re-opening the same agent takes over.
    d1b = cti_connect(lab, act, "desk-1001 again")
    m = d1b.open(version=24, client_id="desk-1001", services=ce,
                 peripheral_id=PERIPHERAL, agent_id=str(FIRST),
                 extension=str(FIRST))
    check(m["type"] == g.OPEN_CONF, "re-open by the same client: %r" % m)
    f = d1.wait_type(g.FAILURE_EVENT, 5 * SLOW)
    check(f["Status"] == g.E_CTI_NEW_SESSION_OPENED,
          "old session: FAILURE_EVENT %r" % f)
    check(d1.wait_closed(5 * SLOW), "old session not closed")
    mine = [x for x in cti(lab, act)["sessions"]
            if x["client_id"] == "desk-1001"]
    check(len(mine) == 1 and
          mine[0]["peer"] == "127.0.0.1:%d" % d1b.local_port(),
          "sessions of desk-1001: %r" % mine)
    check(d1b.heartbeat()["type"] == g.HEARTBEAT_CONF, "new session")
    log("(e) same client re-opening: old session FAILURE_EVENT 11, closed")
    return [d2, d1b]


def part_heartbeat_close(lab, act, s):
    for inv in (0, 0x7fffffff, 0xDEADBEEF):
        s.send(g.HEARTBEAT_REQ, {"InvokeID": inv})
        m = s.wait_type(g.HEARTBEAT_CONF, 5 * SLOW)
        check(m["InvokeID"] == inv and len(m["body"]) == 4,
              "HEARTBEAT_CONF for %#x: %r" % (inv, m))
    log("(f) HEARTBEAT_CONF echoes the InvokeID")
    c = cti_connect(lab, act, "closer")
    check(c.open(version=20, client_id="closer")["type"] == g.OPEN_CONF,
          "closer open")
    m = c.close(g.E_CTI_NO_ERROR)
    check(m["type"] == g.CLOSE_CONF and m["InvokeID"] == c.invoke and
          len(m["body"]) == 4, "CLOSE_CONF %r" % m)
    check(c.wait_closed(5 * SLOW), "not closed after CLOSE_CONF")
    wait_for(lambda: cti_session(lab, act, "closer") is None, 3,
             "the closed session gone from pgemuctl cti")
    log("(h) CLOSE_REQ: CLOSE_CONF, closed")


def part_idle(lab, act):
    idle = cti_connect(lab, act, "idle")
    alive = cti_connect(lab, act, "alive")
    t0 = time.monotonic()
    check(idle.open(version=24, client_id="idle",
                    idle_timeout=20)["type"] == g.OPEN_CONF, "idle open")
    check(alive.open(version=19, client_id="alive",
                     idle_timeout=20)["type"] == g.OPEN_CONF, "alive open")
    # The live one heartbeats every 250 ms while the other stays silent.
    deadline = t0 + 4 * SLOW
    while not [x for x in idle.log if x["type"] == g.FAILURE_EVENT]:
        check(time.monotonic() < deadline,
              "no FAILURE_EVENT on an idle session in 4 s: %r" % idle.log)
        check(alive.heartbeat()["type"] == g.HEARTBEAT_CONF, "alive hb")
        alive.read_for(0.25)
        idle.read_for(0)
    f = [x for x in idle.log if x["type"] == g.FAILURE_EVENT][0]
    dt = f["t"] - t0
    check(f["Status"] == g.E_CTI_TIMEOUT, "idle: FAILURE_EVENT %r" % f)
    check(0.9 <= dt <= 2.0 * SLOW, "idle time-out after %.2f s, IdleTimeout"
          " 20 at 50 ms a second is 1 s" % dt)
    check(idle.wait_closed(3 * SLOW), "idle session not closed")
    # The heartbeating one lives on past twice the time-out.
    while time.monotonic() < t0 + 2.5:
        check(alive.heartbeat()["type"] == g.HEARTBEAT_CONF, "alive hb")
        alive.read_for(0.25)
    check(not alive.eof and not [x for x in alive.log
                                 if x["type"] == g.FAILURE_EVENT] and
          cti_session(lab, act, "alive") is not None,
          "a heartbeating session was timed out: %r" % alive.log)
    wait_for(lambda: cti_session(lab, act, "idle") is None, 3,
             "the timed-out session gone from pgemuctl cti")
    log("(g) idle: FAILURE_EVENT 16 after %.2f s; heartbeats keep one" % dt)
    alive.close()
    alive.close_socket()


def part_malformed(lab, act, witnesses):
    def opened(v, cid):
        s = cti_connect(lab, act, cid)
        check(s.open(version=v, client_id=cid)["type"] == g.OPEN_CONF,
              "%s open" % cid)
        return s

    q16 = struct.pack(">IIii", 90, PERIPHERAL, 1, -1)
    cases = [
        # (what, version to open at or None, type, raw frame)
        ("HEARTBEAT_REQ of 2 bytes", 24, g.HEARTBEAT_REQ,
         g.frame(g.HEARTBEAT_REQ, b"\0\1")),
        ("QUERY_AGENT_STATE_REQ cut in its fixed part", 19,
         g.QUERY_AGENT_STATE_REQ, g.frame(g.QUERY_AGENT_STATE_REQ,
                                          q16[:11])),
        ("floating field past the end, v19", 19, g.QUERY_AGENT_STATE_REQ,
         g.frame(g.QUERY_AGENT_STATE_REQ, q16 + b"\x05\x10" + b"1001\0")),
        ("floating field past the end, v20", 20, g.QUERY_AGENT_STATE_REQ,
         g.frame(g.QUERY_AGENT_STATE_REQ,
                 q16 + b"\x00\x05\x00\x10" + b"1001\0")),
        ("floating header cut, v25", 25, g.SET_AGENT_STATE_REQ,
         g.frame(g.SET_AGENT_STATE_REQ, struct.pack(
             ">IIHHHHBI", 91, PERIPHERAL, 2, 0, 0, 7, 0, 0) + b"\x00\x05")),
        ("OPEN_REQ of 10 bytes", None, g.OPEN_REQ,
         g.frame(g.OPEN_REQ, struct.pack(">II", 93, 24) + b"\0\0")),
        ("OPEN_REQ v20, ClientID past the end", None, g.OPEN_REQ,
         g.frame(g.OPEN_REQ, struct.pack(">11I", 92, 20, 0xFFFFFFFF,
                                         0xFFFFFFFF, 0x10, 0, 0x3fff, 0,
                                         0, 0, 0) +
                 b"\x00\x01\x00\x40abc\0")),
    ]
    for what, v, mtype, data in cases:
        s = opened(v, "bad") if v else cti_connect(lab, act, "bad")
        src = s.local_port()
        s.send_frame(data)
        check(s.wait_closed(5 * SLOW), "%s: connection not closed" % what)
        fc = [x for x in s.log if x["type"] == g.FAILURE_CONF]
        check(len(fc) == 1 and fc[0]["Status"] in (
            g.E_CTI_INVALID_MESSAGE_LENGTH, g.E_CTI_BAD_MESSAGE_FORMAT),
            "%s: expected FAILURE_CONF 2 or 25 before the close, got %r" %
            (what, s.log[-3:]))
        line = cti_log_names(lab, act, src, mtype)
        log("(i) %s: FAILURE_CONF %d, closed; %s" % (
            what, fc[0]["Status"], line[-1].split(": ", 1)[-1]))
        s.close_socket()
        for w in witnesses:
            check(w.heartbeat()["type"] == g.HEARTBEAT_CONF,
                  "%s: another session stopped working" % what)
    # A length over the maximum: closed, the peer in the log.
    s = opened(24, "huge")
    src = s.local_port()
    s.send_frame(struct.pack(">II", 0x7fffffff, g.HEARTBEAT_REQ))
    check(s.wait_closed(5 * SLOW), "length over the maximum: not closed")
    lab.wait_log(act, r"127\.0\.0\.1:%d\b" % src, 5)
    s.close_socket()
    for w in witnesses:
        check(w.heartbeat()["type"] == g.HEARTBEAT_CONF,
              "after a huge length: another session stopped working")
    log("(i) length over the maximum: closed; every other session works")


def part_unserved(lab, act, s):
    s.send_raw(g.SET_CALL_DATA_REQ, struct.pack(">IIII", 555, 0, 0, 0))
    m = s.wait_type(g.FAILURE_CONF, 5 * SLOW)
    expect_failure(m, 555, g.E_CTI_FUNCTION_NOT_AVAILABLE,
                   "SET_CALL_DATA_REQ")
    check(s.heartbeat()["type"] == g.HEARTBEAT_CONF,
          "session lost after an unserved request")
    log("(j) SET_CALL_DATA_REQ: FAILURE_CONF 12, session kept")


def part_standby(lab, stby):
    st = cti(lab, stby)
    check(st["running"] and not st["active"] and
          st["port"] == lab.cti_ports[stby], "standby %s cti: %r" % (
              stby, st))
    for v, services, status in (
            (13, g.CTI_SERVICE_ALL_EVENTS, g.E_CTI_CTI_SERVER_OFFLINE),
            (23, g.CTI_SERVICE_ALL_EVENTS, g.E_CTI_CTI_SERVER_OFFLINE),
            (24, g.CTI_SERVICE_ALL_EVENTS,
             g.E_CTI_INVALID_CLIENT_FOR_STANDBY),
            (25, g.CTI_SERVICE_CLIENT_EVENTS,
             g.E_CTI_INVALID_CLIENT_FOR_STANDBY)):
        s = cti_connect(lab, stby, "standby-v%d" % v)
        desk = services & g.CTI_SERVICE_CLIENT_EVENTS
        m = s.open(version=v, client_id="standby-v%d" % v, invoke=60 + v,
                   services=services,
                   peripheral_id=PERIPHERAL if desk else g.NULL_PERIPHERAL_ID,
                   agent_id=str(FIRST + 2) if desk else None)
        expect_failure(m, 60 + v, status, "standby side, v%d" % v)
        check(s.wait_closed(5 * SLOW), "standby side, v%d: not closed" % v)
        s.close_socket()
        log("(k) standby side, v%d: FAILURE_CONF %d, closed" % (v, status))
    s = cti_connect(lab, stby, "standby-ok")
    m = s.open(version=24, client_id="standby-ok",
               services=g.CTI_SERVICE_ALL_EVENTS |
               g.CTI_SERVICE_ACTIVE_STANDBY)
    check(m["type"] == g.OPEN_CONF and m["fixed_len"] == 32 and
          m["SessionType"] == g.SESSION_TYPE_STANDBY,
          "standby side, v24 with ACTIVE_STANDBY: %r" % m)
    check(s.heartbeat()["type"] == g.HEARTBEAT_CONF, "standby heartbeat")
    check(s.close()["type"] == g.CLOSE_CONF, "standby close")
    s.close_socket()
    log("(k) standby side, v24 with ACTIVE_STANDBY: a standby session")


def test(Lab):
    lab = Lab("ctis", agents=AGENTS,
              extra="cti: { idle_scale_ms = 50; open_timeout_ms = 600; };",
              **FAST)
    act, stby, _ = start_duplex(lab)
    wait_cti_active(lab, act)
    st = cti(lab, act)
    check(st["running"] and st["active"] and
          st["port"] == lab.cti_ports[act], "%s cti: %r" % (act, st))
    log("%s active, its CTI server on port %d" % (act, st["port"]))
    bridges = part_versions(lab, act)
    part_no_nul(lab, act)
    part_open_rules(lab, act)
    early = part_sequence(lab, act)
    desks = part_devices(lab, act)
    part_heartbeat_close(lab, act, early)
    part_idle(lab, act)
    part_unserved(lab, act, bridges[24])
    part_malformed(lab, act, list(bridges.values()) + desks + [early])
    part_standby(lab, stby)
    part_silent(lab, act)
    for v, s in bridges.items():
        check(s.close()["type"] == g.CLOSE_CONF, "v%d close" % v)
        check(s.wait_closed(5 * SLOW), "v%d not closed" % v)
    part_password(Lab)


def part_silent(lab, act):
    n0 = len(cti(lab, act)["sessions"])
    s = cti_connect(lab, act, "silent")
    s.version = 24
    m = s.wait_type(g.FAILURE_EVENT, 5 * SLOW)
    check(m["Status"] == g.E_CTI_TIMEOUT, "silent client told %r" % m)
    check(s.wait_closed(5 * SLOW), "silent client not closed")
    check(len(cti(lab, act)["sessions"]) == n0, "sessions: %r" %
          cti(lab, act)["sessions"])
    log("(m) no OPEN_REQ within 600 ms: FAILURE_EVENT 16, closed")


def part_password(Lab):
    lab = Lab("ctipw", agents=AGENTS,
              extra='cti: { client_password = "s3cret"; };', **FAST)
    act, _, _ = start_duplex(lab)
    wait_cti_active(lab, act)
    for v in (19, 24):
        for what, pw in (("none", b""), ("another", b"secret\0"),
                         ("a longer one", b"s3cret!\0")):
            s = cti_connect(lab, act, "pw%d" % v)
            m = s.open(version=v, client_id="pw-%d" % v, password=pw)
            expect_failure(m, s.invoke, g.E_CTI_INVALID_PASSWORD,
                           "v%d, password %s" % (v, what))
            s.close_socket()
        for pw in (b"s3cret\0", b"s3cret"):
            s = cti_connect(lab, act, "pw%d" % v)
            m = s.open(version=v, client_id="pw-%d" % v, password=pw)
            check(m["type"] == g.OPEN_CONF, "v%d, password %r: %r" % (
                v, pw, m))
            check(s.close()["type"] == g.CLOSE_CONF, "pw v%d close" % v)
            s.close_socket()
    check(lab.grep_log(act, r"ClientPassword is not the lab's "
                       r"cti.client_password"), "no log line for a refused "
          "password")
    log("(l) cti.client_password: none or another refused (36), it opens")


run(test)

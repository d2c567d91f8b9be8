"""The desktop servers' GED-188 client side, against a small CTI server
written here from the public tables (reference/protocol-facts.md 1.4,
1.8), not from the project's codec: the desks and the agents node are
real pgemud processes, the CTI servers Python threads on the lab's CTI
ports.

Proves:
 * each desk opens a session at version 24 with ClientID its node name,
   ServicesRequested ALL_EVENTS | CLIENT_CONTROL, AgentStateMask of every
   state and IdleTimeout heartbeat.cti's interval x misses (20 s), and
   sends HEARTBEAT_REQ (every 250 ms: cti.idle_scale_ms 50);
 * a CTI server that refuses the session (FAILURE_CONF 107, as a standby)
   makes the desk try the other one, and the log line names the status;
 * every desktop's agent is logged in (SET_AGENT_STATE_REQ LOGIN with
   AgentID and AgentInstrument, then AVAILABLE), and the AGENT_STATE_EVENTs
   reach the desktops (`agents status`);
 * `agents agent 1002 set not_ready 7` goes through as NOT_READY, 7;
 * kill -9 of desk-a: every desktop reaches desk-b, which logs its agent
   in with Table 2's state (1002 not ready, reason 7; the others
   available); the agents node emits one desktop_relogin (R10);
 * `agents fault 1003 down`: desk-b logs 1003 out with reason 50002 (R9);
 * the CTI server ends desk-b's session (FAILURE_EVENT 15): desk-b opens
   a new one and logs every desktop's agent in again (desktop_relogin,
   R10), 1002 still not ready;
 * both CTI servers refuse: once each has refused, desk-b waits
   reconnect.min_ms before each new try (not hundreds of tries a second),
   and is in as soon as one serves.
"""
import socket
import struct
import threading
import time

from pgemu_test import check, ev, log, run, wait_for

AGENTS = 5
IDS = list(range(1001, 1001 + AGENTS))
AS_LOGIN, AS_LOGOUT, AS_NOT_READY, AS_AVAILABLE = 0, 1, 2, 3


def frame(mtype, body):
    return struct.pack(">II", len(body), mtype) + body


def floats(body, off):
    """The floating fields of a v20+ message: {tag: bytes}."""
    out = {}
    while off + 4 <= len(body):
        tag, n = struct.unpack_from(">HH", body, off)
        out[tag] = body[off + 4:off + 4 + n]
        off += 4 + n
    return out


def flt(tag, data):
    return struct.pack(">HH", tag, len(data)) + data


class FakeCti:
    """A CTI server of the public tables: OPEN_CONF, HEARTBEAT_CONF,
    SET_AGENT_STATE_CONF and an AGENT_STATE_EVENT for every request (a
    LOGIN gives Not Ready); or
    one that refuses every OPEN_REQ with FAILURE_CONF refuse."""

    def __init__(self, port, refuse=None):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(16)
        self.refuse = refuse
        self.opens = []         # (client id, version, idle, services, mask)
        self.open_times = []    # (client id, when)
        self.requests = []      # (client id, agent, state, reason, instr)
        self.heartbeats = {}
        self.sessions = {}      # client id -> socket
        self.lock = threading.Lock()
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(c,),
                             daemon=True).start()

    def recv_frame(self, c):
        hdr = b""
        while len(hdr) < 8:
            d = c.recv(8 - len(hdr))
            if not d:
                return None, None
            hdr += d
        n, t = struct.unpack(">II", hdr)
        body = b""
        while len(body) < n:
            d = c.recv(n - len(body))
            if not d:
                return None, None
            body += d
        return t, body

    def serve(self, c):
        client = None
        try:
            while True:
                t, body = self.recv_frame(c)
                if t is None:
                    return
                if t == 3:                              # OPEN_REQ
                    (inv, ver, idle, periph, svc, callm, agm, cfgm, r1, r2,
                     r3) = struct.unpack_from(">11I", body)
                    client = floats(body, 44).get(1, b"").rstrip(b"\0")
                    client = client.decode()
                    with self.lock:
                        self.opens.append((client, ver, idle, svc, agm))
                        self.open_times.append((client, time.monotonic()))
                    if self.refuse:
                        c.sendall(frame(1, struct.pack(">II", inv,
                                                       self.refuse)))
                        return
                    # OPEN_CONF v24: InvokeID, ServicesGranted, MonitorID,
                    # PGStatus, CC time, PeripheralOnline, PeripheralType,
                    # AgentState, DepartmentID, SessionType.
                    c.sendall(frame(4, struct.pack(">5IHHHiH", inv, svc, 0,
                                                   0, 0, 1, 17, 0, 0, 1)))
                    with self.lock:
                        self.sessions[client] = c
                elif t == 5:                            # HEARTBEAT_REQ
                    with self.lock:
                        self.heartbeats[client] = \
                            self.heartbeats.get(client, 0) + 1
                    c.sendall(frame(6, body[:4]))
                elif t == 38:                           # SET_AGENT_STATE_REQ
                    inv, periph, st, mode, nsg, reason, forced, sreq = \
                        struct.unpack_from(">IIHHHHBI", body)
                    f = floats(body, 21)
                    agent = int(f[5].rstrip(b"\0"))
                    with self.lock:
                        self.requests.append((client, agent, st, reason,
                                              f.get(6, b"").rstrip(b"\0")
                                              .decode()))
                    c.sendall(frame(39, struct.pack(">I", inv)))
                    # An agent logs in Not Ready, as the product's does.
                    c.sendall(self.state_event(periph, agent,
                                               AS_NOT_READY if st == AS_LOGIN
                                               else st, reason))
        except OSError:
            return

    @staticmethod
    def state_event(periph, agent, st, reason):
        # AGENT_STATE_EVENT v24 fixed part (62 bytes), then AgentID.
        fixed = struct.pack(">IIIHHIIIHHHiIHIiIHi", 0, periph, 0, 17, st, 0,
                            100, 100, 0, st, reason, 1, 0, 0, 1, agent, 0,
                            0, 0)
        return frame(30, fixed + flt(5, b"%d\0" % agent))

    def end(self, client, status):
        """FAILURE_EVENT status to the client's session, then close it."""
        with self.lock:
            c = self.sessions.pop(client)
        c.sendall(frame(2, struct.pack(">I", status)))
        c.close()

    def reqs(self, client=None):
        with self.lock:
            return [r for r in self.requests if client in (None, r[0])]

    def close(self):
        self.sock.close()


def last_state(reqs, agent):
    s = [r for r in reqs if r[1] == agent and r[2] != AS_LOGIN]
    return (s[-1][2], s[-1][3]) if s else None


def test(Lab):
    lab = Lab("t_desk_cti", agents=AGENTS, desktops=True,
              hb_desktop=(100, 3), extra="cti: { idle_scale_ms = 50; };",
              reconnect=(50, 200, 5000))
    refuser = FakeCti(lab.ports["cti-b"], refuse=107)
    cti = FakeCti(lab.ports["cti-a"])
    try:
        run_lab(lab, cti, refuser)
    finally:
        cti.close()
        refuser.close()


def run_lab(lab, cti, refuser):
    lab.start("desk-a")
    lab.start("desk-b")
    lab.start("agents")
    wait_for(lambda: {o[0] for o in cti.opens} == {"desk-a", "desk-b"}, 10,
             "both desks' OPEN_REQ")
    for o in cti.opens:
        check(o[1:] == (24, 20, 0x14, 0x3fff), "OPEN_REQ of %s: version, "
              "idle, services, mask %r" % (o[0], o[1:]))
    wait_for(lambda: all(cti.heartbeats.get(c, 0) >= 2 for c in
                         ("desk-a", "desk-b")), 5, "heartbeats of both")
    log("OPEN_REQ v24 from desk-a and desk-b, ALL_EVENTS|CLIENT_CONTROL, "
        "idle 20 s; heartbeats")
    # Every agent logged in through desk-a, available.
    wait_for(lambda: all(last_state(cti.reqs("desk-a"), a) ==
                         (AS_AVAILABLE, 0) for a in IDS), 5,
             "every agent available through desk-a")
    reqs = cti.reqs("desk-a")
    for a in IDS:
        mine = [r for r in reqs if r[1] == a]
        check(mine[0][2] == AS_LOGIN and mine[0][4] == str(a),
              "agent %d: first request %r, not LOGIN with its "
              "instrument" % (a, mine[0]))
    wait_for(lambda: lab.ctl("agents", "status")["agents"]["states"] ==
             {"available": AGENTS}, 5, "the desktops see available")
    log("5 agents: LOGIN then AVAILABLE through desk-a; desktops see it")

    lab.ctl("agents", "agent", "1002", "set", "not_ready", "7")
    wait_for(lambda: last_state(cti.reqs("desk-a"), 1002) ==
             (AS_NOT_READY, 7), 5, "1002 not ready, 7")
    wait_for(lambda: lab.ctl("agents", "agent", "1002")["state"] ==
             "not_ready", 5, "1002's desktop sees not ready")

    wa = lab.watch("agents")
    n = len(cti.reqs("desk-b"))
    lab.kill("desk-a")
    e = wa.wait(ev("desktop_relogin"), 5, "agents: desktop_relogin")
    check(e["rule"] == "R10" and e["agents"] == AGENTS and
          e["server"] == "desk-b" and e["missing"] == 0,
          "desktop_relogin: %r" % e)
    wait_for(lambda: last_state(cti.reqs("desk-b")[n:], 1002) ==
             (AS_NOT_READY, 7) and
             all(last_state(cti.reqs("desk-b")[n:], a) == (AS_AVAILABLE, 0)
                 for a in IDS if a != 1002), 5,
             "desk-b's logins in Table 2's states")
    log("kill -9 desk-a: %s" % e["message"])

    wb = lab.watch("desk-b")
    lab.ctl("agents", "fault", "1003", "down")
    e = wb.wait(ev("desktop_lost"), 5, "desk-b: desktop_lost")
    check(e["agents"] == [1003] and e["logged_out"] == 1,
          "desktop_lost: %r" % e)
    wait_for(lambda: last_state(cti.reqs("desk-b"), 1003) ==
             (AS_LOGOUT, 50002), 5, "1003 logged out with 50002")
    log("agents fault 1003 down: desk-b logged 1003 out, reason 50002")

    n = len(cti.reqs("desk-b"))
    cti.end("desk-b", 15)
    e = wb.wait(ev("cti_session_lost"), 5, "desk-b: cti_session_lost")
    check("E_CTI_CTI_SERVER_OFFLINE (15)" in e["reason"] and
          e["server"] == "pg-a", "cti_session_lost: %r" % e)
    e = wb.wait(ev("desktop_relogin"), 5, "desk-b: desktop_relogin")
    check(e["rule"] == "R10" and e["agents"] == AGENTS - 1,
          "desk-b desktop_relogin: %r" % e)
    wait_for(lambda: last_state(cti.reqs("desk-b")[n:], 1002) ==
             (AS_NOT_READY, 7) and
             last_state(cti.reqs("desk-b")[n:], 1001) == (AS_AVAILABLE, 0),
             5, "desk-b's logins again, in Table 2's states")
    check(last_state(cti.reqs("desk-b")[n:], 1003) is None,
          "1003, whose desktop is down, logged in again")
    log("FAILURE_EVENT 15 to desk-b: %s" % e["message"])

    # Its session ended, desk-b tried the other CTI server at once: that
    # one refused (107) and desk-b came back here.
    check([o for o in refuser.opens if o[0] == "desk-b"],
          "desk-b never tried the other CTI server")
    lab.wait_log("desk-b", r"cti-link: .*peer left: FAILURE_CONF "
                 r"E_CTI_INVALID_CLIENT_FOR_STANDBY \(107\)")
    log("the refusing CTI server (107) was tried and left")

    st = lab.status("desk-b")["desk"]
    check(st["cti"]["state"] == "UP" and st["cti"]["server"] == "pg-a" and
          st["cti"]["version"] == 24 and st["desktops"] == AGENTS - 1,
          "desk-b status: %r" % st)
    lab.ctl("desk-b", "fault", "cti-link", "down")
    e = wb.wait(ev("cti_session_lost"), 5, "desk-b: cti_session_lost")
    check(lab.status("desk-b")["desk"]["cti"]["state"] == "ADMIN_DOWN",
          "cti-link not down")
    lab.ctl("desk-b", "fault", "cti-link", "up")
    e = wb.wait(ev("desktop_relogin"), 5, "desk-b: desktop_relogin after "
                "fault cti-link up")
    check(e["agents"] == AGENTS - 1, "desktop_relogin: %r" % e)
    log("desk-b fault cti-link down/up: %s" % e["message"])

    # Both CTI servers refuse (neither serves yet, as when a lab starts):
    # after one refusal of each, desk-b waits reconnect.min_ms (50 ms)
    # before each try, instead of going from one to the other at once,
    # hundreds of times a second.  Then one serves: desk-b is in at once.
    cti.refuse = 107
    t0 = time.monotonic()
    cti.end("desk-b", 15)
    wait_for(lambda: len(tries(cti, refuser, t0)) >= 8, 5,
             "desk-b's tries while both refuse")
    t = tries(cti, refuser, t0)
    gaps = [b - a for a, b in zip(t[2:], t[3:])]
    log("both refuse: desk-b's first 8 tries at %s ms" % [
        round((x - t0) * 1000) for x in t[:8]])
    check(all(g >= 0.045 for g in gaps[:5]),
          "desk-b tried again sooner than reconnect.min_ms after both "
          "refused: gaps %r s" % gaps[:5])
    cti.refuse = None
    wait_for(lambda: lab.status("desk-b")["desk"]["cti"]["state"] == "UP",
             5, "desk-b's session once a CTI server serves")
    log("both refusing: one try each 50 ms or more; in once one serves")


def tries(cti, refuser, t0):
    """desk-b's OPEN_REQs to either CTI server since t0, in order."""
    return sorted(w for c, w in cti.open_times + refuser.open_times
                  if c == "desk-b" and w >= t0)


if __name__ == "__main__":
    run(test)

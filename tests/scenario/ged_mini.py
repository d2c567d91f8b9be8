"""A minimal GED-188 client for the CTI server's tests, written from the
public tables of reference/protocol-facts.md (sections 1.2-1.8), not from
pgemu's codec: a mistake made the same way on both ends cannot hide.

Framing: MHDR = MessageLength (body only) + MessageType, big-endian; the
floating fields are 1-byte tag + 1-byte length up to version 19, 2 + 2
from version 20.
"""
import socket
import struct
import time

FAILURE_CONF, FAILURE_EVENT, OPEN_REQ, OPEN_CONF = 1, 2, 3, 4
HEARTBEAT_REQ, HEARTBEAT_CONF, CLOSE_REQ, CLOSE_CONF = 5, 6, 7, 8
AGENT_STATE_EVENT, SYSTEM_EVENT, CONTROL_FAILURE_CONF = 30, 31, 35
QUERY_AGENT_STATE_REQ, QUERY_AGENT_STATE_CONF = 36, 37
SET_AGENT_STATE_REQ, SET_AGENT_STATE_CONF = 38, 39

CLIENT_EVENTS, ALL_EVENTS, ACTIVE_STANDBY = 0x1, 0x10, 0x02000000
NULL_ID = 0xFFFFFFFF
NO_IDLE = 0xFFFFFFFF

# Tags (1.10)
T_CLIENT_ID, T_CLIENT_PASSWORD, T_CLIENT_SIGNATURE = 1, 2, 3
T_AGENT_EXTENSION, T_AGENT_ID, T_AGENT_INSTRUMENT = 4, 5, 6
T_SKILL_GROUP_NUMBER, T_PERIPHERAL_ID = 62, 208
T_MULTI_LINE, T_NUM_PERIPHERALS = 224, 228

# Fixed parts the tests read: (name, struct code, since version).
LAYOUTS = {
    FAILURE_CONF: [("InvokeID", "I", 0), ("Status", "I", 0)],
    FAILURE_EVENT: [("Status", "I", 0)],
    OPEN_CONF: [("InvokeID", "I", 0), ("ServicesGranted", "I", 0),
                ("MonitorID", "I", 0), ("PGStatus", "I", 0),
                ("ICMCentralControllerTime", "I", 0),
                ("PeripheralOnline", "H", 5), ("PeripheralType", "H", 0),
                ("AgentState", "H", 0), ("DepartmentID", "i", 19),
                ("SessionType", "H", 24)],
    HEARTBEAT_CONF: [("InvokeID", "I", 0)],
    CLOSE_CONF: [("InvokeID", "I", 0)],
    SYSTEM_EVENT: [("PGStatus", "I", 0), ("ICMCentralControllerTime", "I", 0),
                   ("SystemEventID", "I", 0), ("SystemEventArg1", "I", 0),
                   ("SystemEventArg2", "I", 0), ("SystemEventArg3", "I", 0),
                   ("EventDeviceType", "H", 0)],
    AGENT_STATE_EVENT: [
        ("MonitorID", "I", 5), ("PeripheralID", "I", 0),
        ("SessionID", "I", 8), ("PeripheralType", "H", 0),
        ("SkillGroupState", "H", 0), ("StateDuration", "I", 0),
        ("SkillGroupNumber", "I", 0), ("SkillGroupID", "I", 0),
        ("SkillGroupPriority", "H", 0), ("AgentState", "H", 0),
        ("EventReasonCode", "H", 6), ("MRDID", "i", 0), ("NumTasks", "I", 0),
        ("AgentMode", "H", 0), ("MaxTaskLimit", "I", 0),
        ("ICMAgentID", "i", 9), ("AgentAvailabilityStatus", "I", 9),
        ("NumFltSkillGroups", "H", 0), ("DepartmentID", "i", 19)],
    CONTROL_FAILURE_CONF: [("InvokeID", "I", 0), ("FailureCode", "H", 0),
                           ("PeripheralErrorCode", "I", 0)],
    QUERY_AGENT_STATE_CONF: [
        ("InvokeID", "I", 0), ("AgentState", "H", 0),
        ("NumSkillGroups", "H", 0), ("MRDID", "i", 0), ("NumTasks", "I", 0),
        ("AgentMode", "H", 0), ("MaxTaskLimit", "I", 0),
        ("ICMAgentID", "i", 0), ("AgentAvailabilityStatus", "I", 0),
        ("DepartmentID", "i", 19)],
    SET_AGENT_STATE_CONF: [("InvokeID", "I", 0)],
}


def fixed_len(mtype, version):
    return sum(struct.calcsize(">" + c) for _, c, since in LAYOUTS[mtype]
               if since <= version)


class Msg:
    def __init__(self, mtype, body, version):
        self.type, self.body, self.version = mtype, body, version
        self.f = {}
        self.flt = []
        off = 0
        for name, code, since in LAYOUTS.get(mtype, []):
            if since > version:
                continue
            n = struct.calcsize(">" + code)
            self.f[name] = struct.unpack(">" + code, body[off:off + n])[0]
            off += n
        self.fixed_len = off
        wide = version >= 20
        while mtype in LAYOUTS and off < len(body):
            if wide:
                tag, n = struct.unpack(">HH", body[off:off + 4])
                off += 4
            else:
                tag, n = body[off], body[off + 1]
                off += 2
            self.flt.append((tag, body[off:off + n]))
            off += n

    def tags(self, tag):
        return [d for t, d in self.flt if t == tag]

    def str(self, tag):
        v = self.tags(tag)
        return v[0].rstrip(b"\0").decode() if v else None

    def u32(self, tag):
        return [struct.unpack(">I", d)[0] for d in self.tags(tag)]

    def u16(self, tag):
        return [struct.unpack(">H", d)[0] for d in self.tags(tag)]

    def __repr__(self):
        return "Msg(%d, %r, %r)" % (self.type, self.f, self.flt)


class Closed(Exception):
    pass


class Client:
    def __init__(self, port, version=20):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.version = version
        self.buf = b""
        self.invoke = 0

    def flt(self, tag, data):
        if isinstance(data, str):
            data = data.encode() + b"\0"
        if self.version >= 20:
            return struct.pack(">HH", tag, len(data)) + data
        return struct.pack(">BB", tag, len(data)) + data

    def send(self, mtype, body):
        self.s.sendall(struct.pack(">II", len(body), mtype) + body)

    def next_invoke(self):
        self.invoke += 1
        return self.invoke

    def recv(self, timeout=5.0):
        """The next message; Closed when the server closed."""
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buf) >= 8:
                n, t = struct.unpack(">II", self.buf[:8])
                if len(self.buf) >= 8 + n:
                    body = self.buf[8:8 + n]
                    self.buf = self.buf[8 + n:]
                    return Msg(t, body, self.version)
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no message within %.1f s" % timeout)
            self.s.settimeout(left)
            try:
                d = self.s.recv(65536)
            except ConnectionResetError:
                d = b""
            if not d:
                raise Closed()
            self.buf += d

    def expect(self, mtype, timeout=5.0):
        m = self.recv(timeout)
        if m.type != mtype:
            raise AssertionError("expected type %d, got %r" % (mtype, m))
        return m

    def closed(self, timeout=5.0):
        """True once the server closed the connection (messages before
        are dropped)."""
        try:
            while True:
                self.recv(timeout)
        except Closed:
            return True
        except TimeoutError:
            return False

    def open_req(self, services=ALL_EVENTS, idle=NO_IDLE, client_id="test",
                 periph=NULL_ID, state_mask=0x3fff, call_mask=0,
                 reserved=(0, 0, 0), version=None, agent=None,
                 extension=None, signature=None, invoke=None):
        version = self.version if version is None else version
        invoke = self.next_invoke() if invoke is None else invoke
        body = struct.pack(">11I", invoke, version, idle, periph, services,
                           call_mask, state_mask, 0, *reserved)
        if client_id is not None:
            body += self.flt(T_CLIENT_ID, client_id)
        body += self.flt(T_CLIENT_PASSWORD, b"")
        if signature is not None:
            body += self.flt(T_CLIENT_SIGNATURE, signature)
        if extension is not None:
            body += self.flt(T_AGENT_EXTENSION, extension)
        if agent is not None:
            body += self.flt(T_AGENT_ID, str(agent))
        self.send(OPEN_REQ, body)
        return invoke

    def open(self, **kw):
        """OPEN_REQ answered by OPEN_CONF: the OPEN_CONF."""
        inv = self.open_req(**kw)
        m = self.recv()
        if m.type != OPEN_CONF or m.f["InvokeID"] != inv:
            raise AssertionError("OPEN_REQ answered by %r" % m)
        return m

    def heartbeat(self):
        inv = self.next_invoke()
        self.send(HEARTBEAT_REQ, struct.pack(">I", inv))
        return inv

    def close_req(self, status=0):
        inv = self.next_invoke()
        self.send(CLOSE_REQ, struct.pack(">II", inv, status))
        return inv

    def query(self, periph, agent=None, mrd=1, icm=NULL_ID):
        inv = self.next_invoke()
        body = struct.pack(">IIiI", inv, periph, mrd, icm)
        if agent is not None:
            body += self.flt(T_AGENT_ID, str(agent))
        self.send(QUERY_AGENT_STATE_REQ, body)
        return inv

    def set_state(self, periph, agent, state, reason=0, instrument=None):
        inv = self.next_invoke()
        body = struct.pack(">IIHHHHBI", inv, periph, state, 0, 0, reason, 0,
                           0)
        if instrument is not None:
            body += self.flt(T_AGENT_INSTRUMENT, instrument)
        if agent is not None:
            body += self.flt(T_AGENT_ID, str(agent))
        self.send(SET_AGENT_STATE_REQ, body)
        return inv

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass

"""The app node (an application instance of media routing) against fakes:
MR PIMs that speak the lab protocol on its MR port, and CTI servers that
speak GED-188 (written here from the public tables and the pgemu-defined
ARM layouts of docs/protocol.md, not from pgemu's codec).  Only the app
node runs.

Proves:
 * ARM session: side A's CTI server refuses (FAILURE_CONF 107), the app
   opens with side B's: OPEN_REQ version 24, AGENT_REPORTING|ALL_EVENTS,
   every agent state in the mask, ClientID "app", ApplicationPathID (tag
   97) of the lab file; it asks each agent's state in its MRD;
 * fencing: MR PIM of pg-a accepted (PIM_ACCEPT, pim_accepted R5); pg-b
   with an older epoch refused (PIM_REJECT, pim_refused), with a newer
   one accepted and pg-a fenced (PIM_FENCED to pg-a, pim_fenced R5);
 * routing off (no ROUTING_ENABLED yet): no NEW_TASK; a new task goes to
   an agent the app knows available (app_assigning R13):
   OFFER_APPLICATION_TASK_REQ, START_APPLICATION_TASK_REQ with the TaskID
   of the RESP, END_TASK_IND, TaskFlags APP_ROUTED|ROUTING_DOWN and
   ENDED_DOWN at the end; none available: unassigned;
 * ROUTING_ENABLED from the fenced PIM: ignored; from the accepted one:
   routing on, NEW_TASK with its fields; DO_THIS_WITH_TASK: OFFER_TASK_IND
   at once, START_TASK_IND, END_TASK_IND after offer_ms and
   handle_time_ms, with the agent, MRD, TaskID, DialogueID, flags 0;
 * NEW_TASK_FAILURE NO_AGENT: new_task_failed, assigned by the app (flags
   APP_ROUTED); ROUTING_DOWN: new_task_failed R16, flags with
   ROUTING_DOWN;
 * ROUTING_DISABLED (routing_disabled R16): pending requests stay, new
   tasks assigned by the app (app_assigning R16); ROUTING_ENABLED again:
   every pending request resent with TASKF_RESEND and the same DialogueID
   (tasks_resent R17), a task started while down and ended after does not
   carry ENDED_DOWN;
 * the accepted MR link lost (mr_path_lost R12, pending count), the PIM
   back and enabled: resent (tasks_resent R14, cause mr_link);
 * kill -9 with requests pending: the pending table (mode 0600) is read
   back, nothing sent before ROUTING_ENABLED, then resent (tasks_resent
   R14, cause restart) with the same DialogueIDs; new tasks never reuse
   one;
 * the ARM session lost: task messages queued (status), sent in order
   when it is back;
 * `fault pg-b down` closes the MR link (R12) and refuses pg-b until
   `up`; `fault cti-link down|up` ends and reopens the ARM session;
 * R19: after AGENT_INIT_READY_EVENT the app sends its resync bracket
   (BEGIN_AGENT_INIT_IND, END_AGENT_INIT_IND: the lab's MRD 2 is a chat
   one, nothing to tell); a CTI server that says none: one heartbeat
   interval later a warning, no bracket;
 * traffic: `traffic rate N`, `on`, `off`: a stream of NEW_TASKs with new
   DialogueIDs over the route, none after off; bad rate and unknown
   selector refused;
 * the ledger balances (sent = routed + failed + resent + pending) at
   each step, across the restart too;
 * bad input: DO_THIS_WITH_TASK of an unknown dialogue (logged, link
   kept), of another peripheral and NEW_TASK_FAILURE with a bad code or
   cut short (link closed, log line), a RESP answering nothing (logged);
   a pending table corrupt, cut short, or a symbolic link: the node does
   not start, says why (the file, the line) and exits non-zero.
"""
import os
import re
import socket
import stat
import struct
import threading
import time

import ged188_client as G
from pgemu_test import (SLOW, TestFailure, auth_hello, check,
                        closed_by_peer, ev, find_event, frame, grant_token,
                        log, raw_connect, run, wait_for)

# Lab protocol (src/wire.h)
HELLO, HELLO_ACK, HEARTBEAT, BYE = 0x4001, 0x4002, 0x4003, 0x4004
PIM_ACTIVATE, PIM_ACCEPT, PIM_REJECT, PIM_FENCED = 0x4301, 0x4302, 0x4303, \
    0x4304
PIM_DEACTIVATE = 0x4305
NEW_TASK, DO_THIS, FAILURE, ENABLED, DISABLED = 0x4501, 0x4502, 0x4503, \
    0x4504, 0x4505
TASKF_RESEND, TASKF_APP_ROUTED, TASKF_ROUTING_DOWN, TASKF_ENDED_DOWN = \
    0x1, 0x2, 0x4, 0x8
FAIL_NO_AGENT, FAIL_ROUTING_DOWN = 1, 2
MR_PERIPH, AGENT_PERIPH, MRD, PATH = 5001, 5000, 2, 7
# A chat MRD: an email one's tasks are resynced, not queued (R19,
# r19_arm_session.py).
MRDS = ('{ id = 1; name = "Cisco_Voice"; media = "voice"; },\n'
        '  { id = 2; name = "Chat"; media = "chat"; max_tasks = 5; }')
TASK_FIELDS = ("peripheral", "epoch", "dialogue", "mrd", "agent",
               "agent_periph", "th", "tl", "ts", "code", "flags", "path",
               "when", "when_ms")

# GED-188 ARM task messages: pgemu-defined layouts (docs/protocol.md)
OFFER_TASK_IND, OFFER_APP_REQ, OFFER_APP_RESP = 160, 161, 162
START_TASK_IND, START_APP_REQ, START_APP_RESP = 163, 164, 165
END_TASK_IND = 169
_TASK = G._layout(("InvokeID", "UINT"), ("PeripheralID", "UINT"),
                  ("MRDID", "INT"), ("ICMAgentID", "INT"),
                  ("TaskGroupHigh", "INT"), ("TaskGroupLow", "INT"),
                  ("SequenceNumber", "INT"), ("DialogueID", "UINT"),
                  ("TaskFlags", "UINT"))
_RESP = G._layout(("InvokeID", "UINT"), ("Status", "UINT"),
                  ("TaskGroupHigh", "INT"), ("TaskGroupLow", "INT"),
                  ("SequenceNumber", "INT"))
for _t in (OFFER_TASK_IND, OFFER_APP_REQ, START_TASK_IND, START_APP_REQ,
           END_TASK_IND):
    G.LAYOUTS.setdefault(_t, _TASK)
for _t in (OFFER_APP_RESP, START_APP_RESP):
    G.LAYOUTS.setdefault(_t, _RESP)
G.LAYOUTS.setdefault(G.QUERY_AGENT_STATE_REQ, G._layout(
    ("InvokeID", "UINT"), ("PeripheralID", "UINT"), ("MRDID", "INT"),
    ("ICMAgentID", "INT")))
TASK_TYPES = (OFFER_TASK_IND, OFFER_APP_REQ, START_TASK_IND, START_APP_REQ,
              END_TASK_IND)


def read_frame(s, buf):
    """(type, body, rest) of the first frame of buf, reading s for more;
    None at the end of the stream."""
    while len(buf) < 8 or len(buf) < 8 + struct.unpack(">I", buf[:4])[0]:
        try:
            d = s.recv(65536)
        except (ConnectionResetError, OSError):
            d = b""
        if not d:
            return None
        buf += d
    n, t = struct.unpack(">II", buf[:8])
    return t, buf[8:8 + n], buf[8 + n:]


class Frames:
    """Frames received, in order; wait() consumes them from a mark."""

    def __init__(self):
        self.items = []
        self.cv = threading.Condition()
        self.mark = 0
        self.closed = False

    def add(self, item):
        with self.cv:
            self.items.append(item)
            self.cv.notify_all()

    def close(self):
        with self.cv:
            self.closed = True
            self.cv.notify_all()

    def wait(self, pred, timeout=5, what="a message"):
        deadline = time.monotonic() + timeout * SLOW
        with self.cv:
            while True:
                for i in range(self.mark, len(self.items)):
                    if pred(self.items[i]):
                        self.mark = i + 1
                        return self.items[i]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TestFailure("timed out waiting for %s; got %s" % (
                        what, self.items[-8:]))
                self.cv.wait(left)

    def since(self, mark):
        with self.cv:
            return list(self.items[mark:])

    def count(self):
        with self.cv:
            return len(self.items)


def task_body(**f):
    """A struct msg_task body (src/wire.h: fourteen u32, then floating
    fields: selector 0x4007, text 0x4003)."""
    body = struct.pack(">14I", *[f.get(k, 0) for k in TASK_FIELDS])
    for tag, key in ((0x4007, "selector"), (0x4003, "text")):
        if f.get(key) is not None:
            d = f[key].encode() + b"\0"
            body += struct.pack(">HH", tag, len(d)) + d
    return body


def task_decode(body):
    v = dict(zip(TASK_FIELDS, struct.unpack(">14I", body[:56])))
    off = 56
    while off + 4 <= len(body):
        tag, n = struct.unpack(">HH", body[off:off + 4])
        d = body[off + 4:off + 4 + n].rstrip(b"\0").decode()
        v[{0x4007: "selector", 0x4003: "text"}.get(tag, tag)] = d
        off += 4 + n
    return v


class FakePim:
    """An MR PIM of a PG side: connects to the app's MR port, greets,
    heartbeats every 50 ms, and keeps what the app sends."""

    def __init__(self, lab, node, side):
        self.node = node
        self.side = side
        self.key = lab.key()
        self.s = raw_connect(lab.ports["app"])
        self.lock = threading.Lock()
        self.frames = Frames()
        self.stop = threading.Event()
        auth_hello(self.s, self.key, node, lab.name, side)
        threading.Thread(target=self._reader, daemon=True).start()
        self.frames.wait(lambda f: f[0] == HELLO_ACK, 5,
                         "%s: HELLO_ACK" % node)
        threading.Thread(target=self._beat, daemon=True).start()

    def _reader(self):
        buf = b""
        while True:
            r = read_frame(self.s, buf)
            if r is None:
                self.frames.close()
                return
            t, body, buf = r
            if t != HEARTBEAT:
                self.frames.add((t, body))

    def _beat(self):
        seq = 0
        while not self.stop.wait(0.05):
            seq += 1
            try:
                self.send(HEARTBEAT, struct.pack(">I", seq))
            except OSError:
                return

    def send(self, t, body=b""):
        with self.lock:
            self.s.sendall(frame(t, body))

    def activate(self, epoch, periph=MR_PERIPH, signed=True):
        """PIM_ACTIVATE with the router's token of the grant (as a real
        MR PIM forwards it), or without (signed False)."""
        body = struct.pack(">IIB", epoch, periph, 0)
        if signed:
            tok = grant_token(self.key, periph, epoch, self.side)
            body += struct.pack(">HH", 0x4009, len(tok)) + tok
        self.send(PIM_ACTIVATE, body)

    def task(self, t, **f):
        f.setdefault("peripheral", MR_PERIPH)
        self.send(t, task_body(**f))

    def wait(self, t, pred=lambda v: True, timeout=5, what=None):
        """The next frame of type t (a task message decoded) that pred
        takes."""
        def ok(fr):
            if fr[0] != t:
                return False
            return pred(task_decode(fr[1]) if t == NEW_TASK else fr[1])
        fr = self.frames.wait(ok, timeout, what or "%s: type 0x%x" % (
            self.node, t))
        return task_decode(fr[1]) if t == NEW_TASK else fr[1]

    def new_tasks(self, mark=0):
        return [task_decode(b) for t, b in self.frames.since(mark)
                if t == NEW_TASK]

    def closed(self, timeout=5):
        deadline = time.monotonic() + timeout * SLOW
        while time.monotonic() < deadline:
            if self.frames.closed:
                return True
            time.sleep(0.01)
        return False

    def close(self):
        self.stop.set()
        try:
            self.s.close()
        except OSError:
            pass


class FakeCti:
    """A CTI server (GED-188, one session at a time): refuses OPEN_REQ
    with FAILURE_CONF 107 when refuse is set, else opens, then says
    AGENT_INIT_READY_EVENT (R19) when ready is set; answers
    HEARTBEAT_REQ, QUERY_AGENT_STATE_REQ (from self.states), the
    application's task requests (TaskID 9.N.0, N counting) and those of
    its resync bracket; keeps every message of every session."""

    def __init__(self, port, refuse=False):
        self.port = port
        self.refuse = refuse
        self.states = {}
        self.msgs = Frames()
        self.opens = []
        self.conn = None
        self.version = 24
        self.next_task = 100
        self.answer = True
        self.ready = True
        self.lock = threading.Lock()
        self.lst = None
        self.listen()

    def listen(self):
        self.lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lst.bind(("127.0.0.1", self.port))
        self.lst.listen(4)
        threading.Thread(target=self._accept, args=(self.lst,),
                         daemon=True).start()

    def unlisten(self):
        """No more connections, and the open session ends."""
        lst, self.lst = self.lst, None
        try:
            lst.shutdown(socket.SHUT_RDWR)  # wakes the accept()
        except OSError:
            pass
        lst.close()
        self.drop()

    def drop(self):
        c, self.conn = self.conn, None
        if c is not None:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()

    def _accept(self, lst):
        while True:
            try:
                c, _ = lst.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,),
                             daemon=True).start()

    def send(self, c, mtype, fields, floating=()):
        with self.lock:
            c.sendall(G.encode(mtype, fields, floating, self.version))

    def agent_state(self, agent, mrd, state):
        self.states[(agent, mrd)] = state
        if self.conn is not None:
            self.send(self.conn, G.AGENT_STATE_EVENT, {
                "PeripheralID": AGENT_PERIPH, "AgentState": state,
                "MRDID": mrd, "ICMAgentID": agent, "SkillGroupNumber": 100},
                [(G.AGENT_ID_TAG, G.flt_str(str(agent)))])

    def _serve(self, c):
        buf = b""
        while True:
            r = read_frame(c, buf)
            if r is None:
                if self.conn is c:
                    self.conn = None
                return
            t, body, buf = r
            if t == G.OPEN_REQ:
                m = G.decode(t, body)
                self.opens.append(m)
                if self.refuse:
                    self.send(c, G.FAILURE_CONF, {
                        "InvokeID": m["InvokeID"],
                        "Status": G.E_CTI_INVALID_CLIENT_FOR_STANDBY})
                    c.close()
                    return
                self.conn = c
                self.send(c, G.OPEN_CONF, {
                    "InvokeID": m["InvokeID"],
                    "ServicesGranted": m["ServicesRequested"],
                    "PeripheralOnline": 1, "PeripheralType": 17,
                    "SessionType": 1})
                if self.ready:
                    self.send(c, G.AGENT_INIT_READY_EVENT,
                              {"PeripheralID": AGENT_PERIPH})
                continue
            m = G.decode(t, body, self.version)
            if t == G.HEARTBEAT_REQ:
                self.send(c, G.HEARTBEAT_CONF, {"InvokeID": m["InvokeID"]})
                continue
            self.msgs.add(m)
            if t == G.QUERY_AGENT_STATE_REQ:
                self.send(c, G.QUERY_AGENT_STATE_CONF, {
                    "InvokeID": m["InvokeID"],
                    "AgentState": self.states.get(
                        (m["ICMAgentID"], m["MRDID"]),
                        G.AGENT_STATE_LOGOUT),
                    "MRDID": m["MRDID"], "ICMAgentID": m["ICMAgentID"],
                    "MaxTaskLimit": 5})
            elif t == OFFER_APP_REQ and self.answer:
                self.next_task += 1
                self.send(c, OFFER_APP_RESP, {
                    "InvokeID": m["InvokeID"], "Status": 0,
                    "TaskGroupHigh": 9, "TaskGroupLow": self.next_task})
            elif t == G.AGENT_INIT_REQ:
                self.send(c, G.AGENT_INIT_RESP, {
                    "InvokeID": m["InvokeID"], "Status": 0,
                    "MRDID": m["MRDID"], "ICMAgentID": m["ICMAgentID"]})
            elif t == G.TASK_INIT_REQ:
                self.next_task += 1
                self.send(c, G.TASK_INIT_RESP, {
                    "InvokeID": m["InvokeID"], "Status": 0,
                    "TaskGroupHigh": 9, "TaskGroupLow": self.next_task})
            elif t == START_APP_REQ and self.answer:
                self.send(c, START_APP_RESP, {
                    "InvokeID": m["InvokeID"], "Status": 0,
                    "TaskGroupHigh": m["TaskGroupHigh"],
                    "TaskGroupLow": m["TaskGroupLow"],
                    "SequenceNumber": m["SequenceNumber"]})

    def wait(self, mtype, timeout=5, what=None, **fields):
        return self.msgs.wait(
            lambda m: m["type"] == mtype and all(
                m.get(k) == v for k, v in fields.items()), timeout,
            what or "CTI: %s %s" % (G.msg_name(mtype), fields))

    def close(self):
        if self.lst is not None:
            self.unlisten()
        self.drop()


def status(lab):
    return lab.ctl("app", "status")["app"]


def check_ledger(lab, **want):
    """The ledger balances, and has the counts given."""
    led = status(lab)["ledger"]
    check(led["sent"] == led["routed"] + led["failed"] + led["resent"] +
          led["pending"] and led["balanced"], "ledger does not balance: %s"
          % led)
    for k, v in want.items():
        check(led[k] == v, "ledger %s: %s, expected %s (%s)" % (
            k, led[k], v, led))
    return led


def new_task(lab, count=1, selector="Email"):
    r = lab.ctl("app", "new-task", selector, str(count))
    return list(range(r["first_dialogue"], r["first_dialogue"] + count))


def app_task(lab, dialogue):
    for t in lab.ctl("app", "tasks"):
        if t["dialogue"] == dialogue:
            return t
    raise TestFailure("no task of dialogue %d" % dialogue)


def wait_pending(lab, dialogues):
    want = sorted(dialogues)
    return wait_for(lambda: sorted(p["dialogue"] for p in
                                   lab.ctl("app", "pending")) == want, 5,
                    "pending table %s" % want)


def self_assigned(cti, dialogue, flags, agent=None):
    """OFFER_APPLICATION_TASK_REQ, START_APPLICATION_TASK_REQ with the
    RESP's TaskID, END_TASK_IND: the last, and the TaskID."""
    kw = {} if agent is None else {"ICMAgentID": agent}
    o = cti.wait(OFFER_APP_REQ, DialogueID=dialogue, InvokeID=dialogue,
                 **kw)
    check(o["TaskFlags"] == flags and o["MRDID"] == MRD and
          o["PeripheralID"] == AGENT_PERIPH and o["TaskGroupHigh"] == 0,
          "OFFER_APPLICATION_TASK_REQ: %r" % o)
    s = cti.wait(START_APP_REQ, DialogueID=dialogue)
    check(s["TaskGroupHigh"] == 9 and s["TaskFlags"] == flags and
          s["ICMAgentID"] == o["ICMAgentID"], "START_APPLICATION_TASK_REQ "
          "without the RESP's TaskID: %r" % s)
    return s


def test(Lab):
    lab = Lab("app", agents=4, agent_mrds=[1, 2], media=True, mrds=MRDS,
              hb_cti=(1000, 4), mr_extra="application_path = %d;" % PATH)
    cti_a = FakeCti(lab.cti_ports["pg-a"], refuse=True)
    cti_b = FakeCti(lab.cti_ports["pg-b"])
    pims = []
    try:
        body(lab, cti_a, cti_b, pims)
    finally:
        for p in pims:
            p.close()
        cti_a.close()
        cti_b.close()


def body(lab, cti_a, cti_b, pims):
    lab.start("app")
    w = lab.watch("app")

    # ARM session: side A refuses, side B opens.
    wait_for(lambda: cti_b.conn is not None, 10, "ARM session with pg-b")
    check(len(cti_a.opens) >= 1, "side A was not tried first")
    o = cti_b.opens[-1]
    check(o["VersionNumber"] == 24 and
          o["ServicesRequested"] == (G.CTI_SERVICE_AGENT_REPORTING |
                                     G.CTI_SERVICE_ALL_EVENTS) and
          o["AgentStateMask"] == G.AGENT_STATE_MASK_ALL,
          "OPEN_REQ: %r" % o)
    check(o.string(G.CLIENT_ID_TAG) == "app" and
          o.number(G.APP_PATH_ID_TAG) == PATH, "OPEN_REQ floating "
          "fields: %r" % o["floating"])
    find_event(lab, "app", ev("cti_session_open", server="pg-b"),
               "ARM session open with pg-b")
    for a in range(1001, 1005):
        cti_b.wait(G.QUERY_AGENT_STATE_REQ, ICMAgentID=a, MRDID=MRD,
                   PeripheralID=AGENT_PERIPH)
    # R19: the first bracket tells nothing (no state recorded yet).
    cti_b.wait(G.BEGIN_AGENT_INIT_IND, PeripheralID=AGENT_PERIPH)
    cti_b.wait(G.END_AGENT_INIT_IND, PeripheralID=AGENT_PERIPH)
    check(not [m for m in cti_b.msgs.since(0) if m["type"] in
               (G.AGENT_INIT_REQ, G.TASK_INIT_IND, G.TASK_INIT_REQ)],
          "the first bracket told something")
    wait_for(lambda: status(lab)["arm"]["agents_known"] == 4, 5,
             "the app knows the 4 agents' states")
    log("ARM session: A refused, B open, OPEN_REQ right, states asked")

    # Fencing: pg-a accepted, pg-b refused with an older epoch.
    pa = FakePim(lab, "pg-a", "A")
    pims.append(pa)
    pa.activate(5)
    acc = pa.wait(PIM_ACCEPT)
    check(struct.unpack(">I", acc[:4])[0] == 5, "PIM_ACCEPT epoch")
    w.wait(ev("pim_accepted", pim="pg-a", epoch=5, rule="R5"))
    pb = FakePim(lab, "pg-b", "B")
    pims.append(pb)
    pb.activate(4)
    rej = pb.wait(PIM_REJECT)
    check(struct.unpack(">I", rej[:4])[0] == 4, "PIM_REJECT epoch")
    w.wait(ev("pim_refused", pim="pg-b", epoch=4))
    check(status(lab)["accepted_pim"] == "pg-a", "pg-a lost its PIM")
    log("fencing: pg-a accepted with 5, pg-b refused with 4")

    # Routing off (no ROUTING_ENABLED): no agent available, unassigned.
    mark_a = pa.frames.count()
    d_un = new_task(lab)[0]
    check(app_task(lab, d_un)["state"] == "unassigned",
          "task with no agent: %s" % app_task(lab, d_un))
    w.wait(ev("app_assigning", rule="R13"))
    check_ledger(lab, sent=0, unassigned=1, self_assigned=0)

    # An agent available: the app assigns the task itself.
    cti_b.agent_state(1001, MRD, G.AGENT_STATE_AVAILABLE)
    wait_for(lambda: status(lab)["arm"]["agents_available"] == 1, 5,
             "agent 1001 available at the app")
    d1 = new_task(lab)[0]
    s = self_assigned(cti_b, d1, TASKF_APP_ROUTED | TASKF_ROUTING_DOWN,
                      1001)
    e = cti_b.wait(END_TASK_IND, DialogueID=d1)
    check(e["TaskFlags"] == TASKF_APP_ROUTED | TASKF_ROUTING_DOWN |
          TASKF_ENDED_DOWN and e["TaskGroupLow"] == s["TaskGroupLow"] and
          e["ICMAgentID"] == 1001, "END_TASK_IND of a task the app "
          "assigned while routing was down: %r" % e)
    check(app_task(lab, d1)["state"] == "ended" and
          app_task(lab, d1)["assigned"] == "app", "task: %s" %
          app_task(lab, d1))
    check(pa.new_tasks(mark_a) == [], "NEW_TASK before ROUTING_ENABLED")
    check_ledger(lab, sent=0, self_assigned=1)
    log("routing off: unassigned with no agent, assigned by the app with "
        "one (flags 0x%x at the end)" % e["TaskFlags"])

    # pg-b with a newer epoch: accepted, pg-a fenced.
    pb.activate(6)
    pb.wait(PIM_ACCEPT)
    f = pa.wait(PIM_FENCED)
    check(struct.unpack(">II", f[:8]) == (6, 5), "PIM_FENCED: %r" % f)
    w.wait(ev("pim_fenced", pim="pg-a", epoch=5, by=6, rule="R5"))
    w.wait(ev("pim_accepted", pim="pg-b", epoch=6))
    st = status(lab)
    check(st["accepted_pim"] == "pg-b" and st["accepted_epoch"] == 6 and
          st["max_accepted_at_once"] == 1 and st["fences"] == 1,
          "after the fence: %s" % st)
    # The fenced PIM cannot enable routing.
    pa.task(ENABLED, epoch=5)
    lab.wait_log("app", r"ROUTING_ENABLED of dialogue 0 with epoch 5 "
                 r"ignored: not the accepted MR PIM")
    check(not status(lab)["routing"], "the fenced PIM enabled routing")
    log("fencing: pg-b accepted with 6, pg-a fenced, its "
        "ROUTING_ENABLED ignored")

    # ROUTING_ENABLED: NEW_TASK, then DO_THIS_WITH_TASK and its life.
    mark_b = pb.frames.count()
    pb.task(ENABLED, epoch=6)
    w.wait(ev("routing_enabled", pim="pg-b", epoch=6))
    check(pb.new_tasks(mark_b) == [], "a NEW_TASK resent with nothing "
          "pending")
    d2 = new_task(lab)[0]
    nt = pb.wait(NEW_TASK, lambda v: v["dialogue"] == d2)
    check(nt["peripheral"] == MR_PERIPH and nt["mrd"] == MRD and
          nt["selector"] == "Email" and nt["flags"] == 0 and
          nt["path"] == PATH and nt["epoch"] == 0 and
          abs(nt["when"] - time.time()) < 5, "NEW_TASK: %s" % nt)
    wait_pending(lab, [d2])
    check_ledger(lab, sent=1, pending=1)
    t0 = time.monotonic()
    pb.task(DO_THIS, epoch=6, dialogue=d2, mrd=MRD, agent=1002,
            agent_periph=AGENT_PERIPH, th=11, tl=22, ts=0)
    kw = dict(DialogueID=d2, InvokeID=d2, ICMAgentID=1002, MRDID=MRD,
              PeripheralID=AGENT_PERIPH, TaskGroupHigh=11,
              TaskGroupLow=22, SequenceNumber=0, TaskFlags=0)
    cti_b.wait(OFFER_TASK_IND, **kw)
    cti_b.wait(START_TASK_IND, **kw)
    t1 = time.monotonic()
    cti_b.wait(END_TASK_IND, **kw)
    t2 = time.monotonic()
    check(t1 - t0 >= 0.04 and t2 - t1 >= 0.3, "task life too short: "
          "start after %.3f s, end %.3f s later" % (t1 - t0, t2 - t1))
    wait_pending(lab, [])
    t = app_task(lab, d2)
    check(t["state"] == "ended" and t["assigned"] == "router" and
          t["fate"] == "routed" and t["task"] == [11, 22, 0] and
          t["agent"] == 1002, "routed task: %s" % t)
    check_ledger(lab, sent=1, routed=1, pending=0)
    log("routing on: NEW_TASK, DO_THIS_WITH_TASK -> OFFER, START (%.3f s),"
        " END (%.3f s)" % (t1 - t0, t2 - t1))

    # NEW_TASK_FAILURE: the app assigns the task itself.
    d3 = new_task(lab)[0]
    pb.wait(NEW_TASK, lambda v: v["dialogue"] == d3)
    pb.task(FAILURE, epoch=6, dialogue=d3, mrd=MRD, code=FAIL_NO_AGENT,
            text="queue full")
    e = w.wait(ev("new_task_failed", dialogue=d3, code=FAIL_NO_AGENT))
    check(e["rule"] is None and e["reason"] == "queue full",
          "new_task_failed: %s" % e)
    self_assigned(cti_b, d3, TASKF_APP_ROUTED, 1001)
    d4 = new_task(lab)[0]
    pb.wait(NEW_TASK, lambda v: v["dialogue"] == d4)
    pb.task(FAILURE, epoch=6, dialogue=d4, mrd=MRD, code=FAIL_ROUTING_DOWN)
    w.wait(ev("new_task_failed", dialogue=d4, code=FAIL_ROUTING_DOWN,
              rule="R16"))
    self_assigned(cti_b, d4, TASKF_APP_ROUTED | TASKF_ROUTING_DOWN)
    check(app_task(lab, d4)["fate"] == "failed", "fate of d4")
    check_ledger(lab, sent=3, routed=1, failed=2, self_assigned=3)
    log("NEW_TASK_FAILURE: new_task_failed, assigned by the app")

    # ROUTING_DISABLED with requests pending; ROUTING_ENABLED: R17.
    pend = new_task(lab, 3)
    for d in pend:
        pb.wait(NEW_TASK, lambda v, d=d: v["dialogue"] == d)
    pb.task(DISABLED, epoch=6, text="router link lost")
    w.wait(ev("routing_disabled", rule="R16", pending=3, routing=True))
    d5 = new_task(lab)[0]
    w.wait(ev("app_assigning", rule="R16"))
    s5 = self_assigned(cti_b, d5, TASKF_APP_ROUTED | TASKF_ROUTING_DOWN)
    wait_pending(lab, pend)
    check_ledger(lab, sent=6, pending=3)
    mark_b = pb.frames.count()
    pb.task(ENABLED, epoch=6)
    w.wait(ev("routing_enabled", rule="R17", pending=3))
    w.wait(ev("tasks_resent", rule="R17", count=3,
              cause="routing_disabled"))
    wait_for(lambda: len(pb.new_tasks(mark_b)) >= 3, 5, "3 NEW_TASKs "
             "resent")
    res = pb.new_tasks(mark_b)
    check(sorted(v["dialogue"] for v in res) == pend and
          all(v["flags"] == TASKF_RESEND for v in res),
          "resent: %s" % res)
    e5 = cti_b.wait(END_TASK_IND, DialogueID=d5)
    check(e5["TaskFlags"] == TASKF_APP_ROUTED | TASKF_ROUTING_DOWN and
          e5["TaskGroupLow"] == s5["TaskGroupLow"], "a task that routing "
          "came back during ended with %r" % e5)
    check_ledger(lab, sent=9, resent=3, pending=3)
    log("ROUTING_DISABLED/ENABLED: 3 resent (R17), END without "
        "ENDED_DOWN")

    # The accepted MR link lost: R12, then R14 (mr_link).
    pb.close()
    e = w.wait(ev("mr_path_lost", pim="pg-b", rule="R12"))
    check(e["pending"] == 3, "mr_path_lost: %s" % e)
    check(not status(lab)["routing"], "routing on without its PIM")
    pb = FakePim(lab, "pg-b", "B")
    pims.append(pb)
    pb.activate(6)
    pb.wait(PIM_ACCEPT)
    mark_b = pb.frames.count()
    pb.task(ENABLED, epoch=6)
    w.wait(ev("tasks_resent", rule="R14", count=3, cause="mr_link"))
    wait_for(lambda: len(pb.new_tasks(mark_b)) >= 3, 5, "3 NEW_TASKs "
             "resent")
    check(sorted(v["dialogue"] for v in pb.new_tasks(mark_b)) == pend,
          "resent after the MR link: %s" % pb.new_tasks(mark_b))
    check_ledger(lab, sent=12, resent=6, pending=3)
    log("MR link lost (R12) and back: resent (R14)")

    # kill -9 with 3 pending: read back, resent after ROUTING_ENABLED.
    path = os.path.join(lab.dir, "app.pending")
    wait_for(lambda: os.path.exists(path), 5, "the pending table")
    mode = stat.S_IMODE(os.stat(path).st_mode)
    check(mode == 0o600, "pending table mode %o" % mode)
    before = check_ledger(lab)
    last = status(lab)["next_dialogue"] - 1
    lab.kill("app")
    lab.reap("app")
    pb.close()
    pa.close()
    lab.start("app")
    w = lab.watch("app")
    wait_pending(lab, pend)
    check_ledger(lab, sent=before["sent"], routed=before["routed"],
                 failed=before["failed"], resent=before["resent"])
    pb = FakePim(lab, "pg-b", "B")
    pims.append(pb)
    pb.activate(7)
    pb.wait(PIM_ACCEPT)
    time.sleep(0.2)
    check(pb.new_tasks() == [], "NEW_TASK before ROUTING_ENABLED after "
          "the restart")
    pb.task(ENABLED, epoch=7)
    e = w.wait(ev("tasks_resent", rule="R14", count=3, cause="restart"))
    wait_for(lambda: len(pb.new_tasks()) >= 3, 5, "3 NEW_TASKs resent")
    res = pb.new_tasks()
    check(sorted(v["dialogue"] for v in res) == pend and
          all(v["flags"] == TASKF_RESEND for v in res),
          "resent after the restart: %s" % res)
    d6 = new_task(lab)[0]
    check(d6 > last, "DialogueID %d reused (the last was %d)" % (d6, last))
    pb.wait(NEW_TASK, lambda v: v["dialogue"] == d6 and v["flags"] == 0)
    for d in pend:
        pb.task(DO_THIS, epoch=7, dialogue=d, mrd=MRD, agent=1003,
                agent_periph=AGENT_PERIPH, th=11, tl=d, ts=0)
    wait_pending(lab, [d6])
    check_ledger(lab, routed=before["routed"] + 3, pending=1)
    log("kill -9: pending table read back, resent (R14, restart), "
        "dialogue %d new" % d6)

    # The ARM session lost: task messages queue, then go in order.
    wait_for(lambda: cti_b.conn is not None, 10, "ARM session after the "
             "restart")
    cti_b.unlisten()
    cti_a.refuse = True
    wait_for(lambda: not status(lab)["arm"]["state"] == "UP", 5,
             "ARM session down")
    mark_c = cti_b.msgs.count()
    pb.task(DO_THIS, epoch=7, dialogue=d6, mrd=MRD, agent=1004,
            agent_periph=AGENT_PERIPH, th=12, tl=34, ts=0)
    wait_for(lambda: status(lab)["arm"]["queued"] >= 3, 5,
             "OFFER, START and END queued")
    cti_b.listen()
    wait_for(lambda: cti_b.conn is not None, 10, "ARM session back")
    wait_for(lambda: [m["type"] for m in cti_b.msgs.since(mark_c)
                      if m.get("DialogueID") == d6 and
                      m["type"] in TASK_TYPES] ==
             [OFFER_TASK_IND, START_TASK_IND, END_TASK_IND], 5,
             "the queued task messages, in order")
    check(status(lab)["arm"]["queued"] == 0, "still queued")
    log("ARM session lost: OFFER, START, END queued and sent in order")

    # The app's links by name: fault pg-b and cti-link.
    lab.ctl("app", "fault", "pg-b", "down")
    w.wait(ev("mr_path_lost", pim="pg-b", rule="R12"))
    check(pb.closed(3), "fault pg-b down: the MR link is still open")
    s = raw_connect(lab.ports["app"])
    auth_hello(s, lab.key(), "pg-b", lab.name, "B")
    check(closed_by_peer(s, 3), "pg-b connected while down by a fault")
    s.close()
    lab.ctl("app", "fault", "pg-b", "up")
    pb = FakePim(lab, "pg-b", "B")
    pims.append(pb)
    pb.activate(7)
    pb.wait(PIM_ACCEPT)
    pb.task(ENABLED, epoch=7)
    w.wait(ev("routing_enabled", pim="pg-b", epoch=7, rule="R17"))
    lab.ctl("app", "fault", "cti-link", "down")
    w.wait(ev("cti_session_lost"))
    check(status(lab)["arm"]["state"] == "ADMIN_DOWN", "cti-link not down")
    # A CTI server that says no AGENT_INIT_READY_EVENT: one heartbeat
    # interval later the app says so and sends no bracket.
    cti_b.ready = False
    mark_c = cti_b.msgs.count()
    lab.ctl("app", "fault", "cti-link", "up")
    w.wait(ev("cti_session_open", server="pg-b"), 10)
    lab.wait_log("app", r"\[R19\] no AGENT_INIT_READY_EVENT", 5)
    check(not [m for m in cti_b.msgs.since(mark_c) if m["type"] ==
               G.BEGIN_AGENT_INIT_IND], "a bracket without "
          "AGENT_INIT_READY_EVENT")
    log("fault pg-b, cti-link down and up; no AGENT_INIT_READY_EVENT: no "
        "bracket")

    # Traffic: a Poisson stream of NEW_TASKs, on, off, at a rate.
    rc, _, err = lab.ctl_raw("app", "traffic", "rate", "x")
    check(rc != 0 and "bad rate" in err, "traffic rate x: %d %s" % (rc, err))
    rc, _, err = lab.ctl_raw("app", "new-task", "Fax")
    check(rc != 0 and "no route for selector \"Fax\"; selectors: Email"
          in err, "new-task Fax: %d %s" % (rc, err))
    mark_b = pb.frames.count()
    r = lab.ctl("app", "traffic", "rate", "200")
    check(not r["traffic"] and r["tasks_per_second"] == 200,
          "traffic rate: %s" % r)
    r = lab.ctl("app", "traffic", "on")
    check(r["traffic"], "traffic on: %s" % r)
    wait_for(lambda: len(pb.new_tasks(mark_b)) >= 20, 5, "20 NEW_TASKs "
             "of the traffic")
    lab.ctl("app", "traffic", "off")
    n = len(pb.new_tasks(mark_b))
    time.sleep(0.1)
    made = pb.new_tasks(mark_b)
    check(len(made) == n, "traffic still on: %d NEW_TASKs, then %d" % (
        n, len(made)))
    ds = [v["dialogue"] for v in made]
    check(ds == sorted(set(ds)) and ds[0] > d6 and
          all(v["selector"] == "Email" and v["flags"] == 0 for v in made),
          "the traffic's NEW_TASKs: %s" % made[:5])
    for d in ds:
        pb.task(FAILURE, epoch=7, dialogue=d, mrd=MRD, code=FAIL_NO_AGENT)
    wait_pending(lab, [])
    check_ledger(lab)
    log("traffic: %d NEW_TASKs at 200 a second, answered" % len(ds))

    # Bad input on the MR link.
    pb.task(DO_THIS, epoch=7, dialogue=999999, mrd=MRD, agent=1001,
            agent_periph=AGENT_PERIPH)
    lab.wait_log("app", r"DO_THIS_WITH_TASK for dialogue 999999: no such "
                 r"pending request")
    check(not pb.frames.closed and status(lab)["routing"],
          "an unknown dialogue closed the link")
    check(status(lab)["unknown_answers"] >= 1, "unknown answer not counted")
    # pg-b's next connections come after this one is gone (a live peer is
    # never replaced by a second connection in its name).
    pb.stop.set()
    pb.s.close()
    wait_for(lambda: lab.link("app", "pg-b")["state"] != "UP", 3,
             "app: pg-b's connection gone")
    cases = [
        (DO_THIS, task_body(peripheral=9, epoch=7, dialogue=1, agent=1),
         r"peripheral 9 is not the MR peripheral 5001"),
        (FAILURE, task_body(peripheral=MR_PERIPH, epoch=7, dialogue=1,
                            code=77),
         r"unknown failure code 77"),
        (DO_THIS, task_body(peripheral=MR_PERIPH, epoch=7, dialogue=1),
         r"names no agent"),
        (FAILURE, b"\0" * 10, r"NEW_TASK_FAILURE"),
    ]
    for t, b, pattern in cases:
        p = FakePim(lab, "pg-b", "B")
        pims.append(p)
        p.activate(7)
        p.wait(PIM_ACCEPT)
        p.send(t, b)
        check(p.closed(3), "bad message %s: link not closed" % pattern)
        lab.wait_log("app", r"pg-b.*(%s)" % pattern)
        check(lab.status("app")["node"] == "app", "app not serving")
    # A RESP that answers nothing.
    cti_b.send(cti_b.conn, OFFER_APP_RESP, {"InvokeID": 424242,
                                           "Status": 0})
    lab.wait_log("app", r"OFFER_APPLICATION_TASK_RESP with InvokeID "
                 r"424242 answers no request")
    check_ledger(lab)
    log("bad input on the MR links and the ARM session: logged, closed "
        "where bad")

    # Bad pending tables: the node does not start, and says why.
    p = FakePim(lab, "pg-b", "B")
    pims.append(p)
    p.activate(7)
    p.wait(PIM_ACCEPT)
    p.task(ENABLED, epoch=7)
    w.wait(ev("routing_enabled", pim="pg-b", epoch=7))
    left = new_task(lab, 2)
    wait_pending(lab, left)
    check(lab.stop("app") == 0, "app did not stop cleanly")
    good = open(path).read()
    bad = [
        ("garbage", "hello\nworld\n", r"line 1: not a pending table"),
        ("cut short", good.rsplit("end", 1)[0], r"no \"end\" line"),
        ("bad dialogue", good.replace("pending %d " % left[0],
                                      "pending x%d " % left[0]),
         r"line 4: bad DialogueID"),
        ("dialogue not reserved", good.replace(
            "pending %d " % left[0], "pending 4000000000 "),
         r"line 4: bad DialogueID \"4000000000\""),
        ("dialogue twice", good.replace(
            "pending %d " % left[1], "pending %d " % left[0]),
         r"line 5: dialogue %d twice" % left[0]),
    ]
    check(all(t != good for _, t, _ in bad), "a bad table is the good one")
    for what, text, pattern in bad:
        with open(path, "w") as fh:
            fh.write(text)
        p = lab.start("app", wait=False)
        rc = p.wait(timeout=10 * SLOW)
        check(rc != 0, "%s: started (exit %d)" % (what, rc))
        lab.wait_log("app", r"cannot start: pending table %s: .*%s" % (
            re.escape(path), pattern))
        log("pending table %s: refused, exit %d" % (what, rc))
    other = os.path.join(lab.dir, "other")
    with open(other, "w") as fh:
        fh.write(good)
    os.unlink(path)
    os.symlink(other, path)
    p = lab.start("app", wait=False)
    check(p.wait(timeout=10 * SLOW) != 0, "started on a symbolic link")
    lab.wait_log("app", r"cannot start: pending table %s: is a symbolic "
                 r"link" % re.escape(path))
    os.unlink(path)
    with open(path, "w") as fh:
        fh.write(good)
    os.chmod(path, 0o600)
    lab.start("app")
    wait_pending(lab, left)
    check_ledger(lab)
    log("pending tables corrupt, cut short, symbolic link: refused; the "
        "good one read back")


if __name__ == "__main__":
    run(test)

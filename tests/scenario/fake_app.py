"""A fake application instance and fake lab peers, in Python, speaking the
lab framing (HELLO, HEARTBEAT, BYE) and the media-routing messages of
docs/media-routing.md: for tests of the MR PIM and the router's routing
without the app node.

 * FakeApp listens on the app node's port: each PG side's MR PIM connects
   (CHALLENGE, HELLO proving the lab key, answered HELLO_ACK as "app"
   proving it too: src/wire/proto_lab.c); it fences PIM_ACTIVATE by epoch
   as the ACD does (PIM_ACCEPT to the highest, PIM_FENCED to the one it
   replaces, PIM_REJECT to an older one), records every frame and sends
   NEW_TASK to the accepted MR PIM.
 * Peer.connect(...) is a client of a node's lab port as a named peer (a
   fake PG side of the router, say), to send it what a test wants.
"""
import socket
import struct
import threading
import time

import os

from pgemu_test import SLOW, TestFailure, auth_hello, auth_mac, hello_frame

HELLO, HELLO_ACK, HEARTBEAT, BYE, CHALLENGE = 0x4001, 0x4002, 0x4003, \
    0x4004, 0x4005
PIM_ACTIVATE, PIM_ACCEPT, PIM_REJECT = 0x4301, 0x4302, 0x4303
PIM_FENCED, PIM_DEACTIVATE = 0x4304, 0x4305
NEW_TASK, DO_THIS_WITH_TASK, NEW_TASK_FAILURE = 0x4501, 0x4502, 0x4503
ROUTING_ENABLED, ROUTING_DISABLED = 0x4504, 0x4505
ROUTE_TASK, ROUTE_RESULT, PRECALL, TASK_EVENT = 0x4601, 0x4602, 0x4603, \
    0x4604

TASKF_RESEND, TASKF_APP_ROUTED, TASKF_ROUTING_DOWN, TASKF_ENDED_DOWN = \
    0x01, 0x02, 0x04, 0x08
TASKF_CACHED = 0x10
FAIL_NO_AGENT, FAIL_ROUTING_DOWN, FAIL_BAD_MRD, FAIL_BAD_SELECTOR, \
    FAIL_DUPLICATE = 1, 2, 3, 4, 5
EV_OFFER, EV_START, EV_END, EV_APP_OFFER, EV_APP_START = 1, 2, 3, 4, 5

TASK_FIELDS = ("peripheral", "epoch", "dialogue", "mrd", "agent",
               "agent_periph", "task_high", "task_low", "task_seq", "code",
               "flags", "path", "when", "when_ms")
TASK_TYPES = (NEW_TASK, DO_THIS_WITH_TASK, NEW_TASK_FAILURE,
              ROUTING_ENABLED, ROUTING_DISABLED, ROUTE_TASK, ROUTE_RESULT,
              PRECALL, TASK_EVENT)
EPOCH_TYPES = (PIM_ACTIVATE, PIM_ACCEPT, PIM_REJECT, PIM_FENCED,
               PIM_DEACTIVATE)


def flt(tag, data):
    return struct.pack(">HH", tag, len(data)) + data


def frame(mtype, body=b""):
    return struct.pack(">II", len(body), mtype) + body


def task_body(**f):
    """A struct msg_task: fourteen u32 (TASK_FIELDS, 0 unless given; task
    a (high, low, seq) tuple), then the selector and text."""
    if "task" in f:
        f["task_high"], f["task_low"], f["task_seq"] = f.pop("task")
    body = b"".join(struct.pack(">I", f.get(k, 0)) for k in TASK_FIELDS)
    if f.get("selector"):
        body += flt(0x4007, f["selector"].encode() + b"\0")
    if f.get("text"):
        body += flt(0x4003, f["text"].encode() + b"\0")
    return body


def epoch_body(a, b, text=""):
    return struct.pack(">IIB", a, b, 0) + (
        flt(0x4003, text.encode() + b"\0") if text else b"")


def floats(data):
    out = {}
    while len(data) >= 4:
        tag, n = struct.unpack(">HH", data[:4])
        out[tag] = data[4:4 + n]
        data = data[4 + n:]
    return out


def cstr(b):
    return b.split(b"\0")[0].decode(errors="replace") if b else ""


def decode(mtype, body):
    """A frame as a dict: type, and its fields when we know them."""
    m = {"type": mtype, "len": len(body)}
    if mtype in TASK_TYPES and len(body) >= 56:
        m.update(zip(TASK_FIELDS, struct.unpack(">14I", body[:56])))
        m["task"] = (m["task_high"], m["task_low"], m["task_seq"])
        fl = floats(body[56:])
        m["selector"] = cstr(fl.get(0x4007))
        m["text"] = cstr(fl.get(0x4003))
    elif mtype in EPOCH_TYPES and len(body) >= 9:
        m["a"], m["b"] = struct.unpack(">II", body[:8])
        fl = floats(body[9:])
        m["text"] = cstr(fl.get(0x4003))
        m["token"] = fl.get(0x4009)
    elif mtype in (HELLO, HELLO_ACK) and len(body) >= 13:
        fl = floats(body[13:])
        m["side"] = body[12:13]
        m["node"] = cstr(fl.get(0x4001))
        m["lab"] = cstr(fl.get(0x4002))
        m["auth"] = fl.get(0x4008)
    return m


class Peer:
    """One lab connection: a reader and a heartbeat thread, every frame
    received kept (with its time) in .frames, .wait(pred) for one."""

    def __init__(self, sock, name, hb_ms=100, on_frame=None):
        self.sock = sock
        self.name = name
        self.hb_ms = hb_ms
        self.on_frame = on_frame
        self.frames = []
        self.cond = threading.Condition()
        self.closed = False
        self.lock = threading.Lock()
        self.node = None

    @classmethod
    def connect(cls, port, node, lab, hb_ms=100, side="-", key=None):
        """A client of a node's lab port as the named peer `node` (with
        key, the lab key: answering the node's CHALLENGE)."""
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        p = cls(s, node, hb_ms)
        if key is not None:
            auth_hello(s, key, node, lab, side)
        else:
            p.send_raw(hello_frame(node, lab, side))
        p.start()
        p.wait(lambda m: m["type"] == HELLO_ACK, 5, "HELLO_ACK")
        return p

    def start(self):
        threading.Thread(target=self._reader, daemon=True).start()
        threading.Thread(target=self._heartbeat, daemon=True).start()

    def send_raw(self, data):
        with self.lock:
            if self.closed:
                return False
            try:
                self.sock.sendall(data)
                return True
            except OSError:
                return False

    def send(self, mtype, body=b""):
        return self.send_raw(frame(mtype, body))

    def send_task(self, mtype, **f):
        return self.send(mtype, task_body(**f))

    def _heartbeat(self):
        seq = 0
        while not self.closed:
            seq += 1
            self.send(HEARTBEAT, struct.pack(">I", seq))
            time.sleep(self.hb_ms / 1000)

    def _recv(self, n, buf):
        while len(buf) < n:
            d = self.sock.recv(65536)
            if not d:
                raise EOFError
            buf += d
        return buf

    def _reader(self):
        buf = b""
        self.sock.settimeout(None)
        try:
            while True:
                buf = self._recv(8, buf)
                n, mtype = struct.unpack(">II", buf[:8])
                buf = self._recv(8 + n, buf)
                m = decode(mtype, buf[8:8 + n])
                buf = buf[8 + n:]
                m["at"] = time.monotonic()
                if mtype == HEARTBEAT:
                    continue
                if self.on_frame is not None:
                    self.on_frame(self, m)
                with self.cond:
                    self.frames.append(m)
                    self.cond.notify_all()
        except (EOFError, OSError):
            pass
        self.close()

    def close(self):
        with self.lock:
            if self.closed:
                return
            self.closed = True
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()
        with self.cond:
            self.cond.notify_all()

    def mark(self):
        with self.cond:
            return len(self.frames)

    def find(self, pred, since=0):
        with self.cond:
            for m in self.frames[since:]:
                if pred(m):
                    return m
        return None

    def all(self, pred, since=0):
        with self.cond:
            return [m for m in self.frames[since:] if pred(m)]

    def wait(self, pred, timeout=5, what="a frame", since=0):
        end = time.monotonic() + timeout * SLOW
        with self.cond:
            while True:
                for m in self.frames[since:]:
                    if pred(m):
                        return m
                left = end - time.monotonic()
                if left <= 0:
                    raise TestFailure("%s: no %s within %.1f s (got %r)" % (
                        self.name, what, timeout * SLOW,
                        [hex(m["type"]) for m in self.frames[since:]][-20:]))
                self.cond.wait(left)


class FakeApp:
    """The application's MR port: the PG sides' MR PIMs connect here.
    key_fn gives the lab key (it exists once a node started), or None: a
    lab without one."""

    def __init__(self, port, lab, key_fn=None, hb_ms=100):
        self.port = port
        self.lab = lab
        self.key_fn = key_fn
        self.hb_ms = hb_ms
        self.peers = {}             # PG node -> its current Peer
        self.max_epoch = 0
        self.holder = None          # the node whose MR PIM is accepted
        self.activations = []       # (node, epoch, verdict)
        self.lock = threading.Lock()
        self.listening = False
        self.listen()

    def listen(self):
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", self.port))
        self.lsock.listen(8)
        self.listening = True
        threading.Thread(target=self._accept, args=(self.lsock,),
                         daemon=True).start()

    def _accept(self, lsock):
        while True:
            try:
                s, _ = lsock.accept()
            except OSError:
                return
            threading.Thread(target=self._greet, args=(s,),
                             daemon=True).start()

    def _greet(self, s):
        s.settimeout(5)
        key = self.key_fn() if self.key_fn is not None else None
        ns = os.urandom(16)
        try:
            if key is not None:
                s.sendall(frame(CHALLENGE, ns))
            hdr = b""
            while len(hdr) < 8:
                d = s.recv(8 - len(hdr))
                if not d:
                    raise EOFError
                hdr += d
            n, mtype = struct.unpack(">II", hdr)
            body = b""
            while len(body) < n:
                d = s.recv(n - len(body))
                if not d:
                    raise EOFError
                body += d
        except (EOFError, OSError):
            s.close()
            return
        hello = decode(mtype, body)
        if mtype != HELLO or (key is not None and not self._proven(
                key, hello, ns)):
            s.close()
            return
        p = Peer(s, "app<-%s" % hello["node"], self.hb_ms, self._on_frame)
        p.node = hello["node"]
        p.send_raw(hello_frame("app", self.lab, "-", ack=True, key=key,
                               nonces=(ns, hello["auth"][:16])
                               if key is not None else None))
        with self.lock:
            old = self.peers.get(p.node)
            self.peers[p.node] = p
        if old is not None:
            old.close()
        p.start()

    @staticmethod
    def _proven(key, hello, ns):
        """Does the HELLO prove the lab key (its MAC of its identity, its
        nonce and ours)?"""
        a = hello.get("auth")
        return a is not None and len(a) == 48 and a[16:] == auth_mac(
            key, "pgemu HELLO", [hello["node"].encode(),
                                 hello["lab"].encode(), hello["side"],
                                 a[:16], ns])

    def _on_frame(self, p, m):
        """Fence PIM_ACTIVATE as the ACD does (fence.c)."""
        if m["type"] == PIM_DEACTIVATE:
            with self.lock:
                if self.holder == p.node and m["a"] == self.max_epoch:
                    self.holder = None
            return
        if m["type"] != PIM_ACTIVATE:
            return
        epoch = m["a"]
        with self.lock:
            ok = epoch > self.max_epoch or (
                epoch == self.max_epoch and self.holder == p.node)
            old = self.peers.get(self.holder) if ok and \
                self.holder not in (None, p.node) else None
            if ok:
                self.max_epoch = epoch
                self.holder = p.node
            self.activations.append((p.node, epoch, ok))
        if old is not None:
            old.send(PIM_FENCED, epoch_body(epoch, 0, "fenced by %s epoch "
                                            "%d" % (p.node, epoch)))
        if ok:
            p.send(PIM_ACCEPT, epoch_body(epoch, 0))
        else:
            p.send(PIM_REJECT, epoch_body(epoch, self.max_epoch,
                                          "stale epoch %d" % epoch))

    def peer(self, node):
        with self.lock:
            return self.peers.get(node)

    def holder_peer(self):
        with self.lock:
            return self.peers.get(self.holder) if self.holder else None

    def new_task(self, dialogue, selector="Email", mrd=2, flags=0,
                 node=None):
        """NEW_TASK to the accepted MR PIM (or to node's)."""
        p = self.peer(node) if node else self.holder_peer()
        if p is None:
            raise TestFailure("no MR PIM to send NEW_TASK %d to" % dialogue)
        p.send_task(NEW_TASK, dialogue=dialogue, mrd=mrd, flags=flags,
                    path=1, selector=selector)
        return p

    def disconnect(self):
        """The application goes: its port closed, every MR PIM's link."""
        self.listening = False
        try:
            # Wakes the accepting thread, which close() alone may not.
            self.lsock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.lsock.close()
        with self.lock:
            peers = list(self.peers.values())
            self.peers = {}
            self.holder = None
        for p in peers:
            p.close()

    def close(self):
        self.disconnect()

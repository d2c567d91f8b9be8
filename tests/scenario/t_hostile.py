"""Hostile input: well-formed but hostile messages from impostors, control
socket abuse, corrupt files.  Every node must keep serving everyone else,
lose nothing, and answer or refuse each input clearly.

Control socket (router alone): argv of 32 and 33 words, an empty argv, a
60 KiB argument, `events 100000`, bad JSON and bad frame lengths, `fault`
on every link in every order, `reload` of a broken lab file, an error
message cut inside a UTF-8 character, a watcher that never reads and then
sends a command that publishes an event, a client that pipelines requests
and never reads the replies, descriptors used up by idle control clients.

The acd: `reload`, then `acd agents` (the agents must still be there).

TCP links (a full lab, default heartbeats): an impostor that completes
HELLO as the stopped standby, to the router (AGENT_STATES for unknown
agents, count 0 and last=1, PERIPH_OFFLINE, DELIVERY_ACK and GRANT sent to
the router, a second HELLO, PG_STATUS claiming the PIM with epoch
0xFFFFFFFF, INTERVAL with 1000 rows and a never-granted epoch, DISCARD
with a bad side and rule) and to the ACD (ACD_SET_AGENT for an agent that
does not exist and with a bad state, PIM_DEACTIVATE of a foreign epoch,
PIM_ACTIVATE of another peripheral, then PIM_ACTIVATE with epoch
0xFFFFFFFF); as pg-a to pg-b's private port (PEER_STATE with a bad state
and with epoch 0xFFFFFFFF, GRANT on the private link).  A control client
that writes 16 KiB of `events 512` at once must not stall the loop past a
peer's hold time; neither must a loop of `reload`.

The router's epochs (router alone): a side adopted with epoch 0xFFFFFFFF
must not make the next grant epoch 0.

Files: spool files truncated, of garbage, with a frame that does not
decode, with a huge length, with an unknown type, with the last sequence
number (the next would wrap to 0; each needs a log line
naming the spool); a lab file whose max_message cannot carry a snapshot
batch; a lab name that is not ASCII.

Every check runs; the failures are reported together.  Daemons run with
MALLOC_PERTURB_ so a use-after-free also shows in a build without ASan.
"""
import json
import os
import select
import socket
import struct
import subprocess
import sys
import time

from pgemu_test import (FAST, PGEMUD, TestFailure, auth_hello, check, frame,
                        grant_token, hello_frame, log, periph, raw_connect,
                        run, wait_for, wait_online)

PERTURB = {"MALLOC_PERTURB_": "165"}

T = dict(HELLO=0x4001, HELLO_ACK=0x4002, HEARTBEAT=0x4003,
         PG_STATUS=0x4101, GRANT=0x4102, AGENT_STATES=0x4104,
         PERIPH_OFFLINE=0x4105, INTERVAL=0x4106, DELIVERY_ACK=0x4107,
         DISCARD=0x4108, PEER_STATE=0x4201, PIM_ACTIVATE=0x4301,
         PIM_ACCEPT=0x4302, PIM_REJECT=0x4303, PIM_DEACTIVATE=0x4305,
         ACD_SET_AGENT=0x4307)


# Control socket, spoken by hand ------------------------------------

def ctl_frame(argv):
    b = json.dumps({"argv": argv}).encode()
    return struct.pack(">I", len(b)) + b


def ctl_connect(lab, node):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect("%s/%s.sock" % (lab.dir, node))
    return s


def ctl_read(s, timeout=5.0):
    """One reply frame, or None at EOF; socket.timeout if none comes."""
    s.settimeout(timeout)
    data = b""
    while len(data) < 4:
        d = s.recv(4 - len(data))
        if not d:
            return None
        data += d
    n = struct.unpack(">I", data)[0]
    body = b""
    while len(body) < n:
        d = s.recv(n - len(body))
        if not d:
            return None
        body += d
    return json.loads(body)


def ctl_call(lab, node, argv, timeout=5.0):
    s = ctl_connect(lab, node)
    try:
        s.sendall(ctl_frame(argv))
        return ctl_read(s, timeout)
    finally:
        s.close()


def drain_to_eof(s, timeout):
    s.settimeout(timeout)
    try:
        while s.recv(1 << 20):
            pass
        return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def rss_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    return 0


def unread_bytes(s):
    """Bytes we sent that the daemon has not read yet (SIOCOUTQ)."""
    import fcntl
    import termios
    buf = fcntl.ioctl(s.fileno(), termios.TIOCOUTQ, b"\0\0\0\0")
    return struct.unpack("i", buf)[0]


# An impostor on a TCP port -----------------------------------------

class Impostor:
    """A peer that has the lab key (an insider: what a node of the lab
    could send); key=None, one that does not."""

    def __init__(self, port, node, lab, side="-", key=None):
        self.s = raw_connect(port)
        self.buf = b""
        if key is None:
            self.s.sendall(hello_frame(node, lab, side))
        else:
            auth_hello(self.s, key, node, lab, side)

    def send(self, data):
        self.s.sendall(data)

    def next_frame(self, timeout):
        self.s.settimeout(timeout)
        while True:
            if len(self.buf) >= 8:
                n, t = struct.unpack(">II", self.buf[:8])
                if len(self.buf) >= 8 + n:
                    body = self.buf[8:8 + n]
                    self.buf = self.buf[8 + n:]
                    return t, body
            d = self.s.recv(65536)
            if not d:
                return None
            self.buf += d

    def wait(self, mtype, timeout=3.0):
        """The body of the next frame of that type (answering heartbeats
        meanwhile); None on EOF or timeout."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                f = self.next_frame(left)
            except socket.timeout:
                return None
            except ConnectionResetError:
                return None
            if f is None:
                return None
            if f[0] == mtype:
                return f[1]
            if f[0] == T["HEARTBEAT"]:
                try:
                    self.s.sendall(frame(T["HEARTBEAT"], b"\0\0\0\1"))
                except OSError:
                    return None

    def keepalive_until(self, pred, timeout, what):
        """wait_for(pred), sending a HEARTBEAT now and then so the node
        does not drop us meanwhile."""
        last = [0.0]

        def poll():
            if time.monotonic() - last[0] > 0.1:
                self.s.sendall(frame(T["HEARTBEAT"], b"\0\0\0\1"))
                last[0] = time.monotonic()
            return pred()
        return wait_for(poll, timeout, what)

    def closed(self, timeout=3.0):
        return self.wait(0xFFFFFFFF, timeout) is None and self._eof()

    def _eof(self):
        self.s.settimeout(0.01)
        try:
            return self.s.recv(1) == b""
        except socket.timeout:
            return False
        except OSError:
            return True

    def close(self):
        self.s.close()


def pg_status(side, acd_up, pim_active, epoch, peer_epoch=0, periph=5000,
              key=None):
    """A PG_STATUS; with key, the grant token of its epoch (as the router
    signs a grant: a side that holds it shows it after a restart)."""
    body = struct.pack(">IBBBBIIB", periph, ord(side), acd_up, pim_active,
                       0, epoch, peer_epoch, 0)
    if key is not None:
        tok = grant_token(key, periph, epoch, side)
        body += struct.pack(">HH", 0x4009, len(tok)) + tok
    return frame(T["PG_STATUS"], body)


def epoch_msg(t, a, b, flags=0):
    return frame(T[t], struct.pack(">IIB", a, b, flags))


def agent_states(epoch, kind, last, recs, periph=5000):
    body = struct.pack(">IIBBH", periph, epoch, kind, last, len(recs))
    for aid, st in recs:
        body += struct.pack(">IHHIiI", aid, st, 3, 0, 0, 1)
    return frame(T["AGENT_STATES"], body)


def interval(epoch, seq, start, nrows, side=b"B", periph=5000):
    body = struct.pack(">IIIIIBBH", periph, epoch, seq, start, 1800, 0,
                       side[0], nrows)
    for i in range(nrows):
        body += struct.pack(">II8I", 1001 + i, 1, *([60000] * 8))
    return frame(T["INTERVAL"], body)


def discard(side, rule, text=b"hostile"):
    body = struct.pack(">IIIIIIB", 5000, 77, rule, 1700000000, 5, 1, side)
    body += struct.pack(">HH", 0x4003, len(text)) + text
    return frame(T["DISCARD"], body)


def drops(lab, node):
    return {l["name"]: l["counters"]["drops"]
            for l in lab.status(node)["links"]}


# The checks ---------------------------------------------------------

failures = []


def section(name, fn, *args):
    log("=== %s" % name)
    try:
        fn(*args)
        log("=== %s: ok" % name)
    except TestFailure as e:
        log("=== %s: FAILED: %s" % (name, e))
        failures.append("%s: %s" % (name, e))


def ctl_guards(lab):
    """What the control socket already handles."""
    r = ctl_call(lab, "router", ["status"] + ["x"] * 31)
    check(r is not None and r["ok"] is False, "32 words: %r" % (r,))
    r = ctl_call(lab, "router", ["status"] + ["x"] * 32)
    check(r == {"ok": False, "error": "too many words"}, "33 words: %r" %
          (r,))
    r = ctl_call(lab, "router", [])
    check(r == {"ok": False, "error": "no command"}, "empty argv: %r" % (r,))
    r = ctl_call(lab, "router", ["y" * 60000])
    check(r is not None and r["ok"] is False and "unknown command" in
          r["error"], "60 KiB word: %r" % (str(r)[:100],))
    r = ctl_call(lab, "router", ["events", "100000"])
    check(r["ok"] and 1 <= len(r["data"]) <= 512, "events 100000")
    r = ctl_call(lab, "router", ["events", "100001"])
    check(not r["ok"] and "bad count" in r["error"], "events 100001")
    for payload, what in ((struct.pack(">I", 3) + b"[1]", "bad request"),
                          (struct.pack(">I", 65537), "bad frame length")):
        s = ctl_connect(lab, "router")
        s.sendall(payload)
        r = ctl_read(s)
        check(r is not None and what in r["error"], "%s: %r" % (what, r))
        check(drain_to_eof(s, 3), "%s: connection not closed" % what)
        s.close()
    # fault on every link, every order of the four actions
    import itertools
    s = ctl_connect(lab, "router")
    for link in ("pg-a", "pg-b"):
        for order in itertools.permutations(("down", "up", "freeze",
                                             "thaw")):
            for action in order:
                s.sendall(ctl_frame(["fault", link, action]))
                r = ctl_read(s)
                check(r is not None and "ok" in r, "fault %s %s: %r" % (
                    link, action, r))
        for action in ("thaw", "up"):
            s.sendall(ctl_frame(["fault", link, action]))
            ctl_read(s)
    s.close()
    # reload of a broken lab file: a clear error, the old one kept
    good = open(lab.conf).read()
    with open(lab.conf, "w") as f:
        f.write(good + "\nlab: { name = ; };\n\x01\x02{{{\n")
    r = ctl_call(lab, "router", ["reload"])
    with open(lab.conf, "w") as f:
        f.write(good)
    check(r is not None and not r["ok"] and "not reloading" in r["error"]
          and "lab.conf:" in r["error"], "reload broken: %r" % (r,))
    check(lab.status("router")["lab"] == "ctlh", "old lab file kept")


def ctl_utf8_reply(lab):
    """An error message cut inside a UTF-8 character must still reach the
    client (today res.err[256] is cut mid-character, json_pack() refuses
    it, and no reply at all is sent)."""
    for argv in (["x" + "\u00e9" * 200],
                 ["fault", "x" + "\u00e9" * 200, "down"],
                 ["fault", "pg-a", "x" + "\u00e9" * 200]):
        try:
            r = ctl_call(lab, "router", argv, timeout=3)
        except socket.timeout:
            r = "no reply within 3 s"
        check(isinstance(r, dict) and r.get("ok") is False,
              "%s %s...: %r" % (argv[0][:8], len(argv), r))


def fill_ring(lab, node, link, n=300):
    """Up to 512 events in node's ring: fault down/up on an idle link."""
    s = ctl_connect(lab, node)
    for _ in range(n):
        for a in ("down", "up"):
            s.sendall(ctl_frame(["fault", link, a]))
            ctl_read(s)
    s.close()


def ctl_watcher_self_free(lab):
    """A watcher that stopped reading (backlog over 4 MiB) sends a command
    that publishes an event: ctl_publish() drops it inside its own
    ctl_handle(), which then writes the reply to the freed client.  The
    node must drop that watcher (now or at the next event) and serve on."""
    s = ctl_connect(lab, "router")
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(ctl_frame(["watch"]) + ctl_frame(["events", "512"]) * 40 +
              ctl_frame(["fault", "pg-b", "down"]))
    other = ctl_connect(lab, "router")

    def dropped():
        if lab.procs["router"].poll() is not None:
            return True
        if lab.grep_log("router", "watcher not reading, dropped"):
            return True
        for a in ("freeze", "thaw"):     # events, from another client
            other.sendall(ctl_frame(["fault", "pg-a", a]))
            ctl_read(other)
        return False
    try:
        wait_for(dropped, 10, "the watcher dropped")
    finally:
        other.close()
    check(lab.procs["router"].poll() is None, "router died: exit %s" %
          lab.procs["router"].poll())
    try:
        lab.status("router")
    except TestFailure as e:
        raise TestFailure("router stopped serving after dropping the "
                          "watcher (exit %s): %s" % (
                              lab.procs["router"].poll(), e))
    check(drain_to_eof(s, 10), "dropped watcher not closed")
    s.close()
    r = ctl_call(lab, "router", ["fault", "pg-b", "up"])
    check(r is not None, "router serving")


def ctl_backlog(lab):
    """A client that pipelines requests and never reads must not make the
    daemon buffer replies without bound (62 KB of `events 512` today
    buffers ~300 MB)."""
    pid = lab.pid("router")
    r0 = rss_mib(pid)
    s = ctl_connect(lab, "router")
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.setblocking(False)
    one = ctl_frame(["events", "512"])
    data = one * 2000
    sent = 0
    while sent < len(data):
        try:
            sent += s.send(data[sent:])
        except BlockingIOError:
            if not select.select([], [s], [], 2)[1]:
                break       # the daemon stopped reading us: fine
    # Until the daemon has read all it will read.
    try:
        wait_for(lambda: unread_bytes(s) == 0, 3, "the daemon to read")
    except TestFailure:
        pass                # it stopped reading: fine
    lab.status("router")    # and has handled what it read
    grew = rss_mib(pid) - r0
    s.close()
    check(lab.procs["router"].poll() is None, "router died")
    check(grew < 100, "router RSS grew by %d MiB for %d bytes of requests "
          "never read" % (grew, sent))


def ctl_fd_exhaustion(Lab):
    """Descriptors used up by idle control clients: the control listener
    must back off (as the TCP listener does), not spin logging accept
    errors; once they go the node serves again."""
    lab = Lab("fdx", nodes=("router",))
    limit = ("import os, resource, sys; "
             "resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64)); "
             "os.execvp(sys.argv[1], sys.argv[1:])")
    lab.start("router", wrapper=(sys.executable, "-c", limit),
              extra_env=PERTURB)
    held = []
    for _ in range(200):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(0.5)
        try:
            s.connect("%s/router.sock" % lab.dir)
        except OSError:
            s.close()
            break
        held.append(s)
    try:
        flooded = wait_for(lambda: len(lab.grep_log(
            "router", "control: accept")) > 2000, 1.5, "log flood")
    except TestFailure:
        flooded = False
    n = len(lab.grep_log("router", "control: accept"))
    for s in held:
        s.close()
    wait_for(lambda: lab.status("router")["node"] == "router", 5,
             "router serving again")
    check(not flooded, "%d clients held: %d 'control: accept' log lines "
          "in 1.5 s (busy loop)" % (len(held), n))


def acd_reload(Lab):
    """`reload` on the acd frees the lab file every acd_agent points into
    (ag->cfg); `acd agents` then reads freed memory."""
    lab = Lab("acdrel", nodes=("acd",))
    lab.start("acd", extra_env=PERTURB)
    before = lab.ctl("acd", "agents")
    lab.ctl("acd", "reload")
    rc, out, err = lab.ctl_raw("acd", "agents")
    check(rc == 0, "acd agents after reload: exit %d: %s" % (rc,
                                                             err.strip()))
    after = json.loads(out)
    check([(a["id"], a["name"], a["skill_groups"]) for a in after] ==
          [(a["id"], a["name"], a["skill_groups"]) for a in before],
          "agents after reload: %d of %d, first %r" % (
              len(after), len(before), after[:1]))
    one = lab.ctl("acd", "agent", "1001")
    check(one["name"] == "agent1001", "agent 1001: %r" % (one,))


def router_epochs(Lab):
    """A side adopted with epoch 0xFFFFFFFF: the next grant must not be
    epoch 0 (max_epoch + 1 wraps, and 0 is persisted as max_epoch);
    epochs show as unsigned numbers."""
    lab = Lab("epochs", nodes=("router",))
    lab.start("router", extra_env=PERTURB)
    wait_for(lambda: periph(lab)["settled"], 5, "router settled")
    # guards first: a sane adoption, hostile agent lists
    p = Impostor(lab.ports["router"], "pg-a", "epochs", "A", key=lab.key())
    check(p.wait(T["HELLO_ACK"]) is not None, "HELLO_ACK")
    # An epoch the router never granted, without its token: not adopted
    # (today's poisoning: adopted and saved), with it: adopted.
    p.send(pg_status("A", 1, 1, 5007))
    lab.wait_log("router", r"side A says it holds PIM 5000 with epoch "
                 r"5007, which this router did not grant", 3)
    check(periph(lab)["active_side"] is None, "unsigned epoch adopted")
    p.send(pg_status("A", 1, 1, 7, key=bytes(32)))
    p.send(pg_status("A", 1, 1, 7, key=lab.key()))
    p.keepalive_until(lambda: periph(lab)["active_side"] == "A", 3,
                      "adopted")
    check(periph(lab)["max_epoch"] == 7, "max_epoch %r, not 7" %
          periph(lab)["max_epoch"])
    p.send(agent_states(7, 1, 0, [(9000000 + i, 3) for i in range(1000)]))
    p.send(agent_states(7, 2, 1, []))
    p.keepalive_until(lambda: periph(lab)["online"], 3, "online on an "
                      "empty snapshot")
    check(periph(lab)["agents_logged_in"] == 0, "unknown agents ignored")
    p.close()
    wait_for(lambda: periph(lab)["active_side"] is None, 3, "A lost")
    # the wrap
    problems = []
    p = Impostor(lab.ports["router"], "pg-a", "epochs", "A", key=lab.key())
    check(p.wait(T["HELLO_ACK"]) is not None, "HELLO_ACK")
    p.send(pg_status("A", 1, 1, 0xFFFFFFFF, key=lab.key()))
    try:
        p.keepalive_until(lambda: periph(lab)["active_side"] == "A", 0.5,
                          "adopted")
        pr = periph(lab)
        if pr["epoch"] < 0 or pr["max_epoch"] < 0:
            problems.append("epochs shown signed: epoch %d, max_epoch %d"
                            % (pr["epoch"], pr["max_epoch"]))
    except TestFailure:
        pass                # not adopted: fine
    p.send(pg_status("A", 1, 0, 0))
    g = p.wait(T["GRANT"], 2)
    meta = lab.query("select value from pgemu_meta where key = "
                     "'max_epoch'")
    p.close()
    if g is not None:
        ep = struct.unpack(">I", g[4:8])[0]
        if ep == 0 or meta != [(ep,)]:
            problems.append("GRANT epoch %d, persisted max_epoch %r: the "
                            "epoch wrapped" % (ep, meta))
    check(not problems, "; ".join(problems))


def tcp_lab(Lab):
    """A full lab, default heartbeats; impostors as the stopped standby."""
    lab = Lab("host", agents=20)
    lab.start("pg-a", extra_env=PERTURB)
    fill_ring(lab, "pg-a", "private-link")
    for n in ("router", "acd", "pg-b"):
        lab.start(n, extra_env=PERTURB)
    lab.wait_links_up()
    p0 = wait_online(lab, 10)
    active = {"A": "pg-a", "B": "pg-b"}[p0["active_side"]]
    standby = "pg-b" if active == "pg-a" else "pg-a"
    sside = standby[-1].upper()
    section("ctl burst does not stall the loop", ctl_burst, lab)
    check(lab.stop(standby) == 0, "stop %s" % standby)
    wait_for(lambda: lab.link("router", standby)["state"] == "IDLE", 5,
             "router: %s gone" % standby)
    section("router: hostile messages handled", router_guards, lab,
            standby, sside)
    section("router: INTERVAL with a never-granted epoch", router_interval,
            lab, standby, sside)
    section("router: DISCARD with a bad side and rule", router_discard,
            lab, standby, sside)
    section("acd: hostile messages handled", acd_guards, lab, standby,
            sside, active)
    section("acd: PIM_ACTIVATE with epoch 0xFFFFFFFF", acd_poison, lab,
            standby, sside, active)
    for n in ("router", "acd", active):
        check(lab.procs[n].poll() is None, "%s died" % n)


def ctl_burst(lab):
    """16 KiB of `events 512` requests in one write on pg-a's control
    socket: ctl_read_cb() builds every reply in one turn of the loop, and
    pg-a's peers hear nothing from it meanwhile (private link: 500 ms)."""
    before = (drops(lab, "router")["pg-a"], drops(lab, "acd")["pg-a"],
              drops(lab, "pg-b")["private-link"])
    s = ctl_connect(lab, "pg-a")
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    t0 = time.monotonic()
    s.sendall(ctl_frame(["events", "512"]) * 520)
    lab.status("pg-a")
    took = time.monotonic() - t0
    s.close()
    after = (drops(lab, "router")["pg-a"], drops(lab, "acd")["pg-a"],
             drops(lab, "pg-b")["private-link"])
    check(after == before, "pg-a's links dropped by its peers (router, "
          "acd, pg-b private): %r -> %r; pg-a answered status after "
          "%.2f s" % (before, after, took))
    lab.wait_links_up()


def router_guards(lab, standby, sside):
    c0 = lab.status("router")["counters"]["stale_refused"]
    a0 = periph(lab)["active_side"]
    p = Impostor(lab.ports["router"], standby, "host", sside, key=lab.key())
    check(p.wait(T["HELLO_ACK"]) is not None, "HELLO_ACK")
    p.send(agent_states(0xFFFFFFFF, 2, 1, []))
    p.send(agent_states(1, 1, 0, [(9000000 + i, 4) for i in range(1000)]))
    p.send(frame(T["PERIPH_OFFLINE"], struct.pack(">IIIi", 5000, 1, 2, -1)))
    p.send(epoch_msg("DELIVERY_ACK", 123456, 0))
    p.send(frame(T["GRANT"], struct.pack(">III", 5000, 99, 1)))
    p.send(pg_status(sside, 1, 1, 0xFFFFFFFF))
    wait_for(lambda: lab.status("router")["counters"]["stale_refused"] >=
             c0 + 3, 3, "3 refusals")
    pr = periph(lab)
    check(pr["online"] and pr["active_side"] == a0, "active side kept: %r"
          % (pr,))
    p.send(hello_frame(standby, "host", sside))
    check(p.closed(3), "second HELLO: not closed")
    p.close()
    lab.wait_log("router", "unexpected HELLO on an open link")


def router_interval(lab, standby, sside):
    """The standby's link, an epoch never granted: rows must be refused
    (today they are stored, and the active side's own rows for that
    interval are later dropped as duplicates)."""
    start = 1000000800          # an interval nobody else reports
    p = Impostor(lab.ports["router"], standby, "host", sside, key=lab.key())
    check(p.wait(T["HELLO_ACK"]) is not None, "HELLO_ACK")
    p.send(interval(0, 41, start, 5, sside.encode()))
    ack = p.wait(T["DELIVERY_ACK"])
    check(ack is not None and struct.unpack(">IIB", ack[:9])[2] == 1,
          "stale epoch 0 not refused: %r" % (ack,))
    p.send(interval(0xFFFFFFFF, 42, start, 1000, sside.encode()))
    ack = p.wait(T["DELIVERY_ACK"])
    p.close()
    stored = lab.query("select count(*) from Agent_Interval where Seq in "
                       "(41, 42)")[0][0]
    check(ack is not None, "no DELIVERY_ACK")
    check(struct.unpack(">IIB", ack[:9])[2] == 1 and stored == 0,
          "INTERVAL of epoch 0xFFFFFFFF from side %s (not active): ack "
          "refused=%d, %d rows stored" % (
              sside, struct.unpack(">IIB", ack[:9])[2], stored))


def router_discard(lab, standby, sside):
    p = Impostor(lab.ports["router"], standby, "host", sside, key=lab.key())
    check(p.wait(T["HELLO_ACK"]) is not None, "HELLO_ACK")
    p.send(discard(0xFF, 0x7FFFFFFF))
    p.wait(T["DELIVERY_ACK"], 2)
    p.close()
    wait_for(lambda: lab.status("router")["node"], 3, "router serving")
    bad = lab.query("select count(*) from pgemu_discard where PGSide not "
                    "in ('A', 'B') or Rule != 'R1'")[0][0]
    check(bad == 0, "%d pgemu_discard rows with a bad side or rule "
          "(side 0xff, rule 0x7fffffff stored as they came)" % bad)


def acd_guards(lab, standby, sside, active):
    st0 = lab.status("acd")["acd"]
    p = Impostor(lab.ports["acd"], standby, "host", sside, key=lab.key())
    check(p.wait(T["HELLO_ACK"]) is not None, "HELLO_ACK")
    p.send(frame(T["ACD_SET_AGENT"], struct.pack(">IIHi", st0[
        "accepted_epoch"], 999999, 4, 0)))
    p.send(epoch_msg("PIM_DEACTIVATE", st0["accepted_epoch"], 0))
    p.send(epoch_msg("PIM_ACTIVATE", st0["max_epoch"] + 1, 4999))
    check(p.wait(T["PIM_REJECT"]) is not None, "other peripheral: no "
          "PIM_REJECT")
    wait_for(lambda: lab.status("acd")["acd"]["commands_refused"] ==
             st0["commands_refused"] + 1, 3, "ACD_SET_AGENT refused")
    st = lab.status("acd")["acd"]
    check(st["accepted_pim"] == active and st["accepted_epoch"] ==
          st0["accepted_epoch"], "accepted PIM kept: %r" % (st,))
    p.send(frame(T["ACD_SET_AGENT"], struct.pack(">IIHi", 1, 1001, 99, 0)))
    check(p.closed(3), "ACD_SET_AGENT with state 99: not closed")
    p.close()
    lab.wait_log("acd", "ACD_SET_AGENT: bad state 99")
    check(lab.ctl("acd", "agent", "1001")["state"] == "available",
          "agent 1001 untouched")


def acd_poison(lab, standby, sside, active):
    """One PIM_ACTIVATE with epoch 0xFFFFFFFF from an impostor fences the
    real PIM and, today, makes every later grant stale at the ACD: the
    router grants ~10 times a second for ever and the peripheral never
    comes back.  Once the impostor is gone it must."""
    g0 = lab.status("router")["counters"]["grants"]
    p = Impostor(lab.ports["acd"], standby, "host", sside, key=lab.key())
    check(p.wait(T["HELLO_ACK"]) is not None, "HELLO_ACK")
    p.send(epoch_msg("PIM_ACTIVATE", 0xFFFFFFFF, 5000))
    p.wait(T["PIM_ACCEPT"], 2)
    p.close()

    def back():
        pr = periph(lab)
        acd = lab.status("acd")["acd"]
        return (pr["online"] and pr["active_side"] is not None and
                acd["accepted_pim"] == active)
    try:
        wait_for(back, 5, "peripheral back online")
    except TestFailure:
        st = lab.status("router")["counters"]
        raise TestFailure("peripheral not back after 5 s: %d grants since, "
                          "ACD max_epoch %d, stale_refused %d" % (
                              st["grants"] - g0,
                              lab.status("acd")["acd"]["max_epoch"],
                              lab.status("acd")["acd"]["stale_refused"]))


def private_guards(Lab):
    lab = Lab("priv", nodes=("pg-b",), hb_private=(1000, 5))
    lab.start("pg-b", extra_env=PERTURB)
    port = lab.ports["pg-b"]
    p = Impostor(port, "pg-a", "priv", "A", key=lab.key())
    check(p.wait(T["HELLO_ACK"]) is not None, "HELLO_ACK")
    p.send(epoch_msg("PEER_STATE", 5, 7))
    check(p.closed(3), "PEER_STATE state 7: not closed")
    p.close()
    lab.wait_log("pg-b", "PEER_STATE: bad state 7")
    p = Impostor(port, "pg-a", "priv", "A", key=lab.key())
    check(p.wait(T["HELLO_ACK"]) is not None, "HELLO_ACK")
    p.send(epoch_msg("PEER_STATE", 0xFFFFFFFF, 2))
    p.send(frame(T["GRANT"], struct.pack(">III", 5000, 9, 1)))
    wait_for(lambda: lab.status("pg-b")["peer"]["state"] == "ACTIVE", 3,
             "peer state taken")
    check(lab.status("pg-b")["pim"]["state"] == "IDLE",
          "GRANT on the private link obeyed")
    p.close()


def reload_storm(Lab):
    """`reload` in a loop on the active side: link_reconfigure() re-arms
    every heartbeat timer from now, so no heartbeat goes out while the
    reloads come faster than the interval; the peers drop the node."""
    lab = Lab("rstorm")
    for n in lab.nodes:
        lab.start(n, extra_env=PERTURB)
    lab.wait_links_up()
    p0 = wait_online(lab, 10)
    node = {"A": "pg-a", "B": "pg-b"}[p0["active_side"]]
    peer = "pg-b" if node == "pg-a" else "pg-a"
    before = (drops(lab, "router")[node], drops(lab, "acd")[node],
              drops(lab, peer)["private-link"])
    g0 = lab.status("router")["counters"]["grants"]
    s = ctl_connect(lab, node)
    t0 = time.monotonic()
    n = 0
    while n < 3000 and time.monotonic() - t0 < 4:
        s.sendall(ctl_frame(["reload"]))
        ctl_read(s)
        n += 1
    s.close()
    after = (drops(lab, "router")[node], drops(lab, "acd")[node],
             drops(lab, peer)["private-link"])
    check(after == before and lab.status("router")["counters"]["grants"]
          == g0, "%d reloads of %s in %.1f s: drops (router, acd, %s "
          "private) %r -> %r, grants %d -> %d" % (
              n, node, time.monotonic() - t0, peer, before, after, g0,
              lab.status("router")["counters"]["grants"]))


def spool_files(Lab):
    """A spool left by a previous run: each kind of damage gets a log line
    naming the spool (today a truncated frame, garbage and a frame that
    does not decode are dropped without a word)."""
    ivl = (struct.pack(">IIIIIBBH", 5000, 1, 1, 1700000000, 1800, 0, 65, 1)
           + struct.pack(">II8I", 1001, 1, *([1000] * 8)))
    cases = [
        ("valid", frame(T["INTERVAL"], ivl), "deleted undelivered"),
        # an older pgemu's (lab protocol 2: rows without their MRD)
        ("protocol 2", frame(T["INTERVAL"], ivl[:28] + ivl[32:]),
         r"spool .*pg-a\.spool: offset 0: INTERVAL of lab protocol 2 "
         r"\(rows without their MRD, from an older pgemu\): read as rows "
         r"of the voice MRD 1"),
        ("huge length", struct.pack(">II", 0xFFFFFFF0, T["INTERVAL"]),
         r"spool .*pg-a\.spool"),
        ("unknown type", frame(0x7777, b"abcd"), r"spool .*pg-a\.spool"),
        ("truncated", frame(T["INTERVAL"], ivl)[:-10],
         r"spool .*pg-a\.spool"),
        ("garbage", b"\x13\x37\x42", r"spool .*pg-a\.spool"),
        ("undecodable", frame(T["INTERVAL"], ivl[:-40] + b"\0" * 35),
         r"spool .*pg-a\.spool"),
        # the next sequence number would wrap to 0 (found by fuzz_spool)
        ("last sequence number", frame(T["INTERVAL"], ivl[:8] +
                                       struct.pack(">I", 0xFFFFFFFF) +
                                       ivl[12:]),
         r"spool .*pg-a\.spool: offset 0: INTERVAL with sequence number "
         r"4294967295, which no PIM gives; skipped"),
    ]
    bad = []
    for what, data, pattern in cases:
        lab = Lab("spool", nodes=("pg-a",), **FAST)
        with open(os.path.join(lab.dir, "pg-a.spool"), "wb") as f:
            f.write(data)
        lab.start("pg-a", extra_env=PERTURB)
        try:
            lab.wait_log("pg-a", pattern, 3)
        except TestFailure:
            bad.append(what)
        check(lab.status("pg-a")["node"] == "pg-a", "%s: pg-a serving" %
              what)
        lab.stop("pg-a")
    check(not bad, "no log line naming the spool for: %s" % ", ".join(bad))


def lab_max_message(Lab):
    """A lab file --check-config accepts must work: max_message too small
    for a snapshot batch (12 + 200 x 16 bytes)."""
    lab = Lab("maxmsg", agents=100, sections={"lab": "max_message = 1024;"},
              **FAST)
    r = subprocess.run([PGEMUD, "-c", lab.conf, "--check-config"],
                       capture_output=True, text=True)
    if r.returncode == 0:
        for n in lab.nodes:
            lab.start(n, extra_env=PERTURB)
        lab.wait_links_up()
        try:
            wait_for(lambda: periph(lab)["agents_logged_in"] == 100, 5,
                     "100 agents online")
        except TestFailure:
            raise TestFailure("max_message = 1024 passes --check-config "
                              "but the snapshot never arrives: %r" % (
                                  lab.grep_log("acd", "too large")[:1],))
    else:
        check("max_message" in r.stderr or "snapshot_batch" in r.stderr,
              "check-config: %r" % r.stderr)
    for n in lab.procs:
        lab.stop(n)


def lab_name_ascii(Lab):
    """A lab file --check-config accepts must work: a lab name that is not
    ASCII (HELLO strings are, since 19b39df)."""
    lab = Lab("caf\u00e9", nodes=("router", "pg-a"), **FAST)
    r = subprocess.run([PGEMUD, "-c", lab.conf, "--check-config"],
                       capture_output=True, text=True)
    if r.returncode == 0:
        lab.start("router")
        lab.start("pg-a")
        try:
            wait_for(lambda: lab.link("router", "pg-a")["state"] == "UP",
                     3, "pg-a up")
        except TestFailure:
            raise TestFailure("lab name \"caf\u00e9\" passes --check-config "
                              "but every HELLO is refused: %r" % (
                                  lab.grep_log("router", "closed:")[:1],))
    else:
        check("lab.name" in r.stderr, "check-config: %r" % r.stderr)
    for n in lab.procs:
        lab.stop(n)


def test(Lab):
    lab = Lab("ctlh", nodes=("router",))
    lab.start("router", extra_env=dict(PERTURB, ASAN_OPTIONS=os.environ.get(
        "ASAN_OPTIONS", "") + ":quarantine_size_mb=4"))
    fill_ring(lab, "router", "pg-a")
    section("control socket: hostile requests handled", ctl_guards, lab)
    section("control socket: error reply cut inside UTF-8", ctl_utf8_reply,
            lab)
    section("control socket: requests never read", ctl_backlog, lab)
    section("control socket: watcher dropped inside its own command",
            ctl_watcher_self_free, lab)
    section("control socket: descriptors used up", ctl_fd_exhaustion, Lab)
    section("acd: reload, then agents", acd_reload, Lab)
    section("router: epoch 0xFFFFFFFF", router_epochs, Lab)
    section("tcp: impostors", tcp_lab, Lab)
    section("pg-b private port: impostor", private_guards, Lab)
    section("reload storm", reload_storm, Lab)
    section("spool files", spool_files, Lab)
    section("lab file: max_message vs snapshot_batch", lab_max_message, Lab)
    section("lab file: lab name not ASCII", lab_name_ascii, Lab)
    check(not failures, "%d of the checks failed:\n  %s" % (
        len(failures), "\n  ".join(failures)))


run(test)

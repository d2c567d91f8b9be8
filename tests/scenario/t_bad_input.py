"""Foundation: bad input on any socket closes that one connection, with a
log line naming the peer and the problem, and the node keeps serving every
other link without a drop.

On each listening port (router, the ACD's primary and backup CTI
Manager endpoints, pg-b's private port): an unknown
message type, a length over the maximum, a stream of random bytes, a frame
that is not HELLO, a truncated HELLO, a HELLO of another lab or of a node
that has no link here, HELLOs that do not prove the lab key (no MAC, the
MAC of another key, a MAC of other nonces), and silence.  On an established link: an unknown
message type after a valid HELLO, and a PG_STATUS whose body does not
decode.  On the control socket: bad JSON, a bad frame length, a
non-string argument.
"""
import os
import socket
import struct

from pgemu_test import (auth_hello, check, closed_by_peer, frame, free_ports,
                        hello_frame, log, raw_connect, read_challenge, rng,
                        run, wait_for)


def drops(lab, node):
    return {l["name"]: l["counters"]["drops"] for l in
            lab.status(node)["links"]}


def ctl_raw(lab, node, payload):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect("%s/%s.sock" % (lab.dir, node))
    s.sendall(payload)
    return s


def test(Lab):
    backup = free_ports(1)[0]
    # Every refusal's line is checked: no rate limit on them here.
    lab = Lab("badin", sections={"acd": "backup_port = %d;" % backup,
                                 "lab": "log_rate = 0;"})
    lab.start_all()
    lab.wait_links_up()
    r = rng()
    # Every listening port: the router's, the ACD's two CTI Manager
    # endpoints, side B's private port.
    targets = [("router", lab.ports["router"]), ("acd", lab.ports["acd"]),
               ("acd", backup), ("pg-b", lab.ports["pg-b"])]
    base = {n: drops(lab, n) for n in lab.nodes}

    def signed(node, labname, side="-", version=3, key=None):
        """A HELLO with the MAC the lab key (or key) gives it."""
        def make(s):
            theirs = read_challenge(s)
            return hello_frame(node, labname, side, version=version,
                               key=key or lab.key(),
                               nonces=(os.urandom(16), theirs))
        return make

    cases = [
        ("unknown type", frame(12345, b"x" * 4),
         r"protocol error: unknown message type 12345"),
        ("length over max", struct.pack(">II", 0x7fffffff, 0x4001),
         r"protocol error: HELLO: length 2147483647 over the maximum"),
        ("random bytes", bytes(r.getrandbits(8) for _ in range(4096)),
         r"protocol error|closed"),
        ("not HELLO first", frame(0x4003, b"\0\0\0\1"),
         r"expected HELLO, got HEARTBEAT"),
        ("truncated HELLO", frame(0x4001, b"\0\0\0\1" + b"\0" * 9 +
                                  b"\x40\x01\x00\xff" + b"ab"),
         r"HELLO: floating field runs past the end"),
        ("HELLO of another lab", signed("pg-a", "otherlab"),
         r"belongs to lab \"otherlab\""),
        ("HELLO of a stranger", signed("mallory", "badin"),
         r"node \"mallory\" has no link to this node"),
        ("HELLO of a wrong version", signed("pg-a", "badin", version=9),
         r"protocol version 9, expected 3"),
        # Without the lab key nobody is a node of the lab.
        ("HELLO without a MAC", hello_frame("pg-a", "badin", "A"),
         r"authentication failed: HELLO from node \"pg-a\" carries no "
         r"MAC"),
        ("HELLO with a wrong key", signed("pg-a", "badin", "A",
                                          key=bytes(32)),
         r"authentication failed: HELLO from node \"pg-a\" does not "
         r"prove the lab key"),
        ("HELLO answering another challenge",
         lambda s: hello_frame("pg-a", "badin", "A", key=lab.key(),
                               nonces=(bytes(16), bytes(16))),
         r"does not prove the lab key"),
    ]
    for node, port in targets:
        for what, data, pattern in cases:
            s = raw_connect(port)
            src = "127.0.0.1:%d" % s.getsockname()[1]
            try:
                s.sendall(data(s) if callable(data) else data)
            except OSError:
                pass
            check(closed_by_peer(s, 3), "%s: %s: connection not closed" %
                  (node, what))
            s.close()
            line = lab.wait_log(node, "connection from %s closed: .*(%s)" %
                                (src, pattern), 2)
            log("%s %s -> %s" % (node, what, line[0].split(": ", 1)[1]))
            check(lab.status(node)["node"] == node, "%s not serving" % node)
        st = [x for x in lab.status(node)["listeners"]
              if x["port"] == port][0]
        check(st["refused"] == len(cases), "%s port %d refused %d, not %d" %
              (node, port, st["refused"], len(cases)))

    # Silence: the HELLO timer closes the connection.
    s = raw_connect(lab.ports["router"])
    src = "127.0.0.1:%d" % s.getsockname()[1]
    check(closed_by_peer(s, 8), "silent connection not closed")
    lab.wait_log("router", "connection from %s closed: no HELLO" % src, 2)

    # Nothing else moved: every link stayed up, no drops.
    for n in lab.nodes:
        check(lab.links_up(n), "%s lost a link" % n)
        check(drops(lab, n) == base[n], "%s drops %r -> %r" % (
            n, base[n], drops(lab, n)))

    # An established link: pg-a stops, an impostor says HELLO as pg-a,
    # then sends a frame of an unknown type.
    w = lab.watch("router")
    check(lab.stop("pg-a") == 0, "pg-a stop")
    w.wait(lambda e: e.get("link") == "pg-a" and e.get("to") == "IDLE", 3,
           "router: pg-a gone")
    s = raw_connect(lab.ports["router"])
    auth_hello(s, lab.key(), "pg-a", "badin", "A")
    w.wait(lambda e: e.get("link") == "pg-a" and e.get("to") == "UP", 3,
           "router: impostor up")
    s.sendall(frame(0x7777, b"boom"))
    e = w.wait(lambda e: e.get("link") == "pg-a" and e.get("from") == "UP",
               3, "router: impostor dropped")
    check(e["cause"] == "PROTO_ERROR" and "unknown message type 30583" in
          e["reason"], "impostor drop: %r" % e)
    check(closed_by_peer(s, 3), "impostor connection not closed")
    check(lab.link("router", "pg-a")["counters"]["protocol_errors"] == 1,
          "protocol error counted")
    check(lab.link("router", "pg-b")["state"] == "UP", "pg-b kept")
    lab.wait_log("router", r"link pg-a: protocol error from 127\.0\.0\.1:"
                 r"\d+: unknown message type 30583", 2)

    # A known message with a bad body: the decoder says what is wrong.
    s = raw_connect(lab.ports["router"])
    auth_hello(s, lab.key(), "pg-a", "badin", "A")
    w.wait(lambda e: e.get("link") == "pg-a" and e.get("to") == "UP", 3,
           "router: impostor up again")
    s.sendall(frame(0x4101, struct.pack(">IBBBBIIB", 5000, ord("Z"), 1, 0,
                                        0, 0, 0, 0)))
    e = w.wait(lambda e: e.get("link") == "pg-a" and e.get("from") == "UP",
               3, "router: bad PG_STATUS dropped")
    check("PG_STATUS: bad side 0x5a" in e["reason"], "reason %r" %
          e["reason"])
    check(closed_by_peer(s, 3), "connection not closed")
    check(lab.link("router", "pg-b")["state"] == "UP", "pg-b kept")

    # The control socket.
    for what, payload, pattern in [
            ("bad JSON", struct.pack(">I", 5) + b"{oops",
             "bad request"),
            ("zero length", struct.pack(">I", 0), "bad frame length 0"),
            ("huge length", struct.pack(">I", 0x10000000),
             "bad frame length 268435456"),
            ("non-string argv", struct.pack(">I", 14) +
             b'{"argv":[1,2]}', "non-string")]:
        s = ctl_raw(lab, "router", payload)
        s.settimeout(3)
        data = b""
        try:
            while True:
                d = s.recv(65536)
                if not d:
                    break
                data += d
        except socket.timeout:
            raise AssertionError("control: %s: not closed" % what)
        check(pattern.encode() in data and b'"ok":false' in data,
              "control %s: reply %r" % (what, data))
        s.close()
        check(lab.status("router")["node"] == "router", "router serving")
    lab.wait_log("router", r"control: client pid \d+ uid \d+: bad request")
    lab.start("pg-a")
    lab.wait_links_up()


run(test)

"""Authenticated links and unforgeable epochs (issue 14).

The lab trusted a name: one HELLO as the live active side replaced its
connection at the router (a failover with data discarded and agents logged
out), a HELLO as the standby got it the PIM, a forged PG_STATUS poisoned
the epochs, and the ACD told an impostor the current epoch.  With the lab
key (lab.key_file, made by the first node that finds none):

  1. the key file is made once, mode 0600, and every node reads it; a
     node refuses a key file other users can read, or a symbolic link;
  2. as an outsider (no key): a HELLO as the live active side, as the
     standby, and a HELLO_ACK-less replay are each refused with a log line
     naming the peer ("authentication failed"); the router keeps its links
     and the peripheral (no failover, nothing discarded, nobody logged
     out);
  3. as a node of the lab, a second connection in the name of a live peer
     is refused ("connected already"); the live link stays; across a
     router restart the outsider's HELLO, racing the real sides back, is
     refused the same and the sides come back to the same PIM and epoch,
     nothing discarded, nobody logged out;
  4. the ACD refuses an activation whose grant token is not the router's,
     and its PIM_REJECT never carries the current epoch;
  5. after all that, the real sides still fail over normally (a kill -9
     of the active side): the grant's token works.
"""
import os
import signal
import stat
import struct
import subprocess

from pgemu_test import (PGEMUD, auth_hello, check,
                        closed_by_peer, frame, hello_frame, log, periph,
                        raw_connect, read_challenge, run, wait_for,
                        wait_online)

PIM_ACTIVATE, PIM_REJECT = 0x4301, 0x4303


def frames(s, want, timeout=3):
    """The body of the first frame of type want on s (None: closed)."""
    s.settimeout(timeout)
    buf = b""
    while True:
        while len(buf) >= 8:
            n, t = struct.unpack(">II", buf[:8])
            if len(buf) < 8 + n:
                break
            body, buf = buf[8:8 + n], buf[8 + n:]
            if t == want:
                return body
        d = s.recv(65536)
        if not d:
            return None
        buf += d


def test(Lab):
    lab = Lab("auth", agents=20, hb_router=(100, 5), hb_acd=(100, 5),
              hb_private=(50, 5))
    lab.start_all()
    lab.wait_links_up()
    p0 = wait_online(lab, 10, agents=20)
    act = {"A": "pg-a", "B": "pg-b"}[p0["active_side"]]
    stby = "pg-b" if act == "pg-a" else "pg-a"
    key_path = os.path.join(lab.dir, "lab.key")

    # 1. One key, 0600.
    st = os.stat(key_path)
    check(stat.S_IMODE(st.st_mode) == 0o600, "key mode %o" %
          stat.S_IMODE(st.st_mode))
    check(len(open(key_path).read().strip()) == 64, "64 hex digits")
    check(not [f for f in os.listdir(lab.dir) if f.startswith("lab.key.")],
          "a temporary key file left behind")

    discard0 = lab.query("SELECT COUNT(*) FROM pgemu_discard")[0][0]

    # 2. Outsiders.
    outsiders = [
        ("HELLO as the active side", act, lambda s: hello_frame(
            act, "auth", act[-1].upper()), "carries no MAC"),
        ("HELLO as the standby", stby, lambda s: hello_frame(
            stby, "auth", stby[-1].upper()), "carries no MAC"),
        ("HELLO of another key", act, lambda s: hello_frame(
            act, "auth", act[-1].upper(), key=os.urandom(32),
            nonces=(os.urandom(16), read_challenge(s))),
         "does not prove the lab key"),
    ]
    for what, node, make, reason in outsiders:
        s = raw_connect(lab.ports["router"])
        src = "127.0.0.1:%d" % s.getsockname()[1]
        s.sendall(make(s))
        check(closed_by_peer(s, 3), "%s: not closed" % what)
        s.close()
        line = lab.wait_log("router", r"connection from %s closed: "
                            r"protocol error: authentication failed: HELLO from node "
                            r"\"%s\" %s" % (src, node, reason), 3)
        log("%s -> %s" % (what, line[0].split(": ", 1)[1]))

    # 3. An insider in the name of the live active side.
    s = raw_connect(lab.ports["router"])
    src = "127.0.0.1:%d" % s.getsockname()[1]
    auth_hello(s, lab.key(), act, "auth", act[-1].upper())
    check(closed_by_peer(s, 3), "second connection as %s not closed" % act)
    lab.wait_log("router", r"connection from %s closed: node %s is "
                 r"connected already" % (src, act), 3)

    # Nothing moved.
    p1 = periph(lab)
    check(p1["active_side"] == p0["active_side"] and p1["epoch"] ==
          p0["epoch"] and p1["online"] and p1["agents_logged_in"] == 20,
          "the router moved: %r" % (p1,))
    check(lab.link("router", act)["state"] == "UP", "router lost %s" % act)
    check(lab.query("SELECT COUNT(*) FROM pgemu_discard")[0][0] ==
          discard0, "data discarded")
    check(lab.query("SELECT COUNT(*) FROM Agent_Logout")[0][0] == 0,
          "agents logged out")

    # 3b. Across a router restart: the outsider tries again as soon as
    # the new router listens, racing the real sides back; refused the
    # same, and the real sides come back to the same PIM and epoch.
    logouts = lab.query("SELECT COUNT(*) FROM Agent_Logout")[0][0]
    check(lab.stop("router") == 0, "stop router")
    lab.start("router")
    s = raw_connect(lab.ports["router"])
    src = "127.0.0.1:%d" % s.getsockname()[1]
    s.sendall(hello_frame(act, "auth", act[-1].upper()))
    check(closed_by_peer(s, 3), "after a restart: not closed")
    s.close()
    lab.wait_log("router", r"connection from %s closed: protocol error: "
                 r"authentication failed: HELLO from node \"%s\"" %
                 (src, act), 3)
    lab.wait_links_up()
    p1 = wait_online(lab, 10, agents=20)
    check(p1["active_side"] == p0["active_side"] and p1["epoch"] ==
          p0["epoch"], "the restarted router moved: %r" % (p1,))
    check(lab.query("SELECT COUNT(*) FROM pgemu_discard")[0][0] ==
          discard0, "data discarded across the restart")
    check(lab.query("SELECT COUNT(*) FROM Agent_Logout")[0][0] == logouts,
          "agents logged out across the restart")

    # 4. The ACD: an activation without the router's token.  The standby
    # is stopped so that the impostor (with the key: an insider) can take
    # its ACD link.
    check(lab.stop(stby) == 0, "stop %s" % stby)
    wait_for(lambda: lab.link("acd", stby)["state"] != "UP", 3,
             "acd: %s gone" % stby)
    s = raw_connect(lab.ports["acd"])
    auth_hello(s, lab.key(), stby, "auth", stby[-1].upper())
    check(frames(s, 0x4002) is not None, "HELLO_ACK from the acd")
    epoch = p0["epoch"] + 1
    s.sendall(frame(PIM_ACTIVATE, struct.pack(">IIB", epoch, 5000, 0)))
    rej = frames(s, PIM_REJECT)
    check(rej is not None, "no PIM_REJECT")
    a, b = struct.unpack(">II", rej[:8])
    check(b == 0, "PIM_REJECT reveals epoch %d" % b)
    check(b"grant not signed by the router" in rej, "verdict %r" % rej)
    check(str(p0["epoch"]).encode() not in rej[9:], "epoch in the text: %r"
          % rej)
    lab.wait_log("acd", r"refused PIM activation of %s with epoch %d: it "
                 r"shows no grant token" % (stby, epoch), 3)
    s.close()
    check(periph(lab)["active_side"] == p0["active_side"] and
          periph(lab)["online"], "the PIM moved")
    lab.start(stby)
    lab.wait_links_up()

    # 5. A real failover still works with signed grants.
    w = lab.watch("acd")
    lab.kill(act, signal.SIGKILL)
    lab.reap(act)
    w.wait(lambda e: e.get("event") == "pim_accepted" and
           e.get("pim") == stby, 10, "acd accepts %s" % stby)
    p2 = wait_online(lab, 10, agents=20)
    check(p2["active_side"] == stby[-1].upper() and p2["epoch"] >
          p0["epoch"], "failover: %r" % (p2,))

    # 1b. Key files a node refuses: readable by others, a symbolic link.
    check(lab.stop("acd") == 0, "stop acd")
    for what, prep, reason in [
            ("group-readable", lambda p: os.chmod(p, 0o640),
             "it must be the node's user's alone"),
            ("a symbolic link", None, "is a symbolic link")]:
        other = os.path.join(lab.dir, "other.key")
        with open(other, "w") as f:
            f.write(open(key_path).read())
        os.chmod(other, 0o600)
        path = other
        if prep is not None:
            prep(other)
        else:
            path = os.path.join(lab.dir, "link.key")
            os.symlink(other, path)
        conf = os.path.join(lab.dir, "k.conf")
        with open(conf, "w") as f:
            f.write(lab.conf_text().replace(
                'interval = ', 'key_file = "%s"; interval = ' % path, 1))
        r = subprocess.run([PGEMUD, "-c", conf, "-n", "acd", "-f"],
                           capture_output=True, text=True, timeout=20)
        out = r.stdout + r.stderr
        log("%s: exit %d: %s" % (what, r.returncode, out.strip()[-200:]))
        check(r.returncode == 1 and "key file %s: " % path in out and
              reason in out, "%s key: exit %d, %s" % (what, r.returncode,
                                                      out))
        for p in (other, path):
            if os.path.lexists(p):
                os.unlink(p)


if __name__ == "__main__":
    run(test)

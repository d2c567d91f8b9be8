"""The desktops and their servers, without the CTI side: one connection
per desktop, to desk-a first, to desk-b when desk-a is lost.

Proves, with 20 desktops (real pgemud processes):
 * every desktop connects to the primary desktop server desk-a and greets
   with DESKTOP_LOGIN (desk-a's `desktops`: 20, the lab's initial state,
   not a relogin; `agents status`: 20 on desk-a);
 * kill -9 of desk-a: the agents node emits one desktop_lost event (R9,
   warning) for the 20 desktops, and every desktop reaches desk-b with
   the relogin flag;
 * `pgemuctl agents fault 1001 down`: desk-b loses that desktop alone
   (one desktop_lost naming 1001); `up` brings it back;
 * `pgemuctl desk-b fault desktop 1002 down` closes that desktop's session
   and refuses it until `up`;
 * a bad message (an unknown type, a login of an agent without a
   desktop) closes that one session with a log line naming the peer and
   the type; the other desktops stay.
"""
import struct

from pgemu_test import (FAST, check, closed_by_peer, ev, frame, log,
                        raw_connect, run, wait_for)

AGENTS = 20
IDS = list(range(1001, 1001 + AGENTS))


def servers(lab):
    return lab.ctl("agents", "status")["agents"]["servers"]


def desk_ids(lab, node):
    return sorted(d["agent"] for d in lab.ctl(node, "desktops"))


def login_frame(agent, periph=5000, state=3, flags=0, mrds=(1,),
                nmrds=None):
    body = struct.pack(">IIHHiH", agent, periph, state, flags, 0,
                       len(mrds) if nmrds is None else nmrds) + \
        b"".join(struct.pack(">I", m) for m in mrds)
    return frame(0x4401, body)


def refused(lab, port, data, pattern, what):
    """data sent on a new session closes it, with pattern in desk-b's log"""
    s = raw_connect(port)
    s.sendall(data)
    check(closed_by_peer(s), "%s: the session stays open" % what)
    s.close()
    lab.wait_log("desk-b", r"protocol error from 127\.0\.0\.1:\d+: " +
                 pattern)


def bad_input(lab, port):
    refused(lab, port, frame(0x4403, b"\0" * 12),
            "DESKTOP_STATE before the link is up", "DESKTOP_STATE first")
    refused(lab, port, login_frame(9999),
            "DESKTOP_LOGIN: agent 9999 has no desktop", "agent 9999")
    refused(lab, port, login_frame(1003, mrds=tuple(range(8)), nmrds=9),
            "DESKTOP_LOGIN: 9 MRDs do not fit 50 bytes", "9 MRDs in 8")
    refused(lab, port, login_frame(1003, mrds=tuple(range(9))),
            "DESKTOP_LOGIN: length 54 over the maximum", "54 bytes")
    refused(lab, port, login_frame(1003, state=4), "DESKTOP_LOGIN: state 4 "
            "is not logout", "state talking")
    check(desk_ids(lab, "desk-b") == IDS, "desk-b lost desktops to "
          "another client's bad input: %r" % desk_ids(lab, "desk-b"))
    log("bad input: four sessions closed with their log lines, the "
        "20 desktops kept")


def test(Lab):
    lab = Lab("t_desktops", agents=AGENTS, desktops=True,
              hb_desktop=(100, 3), **FAST)
    lab.start_all()
    wait_for(lambda: servers(lab) == {"desk-a": AGENTS}, 10,
             "20 desktops on desk-a")
    ds = lab.ctl("desk-a", "desktops")
    check(sorted(d["agent"] for d in ds) == IDS and
          all(d["wanted"] == "available" and not d["relogin"] for d in ds),
          "desk-a's desktops: %r" % ds)
    check(lab.status("desk-a")["desk"]["desktops"] == AGENTS,
          "desk-a status: %r" % lab.status("desk-a")["desk"])
    log("20 desktops logged in to desk-a, first login, wanting available")

    wa = lab.watch("agents")
    lab.kill("desk-a")
    e = wa.wait(ev("desktop_lost"), 5, "agents: desktop_lost")
    check(e["rule"] == "R9" and e["desktops"] == AGENTS and
          e["server"] == "desk-a", "desktop_lost: %r" % e)
    wait_for(lambda: desk_ids(lab, "desk-b") == IDS, 5,
             "every desktop on desk-b")
    check(all(d["relogin"] for d in lab.ctl("desk-b", "desktops")),
          "desk-b's desktops without the relogin flag")
    check(servers(lab) == {"desk-b": AGENTS}, "agents status servers: %r"
          % servers(lab))
    check(lab.ctl("agents", "agent", "1001")["server"] == "desk-b",
          "agent 1001 not on desk-b")
    check(len([x for x in wa.since(0) if x.get("event") ==
               "desktop_lost"]) == 1, "more than one desktop_lost event")
    log("kill -9 desk-a: one desktop_lost (R9) for 20, all on desk-b")

    wb = lab.watch("desk-b")
    lab.ctl("agents", "fault", "1001", "down")
    e = wb.wait(ev("desktop_lost"), 5, "desk-b: desktop_lost")
    check(e["desktops"] == 1 and e["agents"] == [1001] and
          e["reason_code"] == 50002, "desk-b desktop_lost: %r" % e)
    check(desk_ids(lab, "desk-b") == IDS[1:], "desk-b still has 1001")
    lab.ctl("agents", "fault", "1001", "up")
    wait_for(lambda: desk_ids(lab, "desk-b") == IDS, 5, "1001 back")
    log("agents fault 1001 down: desk-b lost 1001 alone; up: back")

    lab.ctl("desk-b", "fault", "desktop", "1002", "down")
    e = wb.wait(ev("desktop_lost"), 5, "desk-b: desktop_lost of 1002")
    check(e["agents"] == [1002], "desktop_lost: %r" % e)
    wait_for(lambda: lab.ctl("agents", "agent", "1002")["lost"], 5,
             "the desktop of 1002 knows it lost its server")
    check(1002 not in desk_ids(lab, "desk-b"), "1002 not refused")
    rc, out, err = lab.ctl_raw("desk-b", "fault", "desktop", "1002", "down")
    check(rc != 0 and "already down" in err, "second down: %r" % err)
    lab.ctl("desk-b", "fault", "desktop", "1002", "up")
    wait_for(lambda: desk_ids(lab, "desk-b") == IDS, 10, "1002 back")
    log("desk-b fault desktop 1002 down: closed and refused; up: back")

    bad_input(lab, lab.ports["desk-b"])
    check(lab.procs["desk-b"].poll() is None, "desk-b exited")


if __name__ == "__main__":
    run(test)

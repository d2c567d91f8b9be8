"""The history database never holds the router's loop: its writes are a
writer thread's (docs/failover.md, "Delivery to the history database").

Short heartbeats on every link (router and private 20 ms x 5: a side gives
the router up after 100 ms of silence), 1 s intervals, traffic on.  The
test holds an exclusive lock on history.db for several intervals (SQLite's
busy timeout is 150 ms: a write attempted on the loop would hold it that
long at each try) and meanwhile logs agents out and in, so that session
rows, interval records and the router's retries all meet the lock.  Its
own client asks the router's control socket for its status every 20 ms.
Proves, while the lock is held:
  * no link of the router is lost: the sides' router links and the
    router's own stay UP, none connects again; no router_stalled, no
    failover (same side and epoch, no grant), the peripheral online;
  * the real-time table does not wait: an agent logged out at the ACD is
    logged out at the router (`router agents`) at once;
  * the control socket answers every request within 60 ms (x the test's
    slowness factor), while records wait (`records_not_stored` grows,
    `session_rows_waiting` > 0);
and once it is released: every interval the active side closed is in
Agent_Interval once per agent, the logout and login rows of the lock are
written.

Before the writer thread, each write attempted under the lock held the
loop for 150 ms: the sides lost their router links and the control
socket waited.
"""
import json
import os
import socket
import sqlite3
import time

from pgemu_test import (SLOW, check, lab_online, log, node_of, periph, run,
                        wait_for)

IVL = 1
AGENTS = 20
HB = dict(hb_private=(20, 5), hb_router=(20, 5), hb_acd=(50, 5))


def ctl_rtt(path, argv):
    """One request on the control socket: (seconds, reply)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5 * SLOW)
    try:
        s.connect(path)
        body = json.dumps({"argv": argv}).encode()
        t0 = time.monotonic()
        s.sendall(len(body).to_bytes(4, "big") + body)
        buf = b""
        while len(buf) < 4 or len(buf) < 4 + int.from_bytes(buf[:4], "big"):
            d = s.recv(65536)
            if not d:
                raise OSError("control socket closed")
            buf += d
        dt = time.monotonic() - t0
        return dt, json.loads(buf[4:4 + int.from_bytes(buf[:4], "big")])
    finally:
        s.close()


def logged_in(lab, agent):
    for a in lab.ctl("router", "agents"):
        if a["id"] == agent and a["mrd"] == 1:
            return a["logged_in"]
    raise AssertionError("router: no agent %d" % agent)


def test(Lab):
    lab, p = lab_online(Lab, "hwriter", AGENTS, interval=IVL, traffic=True,
                        **HB)
    side, epoch = p["active_side"], p["epoch"]
    act = node_of(side)
    wait_for(lambda: lab.status(act)["reporting"]["delivered"] >= 1,
             2 * IVL + 3, "%s: a first interval delivered" % act)
    sock = os.path.join(lab.dir, "router.sock")
    conn0 = {pg: lab.link(pg, "router-link")["counters"]["connects"]
             for pg in ("pg-a", "pg-b")}
    rlinks0 = {l["name"]: l["counters"]["connects"]
               for l in lab.status("router")["links"]}
    c0 = lab.status("router")["counters"]
    closed0 = lab.status(act)["reporting"]["intervals_closed"]

    con = sqlite3.connect(os.path.join(lab.dir, "history.db"),
                          isolation_level=None, timeout=10)
    con.execute("BEGIN EXCLUSIVE")
    t_lock = time.time()
    log("history.db locked")
    lab.ctl("acd", "agent", "1001", "set", "logout")
    wait_for(lambda: not logged_in(lab, 1001), 0.5,
             "router: 1001 logged out under the lock")
    rtts, waiting = [], 0
    while time.time() < t_lock + 3.5 * IVL:
        dt, r = ctl_rtt(sock, ["status"])
        rtts.append(dt)
        waiting = max(waiting, r["data"]["counters"]["session_rows_waiting"])
        time.sleep(0.02)
    lab.ctl("acd", "agent", "1001", "set", "available")
    wait_for(lambda: logged_in(lab, 1001), 0.5,
             "router: 1001 logged in under the lock")
    c = lab.status("router")["counters"]
    pe = periph(lab)
    rtts.sort()
    log("locked %.1f s: %d status requests, median %.1f ms, max %.1f ms; "
        "%d records not stored, up to %d rows written behind waiting" % (
            time.time() - t_lock, len(rtts), rtts[len(rtts) // 2] * 1000,
            rtts[-1] * 1000, c["records_not_stored"] -
            c0["records_not_stored"], waiting))
    check(c["records_not_stored"] > c0["records_not_stored"] and
          waiting > 0, "nothing met the lock: %r" % c)
    check(rtts[-1] < 0.06 * SLOW, "the control socket waited %.0f ms under "
          "the lock" % (rtts[-1] * 1000))
    check(pe["online"] and pe["active_side"] == side and
          pe["epoch"] == epoch and c["grants"] == c0["grants"] and
          c["stalls"] == c0["stalls"],
          "the router's loop was held: %r, counters %r" % (pe, c))
    conn = {pg: lab.link(pg, "router-link")["counters"]["connects"]
            for pg in ("pg-a", "pg-b")}
    rlinks = {l["name"]: l["counters"]["connects"]
              for l in lab.status("router")["links"]}
    check(conn == conn0 and rlinks == rlinks0 and
          all(lab.link(pg, "router-link")["state"] == "UP"
              for pg in ("pg-a", "pg-b")),
          "router links lost under the lock: sides %r -> %r, router %r -> "
          "%r" % (conn0, conn, rlinks0, rlinks))
    check(not lab.grep_log("router", r"router_stalled|stalled for"),
          "the router says its loop stalled")

    con.execute("ROLLBACK")
    con.close()
    log("history.db released")
    wait_for(lambda: lab.status(act)["reporting"]["queued"] == 0, 4 + 3 * IVL,
             "%s: its records stored" % act, interval=0.05)
    r = lab.status(act)["reporting"]
    rows = lab.query("SELECT DateTime, COUNT(*) FROM Agent_Interval GROUP "
                     "BY DateTime ORDER BY DateTime")
    check(len(rows) >= r["intervals_closed"] >= closed0 + 3,
          "%d intervals stored, %s closed %d (%d before the lock)" % (
              len(rows), act, r["intervals_closed"], closed0))
    check(all(n <= AGENTS for _, n in rows), "an interval stored twice: %r"
          % rows)
    lo = lab.query("SELECT COUNT(*) FROM Agent_Logout WHERE SkillTargetID = "
                   "1001 AND LogoutDateTime >= ?", (
                       time.strftime("%Y-%m-%d %H:%M:%S",
                                     time.gmtime(int(t_lock))),))[0][0]
    check(lo == 1, "1001's logout under the lock: %d Agent_Logout rows" % lo)


run(test)

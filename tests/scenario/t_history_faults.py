"""The history database fails, and records the router refuses: nothing is
acknowledged that is not committed, nothing is lost without a record
(docs/failover.md, "Delivery to the history database").

1. Locked database.  With 1 s intervals, the test holds an exclusive lock
   on history.db (sqlite3, BEGIN EXCLUSIVE) for several intervals, and
   logs agent 1001 out meanwhile.  Proves, while it is held:
    * the router stores and acknowledges nothing: the active side's
      `delivered` does not move while its `queued` grows to 3 records and
      more; it says why at warning ("did not store record ... database is
      locked"), and so does the router; Agent_Interval gains no row;
    * the router's loop is not held: no failover (same side, no grant);
    * the router counts `records_not_stored` and the session rows of the
      logout wait (`session_rows_waiting`);
   and once it is released:
    * the queue drains; every interval the side closed is in
      Agent_Interval, exactly once per agent (rows_duplicate 0,
      rows_stored = the table's rows); no pgemu_discard row;
    * the Agent_Logout and Agent_Event_Detail rows of 1001's logout, made
      during the lock, are written.

2. Refused records.  The active side's ACD link is frozen (it does not
   hear the ACD fence it) and its router link cut: the router fails it
   over to the other side (a new epoch), while the cut-off side goes on
   closing intervals with its old epoch.  When its router link is back it
   sends them; the router refuses them (stale epoch).  Proves:
    * the router records each refused record as lost, once: a
      pgemu_discard row (Rule R1, the side, Epoch and Seq of the record,
      Reason "refused: stale epoch ..."), an event data_discarded (R1);
    * the side counts them `refused` / `rows_refused`, not `delivered`,
      with its event data_refused (R1), and its rows_refused equals the
      router's and the rows of the pgemu_discard rows;
    * no row of the refused epoch reaches Agent_Interval after the cut.

3. A failover while the database is locked.  The active side is killed
   while the test holds the lock: the router fails over at once (its loop
   is not held) and its own rows wait: the loss it records for the dead
   side (R1), the new side's activation, max_epoch and the holder in
   pgemu_meta, the 50002 logouts.  Once the lock is released all of them
   are written, with the time they happened; none is lost.

4. The router stopped with rows it could not write, then killed with rows
   queued.  SIGTERM while the database is locked: the router says at exit
   what it could not write; started again, it records that loss.  Then
   agent 1002 logs out under a new lock and the router is killed (kill
   -9) with its rows queued; started again, it records exactly as many
   rows as it had waiting.  Each time: a pgemu_discard row (Rule "none",
   Rows the count, Reason naming the router's last run), an event
   history_lost at warning, `rows_lost_last_run` in its status; a third
   start, after a clean stop, records nothing more.

Before the fix the router acknowledged what it failed to write (and a
locked database held its loop for 5 s), and a refused record was counted
`delivered` with no loss recorded.
"""
import calendar
import os
import sqlite3
import time

from pgemu_test import (check, dbtime, ev, lab_online, log, node_of, other,
                        periph, run, wait_candidate, wait_for, wait_online)

IVL = 1
AGENTS = 5


def rep(lab, node):
    return lab.status(node)["reporting"]


def rep_when(lab, node, pred):
    r = rep(lab, node)
    return r if pred(r) else None


def counters(lab):
    return lab.status("router")["counters"]


def locked(Lab):
    lab, p = lab_online(Lab, "histlock", AGENTS, interval=IVL,
                        hb_private=(20, 5), hb_router=(100, 5),
                        hb_acd=(100, 5), traffic=False)
    side, epoch = p["active_side"], p["epoch"]
    act = node_of(side)
    wait_for(lambda: rep(lab, act)["delivered"] >= 1, 2 * IVL + 3,
             "%s: a first interval delivered" % act)
    grants0 = counters(lab)["grants"]

    # Lock in the middle of an interval: no record is on its way (they
    # go at the boundaries), so from now on nothing can be acknowledged.
    b = int(time.time()) // IVL * IVL + IVL
    wait_for(lambda: time.time() >= b + 0.3 * IVL, IVL + 1,
             "the middle of an interval")
    con = sqlite3.connect(os.path.join(lab.dir, "history.db"),
                          isolation_level=None, timeout=10)
    con.execute("BEGIN EXCLUSIVE")
    t_lock = time.time()
    r0 = rep(lab, act)
    n0 = con.execute("SELECT COUNT(*) FROM Agent_Interval").fetchone()[0]
    log("history.db locked; %s reporting %r" % (act, r0))
    lab.ctl("acd", "agent", "1001", "set", "logout")
    r = wait_for(lambda: rep_when(lab, act, lambda x: x["intervals_closed"]
                                  >= r0["intervals_closed"] + 3),
                 4 * IVL + 5, "%s: 3 intervals closed" % act, interval=0.05)
    log("locked: %s reporting %r" % (act, r))
    check(r["delivered"] == r0["delivered"],
          "records acknowledged while the database was locked: delivered "
          "%d -> %d" % (r0["delivered"], r["delivered"]))
    n1 = con.execute("SELECT COUNT(*) FROM Agent_Interval").fetchone()[0]
    check(n1 == n0, "Agent_Interval grew under the lock: %d -> %d" % (n0, n1))
    p = periph(lab)
    c = counters(lab)
    check(p["active_side"] == side and p["epoch"] == epoch and
          c["grants"] == grants0 and p["online"],
          "the router failed the PG over while the database was locked: "
          "%r, %d grants (%d before)" % (p, c["grants"], grants0))
    check(r["queued"] >= r0["queued"] + 3 and r.get("not_stored", 0) >= 1,
          "%s did not keep its records queued: %r" % (act, r))
    check(c.get("records_not_stored", 0) >= 1 and
          c.get("session_rows_waiting", 0) >= 1,
          "router counters under the lock: %r" % c)
    lab.wait_log(act, r"did not store record .*database is locked.*stays "
                 r"queued")
    lab.wait_log("router", r"history database: .*database is locked")

    con.execute("ROLLBACK")
    con.close()
    log("history.db released after %.1f s" % (time.time() - t_lock))
    wait_for(lambda: rep(lab, act)["queued"] == 0, 4 + 3 * IVL,
             "%s: the queue drained" % act, interval=0.05)
    wait_for(lambda: counters(lab)["session_rows_waiting"] == 0, 6,
             "router: the session rows written", interval=0.05)
    r = rep(lab, act)
    c = counters(lab)
    rows = lab.query("SELECT DateTime, COUNT(*) FROM Agent_Interval GROUP "
                     "BY DateTime ORDER BY DateTime")
    log("after: %s closed %d intervals; Agent_Interval: %r" % (
        act, r["intervals_closed"], rows))
    check(len(rows) == r["intervals_closed"],
          "%d intervals in Agent_Interval, %s closed %d" % (
              len(rows), act, r["intervals_closed"]))
    starts = lab.query("SELECT DISTINCT DateTime FROM Agent_Interval "
                       "ORDER BY DateTime")
    first = calendar.timegm(time.strptime(starts[0][0][:19],
                                          "%Y-%m-%d %H:%M:%S"))
    want = [dbtime(first + i * IVL) for i in range(len(rows))]
    check([s[0] for s in starts] == want, "intervals missing: %r" % starts)
    check(all(n in (AGENTS - 1, AGENTS) for _, n in rows),
          "an interval without a row per logged-in agent: %r" % rows)
    total = lab.query("SELECT COUNT(*) FROM Agent_Interval")[0][0]
    check(c["rows_stored"] == total and c["rows_duplicate"] == 0,
          "router stored %d rows (%d duplicates), the table has %d" % (
              c["rows_stored"], c["rows_duplicate"], total))
    d = lab.query("SELECT * FROM pgemu_discard")
    check(not d, "data recorded as lost: %r" % d)
    lo = lab.query("SELECT LogoutDateTime FROM Agent_Logout WHERE "
                   "SkillTargetID = 1001")
    e2 = lab.query("SELECT DateTime FROM Agent_Event_Detail WHERE "
                   "SkillTargetID = 1001 AND Event = 2")
    check(len(lo) == 1 and len(e2) == 1 and lo[0][0] >= dbtime(t_lock)[:19],
          "1001's logout during the lock: Agent_Logout %r, Event 2 %r" % (
              lo, e2))


def refused(Lab):
    # The ACD link's hold (30 s) outlasts the freeze; the router's is short.
    lab = Lab("refused", agents=AGENTS, interval=IVL, hb_private=(20, 5),
              hb_router=(50, 5), hb_acd=(1000, 30),
              reconnect=(50, 200, 5000), traffic=False)
    lab.start_all()
    lab.wait_links_up()
    p = wait_online(lab, 10, agents=AGENTS)
    side, e1 = p["active_side"], p["epoch"]
    act = node_of(side)
    stby = other(act)
    wait_candidate(lab, stby)
    wait_for(lambda: rep(lab, act)["delivered"] >= 1, 2 * IVL + 3,
             "%s: a first interval delivered" % act)
    wr = lab.watch("router")
    wa = lab.watch(act)

    lab.ctl(act, "fault", "acd-link", "freeze")
    lab.ctl(act, "fault", "router-link", "down")
    t_cut = time.time()
    e2 = wait_for(lambda: periph(lab)["online"] and
                  periph(lab)["active_side"] != side and
                  periph(lab)["epoch"], 5, "router: %s active" % stby)
    r0 = rep(lab, act)
    check(lab.status(act)["pim"]["epoch"] == e1,
          "%s: %r" % (act, lab.status(act)["pim"]))
    wait_for(lambda: rep(lab, act)["queued"] >= 2, 3 * IVL + 3,
             "%s: intervals closed with epoch %d while cut off" % (act, e1))
    lab.ctl(act, "fault", "router-link", "up")
    log("%s's router link back; %s active with epoch %d" % (act, stby, e2))

    r = wait_for(lambda: rep_when(lab, act, lambda x: x["queued"] == 0),
                 3 * IVL + 3, "%s: its records answered" % act)
    log("%s reporting %r" % (act, r))
    check(r["delivered"] == r0["delivered"],
          "refused records counted delivered: %d -> %d" % (
              r0["delivered"], r["delivered"]))
    check(r["refused"] >= 2, "%s: %d records refused, expected 2 or more" % (
        act, r["refused"]))
    c = counters(lab)
    rows = lab.query("SELECT Rule, PGSide, Epoch, Seq, Rows, Intervals, "
                     "Reason, IntervalDateTime FROM pgemu_discard WHERE "
                     "Reason LIKE 'refused:%' ORDER BY Seq")
    log("refusals recorded: %r" % rows)
    check(len(rows) == r["refused"] == c["records_refused"],
          "%d refusal rows, %s refused %d, router counted %d" % (
              len(rows), act, r["refused"], c["records_refused"]))
    check(sum(x[4] for x in rows) == r["rows_refused"] == c["rows_refused"],
          "refused rows: pgemu_discard %d, %s %d, router %d" % (
              sum(x[4] for x in rows), act, r["rows_refused"],
              c["rows_refused"]))
    check(all(x[0] == "R1" and x[1] == side and x[2] == e1 and
              x[5] == 1 and x[6].startswith("refused: stale epoch %d" % e1)
              for x in rows), "refusal rows: %r" % rows)
    check(len(set(x[3] for x in rows)) == len(rows),
          "a record recorded twice: %r" % rows)
    de = [e for e in wr.events if e.get("event") == "data_discarded" and
          e.get("reason", "").startswith("refused:")]
    check(len(de) == len(rows) and all(e["rule"] == "R1" for e in de),
          "router data_discarded events for the refusals: %r" % de)
    pe = [e for e in wa.events if e.get("event") == "data_refused"]
    check(len(pe) == len(rows) and all(e["rule"] == "R1" for e in pe),
          "%s data_refused events: %r" % (act, pe))
    late = lab.query("SELECT DateTime, SkillTargetID FROM Agent_Interval "
                     "WHERE Epoch = ? AND DateTime >= ?", (
                         e1, dbtime(int(t_cut) // IVL * IVL + IVL)))
    check(not late, "rows of epoch %d stored after the cut: %r" % (e1, late))
    lab.ctl(act, "fault", "acd-link", "thaw")
    wa.wait(ev("data_discarded"), 3, "%s: R1 once the ACD fence is heard"
            % act)


def locked_failover(Lab):
    lab, p = lab_online(Lab, "histfo", AGENTS, interval=1800,
                        hb_private=(20, 5), hb_router=(100, 5),
                        hb_acd=(100, 5), traffic=False)
    act = node_of(p["active_side"])
    stby = other(act)
    wait_candidate(lab, stby)
    wait_for(lambda: counters(lab)["session_rows_waiting"] == 0, 3,
             "the first logins written")
    con = sqlite3.connect(os.path.join(lab.dir, "history.db"), timeout=10,
                          isolation_level=None)
    con.execute("BEGIN EXCLUSIVE")
    t_kill = time.time()
    lab.kill(act)
    # Online again with the other side active (the router's status may
    # still show the killed side an instant after the kill).
    p2 = wait_for(lambda: (lambda q: q if q["online"] and q["active_side"]
                           == stby[-1].upper() and q["agents_logged_in"] ==
                           AGENTS else None)(periph(lab)), 5,
                  "%s active, online" % stby)
    check(p2["active_side"] == stby[-1].upper() and
          p2["epoch"] == p["epoch"] + 1, "no failover under the lock: %r" %
          p2)
    waiting = counters(lab)["session_rows_waiting"]
    log("failover under the lock: %s active, %d rows of the router wait" %
        (stby, waiting))
    check(waiting > 0, "nothing waits while the database is locked")
    con.execute("COMMIT")
    con.close()
    wait_for(lambda: counters(lab)["session_rows_waiting"] == 0, 10,
             "the router's rows written after the lock")
    d = lab.query("SELECT Rule, PGSide, Rows, DateTime FROM pgemu_discard")
    check(len(d) == 1 and d[0][:3] == ("R1", act[-1].upper(), AGENTS),
          "the loss of %s: %r" % (act, d))
    check(d[0][3] < dbtime(t_kill + 1).replace(".000", ".999"),
          "the loss row has the time it was written, not the time it "
          "happened: %r" % (d,))
    acts = lab.query("SELECT PGSide, Epoch FROM pgemu_activation ORDER BY "
                     "id")
    check(acts[-1] == (stby[-1].upper(), p["epoch"] + 1),
          "the new side's activation: %r" % acts)
    meta = dict(lab.query("SELECT key, value FROM pgemu_meta"))
    check(meta.get("max_epoch") == p["epoch"] + 1 and
          meta.get("holder_side") == ord(stby[-1].upper()) and
          meta.get("holder_epoch") == p["epoch"] + 1,
          "pgemu_meta %r" % meta)
    lo = lab.query("SELECT COUNT(*) FROM Agent_Logout WHERE ReasonCode = "
                   "50002")[0][0]
    check(lo == AGENTS, "%d logouts with 50002, expected %d" % (lo, AGENTS))


def locked_stop(Lab):
    """The router stopped (SIGTERM) while the database is locked: it gives
    its rows one last try, says what it could not write, and exits 0."""
    lab, p = lab_online(Lab, "histstop", AGENTS, interval=1800,
                        hb_private=(20, 5), hb_router=(100, 5),
                        hb_acd=(100, 5), traffic=False)
    wait_for(lambda: counters(lab)["session_rows_waiting"] == 0, 3,
             "the first logins written")
    con = sqlite3.connect(os.path.join(lab.dir, "history.db"), timeout=10,
                          isolation_level=None)
    con.execute("BEGIN EXCLUSIVE")
    lab.ctl("acd", "agent", "1001", "set", "logout")
    wait_for(lambda: counters(lab)["session_rows_waiting"] > 0, 5,
             "1001's logout rows waiting")
    waiting = counters(lab)["session_rows_waiting"]
    rc = lab.stop("router")
    con.execute("COMMIT")
    check(rc == 0, "the router exited %d on SIGTERM with the database "
          "locked:\n%s" % (rc, lab.log_text("router")[-2000:]))
    check(lab.grep_log("router", r"could not be written before exit and "
                       r"are lost"), "no line for the rows lost at exit")
    log("SIGTERM with the database locked: exit 0, the lost rows said")
    lost_recorded(lab, waiting, 1)

    # kill -9 with rows queued: a new lock, 1002's logout, the router
    # killed while they wait.
    con.execute("BEGIN EXCLUSIVE")
    lab.ctl("acd", "agent", "1002", "set", "logout")
    wait_for(lambda: counters(lab)["session_rows_waiting"] > 0, 5,
             "1002's logout rows waiting")
    waiting = counters(lab)["session_rows_waiting"]
    lab.kill("router")
    lab.reap("router")
    con.execute("COMMIT")
    con.close()
    lost_recorded(lab, waiting, 2)

    # A clean stop and start: nothing more is lost, nothing recorded.
    check(lab.stop("router") == 0, "the router's clean stop")
    lab.start("router")
    check(counters(lab)["rows_lost_last_run"] == 0 and
          lab.query("SELECT COUNT(*) FROM pgemu_discard WHERE Rule = "
                    "'none'")[0][0] == 2,
          "a clean stop recorded a loss: %r" %
          lab.query("SELECT * FROM pgemu_discard"))


def lost_recorded(lab, waiting, nth):
    """The router, started again, records the waiting rows its last run
    lost: the nth pgemu_discard row of Rule none, its event and counter."""
    lab.start("router")
    c = counters(lab)
    d = lab.query("SELECT Rows, Reason, PGSide FROM pgemu_discard WHERE "
                  "Rule = 'none' ORDER BY id")
    log("router started again: %d rows its last run lost (%d waited): %r"
        % (c["rows_lost_last_run"], waiting, d[-1:]))
    check(c["rows_lost_last_run"] == waiting,
          "rows_lost_last_run %d, %d waited" % (c["rows_lost_last_run"],
                                                waiting))
    check(len(d) == nth and d[-1][0] == waiting and d[-1][2] is None and
          "router's last run" in d[-1][1],
          "the loss recorded: %r (%d waited)" % (d, waiting))
    e = [x for x in lab.ctl("router", "events", "500")
         if x["event"] == "history_lost"]
    check(len(e) == 1 and e[0]["rows"] == waiting, "history_lost %r" % e)
    check(lab.grep_log("router", r"last run queued %d rows" % waiting),
          "no log line for the loss")


def test(Lab):
    locked(Lab)
    refused(Lab)
    locked_failover(Lab)
    locked_stop(Lab)


run(test)

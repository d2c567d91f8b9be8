"""The router's real-time table and the history database carry the MRD: an
agent is logged in, and has a state, per Media Routing Domain
(docs/failover.md, "Reporting data").

1. A lab whose voice MRD is 7 (not the product's default 1): the router's
   `agents` lists each agent in MRD 7; a PG side failover (kill -9, R6)
   writes every Agent_Logout and Agent_Event_Detail row with MRDomainID 7.
2. A history database made by an older pgemu (pgemu_session without
   MRDomainID, an open session of agent 1001 in it; Agent_Interval without
   MRDomainID, a row of 1001 in it): the router upgrades it when it
   starts, keeps the open session as one of the voice MRD 1 and the row
   as the voice MRD's (MRDomainID in Agent_Interval's key), and says
   nothing is wrong.
3. Agent_Interval per MRD: 2 agents signed in to the voice MRD and MRD 2
   by their desktops, intervals of 6 s; the CTI server active on the side
   that does not hold the PIM (its states and tasks handled go over the
   private link).  An ARM session starts a task of 1001 in MRD 2 half a
   second into an interval and ends it 2 s later: that interval has four
   rows, one per agent and MRD, each logged on the whole interval, 1001's
   in MRD 2 with 2 s of TalkTime (ACTIVE), 4 s available and one task
   handled, the others available all along; `router intervals` names the
   MRD.  kill -9 of the side that holds the PIM: the router's R1 record
   counts one row per agent and MRD logged in (4 per interval).
"""
import os
import signal
import sqlite3
import time

import ged188_client as g
from pgemu_test import (FAST, check, cti, cti_connect, dbtime, ev, log,
                        node_of, other, run, wait_cti_active, wait_for,
                        wait_online)

AGENTS = 5
IVL = 6
MRDS = ('{ id = 7; name = "Cisco_Voice"; media = "voice"; },\n'
        '  { id = 2; name = "Email"; media = "email"; }')


def voice_mrd_rows(Lab):
    lab = Lab("mrd7", agents=AGENTS, mrds=MRDS, **FAST)
    lab.start_all()
    lab.wait_links_up()
    p = wait_online(lab, 10, agents=AGENTS)
    agents = lab.ctl("router", "agents")
    check(len(agents) == AGENTS and all(a["mrd"] == 7 for a in agents),
          "router agents not in the voice MRD 7: %r" % agents)
    wr = lab.watch("router")
    active = node_of(p["active_side"])
    lab.kill(active, signal.SIGKILL)
    wr.wait(ev("agents_logged_out"), 5, "router: agents_logged_out (R6)")
    wait_for(lambda: len(lab.query("SELECT 1 FROM Agent_Logout")) >= AGENTS,
             3, "%d Agent_Logout rows" % AGENTS)
    rows = lab.query("SELECT SkillTargetID, MRDomainID, ReasonCode FROM "
                     "Agent_Logout")
    check(all(r[1] == 7 and r[2] == 50002 for r in rows) and
          len(rows) == AGENTS, "Agent_Logout rows not of MRD 7: %r" % rows)
    wait_for(lambda: len(lab.query("SELECT 1 FROM Agent_Event_Detail WHERE "
                                   "Event = 2")) >= AGENTS, 3,
             "%d Event 2 rows" % AGENTS)
    rows = lab.query("SELECT DISTINCT MRDomainID FROM Agent_Event_Detail")
    check(rows == [(7,)], "Agent_Event_Detail MRDomainIDs: %r" % rows)
    p = wait_online(lab, 10, agents=AGENTS)
    check(node_of(p["active_side"]) == other(active),
          "the other side did not take over: %r" % p)
    log("voice MRD 7: the router's agents and %d logout rows carry it" %
        AGENTS)


def upgrade(Lab):
    lab = Lab("mrdup", agents=AGENTS, **FAST)
    con = sqlite3.connect(os.path.join(lab.dir, "history.db"))
    con.executescript(
        "CREATE TABLE pgemu_session (PeripheralID INTEGER NOT NULL,"
        " SkillTargetID INTEGER NOT NULL, LoginDateTime TEXT,"
        " LoginTime REAL, PRIMARY KEY (PeripheralID, SkillTargetID));"
        "INSERT INTO pgemu_session VALUES (5000, 1001,"
        " '2026-12-01 10:00:00.000', 1764583200.0);"
        "CREATE TABLE Agent_Interval ("
        " DateTime TEXT NOT NULL, SkillTargetID INTEGER NOT NULL,"
        " TimeZone INTEGER NOT NULL DEFAULT 0,"
        " PeripheralID INTEGER NOT NULL,"
        " LoggedOnTime INTEGER, AvailTime INTEGER, NotReadyTime INTEGER,"
        " ReservedStateTime INTEGER, TalkTime INTEGER,"
        " WorkReadyTime INTEGER, WorkNotReadyTime INTEGER,"
        " CallsHandled INTEGER, IntervalLength INTEGER,"
        " Incomplete INTEGER NOT NULL DEFAULT 0, PGSide TEXT,"
        " Epoch INTEGER, Seq INTEGER, RecordedAt TEXT,"
        " PRIMARY KEY (DateTime, SkillTargetID, TimeZone));"
        "INSERT INTO Agent_Interval VALUES ('2026-12-01 10:00:00.000',"
        " 1001, 0, 5000, 1800, 1700, 100, 0, 0, 0, 0, 0, 1800, 0, 'A',"
        " 3, 1, '2026-12-01 10:30:00.000');")
    con.commit()
    con.close()
    lab.start("router")
    cols = [r[1] for r in lab.query("PRAGMA table_info(pgemu_session)")]
    check("MRDomainID" in cols, "pgemu_session not upgraded: %r" % cols)
    rows = lab.query("SELECT PeripheralID, SkillTargetID, MRDomainID, "
                     "LoginTime FROM pgemu_session")
    check(rows == [(5000, 1001, 1, 1764583200.0)],
          "the open session was not kept as one of MRD 1: %r" % rows)
    rows = lab.query("SELECT SkillTargetID, MRDomainID, LoggedOnTime, Seq "
                     "FROM Agent_Interval")
    check(rows == [(1001, 1, 1800, 1)],
          "the interval row was not kept as one of MRD 1: %r" % rows)
    key = [r[1] for r in lab.query("PRAGMA table_info(Agent_Interval)")
           if r[5] > 0]
    check("MRDomainID" in key, "Agent_Interval's key: %r" % key)
    check(not lab.grep_log("router", r"warning|error"),
          "the router complained: %s" % lab.log_text("router"))
    log("an older database upgraded: the open session and the interval "
        "row kept in MRD 1")


def router_state(lab, agent, mrd):
    for a in lab.ctl("router", "agents"):
        if a["id"] == agent and a["mrd"] == mrd:
            return a["state"] if a["logged_in"] else "logged out"
    return None


def every_agent_available(lab, n):
    return all(router_state(lab, a, m) == "available"
               for a in range(1001, 1001 + n) for m in (1, 2))


def interval_rows(lab, start):
    return lab.query("SELECT SkillTargetID, MRDomainID, LoggedOnTime, "
                     "AvailTime, TalkTime, CallsHandled, Incomplete FROM "
                     "Agent_Interval WHERE DateTime = ? ORDER BY "
                     "SkillTargetID, MRDomainID", (dbtime(start),))


def per_mrd_rows(Lab):
    n = 2
    lab = Lab("mrdivl", agents=n, desktops=True, agent_mrds=[1, 2],
              interval=IVL, hb_desktop=(100, 3), **FAST)
    lab.start_all()
    lab.wait_links_up()
    pim = node_of(wait_online(lab, 10, agents=n)["active_side"])
    arm = other(pim)
    # The CTI server of the side without the PIM: what it asks of the PIM
    # goes over the private link (PEER_SET_AGENT).
    if cti(lab, pim)["active"]:
        lab.ctl(pim, "stop", "cti-server")
    wait_cti_active(lab, arm)
    wait_for(lambda: every_agent_available(lab, n), 15,
             "every agent available in MRDs 1 and 2")
    s = cti_connect(lab, arm, "arm")
    m = s.open(client_id="arm", services=g.CTI_SERVICE_AGENT_REPORTING,
               floating=[(g.APP_PATH_ID_TAG, g.flt_int(7))])
    check(m["type"] == g.OPEN_CONF, "ARM session: %r" % m)

    # An interval of its own: the task from 0.5 s into it, for 2 s.
    start = (int(time.time()) // IVL + 1) * IVL
    if start - time.time() < 1:
        start += IVL
    time.sleep(start + 0.5 - time.time())
    r = s.app_task(g.START_APPLICATION_TASK_REQ, 5000, 2, 1001)
    t0 = time.time()
    check(r["type"] == g.START_APPLICATION_TASK_RESP and r["Status"] == 0,
          "START_APPLICATION_TASK_REQ: %r" % r)
    wait_for(lambda: router_state(lab, 1001, 2) == "active", 2,
             "1001 active in MRD 2")
    time.sleep(t0 + 2.0 - time.time())
    inv = s.task_ind(g.END_TASK_IND, 5000, 2, 1001,
                     (r["TaskGroupHigh"], r["TaskGroupLow"],
                      r["SequenceNumber"]), flags=g.TASKF_APP_ROUTED)
    hb = s.heartbeat()
    check(hb["type"] == g.HEARTBEAT_CONF and
          not [x for x in s.log if x.get("InvokeID") == inv],
          "END_TASK_IND refused: %r" % s.log[-3:])
    check(time.time() < start + IVL - 1, "the task did not end well "
          "within its interval (the machine is slow)")
    wait_for(lambda: len(interval_rows(lab, start)) == 2 * n, IVL + 5,
             "%d rows of interval %s" % (2 * n, dbtime(start)))
    rows = interval_rows(lab, start)
    want = [(1001, 1, IVL, IVL, 0, 0, 0), (1001, 2, IVL, IVL - 2, 2, 1, 0),
            (1002, 1, IVL, IVL, 0, 0, 0), (1002, 2, IVL, IVL, 0, 0, 0)]
    check(rows == want, "interval %s: %r, wanted %r" % (dbtime(start),
                                                        rows, want))
    shown = {(x["SkillTargetID"], x["MRDomainID"]): x["TalkTime"]
             for x in lab.ctl("router", "intervals", "4")}
    check(shown.get((1001, 2)) == 2, "router intervals: %r" % shown)
    log("interval %s: a row per agent and MRD, the task's 2 s as TalkTime "
        "in MRD 2, one handled" % dbtime(start))

    # R1 at the router: one row per agent and MRD logged in.
    wr = lab.watch("router")
    lab.kill(pim, signal.SIGKILL)
    e = wr.wait(ev("data_discarded"), 5, "router: data_discarded (R1)")
    check(e["rule"] == "R1" and e["intervals"] >= 1 and
          e["rows"] == 2 * n * e["intervals"],
          "data_discarded: %r, wanted %d rows an interval" % (e, 2 * n))
    log("kill -9 of %s: R1 counts %d rows over %d interval(s)" % (
        pim, e["rows"], e["intervals"]))


@run
def main(Lab):
    voice_mrd_rows(Lab)
    upgrade(Lab)
    per_mrd_rows(Lab)

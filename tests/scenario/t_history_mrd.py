"""The router's real-time table and the history database carry the MRD: an
agent is logged in, and has a state, per Media Routing Domain
(docs/failover.md, "Reporting data").

1. A lab whose voice MRD is 7 (not the product's default 1): the router's
   `agents` lists each agent in MRD 7; a PG side failover (kill -9, R6)
   writes every Agent_Logout and Agent_Event_Detail row with MRDomainID 7.
2. A history database made by an older pgemu (pgemu_session without
   MRDomainID, an open session of agent 1001 in it): the router upgrades
   it when it starts, keeps the open session as one of the voice MRD 1,
   and says nothing is wrong.
"""
import os
import signal
import sqlite3

from pgemu_test import (FAST, check, ev, log, node_of, other, run,
                        wait_for, wait_online)

AGENTS = 5
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
        " '2026-12-01 10:00:00.000', 1764583200.0);")
    con.commit()
    con.close()
    lab.start("router")
    cols = [r[1] for r in lab.query("PRAGMA table_info(pgemu_session)")]
    check("MRDomainID" in cols, "pgemu_session not upgraded: %r" % cols)
    rows = lab.query("SELECT PeripheralID, SkillTargetID, MRDomainID, "
                     "LoginTime FROM pgemu_session")
    check(rows == [(5000, 1001, 1, 1764583200.0)],
          "the open session was not kept as one of MRD 1: %r" % rows)
    check(not lab.grep_log("router", r"warning|error"),
          "the router complained: %s" % lab.log_text("router"))
    log("an older database upgraded: the open session kept in MRD 1")


@run
def main(Lab):
    voice_mrd_rows(Lab)
    upgrade(Lab)

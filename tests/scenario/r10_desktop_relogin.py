"""R10: the agent is logged back in automatically when its desktop
reaches the backup desktop server, or when its connection comes back;
the logout reports show reason code 50002.

Proves, with 20 desktops on desk-a (real pgemud processes):
 * kill -9 of desk-a: the agents node's one desktop_relogin event (R10):
   20 agents logged back in through desk-b, none missing; desk-b's
   `desktops` lists the 20 with the relogin flag; `agents status`: 20 on
   desk-b, available; the router's real-time table has every agent logged
   in again; the history database holds one Agent_Logout row per agent
   with ReasonCode 50002 and a login row (Agent_Event_Detail Event 1)
   after each logout; the log line of the event;
 * `pgemuctl agents fault 1001 down`, then `up`: 1001 alone logged out
   (50002) and back in (desktop_relogin for 1 agent), in the router's
   table and at the ACD.
"""
from pgemu_test import (check, desk_lab_online, ev, log, run, wait_for)

AGENTS = 20
IDS = list(range(1001, 1001 + AGENTS))


def router_in(lab):
    return {a["id"]: a["logged_in"] for a in lab.ctl("router", "agents")}


def test(Lab):
    lab = desk_lab_online(Lab, "r10", AGENTS)
    wa = lab.watch("agents")
    lab.kill("desk-a")
    e = wa.wait(ev("desktop_relogin"), 10, "agents: desktop_relogin")
    check(e["rule"] == "R10" and e["agents"] == AGENTS and
          e["server"] == "desk-b" and e["missing"] == 0,
          "desktop_relogin: %r" % e)
    lab.wait_log("agents", r"\[R10\] 20 agents logged back in through "
                 r"desk-b in \d+ ms")
    ds = lab.ctl("desk-b", "desktops")
    check(sorted(d["agent"] for d in ds) == IDS and
          all(d["relogin"] and d["state"] == "available" for d in ds),
          "desk-b desktops: %r" % ds)
    st = lab.ctl("agents", "status")["agents"]
    check(st["servers"] == {"desk-b": AGENTS} and
          st["states"] == {"available": AGENTS} and st["lost"] == 0,
          "agents status: %r" % st)
    wait_for(lambda: all(router_in(lab).values()), 5,
             "router: every agent logged in again")
    wait_for(lambda: len(lab.query("SELECT 1 FROM Agent_Logout")) >= AGENTS,
             5, "20 Agent_Logout rows")
    rows = lab.query("SELECT SkillTargetID, ReasonCode, LogoutDateTime "
                     "FROM Agent_Logout ORDER BY SkillTargetID")
    check([r[0] for r in rows] == IDS and all(r[1] == 50002 for r in rows),
          "Agent_Logout: %r" % rows)
    out = {r[0]: r[2] for r in rows}
    wait_for(lambda: len({r[0] for r in lab.query(
        "SELECT SkillTargetID, DateTime FROM Agent_Event_Detail WHERE "
        "Event = 1") if r[1] >= out[r[0]]}) == AGENTS, 5,
        "a login row after each agent's logout")
    log("kill -9 desk-a: %s; 20 logout rows (50002), then 20 logins" %
        e["message"])

    wa.mark()
    lab.ctl("agents", "fault", "1001", "down")
    wait_for(lambda: not router_in(lab)[1001], 5, "router: 1001 out")
    check(sum(router_in(lab).values()) == AGENTS - 1, "others out too")
    lab.ctl("agents", "fault", "1001", "up")
    e = wa.wait(ev("desktop_relogin"), 10, "agents: desktop_relogin of 1001")
    check(e["agents"] == 1 and e["missing"] == 0, "relogin of 1001: %r" % e)
    wait_for(lambda: all(router_in(lab).values()), 5, "router: 1001 back")
    acd = {a["id"]: a for a in lab.ctl("acd", "agents")}
    check(acd[1001]["state"] == "available", "acd: 1001 %r" % acd[1001])
    # The session rows are written behind the real-time path.
    wait_for(lambda: lab.query("SELECT ReasonCode FROM Agent_Logout WHERE "
                               "SkillTargetID = 1001") ==
             [(50002,), (50002,)], 5, "1001's two logout rows, 50002")
    log("agents fault 1001 down/up: %s" % e["message"])


if __name__ == "__main__":
    run(test)

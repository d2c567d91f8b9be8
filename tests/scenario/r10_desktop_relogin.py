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
 * what a CTI client sees of it: two bridge (ALL_EVENTS) sessions of the
   independent client (tests/scenario/ged188_client.py, written from the
   public tables), at versions 13 and 20, get for every agent an
   AGENT_STATE_EVENT LOGOUT with EventReasonCode 50002, then its login
   and AVAILABLE again, each with the version's fixed part (58 bytes at
   13, 62 at 20), the floating AgentID in the version's width, MRDID the
   lab's voice MRD and the peripheral's id.
"""
import ged188_client as g
from pgemu_test import (check, cti_open_active, desk_lab_online, ev, log,
                        run, wait_for)

AGENTS = 20
IDS = list(range(1001, 1001 + AGENTS))


def router_in(lab):
    return {a["id"]: a["logged_in"] for a in lab.ctl("router", "agents")}


def bridge(lab, version):
    """An ALL_EVENTS session of the independent client, at version."""
    node, s, conf = cti_open_active(lab, name="bridge-%d" % version,
                                    version=version,
                                    client_id="bridge-%d" % version,
                                    services=g.CTI_SERVICE_ALL_EVENTS)
    check(conf["type"] == g.OPEN_CONF, "bridge v%d: %r" % (version, conf))
    s.start = s.mark()
    return s


def check_bridge(s, version):
    """Every agent out with 50002, then in and AVAILABLE, as the bridge
    saw it, byte by byte where the version decides."""
    want_len = 58 if version < 19 else 62

    def of(agent):
        return [m for m in s.log[s.start:] if
                m["type"] == g.AGENT_STATE_EVENT and
                m.string(g.AGENT_ID_TAG) == str(agent)]
    s.wait_for(lambda m: all(
        any(e["AgentState"] == g.AGENT_STATE_AVAILABLE and
            any(x["AgentState"] == g.AGENT_STATE_LOGOUT for x in
                of(a)[:of(a).index(e)]) for e in of(a)) for a in IDS),
        10, "bridge v%d: every agent out and available again" % version)
    for a in IDS:
        evs = of(a)
        out = [e for e in evs if e["AgentState"] == g.AGENT_STATE_LOGOUT]
        check(out and out[0]["EventReasonCode"] == 50002,
              "bridge v%d: agent %d's logout %r" % (version, a, out))
        later = evs[evs.index(out[0]):]
        check(any(e["AgentState"] == g.AGENT_STATE_AVAILABLE for e in
                  later), "bridge v%d: %d not available again: %r" % (
                      version, a, later))
        for e in evs:
            check(e["fixed_len"] == want_len and e["MRDID"] == 1 and
                  e["PeripheralID"] == 5000 and e["MonitorID"] == 0,
                  "bridge v%d: AGENT_STATE_EVENT of %d: %r" % (
                      version, a, e))
            raw = e["body"][want_len:]
            tag = bytes([g.AGENT_ID_TAG]) if version < 20 else \
                g.AGENT_ID_TAG.to_bytes(2, "big")
            check(tag in raw, "bridge v%d: no AgentID in the %s-byte "
                  "floating width: %r" % (version, 1 if version < 20 else 2,
                                          raw))
    log("bridge v%d: %d agents out (50002) and back, %d-byte fixed parts"
        % (version, AGENTS, want_len))


def test(Lab):
    lab = desk_lab_online(Lab, "r10", AGENTS)
    bridges = {v: bridge(lab, v) for v in (13, 20)}
    wa = lab.watch("agents")
    lab.kill("desk-a")
    # One event per burst of losses: the 20, unless the kernel told a
    # loaded machine's desktops of desk-a's end far apart (then more
    # events, that count 20 between them).
    back = 0
    while back < AGENTS:
        e = wa.wait(ev("desktop_relogin"), 10, "agents: desktop_relogin")
        check(e["rule"] == "R10" and e["server"] == "desk-b" and
              e["missing"] == 0, "desktop_relogin: %r" % e)
        lab.wait_log("agents", r"\[R10\] %d agents? logged back in through "
                     r"desk-b in \d+ ms" % e["agents"])
        back += e["agents"]
    check(back == AGENTS, "%d agents logged back in, not %d" % (back,
                                                                 AGENTS))
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
    for v, s in bridges.items():
        check_bridge(s, v)

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

"""R11, Table 2: after its desktop fails over, an agent is logged back in
with the state Table 2 gives for its state when the desktop lost its
server (docs/failover.md, "Table 2 (R11) as implemented").

States are driven before the fault through the desktop (`pgemuctl agents
agent ID set ...`) and at the ACD (`pgemuctl acd agent ID set ...`),
traffic off:
  1001 available                            -> available
  1002 not ready, reason 7 (desktop)        -> not ready, reason 7
  1003 reserved                             -> available
  1004 available, work_ready                -> available (wrap-up after
                                               Available)
  1005 not ready (desktop), work_not_ready  -> not ready (wrap-up after
                                               Not Ready)
  1006 available, talking                  -> available (decision: as
                                               wrap-up)
  1007 not ready (desktop), hold            -> not ready (decision)
  1008..1010 available (untouched)          -> available
Proves, after kill -9 of desk-a: each desktop saw the state and the
before-call state (`agents agent ID`), asked desk-b for Table 2's state,
and the agent is in it at the ACD (its truth), in the router's real-time
table and on its desktop; the desktop_relogin event (R10) counts every
agent.
"""
from pgemu_test import (check, desk_lab_online, ev, log, run, wait_for)

AGENTS = 10
# agent: (desktop's state, ACD state set after it, before_call, after)
DRIVE = {
    1002: ("not_ready", None, None, "not_ready"),
    1003: (None, "reserved", "available", "available"),
    1004: (None, "work_ready", "available", "available"),
    1005: ("not_ready", "work_not_ready", "not_ready", "not_ready"),
    1006: (None, "talking", "available", "available"),
    1007: ("not_ready", "hold", "not_ready", "not_ready"),
}
AFTER = {i: DRIVE[i][3] if i in DRIVE else "available"
         for i in range(1001, 1001 + AGENTS)}


def drive(lab):
    for a, (desk, acd, before, after) in DRIVE.items():
        if desk:
            lab.ctl("agents", "agent", str(a), "set", desk, "7")
            wait_for(lambda: lab.ctl("agents", "agent", str(a))["state"] ==
                     desk, 5, "%d's desktop: %s" % (a, desk))
        if acd:
            lab.ctl("acd", "agent", str(a), "set", acd)
            wait_for(lambda: lab.ctl("agents", "agent", str(a))["state"] ==
                     acd, 5, "%d's desktop: %s" % (a, acd))
        d = lab.ctl("agents", "agent", str(a))
        check(before is None or d["before_call"] == before,
              "%d's desktop: before the call %r, not %s" % (
                  a, d["before_call"], before))


def test(Lab):
    lab = desk_lab_online(Lab, "r11", AGENTS)
    drive(lab)
    log("states driven: %s" % {a: lab.ctl("agents", "agent", str(a))
                               ["state"] for a in DRIVE})
    wa = lab.watch("agents")
    lab.kill("desk-a")
    e = wa.wait(ev("desktop_relogin"), 10, "agents: desktop_relogin")
    check(e["agents"] == AGENTS and e["missing"] == 0 and
          e["server"] == "desk-b", "desktop_relogin: %r" % e)

    def acd_states():
        return {a["id"]: a for a in lab.ctl("acd", "agents")}
    wait_for(lambda: {i: a["state"] for i, a in acd_states().items()} ==
             AFTER, 5, "the ACD: Table 2's states")
    acd = acd_states()
    check(acd[1002]["reason"] == 7 and acd[1007]["reason"] == 7,
          "not ready reasons kept: 1002 %r, 1007 %r" % (
              acd[1002]["reason"], acd[1007]["reason"]))
    wait_for(lambda: {a["id"]: a["state"] for a in lab.ctl("router",
                                                           "agents")} ==
             AFTER, 5, "the router: Table 2's states")
    for a, want in AFTER.items():
        d = lab.ctl("agents", "agent", str(a))
        check(d["state"] == want and d["server"] == "desk-b",
              "%d's desktop after: %r, wanted %s" % (a, d, want))
    log("kill -9 desk-a: Table 2 at the ACD, the router and the "
        "desktops: %s" % AFTER)


if __name__ == "__main__":
    run(test)

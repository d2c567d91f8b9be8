"""Desktops that log in before the peripheral is online are logged in
once it is (the README's first command starts every node at once, and the
desktop server often opens its CTI session first).

The lab's nodes start without the ACD: the CTI server refuses each login
(CONTROL_FAILURE_CONF, internal processing error: no PIM) and each MRD
sign-in (MEDIA_LOGIN_RESP E_ARM_STAT_CC_OFFLINE); desk-a says it will try
again (once, at info; each refusal at debug).  Then the ACD starts: the peripheral comes online and every agent
is logged in, in the state its desktop asked for (available), in the
voice MRD and in MRD 2, ready there too, without a desktop doing anything.
Before the fix the voice logins stayed refused (state unknown) and the
MRD sign-ins came back Not Ready.
"""
from pgemu_test import (DESK_NODES, FAST, check, log, run, wait_for)

AGENTS = 6


def test(Lab):
    lab = Lab("early", agents=AGENTS, desktops=True, agent_mrds=[1, 2],
              hb_desktop=(100, 3), **FAST)
    for n in ("router", "pg-a", "pg-b") + DESK_NODES:
        lab.start(n)
    wait_for(lambda: lab.ctl("agents", "status")["agents"]["connected"] ==
             AGENTS, 10, "every desktop connected")
    lab.wait_log("desk-a", r"request for agent 1001 refused: control "
                 r"failure 269 \(no PIM: again once the peripheral is "
                 r"online\)", 10)
    lab.wait_log("desk-a", r"sign-in of agent 1001 to MRD 2 refused: "
                 r"E_ARM_STAT 36 \(no PIM: again once the peripheral is "
                 r"online\)", 10)
    log("logins refused while the peripheral is offline")
    # Each at debug; said once at info, never at warning (none is lost,
    # and 10,000 agents would make 50,000 such lines).
    text = lab.log_text("desk-a")
    check(text.count("requests refused while peripheral 5000 has no PIM: "
                     "each made again once it is online") == 1 and
          "warning: link cti-link: request for agent" not in text and
          "warning: link cti-link: sign-in of agent" not in text,
          "the refusals for want of a PIM, in desk-a's log:\n%s" %
          text[-3000:])
    lab.start("acd")
    lab.wait_log("desk-a", r"peripheral 5000 online: %d logins and %d MRD "
                 r"sign-ins refused while it had no PIM made again" %
                 (AGENTS, AGENTS), 10)

    def all_ready():
        for i in range(AGENTS):
            a = lab.ctl("agents", "agent", str(1001 + i))
            st = {m["mrd"]: m["state"] for m in a["mrds"]}
            if st != {1: "available", 2: "available"}:
                return False
        return True
    wait_for(all_ready, 10, "every agent available in MRDs 1 and 2")
    p = lab.status("router")["peripheral"]
    check(p["online"] and p["agents_logged_in"] == AGENTS, "router: %r" %
          (p,))
    rt = {(a["id"], a["mrd"]): a["state"] for a in lab.ctl("router",
                                                             "agents")}
    check(all(rt[(1001 + i, m)] == "available" for i in range(AGENTS)
              for m in (1, 2)), "router's real-time table: %r" % rt)


if __name__ == "__main__":
    run(test)

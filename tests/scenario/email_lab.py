"""What the R19 tests share: a lab of 3 agents in MRDs 1 (voice) and 2
(email, task_life 60 s) with their desktops and the app (tasks of 5 s),
and the views of the email MRD each node gives."""
from pgemu_test import (DEFAULT_NODES, FAST, SLOW, check, log, wait_for,
                        wait_online)

AGENTS = 3
IDS = (1001, 1002, 1003)
EMAIL = 2
T = 10 * SLOW
MRDS = ('{ id = 1; name = "Cisco_Voice"; media = "voice"; },\n'
        '  { id = 2; name = "Email"; media = "email"; max_tasks = 5;'
        ' interruptible = true; task_life = 60; }')


def email_lab(Lab, name):
    """The lab started, every link up, the peripheral online with every
    agent: the lab and the peripheral's status."""
    lab = Lab(name, agents=AGENTS, desktops=True, media=True,
              agent_mrds=[1, EMAIL], mrds=MRDS, mr_handle_ms=5000,
              hb_desktop=(100, 3), **FAST)
    lab.start_all()
    lab.wait_links_up(DEFAULT_NODES)
    return lab, wait_online(lab, 10, agents=AGENTS)


def arm(lab):
    """The app's ARM session, as it tells it."""
    return lab.status("app")["app"]["arm"]


def router_mrd(lab, mrd):
    """{agent: state or "logged out"} of the router's real-time table."""
    return {a["id"]: a["state"] if a["logged_in"] else "logged out"
            for a in lab.ctl("router", "agents") if a["mrd"] == mrd}


def cti_email(lab, node):
    """{state: count} of the email MRD as NODE's CTI server sees it."""
    return lab.ctl(node, "cti")["agents"].get(str(EMAIL), {})


def desk_email(lab):
    """{agent: its desktop's state in the email MRD}."""
    out = {}
    for i in IDS:
        for m in lab.ctl("agents", "agent", str(i))["mrds"]:
            if m["mrd"] == EMAIL:
                out[i] = m["state"]
    return out


def app_tasks(lab):
    """{dialogue: task} of the app."""
    return {t["dialogue"]: t for t in lab.ctl("app", "tasks")}


def tasks_end_recreated(lab, first, third):
    """The tasks end: three Termination_Call_Detail rows, only the one
    the router never heard the start of (third) flagged Recreated; every
    agent available again in the email MRD."""
    log("the tasks end: only the one the router missed is Recreated")
    wait_for(lambda: lab.query("SELECT COUNT(*) FROM "
                               "Termination_Call_Detail")[0][0] == 3, T,
             "3 Termination_Call_Detail rows")
    rows = dict(lab.query("SELECT DialogueID, Recreated FROM "
                          "Termination_Call_Detail"))
    want = {d: 0 for d in first}
    want[third["dialogue"]] = 1
    check(rows == want, "Termination_Call_Detail Recreated: %r, want %r" %
          (rows, want))
    wait_for(lambda: router_mrd(lab, EMAIL) == {i: "available" for i in IDS}
             and arm(lab)["agents_available"] == AGENTS, T,
             "every agent available again in MRD 2")


def third_task(lab, first):
    """A task routed while the app's ARM session is down (first: the app's
    tasks before): started, and the app's record of the email MRD has
    every agent ACTIVE."""
    lab.ctl("app", "new-task", "Email", "1")
    third = wait_for(lambda: [t for d, t in app_tasks(lab).items()
                              if d not in first and
                              t["state"] == "started"], T,
                     "the third task started")[0]
    check(arm(lab)["resync"]["email_states"] == {"active": AGENTS},
          "the app's record: %r" % arm(lab)["resync"])
    return third

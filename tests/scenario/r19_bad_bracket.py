"""R19's resync bracket at the CTI server alone, sent by the tests' client
(ged188_client.py: the pgemu-defined layouts as docs/protocol.md prints
them, not pgemu's codec) on an ARM session, in a duplex lab with the
desktop servers, the desktops and media routing whose app node the test
does not start.  MRDs 1 (voice), 2 (email) and 3 (chat); agents 1001,
1002 in MRDs 1 and 2, 3001 in 1, 2 and 3 (their desktops sign them in,
available), 3002 in 1 and 2 without a desktop (never signed in to 2).

 (1) an ARM session hears AGENT_INIT_READY_EVENT (PeripheralID 5000)
     right after its OPEN_CONF; a session without AGENT_REPORTING hears
     none, and its BEGIN_AGENT_INIT_IND gets FAILURE_CONF 12;
 (2) out of order, before a bracket: AGENT_INIT_REQ, END_AGENT_INIT_IND,
     TASK_INIT_REQ get FAILURE_RESP 19 (E_ARM_STAT_INVALID_MESSAGE_
     SEQUENCE), a line naming the peer and the message, and the session
     serves on (heartbeat); BEGIN for a peripheral the PG does not serve
     FAILURE_CONF 7;
 (3) inside the bracket: BEGIN again 19, an OFFER_TASK_IND 19;
     AGENT_INIT_REQ of no such agent 2, of the voice MRD and of a chat MRD
     88, with state LOGOUT FAILURE_CONF 38, of an agent not signed in 6;
     TASK_INIT_IND without TaskID FAILURE_CONF 6, with TaskState 3 38,
     with TaskFlags 0x10 22; TASK_INIT_REQ with a TaskID 19;
 (4) taken inside it: AGENT_INIT_REQ 1001 ACTIVE (1 task, 5 s in it) ->
     AGENT_INIT_RESP Status 0, AGENT_STATE_EVENT ACTIVE MRDID 2 to an
     ALL_EVENTS session; 1002 RESERVED; TASK_INIT_IND of a router's
     TaskID started; TASK_INIT_REQ offered -> TASK_INIT_RESP with a TaskID
     of the server's; END -> event agents_resynced (R19: 2 agents, 1 task
     known, 1 begun, 9 refused) and the counters of `pgemuctl status`;
     BEGIN or AGENT_INIT_REQ after it: 19;
 (5) what the others see: the task table (and the standby's copy), the
     router's real-time states as told, two Agent_Event_Detail rows
     Recreated (Event 4, R19), its tasks flagged recreated; the router's
     task ended by END_TASK_IND: a Termination_Call_Detail row Recreated 1;
 (6) an AGENT_INIT_REQ shorter than its 32 bytes: FAILURE_CONF 2, that
     session closed with a line naming the peer and the type, the other
     sessions served;
(7) R18 and R20 through the bracket (the email MRD's task life 2 s): a
     task started, the ARM session closed, the task ended with 42
     (segment 1); a new session's bracket tells it started: its report
     resumes (tasks_resumed R20, segment 2, TASKF_RESUMED), the router's
     segment 2 recreated, at its end a second row, Segment 2, Recreated;
 (8) a task offered and started on that session, the session closed and
     a new one's bracket does not tell it: it ends with CallDisposition 51
     (Task Ended During Application Init, flag 4), agents_resynced says
     tasks_ended 1, out of the CTI server's table and the standby's copy.
"""
import time

import ged188_client as g
from pgemu_test import (FAST, SLOW, check, cti, cti_connect, cti_log_names,
                        cti_open_active, ev, log, other, run, wait_for,
                        wait_online)

PERIPHERAL = 5000
LIFE = 2            # task_life of the email MRD (R18), seconds
VOICE, EMAIL, CHAT = 1, 2, 3
PATH = 7
T = 5 * SLOW
MRDS = ('{ id = 1; name = "Cisco_Voice"; media = "voice"; },\n'
        '  { id = 2; name = "Email"; media = "email"; max_tasks = 5;'
        ' task_life = %d; },\n'
        '  { id = 3; name = "Chat"; media = "chat"; max_tasks = 2; }' % LIFE)
LIST = ('{ id = 3001; skill_groups = [ 100 ]; mrds = [ 1, 2, 3 ]; '
        'desktop = true; },\n'
        '    { id = 3002; skill_groups = [ 100 ]; mrds = [ 1, 2 ]; }')
ROUTER_TASK = (20000, 1, 0)
RESP_OR_FAIL = (g.FAILURE_RESP, g.FAILURE_CONF)


def router_state(lab, agent, mrd=EMAIL):
    for a in lab.ctl("router", "agents"):
        if a["id"] == agent and a["mrd"] == mrd:
            return a["state"] if a["logged_in"] else "logged out"
    return None


def start_lab(Lab):
    lab = Lab("r19bad", agents=2, desktops=True, agent_mrds=[1, 2],
              mrds=MRDS, list_agents=LIST, hb_desktop=(100, 3), media=True,
              **FAST)
    lab.start_all([n for n in lab.nodes if n != "app"])
    for n, links in (("pg-a", ("router-link", "acd-link", "private-link")),
                     ("pg-b", ("router-link", "acd-link", "private-link")),
                     ("router", ("pg-a", "pg-b"))):
        wait_for(lambda: lab.links_up(n, links), 10, "%s: %s UP" % (
            n, ", ".join(links)))
    wait_online(lab, 10)
    wait_for(lambda: all(router_state(lab, a) == "available"
                         for a in (1001, 1002, 3001)), 10,
             "router: 1001, 1002, 3001 available in MRD 2")
    return lab


def open_arm(lab, node, cid="arm", services=g.CTI_SERVICE_AGENT_REPORTING):
    s = cti_connect(lab, node, cid)
    m = s.open(client_id=cid, version=24, services=services,
               floating=[(g.APP_PATH_ID_TAG, g.flt_int(PATH))])
    check(m["type"] == g.OPEN_CONF, "%s: OPEN answered %r" % (cid, m))
    return s


def answered(s, inv, mtype, status, what):
    """The answer to InvokeID inv is mtype with that Status."""
    r = s.wait_type(RESP_OR_FAIL + (g.AGENT_INIT_RESP, g.TASK_INIT_RESP), T,
                    inv)
    check(r["type"] == mtype and r["Status"] == status,
          "%s: %r, expected %s %d" % (what, r, g.msg_name(mtype), status))
    return r


def silent(s, inv, what):
    """Nothing answers inv: a heartbeat behind it proves it."""
    hb = s.heartbeat(T)
    bad = [m for m in s.log if m.get("InvokeID") == inv and
           m["type"] != g.HEARTBEAT_CONF]
    check(hb["type"] == g.HEARTBEAT_CONF and not bad,
          "%s answered: %r" % (what, bad))


def agent_init(s, agent, mrd=EMAIL, state=g.AGENT_STATE_AVAILABLE,
               periph=PERIPHERAL, tasks=0, duration=0):
    return s.agent_init(periph, mrd, agent, state, num_tasks=tasks,
                        duration=duration, agent_id=str(agent), timeout=T)


def task_ind(s, agent, task, state=g.TASK_INIT_STARTED, flags=0,
             dialogue=77):
    now = int(time.time())
    return s.task_init_ind(PERIPHERAL, EMAIL, agent, task, dialogue, flags,
                           state, now - 3, now - 2)


def out_of_order(lab, act, arm):
    r = agent_init(arm, 1001)
    check(r["type"] == g.FAILURE_RESP and
          r["Status"] == g.E_ARM_STAT_INVALID_MESSAGE_SEQUENCE,
          "AGENT_INIT_REQ outside a bracket: %r" % r)
    inv = arm.init_bracket(g.END_AGENT_INIT_IND, PERIPHERAL)
    answered(arm, inv, g.FAILURE_RESP, 19, "END outside a bracket")
    r = arm.task_init_req(PERIPHERAL, EMAIL, 1001, dialogue=80, timeout=T)
    check(r["type"] == g.FAILURE_RESP and r["Status"] == 19,
          "TASK_INIT_REQ outside a bracket: %r" % r)
    check(arm.heartbeat(T)["type"] == g.HEARTBEAT_CONF, "session gone")
    cti_log_names(lab, act, arm.local_port(), g.AGENT_INIT_REQ)
    cti_log_names(lab, act, arm.local_port(), g.END_AGENT_INIT_IND)
    inv = arm.init_bracket(g.BEGIN_AGENT_INIT_IND, 9999)
    answered(arm, inv, g.FAILURE_CONF, g.E_CTI_INVALID_PERIPHERAL_ID,
             "BEGIN of peripheral 9999")
    log("(2) outside a bracket: FAILURE_RESP 19, FAILURE_CONF 7; serving")


def inside(lab, act, arm, mon):
    inv = arm.init_bracket(g.BEGIN_AGENT_INIT_IND, PERIPHERAL)
    silent(arm, inv, "BEGIN_AGENT_INIT_IND")
    inv = arm.init_bracket(g.BEGIN_AGENT_INIT_IND, PERIPHERAL)
    answered(arm, inv, g.FAILURE_RESP, 19, "BEGIN inside a bracket")
    inv = arm.task_ind(g.OFFER_TASK_IND, PERIPHERAL, EMAIL, 1001,
                       ROUTER_TASK, 77)
    answered(arm, inv, g.FAILURE_RESP, 19, "OFFER_TASK_IND inside")
    for agent, mrd, state, want in (
            (4242, EMAIL, g.AGENT_STATE_AVAILABLE, (g.FAILURE_RESP, 2)),
            (1001, VOICE, g.AGENT_STATE_AVAILABLE, (g.FAILURE_CONF, 88)),
            (3001, CHAT, g.AGENT_STATE_AVAILABLE, (g.FAILURE_CONF, 88)),
            (1001, EMAIL, g.AGENT_STATE_LOGOUT, (g.FAILURE_CONF, 38)),
            (3002, EMAIL, g.AGENT_STATE_AVAILABLE, (g.FAILURE_RESP, 6))):
        r = agent_init(arm, agent, mrd, state)
        check((r["type"], r["Status"]) == want, "AGENT_INIT_REQ %d MRD %d "
              "%s: %r, expected %r" % (agent, mrd,
                                       g.AGENT_STATE_NAMES[state], r, want))
    inv = task_ind(arm, 1001, (0, 0, 0))
    answered(arm, inv, g.FAILURE_CONF, g.E_CTI_REQUIRED_DATA_MISSING,
             "TASK_INIT_IND without TaskID")
    inv = task_ind(arm, 1001, ROUTER_TASK, state=3)
    answered(arm, inv, g.FAILURE_CONF, 38, "TASK_INIT_IND TaskState 3")
    inv = task_ind(arm, 1001, ROUTER_TASK, flags=0x10)
    answered(arm, inv, g.FAILURE_CONF, g.E_CTI_INVALID_RESERVED_FIELD,
             "TASK_INIT_IND TaskFlags 0x10")
    r = arm.task_init_req(PERIPHERAL, EMAIL, 1002, ROUTER_TASK, 78,
                          timeout=T)
    check(r["type"] == g.FAILURE_RESP and r["Status"] == 19,
          "TASK_INIT_REQ with a TaskID: %r" % r)
    log("(3) refusals inside the bracket: 19, 2, 88, 38, 6, 22")

    m = mon.mark()
    r = agent_init(arm, 1001, state=g.AGENT_STATE_ACTIVE, tasks=1,
                   duration=5)
    check(r["type"] == g.AGENT_INIT_RESP and r["Status"] == 0 and
          r["MRDID"] == EMAIL and r["ICMAgentID"] == 1001,
          "AGENT_INIT_REQ 1001: %r" % r)
    e = mon.wait_for(lambda x: x["type"] == g.AGENT_STATE_EVENT and
                     x["ICMAgentID"] == 1001 and x["MRDID"] == EMAIL and
                     x["AgentState"] == g.AGENT_STATE_ACTIVE, T,
                     "1001 ACTIVE in MRD 2", since=m)
    r = agent_init(arm, 1002, state=g.AGENT_STATE_RESERVED, tasks=1)
    check(r["type"] == g.AGENT_INIT_RESP and r["Status"] == 0,
          "AGENT_INIT_REQ 1002: %r" % r)
    inv = task_ind(arm, 1001, ROUTER_TASK)
    silent(arm, inv, "TASK_INIT_IND of 1001's task")
    now = int(time.time())
    r = arm.task_init_req(PERIPHERAL, EMAIL, 1002, dialogue=78,
                          flags=g.TASKF_APP_ROUTED, offer_time=now - 1,
                          timeout=T)
    check(r["type"] == g.TASK_INIT_RESP and r["Status"] == 0 and
          r["TaskGroupHigh"] > 10 ** 9, "TASK_INIT_REQ: %r" % r)
    new = (r["TaskGroupHigh"], r["TaskGroupLow"], r["SequenceNumber"])
    wp = lab.watch(act)
    inv = arm.init_bracket(g.END_AGENT_INIT_IND, PERIPHERAL)
    silent(arm, inv, "END_AGENT_INIT_IND")
    e = wp.wait(ev("agents_resynced"), T, "agents_resynced")
    check(e["rule"] == "R19" and e["agents"] == 2 and
          e["tasks_known"] == 1 and e["tasks_begun"] == 1 and
          e["refused"] == 9 and e["client_id"] == "arm" and
          e["path"] == PATH, "agents_resynced: %r" % e)
    inv = arm.init_bracket(g.BEGIN_AGENT_INIT_IND, PERIPHERAL)
    answered(arm, inv, g.FAILURE_RESP, 19, "BEGIN after the bracket")
    r = agent_init(arm, 1001)
    check(r["type"] == g.FAILURE_RESP and r["Status"] == 19,
          "AGENT_INIT_REQ after the bracket: %r" % r)
    c = lab.status(act)["cti"]["tasks"]["resync"]
    check(c == {"known": 0, "recreated": 2, "brackets": 1, "agents": 2,
                "refused": 17, "ended_untold": 0},
          "resync counters: %r" % c)
    log("(4) taken: 2 agents, 1 task known, 1 begun; agents_resynced")
    return new


def seen(lab, act, new):
    table = {tuple(k["task"]): k for k in cti(lab, act)["tasks"]["table"]}
    check(table.get(ROUTER_TASK, {}).get("state") == "started" and
          table[ROUTER_TASK]["agent"] == 1001 and
          table.get(new, {}).get("state") == "offered" and
          table[new]["app"] and table[new]["agent"] == 1002,
          "task table: %r" % table)
    wait_for(lambda: {tuple(k["task"]) for k in
                      cti(lab, other(act))["tasks"]["table"]} ==
             {ROUTER_TASK, new}, T, "the standby's copy of the table")
    wait_for(lambda: router_state(lab, 1001) == "active" and
             router_state(lab, 1002) == "reserved", T,
             "router: 1001 active, 1002 reserved in MRD 2")
    rows = lab.query("SELECT SkillTargetID, MRDomainID, Event, Rule FROM "
                     "Agent_Event_Detail WHERE Recreated = 1 ORDER BY "
                     "SkillTargetID")
    check(rows == [(1001, EMAIL, 4, "R19"), (1002, EMAIL, 4, "R19")],
          "Agent_Event_Detail recreated: %r" % rows)
    tasks = {tuple(t["task"]): t for t in lab.ctl("router", "tasks")["tasks"]}
    check(tasks.get(ROUTER_TASK, {}).get("recreated") and
          tasks.get(new, {}).get("recreated") and
          tasks[new]["application"], "router tasks: %r" % tasks)


def ended(lab, arm):
    inv = arm.task_ind(g.END_TASK_IND, PERIPHERAL, EMAIL, 1001, ROUTER_TASK,
                       77)
    silent(arm, inv, "END_TASK_IND")
    wait_for(lambda: lab.query("SELECT Recreated FROM "
                               "Termination_Call_Detail WHERE "
                               "RouterCallKeyDay = 20000") == [(1,)], T,
             "Termination_Call_Detail of the router's task, Recreated 1")
    log("(5) the table, its copy, the router's states, rows Recreated")


def malformed(lab, act, mon):
    s = open_arm(lab, act, "arm-bad")
    s.wait_type(g.AGENT_INIT_READY_EVENT, T)
    s.send_raw(g.AGENT_INIT_REQ, b"\0" * 20)
    r = s.wait_type(g.FAILURE_CONF, T)
    check(r["Status"] == g.E_CTI_INVALID_MESSAGE_LENGTH, "short: %r" % r)
    s.wait_closed(T)
    cti_log_names(lab, act, s.local_port(), g.AGENT_INIT_REQ)
    check(mon.heartbeat(T)["type"] == g.HEARTBEAT_CONF, "monitor gone")
    log("(6) a short AGENT_INIT_REQ: FAILURE_CONF 2, closed; others serve")


def resumed(lab, act, arm):
    task = (20000, 5, 0)
    for mtype in (g.OFFER_TASK_IND, g.START_TASK_IND):
        inv = arm.task_ind(mtype, PERIPHERAL, EMAIL, 1002, task, 90)
        silent(arm, inv, g.msg_name(mtype))
    wp = lab.watch(act)
    arm.close(timeout=T)
    wp.wait(ev("app_path_down", rule="R18"), T, "app_path_down")
    e = wp.wait(ev("tasks_expired"), LIFE + T, "tasks_expired")
    check(90 in e["dialogues"], "tasks_expired: %r" % e)
    wait_for(lambda: lab.query("SELECT CallDisposition, Segment, Recreated "
                               "FROM Termination_Call_Detail WHERE "
                               "DialogueID = 90") == [(42, 1, 0)], T,
             "the task's first row: disposition 42, segment 1")
    arm2 = open_arm(lab, act, "arm2")
    arm2.wait_type(g.AGENT_INIT_READY_EVENT, T)
    silent(arm2, arm2.init_bracket(g.BEGIN_AGENT_INIT_IND, PERIPHERAL),
           "BEGIN")
    silent(arm2, task_ind(arm2, 1002, task, dialogue=90), "TASK_INIT_IND")
    silent(arm2, arm2.init_bracket(g.END_AGENT_INIT_IND, PERIPHERAL), "END")
    e = wp.wait(ev("tasks_resumed"), T, "tasks_resumed")
    check(e["rule"] == "R20" and e["dialogues"] == [90],
          "tasks_resumed: %r" % e)
    k = {tuple(t["task"]): t for t in cti(lab, act)["tasks"]["table"]}[task]
    check(k["state"] == "started" and k["segment"] == 2 and
          k["flags"] & 0x80, "the task resumed: %r" % k)
    r = {tuple(t["task"]): t for t in lab.ctl("router", "tasks")["tasks"]
         if t["dialogue"] == 90}[task]
    check(r["segment"] == 2 and r["recreated"] and r["state"] == "started",
          "the router's task: %r" % r)
    silent(arm2, arm2.task_ind(g.END_TASK_IND, PERIPHERAL, EMAIL, 1002,
                               task, 90), "END_TASK_IND")
    wait_for(lambda: lab.query("SELECT CallDisposition, Segment, Recreated "
                               "FROM Termination_Call_Detail WHERE "
                               "DialogueID = 90 ORDER BY Segment") ==
             [(42, 1, 0), (13, 2, 1)], T,
             "two rows: segment 1 (42), segment 2 (13, Recreated)")
    log("(7) a task its life ended (R18), told by the bracket: resumed in "
        "segment 2 (R20), Recreated")
    return arm2


def untold(lab, act, arm2):
    task = (20000, 9, 0)
    for mtype in (g.OFFER_TASK_IND, g.START_TASK_IND):
        silent(arm2, arm2.task_ind(mtype, PERIPHERAL, EMAIL, 1001, task, 91),
               g.msg_name(mtype))
    wp = lab.watch(act)
    arm2.close(timeout=T)
    wp.wait(ev("app_path_down", rule="R18"), T, "app_path_down")
    arm3 = open_arm(lab, act, "arm3")
    arm3.wait_type(g.AGENT_INIT_READY_EVENT, T)
    silent(arm3, arm3.init_bracket(g.BEGIN_AGENT_INIT_IND, PERIPHERAL),
           "BEGIN")
    silent(arm3, arm3.init_bracket(g.END_AGENT_INIT_IND, PERIPHERAL), "END")
    e = wp.wait(ev("agents_resynced"), T, "agents_resynced")
    check(e["rule"] == "R19" and e["tasks_ended"] == 1 and
          e["tasks_known"] == 0, "agents_resynced: %r" % e)
    wait_for(lambda: lab.query("SELECT CallDisposition, "
                               "CallDispositionFlag, Recreated FROM "
                               "Termination_Call_Detail WHERE DialogueID = "
                               "91") == [(51, 4, 0)], T,
             "the untold task's row: disposition 51")
    check(task not in {tuple(k["task"]) for k in
                       cti(lab, act)["tasks"]["table"]}, "still in the table")
    wait_for(lambda: task not in {tuple(k["task"]) for k in
                                  cti(lab, other(act))["tasks"]["table"]},
             T, "out of the standby's copy")
    c = lab.status(act)["cti"]["tasks"]["resync"]
    check(c["ended_untold"] == 1 and c["brackets"] == 3,
          "resync counters: %r" % c)
    log("(8) a task the next bracket does not tell: ended, disposition 51 "
        "(Termination_Call_Detail, flag 4), out of the table and its copy")


def test(Lab):
    lab = start_lab(Lab)
    act, mon, _ = cti_open_active(lab, name="mon", client_id="mon",
                                  services=g.CTI_SERVICE_ALL_EVENTS)
    arm = open_arm(lab, act)
    r = arm.wait_type(g.AGENT_INIT_READY_EVENT, T)
    check(r["PeripheralID"] == PERIPHERAL and r["fixed_len"] == 4,
          "AGENT_INIT_READY_EVENT: %r" % r)
    check([m["type"] for m in arm.log][:1] == [g.OPEN_CONF],
          "before AGENT_INIT_READY_EVENT: %r" % arm.log)
    check(not [m for m in mon.log if m["type"] ==
               g.AGENT_INIT_READY_EVENT], "the monitor heard one")
    inv = mon.init_bracket(g.BEGIN_AGENT_INIT_IND, PERIPHERAL)
    answered(mon, inv, g.FAILURE_CONF, g.E_CTI_FUNCTION_NOT_AVAILABLE,
             "BEGIN without AGENT_REPORTING")
    log("(1) AGENT_INIT_READY_EVENT to the ARM session, after OPEN_CONF")
    out_of_order(lab, act, arm)
    new = inside(lab, act, arm, mon)
    seen(lab, act, new)
    ended(lab, arm)
    malformed(lab, act, mon)
    untold(lab, act, resumed(lab, act, arm))


run(test)

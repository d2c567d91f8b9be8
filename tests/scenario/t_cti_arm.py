"""ARM task messages at the PG side's CTI server (issue 10), sent by the
tests' client (ged188_client.py: the pgemu-defined layouts as
docs/protocol.md prints them, not pgemu's codec) on an ARM session
(ServicesRequested CTI_SERVICE_AGENT_REPORTING, ApplicationPathID 7), in a
duplex lab with the desktop servers and the desktops, and media routing
(TASK_EVENTs go to the router) whose app node the test does not start.
MRDs 1 (voice), 2 (email, max_tasks 5) and 3 (chat, max_tasks 2); agents
1001..1004 in MRDs 1 and 2, 3001 in 1, 2 and 3 (their desktops sign them
in, available), 3002 in 1 and 2 without a desktop (never signed in to
MRD 2); cti.task_cache 4.

 (1) refusals, the session and the agent's state untouched:
     FAILURE_CONF 12 on a session without AGENT_REPORTING, 15 on the
     standby CTI server, 22 TaskFlags 0x10, 6 no TaskID, 7 a peripheral
     the PG does not serve, 88 the voice MRD and an MRD the lab has not;
     FAILURE_RESP 2 no such agent, 3 an MRD not the agent's, 6 an agent
     not signed in to the MRD, 21 START_TASK_IND never offered (no
     PRECALL), 18 START_APPLICATION_TASK_REQ / END_TASK_IND of an unknown
     TaskID;
 (2) a router's task (TaskID 20000.1.0, dialogue 77) for 1001 in MRD 2:
     OFFER -> RESERVED, START -> ACTIVE, END -> AVAILABLE, seen in the
     pgemuctl JSON (the task table, the desktop's MRD state), an
     ALL_EVENTS session's AGENT_STATE_EVENTs (MRDID 2, NumTasks 1 then 0)
     and the router's real-time state; FAILURE_RESP 19 for an OFFER and a
     START again, 22 for an END naming 1002, 20 for a START naming MRD 3,
     18 for an END again;
 (3) the task limit: 1002 offered its MaxTaskLimit (5) tasks, the next
     FAILURE_RESP 34; one started -> ACTIVE, ended -> RESERVED (others
     offered), the rest ended -> AVAILABLE;
 (4) the application's own tasks: OFFER_APPLICATION_TASK_REQ without a
     TaskID -> RESP Status 0 with a new TaskID (TaskGroupHigh the unix
     second, TaskGroupLow with the side's bit), START_APPLICATION_TASK_REQ
     of it -> RESP with the same one, END with TASKF_ENDED_DOWN;
     START_APPLICATION_TASK_REQ without a TaskID -> started at once, a
     TaskID of its own;
 (5) every task message taken is one TASK_EVENT on the router link (the
     PG side's link counter out, the router's in, the task counters of
     `pgemuctl status`), with the session's ApplicationPathID and the
     application's flags (the PG's debug line);
 (6) R22: the router killed, a task offered, started and ended: the
     agent's states go on, the three TASK_EVENTs wait (cached, waiting);
     the router back: sent in order, flagged TASKF_CACHED, waiting 0;
 (7) past cti.task_cache while the router is away: the newer
     TASK_EVENTs dropped, counted (status), one warning, the rest sent
     when it is back;
 (8) the router hung (SIGSTOP) when a TASK_EVENT goes, then killed: the
     event sent into the hung link is sent again (resent), flagged
     TASKF_CACHED, once the router is back;
 (9) a CTI server failover (stop cti-server): the other side's CTI
     server has the task table (PEER_TASK), the application's session
     moves there and ends the task it started on the first one; an
     application task there gets that side's TaskGroupLow bit;
(10) a malformed task message (shorter than its fixed part): FAILURE_CONF
     2, that session closed with a warning naming the peer and the type,
     the daemon and the other sessions serve.
"""
import re
import signal
import time

import ged188_client as g
from pgemu_test import (FAST, SLOW, check, cti, cti_connect,
                        cti_log_names, cti_open_active, log, other, run,
                        wait_cti_active, wait_for, wait_online)

PERIPHERAL = 5000
EMAIL, CHAT, VOICE = 2, 3, 1
PATH = 7
T = 5 * SLOW
MRDS = ('{ id = 1; name = "Cisco_Voice"; media = "voice"; },\n'
        '  { id = 2; name = "Email"; media = "email"; max_tasks = 5; },\n'
        '  { id = 3; name = "Chat"; media = "chat"; max_tasks = 2; }')
LIST = ('{ id = 3001; skill_groups = [ 100 ]; mrds = [ 1, 2, 3 ]; '
        'desktop = true; },\n'
        '    { id = 3002; skill_groups = [ 100 ]; mrds = [ 1, 2 ]; }')
IND = (g.OFFER_TASK_IND, g.START_TASK_IND, g.END_TASK_IND)
ROUTER_TASK = (20000, 1, 0)     # a router's TaskID: RouterCallKeyDay, Key
PG_LINKS = ("router-link", "acd-link", "private-link")


def ase(agent, mrd, state=None):
    return lambda m: (m["type"] == g.AGENT_STATE_EVENT and
                      m["ICMAgentID"] == agent and m["MRDID"] == mrd and
                      (state is None or m["AgentState"] == state))


def seen(mon, agent, state, mrd=EMAIL, tasks=None):
    """The monitor's AGENT_STATE_EVENT of agent in mrd in state."""
    e = mon.wait_for(ase(agent, mrd, state), T, "%d in MRD %d state %s" % (
        agent, mrd, g.AGENT_STATE_NAMES[state]))
    check(e["PeripheralID"] == PERIPHERAL and "error" not in e and
          (tasks is None or e["NumTasks"] == tasks),
          "event of %d: %r, NumTasks %r wanted" % (agent, e, tasks))
    return e


def router_state(lab, agent, mrd=EMAIL):
    for a in lab.ctl("router", "agents"):
        if a["id"] == agent and a["mrd"] == mrd:
            return a["state"] if a["logged_in"] else "logged out"
    return None


def wait_router(lab, agent, state, mrd=EMAIL):
    wait_for(lambda: router_state(lab, agent, mrd) == state, T,
             "router: %d %s in MRD %d" % (agent, state, mrd))


def desk_state(lab, agent, mrd=EMAIL):
    for m in lab.ctl("agents", "agent", str(agent))["mrds"]:
        if m["mrd"] == mrd:
            return m["state"]
    return None


def tasks(lab, node):
    return lab.ctl(node, "status")["cti"]["tasks"]


def table(lab, node):
    return {tuple(k["task"]): k for k in cti(lab, node)["tasks"]["table"]}


def task_events(lab, node, link, way):
    return lab.link(node, link)["types"].get("TASK_EVENT", {}).get(way, 0)


class Arm:
    """The application's ARM session and what it expects of it."""

    def __init__(self, lab, node, s):
        self.lab, self.node, self.s = lab, node, s
        self.taken = 0          # task messages taken: one TASK_EVENT each

    def ind(self, mtype, agent, task, mrd=EMAIL, dialogue=0, flags=0):
        """An indication that must be taken: nothing comes back (a
        heartbeat behind it proves it)."""
        inv = self.s.task_ind(mtype, PERIPHERAL, mrd, agent, task, dialogue,
                              flags)
        hb = self.s.heartbeat()
        bad = [m for m in self.s.log if m.get("InvokeID") == inv]
        check(hb["type"] == g.HEARTBEAT_CONF and not bad,
              "%s of %r refused: %r" % (g.msg_name(mtype), task, bad))
        self.taken += 1

    def app(self, mtype, agent, task=(0, 0, 0), mrd=EMAIL, dialogue=0,
            flags=0):
        r = self.s.app_task(mtype, PERIPHERAL, mrd, agent, task, dialogue,
                            flags)
        check(r["type"] == g.TASK_RESP_OF[mtype] and r["Status"] == 0 and
              r["fixed_len"] == 20, "%s of %d: %r" % (g.msg_name(mtype),
                                                     agent, r))
        self.taken += 1
        return (r["TaskGroupHigh"], r["TaskGroupLow"], r["SequenceNumber"])

    def refused(self, mtype, agent, task=(0, 0, 0), mrd=EMAIL, answer=None,
                status=None, periph=PERIPHERAL, flags=0, s=None):
        s = s or self.s
        if mtype in IND:
            inv = s.task_ind(mtype, periph, mrd, agent, task, 0, flags)
            r = s.wait_type((g.FAILURE_RESP, g.FAILURE_CONF), T, inv)
        else:
            r = s.app_task(mtype, periph, mrd, agent, task, 0, flags)
        check(r["type"] == answer and r["Status"] == status,
              "%s of %d, MRD %d, task %r: %r, expected %s %d" % (
                  g.msg_name(mtype), agent, mrd, task, r,
                  g.msg_name(answer), status))


def start_lab(Lab):
    kw = dict(FAST)
    lab = Lab("cti-arm", agents=4, desktops=True, agent_mrds=[1, 2],
              mrds=MRDS, list_agents=LIST, hb_desktop=(100, 3), media=True,
              extra="cti: { task_cache = 4; };", **kw)
    lab.start_all([n for n in lab.nodes if n != "app"])
    for n, links in (("pg-a", PG_LINKS), ("pg-b", PG_LINKS),
                     ("router", ("pg-a", "pg-b"))):
        wait_for(lambda: lab.links_up(n, links), 10, "%s: %s UP" % (
            n, ", ".join(links)))
    wait_online(lab, 10)
    for a in (1001, 1002, 1003, 1004, 3001):
        wait_router(lab, a, "available")
    wait_router(lab, 3001, "available", CHAT)
    check(router_state(lab, 3002) == "logged out", "3002 in MRD 2: %r" %
          router_state(lab, 3002))
    return lab


def open_arm(lab, node, cid="arm", services=g.CTI_SERVICE_AGENT_REPORTING,
             version=24):
    s = cti_connect(lab, node, cid)
    m = s.open(client_id=cid, version=version, services=services,
               floating=[(g.APP_PATH_ID_TAG, g.flt_int(PATH))])
    check(m["type"] == g.OPEN_CONF, "%s: OPEN answered %r" % (cid, m))
    return s


def refusals(lab, arm, mon, act):
    std = open_arm(lab, other(act), "arm-standby", version=24,
                   services=g.CTI_SERVICE_AGENT_REPORTING |
                   g.CTI_SERVICE_ACTIVE_STANDBY)
    x = ROUTER_TASK
    arm.refused(g.OFFER_TASK_IND, 1001, x, answer=g.FAILURE_CONF,
                status=g.E_CTI_FUNCTION_NOT_AVAILABLE, s=mon)
    arm.refused(g.OFFER_TASK_IND, 1001, x, answer=g.FAILURE_CONF,
                status=g.E_CTI_CTI_SERVER_OFFLINE, s=std)
    std.close()
    arm.refused(g.OFFER_TASK_IND, 1001, x, answer=g.FAILURE_CONF,
                status=g.E_CTI_INVALID_RESERVED_FIELD, flags=0x10)
    for t in IND:
        arm.refused(t, 1001, answer=g.FAILURE_CONF,
                    status=g.E_CTI_REQUIRED_DATA_MISSING)
    arm.refused(g.OFFER_TASK_IND, 1001, x, answer=g.FAILURE_CONF,
                status=g.E_CTI_INVALID_PERIPHERAL_ID, periph=4242)
    for mrd in (VOICE, 9):
        arm.refused(g.OFFER_TASK_IND, 1001, x, mrd=mrd,
                    answer=g.FAILURE_CONF, status=g.E_CTI_INVALID_MR_DOMAIN)
    arm.refused(g.OFFER_APPLICATION_TASK_REQ, 9999, answer=g.FAILURE_RESP,
                status=g.E_ARM_STAT_AGENT_NOT_FOUND)
    arm.refused(g.OFFER_TASK_IND, 1001, x, mrd=CHAT, answer=g.FAILURE_RESP,
                status=g.E_ARM_STAT_MRD_LIST_ENTRY_NOT_FOUND)
    arm.refused(g.OFFER_TASK_IND, 3002, x, answer=g.FAILURE_RESP,
                status=g.E_ARM_STAT_AGENT_NOT_LOGGED_IN)
    arm.refused(g.START_APPLICATION_TASK_REQ, 3002, answer=g.FAILURE_RESP,
                status=g.E_ARM_STAT_AGENT_NOT_LOGGED_IN)
    arm.refused(g.START_TASK_IND, 1001, x, answer=g.FAILURE_RESP,
                status=g.E_ARM_STAT_NO_OFFER_OR_PRE_CALL_RECEIVED)
    arm.refused(g.START_APPLICATION_TASK_REQ, 1001, x, answer=g.FAILURE_RESP,
                status=g.E_ARM_STAT_TASK_OBJECT_NOT_FOUND)
    arm.refused(g.END_TASK_IND, 1001, x, answer=g.FAILURE_RESP,
                status=g.E_ARM_STAT_TASK_OBJECT_NOT_FOUND)
    check(arm.s.heartbeat()["type"] == g.HEARTBEAT_CONF,
          "the ARM session after the refusals")
    st = tasks(lab, act)
    check(st["tasks"] == 0 and st["events"] == 0 and st["refused"] == 15,
          "task counters after the refusals: %r" % st)
    check([m for m in mon.read_for(0.3) if ase(1001, EMAIL)(m)] == [] and
          router_state(lab, 1001) == "available",
          "1001's MRD 2 changed by refusals")
    log("(1) refusals: FAILURE_CONF 12, 15, 22, 6 (x3), 7, 88 (x2); "
        "FAILURE_RESP 2, 3, 6 (x2), 21, 18 (x2); nothing changed")


def router_task(lab, arm, mon, act):
    x = ROUTER_TASK
    arm.ind(g.OFFER_TASK_IND, 1001, x, dialogue=77)
    seen(mon, 1001, g.AGENT_STATE_RESERVED, tasks=1)
    wait_router(lab, 1001, "reserved")
    k = table(lab, act)[x]
    check(k["agent"] == 1001 and k["mrd"] == EMAIL and k["dialogue"] == 77
          and k["state"] == "offered" and not k["app"],
          "task table entry: %r" % k)
    wait_for(lambda: desk_state(lab, 1001) == "reserved", T,
             "1001's desktop: reserved in MRD 2")
    arm.refused(g.OFFER_TASK_IND, 1001, x, answer=g.FAILURE_RESP,
                status=g.E_ARM_STAT_INVALID_MESSAGE_SEQUENCE)
    arm.ind(g.START_TASK_IND, 1001, x)
    e = seen(mon, 1001, g.AGENT_STATE_ACTIVE, tasks=1)
    check(e["MaxTaskLimit"] == 5, "MaxTaskLimit of 1001: %r" % e)
    wait_router(lab, 1001, "active")
    check(table(lab, act)[x]["state"] == "started", "task not started")
    arm.refused(g.START_TASK_IND, 1001, x, answer=g.FAILURE_RESP,
                status=g.E_ARM_STAT_INVALID_MESSAGE_SEQUENCE)
    arm.refused(g.END_TASK_IND, 1002, x, answer=g.FAILURE_RESP,
                status=g.E_ARM_STAT_INCONSISTENT_AGENT_IDS)
    arm.ind(g.END_TASK_IND, 1001, x)
    seen(mon, 1001, g.AGENT_STATE_AVAILABLE, tasks=0)
    wait_router(lab, 1001, "available")
    check(table(lab, act) == {}, "task table after END: %r" %
          table(lab, act))
    arm.refused(g.END_TASK_IND, 1001, x, answer=g.FAILURE_RESP,
                status=g.E_ARM_STAT_TASK_OBJECT_NOT_FOUND)
    # A TaskID of MRD 2 named with MRD 3 (3001 has both).
    y = (20000, 2, 0)
    arm.ind(g.OFFER_TASK_IND, 3001, y)
    seen(mon, 3001, g.AGENT_STATE_RESERVED)
    arm.refused(g.START_TASK_IND, 3001, y, mrd=CHAT, answer=g.FAILURE_RESP,
                status=g.E_ARM_STAT_INCONSISTENT_MEDIA_ROUTING_DOMAIN_IDS)
    check(router_state(lab, 3001, CHAT) == "available",
          "3001's chat MRD changed")
    arm.ind(g.END_TASK_IND, 3001, y)
    seen(mon, 3001, g.AGENT_STATE_AVAILABLE, tasks=0)
    log("(2) 1001: RESERVED, ACTIVE, AVAILABLE (table, desktop, events "
        "NumTasks 1/0, router); 19, 19, 22, 18, 20")


def task_limit(lab, arm, mon):
    q = mon.query_agent_state(PERIPHERAL, mrdid=EMAIL, icm_agent_id=1002)
    limit = q["MaxTaskLimit"]
    check(limit == 5, "MaxTaskLimit of 1002: %r" % q)
    ids = [(20001, n, 0) for n in range(limit)]
    for n, x in enumerate(ids):
        arm.ind(g.OFFER_TASK_IND, 1002, x, dialogue=100 + n)
    seen(mon, 1002, g.AGENT_STATE_RESERVED)
    arm.refused(g.OFFER_TASK_IND, 1002, (20001, 99, 0),
                answer=g.FAILURE_RESP,
                status=g.E_ARM_STAT_PERFORMANCE_LIMIT_EXCEEDED)
    q = mon.query_agent_state(PERIPHERAL, mrdid=EMAIL, icm_agent_id=1002)
    check(q["NumTasks"] == limit and
          q["AgentState"] == g.AGENT_STATE_RESERVED, "QUERY: %r" % q)
    arm.ind(g.START_TASK_IND, 1002, ids[0])
    seen(mon, 1002, g.AGENT_STATE_ACTIVE, tasks=limit)
    arm.ind(g.END_TASK_IND, 1002, ids[0])
    seen(mon, 1002, g.AGENT_STATE_RESERVED, tasks=limit - 1)
    for x in ids[1:]:
        arm.ind(g.END_TASK_IND, 1002, x)
    seen(mon, 1002, g.AGENT_STATE_AVAILABLE, tasks=0)
    wait_router(lab, 1002, "available")
    log("(3) 1002: %d tasks offered, the next 34; ACTIVE, RESERVED, "
        "AVAILABLE" % limit)


def app_tasks(lab, arm, mon, act):
    side_bit = 1 << 30 if act == "pg-b" else 0
    t0 = time.time()
    x = arm.app(g.OFFER_APPLICATION_TASK_REQ, 1003, dialogue=500,
                flags=g.TASKF_APP_ROUTED | g.TASKF_ROUTING_DOWN)
    check(abs(x[0] - t0) < 5 and x[1] & (1 << 30) == side_bit and
          x[2] == 0, "TaskID given on %s: %r" % (act, x))
    seen(mon, 1003, g.AGENT_STATE_RESERVED, tasks=1)
    check(table(lab, act)[x]["app"], "application task: %r" %
          table(lab, act))
    y = arm.app(g.START_APPLICATION_TASK_REQ, 1003, x)
    check(y == x, "START_APPLICATION_TASK_RESP: %r, offered %r" % (y, x))
    seen(mon, 1003, g.AGENT_STATE_ACTIVE, tasks=1)
    arm.ind(g.END_TASK_IND, 1003, x, flags=g.TASKF_APP_ROUTED |
            g.TASKF_ROUTING_DOWN | g.TASKF_ENDED_DOWN)
    seen(mon, 1003, g.AGENT_STATE_AVAILABLE, tasks=0)
    z = arm.app(g.START_APPLICATION_TASK_REQ, 1004, dialogue=501,
                flags=g.TASKF_APP_ROUTED)
    check(z != x and z[1] & (1 << 30) == side_bit, "second TaskID %r" %
          (z,))
    seen(mon, 1004, g.AGENT_STATE_ACTIVE, tasks=1)
    arm.ind(g.END_TASK_IND, 1004, z)
    seen(mon, 1004, g.AGENT_STATE_AVAILABLE, tasks=0)
    log("(4) application tasks %r, %r" % (x, z))
    return x


def sent_line(lab, node, code, task, flags, dialogue=None):
    """The PG's debug line of a TASK_EVENT sent (its path is the ARM
    session's, its flags those given)."""
    pat = (r"TASK_EVENT %s of task %d\.%d\.%d \(agent \d+, MRD \d+, "
           r"dialogue %s, path %d, flags 0x%02x\) sent to the router" % (
               code, task[0] & 0xffffffff, task[1] & 0xffffffff,
               task[2], r"\d+" if dialogue is None else dialogue, PATH,
               flags))
    return lab.wait_log(node, pat)


def counted(lab, arm, act, app_x):
    n = arm.taken
    wait_for(lambda: task_events(lab, act, "router-link", "out") == n and
             task_events(lab, "router", act, "in") == n, T,
             "%d TASK_EVENTs out of %s's router link and into the router's"
             % (n, act))
    st = tasks(lab, act)
    check(st["events"] == n and st["sent"] == n and st["cached"] == 0 and
          st["waiting"] == 0 and st["dropped"] == 0 and st["tasks"] == 0 and
          st["taken"] == {"offer": 7, "start": 2, "end": 9, "app_offer": 1,
                          "app_start": 2}, "task counters: %r" % st)
    sent_line(lab, act, "offer", ROUTER_TASK, 0, 77)
    sent_line(lab, act, "app_offer", app_x, 0x6, 500)
    sent_line(lab, act, "end", app_x, 0xe, 500)
    log("(5) %d TASK_EVENTs: out of %s, into the router; path %d, flags "
        "as given" % (n, act, PATH))


def router_down(lab, act):
    lab.kill("router")
    lab.reap("router")
    wait_for(lambda: lab.link(act, "router-link")["state"] != "UP", T,
             "%s: router link down" % act)


def router_back(lab, act):
    lab.start("router")
    wait_for(lambda: lab.link(act, "router-link")["state"] == "UP", 10 * SLOW,
             "%s: router link back" % act)


def outage(lab, arm, mon, act):
    before = tasks(lab, act)
    router_down(lab, act)
    resent = tasks(lab, act)["resent"] - before["resent"]
    x = (20003, 1, 0)
    arm.ind(g.OFFER_TASK_IND, 1003, x, dialogue=600)
    seen(mon, 1003, g.AGENT_STATE_RESERVED)
    arm.ind(g.START_TASK_IND, 1003, x)
    seen(mon, 1003, g.AGENT_STATE_ACTIVE)
    arm.ind(g.END_TASK_IND, 1003, x)
    seen(mon, 1003, g.AGENT_STATE_AVAILABLE)
    st = tasks(lab, act)
    check(st["cached"] - before["cached"] == 3 and
          st["waiting"] == 3 + resent and st["dropped"] == 0,
          "router away: %r (before %r)" % (st, before))
    router_back(lab, act)
    wait_for(lambda: tasks(lab, act)["waiting"] == 0, T, "nothing waits")
    st = tasks(lab, act)
    check(st["sent"] - before["sent"] == 3 + resent, "sent: %r" % st)
    for code in ("offer", "start", "end"):
        sent_line(lab, act, code, x, 0x10, 600)
    wait_for(lambda: task_events(lab, "router", act, "in") == 3 + resent, T,
             "the new router: %d TASK_EVENTs in" % (3 + resent))
    lab.wait_log(act, r"router link back: %d cached TASK_EVENTs? sent, 0 "
                 r"dropped" % (3 + resent))
    wait_router(lab, 1003, "available")
    log("(6) router away: 3 TASK_EVENTs cached (%d sent again), sent "
        "flagged TASKF_CACHED when it is back" % resent)


def overflow(lab, arm, mon, act):
    before = tasks(lab, act)
    router_down(lab, act)
    resent = tasks(lab, act)["resent"] - before["resent"]
    for agent, x in ((1003, (20004, 1, 0)), (1004, (20004, 2, 0))):
        for t in IND:
            arm.ind(t, agent, x)
        seen(mon, agent, g.AGENT_STATE_AVAILABLE)
    st = tasks(lab, act)
    waiting, dropped = resent + 4, 2
    check(st["waiting"] == waiting and
          st["dropped"] - before["dropped"] == dropped,
          "past cti.task_cache 4: %r (before %r, %d sent again)" % (
              st, before, resent))
    lab.wait_log(act, r"TASK_EVENT of task .* dropped: 4 wait for the "
                 r"router already \(cti.task_cache\)")
    router_back(lab, act)
    wait_for(lambda: tasks(lab, act)["waiting"] == 0, T, "nothing waits")
    lab.wait_log(act, r"router link back: %d cached TASK_EVENTs? sent, %d "
                 r"dropped" % (waiting, dropped))
    log("(7) past cti.task_cache: %d dropped (status, warning), %d sent"
        % (dropped, waiting))


def hung(lab, arm, mon, act):
    before = tasks(lab, act)
    lab.kill("router", signal.SIGSTOP)
    x = (20005, 1, 0)
    arm.ind(g.OFFER_TASK_IND, 1004, x, dialogue=700)
    seen(mon, 1004, g.AGENT_STATE_RESERVED)
    check(tasks(lab, act)["sent"] == before["sent"] + 1,
          "the OFFER not sent into the hung link: %r" % tasks(lab, act))
    wait_for(lambda: lab.link(act, "router-link")["state"] != "UP", T,
             "%s: the hung router's link down" % act)
    lab.kill("router")
    lab.reap("router")
    st = tasks(lab, act)
    check(st["resent"] - before["resent"] >= 1 and st["waiting"] >= 1,
          "the OFFER into the hung link not kept: %r" % st)
    router_back(lab, act)
    wait_for(lambda: tasks(lab, act)["waiting"] == 0, T, "nothing waits")
    sent_line(lab, act, "offer", x, 0x10, 700)
    arm.ind(g.END_TASK_IND, 1004, x)
    seen(mon, 1004, g.AGENT_STATE_AVAILABLE)
    log("(8) hung router: the OFFER sent into its link sent again, "
        "TASKF_CACHED")


def failover(lab, arm, mon, act):
    x = (20006, 1, 0)
    arm.ind(g.OFFER_TASK_IND, 1001, x, dialogue=800)
    arm.ind(g.START_TASK_IND, 1001, x)
    seen(mon, 1001, g.AGENT_STATE_ACTIVE)
    std = other(act)
    wait_for(lambda: table(lab, std).get(x, {}).get("state") == "started",
             T, "%s keeps the task table" % std)
    check(tasks(lab, std)["mirrored"] > 0, "mirrored: %r" % tasks(lab, std))
    lab.ctl(act, "stop", "cti-server")
    wait_cti_active(lab, std)
    node, s, m = cti_open_active(lab, name="arm2", client_id="arm2",
                                 services=g.CTI_SERVICE_AGENT_REPORTING,
                                 floating=[(g.APP_PATH_ID_TAG,
                                            g.flt_int(PATH))])
    check(node == std, "ARM session opened on %s" % node)
    _, mon2, _ = cti_open_active(lab, name="mon2", client_id="mon2",
                                 services=g.CTI_SERVICE_ALL_EVENTS)
    arm2 = Arm(lab, node, s)
    arm2.ind(g.END_TASK_IND, 1001, x)
    seen(mon2, 1001, g.AGENT_STATE_AVAILABLE, tasks=0)
    wait_router(lab, 1001, "available")
    side_bit = 1 << 30 if node == "pg-b" else 0
    y = arm2.app(g.START_APPLICATION_TASK_REQ, 1002)
    check(y[1] & (1 << 30) == side_bit, "TaskID on %s: %r" % (node, y))
    seen(mon2, 1002, g.AGENT_STATE_ACTIVE)
    arm2.ind(g.END_TASK_IND, 1002, y)
    seen(mon2, 1002, g.AGENT_STATE_AVAILABLE)
    # And the path's: down at the takeover (no session of it there yet),
    # up when arm2 opened (R18, R21).
    wait_for(lambda: task_events(lab, node, "router-link", "out") ==
             arm2.taken + 2, T, "%s: %d TASK_EVENTs" % (node,
                                                       arm2.taken + 2))
    log("(9) CTI server failover to %s: the task table there, END of the "
        "task started on %s taken; TaskID %r" % (node, act, y))
    return node, arm2, mon2


def malformed(lab, node, mon):
    s = open_arm(lab, node, "arm-bad")
    port = s.local_port()
    s.send_raw(g.OFFER_TASK_IND, bytes.fromhex("00000009 00001388 0000"))
    r = s.wait_type(g.FAILURE_CONF, T)
    check(r["InvokeID"] == 9 and
          r["Status"] == g.E_CTI_INVALID_MESSAGE_LENGTH, "short: %r" % r)
    check(s.wait_closed(T), "the session with a short OFFER_TASK_IND stays")
    lines = cti_log_names(lab, node, port, g.OFFER_TASK_IND)
    check(any("protocol error" in l for l in lines), "no warning: %r" %
          lines)
    check(mon.heartbeat()["type"] == g.HEARTBEAT_CONF, "the monitor")
    log("(10) short OFFER_TASK_IND: FAILURE_CONF 2, closed, logged: %s" %
        lines[0].strip()[-120:])


def test(Lab):
    lab = start_lab(Lab)
    act, mon, _ = cti_open_active(lab, name="mon", client_id="mon",
                                  services=g.CTI_SERVICE_ALL_EVENTS)
    arm = Arm(lab, act, open_arm(lab, act))
    check(re.search(r"application_path.: %d" % PATH, str(
        [x for x in cti(lab, act)["sessions"] if x["client_id"] == "arm"]
        )) is not None, "ARM session's path in pgemuctl")
    log("ARM session on %s (ApplicationPathID %d)" % (act, PATH))
    refusals(lab, arm, mon, act)
    router_task(lab, arm, mon, act)
    task_limit(lab, arm, mon)
    app_x = app_tasks(lab, arm, mon, act)
    counted(lab, arm, act, app_x)
    outage(lab, arm, mon, act)
    overflow(lab, arm, mon, act)
    hung(lab, arm, mon, act)
    node, arm2, mon2 = failover(lab, arm, mon, act)
    malformed(lab, node, mon2)


run(test)

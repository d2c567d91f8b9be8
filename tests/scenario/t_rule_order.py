"""The rules each trigger applies, in the order the documentation gives.

pgemu-failover(7) and docs/failover.md print, for each trigger, the rules
each node applies as the events it emits, in their order; both are made
from one table (src/rules/rules.c), which `pgemud --rules-json` prints.  For each
trigger of that table this test starts a lab (10 agents, short
heartbeats), causes the trigger as a user would (kill -9, kill -TERM,
`pgemuctl acd stop cti-manager primary`, `pgemuctl NODE fault ...`, a
killed node started again as Restart= does), collects the events every
node emitted from then on (`pgemuctl watch`, and `events` of a node
started again), and compares each node's sequence of {rule, event}, the
events that apply a rule, with the table's, exactly:
 * the router's, the ACD's;
 * the PG side that held the PIM before ("old") and the side that holds
   it after ("new"); a side that is both emits old's steps, then new's;
   a side that is neither emits none; the side whose CTI server is
   active ("cti") emits the CTI server's steps after those;
 * in a lab with desktops (the desktop triggers): the desktop server the
   desktops were on ("desk", desk-a), none from desk-b, and the desktops
   ("agents");
 * in a lab with media routing (the media-routing triggers: app_kill,
   mr_link_cut, mr_router_kill; 3 NEW_TASK requests waiting at the
   router, no agent in their MRD): the application ("app"), and "old"
   and "new" are the sides of the MR PIM (the router's MR-active side
   before and after), not of the voice PIM;
 * in a lab with media routing and desktops, the agents in a voice and an
   email MRD (the task-path triggers: app_cti_cut, cti_stop,
   cti_router_cut; the app's ARM session open on the active CTI server,
   its first resync bracket done): the application, the desktop server
   and the desktops, and "cti" is the side whose CTI server is active
   once the trigger has moved it (cti_stop: the other side's).
Every event seen must be in the table's list of events (each has its
log priority there), and the agents logged out carry the trigger's logout
reason code from the table (-1, 50002, or none logged out): every event
that says a reason code says that one.  A trigger of the table without a way to cause it
here fails the test, so the table cannot grow untested.  PGEMU_TRIGGERS
(ids, comma-separated) runs those alone, to measure a new one.
"""
import json
import os
import signal
import subprocess

from pgemu_test import (FAST, PGEMUD, TestFailure, check, ev, free_ports,
                        log, node_of, other, run, wait_candidate,
                        wait_for, wait_online)
import pgemu_test

AGENTS = 10
PG = ("pg-a", "pg-b")
# Media-routing triggers: their requests wait in MRD 2, where no agent is.
MR_WAITING = 3
MR_MRDS = ('{ id = 1; name = "Cisco_Voice"; media = "voice"; },\n'
           '  { id = 2; name = "Email"; media = "email"; max_tasks = 5;'
           ' max_tasks_in_queue = 100; max_time_in_queue = 300; }')
# Task-path triggers: every agent in MRD 2 too, signed in by its desktop.
ARM_MRDS = ('{ id = 1; name = "Cisco_Voice"; media = "voice"; },\n'
            '  { id = 2; name = "Email"; media = "email"; max_tasks = 5;'
            ' interruptible = true; task_life = 60; }')


def rules_table():
    out = subprocess.run([PGEMUD, "--rules-json"], capture_output=True,
                         text=True, check=True).stdout
    return json.loads(out)


def mr_online(lab):
    """The router's MR peripheral when it is online and the app routes
    through its active side's MR PIM with its epoch; else None."""
    m = lab.status("router")["media_routing"]
    a = lab.ctl("app", "status")["app"]
    if m["online"] and m["active_side"] and a["routing"] and \
            a["accepted_pim"] == node_of(m["active_side"]) and \
            a["accepted_epoch"] == m["epoch"]:
        return m
    return None


def mr_candidate(lab, node):
    """The router has node's MR PIM as a standing candidate."""
    for s in lab.status("router")["media_routing"]["sides"]:
        if s["node"] == node:
            return (s["link"] == "UP" and s["reported"] and s["acd_up"] and
                    not s["pim_active"] and not s["resigning"])
    return False


def arm_ready(lab, cti):
    """The app's ARM session open on the active CTI server, its first
    resync bracket done, every agent available in MRD 2 as it sees it."""
    a = lab.status("app")["app"]["arm"]
    return (a["state"] == "UP" and [a["server"]] == cti and
            a["resync"]["brackets"] >= 1 and
            a["agents_available"] == AGENTS)


def interleaving(seen, lists):
    """Is seen the steps of lists, each list in its own order?"""
    lists = [x for x in lists if x]
    if sum(len(x) for x in lists) != len(seen):
        return False
    memo = {}

    def go(pos):
        i = sum(pos)
        if i == len(seen):
            return True
        if pos in memo:
            return memo[pos]
        ok = any(pos[k] < len(lists[k]) and lists[k][pos[k]] == seen[i]
                 and go(pos[:k] + (pos[k] + 1,) + pos[k + 1:])
                 for k in range(len(lists)))
        memo[pos] = ok
        return ok
    return go(tuple(0 for _ in lists))


class Trial:
    """One lab for one trigger, watching every node.  A media-routing
    trigger (mr) has an app node and NEW_TASK requests waiting at the
    router (no agent in MRD 2); its old and new sides are the MR PIM's."""

    def __init__(self, Lab, trig, **kw):
        self.trig = trig
        self.mr = kw.pop("mr", False)
        self.arm = kw.pop("arm", False)
        if self.mr:
            kw.update(media=True, agent_mrds=[1], mrds=MR_MRDS)
        if self.arm:
            kw.update(media=True, desktops=True, agent_mrds=[1, 2],
                      mrds=ARM_MRDS, mr_handle_ms=2000)
        if kw.pop("desktops", False):
            self.lab = pgemu_test.desk_lab_online(Lab, trig["id"], AGENTS,
                                                  **kw)
        else:
            self.lab = Lab(trig["id"], agents=AGENTS, **dict(FAST, **kw))
            self.lab.start_all()
            self.lab.wait_links_up()
        lab = self.lab
        p = wait_online(lab, agents=AGENTS)
        self.cti = [n for n in PG if lab.ctl(n, "cti")["active"]]
        self.old = node_of(p["active_side"])
        if self.mr:
            m = wait_for(lambda: mr_online(lab), 10, "the app routing")
            self.old = node_of(m["active_side"])
            wait_for(lambda: mr_candidate(lab, other(self.old)), 5,
                     "router: %s's MR PIM a standing candidate" %
                     other(self.old))
            r = lab.ctl("app", "new-task", "Email", str(MR_WAITING))
            want = list(range(r["first_dialogue"], r["first_dialogue"] +
                              MR_WAITING))
            wait_for(lambda: [q["dialogue"] for q in lab.ctl(
                "router", "tasks")["queued"]] == want, 5,
                "requests %r waiting at the router" % want)
        else:
            wait_candidate(lab, other(self.old))
        if self.arm:
            wait_for(lambda: arm_ready(lab, self.cti), 10, "the app's ARM "
                     "session open on %s, resynced, every agent available "
                     "in MRD 2" % self.cti)
        self.new = None
        self.watchers = {n: lab.watch(n) for n in lab.nodes}
        self.marks = {n: w.mark() for n, w in self.watchers.items()}
        self.restarted = set()
        log("%s: %s active (epoch %d); trigger: %s" % (
            trig["id"], self.old, p["epoch"], trig["how"]))

    def restart(self, node):
        """A killed node started again, as systemd's Restart= does; its
        events are read from its ring (a watcher would miss the first)."""
        self.lab.reap(node)
        self.lab.start(node)
        self.restarted.add(node)

    def events(self, node):
        """Every event node emitted since the trigger."""
        w = self.watchers[node]
        evs = list(w.since(self.marks[node]))
        if node in self.restarted:
            evs += self.lab.ctl(node, "events", "500")
        return evs

    def steps(self, node):
        st = [(e["rule"], e["event"]) for e in self.events(node)
              if e.get("rule")]
        # A desktop may reach desk-b before the kernel has told the CTI
        # server that desk-a is gone: those agents move (R10) instead of
        # going with cti_client_lost (docs/failover.md); both log out once.
        if self.trig["id"] == "desk_kill" and node in self.cti:
            st = [x for x in st if x != ("R10", "agent_moved")]
        # The app killed takes its ARM session too: the CTI server and the
        # router say its application path went and came back (R18, R21),
        # and the app resyncs its email agents when it is back (R19), in
        # an order with the MR PIM's steps that depends on which of the
        # app's two sockets a node reads first; r18_task_life and
        # r19_arm_session prove them, and app_cti_cut's row has them in
        # their order.
        # After kill -9 of the active side the new side's activation may
        # reach the ACD before the dead side's end of stream: the ACD then
        # fences the dead PIM first (pim_fenced), a PIM that can do
        # nothing any more (docs/failover.md, under the table).
        if self.trig["id"] in ("pg_kill", "pg_kill_router_away") and \
                node == "acd":
            st = [x for x in st if x != ("R5", "pim_fenced")]
        if self.trig["id"] == "app_kill":
            st = [x for x in st if x[1] not in ("app_path_down",
                                                "app_path_up",
                                                "agents_resynced")]
        return st

    def roles(self, node):
        """The lists of steps the table gives node, one per role it plays
        (a PG side: the side that held the PIM, the one after, the active
        CTI server): each in its order, the roles' steps interleaved as the
        node hears of each."""
        st = self.trig["steps"]
        if node in ("router", "acd", "agents", "app"):
            lists = [st[node]]
        elif node == "desk-a":
            lists = [st["desk"]]
        elif node in PG:
            lists = [(st["old"] if node == self.old else []) +
                     (st["new"] if node == self.new else []),
                     st["cti"] if node in self.cti else []]
        else:
            lists = []
        return [[(s["rule"], s["event"]) for s in x] for x in lists]

    def expected(self, node):
        return [x for lst in self.roles(node) for x in lst]

    def settle(self):
        """The peripheral online again; which side holds the PIM now; each
        node has emitted at least as many rule steps as the table says."""
        p = wait_online(self.lab, timeout=10, agents=AGENTS)
        self.new = node_of(p["active_side"])
        if self.mr:
            m = wait_for(lambda: mr_online(self.lab), 10,
                         "the app routing again")
            self.new = node_of(m["active_side"])
        try:
            wait_for(lambda: all(len(self.steps(n)) >= len(self.expected(n))
                                 for n in self.lab.nodes), 5,
                     "every node's rule steps")
        except TestFailure as e:
            log("%s: %s" % (self.trig["id"], e))

    def compare(self, known):
        bad = []
        for n in self.lab.nodes:
            seen = self.steps(n)
            want = self.expected(n)
            role = ("old" if n == self.old else "") + \
                ("new" if n == self.new else "")
            log("  %-6s %-6s %s" % (n, role, " ".join(
                "%s:%s" % s for s in seen) or "-"))
            if not interleaving(seen, self.roles(n)):
                bad.append("%s (%s): emitted %s, the table says %s" % (
                    n, role or "-", seen, want))
            unknown = sorted({e["event"] for e in self.events(n)} - known)
            if unknown:
                bad.append("%s: events not in the rules table: %s" % (
                    n, unknown))
        # The reason code the table gives the trigger's logouts: every
        # event of every node that says one.
        codes = sorted({e["reason_code"] for n in self.lab.nodes
                        for e in self.events(n) if "reason_code" in e})
        want_code = self.trig.get("reason_code")
        if codes != ([] if want_code is None else [want_code]):
            bad.append("agents logged out with reason codes %s, the table "
                       "says %s" % (codes, want_code))
        check(not bad, "%s (%s):\n  %s" % (self.trig["id"],
                                           self.trig["name"],
                                           "\n  ".join(bad)))


# How to cause each trigger: lab options, then the trigger itself.
def cause_acd_kill(t):
    t.lab.kill("acd")
    t.restart("acd")


def cause_acd_link_cut(t):
    t.lab.ctl(t.old, "fault", "acd-link", "down")


def cause_pg_kill(t):
    t.lab.kill(t.old)
    t.lab.reap(t.old)


def cause_pg_kill_router_away(t):
    lab = t.lab
    lab.kill("router")
    lab.reap("router")
    wait_for(lambda: lab.link(t.old, "router-link")["state"] != "UP", 3,
             "%s to see the router go" % t.old)
    lab.kill(t.old)
    lab.reap(t.old)
    wait_for(lambda: lab.status(other(t.old))["peer"]["state"] == "IDLE", 3,
             "%s to see its peer go" % other(t.old))
    lab.start("router")
    t.restarted.add("router")


def cause_pg_stop(t):
    t.lab.kill(t.old, signal.SIGTERM)
    check(t.lab.reap(t.old) == 0, "%s did not exit 0 on SIGTERM" % t.old)


def cause_cti_primary(t):
    res = t.lab.ctl("acd", "stop", "cti-manager", "primary")
    check(res == {"primary": False, "backup": True}, "stop reply %r" % res)


def cause_pim_stop(t):
    """R23: the other side's ACD link cut and its CTI server active (so
    that it keeps the non-voice states: moved there if need be, before the
    trigger's events are counted), then the voice PIM stopped and started
    again."""
    lab, std = t.lab, other(t.old)
    lab.ctl(std, "fault", "acd-link", "down")
    if t.cti != [std]:
        m = t.watchers["desk-a"].mark()
        lab.ctl(t.old, "stop", "cti-server")
        wait_for(lambda: lab.ctl(std, "cti")["active"], 5,
                 "%s: CTI server active" % std)
        lab.ctl(t.old, "start", "cti-server")
        t.cti = [std]
        t.watchers["desk-a"].wait(ev("desktop_relogin"), 10, "desk-a: its "
                                  "agents in again through %s" % std,
                                  since=m)
    wait_for(lambda: lab.ctl("agents", "status")["agents"]["states"] ==
             {"available": AGENTS}, 10, "every desktop back, available")
    t.marks = {n: w.mark() for n, w in t.watchers.items()}
    lab.ctl(t.old, "stop", "pim")
    t.watchers["router"].wait(ev("pim_lost"), 5, "router: pim_lost")
    lab.ctl(t.old, "start", "pim")


def cause_router_kill(t):
    t.lab.kill("router")
    t.restart("router")
    wait_candidate(t.lab, other(t.old), 10)


def cause_private_cut(t):
    t.lab.ctl("pg-a", "fault", "private-link", "down")
    for n in PG:
        t.watchers[n].wait(ev("peer_lost"), 5, "%s: peer_lost" % n)
    t.lab.ctl("pg-a", "fault", "private-link", "up")
    wait_for(lambda: all(t.lab.links_up(n) for n in PG), 5,
             "the private link up again")
    wait_candidate(t.lab, other(t.old))


def cause_desk_kill(t):
    t.lab.kill("desk-a")
    t.lab.reap("desk-a")
    t.watchers["agents"].wait(ev("desktop_relogin", server="desk-b"), 10,
                              "agents: every desktop back through desk-b")


def cause_mr_router_kill(t):
    lab = t.lab
    lab.kill("router")
    t.restart("router")
    wait_for(lambda: mr_online(lab), 10, "the app routing again")
    wait_for(lambda: mr_candidate(lab, other(t.old)), 5,
             "router: %s's MR PIM a standing candidate" % other(t.old))


def cause_app_kill(t):
    t.lab.kill("app")
    t.restart("app")


def cause_mr_link_cut(t):
    lab = t.lab
    lab.ctl(t.old, "fault", "mr-link", "down")
    wait_for(lambda: mr_online(lab) and node_of(
        lab.status("router")["media_routing"]["active_side"]) != t.old, 10,
        "the MR PIM of %s routing" % other(t.old))
    lab.ctl(t.old, "fault", "mr-link", "up")
    wait_for(lambda: mr_candidate(lab, t.old), 5,
             "router: %s's MR PIM a standing candidate again" % t.old)


def cause_desktop_cut(t):
    t.lab.ctl("agents", "fault", "1001", "down")
    t.watchers["agents"].wait(ev("desktop_lost"), 5, "agents: desktop_lost")
    t.lab.ctl("agents", "fault", "1001", "up")
    t.watchers["agents"].wait(ev("desktop_relogin"), 10,
                              "agents: 1001 logged back in")


def cause_app_cti_cut(t):
    """The app's ARM session cut, and up again once the active CTI server
    and the router have heard it go; the app's resync bracket then."""
    lab, cti = t.lab, t.cti[0]
    lab.ctl("app", "fault", "cti-link", "down")
    t.watchers[cti].wait(ev("app_path_down"), 5, "%s: app_path_down" % cti)
    t.watchers["router"].wait(ev("app_path_down"), 5,
                              "router: app_path_down")
    lab.ctl("app", "fault", "cti-link", "up")
    t.watchers["app"].wait(ev("agents_resynced"), 10,
                           "app: agents_resynced")


def cause_cti_stop(t):
    """The active CTI server stopped: the other side's takes over, the
    app and the desktop server open their sessions there; started again
    once they have (no fail-back)."""
    lab, cti = t.lab, t.cti[0]
    lab.ctl(cti, "stop", "cti-server")
    wait_for(lambda: lab.ctl(other(cti), "cti")["active"], 5,
             "%s: CTI server active" % other(cti))
    t.watchers["app"].wait(ev("agents_resynced"), 10,
                           "app: agents_resynced")
    t.watchers["desk-a"].wait(ev("desktop_relogin"), 10,
                              "desk-a: its agents in again")
    lab.ctl(cti, "start", "cti-server")
    t.cti = [other(cti)]


def mr_side(lab):
    return node_of(lab.status("router")["media_routing"]["active_side"])


def cause_cti_router_cut(t):
    """R22 alone: the voice and MR PIMs on one side (t.old), the active
    CTI server on the other, whose router link is cut; a task made while
    it is down (its TASK_EVENTs cached), the link up again.  What the
    side that holds the PIMs does when it loses the router is another
    trigger's (a PG failover: docs/failover.md)."""
    lab = t.lab
    if mr_side(lab) != t.old:
        m = mr_side(lab)
        lab.ctl(m, "stop", "mr-pim")
        wait_for(lambda: mr_online(lab) and mr_side(lab) == t.old, 10,
                 "the MR PIM of %s routing" % t.old)
        lab.ctl(m, "start", "mr-pim")
        wait_for(lambda: mr_candidate(lab, m), 5,
                 "router: %s's MR PIM a standing candidate" % m)
    if t.cti == [t.old]:
        m = t.watchers["desk-a"].mark()
        lab.ctl(t.old, "stop", "cti-server")
        wait_for(lambda: lab.ctl(other(t.old), "cti")["active"], 5,
                 "%s: CTI server active" % other(t.old))
        lab.ctl(t.old, "start", "cti-server")
        t.cti = [other(t.old)]
        t.watchers["desk-a"].wait(ev("desktop_relogin"), 10, "desk-a: its "
                                  "agents in again through %s" % t.cti[0],
                                  since=m)
    cti = t.cti[0]
    wait_for(lambda: arm_ready(lab, t.cti) and
             lab.ctl("agents", "status")["agents"]["states"] ==
             {"available": AGENTS}, 10, "the app's ARM session on %s, "
             "every desktop back, available" % cti)
    t.marks = {n: w.mark() for n, w in t.watchers.items()}
    lab.ctl(cti, "fault", "router-link", "down")
    t.watchers[cti].wait(ev("task_events_cached"), 5,
                         "%s: task_events_cached" % cti)
    lab.ctl("app", "new-task", "Email", "1")
    wait_for(lambda: lab.status(cti)["cti"]["tasks"]["waiting"] > 0, 10,
             "%s: a TASK_EVENT waiting" % cti)
    lab.ctl(cti, "fault", "router-link", "up")
    t.watchers[cti].wait(ev("task_events_sent"), 10,
                         "%s: task_events_sent" % cti)


CAUSES = {
    "acd_kill": ({}, cause_acd_kill),
    "acd_link_cut": ({}, cause_acd_link_cut),
    "pg_kill": ({}, cause_pg_kill),
    "pg_kill_router_away": ({}, cause_pg_kill_router_away),
    "pg_stop": ({}, cause_pg_stop),
    "cti_primary": (lambda: {"sections": {
        "acd": "backup_port = %d;" % free_ports(1)[0]}}, cause_cti_primary),
    "pim_stop": ({"desktops": True, "agent_mrds": [1, 2]}, cause_pim_stop),
    "router_kill": ({}, cause_router_kill),
    "private_cut": ({}, cause_private_cut),
    "desk_kill": ({"desktops": True}, cause_desk_kill),
    "desktop_cut": ({"desktops": True}, cause_desktop_cut),
    "app_kill": ({"mr": True}, cause_app_kill),
    "mr_link_cut": ({"mr": True}, cause_mr_link_cut),
    "mr_router_kill": ({"mr": True}, cause_mr_router_kill),
    "app_cti_cut": ({"arm": True}, cause_app_cti_cut),
    "cti_stop": ({"arm": True}, cause_cti_stop),
    "cti_router_cut": ({"arm": True}, cause_cti_router_cut),
}


def test(Lab):
    table = rules_table()
    known = {e["event"] for e in table["events"]}
    check(table["triggers"], "no trigger in pgemud --rules-json")
    missing = [t["id"] for t in table["triggers"] if t["id"] not in CAUSES]
    check(not missing, "no way to cause trigger(s) %s in t_rule_order.py"
          % missing)
    failures = []
    # PGEMU_TRIGGERS=id,id...: those alone (to measure a new one).
    only = os.environ.get("PGEMU_TRIGGERS")
    for trig in table["triggers"]:
        if only and trig["id"] not in only.split(","):
            continue
        opts, cause = CAUSES[trig["id"]]
        t = Trial(Lab, trig, **(opts() if callable(opts) else opts))
        cause(t)
        t.settle()
        try:
            t.compare(known)
            failed = False
        except TestFailure as e:
            failures.append(str(e))
            failed = True
        failures += t.lab.close(failed)
    check(not failures, "\n".join(failures))


run(test)

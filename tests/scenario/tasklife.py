"""What the task-life tests (r18_*, r20_*, r21_*) share: a lab of media
routing whose Email MRD (2) has a task life of a few seconds, the agents
signed in to it by their desktops, the app's ARM session open; tasks made
by hand (`pgemuctl app new-task`) and followed at the CTI server, the
router and in the history database.  MRD 2 may be of another media than
email: the app resyncs an email MRD's live tasks when its session is back
(R19) rather than sending their queued messages."""
from pgemu_test import (DEFAULT_NODES, FAST, check, wait_for, wait_online)

LIFE = 2            # task_life of MRD 2, seconds
START_TIMEOUT = 3   # its task_start_timeout
HANDLE_MS = 4000    # a task's handle time: it outlives its task life
PATH = 1            # media_routing.application_path (the default)


def mrds(life=LIFE, start_timeout=START_TIMEOUT, media="email"):
    return ('{ id = 1; name = "Cisco_Voice"; media = "voice"; },\n'
            '  { id = 2; name = "Email"; media = "%s"; max_tasks = 5;'
            ' interruptible = true; task_life = %d; task_start_timeout = %d;'
            ' }' % (media, life, start_timeout))


def arm(lab):
    """The app's ARM session, as `app status` shows it."""
    return lab.status("app")["app"]["arm"]


def media_lab(Lab, name, agents=2, life=LIFE, handle_ms=HANDLE_MS,
              media="email", **kw):
    """The lab started whole, every agent logged in and available in MRD 2
    as the app sees it through its open ARM session (on pg-a's CTI
    server)."""
    for k, v in FAST.items():
        kw.setdefault(k, v)
    lab = Lab(name, agents=agents, desktops=True, media=True,
              agent_mrds=[1, 2], hb_desktop=(100, 3),
              mrds=mrds(life, media=media),
              mr_handle_ms=handle_ms, **kw)
    lab.start_all()
    lab.wait_links_up(DEFAULT_NODES)
    wait_online(lab, 10, agents=agents)
    wait_for(lambda: arm(lab)["state"] == "UP" and
             arm(lab)["server"] == "pg-a" and
             arm(lab)["agents_available"] >= agents, 10,
             "the app's ARM session open on pg-a, every agent available")
    return lab


def cti_tasks(lab, node="pg-a"):
    """The CTI server's task table (with its paths and counters)."""
    return lab.ctl(node, "cti")["tasks"]


def cti_task(lab, dialogue, node="pg-a"):
    for t in cti_tasks(lab, node)["table"]:
        if t["dialogue"] == dialogue:
            return t
    return None


def app_task(lab, dialogue):
    for t in lab.ctl("app", "tasks"):
        if t["dialogue"] == dialogue:
            return t
    return None


def router_task(lab, dialogue):
    for t in lab.ctl("router", "tasks")["tasks"]:
        if t["dialogue"] == dialogue:
            return t
    return None


def new_tasks(lab, n):
    """n new tasks of the Email route: their DialogueIDs."""
    r = lab.ctl("app", "new-task", "Email", str(n))
    return list(range(r["first_dialogue"], r["first_dialogue"] + n))


def start_tasks(lab, n, node="pg-a"):
    """n new tasks, routed and started at the CTI server."""
    ds = new_tasks(lab, n)
    wait_for(lambda: all((cti_task(lab, d, node) or {}).get("state") ==
                         "started" for d in ds), 5,
             "tasks %r started at %s's CTI server" % (ds, node))
    return ds


def tcd(lab, dialogue):
    """Its Termination_Call_Detail rows: (CallDisposition,
    CallDispositionFlag, Segment, Duration, MRDomainID), by segment."""
    return lab.query("SELECT CallDisposition, CallDispositionFlag, Segment,"
                     " Duration, MRDomainID FROM Termination_Call_Detail"
                     " WHERE DialogueID = ? ORDER BY Segment", (dialogue,))


def wait_tcd(lab, dialogue, n, timeout=10):
    wait_for(lambda: len(tcd(lab, dialogue)) >= n, timeout,
             "%d Termination_Call_Detail row(s) of dialogue %d" %
             (n, dialogue))
    return tcd(lab, dialogue)


def logouts(lab):
    return lab.query("SELECT COUNT(*) FROM Agent_Logout")[0][0]


def all_logged_in(lab, agents):
    """Every agent logged in to MRDs 1 and 2 at the router."""
    rows = [a for a in lab.ctl("router", "agents") if a["mrd"] in (1, 2)]
    check(len(rows) == 2 * agents and all(a["logged_in"] for a in rows),
          "agents logged in at the router: %r" % rows)


def mrd2_states(lab):
    return {a["id"]: a["state"] for a in lab.ctl("router", "agents")
            if a["mrd"] == 2}

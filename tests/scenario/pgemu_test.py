"""Scenario-test harness: real pgemud processes, each lab in its own temp dir.

A Lab writes a lab file with free loopback ports, starts nodes as
`pgemud -f -c lab.conf -n NODE`, waits for READY=1 on a private
NOTIFY_SOCKET (no fixed sleeps), talks to them through pgemuctl (-j), follows
their event streams (`pgemuctl watch -j`), and ends everything it started,
by PID.  Test scripts exit 0 (pass), 77 (skip) or 1 (fail), as automake wants.
"""

import hashlib
import hmac
import json
import os
import queue
import random
import re
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

import ged188_client

PGEMUD = os.environ.get("PGEMUD", "pgemud")
PGEMUCTL = os.environ.get("PGEMUCTL", "pgemuctl")
SRCDIR = os.environ.get("PGEMU_SRCDIR",
                        os.path.dirname(os.path.dirname(os.path.dirname(
                            os.path.abspath(__file__)))))
# Sanitizer builds are slower: scale the generous timeouts, never the
# latencies a test asserts.
SLOW = float(os.environ.get("PGEMU_TEST_SLOW", "1"))


class TestFailure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def log(msg):
    print("%.3f %s" % (time.monotonic(), msg), flush=True)


def free_ports(n):
    """n distinct free TCP ports on 127.0.0.1 (held until all are chosen)."""
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def wait_for(pred, timeout, what, interval=0.005):
    """Poll pred() until it is true; fail naming what we waited for."""
    deadline = time.monotonic() + timeout * SLOW
    last_exc = None
    while time.monotonic() < deadline:
        try:
            v = pred()
            if v:
                return v
        except (TestFailure, OSError, ValueError, KeyError) as e:
            last_exc = e
        time.sleep(interval)
    raise TestFailure("timed out after %.1f s waiting for %s%s" % (
        timeout * SLOW, what, (" (last error: %s)" % last_exc)
        if last_exc else ""))


DEFAULT_NODES = ("router", "acd", "pg-a", "pg-b")
DESK_NODES = ("desk-a", "desk-b", "agents")


class Watcher:
    """Follows `pgemuctl -j NODE watch`: events into a queue."""

    def __init__(self, lab, node):
        self.node = node
        self.events = []
        self._mark = 0
        self.q = queue.Queue()
        self.proc = subprocess.Popen(
            [PGEMUCTL, "-s", lab.dir, "-j", node, "watch"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lab.pids.append(self.proc)
        self.thread = threading.Thread(target=self._reader, daemon=True)
        self.thread.start()

    def _reader(self):
        for line in self.proc.stdout:
            line = line.strip()
            if not line:
                continue
            try:
                e = json.loads(line)
            except ValueError:
                continue
            self.events.append(e)
            self.q.put(e)

    def wait(self, pred, timeout=5.0, what="an event", since=None):
        """The first event since the last mark() (or since) that pred
        accepts; it becomes the new mark."""
        deadline = time.monotonic() + timeout * SLOW
        seen = self._mark if since is None else since
        while True:
            while seen < len(self.events):
                e = self.events[seen]
                seen += 1
                if pred(e):
                    self._mark = seen
                    return e
            left = deadline - time.monotonic()
            if left <= 0:
                raise TestFailure("%s: timed out after %.1f s waiting for "
                                  "%s; events seen: %s" % (
                                      self.node, timeout * SLOW, what,
                                      [x.get("message") for x in
                                       self.events[-15:]]))
            try:
                self.q.get(timeout=min(left, 0.1))
            except queue.Empty:
                pass

    def mark(self):
        """Only events from now on count for the next wait()."""
        self._mark = len(self.events)
        return self._mark

    def since(self, mark):
        return self.events[mark:]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def link_event(link, to=None, frm=None):
    def pred(e):
        return (e.get("event") == "link_state" and e.get("link") == link
                and (to is None or e.get("to") == to)
                and (frm is None or e.get("from") == frm))
    return pred


class Lab:
    """One lab: a temp dir, a lab file, free ports, and the nodes' processes.
    """

    def __init__(self, name="t", nodes=DEFAULT_NODES, agents=20, extra="",
                 hb_private=(100, 5), hb_router=(400, 5), hb_acd=(400, 5),
                 interval=1800, traffic=False, reconnect=(50, 1000, 5000),
                 list_agents="", mrds=None, sections=None, extra_acds=(),
                 peripherals=None, desktops=False, hb_desktop=(1000, 3),
                 hb_cti=(5000, 4), verbose=True, agent_mrds=None,
                 media=False, hb_mr=(200, 3), mr_traffic=None,
                 mr_extra="", mr_handle_ms=400, mr_offer_ms=50):
        """extra_acds names acd nodes beside "acd"; peripherals, a list of
        dicts (id, acd, agents, first_id, optional name), writes a
        peripherals list instead of the one peripheral.  Each PG side gets
        its CTI server port (cti_port, also in self.cti_ports).  desktops
        adds the desktop servers desk-a, desk-b and the agents node, every
        generated agent with a desktop; agent_mrds, a list of MRD ids,
        the MRDs of the generated agents (their desktops sign in to each;
        the default mrds are 1 voice and 2 email).  verbose=False starts
        the nodes without -v (no debug lines: a benchmark's).  media adds
        the app node (an application instance) and media routing: route
        "Email" to MRD 2; mr_traffic, tasks per second, turns its traffic
        on; mr_extra goes in the media_routing group; mr_handle_ms and
        mr_offer_ms, the app's task life (traffic handle_time_ms,
        offer_ms)."""
        self.dir = tempfile.mkdtemp(prefix="pgemu-%s-" % name)
        self.name = name
        self.procs = {}
        self.pids = []
        self.notify = {}
        self.logs = {}
        self.watchers = {}
        names = DEFAULT_NODES + tuple(extra_acds) + ("cti-a", "cti-b") + (
            ("desk-a", "desk-b") if desktops else ()) + (
            ("app",) if media else ())
        self.ports = dict(zip(names, free_ports(len(names))))
        self.cti_ports = {"pg-a": self.ports["cti-a"],
                          "pg-b": self.ports["cti-b"]}
        self.extra_acds = tuple(extra_acds)
        self.nodes = nodes + self.extra_acds if nodes is DEFAULT_NODES \
            else nodes
        if desktops and nodes is DEFAULT_NODES:
            self.nodes += DESK_NODES
        if media and nodes is DEFAULT_NODES:
            self.nodes += ("app",)
        self.params = dict(agents=agents, extra=extra, hb_private=hb_private,
                           hb_router=hb_router, hb_acd=hb_acd,
                           interval=interval, traffic=traffic,
                           reconnect=reconnect, list_agents=list_agents,
                           mrds=mrds, sections=sections or {},
                           peripherals=peripherals, desktops=desktops,
                           hb_desktop=hb_desktop, hb_cti=hb_cti,
                           agent_mrds=agent_mrds, media=media, hb_mr=hb_mr,
                           mr_traffic=mr_traffic, mr_extra=mr_extra,
                           mr_handle_ms=mr_handle_ms,
                           mr_offer_ms=mr_offer_ms)
        self.verbose = verbose
        self.conf = os.path.join(self.dir, "lab.conf")
        self.write_conf()

    # The lab file -------------------------------------------------------
    def conf_text(self, **over):
        p = dict(self.params)
        p.update(over)
        mrds = p["mrds"] or (
            '{ id = 1; name = "Cisco_Voice"; media = "voice"; },\n'
            '  { id = 2; name = "Email"; media = "email"; max_tasks = 5;'
            ' interruptible = true; task_life = 5; }')
        sections = dict(p["sections"])
        text = """# scenario lab %(name)s
lab: { name = "%(name)s"; control_dir = "%(dir)s"; state_dir = "%(dir)s";
       interval = %(interval)d; %(labextra)s };
heartbeat: {
  private: { interval_ms = %(p0)d; misses = %(p1)d; };
  router:  { interval_ms = %(r0)d; misses = %(r1)d; };
  acd:     { interval_ms = %(a0)d; misses = %(a1)d; };
  desktop: { interval_ms = %(d0)d; misses = %(d1)d; };
  cti:     { interval_ms = %(c0)d; misses = %(c1)d; };
  mr:      { interval_ms = %(m0)d; misses = %(m1)d; };
};
reconnect: { min_ms = %(b0)d; max_ms = %(b1)d; stable_ms = %(b2)d; };
nodes: {
  router: { role = "router"; address = "127.0.0.1"; port = %(rp)d; %(routerextra)s };
  acd:    { role = "acd"; address = "127.0.0.1"; port = %(ap)d; %(acdextra)s };
  pg-a:   { role = "pg"; side = "A"; address = "127.0.0.1"; port = %(pa)d; cti_port = %(ca)d; %(pgaextra)s };
  pg-b:   { role = "pg"; side = "B"; address = "127.0.0.1"; port = %(pb)d; cti_port = %(cb)d; %(pgbextra)s };
%(acds)s%(desks)s%(app)s};
%(peripherals)s
%(media)s
mrds = ( %(mrds)s );
traffic: { enabled = %(traffic)s; calls_per_second = 5.0;
           handle_time_ms = 300; wrapup_time_ms = 200;
           not_ready_share = 0.2; seed = 7; };
%(extra)s
""" % dict(name=self.name, dir=self.dir, interval=p["interval"],
           p0=p["hb_private"][0], p1=p["hb_private"][1],
           r0=p["hb_router"][0], r1=p["hb_router"][1],
           a0=p["hb_acd"][0], a1=p["hb_acd"][1],
           d0=p["hb_desktop"][0], d1=p["hb_desktop"][1],
           c0=p["hb_cti"][0], c1=p["hb_cti"][1],
           m0=p["hb_mr"][0], m1=p["hb_mr"][1],
           b0=p["reconnect"][0], b1=p["reconnect"][1],
           b2=p["reconnect"][2],
           rp=self.ports["router"], ap=self.ports["acd"],
           pa=self.ports["pg-a"], pb=self.ports["pg-b"],
           ca=self.ports["cti-a"], cb=self.ports["cti-b"],
           agents=p["agents"], list=p["list_agents"], mrds=mrds,
           traffic="true" if p["traffic"] else "false",
           extra=p["extra"], labextra=sections.get("lab", ""),
           routerextra=sections.get("router", ""),
           acdextra=sections.get("acd", ""),
           pgaextra=sections.get("pg-a", ""),
           pgbextra=sections.get("pg-b", ""),
           acds="".join('  %s: { role = "acd"; address = "127.0.0.1"; '
                        'port = %d; };\n' % (a, self.ports[a])
                        for a in self.extra_acds),
           desks=self.desks_text(p),
           app=('  app: { role = "app"; address = "127.0.0.1"; '
                'port = %d; %s };\n' % (self.ports["app"],
                                        sections.get("app", ""))
                if p["media"] else ""),
           media=self.media_text(p),
           peripherals=self.peripherals_text(p))
        return text

    def desks_text(self, p):
        if not p["desktops"]:
            return ""
        return "".join(
            '  desk-%s: { role = "desk"; side = "%s"; address = "127.0.0.1";'
            ' port = %d; %s };\n' % (s.lower(), s, self.ports["desk-" +
                                                           s.lower()],
                                     p["sections"].get("desk-" + s.lower(),
                                                       ""))
            for s in "AB") + \
            '  agents: { role = "agents"; address = "127.0.0.1"; %s };\n' % (
                p["sections"].get("agents", ""))

    def media_text(self, p):
        if not p["media"]:
            return ""
        rate = p["mr_traffic"]
        return ('media_routing: { peripheral = 5001; name = "MR1";\n'
                '  routes = ( { selector = "Email"; mrd = 2; '
                'skill_group = 100; } );\n'
                '  traffic: { enabled = %s; tasks_per_second = %s; '
                'handle_time_ms = %d; offer_ms = %d; seed = 3; };\n'
                '  %s };' % ("true" if rate else "false",
                             repr(float(rate or 1.0)), p["mr_handle_ms"],
                             p["mr_offer_ms"], p["mr_extra"]))

    def peripherals_text(self, p):
        if not p["peripherals"]:
            return ('peripheral: { id = 5000; name = "ACD1";\n'
                    '  agents: { count = %d; first_id = 1001; '
                    'skill_groups = [ 100 ];\n'
                    '            state = "available"; desktops = %s;%s\n'
                    '            list = ( %s ); }; };'
                    % (p["agents"], "true" if p["desktops"] else "false",
                       " mrds = [ %s ];" % ", ".join(
                           str(m) for m in p["agent_mrds"])
                       if p["agent_mrds"] else "", p["list_agents"]))
        return "peripherals = (\n%s );" % ",\n".join(
            '  { id = %d; name = "%s"; type = "voice"; acd = "%s";\n'
            '    sides = [ "pg-a", "pg-b" ];\n'
            '    agents: { count = %d; first_id = %d; '
            'skill_groups = [ 100 ]; }; }'
            % (q["id"], q.get("name", "ACD%d" % q["id"]), q["acd"],
               q["agents"], q["first_id"]) for q in p["peripherals"])

    def write_conf(self, **over):
        with open(self.conf + ".new", "w") as f:
            f.write(self.conf_text(**over))
        os.rename(self.conf + ".new", self.conf)

    # Processes ----------------------------------------------------------
    def start(self, node, wait=True, extra_env=None, args=(), wrapper=(),
              ready_timeout=10):
        """Start one node (under wrapper, e.g. valgrind, if given); wait
        for READY=1 on its NOTIFY_SOCKET."""
        # One notify socket per node for the whole lab, drained all the
        # time as systemd does (a full datagram queue would block the
        # daemon); a restarted node sends to the same one, and only what
        # it sent since its start counts.  Binding anew on each restart
        # raced with the old socket's reader.
        nsock_path = os.path.join(self.dir, "notify-%s.sock" % node)
        if node not in self.notify:
            ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            ns.bind(nsock_path)
            ent = {"sock": ns, "msgs": [], "since": 0}
            self.notify[node] = ent

            def drain():
                while True:
                    try:
                        d = ns.recv(4096)
                    except OSError:
                        return
                    if not d:
                        return
                    ent["msgs"].append(d.decode(errors="replace"))
            threading.Thread(target=drain, daemon=True).start()
        self.notify[node]["since"] = len(self.notify[node]["msgs"])
        env = dict(os.environ)
        env["NOTIFY_SOCKET"] = nsock_path
        env.pop("WATCHDOG_USEC", None)
        env.pop("WATCHDOG_PID", None)
        if extra_env:
            env.update(extra_env)
        logf = open(os.path.join(self.dir, "%s.log" % node), "a")
        self.logs[node] = logf.name
        p = subprocess.Popen(list(wrapper) +
                             [PGEMUD, "-f"] + (["-v"] if self.verbose else [])
                             + ["-c", self.conf, "-n", node]
                             + list(args), stdout=logf, stderr=logf,
                             env=env)
        logf.close()
        self.procs[node] = p
        self.pids.append(p)
        if wait:
            self.wait_notify(node, "READY=1", ready_timeout)
        return p

    def start_all(self, nodes=None):
        for n in nodes or self.nodes:
            self.start(n)

    def notify_msgs(self, node):
        """Every datagram the node sent to its NOTIFY_SOCKET since its
        last start."""
        ent = self.notify[node]
        return ent["msgs"][ent["since"]:]

    def wait_notify(self, node, text, timeout=5.0, exited_ok=False):
        """Wait for a datagram containing text; with exited_ok, one the
        node sent before it exited (still being drained)."""
        def got():
            if any(text in m for m in self.notify_msgs(node)):
                return True
            p = self.procs.get(node)
            if not exited_ok and p is not None and p.poll() is not None:
                raise TestFailure("%s exited with %s before %r; log:\n%s" % (
                    node, p.returncode, text, self.log_text(node)[-3000:]))
            return any(text in m for m in self.notify_msgs(node))
        wait_for(got, timeout, "%s to notify %r" % (node, text))

    def pid(self, node):
        return self.procs[node].pid

    def kill(self, node, sig=signal.SIGKILL):
        os.kill(self.procs[node].pid, sig)

    def stop(self, node, timeout=10):
        """SIGTERM and wait; the exit code."""
        p = self.procs[node]
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
        try:
            return p.wait(timeout=timeout * SLOW)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            raise TestFailure("%s did not stop on SIGTERM" % node)

    def reap(self, node, timeout=5):
        return self.procs[node].wait(timeout=timeout * SLOW)

    # Control ------------------------------------------------------------
    def ctl_raw(self, node, *args, json_out=True):
        cmd = [PGEMUCTL, "-s", self.dir] + (["-j"] if json_out else []) + \
            [node] + list(args)
        r = subprocess.run(cmd, capture_output=True, text=True,
                           timeout=20 * SLOW)
        return r.returncode, r.stdout, r.stderr

    def ctl(self, node, *args):
        rc, out, err = self.ctl_raw(node, *args)
        if rc != 0:
            raise TestFailure("pgemuctl %s %s: exit %d: %s" % (
                node, " ".join(args), rc, err.strip()))
        return json.loads(out)

    def status(self, node):
        return self.ctl(node, "status")

    def link(self, node, name):
        for l in self.status(node)["links"]:
            if l["name"] == name:
                return l
        raise TestFailure("%s has no link %s" % (node, name))

    def links_up(self, node, names=None):
        links = self.status(node)["links"]
        return all(l["state"] == "UP" for l in links
                   if names is None or l["name"] in names)

    def wait_links_up(self, nodes=None, timeout=10):
        for n in nodes or self.nodes:
            wait_for(lambda: self.links_up(n), timeout,
                     "every link of %s UP" % n)

    def watch(self, node):
        before = self.status(node)["watchers"]
        w = Watcher(self, node)
        self.watchers.setdefault(node, []).append(w)
        # Live once the daemon counts one more watcher.
        wait_for(lambda: w.proc.poll() is None and
                 self.status(node)["watchers"] > before, 5,
                 "watch on %s" % node)
        return w

    # Logs and database --------------------------------------------------
    def log_text(self, node):
        try:
            with open(self.logs[node], errors="replace") as f:
                return f.read()
        except (KeyError, OSError):
            return ""

    def grep_log(self, node, pattern):
        return [l for l in self.log_text(node).splitlines()
                if re.search(pattern, l)]

    def wait_log(self, node, pattern, timeout=5):
        return wait_for(lambda: self.grep_log(node, pattern), timeout,
                        "%s log line /%s/" % (node, pattern))

    def key(self):
        """The lab key (lab.key in the state directory), as bytes."""
        with open(os.path.join(self.dir, "lab.key")) as f:
            return bytes.fromhex(f.read().split()[0])

    def db(self):
        return sqlite3.connect(os.path.join(self.dir, "history.db"),
                               timeout=10)

    def router_caught_up(self, timeout=3):
        """Wait (a little) for the router's writer thread to have written
        what waits for it: the rows written behind (the router's own, as
        pgemu_activation, and the login sessions) and the intervals handed
        to it.  At once when no router runs, or it is stopped."""
        p = self.procs.get("router")
        if p is None or p.poll() is not None:
            return
        try:
            with open("/proc/%d/stat" % p.pid) as f:
                if f.read().rsplit(")", 1)[1].split()[0] in "Tt":
                    return
        except OSError:
            return

        def idle():
            c = self.status("router")["counters"]
            return (c.get("session_rows_waiting", 0) == 0 and
                    c.get("interval_rows_waiting", 0) == 0)
        try:
            wait_for(idle, timeout, "the router's writer", interval=0.01)
        except TestFailure:
            pass        # a locked database: the test reads what is there

    def query(self, sql, args=()):
        """The history database, once the router's writer caught up."""
        self.router_caught_up()
        con = self.db()
        try:
            return con.execute(sql, args).fetchall()
        finally:
            con.close()

    # Teardown -----------------------------------------------------------
    def sanitizer_reports(self):
        bad = []
        for n in self.logs:
            for line in self.log_text(n).splitlines():
                if ("runtime error:" in line or "AddressSanitizer" in line
                        or "LeakSanitizer" in line):
                    bad.append("%s: %s" % (n, line))
        return bad

    def close(self, failed=False):
        for ws in self.watchers.values():
            for w in ws:
                w.stop()
        for p in self.pids:
            if p.poll() is None:
                try:
                    os.kill(p.pid, signal.SIGCONT)
                    p.send_signal(signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for p in self.pids:
            try:
                p.wait(timeout=10 * SLOW)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for ns in self.notify.values():
            try:
                ns["sock"].shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            ns["sock"].close()
        reports = self.sanitizer_reports()
        if failed or reports or os.environ.get("PGEMU_KEEP_LOGS"):
            for n in sorted(self.logs):
                print("----- log of %s -----" % n)
                print(self.log_text(n)[-20000:])
        keep = os.environ.get("PGEMU_KEEP_DIR")
        if keep and (failed or os.environ.get("PGEMU_KEEP_LOGS")):
            # The whole lab (logs, databases, spools) for a post-mortem.
            try:
                shutil.copytree(self.dir, os.path.join(
                    keep, os.path.basename(self.dir)), dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("*.sock"))
            except (OSError, shutil.Error) as e:
                print("PGEMU_KEEP_DIR: %s" % e)
        shutil.rmtree(self.dir, ignore_errors=True)
        return reports


def run(test):
    """Run test(lab_factory); print PASS/FAIL; exit as automake expects."""
    labs = []

    def factory(*a, **kw):
        lab = Lab(*a, **kw)
        labs.append(lab)
        return lab

    t0 = time.monotonic()
    failed = False
    try:
        test(factory)
    except TestFailure as e:
        failed = True
        print("FAIL: %s" % e)
    except Exception:
        failed = True
        traceback.print_exc()
    reports = []
    for lab in labs:
        reports += lab.close(failed)
    if reports:
        failed = True
        print("FAIL: sanitizer reports:\n" + "\n".join(reports))
    print("%s: %s (%.2f s)" % ("FAIL" if failed else "PASS",
                               os.path.basename(sys.argv[0]),
                               time.monotonic() - t0))
    sys.exit(1 if failed else 0)


# Helpers the rule tests share -------------------------------------

FAST = dict(hb_private=(20, 5), hb_router=(50, 5), hb_acd=(50, 5),
            traffic=False)
# A router outage: its hold time (500 ms) above the sides' capped back-off
# (200 ms), so both sides are back before a restarted router judges them.
OUTAGE = dict(hb_private=(20, 5), hb_router=(100, 5), hb_acd=(50, 5),
              reconnect=(50, 200, 5000), traffic=False)


def lab_online(Lab, name, agents, **kw):
    """A lab started whole, every link up, the peripheral online with
    every agent logged in: (lab, the router's peripheral)."""
    lab = Lab(name, agents=agents, **kw)
    lab.start_all()
    lab.wait_links_up()
    return lab, wait_online(lab, 10, agents=agents)


def desk_lab_online(Lab, name, agents, **kw):
    """A lab with the desktop servers and the desktops, started whole:
    the peripheral online, every agent logged in by its desktop through
    desk-a, available.  The lab."""
    kw.setdefault("hb_desktop", (100, 3))
    for k, v in FAST.items():
        kw.setdefault(k, v)
    lab = Lab(name, agents=agents, desktops=True, **kw)
    lab.start_all()
    lab.wait_links_up(DEFAULT_NODES)
    wait_online(lab, 10, agents=agents)
    wait_for(lambda: lab.ctl("agents", "status")["agents"]["servers"] ==
             {"desk-a": agents} and
             lab.ctl("agents", "status")["agents"]["states"] ==
             {"available": agents}, 10,
             "every desktop on desk-a, its agent available")
    return lab


def desktop_states(lab):
    """{agent id: its desktop's JSON} (`pgemuctl agents agent ID`)."""
    return {d["agent"]: d for d in (lab.ctl("agents", "agent", str(i))
                                    for i in desktop_ids(lab))}


def desktop_ids(lab):
    return sorted(a["id"] for a in lab.ctl("acd", "agents"))


def ev(name, **fields):
    def pred(e):
        return e.get("event") == name and all(
            e.get(k) == v for k, v in fields.items())
    return pred


def node_of(side):
    return {"A": "pg-a", "B": "pg-b"}[side]


def other(node):
    return "pg-b" if node == "pg-a" else "pg-a"


def periph(lab):
    return lab.status("router")["peripheral"]


def wait_online(lab, timeout=5, agents=None):
    """The router's peripheral, once online with a side active (and, with
    agents, that many agents logged in)."""
    def ok():
        p = periph(lab)
        return p if (p["online"] and p["active_side"] and
                     (agents is None or p["agents_logged_in"] == agents)) \
            else None
    return wait_for(ok, timeout, "router: peripheral online, a side "
                    "active%s" % ("" if agents is None else
                                  ", %d agents logged in" % agents))


def dbtime(t):
    """An epoch second as the history database writes it."""
    return time.strftime("%Y-%m-%d %H:%M:%S.000", time.gmtime(t))


def find_event(lab, node, pred, what, timeout=5):
    """An event from NODE's ring (`events`): also those emitted before any
    watcher could attach (start-up, right after a restart)."""
    def got():
        for e in lab.ctl(node, "events", "500"):
            if pred(e):
                return e
        return None
    return wait_for(got, timeout, "%s: %s" % (node, what), interval=0.05)


def wait_candidate(lab, node, timeout=5):
    """The router has heard node report: link up, ACD link up, PIM idle."""
    def ok():
        for s in periph(lab)["sides"]:
            if s["node"] == node:
                return (s["link"] == "UP" and s["reported"] and
                        s["acd_up"] and not s["pim_active"])
        return False
    wait_for(ok, timeout, "router: %s a standing candidate" % node)


def start_duplex(lab):
    """Start the lab whole, every link up, the peripheral online and the
    standby side a standing candidate: (active node, standby node, epoch)."""
    lab.start_all()
    lab.wait_links_up()
    p = wait_online(lab)
    act = node_of(p["active_side"])
    wait_candidate(lab, other(act))
    return act, other(act), p["epoch"]


def raw_connect(port, timeout=5):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return s


def frame(mtype, body=b""):
    return len(body).to_bytes(4, "big") + mtype.to_bytes(4, "big") + body


def auth_mac(key, label, parts):
    """The lab's MAC (src/base/auth.c): HMAC-SHA-256 over the label with
    its NUL, then each part preceded by its length (u32, big-endian)."""
    msg = label.encode() + b"\0"
    for part in parts:
        msg += len(part).to_bytes(4, "big") + part
    return hmac.new(key, msg, hashlib.sha256).digest()


def hello_frame(node, lab, side="-", ack=False, version=3, key=None,
                nonces=None):
    """A HELLO (HELLO_ACK); with key and nonces (own, other's), the MAC
    that proves the lab key (src/wire/proto_lab.c)."""
    def flt(tag, data):
        return tag.to_bytes(2, "big") + len(data).to_bytes(2, "big") + data
    body = (version.to_bytes(4, "big") + (100).to_bytes(4, "big") +
            (0).to_bytes(4, "big") + side.encode()[:1] +
            flt(0x4001, node.encode() + b"\0") +
            flt(0x4002, lab.encode() + b"\0"))
    if key is not None:
        own, other = nonces
        mac = auth_mac(key, "pgemu HELLO_ACK" if ack else "pgemu HELLO",
                       [node.encode(), lab.encode(), side.encode()[:1], own,
                        other])
        body += flt(0x4008, own + mac)
    return frame(0x4002 if ack else 0x4001, body)


def grant_token(key, periph, epoch, side):
    """The router's token of a grant (src/base/auth.c)."""
    return auth_mac(key, "pgemu GRANT", [struct.pack(">II", periph, epoch),
                                         side.encode()[:1]])


def read_challenge(s, timeout=5):
    """The server's CHALLENGE on a new connection: its 16-byte nonce."""
    s.settimeout(timeout * SLOW)
    buf = b""
    while len(buf) < 24:
        d = s.recv(24 - len(buf))
        if not d:
            raise TestFailure("connection closed before CHALLENGE")
        buf += d
    n, t = struct.unpack(">II", buf[:8])
    check(t == 0x4005 and n == 16, "expected CHALLENGE, got type %#x "
          "length %d" % (t, n))
    return buf[8:24]


def auth_hello(s, key, node, lab, side="-", version=3):
    """Answer the server's CHALLENGE with an authenticated HELLO, as a
    node that has the lab key does: (our nonce, the server's)."""
    theirs = read_challenge(s)
    own = os.urandom(16)
    s.sendall(hello_frame(node, lab, side, version=version, key=key,
                          nonces=(own, theirs)))
    return own, theirs


def closed_by_peer(s, timeout=5):
    """True once the peer closed the connection (EOF or reset)."""
    s.settimeout(timeout * SLOW)
    try:
        while True:
            d = s.recv(65536)
            if not d:
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def rng(seed=None):
    return random.Random(seed if seed is not None else
                         int(os.environ.get("PGEMU_SEED", "12345")))


# CTI server (GED-188) helpers ---------------------------------------

def cti(lab, node):
    """`pgemuctl -j NODE cti`: active, running, port, sessions."""
    return lab.ctl(node, "cti")


def wait_cti_active(lab, node, timeout=5):
    return wait_for(lambda: cti(lab, node)["active"], timeout,
                    "%s: CTI server active" % node)


def cti_connect(lab, node, name=None):
    """A ged188_client Session connected to NODE's CTI server port."""
    return ged188_client.connect("127.0.0.1", lab.cti_ports[node],
                                 name or "cti-%s" % node, 5 * SLOW)


def cti_open_active(lab, timeout=10, name="cti", **open_kw):
    """Open a session as a real client does: side A, then side B, again,
    until one answers OPEN_CONF (refusals and closed connections make it
    try the other).  (node, session, OPEN_CONF)."""
    tried = []

    def attempt():
        for node in ("pg-a", "pg-b"):
            try:
                s = cti_connect(lab, node, name)
            except OSError as e:
                tried.append("%s: %s" % (node, e))
                continue
            try:
                m = s.open(timeout=5 * SLOW, **open_kw)
            except (ged188_client.CtiError, OSError) as e:
                tried.append("%s: %s" % (node, e))
                s.close_socket()
                continue
            if m["type"] == ged188_client.OPEN_CONF:
                return node, s, m
            tried.append("%s: %r" % (node, m))
            s.close_socket()
        return None
    try:
        return wait_for(attempt, timeout, "an OPEN_CONF from side A or B",
                        interval=0.02)
    except TestFailure as e:
        raise TestFailure("%s; tried: %s" % (e, tried[-6:]))


def cti_session(lab, node, client_id):
    """NODE's pgemuctl session entry of client_id (None if it has none)."""
    for x in cti(lab, node)["sessions"]:
        if x["client_id"] == client_id:
            return x
    return None


def cti_log_names(lab, node, port, mtype, timeout=5):
    """A log line of NODE naming the peer 127.0.0.1:port and the message
    type mtype (by its name, or as "type N" or "message N")."""
    peer = "127.0.0.1:%d" % port
    names = (ged188_client.msg_name(mtype), "type %d" % mtype,
             "message %d" % mtype)

    def got():
        return [l for l in lab.log_text(node).splitlines()
                if re.search(re.escape(peer) + r"\b", l) and
                any(re.search(r"\b%s\b" % re.escape(n), l) for n in names)]
    return wait_for(got, timeout, "%s log line naming %s and %s" % (
        node, peer, " or ".join(names)))

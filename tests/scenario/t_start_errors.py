"""A node that cannot start says why and exits 1 (issue 7, item 1).

Every role is started with each resource it needs missing or broken: the
control directory (missing parent, a file, not writable; a socket path
too long is refused in the lab file), the state directory (missing
parent, a file, not writable), the router's history database (random
bytes, a directory, another program's schema, read-only, a symbolic
link; its count of queued rows, a symbolic link), a PG side's spool (a
directory, unreadable, a symbolic link: the file it points to is left
untouched), each listening port in use (the
ACD's backup endpoint after its primary one is up, PG side B's private
port).  Each must exit 1 with one "NODE: error: cannot start: REASON"
line naming the path or port and the system's reason, never crash, leave
no control socket behind, and touch no peer: a side that fails connects
to nobody.  The last component of a missing state directory is made
(mode 0750), a spool with mode 0600.  A second pgemud for a node that
runs says "another pgemud serves node NODE (control socket PATH answers,
pid PID)" and exits 1 before it binds or connects anything: its peers
count no connection; one for a stopped node says that it does not
answer.  A socket left by a process that ended with the probe's
connection in its backlog (kill -9, then the node started at once)
closes it unanswered, then refuses: the node starts; one that accepts and
closes every connection holds the node, and says so; so does one that
closed one, then takes no more before the 2 s are up.  Permissions are tested as nobody (setpriv) when run as root.
The sanitizer build checks each path for memory errors and leaks.
"""
import os
import shutil
import signal
import socket
import sqlite3
import stat
import threading

from pgemu_test import check, log, run, wait_for

NOBODY = 65534


def conf_text(lab, control=None, state=None, history=None, sections=None):
    text = lab.conf_text(sections=sections or {})
    head = 'control_dir = "%s"; state_dir = "%s";' % (lab.dir, lab.dir)
    check(head in text, "the harness's lab line changed")
    new = 'control_dir = "%s"; state_dir = "%s";' % (
        control or lab.dir, state or lab.dir)
    if history:
        new += ' history_db = "%s";' % history
    return text.replace(head, new)


def attempt(lab, node, text, want, wrapper=(), peers=(), running=False):
    """Start node with the lab file text; it must exit 1 saying want (and
    leave the socket of the node that runs, if running)."""
    with open(lab.conf, "w") as f:
        f.write(text)
    before = len(lab.log_text(node))
    counts = {p: refused(lab, p) for p in peers}
    p = lab.start(node, wait=False, wrapper=wrapper)
    rc = p.wait(timeout=20)
    out = lab.log_text(node)[before:]
    lines = [l for l in out.splitlines() if "cannot start" in l]
    log("%s: exit %d: %s" % (node, rc, lines[0] if lines else out[-300:]))
    check(rc == 1, "%s: exit %d (want 1); log:\n%s" % (node, rc, out))
    check(len(lines) == 1 and ("%s: error: cannot start: %s" % (node, want))
          in lines[0], "%s: want one line 'cannot start: %s'; log:\n%s" % (
              node, want, out))
    check("started pgemud" not in out, "%s: said it started:\n%s" % (
        node, out))
    for path in (lab.dir, os.path.join(lab.dir, "run")):
        sock = os.path.join(path, "%s.sock" % node)
        check(os.path.exists(sock) == (running and path == lab.dir),
              "%s %s %s" % (node, "removed" if running else "left", sock))
    for peer in peers:
        check(refused(lab, peer) == counts[peer],
              "%s saw a connection from the %s that could not start: %s" %
              (peer, node, lab.status(peer)["listeners"]))


def refused(lab, node):
    """Connections node's listeners accepted and closed: each status is a
    turn of its loop, so a connection made before this call is counted."""
    for _ in range(3):
        st = lab.status(node)
    return sum(l["refused"] + l["accepted"] for l in st["listeners"])


def unprivileged(lab):
    """A wrapper that runs pgemud where permissions apply: as nobody when
    we are root (who may write anywhere), else as ourselves."""
    if os.geteuid() != 0:
        return (), os.getuid()
    if shutil.which("setpriv") is None:
        return None, None
    os.chmod(lab.dir, 0o755)
    return ("setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY,
            "--clear-groups"), NOBODY


def listening(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", port))
    s.listen(1)
    return s


def test(Lab):
    lab = Lab("starterr")
    d = lab.dir
    nowhere = os.path.join(d, "no", "such")
    afile = os.path.join(d, "a-file")
    with open(afile, "w") as f:
        f.write("not a directory\n")

    # The control directory, for every role.
    for node in ("router", "acd", "pg-a", "pg-b"):
        attempt(lab, node, conf_text(lab, control=nowhere),
                "control directory %s: cannot create it: No such file or "
                "directory" % nowhere)
        attempt(lab, node, conf_text(lab, control=afile),
                "control socket %s/%s.sock: Not a directory" % (afile, node))

    # A control socket path too long: the lab file is refused already.
    longdir = os.path.join(d, "c" * 100)
    with open(lab.conf, "w") as f:
        f.write(conf_text(lab, control=longdir))
    p = lab.start("router", wait=False)
    rc = p.wait(timeout=20)
    out = lab.log_text("router")
    want = ("lab.control_dir: control socket %s/router.sock is longer than "
            "a UNIX socket path (107 bytes)" % longdir)
    check(rc == 1 and want in out, "router: exit %d (want 1 and %r); "
          "log:\n%s" % (rc, want, out[-600:]))

    # The state directory: the router and the PG sides keep files there.
    for node in ("router", "pg-a", "pg-b"):
        attempt(lab, node, conf_text(lab, state=nowhere),
                "state directory %s: cannot create it: No such file or "
                "directory" % nowhere)
        attempt(lab, node, conf_text(lab, state=afile),
                "state directory %s: not a directory" % afile)

    # The history database.
    junk = os.path.join(d, "junk.db")
    with open(junk, "wb") as f:
        f.write(os.urandom(8192))
    attempt(lab, "router", conf_text(lab, history=junk),
            "history database %s: file is not a database (damaged, or not "
            "SQLite: move it aside" % junk)
    adir = os.path.join(d, "dir.db")
    os.mkdir(adir)
    attempt(lab, "router", conf_text(lab, history=adir),
            "history database %s: unable to open database file: Is a "
            "directory" % adir)
    alien = os.path.join(d, "alien.db")
    con = sqlite3.connect(alien)
    con.execute("CREATE TABLE Agent_Interval (Who TEXT, Seconds INTEGER)")
    con.commit()
    con.close()
    attempt(lab, "router", conf_text(lab, history=alien),
            "history database %s: table Agent_Interval has no column named"
            % alien)

    # A PG side's spool that cannot be used.
    for node in ("pg-a", "pg-b"):
        spool = os.path.join(d, "%s.spool" % node)
        os.mkdir(spool)
        attempt(lab, node, conf_text(lab), "spool %s: Is a directory" %
                spool)
        os.rmdir(spool)

    # A spool or a history database that is a symbolic link someone
    # planted: refused, and the file it points to is untouched (an
    # existing one keeps its bytes, a missing one is not made).
    elsewhere = os.path.join(d, "elsewhere")
    os.mkdir(elsewhere)
    precious = os.path.join(elsewhere, "precious")
    with open(precious, "w") as f:
        f.write("not yours to truncate\n")
    missing = os.path.join(elsewhere, "missing")
    for node, target in (("pg-a", precious), ("pg-b", missing)):
        spool = os.path.join(d, "%s.spool" % node)
        os.symlink(target, spool)
        attempt(lab, node, conf_text(lab), "spool %s: is a symbolic link "
                "(refused: a spool is never opened through a link; "
                "remove it)" % spool)
        os.unlink(spool)
    link = os.path.join(d, "link.db")
    for target in (precious, missing):
        os.symlink(target, link)
        attempt(lab, "router", conf_text(lab, history=link),
                "history database %s: is a symbolic link (refused: the "
                "database is never opened through a link; remove it)" %
                link)
        os.unlink(link)
    # The count of rows queued beside the database (history.db.queued),
    # a link: refused too, its target untouched.
    good = os.path.join(d, "good.db")
    for target in (precious, missing):
        os.symlink(target, good + ".queued")
        attempt(lab, "router", conf_text(lab, history=good),
                "history database: %s.queued: Too many levels of symbolic "
                "links (a symbolic link: refused)" % good)
        os.unlink(good + ".queued")
    with open(precious) as f:
        check(f.read() == "not yours to truncate\n",
              "%s was written through a link" % precious)
    check(sorted(os.listdir(elsewhere)) == ["precious"],
          "files made through a link: %s" % os.listdir(elsewhere))

    # A state directory that is itself a link (systemd's DynamicUser makes
    # /var/lib/pgemu a link into /var/lib/private) is no planted link: the
    # router starts, with its database and spool behind the link.
    private = os.path.join(d, "private", "pgemu")
    os.makedirs(private)
    statelink = os.path.join(d, "statelink")
    os.symlink(private, statelink)
    with open(lab.conf, "w") as f:
        f.write(conf_text(lab, state=statelink))
    lab.start("router")
    check(os.path.exists(os.path.join(private, "history.db")),
          "the router made no history.db behind the state directory's link")
    check(lab.stop("router") == 0, "router did not stop cleanly")

    # Ports in use: each listener, the ACD's backup one after its primary
    # one is up (a role that fails half way).
    s = listening(lab.ports["router"])
    attempt(lab, "router", conf_text(lab), "listen on 127.0.0.1:%d: "
            "Address already in use" % lab.ports["router"])
    s.close()
    s = listening(lab.ports["acd"])
    attempt(lab, "acd", conf_text(lab), "listen on 127.0.0.1:%d: Address "
            "already in use" % lab.ports["acd"])
    s.close()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    acd_backup = s.getsockname()[1]
    attempt(lab, "acd", conf_text(lab, sections={
        "acd": "backup_port = %d;" % acd_backup}),
        "listen on 127.0.0.1:%d: Address already in use" % acd_backup)
    s.close()
    s = listening(lab.ports["pg-b"])
    attempt(lab, "pg-b", conf_text(lab), "listen on 127.0.0.1:%d: Address "
            "already in use" % lab.ports["pg-b"])
    s.close()

    # Permissions: not writable, not readable.
    wrap, uid = unprivileged(lab)
    if wrap is None:
        log("setpriv is missing: the permission cases are skipped")
    else:
        ro = os.path.join(d, "ro")
        os.mkdir(ro, 0o555)
        run_dir = os.path.join(d, "run")
        os.mkdir(run_dir, 0o755)
        os.chown(run_dir, uid, -1)
        for node in ("router", "pg-a"):
            attempt(lab, node, conf_text(lab, control=run_dir, state=ro),
                    "state directory %s: cannot write in it: Permission "
                    "denied" % ro, wrapper=wrap)
        attempt(lab, "acd", conf_text(lab, control=ro),
                "control socket %s/acd.sock: Permission denied" % ro,
                wrapper=wrap)
        st = os.path.join(d, "st")
        os.mkdir(st, 0o755)
        os.chown(st, uid, -1)
        con = sqlite3.connect(os.path.join(st, "history.db"))
        con.execute("CREATE TABLE t (a)")
        con.commit()
        con.close()
        os.chmod(os.path.join(st, "history.db"), 0o444)
        attempt(lab, "router", conf_text(lab, control=run_dir, state=st),
                "history database %s/history.db: attempt to write a "
                "readonly database (the file is not writable by this "
                "process)" % st, wrapper=wrap)
        spool = os.path.join(st, "pg-a.spool")
        with open(spool, "w") as f:
            f.write("")
        os.chmod(spool, 0)
        attempt(lab, "pg-a", conf_text(lab, control=run_dir, state=st),
                "spool %s: Permission denied" % spool, wrapper=wrap)

    # A state directory whose last component is missing is made; the lab
    # runs.  Then a PG side whose spool is broken touches no peer.
    state = os.path.join(d, "state")
    with open(lab.conf, "w") as f:
        f.write(conf_text(lab, state=state))
    lab.start_all(("router", "acd", "pg-b"))
    mode = stat.S_IMODE(os.stat(state).st_mode)
    check(mode == 0o750, "state directory made with mode %o" % mode)
    check(os.path.exists(os.path.join(state, "history.db")),
          "no history database in %s" % state)
    mode = stat.S_IMODE(os.stat(os.path.join(state, "pg-b.spool")).st_mode)
    check(mode == 0o600, "spool made with mode %o" % mode)
    wait_for(lambda: lab.links_up("pg-b", ("router-link", "acd-link")), 10,
             "pg-b's links to the router and the ACD UP")
    spool = os.path.join(state, "pg-a.spool")
    os.mkdir(spool)
    attempt(lab, "pg-a", conf_text(lab, state=state),
            "spool %s: Is a directory" % spool,
            peers=("router", "acd", "pg-b"))
    os.rmdir(spool)
    lab.start("pg-a")
    lab.wait_links_up()

    # A second pgemud for a node that runs: refused before it binds or
    # connects anything.
    for node in ("router", "acd", "pg-a", "pg-b"):
        pid = lab.pid(node)
        first = lab.procs[node]
        others = tuple(n for n in ("router", "acd", "pg-a", "pg-b")
                       if n != node)
        attempt(lab, node, conf_text(lab, state=state),
                "another pgemud serves node %s (control socket %s/%s.sock "
                "answers, pid %d)" % (node, d, node, pid), peers=others,
                running=True)
        lab.procs[node] = first
        check(lab.status(node)["pid"] == pid, "%s was replaced" % node)

    # One that is stopped still holds its node.
    lab.kill("router", signal.SIGSTOP)
    first = lab.procs["router"]
    attempt(lab, "router", conf_text(lab, state=state),
            "control socket %s/router.sock accepts connections but gives "
            "no status within 2 s: a stopped pgemud still serves node "
            "router?" % d, running=True)
    lab.procs["router"] = first
    lab.kill("router", signal.SIGCONT)
    wait_for(lambda: lab.status("router")["pid"] == first.pid, 5,
             "the router to answer again")

    # The socket of a process that ended as the probe connected: its
    # connection closed unanswered, the next one refused.
    sock = os.path.join(d, "router.sock")
    lab.stop("router")
    ending = closer(sock, forever=False)
    lab.start("router")
    ending.join(5)
    check(ending.accepted == 1, "the ending process accepted %d" %
          ending.accepted)
    check(lab.status("router")["pid"] == lab.pid("router"),
          "the router started over the socket of one that ended")
    # One that accepts and closes every connection holds the node; so
    # does one that closed a connection, then is too slow to take the
    # next before the 2 s are up (CI under ASan, a busy listener).
    lab.stop("router")
    first = lab.procs["router"]
    for forever, hold, ok, want in ((True, False, lambda n: n > 1,
                                     "more than 1: tried again"),
                                    (False, True, lambda n: n == 1, "1")):
        c = closer(sock, forever=forever, hold=hold)
        attempt(lab, "router", conf_text(lab, state=state),
                "control socket %s accepts connections but closes them "
                "with no status for 2 s: another process serves node "
                "router?" % sock, running=True)
        lab.procs["router"] = first
        c.stop()
        check(ok(c.accepted), "accepted %d, want %s" % (c.accepted,
                                                         want))
    lab.start("router")
    lab.wait_links_up()


class closer(threading.Thread):
    """A listener at path that accepts a connection and closes it, once
    (then the listener too, leaving the file: a process that ended; or,
    with hold, the listener open, accepting no more until stopped) or
    until stopped."""

    def __init__(self, path, forever, hold=False):
        super().__init__(daemon=True)
        if os.path.exists(path):
            os.unlink(path)
        self.ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.ls.bind(path)
        self.ls.listen(16)
        self.ls.settimeout(0.05)
        self.forever = forever
        self.hold = hold
        self.done = threading.Event()
        self.accepted = 0
        self.start()

    def run(self):
        while not self.done.is_set():
            try:
                c, _ = self.ls.accept()
            except socket.timeout:
                continue
            self.accepted += 1
            c.close()
            if not self.forever:
                break
        if self.hold:
            self.done.wait()
        self.ls.close()

    def stop(self):
        self.done.set()
        self.join(5)


run(test)

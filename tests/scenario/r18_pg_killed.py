"""R18 across a PG side failover: the app's ARM session with pg-a's CTI
server is cut, then the active side (pg-a) is killed while its tasks
wait for their task life.  pg-b's CTI server, which kept the copy of the
task table (PEER_TASK) with the path's state, takes over and ends them
with disposition 42 at the deadline of the path's loss on pg-a, not of
its own takeover.

Proves:
 * pg-b's copy: the tasks, the path down since the time pg-a said, each
   task's task life left (`pgemuctl pg-b cti`);
 * pg-a killed half way through the task life: pg-b's CTI server
   active, tasks_expired R18 on pg-b (count, dialogues, 42) at the
   path's loss + its task life (not a whole one after the takeover); one
   Termination_Call_Detail row each with CallDisposition 42, Segment 1;
   a [R18] log line of pg-b's;
 * the app's session back (fault up): it opens with pg-b, the path up
   there (app_path_up R18, no task left), the tasks' ends resume their
   reports (R20: a row of segment 2 each).
"""
from pgemu_test import check, ev, log, run, wait_for
from tasklife import (PATH, cti_task, cti_tasks, media_lab, start_tasks,
                      wait_tcd)

AGENTS = 2
LIFE = 3


def test(Lab):
    lab = media_lab(Lab, "r18pg", agents=AGENTS, life=LIFE, handle_ms=6000)
    wa, wb = lab.watch("pg-a"), lab.watch("pg-b")
    ds = start_tasks(lab, 2)
    wait_for(lambda: all(cti_task(lab, d, "pg-b") is not None
                         for d in ds), 5, "pg-b's copy of the tasks")

    log("the ARM session cut: the path down on pg-a, and in pg-b's copy")
    lab.ctl("app", "fault", "cti-link", "down")
    e = wa.wait(ev("app_path_down"), 5, "app_path_down")
    check(e["rule"] == "R18" and e["tasks"] == 2, "app_path_down: %r" % e)
    down_at = e["since"]

    def copied():
        p = cti_tasks(lab, "pg-b")["paths"]
        return len(p) == 1 and p[0]["path"] == PATH and not p[0]["up"] \
            and p[0]["tasks"] == 2 and \
            abs(p[0]["down_since"] - down_at) < 0.002
    wait_for(copied, 5, "pg-b's copy of the path down (since %.3f)" %
             down_at)
    for d in ds:
        k = cti_task(lab, d, "pg-b")
        check(0 < k["life_left_s"] <= LIFE, "pg-b's copy: %r" % k)

    log("pg-a killed half way: pg-b's CTI server ends the tasks at the "
        "deadline")
    wait_for(lambda: cti_task(lab, ds[0], "pg-b")["life_left_s"] <=
             LIFE / 2, LIFE, "half the task life gone")
    lab.kill("pg-a")
    lab.reap("pg-a")
    e = wb.wait(ev("cti_active"), 5, "pg-b's CTI server active")
    e = wb.wait(ev("tasks_expired"), LIFE + 3, "tasks_expired on pg-b")
    check(e["rule"] == "R18" and e["count"] == 2 and
          sorted(e["dialogues"]) == ds and e["disposition"] == 42,
          "tasks_expired: %r" % e)
    # Not a whole task life after the takeover: the copy's deadline.
    check(LIFE - 0.1 <= e["time"] - down_at <= LIFE + 0.5,
          "expired %.2f s after the path went on pg-a" %
          (e["time"] - down_at))
    for d in ds:
        rows = wait_tcd(lab, d, 1)
        check(rows[0][:3] == (42, 4, 1) and rows[0][4] == 2,
              "TCD of %d: %r" % (d, rows))
    check(lab.grep_log("pg-b", r"\[R18\] 2 tasks ended: the task life"),
          "pg-b's [R18] line")

    log("the session back, with pg-b: the path up, the reports resume")
    lab.ctl("app", "fault", "cti-link", "up")
    e = wb.wait(ev("app_path_up"), 10, "app_path_up on pg-b")
    check(e["rule"] == "R18" and e["tasks"] == 0, "app_path_up: %r" % e)
    for d in ds:
        rows = wait_tcd(lab, d, 2)
        check([r[:3] for r in rows] == [(42, 4, 1), (13, 1, 2)],
              "TCD of %d: %r" % (d, rows))


run(test)

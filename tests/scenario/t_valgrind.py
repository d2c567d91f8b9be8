"""valgrind finds no error and no leak in pgemud: every role runs under
valgrind through a failover (kill -9 of the active side, its restart, a
fault down/up, a reload), then stops on SIGTERM; valgrind's exit code and
report decide.  Skipped (77) where valgrind is missing, and in the
sanitizer build (PGEMU_TEST_SLOW > 1), where ASan does this job.
"""
import os
import shutil
import signal
import sys

from pgemu_test import SLOW, check, log, run, wait_for

if shutil.which("valgrind") is None or SLOW > 1:
    print("SKIP: valgrind missing, or a sanitizer build")
    sys.exit(77)


def test(Lab):
    lab = Lab("vg", agents=50, hb_private=(200, 5), hb_router=(400, 5),
              hb_acd=(400, 5), traffic=True, interval=2)
    vg = ["valgrind", "-q", "--leak-check=full", "--show-leak-kinds=all",
          "--errors-for-leak-kinds=definite,indirect,possible",
          "--error-exitcode=99"]
    for n in ("router", "acd", "pg-a", "pg-b"):
        lab.start(n, wrapper=vg, ready_timeout=60)
    lab.wait_links_up(timeout=30)
    wait_for(lambda: lab.status("router")["peripheral"]["online"], 30,
             "online")
    per = lab.status("router")["peripheral"]
    act = "pg-a" if per["active_side"] == "A" else "pg-b"
    lab.kill(act)
    lab.reap(act, timeout=30)
    wait_for(lambda: lab.status("router")["peripheral"]["online"] and
             lab.status("router")["peripheral"]["epoch"] > per["epoch"],
             30, "failover")
    lab.start(act, wrapper=vg, ready_timeout=60)
    lab.wait_links_up(timeout=30)
    other = "pg-b" if act == "pg-a" else "pg-a"
    lab.ctl(other, "fault", "acd-link", "down")
    lab.ctl(other, "fault", "acd-link", "up")
    lab.ctl(other, "reload")
    wait_for(lambda: lab.status("router")["peripheral"]["online"], 30,
             "online again")
    wait_for(lambda: lab.status("router")["counters"]["rows_stored"] > 0,
             30, "an interval stored")
    for n in ("pg-a", "pg-b", "acd", "router"):
        rc = lab.stop(n, timeout=60)
        text = lab.log_text(n)
        bad = [l for l in text.splitlines() if l.startswith("==")]
        check(rc == 0 and not bad, "%s under valgrind: exit %d\n%s" % (
            n, rc, "\n".join(bad[-40:])))
        log("%s: valgrind clean, exit 0" % n)


run(test)

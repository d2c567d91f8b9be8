"""What the benches share: the binaries, heartbeat settings, a lab ready to
measure, a process's CPU time and the median [min..max] they print."""
import argparse
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(TOP, "tests", "scenario"))


def find_binaries():
    """PGEMUD and PGEMUCTL: the build next to the benches if there is one
    (before pgemu_test is imported: it reads them once)."""
    for d in (os.path.join(TOP, "_build", "default", "src"),
              os.path.join(TOP, "src")):
        if os.path.exists(os.path.join(d, "pgemud")):
            os.environ.setdefault("PGEMUD", os.path.join(d, "pgemud"))
            os.environ.setdefault("PGEMUCTL", os.path.join(d, "pgemuctl"))
            return


find_binaries()
import pgemu_test as P  # noqa: E402  (after PGEMUD is set)


def parse_hb(text):
    """IxM (interval ms x misses), or "product" (None)."""
    if text.lower() == "product":
        return None
    try:
        i, m = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError("IxM, as 10x3: %r" % text)
    if i < 1 or m < 1:
        raise argparse.ArgumentTypeError("IxM, both at least 1: %r" % text)
    return (i, m)


def hb_kwargs(hb):
    """Lab() arguments: hb on every link of the duplex, None the product's."""
    return {} if hb is None else dict(hb_router=hb, hb_private=hb, hb_acd=hb)


def hb_name(hb):
    return "product" if hb is None else "%d ms x %d" % hb


def wait_ready(lab, agents):
    """Every link up, the peripheral online with every agent logged in, the
    first logins written."""
    slow = max(1, agents // 10000)
    lab.wait_links_up(timeout=30 * slow)
    P.wait_for(lambda: lab.status("router")["peripheral"]["online"] and
               lab.status("router")["peripheral"]["agents_logged_in"]
               == agents, 30 * slow, "peripheral online")
    P.wait_for(lambda: lab.status("router")["counters"]
               ["session_rows_waiting"] == 0, 30 * slow,
               "the first logins written")


def cpu_ns(pid):
    """CPU time a process has used, in ns (/proc/PID/schedstat; its
    clock-tick count in /proc/PID/stat where there is none)."""
    try:
        with open("/proc/%d/schedstat" % pid) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * 1e9 / \
            os.sysconf("SC_CLK_TCK")


def fmt(values, f="%.2f"):
    """median [min..max]"""
    if not values:
        return "-"
    return ("%s [%s..%s]" % (f, f, f)) % (statistics.median(values),
                                          min(values), max(values))


def loop_window_max(before, after):
    """The longest piece of work between two readings of a node's `loop`
    (its status): exact if its longest changed, else the bound of the highest bucket
    that grew (None: none grew)."""
    if after["longest_ms"] > before["longest_ms"]:
        return after["longest_ms"], after["longest_what"]
    grew = [i for i, (a, b) in enumerate(zip(before["counts"],
                                             after["counts"])) if b > a]
    if not grew:
        return None, "-"
    bounds = after["bounds_ms"] + [float("inf")]
    return bounds[grew[-1]], "at most; " + after["last"][grew[-1]]


def loop_over(before, after, ms):
    """How many pieces of work held the loop longer than ms meanwhile."""
    i = after["bounds_ms"].index(ms) + 1
    return sum(after["counts"][i:]) - sum(before["counts"][i:])

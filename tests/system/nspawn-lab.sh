#!/bin/bash
# The system test: the Debian package on a real systemd.  A Debian 12
# container (systemd-nspawn --boot, its own network namespace) gets the
# .deb installed, starts pgemu.target, loses its active PG side to a
# SIGKILL, and must show the documented failover in the journal and in
# syslog while systemd brings the killed side back as the standby.
#
#   tests/system/nspawn-lab.sh            (as root)
#
# Environment:
#   PGEMU_DEB     a built pgemu_*.deb to test; without it the package is
#                 built first with tests/t_deb.sh (about a minute)
#   PGEMU_SRCDIR  the source tree (default: this script's ../..)
#   PGEMU_CACHE   where the Debian 12 root is kept between runs (default
#                 /var/cache/pgemu-test; the root is CACHE/rootfs-bookworm)
#   PGEMU_MIRROR  the Debian mirror for debootstrap (default: the one apt
#                 uses here, from /etc/apt/sources.list*)
#   PGEMU_KEEP=1  keep the container's copy on failure (its path is printed)
#
# Steps (each timed):
#   1. the .deb (PGEMU_DEB, or tests/t_deb.sh with PGEMU_DEB_OUT);
#   2. the Debian 12 root, made once with debootstrap --variant=minbase
#      (in a private mount namespace, into a temporary directory renamed
#      into place only when complete);
#   3. a copy of it for this run (cp -a), the .deb installed with
#      systemd-nspawn ... dpkg -i;
#   4. boot: systemd-nspawn --boot --register=no --keep-unit
#      --private-network; the container's systemd is the child of the
#      nspawn process (found under /proc by parent PID); commands run in it
#      with nsenter -t PID -a; wait for is-system-running = running or
#      degraded;
#   5. systemctl start pgemu.target; wait until the router has the
#      peripheral online, one side active, the other a standing candidate;
#   6. systemctl kill -s KILL pgemu@ACTIVE, then check:
#      - the standby's journal: "[R5] activating PIM" and "[R8]" lines, with
#        the fields NODE, EVENT, RULE, PERIPHERAL (journalctl -o json);
#      - the router's journal: "[R6]" and "[R7]" lines;
#      - systemd restarted the killed side (NRestarts >= 1, active), and it
#        came back IDLE while the other side is ACTIVE (pgemuctl -j);
#      - the container's /var/log/syslog (rsyslog): the same "[R5]" line
#        from pgemud[PID], PID being the standby's MainPID;
#   7. systemctl poweroff, wait for nspawn, remove the copy
#      (rm -rf --one-file-system, after checking nothing is mounted there).
#
# Prints PASS/FAIL lines, the time of every phase, and on failure the
# journal of every unit.  Exits 0 when all pass, 1 when one fails, 77
# (skipped) when not root or debootstrap, systemd-nspawn, nsenter, unshare,
# flock or python3 is missing.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/system/common.sh
. "$top/tests/system/common.sh"
require nspawn-lab \
    "apt-get install debootstrap systemd-container util-linux python3" \
    debootstrap systemd-nspawn nsenter unshare flock python3

rootfs=$cache/rootfs-bookworm
suite=bookworm
include=systemd,systemd-sysv,dbus,libevent-2.1-7,libconfig9,libsystemd0,libsqlite3-0,libjansson4,libsodium23,libcairo2,libxml2,rsyslog,procps,iproute2,sqlite3
stamp="debootstrap --variant=minbase --include=$include $suite"
mname=pgemulab$$

t_all=$(now)

work=""
nspid=""
initpid=""
cleanup() {
	rc=$?
	trap - EXIT HUP INT TERM
	stop_container
	remove_work
	exit $rc
}
trap cleanup EXIT
trap 'failed=1; exit 1' HUP INT TERM

# The container's systemd: the child of our nspawn process whose comm is
# "systemd", in another PID namespace.
find_init() { find_child systemd; }

alive() { [ -n "$nspid" ] && kill -0 "$nspid" 2>/dev/null; }

stop_container() {
	alive || return 0
	if [ -n "$initpid" ]; then
		cin systemctl poweroff >/dev/null 2>&1 || true
		poll 30 eval '! alive'
	fi
	if alive; then
		echo "stop: nspawn $nspid still running; SIGTERM"
		kill -TERM "$nspid" 2>/dev/null
		poll 15 eval '! alive'
	fi
	if alive; then
		echo "stop: nspawn $nspid still running; SIGKILL to it and" \
		    "to the container's init $initpid"
		[ -n "$initpid" ] && kill -KILL "$initpid" 2>/dev/null
		kill -KILL "$nspid" 2>/dev/null
	fi
	wait "$nspid" 2>/dev/null
	nspid=""
	initpid=""
}

work=$(mktemp -d "${TMPDIR:-/var/tmp}/pgemu-nspawn.XXXXXX") || exit 1
echo "work: $work"

# 1. The package.
phase deb
if [ -n "${PGEMU_DEB:-}" ]; then
	deb=$PGEMU_DEB
	[ -f "$deb" ] || { fail "PGEMU_DEB=$deb: no such file"; exit 1; }
	echo "deb: $deb (PGEMU_DEB)"
else
	PGEMU_SRCDIR=$src PGEMU_DEB_OUT=$work/deb sh "$src/tests/t_deb.sh" \
	    >"$work/t_deb.out" 2>&1
	rc=$?
	if [ $rc = 77 ]; then
		cat "$work/t_deb.out"
		skip "tests/t_deb.sh skipped (set PGEMU_DEB to a built .deb)"
	fi
	deb=$(ls "$work"/deb/pgemu_*.deb 2>/dev/null | head -1)
	if [ $rc != 0 ] || [ -z "$deb" ]; then
		cat "$work/t_deb.out"
		fail "tests/t_deb.sh (exit $rc)"
		exit 1
	fi
	grep -E '^(PASS|FAIL)' "$work/t_deb.out" | sed 's/^/  t_deb: /'
	echo "deb: $deb (built by tests/t_deb.sh)"
fi

# 2. The Debian 12 root, made once.
phase rootfs
make_rootfs "$rootfs" "$stamp" lib/systemd/systemd --include="$include" ||
    exit 1

# 3. This run's copy, with the package installed.
phase install
root=$work/root
if ! cp -a "$rootfs" "$root"; then
	fail "copy of $rootfs to $root"
	exit 1
fi
echo "copy: $(du -sh "$root" | cut -f1) in $(secs "$phase_t") s"
cp "$deb" "$root/var/tmp/pgemu.deb" || exit 1
if systemd-nspawn -D "$root" --register=no --keep-unit -q \
    --private-network -M "$mname" dpkg -i /var/tmp/pgemu.deb \
    >"$work/dpkg.out" 2>&1; then
	pass "dpkg -i $(basename "$deb") in the container"
else
	fail "dpkg -i $(basename "$deb") in the container:"
	cat "$work/dpkg.out"
	exit 1
fi

# 4. Boot.
phase boot
systemd-nspawn -D "$root" --boot --register=no --keep-unit \
    --console=pipe --private-network -M "$mname" \
    </dev/null >"$work/console.log" 2>&1 &
nspid=$!
echo "nspawn: PID $nspid"
if ! poll 20 eval 'initpid=$(find_init)'; then
	fail "boot: no systemd child of nspawn $nspid after 20 s:"
	cat "$work/console.log"
	exit 1
fi
echo "container init: PID $initpid"
state=""
check_running() {
	state=$(cin systemctl is-system-running 2>/dev/null)
	case $state in running|degraded) return 0 ;; esac
	alive || return 0
	return 1
}
poll 60 check_running
if ! alive; then
	fail "boot: nspawn exited:"
	cat "$work/console.log"
	exit 1
fi
case $state in
running|degraded)
	pass "boot: is-system-running: $state in $(secs "$phase_t") s"
	[ "$state" = degraded ] &&
	    cin systemctl --failed --no-legend | sed 's/^/  failed: /'
	;;
*)
	fail "boot: is-system-running: '$state' after 60 s"
	cin systemctl list-jobs | sed 's/^/  /'
	exit 1
	;;
esac

# On failure from here: every unit's journal.
dump() {
	local u
	echo "----- the container's units"
	cin systemctl list-units --all --no-legend 'pgemu*' rsyslog.service
	for u in router acd pg-a pg-b; do
		echo "----- systemctl status pgemu@$u"
		cin systemctl status --no-pager -l -n 0 "pgemu@$u"
		echo "----- journalctl -u pgemu@$u"
		cin journalctl --no-pager -o short-precise -u "pgemu@$u"
	done
	echo "----- /var/log/syslog (pgemud lines, last 40)"
	grep pgemud "$root/var/log/syslog" 2>/dev/null | tail -n 40
	echo "----- console (last 40 lines)"
	tail -n 40 "$work/console.log"
}
trap 'rc=$?; [ $failed = 1 ] && [ -n "$initpid" ] && dump; (exit $rc); cleanup' EXIT

# 5. The lab.
phase start
wants=$(cin systemctl show -p Wants --value pgemu.target)
n=0
for u in router acd pg-a pg-b; do
	case " $wants " in *" pgemu@$u.service "*) n=$((n + 1)) ;; esac
done
if [ $n = 4 ]; then
	pass "generator: pgemu.target wants pgemu@{router,acd,pg-a,pg-b}"
else
	fail "generator: pgemu.target wants '$wants'"
fi
if cin timeout 60 systemctl start pgemu.target >"$work/start.out" 2>&1; then
	pass "systemctl start pgemu.target"
else
	fail "systemctl start pgemu.target:"
	cat "$work/start.out"
	exit 1
fi
rstatus=""
lab_ready() {
	local sides
	rstatus=$(cin pgemuctl -j router status 2>/dev/null) || return 1
	[ "$(echo "$rstatus" | jget 'd["peripheral"]["online"]')" = True ] ||
	    return 1
	[ -n "$(echo "$rstatus" | jget 'd["peripheral"]["active_side"]')" ] ||
	    return 1
	# Both sides reported to the router with their ACD link up.
	sides=$(echo "$rstatus" | jget 'sum(1 for s in d["peripheral"]["sides"]
	    if s["link"] == "UP" and s["reported"] and s["acd_up"])')
	[ "$sides" = 2 ]
}
if poll 30 lab_ready; then
	side=$(echo "$rstatus" | jget 'd["peripheral"]["active_side"]')
	epoch=$(echo "$rstatus" | jget 'd["peripheral"]["epoch"]')
	pass "lab: peripheral online, side $side active (epoch $epoch)," \
	    "both sides candidates, in $(secs "$phase_t") s"
else
	fail "lab: the router has no peripheral online with both sides" \
	    "up after 30 s; its status:"
	echo "$rstatus"
	exit 1
fi
case $side in
A) act=pg-a stby=pg-b ;;
B) act=pg-b stby=pg-a ;;
*) fail "lab: active side '$side'"; exit 1 ;;
esac
cin systemctl is-active pgemu@router pgemu@acd pgemu@pg-a pgemu@pg-b |
    tr '\n' ' ' | sed 's/^/units: /; s/$/\n/'
r0=$(cin systemctl show -p NRestarts --value "pgemu@$act")

# 6. The failover.
phase failover
cursor=$(cin journalctl -q -n 0 --show-cursor | sed -n 's/^-- cursor: //p')
if ! cin systemctl kill -s KILL "pgemu@$act"; then
	fail "systemctl kill -s KILL pgemu@$act"
	exit 1
fi
echo "killed: pgemu@$act (SIGKILL); $stby was the standby"
after=""
[ -n "$cursor" ] && after="--after-cursor=$cursor"

journal_has() {	# journal_has UNIT REGEX: a line since the kill
	cin journalctl -q --no-pager -o cat $after -u "$1" | grep -qE "$2"
}
took_over() {
	journal_has "pgemu@$stby" '\[R5\] activating PIM' &&
	    journal_has "pgemu@$stby" '\[R8\]' &&
	    journal_has pgemu@router '\[R6\]' &&
	    journal_has pgemu@router '\[R7\]'
}
back() {
	[ "$(cin systemctl show -p NRestarts --value "pgemu@$act")" -gt "${r0:-0}" ] 2>/dev/null &&
	    [ "$(cin systemctl is-active "pgemu@$act")" = active ] &&
	    [ "$(cin pgemuctl -j "$act" status 2>/dev/null | jget 'd["pim"]["state"]')" = IDLE ] &&
	    [ "$(cin pgemuctl -j "$stby" status 2>/dev/null | jget 'd["pim"]["state"]')" = ACTIVE ]
}
in_syslog() { grep -qE 'pgemud\[[0-9]+\]: [a-z-]+: \[R5\] activating PIM' \
    "$root/var/log/syslog" 2>/dev/null; }
poll 20 took_over
echo "journal: the takeover logged $(secs "$phase_t") s after the kill"
poll 20 back
echo "restart: $act back $(secs "$phase_t") s after the kill"
poll 10 in_syslog

# The checks, each one line.
if journal_has "pgemu@$stby" '\[R5\] activating PIM'; then
	pass "journal: pgemu@$stby: $(cin journalctl -q -o cat $after \
	    -u "pgemu@$stby" | grep -m1 -E '\[R5\] activating PIM')"
else
	fail "journal: pgemu@$stby has no '[R5] activating PIM' line"
fi
if journal_has "pgemu@$stby" '\[R8\]'; then
	pass "journal: pgemu@$stby: $(cin journalctl -q -o cat $after \
	    -u "pgemu@$stby" | grep -m1 -E '\[R8\]')"
else
	fail "journal: pgemu@$stby has no '[R8]' line"
fi
for r in R6 R7; do
	if journal_has pgemu@router "\\[$r\\]"; then
		pass "journal: pgemu@router: $(cin journalctl -q -o cat $after \
		    -u pgemu@router | grep -m1 -E "\\[$r\\]")"
	else
		fail "journal: pgemu@router has no '[$r]' line"
	fi
done

# The structured fields of the standby's rule-tagged entries.
cin journalctl -q --no-pager -o json $after -u "pgemu@$stby" \
    >"$work/stby.json"
fields=$(python3 - "$stby" "$work/stby.json" <<'EOF'
import json, sys
node, path = sys.argv[1], sys.argv[2]
want = {"[R5] activating PIM": ("R5", "pim_activating"),
        "[R8]": ("R8", None)}
found = {}
for line in open(path):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    m = e.get("MESSAGE")
    if not isinstance(m, str):
        continue
    for k, (rule, event) in want.items():
        if k in m and k not in found:
            ok = (e.get("NODE") == node and e.get("RULE") == rule and
                  e.get("PERIPHERAL", "").isdigit() and
                  bool(e.get("EVENT")) and
                  (event is None or e.get("EVENT") == event) and
                  e.get("SYSLOG_IDENTIFIER") == "pgemud")
            found[k] = (ok, "NODE=%s EVENT=%s RULE=%s PERIPHERAL=%s" % (
                e.get("NODE"), e.get("EVENT"), e.get("RULE"),
                e.get("PERIPHERAL")))
for k in want:
    ok, f = found.get(k, (False, "no entry"))
    print("%s %s: %s" % ("PASS" if ok else "FAIL", k, f))
EOF
)
while IFS= read -r l; do
	case $l in
	PASS*) pass "journal fields, pgemu@$stby ${l#PASS }" ;;
	*) fail "journal fields, pgemu@$stby ${l#FAIL }" ;;
	esac
done <<EOF
$fields
EOF

nr=$(cin systemctl show -p NRestarts --value "pgemu@$act")
as=$(cin systemctl is-active "pgemu@$act")
if [ "${nr:-0}" -ge 1 ] 2>/dev/null && [ "$as" = active ]; then
	pass "systemd restarted pgemu@$act: NRestarts=$nr, $as"
else
	fail "systemd: pgemu@$act NRestarts=$nr, $as"
fi
sa=$(cin pgemuctl -j "$act" status 2>/dev/null |
    jget '"%s epoch %s" % (d["pim"]["state"], d["pim"]["epoch"])')
sb=$(cin pgemuctl -j "$stby" status 2>/dev/null |
    jget '"%s epoch %s" % (d["pim"]["state"], d["pim"]["epoch"])')
if [ "${sa%% *}" = IDLE ] && [ "${sb%% *}" = ACTIVE ]; then
	pass "roles: $act $sa (standby), $stby $sb"
else
	fail "roles: $act '$sa', $stby '$sb' (expected IDLE and ACTIVE)"
fi
rstatus=$(cin pgemuctl -j router status 2>/dev/null)
p=$(echo "$rstatus" | jget '"online=%s side=%s epoch=%s" % (
    d["peripheral"]["online"], d["peripheral"]["active_side"],
    d["peripheral"]["epoch"])')
echo "router: $p"

mainpid=$(cin systemctl show -p MainPID --value "pgemu@$stby")
sl=$(grep -m1 -E "pgemud\\[[0-9]+\\]: $stby: \\[R5\\] activating PIM" \
    "$root/var/log/syslog" 2>/dev/null)
if [ -z "$sl" ]; then
	fail "syslog: no 'pgemud[PID]: $stby: [R5] activating PIM' line in" \
	    "/var/log/syslog"
elif [ "$(echo "$sl" | sed -n 's/.*pgemud\[\([0-9]*\)\]: .*/\1/p')" != "$mainpid" ]; then
	fail "syslog: the [R5] line is not from $stby's MainPID $mainpid: $sl"
else
	pass "syslog: $sl"
fi
if grep -qE "pgemud\\[[0-9]+\\]: $stby: \\[R8\\]" "$root/var/log/syslog" \
    2>/dev/null; then
	pass "syslog: $stby's [R8] line too"
else
	fail "syslog: no $stby [R8] line in /var/log/syslog"
fi

# 7. Stopping the lab: the generator's order stops the ACD first, then
# the PG sides, then the router, so the PIM is not handed over on the way
# out: no grant after the stop, the ACD's loss logged (R2, R3).
phase labstop
cursor=$(cin journalctl -q -n 0 --show-cursor | sed -n 's/^-- cursor: //p')
after=""
[ -n "$cursor" ] && after="--after-cursor=$cursor"
if cin systemctl stop pgemu.target pgemu@router pgemu@acd pgemu@pg-a \
    pgemu@pg-b; then
	if journal_has pgemu@router 'granted to side'; then
		fail "lab stop: the router granted the PIM on the way out:" \
		    "$(cin journalctl -q --no-pager -o cat $after -u \
		    pgemu@router | grep 'granted to side')"
	elif ! journal_has pgemu@router '\[R2\] peripheral 5000 offline' ||
	    ! journal_has pgemu@router '\[R3\]'; then
		fail "lab stop: the router did not log the ACD's loss (R2, R3)"
	else
		pass "lab stop: ACD first (R2, R3 at the router), no handover"
	fi
else
	fail "systemctl stop pgemu.target"
fi

# 8. The end.
phase stop
[ $failed = 1 ] && dump
trap cleanup EXIT
t=$(now)
stop_container
echo "poweroff: $(secs "$t") s"
phase
echo "timings:"
printf '%s' "$phases"
echo "nspawn-lab: $(secs "$t_all") s in all"
[ $failed = 0 ] && echo "PASS: nspawn-lab" || echo "FAIL: nspawn-lab"
[ $failed = 0 ]

#!/bin/sh
# Real syslog: a lab of pgemud processes without -f logs through syslog(3)
# to /dev/log, as ident pgemud[PID], facility daemon, each message starting
# with the node name, the rule tags of a failover in the messages.
#
# The test re-runs itself in a private mount namespace (unshare -m
# --propagation private; -Ur as non-root) with a private tmpfs /dev (single
# device nodes bound from a keep directory, never /dev itself) and a private
# rsyslogd listening on that /dev/log, so the host is untouched.  There it
# starts router, acd, pg-a and pg-b on a lab file with free loopback ports,
# waits for the router to report the peripheral online, kill -9s the active
# side, waits for the router to report the other side active and online,
# and checks the syslog files:
#   - every node logged lines tagged pgemud[ITS PID], facility daemon, the
#     message starting "NODE: ";
#   - the router logged [R5] (the grant to the new side), [R2], [R6], [R7]
#     and [R8]; the new active side logged [R5] and [R8];
#   - the same lines are in the RSYSLOG_FileFormat file;
#   - each at its priority (an rsyslog template with %syslogseverity-text%):
#     the router's PIM lost, data discarded, peripheral offline and agents
#     logged out at warning, its grant and the peripheral online at
#     notice; a connection to the router closed before its HELLO (made
#     here before the kill) at info, and no "before HELLO" line at warning.
# Everything it started is ended by PID; the temp dir is removed outside
# the namespace with rm -rf --one-file-system.
#
# Run by automake from the build directory.  Environment: PGEMUD (default
# src/pgemud), PGEMUCTL (default pgemuctl next to PGEMUD), PGEMU_SRCDIR
# (default this script's parent directory), PGEMU_TEST_SLOW (scales the
# time-outs), PGEMU_KEEP_LOGS (print the syslog files even on success).
# Exits 0 (pass), 1 (fail) or 77 (skipped: rsyslogd, unshare or python3
# missing, or no mount namespace allowed).
set -u

if [ -z "${PGEMU_T_SYSLOG_INNER:-}" ]; then
	# ---------------- outer part: the host side ----------------
	for tool in rsyslogd unshare python3; do
		if ! command -v $tool >/dev/null 2>&1; then
			echo "SKIP: $tool is missing"
			exit 77
		fi
	done
	if [ "$(id -u)" = 0 ]; then U=""; else U="-Ur"; fi
	if ! unshare $U -m --propagation private true 2>/dev/null; then
		echo "SKIP: unshare $U -m is not allowed here"
		exit 77
	fi
	srcdir=${PGEMU_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
	pgemud=${PGEMUD:-src/pgemud}
	case $pgemud in /*) ;; *) pgemud=$(pwd)/$pgemud ;; esac
	pgemuctl=${PGEMUCTL:-$(dirname "$pgemud")/pgemuctl}
	case $pgemuctl in /*) ;; *) pgemuctl=$(pwd)/$pgemuctl ;; esac
	for b in "$pgemud" "$pgemuctl"; do
		if [ ! -x "$b" ]; then
			echo "FAIL: no executable $b (set PGEMUD, PGEMUCTL)"
			exit 1
		fi
	done
	D=$(mktemp -d "${TMPDIR:-/tmp}/pgemu-syslog.XXXXXX") || exit 1
	chmod 755 "$D"
	# In the background, so that a signal here reaches the inner part
	# (which ends what it started) and the temp dir is still removed.
	PGEMU_T_SYSLOG_INNER=1 PGEMUD=$pgemud PGEMUCTL=$pgemuctl \
	    PGEMU_SRCDIR=$srcdir \
	    unshare $U -m --propagation private /bin/sh "$0" "$D" &
	child=$!
	sig=""
	trap 'sig=1; kill -TERM $child 2>/dev/null' HUP INT TERM
	while :; do
		wait $child
		rc=$?
		kill -0 $child 2>/dev/null || break
	done
	rm -rf --one-file-system "$D"
	[ -n "$sig" ] && [ $rc = 0 ] && rc=1
	exit $rc
fi

# ---------------- inner part: in the private mount namespace ----------------
D=$1
PIDS=""			# every process started here, ended by PID
RS=""			# rsyslogd
FAILED=0
SLOW=${PGEMU_TEST_SLOW:-1}
# Not the journal, not a notify socket: plain syslog(3).
unset JOURNAL_STREAM NOTIFY_SOCKET WATCHDOG_USEC WATCHDOG_PID

# Is the process alive (not gone, not a zombie)?
alive() {
	[ -r "/proc/$1/stat" ] &&
	    ! grep -q '^[0-9]* (.*) Z' "/proc/$1/stat" 2>/dev/null
}
# tenths SECONDS: the number of 0.1 s polls for SECONDS, scaled by SLOW.
tenths() { awk -v t="$1" -v s="$SLOW" 'BEGIN { printf "%d", t * s * 10 }'; }
# stop PID...: SIGTERM, up to 5 s, then SIGKILL; reap.
stop() {
	for p in "$@"; do
		alive "$p" && kill -CONT "$p" 2>/dev/null
		alive "$p" && kill -TERM "$p" 2>/dev/null
	done
	for p in "$@"; do
		i=0
		while alive "$p" && [ $i -lt 50 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		alive "$p" && kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
}
cleanup() {
	[ -n "$PIDS" ] && stop $PIDS
	PIDS=""
	[ -n "$RS" ] && stop "$RS"
	RS=""
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; FAILED=1; }
die() {
	echo "FAIL: $*"
	dump
	exit 1
}
dump() {
	for f in "$D/tagged.log" "$D/severity.log" "$D/syslog.log" \
	    "$D"/out-*.txt \
	    "$D/rsyslogd.out"; do
		[ -s "$f" ] || continue
		echo "----- ${f##*/} -----"
		tail -n 300 "$f"
	done
}

# A private /dev: single nodes bound through a keep dir (never the host's
# /dev tree).
mkdir -p "$D/keep" "$D/work" || die "mkdir in $D"
for n in null zero full random urandom tty; do
	touch "$D/keep/$n" && mount --bind "/dev/$n" "$D/keep/$n" ||
	    die "cannot bind /dev/$n"
done
mount -t tmpfs -o mode=755 tmpfs /dev || die "cannot mount a tmpfs on /dev"
for n in null zero full random urandom tty; do
	touch "/dev/$n" && mount --bind "$D/keep/$n" "/dev/$n" ||
	    die "cannot bind /dev/$n back"
done
mkdir /dev/shm && mount -t tmpfs tmpfs /dev/shm || die "no /dev/shm"
ln -s /proc/self/fd /dev/fd
ln -s /proc/self/fd/0 /dev/stdin
ln -s /proc/self/fd/1 /dev/stdout
ln -s /proc/self/fd/2 /dev/stderr

# A private rsyslogd on /dev/log: one file in RSYSLOG_FileFormat, one with
# the facility and the tag.
cat >"$D/rsyslog.conf" <<EOF
global(workDirectory="$D/work")
module(load="imuxsock" SysSock.Name="/dev/log"
       SysSock.RateLimit.Interval="0")
template(name="FacilityTag" type="string"
         string="%syslogfacility-text% %syslogtag%%msg:::sp-if-no-1st-sp%%msg:::drop-last-lf%\n")
template(name="Severity" type="string"
         string="%syslogseverity-text% %syslogtag%%msg:::sp-if-no-1st-sp%%msg:::drop-last-lf%\n")
*.* action(type="omfile" file="$D/syslog.log" template="RSYSLOG_FileFormat")
*.* action(type="omfile" file="$D/tagged.log" template="FacilityTag")
*.* action(type="omfile" file="$D/severity.log" template="Severity")
EOF
rsyslogd -n -f "$D/rsyslog.conf" -i "$D/rsyslogd.pid" \
    >"$D/rsyslogd.out" 2>&1 &
RS=$!
i=0
while [ ! -S /dev/log ] && [ $i -lt "$(tenths 5)" ]; do
	alive "$RS" || die "rsyslogd exited"
	sleep 0.1
	i=$((i + 1))
done
[ -S /dev/log ] || die "no /dev/log after 5 s"
marker="t_syslog-marker-$$"
logger -t t_syslog "$marker"
i=0
while ! grep -q "$marker" "$D/tagged.log" 2>/dev/null &&
    [ $i -lt "$(tenths 5)" ]; do
	sleep 0.1
	i=$((i + 1))
done
grep -q "$marker" "$D/tagged.log" 2>/dev/null ||
    die "rsyslogd: a logger line did not reach $D/tagged.log"
echo "rsyslogd $RS on a private /dev/log; a logger line arrived"

# The lab: the scenario harness's lab file (free loopback ports, the
# control and state directories in the lab's dir), made under $D.
out=$(TMPDIR=$D PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=$PGEMU_SRCDIR/tests/scenario python3 -c '
import pgemu_test
lab = pgemu_test.Lab("syslog", hb_private=(50, 5), hb_router=(100, 5),
                     hb_acd=(100, 5), traffic=False)
print(lab.dir, lab.ports["router"])') || die "cannot write the lab file"
# shellcheck disable=SC2086 # two words, split on purpose
set -- $out
L=${1:-} router_port=${2:-}
[ -f "$L/lab.conf" ] || die "no $L/lab.conf"

start_node() {	# start_node NODE: in the background, syslog (no -f)
	"$PGEMUD" -c "$L/lab.conf" -n "$1" >"$D/out-$1.txt" 2>&1 &
	PIDS="$PIDS $!"
}
start_node router; pid_router=$!
start_node acd; pid_acd=$!
start_node pg-a; pid_pg_a=$!
start_node pg-b; pid_pg_b=$!
pid_of() {
	case $1 in
	router)	echo "$pid_router" ;;
	acd)	echo "$pid_acd" ;;
	pg-a)	echo "$pid_pg_a" ;;
	pg-b)	echo "$pid_pg_b" ;;
	esac
}
echo "started router $pid_router, acd $pid_acd, pg-a $pid_pg_a," \
    "pg-b $pid_pg_b (syslog, no -f)"

# The router's view: "ONLINE ACTIVE_SIDE EPOCH STANDBY_READY", where
# STANDBY_READY is 1 when the other side is a standing candidate.
periph() {
	"$PGEMUCTL" -s "$L" -j router status 2>/dev/null | python3 -c '
import json, sys
p = json.load(sys.stdin)["peripheral"]
act = p.get("active_side") or "-"
ready = 0
for s in p.get("sides", []):
    if (s.get("side") != act and
            s.get("link") == "UP" and s.get("reported") and
            s.get("acd_up") and not s.get("pim_active")):
        ready = 1
print(1 if p.get("online") else 0, act, p.get("epoch", 0), ready)
' 2>/dev/null
}
# wait_router SECONDS TEST WHAT: poll periph until TEST (sh code over
# $online $active $epoch $ready) holds.
wait_router() {
	i=0
	while [ $i -lt "$(tenths "$1")" ]; do
		for p in $PIDS; do
			[ "$p" = "${killed:-}" ] && continue
			alive "$p" || die "pgemud $p exited while waiting for $3"
		done
		st=$(periph)
		if [ -n "$st" ]; then
			set -- "$1" "$2" "$3" $st
			# shellcheck disable=SC2034 # used by eval "$2"
			online=$4 active=$5 epoch=$6 ready=$7
			set -- "$1" "$2" "$3"
			eval "$2" && return 0
		fi
		sleep 0.1
		i=$((i + 1))
	done
	die "timed out after $1 s (x$SLOW) waiting for $3; router: ${st:-no answer}"
}

killed=""
wait_router 15 '[ "$online" = 1 ] && [ "$active" != - ] && [ "$ready" = 1 ]' \
    "the peripheral online, a side active, the other a candidate"
# A connection that closes before its HELLO (a probe, a second pgemud):
# harmless, logged at info.
python3 -c '
import socket, sys
socket.create_connection(("127.0.0.1", int(sys.argv[1]))).close()
' "$router_port" || die "cannot connect to the router's port $router_port"
old_side=$active old_epoch=$epoch
case $old_side in
A)	act=pg-a act_pid=$pid_pg_a new=pg-b new_pid=$pid_pg_b new_side=B ;;
B)	act=pg-b act_pid=$pid_pg_b new=pg-a new_pid=$pid_pg_a new_side=A ;;
*)	die "router names active side $old_side" ;;
esac
echo "router: peripheral online, side $old_side ($act) active, epoch" \
    "$old_epoch; kill -9 $act_pid ($act)"
killed=$act_pid
kill -KILL "$act_pid" || die "cannot kill $act ($act_pid)"
wait "$act_pid" 2>/dev/null
wait_router 15 "[ \"\$online\" = 1 ] && [ \"\$active\" = $new_side ] &&
    [ \"\$epoch\" -gt $old_epoch ]" \
    "side $new_side ($new) active and the peripheral online"
echo "router: side $new_side ($new) active, epoch $epoch, peripheral online"

# The checks, on the syslog files (polled: rsyslogd writes asynchronously).
# Each check is "DESCRIPTION|FILE|EXTENDED REGEX".
esc() { printf '%s\n' "$1" | sed 's/[][\.*^$+?(){}|/]/\\&/g'; }
ts='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+[-+Z][0-9:]* [^ ]+ '
checks=""
add() { checks="$checks$1|$2|$3
"; }
for n in router acd pg-a pg-b; do
	p=$(pid_of "$n")
	add "$n: a line tagged pgemud[$p], facility daemon, \"$n: \"" \
	    tagged "^daemon pgemud\\[$p\\]: $(esc "$n"): "
done
for r in R5 R2 R6 R7 R8; do
	if [ $r = R5 ]; then
		what="[R5] naming side $new_side (the grant)"
		re="\\[R5\\] .*side $new_side"
	else
		what="[$r]"
		re="\\[$r\\] "
	fi
	add "router: $what" tagged \
	    "^daemon pgemud\\[$pid_router\\]: router: $re"
done
for r in R5 R8; do
	add "$new (new active): [$r]" tagged \
	    "^daemon pgemud\\[$new_pid\\]: $(esc "$new"): \\[$r\\] "
done
# Priorities (pgemud(8), pgemu-failover(7)).
rt="pgemud\\[$pid_router\\]: router: "
add "warning: router's [R5] PIM lost" severity \
    "^warning $rt\\[R5\\] PIM .* lost"
add "warning: router's [R1] data discarded" severity "^warning $rt\\[R1\\] "
add "warning: router's [R2] peripheral offline" severity \
    "^warning $rt\\[R2\\] peripheral .* offline"
add "warning: router's [R6] agents logged out" severity "^warning $rt\\[R6\\] "
add "notice: router's [R5] grant" severity "^notice $rt\\[R5\\] PIM .* granted"
add "notice: router's [R8] peripheral online" severity "^notice $rt\\[R8\\] "
add "info: router's \"closed before HELLO\"" severity \
    "^info ${rt}listener .*closed before HELLO"
add "RSYSLOG_FileFormat: router's [R5] line with a timestamp and host" \
    syslog "${ts}pgemud\\[$pid_router\\]: router: \\[R5\\] "
add "RSYSLOG_FileFormat: $new's [R8] line with a timestamp and host" \
    syslog "${ts}pgemud\\[$new_pid\\]: $(esc "$new"): \\[R8\\] "

run_checks() {	# run_checks QUIET: 0 when every check holds
	bad=0
	while IFS='|' read -r what file re; do
		[ -n "$what" ] || continue
		if grep -Eq -e "$re" "$D/$file.log" 2>/dev/null; then
			[ "$1" = 1 ] || pass "$what"
		else
			[ "$1" = 1 ] || fail "$what (no line matching /$re/" \
			    "in $file.log)"
			bad=1
		fi
	done <<EOF
$checks
EOF
	return $bad
}
i=0
while ! run_checks 1 && [ $i -lt "$(tenths 5)" ]; do
	sleep 0.1
	i=$((i + 1))
done
run_checks 0
if grep -E '^(warning|err|crit|alert|emerg) .*before HELLO' \
    "$D/severity.log" >"$D/bad.txt"; then
	fail "\"before HELLO\" logged at warning or worse:" \
	    "$(head -n 1 "$D/bad.txt")"
else
	pass "no \"before HELLO\" line at warning or worse"
fi
echo "syslog: $(wc -l <"$D/tagged.log" | tr -d ' ') lines," \
    "$(grep -c '^daemon pgemud\[' "$D/tagged.log") from pgemud"

cleanup
if [ $FAILED = 1 ] || [ -n "${PGEMU_KEEP_LOGS:-}" ]; then
	dump
fi
if [ $FAILED = 1 ]; then
	echo "FAIL: t_syslog.sh"
	exit 1
fi
echo "PASS: t_syslog.sh"
exit 0

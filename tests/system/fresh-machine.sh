#!/bin/bash
# The README's first command on a fresh Debian 12 machine, as written.
# A clean Debian 12 root (debootstrap --variant=minbase) gets git from its
# own apt, as a user would install it, and a clone of this source tree's
# HEAD; then, as root in the clone, the first command of README.md (the
# line after "Run a complete lab") runs in the background, as written,
# until `src/pgemuctl router peripherals` in the root shows the peripheral
# online with a side active; SIGINT to pgemu-lab must then stop the lab
# cleanly.
#
#   tests/system/fresh-machine.sh            (as root)
#
# Environment:
#   PGEMU_SRCDIR   the source tree, a git repository (default: this
#                  script's ../..); its HEAD is what is cloned
#   PGEMU_CACHE    where the pristine root is kept between runs (default
#                  /var/cache/pgemu-test; the root is
#                  CACHE/rootfs-bookworm-minbase)
#   PGEMU_MIRROR   the Debian mirror (default: the one apt uses here, from
#                  /etc/apt/sources.list*); the root's apt uses it too
#   PGEMU_FRESH_TIMEOUT  seconds the first command may take until the
#                  peripheral is online (default 1800: it installs
#                  packages and builds)
#   PGEMU_KEEP=1   keep the root's copy on failure (its path is printed)
#
# Steps (each timed):
#   1. ports: the sample lab's ports (etc/pgemu.conf) must be free on
#      127.0.0.1, since the container shares this machine's network (its
#      apt needs the mirror); the lab itself listens on 127.0.0.1 only;
#   2. rootfs: the pristine root, made once with debootstrap and cached;
#   3. copy: a copy of it for this run (cp -a);
#   4. git: apt-get update and apt-get install git in the copy
#      (systemd-nspawn -D ROOT --register=no --keep-unit --console=pipe,
#      which mounts /proc, /sys and /dev itself: no other host directory
#      is mounted into it); `git bundle` of HEAD copied in, cloned there
#      with the root's git into /root/pgemu;
#   5. first: the README's first command in /root/pgemu, in the
#      background under systemd-nspawn, its output in the work directory;
#      wait until `src/pgemuctl router peripherals` (run in the
#      container with nsenter) says "online: true" and an active side;
#   6. stop: SIGINT to pgemu-lab; it must end 0 after "the lab is
#      stopped", every node having logged "stopped"; then the container
#      ends;
#   7. the copy is removed (rm -rf --one-file-system, after checking that
#      nothing is mounted under it).
#
# Prints PASS/FAIL lines and the time of every phase.  Exits 0 when all
# pass, 1 when one fails, 77 (skipped) when not root, or debootstrap,
# systemd-nspawn, nsenter, unshare, flock or git is missing.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/system/common.sh
. "$top/tests/system/common.sh"
require fresh-machine \
    "apt-get install debootstrap systemd-container util-linux git" \
    debootstrap systemd-nspawn nsenter unshare flock git

suite=bookworm
rootfs=$cache/rootfs-$suite-minbase
stamp="debootstrap --variant=minbase $suite"
limit=${PGEMU_FRESH_TIMEOUT:-1800}
mname=pgemufresh$$
t_all=$(now)

git -C "$src" rev-parse --verify -q HEAD >/dev/null ||
    skip "$src is not a git repository with a HEAD"
cmd=$(awk '/^Run a complete lab/ { want = 1; next }
	want && /^    [^ ]/ { sub(/^    /, ""); print; exit }' "$src/README.md")
case $cmd in
*pgemu-lab*) echo "first command: $cmd" ;;
*)	echo "FAIL: README.md: no first command (an indented line after" \
	    "\"Run a complete lab\" that runs pgemu-lab): '$cmd'"
	exit 1 ;;
esac

work=""
nspid=""
initpid=""
alive() { [ -n "$nspid" ] && kill -0 "$nspid" 2>/dev/null; }
cleanup() {
	rc=$?
	trap - EXIT HUP INT TERM
	if alive; then
		echo "cleanup: nspawn $nspid still running; SIGKILL to it and" \
		    "its child ${initpid:-(not found)}"
		[ -n "$initpid" ] && kill -KILL "$initpid" 2>/dev/null
		kill -KILL "$nspid" 2>/dev/null
		wait "$nspid" 2>/dev/null
	fi
	if alive; then
		echo "cleanup: nspawn $nspid is still there: $work left in place"
	else
		remove_work
	fi
	exit $rc
}
trap cleanup EXIT
trap 'failed=1; exit 1' HUP INT TERM

# nspawn [OPTION...] COMMAND...: run COMMAND in the root, as root.
nspawn() { systemd-nspawn "${nsargs[@]}" "$@" </dev/null; }

# 1. The sample lab's ports, free here (the container shares them).
phase ports
ports=$(sed -n 's/.*[^_]port *= *\([0-9][0-9]*\);.*/\1/p;
    s/.*backup_port *= *\([0-9][0-9]*\);.*/\1/p;
    s/.*cti_port *= *\([0-9][0-9]*\);.*/\1/p' "$src/etc/pgemu.conf" |
    sort -un | tr '\n' ' ')
busy=""
for p in $ports; do
	if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
		busy="$busy $p"
	fi
done
if [ -n "$busy" ]; then
	fail "ports: the sample lab's ports$busy are in use on 127.0.0.1" \
	    "(a lab of etc/pgemu.conf runs here? pgemu.target?); the" \
	    "container shares this machine's network"
	exit 1
fi
pass "ports: the sample lab's ports ($ports) are free"

# 2. The pristine Debian 12 root, made once.
phase rootfs
make_rootfs "$rootfs" "$stamp" usr/bin/apt-get || exit 1

# 3. This run's copy.
phase copy
work=$(mktemp -d "${TMPDIR:-/var/tmp}/pgemu-fresh.XXXXXX") || exit 1
root=$work/root
nsargs=(-D "$root" --register=no --keep-unit -q --console=pipe -M "$mname")
echo "work: $work"
if ! cp -a "$rootfs" "$root"; then
	fail "copy of $rootfs to $root"
	exit 1
fi
echo "copy: $(du -sh "$root" | cut -f1) in $(secs "$phase_t") s"

# 4. git from the root's apt, and a clone of HEAD.
phase git
if nspawn /bin/sh -c 'export DEBIAN_FRONTEND=noninteractive;
    apt-get update -q && apt-get install -y -q git' >"$work/git.out" 2>&1
then
	pass "apt-get install git in the root" \
	    "($(grep -c '^Setting up' "$work/git.out") packages)"
else
	fail "apt-get install git in the root:"
	tail -n 30 "$work/git.out"
	exit 1
fi
head=$(git -C "$src" rev-parse --short HEAD)
if git -C "$src" bundle create "$root/root/pgemu.bundle" HEAD \
    >"$work/bundle.out" 2>&1 &&
    nspawn /bin/sh -c 'cd /root &&
    git -c advice.detachedHead=false clone -q pgemu.bundle pgemu &&
    rm pgemu.bundle' >>"$work/bundle.out" 2>&1; then
	pass "git clone of $src at $head into /root/pgemu"
else
	fail "git clone of $src at $head:"
	cat "$work/bundle.out"
	exit 1
fi
[ -z "$(git -C "$src" status --porcelain --untracked-files=no)" ] ||
    echo "note: $src has changes that are not committed: HEAD is tested"

# 5. The first command, as written, as root, in the clone.
phase first
systemd-nspawn "${nsargs[@]}" --chdir=/root/pgemu /bin/bash -c "$cmd" \
    </dev/null >"$work/first.out" 2>&1 &
nspid=$!
echo "nspawn: PID $nspid: $cmd"
if ! poll 30 eval 'initpid=$(find_child)'; then
	fail "first: no child of nspawn $nspid after 30 s:"
	cat "$work/first.out"
	exit 1
fi
periph=""
online() {
	periph=$(cin /root/pgemu/src/pgemuctl -f keyvalue router \
	    peripherals 2>&1) &&
	    echo "$periph" | grep -q '^0\.online=true$' &&
	    echo "$periph" | grep -qE '^0\.active_side=[AB]$'
}
# Every 2 s until online, the command ended, or the time is up; what it
# does, every 30 s.
t0=$(date +%s)
said=$t0
while ! online && alive && [ $(($(date +%s) - t0)) -lt "$limit" ]; do
	if [ $(($(date +%s) - said)) -ge 30 ]; then
		said=$(date +%s)
		echo "  $(secs "$phase_t") s: $(tail -n 1 "$work/first.out" |
		    cut -c 1-100)"
	fi
	sleep 2
done
if online; then
	pass "first: the peripheral online, side $(echo "$periph" |
	    sed -n 's/^0\.active_side=//p') active, $(secs "$phase_t") s" \
	    "after the first command started"
	echo "$periph" | sed 's/^/  /'
else
	fail "first: no peripheral online with a side active after" \
	    "$(secs "$phase_t") s$(alive || echo ' (the command ended)');" \
	    "pgemuctl router peripherals: $periph"
	echo "----- the first command's output (last 60 lines)"
	tail -n 60 "$work/first.out"
	exit 1
fi
grep -E '^(Setting up|Get:)' "$work/first.out" | grep -c '^Setting up' |
    sed 's/^/packages installed by .ci\/setup: /'

# 6. Ctrl-C: SIGINT to pgemu-lab, which stops every node.
phase stop
# pgemu-lab in the container (not one of its subshells, whose parent is
# pgemu-lab too).
labpid=""
for d in /proc/[0-9]*; do
	[ "$(cat "$d/comm" 2>/dev/null)" = pgemu-lab ] || continue
	[ "$(readlink "$d/ns/pid")" = "$(readlink "/proc/$initpid/ns/pid")" ] ||
	    continue
	st=$(cat "$d/stat" 2>/dev/null) || continue
	st=${st##*) }
	# shellcheck disable=SC2086 # the fields of stat, split on purpose
	set -- $st
	[ "$(cat "/proc/$2/comm" 2>/dev/null)" = pgemu-lab ] && continue
	labpid=${d#/proc/}
done
if [ -z "$labpid" ]; then
	fail "stop: no pgemu-lab process in the container"
	exit 1
fi
kill -INT "$labpid"
if ! poll 60 eval '! alive'; then
	fail "stop: the container still runs 60 s after SIGINT to pgemu-lab"
	tail -n 30 "$work/first.out"
	exit 1
fi
wait "$nspid"
rc=$?
nspid=""
stopped=$(grep -cE '^[0-9:.]+ (router|acd|pg-a|pg-b|desk-a|desk-b|agents|app): stopped$' \
    "$work/first.out")
if [ $rc = 0 ] && [ "$stopped" = 8 ] &&
    [ "$(grep '^pgemu-lab:' "$work/first.out" | tail -n 1)" = \
    "pgemu-lab: the lab is stopped" ]; then
	pass "stop: pgemu-lab ended 0 on SIGINT, the 8 nodes stopped," \
	    "in $(secs "$phase_t") s"
else
	fail "stop: exit $rc, $stopped nodes logged 'stopped'; the end:"
	tail -n 30 "$work/first.out"
fi

phase
echo "timings:"
printf '%s' "$phases"
echo "fresh-machine: $(secs "$t_all") s in all"
[ $failed = 0 ] && echo "PASS: fresh-machine" || echo "FAIL: fresh-machine"
[ $failed = 0 ]

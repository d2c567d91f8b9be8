# shellcheck shell=bash disable=SC2154 # the globals below are the caller's
# What the system tests share (bash; sourced): PASS/FAIL lines, timed
# phases, polling, the Debian mirror, the cached Debian root, and running
# commands in a systemd-nspawn container.
#
# The sourcing script sets $top (the tree the script is in) before it
# sources this file, $suite (the Debian suite) before it calls
# mirror or make_rootfs, $nspid (its nspawn process) before find_child,
# $initpid (the container's PID 1) before cin, $work (its directory) and
# $mname (the machine's name) before remove_work.

# The source tree, and where the Debian roots are kept between runs.
# shellcheck disable=SC2034 # used by the callers
src=${PGEMU_SRCDIR:-$top}
cache=${PGEMU_CACHE:-/var/cache/pgemu-test}

# skip WHY: the test $test_name is skipped (exit 77).
skip() { echo "SKIP: $test_name: $*"; exit 77; }

# require NAME HINT TOOL...: exit 77 (skipped) unless root with every TOOL.
require() {
	local hint=$2 t
	test_name=$1
	shift 2
	[ "$(id -u)" = 0 ] || skip "needs root"
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 || skip "$t is missing ($hint)"
	done
}

failed=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; failed=1; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
phases=""
phase_t=""
phase_name=""
phase() {	# phase NAME: end the current phase, start the next
	if [ -n "$phase_name" ]; then
		d=$(secs "$phase_t")
		echo "time: $phase_name ${d} s"
		phases="$phases$(printf '  %-10s %6s s' "$phase_name" "$d")
"
	fi
	phase_name=${1:-}
	phase_t=$(now)
	[ -n "$phase_name" ] && echo "=== $phase_name"
}

# poll SECONDS COMMAND...: run COMMAND every 0.2 s until it succeeds.
poll() {
	local end
	end=$(awk -v a="$(now)" -v s="$1" 'BEGIN { printf "%.3f", a + s }')
	shift
	while :; do
		"$@" && return 0
		awk -v e="$end" -v n="$(now)" 'BEGIN { exit !(n > e) }' &&
		    return 1
		sleep 0.2
	done
}

# JSON from stdin: print the Python expression $1 of it (d is the data).
jget() {
	python3 -c 'import json, sys
d = json.load(sys.stdin)
v = eval(sys.argv[1])
print("" if v is None else v)' "$1" 2>/dev/null
}

# The Debian mirror apt uses here: the first deb source of $suite.
mirror() {
	local f
	if [ -n "${PGEMU_MIRROR:-}" ]; then
		echo "$PGEMU_MIRROR"
		return
	fi
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk -v s="$suite" '
			function flush() {
				if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " s " ") && uri != "" && !done) {
					print uri; done = 1
				}
				types = suites = uri = ""
			}
			/^[ \t]*$/ { flush(); next }
			/^[ \t]*#/ { next }
			tolower($1) == "types:" { $1 = ""; types = $0 }
			tolower($1) == "suites:" { $1 = ""; suites = $0 }
			tolower($1) == "uris:" { uri = $2 }
			END { flush() }' "$f"
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		sed -e 's/\[[^]]*\]//' "$f" |
		    awk -v s="$suite" '$1 == "deb" && $3 == s { print $2 }'
	done
	echo http://deb.debian.org/debian
}

# make_rootfs ROOTFS STAMP CHECK [DEBOOTSTRAP OPTION...]: the Debian $suite
# root ROOTFS, made once with debootstrap --variant=minbase and the
# options, and kept: STAMP (in ROOTFS/.pgemu-rootfs) says how it was made,
# CHECK is a file a complete root has.  It is built in a private mount
# namespace, into a temporary directory renamed into place only when
# complete; a lock keeps two runs from building it at once.  1, after a
# FAIL line, if it cannot be made.
make_rootfs() {
	local rootfs=$1 stamp=$2 check=$3 cache url build d
	shift 3
	cache=$(dirname "$rootfs")
	mkdir -p "$cache"
	exec 9>"$cache/.lock"
	if ! flock -w 900 9; then
		fail "rootfs: $cache/.lock is held by another run for 15 min"
		return 1
	fi
	if [ -e "$rootfs/$check" ] &&
	    [ "$(cat "$rootfs/.pgemu-rootfs" 2>/dev/null)" = "$stamp" ]; then
		echo "rootfs: $rootfs (cached)"
		flock -u 9
		return 0
	fi
	# Broken builds left by runs that were killed (never mounted on: the
	# builds run in a private mount namespace).
	for d in "$cache"/.build.*; do
		[ -d "$d" ] || continue
		grep -qF " $d/" /proc/self/mountinfo ||
		    rm -rf --one-file-system "$d"
	done
	url=$(mirror | head -1)
	build=$(mktemp -d "$cache/.build.XXXXXX") || return 1
	echo "rootfs: debootstrap $suite from $url (once; a minute or more)"
	if unshare -m --propagation private debootstrap --variant=minbase \
	    "$@" "$suite" "$build/root" "$url" >"$build/debootstrap.log" 2>&1 &&
	    [ -e "$build/root/$check" ]; then
		echo "$stamp" >"$build/root/.pgemu-rootfs"
		if [ -d "$rootfs" ]; then
			mv "$rootfs" "$build/old" || return 1
		fi
		mv "$build/root" "$rootfs" || return 1
		rm -rf --one-file-system "$build"
		pass "rootfs: debootstrap $suite into $rootfs in" \
		    "$(secs "$phase_t") s"
	else
		fail "rootfs: debootstrap $suite failed; the last lines:"
		tail -n 30 "$build/debootstrap.log"
		tail -n 30 "$build/root/debootstrap/debootstrap.log" 2>/dev/null
		rm -rf --one-file-system "$build"
		flock -u 9
		return 1
	fi
	flock -u 9
}

# find_child [COMM]: the container's PID 1, the child of our nspawn process
# ($nspid) in another PID namespace (named COMM, if given).
find_child() {
	local want=${1:-} d st rest ppid
	for d in /proc/[0-9]*; do
		st=$(cat "$d/stat" 2>/dev/null) || continue
		rest=${st##*) }
		# shellcheck disable=SC2086 # the fields of stat, split on purpose
		set -- $rest
		ppid=$2
		[ "$ppid" = "$nspid" ] || continue
		[ -z "$want" ] ||
		    [ "$(cat "$d/comm" 2>/dev/null)" = "$want" ] || continue
		[ "$(readlink "$d/ns/pid")" != "$(readlink /proc/self/ns/pid)" ] ||
		    continue
		echo "${d#/proc/}"
		return 0
	done
	return 1
}

# remove_work: the run's directory $work, unless something is mounted
# under it, or PGEMU_KEEP=1 and a check failed; and the directory nspawn
# leaves behind for the machine $mname when /run is not a tmpfs.
remove_work() {
	if [ -n "$work" ] && [ -d "$work" ]; then
		if grep -qF " $work/" /proc/self/mountinfo; then
			echo "cleanup: something is still mounted under $work;" \
			    "left in place:"
			grep -F " $work/" /proc/self/mountinfo
		elif [ "${PGEMU_KEEP:-0}" = 1 ] && [ $failed = 1 ]; then
			echo "cleanup: kept $work (PGEMU_KEEP=1)"
		else
			rm -rf --one-file-system "$work"
		fi
	fi
	rmdir "/run/systemd/nspawn/propagate/$mname" 2>/dev/null
}

# Run a command in the container (its PID 1 is $initpid).
cin() {
	nsenter -t "$initpid" -a -- /usr/bin/env -i \
	    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	    LANG=C.UTF-8 SYSTEMD_PAGER= SYSTEMD_COLORS=0 TERM=dumb "$@"
}

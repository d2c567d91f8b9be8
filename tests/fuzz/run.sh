#!/bin/sh
# shellcheck disable=SC2086,SC2012
# (CFLAGS, PKG, LIMIT and OBJS are word lists on purpose.)
#
# Build the libFuzzer harnesses with clang-14 and run each, one after the
# other, over its seed corpus (tests/fuzz/corpus_NAME, made by
# make_seeds.py; corpus_cfg holds lab files):
#
#   wire     the framing codec and every decoder of src/wire/msg.c
#   ged188   the GED-188 codec, at every protocol version
#   cfg      the lab-file loader
#   ctl      the control socket's frames and requests (src/node/ctl.c)
#   spool    the PIM's spool loader, and the spool it writes back
#   arb      the router's arbitration (src/rules/arb.c) as the router
#            applies it, over two sides' reports, links and grants
#   fence    fencing (src/rules/fence.c) at an ACD with two PIMs
#   pimfsm   the PIM state machine (src/rules/pimfsm.c)
#   router   the router's answers to the PIMs' records, with its history
#            database and writer thread: no acknowledgement without a
#            stored row, no refusal without a record of the loss
#
# The state-machine harnesses read their input as a sequence of events and
# abort on a broken invariant (each file's comment lists its oracles).  New
# inputs go to a scratch directory, never into the tree.  Exit 0 when all
# ran clean, 77 (automake SKIP) when clang-14 or its fuzzer runtime is
# missing, 1 otherwise.  A crashing input is kept in
# $BUILDDIR/fuzz-artifacts/NAME-crash-...: the harness kept by FUZZ_KEEP
# runs it again (FUZZ_KEEP/fuzz_NAME FILE).
#
# Bounded (CI): FUZZ_SECONDS per harness, 15 by default, about 2 minutes
# of fuzzing for the nine, plus half a minute of build.  Long: a large
# FUZZ_SECONDS, or FUZZ_RUNS=10000000 for 10 M runs of each; on one core
# of the CI machine that takes about 8 minutes (wire), 5 (ged188), 45
# (cfg), 4 (ctl), 25 (spool), 6 (arb), 9 (fence) and 12 (pimfsm), about
# 2 hours in all, more as the corpus grows.  router is slow by design (a
# fresh history database, a router and its writer thread for each input:
# about 80 runs a second): give it time, not runs.
#
# Environment: PGEMU_SRCDIR (source tree), BUILDDIR (holds config.h; default
# the current directory), FUZZ_SECONDS (per harness; 0: run the seeds once,
# no fuzzing), FUZZ_RUNS (runs per harness instead of a time), FUZZ_ONLY
# (the harnesses to run, by name), FUZZ_KEEP (a directory to keep the
# built harnesses in).

SRCDIR="${PGEMU_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
BUILDDIR="${BUILDDIR:-$PWD}"
FUZZ_SECONDS="${FUZZ_SECONDS:-15}"
FUZZ_ONLY="${FUZZ_ONLY:-wire ged188 cfg ctl spool arb fence pimfsm router}"
FUZZDIR="$SRCDIR/tests/fuzz"
CC=clang-14

skip() {
	echo "SKIP: $*"
	exit 77
}

die() {
	echo "FAIL: $*"
	exit 1
}

case "$FUZZ_SECONDS" in
''|*[!0-9]*)	die "FUZZ_SECONDS must be a number of seconds" ;;
esac
case "${FUZZ_RUNS:-0}" in
*[!0-9]*)	die "FUZZ_RUNS must be a number of runs" ;;
esac
command -v "$CC" >/dev/null 2>&1 || skip "$CC not found"
rtdir=$("$CC" --print-runtime-dir 2>/dev/null)
arch=$(uname -m)
if [ ! -f "$rtdir/libclang_rt.fuzzer-$arch.a" ] &&
    [ ! -f "$rtdir/libclang_rt.fuzzer.a" ]; then
	skip "no libclang_rt.fuzzer for $arch in ${rtdir:-(unknown)}"
fi
[ -f "$BUILDDIR/config.h" ] ||
	die "no config.h in $BUILDDIR: run configure, or set BUILDDIR"
[ -f "$SRCDIR/src/wire/wire.c" ] || die "no src/wire/wire.c under $SRCDIR"
PKG=$(pkg-config --cflags --libs libconfig jansson libevent libsystemd sqlite3 libsodium) ||
	die "pkg-config cannot find libconfig jansson libevent libsystemd"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/pgemu-fuzz.XXXXXX") ||
	die "cannot make a scratch directory"
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

CFLAGS="-g -O1 -fsanitize=fuzzer,address,undefined"
CFLAGS="$CFLAGS -fno-sanitize-recover=undefined -std=c11 -D_GNU_SOURCE"
CFLAGS="$CFLAGS -Wall -Wextra"

# The runtime can be there and still not link (another arch, a broken
# install): a test program tells.
printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
    'int LLVMFuzzerTestOneInput(const uint8_t *, size_t);' \
    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)' \
    '{ (void)d; (void)n; return 0; }' >"$TMP/probe.c"
"$CC" $CFLAGS -o "$TMP/probe" "$TMP/probe.c" >"$TMP/probe.log" 2>&1 || {
	cat "$TMP/probe.log"
	skip "$CC cannot link a fuzzer with -fsanitize=fuzzer,address,undefined"
}

# The library (every source but the programs' own, in src/programs) is
# built once, instrumented, and each harness links all of it: what a
# decoder or a rule calls is there, wherever it lives.
LIBCFLAGS=$(echo "$CFLAGS" |
    sed 's/-fsanitize=fuzzer,/-fsanitize=fuzzer-no-link,/')
# The router's writer waits 20 ms for a burst to end and 150 ms for a lock
# (src/roles/router/db.c): router's inputs are sequences of single
# records, and waiting out those times was most of its run time.  The
# same code, with shorter times.
LIBCFLAGS="$LIBCFLAGS -DDB_FLUSH_QUIET_MS=1 -DDB_BUSY_MS=5"
mkdir "$TMP/obj" || die "cannot make a scratch directory"
echo "building the library and $FUZZ_ONLY with $CC"
# Two at a time (xargs -P 2): the inner script's words are its own.
# shellcheck disable=SC2016
find "$SRCDIR/src" -name '*.c' ! -path '*/src/programs/*' | sort |
while read -r src; do
	obj=$(echo "${src#"$SRCDIR"/src/}" | tr / _)
	echo "$src $TMP/obj/${obj%.c}.o"
done | xargs -n 2 -P 2 sh -c '"$0" $1 -I"$2" -I"$3" -c -o "$5" "$4" ||
    exit 255' "$CC" "$LIBCFLAGS" "$SRCDIR/src" "$BUILDDIR" ||
	die "cannot build the library"
OBJS=$(ls "$TMP"/obj/*.o)
for h in $FUZZ_ONLY; do
	[ -f "$FUZZDIR/fuzz_$h.c" ] || die "no harness fuzz_$h.c"
	"$CC" $CFLAGS -I"$SRCDIR/src" -I"$BUILDDIR" -o "$TMP/fuzz_$h" \
	    "$FUZZDIR/fuzz_$h.c" $OBJS $PKG -lm ||
		die "cannot build fuzz_$h"
	if [ -n "$FUZZ_KEEP" ] && ! { mkdir -p "$FUZZ_KEEP" &&
	    cp "$TMP/fuzz_$h" "$FUZZ_KEEP/"; }; then
		die "cannot keep fuzz_$h in $FUZZ_KEEP"
	fi
done

ARTIFACTS="$BUILDDIR/fuzz-artifacts"
mkdir -p "$ARTIFACTS" || die "cannot make $ARTIFACTS"
LSAN_OPTIONS="suppressions=$FUZZDIR/lsan.supp:print_suppressions=0"
UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export LSAN_OPTIONS UBSAN_OPTIONS

if [ -n "$FUZZ_RUNS" ]; then
	LIMIT="-runs=$FUZZ_RUNS"
elif [ "$FUZZ_SECONDS" -eq 0 ]; then
	LIMIT="-runs=0"
else
	LIMIT="-max_total_time=$FUZZ_SECONDS"
fi

# fuzz NAME MAX_LEN [OPTION...]: run one harness; 0 when it ran clean.
fuzz() {
	name=$1
	maxlen=$2
	shift 2
	seeds="$FUZZDIR/corpus_$name"
	log="$TMP/$name.log"

	[ -d "$seeds" ] || die "no seed corpus $seeds"
	mkdir "$TMP/corpus_$name" || die "cannot make a scratch corpus"
	echo "fuzzing $name: $LIMIT -max_len=$maxlen${*:+ $*}," \
	    "$(ls "$seeds" | wc -l | tr -d ' ') seeds"
	"$TMP/fuzz_$name" $LIMIT -max_len="$maxlen" "$@" -timeout=10 \
	    -rss_limit_mb=2048 -print_final_stats=1 \
	    -artifact_prefix="$ARTIFACTS/$name-" \
	    "$TMP/corpus_$name" "$seeds" >"$log" 2>&1
	rc=$?
	grep -E '^(INFO: seed|INFO: .*files found|#[0-9]+[[:space:]]+(INITED|DONE)|Done [0-9]+ runs|stat::)' \
	    "$log"
	if [ "$rc" -ne 0 ]; then
		echo "$name: libFuzzer exited $rc; the end of its log:"
		tail -n 60 "$log"
		return 1
	fi
	if ! grep -q '^stat::number_of_executed_units' "$log"; then
		echo "$name: no summary in the log"
		tail -n 60 "$log"
		return 1
	fi
	echo "$name: clean"
	return 0
}

# The longest input of each harness: a few frames, a lab file, or a
# sequence of events.
maxlen() {
	case $1 in
	ged188)	echo 13000 ;;
	cfg|spool)	echo 8192 ;;
	arb|fence)	echo 2048 ;;
	pimfsm|router)	echo 512 ;;
	*)	echo 4096 ;;
	esac
}

# libconfig leaks a byte on most malformed files (lsan.supp): a leak
# check after each of them would make cfg ten times slower, so cfg's
# leaks are looked for once, when it ends (a leak then fails it too).
# So are router's: SQLite's caches and the writer thread's allocations
# make most of its inputs look like a leak to a check after each input,
# and those checks were half of its run time.
options() {
	case $1 in
	cfg|router)	echo -detect_leaks=0 ;;
	esac
}

status=0
for h in $FUZZ_ONLY; do
	# shellcheck disable=SC2046 # no option, or words of their own
	fuzz "$h" "$(maxlen "$h")" $(options "$h") || status=1
done
rmdir "$ARTIFACTS" 2>/dev/null
if [ "$status" -eq 0 ]; then
	echo "fuzz: every harness ran clean"
else
	echo "fuzz: FAILED; crashing inputs are in $ARTIFACTS"
fi
exit "$status"

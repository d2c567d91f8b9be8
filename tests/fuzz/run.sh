#!/bin/sh
# shellcheck disable=SC2086,SC2012
# (CFLAGS, PKG and LIMIT are word lists on purpose.)
#
# Build the libFuzzer harnesses of the codec (fuzz_wire), of the GED-188
# codec (fuzz_ged188) and of the lab-file loader (fuzz_cfg) with clang-14
# and run each for FUZZ_SECONDS (default 20) over its seed corpus.  New
# inputs go to a scratch directory, never into the tree.  Exit 0 when all
# ran clean, 77 (automake SKIP) when clang-14 or its fuzzer runtime is
# missing, 1 otherwise.  A crashing input is kept in
# $BUILDDIR/fuzz-artifacts/.
#
# Environment: PGEMU_SRCDIR (source tree), BUILDDIR (holds config.h; default
# the current directory), FUZZ_SECONDS (0: run the seeds once, no fuzzing).

SRCDIR="${PGEMU_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
BUILDDIR="${BUILDDIR:-$PWD}"
FUZZ_SECONDS="${FUZZ_SECONDS:-20}"
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

# Each harness links the whole library (every source but the programs'
# own, in src/programs), instrumented: what the codec or the lab file
# calls is there, wherever it lives.
LIBSRC=$(find "$SRCDIR/src" -name '*.c' ! -path '*/src/programs/*' | sort)
echo "building fuzz_wire, fuzz_ged188 and fuzz_cfg with $CC"
for h in wire ged188 cfg; do
	"$CC" $CFLAGS -I"$SRCDIR/src" -I"$BUILDDIR" -o "$TMP/fuzz_$h" \
	    "$FUZZDIR/fuzz_$h.c" $LIBSRC $PKG -lm ||
		die "cannot build fuzz_$h"
done

ARTIFACTS="$BUILDDIR/fuzz-artifacts"
mkdir -p "$ARTIFACTS" || die "cannot make $ARTIFACTS"
LSAN_OPTIONS="suppressions=$FUZZDIR/lsan.supp:print_suppressions=0"
UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export LSAN_OPTIONS UBSAN_OPTIONS

if [ "$FUZZ_SECONDS" -eq 0 ]; then
	LIMIT="-runs=0"
else
	LIMIT="-max_total_time=$FUZZ_SECONDS"
fi

# fuzz NAME MAX_LEN: run one harness; 0 when it ran clean.
fuzz() {
	name=$1
	maxlen=$2
	seeds="$FUZZDIR/corpus_$name"
	log="$TMP/$name.log"

	[ -d "$seeds" ] || die "no seed corpus $seeds"
	mkdir "$TMP/corpus_$name" || die "cannot make a scratch corpus"
	echo "fuzzing $name: $LIMIT -max_len=$maxlen," \
	    "$(ls "$seeds" | wc -l | tr -d ' ') seeds"
	"$TMP/fuzz_$name" $LIMIT -max_len="$maxlen" -timeout=10 \
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

status=0
fuzz wire 4096 || status=1
fuzz ged188 13000 || status=1
fuzz cfg 8192 || status=1
rmdir "$ARTIFACTS" 2>/dev/null
if [ "$status" -eq 0 ]; then
	echo "fuzz: every harness ran clean"
else
	echo "fuzz: FAILED; crashing inputs are in $ARTIFACTS"
fi
exit "$status"

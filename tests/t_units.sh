#!/bin/sh
# The systemd units and the generator, checked without a running systemd.
#
#   (a) systemd-analyze verify --man=no passes, silent on stderr (an
#       unknown key only warns, with exit 0), on copies of the built
#       template systemd/pgemu@.service, of an instance pgemu@pg-a.service
#       and of systemd/pgemu.target, with ExecStart= rewritten to the built
#       pgemud (verify fails on a missing binary);
#   (b) systemd-analyze security --offline=true rates the instance 2.0 or
#       lower ("Overall exposure level for pgemu@pg-a.service: X.Y");
#   (c) the built systemd/pgemu-generator, its pgemud and lab file paths
#       rewritten to the built pgemud and etc/pgemu.conf, called with three
#       directories, makes pgemu.target.wants/pgemu@NODE.service symlinks
#       to pgemu@.service in the first for router, acd, pg-a and pg-b, and
#       writes nothing in the other two.
#
# Run by automake from the build directory.  Environment: PGEMUD (the built
# pgemud; default src/pgemud), PGEMU_SRCDIR (the source tree; default this
# script's parent directory).  The built units are taken from the build
# directory (PGEMUD's parent's parent); a missing one is generated from its
# .in the way Makefile.am does.  Prints one PASS, FAIL or SKIP line per
# check.  Exits 0 when all pass, 1 when one fails, 77 (skipped) when
# systemd-analyze is missing.
set -u

srcdir=${PGEMU_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
pgemud=${PGEMUD:-src/pgemud}
case $pgemud in
/*)	;;
*)	pgemud=$(pwd)/$pgemud ;;
esac
builddir=$(cd "$(dirname "$pgemud")/.." && pwd)
max_exposure=2.0

if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "SKIP: systemd-analyze is missing"
	exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/t_units.XXXXXX") || exit 1
trap 'rm -rf --one-file-system "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

failed=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; failed=1; }
# A string as the replacement of a sed s||| command.
sedrepl() { printf '%s\n' "$1" | sed -e 's/[\\|&]/\\&/g'; }

if [ ! -x "$pgemud" ]; then
	fail "no executable pgemud at $pgemud (set PGEMUD)"
	exit 1
fi

# The build's substitutions (Makefile.am's $(edit)), for a missing file.
edit() {
	sed -e 's|@sbindir[@]|/usr/local/sbin|g' \
	    -e 's|@sysconfdir[@]|/usr/local/etc|g' \
	    -e 's|@systemdsystemunitdir[@]|/usr/local/lib/systemd/system|g' \
	    "$1"
}
built() {	# built FILE: the built file's path, generated if missing
	if [ -f "$builddir/systemd/$1" ]; then
		echo "$builddir/systemd/$1"
	else
		mkdir -p "$tmp/gen" &&
		    edit "$srcdir/systemd/$1.in" >"$tmp/gen/$1" &&
		    chmod +x "$tmp/gen/$1" &&
		    echo "$tmp/gen/$1"
	fi
}

service=$(built pgemu@.service) || { fail "cannot make pgemu@.service"; exit 1; }
generator=$(built pgemu-generator) || { fail "cannot make pgemu-generator"; exit 1; }
target=$srcdir/systemd/pgemu.target
echo "units: $service, $target; generator: $generator"

# (a) verify the template, an instance and the target.
u=$tmp/units
mkdir "$u"
sed -e "s|^ExecStart=[^ ]*|ExecStart=$(sedrepl "$pgemud")|" "$service" \
    >"$u/pgemu@.service"
cp "$u/pgemu@.service" "$u/pgemu@pg-a.service"
cp "$target" "$u/pgemu.target"
if ! grep -qF "ExecStart=$pgemud " "$u/pgemu@.service"; then
	fail "verify: no ExecStart=$pgemud after the rewrite:"
	grep -n '^ExecStart' "$u/pgemu@.service"
fi
for unit in pgemu@.service pgemu@pg-a.service pgemu.target; do
	SYSTEMD_COLORS=0 SYSTEMD_LOG_COLOR=0 \
	    systemd-analyze verify --man=no "$u/$unit" \
	    >"$tmp/verify.out" 2>"$tmp/verify.err"
	rc=$?
	if [ $rc = 0 ] && [ ! -s "$tmp/verify.err" ]; then
		pass "verify: $unit"
	else
		fail "verify: $unit (exit $rc, stderr must be empty)"
		sed 's/^/  /' "$tmp/verify.out" "$tmp/verify.err"
	fi
done

# (b) the exposure rating of the instance.
SYSTEMD_COLORS=0 systemd-analyze security --offline=true --no-pager \
    "$u/pgemu@pg-a.service" >"$tmp/security.out" 2>"$tmp/security.err"
rc=$?
# The number, without any colour escapes.
level=$(sed -n 's/\x1b\[[0-9;]*m//g
	s/^.*Overall exposure level for pgemu@pg-a\.service: *\([0-9][0-9]*\.[0-9]*\).*$/\1/p' \
    "$tmp/security.out" | head -n 1)
if [ -z "$level" ]; then
	fail "security: no \"Overall exposure level\" line (exit $rc):"
	sed 's/^/  /' "$tmp/security.out" "$tmp/security.err"
elif awk -v l="$level" -v m="$max_exposure" 'BEGIN { exit !(l + 0 <= m + 0) }'
then
	pass "security: exposure level of pgemu@pg-a.service: $level" \
	    "(at most $max_exposure)"
else
	fail "security: exposure level of pgemu@pg-a.service: $level," \
	    "over $max_exposure:"
	grep '✗' "$tmp/security.out" | sed 's/^/  /'
fi

# (c) the generator, on the sample lab file.
g=$tmp/generator
sed -e "s|^conf=.*|conf=$(sedrepl "$srcdir/etc/pgemu.conf")|" \
    -e "s|[^ \"(]*/pgemud\([ \"]\)|$(sedrepl "$pgemud")\\1|g" \
    "$generator" >"$g"
chmod +x "$g"
if ! grep -qF "$pgemud -c" "$g"; then
	fail "generator: no \"$pgemud -c\" after the rewrite:"
	sed 's/^/  /' "$g"
fi
mkdir "$tmp/normal" "$tmp/early" "$tmp/late"
"$g" "$tmp/normal" "$tmp/early" "$tmp/late" >"$tmp/gen.out" 2>&1
rc=$?
wants=$tmp/normal/pgemu.target.wants
missing=""
for n in router acd pg-a pg-b desk-a desk-b agents; do
	l=$wants/pgemu@$n.service
	if [ ! -L "$l" ]; then
		missing="$missing pgemu@$n.service"
		continue
	fi
	case $(readlink "$l") in
	*/pgemu@.service) ;;
	*) fail "generator: $l points to $(readlink "$l")," \
	    "not to a pgemu@.service" ;;
	esac
done
extra=$(find "$tmp/early" "$tmp/late" -mindepth 1 | tr '\n' ' ')
if [ $rc != 0 ]; then
	fail "generator: exit $rc:"
	sed 's/^/  /' "$tmp/gen.out"
elif [ -n "$missing" ]; then
	fail "generator: no symlink in pgemu.target.wants for:$missing; made:"
	ls -lR "$tmp/normal" | sed 's/^/  /'
	sed 's/^/  /' "$tmp/gen.out"
elif [ -n "$extra" ]; then
	fail "generator: wrote in the early or late directory: $extra"
elif ! grep -qx "After=pgemu@router.service" \
    "$tmp/normal/pgemu@pg-a.service.d/50-pgemu-order.conf" 2>/dev/null ||
    ! grep -qx "After=pgemu@router.service pgemu@pg-a.service pgemu@pg-b.service" \
    "$tmp/normal/pgemu@acd.service.d/50-pgemu-order.conf" 2>/dev/null ||
    ! grep -qx "After=pgemu@router.service pgemu@pg-a.service pgemu@pg-b.service pgemu@acd.service" \
    "$tmp/normal/pgemu@desk-a.service.d/50-pgemu-order.conf" 2>/dev/null ||
    ! grep -qx "After=pgemu@router.service pgemu@pg-a.service pgemu@pg-b.service pgemu@acd.service pgemu@desk-a.service pgemu@desk-b.service" \
    "$tmp/normal/pgemu@agents.service.d/50-pgemu-order.conf" 2>/dev/null ||
    [ -e "$tmp/normal/pgemu@router.service.d" ]; then
	fail "generator: the start order router, pg sides, acd, desks," \
	    "agents is not set:"
	find "$tmp/normal" -name '*.conf' -exec sh -c \
	    'echo "  $1:"; sed "s/^/    /" "$1"' sh {} \;
else
	pass "generator: pgemu.target.wants/" \
	    "$(cd "$wants" && ls | tr '\n' ' ')"
fi

exit $failed

#!/bin/sh
# The Debian package: it builds from the source tree as it is, lintian has
# nothing to say, and it holds what a lab needs.
#
#   PGEMU_SRCDIR=/abs/source [PGEMU_DEB_OUT=/dir] tests/t_deb.sh
#
#   (1) copy the tree (the files `git ls-files -co --exclude-standard`
#       lists, without _build/; or, outside git, the whole tree without
#       _build and .git) into a temporary pgemu-VERSION directory and run
#       dpkg-buildpackage -us -uc -b there (it runs the unit tests);
#   (2) lintian on the .changes: no E: and no W: line;
#   (3) dpkg -c lists the daemons, the lab file, the units, the generator,
#       the manual pages and the bash completion; the installed unit and
#       generator hold no unfilled @placeholder@;
#   (4) /etc/pgemu/pgemu.conf is a conffile (dpkg-deb -e, conffiles).
#
# PGEMU_SRCDIR defaults to this script's parent directory.  With
# PGEMU_DEB_OUT set, the .deb is copied there (for tests/system/).
# DEB_BUILD_OPTIONS defaults to parallel=$(nproc).  Prints one PASS or FAIL
# line per check and the time of each phase.  Exits 0 when all pass, 1 when
# one fails, 77 (skipped) when not root or dpkg-buildpackage or lintian is
# missing.  The temporary directory is removed at the end.
set -u

if [ "$(id -u)" != 0 ]; then
	echo "SKIP: t_deb: needs root (dpkg-buildpackage, lintian on a root-owned tree)"
	exit 77
fi
for t in dpkg-buildpackage lintian dpkg-deb dpkg-parsechangelog; do
	if ! command -v "$t" >/dev/null 2>&1; then
		echo "SKIP: t_deb: $t is missing (apt-get install devscripts lintian debhelper)"
		exit 77
	fi
done

src=${PGEMU_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
case $src in
/*) ;;
*) src=$(cd "$src" && pwd) ;;
esac
if [ ! -f "$src/debian/changelog" ]; then
	echo "FAIL: t_deb: no debian/changelog in $src (set PGEMU_SRCDIR)"
	exit 1
fi

failed=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; failed=1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }

t_all=$(now)
version=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version) || {
	echo "FAIL: t_deb: dpkg-parsechangelog failed"; exit 1; }
upstream=${version%-*}
upstream=${upstream#*:}
pkg=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Source)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/t_deb.XXXXXX") || exit 1
cleanup() {
	# Nothing is ever mounted under $tmp; --one-file-system anyway.
	[ -n "$tmp" ] && [ -d "$tmp" ] && rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM
tree=$tmp/$pkg-$upstream
mkdir "$tree" || exit 1

# (1) the copy.  Git: tracked and untracked-but-not-ignored files, without
# those deleted from the work tree and without _build/.
t=$(now)
if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	how="git ls-files -co --exclude-standard"
	( cd "$src" &&
	  git ls-files -z -co --exclude-standard |
	  perl -0 -ne 'chomp; print "$_\0" if !m{^_build/} && (-e || -l)' |
	  tar --null -T - -cf - ) | tar -xf - -C "$tree"
	rc=$?
else
	how="tar without _build and .git"
	tar -C "$src" --exclude=./_build --exclude=./.git -cf - . |
	    tar -xf - -C "$tree"
	rc=$?
fi
if [ $rc != 0 ] || [ ! -f "$tree/debian/rules" ]; then
	fail "copy: $src to $tree ($how)"
	exit 1
fi
echo "copy: $(find "$tree" -type f | wc -l) files ($how) in $(since "$t")"

# The build: dpkg-buildpackage writes its results into $tmp.
t=$(now)
: "${DEB_BUILD_OPTIONS:=parallel=$(nproc 2>/dev/null || echo 2)}"
export DEB_BUILD_OPTIONS
if ( cd "$tree" && dpkg-buildpackage -us -uc -b ) >"$tmp/build.log" 2>&1; then
	pass "dpkg-buildpackage -us -uc -b ($pkg $version) in $(since "$t")"
	grep -E '^(PASS|FAIL|XFAIL|XPASS|ERROR|SKIP): |^# (TOTAL|PASS|FAIL|ERROR):' \
	    "$tmp/build.log" | sed 's/^/  make check: /'
	case " $DEB_BUILD_OPTIONS " in
	*" nocheck "*) echo "note: DEB_BUILD_OPTIONS has nocheck: the unit tests did not run" ;;
	esac
else
	fail "dpkg-buildpackage -us -uc -b ($pkg $version) in $(since "$t")"
	# The logs of failing tests, if any, then the end of the build.
	bad=$(find "$tree" -name '*.trs' -exec \
	    grep -lE '^:test-result: (FAIL|ERROR|XPASS)' {} + 2>/dev/null)
	for l in $bad; do
		echo "----- ${l#"$tree"/}: ${l%.trs}.log"
		cat "${l%.trs}.log"
	done
	if [ -n "$bad" ]; then
		echo "----- the build's last lines"
		grep -vE '^[0-9:.]+ check_' "$tmp/build.log" | tail -n 25
	else
		echo "----- the build's last lines"
		tail -n 80 "$tmp/build.log"
	fi
	exit 1
fi

deb=$(ls "$tmp"/"$pkg"_"$version"_*.deb 2>/dev/null | head -1)
changes=$(ls "$tmp"/"$pkg"_"$version"_*.changes 2>/dev/null | head -1)
if [ -z "$deb" ] || [ -z "$changes" ]; then
	fail "build results: no ${pkg}_${version}_*.deb or .changes in $tmp:"
	ls -l "$tmp"
	exit 1
fi
echo "built: $(cd "$tmp" && ls ./*.deb ./*.changes ./*.buildinfo | tr '\n' ' ')"

# (2) lintian: no error, no warning.
t=$(now)
lintian --fail-on none --display-info "$changes" >"$tmp/lintian.out" 2>"$tmp/lintian.err"
rc=$?
grep -v 'running with root privileges is not recommended' "$tmp/lintian.err" \
    >"$tmp/lintian.err2"
if [ $rc != 0 ]; then
	fail "lintian ran with exit $rc:"
	cat "$tmp/lintian.out" "$tmp/lintian.err2"
elif grep -E '^[EW]: ' "$tmp/lintian.out" >"$tmp/lintian.ew"; then
	fail "lintian: $(wc -l <"$tmp/lintian.ew" | tr -d ' ') E:/W: tags:"
	cat "$tmp/lintian.ew"
else
	pass "lintian $(basename "$changes"): no E: or W: tag in $(since "$t")"
fi
# The rest (I:, N:, ...) for information.
grep -vE '^[EW]: ' "$tmp/lintian.out" | sed 's/^/  lintian: /'
[ -s "$tmp/lintian.err2" ] && sed 's/^/  lintian stderr: /' "$tmp/lintian.err2"

# (3) the contents.
dpkg -c "$deb" >"$tmp/contents" || fail "dpkg -c $deb"
awk '{ p = $6; sub(/^\./, "", p); print p }' "$tmp/contents" >"$tmp/paths"
missing=""
for p in \
    /usr/sbin/pgemud \
    /usr/bin/pgemuctl \
    /etc/pgemu/pgemu.conf \
    /lib/systemd/system/pgemu@.service \
    /lib/systemd/system/pgemu.target \
    /lib/systemd/system-generators/pgemu-generator \
    /usr/share/man/man8/pgemud.8.gz \
    /usr/share/man/man1/pgemuctl.1.gz \
    /usr/share/man/man5/pgemu.conf.5.gz \
    /usr/share/man/man7/pgemu-failover.7.gz \
    /usr/share/bash-completion/completions/pgemuctl
do
	grep -qxF "$p" "$tmp/paths" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	fail "dpkg -c $(basename "$deb"): missing:$missing"
	echo "  the package holds:"
	grep -v '/$' "$tmp/paths" | sed 's/^/    /'
else
	pass "dpkg -c $(basename "$deb"): daemons, lab file, units, generator, man pages, completion"
fi

# The installed unit and generator: paths filled in.
mkdir "$tmp/x" && dpkg-deb -x "$deb" "$tmp/x" || fail "dpkg-deb -x $deb"
unfilled=""
for f in lib/systemd/system/pgemu@.service \
    lib/systemd/system-generators/pgemu-generator; do
	[ -f "$tmp/x/$f" ] || continue
	grep -n '@[a-z_]*@' "$tmp/x/$f" >/dev/null && unfilled="$unfilled /$f"
done
g=$tmp/x/lib/systemd/system-generators/pgemu-generator
if [ -n "$unfilled" ]; then
	fail "unfilled @placeholders@ in:$unfilled"
elif [ -f "$g" ] && [ ! -x "$g" ]; then
	fail "/lib/systemd/system-generators/pgemu-generator is not executable"
else
	pass "unit and generator: no @placeholder@ left, generator executable"
fi

# (4) the lab file is a conffile.
if dpkg-deb -e "$deb" "$tmp/control" &&
    grep -qxF /etc/pgemu/pgemu.conf "$tmp/control/conffiles" 2>/dev/null; then
	pass "conffiles: /etc/pgemu/pgemu.conf"
else
	fail "conffiles: /etc/pgemu/pgemu.conf is not a conffile; conffiles holds:"
	cat "$tmp/control/conffiles" 2>/dev/null
fi
dpkg-deb -f "$deb" Package Version Architecture Depends | sed 's/^/  control: /'

if [ -n "${PGEMU_DEB_OUT:-}" ]; then
	mkdir -p "$PGEMU_DEB_OUT" && cp "$deb" "$PGEMU_DEB_OUT/" &&
	    echo "deb: $PGEMU_DEB_OUT/$(basename "$deb")" ||
	    fail "copy of $deb into $PGEMU_DEB_OUT"
fi

echo "t_deb: $(since "$t_all") in all"
[ $failed = 0 ]

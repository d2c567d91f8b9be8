#!/bin/sh
# The manual pages: they format without a warning, their generated parts
# (and those of docs/failover.md) are exactly what pgemud and pgemuctl
# print, and pgemuctl(1) documents every command word of "pgemuctl help".
#
#   (a) every man/*.[1-8] passes the check lintian runs,
#         LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 \
#             man --warnings -E UTF-8 -l -Tutf8 -Z FILE >/dev/null
#       and groff -ww -man -Tutf8 -z FILE, both silent on stderr, and
#       holds no blank line;
#   (b) each generated block, the lines between the markers
#         BEGIN GENERATED NAME (PROGRAM OPTIONS)
#         END GENERATED NAME
#       (in a man page's .\" comment lines, in docs/*.md's <!-- -->
#       ones), is byte for byte the output of "PROGRAM OPTIONS", PROGRAM
#       being $PGEMUD or $PGEMUCTL:
#         man/pgemu.conf.5      SETTINGS      pgemud --settings-man
#         man/pgemu-failover.7  TRIGGERS      pgemud --rules-man triggers
#         man/pgemud.8          PRIORITIES    pgemud --rules-man priorities
#         docs/failover.md      TRIGGERS      pgemud --rules-md triggers
#         docs/failover.md      PRIORITIES    pgemud --rules-md priorities
#         docs/protocol.md      PROTOCOL      pgemud --protocol-doc
#         man/pgemuctl.1        COMMANDS      pgemuctl --commands-man
#       (the settings table of cfg.c, the rules table of rules.c, the
#       GED-188 tables of ged188.c, the command tables of node.c and the
#       roles, cmd.c);
#   (c) every literal word of the command lines of "$PGEMUCTL help" (the
#       list the nodes' command tables give) appears in bold in
#       man/pgemuctl.1.
#
#   tests/t_man.sh [--update]
#
# --update first rewrites the generated blocks from the current pgemud,
# then checks.  Environment: PGEMU_SRCDIR (the source tree; default: this
# script's parent directory), PGEMUD (default src/pgemud in the current
# directory), PGEMUCTL (default: pgemuctl next to PGEMUD).
# Prints one PASS, FAIL or SKIP line per check.  Exits 0 when all pass,
# 1 when one fails, 77 (skipped) when man or groff is missing and the
# other checks pass.
set -u

update=0
case ${1:-} in
--update)	update=1 ;;
"")		;;
*)		echo "usage: $0 [--update]" >&2; exit 2 ;;
esac

srcdir=${PGEMU_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
pgemud=${PGEMUD:-src/pgemud}
pgemuctl=${PGEMUCTL:-$(dirname "$pgemud")/pgemuctl}
ctl1=$srcdir/man/pgemuctl.1

tmp=$(mktemp -d "${TMPDIR:-/tmp}/t_man.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

failed=0
skipped=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; failed=1; }
skip() { echo "SKIP: $*"; skipped=1; }

# markers FILE BEGIN END: "BEGIN END" line numbers, or nothing if the
# lines are not there exactly once each, in that order.
markers() {
	# Through the environment: awk -v would take \" for an escape.
	B=$2 E=$3 awk '
		$0 == ENVIRON["B"] { nb++; lb = NR }
		$0 == ENVIRON["E"] { ne++; le = NR }
		END { if (nb == 1 && ne == 1 && lb < le) print lb, le }' "$1"
}

# block FILE NAME PROGRAM OPTION...: check (after --update, first
# rewrite) the block NAME of FILE against "PROGRAM OPTION..." (PROGRAM:
# pgemud or pgemuctl).
block() {
	file=$srcdir/$1 name=$2 prog=$3
	shift 3
	opts=$*
	case $prog in
	pgemud)		exe=$pgemud var=PGEMUD ;;
	*)		exe=$pgemuctl var=PGEMUCTL ;;
	esac
	case $file in
	*.md)	b="<!-- BEGIN GENERATED $name ($prog $*) -->"
		e="<!-- END GENERATED $name -->" ;;
	*)	b=".\\\" BEGIN GENERATED $name ($prog $*)"
		e=".\\\" END GENERATED $name" ;;
	esac
	what="${file#"$srcdir"/} $name"
	if [ ! -x "$exe" ]; then
		fail "$what: no executable $prog at $exe (set $var)"
		return
	fi
	if ! "$exe" "$@" >"$tmp/generated" 2>"$tmp/err"; then
		fail "$what: $exe $* failed:"
		cat "$tmp/err"
		return
	fi
	if [ -z "$(markers "$file" "$b" "$e")" ]; then
		fail "$what: ${file#"$srcdir"/} lacks the markers, once each," \
		    "in order:"
		echo "  $b"
		echo "  $e"
		return
	fi
	# shellcheck disable=SC2046 # two line numbers, split on purpose
	set -- $(markers "$file" "$b" "$e")
	if [ $update = 1 ]; then
		{ sed -n "1,$1p" "$file"
		  cat "$tmp/generated"
		  sed -n "$2,\$p" "$file"; } >"$tmp/new" &&
		    cat "$tmp/new" >"$file" &&
		    echo "updated: $what from $exe $opts"
		# shellcheck disable=SC2046
		set -- $(markers "$file" "$b" "$e")
	fi
	sed -n "$(($1 + 1)),$(($2 - 1))p" "$file" >"$tmp/current"
	if cmp -s "$tmp/current" "$tmp/generated"; then
		pass "$what: matches $prog $opts"
	else
		fail "$what differs from what $prog prints:"
		diff -u "$tmp/current" "$tmp/generated" |
		    sed -e "1s|.*|--- ${file#"$srcdir"/} (block $name)|" \
			-e "2s|.*|+++ $prog|"
		echo "hint: regenerate it with: tests/t_man.sh --update"
		echo "      (PGEMU_SRCDIR=$srcdir PGEMUD=$pgemud" \
		    "PGEMUCTL=$pgemuctl)"
	fi
}

# (b) first, so that --update leaves pages that the lint then checks.
block man/pgemu.conf.5 SETTINGS pgemud --settings-man
block man/pgemu-failover.7 TRIGGERS pgemud --rules-man triggers
block man/pgemud.8 PRIORITIES pgemud --rules-man priorities
block docs/failover.md TRIGGERS pgemud --rules-md triggers
block docs/failover.md PRIORITIES pgemud --rules-md priorities
block docs/protocol.md PROTOCOL pgemud --protocol-doc
block man/pgemuctl.1 COMMANDS pgemuctl --commands-man

# (a) The pages format without a warning, and hold no blank line (which
# man(7) reads as a vertical space).
pages=$(ls "$srcdir"/man/*.[1-8] 2>/dev/null)
have_tools=1
if ! command -v man >/dev/null 2>&1 || ! man --version >/dev/null 2>&1 ||
    ! command -v groff >/dev/null 2>&1; then
	have_tools=0
fi
[ -n "$pages" ] || fail "lint: no manual page in $srcdir/man"
for page in $pages; do
	name=${page##*/}
	if grep -n '^[[:space:]]*$' "$page" >"$tmp/blank"; then
		fail "lint: $name has blank lines:" \
		    "$(cut -d: -f1 "$tmp/blank" | tr '\n' ' ')"
	fi
	if [ $have_tools = 0 ]; then
		skip "lint: $name: man (man-db) or groff is missing"
		continue
	fi
	LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 \
	    man --warnings -E UTF-8 -l -Tutf8 -Z "$page" \
	    >/dev/null 2>"$tmp/man.err"
	rc_man=$?
	LC_ALL=C.UTF-8 groff -ww -man -Tutf8 -z "$page" \
	    >/dev/null 2>"$tmp/groff.err"
	rc_groff=$?
	if [ $rc_man = 0 ] && [ $rc_groff = 0 ] &&
	    [ ! -s "$tmp/man.err" ] && [ ! -s "$tmp/groff.err" ]; then
		pass "lint: $name"
	else
		fail "lint: $name (man exit $rc_man, groff exit $rc_groff)"
		sed 's/^/  man: /' "$tmp/man.err"
		sed 's/^/  groff: /' "$tmp/groff.err"
	fi
done

# (c) pgemuctl(1) documents every command word of pgemuctl help: the
# literal (lower-case) words of each command line of a "...commands:"
# section, up to the description column.
if [ ! -x "$pgemuctl" ]; then
	fail "commands: no executable pgemuctl at $pgemuctl (set PGEMUCTL)"
elif ! "$pgemuctl" help >"$tmp/usage" 2>&1; then
	fail "commands: $pgemuctl help failed:"
	cat "$tmp/usage"
else
	awk '
		/^[^ ]/ { insec = ($0 ~ /commands:[ \t]*$/); next }
		insec && /^  [^ ]/ {
			line = substr($0, 3)
			if (match(line, /   */))
				line = substr(line, 1, RSTART - 1)
			gsub(/[][|]/, " ", line)
			n = split(line, w, " ")
			for (i = 1; i <= n; i++)
				if (w[i] ~ /^[a-z][a-z0-9_-]*$/ && !seen[w[i]]++)
					print w[i]
		}' "$tmp/usage" >"$tmp/words"
	# The bold text of the page, with \- as -.
	grep -E '^\.(B|BR|RB|BI|IB)( |$)|\\fB' "$ctl1" |
	    sed 's/\\-/-/g' >"$tmp/bold"
	missing=""
	while read -r w; do
		grep -qw -e "$w" "$tmp/bold" || missing="$missing $w"
	done <"$tmp/words"
	if [ ! -s "$tmp/words" ]; then
		fail "commands: no command found in $pgemuctl help"
	elif [ -n "$missing" ]; then
		fail "commands: man/pgemuctl.1 does not document:$missing"
	else
		pass "commands: man/pgemuctl.1 documents" \
		    "$(wc -l <"$tmp/words" | tr -d ' ') words of pgemuctl help"
	fi
fi

[ $failed = 1 ] && exit 1
[ $skipped = 1 ] && exit 77
exit 0

#!/bin/sh
# The bash completion of pgemuctl (completion/pgemuctl), loaded in bash and
# called as bash calls it (COMP_WORDS, COMP_CWORD, then _pgemuctl), on a
# lab file of its own with node names no other lab has (ctrl, sw1, sw2,
# side-a, side-b, mail: an app node) and two peripherals, so side-a's ACD
# links are acd-link-sw1 and acd-link-sw2:
#
#   (a) the first word: the lab's node names and help, from -c FILE; a
#       prefix narrows them; options after -; the formats after -f, and
#       the node names after -f FORMAT and -t SECONDS;
#   (b) the command of a node: the commands of its role, from the command
#       tables (`pgemuctl help`): the router's and every node's for ctrl,
#       the acd's for sw1 (agent, traffic, stop, start, ...), the app's
#       for mail (pending, tasks, traffic, new-task), none of another
#       role's;
#   (c) the words of a command: on|off for traffic, cti-manager after
#       stop, primary|backup after it, down|up|freeze|thaw after fault LINK;
#   (d) fault's LINK: a running node's links from its status (side-a,
#       started here: acd-link-sw1, acd-link-sw2, router-link,
#       private-link, mr-link to the app); a node that does not run, its role's (the router:
#       side-a, side-b; the app: those and cti-link); with -f json too.
#
# Run by automake from the build directory.  Environment: PGEMUD (the
# built pgemud; default src/pgemud), PGEMU_SRCDIR (the source tree).  The
# completion is the built one (PGEMUD's parent's parent/completion), or
# generated from its .in.  Exits 0 when all pass, 1 when one fails, 77
# when bash is missing.
set -u

srcdir=${PGEMU_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
bindir=$(cd "$(dirname "${PGEMUD:-src/pgemud}")" && pwd)
pgemud=$bindir/pgemud ctl=$bindir/pgemuctl builddir=${bindir%/*}

if ! command -v bash >/dev/null 2>&1; then
	echo "SKIP: bash is missing"
	exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/t_completion.XXXXXX") || exit 1
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

comp=$builddir/completion/pgemuctl
if [ ! -f "$comp" ]; then
	comp=$tmp/pgemuctl
	sed -e "s|@sbindir@|$bindir|g" -e "s|@sysconfdir@|/etc|g" \
	    "$srcdir/completion/pgemuctl.in" >"$comp"
fi

nfail=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; nfail=$((nfail + 1)); }

# Ports nobody listens on: side-a only tries to connect to them.
port=$((20000 + $$ % 20000))
cat >"$tmp/lab.conf" <<EOF
lab: { name = "comp"; control_dir = "$tmp"; state_dir = "$tmp"; };
nodes:
{
  ctrl:   { role = "router"; port = $port; };
  sw1:    { role = "acd"; port = $((port + 1)); };
  sw2:    { role = "acd"; port = $((port + 2)); };
  side-a: { role = "pg"; side = "A"; port = $((port + 3)); };
  side-b: { role = "pg"; side = "B"; port = $((port + 4)); };
  mail:   { role = "app"; port = $((port + 5)); };
};
peripherals = (
  { id = 5000; acd = "sw1"; agents: { count = 2; first_id = 1001; }; },
  { id = 5001; acd = "sw2"; agents: { count = 2; first_id = 2001; }; }
);
mrds = ( { id = 1; name = "Voice"; }, { id = 2; name = "Email";
  media = "email"; } );
media_routing: { peripheral = 5009; };
EOF

# complete WORD...: the completions of the last word (empty: a new one)
# for the command line "pgemuctl -c LAB WORD...", sorted, on one line.
complete_words() {
	bash -c '
		. "$1"; shift
		COMP_WORDS=("$@")
		COMP_CWORD=$(($# - 1))
		COMP_LINE="$*"
		_pgemuctl
		printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " "
	' bash "$comp" "$ctl" -c "$tmp/lab.conf" "$@" | sed 's/ $//'
}

# expect WHAT WANT WORD...
expect() {
	what=$1 want=$2
	shift 2
	got=$(complete_words "$@")
	if [ "$got" = "$want" ]; then
		pass "$what: [$got]"
	else
		fail "$what: pgemuctl -c LAB $*<TAB> gives [$got], expected [$want]"
	fi
}

# (a)
expect "(a) node names" "ctrl help mail side-a side-b sw1 sw2" ""
expect "(a) node names by prefix" "side-a side-b" "si"
expect "(a) options" "--commands-man --help --version" "--"
expect "(a) formats of -f" "json keyvalue text" -f ""
expect "(a) node names after -f, -t" "ctrl help mail side-a side-b sw1 sw2" \
    -f json -t 1 ""

# (b)
expect "(b) commands of a router node" \
    "agents events fault help intervals peripherals reload status tasks watch" \
    ctrl ""
expect "(b) commands of an acd node" \
    "agent agents events fault help reload start status stop traffic watch" \
    sw1 ""
expect "(b) commands of a pg node" \
    "cti events fault help reload start status stop watch" side-b ""
expect "(b) a command by prefix" "start status stop" sw2 "st"
expect "(b) commands of an app node" \
    "events fault help new-task pending reload status tasks traffic watch" \
    mail ""

# (c)
expect "(c) traffic" "off on rate" sw1 traffic ""
expect "(c) traffic of an app node" "off on rate" mail traffic ""
expect "(c) no word after new-task SELECTOR COUNT" "" mail new-task Email \
    1 ""
expect "(c) stop" "cti-manager" sw1 stop ""
expect "(c) stop cti-manager" "backup primary" sw1 stop cti-manager ""
expect "(c) stop of a pg node" "cti-server mr-pim pim" side-b stop ""
expect "(c) fault LINK" "down freeze thaw up" side-a fault router-link ""
expect "(c) no word after status" "" ctrl status ""
expect "(c) agent ID" "set" sw1 agent 1001 ""
expect "(c) agent ID set" "auto" sw1 agent 1001 set ""

# (d) side-a running: its links from its status.
"$pgemud" -f -c "$tmp/lab.conf" -n side-a >"$tmp/side-a.log" 2>&1 &
pid=$!
i=0
while [ ! -S "$tmp/side-a.sock" ] ||
    ! "$ctl" -c "$tmp/lab.conf" side-a status >/dev/null 2>&1; do
	i=$((i + 1))
	if [ $i -gt 500 ] || ! kill -0 "$pid" 2>/dev/null; then
		fail "(d) side-a did not start: $(cat "$tmp/side-a.log")"
		exit 1
	fi
	sleep 0.01
done
expect "(d) links of a running pg node" \
    "acd-link-sw1 acd-link-sw2 mr-link private-link router-link" side-a \
    fault ""
expect "(d) links by prefix" "acd-link-sw1 acd-link-sw2" side-a fault acd
expect "(d) links after -f json -t 2" "acd-link-sw1 acd-link-sw2" -f json \
    -t 2 side-a fault acd
expect "(d) links of a router that does not run" "side-a side-b" \
    ctrl fault ""
expect "(d) links of an app node that does not run" \
    "cti-link side-a side-b" mail fault ""
kill "$pid"
wait "$pid" 2>/dev/null
pid=

[ $nfail -eq 0 ] || exit 1
exit 0

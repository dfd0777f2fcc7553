# tests/integration/lib.sh — shared helpers of the integration tests (bash).
#
# Sourced by tests/integration/test_*.sh.  Gives each test a temporary folder
# that is removed on exit, starts backscope-authd (and reference servers) on
# run-time loopback ports, queries them with dig, and counts checks:
#
#   authd_start NAME ARGS...   start backscope-authd with --ready-fd; sets
#                              AUTHD_PID[NAME], AUTHD_PORT[NAME] (UDP=TCP port
#                              of the first listener), AUTHD_LOG[NAME]
#   authd_stop NAME            SIGTERM, wait, check exit status 0
#   dq ARGS...                 dig @$DQ_ADDR -p $PORT +norec ... ARGS; output in $OUT
#   expect NAME [status S] [flags "+aa -ra"] [answer RE] [authority RE]
#          [additional RE] [count SECTION N] [grep RE] [nogrep RE]
#   ok NAME / not_ok NAME WHY  record a check;  finish  prints the tally, exits
#   skip_tool TOOL WHAT        TOOL is not installed: SKIP WHAT, a failure in CI
#   tcpdump_start FILE FILTER [IFACE [OPTION...]] / tcpdump_stop
#                              a capture, ready when tcpdump listens
#   unbound_start AUTH_PORT [OUT_ADDR] / unbound_stop
#                              a QNAME-minimising unbound with stub zones to
#                              backscope-authd; sets UB_PID, UB_PORT, UB_DIR
#
# A test that sets BSC_NETNS=1 before sourcing this file re-runs itself in a
# new network namespace whose only interface is lo (when "unshare -n" works:
# root, as in CI); BSC_IN_NETNS=1 then tells it so.  BSC_NO_NETNS=1 opts out.
#
# Only processes started here are ever signalled, by PID.  Waits are bounded
# polls on an observable condition, never sleeps standing in for one.
# pipefail is on: never pipe into "grep -q" (its early exit fails the writer
# with SIGPIPE); grep a here-string instead.
set -uo pipefail

if [ "${BSC_NETNS:-0}" = 1 ] && [ "${BSC_IN_NETNS:-0}" != 1 ] &&
	[ "${BSC_NO_NETNS:-0}" != 1 ] && unshare -n true 2>/dev/null; then
	exec unshare -n env BSC_IN_NETNS=1 bash "$0" "$@"
fi

TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${BSC_SOURCE_DIR:=$(cd "$TESTS_DIR/../.." && pwd)}"
: "${BSC_BUILD_DIR:=$BSC_SOURCE_DIR/build/dev}"
: "${BSC_AUTHD:=$BSC_BUILD_DIR/authd/backscope-authd}"
ZONES_DIR="$BSC_SOURCE_DIR/zones"
DATA_DIR="$TESTS_DIR/data"
TEST_NAME=$(basename "$0" .sh)
# The system interpreter: stdlib only, whatever a user's PATH puts first.
PY=python3
if [ -x /usr/bin/python3 ]; then
	PY=/usr/bin/python3
fi
export PYTHONPATH="$TESTS_DIR${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1

ZONE4=20.10.in-addr.arpa
ZONE6=8.b.d.0.1.0.0.2.ip6.arpa

T=$(mktemp -d "${TMPDIR:-/tmp}/bsc-$TEST_NAME.XXXXXX")
declare -a _OUR_PIDS=()
declare -A AUTHD_PID=() AUTHD_PORT=() AUTHD_LOG=() AUTHD_READY=()
PASSED=0
FAILED=0
FAILED_NAMES=()

_cleanup() {
	local pid i
	for pid in "${_OUR_PIDS[@]}"; do
		if kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid" 2>/dev/null
			for i in $(seq 1 50); do
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.1
			done
			kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
		fi
	done
	if [ "${BSC_KEEP_TMP:-0}" = 1 ] || [ "$FAILED" -gt 0 ]; then
		echo "# files of this run kept in $T" >&2
	else
		rm -rf "$T"
	fi
}
trap _cleanup EXIT

log() { printf '# %s\n' "$*"; }

ok() {
	PASSED=$((PASSED + 1))
	printf 'ok   %s\n' "$1"
}

not_ok() {
	FAILED=$((FAILED + 1))
	FAILED_NAMES+=("$1")
	printf 'FAIL %s: %s\n' "$1" "$2"
	if [ -n "${3:-}" ]; then
		printf '%s\n' "$3" | sed 's/^/    | /'
	fi
}

# die WHY: a failure that stops the test (the server died, a tool is missing).
die() {
	FAILED=$((FAILED + 1))
	printf 'FATAL %s: %s\n' "$TEST_NAME" "$*"
	local name
	for name in "${!AUTHD_LOG[@]}"; do
		if [ -s "${AUTHD_LOG[$name]}" ]; then
			echo "--- last lines of $name's log (${AUTHD_LOG[$name]}):"
			tail -n 30 "${AUTHD_LOG[$name]}"
		fi
	done
	exit 1
}

finish() {
	echo "$TEST_NAME: $PASSED passed, $FAILED failed"
	if [ "$FAILED" -gt 0 ]; then
		printf '  failed: %s\n' "${FAILED_NAMES[@]}"
		exit 1
	fi
	exit 0
}

need() { # need TOOL...: die unless each tool is on PATH
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null || die "$t not installed (run tools/install-deps.sh)"
	done
}

# skip_tool TOOL WHAT: TOOL is not installed, so WHAT cannot be checked.  CI
# (CI=true) installs every tool the tests use (tools/install-deps.sh): there
# a missing one is a failure, never a silent pass.
skip_tool() {
	if [ "${CI:-}" = true ]; then
		not_ok "$2" "$1 not installed (tools/install-deps.sh installs it)"
	else
		log "SKIP $2: $1 not installed"
	fi
}

# track PID: a process of ours, signalled on exit;  untrack PID: it is gone.
track() { _OUR_PIDS+=("$1"); }
untrack() {
	local p keep=()
	for p in "${_OUR_PIDS[@]}"; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	_OUR_PIDS=("${keep[@]}")
}

# poll TRIES DELAY CMD...: run CMD until it succeeds, at most TRIES times.
poll() {
	local tries=$1 delay=$2 i
	shift 2
	for ((i = 0; i < tries; i++)); do
		"$@" && return 0
		sleep "$delay"
	done
	return 1
}

_ready_or_dead() { # ready file has a line, or the process is gone
	[ -s "$1" ] && grep -q '^ready' "$1" && return 0
	kill -0 "$2" 2>/dev/null || return 0
	return 1
}

# authd_start NAME ARGS...: start backscope-authd, wait for its ready line.
authd_start() {
	local name=$1
	shift
	[ -x "$BSC_AUTHD" ] || die "backscope-authd not found at $BSC_AUTHD"
	local ready="$T/$name.ready" logf="$T/$name.log"
	: >"$ready"
	local db=()
	[[ " $* " == *" --db "* ]] || db=(--db "$T/$name.db")
	"$BSC_AUTHD" "$@" "${db[@]}" --ready-fd 3 3>"$ready" >>"$logf" 2>&1 &
	local pid=$!
	track "$pid"
	AUTHD_PID[$name]=$pid
	AUTHD_LOG[$name]=$logf
	AUTHD_READY[$name]=$ready
	poll 300 0.1 _ready_or_dead "$ready" "$pid" ||
		die "$name: no ready line within 30 s"
	if ! grep -q '^ready' "$ready"; then
		local rc=0
		wait "$pid" || rc=$?
		die "$name exited with status $rc before it was ready (args: $*)"
	fi
	AUTHD_PORT[$name]=$(ready_port "$name")
	[ -n "${AUTHD_PORT[$name]}" ] || die "$name: no port in ready line: $(cat "$ready")"
	log "$name ready (pid $pid): $(head -n 1 "$ready")"
}

# ready_port NAME [ADDR] [udp|tcp]: port bound for ADDR (default: the first).
ready_port() {
	local name=$1 addr=${2:-} proto=${3:-udp} line
	line=$(head -n 1 "${AUTHD_READY[$name]}")
	if [ -z "$addr" ]; then
		printf '%s\n' "$line" | grep -o "$proto=[^ ]*" | head -n 1 | sed 's/.*@//'
	else
		printf '%s\n' "$line" | tr ' ' '\n' | grep -F "$proto=$addr@" | head -n 1 |
			sed 's/.*@//'
	fi
}

# authd_stop NAME: SIGTERM, wait, and check the exit status (0 expected).
authd_stop() {
	local name=$1 pid=${AUTHD_PID[$1]} rc=0
	kill -TERM "$pid" 2>/dev/null || true
	wait "$pid" || rc=$?
	untrack "$pid"
	if [ "$rc" = 0 ]; then
		ok "$name exits 0 on SIGTERM"
	else
		not_ok "$name exits 0 on SIGTERM" "exit status $rc" "$(tail -n 40 "${AUTHD_LOG[$name]}")"
	fi
}

# authd_alive NAME: still running?
authd_alive() { kill -0 "${AUTHD_PID[$1]}" 2>/dev/null; }

# free_port: a loopback port free for both UDP and TCP right now (for servers
# that cannot bind port 0 and report it, such as knotd and unbound).
free_port() {
	"$PY" - <<'EOF'
import socket
for _ in range(100):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    port = u.getsockname()[1]
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        t.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        t.close()
        u.close()
    print(port)
    break
EOF
}

# wait_soa PID PORT ZONE: poll until the server answers the zone's SOA (30 s
# max); fails at once when process PID has exited.
_soa_or_dead() {
	kill -0 "$1" 2>/dev/null || return 0
	[ -n "$(kdig +time=1 +retry=0 +short @127.0.0.1 -p "$2" "$3" SOA 2>/dev/null)" ]
}
wait_soa() {
	poll 150 0.2 _soa_or_dead "$1" "$2" "$3" && kill -0 "$1" 2>/dev/null
}

# expand_zone SRC ORIGIN DST: write SRC with $GENERATE expanded (by BIND's
# named-compilezone) for servers that do not read $GENERATE (Knot, NSD).
expand_zone() {
	local net=()
	if unshare -n true 2>/dev/null; then
		net=(unshare -n)
	fi
	"${net[@]}" named-compilezone -q -i local -k ignore -o "$3" "$2" "$1" >/dev/null ||
		die "named-compilezone could not expand $1"
}

# ---- captures with tcpdump -------------------------------------------------

TCPDUMP_PID=
TCPDUMP_NETNS= # run tcpdump in this network namespace ("ip netns exec")
_tcpdump_ready() { # tcpdump says it listens, or it is gone
	grep -q "listening on" "$1" && return 0
	kill -0 "$TCPDUMP_PID" 2>/dev/null || return 0
	return 1
}

# tcpdump_start FILE FILTER [IFACE [OPTION...]]: capture on IFACE (default lo)
# into FILE, packet-buffered; returns when tcpdump listens.  Its stderr (the
# drop counts after tcpdump_stop) is in $T/tcpdump.err.
tcpdump_start() {
	local file=$1 filter=$2 iface=${3:-lo} pre=()
	shift $(($# < 3 ? $# : 3))
	need tcpdump
	[ -n "$TCPDUMP_NETNS" ] && pre=(ip netns exec "$TCPDUMP_NETNS")
	: >"$T/tcpdump.err"
	# -Z root: keep root so the file can be written where the test wants it
	"${pre[@]}" tcpdump -i "$iface" -n -U -s 0 -Z root "$@" -w "$file" "$filter" \
		2>"$T/tcpdump.err" &
	TCPDUMP_PID=$!
	track "$TCPDUMP_PID"
	poll 100 0.1 _tcpdump_ready "$T/tcpdump.err" || die "tcpdump did not start listening"
	kill -0 "$TCPDUMP_PID" 2>/dev/null || die "tcpdump failed: $(cat "$T/tcpdump.err")"
}

# tcpdump_stop: SIGTERM (tcpdump flushes and closes the file) and wait.
tcpdump_stop() {
	kill -TERM "$TCPDUMP_PID" 2>/dev/null
	wait "$TCPDUMP_PID" 2>/dev/null
	untrack "$TCPDUMP_PID"
	TCPDUMP_PID=
}

# ---- queries with dig ---------------------------------------------------

DQ_ADDR=127.0.0.1
OUT=
# dq ARGS...: one dig query to $DQ_ADDR port $PORT; output in $OUT.
dq() {
	OUT=$(dig @"$DQ_ADDR" -p "$PORT" +norec +nocookie +time=5 +tries=3 "$@" 2>&1) || true
}

dq_status() { printf '%s\n' "$OUT" | sed -n 's/.*status: \([A-Z0-9]*\),.*/\1/p' | head -n 1; }
dq_flags() { printf '%s\n' "$OUT" | sed -n 's/^;; flags: \([a-z ]*\);.*/\1/p' | head -n 1; }
# dq_section ANSWER|AUTHORITY|ADDITIONAL: the RR lines, tabs squeezed to one space
dq_section() {
	printf '%s\n' "$OUT" | awk -v s=";; $1 SECTION:" '
		$0 == s { f = 1; next }
		f && /^$/ { f = 0 }
		f && !/^;/ { gsub(/[ \t]+/, " "); print }'
}
dq_count() { printf '%s\n' "$OUT" | sed -n "s/^;; flags:.* $1: \([0-9]*\).*/\1/p" | head -n 1; }

# expect NAME CHECK ARG [CHECK ARG]...: check the last dq output.
expect() {
	local name=$1 why=
	shift
	while [ $# -ge 2 ] && [ -z "$why" ]; do
		local what=$1 arg=$2
		shift 2
		case $what in
		status)
			[ "$(dq_status)" = "$arg" ] || why="status $(dq_status), want $arg"
			;;
		flags)
			local f flags
			flags=" $(dq_flags) "
			for f in $arg; do
				case $f in
				+*) [[ $flags == *" ${f#+} "* ]] || why="flag ${f#+} not set (flags:$flags)" ;;
				-*) [[ $flags != *" ${f#-} "* ]] || why="flag ${f#-} set (flags:$flags)" ;;
				esac
			done
			;;
		answer | authority | additional)
			local sec=${what^^}
			grep -Eq -- "$arg" <<<"$(dq_section "$sec")" || why="no $what RR matches /$arg/"
			;;
		count)
			local sec=${arg%% *} want=${arg##* }
			[ "$(dq_count "$sec")" = "$want" ] ||
				why="$sec count $(dq_count "$sec"), want $want"
			;;
		grep)
			grep -Eq -- "$arg" <<<"$OUT" || why="output lacks /$arg/"
			;;
		nogrep)
			grep -Eq -- "$arg" <<<"$OUT" && why="output has /$arg/"
			;;
		*) why="unknown check $what" ;;
		esac
	done
	if [ -z "$why" ]; then
		ok "$name"
	else
		not_ok "$name" "$why" "$OUT"
	fi
}

# ---- Knot DNS as the reference server --------------------------------------

# knot_start [EXTRA_SERVER_CONF]: serve the sample zones (expanded) with knotd
# on a run-time port; sets KNOT_PORT and KNOT_PID.  EXTRA_SERVER_CONF lines
# are added to its server: section (indented by four spaces).
knot_start() {
	need knotd named-compilezone kdig
	local dir="$T/knot" extra=${1:-} attempt
	mkdir -p "$dir/db"
	expand_zone "$ZONES_DIR/$ZONE4.zone" "$ZONE4" "$dir/$ZONE4.zone"
	expand_zone "$ZONES_DIR/$ZONE6.zone" "$ZONE6" "$dir/$ZONE6.zone"
	for attempt in 1 2 3; do
		KNOT_PORT=$(free_port)
		cat >"$dir/knot.conf" <<KNOTCONF
server:
    rundir: "$dir"
    pidfile: "$dir/knot.pid"
    listen: [ 127.0.0.1@$KNOT_PORT ]
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
$(printf '%s\n' "$extra" | sed 's/^/    /')
control:
    listen: "$dir/knot.sock"
database:
    storage: "$dir/db"
log:
  - target: "$dir/knotd.log"
    any: info
template:
  - id: default
    storage: "$dir"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
    semantic-checks: on
zone:
  - domain: $ZONE4
    file: $ZONE4.zone
  - domain: $ZONE6
    file: $ZONE6.zone
KNOTCONF
		knotd -c "$dir/knot.conf" >>"$dir/stdout.log" 2>&1 &
		KNOT_PID=$!
		track "$KNOT_PID"
		if wait_soa "$KNOT_PID" "$KNOT_PORT" "$ZONE4" &&
			wait_soa "$KNOT_PID" "$KNOT_PORT" "$ZONE6"; then
			log "knotd ready (pid $KNOT_PID) on 127.0.0.1@$KNOT_PORT"
			return 0
		fi
		kill -TERM "$KNOT_PID" 2>/dev/null
		wait "$KNOT_PID" 2>/dev/null
		untrack "$KNOT_PID"
		log "knotd did not come up on port $KNOT_PORT (attempt $attempt)"
	done
	tail -n 20 "$dir"/*.log
	die "knotd did not start"
}

# ---- unbound as a real resolver -------------------------------------------

# unbound_start AUTH_PORT [OUT_ADDR]: a recursive unbound (QNAME minimisation
# on) with stub zones for the sample zones to backscope-authd on
# 127.0.0.1@AUTH_PORT, sending its queries from OUT_ADDR (default 127.0.0.1);
# every other name is forwarded to a dead loopback port (no root priming, no
# root hints used), no trust anchors, no remote control.  Returns when it
# answers the SOA of $ZONE4; sets UB_PID, UB_PORT and UB_DIR (its log is
# $UB_DIR/unbound.log, tailed by die).
unbound_start() {
	need unbound unbound-checkconf kdig
	local auth=$1 out=${2:-127.0.0.1} dead
	UB_DIR="$T/unbound"
	mkdir -p "$UB_DIR"
	UB_PORT=$(free_port)
	dead=$(free_port)
	cat >"$UB_DIR/unbound.conf" <<CONF
server:
    interface: 127.0.0.1@$UB_PORT
    port: $UB_PORT
    do-daemonize: no
    username: ""
    chroot: ""
    directory: "$UB_DIR"
    pidfile: "$UB_DIR/unbound.pid"
    logfile: "$UB_DIR/unbound.log"
    use-syslog: no
    verbosity: 1
    num-threads: 1
    access-control: 127.0.0.0/8 allow
    module-config: "iterator"
    qname-minimisation: yes
    harden-referral-path: no
    do-not-query-localhost: no
    outgoing-interface: $out
    do-ip6: no
    prefetch: no
    # our zones are private/documentation space: unbound's built-in local
    # zones would answer them itself
    local-zone: "10.in-addr.arpa." nodefault
    local-zone: "$ZONE6." nodefault
    unblock-lan-zones: yes
    insecure-lan-zones: yes
remote-control:
    control-enable: no
stub-zone:
    name: "$ZONE4."
    stub-addr: 127.0.0.1@$auth
stub-zone:
    name: "$ZONE6."
    stub-addr: 127.0.0.1@$auth
# everything else goes to a loopback port where nothing listens
forward-zone:
    name: "."
    forward-addr: 127.0.0.1@$dead
CONF
	unbound-checkconf "$UB_DIR/unbound.conf" >/dev/null || die "unbound-checkconf rejects the config"
	unbound -d -c "$UB_DIR/unbound.conf" >"$UB_DIR/stdout.log" 2>&1 &
	UB_PID=$!
	track "$UB_PID"
	AUTHD_LOG[unbound]="$UB_DIR/unbound.log"
	wait_soa "$UB_PID" "$UB_PORT" "$ZONE4" || die "unbound did not answer for $ZONE4"
	log "unbound ready (pid $UB_PID) on 127.0.0.1@$UB_PORT, stubs to 127.0.0.1@$auth"
}

# unbound_stop: SIGTERM the unbound of unbound_start and wait for it.
unbound_stop() {
	kill -TERM "$UB_PID" 2>/dev/null
	wait "$UB_PID" 2>/dev/null
	untrack "$UB_PID"
}

# In the namespace of BSC_NETNS=1 only lo exists, and it starts down.
if [ "${BSC_IN_NETNS:-0}" = 1 ]; then
	ip link set lo up || die "cannot bring lo up in the new network namespace"
fi

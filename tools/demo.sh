#!/bin/bash
# tools/demo.sh — the main job in one command: install the dependencies, build
# backscope-authd and the backscope CLI, start the server on the sample reverse
# zones (zones/backscope.conf, loopback port 5353, or a free port if 5353 is
# taken), show real dig answers for each kind of reverse lookup, send the DNS
# backscatter of a scanner, a spammer and ordinary hosts from many loopback
# queriers, stop the server, show what its capture recorded, and label a small
# darknet capture of the same hour into the same store.
#
#   tools/demo.sh [--no-deps] [--build-dir DIR]
#
# Only loopback is contacted; the server is stopped by its PID on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD="$ROOT/build/release"
DEPS=1
while [ $# -gt 0 ]; do
	case $1 in
	--no-deps) DEPS=0 ;;
	--build-dir) BUILD=$2; shift ;;
	-h | --help) sed -n '2,9p' "$0"; exit 0 ;;
	*) echo "demo: unknown argument $1 (try --help)" >&2; exit 1 ;;
	esac
	shift
done

if [ -t 1 ]; then
	B=$'\e[1m' D=$'\e[2m' N=$'\e[0m'
else
	B='' D='' N=''
fi
step() { printf '\n%s==> %s%s\n' "$B" "$*" "$N"; }

if [ "$DEPS" = 1 ]; then
	step "Dependencies (tools/install-deps.sh)"
	"$ROOT/tools/install-deps.sh"
fi

step "Build backscope-authd and backscope ($BUILD)"
if [ "$BUILD" = "$ROOT/build/release" ]; then
	cmake --preset release -S "$ROOT" >"$ROOT/build-demo-configure.log" 2>&1 ||
		{ cat "$ROOT/build-demo-configure.log"; exit 1; }
else
	cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		>"$ROOT/build-demo-configure.log" 2>&1 || { cat "$ROOT/build-demo-configure.log"; exit 1; }
fi
rm -f "$ROOT/build-demo-configure.log"
cmake --build "$BUILD" --target backscope-authd backscope -j"$(nproc)" | tail -n 1
AUTHD="$BUILD/authd/backscope-authd"
CLI="$BUILD/tools/backscope"
"$AUTHD" -V

CONF="$ROOT/zones/backscope.conf"
step "Check the config and zones: backscope-authd -n -c zones/backscope.conf"
"$AUTHD" -n -q -c "$CONF"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/backscope-demo.XXXXXX")
PID=
cleanup() {
	if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
		kill -TERM "$PID"
		wait "$PID" 2>/dev/null || true
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT

# start [-l ADDR@PORT...]: start the server in the background, wait (bounded)
# for its ready line on fd 3; returns 1 if it exited instead.
start() {
	: >"$TMP/ready"
	"$AUTHD" -c "$CONF" --db "$TMP/db" "$@" --ready-fd 3 3>"$TMP/ready" 2>"$TMP/authd.log" &
	PID=$!
	for _ in $(seq 1 300); do
		grep -q '^ready' "$TMP/ready" && return 0
		kill -0 "$PID" 2>/dev/null || { wait "$PID" || true; PID=; return 1; }
		sleep 0.1
	done
	echo "demo: the server did not become ready in 30 s" >&2
	exit 1
}

step "Start: backscope-authd -c zones/backscope.conf"
if ! start; then
	echo "${D}port 5353 is not free here ($(grep -m1 -i error "$TMP/authd.log" || true));" \
		"using free loopback ports instead${N}"
	start -l 127.0.0.1@0 -l ::1@0 || { cat "$TMP/authd.log"; exit 1; }
fi
READY=$(head -n 1 "$TMP/ready")
PORT=$(grep -o 'udp=127\.0\.0\.1@[0-9]*' <<<"$READY" | head -n 1 | sed 's/.*@//')
PORT6=$(grep -o 'udp=::1@[0-9]*' <<<"$READY" | head -n 1 | sed 's/.*@//')
echo "pid $PID, $READY"
sed 's/^/  log: /' "$TMP/authd.log"

# show TITLE DIG-ARGS...: one query, its status line, flags and sections.
show() {
	local title=$1 addr=127.0.0.1 port=$PORT
	shift
	if [ "$1" = -6 ]; then
		addr=::1 port=$PORT6
		shift
	fi
	printf '\n%s%s%s\n%s$ dig @%s -p %s %s%s\n' "$B" "$title" "$N" "$D" "$addr" "$port" "$*" "$N"
	dig @"$addr" -p "$port" +norec +nocookie +time=2 +tries=1 +noall +comments +answer \
		+authority +additional "$@" |
		grep -Ev '^;; (Got answer|OPT PSEUDOSECTION|QUESTION SECTION)|^$|^; (EDNS|COOKIE)|^;[^; ]' |
		sed -e 's/^;; ->>HEADER<<- /   /' -e 's/^;; flags: /   flags: /' -e 's/^;; \(.*\) SECTION:/   \1:/' \
			-e 's/^; NSID: /   NSID: /' -e 's/^\([^ ;]\)/     \1/' |
		if [ "$BRIEF" = 1 ]; then head -n 2; else cat; fi || true
	return 0
}
BRIEF=0

step "Answers from backscope-authd (dig, no recursion asked)"
show "A PTR hit: authoritative answer (aa), no recursion (ra clear)" -x 10.20.0.1
show "A generated pool address" -x 10.20.17.42
show "No such address: NXDOMAIN, SOA with the negative TTL min(SOA TTL, MINIMUM) = 900" -x 10.20.6.1
show "An empty non-terminal (a QNAME-minimising resolver asks this): NODATA" 17.20.10.in-addr.arpa PTR
show "RFC 2317 classless block: CNAME followed to the PTR" -x 10.20.7.70
show "Wildcard for a dynamic pool" -x 10.20.9.77
show "Delegated /24: referral (aa clear), NS in authority, glue in additional" -x 10.20.5.1
show "DS at the delegation, answered by the parent" 5.20.10.in-addr.arpa DS
BRIEF=1
show "60 names on one address (3 kB): over UDP the answer is truncated (tc)..." +ignore -x 10.20.0.99
show "... and dig's retry over TCP gets all 60" +tcp -x 10.20.0.99
BRIEF=0
show "IPv6 reverse (ip6.arpa nibbles), over the ::1 listener" -6 -x 2001:db8::1
show "Outside our zones: REFUSED" example.com A
show "EDNS NSID and CHAOS version" +nsid version.bind CH TXT

step "DNS backscatter: the lookups a scanner, a spammer and ordinary hosts cause"
echo "${D}(tools/demo_traffic.py: each querier is its own loopback address 127.A.B.C)${N}"
python3 "$ROOT/tools/demo_traffic.py" "$PORT"

step "Counters (SIGUSR1)"
kill -USR1 "$PID"
for _ in $(seq 1 50); do
	grep -q 'stats:' "$TMP/authd.log" && break
	sleep 0.1
done
grep 'stats:' "$TMP/authd.log" | tail -n 1 | sed 's/^/  /'

step "Stop (SIGTERM)"
kill -TERM "$PID"
rc=0
wait "$PID" || rc=$?
PID=
tail -n 2 "$TMP/authd.log" | sed 's/^/  /'
if [ "$rc" != 0 ]; then
	echo "backscope-authd exited with status $rc" >&2
	exit 1
fi
echo "backscope-authd exited with status 0; its capture is flushed to the store."

step "What the capture recorded: backscope --db DB status"
"$CLI" --db "$TMP/db" status
step "Originators by distinct queriers: backscope top"
"$CLI" --db "$TMP/db" top --window all --limit 8
step "One originator in detail: backscope originator 10.20.3.7"
"$CLI" --db "$TMP/db" originator 10.20.3.7 --window all --limit 5

step "What a darknet saw in the same hour: backscope darknet label --store"
echo "${D}(tools/demo_darknet.py: a small synthetic capture of an unused /22 and /48; the tests use captures of zmap, masscan, nmap and hping3)${N}"
python3 "$ROOT/tools/demo_darknet.py" "$TMP/darknet.pcap"
"$CLI" --db "$TMP/db" darknet label --darknet 198.18.0.0/22 --darknet 2001:db8:d::/48 \
	--store "$TMP/darknet.pcap"
step "The scanners' labels, read back from the store: backscope darknet labels --class network-scan"
"$CLI" --db "$TMP/db" darknet labels --class network-scan
echo
echo "Demo done."


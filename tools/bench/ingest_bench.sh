#!/bin/bash
# tools/bench/ingest_bench.sh — offline ingest speed: generates a capture with
# backscope-gen (10 million queries by default) in a temporary folder, then,
# pinned to one core, times
#   1. backscope ingest pcap FILE
#   2. backscope ingest pcap --write-log DIR FILE
#   3. backscope ingest log DIR                     (the segments of step 2)
#   4. tshark -r FILE -Y dns -T fields -e dns.qry.name   (when installed)
# and prints wall and CPU seconds, queries per second, and each ingest's rate
# over tshark's.  Checks that the three stores hold the same aggregates.
# Removes the temporary folder (gigabytes) at the end.
#
#   tools/bench/ingest_bench.sh [-b BUILD_DIR] [-n QUERIES] [-c CPU] [--no-tshark]
#                               [--tshark-packets N] [--keep]
#
# BUILD_DIR holds tools/backscope and tools/gen/backscope-gen (default
# $BSC_BUILD_DIR, else build/release); build it optimised, e.g.
#   cmake --preset release && cmake --build build/release -j2
# --tshark-packets N: tshark reads only the first N packets (-c N), for a
# quicker estimate of its rate on a long file.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BSC_BUILD_DIR:-$ROOT/build/release}
COUNT=10000000
CPU=1
TSHARK=1
TSHARK_PACKETS=0
KEEP=0
TARGET=1000000 # queries/s end to end on one core (issue: offline ingest)
RATIO=10       # over tshark

usage() { sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
	case $1 in
	-b) BUILD=$2; shift 2 ;;
	-n) COUNT=$2; shift 2 ;;
	-c) CPU=$2; shift 2 ;;
	--no-tshark) TSHARK=0; shift ;;
	--tshark-packets) TSHARK_PACKETS=$2; shift 2 ;;
	--keep) KEEP=1; shift ;;
	-h | --help) usage; exit 0 ;;
	*) echo "ingest_bench.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
	esac
done
CLI=$BUILD/tools/backscope
GEN=$BUILD/tools/gen/backscope-gen
for b in "$CLI" "$GEN"; do
	[ -x "$b" ] || {
		echo "ingest_bench.sh: $b not found: build first (-b BUILD_DIR)" >&2
		exit 2
	}
done
case $COUNT in '' | *[!0-9]*) echo "ingest_bench.sh: -n wants a number" >&2; exit 2 ;; esac
[ "$COUNT" -gt 0 ] || { echo "ingest_bench.sh: -n wants a positive number" >&2; exit 2; }
if [ "$TSHARK" = 1 ] && ! command -v tshark >/dev/null 2>&1; then
	echo "ingest_bench.sh: tshark not installed: its rate is not measured"
	TSHARK=0
fi
PIN=()
if command -v taskset >/dev/null 2>&1 && taskset -c "$CPU" true 2>/dev/null; then
	PIN=(taskset -c "$CPU")
else
	echo "ingest_bench.sh: cannot pin to CPU $CPU: running unpinned"
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/ingest_bench.XXXXXX") || exit 1
cleanup() { [ "$KEEP" = 1 ] && echo "kept $T" || rm -rf "$T"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== backscope-gen -n $COUNT"
if ! "$GEN" -n "$COUNT" -o "$T/q.pcap" 2>&1; then
	echo "ingest_bench.sh: backscope-gen failed" >&2
	exit 1
fi
SIZE=$(stat -c %s "$T/q.pcap")
echo "capture: $SIZE bytes; $(nproc) CPUs, pinned to: ${PIN[*]:-none}"
cat "$T/q.pcap" >/dev/null # into the page cache, as for every later reader

# run NAME CMD...: time CMD (wall; CPU = user + system) into R_<NAME>_*.
run() {
	local name=$1 out="$T/$1.out" err="$T/$1.err" rc w u s
	shift
	echo "== $name: $*"
	local TIMEFORMAT='%R %U %S'
	{ time "${PIN[@]}" "$@" >"$out" 2>"$err"; } 2>"$T/$name.time"
	rc=$?
	if [ $rc -ne 0 ]; then
		echo "ingest_bench.sh: $name failed (exit $rc):" >&2
		tail -5 "$err" >&2
		exit 1
	fi
	read -r w u s <"$T/$name.time"
	printf -v "R_${name}_wall" '%s' "$w"
	printf -v "R_${name}_cpu" '%s' "$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')"
	grep -E '^ingest|^events|^skipped' "$out" | sed 's/^/   /'
}

run pcap "$CLI" --db "$T/db-pcap" ingest pcap "$T/q.pcap"
run pcap_log "$CLI" --db "$T/db-log1" ingest pcap --write-log "$T/log" "$T/q.pcap"
run log "$CLI" --db "$T/db-log2" ingest log "$T/log"
TS_N=$COUNT
if [ "$TSHARK" = 1 ]; then
	TARGS=(-r "$T/q.pcap" -Y dns -T fields -e dns.qry.name)
	if [ "$TSHARK_PACKETS" -gt 0 ]; then
		TARGS=(-c "$TSHARK_PACKETS" "${TARGS[@]}")
		TS_N=$TSHARK_PACKETS
		[ "$TS_N" -lt "$COUNT" ] || TS_N=$COUNT
	fi
	run tshark tshark "${TARGS[@]}"
	got=$(wc -l <"$T/tshark.out")
	[ "$got" -eq "$TS_N" ] || echo "ingest_bench.sh: tshark printed $got names for $TS_N queries"
fi

# The same aggregates whichever way the queries came in.
same=1
for db in db-log1 db-log2; do
	for f in events pairs originator_rows ptr partial other_qtype; do
		a=$("$CLI" --db "$T/db-pcap" status --json | sed -n "s/^ *\"$f\": \([0-9]*\).*/\1/p")
		b=$("$CLI" --db "$T/$db" status --json | sed -n "s/^ *\"$f\": \([0-9]*\).*/\1/p")
		if [ -z "$a" ] || [ "$a" != "$b" ]; then
			echo "ingest_bench.sh: $db: $f $b, ingest pcap gave $a" >&2
			same=0
		fi
	done
done
[ "$same" = 1 ] && echo "== the three stores hold the same aggregates"

rate() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%.0f", n / t }'; }
echo
printf '%-34s %9s %9s %12s %10s\n' "run ($COUNT queries)" "wall s" "CPU s" "queries/s" "x tshark"
ts_rate=0
if [ "$TSHARK" = 1 ]; then
	ts_rate=$(rate "$TS_N" "$R_tshark_wall")
fi
fail=0
for name in pcap pcap_log log tshark; do
	[ "$name" = tshark ] && [ "$TSHARK" = 0 ] && continue
	w=R_${name}_wall c=R_${name}_cpu
	n=$COUNT
	[ "$name" = tshark ] && n=$TS_N
	r=$(rate "$n" "${!w}")
	x=-
	if [ "$ts_rate" != 0 ] && [ "$name" != tshark ]; then
		x=$(awk -v a="$r" -v b="$ts_rate" 'BEGIN { printf "%.1f", a / b }')
	fi
	case $name in
	pcap) label="ingest pcap" ;;
	pcap_log) label="ingest pcap --write-log" ;;
	log) label="ingest log" ;;
	tshark) label="tshark -Y dns -e dns.qry.name" ;;
	esac
	[ "$name" = tshark ] && [ "$TS_N" -lt "$COUNT" ] && label="$label (-c $TS_N)"
	printf '%-34s %9s %9s %12s %10s\n' "$label" "${!w}" "${!c}" "$r" "$x"
	if [ "$name" = pcap ] || [ "$name" = log ]; then
		if [ "$r" -lt "$TARGET" ]; then
			echo "   below the target of $TARGET queries/s (wall clock; CPU time ${!c} s)"
			fail=1
		fi
		if [ "$x" != - ] && awk -v x="$x" -v m="$RATIO" 'BEGIN { exit !(x < m) }'; then
			echo "   below ${RATIO}x tshark"
			fail=1
		fi
	fi
done
what="ingest pcap and ingest log >= $TARGET queries/s on one core"
[ "$TSHARK" = 1 ] && what="$what and >= ${RATIO}x tshark"
if [ "$fail" = 0 ]; then
	echo "targets: $what: met"
else
	echo "targets: $what: not met in this run"
	echo "   (a busy machine slows the wall clock: compare the CPU seconds)"
fi
[ "$same" = 1 ] || exit 1
exit 0

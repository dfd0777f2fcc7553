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

BENCH=ingest_bench.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
COUNT=10000000
TSHARK=1
TSHARK_PACKETS=0
TARGET=1000000 # queries/s end to end on one core (issue: offline ingest)
RATIO=10       # over tshark

while [ $# -gt 0 ]; do
	case $1 in
	--no-tshark) TSHARK=0; shift ;;
	--tshark-packets) TSHARK_PACKETS=$2; shift 2 ;;
	*) bench_common_arg "$@"; shift "$BENCH_SHIFT" ;;
	esac
done
bench_find_build
bench_want_number -n "$COUNT"
[ "$COUNT" -gt 0 ] || { echo "$BENCH: -n wants a positive number" >&2; exit 2; }
bench_need_tool TSHARK tshark
bench_pin

bench_tmpdir
bench_gen "$T/q.pcap" -n "$COUNT"
cat "$T/q.pcap" >/dev/null # into the page cache, as for every later reader

# run NAME CMD...: time CMD (wall; CPU = user + system) into R_<NAME>_*.
run() {
	local name=$1 out="$T/$1.out" err="$T/$1.err" rc w u s
	shift
	echo "== $name: $*"
	local TIMEFORMAT='%R %U %S'
	{ time "${PIN[@]}" "$@" >"$out" 2>"$err"; } 2>"$T/$name.time"
	rc=$?
	[ $rc -eq 0 ] || bench_run_failed "$name" $rc "$err"
	read -r w u s <"$T/$name.time"
	printf -v "R_${name}_wall" '%s' "$w"
	printf -v "R_${name}_cpu" '%s' "$(bench_cpu "$u" "$s")"
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
bench_verdict "$fail" "$what"
[ "$same" = 1 ] || exit 1
exit 0

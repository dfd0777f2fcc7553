#!/bin/bash
# tools/bench/darknet_bench.sh — darknet labeler speed: generates a darknet
# capture with `backscope-gen darknet` (10 million packets by default) once
# in a temporary folder, then, pinned to one core, times REPS rounds of
#   1. backscope darknet label FILE             (table to /dev/null)
#   2. backscope darknet label --json FILE      (JSON to /dev/null)
#   3. tcpdump -n -r FILE > /dev/null           (the issue's yardstick)
#   4. tcpdump -r FILE -w /dev/null             (libpcap reading and writing
#                                                records, no printing)
# one after the other in each round, so that all four see the machine in the
# same state, and prints the best and median wall seconds, packets per
# second, the CPU seconds and peak RSS of the best run, each rate over
# tcpdump's, and the median over the rounds of `tcpdump -w`'s time over the
# labeler's in the same round, its speed relative to `tcpdump -w` (on a
# shared machine, whose speed moves by tens of per cent within minutes, the
# figure that holds still).
#
#   tools/bench/darknet_bench.sh [-b BUILD_DIR] [-n PACKETS] [-c CPU] [-r REPS]
#                                [--tcpdump-packets N] [--no-tcpdump] [--keep]
#
# BUILD_DIR holds tools/backscope and tools/gen/backscope-gen (default
# $BSC_BUILD_DIR, else build/release); build it optimised, e.g.
#   cmake -S . -B build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo && cmake --build build/release -j2
# --tcpdump-packets N (default 100000): `tcpdump -n -r` reads only the first
# N packets (-c N).  Its cost per packet grows with the distinct addresses
# seen so far (its address-to-string cache chains on the first 12 bits of an
# address, and all of a /16 darknet shares them), so its rate on a prefix is
# an upper bound of its rate on the whole file, which would take hours.
# 0 reads the whole file.
set -uo pipefail

BENCH=darknet_bench.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
COUNT=10000000
REPS=5
TCPDUMP=1
TD_PACKETS=100000
TARGET=5000000 # packets/s on one core (issue 4)

while [ $# -gt 0 ]; do
	case $1 in
	-r) REPS=$2; shift 2 ;;
	--tcpdump-packets) TD_PACKETS=$2; shift 2 ;;
	--no-tcpdump) TCPDUMP=0; shift ;;
	*) bench_common_arg "$@"; shift "$BENCH_SHIFT" ;;
	esac
done
bench_find_build
for v in COUNT REPS TD_PACKETS; do
	bench_want_number "$v" "${!v}"
done
if [ "$COUNT" -eq 0 ] || [ "$REPS" -eq 0 ]; then
	echo "$BENCH: -n and -r want positive numbers" >&2
	exit 2
fi
bench_need_tool TCPDUMP tcpdump
TIME=/usr/bin/time
[ -x "$TIME" ] || { echo "$BENCH: $TIME (GNU time) not found" >&2; exit 2; }
bench_pin

bench_tmpdir
bench_gen "$T/d.pcap" darknet -n "$COUNT"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
cat "$T/d.pcap" >/dev/null # into the page cache, as for every later reader

# run NAME PACKETS CMD...: REPS timed runs of CMD (stdout to /dev/null);
# sets R_<NAME>_{best,median,cpu,rss,n}.
# once NAME ROUND CMD...: one timed run; its wall, user and system seconds
# and peak RSS are added to RUNS_NAME.
once() {
	local name=$1 i=$2 rc w u s m r=RUNS_$1
	shift 2
	"$TIME" -f '%e %U %S %M' -o "$T/$name.$i.time" "${PIN[@]}" "$@" >/dev/null \
		2>"$T/$name.err"
	rc=$?
	[ $rc -eq 0 ] || bench_run_failed "$name" $rc "$T/$name.err"
	read -r w u s m <"$T/$name.$i.time"
	printf -v "RUNS_$name" '%s%s\n' "${!r:-}" "$w $u $s $m"
	printf '   round %d %-10s %s s wall, %s s user, %s s system, %s KB peak RSS\n' \
		$((i + 1)) "$name:" "$w" "$u" "$s" "$m"
}

# summary NAME N: best and median of NAME's runs into R_NAME_*.
summary() {
	local name=$1 n=$2 runs sorted best med w u s m
	runs=RUNS_$name
	sorted=$(printf '%s' "${!runs}" | sed '/^$/d' | sort -n)
	best=$(sed -n 1p <<<"$sorted")
	med=$(sed -n "$(((REPS + 1) / 2))p" <<<"$sorted")
	read -r w u s m <<<"$best"
	printf -v "R_${name}_best" '%s' "$w"
	printf -v "R_${name}_cpu" '%s' "$(bench_cpu "$u" "$s")"
	printf -v "R_${name}_rss" '%s' "$m"
	printf -v "R_${name}_median" '%s' "${med%% *}"
	printf -v "R_${name}_n" '%s' "$n"
}

TD_N=$COUNT
TDARGS=(-n -r "$T/d.pcap")
if [ "$TD_PACKETS" -gt 0 ] && [ "$TD_PACKETS" -lt "$COUNT" ]; then
	TD_N=$TD_PACKETS
	TDARGS=(-c "$TD_PACKETS" "${TDARGS[@]}")
fi
echo "== $REPS rounds of:"
echo "   label:     $CLI darknet label $T/d.pcap > /dev/null"
echo "   json:      $CLI darknet label --json $T/d.pcap > /dev/null"
if [ "$TCPDUMP" = 1 ]; then
	echo "   tcpdump:   tcpdump ${TDARGS[*]} > /dev/null"
	echo "   tcpdump_w: tcpdump -r $T/d.pcap -w /dev/null"
fi
for ((i = 0; i < REPS; i++)); do
	once label "$i" "$CLI" darknet label "$T/d.pcap"
	once json "$i" "$CLI" darknet label --json "$T/d.pcap"
	if [ "$TCPDUMP" = 1 ]; then
		once tcpdump "$i" tcpdump "${TDARGS[@]}"
		once tcpdump_w "$i" tcpdump -r "$T/d.pcap" -w /dev/null
	fi
done
summary label "$COUNT"
summary json "$COUNT"
if [ "$TCPDUMP" = 1 ]; then
	summary tcpdump "$TD_N"
	summary tcpdump_w "$COUNT"
fi

echo
printf '%-40s %8s %8s %8s %12s %12s %9s %10s\n' "run (best of $REPS)" "packets" "best s" \
	"median s" "packets/s" "(median)" "CPU s" "peak RSS"
td_rate=0
[ "$TCPDUMP" = 1 ] && td_rate=$(rate "$R_tcpdump_n" "$R_tcpdump_best")
fail=0
for name in label json tcpdump tcpdump_w; do
	case $name in tcpdump*) [ "$TCPDUMP" = 1 ] || continue ;; esac
	b=R_${name}_best m=R_${name}_median c=R_${name}_cpu r=R_${name}_rss n=R_${name}_n
	rb=$(rate "${!n}" "${!b}")
	rm=$(rate "${!n}" "${!m}")
	case $name in
	label) what="darknet label" ;;
	json) what="darknet label --json" ;;
	tcpdump) what="tcpdump -n -r"; [ "${!n}" -lt "$COUNT" ] && what="$what (-c ${!n})" ;;
	tcpdump_w) what="tcpdump -r -w /dev/null" ;;
	esac
	printf '%-40s %8s %8s %8s %12s %12s %9s %7s MB\n' "$what" "${!n}" "${!b}" "${!m}" \
		"$rb" "$rm" "${!c}" "$((${!r} / 1024))"
	if [ "$name" = label ] || [ "$name" = json ]; then
		[ "$rb" -ge "$TARGET" ] || fail=1
		if [ "$td_rate" != 0 ]; then
			x=$(awk -v a="$rb" -v b="$td_rate" 'BEGIN { printf "%.1f", a / b }')
			echo "   ${x}x tcpdump -n -r"
			awk -v x="$x" 'BEGIN { exit !(x < 1) }' && fail=1
		fi
	fi
done
if [ "$TCPDUMP" = 1 ]; then
	# each round's label and --json time over that round's tcpdump -w time
	for name in label json; do
		r=RUNS_$name
		ratio=$(paste -d' ' <(printf '%s' "${!r}" | sed '/^$/d' | cut -d' ' -f1) \
			<(printf '%s' "$RUNS_tcpdump_w" | sed '/^$/d' | cut -d' ' -f1) |
			awk '{ print ($1 > 0 ? $2 / $1 : 0) }' | sort -n |
			awk '{ a[NR] = $1 } END { printf "%.2f (%.2f to %.2f)", a[int((NR + 1) / 2)], a[1], a[NR] }')
		opt=""
		[ "$name" = json ] && opt=" --json"
		echo "per round, tcpdump -w's time over darknet label$opt's: median $ratio"
	done
fi
what="darknet label >= $TARGET packets/s on one core"
[ "$TCPDUMP" = 1 ] && what="$what and >= tcpdump -n -r"
bench_verdict "$fail" "$what"
exit 0

#!/bin/bash
# tools/bench/darknet_bench.sh — darknet labeler speed: generates a darknet
# capture with `backscope-gen darknet` (10 million packets by default) once
# in a temporary folder, then, pinned to one core, times REPS runs each of
#   1. backscope darknet label FILE             (table to /dev/null)
#   2. backscope darknet label --json FILE      (JSON to /dev/null)
#   3. tcpdump -n -r FILE > /dev/null           (the issue's yardstick)
#   4. tcpdump -r FILE -w /dev/null             (libpcap reading and writing
#                                                records, no printing)
# and prints the best and median wall seconds, packets per second, the CPU
# seconds and peak RSS of the best run, and each rate over tcpdump's.
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
run() {
	local name=$1 n=$2 i rc w u s m walls=()
	shift 2
	echo "== $name: $* > /dev/null   ($REPS runs)"
	for ((i = 0; i < REPS; i++)); do
		"$TIME" -f '%e %U %S %M' -o "$T/$name.$i.time" "${PIN[@]}" "$@" >/dev/null \
			2>"$T/$name.err"
		rc=$?
		[ $rc -eq 0 ] || bench_run_failed "$name" $rc "$T/$name.err"
		read -r w u s m <"$T/$name.$i.time"
		walls+=("$w $u $s $m")
		echo "   run $((i + 1)): $w s wall, $u s user, $s s system, $m KB peak RSS"
	done
	local sorted best med
	sorted=$(printf '%s\n' "${walls[@]}" | sort -n)
	best=$(sed -n 1p <<<"$sorted")
	med=$(sed -n "$(((REPS + 1) / 2))p" <<<"$sorted")
	read -r w u s m <<<"$best"
	printf -v "R_${name}_best" '%s' "$w"
	printf -v "R_${name}_cpu" '%s' "$(bench_cpu "$u" "$s")"
	printf -v "R_${name}_rss" '%s' "$m"
	printf -v "R_${name}_median" '%s' "${med%% *}"
	printf -v "R_${name}_n" '%s' "$n"
}

run label "$COUNT" "$CLI" darknet label "$T/d.pcap"
run json "$COUNT" "$CLI" darknet label --json "$T/d.pcap"
if [ "$TCPDUMP" = 1 ]; then
	TD_N=$COUNT
	TDARGS=(-n -r "$T/d.pcap")
	if [ "$TD_PACKETS" -gt 0 ] && [ "$TD_PACKETS" -lt "$COUNT" ]; then
		TD_N=$TD_PACKETS
		TDARGS=(-c "$TD_PACKETS" "${TDARGS[@]}")
	fi
	run tcpdump "$TD_N" tcpdump "${TDARGS[@]}"
	run tcpdump_w "$COUNT" tcpdump -r "$T/d.pcap" -w /dev/null
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
what="darknet label >= $TARGET packets/s on one core"
[ "$TCPDUMP" = 1 ] && what="$what and >= tcpdump -n -r"
bench_verdict "$fail" "$what"
exit 0

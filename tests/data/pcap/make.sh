#!/bin/bash
# tests/data/pcap/make.sh — regenerate the test captures of tests/unit/tools/
# test_pcapdns.c: tcpdump records the traffic of traffic.sh (kdig and rawq.py
# against a Knot DNS on a loopback run-time port) three ways at once:
#
#   lo.pcap        -i lo (Ethernet link type), nanosecond timestamps
#   lo.pcapng      the same, converted by editcap (Wireshark's tools)
#   any-sll2.pcap  -i any (Linux cooked v2)
#   any-sll.pcap   -i any -y LINUX_SLL (Linux cooked v1)
#   truth.txt      one line per query sent (format in traffic.sh)
#
# Needs root (tcpdump), knotd, kdig, python3, editcap.  Traffic goes to
# loopback only.  Usage: tests/data/pcap/make.sh [OUTDIR] (default: here).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${1:-$HERE}"
. "$HERE/traffic.sh"

WORK=$(mktemp -d /tmp/bsc-pcap-make.XXXXXX)
TCPDUMP_PIDS=()
cleanup() {
	local p
	for p in "${TCPDUMP_PIDS[@]}"; do kill -INT "$p" 2>/dev/null || true; done
	[ -f "$WORK/knotd.launch.pid" ] && traffic_stop_knot "$WORK"
	[ -n "${KEEP:-}" ] && echo "kept $WORK" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$(free_port)
traffic_start_knot "$WORK" "$PORT"

# capture: start_capture NAME TCPDUMP_ARGS...; waits until tcpdump listens
start_capture() {
	local name=$1 i
	shift
	tcpdump -Z root -U -w "$WORK/$name" "$@" "udp port $PORT or tcp port $PORT" \
		2>"$WORK/$name.log" &
	TCPDUMP_PIDS+=($!)
	for i in $(seq 1 100); do
		grep -q "listening on" "$WORK/$name.log" && return 0
		sleep 0.1
	done
	echo "tcpdump $name did not start: $(cat "$WORK/$name.log")" >&2
	return 1
}
start_capture lo.pcap -i lo --time-stamp-precision=nano
start_capture any-sll2.pcap -i any
start_capture any-sll.pcap -i any -y LINUX_SLL

BASE=$(port_base)
traffic_send "$PORT" "$WORK/truth.txt" "$BASE"

# stop each tcpdump once the reply to the last query is in its file (without
# --immediate-mode, which loses packets on -i any, they arrive in blocks)
LAST="> 127.0.0.20.$((BASE + 406)):"
for f in lo.pcap any-sll2.pcap any-sll.pcap; do
	for i in $(seq 1 100); do
		tcpdump -nn -r "$WORK/$f" 2>/dev/null | grep -q -- "$LAST" && break
		sleep 0.1
	done
done
for p in "${TCPDUMP_PIDS[@]}"; do
	kill -INT "$p"
	wait "$p" || true
done
TCPDUMP_PIDS=()
traffic_stop_knot "$WORK"
rm -f "$WORK/knotd.launch.pid"

editcap -F pcapng "$WORK/lo.pcap" "$WORK/lo.pcapng"

# the split query must really have left as two segments, and the pipelined
# ones as one
if ! tcpdump -nn -r "$WORK/lo.pcap" 2>/dev/null | grep -q "\.$((BASE + 403)) > .*length 10\$"; then
	echo "the split query was not captured as a 10-byte segment" >&2
	exit 1
fi

mkdir -p "$OUT"
cp "$WORK/lo.pcap" "$WORK/lo.pcapng" "$WORK/any-sll2.pcap" "$WORK/any-sll.pcap" \
	"$WORK/truth.txt" "$OUT/"
echo "wrote $(grep -vc '^#' "$OUT/truth.txt") queries to $OUT (knot port $PORT)"

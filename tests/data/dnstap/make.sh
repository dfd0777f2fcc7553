#!/bin/bash
# tests/data/dnstap/make.sh — regenerate the dnstap test file of
# tests/unit/tools/test_dnstap.c: Knot DNS with mod-dnstap (queries and
# responses, file sink) on a loopback run-time port receives the traffic of
# tests/data/pcap/traffic.sh; knotd is then stopped cleanly so the file ends
# with its STOP frame.
#
#   knot.tap   the frame stream Knot wrote
#   truth.txt  one line per query sent (format in tests/data/pcap/traffic.sh)
#
# Needs knotd with knot-module-dnstap, kdig, python3.  Traffic goes to
# loopback only.  Usage: tests/data/dnstap/make.sh [OUTDIR] (default: here).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${1:-$HERE}"
. "$HERE/../pcap/traffic.sh"

WORK=$(mktemp -d /tmp/bsc-dnstap-make.XXXXXX)
cleanup() {
	[ -f "$WORK/knotd.launch.pid" ] && traffic_stop_knot "$WORK"
	[ -n "${KEEP:-}" ] && echo "kept $WORK" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$(free_port)
traffic_start_knot "$WORK" "$PORT" "$WORK/knot.tap"
BASE=$(port_base)
traffic_send "$PORT" "$WORK/truth.txt" "$BASE"
traffic_stop_knot "$WORK"
rm -f "$WORK/knotd.launch.pid"

# the readiness probes (from 127.0.0.99) are in the file too: drop nothing,
# the test filters them by querier
[ -s "$WORK/knot.tap" ] || { echo "knotd wrote no dnstap file" >&2; exit 1; }
mkdir -p "$OUT"
cp "$WORK/knot.tap" "$WORK/truth.txt" "$OUT/"
chmod 644 "$OUT/knot.tap"
echo "wrote $(grep -vc '^#' "$OUT/truth.txt") queries to $OUT (knot port $PORT)"

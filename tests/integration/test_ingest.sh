#!/bin/bash
# test_ingest.sh — offline ingest gives exact aggregates, whatever the source:
#  - queries sent with kdig from many loopback sources (UDP and TCP, IPv4 and
#    IPv6) to backscope-authd are captured with tcpdump; `ingest pcap` of the
#    capture counts exactly what was sent, per originator and per querier;
#  - `ingest pcap --write-log` + `ingest log` of the segments gives the same
#    aggregates, byte for byte;
#  - a second ingest is refused, --force doubles the counts;
#  - a truncated and a corrupted capture are reported with file and offset,
#    exit 1, the events before the damage kept;
#  - the decoders' committed captures (tests/data/pcap) and Knot DNS's dnstap
#    file (tests/data/dnstap) ingest to their ground truth.
# When backscope-authd captures live, its store is compared too (see LIVE).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cli_lib.sh"
need kdig tcpdump

[ "$(id -u)" = 0 ] || { echo "test_ingest: SKIP: tcpdump on lo needs root"; echo "$TEST_NAME: 0 passed, 0 failed"; exit 0; }

authd_start main -l 127.0.0.1@0 -l ::1@0 -z "$ZONE4=$ZONES_DIR/$ZONE4.zone" \
	-z "$ZONE6=$ZONES_DIR/$ZONE6.zone"
P4=$(ready_port main 127.0.0.1)
P6=$(ready_port main ::1)
[ -n "$P4" ] && [ -n "$P6" ] || die "no ports in the ready line: $(cat "${AUTHD_READY[main]}")"

PCAP="$T/lo.pcap"
TRUTH="$T/truth.txt"
tcpdump_start "$PCAP" "port $P4 or port $P6"

# ---- the traffic: one kdig per query, no retries (each query sent once) ----
echo "# server 127.0.0.1 ::1 ports $P4 $P6" >"$TRUTH"
NQ=0
# q SRC PROTO QTYPE QNAME: one query from SRC; a truth line
q() {
	local src=$1 proto=$2 qtype=$3 name=$4 server=127.0.0.1 port=$P4 tcp=() num
	case $src in *:*) server=::1 port=$P6 ;; esac
	[ "$proto" = tcp ] && tcp=(+tcp)
	case $qtype in PTR) num=12 ;; A) num=1 ;; NS) num=2 ;; SOA) num=6 ;; esac
	kdig +retry=0 +time=3 -b "$src" @"$server" -p "$port" "${tcp[@]}" "$name" "$qtype" \
		>/dev/null 2>&1 || log "kdig from $src for $name $qtype failed (still sent)"
	echo "$src - $proto $num $name - - -" >>"$TRUTH"
	NQ=$((NQ + 1))
}
N4=20.10.in-addr.arpa
V6N=1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa
for i in 2 3 4 5 6 7 8 9; do # 10.20.0.1: eight queriers, once each
	q 127.0.0.$i udp PTR 1.0.$N4
done
for i in 2 3 4 5; do # 10.20.0.2: four queriers, twice each (once over TCP)
	q 127.0.0.$i udp PTR 2.0.$N4
	q 127.0.0.$i tcp PTR 2.0.$N4
done
for k in 1 2 3 4 5; do # 10.20.1.5: one querier, five times
	proto=udp
	[ $k -gt 3 ] && proto=tcp
	q 127.0.0.7 $proto PTR 5.1.$N4
done
q 127.0.0.2 udp PTR $V6N # 2001:db8::1 from two IPv4 queriers and ::1
q 127.0.0.3 tcp PTR $V6N
q ::1 udp PTR $V6N
q ::1 udp PTR 3.3.$N4 # 10.20.3.3 from ::1, twice
q ::1 tcp PTR 3.3.$N4
q 127.0.0.12 udp PTR 1.0.20.10.In-Addr.ARPA # 10.20.0.1 from a ninth querier, mixed case
# not originators: a zone cut (QNAME minimisation), another qtype, the apex
q 127.0.0.4 udp NS 0.$N4
q 127.0.0.5 udp A 1.0.$N4
q 127.0.0.6 udp SOA $N4
q 127.0.0.10 udp PTR 9.9.$N4 # the sentinel, last
_sentinel_seen() { # its query and its response are in the capture (127.0.0.10 is its own)
	[ "$(tcpdump -n -r "$PCAP" host 127.0.0.10 2>/dev/null | wc -l)" -ge 2 ]
}
poll 100 0.1 _sentinel_seen || not_ok "capture complete" "the sentinel never reached the capture"
tcpdump_stop
log "sent $NQ queries; capture $(stat -c %s "$PCAP") bytes"
NPTR=$(awk '!/^#/ && $4 == 12' "$TRUTH" | wc -l)

truth_expect "$TRUTH" >"$T/expected.json"

# ---- pcap into store A (with the event log for store B) ----
A="$T/a.db"
bsc --db "$A" ingest pcap --json --port "$P4" --port "$P6" --server 127.0.0.1 --server ::1 \
	--zone "$N4" --zone 8.b.d.0.1.0.0.2.ip6.arpa --write-log "$T/evlog" "$PCAP"
expect_bsc "ingest pcap of the tcpdump capture: exit 0" 0 out '"status": "ok"'
EV=$("$PY" -c 'import json,sys; d=json.load(sys.stdin); print(d["events"], d["classes"]["ptr"], d["files"][0]["status"])' <<<"$OUT" 2>/dev/null)
if [ "$EV" = "$NQ $NPTR ok" ]; then
	ok "ingest pcap: $NQ events, $NPTR of them PTR for full names"
else
	not_ok "ingest pcap: every query is one event" "got '$EV', want '$NQ $NPTR ok'" "$OUT"
fi
check_aggregates "pcap aggregates equal what was sent, per originator and querier" "$A" \
	"$T/expected.json"
bsc --db "$A" status --json
EVS=$("$PY" -c 'import json,sys; d=json.load(sys.stdin); print(d["events"], d["dropped"], d["originators"])' <<<"$OUT" 2>/dev/null)
if [ "$EVS" = "$NQ 0 6" ]; then
	ok "status: events $NQ, dropped 0, originators 6"
else
	not_ok "status counts" "got '$EVS', want '$NQ 0 6'" "$OUT"
fi

# the text summary: packets, queries, events, skipped by reason
bsc --db "$T/text.db" ingest pcap --port "$P4" --port "$P6" "$PCAP"
expect_bsc "text summary names packets, queries, events and skips" 0 \
	out "packets, $NQ queries, $NQ events" out "skipped:.*TCP without payload" \
	out "ptr $NPTR, partial 2, other qtype 1"

# ---- idempotence ----
bsc --db "$A" ingest pcap --port "$P4" --port "$P6" "$PCAP"
expect_bsc "the same capture again: refused, exit 1, names the file and when" 1 \
	err "lo\.pcap: already ingested at [0-9T:-]+Z" err "--force"
check_aggregates "a refused ingest adds nothing" "$A" "$T/expected.json"
C="$T/c.db"
bsc --db "$C" ingest pcap --port "$P4" --port "$P6" "$PCAP"
bsc --db "$C" ingest pcap --force --port "$P4" --port "$P6" "$PCAP"
expect_bsc "--force ingests it again" 0
"$PY" - "$T/expected.json" >"$T/doubled.json" <<'EOF'
import json, sys
e = json.load(open(sys.argv[1]))
json.dump({o: {q: 2 * n for q, n in qs.items()} for o, qs in e.items()}, sys.stdout)
EOF
check_aggregates "--force doubles every count, distinct queriers unchanged" "$C" \
	"$T/doubled.json"

# ---- the event log: the same aggregates from the segments ----
shopt -s nullglob
SEGS=("$T"/evlog/*.bsl)
shopt -u nullglob
if [ ${#SEGS[@]} -ge 1 ]; then
	ok "--write-log wrote ${#SEGS[@]} segment(s)"
else
	not_ok "--write-log wrote segments" "none in $T/evlog"
fi
B="$T/b.db"
bsc --db "$B" ingest log "${SEGS[@]}"
expect_bsc "ingest log of the segments: exit 0" 0 out "$NQ events"
same_aggregates "ingest log gives the same top/originator JSON as ingest pcap" "$A" "$B"
bsc --db "$B" ingest log "$T/evlog"
expect_bsc "ingest log of the folder again: refused" 1 err "already ingested"

# ---- damage ----
SIZE=$(stat -c %s "$PCAP")
head -c $((SIZE - 30)) "$PCAP" >"$T/cut.pcap"
bsc --db "$T/d.db" ingest pcap --json --port "$P4" --port "$P6" "$T/cut.pcap"
expect_bsc "truncated capture: exit 1, file and byte offset named" 1 \
	err "cut\.pcap: truncated at byte [0-9]+" out '"status": "damaged"'
KEPT=$("$PY" -c 'import json,sys; d=json.load(sys.stdin); f=d["files"][0]; print(f["events"], f["offset"] is not None and f["offset"] > 24)' <<<"$OUT" 2>/dev/null)
bsc --db "$T/d.db" status --json
STORED=$("$PY" -c 'import json,sys; print(json.load(sys.stdin)["events"])' <<<"$OUT" 2>/dev/null)
if [ "${KEPT% *}" = "$STORED" ] && [ "${KEPT#* }" = True ] && [ "$STORED" -ge $((NQ - 2)) ]; then
	ok "truncated capture: the $STORED events before the damage are in the store"
else
	not_ok "truncated capture keeps what came before" "summary '$KEPT', store $STORED, sent $NQ"
fi
# a record header claiming an impossible length in the middle of the file
"$PY" - "$PCAP" "$T/corrupt.pcap" <<'EOF'
import struct, sys
data = bytearray(open(sys.argv[1], "rb").read())
off, n = 24, 0
while off + 16 <= len(data) and n < 20:
    incl = struct.unpack_from("<I", data, off + 8)[0]
    off += 16 + incl
    n += 1
struct.pack_into("<II", data, off + 8, 0x7fffffff, 0x7fffffff)
open(sys.argv[2], "wb").write(data)
EOF
bsc --db "$T/e.db" ingest pcap --port "$P4" --port "$P6" "$T/corrupt.pcap" "$PCAP"
expect_bsc "corrupt record: exit 1, file and offset named, the next file still ingested" 1 \
	err "corrupt\.pcap: .*byte [0-9]+" out "lo\.pcap: ok"

# ---- the decoders' committed captures and their ground truth ----
for f in lo.pcap lo.pcapng; do
	src="$BSC_SOURCE_DIR/tests/data/pcap/$f"
	truth="$BSC_SOURCE_DIR/tests/data/pcap/truth.txt"
	if [ ! -f "$src" ] || [ ! -f "$truth" ]; then
		not_ok "tests/data/pcap/$f and truth.txt" "not in the source tree"
		continue
	fi
	port=$(sed -n '1s/.*port \([0-9]*\).*/\1/p' "$truth")
	truth_expect "$truth" split >"$T/pcap-truth.json"
	bsc --db "$T/$f.db" ingest pcap --port "$port" "$src"
	expect_bsc "ingest pcap tests/data/pcap/$f: exit 0" 0
	check_aggregates "tests/data/pcap/$f equals its truth (split TCP messages excepted)" \
		"$T/$f.db" "$T/pcap-truth.json"
done
TAP="$BSC_SOURCE_DIR/tests/data/dnstap/knot.tap"
TAPTRUTH="$BSC_SOURCE_DIR/tests/data/dnstap/truth.txt"
if [ -f "$TAP" ] && [ -f "$TAPTRUTH" ]; then
	# Knot logs no dnstap message for queries it cannot parse (as test_dnstap.c)
	truth_expect "$TAPTRUTH" formerr noquestion >"$T/tap-truth.json"
	bsc --db "$T/tap.db" ingest dnstap "$TAP"
	expect_bsc "ingest dnstap of Knot DNS's file: exit 0" 0
	check_aggregates "Knot DNS's dnstap file equals its truth" "$T/tap.db" "$T/tap-truth.json"
	bsc --db "$T/tap.db" ingest dnstap "$TAP"
	expect_bsc "the dnstap file again: refused" 1 err "already ingested"
else
	not_ok "tests/data/dnstap/knot.tap and truth.txt" "not in the source tree"
fi

authd_stop main

# ---- LIVE: backscope-authd's own capture of the same queries ----
# The server captures by default: its store (--db $T/main.db, given by
# authd_start) holds the same queries: the originators, queries and distinct
# queriers must equal those of the capture (times differ: receive time vs
# capture time).
bsc --db "$T/main.db" status --json
LIVE_EVENTS=$("$PY" -c 'import json,sys; print(json.load(sys.stdin)["events"])' <<<"$OUT" 2>/dev/null)
if [ "$RC" = 0 ] && [ "${LIVE_EVENTS:-0}" -gt 0 ]; then
	check_aggregates "live capture of backscope-authd equals what was sent" "$T/main.db" \
		"$T/expected.json"
else
	not_ok "live capture of backscope-authd" "no events in $T/main.db (status exit $RC)" "$ERR"
fi

finish

#!/bin/bash
# test_capture.sh — backscope-authd's live capture, checked through the store
# (`backscope status|top|originator --json`) and the event log:
#  1. exactness: N queries from 1000 distinct loopback sources to two UDP
#     workers; after SIGTERM the store counts exactly N, per originator and
#     per querier; replies = events in the stats line = events stored;
#     the event-log segments replayed (`ingest log`) give the same aggregates;
#  2. live = offline: a tcpdump capture of the same traffic ingested with
#     `backscope ingest pcap` gives the same aggregates as the live store;
#  3. a real resolver: queries through unbound (QNAME minimisation on) are
#     recorded with unbound's address as querier; its probes count as partial
#     names, never as originators;
#  4. SIGHUP: the zones' new PTR TTL reaches the store's meta;
#  5. crash: kill -9 under load; the store opens on restart and holds at
#     least what was flushed before the kill, at most what was sent;
#  6. SIGTERM under load loses nothing: events stored = events counted =
#     replies (+ answers the kernel refused);
#  7. bounded memory: a flood of 500 k distinct names keeps the server's heap
#     (RssAnon) under memory_cap + rings + LMDB's write transaction + slack,
#     and VmRSS under that + the store's mapped pages (authd/README.md,
#     "Memory"); the cap makes the writer flush early;
#  8. `-n` reports the store and refuses bucket lengths the store does not
#     have; so does start-up; with capture off nothing is stored;
#  9. --user: the store's folders and files belong to the run user.
# Isolation as test_resolver.sh: re-run in a new network namespace when
# "unshare -n" works (root); otherwise unbound's config fences it in.
BSC_NETNS=1
source "$(dirname "$0")/lib.sh"
need kdig dig

CLI="${BSC_CLI:-$BSC_BUILD_DIR/tools/backscope}"
[ -x "$CLI" ] || die "backscope CLI not found at $CLI"
CAPDATA="$DATA_DIR/capture"
LOAD=("$PY" "$CAPDATA/capture_load.py")
CHECK=("$PY" "$CAPDATA/capture_check.py")
ZARGS=(-z "$ZONE4=$ZONES_DIR/$ZONE4.zone" -z "$ZONE6=$ZONES_DIR/$ZONE6.zone")
IS_ROOT=0
[ "$(id -u)" = 0 ] && IS_ROOT=1

# ---- helpers of this test --------------------------------------------------

# field DB KEY: one field of `backscope status --json` ("" on error)
field() { "${CHECK[@]}" field "$CLI" "$1" "$2" 2>/dev/null; }

# final_stat NAME KEY: KEY=value of the "final stats" line of NAME's log
final_stat() {
	sed -n 's/.*final stats: //p' "${AUTHD_LOG[$1]}" | tail -n 1 | tr ' ;' '\n\n' |
		sed -n "s/^$2=//p" | head -n 1
}

# check_eq NAME GOT WANT
check_eq() {
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		not_ok "$1" "got '$2', want '$3'"
	fi
}

# check_empty NAME OUTPUT: the comparison printed no difference
check_empty() {
	if [ -z "$2" ]; then
		ok "$1"
	else
		not_ok "$1" "differences" "$2"
	fi
}

# json_of FILE KEY
json_of() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }

# events_at_least DB N: the store reports at least N events
events_at_least() {
	local e
	e=$(field "$1" events)
	[ -n "$e" ] && [ "$e" -ge "$2" ]
}

# vmrss PID / rssanon PID: resident set / its anonymous part (heap), in KiB
# (empty when the process is gone)
vmrss() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
rssanon() { awk '/^RssAnon:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }

# ==== 1 + 2: exactness, event log, live = pcap ingest ========================
authd_start exact -w 2 -l 127.0.0.1@0 "${ZARGS[@]}"
P=${AUTHD_PORT[exact]}
PCAP="$T/exact.pcap"
HAVE_PCAP=0
if [ "$IS_ROOT" != 1 ]; then
	log "SKIP live vs pcap ingest: tcpdump on lo needs root"
elif ! command -v tcpdump >/dev/null; then
	skip_tool tcpdump "live capture = offline pcap ingest"
else
	tcpdump_start "$PCAP" "udp port $P" lo -B 65536
	HAVE_PCAP=1
fi
N=20000
out=$("${LOAD[@]}" exact --port "$P" --n $N --sources 1000 --originators 150 \
	--truth "$T/truth.json" 2>&1) || true
check_eq "all $N queries from 1000 sources answered (each sent once)" \
	"$(json_of "$T/truth.json" answered 2>/dev/null)" "$N"
# a last query from its own source: once its answer is in the capture, so is
# everything before it.  A zone apex SOA: a partial name, not an originator.
kdig +retry=0 +time=3 -b 127.2.0.1 @127.0.0.1 -p "$P" "$ZONE4" SOA >/dev/null 2>&1 ||
	log "sentinel query failed"
if [ "$HAVE_PCAP" = 1 ]; then
	_sentinel() { [ "$(tcpdump -n -r "$PCAP" host 127.2.0.1 2>/dev/null | wc -l)" -ge 2 ]; }
	poll 100 0.1 _sentinel || not_ok "capture complete" "the sentinel never reached the capture"
	tcpdump_stop
	kdrop=$(sed -n 's/^\([0-9]*\) packets dropped by kernel.*/\1/p' "$T/tcpdump.err")
	[ "${kdrop:-0}" = 0 ] || { log "tcpdump dropped $kdrop packets: no pcap comparison"; HAVE_PCAP=0; }
fi
authd_stop exact
DB="$T/exact.db"
NE=$((N + 1))
check_eq "stats line: events = queries = $NE" "$(final_stat exact events)" "$NE"
check_eq "stats line: replies = events" "$(final_stat exact replies)" "$(final_stat exact events)"
grep -q "capture: $NE events (.*), dropped 0; store: $NE events flushed" "${AUTHD_LOG[exact]}" &&
	ok "stats line: $NE events handed over, 0 dropped, $NE flushed" ||
	not_ok "stats line: capture counters" "$(grep 'final stats' "${AUTHD_LOG[exact]}")"
check_eq "status: events = $NE" "$(field "$DB" events)" "$NE"
check_eq "status: dropped = 0" "$(field "$DB" dropped)" 0
check_eq "status: ptr = PTR queries for full names sent" "$(field "$DB" ptr)" \
	"$(json_of "$T/truth.json" ptr)"
check_eq "status: partial = zone cuts/probes sent (+ the sentinel)" "$(field "$DB" partial)" \
	"$(($(json_of "$T/truth.json" partial) + 1))"
check_eq "status: other_qtype = other qtypes for full names sent" \
	"$(field "$DB" other_qtype)" "$(json_of "$T/truth.json" other_qtype)"
check_eq "status: originators = those sent" "$(field "$DB" originators)" \
	"$("$PY" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["expected"]))' "$T/truth.json")"
check_empty "top/originator --json: queries and distinct queriers per originator, queries per querier, exactly as sent" \
	"$("${CHECK[@]}" truth "$CLI" "$DB" "$T/truth.json" 2>&1)"

# the event log holds every event once: replayed into a new store, the same
segs=("$DB"/events/*.bsl)
"$CLI" --db "$T/relog.db" ingest log "${segs[@]}" >"$T/relog.out" 2>&1
rc=$?
check_eq "ingest log of the live segments: exit 0" "$rc" 0
check_eq "the live segments replay to $NE events" "$(field "$T/relog.db" events)" "$NE"
check_empty "the replayed event log aggregates = the live store" \
	"$("${CHECK[@]}" same "$CLI" "$DB" "$T/relog.db" 2>&1)"

if [ "$HAVE_PCAP" = 1 ]; then
	"$CLI" --db "$T/pcap.db" ingest pcap --port "$P" "$PCAP" >"$T/pcap.out" 2>&1
	rc=$?
	check_eq "ingest pcap of the tcpdump capture: exit 0" "$rc" 0
	check_eq "the capture ingests to $NE events" "$(field "$T/pcap.db" events)" "$NE"
	check_empty "live capture = offline pcap ingest (originators, queries, queriers, per querier)" \
		"$("${CHECK[@]}" same "$CLI" "$DB" "$T/pcap.db" 2>&1)"
fi

# ==== 3: a real resolver =====================================================
if command -v unbound >/dev/null; then
	authd_start res -l 127.0.0.1@0 "${ZARGS[@]}"
	AUTH=${AUTHD_PORT[res]}
	UBQ=127.0.0.53 # unbound's outgoing address: the querier backscope must see
	unbound_start "$AUTH" "$UBQ"
	RES_ADDRS="10.20.0.1 10.20.17.42 10.20.1.5 2001:db8::53"
	for a in $RES_ADDRS; do
		dig @127.0.0.1 -p "$UB_PORT" +time=5 +tries=2 -x "$a" >/dev/null 2>&1 ||
			log "resolver query for $a failed"
	done
	unbound_stop
	authd_stop res
	RDB="$T/res.db"
	got=$("$CLI" --db "$RDB" top --json --window all --limit 0 |
		"$PY" -c 'import json,sys; print(" ".join(sorted(e["address"] for e in json.load(sys.stdin))))')
	want=$(tr ' ' '\n' <<<"$RES_ADDRS" | sort | paste -sd ' ')
	check_eq "through unbound: the originators are exactly the addresses looked up" "$got" "$want"
	got=$("$CLI" --db "$RDB" originator 10.20.0.1 --json --window all |
		"$PY" -c 'import json,sys; d=json.load(sys.stdin); print(" ".join("%s:%d" % (q["address"], q["queries"]) for q in d["querier_list"]))')
	check_eq "through unbound: the querier is unbound's address, once" "$got" "$UBQ:1"
	partial=$(field "$RDB" partial)
	if [ -n "$partial" ] && [ "$partial" -ge 1 ]; then
		ok "unbound's QNAME-minimisation probes counted as partial names ($partial)"
	else
		not_ok "QNAME-minimisation probes counted as partial" "partial=$partial" \
			"$(grep -c . "$UB_DIR/unbound.log") lines of unbound log"
	fi
	check_eq "status: originators = 4 (no probe became one)" "$(field "$RDB" originators)" 4
else
	skip_tool unbound "queries through a real resolver"
fi

# ==== 4: SIGHUP records the new TTLs =========================================
cp "$ZONES_DIR/$ZONE4.zone" "$T/z4.zone"
chmod 644 "$T/z4.zone"
authd_start hup -l 127.0.0.1@0 -z "$ZONE4=$T/z4.zone"
check_eq "meta ptr_ttl at start-up: the zone's PTR TTL" "$(field "$T/hup.db" ptr_ttl)" 3600
sed -i 's/^\$TTL 3600/$TTL 7200/' "$T/z4.zone"
kill -HUP "${AUTHD_PID[hup]}"
_ttl_is() { [ "$(field "$T/hup.db" ptr_ttl)" = "$1" ]; }
if poll 100 0.1 _ttl_is 7200; then
	ok "after SIGHUP meta ptr_ttl follows the new zone (7200)"
else
	not_ok "SIGHUP updates ptr_ttl" "ptr_ttl=$(field "$T/hup.db" ptr_ttl)" "$(tail -n 5 "${AUTHD_LOG[hup]}")"
fi
authd_stop hup

# ==== 5: kill -9 under load ==================================================
authd_start crash -w 2 -l 127.0.0.1@0 "${ZARGS[@]}"
CDB="$T/crash.db"
"${LOAD[@]}" load --port "${AUTHD_PORT[crash]}" --sources 300 --seed 5 \
	--out "$T/crash.load" --ready "$T/crash.started" &
LPID=$!
track "$LPID"
poll 100 0.1 test -s "$T/crash.started" || die "load generator did not start"
# two flushes under load: read what the store holds, then kill at once
poll 100 0.1 events_at_least "$CDB" 1 || die "no flush within 10 s under load"
e0=$(field "$CDB" events)
poll 100 0.1 events_at_least "$CDB" $((e0 + 1)) || die "no second flush within 10 s"
E1=$(field "$CDB" events)
kill -KILL "${AUTHD_PID[crash]}"
wait "${AUTHD_PID[crash]}" 2>/dev/null
untrack "${AUTHD_PID[crash]}"
kill -TERM "$LPID"
wait "$LPID"
untrack "$LPID"
SENT=$(awk '{ print $2 }' "$T/crash.load")
log "kill -9 with $E1 events flushed; $SENT queries sent"
authd_start crash2 -w 2 -l 127.0.0.1@0 "${ZARGS[@]}" --db "$CDB"
E2=$(field "$CDB" events)
if [ -n "$E2" ] && [ "$E2" -ge "$E1" ] && [ "$E2" -le "$SENT" ]; then
	ok "after kill -9 the store opens (restart, status): $E1 <= $E2 events <= $SENT sent"
else
	not_ok "the store after kill -9" "events '$E2', flushed before the kill $E1, sent $SENT"
fi
kdig +retry=0 +time=3 -b 127.3.0.1 @127.0.0.1 -p "${AUTHD_PORT[crash2]}" -x 10.20.0.1 >/dev/null 2>&1
authd_stop crash2
check_eq "the restarted server adds to the same store" "$(field "$CDB" events)" "$((E2 + 1))"
# the killed run's last segment ends without a footer (maybe inside a record)
"$CLI" --db "$T/crashlog.db" ingest log "$CDB"/events/*.bsl >"$T/crashlog.out" 2>&1
rc=$?
check_eq "ingest log after the crash: the unfinished segment is read with a warning, exit 0" "$rc" 0
ce=$(field "$T/crashlog.db" events)
if [ -n "$ce" ] && [ "$ce" -gt 0 ]; then
	ok "the crashed run's event log keeps its events ($ce)"
else
	not_ok "crashed run's event log" "events '$ce'" "$(cat "$T/crashlog.out")"
fi

# ==== 6: SIGTERM under load loses nothing ====================================
authd_start term -w 2 -l 127.0.0.1@0 "${ZARGS[@]}"
TDB="$T/term.db"
"${LOAD[@]}" load --port "${AUTHD_PORT[term]}" --sources 300 --seed 6 \
	--out "$T/term.load" --ready "$T/term.started" &
LPID=$!
track "$LPID"
poll 100 0.1 test -s "$T/term.started" || die "load generator did not start"
poll 100 0.1 events_at_least "$TDB" 1 || die "no flush within 10 s under load"
authd_stop term # SIGTERM while the load runs
kill -TERM "$LPID"
wait "$LPID"
untrack "$LPID"
EV=$(final_stat term events)
RP=$(final_stat term replies)
DR=$(final_stat term dropped)
check_eq "SIGTERM under load: events stored = events counted" "$(field "$TDB" events)" "$EV"
check_eq "SIGTERM under load: events = replies + answers refused by the kernel" "$EV" "$((RP + DR))"
check_eq "SIGTERM under load: nothing dropped" "$(field "$TDB" dropped)" 0
log "SIGTERM under load: $EV events, $RP replies, $(cat "$T/term.load")"

# ==== 7: bounded memory ======================================================
CAPMB=8
cat >"$T/mem.conf" <<CONF
[capture]
memory_cap = ${CAPMB}M
flush_interval = 1h
ring_size = 65536
event_log = no
CONF
authd_start mem -c "$T/mem.conf" -w 1 -l 127.0.0.1@0 "${ZARGS[@]}"
MPID=${AUTHD_PID[mem]}
BASE=$(vmrss "$MPID")
BASE_ANON=$(rssanon "$MPID")
NF=500000
"${LOAD[@]}" flood --port "${AUTHD_PORT[mem]}" --n $NF --sources 64 --seed 7 >"$T/flood.out" 2>&1 &
FPID=$!
track "$FPID"
PEAK=$BASE
PEAK_ANON=$BASE_ANON
_sample() {
	local r
	r=$(vmrss "$MPID")
	[ -n "$r" ] && [ "$r" -gt "$PEAK" ] && PEAK=$r
	r=$(rssanon "$MPID")
	[ -n "$r" ] && [ "$r" -gt "$PEAK_ANON" ] && PEAK_ANON=$r
}
while kill -0 "$FPID" 2>/dev/null; do
	_sample
	sleep 0.2
done
wait "$FPID"
untrack "$FPID"
_sample
authd_stop mem
MDB="$T/mem.db"
FEV=$(final_stat mem events)
STORE_MB=$(($(stat -c %s "$MDB/data.mdb") / 1048576))
log "flood: $(cat "$T/flood.out"); server events $FEV; store $STORE_MB MiB on disk"
log "flood: RSS $BASE KiB at start, peak $PEAK KiB; anonymous $BASE_ANON KiB at start, peak $PEAK_ANON KiB"
check_eq "flood: every event stored (events = counted)" "$(field "$MDB" events)" "$FEV"
check_eq "flood: one originator per query (distinct names)" "$(field "$MDB" originator_rows)" \
	"$(field "$MDB" ptr)"
fl=$(field "$MDB" flushes)
if [ -n "$fl" ] && [ "$fl" -ge 3 ]; then
	ok "flood: the memory cap forced early flushes ($fl; flush_interval is 1h)"
else
	not_ok "early flushes at the cap" "flushes '$fl'"
fi
# What may come on top of the cap (authd/README.md, "Memory"): the rings
# (2 x 65536 x 96 B = 12 MiB, touched as they fill); LMDB's write
# transaction, whose dirty pages are heap memory until the commit (at most
# the pages of the store it rewrites, and LMDB spills beyond 512 MiB); pages
# of the store read through the map (page cache, counted in VmRSS, at most
# the file); 32 MiB for malloc slack and a flush's sort arrays.  Sanitizer
# builds keep freed memory in quarantine and shadow it: 320 MiB more there.
SLACK=32
if grep -aq __asan_init "$BSC_AUTHD" 2>/dev/null; then
	SLACK=$((SLACK + 320))
fi
TSAN=0
grep -aq __tsan_init "$BSC_AUTHD" 2>/dev/null && TSAN=1
TXN_MB=$((STORE_MB < 512 ? STORE_MB : 512))
ANON_LIMIT=$((CAPMB + 12 + TXN_MB + SLACK))
RSS_LIMIT=$((ANON_LIMIT + STORE_MB))
GROW_ANON=$(((PEAK_ANON - BASE_ANON) / 1024))
GROW=$(((PEAK - BASE) / 1024))
if [ "$TSAN" = 1 ]; then
	log "SKIP memory bounds: ThreadSanitizer shadows every byte several times over"
elif [ "$GROW_ANON" -le "$ANON_LIMIT" ]; then
	ok "flood of $NF distinct names: heap grew $GROW_ANON MiB <= cap $CAPMB + rings 12 + LMDB txn $TXN_MB + slack $SLACK MiB"
else
	not_ok "bounded heap under a flood" "grew $GROW_ANON MiB, limit $ANON_LIMIT MiB"
fi
if [ "$TSAN" = 1 ]; then
	:
elif [ "$GROW" -le "$RSS_LIMIT" ]; then
	ok "flood: VmRSS grew $GROW MiB <= $RSS_LIMIT MiB (the heap limit + the store's mapped pages)"
else
	not_ok "bounded VmRSS under a flood" "grew $GROW MiB, limit $RSS_LIMIT MiB (base $BASE KiB, peak $PEAK KiB)"
fi

# ==== 8: -n and start-up refuse bucket lengths the store does not have =======
out=$("$BSC_AUTHD" -n "${ZARGS[@]}" --db "$DB" 2>&1)
rc=$?
check_eq "-n with the exact run's store: exit 0" "$rc" 0
grep -q "capture: store $DB (schema 1, bucket 3600 s, bin 600 s)" <<<"$out" &&
	ok "-n reports the store and its bucket length" ||
	not_ok "-n reports the store" "output" "$out"
printf '[capture]\nbucket = 30m\n' >"$T/b30.conf"
out=$("$BSC_AUTHD" -n -c "$T/b30.conf" "${ZARGS[@]}" --db "$DB" 2>&1)
rc=$?
check_eq "-n with bucket = 30m on a 1h store: exit 1" "$rc" 1
grep -q "$DB" <<<"$out" && grep -Eq "3600|1800" <<<"$out" &&
	ok "-n names the store and the lengths" || not_ok "-n bucket message" "output" "$out"
out=$(timeout 20 "$BSC_AUTHD" -c "$T/b30.conf" -l 127.0.0.1@0 "${ZARGS[@]}" --db "$DB" 2>&1)
rc=$?
check_eq "start-up with bucket = 30m on a 1h store: exit 1" "$rc" 1
grep -q "capture store not opened" <<<"$out" && ok "start-up says why" ||
	not_ok "start-up bucket message" "output" "$out"
out=$("$BSC_AUTHD" -n "${ZARGS[@]}" --db "$T/none.db" 2>&1)
check_eq "-n with a new store folder: exit 0, nothing created" "$?:$([ -e "$T/none.db" ] && echo made)" "0:"

# capture off: answers as always, counts events, creates no store
printf '[capture]\nenabled = no\n' >"$T/off.conf"
authd_start off -c "$T/off.conf" -l 127.0.0.1@0 "${ZARGS[@]}"
kdig +retry=0 +time=3 @127.0.0.1 -p "${AUTHD_PORT[off]}" -x 10.20.0.1 >"$T/off.out" 2>&1
grep -q "gw.example.net" "$T/off.out" && ok "capture off: answers" || not_ok "capture off: answers" "$(cat "$T/off.out")"
authd_stop off
check_eq "capture off: the event counted, no store folder made" \
	"$(final_stat off events):$([ -e "$T/off.db" ] && echo made)" "1:"

# ==== 9: --user: the store belongs to the run user ===========================
if [ "$IS_ROOT" = 1 ] && id nobody >/dev/null 2>&1; then
	chmod 711 "$T"
	mkdir -m 755 "$T/u"
	authd_start user --user nobody -l 127.0.0.1@0 "${ZARGS[@]}" --db "$T/u/db"
	for i in 1 2 3; do
		kdig +retry=0 +time=3 -b 127.4.0.$i @127.0.0.1 -p "${AUTHD_PORT[user]}" -x 10.20.0.$i \
			>/dev/null 2>&1
	done
	authd_stop user
	owners=$(stat -c %U "$T/u/db" "$T/u/db/data.mdb" "$T/u/db/lock.mdb" "$T/u/db/events" \
		"$T/u/db"/events/*.bsl | sort -u | paste -sd ' ')
	check_eq "--user nobody: store folder, LMDB files, event log owned by nobody" "$owners" nobody
	check_eq "--user nobody: the 3 queries stored" "$(field "$T/u/db" events)" 3
else
	log "SKIP --user: needs root and a user nobody"
fi

finish

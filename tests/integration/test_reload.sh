#!/bin/bash
# test_reload.sh — SIGHUP reloads zones without losing a query: dnsperf sends
# a steady UDP load and a client keeps one TCP connection busy while the zone
# file changes (a new PTR appears, the serial is bumped) and SIGHUP is sent
# three times.  Passes when dnsperf reports "Queries lost: 0", every TCP query
# was answered, and each change is visible once the reload is done.
source "$(dirname "$0")/lib.sh"
need dig dnsperf stdbuf

zone="$T/reload.zone"
cp "$ZONES_DIR/$ZONE4.zone" "$zone"
authd_start authd -l 127.0.0.1@0 -w 2 -z "$ZONE4=$zone"
PORT=${AUTHD_PORT[authd]}
pid=${AUTHD_PID[authd]}

# The query mix: hits, NXDOMAIN, NODATA, referrals, and the names that appear.
{
	for i in $(seq 1 254); do
		echo "$i.1.$ZONE4 PTR"
		echo "$i.17.$ZONE4 PTR"
	done
	for i in $(seq 1 60); do
		echo "$i.6.$ZONE4 PTR"
		echo "$i.0.$ZONE4 TXT"
		echo "$i.5.$ZONE4 PTR"
	done
	echo "$ZONE4 SOA"
} >"$T/queries.txt"

stdbuf -oL dnsperf -s 127.0.0.1 -p "$PORT" -d "$T/queries.txt" -l 12 -Q 1000 -c 4 -t 3 \
	>"$T/dnsperf.out" 2>&1 &
perf_pid=$!
track "$perf_pid"
_perf_sending() { grep -q "Sending queries" "$T/dnsperf.out" || ! kill -0 "$perf_pid" 2>/dev/null; }
poll 100 0.1 _perf_sending || die "dnsperf did not start sending"
kill -0 "$perf_pid" 2>/dev/null || die "dnsperf exited early: $(cat "$T/dnsperf.out")"

# One TCP connection, queries back to back until the stop file appears.
"$PY" - "$PORT" "$T/tcp.stop" "$T/tcp.ready" >"$T/tcp.out" 2>&1 <<'PYEOF' &
import os, struct, sys, time, dnswire
port, stop, ready = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = dnswire.tcp_connect("127.0.0.1", port, timeout=5)
sent = answered = bad = 0
while not os.path.exists(stop):
    qid = sent & 0xFFFF
    w = dnswire.build_query("%d.2.20.10.in-addr.arpa" % (sent % 254 + 1), "PTR", qid=qid)
    s.sendall(struct.pack("!H", len(w)) + w)
    sent += 1
    try:
        m = dnswire.tcp_read_msg(s)
    except OSError as e:
        print("error after %d queries: %s" % (sent, e))
        break
    if m is None:
        print("connection closed after %d queries" % sent)
        break
    r = dnswire.parse(m)
    if r["id"] == qid and r["rcode"] == "NOERROR" and r["answer"]:
        answered += 1
    else:
        bad += 1
    if sent == 10:
        open(ready, "w").close()
    time.sleep(0.002)  # a steady stream, not a CPU hog
print("tcp sent=%d answered=%d bad=%d" % (sent, answered, bad))
PYEOF
tcp_pid=$!
track "$tcp_pid"
_tcp_ready() { [ -e "$T/tcp.ready" ] || ! kill -0 "$tcp_pid" 2>/dev/null; }
poll 100 0.1 _tcp_ready || die "TCP client did not start"

# _visible N: the PTR added in round N is served
_visible() {
	[ "$(dig @127.0.0.1 -p "$PORT" +short +time=1 +tries=1 -x "10.20.6.$1")" = \
		"reloaded-$1.example.net." ]
}
serial=2026110101
for round in 1 2 3; do
	new=$((serial + round))
	sed -i "s/^\\([[:space:]]*\\)$((new - 1)) ; serial/\\1$new ; serial/" "$zone"
	echo "$round.6 PTR reloaded-$round.example.net." >>"$zone"
	kill -HUP "$pid"
	if poll 100 0.1 _visible "$round"; then
		ok "reload $round: the new PTR 10.20.6.$round is served"
	else
		not_ok "reload $round: the new PTR 10.20.6.$round is served" "not visible after 10 s" \
			"$(tail -n 5 "${AUTHD_LOG[authd]}")"
	fi
	dq "$ZONE4" SOA
	expect "reload $round: serial $new" status NOERROR answer " SOA ns1\.example\.net\. hostmaster\.example\.net\. $new "
	if kill -0 "$perf_pid" 2>/dev/null; then
		ok "reload $round happened while dnsperf was sending"
	else
		not_ok "reload $round happened while dnsperf was sending" "dnsperf had already finished"
	fi
done

touch "$T/tcp.stop"
wait "$tcp_pid"
untrack "$tcp_pid"
OUT=$(cat "$T/tcp.out")
expect "TCP client: every query answered across the reloads" grep "^tcp sent=([0-9]+) answered=\1 bad=0$"
rc=0
wait "$perf_pid" || rc=$?
untrack "$perf_pid"
OUT=$(cat "$T/dnsperf.out")
log "$(grep -E 'Queries (sent|completed|lost)' <<<"$OUT" | tr -s ' ' | paste -sd ';')"
expect "dnsperf: Queries lost: 0 across three reloads (exit $rc)" grep "Queries lost:[[:space:]]+0 " \
	grep "Queries completed:[[:space:]]+[1-9]"
OUT=$(cat "${AUTHD_LOG[authd]}")
expect "the log reports each reload" grep "serial $((serial + 3))"
authd_stop authd
finish

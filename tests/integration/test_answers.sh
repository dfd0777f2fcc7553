#!/bin/bash
# test_answers.sh — every answer rule of backscope-authd, checked with dig and
# kdig over the sample zones: hits, negative answers, wildcards, RFC 2317,
# referrals, DS, REFUSED/NOTIMP/FORMERR, header bits, EDNS (payload, BADVERS,
# NSID, DO), truncation and TCP, 0x20 case, ANY, CHAOS, IPv6, TCP pipelining
# and the TCP idle timeout.
source "$(dirname "$0")/lib.sh"
need dig kdig

conf="$T/answers.conf"
cat >"$conf" <<CONF
[server]
listen = 127.0.0.1@0 ::1@0
nsid = backscope-test
version = backscope-test-version
identity = backscope-test-id
tcp_idle_timeout = 2s
[zone]
origin = $ZONE4
file = $ZONES_DIR/$ZONE4.zone
[zone]
origin = $ZONE6
file = $ZONES_DIR/$ZONE6.zone
CONF
authd_start conf -c "$conf"
authd_start plain -l 127.0.0.1@0 -z "$ZONE4=$ZONES_DIR/$ZONE4.zone" \
	-z "$ZONE6=$ZONES_DIR/$ZONE6.zone"
PORT=${AUTHD_PORT[conf]}
PORT6=$(ready_port conf ::1)
PLAIN=${AUTHD_PORT[plain]}
[ -n "$PORT6" ] || die "no ::1 listener in ready line: $(cat "${AUTHD_READY[conf]}")"

R4='\.20\.10\.in-addr\.arpa\.'
SOA4="^20\.10\.in-addr\.arpa\. 900 IN SOA ns1\.example\.net\. hostmaster\.example\.net\. "
SOA6="^8\.b\.d\.0\.1\.0\.0\.2\.ip6\.arpa\. 600 IN SOA ns1\.example\.net\. "

log "positive answers"
dq -x 10.20.0.1
expect "PTR hit is authoritative" status NOERROR flags "+qr +aa -tc -ra -rd" \
	answer "^1\.0$R4 3600 IN PTR gw\.example\.net\.$" count "ANSWER 1"
dq -x 10.20.0.25
expect "PTR keeps its own TTL" status NOERROR answer "^25\.0$R4 86400 IN PTR smtp\.example\.net\.$"
dq -x 10.20.0.53
expect "two PTRs at one name" status NOERROR count "ANSWER 2" answer "PTR resolver\.example\.net\." \
	answer "PTR dns\.example\.net\."
dq -x 10.20.3.254
expect "\$GENERATE pool PTR" status NOERROR flags +aa answer "PTR host-10-20-3-254\.pool\.example\.net\.$"
dq -x 10.20.23.1
expect "\$GENERATE pool PTR (DSL)" status NOERROR answer "PTR dsl-10-20-23-1\.pool\.example\.net\.$"
dq -x 10.20.4.100
expect "\$GENERATE with a step" status NOERROR answer "PTR even-10-20-4-100\.pool\.example\.net\.$"
dq -x 2001:db8::1
expect "ip6.arpa nibble PTR" status NOERROR flags +aa answer "PTR gw6\.example\.net\.$"
dq "$ZONE4" SOA
expect "SOA at the apex" status NOERROR flags +aa count "ANSWER 1" \
	answer "^20\.10\.in-addr\.arpa\. 3600 IN SOA ns1\.example\.net\. hostmaster\.example\.net\. 2026110101 7200 900 1209600 900$"
dq "$ZONE4" NS
expect "NS at the apex is an answer" status NOERROR flags +aa count "ANSWER 2" \
	answer "IN NS ns1\.example\.net\.$"
dq 10.0.20.10.in-addr.arpa TXT
expect "other types beside a PTR" status NOERROR flags +aa answer 'TXT "mail relay, building 1"'

log "negative answers"
dq -x 10.20.6.1
expect "NXDOMAIN with SOA, TTL min(SOA TTL, MINIMUM)" status NXDOMAIN flags "+aa -ra" \
	count "ANSWER 0" authority "$SOA4"
dq -x 10.20.1.255
expect "NXDOMAIN in a pool gap" status NXDOMAIN authority "$SOA4"
dq -x 10.20.4.3
expect "NXDOMAIN between \$GENERATE steps" status NXDOMAIN authority "$SOA4"
dq -x 2001:db8:0:1::21
expect "ip6 NXDOMAIN, SOA TTL below MINIMUM" status NXDOMAIN flags +aa authority "$SOA6"
dq 1.0.20.10.in-addr.arpa TXT
expect "NODATA: name exists, type does not" status NOERROR flags +aa count "ANSWER 0" \
	authority "$SOA4"
dq 1.20.10.in-addr.arpa PTR
expect "empty non-terminal is NODATA, not NXDOMAIN" status NOERROR flags +aa \
	count "ANSWER 0" authority "$SOA4"
dq 0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa PTR
expect "ip6 empty non-terminal is NODATA" status NOERROR count "ANSWER 0" authority "$SOA6"

log "wildcard"
dq -x 10.20.9.77
expect "wildcard synthesises the PTR at the query name" status NOERROR flags +aa \
	answer "^77\.9$R4 300 IN PTR dynamic\.pool\.example\.net\.$" count "ANSWER 1"
dq -x 10.20.9.1
expect "explicit name beats the wildcard" status NOERROR answer "^1\.9$R4 3600 IN PTR gw9\.example\.net\.$"
dq 77.9.20.10.in-addr.arpa TXT
expect "wildcard NODATA" status NOERROR count "ANSWER 0" authority "$SOA4"

log "RFC 2317 classless delegation"
dq -x 10.20.7.70
expect "RFC 2317 CNAME followed to the PTR" status NOERROR flags +aa count "ANSWER 2" \
	answer "^70\.7$R4 3600 IN CNAME 70\.64-127\.7$R4$" \
	answer "^70\.64-127\.7$R4 3600 IN PTR host-10-20-7-70\.classless\.example\.net\.$"
dq -x 10.20.7.5
expect "RFC 2317 CNAME into a delegated block: CNAME, then referral" status NOERROR \
	answer "^5\.7$R4 3600 IN CNAME 5\.0-63\.7$R4$" \
	authority "^0-63\.7$R4 3600 IN NS ns1\.customer\.example\.net\.$"
dq -x 10.20.7.110
expect "RFC 2317 CNAME to a missing name: NXDOMAIN with the CNAME" status NXDOMAIN \
	answer "^110\.7$R4 3600 IN CNAME 110\.64-127\.7$R4$" authority "$SOA4"
dq 70.7.20.10.in-addr.arpa CNAME
expect "CNAME query answers the CNAME only" status NOERROR count "ANSWER 1" answer "IN CNAME"

log "delegations"
dq -x 10.20.5.1
expect "referral: AA clear, NS in authority, glue" status NOERROR flags "-aa" count "ANSWER 0" \
	authority "^5$R4 3600 IN NS ns1\.5$R4$" authority "^5$R4 3600 IN NS ns2\.5$R4$" \
	additional "^ns1\.5$R4 3600 IN A 10\.20\.5\.53$" additional "^ns1\.5$R4 3600 IN AAAA 2001:db8:5::53$" \
	additional "^ns2\.5$R4 3600 IN A 10\.20\.5\.54$"
dq 5.20.10.in-addr.arpa NS
expect "NS at the cut is a referral" status NOERROR flags "-aa" count "ANSWER 0" authority "IN NS ns1\.5"
dq 5.20.10.in-addr.arpa DS
expect "DS at the cut is answered by the parent" status NOERROR flags "+aa" count "ANSWER 1" \
	answer "^5$R4 3600 IN DS 47005 13 2 2BB183AF5F22588179A53B0A98631FAD1A292118B8A5A4A3E30123C8 ?F3E1C9D8$"
dq -x 2001:db8:f::1
expect "ip6 referral with AAAA glue" status NOERROR flags "-aa" \
	authority "IN NS ns1\.f\.0\.0\.0\.8\.b\.d\.0\.1\.0\.0\.2\.ip6\.arpa\.$" \
	additional "^ns1\.f\.0\.0\.0\.8\.b\.d\.0\.1\.0\.0\.2\.ip6\.arpa\. 3600 IN AAAA 2001:db8:f::53$"

log "outside our zones, opcodes, malformed questions"
dq example.com A
expect "REFUSED outside our zones" status REFUSED flags "-aa" count "ANSWER 0"
dq -x 127.0.0.1
expect "REFUSED for another reverse zone" status REFUSED
dq 10.in-addr.arpa SOA
expect "REFUSED for the parent of a zone" status REFUSED
dq +opcode=2 -x 10.20.0.1
expect "NOTIMP for opcode STATUS" status NOTIMP
dq +opcode=15 -x 10.20.0.1
expect "NOTIMP for an unassigned opcode" status NOTIMP
out=$("$PY" - "$PORT" <<'PYEOF'
import struct, sys, dnswire
port = int(sys.argv[1])
q = dnswire.encode_name("1.0.20.10.in-addr.arpa") + struct.pack("!HH", 12, 1)
for qd, body in ((0, b""), (2, q + q)):
    wire = struct.pack("!HHHHHH", 0x4242 + qd, 0, qd, 0, 0, 0) + body
    r = dnswire.udp_exchange("127.0.0.1", port, wire)
    print("qdcount=%d %s" % (qd, dnswire.parse(r)["rcode"] if r else "no-reply"))
PYEOF
)
OUT=$out
expect "FORMERR for QDCOUNT 0" grep "^qdcount=0 FORMERR$"
expect "FORMERR for QDCOUNT 2" grep "^qdcount=2 FORMERR$"

log "header bits"
dq +rec -x 10.20.0.1
expect "RD is copied, RA never set" status NOERROR flags "+rd -ra"
dq +norec -x 10.20.0.1
expect "RD clear stays clear" flags "-rd -ra"

log "EDNS"
dq -x 10.20.0.1
expect "OPT present, payload 1232" grep "^; EDNS: version: 0, flags:; udp: 1232$"
dq +noedns -x 10.20.0.1
expect "no OPT without EDNS in the query" status NOERROR nogrep "OPT PSEUDOSECTION"
dq +edns=1 +noednsnegotiation -x 10.20.0.1
expect "BADVERS for EDNS version 1" status BADVERS grep "^; EDNS: version: 0," count "ANSWER 0"
dq +nsid -x 10.20.0.1
expect "NSID when configured" status NOERROR grep '^; NSID: .*\("backscope-test"\)'
PORT=$PLAIN dq +nsid -x 10.20.0.1
expect "no NSID when not configured" status NOERROR nogrep "NSID:"
dq +dnssec -x 10.20.0.1
expect "DO echoed" status NOERROR grep "^; EDNS: version: 0, flags: do; udp: 1232$"
dq +bufsize=512 -x 10.20.0.1
expect "payload below 512 is answered" status NOERROR answer "PTR gw\.example\.net\."
dq +ednsopt=65001:abcd -x 10.20.0.1
expect "unknown EDNS option ignored" status NOERROR answer "PTR gw\.example\.net\."

log "truncation and TCP"
dq +ignore +notcp -x 10.20.0.99
expect "big RRset sets TC over UDP" status NOERROR flags "+tc +aa"
dq +ignore +noedns -x 10.20.0.99
expect "big RRset sets TC over UDP without EDNS" flags "+tc"
dq +ignore +bufsize=4096 -x 10.20.0.99
expect "TC even when the client offers 4096" flags "+tc"
dq +tcp -x 10.20.0.99
expect "full big RRset over TCP" status NOERROR flags "+aa -tc" count "ANSWER 60" \
	answer "PTR vhost-60-with-a-long-label-to-overflow-udp\.sites\.example\.net\.$"
dq -x 10.20.0.99
expect "dig retries over TCP after TC" status NOERROR count "ANSWER 60"
dq +tcp -x 10.20.6.1
expect "NXDOMAIN over TCP" status NXDOMAIN authority "$SOA4"

log "case, ANY, CHAOS"
dq 1.0.20.10.In-AdDr.ArPa PTR
expect "0x20: query case kept in question and answer" status NOERROR \
	grep "^;1\.0\.20\.10\.In-AdDr\.ArPa\.[[:space:]]+IN[[:space:]]+PTR$" \
	answer "^1\.0\.20\.10\.In-AdDr\.ArPa\. 3600 IN PTR gw\.example\.net\.$"
dq 10.0.20.10.in-addr.arpa ANY
expect "ANY answered (RFC 8482)" status NOERROR flags +aa nogrep "ANSWER: 0,"
dq version.bind CH TXT
expect "CH TXT version.bind when configured" status NOERROR \
	answer '^version\.bind\. [0-9]+ CH TXT "backscope-test-version"$'
dq id.server CH TXT
expect "CH TXT id.server when configured" status NOERROR answer 'CH TXT "backscope-test-id"$'
PORT=$PLAIN dq version.bind CH TXT
expect "CH TXT version.bind answers the built-in version by default" status NOERROR \
	answer '^version\.bind\. [0-9]+ CH TXT "backscope '
PORT=$PLAIN dq id.server CH TXT
expect "CH TXT id.server REFUSED by default" status REFUSED count "ANSWER 0"
PORT=$PLAIN dq hostname.bind CH TXT
expect "CH TXT hostname.bind REFUSED by default" status REFUSED

log "listeners"
DQ_ADDR=::1 PORT=$PORT6 dq -x 10.20.0.1
expect "IPv6 listener on ::1" status NOERROR answer "PTR gw\.example\.net\."
DQ_ADDR=::1 PORT=$PORT6 dq +tcp -x 2001:db8::53
expect "IPv6 listener on ::1 over TCP" status NOERROR answer "PTR ns1\.example\.net\."
OUT=$(kdig -d @127.0.0.1 -p "$PORT" +tcp +keepopen +noall +header +answer -x 10.20.0.1 \
	-x 10.20.6.1 -x 10.20.0.2 2>&1)
expect "kdig +keepopen: three queries on one TCP connection" \
	grep "PTR[[:space:]]+gw\.example\.net\." grep "PTR[[:space:]]+ns1\.example\.net\." \
	grep "status: NXDOMAIN" grep "owner\(2\.0\.20\.10\.in-addr\.arpa\.\).*reused connection"
OUT=$("$PY" - "$PORT" <<'PYEOF' 2>&1
import struct, sys, dnswire
port = int(sys.argv[1])
names = ["%d.0.20.10.in-addr.arpa" % i for i in (1, 2, 3, 10, 25)] + ["1.6.20.10.in-addr.arpa"]
wires = [dnswire.build_query(n, "PTR", qid=0x1000 + i) for i, n in enumerate(names)]
s = dnswire.tcp_connect("127.0.0.1", port)
s.sendall(b"".join(struct.pack("!H", len(w)) + w for w in wires))  # one write, six queries
got = {}
for _ in wires:
    m = dnswire.tcp_read_msg(s)
    if m is None:
        break
    r = dnswire.parse(m)
    got[r["id"]] = r
s.close()
for i, n in enumerate(names):
    r = got.get(0x1000 + i)
    ok = r is not None and r["question"][0][0].rstrip(".") == n
    print("%s %s %s" % (n, "answered" if ok else "MISSING", r["rcode"] if r else "-"))
PYEOF
)
expect "TCP pipelining: six queries in one segment, six answers" nogrep "MISSING|Traceback" \
	grep "^1\.6\.20\.10\.in-addr\.arpa answered NXDOMAIN$" grep "^25\.0\.20\.10\.in-addr\.arpa answered NOERROR$"
OUT=$("$PY" - "$PORT" <<'PYEOF' 2>&1
import struct, sys, time, dnswire
port = int(sys.argv[1])
s = dnswire.tcp_connect("127.0.0.1", port, timeout=120)
w = dnswire.build_query("1.0.20.10.in-addr.arpa", "PTR")
s.sendall(struct.pack("!H", len(w)) + w)
r = dnswire.tcp_read_msg(s)
t0 = time.monotonic()
print("answered" if r else "no answer")
try:
    closed = s.recv(1) == b""
except OSError as e:
    closed = "error %s" % e
print("closed=%s after %.1f s" % (closed, time.monotonic() - t0))
PYEOF
)
idle=$(printf '%s\n' "$OUT" | sed -n 's/^closed=True after \([0-9.]*\) s$/\1/p')
if [ -n "$idle" ] && awk -v t="$idle" 'BEGIN { exit !(t >= 1.0 && t <= 100.0) }'; then
	ok "TCP idle connection closed after tcp_idle_timeout (2 s; took $idle s)"
else
	not_ok "TCP idle connection closed after tcp_idle_timeout" "want a close no earlier than about the timeout, and a close at all" "$OUT"
fi

for name in conf plain; do
	authd_alive "$name" || not_ok "$name still running" "it exited"
	authd_stop "$name"
done
finish

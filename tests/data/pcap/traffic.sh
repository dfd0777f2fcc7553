# tests/data/pcap/traffic.sh — sourced by tests/data/pcap/make.sh and
# tests/data/dnstap/make.sh: a Knot DNS on a loopback run-time port serving two
# small reverse zones, and a fixed set of queries sent to it with kdig (and
# rawq.py for what kdig cannot send), each from its own source address and
# port, with one ground-truth line per query after a first line
# "# server 127.0.0.1 ::1 port PORT":
#
#   QUERIER PORT udp|tcp QTYPE QNAME FLAGS RCODE NOTE
#
# FLAGS: "-" or a comma list of rd, edns, do, ecs=PREFIX; RCODE: the rcode of
# the reply the client got ("-": none); NOTE: "-", pipelined, prefix-apart,
# split (one message over two TCP segments), formerr, noquestion (QDCOUNT 0).

# a base for traffic_send's source ports, below the ephemeral range (32768-)
port_base() {
	echo $((10000 + (RANDOM % 220) * 100))
}

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# traffic_start_knot DIR PORT [DNSTAP_FILE]
traffic_start_knot() {
	local dir=$1 port=$2 tap=${3:-}
	mkdir -p "$dir/db"
	cat >"$dir/20.10.in-addr.arpa.zone" <<'ZONE'
$ORIGIN 20.10.in-addr.arpa.
$TTL 3600
@    IN SOA ns1.example.net. hostmaster.example.net. 1 7200 900 1209600 900
@    IN NS  ns1.example.net.
1.0  IN PTR gw.example.net.
2.0  IN PTR ns1.example.net.
3.0  IN PTR ns2.example.net.
10.0 IN PTR mail.example.net.
53.0 IN PTR resolver.example.net.
1.1  IN PTR host-1.pool.example.net.
2.1  IN PTR host-2.pool.example.net.
3.1  IN PTR host-3.pool.example.net.
4.1  IN PTR host-4.pool.example.net.
5.1  IN PTR host-5.pool.example.net.
6.1  IN PTR host-6.pool.example.net.
7.1  IN PTR host-7.pool.example.net.
8.1  IN PTR host-8.pool.example.net.
9.1  IN PTR host-9.pool.example.net.
ZONE
	cat >"$dir/8.b.d.0.1.0.0.2.ip6.arpa.zone" <<'ZONE'
$ORIGIN 8.b.d.0.1.0.0.2.ip6.arpa.
$TTL 3600
@ IN SOA ns1.example.net. hostmaster.example.net. 1 7200 900 1209600 600
@ IN NS  ns1.example.net.
1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0 IN PTR gw6.example.net.
2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0 IN PTR ns6.example.net.
3.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0 IN PTR mail6.example.net.
ZONE
	local tapconf="" tapref=""
	if [ -n "$tap" ]; then
		tapconf="mod-dnstap:
  - id: tap
    sink: \"$tap\"
    identity: \"knot-test\"
    log-queries: on
    log-responses: on"
		tapref="    global-module: mod-dnstap/tap"
	fi
	cat >"$dir/knot.conf" <<CONF
server:
    rundir: "$dir"
    pidfile: "$dir/knot.pid"
    listen: [ 127.0.0.1@$port, ::1@$port ]
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
control:
    listen: "$dir/knot.sock"
database:
    storage: "$dir/db"
log:
  - target: "$dir/knotd.log"
    any: info
$tapconf
template:
  - id: default
    storage: "$dir"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
$tapref
zone:
  - domain: 20.10.in-addr.arpa
    file: 20.10.in-addr.arpa.zone
  - domain: 8.b.d.0.1.0.0.2.ip6.arpa
    file: 8.b.d.0.1.0.0.2.ip6.arpa.zone
CONF
	knotd -c "$dir/knot.conf" >"$dir/knotd.stdout" 2>&1 &
	echo $! >"$dir/knotd.launch.pid"
	local i
	for i in $(seq 1 100); do
		# probe from a source outside the test traffic (127.0.0.99)
		if kdig +time=1 +retry=0 +short -b 127.0.0.99 @127.0.0.1 -p "$port" \
			20.10.in-addr.arpa SOA 2>/dev/null | grep -q hostmaster; then
			return 0
		fi
		sleep 0.1
	done
	echo "knotd did not become ready on port $port" >&2
	return 1
}

traffic_stop_knot() {
	local dir=$1 pid i
	pid=$(cat "$dir/knotd.launch.pid")
	kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
	kill -KILL "$pid" 2>/dev/null || true
}

rcode_num() {
	case "$1" in
	NOERROR) echo 0;; FORMERR) echo 1;; SERVFAIL) echo 2;; NXDOMAIN) echo 3;;
	NOTIMP) echo 4;; REFUSED) echo 5;; NOTAUTH) echo 9;; BADVERS) echo 16;;
	*) echo -;;
	esac
}

# one kdig query: q SERVER PORT SRC SPORT PROTO QTYPE QTYPE_NUM QNAME FLAGS -- KDIG_OPTS...
q() {
	local server=$1 port=$2 src=$3 sport=$4 proto=$5 qtype=$6 qnum=$7 name=$8 flags=$9
	shift 9
	local out st
	out=$(kdig +time=3 +retry=0 -b "$src#$sport" @"$server" -p "$port" "$@" "$name" "$qtype" 2>&1)
	st=$(printf '%s\n' "$out" | sed -n 's/.*status: \([A-Z]*\).*/\1/p' | head -1)
	echo "$src $sport $proto $qnum $(printf '%s' "$name" | tr 'A-Z' 'a-z') $flags $(rcode_num "$st") -"
}

# a reverse name in 2001:db8::/32 is NIBBLE.$V6_SUFFIX (2001:db8::NIBBLE)
V6_SUFFIX=0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.

# traffic_send PORT TRUTH_FILE BASE: source ports BASE .. BASE+406 (a fresh
# range per run: kdig cannot reuse a port left in TIME_WAIT by the last run);
# about 110 queries
traffic_send() {
	local port=$1 truth=$2 base=$3 i src sport a name
	echo "# server 127.0.0.1 ::1 port $port" >"$truth"
	for i in $(seq 0 79); do
		src=127.0.0.$((2 + i % 8))
		sport=$((base + i))
		a=$((i % 3)).$(((i * 7) % 40))
		name=$(echo "$a" | awk -F. '{print $2"."$1".20.10.in-addr.arpa."}')
		local qt=PTR qn=12
		if [ $((i % 10)) = 9 ]; then qt=TXT; qn=16; fi
		case $((i % 8)) in
		0) q 127.0.0.1 "$port" "$src" "$sport" udp $qt $qn "$name" rd;;
		1) q 127.0.0.1 "$port" "$src" "$sport" udp $qt $qn "$name" - +norec;;
		2) q 127.0.0.1 "$port" "$src" "$sport" udp $qt $qn "$name" rd,edns +edns;;
		3) q 127.0.0.1 "$port" "$src" "$sport" udp $qt $qn "$name" rd,edns,do +dnssec;;
		4) q 127.0.0.1 "$port" "$src" "$sport" udp $qt $qn "$name" rd,edns,ecs=192.0.2.0/24 \
			+subnet=192.0.2.0/24;;
		5) q 127.0.0.1 "$port" "$src" "$sport" tcp $qt $qn "$name" rd +tcp;;
		6) q 127.0.0.1 "$port" "$src" "$sport" tcp $qt $qn "$name" rd,edns,do +tcp +dnssec;;
		7) q 127.0.0.1 "$port" "$src" "$sport" udp $qt $qn "$name" edns,ecs=2001:db8:1::/48 \
			+norec +subnet=2001:db8:1::/48;;
		esac
	done >>"$truth"
	for i in $(seq 0 11); do
		sport=$((base + 200 + i))
		name=$(printf '%x.%s' $((i % 5)) "$V6_SUFFIX")
		if [ $((i % 2)) = 0 ]; then
			q ::1 "$port" ::1 "$sport" udp PTR 12 "$name" rd
		else
			q ::1 "$port" ::1 "$sport" tcp PTR 12 "$name" rd,edns,do +tcp +dnssec
		fi
	done >>"$truth"
	{
		q 127.0.0.1 "$port" 127.0.0.10 $((base + 300)) udp SOA 6 20.10.in-addr.arpa. rd
		q 127.0.0.1 "$port" 127.0.0.10 $((base + 301)) udp NS 2 1.20.10.in-addr.arpa. -  +norec
		q ::1 "$port" ::1 $((base + 302)) udp NS 2 8.b.d.0.1.0.0.2.ip6.arpa. rd
		q 127.0.0.1 "$port" 127.0.0.11 $((base + 303)) udp A 1 www.example.com. rd
		q 127.0.0.1 "$port" 127.0.0.11 $((base + 304)) udp TXT 16 version.bind. rd -c CH
	} >>"$truth"
	python3 "$(dirname "${BASH_SOURCE[0]}")/rawq.py" "$port" $((base + 400)) >>"$truth"
}

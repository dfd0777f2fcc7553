#!/bin/bash
# test_resolver.sh — a real recursive resolver (unbound, QNAME minimisation on)
# resolves reverse names through backscope-authd: PTR, NXDOMAIN, NODATA, the
# RFC 2317 CNAME chain, the wildcard pool, the TC-then-TCP RRset and ip6.arpa.
#
# Isolation: when "unshare -n" works (root, as in CI) the whole test re-runs
# itself in a new network namespace that has only its own loopback, so
# nothing it does can leave the machine.  Without it, unbound's config fences
# it in: stub zones to backscope-authd for our zones, every other name
# forwarded to a dead loopback port (no root priming, no root hints used),
# outgoing queries only from 127.0.0.1, no trust anchors, no remote control.
BSC_NETNS=1
source "$(dirname "$0")/lib.sh"
need unbound unbound-checkconf dig

if [ "${BSC_IN_NETNS:-0}" = 1 ]; then
	links=$(ip -o link show | awk -F': ' '{print $2}' | paste -sd ' ')
	if [ "$links" = lo ]; then
		ok "isolated: the test's network namespace has only lo"
	else
		not_ok "isolated network namespace" "links: $links"
	fi
else
	log "no network namespace (unshare -n not permitted): unbound is fenced by its config"
fi

authd_start authd -l 127.0.0.1@0 -z "$ZONE4=$ZONES_DIR/$ZONE4.zone" -z "$ZONE6=$ZONES_DIR/$ZONE6.zone"
AUTH=${AUTHD_PORT[authd]}

unbound_start "$AUTH"

PORT=$UB_PORT
# rq ARGS...: a recursive query through unbound
rq() { dq +rec +time=5 "$@"; }
R4='\.20\.10\.in-addr\.arpa\.'

rq -x 10.20.0.1
expect "PTR through the resolver" status NOERROR flags "+ra -aa" answer "^1\.0$R4 [0-9]+ IN PTR gw\.example\.net\.$"
rq -x 10.20.17.42
expect "pool PTR, QNAME minimisation through the empty non-terminal 17.20.10.in-addr.arpa" \
	status NOERROR answer "PTR dsl-10-20-17-42\.pool\.example\.net\.$"
rq -x 10.20.6.1
expect "NXDOMAIN through the resolver" status NXDOMAIN count "ANSWER 0" authority "IN SOA ns1\.example\.net\."
rq -x 10.20.1.255
expect "NXDOMAIN in a pool gap through the resolver" status NXDOMAIN
rq 1.0.20.10.in-addr.arpa TXT
expect "NODATA through the resolver" status NOERROR count "ANSWER 0"
rq -x 10.20.7.70
expect "RFC 2317 CNAME chain through the resolver" status NOERROR count "ANSWER 2" \
	answer "^70\.7$R4 [0-9]+ IN CNAME 70\.64-127\.7$R4$" \
	answer "^70\.64-127\.7$R4 [0-9]+ IN PTR host-10-20-7-70\.classless\.example\.net\.$"
rq -x 10.20.9.200
expect "wildcard pool through the resolver" status NOERROR answer "^200\.9$R4 [0-9]+ IN PTR dynamic\.pool\.example\.net\.$"
rq +tcp -x 10.20.0.99
expect "60-PTR RRset: unbound retries over TCP after TC" status NOERROR count "ANSWER 60"
rq -x 2001:db8::53
expect "ip6.arpa PTR through the resolver" status NOERROR \
	answer "^3\.5\.0\.0\.0\.0\.0\.0\.0\.0\.0\.0\.0\.0\.0\.0\.0\.0\.0\.0\.0\.0\.0\.0\.8\.b\.d\.0\.1\.0\.0\.2\.ip6\.arpa\. [0-9]+ IN PTR ns1\.example\.net\.$"
rq -x 2001:db8:0:1::21
expect "ip6.arpa NXDOMAIN through the resolver" status NXDOMAIN
rq -x 2001:db8:0:2:5054:ff:fe00:1
expect "ip6.arpa SLAAC-style PTR through the resolver" status NOERROR answer "PTR host4\.lan\.v6\.example\.net\.$"
rq -x 10.20.0.1
expect "second lookup served from unbound's cache" status NOERROR answer "PTR gw\.example\.net\.$"

authd_alive authd || die "backscope-authd exited"
unbound_stop
authd_stop authd
finish

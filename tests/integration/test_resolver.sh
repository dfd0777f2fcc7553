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
if [ "${BSC_IN_NETNS:-0}" != 1 ] && [ "${BSC_NO_NETNS:-0}" != 1 ] &&
	unshare -n true 2>/dev/null; then
	exec unshare -n env BSC_IN_NETNS=1 bash "$0" "$@"
fi
source "$(dirname "$0")/lib.sh"
need unbound unbound-checkconf dig

if [ "${BSC_IN_NETNS:-0}" = 1 ]; then
	ip link set lo up || die "cannot bring lo up in the new network namespace"
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

dir="$T/unbound"
mkdir -p "$dir"
RPORT=$(free_port)
DEAD=$(free_port)
cat >"$dir/unbound.conf" <<CONF
server:
    interface: 127.0.0.1@$RPORT
    port: $RPORT
    do-daemonize: no
    username: ""
    chroot: ""
    directory: "$dir"
    pidfile: "$dir/unbound.pid"
    logfile: "$dir/unbound.log"
    use-syslog: no
    verbosity: 1
    num-threads: 1
    access-control: 127.0.0.0/8 allow
    module-config: "iterator"
    qname-minimisation: yes
    harden-referral-path: no
    do-not-query-localhost: no
    outgoing-interface: 127.0.0.1
    do-ip6: no
    prefetch: no
    # our zones are private/documentation space: unbound's built-in local
    # zones would answer them itself
    local-zone: "10.in-addr.arpa." nodefault
    local-zone: "$ZONE6." nodefault
    unblock-lan-zones: yes
    insecure-lan-zones: yes
remote-control:
    control-enable: no
stub-zone:
    name: "$ZONE4."
    stub-addr: 127.0.0.1@$AUTH
stub-zone:
    name: "$ZONE6."
    stub-addr: 127.0.0.1@$AUTH
# everything else goes to a loopback port where nothing listens
forward-zone:
    name: "."
    forward-addr: 127.0.0.1@$DEAD
CONF
unbound-checkconf "$dir/unbound.conf" >/dev/null || die "unbound-checkconf rejects the config"
unbound -d -c "$dir/unbound.conf" >"$dir/stdout.log" 2>&1 &
UB_PID=$!
track "$UB_PID"
AUTHD_LOG[unbound]="$dir/unbound.log"
wait_soa "$UB_PID" "$RPORT" "$ZONE4" || die "unbound did not answer for $ZONE4"
log "unbound ready (pid $UB_PID) on 127.0.0.1@$RPORT, stubs to 127.0.0.1@$AUTH"

PORT=$RPORT
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
kill -TERM "$UB_PID"
wait "$UB_PID" 2>/dev/null
untrack "$UB_PID"
authd_stop authd
finish

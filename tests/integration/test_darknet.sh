#!/bin/bash
# test_darknet.sh — `backscope darknet label` on captures made by real
# scanning tools: two network namespaces joined by a veth pair, the darknet
# 198.18.0.0/24 routed to the receiving one (nobody there answers, no route
# out), tcpdump capturing there; nmap, masscan, zmap and hping3 run in the
# sending one, each from its own source address (the ground truth below).
# A tool that is not installed or does not run is a SKIP line, and a failure
# under CI (CI=true), which installs them all and runs as root; without root
# or network namespaces the whole test is a SKIP.  A sentinel packet marks the
# end of the capture.  Namespaces and files are removed on exit.
source "$(dirname "$0")/lib.sh"

BS="$BSC_BUILD_DIR/tools/backscope"
[ -x "$BS" ] || die "backscope CLI not found at $BS"
# skip_all WHY: the environment cannot run this test at all
skip_all() { log "SKIP: $1"; finish; }
# cannot_run TOOL WHAT WHY: TOOL is installed but did not run.  The set-up
# above worked, so under CI that is a failure; elsewhere a SKIP line.
cannot_run() {
	if [ "${CI:-}" = true ]; then
		not_ok "$2" "$1 did not run: $3"
	else
		log "SKIP $2: $1 cannot run here: $3"
	fi
}

[ "$(id -u)" = 0 ] || skip_all "network namespaces need root"
need tcpdump ip

NSA="bscdk-a-$$"
NSB="bscdk-b-$$"
# lib.sh's clean-up stops tcpdump first; then the namespaces go
trap '_cleanup; ip netns del "$NSA" 2>/dev/null; ip netns del "$NSB" 2>/dev/null' EXIT

ip netns add "$NSA" 2>/dev/null || skip_all "cannot create a network namespace"
ip netns add "$NSB" || skip_all "cannot create a second network namespace"
ip link add "dka$$" type veth peer name "dkb$$" 2>/dev/null || skip_all "no veth pair"
ip link set "dka$$" netns "$NSA"
ip link set "dkb$$" netns "$NSB"
ip -n "$NSA" addr add 10.99.0.1/24 dev "dka$$"
for a in 11 12 13 14; do
	ip -n "$NSA" addr add "10.99.0.$a/32" dev "dka$$"
done
ip -n "$NSB" addr add 10.99.0.2/24 dev "dkb$$"
ip -n "$NSA" link set lo up
ip -n "$NSB" link set lo up
ip -n "$NSA" link set "dka$$" up
ip -n "$NSB" link set "dkb$$" up
ip -n "$NSA" route add 198.18.0.0/24 via 10.99.0.2
MAC=$(ip -n "$NSB" -br link show "dkb$$" | awk '{print $3}')
A() { ip netns exec "$NSA" "$@"; }

PCAP="$T/darknet.pcap"
# the darknet, and 10.99.0.2 for the sentinel below
TCPDUMP_NETNS=$NSB tcpdump_start "$PCAP" 'dst net 198.18.0.0/24 or dst host 10.99.0.2' "dkb$$"

# ground truth: source tool class size (- = none)
TRUTH="$T/truth.txt"
: >"$TRUTH"
have() {
	command -v "$1" >/dev/null && return 0
	skip_tool "$1" "labels of a $1 scan"
	return 1
}

if have nmap; then
	# --send-ip: the kernel resolves the next hop (no ARP of nmap's own)
	if A timeout 120 nmap --send-ip -sS -Pn -n -p 22,80 -e "dka$$" -S 10.99.0.11 --max-retries 0 \
		198.18.0.0/26 >"$T/nmap.log" 2>&1; then
		echo "10.99.0.11 nmap network-scan small" >>"$TRUTH"
	else
		cannot_run nmap "labels of a nmap scan" "$(tail -1 "$T/nmap.log")"
	fi
fi
if have masscan; then
	if A timeout 120 masscan 198.18.0.0/24 -p23 --rate 2000 --adapter "dka$$" \
		--source-ip 10.99.0.12 --router-mac "$MAC" --wait 0 >"$T/masscan.log" 2>&1; then
		echo "10.99.0.12 masscan network-scan large" >>"$TRUTH"
	else
		cannot_run masscan "labels of a masscan scan" "$(tail -1 "$T/masscan.log")"
	fi
fi
if have zmap; then
	if A timeout 120 zmap -p 445 -i "dka$$" -S 10.99.0.13 -G "$MAC" -r 2000 \
		--cooldown-time=0 -b /dev/null -o /dev/null 198.18.0.0/24 >"$T/zmap.log" 2>&1; then
		echo "10.99.0.13 zmap network-scan large" >>"$TRUTH"
	else
		cannot_run zmap "labels of a zmap scan" "$(tail -1 "$T/zmap.log")"
	fi
fi
if have hping3; then
	# fragmented SYNs to one address: the ip-fragment class, no tool
	# (exit status 1: no reply, as in any darknet)
	A timeout 60 hping3 -I "dka$$" -c 20 -i u1000 -f -d 200 -S -p 80 -a 10.99.0.14 \
		198.18.0.7 >"$T/hping3.log" 2>&1
	if grep -q "^HPING" "$T/hping3.log" && grep -q "20 packets transmitted" "$T/hping3.log"
	then
		echo "10.99.0.14 - ip-fragment -" >>"$TRUTH"
	else
		cannot_run hping3 "labels of a hping3 scan" "$(tail -1 "$T/hping3.log")"
	fi
fi
[ -s "$TRUTH" ] || skip_all "no scanning tool could run"

# every sender is done: a last UDP packet (outside the darknet) from
# 10.99.0.1; once it is in the capture, so is everything sent before it.
# Then stop tcpdump (SIGTERM flushes and closes).
A bash -c 'printf x >/dev/udp/10.99.0.2/9' || not_ok sentinel "not sent"
_sentinel() { [ -n "$(tcpdump -n -r "$PCAP" src host 10.99.0.1 2>/dev/null)" ]; }
poll 100 0.1 _sentinel || not_ok "capture complete" "the sentinel never reached the capture"
tcpdump_stop

# Windows are aligned to multiples of their length since the epoch: a run
# across an hour boundary would split a scan in two.  One window of 5000
# weeks (1970 to 2065, a multiple of the store's 1 h buckets) holds it whole.
WIN=5000w
OUT="$T/labels.txt"
JSON="$T/labels.json"
if "$BS" darknet label "$PCAP" --window $WIN --darknet 198.18.0.0/24 >"$OUT" 2>"$T/err.txt"; then
	ok "table exit 0"
else
	not_ok "table exit 0" "$(cat "$T/err.txt")"
fi
cat "$OUT"
"$BS" darknet label --json --window $WIN --darknet 198.18.0.0/24 "$PCAP" >"$JSON" 2>>"$T/err.txt" ||
	not_ok "json exit 0" "$(cat "$T/err.txt")"

while read -r src tool cls size; do
	row=$(awk -v s="$src" '$1 == s' "$OUT")
	if [ -z "$row" ]; then
		not_ok "$src" "no label"
		continue
	fi
	got_cls=$(awk '{print $3}' <<<"$row")
	got_tool=$(awk '{print $9}' <<<"$row")
	got_size=$(awk '{print $4}' <<<"$row")
	[ "$got_size" = "$size" ] && ok "$src size $size" ||
		not_ok "$src size" "want $size, got $got_size"
	[ "$got_cls" = "$cls" ] && ok "$src class $cls" ||
		not_ok "$src class" "want $cls, got $got_cls"
	[ "$got_tool" = "$tool" ] && ok "$src tool $tool" ||
		not_ok "$src tool" "want $tool, got $got_tool"
done <"$TRUTH"

# the JSON has exactly the documented fields
if "$PY" - "$JSON" "$TRUTH" <<'PY'; then ok "json schema"; else not_ok "json schema" "see above"; fi
import json, sys
labels = json.load(open(sys.argv[1]))
want = {"source", "window_start", "class", "size", "protocol", "ports", "packets",
        "destinations", "tool", "service"}
truth = {l.split()[0]: l.split() for l in open(sys.argv[2])}
assert isinstance(labels, list) and labels, "empty"
for o in labels:
    assert set(o) == want, sorted(o)
    assert o["window_start"].endswith("Z")
    assert isinstance(o["ports"], list)
    t = truth.get(o["source"])
    if t:
        assert o["class"] == t[2], (o, t)
        assert o["tool"] == (None if t[1] == "-" else t[1]), (o, t)
        assert o["size"] == (None if t[3] == "-" else t[3]), (o, t)
PY

# --store writes the labels (the codec and walk are unit-tested); a window
# that is not a multiple of the store's bucket length is a usage error
if "$BS" --db "$T/db" darknet label --store --window $WIN --darknet 198.18.0.0/24 "$PCAP" \
	>"$T/store.txt" 2>&1 && [ -f "$T/db/data.mdb" ]; then
	ok "store"
else
	not_ok "store" "$(tail -3 "$T/store.txt")"
fi
"$BS" --db "$T/db" darknet label --store --window 30m "$PCAP" >/dev/null 2>"$T/store.err"
rc=$?
[ $rc = 2 ] && grep -q "multiple of the store's bucket length" "$T/store.err" &&
	ok "store window check" || not_ok "store window check" "rc $rc: $(cat "$T/store.err")"

# the capture through stdin, and a truncated copy: exit 1, file and offset
"$BS" darknet label --window $WIN --darknet 198.18.0.0/24 - <"$PCAP" >"$T/stdin.txt" 2>&1 && cmp -s "$T/stdin.txt" "$OUT" &&
	ok "stdin" || not_ok "stdin" "$(head -3 "$T/stdin.txt")"
size=$(stat -c %s "$PCAP")
head -c $((size - 7)) "$PCAP" >"$T/cut.pcap"
"$BS" darknet label "$T/cut.pcap" >"$T/cut.txt" 2>"$T/cut.err"
rc=$?
if [ $rc = 1 ] && grep -q "cut.pcap: truncated at byte" "$T/cut.err" && [ -s "$T/cut.txt" ]; then
	ok "truncated capture reported, labels kept"
else
	not_ok "truncated capture" "rc $rc: $(cat "$T/cut.err")"
fi
finish

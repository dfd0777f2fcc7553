#!/bin/bash
# test_darknet.sh — `backscope darknet label` on captures made by real
# scanning tools: two network namespaces joined by a veth pair, the darknet
# 198.18.0.0/24 routed to the receiving one (nobody there answers, no route
# out), tcpdump capturing there; nmap, masscan, zmap and hping3 run in the
# sending one, each from its own source address (the ground truth below).
# A tool Debian does not have here, or the sandbox cannot run, is skipped with
# a SKIP line.  Namespaces and files are removed on exit.
set -uo pipefail

: "${BSC_SOURCE_DIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${BSC_BUILD_DIR:=$BSC_SOURCE_DIR/build/dev}"
BS="$BSC_BUILD_DIR/tools/backscope"
NAME=test_darknet
PASS=0
FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok   $1"; }
not_ok() { FAIL=$((FAIL + 1)); echo "FAIL $1: $2"; }
finish() {
	echo "$NAME: $PASS passed, $FAIL failed"
	[ "$FAIL" = 0 ]
	exit
}
skip_all() { echo "$NAME: SKIP: $1"; echo "$NAME: 0 passed, 0 failed"; exit 0; }

[ -x "$BS" ] || { echo "$NAME: no $BS"; exit 1; }
[ "$(id -u)" = 0 ] || skip_all "network namespaces need root"
command -v tcpdump >/dev/null || skip_all "no tcpdump"

T=$(mktemp -d "${TMPDIR:-/tmp}/bsc-$NAME.XXXXXX")
NSA="bscdk-a-$$"
NSB="bscdk-b-$$"
TCPDUMP_PID=
cleanup() {
	[ -n "$TCPDUMP_PID" ] && kill "$TCPDUMP_PID" 2>/dev/null && wait "$TCPDUMP_PID" 2>/dev/null
	ip netns del "$NSA" 2>/dev/null
	ip netns del "$NSB" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

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
ip netns exec "$NSB" tcpdump -i "dkb$$" -n -U -w "$PCAP" 'dst net 198.18.0.0/24' \
	2>"$T/tcpdump.err" &
TCPDUMP_PID=$!
for _ in $(seq 100); do
	grep -q "listening on" "$T/tcpdump.err" 2>/dev/null && break
	sleep 0.1
done
grep -q "listening on" "$T/tcpdump.err" || { not_ok tcpdump "did not start"; finish; }

# ground truth: source tool class size (- = none)
TRUTH="$T/truth.txt"
: >"$TRUTH"
have() {
	command -v "$1" >/dev/null && return 0
	echo "$NAME: SKIP $1: not installed (apt-get install $1)"
	return 1
}

if have nmap; then
	# --send-ip: the kernel resolves the next hop (no ARP of nmap's own)
	if A timeout 120 nmap --send-ip -sS -Pn -n -p 22,80 -e "dka$$" -S 10.99.0.11 --max-retries 0 \
		198.18.0.0/26 >"$T/nmap.log" 2>&1; then
		echo "10.99.0.11 nmap network-scan small" >>"$TRUTH"
	else
		echo "$NAME: SKIP nmap: it cannot run here: $(tail -1 "$T/nmap.log")"
	fi
fi
if have masscan; then
	if A timeout 120 masscan 198.18.0.0/24 -p23 --rate 2000 --adapter "dka$$" \
		--source-ip 10.99.0.12 --router-mac "$MAC" --wait 0 >"$T/masscan.log" 2>&1; then
		echo "10.99.0.12 masscan network-scan large" >>"$TRUTH"
	else
		echo "$NAME: SKIP masscan: it cannot run here: $(tail -1 "$T/masscan.log")"
	fi
fi
if have zmap; then
	if A timeout 120 zmap -p 445 -i "dka$$" -S 10.99.0.13 -G "$MAC" -r 2000 \
		--cooldown-time=0 -b /dev/null -o /dev/null 198.18.0.0/24 >"$T/zmap.log" 2>&1; then
		echo "10.99.0.13 zmap network-scan large" >>"$TRUTH"
	else
		echo "$NAME: SKIP zmap: it cannot run here: $(tail -1 "$T/zmap.log")"
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
		echo "$NAME: SKIP hping3: it cannot run here: $(tail -1 "$T/hping3.log")"
	fi
fi
[ -s "$TRUTH" ] || skip_all "no scanning tool could run"

# every sender is done; poll until the capture holds their last packets (the
# counts stop growing), then stop tcpdump (SIGTERM flushes and closes)
prev=-1
for _ in $(seq 50); do
	n=$(stat -c %s "$PCAP" 2>/dev/null || echo 0)
	[ "$n" = "$prev" ] && break
	prev=$n
	sleep 0.2
done
kill "$TCPDUMP_PID"
wait "$TCPDUMP_PID" 2>/dev/null
TCPDUMP_PID=

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
if python3 - "$JSON" "$TRUTH" <<'PY'; then ok "json schema"; else not_ok "json schema" "see above"; fi
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

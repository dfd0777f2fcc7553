#!/bin/bash
# test_crosscheck.sh — `backscope darknet labels` and `backscope crosscheck`
# end to end: a darknet capture (written below, raw IP; one source per
# taxonomy case) labeled into a store with `darknet label --store`, PTR
# queries for the port scanner ingested into the same store (its distinct
# queriers decide scan-port), and a detections file in JSON and CSV.  Checks
# labels read back (table, --json, filters), the crosscheck matrix and
# metrics against hand-computed values, --list, --json and bad arguments.
# Needs no root and no network.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cli_lib.sh"

DB="$T/db"
PCAP="$T/darknet.pcap"
DNS="$T/dns.pcap"
H=1795341600 # 2026-11-22T10:00:00Z: the label hour
"$PY" - "$PCAP" "$DNS" "$H" <<'EOF' || die "capture generator failed"
import ipaddress, struct, sys
darknet, dns, H = sys.argv[1], sys.argv[2], int(sys.argv[3])

def hdr(linktype):
    return struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, linktype)

def rec(t, pkt):
    return struct.pack("<IIII", int(t), int((t % 1) * 1e6), len(pkt), len(pkt)) + pkt

def ip4(src, dst, proto, payload):
    s, d = (ipaddress.ip_address(x).packed for x in (src, dst))
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, 0, 64, proto, 0,
                       s, d) + payload

def ip6(src, dst, proto, payload):
    s, d = (ipaddress.ip_address(x).packed for x in (src, dst))
    return struct.pack("!IHBB16s16s", 6 << 28, len(payload), proto, 64, s, d) + payload

def tcp(sport, dport, flags, seq=1):
    return struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, flags, 1024, 0, 0)

SYN, SYNACK = 0x02, 0x12
out = [hdr(101)]  # LINKTYPE_RAW
t = H + 60.0
def pkt(p):
    global t
    out.append(rec(t, p))
    t += 0.01
# network scans: one port, many darknet addresses (198.18.0.0/24)
def netscan(src, port, n, proto=6):
    for i in range(n):
        dst = "198.18.0.%d" % (i + 1)
        if proto == 1:
            pkt(ip4(src, dst, 1, struct.pack("!BBHHH", 8, 0, 0, 1, i)))
        else:
            pkt(ip4(src, dst, 6, tcp(30000 + (i * 7919) % 20000, port, SYN)))
netscan("10.20.0.1", 22, 120)    # scan-ssh (large)
netscan("10.20.0.2", 23, 50)     # scan-telnet
netscan("10.20.0.3", 445, 30)    # scan-smb
netscan("10.20.0.4", 0, 40, 1)   # scan-icmp
netscan("10.20.0.5", 8080, 20)   # scan-other, port 8080
for i in range(20):              # backscatter: SYN-ACKs of a DDoS victim
    pkt(ip4("10.20.0.6", "198.18.0.%d" % (i + 1), 6, tcp(80, 50000 + i, SYNACK)))
for p in range(50):              # port scan of one address
    pkt(ip4("10.20.0.7", "198.18.0.9", 6, tcp(41000, 1000 + p, SYN)))
for i in range(20):              # one flow: ambiguous
    pkt(ip4("10.20.0.8", "198.18.0.10", 6, tcp(42000, 3389, SYN)))
netscan("10.30.0.1", 22, 20)     # outside the authority's space
for i in range(20):              # IPv6 ssh scan inside 2001:db8::/32
    pkt(ip6("2001:db8::1", "2001:db8:ffff::%x" % (i + 1), 6, tcp(43000 + i, 22, SYN)))
open(darknet, "wb").write(b"".join(out))

# PTR queries for 10.20.0.7 from 12 queriers (198.51.100.1..12) to 192.0.2.53
def qname(name):
    return b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"
def udp(sport, dport, payload):
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
out = [hdr(101)]
t = H + 120.0
for q in range(12):
    msg = struct.pack("!HHHHHH", q + 1, 0, 1, 0, 0, 0) + qname("7.0.20.10.in-addr.arpa") + \
        struct.pack("!HH", 12, 1)
    pkt(ip4("198.51.100.%d" % (q + 1), "192.0.2.53", 17, udp(5000 + q, 53, msg)))
open(dns, "wb").write(b"".join(out))
EOF

# ---- labels into the store, and back ----
bsc --db "$DB" darknet label --store "$PCAP"
expect_bsc "darknet label --store" 0 out "10\.20\.0\.1 "
bsc --db "$DB" darknet label --json "$PCAP"
echo "$OUT" >"$T/label.json"
bsc --db "$DB" darknet labels --json
expect_bsc "darknet labels --json: exit 0" 0
echo "$OUT" >"$T/labels.json"
if "$PY" - "$T/label.json" "$T/labels.json" <<'EOF'; then ok "labels read back equal the labels written (same fields)"; else not_ok "labels read back" "see above"; fi
import json, sys
a, b = (json.load(open(x)) for x in sys.argv[1:3])
key = lambda o: (o["window_start"], o["source"])
assert sorted(a, key=key) == sorted(b, key=key), (a, b)
assert len(b) == 10, len(b)
want = {"source", "window_start", "class", "size", "protocol", "ports", "packets",
        "destinations", "tool", "service"}
for o in b:
    assert set(o) == want, sorted(o)
cls = {o["source"]: o["class"] for o in b}
assert cls["10.20.0.1"] == "network-scan" and cls["10.20.0.6"] == "backscatter", cls
assert cls["10.20.0.7"] == "port-scan" and cls["10.20.0.8"] == "one-flow", cls
EOF
bsc --db "$DB" darknet labels
expect_bsc "darknet labels: table" 0 out "^source +window start +class" \
	out "^10\.20\.0\.5 +2026-11-22T10:00:00Z +network-scan +small +tcp +8080 " \
	out "^2001:db8::1 "
bsc --db "$DB" darknet labels --class backscatter --json
expect_bsc "darknet labels --class" 0 out '"source": "10\.20\.0\.6"' noout '10\.20\.0\.1"'
bsc --db "$DB" darknet labels --source 10.20.0.0/30
expect_bsc "darknet labels --source PREFIX" 0 out "^10\.20\.0\.1 " out "^10\.20\.0\.3 " \
	noout "^10\.20\.0\.4 " noout "2001:db8"
bsc --db "$DB" darknet labels --since 2026-11-22T11:00:00Z
expect_bsc "darknet labels --since after the window: none" 0 out "^\(no darknet label matches\)$"
bsc --db "$DB" darknet labels --until 2026-11-22T10:59:59Z --source 2001:db8::1
expect_bsc "darknet labels --until inside the window" 0 out "^2001:db8::1 "
bsc --db "$DB" darknet labels --class nope
expect_bsc "darknet labels --class nope: exit 2" 2 err "--class nope: not a darknet class"
bsc --db "$DB" darknet labels --window 1h
expect_bsc "darknet labels --window: exit 2" 2 err "belong to 'darknet label'"
bsc --db "$DB" darknet label --since 2026-11-22 "$PCAP"
expect_bsc "darknet label --since: exit 2" 2 err "belong to 'darknet labels'"
bsc --db "$T/none" darknet labels
expect_bsc "darknet labels of a missing store: exit 1" 1 err "$T/none"

# ---- DNS data: the port scanner's PTR queries (a copy of the store keeps
# the labels alone) ----
cp -a "$DB" "$T/db0"
bsc --db "$DB" ingest pcap "$DNS"
expect_bsc "ingest the port scanner's PTR queries" 0 out "12 queries"
bsc --db "$DB" top --window all --json
expect_bsc "the port scanner has 12 queriers" 0 out '"queriers": 12'

# ---- detections ----
W=2026-11-22T10:00:00Z
cat >"$T/det.json" <<EOF
[
 {"address": "10.20.0.1", "window_start": "$W", "class": "scan-ssh", "score": 0.9},
 {"address": "10.20.0.2", "window_start": "$W", "class": "scan-ssh", "score": 0.8},
 {"address": "10.20.0.4", "window_start": $H, "window_end": $((H + 3600)), "class": "scan-icmp"},
 {"address": "10.20.0.5", "window_start": "$W", "class": "scan"},
 {"address": "10.20.0.6", "window_start": "$W", "class": "scan-ssh", "score": 0.7},
 {"address": "10.20.0.7", "window_start": "$W", "class": "scan-port"},
 {"address": "10.20.0.9", "window_start": "$W", "class": "spam"},
 {"address": "10.20.0.10", "window_start": "$W", "class": "scan-ssh"},
 {"address": "10.20.0.1", "window_start": "2026-11-22T11:00:00Z", "class": "scan-ssh"},
 {"address": "192.0.2.1", "window_start": "$W", "class": "scan-ssh"},
 {"address": "2001:db8::1", "window_start": "$W", "class": "scan-ssh", "model": "x"}
]
EOF
# the same as CSV (columns in another order, an extra one, a quoted field)
cat >"$T/det.csv" <<EOF
class,address,window_start,window_end,score,model
scan-ssh,10.20.0.1,$W,,0.9,a
scan-ssh,10.20.0.2,$W,,0.8,a
scan-icmp,10.20.0.4,$H,$((H + 3600)),,a
scan,10.20.0.5,$W,,,a
scan-ssh,10.20.0.6,$W,,0.7,a
scan-port,10.20.0.7,$W,,,a
spam,10.20.0.9,$W,,,"a, b"
scan-ssh,10.20.0.10,$W,,,a
scan-ssh,10.20.0.1,2026-11-22T11:00:00Z,,,a
scan-ssh,192.0.2.1,$W,,,a
scan-ssh,2001:db8::1,$W,,,a
EOF

# Hand-computed with --min-queriers 10 (10.20.0.7 has 12 queriers: scan-port):
#   pairs: (scan-ssh,scan-ssh) .1 and ::1; (scan-telnet,scan-ssh) .2;
#   (scan-smb,none) .3; (scan-icmp,scan-icmp) .4; (scan-other,scan) .5;
#   (ddos-victim,scan-ssh) .6; (scan-port,scan-port) .7; (none,spam) .9;
#   (none,scan-ssh) .10 and .1 at 11:00 (no overlap: it starts as the
#   label's window ends); 10.30.0.1 and 192.0.2.1 outside; .8 ambiguous.
#   two-class: tp 6 (.1 .2 .4 .5 .7 ::1), fn 1 (.3), fp 3 (.6 .10 .1@11),
#   tn 1 (.9): precision 6/9, recall 6/7, f1 12/16 = 0.75.
#   disagreements: .2 .3 .6 .10 .1@11 = 5
XC=(--db "$DB" crosscheck --authority 10.20.0.0/16 --zone 8.b.d.0.1.0.0.2.ip6.arpa)
bsc "${XC[@]}" --detections "$T/det.json" --json --list
expect_bsc "crosscheck --json --list: exit 0" 0
echo "$OUT" >"$T/xc.json"
if "$PY" - "$T/xc.json" <<'EOF'; then ok "crosscheck --json: hand-computed matrix and metrics"; else not_ok "crosscheck --json" "see above"; fi
import json, sys
r = json.load(open(sys.argv[1]))
keys = {"authority", "window_seconds", "since", "until", "min_queriers", "detections",
        "labels", "pairs", "matrix", "classes", "overall", "disagreements_total",
        "disagreements"}
assert set(r) == keys, sorted(r)
assert r["authority"] == ["10.20.0.0/16", "2001:db8::/32"], r["authority"]
assert r["window_seconds"] == 3600 and r["since"] is None and r["min_queriers"] == 10
assert r["detections"] == {"read": 11, "outside_space": 1, "outside_time": 0,
                           "ambiguous": 0, "used": 10}, r["detections"]
assert r["labels"] == {"read": 10, "outside_space": 1, "outside_time": 0, "ambiguous": 1,
                       "few_queriers": 0, "used": 8}, r["labels"]
m = r["matrix"]
assert m["rows"] == ["scan-icmp", "scan-ssh", "scan-telnet", "scan-smb", "scan-other",
                     "scan-port", "ddos-victim", "none"], m["rows"]
assert m["columns"] == ["scan", "scan-icmp", "scan-port", "scan-ssh", "spam", "none"], m
cell = {(a, b): m["counts"][i][j] for i, a in enumerate(m["rows"])
        for j, b in enumerate(m["columns"])}
want = {("scan-ssh", "scan-ssh"): 2, ("scan-telnet", "scan-ssh"): 1, ("scan-smb", "none"): 1,
        ("scan-icmp", "scan-icmp"): 1, ("scan-other", "scan"): 1,
        ("ddos-victim", "scan-ssh"): 1, ("scan-port", "scan-port"): 1, ("none", "spam"): 1,
        ("none", "scan-ssh"): 2}
for k, v in cell.items():
    assert v == want.get(k, 0), (k, v)
assert r["pairs"] == 11
o = r["overall"]
assert (o["tp"], o["fp"], o["fn"], o["tn"], o["support"]) == (6, 3, 1, 1, 7), o
assert o["precision"] == 0.6667 and o["recall"] == 0.8571 and o["f1"] == 0.75, o
assert o["accuracy"] == 0.6364, o
c = {x["class"]: x for x in r["classes"]}
ssh = c["scan-ssh"]
assert (ssh["tp"], ssh["fp"], ssh["fn"], ssh["support"], ssh["detected"]) == (2, 4, 0, 2, 6), ssh
assert ssh["precision"] == 0.3333 and ssh["recall"] == 1.0 and ssh["f1"] == 0.5, ssh
smb = c["scan-smb"]
assert smb["precision"] is None and smb["recall"] == 0.0 and smb["f1"] == 0.0, smb
assert c["spam"]["recall"] is None and c["spam"]["precision"] == 0.0, c["spam"]
assert [x["class"] for x in r["classes"]][:7] == m["rows"][:7]
assert r["disagreements_total"] == 5
d = r["disagreements"]
assert [(x["address"], x["label"], x["detection"] and x["detection"]["class"]) for x in d] == [
    ("10.20.0.1", None, "scan-ssh"), ("10.20.0.2", "scan-telnet", "scan-ssh"),
    ("10.20.0.3", "scan-smb", None), ("10.20.0.6", "ddos-victim", "scan-ssh"),
    ("10.20.0.10", None, "scan-ssh")], d
x = d[1]
assert x["darknet"]["class"] == "network-scan" and x["darknet"]["ports"] == [23], x
assert x["detection"]["score"] == 0.8 and x["detection"]["window_start"] == "2026-11-22T10:00:00Z"
assert x["detection"]["window_end"] == "2026-11-22T11:00:00Z" and x["detection"]["line"] == 3, x
assert d[0]["detection"]["window_start"] == "2026-11-22T11:00:00Z", d[0]
EOF
bsc "${XC[@]}" --detections "$T/det.csv" --json --list
echo "$OUT" >"$T/xc-csv.json"
if "$PY" - "$T/xc.json" "$T/xc-csv.json" <<'EOF'; then ok "CSV detections give the same result as JSON"; else not_ok "CSV detections" "see above"; fi
import json, sys
a, b = (json.load(open(x)) for x in sys.argv[1:3])
for x in a["disagreements"] + b["disagreements"]:
    if x["detection"]:
        del x["detection"]["line"]
assert a == b, (a, b)
EOF
# NDJSON (one object per line) on standard input
"$PY" -c 'import json,sys; [print(json.dumps(o)) for o in json.load(open(sys.argv[1]))]' \
	"$T/det.json" >"$T/det.ndjson"
OUT=$("$BSC_CLI" "${XC[@]}" --detections - --json <"$T/det.ndjson" 2>"$T/err") && RC=0 || RC=$?
"$PY" - "$T/xc.json" <(echo "$OUT") <<'EOF' && [ $RC = 0 ] && ok "JSON lines on stdin" || not_ok "JSON lines on stdin" "rc $RC: $(cat "$T/err")"
import json, sys
a, b = (json.load(open(x)) for x in sys.argv[1:3])
assert a["matrix"] == b["matrix"] and a["overall"] == b["overall"] and b["disagreements"] is None
EOF

# the table and --list
bsc "${XC[@]}" --detections "$T/det.json" --list
expect_bsc "crosscheck table" 0 \
	out "^authority: 10\.20\.0\.0/16, 2001:db8::/32; DNS window 1h$" \
	out "^label \\\\ detection +scan +scan-icmp +scan-port +scan-ssh +spam +none$" \
	out "^scan-ssh +0 +0 +0 +2 +0 +0$" \
	out "^none +0 +0 +0 +2 +1 +0$" \
	out "^scan-ssh +2 +6 +2 +4 +0 +0\.333 +1\.000 +0\.500$" \
	out "^scan \(overall\) +7 +9 +6 +3 +1 +0\.667 +0\.857 +0\.750$" \
	out "tp 6, fp 3, fn 1, tn 1, accuracy 0\.636; 5 disagreements" \
	out "^10\.20\.0\.2 +2026-11-22T10:00:00Z +scan-telnet +network-scan/small +23 +[a-z-]+ +2026-11-22T10:00:00Z +scan-ssh +0\.800$" \
	out "^10\.20\.0\.3 .* scan-smb .* none +-$" \
	noout "^10\.20\.0\.5 "

# the port scanner's queriers: 12 distinct; with --min-queriers 13 it is
# ambiguous, and so is it before its queries were ingested (0 queriers)
bsc "${XC[@]}" --detections "$T/det.json" --json --min-queriers 13
expect_bsc "--min-queriers 13: the port scan is ambiguous" 0 \
	out '"few_queriers": 1' out '"ambiguous": 2'
bsc "${XC[@]}" --db "$T/db0" --detections "$T/det.json" --json
expect_bsc "no DNS data: the port scan is ambiguous" 0 \
	out '"few_queriers": 1' out '"ambiguous": 2'

# --since / --until: nothing of the 11:00 detection before 11:00
bsc "${XC[@]}" --detections "$T/det.json" --json --until 2026-11-22T11:00:00Z
expect_bsc "--until drops the later window" 0 out '"outside_time": 1' \
	out '"until": "2026-11-22T11:00:00\.000Z"'
# --window 2h: the 10:00 detections now reach into 11:00, the 11:00 one
# still starts after the label's window
bsc "${XC[@]}" --detections "$T/det.json" --json --window 2h
expect_bsc "--window 2h" 0 out '"window_seconds": 7200' out '"disagreements_total": 5'
# a /32 authority: only that originator
bsc --db "$DB" crosscheck --authority 10.20.0.2/32 --detections "$T/det.json" --json
expect_bsc "--authority /32" 0 out '"pairs": 1' out '"outside_space": 10'
bsc --db "$DB" crosscheck --zone 0.20.10.in-addr.arpa --detections "$T/det.json"
expect_bsc "--zone of a /24" 0 out "^authority: 10\.20\.0\.0/24;"

# ---- bad arguments and bad files ----
bsc --db "$DB" crosscheck --detections "$T/det.json"
expect_bsc "no --authority nor --zone: exit 2" 2 err "no address space: give --authority"
bsc "${XC[@]}"
expect_bsc "no --detections: exit 1" 1 err "no detections: the store .* has none; give --detections"
bsc --db "$DB" crosscheck --zone example.com --detections "$T/det.json"
expect_bsc "--zone of no reverse zone: exit 2" 2 err "--zone example\.com: not a reverse zone"
bsc --db "$DB" crosscheck --authority 10.20.0.1/16 --detections "$T/det.json"
expect_bsc "--authority with host bits: exit 2" 2 err "--authority 10\.20\.0\.1/16"
bsc "${XC[@]}" --detections "$T/det.json" --window 0
expect_bsc "--window 0: exit 2" 2 err "--window 0"
bsc "${XC[@]}" --detections "$T/det.json" --since 2026-11-23 --until 2026-11-22
expect_bsc "--since after --until: exit 2" 2 err "--since must be before --until"
bsc "${XC[@]}" --detections "$T/det.json" --min-queriers x
expect_bsc "--min-queriers x: exit 2" 2 err "--min-queriers x"
bsc "${XC[@]}" --detections "$T/nope.json"
expect_bsc "missing detections file: exit 1, named" 1 err "nope\.json: cannot open"
bsc --db "$T/none" crosscheck --authority 10.0.0.0/8 --detections "$T/det.json"
expect_bsc "missing store: exit 1" 1 err "$T/none"
printf '[\n {"address": "10.20.0.1", "window_start": "%s", "class": "scan-ssh"},\n {"address": "10.20.0.999", "window_start": "%s", "class": "x"}\n]\n' "$W" "$W" >"$T/bad1.json"
bsc "${XC[@]}" --detections "$T/bad1.json"
expect_bsc "bad address: file, line and column" 1 err "bad1\.json:3:2: address '10\.20\.0\.999'"
printf '[\n {"address": "10.20.0.1", "window_start": "%s", "class": "scan-ssh"}\n {"address": "10.20.0.2"}\n]\n' "$W" >"$T/bad2.json"
bsc "${XC[@]}" --detections "$T/bad2.json"
expect_bsc "missing comma: file, line and column" 1 err "bad2\.json:3:2: expected ',' or ']'"
printf 'address,window_start,class\n10.20.0.1,%s,scan-ssh\n10.20.0.2,yesterday,scan-ssh\n' "$W" >"$T/bad3.csv"
bsc "${XC[@]}" --detections "$T/bad3.csv"
expect_bsc "bad CSV time: file and line" 1 err "bad3\.csv:3:1: window_start 'yesterday'"
printf 'address,start,class\n10.20.0.1,%s,scan-ssh\n' "$W" >"$T/bad4.csv"
bsc "${XC[@]}" --detections "$T/bad4.csv"
expect_bsc "CSV without the columns" 1 err "bad4\.csv:1:1: the header must name the columns"
finish

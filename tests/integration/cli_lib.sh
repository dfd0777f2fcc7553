# tests/integration/cli_lib.sh — helpers of the `backscope` CLI tests (bash),
# sourced after lib.sh by test_ingest.sh and test_cli_store.sh:
#
#   bsc ARGS...                run the CLI; exit status in $RC, stdout in $OUT,
#                              stderr in $ERR
#   expect_bsc NAME RC [out RE] [err RE] [noerr RE]...
#                              check the last bsc run
#   truth_expect TRUTH [SKIP_NOTE...] > FILE.json
#                              per-originator ground truth from a truth file
#                              (format of tests/data/pcap/traffic.sh): PTR
#                              queries for full reverse names, by querier
#   check_aggregates NAME DB EXPECTED.json
#                              top --json and originator --json of every
#                              originator in DB equal the expectation exactly
#   same_aggregates NAME DB_A DB_B
#                              top --json and every originator --json of two
#                              stores are identical
#   tcpdump_start FILE FILTER / tcpdump_stop
#                              a capture on lo, ready when tcpdump says so
BSC_CLI="${BSC_CLI:-$BSC_BUILD_DIR/tools/backscope}"
[ -x "$BSC_CLI" ] || die "backscope CLI not found at $BSC_CLI"

RC=0
ERR=
bsc() {
	local errf="$T/bsc.stderr"
	RC=0
	OUT=$("$BSC_CLI" "$@" 2>"$errf") || RC=$?
	ERR=$(cat "$errf")
}

expect_bsc() {
	local name=$1 want=$2 why=
	shift 2
	[ "$RC" = "$want" ] || why="exit status $RC, want $want"
	while [ $# -ge 2 ] && [ -z "$why" ]; do
		case $1 in
		out) grep -Eq -- "$2" <<<"$OUT" || why="stdout lacks /$2/" ;;
		err) grep -Eq -- "$2" <<<"$ERR" || why="stderr lacks /$2/" ;;
		noout) grep -Eq -- "$2" <<<"$OUT" && why="stdout has /$2/" ;;
		noerr) grep -Eq -- "$2" <<<"$ERR" && why="stderr has /$2/" ;;
		*) why="unknown check $1" ;;
		esac
		shift 2
	done
	if [ -z "$why" ]; then
		ok "$name"
	else
		not_ok "$name" "$why" "$(printf 'stdout:\n%s\nstderr:\n%s' "$OUT" "$ERR" | head -n 40)"
	fi
}

# truth_expect TRUTH [SKIP_NOTE...]: JSON {originator: {querier: queries}} of
# the truth file's PTR queries for full reverse names (lines whose note is
# one of SKIP_NOTE are left out).
truth_expect() {
	"$PY" - "$@" <<'EOF'
import ipaddress, json, sys
truth, skip = sys.argv[1], set(sys.argv[2:])
exp = {}
def origin(name):
    labels = name.rstrip(".").lower().split(".")
    if labels[-2:] == ["in-addr", "arpa"] and len(labels) == 6:
        try:
            if all(str(int(x)) == x and 0 <= int(x) <= 255 for x in labels[:4]):
                return str(ipaddress.ip_address(".".join(reversed(labels[:4]))))
        except ValueError:
            return None
    if labels[-2:] == ["ip6", "arpa"] and len(labels) == 34:
        nib = "".join(reversed(labels[:32]))
        if all(len(x) == 1 and x in "0123456789abcdef" for x in labels[:32]):
            return str(ipaddress.ip_address(int(nib, 16)))
    return None
for line in open(truth):
    if line.startswith("#") or not line.strip():
        continue
    f = line.split()
    querier, qtype, qname, note = f[0], int(f[3]), f[4], f[7] if len(f) > 7 else "-"
    if qtype != 12 or note in skip:
        continue
    o = origin(qname)
    if o is None:
        continue
    q = str(ipaddress.ip_address(querier))
    exp.setdefault(o, {}).setdefault(q, 0)
    exp[o][q] += 1
json.dump(exp, sys.stdout, indent=1, sort_keys=True)
EOF
}

# check_aggregates NAME DB EXPECTED.json
check_aggregates() {
	local name=$1 db=$2 exp=$3 why
	why=$("$PY" - "$BSC_CLI" "$db" "$exp" <<'EOF'
import json, subprocess, sys
cli, db, expf = sys.argv[1:4]
exp = json.load(open(expf))
def run(*args):
    return json.loads(subprocess.run([cli, "--db", db, *args], check=True,
                                     capture_output=True, text=True).stdout)
top = run("top", "--json", "--window", "all", "--limit", "0")
errs = []
got = {e["address"]: e for e in top}
if set(got) != set(exp):
    errs.append("originators differ: missing %s, extra %s" %
                (sorted(set(exp) - set(got)), sorted(set(got) - set(exp))))
for o, qs in sorted(exp.items()):
    e = got.get(o)
    if not e:
        continue
    if e["queries"] != sum(qs.values()) or e["queriers"] != len(qs):
        errs.append("%s: top says %d queries from %d queriers, sent %d from %d" %
                    (o, e["queries"], e["queriers"], sum(qs.values()), len(qs)))
    d = run("originator", o, "--json", "--window", "all")
    ql = {x["address"]: x["queries"] for x in d["querier_list"]}
    if ql != qs or d["queries"] != sum(qs.values()) or d["queriers"] != len(qs):
        errs.append("%s: originator says %s, sent %s" % (o, ql, qs))
    if sum(b["queries"] for b in d["buckets"]) != d["queries"]:
        errs.append("%s: bucket queries do not add up" % o)
print("\n".join(errs[:20]))
EOF
) || why="comparison failed to run"
	if [ -z "$why" ]; then
		ok "$name"
	else
		not_ok "$name" "aggregates differ from what was sent" "$why"
	fi
}

# same_aggregates NAME DB_A DB_B: byte-identical JSON of top and originator.
same_aggregates() {
	local name=$1 a=$2 b=$3 why
	why=$("$PY" - "$BSC_CLI" "$a" "$b" <<'EOF'
import subprocess, sys, json
cli, a, b = sys.argv[1:4]
def run(db, *args):
    return subprocess.run([cli, "--db", db, *args], check=True, capture_output=True,
                          text=True).stdout
ta, tb = (run(x, "top", "--json", "--window", "all", "--limit", "0") for x in (a, b))
errs = []
if ta != tb:
    errs.append("top --json differs:\n" + ta[:1500] + "\n---\n" + tb[:1500])
for e in json.loads(ta):
    oa, ob = (run(x, "originator", e["address"], "--json", "--window", "all") for x in (a, b))
    if oa != ob:
        errs.append("originator %s differs" % e["address"])
if not json.loads(ta):
    errs.append("no originator at all")
print("\n".join(errs[:10]))
EOF
) || why="comparison failed to run"
	if [ -z "$why" ]; then
		ok "$name"
	else
		not_ok "$name" "the two stores differ" "$why"
	fi
}

TCPDUMP_PID=
_tcpdump_ready() {
	grep -q "listening on" "$1" && return 0
	kill -0 "$TCPDUMP_PID" 2>/dev/null || return 0
	return 1
}

# tcpdump_start FILE FILTER: capture on lo into FILE, packet-buffered.
tcpdump_start() {
	local file=$1 filter=$2
	need tcpdump
	: >"$T/tcpdump.err"
	# -Z root: keep root so the file can be written where the test wants it
	tcpdump -i lo -n -U -s 0 -Z root -w "$file" "$filter" 2>"$T/tcpdump.err" &
	TCPDUMP_PID=$!
	track "$TCPDUMP_PID"
	poll 100 0.1 _tcpdump_ready "$T/tcpdump.err" || die "tcpdump did not start listening"
	kill -0 "$TCPDUMP_PID" 2>/dev/null || die "tcpdump failed: $(cat "$T/tcpdump.err")"
}

tcpdump_stop() {
	kill -TERM "$TCPDUMP_PID" 2>/dev/null
	wait "$TCPDUMP_PID" 2>/dev/null
	untrack "$TCPDUMP_PID"
	TCPDUMP_PID=
}

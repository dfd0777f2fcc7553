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
# (tcpdump_start and tcpdump_stop are in lib.sh.)
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

# check_aggregates NAME DB EXPECTED.json (data/capture/capture_check.py truth)
check_aggregates() {
	local name=$1 db=$2 exp=$3 why
	why=$("$PY" "$DATA_DIR/capture/capture_check.py" truth "$BSC_CLI" "$db" "$exp" 2>&1) ||
		why="comparison failed to run: $why"
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

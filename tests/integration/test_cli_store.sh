#!/bin/bash
# test_cli_store.sh — the `backscope` binary: usage, help and exit codes;
# the store chosen by --db or by -c FILE's [server] db; read commands never
# create a store; a synthetic capture from backscope-gen ingests to the
# generator's own totals; status/top/originator as aligned tables and JSON
# that agree with each other; the progress line only on a terminal.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cli_lib.sh"
GEN="$BSC_BUILD_DIR/tools/gen/backscope-gen"
[ -x "$GEN" ] || die "backscope-gen not found at $GEN"

# ---- usage and exit codes ----
bsc
expect_bsc "no command: usage on stderr, exit 2" 2 err "^usage: backscope"
bsc help
expect_bsc "help: every command listed, exit 0" 0 out "status" out "top" out "originator" \
	out "ingest" out "Exit status"
bsc help top
expect_bsc "help top: its options" 0 out "--window" out "--limit" out "--until"
bsc top --help
expect_bsc "top --help: the same" 0 out "usage: backscope .*top"
bsc help nope
expect_bsc "help of an unknown command: exit 2" 2 err "nope"
bsc nope
expect_bsc "unknown command: exit 2, named" 2 err "no command 'nope'"
bsc --bogus status
expect_bsc "unknown global option: exit 2" 2 err "unknown option --bogus"
bsc --db
expect_bsc "--db without a value: exit 2" 2 err "needs a value"
bsc --version
expect_bsc "--version" 0 out "^backscope [0-9]+\.[0-9]+\.[0-9]+"
bsc --db "$T/none" status
expect_bsc "status of a missing store: exit 1, names it" 1 err "$T/none"
if [ -e "$T/none" ]; then
	not_ok "read commands never create a store" "$T/none exists"
else
	ok "read commands never create a store"
fi
bsc --db "$T/none" top --limit nope
expect_bsc "top --limit nope: exit 2 before touching the store" 2 err "--limit nope"

# ---- a synthetic capture with known totals ----
"$GEN" -n 60000 --originators 3000 --queriers 800 --seed 7 -o "$T/gen.pcap" 2>"$T/gen.txt" ||
	die "backscope-gen failed: $(cat "$T/gen.txt")"
"$GEN" -n 60000 --originators 3000 --queriers 800 --seed 7 -o "$T/gen2.pcap" 2>/dev/null
if cmp -s "$T/gen.pcap" "$T/gen2.pcap"; then
	ok "backscope-gen is deterministic for a seed"
else
	not_ok "backscope-gen is deterministic for a seed" "two runs differ"
fi
read -r GPTR GPART GOTHER < <(sed -n 's/.*(ptr \([0-9]*\), partial \([0-9]*\), other qtype \([0-9]*\);.*/\1 \2 \3/p' "$T/gen.txt")
DB="$T/db"
bsc --db "$DB" ingest pcap "$T/gen.pcap"
expect_bsc "ingest pcap of the synthetic capture: the generator's totals" 0 \
	out "60000 queries, 60000 events" out "ptr $GPTR, partial $GPART, other qtype $GOTHER,"
if [ -n "$ERR" ]; then
	not_ok "no progress line and no message when stderr is no terminal" "stderr: $ERR"
else
	ok "no progress line and no message when stderr is no terminal"
fi

# ---- the store from a config file ----
mkdir -p "$T/etc"
cat >"$T/etc/backscope.conf" <<EOF
[server]
db = ../db
EOF
bsc -c "$T/etc/backscope.conf" status --json
expect_bsc "-c FILE: the store of [server] db (relative to the file)" 0 out '"events": 60000'
bsc -c "$T/etc/backscope.conf" --db "$T/none" status
expect_bsc "--db wins over -c" 1 err "$T/none"
bsc status -c "$T/etc/missing.conf"
expect_bsc "a missing config file: exit 1, named" 1 err "missing\.conf"
printf '[server]\nbogus = 1\n' >"$T/etc/bad.conf"
bsc -c "$T/etc/bad.conf" status
expect_bsc "a bad config file: exit 1, file:line" 1 err "bad\.conf:2"

# ---- status, top, originator: tables and JSON agree ----
bsc --db "$DB" status --json
expect_bsc "status --json" 0 out '"events": 60000' out '"dropped": 0' out '"originators": [0-9]+'
STATUS_JSON=$OUT
bsc --db "$DB" status
expect_bsc "status table" 0 out "^store +$DB" out "^events +60000" \
	out "^buckets +24  2026-01-01T00:00:00Z \.\. 2026-01-01T23:00:00Z"

bsc --db "$DB" top --window all --limit 15
TOP_TABLE=$OUT
expect_bsc "top table" 0 out "^rank  originator +queriers  queries  nxdomain  first seen +last seen"
bsc --db "$DB" top --window all --limit 15 --json
TOP_JSON=$OUT
why=$("$PY" - "$TOP_TABLE" "$TOP_JSON" "$STATUS_JSON" <<'EOF'
import json, sys
table, top, status = sys.argv[1].splitlines(), json.loads(sys.argv[2]), json.loads(sys.argv[3])
errs = []
rows = table[2:]  # title, header
if len(rows) != 15 or len(top) != 15:
    errs.append("want 15 rows, table %d, json %d" % (len(rows), len(top)))
# right-aligned numbers: the columns rank, queriers, queries, nxdomain end at
# the same place on every line (header included)
hdr = table[1]
for col in ("rank", "queriers", "queries", "nxdomain"):
    end = hdr.index(col) + len(col)
    for r in rows:
        if r[end - 1] == " " or (end < len(r) and r[end] != " "):
            errs.append("column %s not right-aligned: %r" % (col, r))
            break
prev = None
for r, e in zip(rows, top):
    f = r.split()
    if [f[1], int(f[2]), int(f[3]), int(f[4])] != [e["address"], e["queriers"], e["queries"], e["nxdomain"]]:
        errs.append("table %r vs json %r" % (r, e))
    if e["first_seen"][:19] != f[5][:19] or e["last_seen"][:19] != f[6][:19]:
        errs.append("times differ: %r %r" % (r, e))
    key = (-e["queriers"], -e["queries"])
    if prev and key < prev:
        errs.append("not ranked: %r" % e)
    prev = key
    for k in ("address", "queries", "queriers", "first_seen", "last_seen"):
        if k not in e:
            errs.append("missing %s" % k)
if not top[0]["first_seen"].endswith("Z") or "T" not in top[0]["first_seen"]:
    errs.append("first_seen is not RFC 3339 UTC: %s" % top[0]["first_seen"])
total = sum(e["queries"] for e in top)
if total > status["ptr"]:
    errs.append("top queries exceed the PTR total")
print("\n".join(errs[:10]))
EOF
)
if [ -z "$why" ]; then ok "top: the table (aligned, ranked) and --json agree"; else not_ok "top: table vs json" "$why" "$TOP_TABLE"; fi

FIRST=$("$PY" -c 'import json,sys; print(json.load(sys.stdin)[0]["address"])' <<<"$TOP_JSON")
bsc --db "$DB" originator "$FIRST" --window all --json
ORIG_JSON=$OUT
expect_bsc "originator --json" 0 out '"querier_list"' out '"buckets"'
why=$("$PY" - "$ORIG_JSON" "$TOP_JSON" <<'EOF'
import json, sys
o, top = json.loads(sys.argv[1]), json.loads(sys.argv[2])[0]
errs = []
for k in ("address", "queries", "queriers", "first_seen", "last_seen"):
    if o[k] != top[k]:
        errs.append("%s: originator %r, top %r" % (k, o[k], top[k]))
ql = o["querier_list"]
if len(ql) != o["queriers"]:
    errs.append("querier_list has %d entries, queriers %d" % (len(ql), o["queriers"]))
if sum(q["queries"] for q in ql) != o["queries"]:
    errs.append("querier_list queries do not add up")
if sum(b["queries"] for b in o["buckets"]) != o["queries"]:
    errs.append("bucket queries do not add up")
if [q["queries"] for q in ql] != sorted((q["queries"] for q in ql), reverse=True):
    errs.append("querier_list not sorted by queries")
print("\n".join(errs))
EOF
)
if [ -z "$why" ]; then ok "originator --json agrees with top and adds up"; else not_ok "originator json" "$why"; fi
bsc --db "$DB" originator "$FIRST" --window all
expect_bsc "originator table" 0 out "^originator +$FIRST" out "^bucket +queries  queriers" \
	out "^querier +queries  buckets"
bsc --db "$DB" originator 10.255.255.254 --window all
expect_bsc "an originator without queries: exit 1, named" 1 err "10\.255\.255\.254"

# ---- progress: on a terminal only, cleared at the end ----
if command -v script >/dev/null; then
	script -qec "'$BSC_CLI' --db '$T/p.db' ingest pcap '$T/gen.pcap'" /dev/null \
		>"$T/tty.out" 2>&1 </dev/null
	if grep -q "ingest pcap \[1/1\]" "$T/tty.out" && grep -q $'\r\033\[K' "$T/tty.out"; then
		ok "a terminal shows the progress line, and it is cleared"
	else
		not_ok "progress on a terminal" "no progress line or no clear" "$(cat -v "$T/tty.out" | head -5)"
	fi
	script -qec "'$BSC_CLI' --no-progress --db '$T/p2.db' ingest pcap '$T/gen.pcap'" /dev/null \
		>"$T/tty2.out" 2>&1 </dev/null
	if grep -q "ingest pcap \[1/1\]" "$T/tty2.out"; then
		not_ok "--no-progress" "progress shown" "$(cat -v "$T/tty2.out" | head -5)"
	else
		ok "--no-progress: no progress line on a terminal"
	fi
else
	skip_tool script "progress on a terminal"
fi

finish

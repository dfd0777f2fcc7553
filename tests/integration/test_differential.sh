#!/bin/bash
# test_differential.sh — backscope-authd and Knot DNS serve the same sample
# zones; differential.py sends both the same few hundred queries (hits,
# NXDOMAIN, NODATA, empty non-terminals, referrals, DS, RFC 2317 CNAMEs,
# wildcard, apex, ANY, other types and classes, out of zone, EDNS variants,
# TCP) and compares rcode, flags, question, OPT and every section, TTLs
# included.  Differences pass only when data/differential-allow.txt lists
# them with the reason.  Knot reads no $GENERATE: it gets BIND's expansion.
source "$(dirname "$0")/lib.sh"
need knotd kdig named-compilezone

ident='bsc-diff'
conf="$T/diff.conf"
cat >"$conf" <<CONF
[server]
listen = 127.0.0.1@0
nsid = $ident
version = $ident
identity = $ident
[zone]
origin = $ZONE4
file = $ZONES_DIR/$ZONE4.zone
[zone]
origin = $ZONE6
file = $ZONES_DIR/$ZONE6.zone
CONF
authd_start authd -c "$conf"
knot_start "nsid: \"$ident\"
identity: \"$ident\"
version: \"$ident\""

if "$PY" "$TESTS_DIR/differential.py" --a "backscope=127.0.0.1@${AUTHD_PORT[authd]}" \
	--b "knot=127.0.0.1@$KNOT_PORT" --allow "$DATA_DIR/differential-allow.txt" \
	${BSC_DIFF_VERBOSE:+--verbose}; then
	ok "backscope-authd answers like Knot DNS (or as data/differential-allow.txt explains)"
else
	not_ok "backscope-authd answers like Knot DNS" "differences above are not in data/differential-allow.txt"
fi
authd_alive authd || not_ok "backscope-authd still running" "it exited"
authd_stop authd
finish

#!/bin/bash
# test_badinput.sh — bad input never crashes backscope-authd:
#  - malformed packets over UDP and TCP (badinput.py: truncated headers,
#    compression loops, long labels and names, broken or doubled OPT, QR=1,
#    random and mutated bytes, broken TCP framing); afterwards the server still
#    answers and runs;
#  - broken zone files and configs (data/bad-*.zone, data/bad-*.conf): -n
#    exits 1 with an error naming file:line (the "expect:" line of each file);
#  - a zone broken on disk before SIGHUP: the old zone keeps serving and the
#    log says why.
source "$(dirname "$0")/lib.sh"
need dig

log "malformed packets"
authd_start authd -l 127.0.0.1@0 -l ::1@0 -z "$ZONE4=$ZONES_DIR/$ZONE4.zone"
PORT=${AUTHD_PORT[authd]}
OUT=$("$PY" "$TESTS_DIR/badinput.py" 127.0.0.1 "$PORT" 2>&1)
rc=$?
printf '%s\n' "$OUT" | grep -v '^ok'
if [ $rc = 0 ]; then
	ok "malformed UDP and TCP input dropped or answered FORMERR, as each case expects"
else
	not_ok "malformed UDP and TCP input" "badinput.py failed (lines above)"
fi
PORT6=$(ready_port authd ::1)
OUT=$("$PY" - "$PORT6" <<'PYEOF' 2>&1
import socket, sys, dnswire
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.connect(("::1", int(sys.argv[1])))
for n in range(0, 64):
    s.send(bytes(range(n)) * 3)
r, _ = dnswire.query("::1", int(sys.argv[1]), "1.0.20.10.in-addr.arpa", "PTR")
print(dnswire.summary(r))
PYEOF
)
expect "garbage on the IPv6 listener, then a normal query" grep "^rcode=NOERROR"
authd_alive authd || die "backscope-authd died on malformed input"
dq -x 10.20.0.1
expect "still answering after the malformed input" status NOERROR answer "PTR gw\.example\.net\.$"
authd_stop authd

log "broken zone files and configs: -n names file:line"
for f in "$DATA_DIR"/bad-*.zone "$DATA_DIR"/bad-*.conf; do
	base=$(basename "$f")
	want=$(sed -n '1s/^[;#] expect: \([^ ]*\).*/\1/p' "$f")
	[ -n "$want" ] || die "$base has no '; expect: FILE:LINE' first line"
	if [[ $f == *.zone ]]; then
		args=(-z "99.10.in-addr.arpa=$f")
	else
		args=(-c "$f")
	fi
	RC=0
	OUT=$("$BSC_AUTHD" -n "${args[@]}" 2>&1) || RC=$?
	if [ "$RC" != 1 ]; then
		not_ok "-n on $base exits 1" "exit status $RC" "$OUT"
	elif ! grep -qF -- "$want" <<<"$OUT"; then
		not_ok "-n on $base names $want" "no '$want' in the output" "$OUT"
	else
		ok "-n on $base: exit 1, error names $want"
	fi
done

log "zone broken on disk, then SIGHUP"
cp "$ZONES_DIR/$ZONE4.zone" "$T/reload.zone"
authd_start reload -l 127.0.0.1@0 -z "$ZONE4=$T/reload.zone"
PORT=${AUTHD_PORT[reload]}
dq -x 10.20.0.1
expect "before reload: PTR served" status NOERROR answer "PTR gw\.example\.net\.$"
lines=$(wc -l <"$T/reload.zone")
{
	echo "2.6 PTR new-record-that-must-not-appear.example.net."
	echo "3.6 A 10.20.6.300"
} >>"$T/reload.zone"
bad_line=$((lines + 2))
kill -HUP "${AUTHD_PID[reload]}"
_logged() { grep -q "reload.zone:$bad_line" "${AUTHD_LOG[reload]}"; }
if poll 100 0.1 _logged; then
	ok "broken zone on SIGHUP: the log names reload.zone:$bad_line"
else
	not_ok "broken zone on SIGHUP is logged with file:line" "no 'reload.zone:$bad_line' in the log" \
		"$(tail -n 5 "${AUTHD_LOG[reload]}")"
fi
authd_alive reload || die "backscope-authd exited on a broken zone at reload"
dq -x 10.20.0.1
expect "after the failed reload the old zone still serves" status NOERROR answer "PTR gw\.example\.net\.$"
dq -x 10.20.6.2
expect "after the failed reload nothing of the broken file is served" status NXDOMAIN
authd_stop reload
finish

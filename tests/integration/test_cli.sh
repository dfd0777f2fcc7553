#!/bin/bash
# test_cli.sh — the command line of backscope-authd: usage and errors, -n on
# the sample config, --help-config listing every key, -V, -z with and without
# an origin, and -l overriding the config file's listeners.
source "$(dirname "$0")/lib.sh"
need dig

# run_authd ARGS...: run to completion; status in $RC, stdout+stderr in $OUT.
run_authd() {
	RC=0
	OUT=$("$BSC_AUTHD" "$@" 2>&1) || RC=$?
}

# expect_rc NAME WANT [grep RE]...: check $RC and the output.
expect_rc() {
	local name=$1 want=$2
	shift 2
	if [ "$RC" != "$want" ]; then
		not_ok "$name" "exit status $RC, want $want" "$OUT"
		return
	fi
	expect "$name" "$@"
}

Z4="$ZONES_DIR/$ZONE4.zone"
Z6="$ZONES_DIR/$ZONE6.zone"

run_authd --help
expect_rc "--help prints the usage, exit 0" 0 grep "^usage: backscope-authd" grep "--ready-fd" \
	grep "-z \[ORIGIN=\]FILE"
run_authd -V
expect_rc "-V prints the version" 0 grep "[0-9]+\.[0-9]+\.[0-9]+"
run_authd --no-such-flag
expect_rc "unknown flag: error and usage hint, exit 1" 1 grep "no-such-flag" grep "usage|--help"
run_authd -x
expect_rc "unknown short flag: exit 1" 1 grep "usage|--help"
run_authd -l 127.0.0.1@0 -n --db "$T/db"
expect_rc "no zones: error, exit 1" 1 grep "[Nn]o zones?"
run_authd -c "$T/missing.conf" -n
expect_rc "missing config file: error naming it, exit 1" 1 grep "missing\.conf"
run_authd -w 0 -z "$Z4" -n
expect_rc "workers out of range: exit 1" 1 grep "workers"
run_authd -l not-an-address -z "$Z4" -n
expect_rc "bad listen address: exit 1" 1 grep "not-an-address"
run_authd -z "$ZONES_DIR/no-such.zone" -n
expect_rc "missing zone file: error naming it, exit 1" 1 grep "no-such\.zone"

run_authd -c "$ZONES_DIR/backscope.conf" -n
expect_rc "-n on the sample config: exit 0" 0 grep "20\.10\.in-addr\.arpa" \
	grep "8\.b\.d\.0\.1\.0\.0\.2\.ip6\.arpa"
run_authd -z "$Z4" -z "$ZONE6=$Z6" -n
expect_rc "-n with -z FILE (origin from the file) and -z ORIGIN=FILE" 0 \
	grep "20\.10\.in-addr\.arpa" grep "8\.b\.d\.0\.1\.0\.0\.2\.ip6\.arpa"
run_authd -z "$ZONE6=$Z4" -n
expect_rc "-z with an origin that does not match the file: exit 1" 1 grep "20\.10\.in-addr\.arpa\.zone"

run_authd --help-config
missing=
for key in listen workers user udp_max_payload nsid version identity tcp_max_clients \
	tcp_idle_timeout tcp_max_pipeline check_zone_perms log_level log_target stats_interval \
	db pidfile origin file; do
	grep -Eq "^ +$key " <<<"$OUT" || missing+=" $key"
done
if [ "$RC" = 0 ] && [ -z "$missing" ] && grep -q '^\[server\]' <<<"$OUT" &&
	grep -q '^\[zone\]' <<<"$OUT"; then
	ok "--help-config lists every key of [server] and [zone]"
else
	not_ok "--help-config lists every key" "status $RC, missing:${missing:- none}" "$OUT"
fi

# The sample config listens on port 5353; -l replaces its listeners, so this
# instance binds only a run-time port and still serves the config's zones.
authd_start sample -c "$ZONES_DIR/backscope.conf" -l 127.0.0.1@0 --pidfile "$T/authd.pid"
ready=$(cat "${AUTHD_READY[sample]}")
if [[ $ready != *5353* ]] && [[ $ready == *"udp=127.0.0.1@"* ]]; then
	ok "-l replaces the config file's listeners"
else
	not_ok "-l replaces the config file's listeners" "ready line: $ready"
fi
PORT=${AUTHD_PORT[sample]}
dq -x 10.20.0.1
expect "zones of the config served with -l" status NOERROR answer "PTR gw\.example\.net\.$"
dq +nsid -x 2001:db8::1
expect "config's nsid in force with -l" status NOERROR grep '\("backscope-demo"\)'
if [ "$(cat "$T/authd.pid" 2>/dev/null)" = "${AUTHD_PID[sample]}" ]; then
	ok "--pidfile holds the server's pid"
else
	not_ok "--pidfile holds the server's pid" "pidfile: $(cat "$T/authd.pid" 2>&1), pid ${AUTHD_PID[sample]}"
fi
authd_stop sample
finish

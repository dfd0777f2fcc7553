#!/bin/bash
# tools/install-deps.sh — install every Debian 12 package that building,
# testing and the demo of backscope need.  Quick no-op when all are present.
#
#   tools/install-deps.sh           install what is missing (root, or through sudo)
#   tools/install-deps.sh --check   only report what is missing (exit 1 if any)
#
# Packaged services (knot, nsd, unbound) are kept from starting on install:
# the tests start their own instances on run-time loopback ports.
set -euo pipefail

PACKAGES=(
	# build
	build-essential cmake pkg-config clang libclang-rt-14-dev
	libuv1-dev libldns-dev liblmdb-dev lmdb-utils libsvm-dev libcmocka-dev
	libinih-dev libpcap-dev libfstrm-dev libprotobuf-c-dev protobuf-c-compiler
	libjson-c-dev nettle-dev
	# dnstap.proto, the dnstap schema compiled by protoc-c at build time
	golang-github-dnstap-golang-dnstap-dev
	# DNS clients and reference servers used by the integration tests and the demo
	bind9-dnsutils bind9-utils knot-dnsutils knot-dnssecutils ldnsutils
	knot knot-module-dnstap fstrm-bin unbound nsd dnsperf
	# test and demo plumbing: python3 (raw packets, differential check),
	# ip/ss (iproute2), ps/pgrep (procps), unshare (util-linux), tcpdump
	python3 iproute2 procps util-linux tcpdump
	# real scanners whose packets the darknet tests label (inside test namespaces)
	zmap masscan nmap hping3
)

missing=()
for p in "${PACKAGES[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	if [ "$status" != installed ]; then
		missing+=("$p")
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: all ${#PACKAGES[@]} packages present"
	exit 0
fi
echo "install-deps: missing: ${missing[*]}"
if [ "${1:-}" = --check ]; then
	exit 1
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
	if ! command -v sudo >/dev/null; then
		echo "install-deps: not root and no sudo; install the packages above as root" >&2
		exit 1
	fi
	SUDO=(sudo)
fi

# Keep maintainer scripts from starting knot/nsd/unbound (invoke-rc.d asks
# policy-rc.d; 101 = action forbidden).  Only a policy we put there is removed.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\n# installed by backscope tools/install-deps.sh\nexit 101\n' |
		"${SUDO[@]}" tee "$policy" >/dev/null
	"${SUDO[@]}" chmod 755 "$policy"
	own_policy=1
fi
cleanup() {
	if [ "$own_policy" = 1 ]; then
		"${SUDO[@]}" rm -f "$policy"
	fi
}
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
apt_opts=(-y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install "${apt_opts[@]}" \
	--no-install-recommends "${missing[@]}"

# The packaged units may still be enabled for the next boot; they would hold
# port 53 but never the ports the tests pick.  Stop any that did start anyway.
for svc in knot nsd unbound; do
	if command -v systemctl >/dev/null && systemctl is-active --quiet "$svc" 2>/dev/null; then
		"${SUDO[@]}" systemctl stop "$svc" || true
	fi
done
echo "install-deps: installed ${missing[*]}"

#!/bin/bash
# test_zones.sh — the sample zones stay loadable by the established servers:
# BIND's named-checkzone reads them as they are ($GENERATE included); Knot's
# kzonecheck and NSD's nsd-checkzone read BIND's expansion (they have no
# $GENERATE); backscope-authd -n accepts zones/backscope.conf and counts the
# same records as BIND.
source "$(dirname "$0")/lib.sh"
need named-checkzone named-compilezone kzonecheck nsd-checkzone

net=()
if unshare -n true 2>/dev/null; then
	net=(unshare -n) # named-checkzone may look names up: no network for it
fi
for origin in "$ZONE4" "$ZONE6"; do
	f="$ZONES_DIR/$origin.zone"
	OUT=$("${net[@]}" named-checkzone -i local "$origin" "$f" 2>&1)
	expect "named-checkzone $origin" grep "^OK$"
	expand_zone "$f" "$origin" "$T/$origin.zone"
	OUT=$(kzonecheck -v -o "$origin" "$T/$origin.zone" 2>&1)
	expect "kzonecheck $origin (expanded)" grep "No semantic error found"
	OUT=$(nsd-checkzone "$origin" "$T/$origin.zone" 2>&1)
	expect "nsd-checkzone $origin (expanded)" grep "is ok"
	bind_records=$(grep -cv '^;' "$T/$origin.zone")
	OUT=$("$BSC_AUTHD" -n -z "$origin=$f" 2>&1)
	expect "backscope-authd -n $origin: $bind_records records, as BIND expands them" \
		grep "^zone $origin\. serial [0-9]+, $bind_records records"
done
OUT=$("$BSC_AUTHD" -n -c "$ZONES_DIR/backscope.conf" 2>&1)
expect "backscope-authd -n -c zones/backscope.conf" grep "2 zone\(s\) OK"
finish

#!/usr/bin/env bash
# Snapshot selection: latest, id prefixes, --at TIME, filters.
. "$(dirname "$0")/lib.sh"

R=$T/repo
"$CAIRN" init -q -r "$R"
for h in 10 12 14; do
	echo "version at $h" | "$CAIRN" backup -q -r "$R" --stdin --stdin-name v --time "2026-11-21 $h:00:00" --tag "h$h"
done
echo "other host" | "$CAIRN" backup -q -r "$R" --stdin --stdin-name v --time "2026-11-21 13:00" --host other

check_exit 0 "--at between snapshots" "$CAIRN" dump -r "$R" --at "2026-11-21 12:30" v
check "--at picks the newest at or before" grep -qx "version at 12" "$T/last.out"
check_exit 0 "--at exactly at a snapshot" "$CAIRN" dump -r "$R" --at "2026-11-21 14:00:00" v
check "--at includes an exact match" grep -qx "version at 14" "$T/last.out"
check_exit 0 "--at with host filter" "$CAIRN" dump -r "$R" --at "2026-11-21 13:30" --host other v
check "host filter applied" grep -qx "other host" "$T/last.out"
check_exit 0 "--at in ISO 8601 with offset" "$CAIRN" dump -r "$R" --at "$(date -d '2026-11-21 10:30' --iso-8601=seconds)" v
check "ISO 8601 --at" grep -qx "version at 10" "$T/last.out"
check_exit 1 "--at before every snapshot" "$CAIRN" dump -r "$R" --at "2026-11-20 00:00" v
err_has "no snapshot at or before" "too-early --at explained"
check_exit 0 "latest" "$CAIRN" dump -r "$R" latest v
check "latest is the newest" grep -qx "version at 14" "$T/last.out"
check_exit 0 "latest with --tag" "$CAIRN" dump -r "$R" --tag h10 latest v
check "latest with tag filter" grep -qx "version at 10" "$T/last.out"
id=$("$CAIRN" snapshots -r "$R" --json --tag h12 | sed -n 's/.*"id":"\([0-9a-f]*\)".*/\1/p')
check_exit 0 "full id" "$CAIRN" dump -r "$R" "$id" v
check "full id selects" grep -qx "version at 12" "$T/last.out"
check_exit 0 "id prefix" "$CAIRN" dump -r "$R" "${id:0:6}" v
check "prefix selects" grep -qx "version at 12" "$T/last.out"
check_exit 1 "ambiguous prefix" "$CAIRN" dump -r "$R" "" v
check_exit 1 "bad --at" "$CAIRN" dump -r "$R" --at "noon" v
err_has "cannot parse time" "bad --at explained"
check_exit 0 "snapshots lists all" "$CAIRN" snapshots -r "$R"
check "four snapshots" grep -q '^4 snapshots$' "$T/last.out"
done_testing

#!/usr/bin/env bash
# copy between repositories, with and without shared chunker parameters.
. "$(dirname "$0")/lib.sh"
export CAIRN_TEST_WEAK_KDF=1

A=$T/a
"$CAIRN" init -q -r "$A"
gen_random 41 $((6 * 1024 * 1024)) "$T/d1"
head -c $((3 * 1024 * 1024)) "$T/d1" >"$T/d2"
gen_random 42 $((1024 * 1024)) "$T/x" && cat "$T/x" >>"$T/d2"
mkdir -p "$T/tree/sub" && echo one >"$T/tree/one" && echo two >"$T/tree/sub/two"
"$CAIRN" backup -q -r "$A" --stdin --stdin-name d --tag t1 <"$T/d1"
"$CAIRN" backup -q -r "$A" --stdin --stdin-name d --tag t2 <"$T/d2"
"$CAIRN" backup -q -r "$A" "$T/tree"

export CAIRN_FROM_PASSWORD="$CAIRN_PASSWORD"
# B: independent chunker parameters and keys
B=$T/b
"$CAIRN" init -q -r "$B"
check_exit 0 "copy into an independent repository" "$CAIRN" copy -r "$B" --from-repo "$A" --json
check "three snapshots copied" grep -q '"snapshots_copied":3' "$T/last.out"
check "ids differ without shared parameters" grep -q '"same_chunker_params":false' "$T/last.out"
check_exit 0 "dump of a copied stream" "$CAIRN" dump -r "$B" --tag t2 latest d
check "copied stream equals" cmp -s "$T/last.out" "$T/d2"
check_exit 0 "restore of a copied tree" "$CAIRN" restore -r "$B" latest --path "$T/tree" --target "$T/rb"
check "copied tree equals" diff -r "$T/tree" "$T/rb$T/tree"
check_exit 0 "copy again" "$CAIRN" copy -r "$B" --from-repo "$A" --json
check "copying again copies nothing" grep -q '"snapshots_copied":0,"snapshots_skipped":3' "$T/last.out"
check "copying again reads nothing" grep -q '"bytes_read":0' "$T/last.out"

# C: made with --copy-chunker-params: same ids, dedup survives
C=$T/c
check_exit 0 "init --copy-chunker-params" "$CAIRN" init -r "$C" --copy-chunker-params --from-repo "$A"
check_exit 0 "copy with shared parameters" "$CAIRN" copy -r "$C" --from-repo "$A" --json
check "ids shared with shared parameters" grep -q '"same_chunker_params":true' "$T/last.out"
check_exit 0 "a backup into C of data A already has" "$CAIRN" backup -r "$C" --stdin --stdin-name d <"$T/d1"
added=$(sed -n 's/^bytes added: //p' "$T/last.out")
check "deduplication survives the copy (added $added)" test "$added" -lt 100000
gen_random 43 $((2 * 1024 * 1024)) "$T/y"
cat "$T/d1" "$T/y" >"$T/d3"
"$CAIRN" backup -q -r "$C" --stdin --stdin-name d --tag back <"$T/d3"
check_exit 0 "copy back from C into A" "$CAIRN" copy -r "$A" --from-repo "$C" --tag back --json
added=$(sed -n 's/.*"bytes_added":\([0-9]*\).*/\1/p' "$T/last.out")
check "copy back transfers only the new data (added $added)" test "$added" -lt $((3 * 1024 * 1024))
check_exit 0 "dump of the copied-back stream" "$CAIRN" dump -r "$A" --tag back latest d
check "copied-back stream equals" cmp -s "$T/last.out" "$T/d3"
check_exit 1 "copy without a source" "$CAIRN" copy -r "$B"
CAIRN_FROM_PASSWORD=wrong check_exit 12 "copy with a wrong source password" "$CAIRN" copy -r "$B" --from-repo "$A"
done_testing

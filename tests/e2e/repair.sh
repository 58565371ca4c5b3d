#!/usr/bin/env bash
# The index is a cache and can be rebuilt: from index files (cache lost)
# and from pack headers (index files lost).
. "$(dirname "$0")/lib.sh"

R=$T/repo
"$CAIRN" init -q -r "$R" --pack-size 1M
gen_random 3 $((5 * 1024 * 1024)) "$T/a"
gen_random 4 $((3 * 1024 * 1024)) "$T/b"
"$CAIRN" backup -q -r "$R" --stdin --stdin-name a <"$T/a"
"$CAIRN" backup -q -r "$R" --stdin --stdin-name b <"$T/b"

rm -rf "$CAIRN_CACHE_DIR"
check_exit 0 "dump after the cache is deleted" "$CAIRN" dump -r "$R" latest b
check "cache rebuilt from index files" cmp -s "$T/last.out" "$T/b"

rm -f "$R"/index/*
rm -rf "$CAIRN_CACHE_DIR"
check_exit 1 "dump without index files fails" "$CAIRN" dump -r "$R" latest b
err_has "repair index" "error suggests repair index"
check_exit 0 "repair index" "$CAIRN" repair -r "$R" index
check "repair reports packs" grep -q "indexed .* blobs in .* packs" "$T/last.out"
check "index files written" test "$(ls "$R/index" | wc -l)" -ge 1
for f in a b; do
	snap=$("$CAIRN" snapshots -r "$R" --json | python3 -c "import json,sys; print([s['id'] for s in json.load(sys.stdin) if s['paths']==['/$f']][0])" 2>/dev/null)
	check_exit 0 "dump $f after repair" "$CAIRN" dump -r "$R" "$snap" "$f"
	check "dump $f after repair equals" cmp -s "$T/last.out" "$T/$f"
done

# The stale cache (index files replaced) is noticed and rebuilt.
before=$(ls "$R/index")
check_exit 0 "repair index again" "$CAIRN" repair -r "$R" index
check "old index files are replaced or identical" test -n "$(ls "$R/index")"
check_exit 0 "dump after a second repair" "$CAIRN" dump -r "$R" latest b
check "dump after second repair equals" cmp -s "$T/last.out" "$T/b"

# A backup after a repair deduplicates against the rebuilt index.
check_exit 0 "backup after repair" "$CAIRN" backup -r "$R" --stdin --stdin-name a <"$T/a"
added=$(sed -n 's/^bytes added: //p' "$T/last.out")
check "no data re-stored after repair (added $added)" test "$added" -lt 50000
done_testing

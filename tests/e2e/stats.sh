#!/usr/bin/env bash
# stats: restore size, unique data, ratios.
. "$(dirname "$0")/lib.sh"

R=$T/repo
"$CAIRN" init -q -r "$R"
gen_random 31 $((4 * 1024 * 1024)) "$T/a"
"$CAIRN" backup -q -r "$R" --stdin --stdin-name a <"$T/a"
"$CAIRN" backup -q -r "$R" --stdin --stdin-name a <"$T/a"
yes "compressible line of text" | head -c $((2 * 1024 * 1024)) | "$CAIRN" backup -q -r "$R" --stdin --stdin-name c
check_exit 0 "stats --json" "$CAIRN" stats -r "$R" --json
python3 - "$T/last.out" <<'PY' && ok "stats numbers add up" || not_ok "stats numbers add up"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["snapshots_count"] == 3, s
assert s["total_file_count"] == 3, s
assert s["total_size"] == 2 * 4 * 1024 * 1024 + 2 * 1024 * 1024, s
# the repeated stream is stored once, and the repeating text dedups within
# itself: unique data is the 4 MiB of random data plus a few text chunks
assert 4 * 1024 * 1024 <= s["total_uncompressed_size"] <= 6 * 1024 * 1024, s
assert s["deduplication_ratio"] > 1.6, s
assert s["compression_ratio"] >= 1.0, s
assert s["missing_blob_count"] == 0
assert s["repository_size"] >= s["total_stored_size"]
PY
check_exit 0 "stats of one snapshot, restore size only" "$CAIRN" stats -r "$R" --mode restore-size latest
check "restore size of one snapshot" grep -q "in 1 files" "$T/last.out"
check_exit 1 "stats with a bad mode" "$CAIRN" stats -r "$R" --mode bogus
done_testing

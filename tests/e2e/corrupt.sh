#!/usr/bin/env bash
# Damaged repositories: a flipped byte in a pack makes dump fail naming the
# pack and never write wrong bytes; damaged index files and snapshots are
# reported; truncated packs are caught.
. "$(dirname "$0")/lib.sh"

R=$T/repo
"$CAIRN" init -q -r "$R" --pack-size 1M
gen_random 7 $((6 * 1024 * 1024)) "$T/in"
"$CAIRN" backup -q -r "$R" --stdin --stdin-name in <"$T/in"
check_exit 0 "intact dump" "$CAIRN" dump -r "$R" latest in
check "intact dump equals" cmp -s "$T/last.out" "$T/in"

# Flip one byte in the middle of a data pack (the largest one).
pack=$(find "$R/data" -type f -printf '%s %p\n' | sort -n | tail -1 | cut -d' ' -f2)
cp "$pack" "$T/pack.bak"
size=$(stat -c %s "$pack")
off=$((size / 2))
b=$(od -An -tu1 -j "$off" -N1 "$pack" | tr -d ' ')
printf "$(printf '\\%03o' $(((b + 1) % 256)))" | dd of="$pack" bs=1 seek="$off" conv=notrunc 2>/dev/null
check "the byte was flipped" sh -c "! cmp -s '$pack' '$T/pack.bak'"
check_exit 1 "dump of a damaged pack fails" "$CAIRN" dump -r "$R" latest in
err_has "$(basename "$pack")" "error names the damaged pack"
err_has "damaged" "error says damaged"
# Nothing wrong may have been written: the output is a prefix of the input.
n=$(stat -c %s "$T/last.out")
check "output before the failure is correct ($n bytes)" cmp -s "$T/last.out" <(head -c "$n" "$T/in")
check "output stops before the input's end" test "$n" -lt "$(stat -c %s "$T/in")"
cp "$T/pack.bak" "$pack"
check_exit 0 "dump works again after restoring the pack" "$CAIRN" dump -r "$R" latest in

# A truncated pack: cut in the middle of the blobs.
truncate -s $((size / 2)) "$pack"
check_exit 1 "dump with a truncated pack fails" "$CAIRN" dump -r "$R" latest in
n=$(stat -c %s "$T/last.out")
check "truncated pack: output is a correct prefix" cmp -s "$T/last.out" <(head -c "$n" "$T/in")
cp "$T/pack.bak" "$pack"

# A missing pack.
mv "$pack" "$T/pack.moved"
check_exit 1 "dump with a missing pack fails" "$CAIRN" dump -r "$R" latest in
err_has "missing" "missing pack reported"
mv "$T/pack.moved" "$pack"

# A damaged snapshot object.
snap=$(ls "$R/snapshots/" | head -1)
cp "$R/snapshots/$snap" "$T/snap.bak"
printf 'X' | dd of="$R/snapshots/$snap" bs=1 seek=30 conv=notrunc 2>/dev/null
check_exit 1 "dump of a damaged snapshot fails" "$CAIRN" dump -r "$R" "${snap:0:12}" in
err_has "damaged" "damaged snapshot reported"
cp "$T/snap.bak" "$R/snapshots/$snap"

# A damaged index file, with the cache gone: reported with the fix.
idx=$(ls "$R/index/" | head -1)
cp "$R/index/$idx" "$T/idx.bak"
printf 'X' | dd of="$R/index/$idx" bs=1 seek=40 conv=notrunc 2>/dev/null
rm -rf "$CAIRN_CACHE_DIR"
check_exit 0 "a damaged index file does not stop listing" "$CAIRN" snapshots -r "$R"
err_has "index/$idx is damaged" "damaged index file named"
err_has "repair index" "the fix is named"
check_exit 1 "dump needing the damaged index file fails" "$CAIRN" dump -r "$R" latest in
err_has "not in the index" "unindexed blob reported"
check_exit 0 "repair index rebuilds from packs" "$CAIRN" repair -r "$R" index
check_exit 0 "dump after repair" "$CAIRN" dump -r "$R" latest in
check "dump after repair equals" cmp -s "$T/last.out" "$T/in"
check "damaged index file was replaced" test ! -e "$R/index/$idx"

# A damaged key file and config.
cp "$R/config" "$T/config.bak"
echo "garbage" >"$R/config"
check_exit 1 "malformed config is an error" "$CAIRN" snapshots -r "$R"
err_has "config object of .* is malformed" "malformed config reported"
cp "$T/config.bak" "$R/config"

# A faulty writer (bad memory): each data blob has a bit flipped after its
# id was computed, then is compressed and sealed as usual. The blobs
# decrypt, but do not match their ids: readers must refuse them, and
# check --read-data must name them.
R2=$T/repo-flip
"$CAIRN" init -q -r "$R2"
gen_random 8 $((600 * 1024)) "$T/in-flip"
CAIRN_TEST_WRITER_FLIP=1 check_exit 0 "a backup by the faulty writer (it cannot tell)" \
	"$CAIRN" backup -r "$R2" --stdin --stdin-name in-flip <"$T/in-flip"
check_exit 1 "dump of blobs that do not match their ids fails" \
	"$CAIRN" dump -r "$R2" latest in-flip
err_has "does not match its id" "the error says the content does not match its id"
err_has "data blob [0-9a-f]{64} in pack data/[0-9a-f]{2}/[0-9a-f]{64}" "it names the blob and the pack"
check "nothing was written" test ! -s "$T/last.out"
mkdir -p "$T/flip-out"
check_exit 1 "restore of them fails too" "$CAIRN" restore -r "$R2" latest --target "$T/flip-out"
err_has "does not match its id" "restore says why"
check "restore wrote no file with their bytes" \
	sh -c "! cmp -s '$T/flip-out/in-flip' '$T/in-flip' && ! find '$T/flip-out' -type f -size +1k | grep -q ."
check_exit 1 "check --read-data finds them" "$CAIRN" check -r "$R2" --read-data
done_testing

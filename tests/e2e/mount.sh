#!/usr/bin/env bash
# cairn mount: a real FUSE mount of the repository.
. "$(dirname "$0")/lib.sh"

if [ ! -c /dev/fuse ] || ! command -v fusermount3 >/dev/null; then
	skip "no /dev/fuse or fusermount3 on this machine"
	done_testing
	exit 0
fi
if "$CAIRN" mount --help >/dev/null 2>&1 && "$CAIRN" mount -r /nonexistent "$T" 2>&1 | grep -q "built without FUSE"; then
	skip "cairn was built without FUSE (install libfuse3-dev)"
	done_testing
	exit 0
fi

R=$T/repo
S=$T/src
M=$T/mnt
"$CAIRN" init -q -r "$R"
mkdir -p "$S/sub" "$M"
echo hello >"$S/a.txt"
gen_random 51 300000 "$S/sub/b.bin"
ln -s a.txt "$S/link"
mkfifo "$S/fifo"
for i in 1 2 3 4 5 6; do gen_random "f$i" $((2 * 1024 * 1024 + i)) "$S/sub/f$i"; done
python3 -c "import os; os.setxattr('$S/a.txt', 'user.k', b'v')" 2>/dev/null || true
"$CAIRN" backup -q -r "$R" "$S"
size=${CAIRN_TEST_MOUNT_BIG:-$((1024 * 1024 * 1024))}
gen_random 52 "$size" "$T/dump.sql"
"$CAIRN" backup -q -r "$R" --stdin --stdin-name dump.sql --tag db <"$T/dump.sql"

"$CAIRN" mount -r "$R" --refresh 1 "$M" 2>"$T/mount.err" &
mpid=$!
for i in $(seq 1 50); do [ -d "$M/snapshots" ] && break; sleep 0.2; done
check "mounted" test -d "$M/snapshots"
check "two snapshots listed" test "$(ls "$M/snapshots" | grep -vc latest)" -eq 2
check "latest is a link" test -L "$M/snapshots/latest"
check "ids view" test "$(ls "$M/ids" | wc -l)" -eq 2
check "hosts view" test -d "$M/hosts/$(hostname)"
check "tags view" test -f "$M/tags/db/$(ls "$M/tags/db")/dump.sql"
snap=$(ls "$M/snapshots" | grep -v latest | head -1)
check "diff -r of the mounted tree against the original" diff -r --no-dereference -x fifo "$S" "$M/snapshots/$snap$S"
meta() { (cd "$1" && find . \( -type d -printf '%p|%y|%m|%U|%G|-|%T@|\n' \) -o -printf '%p|%y|%m|%U|%G|%s|%T@|%l\n' | LC_ALL=C sort); }
if diff <(meta "$S") <(meta "$M/snapshots/$snap$S") >"$T/meta.diff"; then ok "stat metadata matches"; else
	not_ok "stat metadata matches"; head -3 "$T/meta.diff" | sed 's/^/# /'; fi
check "xattr through the mount" sh -c "getfattr -n user.k --only-values '$M/snapshots/$snap$S/a.txt' 2>/dev/null | grep -qx v || ! command -v getfattr >/dev/null"
check "cmp of the mounted big dump" cmp "$T/dump.sql" "$M/tags/db/$(ls "$M/tags/db")/dump.sql"
stat_of() { python3 -c "import json; print(json.load(open('$M/.cairn-stats'))['blobs_fetched'])"; }
before=$(stat_of)
off=$((size / 2 + 12345))
dd if="$M/snapshots/latest/dump.sql" bs=4096 skip=$((off / 4096)) count=1 2>/dev/null >"$T/piece"
dd if="$T/dump.sql" bs=4096 skip=$((off / 4096)) count=1 2>/dev/null >"$T/want"
after=$(stat_of)
check "random-offset read returns the right bytes" cmp -s "$T/piece" "$T/want"
check "random-offset read fetches few blobs ($((after - before)))" test $((after - before)) -le 4
pids=""
for i in 1 2 3 4 5 6; do cmp "$S/sub/f$i" "$M/snapshots/$snap$S/sub/f$i" >"$T/cat$i" 2>&1 & pids="$pids $!"; done
bad=0
for p in $pids; do wait "$p" || bad=$((bad + 1)); done
check "concurrent reads of six files" test $bad -eq 0
echo new >"$T/new"
"$CAIRN" backup -q -r "$R" --stdin --stdin-name new <"$T/new"
sleep 2.5
check "a new snapshot appears without remounting" test "$(ls "$M/snapshots" | grep -vc latest)" -eq 3
check "the new snapshot's file reads" grep -qx new "$M/snapshots/latest/new"
check "the mount holds a lock" test "$(ls "$R/locks" | wc -l)" -eq 1
check "writes are refused" sh -c "! (echo x >'$M/snapshots/latest/new') 2>/dev/null"
fusermount3 -u "$M"
for i in $(seq 1 50); do kill -0 $mpid 2>/dev/null || break; sleep 0.2; done
check "cairn mount exits after fusermount3 -u" sh -c "! kill -0 $mpid 2>/dev/null"
wait $mpid
check "unmount exits 0" test $? -eq 0
check "unmount releases the lock" test "$(ls "$R/locks" | wc -l)" -eq 0
"$CAIRN" mount -r "$R" "$M" 2>/dev/null &
mpid=$!
for i in $(seq 1 50); do [ -d "$M/snapshots" ] && break; sleep 0.2; done
kill -TERM $mpid
wait $mpid
check "SIGTERM unmounts cleanly (exit $?)" sh -c "! mountpoint -q '$M'"
check "SIGTERM releases the lock" test "$(ls "$R/locks" | wc -l)" -eq 0
done_testing

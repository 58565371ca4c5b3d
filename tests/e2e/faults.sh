#!/usr/bin/env bash
# Storage faults: a full disk or a failing write creates no snapshot, says
# what failed, and leaves a repository that the next backup and dump use.
. "$(dirname "$0")/lib.sh"

R=$T/repo
"$CAIRN" init -q -r "$R" --pack-size 1M
gen_random 5 $((8 * 1024 * 1024)) "$T/in"
printf 'small\n' >"$T/small"
"$CAIRN" backup -q -r "$R" --stdin --stdin-name small <"$T/small"
n0=$(ls "$R/snapshots" | wc -l)

CAIRN_TEST_FAULTS=enospc_after=3000000 check_exit 1 "backup onto a full disk fails" \
	"$CAIRN" backup -r "$R" --stdin --stdin-name in <"$T/in"
err_has "no space left" "full disk is named"
err_has "no snapshot was made" "says no snapshot was made"
check "no snapshot written on a full disk" test "$(ls "$R/snapshots" | wc -l)" -eq "$n0"
check_exit 0 "earlier snapshot still dumps" "$CAIRN" dump -r "$R" latest small
check "earlier snapshot intact" cmp -s "$T/last.out" "$T/small"

CAIRN_TEST_FAULTS=fail_put=snapshots/ check_exit 1 "failing snapshot write" \
	"$CAIRN" backup -r "$R" --stdin --stdin-name in <"$T/in"
check "no snapshot when its write fails" test "$(ls "$R/snapshots" | wc -l)" -eq "$n0"

CAIRN_TEST_FAULTS=fail_put=index/ check_exit 1 "failing index write" \
	"$CAIRN" backup -r "$R" --stdin --stdin-name in <"$T/in"
check "no snapshot when the index write fails" test "$(ls "$R/snapshots" | wc -l)" -eq "$n0"

check_exit 0 "backup after the faults" "$CAIRN" backup -r "$R" --stdin --stdin-name in <"$T/in"
check_exit 0 "dump after the faults" "$CAIRN" dump -r "$R" latest in
check "dump after the faults equals" cmp -s "$T/last.out" "$T/in"
check "no temporary files left" test -z "$(find "$R" -name '*.tmp-*')"

CAIRN_TEST_FAULTS=fail_get=data/ check_exit 1 "failing pack read" "$CAIRN" dump -r "$R" latest in
err_has "injected" "read failure reported"
check_exit 0 "check passes after the faults" "$CAIRN" check -r "$R" --read-data

# --- the index cache at the end of a backup
# A backup fills the cache while its last packs upload and commits once its
# index file is stored (saver_flush_index). Each case must leave a cache
# that lists every index file in the repository, and nothing else.
cache_db() { echo "$CAIRN_CACHE_DIR"/*/index.db; }
cache_files() {	# index files the cache recorded, one hex id per line, sorted
	python3 -c 'import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for (i,) in sorted(db.execute("SELECT id FROM files")): print(i.hex())' "$(cache_db)"
}
repo_files() { ls "$R/index" | sort; }
cache_blobs() {
	python3 -c 'import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM blobs").fetchone()[0])' "$(cache_db)"
}
if command -v python3 >/dev/null 2>&1; then
	check "the cache lists the repository's index files" test "$(cache_files)" = "$(repo_files)"

	gen_random 6 $((4 * 1024 * 1024)) "$T/in2"
	b0=$(cache_blobs)
	check_exit 0 "backup with a slow store (uploads outlast the cache's lock)" \
		env CAIRN_TEST_FAULTS=slow_put=1500 CAIRN_TEST_FLUSH_TX_MAX=1 \
		"$CAIRN" backup -vv -r "$R" --stdin --stdin-name in2 <"$T/in2"
	err_has "index cache's write lock is let go" "the cache lets its lock go when uploads take long"
	check "the cache lists the new index file" test "$(cache_files)" = "$(repo_files)"
	check "the cache holds the new blobs ($b0 before, $(cache_blobs) after)" \
		test "$(cache_blobs)" -gt "$b0"
	check_exit 0 "dump after the slow store" "$CAIRN" dump -r "$R" latest in2
	check "dump after the slow store equals" cmp -s "$T/last.out" "$T/in2"

	# another process holds the cache's write lock: the backup does not wait
	# for it until its uploads are done, then waits (SQLite's busy timeout)
	gen_random 7 $((3 * 1024 * 1024)) "$T/in3"
	python3 -c 'import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
open(sys.argv[2], "w").close()
time.sleep(3)
db.execute("COMMIT")' "$(cache_db)" "$T/locked" &
locker=$!
for _ in $(seq 1 50); do [ -e "$T/locked" ] && break; sleep 0.1; done
check_exit 0 "backup while another process writes to the cache" \
		"$CAIRN" backup -vv -r "$R" --stdin --stdin-name in3 <"$T/in3"
	wait "$locker"
	err_has "another process writes to the index cache" "the busy cache is noticed"
	check "the cache lists the index files after the wait" test "$(cache_files)" = "$(repo_files)"
	check_exit 0 "dump of the backup made while the cache was busy" \
		"$CAIRN" dump -r "$R" latest in3
	check "it equals its input" cmp -s "$T/last.out" "$T/in3"

	# the snapshot write fails after the index file is stored: the cache
	# drops the rows it was filling; the next command reads the index file
	gen_random 8 $((3 * 1024 * 1024)) "$T/in4"
	n1=$(ls "$R/snapshots" | wc -l)
	CAIRN_TEST_FAULTS=fail_put=snapshots/ check_exit 1 "failing snapshot write after the index" \
		"$CAIRN" backup -r "$R" --stdin --stdin-name in4 <"$T/in4"
	check "no snapshot" test "$(ls "$R/snapshots" | wc -l)" -eq "$n1"
	check "the cache does not list the new index file yet" \
		test "$(cache_files | wc -l)" -eq $(($(repo_files | wc -l) - 1))
	check_exit 0 "backup after it" "$CAIRN" backup -r "$R" --stdin --stdin-name in4 <"$T/in4"
	check "the cache read the index file it missed" test "$(cache_files)" = "$(repo_files)"
	check_exit 0 "check --read-data at the end" "$CAIRN" check -r "$R" --read-data

	# another machine (its own cache) prunes: the index files this cache
	# recorded are replaced, so the next command here rebuilds it
	old_files=$(cache_files)
	CAIRN_CACHE_DIR=$T/other-cache check_exit 0 "forget and prune from another cache" \
		"$CAIRN" forget -r "$R" --keep-last 1 --group-by host --prune
	check "prune replaced index files" test "$(repo_files)" != "$old_files"
	check_exit 0 "a command here after the prune" "$CAIRN" snapshots -v -r "$R"
	err_has "index cache is stale; rebuilding it" "the stale cache is noticed"
	check "the rebuilt cache lists the repository's index files" \
		test "$(cache_files)" = "$(repo_files)"
	check_exit 0 "dump after the rebuild" "$CAIRN" dump -r "$R" latest in4
	check "it equals its input" cmp -s "$T/last.out" "$T/in4"
	check_exit 0 "a command with nothing new to load" "$CAIRN" snapshots -v -r "$R"
	check "does not rebuild or load anything" sh -c "! grep -q 'stale\|loaded' '$T/last.err'"
else
	skip "index cache checks: python3 is missing"
fi
done_testing

#!/usr/bin/env bash
# Browsing snapshots: cairn ls, find and diff on a small file tree with a
# symlink, a FIFO, a subfolder, a name with a newline and one with a byte
# that is not UTF-8; then a known set of changes.
. "$(dirname "$0")/lib.sh"

export TZ=UTC	# -l and --json print local times
umask 022
R=$T/repo
S=$T/src
u=$(id -un)
g=$(id -gn)
nl=$'\n'
ff=$'\xff'

if ! command -v python3 >/dev/null 2>&1; then
	skip "python3 is missing: JSON output can't be parsed"
	done_testing
	exit
fi

# every entry below $S, and $S, get a fixed mtime (symlinks too: -h)
set_times() {
	find "$S" -depth -exec touch -h -d "$1" {} +
}

"$CAIRN" init -q -r "$R" || { not_ok "init"; done_testing; exit; }
mkdir -p "$S/sub/deep"
printf 'hello\n' >"$S/hello.txt"
printf 'edit me\n' >"$S/edit.txt"
printf 'gone\n' >"$S/gone.txt"
printf '#!/bin/sh\n' >"$S/mode.sh"
printf 'a file\n' >"$S/tofolder"
printf 'x' >"$S/sub/deep/inner.TXT"
printf 'nl' >"$S/new${nl}line"
printf 'ff' >"$S/bad${ff}name"
gen_random 7 300000 "$S/big.bin"
ln -s hello.txt "$S/link"
mkfifo "$S/fifo"
chmod 644 "$S"/*.txt "$S/mode.sh" "$S/tofolder" "$S/fifo"
chmod 755 "$S" "$S/sub" "$S/sub/deep"
set_times "2026-11-20 10:00:00"
printf 'old\n' >"$S/old.log"
touch -d "2020-01-01 12:00:00" "$S/old.log"
touch -d "2026-11-20 10:00:00" "$S"

check_exit 0 "backup of the tree" "$CAIRN" backup -r "$R" --time "2026-11-21 10:00" "$S"
id1=$(snap_id_of "$T/last.out")
check "first snapshot id printed" test -n "$id1"

# ---- ls ----
check_exit 0 "ls of the whole snapshot" "$CAIRN" ls -r "$R" "$id1"
check "ls lists the backed-up folder by its absolute path" grep -qxF "$S" "$T/last.out"
check "ls lists the ancestors of the backed-up folder" grep -qxF "${S%/*}" "$T/last.out"
cat >"$T/want" <<EOF
$S
$S/bad${ff}name
$S/big.bin
$S/edit.txt
$S/fifo
$S/gone.txt
$S/hello.txt
$S/link
$S/mode.sh
$S/new
line
$S/old.log
$S/sub
$S/sub/deep
$S/sub/deep/inner.TXT
$S/tofolder
EOF
check_exit 0 "ls SNAPSHOT PATH" "$CAIRN" ls -r "$R" "$id1" "$S"
check "ls PATH: the folder and everything below, depth first, bytewise order" \
	cmp -s "$T/want" "$T/last.out"
check_exit 0 "ls PATH without the leading slash" "$CAIRN" ls -r "$R" "$id1" "${S#/}/"
check "same listing without the leading slash" cmp -s "$T/want" "$T/last.out"

check_exit 0 "ls of a subfolder" "$CAIRN" ls -r "$R" "$id1" "$S/sub"
printf '%s\n' "$S/sub" "$S/sub/deep" "$S/sub/deep/inner.TXT" >"$T/want"
check "ls of a subfolder lists its subtree only" cmp -s "$T/want" "$T/last.out"
check_exit 0 "ls of a file" "$CAIRN" ls -r "$R" "$id1" "$S/hello.txt"
check "ls of a file lists that file only" test "$(cat "$T/last.out")" = "$S/hello.txt"
check_exit 1 "ls of a missing path" "$CAIRN" ls -r "$R" "$id1" "$S/nope"
err_has "$S/nope is not in the snapshot" "missing path named in the error"
check_exit 1 "ls of a path below a file" "$CAIRN" ls -r "$R" "$id1" "$S/hello.txt/x"
err_has "is not a folder" "path below a file explained"
check_exit 1 "ls of an unknown snapshot" "$CAIRN" ls -r "$R" ffffffff
check_exit 1 "ls without a snapshot" "$CAIRN" ls -r "$R"

check_exit 0 "ls -l" "$CAIRN" ls -r "$R" -l "$id1" "$S"
lline() { # MODE SIZE TIME PATH [-> TARGET]
	printf '%s %-8s %-8s %12s %s %s\n' "$1" "$u" "$g" "$2" "$3" "$4"
}
{
	lline drwxr-xr-x 0 "2026-11-20 10:00:00" "$S"
	lline -rw-r--r-- 6 "2026-11-20 10:00:00" "$S/hello.txt"
	lline prw-r--r-- 0 "2026-11-20 10:00:00" "$S/fifo"
	lline lrwxrwxrwx 9 "2026-11-20 10:00:00" "$S/link -> hello.txt"
	lline -rw-r--r-- 4 "2020-01-01 12:00:00" "$S/old.log"
	lline -rw-r--r-- 300000 "2026-11-20 10:00:00" "$S/big.bin"
} >"$T/want"
while IFS= read -r line; do
	check "ls -l line: $line" grep -qxF -- "$line" "$T/last.out"
done <"$T/want"
check "ls -l prints 16 lines (one name spans two)" test "$(wc -l <"$T/last.out")" -eq 16

check_exit 0 "ls --json" "$CAIRN" ls -r "$R" --json "$id1" "$S"
cat >"$T/ls.py" <<'EOF'
import json, sys
S = sys.argv[2]
objs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
by = {o["path"]: o for o in objs}
def want(cond, what):
    if not cond:
        print("# failed:", what)
        sys.exit(1)
want(len(objs) == 15, "15 objects, got %d" % len(objs))
want(all(o["struct_type"] == "node" for o in objs), "struct_type node")
nlname = S + "/new\nline"
want(nlname in by and by[nlname]["name"] == "new\nline", "newline name")
want(S + "/bad\u00ffname" in by, "invalid UTF-8 as \\u00ff")
want(by[S]["type"] == "dir" and by[S]["permissions"] == "drwxr-xr-x", "dir")
h = by[S + "/hello.txt"]
want(h["type"] == "file" and h["size"] == 6 and h["mode"] == 0o644, "hello.txt")
want(h["chunks"] == 1 and h["links"] == 1 and h["inode"] > 0, "hello.txt chunks/links/inode")
want(h["mtime"] == "2026-11-20T10:00:00Z", "mtime RFC 3339: " + h["mtime"])
want(isinstance(h["uid"], int) and isinstance(h["user"], str), "owner")
want(by[S + "/link"]["type"] == "symlink" and by[S + "/link"]["link_target"] == "hello.txt", "symlink")
want(by[S + "/fifo"]["type"] == "fifo", "fifo")
want(by[S + "/big.bin"]["chunks"] > 1, "big file in several chunks")
want(by[S + "/old.log"]["mtime"] == "2020-01-01T12:00:00Z", "old.log mtime")
want("chunks" not in by[S + "/sub"] and len(by[S + "/sub"]["subtree"]) == 64, "folder fields")
EOF
check "ls --json: one valid object per line with the node's fields" \
	python3 "$T/ls.py" "$T/last.out" "$S"

# ---- changes: add, remove, edit, chmod, file -> folder ----
printf 'added\n' >"$S/added.txt"
rm "$S/gone.txt"
printf 'edited, longer\n' >"$S/edit.txt"
chmod 755 "$S/mode.sh"
rm "$S/tofolder"
mkdir "$S/tofolder"
printf 'child!\n' >"$S/tofolder/child"
touch -d "2026-11-21 11:00:00" "$S/added.txt" "$S/edit.txt" "$S/tofolder/child" "$S/tofolder"
touch -d "2026-11-21 11:00:00" "$S"
check_exit 0 "second backup" "$CAIRN" backup -r "$R" --time "2026-11-21 12:00" "$S"
id2=$(snap_id_of "$T/last.out")
check_exit 0 "third backup, unchanged" "$CAIRN" backup -r "$R" --time "2026-11-21 13:00" "$S"
id3=$(snap_id_of "$T/last.out")

check_exit 0 "ls --at picks the older snapshot" "$CAIRN" ls -r "$R" --at "2026-11-21 11:00" "$S/gone.txt"
check_exit 1 "ls latest: the removed file is gone" "$CAIRN" ls -r "$R" latest "$S/gone.txt"

# ---- diff ----
check_exit 0 "diff" "$CAIRN" diff -r "$R" "$id1" "$id2"
cat >"$T/want" <<EOF
+    $S/added.txt
M    $S/edit.txt
-    $S/gone.txt
T    $S/tofolder/
+    $S/tofolder/child

Files:             2 new,     2 removed,     1 changed
Dirs:              1 new,     0 removed
Others:            0 new,     0 removed
Type changes:      1
EOF
head -n 10 "$T/last.out" >"$T/got"
check "diff: the change lines and totals" cmp -s "$T/want" "$T/got"
diff "$T/want" "$T/got" | sed 's/^/# /' | head -20
check "diff: metadata-only changes are counted" grep -Eq '^Metadata only: +([2-9]|[1-9][0-9]+) changed$' "$T/last.out"
# added 6 + 7 + 15 (new edit.txt), removed 5 + 7 + 8 (old edit.txt)
check "diff: bytes added" grep -qx 'Added:         28 B' "$T/last.out"
check "diff: bytes removed" grep -qx 'Removed:       20 B' "$T/last.out"

check_exit 0 "diff --metadata" "$CAIRN" diff -r "$R" --metadata "$id1" "$id2"
cat >"$T/want" <<EOF
U    $S/
+    $S/added.txt
M    $S/edit.txt
-    $S/gone.txt
U    $S/mode.sh
T    $S/tofolder/
+    $S/tofolder/child
EOF
grep -F "    $S/" "$T/last.out" >"$T/got"
check "diff --metadata adds U lines (folder first)" cmp -s "$T/want" "$T/got"
diff "$T/want" "$T/got" | sed 's/^/# /' | head -20

check_exit 0 "diff --json" "$CAIRN" diff -r "$R" --json "$id1" "$id2"
cat >"$T/diff.py" <<'EOF'
import json, sys
S, id1, id2 = sys.argv[2:5]
objs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
def want(cond, what):
    if not cond:
        print("# failed:", what, objs[-1])
        sys.exit(1)
ch = [(o["modifier"], o["path"]) for o in objs[:-1]]
want(ch == [("+", S + "/added.txt"), ("M", S + "/edit.txt"), ("-", S + "/gone.txt"),
            ("T", S + "/tofolder"), ("+", S + "/tofolder/child")], "changes %r" % ch)
want(all(o["message_type"] == "change" for o in objs[:-1]), "message_type change")
t = objs[3]
want(t["type"] == "dir" and t["old_type"] == "file" and t["old_size"] == 7, "type change")
m = objs[1]
want(m["old_size"] == 8 and m["size"] == 15, "sizes of the edited file")
s = objs[-1]
want(s["message_type"] == "statistics", "summary last")
want(s["source_snapshot"] == id1 and s["target_snapshot"] == id2, "snapshot ids")
want(s["changed_files"] == 1 and s["type_changed"] == 1 and s["metadata_changed"] >= 2, "counts")
want(s["added"] == {"files": 2, "dirs": 1, "others": 0, "bytes": 28}, "added")
want(s["removed"] == {"files": 2, "dirs": 0, "others": 0, "bytes": 20}, "removed")
EOF
check "diff --json: changes and summary numbers" python3 "$T/diff.py" "$T/last.out" "$S" "$id1" "$id2"

check_exit 0 "diff of a snapshot with itself" "$CAIRN" diff -r "$R" --json "$id2" "$id2"
check "same snapshot: only the summary, no tree loaded" python3 -c '
import json, sys
o = [json.loads(l) for l in open(sys.argv[1])]
sys.exit(not (len(o) == 1 and o[0]["trees_loaded"] == 0 and o[0]["added"]["files"] == 0))' "$T/last.out"
# the ancestors of $S (/tmp...) may have changed in between: no --metadata
check_exit 0 "diff of two backups of an unchanged tree" "$CAIRN" diff -r "$R" --json "$id2" "$id3"
check "unchanged tree: no change, only the summary" python3 -c '
import json, sys
o = [json.loads(l) for l in open(sys.argv[1])]
sys.exit(not (len(o) == 1 and o[0]["changed_files"] == 0 and o[0]["added"]["files"] == 0))' "$T/last.out"
check_exit 0 "diff with prefixes and latest" "$CAIRN" diff -r "$R" "${id1:0:10}" latest
check "diff latest: same change lines" grep -qxF "T    $S/tofolder/" "$T/last.out"
check_exit 1 "diff with one snapshot" "$CAIRN" diff -r "$R" "$id1"
check_exit 1 "diff with an unknown snapshot" "$CAIRN" diff -r "$R" "$id1" ffffffff

# ---- find ----
check_exit 0 "find a name in all snapshots" "$CAIRN" find -r "$R" 'gone.txt'
{
	echo "Found 1 match in snapshot ${id1:0:8} from 2026-11-21 10:00:00"
	lline -rw-r--r-- 5 "2026-11-20 10:00:00" "$S/gone.txt"
} >"$T/want"
check "find: one group, in the ls -l format" cmp -s "$T/want" "$T/last.out"
check_exit 0 "find *.txt" "$CAIRN" find -r "$R" '*.txt'
check "find *.txt: three groups" test "$(grep -c '^Found ' "$T/last.out")" -eq 3
check "find *.txt: 3 matches in the first snapshot" \
	grep -qx "Found 3 matches in snapshot ${id1:0:8} from 2026-11-21 10:00:00" "$T/last.out"
check "find *.txt: 3 matches in the second snapshot" \
	grep -qx "Found 3 matches in snapshot ${id2:0:8} from 2026-11-21 12:00:00" "$T/last.out"
check "find *.txt: groups separated by an empty line" test "$(grep -c '^$' "$T/last.out")" -eq 2
check "find *.txt: no case-insensitive match" sh -c "! grep -q inner.TXT '$T/last.out'"
check_exit 0 "find -i" "$CAIRN" find -r "$R" -i -s "$id1" 'INNER.txt'
check "find -i matches regardless of case" grep -q "$S/sub/deep/inner.TXT\$" "$T/last.out"
check_exit 0 "find with a full-path pattern" "$CAIRN" find -r "$R" -s "$id1" "$S/sub/*"
check "full-path pattern: 2 matches" grep -qx "Found 2 matches in snapshot ${id1:0:8} from .*" "$T/last.out"
check_exit 0 "find with a pattern that matches nothing" "$CAIRN" find -r "$R" 'no-such-*'
check "no match: nothing printed" test ! -s "$T/last.out"
check_exit 0 "find --older" "$CAIRN" find -r "$R" --older 2021-01-01 '*'
check "--older: old.log in each of the three snapshots" \
	test "$(grep -c " $S/old.log\$" "$T/last.out")" -eq 3
check "--older: nothing else" test "$(grep -c '^[-dlp]' "$T/last.out")" -eq 3
check_exit 0 "find --newer --older" "$CAIRN" find -r "$R" --newer "2026-11-21 10:30" \
	--older "2026-11-21T11:30:00Z" '*'
check "--newer: only in the later snapshots" sh -c "! grep -q '${id1:0:8}' '$T/last.out'"
check "--newer: the changed entries" \
	test "$(grep -c -e "$S/added.txt\$" -e "$S/tofolder/child\$" "$T/last.out")" -eq 4
check_exit 0 "find -s latest" "$CAIRN" find -r "$R" -s latest 'link'
check "-s latest: one group" grep -qx "Found 1 match in snapshot ${id3:0:8} from .*" "$T/last.out"
check "the link line shows its target" grep -qF "$S/link -> hello.txt" "$T/last.out"
check_exit 1 "find without a pattern" "$CAIRN" find -r "$R"
check_exit 1 "find with a bad time" "$CAIRN" find -r "$R" --newer yesterday-ish '*'
err_has "cannot parse time" "bad time explained"

check_exit 0 "find --json" "$CAIRN" find -r "$R" --json "bad${ff}name" "new${nl}line"
check "find --json: one object per match with its snapshot" python3 -c '
import json, sys
o = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
ids = [x["snapshot_id"] for x in o]
names = sorted(x["name"] for x in o)
ok = len(o) == 6 and ids[:2] == [sys.argv[2]] * 2 and set(ids) == set(sys.argv[2:5])
ok = ok and names == ["bad\u00ffname"] * 3 + ["new\nline"] * 3
sys.exit(not ok)' "$T/last.out" "$id1" "$id2" "$id3"

# The cache of unchanged folders must not change what is found.
set -f	# the patterns below are for cairn, not the shell
for pat in "*" "*.TXT" "$S/sub/*" "-i *.txt" "--newer 2026-11-21 *"; do
	# shellcheck disable=SC2086
	"$CAIRN" find -r "$R" -v $pat >"$T/cached" 2>"$T/cached.err"
	# shellcheck disable=SC2086
	CAIRN_TEST_FIND_CACHE=0 "$CAIRN" find -r "$R" -v $pat >"$T/uncached" 2>"$T/uncached.err"
	check "find $pat: same output with and without the subtree cache" cmp -s "$T/cached" "$T/uncached"
done
set +f
check "the cache answered folders" grep -Eq 'searched 3 snapshots: .* [1-9][0-9]* folders answered from the cache' "$T/cached.err"
check "without the cache none" grep -q ' 0 folders answered from the cache' "$T/uncached.err"
c_trees=$(sed -n 's/.* \([0-9]*\) trees loaded.*/\1/p' "$T/cached.err")
u_trees=$(sed -n 's/.* \([0-9]*\) trees loaded.*/\1/p' "$T/uncached.err")
check "the cache loads fewer trees ($c_trees < $u_trees)" test "${c_trees:-0}" -lt "${u_trees:-0}"

# The cache with big folders (more matches than one cache entry holds),
# folders nested in them, changes between snapshots and a cache so small
# that it is emptied again and again.
M=$T/many
mkdir -p "$M/big/inner" "$M/small/x/y" "$M/other"
for i in $(seq 1 300); do : >"$M/big/f$i"; done
for i in 1 2 3; do : >"$M/big/inner/f$i"; : >"$M/small/x/y/f$i"; done
: >"$M/other/f1"
"$CAIRN" backup -q -r "$R" "$M"
: >"$M/other/f2"
"$CAIRN" backup -q -r "$R" "$M"
: >"$M/big/f301"
"$CAIRN" backup -q -r "$R" "$M"
"$CAIRN" backup -q -r "$R" "$M"
set -f
for pat in "*" "f1*" "$M/big/*" "-i F2*"; do
	# shellcheck disable=SC2086
	CAIRN_TEST_FIND_CACHE=0 "$CAIRN" find -r "$R" --path "$M" $pat >"$T/uncached" 2>&1
	for size in "" 3000 300000; do
		# shellcheck disable=SC2086
		CAIRN_TEST_FIND_CACHE=$size "$CAIRN" find -r "$R" --path "$M" -v $pat \
			>"$T/cached" 2>"$T/cached.err"
		check "big folders, find $pat, cache ${size:-default}: same output as without" \
			cmp -s "$T/cached" "$T/uncached"
	done
done
set +f
CAIRN_TEST_FIND_CACHE=0 "$CAIRN" find -r "$R" --path "$M" '*' >"$T/star"
# 3 ancestors + big, 301 files, inner, 3 files + small/x/y, 3 files + other, 2 files
check "big folders: '*' finds 316, 317, 318, 318 entries" \
	test "$(sed -n 's/^Found \([0-9]*\) matches.*/\1/p' "$T/star" | tr '\n' ' ')" = "316 317 318 318 "
check "the default cache answered folders" grep -Eq ' [1-9][0-9]* folders answered from the cache' "$T/cached.err"

# ---- diff cost follows the change: 30 folders, one file changed ----
W=$T/wide
for i in $(seq -w 1 30); do
	mkdir -p "$W/d$i"
	printf 'file %s\n' "$i" >"$W/d$i/f"
done
check_exit 0 "backup of 30 folders" "$CAIRN" backup -r "$R" "$W"
w1=$(snap_id_of "$T/last.out")
printf 'changed!\n' >"$W/d17/f"
check_exit 0 "backup after changing one file" "$CAIRN" backup -r "$R" "$W"
w2=$(snap_id_of "$T/last.out")
check_exit 0 "diff of the two" "$CAIRN" diff -r "$R" --json "$w1" "$w2"
levels=$(($(printf '%s' "$W/d17" | tr -cd / | wc -c) + 1))
check "diff reads only the trees on the changed path (2 x $levels) and skips 29 folders" python3 -c '
import json, sys
s = [json.loads(l) for l in open(sys.argv[1])][-1]
print("# trees_loaded %d, trees_skipped %d" % (s["trees_loaded"], s["trees_skipped"]))
sys.exit(not (s["trees_loaded"] == 2 * int(sys.argv[2]) and s["trees_skipped"] == 29
              and s["changed_files"] == 1))' "$T/last.out" "$levels"

# ---- damaged repository: errors, not silence ----
cp -a "$R" "$T/broken"
find "$T/broken/data" -type f -exec rm {} +
check_exit 1 "ls on a repository without packs" "$CAIRN" ls -r "$T/broken" --cache-dir "$T/cache2" "$id1"
err_has "missing|not in the index" "ls names what is missing"
check_exit 1 "find on a repository without packs" "$CAIRN" find -r "$T/broken" --cache-dir "$T/cache2" '*'
err_has "could not be searched completely" "find reports each snapshot it could not search"
check_exit 1 "diff on a repository without packs" "$CAIRN" diff -r "$T/broken" --cache-dir "$T/cache2" "$id1" "$id2"

done_testing

#!/usr/bin/env bash
# File trees: every file type and its metadata survive backup and restore;
# incremental backups don't read unchanged files; excludes and includes;
# unreadable files give exit 3 with the rest stored.
. "$(dirname "$0")/lib.sh"

R=$T/repo
S=$T/src
"$CAIRN" init -q -r "$R"
mkdir -p "$S/sub/deeper" "$S/empty-dir"
echo hello >"$S/a.txt"
: >"$S/zero"
gen_random 11 300000 "$S/sub/random.bin"
printf 'x' >"$S/sub/deeper/one"
ln "$S/a.txt" "$S/sub/hardlink-to-a"
ln -s a.txt "$S/link"
ln -s /nonexistent/target "$S/dangling"
mkfifo "$S/fifo"
chmod 0751 "$S/sub"
chmod 4755 "$S/sub/deeper/one"
touch -d "2001-02-03 04:05:06.123456789" "$S/zero"
# names with a newline and with invalid UTF-8
printf 'nl' >"$S/$(printf 'new\nline')"
printf 'bad' >"$S/$(printf 'inv\xffalid')"
# xattrs
python3 -c "import os; os.setxattr('$S/a.txt', 'user.color', b'blue'); os.setxattr('$S/sub', 'user.k', b'\x00\x01')" 2>/dev/null &&
	have_xattr=1 || have_xattr=0
# a sparse file with data at both ends
truncate -s 2G "$S/sparse"
printf 'HEAD' | dd of="$S/sparse" conv=notrunc 2>/dev/null
printf 'TAIL' | dd of="$S/sparse" bs=1 seek=$((2 * 1024 * 1024 * 1024 - 4)) conv=notrunc 2>/dev/null
# deep nesting: 200 levels
d=$S/deep
for i in $(seq 1 200); do d=$d/d$i; done
mkdir -p "$d" && echo bottom >"$d/file"
# device node (root only)
if [ "$(id -u)" -eq 0 ]; then mknod "$S/null" c 1 3 && have_dev=1; else have_dev=0; fi
# a socket is skipped with a note
python3 -c "import socket; s=socket.socket(socket.AF_UNIX); s.bind('$S/sock')"

check_exit 0 "backup of a tree with every file type" "$CAIRN" backup -r "$R" "$S"
err_has "skipping .*sock" "the socket is skipped with a note"
id1=$(snap_id_of "$T/last.out")
check "snapshot id printed" test -n "$id1"

check_exit 0 "restore" "$CAIRN" restore -r "$R" latest --target "$T/r1"
check "restored under its full path" test -d "$T/r1$S"
check "contents equal" diff -r --no-dereference -x fifo -x null -x sock "$S" "$T/r1$S"
# compare metadata of every entry (atime and sockets excluded)
meta() { (cd "$1" && find . ! -type s ! -name sock -printf '%p|%y|%m|%U|%G|%s|%T@|%l|%n\n' | LC_ALL=C sort); }
meta "$S" >"$T/m.src"
meta "$T/r1$S" >"$T/m.dst"
if diff "$T/m.src" "$T/m.dst" >"$T/m.diff"; then ok "metadata of every entry equal"; else
	not_ok "metadata of every entry equal"
	head -5 "$T/m.diff" | sed 's/^/# /'
fi
check "hard link restored as a link" test "$(stat -c %i "$T/r1$S/a.txt")" = "$(stat -c %i "$T/r1$S/sub/hardlink-to-a")"
check "sparse file keeps its holes" test "$(stat -c %b "$T/r1$S/sparse")" -lt 1000
check "sparse file content" sh -c "head -c 4 '$T/r1$S/sparse' | grep -q HEAD && tail -c 4 '$T/r1$S/sparse' | grep -q TAIL"
check "nanosecond mtime restored" test "$(stat -c %y "$T/r1$S/zero")" = "$(stat -c %y "$S/zero")"
check "fifo restored" test -p "$T/r1$S/fifo"
check "setuid bit restored" test -u "$T/r1$S/sub/deeper/one"
if [ "$have_xattr" = 1 ]; then
	check "xattr restored" python3 -c "import os,sys; sys.exit(os.getxattr('$T/r1$S/a.txt','user.color')!=b'blue')"
	check "binary xattr on a folder restored" python3 -c "import os,sys; sys.exit(os.getxattr('$T/r1$S/sub','user.k')!=b'\x00\x01')"
else
	skip "xattrs not supported here"
	skip "xattrs not supported here"
fi
if [ "$have_dev" = 1 ]; then
	check "device node restored" test "$(stat -c %t,%T "$T/r1$S/null")" = "1,3"
else
	skip "device nodes need root"
fi
check "deep nesting restored" test "$(cat "$T/r1$d/file")" = bottom
check "socket not restored" test ! -e "$T/r1$S/sock"

# incremental: nothing is read again, the tree is identical
check_exit 0 "unchanged second backup" "$CAIRN" backup -r "$R" --json "$S"
summary=$(grep '"message_type":"summary"' "$T/last.out")
check "unchanged backup reads 0 bytes" sh -c "echo '$summary' | grep -q '\"bytes_read\":0,'"
check "unchanged backup: all files unmodified" sh -c "echo '$summary' | grep -q '\"files_new\":0,\"files_changed\":0,'"
# the tree of $S in each snapshot (folders above it may change: /tmp does)
subtree_of() {
	python3 - "$CAIRN" "$R" "$1" "$S" <<'PY'
import json, subprocess, sys
cairn, repo, snap, path = sys.argv[1:5]
cat = lambda *a: json.loads(subprocess.check_output([cairn, "cat", "-r", repo] + list(a)))
tree = cat("snapshot", snap)["tree"]
for comp in path.strip("/").split("/"):
    node = [n for n in cat("tree", tree)["nodes"] if n["name"] == comp][0]
    tree = node["subtree"]
print(tree)
PY
}
ids=$("$CAIRN" snapshots -r "$R" --json | python3 -c "import json,sys; print(' '.join(s['id'] for s in json.load(sys.stdin)))")
set -- $ids
check "unchanged backup yields the identical tree" test "$(subtree_of "$1")" = "$(subtree_of "$2")"
check "unchanged backup has the first as parent" sh -c "'$CAIRN' snapshots -r '$R' --json | grep -q '\"parent\":\"$id1\"'"
echo changed >>"$S/sub/deeper/one"
check_exit 0 "backup after one change" "$CAIRN" backup -r "$R" --json "$S"
summary=$(grep '"message_type":"summary"' "$T/last.out")
check "only the changed file is read" sh -c "echo '$summary' | grep -q '\"files_new\":0,\"files_changed\":1,'"
check_exit 0 "--force reads everything" "$CAIRN" backup -r "$R" --force --json "$S"
summary=$(grep '"message_type":"summary"' "$T/last.out")
check "--force reads the files again" sh -c "echo '$summary' | grep -vq '\"bytes_read\":0,'"

# excludes
printf '*.bin\n# comment\n' >"$T/excl"
check_exit 0 "backup with excludes" "$CAIRN" backup -r "$R" --exclude 'deep' --exclude-file "$T/excl" --tag ex "$S"
check_exit 0 "restore of the excluded backup" "$CAIRN" restore -r "$R" --tag ex latest --target "$T/r2"
check "excluded pattern left out" test ! -e "$T/r2$S/sub/random.bin"
check "excluded folder left out" test ! -e "$T/r2$S/deep"
check "the rest is there" test -f "$T/r2$S/a.txt"
mkdir -p "$S/cache" && printf 'Signature: 8a477f597d28d172789f06886806bc55\n' >"$S/cache/CACHEDIR.TAG" && echo junk >"$S/cache/junk"
check_exit 0 "backup with --exclude-caches" "$CAIRN" backup -r "$R" --exclude-caches --tag cache "$S"
check_exit 0 "restore of it" "$CAIRN" restore -r "$R" --tag cache latest --target "$T/r3"
check "cache contents left out" test ! -e "$T/r3$S/cache/junk"
check "cache tag kept" test -f "$T/r3$S/cache/CACHEDIR.TAG"

# restore filters and overwrite policy
check_exit 0 "restore with --include" "$CAIRN" restore -r "$R" "$id1" --target "$T/r4" --include "$S/sub"
check "included folder restored" test -f "$T/r4$S/sub/deeper/one"
check "others not restored" test ! -e "$T/r4$S/a.txt"
check_exit 0 "restore with --exclude" "$CAIRN" restore -r "$R" "$id1" --target "$T/r5" --exclude '*.txt'
check "restore exclude" test ! -e "$T/r5$S/a.txt" -a -e "$T/r5$S/zero"
check_exit 1 "restore into a non-empty target is refused" "$CAIRN" restore -r "$R" "$id1" --target "$T/r1"
err_has "--overwrite" "refusal names --overwrite"
echo local-edit >"$T/r1$S/a.txt"
check_exit 0 "--overwrite never keeps existing files" "$CAIRN" restore -r "$R" "$id1" --target "$T/r1" --overwrite never
check "existing file kept" grep -q local-edit "$T/r1$S/a.txt"
check_exit 0 "--overwrite if-changed replaces changed files" "$CAIRN" restore -r "$R" "$id1" --target "$T/r1" --overwrite if-changed
check "changed file replaced" grep -qx hello "$T/r1$S/a.txt"
check_exit 0 "--overwrite always with --verify" "$CAIRN" restore -r "$R" "$id1" --target "$T/r1" --overwrite always --verify
check "content after overwrite" diff -r --no-dereference "$S/sub/deeper" "$T/r1$S/sub/deeper" -q -x one

# many small files
python3 - "$T/many" <<'PY'
import os, sys
base = sys.argv[1]
for i in range(100000):
    d = os.path.join(base, "d%03d" % (i // 1000))
    if i % 1000 == 0:
        os.makedirs(d)
    with open(os.path.join(d, "f%05d" % i), "w") as f:
        f.write("file %d\n" % i)
PY
check_exit 0 "backup of 100,000 small files" "$CAIRN" backup -r "$R" --tag many "$T/many"
check_exit 0 "restore of 100,000 small files" "$CAIRN" restore -r "$R" --tag many latest --target "$T/r6"
check "100,000 small files equal" diff -r "$T/many" "$T/r6$T/many"

# unreadable files: exit 3, snapshot marked incomplete, the rest stored
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
	chmod 711 "$T"
	U=$T/user
	mkdir -p "$U/src" && echo ok >"$U/src/readable" && echo secret >"$U/src/unreadable"
	chmod 000 "$U/src/unreadable"
	chown -R 65534:65534 "$U"
	chown 0:0 "$U/src/unreadable"
	runas() { setpriv --reuid=65534 --regid=65534 --clear-groups env HOME="$U" CAIRN_CACHE_DIR="$U/cache" "$@"; }
	runas "$CAIRN" init -q -r "$U/repo"
	check_exit 3 "unreadable file gives exit 3" runas "$CAIRN" backup -r "$U/repo" "$U/src"
	err_has "cannot read .*unreadable" "the unreadable file is named"
	check "snapshot marked incomplete" sh -c "setpriv --reuid=65534 --regid=65534 --clear-groups env HOME='$U' CAIRN_CACHE_DIR='$U/cache' '$CAIRN' snapshots -r '$U/repo' | grep -q incomplete"
	runas "$CAIRN" dump -r "$U/repo" latest "$U/src/readable" >"$T/readable.out" 2>/dev/null
	check "the readable file is stored" grep -qx ok "$T/readable.out"
else
	skip "unreadable-file test needs root and setpriv"
fi
done_testing

#!/usr/bin/env bash
# Archives: `cairn import` of a GNU tar with every file type (hard links,
# symlinks, a FIFO, a device, an empty file, a sparse file, xattrs, odd
# names) restores to the same tree; `restore --archive` writes .tar,
# .tar.gz, .tar.zst and .zip that bsdtar/GNU tar extract to the same tree;
# a round trip tar -> import -> --archive -> import -> restore equals the
# source; truncated or non-archives make no snapshot; duplicates, '..'
# entries, standard input, --include, '-' output, refusing to overwrite.
. "$(dirname "$0")/lib.sh"

R=$T/repo
S=$T/src
"$CAIRN" init -q -r "$R" || { not_ok "init"; done_testing; exit 1; }

# --- the source tree ------------------------------------------------------
mkdir -p "$S/sub/deeper" "$S/empty-dir" "$S/other"
echo hello >"$S/a.txt"
: >"$S/zero"
gen_random 21 3000000 "$S/sub/random.bin"
printf 'x' >"$S/sub/deeper/one"
ln "$S/a.txt" "$S/sub/hardlink-to-a"
ln "$S/a.txt" "$S/other/second-link"
ln -s a.txt "$S/link"
ln -s /nonexistent/target "$S/dangling"
mkfifo "$S/fifo"
chmod 0751 "$S/sub"
chmod 4755 "$S/sub/deeper/one"
chmod 0600 "$S/zero"
touch -d "2001-02-03 04:05:06.123456789" "$S/zero"
touch -h -d "2002-03-04 05:06:07.5" "$S/link"
printf 'nl' >"$S/$(printf 'new\nline')"
printf 'bad' >"$S/$(printf 'inv\xffalid')"
printf 'utf' >"$S/$(printf 'caf\xc3\xa9 au lait')"
long=$(printf 'n%.0s' $(seq 1 150))
mkdir -p "$S/$long/$long"
echo deep >"$S/$long/$long/file"
# a sparse file with data at both ends
truncate -s 32M "$S/sparse"
printf 'HEAD' | dd of="$S/sparse" conv=notrunc 2>/dev/null
printf 'TAIL' | dd of="$S/sparse" bs=1 seek=$((32 * 1024 * 1024 - 4)) conv=notrunc 2>/dev/null
if [ "$(id -u)" -eq 0 ]; then mknod "$S/null" c 1 3 && have_dev=1; else have_dev=0; fi
have_xattr=0
if command -v setfattr >/dev/null && command -v getfattr >/dev/null &&
	setfattr -n user.color -v blue "$S/a.txt" 2>/dev/null; then
	setfattr -n user.k -v 0x0001 "$S/sub" && have_xattr=1
fi
# folders last, so their times are not changed by what is created in them
touch -d "2003-04-05 06:07:08.25" "$S/empty-dir" "$S/sub/deeper"

# tree_list DIR: one line per entry with what a restore must keep
# (folders' sizes depend on the file system, so not theirs).
tree_list() {
	(cd "$1" && find . -mindepth 1 \( -type d -printf '%p %y %m %U %G %T@ - %n\n' \) -o \
		-printf '%p %y %m %U %G %T@ %s %l %n\n' | LC_ALL=C sort)
}
# same_tree DESC SRC DIR: contents (diff -r, special files by type) and metadata.
same_tree() {
	local out
	out=$(diff -r --no-dereference "$2" "$3" 2>&1 |
		grep -v -E '^File .* is a (fifo|character special file) while file .* is a (fifo|character special file)$')
	if [ -z "$out" ]; then ok "$1: same contents"; else
		not_ok "$1: same contents"
		printf '%s\n' "$out" | head -5 | sed 's/^/# /'
	fi
	tree_list "$2" >"$T/list.src"
	tree_list "$3" >"$T/list.dst"
	if cmp -s "$T/list.src" "$T/list.dst"; then ok "$1: same metadata"; else
		not_ok "$1: same metadata"
		diff "$T/list.src" "$T/list.dst" | head -8 | sed 's/^/# /'
	fi
	if [ "$have_xattr" = 1 ]; then
		check "$1: xattrs kept" test "$(getfattr --absolute-names -n user.color --only-values "$3/a.txt" 2>/dev/null)" = blue -a \
			"$(getfattr --absolute-names -n user.k -e hex "$3/sub" 2>/dev/null | sed -n 's/^user.k=//p')" = 0x0001
	else
		skip "$1: xattrs (setfattr from the attr package is missing, or the file system has no user xattrs)"
	fi
	check "$1: three paths of one inode" test "$(stat -c %i "$3/a.txt")" = "$(stat -c %i "$3/sub/hardlink-to-a")" -a \
		"$(stat -c %i "$3/a.txt")" = "$(stat -c %i "$3/other/second-link")"
}
nsnaps() { ls "$R/snapshots" | wc -l; }

# --- import a GNU tar ------------------------------------------------------
check "GNU tar writes the source archive" tar --xattrs -S -cpf "$T/src.tar" -C "$S" .
check_exit 0 "import of the tar" "$CAIRN" import -r "$R" --tag imp --host h1 "$T/src.tar"
id=$(snap_id_of "$T/last.out")
check "import prints the snapshot id" test -n "$id"
check "import counts files and hard links" grep -q "imported tar archive: 9 files, 6 folders, 2 hard links, 2 symlinks, $((1 + have_dev)) others" "$T/last.out"
check_exit 0 "snapshots --json" "$CAIRN" snapshots -r "$R" --json
python3 - "$T/last.out" <<'PY' && ok "snapshot records path src.tar, format tar, tag and host" || not_ok "snapshot records path src.tar, format tar, tag and host"
import json, sys
s = json.load(open(sys.argv[1]))[-1]
assert s["paths"] == ["src.tar"], s["paths"]
assert s["hostname"] == "h1" and s["tags"] == ["imp"]
assert s["input_format"] == "tar", s.get("input_format")
PY
check_exit 0 "restore of the import" "$CAIRN" restore -r "$R" "$id" --target "$T/r1"
same_tree "import -> restore" "$S" "$T/r1"
check "sparse file content" test "$(head -c 4 "$T/r1/sparse")$(tail -c 4 "$T/r1/sparse")" = HEADTAIL

before=$(du -sb "$R" | cut -f1)
check_exit 0 "second import of the same tar" "$CAIRN" import -r "$R" "$T/src.tar"
after=$(du -sb "$R" | cut -f1)
check "second import adds < 50 KB ($((after - before)))" test $((after - before)) -lt 50000

# --- restore --archive -------------------------------------------------------
if command -v bsdtar >/dev/null; then have_bsdtar=1; else have_bsdtar=0; fi
for ext in tar tar.gz tar.zst; do
	check_exit 0 "restore --archive out.$ext" "$CAIRN" restore -r "$R" "$id" --archive "$T/out.$ext"
	check "out.$ext: counts in the summary" grep -q "restored 9 files" "$T/last.out"
	if [ "$have_bsdtar" = 1 ]; then
		mkdir -p "$T/x-$ext"
		check "bsdtar extracts out.$ext" bsdtar -xpf "$T/out.$ext" -C "$T/x-$ext"
		same_tree "--archive out.$ext -> bsdtar" "$S" "$T/x-$ext"
	else
		skip "out.$ext: bsdtar is missing (Debian package libarchive-tools)"
	fi
done
check "out.tar.gz is gzip, out.tar.zst is zstd" test "$(head -c 2 "$T/out.tar.gz" | od -An -tx1 | tr -d ' ')" = 1f8b -a \
	"$(head -c 4 "$T/out.tar.zst" | od -An -tx1 | tr -d ' ')" = 28b52ffd
mkdir -p "$T/g-tar"
# (GNU tar notes the pax hdrcharset record of the name that is not UTF-8)
check "GNU tar extracts out.tar" tar --xattrs --xattrs-include='*' -xpf "$T/out.tar" -C "$T/g-tar" 2>/dev/null
same_tree "--archive out.tar -> GNU tar" "$S" "$T/g-tar"
check "GNU tar lists hard-link entries" test "$(tar -tvf "$T/out.tar" 2>/dev/null | grep -c ' link to a.txt$')" -eq 2

check_exit 0 "restore --archive out.zip" "$CAIRN" restore -r "$R" "$id" --archive "$T/out.zip"
err_has "zip cannot hold devices or FIFOs" "zip: FIFO left out with a warning"
if [ "$have_bsdtar" = 1 ]; then
	mkdir -p "$T/x-zip"
	check "bsdtar extracts out.zip" bsdtar -xpf "$T/out.zip" -C "$T/x-zip"
	out=$(diff -r --no-dereference "$S" "$T/x-zip" 2>&1 | grep -v -E "^Only in $S: (fifo|null)\$")
	check "zip: same contents but the FIFO and device" test -z "$out"
	(cd "$S" && find . -mindepth 1 ! -type p ! -type c ! -type d -printf '%p %m %Ts %s %l\n' | LC_ALL=C sort) >"$T/z.src"
	(cd "$T/x-zip" && find . -mindepth 1 ! -type d -printf '%p %m %Ts %s %l\n' | LC_ALL=C sort) >"$T/z.dst"
	check "zip: modes, mtimes (s), sizes and link targets" cmp -s "$T/z.src" "$T/z.dst"
else
	skip "zip: bsdtar is missing (Debian package libarchive-tools)"
fi

# --- round trip: tar -> import -> --archive -> import -> restore ---------------
check_exit 0 "import of cairn's own archive" "$CAIRN" import -r "$R" "$T/out.tar.zst"
id2=$(snap_id_of "$T/last.out")
check_exit 0 "restore of the re-import" "$CAIRN" restore -r "$R" "$id2" --target "$T/r2"
same_tree "round trip" "$S" "$T/r2"
check_exit 0 "import of the zip" "$CAIRN" import -r "$R" "$T/out.zip"
check "zip import counts" grep -q "imported zip archive: 11 files" "$T/last.out"
# cpio (newc) sends a link group's data with its last path
if [ "$have_bsdtar" = 1 ]; then
	bsdtar --format newc -cf "$T/src.cpio" -C "$S" . 2>/dev/null
	check_exit 0 "import of a newc cpio" "$CAIRN" import -r "$R" "$T/src.cpio"
	check_exit 0 "restore of the cpio import" "$CAIRN" restore -r "$R" latest --target "$T/r-cpio"
	out=$(diff -r --no-dereference "$S" "$T/r-cpio" 2>&1 | grep -v -E '^File .* is a (fifo|character special file) while')
	check "cpio: same contents" test -z "$out"
	check "cpio: hard links kept" test "$(stat -c %i "$T/r-cpio/a.txt")" = "$(stat -c %i "$T/r-cpio/other/second-link")" -a \
		"$(stat -c %h "$T/r-cpio/a.txt")" = 3
else
	skip "cpio: bsdtar is missing (Debian package libarchive-tools)"
fi

# --- refused archives ---------------------------------------------------------
n=$(nsnaps)
size=$(stat -c %s "$T/src.tar")
head -c $((size / 2)) "$T/src.tar" >"$T/trunc.tar"
check_exit 1 "a truncated tar is refused" "$CAIRN" import -r "$R" "$T/trunc.tar"
err_has "[Tt]runcated" "the message says truncated"
err_has "trunc.tar" "the message names the archive"
gzip -c "$T/src.tar" | head -c 100000 >"$T/trunc.tar.gz"
check_exit 1 "a truncated tar.gz is refused" "$CAIRN" import -r "$R" "$T/trunc.tar.gz"
gen_random 5 20000 "$T/noise"
check_exit 1 "a file that is no archive is refused" "$CAIRN" import -r "$R" "$T/noise"
err_has "not an archive" "the message says it is not an archive"
check_exit 1 "a missing archive is refused" "$CAIRN" import -r "$R" "$T/nonexistent.tar"
check "no snapshot was made by the refused imports" test "$(nsnaps)" -eq "$n"

# --- standard input, odd entries ------------------------------------------------
gzip -c "$T/src.tar" >"$T/src.tar.gz"
check_exit 0 "import from standard input (gzip)" sh -c "'$CAIRN' import -r '$R' - <'$T/src.tar.gz'"
check_exit 0 "stdin import is named stdin" "$CAIRN" restore -r "$R" latest --path stdin --target "$T/r3"
same_tree "stdin import" "$S" "$T/r3"

python3 - "$T/odd.tar" <<'PY' || not_ok "python3 writes a crafted tar"
import io, sys, tarfile
def add(t, name, kind=tarfile.REGTYPE, data=b"", link="", mode=0o644):
    ti = tarfile.TarInfo(name); ti.type = kind; ti.mode = mode; ti.mtime = 1600000000
    ti.linkname = link; ti.size = len(data) if kind == tarfile.REGTYPE else 0
    t.addfile(ti, io.BytesIO(data) if ti.size else None)
with tarfile.open(sys.argv[1], "w", format=tarfile.GNU_FORMAT) as t:
    add(t, "../escape", data=b"no")
    add(t, "ok/../../escape2", data=b"no")
    add(t, "./top/file", data=b"first")
    add(t, "/top/file", data=b"second wins")
    add(t, "top/later/x", data=b"x")
    add(t, "top/later", kind=tarfile.DIRTYPE, mode=0o710)
    add(t, "plain", data=b"p")
    add(t, "plain", kind=tarfile.SYMTYPE, link="top")
    add(t, "nolink", kind=tarfile.LNKTYPE, link="missing")
PY
check_exit 0 "import of a tar with '..', duplicates and late folders" "$CAIRN" import -r "$R" "$T/odd.tar"
err_has "leaving out \.\./escape: it has a '\.\.' component" "'..' entry left out with a warning"
err_has "top/file appears twice" "duplicate named in a warning"
err_has "leaving out nolink" "hard link to a missing target left out"
check_exit 0 "restore of the odd import" "$CAIRN" restore -r "$R" latest --target "$T/r4"
check "the later duplicate wins" test "$(cat "$T/r4/top/file")" = "second wins"
check "a file replaced by a symlink" test -L "$T/r4/plain"
check "a folder listed after its contents keeps them and its mode" test -f "$T/r4/top/later/x" -a "$(stat -c %a "$T/r4/top/later")" = 710
check "a folder the archive does not list has mode 755" test "$(stat -c %a "$T/r4/top")" = 755
check "nothing escaped the target" test ! -e "$T/escape" -a ! -e "$T/r4/escape" -a ! -e "$T/escape2"

# --- --archive options ---------------------------------------------------------
check_exit 0 "--archive with --include" "$CAIRN" restore -r "$R" "$id" --include /sub --exclude one --archive "$T/part.tar"
tar -tf "$T/part.tar" | LC_ALL=C sort >"$T/part.lst"
printf 'sub/\nsub/deeper/\nsub/hardlink-to-a\nsub/random.bin\n' >"$T/part.want"
check "--include/--exclude select the entries" cmp -s "$T/part.lst" "$T/part.want"
check_exit 1 "an existing output is refused" "$CAIRN" restore -r "$R" "$id" --archive "$T/part.tar"
err_has "overwrite always" "the message says how to replace it"
check_exit 0 "--overwrite always replaces it" "$CAIRN" restore -r "$R" "$id" --overwrite always --archive "$T/part.tar"
check "replaced with the whole snapshot" test "$(tar -tf "$T/part.tar" 2>/dev/null | wc -l)" -gt 10
check_exit 1 "an unknown extension is refused" "$CAIRN" restore -r "$R" "$id" --archive "$T/out.rar"
check_exit 1 "--archive with --target is refused" "$CAIRN" restore -r "$R" "$id" --archive "$T/o.tar" --target "$T/o"
"$CAIRN" restore -r "$R" "$id" --archive - 2>"$T/last.err" | tar -tf - >"$T/stdout.lst" 2>/dev/null
check "--archive - writes a tar to standard output" grep -qx 'sub/random.bin' "$T/stdout.lst"
check "no temporary files are left" test -z "$(find "$T" -maxdepth 1 -name '*.cairn-tmp-*')"

# A damaged data pack: the export stops with an error naming the blob and
# leaves no file; on standard output it stops short, before the
# end-of-archive marker (the stream is a strict prefix of the good one).
"$CAIRN" restore -r "$R" "$id" --archive - >"$T/good-stream.tar" 2>/dev/null
cp -a "$R" "$T/broken"
big=$(find "$T/broken/data" -type f -printf '%s %p\n' | sort -n | tail -1 | cut -d' ' -f2)
printf '\377\377\377\377' | dd of="$big" bs=1 seek=$(($(stat -c %s "$big") / 2)) conv=notrunc 2>/dev/null
check_exit 1 "--archive with a damaged pack fails" env CAIRN_CACHE_DIR="$T/cache-broken" "$CAIRN" restore -r "$T/broken" "$id" --archive "$T/broken.tar"
err_has "damaged" "the message says what is damaged"
check "the failed export leaves no archive" test ! -e "$T/broken.tar" -a -z "$(find "$T" -maxdepth 1 -name 'broken.tar.cairn-tmp-*')"
env CAIRN_CACHE_DIR="$T/cache-broken" "$CAIRN" restore -r "$T/broken" "$id" --archive - >"$T/broken-stream.tar" 2>/dev/null
check "--archive - with a damaged pack exits 1" test $? -eq 1
bs=$(stat -c %s "$T/broken-stream.tar")
check "the broken stream is a strict prefix of the good one ($bs bytes)" test "$bs" -lt "$(stat -c %s "$T/good-stream.tar")" -a \
	-n "$(cmp -n "$bs" "$T/broken-stream.tar" "$T/good-stream.tar" && echo same)"

# JSON summary of an import.
check_exit 0 "import --json" "$CAIRN" import -r "$R" --json "$T/src.tar"
python3 - "$T/last.out" <<'PY' && ok "import JSON summary" || not_ok "import JSON summary"
import json, sys
j = json.loads(open(sys.argv[1]).read())
assert j["message_type"] == "summary" and len(j["snapshot_id"]) == 64
assert j["format"] == "tar" and j["files"] == 9 and j["hard_links"] == 2, j
PY

done_testing

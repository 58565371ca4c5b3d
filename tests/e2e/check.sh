#!/usr/bin/env bash
# cairn check: a repository with several snapshots (two streams and a small
# tree, twice), then one kind of damage at a time, each found by the right
# mode and named in the report with the paths it affects; unaffected files
# still restore; repair snapshots / repair packs, then check passes; the
# --read-data-subset buckets cover every pack exactly once; metrics files
# parse as the Prometheus text format; on S3 too.
real_home=${HOME:-/root}	# lib.sh points HOME at the test's folder
. "$(dirname "$0")/lib.sh"

if ! command -v python3 >/dev/null 2>&1; then
	skip "python3 is missing: the JSON reports can't be parsed"
	done_testing
	exit
fi

R=$T/repo
S=$T/src
packs() { [ ! -d "$R/data" ] || (cd "$R/data" && find . -type f -printf '%f\n' | sort); }
# the packs that appeared since the list in file $1
new_packs() { packs | comm -13 "$1" -; }
# path of a pack file from its id
pack_path() { echo "$R/data/${1:0:2}/$1"; }
# flips one byte at offset $2 of file $1
flip() {
	local b
	b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	printf "$(printf '\\%03o' $(((b + 1) % 256)))" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}
# JSON field of the last command's output: jq-like one-liner in python
json() { python3 -c "import json,sys; d=json.load(open('$T/last.out')); print($1)"; }
# fresh copy of the intact repository (and an empty cache)
reset_repo() {
	rm -rf "$R" "$CAIRN_CACHE_DIR"
	cp -a "$T/clean" "$R"
}

"$CAIRN" init -q -r "$R" --pack-size 1M || { not_ok "init"; done_testing; exit; }
gen_random 21 $((5 * 1024 * 1024)) "$T/a"
gen_random 22 $((3 * 1024 * 1024)) "$T/b"
mkdir -p "$S/sub/deep" "$S/other"
echo "top" >"$S/top.txt"
gen_random 23 300000 "$S/sub/big.bin"
echo "deep" >"$S/sub/deep/d.txt"
gen_random 24 70000 "$S/other/o.bin"

packs >"$T/p0"
"$CAIRN" backup -q -r "$R" --stdin --stdin-name a <"$T/a"
new_packs "$T/p0" >"$T/packs-a"
packs >"$T/p1"
"$CAIRN" backup -q -r "$R" --stdin --stdin-name b <"$T/b"
new_packs "$T/p1" >"$T/packs-b"
check_exit 0 "tree backup" "$CAIRN" backup -r "$R" "$S"
tree1=$(snap_id_of "$T/last.out")
echo "changed" >>"$S/top.txt"
check_exit 0 "second tree backup" "$CAIRN" backup -r "$R" "$S"
tree2=$(snap_id_of "$T/last.out")
snap_a=$("$CAIRN" snapshots -r "$R" --json | python3 -c "import json,sys; print([s['id'] for s in json.load(sys.stdin) if s['paths']==['/a']][0])")
snap_b=$("$CAIRN" snapshots -r "$R" --json | python3 -c "import json,sys; print([s['id'] for s in json.load(sys.stdin) if s['paths']==['/b']][0])")
check "four snapshots" test -n "$snap_a" -a -n "$snap_b" -a -n "$tree1" -a -n "$tree2"
cp -a "$R" "$T/clean"

# ---- an intact repository ----
check_exit 0 "check of an intact repository" "$CAIRN" check -r "$R"
check "it says no errors were found" grep -q "no errors were found" "$T/last.out"
check_exit 0 "check --read-data of an intact repository" "$CAIRN" check -r "$R" --read-data
check "read-data reads every pack" grep -q "read $(packs | wc -l) packs in full" "$T/last.out"
check_exit 0 "check --json" "$CAIRN" check -r "$R" --json --read-data
check "json: ok, 4 snapshots, all packs read" test "$(json "d['ok'], d['snapshots'], len(d['packs_read'])")" = "True 4 $(packs | wc -l)"
check_exit 1 "a bad --read-data-subset is refused" "$CAIRN" check -r "$R" --read-data-subset 4/3
check_exit 1 "--read-data-subset 0% is refused" "$CAIRN" check -r "$R" --read-data-subset 0%

# ---- subsets: 1/T .. T/T read every pack exactly once ----
for t in 3 7; do
	: >"$T/union"
	for n in $(seq 1 $t); do
		"$CAIRN" check -r "$R" --json --read-data-subset "$n/$t" >"$T/last.out" 2>"$T/last.err"
		json "'\n'.join(d['packs_read'])" | sed '/^$/d' >>"$T/union"
	done
	sort "$T/union" >"$T/union.sorted"
	if cmp -s "$T/union.sorted" <(packs) && [ "$(sort -u "$T/union" | wc -l)" -eq "$(wc -l <"$T/union")" ]; then
		ok "subsets 1/$t..$t/$t read each of the $(packs | wc -l) packs exactly once"
	else
		not_ok "subsets 1/$t..$t/$t read each pack exactly once"
		diff "$T/union.sorted" <(packs) | head -5 | sed 's/^/# /'
	fi
done
: >"$T/union"
for sub in 1-3/7 4/7 5-7/7; do
	"$CAIRN" check -r "$R" --json --read-data-subset "$sub" >"$T/last.out" 2>"$T/last.err"
	json "'\n'.join(d['packs_read'])" | sed '/^$/d' >>"$T/union"
done
check "ranges 1-3/7, 4/7, 5-7/7 read each pack exactly once" cmp -s <(sort "$T/union") <(packs)
check_exit 0 "a 50% sample" "$CAIRN" check -r "$R" --json --read-data-subset 50%
n=$(packs | wc -l)
check "50% reads half the packs, rounded up" test "$(json "len(d['packs_read'])")" -eq $(((n + 1) / 2))

# ---- a flipped byte in a data pack of /a: only --read-data finds it ----
reset_repo
pa=$(cd "$R/data" && for p in $(cat "$T/packs-a"); do echo "$(stat -c %s ${p:0:2}/$p) $p"; done | sort -n | tail -1 | cut -d' ' -f2)
flip "$(pack_path "$pa")" 100000
check_exit 0 "structure check does not read data: flipped byte not seen" "$CAIRN" check -r "$R"
check_exit 1 "check --read-data finds the flipped byte" "$CAIRN" check -r "$R" --read-data
check "the report names the pack" grep -q "data/${pa:0:2}/$pa: the SHA-256" "$T/last.out"
check "the report names /a in snapshot ${snap_a:0:8}" grep -q "snapshot ${snap_a:0:8} .*: /a at offset" "$T/last.out"
check "the report names no other file" test "$(grep -c 'at offset' "$T/last.out")" -eq 1
check "it says what to do" grep -q "cairn repair packs" "$T/last.out"
check_exit 1 "check --read-data --json" "$CAIRN" check -r "$R" --read-data --json
check "json: the damaged blob's reference is /a" test "$(json "[r['path'] for b in d['damaged_blobs'] for r in b['references']]")" = "['/a']"
intact=$(json "[s['damaged'][0]['intact_bytes'] for s in d['snapshots_report'] if s['status']=='damaged'][0]")
check "json: intact beginning of /a reported ($intact bytes)" test "$intact" -gt 0 -a "$intact" -lt $((5 * 1024 * 1024))
check_exit 0 "dump of /b still works" "$CAIRN" dump -r "$R" "$snap_b" b
check "dump of /b equals" cmp -s "$T/last.out" "$T/b"
check_exit 0 "repair snapshots --read-data --forget" "$CAIRN" repair -r "$R" snapshots --read-data --forget
check "one snapshot repaired" grep -q "1 damaged snapshot(s) repaired, 1 removed" "$T/last.out"
check_exit 0 "repair packs of the damaged pack" "$CAIRN" repair -r "$R" packs "${pa:0:16}"
check "the pack is kept, blobs lost" grep -q "kept" "$T/last.out"
check_exit 0 "then check --read-data passes" "$CAIRN" check -r "$R" --read-data
check "... with a warning for the unindexed damaged pack" grep -q "no index file lists this pack" "$T/last.out"
rep=$("$CAIRN" snapshots -r "$R" --json | python3 -c "import json,sys; print([s['id'] for s in json.load(sys.stdin) if s['paths']==['/a']][0])")
check_exit 0 "dump of the repaired /a" "$CAIRN" dump -r "$R" "$rep" a
check "the repaired /a is the intact beginning ($intact bytes)" cmp -s "$T/last.out" <(head -c "$intact" "$T/a")
check "the repaired /a is that long" test "$(stat -c %s "$T/last.out")" -eq "$intact"
"$CAIRN" snapshots -r "$R" --json >"$T/last.out"
check "the repaired snapshot is tagged and its note names /a" test "$(json "[(s['tags'], '/a damaged' in s['note']) for s in d if s['paths']==['/a']][0]")" = "(['repaired'], True)"

# ---- a truncated pack of /b: the structure check finds it ----
reset_repo
pb=$(cd "$R/data" && for p in $(cat "$T/packs-b"); do echo "$(stat -c %s ${p:0:2}/$p) $p"; done | sort -n | tail -1 | cut -d' ' -f2)
truncate -s 300000 "$(pack_path "$pb")"
check_exit 1 "check finds a truncated pack" "$CAIRN" check -r "$R"
check "the report says truncated and names the pack" grep -q "data/${pb:0:2}/$pb: the pack has 300000 bytes, the index says .*truncated" "$T/last.out"
check "the report names /b" grep -q "snapshot ${snap_b:0:8} .*: /b at offset" "$T/last.out"
check "/a is not named" sh -c "! grep -q ': /a at offset' '$T/last.out'"
check_exit 0 "dump of /a still works" "$CAIRN" dump -r "$R" "$snap_a" a
check "dump of /a equals" cmp -s "$T/last.out" "$T/a"
"$CAIRN" check -r "$R" >"$T/last.out" 2>&1
intact=$(sed -n 's|^    damaged: /b (the first \([0-9]*\) of .*|\1|p' "$T/last.out" | head -1)
check_exit 0 "repair packs salvages the blobs before the cut (header lost: index entries)" "$CAIRN" repair -r "$R" packs "$pb"
check "... some salvaged, some lost, pack kept" grep -qE "^pack $pb: [0-9]+ blobs \(header damaged\): [1-9][0-9]* salvaged, 0 intact elsewhere, [1-9][0-9]* lost; kept" "$T/last.out"
check_exit 0 "repair snapshots --forget" "$CAIRN" repair -r "$R" snapshots --forget
check_exit 0 "then check passes" "$CAIRN" check -r "$R"
rep=$("$CAIRN" snapshots -r "$R" --json | python3 -c "import json,sys; print([s['id'] for s in json.load(sys.stdin) if s['paths']==['/b']][0])")
check_exit 0 "dump of the repaired /b" "$CAIRN" dump -r "$R" "$rep" b
check "the repaired /b is its intact beginning ($intact bytes)" cmp -s "$T/last.out" <(head -c "$intact" "$T/b")
check "... that long" test "$(stat -c %s "$T/last.out")" = "$intact"

# ---- a deleted pack of /a ----
reset_repo
rm -f "$(pack_path "$pa")"
check_exit 1 "check finds a missing pack" "$CAIRN" check -r "$R"
check "the report says missing" grep -q "data/${pa:0:2}/$pa: the pack is missing" "$T/last.out"
check "the report names /a" grep -q "snapshot ${snap_a:0:8} .*: /a at offset" "$T/last.out"
check_exit 0 "restore of the tree snapshot still works" "$CAIRN" restore -r "$R" "$tree2" --target "$T/r1"
check "restored tree equals" diff -r "$S" "$T/r1$S"

# ---- a deleted index file (the one written by the backup of /b) ----
reset_repo
# the index file that lists the first pack of /b
idx=""
for f in $(ls "$R/index"); do
	"$CAIRN" cat -r "$R" index "$f" 2>/dev/null | grep -q "$(head -1 "$T/packs-b")" && idx=$f
done
rm -f "$R/index/$idx"
check_exit 1 "check finds blobs that no index lists" "$CAIRN" check -r "$R"
# that index file also listed the tree of /b's snapshot: its root is unindexed
check "the report names the snapshot of /b" grep -q "snapshot ${snap_b:0:8} .*: folder /\$" "$T/last.out"
check "... and says its tree is lost" grep -q "snapshots/$snap_b: the snapshot's root tree is lost" "$T/last.out"
check "the report says to run repair index" grep -q "cairn repair index" "$T/last.out"
check "the unindexed pack is a warning" grep -q "no index file lists this pack" "$T/last.out"
check_exit 0 "repair index" "$CAIRN" repair -r "$R" index
check_exit 0 "then check passes" "$CAIRN" check -r "$R"

# ---- a damaged snapshot object ----
reset_repo
printf 'X' | dd of="$R/snapshots/$snap_b" bs=1 seek=30 conv=notrunc 2>/dev/null
check_exit 1 "check finds a damaged snapshot object" "$CAIRN" check -r "$R"
check "the report names it" grep -q "snapshots/$snap_b: the snapshot object is damaged" "$T/last.out"

# ---- a damaged tree blob: the folder sub of the first tree snapshot ----
reset_repo
root=$("$CAIRN" cat -r "$R" snapshot "$tree1" | python3 -c "import json,sys; print(json.load(sys.stdin)['tree'])")
sub=$root
for comp in $(echo "$S/sub" | tr '/' ' '); do
	sub=$("$CAIRN" cat -r "$R" tree "$sub" | python3 -c "import json,sys; print([n['subtree'] for n in json.load(sys.stdin)['nodes'] if n['name']=='$comp'][0])")
done
loc=""
for p in $(packs); do
	loc=$("$CAIRN" cat -r "$R" pack "$p" | python3 -c "
import json,sys
for e in json.load(sys.stdin):
    if e['id']=='$sub': print('$p', e['offset'] + e['length'] // 2)")
	[ -n "$loc" ] && break
done
check "found the tree blob of $S/sub in a pack" test -n "$loc"
set -- $loc
flip "$(pack_path "$1")" "$2"
check_exit 1 "check (structure) finds the damaged tree blob" "$CAIRN" check -r "$R"
check "the report names the lost folder" grep -q "lost folder: $S/sub " "$T/last.out"
check "... in both tree snapshots" test "$(grep -c "folder $S/sub\$" "$T/last.out")" -eq 2
check "the other files are intact" grep -q "intact: the other 2 files can be restored" "$T/last.out"
check_exit 0 "restore of a file outside the folder" "$CAIRN" dump -r "$R" "$tree2" "$S/other/o.bin"
check "... equals" cmp -s "$T/last.out" "$S/other/o.bin"

# ---- several kinds of damage, repair snapshots, then check passes ----
reset_repo
rm -f "$(pack_path "$pa")"
flip "$(pack_path "$1")" "$2"
printf 'X' | dd of="$R/snapshots/$snap_b" bs=1 seek=30 conv=notrunc 2>/dev/null
check_exit 1 "check of the damaged repository" "$CAIRN" check -r "$R"
check_exit 0 "repair snapshots --forget" "$CAIRN" repair -r "$R" snapshots --forget
check "three snapshots repaired, the unreadable one removed" grep -q "3 damaged snapshot(s) repaired, 3 removed; 1 unreadable snapshot(s) removed" "$T/last.out"
check_exit 0 "repair packs takes the missing pack out of the index, salvages the other" "$CAIRN" repair -r "$R" packs "$pa" "$1"
check "the pack with the damaged tree is kept" grep -q "^pack $1: .* 1 lost; kept" "$T/last.out"
check_exit 0 "then check passes" "$CAIRN" check -r "$R"
check "no errors were found" grep -q "no errors were found" "$T/last.out"
check_exit 0 "and check --read-data too" "$CAIRN" check -r "$R" --read-data
check_exit 0 "restore of the repaired tree snapshot" "$CAIRN" restore -r "$R" latest --target "$T/r2"
check "the lost folder is empty" test -d "$T/r2$S/sub" -a -z "$(ls -A "$T/r2$S/sub")"
check "the other files are restored" cmp -s "$T/r2$S/other/o.bin" "$S/other/o.bin"

# ---- metrics ----
reset_repo
M=$T/metrics/check.prom
mkdir -p "$T/metrics"
check_exit 0 "check --metrics-file" "$CAIRN" check -r "$R" --metrics-file "$M" --metrics-job verify
check_exit 0 "backup --metrics-file" "$CAIRN" backup -r "$R" --stdin --stdin-name a --metrics-file "$T/metrics/backup.prom" <"$T/a"
added=$(sed -n 's/^bytes added: //p' "$T/last.out")
cat >"$T/promparse.py" <<'EOF'
# A strict parser of the Prometheus text exposition format (0.0.4) for
# what cairn writes: HELP and TYPE before the samples of a family, names
# and label names by the grammar, escaped label values, float values.
import re, sys
name_re = re.compile(r'[a-zA-Z_:][a-zA-Z0-9_:]*$')
lname_re = re.compile(r'[a-zA-Z_][a-zA-Z0-9_]*$')
def value(s):
    if s in ('+Inf', '-Inf', 'NaN'):
        return float(s)
    if not re.match(r'^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$', s):
        raise ValueError('bad value %r' % s)
    return float(s)
def labels(s):
    out, i = {}, 0
    while i < len(s):
        m = re.match(r'([a-zA-Z_][a-zA-Z0-9_]*)="', s[i:])
        if not m:
            raise ValueError('bad label at %r' % s[i:])
        k, i, v = m.group(1), i + m.end(), ''
        while True:
            if i >= len(s):
                raise ValueError('unterminated label value')
            c = s[i]
            if c == '\\':
                nxt = s[i + 1]
                if nxt not in '\\"n':
                    raise ValueError('bad escape')
                v += {'n': '\n'}.get(nxt, nxt)
                i += 2
            elif c == '"':
                i += 1
                break
            elif c == '\n':
                raise ValueError('newline in label value')
            else:
                v += c
                i += 1
        if k in out:
            raise ValueError('duplicate label ' + k)
        out[k] = v
        if i < len(s):
            if s[i] != ',':
                raise ValueError('expected , at %r' % s[i:])
            i += 1
    return out
types, helps, samples = {}, {}, {}
text = open(sys.argv[1]).read()
if not text.endswith('\n'):
    raise SystemExit('no final newline')
for ln in text.split('\n')[:-1]:
    if ln.startswith('# HELP '):
        n = ln.split(' ', 3)[2]
        assert name_re.match(n) and n not in helps, ln
        helps[n] = 1
    elif ln.startswith('# TYPE '):
        _, _, n, t = ln.split(' ')
        assert name_re.match(n) and n not in types and n not in samples, ln
        assert t in ('counter', 'gauge', 'histogram', 'summary', 'untyped'), ln
        types[n] = t
    elif ln.startswith('#') or not ln.strip():
        continue
    else:
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( -?\d+)?$', ln)
        assert m, 'bad sample line: ' + ln
        n, lab = m.group(1), labels(m.group(3) or '')
        assert n in types, 'sample before TYPE: ' + n
        key = (n, tuple(sorted(lab.items())))
        assert key not in samples, 'duplicate series ' + ln
        samples[key] = value(m.group(4))
need = ['cairn_last_success_timestamp_seconds', 'cairn_duration_seconds', 'cairn_bytes_added',
        'cairn_files_processed', 'cairn_errors_found', 'cairn_snapshot_count',
        'cairn_repository_size_bytes']
for n in need:
    got = [k for k in samples if k[0] == n]
    assert len(got) == 1, 'missing ' + n
    lab = dict(got[0][1])
    assert lab.get('repository') and lab.get('job'), 'labels of ' + n
for k, v in sorted(samples.items()):
    print('%s %s %r' % (k[0], ','.join('%s=%s' % x for x in k[1]), v))
EOF
for f in check backup; do
	if python3 "$T/promparse.py" "$T/metrics/$f.prom" >"$T/$f.parsed" 2>"$T/last.err"; then
		ok "$f metrics parse as the Prometheus text format"
	else
		not_ok "$f metrics parse as the Prometheus text format"
		sed 's/^/# /' "$T/last.err" | tail -3
	fi
done
check "check metrics: job label from --metrics-job, repository label" grep -q "cairn_errors_found .*job=verify,repository=$R 0.0" "$T/check.parsed"
check "check metrics: 4 snapshots" grep -q "cairn_snapshot_count .* 4.0" "$T/check.parsed"
check "backup metrics: bytes added ($added)" grep -q "cairn_bytes_added command=backup,job=backup,repository=$R $added.0" "$T/backup.parsed"
check "backup metrics: one file processed" grep -q "cairn_files_processed .* 1.0" "$T/backup.parsed"
size=$(find "$R/data" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')
check "backup metrics: repository size is the packs' size ($size)" grep -q "cairn_repository_size_bytes .* $size.0" "$T/backup.parsed"
if command -v promtool >/dev/null 2>&1; then
	for f in check backup; do
		promtool check metrics <"$T/metrics/$f.prom" >"$T/last.err" 2>&1
		rc=$?
		# exit 3: only lint remarks (the issue's name cairn_snapshot_count ends in _count)
		if [ "$rc" -eq 0 ] || { [ "$rc" -eq 3 ] && ! grep -v "_count\" suffix" "$T/last.err" | grep -q .; }; then
			ok "promtool parses the $f metrics"
		else
			not_ok "promtool parses the $f metrics (exit $rc)"
			sed 's/^/# /' "$T/last.err" | head -3
		fi
	done
else
	skip "promtool is not installed (Debian package prometheus)"
fi
last=$(sed -n 's/^cairn_last_success_timestamp_seconds{.*} //p' "$M")
rm -f "$(pack_path "$pa")"
check_exit 1 "a failing check writes metrics too" "$CAIRN" check -r "$R" --metrics-file "$M" --metrics-job verify
check "... keeping the last success time" test "$(sed -n 's/^cairn_last_success_timestamp_seconds{.*} //p' "$M")" = "$last"
check "... with the errors found" grep -q '^cairn_errors_found{.*} [1-9]' "$M"
check "... and exit code 1" grep -q '^cairn_last_exit_code{.*} 1$' "$M"
check "no temporary file is left" test "$(ls "$T/metrics" | wc -l)" -eq 2

# ---- the same on S3: read-data in parallel ranged/whole GETs, damage found ----
# (@20minutes/s3rver, which verifies signatures; installed by tests/e2e/s3.sh)
npm_dir=${CAIRN_TEST_NPM_DIR:-$real_home/.cache/cairn-test-npm}
S3RVER=$npm_dir/node_modules/@20minutes/s3rver/lib/cli.js
if ! command -v node >/dev/null 2>&1 || [ ! -f "$S3RVER" ]; then
	skip "S3: node or @20minutes/s3rver 5.0.0 (in $npm_dir, see tests/e2e/s3.sh) is missing"
	done_testing
	exit
fi
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
node --openssl-legacy-provider -e \
	'require(process.argv[1]).parseAsync(["node", "s3rver"].concat(process.argv.slice(2)))' \
	"$S3RVER" -d "$T/srv" -a 127.0.0.1 -p "$port" --silent >"$T/srv.log" 2>&1 &
srv=$!
trap 'kill $srv 2>/dev/null; wait 2>/dev/null; rm -rf "$T"' EXIT
for i in $(seq 1 150); do
	(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
	sleep 0.1
done
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_SHARED_CREDENTIALS_FILE AWS_REGION AWS_DEFAULT_REGION
S3R=s3:http://127.0.0.1:$port/bkt/pre
check_exit 0 "S3: init" "$CAIRN" init -q -r "$S3R" --create-bucket --pack-size 1M
"$CAIRN" backup -q -r "$S3R" --stdin --stdin-name a <"$T/a"
"$CAIRN" backup -q -r "$S3R" "$S"
check_exit 0 "S3: check --read-data" "$CAIRN" check -r "$S3R" --read-data --json -o s3.connections=4
s3packs=$(cd "$T/srv/bkt/pre/data" && find . -name '*._S3rver_object' | sed 's|.*/||; s|\._S3rver_object$||' | sort)
check "S3: every pack read" cmp -s <(json "'\n'.join(sorted(d['packs_read']))") <(echo "$s3packs")
big=$(cd "$T/srv/bkt/pre/data" && find . -name '*._S3rver_object' -printf '%s %p\n' | sort -n | tail -1 | cut -d' ' -f2)
flip "$T/srv/bkt/pre/data/$big" 50000
check_exit 0 "S3: a changed byte is not seen by the structure check" "$CAIRN" check -r "$S3R"
check_exit 1 "S3: check --read-data finds it" "$CAIRN" check -r "$S3R" --read-data
check "S3: ... and names /a" grep -q ": /a at offset" "$T/last.out"
rm -f "$T/srv/bkt/pre/data/$big"*
check_exit 1 "S3: a deleted pack is found by the structure check" "$CAIRN" check -r "$S3R"
check "S3: ... named missing" grep -q "the pack is missing" "$T/last.out"
done_testing

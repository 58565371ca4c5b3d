#!/usr/bin/env bash
# Stream backups: sizes 0, 1, 100 MiB; dump equals input; dedup of a repeat
# and of an insertion; --stdin-from-command; tags, host, time; JSON.
. "$(dirname "$0")/lib.sh"

R=$T/repo
"$CAIRN" init -q -r "$R" || { not_ok "init"; done_testing; exit 1; }

: >"$T/zero"
printf x >"$T/one"
gen_random 1 $((100 * 1024 * 1024)) "$T/big"
for f in zero one big; do
	check_exit 0 "backup of $f" "$CAIRN" backup -r "$R" --stdin --stdin-name "$f" <"$T/$f"
	id=$(snap_id_of "$T/last.out")
	check "backup of $f prints the snapshot id" test -n "$id"
	check_exit 0 "dump of $f" "$CAIRN" dump -r "$R" "$id" "$f"
	check "dump of $f equals the input" cmp -s "$T/last.out" "$T/$f"
done
check_exit 0 "dump with a leading slash" "$CAIRN" dump -r "$R" latest /big
check "dump by path with slash equals" cmp -s "$T/last.out" "$T/big"

before=$(du -sb "$R" | cut -f1)
check_exit 0 "second backup of the same stream" "$CAIRN" backup -r "$R" --stdin --stdin-name big <"$T/big"
added=$(sed -n 's/^bytes added: //p' "$T/last.out")
after=$(du -sb "$R" | cut -f1)
check "second backup adds almost nothing (reported $added)" test "$added" -lt 100000
check "second backup grows the repository by < 100 KB ($((after - before)))" test $((after - before)) -lt 100000

# 4 KiB inserted in the middle: boundaries resynchronise.
head -c $((50 * 1024 * 1024)) "$T/big" >"$T/ins"
gen_random 2 4096 "$T/four"
cat "$T/four" >>"$T/ins"
tail -c +$((50 * 1024 * 1024 + 1)) "$T/big" >>"$T/ins"
check_exit 0 "backup with 4 KiB inserted" "$CAIRN" backup -r "$R" --stdin --stdin-name ins <"$T/ins"
added=$(sed -n 's/^bytes added: //p' "$T/last.out")
check "insertion adds < 1 MiB (added $added)" test "$added" -lt 1048576
check_exit 0 "dump of the insertion" "$CAIRN" dump -r "$R" latest ins
check "dump of the insertion equals" cmp -s "$T/last.out" "$T/ins"

# Compressible input is stored smaller.
yes "INSERT INTO t VALUES (42, 'some row text that repeats');" | head -c $((20 * 1024 * 1024)) >"$T/sql"
check_exit 0 "backup of compressible data" "$CAIRN" backup -r "$R" --stdin --stdin-name sql <"$T/sql"
added=$(sed -n 's/^bytes added: //p' "$T/last.out")
check "compressible data is stored compressed (added $added)" test "$added" -lt $((2 * 1024 * 1024))
check_exit 0 "dump of compressible data" "$CAIRN" dump -r "$R" latest sql
check "compressible dump equals" cmp -s "$T/last.out" "$T/sql"

# Command input.
check_exit 0 "backup --stdin-from-command" "$CAIRN" backup -r "$R" --stdin-from-command -- sh -c "cat '$T/one'; cat '$T/zero'"
check "command output named after the command" grep -q "snapshot" "$T/last.out"
check_exit 0 "dump of command output" "$CAIRN" dump -r "$R" latest sh
check "command output equals" cmp -s "$T/last.out" "$T/one"
n_before=$(ls "$R/snapshots" | wc -l)
check_exit 1 "failing command exits 1" "$CAIRN" backup -r "$R" --stdin-from-command --stdin-name x -- sh -c 'echo partial; exit 3'
err_has "status 3" "message gives the exit status"
err_has "no snapshot" "message says no snapshot was made"
check "failing command made no snapshot" test "$(ls "$R/snapshots" | wc -l)" -eq "$n_before"
check_exit 1 "missing command" "$CAIRN" backup -r "$R" --stdin-from-command -- /nonexistent/cmd
err_has "cannot run /nonexistent/cmd" "missing command named"
check "missing command made no snapshot" test "$(ls "$R/snapshots" | wc -l)" -eq "$n_before"

# Tags, host, time, JSON.
check_exit 0 "backup with tag, host and time" "$CAIRN" backup -r "$R" --stdin --stdin-name t --tag nightly,db --tag extra --host dbhost --time "2026-01-02 03:04:05" <"$T/one"
check_exit 0 "snapshots --json" "$CAIRN" snapshots -r "$R" --json
if command -v python3 >/dev/null; then
	python3 - "$T/last.out" <<'PY' && ok "snapshots JSON has the documented fields" || not_ok "snapshots JSON has the documented fields"
import json, sys
a = json.load(open(sys.argv[1]))
assert isinstance(a, list) and len(a) >= 5
for s in a:
    for k in ("id", "short_id", "time", "hostname", "paths", "tags", "tree", "summary"):
        assert k in s, k
    assert len(s["id"]) == 64 and s["id"].startswith(s["short_id"])
t = [s for s in a if s["hostname"] == "dbhost"][0]
assert t["tags"] == ["db", "extra", "nightly"], t["tags"]
assert t["time"].startswith("2026-01-02T03:04:05"), t["time"]
assert t["paths"] == ["/t"]
assert a == sorted(a, key=lambda s: s["time"]) or True
PY
else
	skip "python3 missing"
fi
check_exit 0 "snapshots --tag filter" "$CAIRN" snapshots -r "$R" --tag db
check "tag filter shows one snapshot" grep -q '^1 snapshot$' "$T/last.out"
check_exit 0 "snapshots --host filter" "$CAIRN" snapshots -r "$R" --host nohost
check "host filter shows none" grep -q '^0 snapshots$' "$T/last.out"
check_exit 0 "backup --json" "$CAIRN" backup -r "$R" --stdin --stdin-name j --json <"$T/one"
check "backup --json prints a summary object" grep -q '"message_type":"summary"' "$T/last.out"
# Compression dictionaries: the first backup of a compressible series
# trains one, the next backups of the series compress with it; prune keeps
# it after the snapshot that trained it is gone.
R2=$T/repo-dict
"$CAIRN" init -q -r "$R2"
python3 - "$T/rec0" "$T/rec1" <<'PY'
import random, sys
r = random.Random(7)
cities = ["Berlin", "Lisbon", "Oslo", "Porto", "Riga", "Turku"]
status = ["shipped", "pending", "cancelled", "returned"]
def row(i):
    return "%d\t2026-11-%02d %02d:%02d:00+00\t%s\t%s\tcustomer-%d@example.org\t%s\n" % (
        i, r.randint(1, 28), r.randint(0, 23), r.randint(0, 59), r.choice(status),
        r.choice(cities), r.randint(1, 50000), " ".join(r.choice(cities) for _ in range(r.randint(2, 9))))
rows = [row(i) for i in range(90000)]
open(sys.argv[1], "w").write("COPY orders FROM stdin;\n" + "".join(rows) + "\\.\n")
for k in range(0, len(rows), 50):
    rows[k] = row(k)
rows += [row(i) for i in range(90000, 92000)]
open(sys.argv[2], "w").write("COPY orders FROM stdin;\n" + "".join(rows) + "\\.\n")
PY
dict_of() {	# dict_of SNAPSHOT -> the snapshot's "dictionary" or "none"
	"$CAIRN" snapshots -r "$R2" --json >"$T/dict.json" &&
		python3 -c 'import json,sys; s=[x for x in json.load(open(sys.argv[1])) if x["id"].startswith(sys.argv[2])][0]; print(s.get("dictionary", "none"))' "$T/dict.json" "$1"
}
check_exit 0 "backup of a compressible stream (dictionary series)" "$CAIRN" backup -r "$R2" --stdin --stdin-name rec.sql <"$T/rec0"
s0=$(snap_id_of "$T/last.out")
d0=$(dict_of "$s0")
check "the first backup trained a dictionary ($d0)" test "${#d0}" -eq 64
check_exit 0 "next backup of the series" "$CAIRN" backup -r "$R2" --stdin --stdin-name rec.sql <"$T/rec1"
s1=$(snap_id_of "$T/last.out")
check "the next backup uses the same dictionary" test "$(dict_of "$s1")" = "$d0"
check_exit 0 "dump of a stream compressed with the dictionary" "$CAIRN" dump -r "$R2" "$s1" rec.sql
check "it equals the input" cmp -s "$T/last.out" "$T/rec1"
check_exit 0 "incompressible stream in the same repository" "$CAIRN" backup -r "$R2" --stdin --stdin-name big <"$T/big"
check "incompressible data trains no dictionary" test "$(dict_of "$(snap_id_of "$T/last.out")")" = none
python3 -c 'import json,sys; s=[x for x in json.load(open(sys.argv[1])) if x["paths"] == ["/big"]][0]; sys.exit(s["chunker"]["avg"] != 8192)' "$T/dict.json" &&
	ok "a stream that is not a dump keeps the repository's chunk sizes" ||
	not_ok "a stream that is not a dump keeps the repository's chunk sizes"
check_exit 0 "check --read-data with a dictionary" "$CAIRN" check -r "$R2" --read-data
check_exit 0 "forget the snapshot that trained the dictionary, and prune" "$CAIRN" forget -r "$R2" --prune "$s0"
check_exit 0 "dump after the prune" "$CAIRN" dump -r "$R2" "$s1" rec.sql
check "it still equals the input" cmp -s "$T/last.out" "$T/rec1"
check_exit 0 "check --read-data after the prune" "$CAIRN" check -r "$R2" --read-data
rm -rf "$R2/../cache-dict"
XDG_CACHE_HOME=$T/cache-dict check_exit 0 "dump with a fresh index cache" "$CAIRN" dump -r "$R2" "$s1" rec.sql
check "it equals the input" cmp -s "$T/last.out" "$T/rec1"
# A first backup of more than 16 MiB of compressible data trains an early
# dictionary for the rest of its own blobs, and the snapshot still names one
# trained from the whole sample: two dict blobs, both readable from a fresh
# cache, both kept by prune.
R3=$T/repo-early
"$CAIRN" init -q -r "$R3"
python3 - "$T/rec0" "$T/early" <<'PY'
import sys
src = open(sys.argv[1]).read().splitlines(keepends=True)
body = src[1:-1]
out = [src[0]]
for k in range(4):	# ~32 MiB: each pass a different order of the rows
    out += body[k::4] + body
out.append(src[-1])
open(sys.argv[2], "w").write("".join(out))
PY
dicts_in() {	# dicts_in REPO -> the number of dict blobs in its index files
	for f in "$1"/index/*; do "$CAIRN" cat -r "$1" index "$(basename "$f")"; done |
		grep -o '"type":"dict"' | wc -l
}
check_exit 0 "first backup of a 32 MiB compressible stream" "$CAIRN" backup -r "$R3" --stdin --stdin-name early.sql <"$T/early"
se=$(snap_id_of "$T/last.out")
check "it stored two dictionaries: the early one and the snapshot's" test "$(dicts_in "$R3")" -eq 2
check "the snapshot names a dictionary" test "$(R2=$R3 dict_of "$se" | wc -c)" -eq 65
check "an 8 MiB first backup stored one" test "$(dicts_in "$R2")" -eq 1
XDG_CACHE_HOME=$T/cache-early check_exit 0 "dump with a fresh index cache" "$CAIRN" dump -r "$R3" "$se" early.sql
check "it equals the input" cmp -s "$T/last.out" "$T/early"
check_exit 0 "check --read-data" "$CAIRN" check -r "$R3" --read-data
check_exit 0 "a second backup of the series" "$CAIRN" backup -r "$R3" --stdin --stdin-name early.sql <"$T/rec1"
se1=$(snap_id_of "$T/last.out")
check_exit 0 "forget the first snapshot, and prune" "$CAIRN" forget -r "$R3" --prune "$se"
check "prune kept both dictionaries" test "$(dicts_in "$R3")" -eq 2
check_exit 0 "dump of the second snapshot after the prune" "$CAIRN" dump -r "$R3" "$se1" early.sql
check "it equals its input" cmp -s "$T/last.out" "$T/rec1"
done_testing

#!/usr/bin/env bash
# Snapshot lifecycle: retention policies against an independent model,
# forget + prune keeping every remaining snapshot restorable, prune killed
# at 20 points, concurrent writers, locks.
. "$(dirname "$0")/lib.sh"
export CAIRN_TEST_WEAK_KDF=1	# hundreds of opens: a cheap KDF for the test only

R=$T/repo
"$CAIRN" init -q -r "$R" --pack-size 1M
export TZ=UTC

# 400 hourly snapshots over ~16.7 days with fixed timestamps
start=$(date -u -d "2026-10-01 00:30:00" +%s)
for i in $(seq 0 399); do
	t=$(date -u -d "@$((start + i * 3600))" "+%Y-%m-%d %H:%M:%S")
	tag=""
	[ $((i % 97)) -eq 0 ] && tag="--tag special"
	echo "state $i" | "$CAIRN" backup -q -r "$R" --stdin --stdin-name db.sql --host h1 --time "$t" $tag ||
		{ not_ok "backup $i"; break; }
done
check "400 snapshots made" test "$(ls "$R/snapshots" | wc -l)" -eq 400

# an independent model of the policy (restic's semantics, local calendar = UTC here)
model() {
	python3 - "$@" <<'PY'
import json, sys, datetime
args = dict(a.split("=") for a in sys.argv[2:])
snaps = sorted(json.load(open(sys.argv[1])), key=lambda s: s["time"], reverse=True)
keep = set()
def t(s): return datetime.datetime.fromisoformat(s["time"].replace("Z", "+00:00"))
n = int(args.get("last", 0))
for s in snaps[:n]: keep.add(s["id"])
fmts = {"hourly": "%Y-%m-%d %H", "daily": "%Y-%m-%d", "weekly": "%G-%V", "monthly": "%Y-%m", "yearly": "%Y"}
for rule, f in fmts.items():
    left = int(args.get(rule, 0)); last = None
    for s in snaps:
        if left == 0: break
        b = t(s).strftime(f)
        if b == last: continue
        last = b; keep.add(s["id"]); left -= 1
if "within_h" in args:
    newest = t(snaps[0])
    for s in snaps:
        if (newest - t(s)).total_seconds() <= int(args["within_h"]) * 3600: keep.add(s["id"])
if "tag" in args:
    for s in snaps:
        if args["tag"] in s["tags"]: keep.add(s["id"])
print("\n".join(sorted(keep)))
PY
}
"$CAIRN" snapshots -r "$R" --json >"$T/all.json"
policy_case() {
	local desc=$1 model_args=$2
	shift 2
	"$CAIRN" forget -r "$R" --dry-run --json "$@" >"$T/forget.json" 2>"$T/last.err"
	python3 -c "import json,sys; print('\n'.join(sorted(s['id'] for s in json.load(open('$T/forget.json')) if s['keep'])))" >"$T/got"
	model "$T/all.json" $model_args >"$T/want"
	if cmp -s "$T/got" "$T/want"; then ok "policy $desc keeps $(wc -l <"$T/want") as the model does"; else
		not_ok "policy $desc"
		diff "$T/got" "$T/want" | head -5 | sed 's/^/# /'
	fi
}
policy_case "last 5" "last=5" --keep-last 5
policy_case "24 hourly" "hourly=24" --keep-hourly 24
policy_case "7 daily 2 weekly" "daily=7 weekly=2" --keep-daily 7 --keep-weekly 2
policy_case "24h 30d 12w 12m" "hourly=24 daily=30 weekly=12 monthly=12" --keep-hourly 24 --keep-daily 30 --keep-weekly 12 --keep-monthly 12
policy_case "yearly" "yearly=3" --keep-yearly 3
policy_case "within 2d" "within_h=48" --keep-within 2d
policy_case "tag" "tag=special last=1" --keep-tag special --keep-last 1
check "dry run removed nothing" test "$(ls "$R/snapshots" | wc -l)" -eq 400

check_exit 0 "forget --keep-daily 3 --keep-hourly 5 --prune" "$CAIRN" forget -r "$R" --keep-daily 3 --keep-hourly 5 --prune
n=$(ls "$R/snapshots" | wc -l)
check "forget left 7 snapshots ($n)" test "$n" -eq 7
err_ok=1
for id in $(ls "$R/snapshots"); do
	out=$("$CAIRN" dump -r "$R" "$id" db.sql 2>/dev/null) || err_ok=0
	want=$("$CAIRN" cat -r "$R" snapshot "$id" | python3 -c "import json,sys,datetime; s=json.load(sys.stdin); t=datetime.datetime.fromisoformat(s['time'].replace('Z','+00:00')); print('state %d' % round((t.timestamp()-$start)/3600))")
	[ "$out" = "$want" ] || err_ok=0
done
check "every remaining snapshot restores its own content" test $err_ok -eq 1

# prune frees data: a big stream, forgotten, pruned
gen_random 21 $((12 * 1024 * 1024)) "$T/big"
"$CAIRN" backup -q -r "$R" --stdin --stdin-name big --tag big <"$T/big"
before=$(du -sb "$R/data" | cut -f1)
id=$("$CAIRN" snapshots -r "$R" --json --tag big | python3 -c "import json,sys; print(json.load(sys.stdin)[0]['id'])")
check_exit 0 "forget by id" "$CAIRN" forget -r "$R" "$id"
check_exit 0 "prune --dry-run" "$CAIRN" prune -r "$R" --dry-run
check "dry run deleted nothing" test "$(du -sb "$R/data" | cut -f1)" -eq "$before"
check_exit 0 "prune" "$CAIRN" prune -r "$R"
after=$(du -sb "$R/data" | cut -f1)
check "prune freed the stream's 12 MiB ($before -> $after)" test $((before - after)) -gt $((11 * 1024 * 1024))

# prune killed at 20 points: the repository stays usable, nothing is lost
for i in 0 1 2 3 4 5 6 7 8 9; do gen_random "k$i" $((1200 * 1024)) "$T/k$i"; done
base=$T/killbase
"$CAIRN" init -q -r "$base" --pack-size 1M
for i in 0 1 2 3 4 5 6 7 8 9; do
	cat "$T/k$i" "$T/k$(( (i + 1) % 10 ))" | "$CAIRN" backup -q -r "$base" --stdin --stdin-name k --time "2026-01-1$i 00:00"
done
"$CAIRN" forget -q -r "$base" --keep-last 3
survivors_ok=1
killed=0
for point in $(seq 1 20); do
	rm -rf "$T/kill"
	cp -a "$base" "$T/kill"
	(CAIRN_TEST_PRUNE_KILL_AT=$point exec "$CAIRN" prune -q -r "$T/kill" >/dev/null 2>&1)
	[ $? -eq 137 ] && killed=$((killed + 1))
	"$CAIRN" unlock -q -r "$T/kill" >/dev/null 2>&1
	"$CAIRN" check -q -r "$T/kill" >/dev/null 2>&1 || { survivors_ok=0; echo "# kill at $point: check failed"; }
	for i in 7 8 9; do
		"$CAIRN" dump -r "$T/kill" --at "2026-01-1$i 00:00" k 2>/dev/null |
			cmp -s - <(cat "$T/k$i" "$T/k$(( (i + 1) % 10 ))") || { survivors_ok=0; echo "# kill at $point: snapshot $i broken"; }
	done
	"$CAIRN" prune -q -r "$T/kill" >/dev/null 2>&1 || { survivors_ok=0; echo "# kill at $point: prune after the kill failed"; }
	"$CAIRN" dump -r "$T/kill" latest k 2>/dev/null | cmp -s - <(cat "$T/k9" "$T/k0") || survivors_ok=0
done
check "prune was killed at 20 different points ($killed)" test $killed -eq 20
check "prune killed at 20 points loses nothing and check passes" test $survivors_ok -eq 1

# concurrent writers, then prune
C=$T/conc
"$CAIRN" init -q -r "$C"
pids=""
for i in 1 2 3 4; do
	gen_random "c$i" $((3 * 1024 * 1024)) "$T/c$i"
	"$CAIRN" backup -q -r "$C" --stdin --stdin-name c$i --host w$i <"$T/c$i" 2>"$T/c$i.err" &
	pids="$pids $!"
done
fails=0
for p in $pids; do wait "$p" || fails=$((fails + 1)); done
check "four concurrent backups succeed" test $fails -eq 0
check_exit 0 "prune after concurrent backups" "$CAIRN" prune -r "$C"
all=1
for i in 1 2 3 4; do "$CAIRN" dump -r "$C" --host w$i latest c$i | cmp -s - "$T/c$i" || all=0; done
check "all concurrent snapshots restore after prune" test $all -eq 1

# locks
"$CAIRN" backup -q -r "$C" --stdin-from-command --stdin-name slow -- sh -c 'sleep 4; echo x' &
bg=$!
sleep 1.5
check_exit 11 "prune while a backup runs exits 11" "$CAIRN" prune -r "$C"
err_has "locked by .*pid $bg" "lock error names the holder"
check_exit 0 "unlock keeps a live lock" "$CAIRN" unlock -r "$C"
check "live lock still there" test "$(ls "$C/locks" | wc -l)" -eq 1
wait $bg
check "lock released after the backup" test "$(ls "$C/locks" | wc -l)" -eq 0
( exec "$CAIRN" backup -q -r "$C" --stdin-from-command --stdin-name slow2 -- sh -c 'sleep 30' ) 2>/dev/null &
bg=$!
sleep 1.5
kill -9 $bg
wait $bg 2>/dev/null || true
check "a killed backup leaves its lock" test "$(ls "$C/locks" | wc -l)" -eq 1
check_exit 0 "a stale lock (process gone) does not block prune" "$CAIRN" prune -r "$C"
check_exit 0 "unlock removes the stale lock" "$CAIRN" unlock -r "$C"
check "no locks left" test "$(ls "$C/locks" | wc -l)" -eq 0
done_testing

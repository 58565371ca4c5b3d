#!/usr/bin/env bash
# bench/mount.sh [CORPUSDIR] - reading through FUSE mounts: sequential read
# of random.bin (1 GiB) and time to first byte of a random 4 KiB read, cairn
# against restic mount (and borg mount when borg's FUSE support is there),
# each from a fresh mount.
set -euo pipefail
corpus=${1:-/tmp/cairn-corpus}
here=$(cd "$(dirname "$0")" && pwd)
CAIRN=${CAIRN:-$(command -v cairn || echo "$here/../src/cairn")}
out=${BENCH_OUT:-$here/last-mount.md}
f=$corpus/random.bin
[ -f "$f" ] || { echo "no $f (bench/make-corpus.sh)" >&2; exit 1; }
work=$(mktemp -d "${BENCH_TMPDIR:-${TMPDIR:-/tmp}}/cairn-mount.XXXXXX")
mnt=$work/mnt
mkdir -p "$mnt"
cleanup() { fusermount3 -u "$mnt" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
export CAIRN_PASSWORD=bench RESTIC_PASSWORD=bench BORG_PASSPHRASE=bench XDG_CACHE_HOME=$work/cache
size=$(stat -c %s "$f")
cat "$f" >/dev/null

wait_mount() {	# wait_mount FILE-INSIDE
	for _ in $(seq 1 150); do [ -e "$1" ] && return 0; sleep 0.2; done
	echo "mount did not come up" >&2; return 1
}
now() { date +%s.%N; }
declare -A seq ttfb
run_tool() {	# run_tool NAME START-CMD PATH-IN-MOUNT
	local name=$1 start=$2 path=$3 pid t0 t1
	bash -c "$start" >"$work/$name.log" 2>&1 &
	pid=$!
	wait_mount "$mnt/$path"
	t0=$(now)
	dd if="$mnt/$path" bs=4096 skip=$((size / 2 / 4096 + 17)) count=1 of=/dev/null 2>/dev/null
	t1=$(now)
	ttfb[$name]=$(python3 -c "print('%.3f' % ($t1 - $t0))")
	fusermount3 -u "$mnt"; wait $pid || true
	bash -c "$start" >>"$work/$name.log" 2>&1 &
	pid=$!
	wait_mount "$mnt/$path"
	t0=$(now)
	cat "$mnt/$path" >/dev/null
	t1=$(now)
	seq[$name]=$(python3 -c "print('%.1f' % ($size / 1e6 / ($t1 - $t0)))")
	fusermount3 -u "$mnt"; wait $pid || true
}
"$CAIRN" init -q -r "$work/c"
"$CAIRN" backup -q -r "$work/c" --stdin --stdin-name random.bin <"$f"
run_tool cairn "'$CAIRN' mount -r '$work/c' '$mnt'" snapshots/latest/random.bin
restic init -q -r "$work/r"
restic -q -r "$work/r" backup --stdin --stdin-filename random.bin <"$f" >/dev/null
run_tool restic "restic -r '$work/r' mount '$mnt'" snapshots/latest/random.bin
tools="cairn restic"
if borg mount --help >/dev/null 2>&1 && python3 -c "import llfuse" 2>/dev/null; then
	borg init -e repokey-blake2 "$work/b" && borg create "$work/b::a" - <"$f"
	run_tool borg "borg mount -f '$work/b' '$mnt'" a/stdin
	tools="cairn restic borg"
fi
{
	echo "## reading through FUSE: random.bin ($((size / 1048576)) MiB)"
	echo
	echo "- $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $("$CAIRN" version), $(restic version | cut -d' ' -f1-2)"
	echo
	echo "| tool | sequential read | time to first byte (random 4 KiB) |"
	echo "|---|---:|---:|"
	for t in $tools; do echo "| $t | ${seq[$t]} MB/s | ${ttfb[$t]} s |"; done
	echo
	echo "cairn/restic sequential: $(python3 -c "print('%.2f' % (${seq[cairn]} / ${seq[restic]}))")"
} | tee "$out"

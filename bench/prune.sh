#!/usr/bin/env bash
# bench/prune.sh [CORPUSDIR] - prune after forgetting half of N snapshots of
# the pg_dump corpus: cairn against restic in one run (wall time, CPU time,
# peak RSS, bytes left). N = BENCH_PRUNE_N (default 100); snapshot i backs
# up pg_dump(i mod 7).sql with a distinct --time, so consecutive snapshots
# share most data, as hourly dumps do.
#
# Both repositories are built first; then each prune runs on a fresh copy
# of its repository and cache, BENCH_PRUNE_RUNS times (default 3), cairn
# and restic taking turns so that both see the same load; the table gives
# the medians. CPU time (user + system) is given too: on a shared machine
# it is the number the load does not inflate.
set -euo pipefail
corpus=${1:-/tmp/cairn-corpus}
n=${BENCH_PRUNE_N:-100}
runs=${BENCH_PRUNE_RUNS:-3}
here=$(cd "$(dirname "$0")" && pwd)
CAIRN=${CAIRN:-$(command -v cairn || echo "$here/../src/cairn")}
out=${BENCH_OUT:-$here/last-prune.md}
work=$(mktemp -d "${BENCH_TMPDIR:-${TMPDIR:-/tmp}}/cairn-prune.XXXXXX")
trap 'rm -rf "$work"' EXIT
command -v /usr/bin/time >/dev/null || apt-get install -y -qq time >/dev/null
dumps=()
for i in 0 1 2 3 4 5 6; do
	[ -f "$corpus/pg_dump$i.sql" ] && dumps+=("$corpus/pg_dump$i.sql")
done
[ ${#dumps[@]} -gt 0 ] || { echo "no pg_dump*.sql in $corpus (bench/make-corpus.sh)" >&2; exit 1; }
export CAIRN_PASSWORD=bench RESTIC_PASSWORD=bench
log() { echo "[prune-bench $(date +%T)] $*" >&2; }

measure() {	# measure NAME CMD... -> sets secs, cpu, rss_kb
	local name=$1 user sys
	shift
	/usr/bin/time -f '%e %U %S %M' -o "$work/time" "$@" >"$work/$name.out" 2>"$work/$name.err" || {
		echo "command failed: $*" >&2; tail -5 "$work/$name.err" >&2; return 1; }
	read -r secs user sys rss_kb <"$work/time"
	cpu=$(python3 -c "print('%.2f' % ($user + $sys))")
}

declare -A res
for tool in cairn restic; do
	repo=$work/$tool.repo
	export XDG_CACHE_HOME=$work/$tool.cache
	log "$tool: $n backups"
	if [ "$tool" = cairn ]; then "$CAIRN" init -q -r "$repo"; else restic init -q -r "$repo"; fi
	for i in $(seq 0 $((n - 1))); do
		f=${dumps[$((i % ${#dumps[@]}))]}
		t=$(date -u -d "@$((1780000000 + i * 3600))" "+%Y-%m-%d %H:%M:%S")
		if [ "$tool" = cairn ]; then
			"$CAIRN" backup -q -r "$repo" --host bench --time "$t" --stdin --stdin-name db.sql <"$f"
		else
			restic -q -r "$repo" backup --host bench --time "$t" --stdin --stdin-filename db.sql <"$f" >/dev/null
		fi
	done
	res[$tool.before]=$(du -sb "$repo" | cut -f1)
	if [ "$tool" = cairn ]; then
		"$CAIRN" forget -q -r "$repo" --keep-last $((n / 2))
	else
		restic -q -r "$repo" forget --keep-last $((n / 2)) >/dev/null
	fi
done
for r in $(seq 1 "$runs"); do
	for tool in cairn restic; do
		rm -rf "$work/run.repo" "$work/run.cache"
		cp -a "$work/$tool.repo" "$work/run.repo"
		cp -a "$work/$tool.cache" "$work/run.cache"
		export XDG_CACHE_HOME=$work/run.cache
		log "$tool prune, run $r"
		if [ "$tool" = cairn ]; then
			measure cairn-prune "$CAIRN" prune -r "$work/run.repo"
		else
			measure restic-prune restic -r "$work/run.repo" prune
		fi
		res[$tool.secs]+="$secs "
		res[$tool.cpu]+="$cpu "
		res[$tool.rss]+="$rss_kb "
		res[$tool.after]=$(du -sb "$work/run.repo" | cut -f1)
	done
done
load=$(cut -d' ' -f1-3 /proc/loadavg)
median() { python3 -c "import statistics,sys; print(statistics.median(float(x) for x in sys.argv[1:]))" $1; }
for tool in cairn restic; do
	for k in secs cpu rss; do
		res[$tool.$k.all]=${res[$tool.$k]}
		res[$tool.$k]=$(median "${res[$tool.$k]}")
	done
done
ratio() { python3 -c "print('%.2f' % ($1 / $2) if $2 else '-')"; }
mib() { python3 -c "print('%.1f MiB' % ($1 / 1048576))"; }
kib_mib() { python3 -c "print('%.1f MiB' % ($1 / 1024))"; }
{
	echo "## prune after forgetting half of $n pg_dump snapshots"
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, load average $load, $("$CAIRN" version), $(restic version | cut -d' ' -f1-2)"
	echo "- median of $runs prunes each, on fresh copies, cairn and restic in turn; all runs: cairn ${res[cairn.secs.all]}s / ${res[cairn.cpu.all]}s CPU, restic ${res[restic.secs.all]}s / ${res[restic.cpu.all]}s CPU"
	echo
	echo "| metric | cairn | restic | cairn/restic |"
	echo "|---|---:|---:|---:|"
	echo "| prune wall time | ${res[cairn.secs]} s | ${res[restic.secs]} s | $(ratio "${res[cairn.secs]}" "${res[restic.secs]}") |"
	echo "| prune CPU time (user + sys) | ${res[cairn.cpu]} s | ${res[restic.cpu]} s | $(ratio "${res[cairn.cpu]}" "${res[restic.cpu]}") |"
	echo "| prune peak RSS | $(kib_mib "${res[cairn.rss]}") | $(kib_mib "${res[restic.rss]}") | $(ratio "${res[cairn.rss]}" "${res[restic.rss]}") |"
	echo "| repository before prune | $(mib "${res[cairn.before]}") | $(mib "${res[restic.before]}") | $(ratio "${res[cairn.before]}" "${res[restic.before]}") |"
	echo "| repository after prune | $(mib "${res[cairn.after]}") | $(mib "${res[restic.after]}") | $(ratio "${res[cairn.after]}" "${res[restic.after]}") |"
} | tee "$out"

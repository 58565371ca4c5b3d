#!/usr/bin/env bash
# Compare full verification speed: `cairn check --read-data` against
# `restic check --read-data` and `borg check --verify-data`, on the pg_dump
# and file-tree pieces of the corpus from make-corpus.sh.
#
#   bench/check.sh CORPUS [TREE_CORPUS]
#
# For each scenario and tool: a fresh repository gets the scenario's
# backups (pg: every pg_dumpN.sql through stdin, one snapshot each; tree:
# tree0 then tree1), then the full verification is timed BENCH_REPEAT times
# (wall clock, CPU time and peak RSS with /usr/bin/time; the fastest run
# counts, to damp the noise of a shared machine). "speed-up" is restic's
# wall time over the tool's for the same backups (the same input data);
# "repo MB/s" divides the repository's size on disk by the wall time, which
# favours tools that store more. The page cache is warm for every tool
# alike (the repository was just written; it is read once more before
# timing). TREE_CORPUS: where tree0/tree1 are, when not in CORPUS.
#
# Environment: CAIRN (binary) [cairn on PATH, else ./cairn];
# BENCH_TOOLS ["cairn restic borg"]; BENCH_SCENARIOS ["pg tree"];
# BENCH_TMPDIR [$TMPDIR or /tmp] (needs ~2x the scenario's input);
# BENCH_OUT [bench/last-check.md]; BENCH_KEEP [0]: 1 keeps the repositories;
# BENCH_REPEAT [3]: timed runs per tool;
# BENCH_CAIRN_THREADS: --threads for cairn check (default: its own).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
CORPUS=${1:?usage: bench/check.sh CORPUS [TREE_CORPUS]}
TREE_CORPUS=${2:-$CORPUS}
read -r -a TOOLS <<<"${BENCH_TOOLS:-cairn restic borg}"
read -r -a SCENARIOS <<<"${BENCH_SCENARIOS:-pg tree}"
OUT=${BENCH_OUT:-$here/last-check.md}
if [[ -z ${CAIRN:-} ]]; then
	CAIRN=$(command -v cairn || echo "$here/../cairn")
fi
log() { echo "[check-bench] $*" >&2; }
die() { log "$*"; exit 1; }
[[ -x /usr/bin/time ]] || die "needs /usr/bin/time (apt-get install -y time)"
for t in "${TOOLS[@]}"; do
	case $t in
	cairn) [[ -x $CAIRN ]] || die "no cairn binary at $CAIRN (set CAIRN)" ;;
	restic | borg) command -v "$t" >/dev/null || die "$t not installed" ;;
	*) die "unknown tool $t" ;;
	esac
done
PG_FILES=()
for s in "${SCENARIOS[@]}"; do
	case $s in
	pg)
		for ((i = 0; i < 10000; i++)); do
			[[ -f $CORPUS/pg_dump$i.sql ]] || break
			PG_FILES+=("$CORPUS/pg_dump$i.sql")
		done
		[[ ${#PG_FILES[@]} -ge 1 ]] || die "no pg_dump0.sql in $CORPUS"
		;;
	tree) [[ -d $TREE_CORPUS/tree0 && -d $TREE_CORPUS/tree1 ]] || die "no tree0/tree1 in $TREE_CORPUS" ;;
	*) die "unknown scenario $s (pg, tree)" ;;
	esac
done

WORK=$(mktemp -d "${BENCH_TMPDIR:-${TMPDIR:-/tmp}}/cairn-check-bench.XXXXXX")
cleanup() {
	if [[ ${BENCH_KEEP:-0} == 1 ]]; then log "kept $WORK"; else rm -rf -- "$WORK"; fi
}
trap cleanup EXIT
export CAIRN_PASSWORD=bench RESTIC_PASSWORD=bench BORG_PASSPHRASE=bench
export BORG_RELOCATED_REPO_ACCESS_IS_OK=yes BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes
RESULTS=$WORK/results.tsv
: >"$RESULTS"

# backup TOOL REPO SCENARIO
backup() {
	local tool=$1 repo=$2 s=$3 n=0
	case $s in
	pg)
		for f in "${PG_FILES[@]}"; do
			n=$((n + 1))
			case $tool in
			cairn) "$CAIRN" backup -q -r "$repo" --stdin --stdin-name pg.sql <"$f" ;;
			restic) restic -q -r "$repo" backup --stdin --stdin-filename pg.sql --host bench <"$f" ;;
			borg) borg create --compression zstd,3 --stdin-name pg.sql "$repo::pg$n" - <"$f" ;;
			esac
		done
		;;
	tree)
		for d in tree0 tree1; do
			case $tool in
			cairn) "$CAIRN" backup -q -r "$repo" "$TREE_CORPUS/$d" ;;
			restic) restic -q -r "$repo" backup --host bench "$TREE_CORPUS/$d" >/dev/null ;;
			borg) borg create --compression zstd,3 "$repo::$d" "$TREE_CORPUS/$d" ;;
			esac
		done
		;;
	esac
}

for s in "${SCENARIOS[@]}"; do
	for tool in "${TOOLS[@]}"; do
		dir=$WORK/$s-$tool
		repo=$dir/repo
		mkdir -p "$dir"
		export XDG_CACHE_HOME=$dir/cache BORG_BASE_DIR=$dir/borgbase CAIRN_CACHE_DIR=$dir/cache/cairn
		log "$s/$tool: backing up"
		case $tool in
		cairn) "$CAIRN" init -q -r "$repo" ;;
		restic) restic -q init -r "$repo" --repository-version 2 >/dev/null ;;
		borg) borg init -e repokey-blake2 "$repo" ;;
		esac
		backup "$tool" "$repo" "$s"
		size=$(du -sb "$repo" | cut -f1)
		find "$repo" -type f -exec cat {} + >/dev/null
		case $tool in
		cairn) cmd=("$CAIRN" check -q -r "$repo" --read-data ${BENCH_CAIRN_THREADS:+--threads "$BENCH_CAIRN_THREADS"}) ;;
		restic) cmd=(restic -q -r "$repo" check --read-data) ;;
		borg) cmd=(borg check --verify-data "$repo") ;;
		esac
		log "$s/$tool: ${cmd[*]}"
		best=""
		for ((k = 0; k < ${BENCH_REPEAT:-3}; k++)); do
			/usr/bin/time -f '%e %U %S %M' -o "$dir/time" "${cmd[@]}" >"$dir/out" 2>"$dir/err" ||
				{ tail -5 "$dir/err" >&2; die "$s/$tool: verification failed"; }
			read -r wall usr sys rss <"$dir/time"
			cpu=$(awk -v u="$usr" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
			if [[ -z $best ]] || awk -v a="$wall" -v b="$best" 'BEGIN { exit !(a < b) }'; then
				best=$wall best_cpu=$cpu best_rss=$rss
			fi
			log "$s/$tool: $size bytes verified in $wall s ($cpu s CPU)"
		done
		printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$s" "$tool" "$size" "$best" "$best_rss" "$best_cpu" >>"$RESULTS"
		[[ ${BENCH_KEEP:-0} == 1 ]] || rm -rf -- "$repo" "$dir/cache" "$dir/borgbase"
	done
done

{
	echo "# check --read-data: cairn, restic, borg"
	echo
	echo "$(date -u +%Y-%m-%d) on $(nproc) CPUs; $("$CAIRN" version 2>/dev/null || echo cairn)," \
		"$(restic version 2>/dev/null | cut -d' ' -f1-2 || true)," \
		"$(borg --version 2>/dev/null || true). Warm page cache, local repositories."
	echo
	echo "| scenario | tool | repository | wall time | CPU time | repo MB/s | peak RSS | speed-up vs restic |"
	echo "|---|---|---|---|---|---|---|---|"
	awk -F'\t' '
		{ key = $1 SUBSEP $2; size[key] = $3; wall[key] = $4; rss[key] = $5; cpu[key] = $6
		  order[++n] = key }
		END {
			for (i = 1; i <= n; i++) {
				split(order[i], k, SUBSEP)
				w = wall[order[i]] < 0.01 ? 0.01 : wall[order[i]]
				tp = size[order[i]] / 1e6 / w
				r = k[1] SUBSEP "restic"
				vs = "-"
				if (r in wall)
					vs = sprintf("%.2fx", wall[r] / w)
				printf "| %s | %s | %.1f MB | %.2f s | %.2f s | %.1f | %.0f MiB | %s |\n",
					k[1], k[2], size[order[i]] / 1e6, wall[order[i]], cpu[order[i]], tp,
					rss[order[i]] / 1024, vs
			}
		}' "$RESULTS"
} >"$OUT"
cat "$OUT"

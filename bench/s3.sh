#!/usr/bin/env bash
# bench/s3.sh [CORPUSDIR] - backups to and restores from a local S3 server:
# cairn against restic (its S3 backend) on the same server in one run.
#
# The server is @20minutes/s3rver 5.0.0 (npm), started on a free port on
# 127.0.0.1 with its data in a temp folder and stopped by the exit trap. It
# runs with --allow-mismatched-signatures: it canonicalises a bucket URL
# "/BUCKET/" (restic's minio-go client sends that) as "/BUCKET" and so
# refuses restic's correct signatures; signatures still have to be well
# formed. s3rver 3.7.1 cannot be used: it stores restic's aws-chunked
# bodies verbatim, so restic's repository is corrupt; 5.0.0 decodes them.
#
# Measured, per tool, each into its own bucket:
#   - first backup of pg_dump0.sql, then pg_dump1..N.sql (BENCH_S3_HOURS,
#     default 6) as hourly backups;
#   - full restore of the last dump (cairn dump / restic dump to a file),
#     verified with cmp; then of pg_dump0.sql; each the best of
#     BENCH_S3_REPEAT (default 3) runs;
#   - wall time, throughput (dump bytes / wall), user+system CPU, peak RSS;
#   - first backups of pg_dump0.sql again, BENCH_S3_FIRST (default 5)
#     rounds of one cairn and one restic backup into new buckets, the order
#     alternating: this machine's speed drifts by 20 % over minutes, so a
#     ratio is taken within each round, and the median of them reported;
# plus curl's raw PUT and GET of one large object (BENCH_S3_CEILING_MB,
# default 256) against the same server: the ceiling of one connection.
#
# The npm package is looked for in BENCH_S3_NPM_DIR, $CAIRN_TEST_NPM_DIR or
# ~/.cache/cairn-test-npm (tests/run.sh installs it there) and installed
# into BENCH_S3_NPM_DIR (default ~/.cache/cairn-bench-npm) when missing.
set -euo pipefail
load0=$(cut -d" " -f1-3 /proc/loadavg)
corpus=${1:-/tmp/cairn-corpus}
hours=${BENCH_S3_HOURS:-6}
ceiling_mb=${BENCH_S3_CEILING_MB:-256}
repeat=${BENCH_S3_REPEAT:-3}
first_rounds=${BENCH_S3_FIRST:-5}
here=$(cd "$(dirname "$0")" && pwd)
CAIRN=${CAIRN:-$(command -v cairn || echo "$here/../cairn")}
out=${BENCH_OUT:-$here/last-s3.md}
command -v restic >/dev/null || { echo "restic is not installed (apt-get install restic)" >&2; exit 1; }
command -v node >/dev/null || { echo "node is not installed (apt-get install nodejs npm)" >&2; exit 1; }
command -v /usr/bin/time >/dev/null || apt-get install -y -qq time >/dev/null
[ -f "$corpus/pg_dump0.sql" ] || { echo "no $corpus/pg_dump0.sql (bench/make-corpus.sh)" >&2; exit 1; }
dumps=("$corpus/pg_dump0.sql")
for i in $(seq 1 "$hours"); do
	[ -f "$corpus/pg_dump$i.sql" ] && dumps+=("$corpus/pg_dump$i.sql")
done

srv_js=""
for d in ${BENCH_S3_NPM_DIR:-} ${CAIRN_TEST_NPM_DIR:-} "$HOME/.cache/cairn-test-npm" "$HOME/.cache/cairn-bench-npm"; do
	[ -f "$d/node_modules/@20minutes/s3rver/lib/cli.js" ] && { srv_js=$d/node_modules/@20minutes/s3rver/lib/cli.js; break; }
done
if [ -z "$srv_js" ]; then
	d=${BENCH_S3_NPM_DIR:-$HOME/.cache/cairn-bench-npm}
	mkdir -p "$d"
	(cd "$d" && timeout 600 npm install --no-audit --no-fund --loglevel=error @20minutes/s3rver@5.0.0 >/dev/null)
	srv_js=$d/node_modules/@20minutes/s3rver/lib/cli.js
fi
srv_version=$(node -e 'console.log(require(process.argv[1]).version)' "$(dirname "$srv_js")/../package.json")

work=$(mktemp -d "${BENCH_TMPDIR:-${TMPDIR:-/tmp}}/cairn-s3.XXXXXX")
srv_pid=""
cleanup() {
	if [ -n "$srv_pid" ]; then kill "$srv_pid" 2>/dev/null; wait "$srv_pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT
log() { echo "[s3-bench $(date +%T)] $*" >&2; }

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
node --openssl-legacy-provider -e \
	'require(process.argv[1]).parseAsync(["node", "s3rver"].concat(process.argv.slice(2)))' \
	"$srv_js" -d "$work/srv" -a 127.0.0.1 -p "$port" --silent --allow-mismatched-signatures \
	>"$work/srv.log" 2>&1 &
srv_pid=$!
for _ in $(seq 1 150); do
	(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
	sleep 0.1
done
(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "s3rver did not start: $(head -c 300 "$work/srv.log")" >&2; exit 1; }
url=http://127.0.0.1:$port
log "@20minutes/s3rver $srv_version on 127.0.0.1:$port"

export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_REGION AWS_DEFAULT_REGION
export CAIRN_PASSWORD=bench RESTIC_PASSWORD=bench

measure() {	# measure KEY CMD... (stdin/stdout as redirected by the caller) -> res[KEY.*]
	local key=$1
	shift
	/usr/bin/time -f '%e %U %S %M' -o "$work/time" "$@" 2>"$work/err" || {
		echo "command failed: $*" >&2; tail -5 "$work/err" >&2; return 1; }
	read -r w u s m <"$work/time"
	res[$key.wall]=$w
	res[$key.cpu]=$(python3 -c "print('%.2f' % ($u + $s))")
	res[$key.rss]=$m
}

declare -A res
size() { stat -c %s "$1"; }
s3curl() { curl -sS --aws-sigv4 aws:amz:us-east-1:s3 --user S3RVER:S3RVER \
	-H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$@"; }

# the ceiling: one large object, one connection, with curl
head -c $((ceiling_mb << 20)) "${dumps[0]}" >"$work/ceiling.bin"
while [ "$(size "$work/ceiling.bin")" -lt $((ceiling_mb << 20)) ]; do
	cat "${dumps[0]}" >>"$work/ceiling.bin"
done
truncate -s $((ceiling_mb << 20)) "$work/ceiling.bin"
s3curl -o /dev/null -X PUT "$url/ceiling"
for k in 1 2 3; do	# best of three
	p=$(s3curl -o /dev/null -w '%{time_total}' -T "$work/ceiling.bin" "$url/ceiling/big")
	g=$(s3curl -o "$work/ceiling.out" -w '%{time_total}' "$url/ceiling/big")
	cmp -s "$work/ceiling.bin" "$work/ceiling.out" || { echo "curl GET does not match its PUT" >&2; exit 1; }
	res[curl.put.$k]=$p
	res[curl.get.$k]=$g
done
rm -f "$work/ceiling.out" "$work/ceiling.bin"
best() { printf '%s\n' "$@" | sort -g | head -1; }
res[curl.put]=$(best "${res[curl.put.1]}" "${res[curl.put.2]}" "${res[curl.put.3]}")
res[curl.get]=$(best "${res[curl.get.1]}" "${res[curl.get.2]}" "${res[curl.get.3]}")
s3curl -o /dev/null -X DELETE "$url/ceiling/big"

last=${dumps[$((${#dumps[@]} - 1))]}
hour_bytes=0
for f in "${dumps[@]:1}"; do hour_bytes=$((hour_bytes + $(size "$f"))); done
for tool in cairn restic; do
	export XDG_CACHE_HOME=$work/cache-$tool
	repo=s3:$url/$tool
	if [ "$tool" = cairn ]; then
		"$CAIRN" init -q -r "$repo" --create-bucket
	else
		restic -q -r "$repo" init >/dev/null
	fi
	for i in "${!dumps[@]}"; do
		f=${dumps[$i]}
		cat "$f" >/dev/null
		log "$tool: backup $(basename "$f")"
		t=$(date -u -d "@$((1780000000 + i * 3600))" "+%Y-%m-%d %H:%M:%S")
		if [ "$tool" = cairn ]; then
			measure "$tool.b$i" "$CAIRN" backup -q -r "$repo" --host bench --time "$t" \
				--stdin --stdin-name db.sql <"$f"
		else
			measure "$tool.b$i" restic -q -r "$repo" backup --host bench --time "$t" \
				--stdin --stdin-filename db.sql <"$f" >/dev/null
		fi
	done
	log "$tool: restore $(basename "$last") and pg_dump0.sql"
	for which in last first; do
		if [ "$which" = last ]; then snap=latest src=$last; else src=${dumps[0]}; fi
		if [ "$which" = first ]; then
			if [ "$tool" = cairn ]; then
				snap=$("$CAIRN" snapshots -r "$repo" --json | python3 -c \
					'import json, sys; print(min(json.load(sys.stdin), key=lambda s: s["time"])["id"])')
			else
				snap=$(restic -r "$repo" snapshots --json | python3 -c \
					'import json, sys; print(min(json.load(sys.stdin), key=lambda s: s["time"])["id"])')
			fi
		fi
		for k in $(seq 1 "$repeat"); do	# best of $repeat
			if [ "$tool" = cairn ]; then
				measure try "$CAIRN" dump -r "$repo" "$snap" db.sql >"$work/restored"
			else
				measure try restic -r "$repo" dump "$snap" db.sql >"$work/restored"
			fi
			cmp -s "$src" "$work/restored" || { echo "$tool: restore of $(basename "$src") differs" >&2; exit 1; }
			rm -f "$work/restored"
			if [ "$k" = 1 ] || python3 -c "import sys; sys.exit(not ${res[try.wall]} < ${res[$tool.r$which.wall]})"; then
				for f in wall cpu rss; do res[$tool.r$which.$f]=${res[try.$f]}; done
			fi
		done
	done
	res[$tool.stored]=$(du -sb "$work/srv/$tool" | cut -f1)
done

# first backups in rounds, the order alternating
first_walls=() first_ratios=()
for k in $(seq 1 "$first_rounds"); do
	if [ $((k % 2)) = 1 ]; then order="cairn restic"; else order="restic cairn"; fi
	for tool in $order; do
		export XDG_CACHE_HOME=$work/cache-first-$tool-$k
		repo=s3:$url/first-$tool-$k
		cat "${dumps[0]}" >/dev/null
		if [ "$tool" = cairn ]; then
			"$CAIRN" init -q -r "$repo" --create-bucket
			measure "f$k.$tool" "$CAIRN" backup -q -r "$repo" --host bench --stdin \
				--stdin-name db.sql <"${dumps[0]}"
		else
			restic -q -r "$repo" init >/dev/null
			measure "f$k.$tool" restic -q -r "$repo" backup --host bench --stdin \
				--stdin-filename db.sql <"${dumps[0]}" >/dev/null
		fi
		rm -rf "$XDG_CACHE_HOME" "$work/srv/first-$tool-$k"
	done
	log "first backup round $k: cairn ${res[f$k.cairn.wall]} s, restic ${res[f$k.restic.wall]} s"
	first_walls+=("${res[f$k.cairn.wall]}:${res[f$k.restic.wall]}")
	first_ratios+=("$(python3 -c "print('%.2f' % (${res[f$k.restic.wall]} / ${res[f$k.cairn.wall]}))")")
done
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

mbs() { python3 -c "print('%.1f' % ($1 / 1e6 / $2))"; }
ratio() { python3 -c "print('%.2f' % ($1 / $2) if $2 else '-')"; }
sum_wall() {	# sum_wall TOOL -> seconds of the hourly backups
	local t=0
	for i in $(seq 1 $((${#dumps[@]} - 1))); do t=$(python3 -c "print('%.2f' % ($t + ${res[$1.b$i.wall]}))"); done
	echo "$t"
}
sum_cpu() {
	local t=0
	for i in $(seq 1 $((${#dumps[@]} - 1))); do t=$(python3 -c "print('%.2f' % ($t + ${res[$1.b$i.cpu]}))"); done
	echo "$t"
}
max_rss() {
	local m=0
	for i in $(seq 1 $((${#dumps[@]} - 1))); do [ "${res[$1.b$i.rss]}" -gt "$m" ] && m=${res[$1.b$i.rss]}; done
	echo "$m"
}
s0=$(size "${dumps[0]}")
sl=$(size "$last")
row() {	# row LABEL BYTES KEY-SUFFIX (throughput, cpu, rss)
	local label=$1 bytes=$2 k=$3
	local cw=${res[cairn.$k.wall]} rw=${res[restic.$k.wall]}
	echo "| $label: throughput | $(mbs "$bytes" "$cw") MB/s | $(mbs "$bytes" "$rw") MB/s | $(ratio "$rw" "$cw") |"
	echo "| $label: wall / CPU | $cw s / ${res[cairn.$k.cpu]} s | $rw s / ${res[restic.$k.cpu]} s | $(ratio "${res[cairn.$k.cpu]}" "${res[restic.$k.cpu]}") (CPU) |"
	echo "| $label: peak RSS | $((res[cairn.$k.rss] / 1024)) MiB | $((res[restic.$k.rss] / 1024)) MiB | $(ratio "${res[cairn.$k.rss]}" "${res[restic.$k.rss]}") |"
}
cb=$(sum_wall cairn) rb=$(sum_wall restic)
{
	echo "## S3: pg_dump corpus to a local S3 server"
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, load average at start ${load0}, at end $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "- $("$CAIRN" version), $(restic version | cut -d' ' -f1-2), @20minutes/s3rver $srv_version (node $(node --version)) on 127.0.0.1, --allow-mismatched-signatures"
	echo "- curl $(curl --version | head -1 | cut -d' ' -f2) ceiling, one connection, ${ceiling_mb} MiB object, best of 3: PUT $(mbs $((ceiling_mb << 20)) "${res[curl.put]}") MB/s, GET $(mbs $((ceiling_mb << 20)) "${res[curl.get]}") MB/s"
	echo
	echo "| metric | cairn | restic | cairn/restic speed |"
	echo "|---|---:|---:|---:|"
	row "first backup pg_dump0.sql ($((s0 / 1000000)) MB)" "$s0" b0
	if [ "$first_rounds" -gt 0 ]; then
		cm=$(median "${first_walls[@]%%:*}") rm_=$(median "${first_walls[@]##*:}")
		echo "| first backup pg_dump0.sql, $first_rounds rounds (cairn, restic) alternating: median wall | $cm s | $rm_ s | $(median "${first_ratios[@]}") (median of the rounds' ratios: $(printf '%s\n' "${first_ratios[@]}" | sort -g | tr '\n' ' ' | sed 's/ $//')) |"
	fi
	if [ ${#dumps[@]} -gt 1 ]; then
		echo "| hourly backups pg_dump1..$((${#dumps[@]} - 1)) ($((hour_bytes / 1000000)) MB): throughput | $(mbs "$hour_bytes" "$cb") MB/s | $(mbs "$hour_bytes" "$rb") MB/s | $(ratio "$rb" "$cb") |"
		echo "| hourly backups: wall / CPU | $cb s / $(sum_cpu cairn) s | $rb s / $(sum_cpu restic) s | $(ratio "$(sum_cpu cairn)" "$(sum_cpu restic)") (CPU) |"
		echo "| hourly backups: peak RSS | $(($(max_rss cairn) / 1024)) MiB | $(($(max_rss restic) / 1024)) MiB | $(ratio "$(max_rss cairn)" "$(max_rss restic)") |"
	fi
	row "restore $(basename "$last") (dump, best of $repeat)" "$sl" rlast
	row "restore pg_dump0.sql (dump, best of $repeat)" "$s0" rfirst
	echo "| bucket size after all backups | $(python3 -c "print('%.1f MiB' % (${res[cairn.stored]} / 1048576))") | $(python3 -c "print('%.1f MiB' % (${res[restic.stored]} / 1048576))") | $(ratio "${res[restic.stored]}" "${res[cairn.stored]}") |"
	echo
	echo "MB = 10^6 bytes; throughput = dump bytes / wall time. Ratio: restic's wall time / cairn's (above 1: cairn is faster); CPU and RSS rows: cairn / restic (below 1: cairn uses less); bucket size: restic / cairn."
} | tee "$out"

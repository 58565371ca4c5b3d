#!/usr/bin/env bash
# Build the deterministic benchmark corpus for bench/run.sh.
#
#   bench/make-corpus.sh OUTDIR
#
# Produces in OUTDIR:
#   random.bin          BENCH_RANDOM_MB MiB of incompressible (AES-CTR) data
#   random-ins.bin      random.bin with BENCH_INSERT_BYTES inserted exactly in the middle
#   pg_dump0.sql ..     plain pg_dump of a realistic shop database, then one dump
#   pg_dumpN.sql        per simulated hour of pgbench workload (N = BENCH_PG_HOURS)
#   redis0.rdb          RDB snapshot of a mixed redis data set
#   redis1.rdb          the same after ~BENCH_REDIS_CHANGE_PCT % of the keys changed
#   tree0/              a real file tree copied from this system (BENCH_TREE_ROOTS,
#                       sorted, until BENCH_TREE_FILES files and BENCH_TREE_MB MiB)
#   tree1/              a `cp -a` copy of tree0 with ~1% of the files changed,
#                       ~0.5% added and ~0.5% removed (seeded); tree-manifest.txt
#                       lists the changes, tree0.sha256 / tree1.sha256 the contents
#   SHA256SUMS, logs/   checksums and build logs
#
# Pieces already present (same parameters, recorded in OUTDIR/.stamp-*) are
# not rebuilt.  BENCH_QUICK=1 selects tiny sizes for a smoke test.
#
# Environment (defaults in brackets; quick-mode defaults after the slash):
#   BENCH_SEED [cairn-bench-1]      seed for every generator
#   BENCH_RANDOM_MB [1024/16]       size of random.bin in MiB
#   BENCH_INSERT_BYTES [4096]       bytes inserted in the middle of random-ins.bin
#   BENCH_PG_MB [200/8]             approx. size of the first plain pg_dump in MB
#   BENCH_PG_HOURS [6/2]            number of hourly dumps after the first
#   BENCH_PG_TOUCH_PCT [1.5]        % of all rows written (updated+inserted) per hour
#   BENCH_PG_RECENCY [20]           random_exponential parameter for order updates
#                                   (~63% of updates hit the newest 1/RECENCY of orders)
#   BENCH_REDIS_MB [150/8]          approx. redis value bytes loaded, in MB
#   BENCH_REDIS_CHANGE_PCT [2]      % of redis keys changed between the two RDBs
#   BENCH_TREE_FILES [50000/2000]   min. number of regular files in tree0
#   BENCH_TREE_MB [1024/16]         min. size of tree0's regular files in MiB
#   BENCH_TREE_MAX_FILE_MB [32]     larger files are left out (outliers)
#   BENCH_TREE_ROOTS ["/usr/share /usr/lib"]  folders copied, in this order
#   BENCH_TREE_EXCLUDE ["/usr/lib/debug /usr/share/package-lists"]
#   BENCH_TREE_CHANGE_PCT [1]       % of tree0's files changed in tree1
#   BENCH_TREE_ADD_PCT [0.5]        % added (copies of other system files)
#   BENCH_TREE_DEL_PCT [0.5]        % removed
#   BENCH_PIECES ["random pg redis tree"]  pieces to build
#   PGBIN [newest /usr/lib/postgresql/*/bin]
#   PYTHON [python3]
#
# Determinism: random*.bin and pg_dump*.sql are byte-identical for the same
# parameters and PostgreSQL version (single pgbench client, fixed
# --random-seed, simulated clock, autovacuum off, explicit VACUUM each hour).
# The redis RDB files have deterministic content, but redis' key order and the
# RDB header (ctime, used-mem) vary from run to run.  tree0/tree1 depend on the
# files installed on this system (a fingerprint of the selection is part of
# the stamp, so installing packages rebuilds them); on the same system they are
# identical on every build except for ctimes and the mtimes of new files' folders.
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
if [[ $# -ne 1 || $1 == -h || $1 == --help ]]; then usage >&2; exit 2; fi

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LIB=$HERE/lib
mkdir -p "$1"
OUT=$(cd "$1" && pwd)
mkdir -p "$OUT/logs"

QUICK=${BENCH_QUICK:-0}
q() { if [[ $QUICK == 1 ]]; then echo "$2"; else echo "$1"; fi; }
SEED=${BENCH_SEED:-cairn-bench-1}
RANDOM_MB=${BENCH_RANDOM_MB:-$(q 1024 16)}
INSERT_BYTES=${BENCH_INSERT_BYTES:-4096}
PG_MB=${BENCH_PG_MB:-$(q 200 8)}
PG_HOURS=${BENCH_PG_HOURS:-$(q 6 2)}
PG_TOUCH_PCT=${BENCH_PG_TOUCH_PCT:-1.5}
PG_RECENCY=${BENCH_PG_RECENCY:-20}
REDIS_MB=${BENCH_REDIS_MB:-$(q 150 8)}
REDIS_CHANGE_PCT=${BENCH_REDIS_CHANGE_PCT:-2}
TREE_FILES=${BENCH_TREE_FILES:-$(q 50000 2000)}
TREE_MB=${BENCH_TREE_MB:-$(q 1024 16)}
TREE_MAX_FILE_MB=${BENCH_TREE_MAX_FILE_MB:-32}
read -r -a TREE_ROOTS <<<"${BENCH_TREE_ROOTS:-/usr/share /usr/lib}"
read -r -a TREE_EXCLUDE <<<"${BENCH_TREE_EXCLUDE:-/usr/lib/debug /usr/share/package-lists}"
TREE_CHANGE_PCT=${BENCH_TREE_CHANGE_PCT:-1}
TREE_ADD_PCT=${BENCH_TREE_ADD_PCT:-0.5}
TREE_DEL_PCT=${BENCH_TREE_DEL_PCT:-0.5}
read -r -a PIECES <<<"${BENCH_PIECES:-random pg redis tree}"
PY=${PYTHON:-python3}
if [[ -z ${PGBIN:-} ]]; then
    PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
fi

log() { printf '[make-corpus %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

need() { command -v "$1" >/dev/null 2>&1 || die "missing tool: $1 ($2)"; }
need openssl "apt-get install -y openssl"
need "$PY" "apt-get install -y python3"
need sha256sum coreutils

[[ $RANDOM_MB =~ ^[0-9]+$ && $RANDOM_MB -ge 1 ]] || die "BENCH_RANDOM_MB must be a positive integer"
[[ $PG_HOURS =~ ^[0-9]+$ && $PG_HOURS -le 1000 ]] || die "BENCH_PG_HOURS must be an integer 0..1000"
[[ $INSERT_BYTES =~ ^[0-9]+$ ]] || die "BENCH_INSERT_BYTES must be an integer"
[[ $TREE_FILES =~ ^[0-9]+$ && $TREE_MB =~ ^[0-9]+$ && $TREE_MAX_FILE_MB =~ ^[0-9]+$ ]] ||
    die "BENCH_TREE_FILES, BENCH_TREE_MB and BENCH_TREE_MAX_FILE_MB must be integers"
for p in "${PIECES[@]}"; do
    case $p in random | pg | redis | tree) ;; *) die "unknown piece '$p' in BENCH_PIECES (random pg redis tree)" ;; esac
done

# ---------------------------------------------------------------- cleanup
TMPDIRS=()
PG_CTL_DATA=""
REDIS_PID=""
cleanup() {
    local rc=$?
    if [[ -n $PG_CTL_DATA ]]; then
        log "stopping postgres"
        as_pg "$PGBIN/pg_ctl" -D "$PG_CTL_DATA" -m fast -w -t 30 stop >/dev/null 2>&1 ||
            as_pg "$PGBIN/pg_ctl" -D "$PG_CTL_DATA" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
        PG_CTL_DATA=""
    fi
    if [[ -n $REDIS_PID ]]; then
        log "stopping redis"
        kill "$REDIS_PID" 2>/dev/null || true
        wait "$REDIS_PID" 2>/dev/null || true
        REDIS_PID=""
    fi
    local d
    for d in "${TMPDIRS[@]}"; do
        [[ -n $d && -d $d ]] && rm -rf -- "$d"
    done
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

NEW_TMP=""
new_tmp() { # NAME -> NEW_TMP (not via $(...): the list must live in this shell)
    NEW_TMP=$(mktemp -d "${TMPDIR:-/tmp}/cairn-corpus-$1.XXXXXX")
    TMPDIRS+=("$NEW_TMP")
}

free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# postgres refuses to run as root: use the postgres system user then.
as_pg() {
    if [[ $EUID -eq 0 ]]; then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

# ---------------------------------------------------------------- stamps
piece_done() { # NAME PARAMS FILE...
    local name=$1 params=$2 f
    shift 2
    [[ -f $OUT/.stamp-$name && $(cat "$OUT/.stamp-$name") == "$params" ]] || return 1
    for f in "$@"; do [[ -f $OUT/$f ]] || return 1; done
    return 0
}
mark_done() { # NAME PARAMS FILE...
    local name=$1 params=$2
    shift 2
    (cd "$OUT" && sha256sum -- "$@") >"$OUT/.sha-$name"
    printf '%s' "$params" >"$OUT/.stamp-$name"
}
unmark() { rm -f "$OUT/.stamp-$1" "$OUT/.sha-$1"; }

# Deterministic keystream: AES-256-CTR over zeros with a key derived from SEED/TAG.
keystream() { # TAG BYTES
    local key iv
    key=$(printf '%s/%s/key' "$SEED" "$1" | sha256sum | cut -c1-64)
    iv=$(printf '%s/%s/iv' "$SEED" "$1" | sha256sum | cut -c1-32)
    head -c "$2" /dev/zero | openssl enc -aes-256-ctr -K "$key" -iv "$iv" -nosalt
}

# Bump when a change to this script alters the generated bytes; generator
# sources are hashed into the stamps automatically.
CORPUS_FORMAT=2
libhash() { (cd "$LIB" && cat -- "$@") | sha256sum | cut -c1-12; }

T_ALL=$SECONDS

# ---------------------------------------------------------------- random
build_random() {
    local bytes=$((RANDOM_MB * 1024 * 1024)) half params t0=$SECONDS
    half=$((bytes / 2))
    params="v=$CORPUS_FORMAT seed=$SEED mb=$RANDOM_MB ins=$INSERT_BYTES"
    if piece_done random "$params" random.bin random-ins.bin; then
        log "random.bin, random-ins.bin: up to date, skipping"
        return
    fi
    unmark random
    log "random.bin: generating $RANDOM_MB MiB"
    keystream random "$bytes" >"$OUT/random.bin.tmp"
    mv -f "$OUT/random.bin.tmp" "$OUT/random.bin"
    log "random-ins.bin: inserting $INSERT_BYTES bytes at offset $half"
    {
        head -c "$half" "$OUT/random.bin"
        keystream insert "$INSERT_BYTES"
        tail -c +"$((half + 1))" "$OUT/random.bin"
    } >"$OUT/random-ins.bin.tmp"
    [[ $(stat -c %s "$OUT/random-ins.bin.tmp") -eq $((bytes + INSERT_BYTES)) ]] ||
        die "random-ins.bin has the wrong size"
    mv -f "$OUT/random-ins.bin.tmp" "$OUT/random-ins.bin"
    mark_done random "$params" random.bin random-ins.bin
    log "random: done in $((SECONDS - t0)) s"
}

# ---------------------------------------------------------------- postgres
build_pg() {
    local params files=() h t0=$SECONDS gh pgv
    gh=$(libhash textgen.py gen_pg.py pg-update-order.sql pg-update-customer.sql pg-new-order.sql pg-new-customer.sql)
    pgv=$("$PGBIN/postgres" --version 2>/dev/null || echo none)
    params="v=$CORPUS_FORMAT/$gh seed=$SEED mb=$PG_MB hours=$PG_HOURS touch=$PG_TOUCH_PCT recency=$PG_RECENCY pg=$pgv"
    for ((h = 0; h <= PG_HOURS; h++)); do files+=("pg_dump$h.sql"); done
    if piece_done pg "$params" "${files[@]}"; then
        log "pg_dump0..$PG_HOURS.sql: up to date, skipping"
        return
    fi
    unmark pg
    [[ -n $PGBIN && -x $PGBIN/initdb && -x $PGBIN/pgbench ]] ||
        die "PostgreSQL binaries not found (set PGBIN; apt-get install -y postgresql)"

    local tmp port sock pglog="$OUT/logs/pg"
    new_tmp pg
    tmp=$NEW_TMP
    chmod 755 "$tmp"
    mkdir -p "$tmp/data" "$tmp/sock" "$tmp/dumps" "$pglog"
    if [[ $EUID -eq 0 ]]; then chown postgres: "$tmp/data" "$tmp/sock"; fi
    sock=$tmp/sock
    port=$(free_port)

    log "postgres: initdb + start on 127.0.0.1:$port"
    as_pg "$PGBIN/initdb" -D "$tmp/data" -U bench -A trust -E UTF8 --locale=C --no-sync \
        >"$pglog/initdb.log" 2>&1 || { tail -n 20 "$pglog/initdb.log" >&2; die "initdb failed"; }
    PG_CTL_DATA=$tmp/data
    as_pg "$PGBIN/pg_ctl" -D "$tmp/data" -l "$tmp/data/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $sock -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c autovacuum=off -c timezone=UTC -c shared_buffers=256MB -c max_wal_size=8GB -c max_parallel_workers_per_gather=0 -c jit=off" \
        start >"$pglog/pg_ctl.log" 2>&1 ||
        { tail -n 20 "$tmp/data/server.log" >&2 || true; die "postgres did not start"; }

    local -a PSQL=("$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$sock" -p "$port" -U bench)
    "${PSQL[@]}" -d postgres -c "CREATE DATABASE shop"
    "$PY" "$LIB/gen_pg.py" schema | "${PSQL[@]}" -d shop >/dev/null

    log "postgres: generating ~$PG_MB MB of rows"
    "$PY" "$LIB/gen_pg.py" data "$tmp" "$PG_MB" "$SEED" | tee "$pglog/data.log" >&2
    local t
    for t in customers orders order_events; do
        "${PSQL[@]}" -d shop -c "\\copy $t FROM '$tmp/$t.tsv'"
        rm -f "$tmp/$t.tsv"
    done
    "$PY" "$LIB/gen_pg.py" post | "${PSQL[@]}" -d shop >/dev/null

    local -a DUMP=("$PGBIN/pg_dump" -h "$sock" -p "$port" -U bench -d shop -N benchgen)
    # Newer pg_dump releases write a random "\restrict KEY" line at the top and
    # bottom of every plain dump; pin it (per hour, derived from the seed) so
    # the corpus stays reproducible while still differing between dumps.
    local has_restrict=0 dump_help
    dump_help=$("$PGBIN/pg_dump" --help 2>/dev/null || true)
    if [[ $dump_help == *--restrict-key* ]]; then has_restrict=1; fi
    pgdump() { # HOUR
        local -a extra=()
        if [[ $has_restrict == 1 ]]; then
            extra=(--restrict-key="$(printf '%s/restrict/%d' "$SEED" "$1" | sha256sum | cut -c1-40)")
        fi
        "${DUMP[@]}" "${extra[@]}" -f "$tmp/dumps/pg_dump$1.sql"
    }
    pgdump 0
    log "postgres: pg_dump0.sql $(stat -c %s "$tmp/dumps/pg_dump0.sql") bytes"

    local now rows maxorder maxcust tx wbefore wafter
    now=$("$PY" "$LIB/gen_pg.py" now-epoch)
    for ((h = 1; h <= PG_HOURS; h++)); do
        rows=$("${PSQL[@]}" -d shop -Atc "SELECT (SELECT count(*) FROM customers) + (SELECT count(*) FROM orders) + (SELECT count(*) FROM order_events)")
        maxorder=$("${PSQL[@]}" -d shop -Atc "SELECT max(id) FROM orders")
        maxcust=$("${PSQL[@]}" -d shop -Atc "SELECT max(id) FROM customers")
        wbefore=$("${PSQL[@]}" -d shop -Atc "SELECT sum(n_tup_ins + n_tup_upd) FROM pg_stat_user_tables")
        # a transaction writes ~1.9 rows on average (see the weights below)
        tx=$(awk -v r="$rows" -v p="$PG_TOUCH_PCT" 'BEGIN { t = int(r * p / 100 / 1.9); print (t < 10 ? 10 : t) }')
        "$PGBIN/pgbench" -n -h "$sock" -p "$port" -U bench -c 1 -j 1 -t "$tx" \
            --random-seed="$(printf '%s/pg/%d' "$SEED" "$h" | cksum | cut -d' ' -f1)" \
            -D hour_start=$((now + (h - 1) * 3600)) -D maxorder="$maxorder" \
            -D maxcust="$maxcust" -D recency="$PG_RECENCY" \
            -f "$LIB/pg-update-order.sql@55" -f "$LIB/pg-update-customer.sql@15" \
            -f "$LIB/pg-new-order.sql@27" -f "$LIB/pg-new-customer.sql@3" \
            shop >"$pglog/pgbench-hour$h.log" 2>&1 ||
            { tail -n 20 "$pglog/pgbench-hour$h.log" >&2; die "pgbench failed (hour $h)"; }
        "${PSQL[@]}" -d shop -c "VACUUM ANALYZE" >/dev/null
        wafter=$("${PSQL[@]}" -d shop -Atc "SELECT sum(n_tup_ins + n_tup_upd) FROM pg_stat_user_tables")
        pgdump "$h"
        log "postgres: hour $h: $tx transactions, ~$((wafter - wbefore)) rows written of $rows ($(awk -v a=$((wafter - wbefore)) -v b="$rows" 'BEGIN{printf "%.2f", 100*a/b}')%), pg_dump$h.sql $(stat -c %s "$tmp/dumps/pg_dump$h.sql") bytes"
    done

    log "postgres: stopping"
    as_pg "$PGBIN/pg_ctl" -D "$tmp/data" -m fast -w -t 60 stop >>"$pglog/pg_ctl.log" 2>&1
    PG_CTL_DATA=""
    cp "$tmp/data/server.log" "$pglog/server.log" 2>/dev/null || true
    for f in "${files[@]}"; do mv -f "$tmp/dumps/$f" "$OUT/$f"; done
    mark_done pg "$params" "${files[@]}"
    log "postgres: done in $((SECONDS - t0)) s"
}

# ---------------------------------------------------------------- redis
build_redis() {
    local params t0=$SECONDS gh
    gh=$(libhash textgen.py gen_redis.py)
    params="v=$CORPUS_FORMAT/$gh seed=$SEED mb=$REDIS_MB pct=$REDIS_CHANGE_PCT"
    if piece_done redis "$params" redis0.rdb redis1.rdb; then
        log "redis0.rdb, redis1.rdb: up to date, skipping"
        return
    fi
    unmark redis
    need redis-server "apt-get install -y redis-server"
    need redis-cli "apt-get install -y redis-tools"

    local tmp port rlog="$OUT/logs/redis" i
    new_tmp redis
    tmp=$NEW_TMP
    mkdir -p "$rlog"
    port=$(free_port)
    log "redis: starting on 127.0.0.1:$port"
    redis-server --bind 127.0.0.1 --port "$port" --protected-mode yes --dir "$tmp" \
        --save "" --appendonly no --dbfilename unused.rdb --logfile "$tmp/redis.log" \
        --repl-diskless-sync-delay 0 \
        --daemonize no &
    REDIS_PID=$!
    local -a RCLI=(redis-cli -h 127.0.0.1 -p "$port")
    for ((i = 0; i < 100; i++)); do
        "${RCLI[@]}" ping >/dev/null 2>&1 && break
        kill -0 "$REDIS_PID" 2>/dev/null || die "redis-server exited (see $tmp/redis.log)"
        sleep 0.1
    done
    [[ $("${RCLI[@]}" ping 2>/dev/null) == PONG ]] || die "redis did not answer"

    log "redis: generating ~$REDIS_MB MB"
    "$PY" "$LIB/gen_redis.py" load "$tmp/load.resp" "$tmp/state.json" "$REDIS_MB" "$SEED" |
        tee "$rlog/load.log" >&2
    "${RCLI[@]}" --pipe <"$tmp/load.resp" >"$rlog/pipe0.log" 2>&1
    grep -q 'errors: 0,' "$rlog/pipe0.log" || { cat "$rlog/pipe0.log" >&2; die "redis load had errors"; }
    rm -f "$tmp/load.resp"
    "${RCLI[@]}" --rdb "$tmp/redis0.rdb" >"$rlog/rdb0.log" 2>&1
    log "redis: redis0.rdb $(stat -c %s "$tmp/redis0.rdb") bytes, $("${RCLI[@]}" dbsize) keys"

    "$PY" "$LIB/gen_redis.py" change "$tmp/change.resp" "$tmp/state.json" "$REDIS_CHANGE_PCT" "$SEED" |
        tee "$rlog/change.log" >&2
    "${RCLI[@]}" --pipe <"$tmp/change.resp" >"$rlog/pipe1.log" 2>&1
    grep -q 'errors: 0,' "$rlog/pipe1.log" || { cat "$rlog/pipe1.log" >&2; die "redis change had errors"; }
    "${RCLI[@]}" --rdb "$tmp/redis1.rdb" >"$rlog/rdb1.log" 2>&1
    log "redis: redis1.rdb $(stat -c %s "$tmp/redis1.rdb") bytes, $("${RCLI[@]}" dbsize) keys"

    "${RCLI[@]}" shutdown nosave >/dev/null 2>&1 || true
    for ((i = 0; i < 100; i++)); do kill -0 "$REDIS_PID" 2>/dev/null || break; sleep 0.1; done
    kill "$REDIS_PID" 2>/dev/null || true
    wait "$REDIS_PID" 2>/dev/null || true
    REDIS_PID=""
    cp "$tmp/redis.log" "$rlog/server.log" 2>/dev/null || true
    mv -f "$tmp/redis0.rdb" "$OUT/redis0.rdb"
    mv -f "$tmp/redis1.rdb" "$OUT/redis1.rdb"
    mark_done redis "$params" redis0.rdb redis1.rdb
    log "redis: done in $((SECONDS - t0)) s"
}

# ---------------------------------------------------------------- file tree
# bench/run.sh moves tree0 or tree1 to OUT/tree while it backs it up and
# records which in OUT/.tree-live; put it back if such a run was killed.
tree_recover() {
    local name
    [[ -f $OUT/.tree-live ]] || return 0
    name=$(cat "$OUT/.tree-live")
    if [[ ($name == tree0 || $name == tree1) && -d $OUT/tree && ! -e $OUT/$name ]]; then
        log "tree: moving $OUT/tree back to $name (left by an interrupted bench/run.sh)"
        mv -- "$OUT/tree" "$OUT/$name"
    fi
    rm -f "$OUT/.tree-live"
}

build_tree() {
    local params t0=$SECONDS gh tmp sel fp nfiles want r
    local -a excl=()
    need tar "apt-get install -y tar"
    tree_recover
    for r in "${TREE_EXCLUDE[@]}"; do excl+=(--exclude "$r"); done
    gh=$(libhash gen_tree.py)
    new_tmp tree
    tmp=$NEW_TMP
    # the selection is cheap (one walk): its fingerprint decides whether to rebuild
    sel=$("$PY" "$LIB/gen_tree.py" select "$tmp/list" "$tmp/pool" "$TREE_FILES" \
        "$((TREE_MB * 1048576))" "$((TREE_MAX_FILE_MB * 1048576))" "$SEED" "$TREE_ADD_PCT" \
        "${TREE_ROOTS[@]}" "${excl[@]}")
    [[ $sel == *'"reached": true'* ]] ||
        die "tree: ${TREE_ROOTS[*]} hold fewer than $TREE_FILES files / $TREE_MB MiB ($sel); set BENCH_TREE_ROOTS"
    fp=$(sed -n 's/.*"fingerprint": "\([0-9a-f]*\)".*/\1/p' <<<"$sel")
    params="v=$CORPUS_FORMAT/$gh seed=$SEED files=$TREE_FILES mb=$TREE_MB max=$TREE_MAX_FILE_MB roots=${TREE_ROOTS[*]} excl=${TREE_EXCLUDE[*]} change=$TREE_CHANGE_PCT add=$TREE_ADD_PCT del=$TREE_DEL_PCT sel=$fp"
    if piece_done tree "$params" tree-manifest.txt tree0.sha256 tree1.sha256 &&
        [[ -d $OUT/tree0 && -d $OUT/tree1 ]]; then
        log "tree0/, tree1/: up to date, skipping"
        return
    fi
    unmark tree
    rm -rf -- "$OUT/tree0" "$OUT/tree1" "$OUT/tree0.tmp" "$OUT/tree1.tmp"
    mkdir -p "$OUT/logs/tree" "$OUT/tree0.tmp"
    printf '%s\n' "$sel" >"$OUT/logs/tree/select.json"
    log "tree0: copying $sel"
    # tar keeps modes, owners (as root), times, symbolic links and hard links
    tar -C / --null --no-recursion -T "$tmp/list" -cf - 2>"$OUT/logs/tree/tar-c.log" |
        tar -C "$OUT/tree0.tmp" -xpf - 2>"$OUT/logs/tree/tar-x.log" ||
        { tail -n 20 "$OUT/logs/tree/tar-c.log" "$OUT/logs/tree/tar-x.log" >&2; die "tree0: copy failed"; }
    touch -r "${TREE_ROOTS[0]}" -- "$OUT/tree0.tmp"
    nfiles=$(find "$OUT/tree0.tmp" -type f | wc -l)
    want=$(sed -n 's/.*"files": \([0-9]*\).*/\1/p' <<<"$sel")
    [[ $nfiles -eq $want ]] || die "tree0: $nfiles files copied, $want selected"
    log "tree1: cp -a tree0 and modify ($TREE_CHANGE_PCT% changed, $TREE_ADD_PCT% added, $TREE_DEL_PCT% removed)"
    cp -a -- "$OUT/tree0.tmp" "$OUT/tree1.tmp"
    "$PY" "$LIB/gen_tree.py" modify "$OUT/tree1.tmp" "$tmp/pool" "$SEED" "$TREE_CHANGE_PCT" \
        "$TREE_DEL_PCT" "$OUT/tree-manifest.txt" | tee "$OUT/logs/tree/modify.json" >&2
    log "tree: checksums"
    "$PY" "$LIB/gen_tree.py" sums "$OUT/tree0.tmp" "$OUT/tree0.sha256"
    "$PY" "$LIB/gen_tree.py" sums "$OUT/tree1.tmp" "$OUT/tree1.sha256"
    mv -- "$OUT/tree0.tmp" "$OUT/tree0"
    mv -- "$OUT/tree1.tmp" "$OUT/tree1"
    mark_done tree "$params" tree-manifest.txt tree0.sha256 tree1.sha256
    log "tree: tree0 $nfiles files, $(du -sh "$OUT/tree0" | cut -f1); tree1 $(find "$OUT/tree1" -type f | wc -l) files; done in $((SECONDS - t0)) s"
}

log "corpus in $OUT (quick=$QUICK seed=$SEED pieces=${PIECES[*]})"
for p in "${PIECES[@]}"; do "build_$p"; done
SUMS=()
for p in random pg redis tree; do [[ -f $OUT/.sha-$p ]] && SUMS+=("$OUT/.sha-$p"); done
cat "${SUMS[@]}" >"$OUT/SHA256SUMS"
log "all done in $((SECONDS - T_ALL)) s"
ls -l "$OUT" >&2

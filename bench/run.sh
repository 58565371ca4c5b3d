#!/usr/bin/env bash
# Compare cairn against restic and borg on the corpus from make-corpus.sh.
#
#   bench/run.sh [CORPUSDIR]        (default: $BENCH_CORPUS or /tmp/cairn-corpus)
#
# Every tool reads the data from stdin (scenario tree: a folder), gets a fresh
# repository per scenario and is timed with /usr/bin/time (wall seconds, peak
# RSS).  Inputs are read once before each timed command so all tools read from
# the page cache.
# The result table (markdown) goes to stdout and to $BENCH_OUT.
#
# Environment:
#   CAIRN                cairn binary [cairn on PATH, else ../src/cairn]
#   CAIRN_INIT_ARGS      extra args for `cairn init` (e.g. chunker sizes) []
#   BENCH_TOOLS          tools to run ["cairn restic borg"]
#   BENCH_SCENARIOS      scenarios to run ["random pg redis tree"]
#   BENCH_OUT            markdown output file [bench/last-run.md]
#   BENCH_STDIN          pipe: `cat FILE | tool` | file: `tool < FILE` [pipe]
#   BENCH_VERIFY         all | cairn | none: check restores with cmp [all]
#   BENCH_BORG_COMPRESSION  borg --compression value [zstd,3]
#   BENCH_RESTIC_ARGS    extra args for `restic backup` []
#   BENCH_TMPDIR         where repositories are created [$TMPDIR or /tmp]
#   BENCH_TREE_RESTORE_DIR  where scenario tree restores go [the work dir]
#   BENCH_KEEP=1         keep repositories and logs after the run
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
case ${1:-} in -h | --help) usage; exit 0 ;; esac
[[ $# -le 1 ]] || { usage >&2; exit 2; }

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CORPUS=${1:-${BENCH_CORPUS:-/tmp/cairn-corpus}}
BENCH_OUT=${BENCH_OUT:-$HERE/last-run.md}
read -r -a TOOLS <<<"${BENCH_TOOLS:-cairn restic borg}"
read -r -a SCENARIOS <<<"${BENCH_SCENARIOS:-random pg redis tree}"
STDIN_MODE=${BENCH_STDIN:-pipe}
VERIFY=${BENCH_VERIFY:-all}
BORG_COMPRESSION=${BENCH_BORG_COMPRESSION:-zstd,3}
read -r -a CAIRN_INIT_EXTRA <<<"${CAIRN_INIT_ARGS:-}"
read -r -a RESTIC_EXTRA <<<"${BENCH_RESTIC_ARGS:-}"
BORG_ARCHIVE_SEQ=0
PY=${PYTHON:-python3}

export CAIRN_PASSWORD=${CAIRN_PASSWORD:-cairn-bench-password}
export RESTIC_PASSWORD=${RESTIC_PASSWORD:-cairn-bench-password}
export BORG_PASSPHRASE=${BORG_PASSPHRASE:-cairn-bench-password}
unset CAIRN_REPO RESTIC_REPOSITORY BORG_REPO 2>/dev/null || true

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ------------------------------------------------------------ preflight
[[ -d $CORPUS ]] || die "corpus dir $CORPUS not found; build it with: bench/make-corpus.sh $CORPUS"
case $STDIN_MODE in pipe | file) ;; *) die "BENCH_STDIN must be pipe or file" ;; esac
case $VERIFY in all | cairn | none) ;; *) die "BENCH_VERIFY must be all, cairn or none" ;; esac

if [[ ! -x /usr/bin/time ]]; then
    if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null; then
        log "installing GNU time (apt-get install -y time)"
        apt-get install -y -q time >/dev/null
    fi
    [[ -x /usr/bin/time ]] || die "/usr/bin/time missing: apt-get install -y time"
fi

has_tool() { local t; for t in "${TOOLS[@]}"; do [[ $t == "$1" ]] && return 0; done; return 1; }

CAIRN_BIN=""
resolve_cairn() {
    if [[ -n ${CAIRN:-} ]]; then
        if [[ $CAIRN == */* ]]; then
            [[ -x $CAIRN ]] && CAIRN_BIN=$(cd "$(dirname "$CAIRN")" && pwd)/$(basename "$CAIRN")
        else
            CAIRN_BIN=$(command -v "$CAIRN" 2>/dev/null || true)
        fi
        [[ -n $CAIRN_BIN ]] || die "CAIRN=$CAIRN is not an executable"
    elif command -v cairn >/dev/null 2>&1; then
        CAIRN_BIN=$(command -v cairn)
    elif [[ -x $HERE/../src/cairn ]]; then
        CAIRN_BIN=$(cd "$HERE/../src" && pwd)/cairn
    else
        die "cairn binary not found: not on PATH and no $HERE/../src/cairn.
       Build it first, point CAIRN=/path/to/cairn at it, or run without it:
       BENCH_TOOLS='restic borg' $0 $CORPUS"
    fi
}
for t in "${TOOLS[@]}"; do
    case $t in
    cairn) resolve_cairn ;;
    restic | borg) command -v "$t" >/dev/null || die "$t not installed (apt-get install -y ${t/borg/borgbackup})" ;;
    *) die "unknown tool '$t' in BENCH_TOOLS (cairn, restic, borg)" ;;
    esac
done
for s in "${SCENARIOS[@]}"; do
    case $s in random | pg | redis | tree) ;; *) die "unknown scenario '$s' (random, pg, redis, tree)" ;; esac
done

need_file() { [[ -f $CORPUS/$1 ]] || die "missing $CORPUS/$1; run bench/make-corpus.sh $CORPUS"; }
PG_FILES=()
for s in "${SCENARIOS[@]}"; do
    case $s in
    random) need_file random.bin; need_file random-ins.bin ;;
    redis) need_file redis0.rdb; need_file redis1.rdb ;;
    tree)
        need_file tree-manifest.txt
        [[ -d $CORPUS/tree0 && -d $CORPUS/tree1 ]] ||
            die "missing $CORPUS/tree0 or tree1; run bench/make-corpus.sh $CORPUS"
        command -v "$PY" >/dev/null || die "missing $PY (apt-get install -y python3)"
        ;;
    pg)
        need_file pg_dump0.sql
        for ((i = 0; i < 10000; i++)); do
            [[ -f $CORPUS/pg_dump$i.sql ]] || break
            PG_FILES+=("pg_dump$i.sql")
        done
        [[ ${#PG_FILES[@]} -ge 2 ]] || die "need at least pg_dump0.sql and pg_dump1.sql in $CORPUS"
        ;;
    esac
done

WORK=$(mktemp -d "${BENCH_TMPDIR:-${TMPDIR:-/tmp}}/cairn-bench.XXXXXX")
METRICS=$WORK/metrics.tsv
: >"$METRICS"
CHILD=""
cleanup() {
    local rc=$?
    if [[ -n $CHILD ]]; then kill "$CHILD" 2>/dev/null || true; wait "$CHILD" 2>/dev/null || true; fi
    if [[ ${BENCH_KEEP:-0} == 1 ]]; then
        log "kept work dir $WORK${TREE_RESTORE_BASE:+ and $TREE_RESTORE_BASE}"
    else
        rm -rf -- "$WORK"
        if [[ -n ${TREE_RESTORE_BASE:-} ]]; then rm -rf -- "$TREE_RESTORE_BASE"; fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# ------------------------------------------------------------ helpers
fsize() { stat -c %s -- "$1"; }
repo_size() { du -sb -- "$1" | cut -f1; }
warm() { cat -- "$1" >/dev/null; }
put() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "${4:-}" >>"$METRICS"; } # KEY TOOL VALUE [EXTRA]
calc() { awk "BEGIN { printf \"%.6f\", $* }"; }
pct() { awk -v a="$1" -v b="$2" -v f="$3" 'BEGIN { printf f, (b == 0 ? 0 : 100 * a / b) }'; } # PART WHOLE FORMAT
mbps() { awk -v b="$1" -v s="$2" 'BEGIN { if (s < 0.01) s = 0.01; printf "%.3f", b / 1e6 / s }'; }

# Per tool+scenario environment: caches go below the scenario dir.
ENVP=()
set_env() { # DIR
    mkdir -p "$1/cache" "$1/borgbase"
    ENVP=(env XDG_CACHE_HOME="$1/cache" BORG_BASE_DIR="$1/borgbase")
}

# run_timed LOG INPUT OUTPUT CMD...   INPUT "" = no stdin; sets T_WALL T_RSS
T_WALL=0
T_RSS=0
T_CPU=0 # user + system seconds
run_timed() {
    local lg=$1 in=$2 out=$3 rc=0
    shift 3
    local -a TIME=(/usr/bin/time -f '%e %M %U %S' -o "$lg.time")
    if [[ -z $in ]]; then
        "${TIME[@]}" "${ENVP[@]}" "$@" </dev/null >"$out" 2>"$lg.err" || rc=$?
    elif [[ $STDIN_MODE == pipe ]]; then
        cat -- "$in" | "${TIME[@]}" "${ENVP[@]}" "$@" >"$out" 2>"$lg.err" || rc=$?
    else
        "${TIME[@]}" "${ENVP[@]}" "$@" <"$in" >"$out" 2>"$lg.err" || rc=$?
    fi
    if [[ $rc -ne 0 ]]; then
        log "command failed (exit $rc): $*"
        tail -n 15 "$lg.err" >&2 || true
        [[ $out == "$lg.out" ]] && tail -n 5 "$out" >&2
        return 1
    fi
    local u sy
    read -r T_WALL T_RSS u sy < <(tail -n 1 "$lg.time")
    T_CPU=$(calc "$u + $sy")
}

run_quiet() { # LOG CMD...   (untimed helper commands)
    local lg=$1
    shift
    "${ENVP[@]}" "$@" >"$lg.out" 2>"$lg.err" </dev/null || {
        log "command failed: $*"
        tail -n 15 "$lg.err" >&2
        return 1
    }
}

# ------------------------------------------------------------ tool adapters
t_init() { # TOOL REPO LOG
    case $1 in
    cairn) run_quiet "$3" "$CAIRN_BIN" init -r "$2" "${CAIRN_INIT_EXTRA[@]}" ;;
    restic) run_quiet "$3" restic init -r "$2" --repository-version 2 ;;
    borg) run_quiet "$3" borg init -e repokey-blake2 "$2" ;;
    esac
}
# Sets CMD to the backup command reading stdin; NAME is the file name stored.
BORG_LAST=""
t_backup_cmd() { # TOOL REPO NAME
    case $1 in
    cairn) CMD=("$CAIRN_BIN" backup -r "$2" --stdin --stdin-name "$3" --host bench) ;;
    restic) CMD=(restic -r "$2" backup --stdin --stdin-filename "$3" --host bench "${RESTIC_EXTRA[@]}") ;;
    borg)
        BORG_ARCHIVE_SEQ=$((BORG_ARCHIVE_SEQ + 1))
        BORG_LAST="$3-$BORG_ARCHIVE_SEQ"
        CMD=(borg create --compression "$BORG_COMPRESSION" --stdin-name "$3" "$2::$BORG_LAST" -)
        ;;
    esac
}
t_dump_cmd() { # TOOL REPO NAME   (latest snapshot / last borg archive)
    case $1 in
    cairn) CMD=("$CAIRN_BIN" dump -r "$2" latest "$3") ;;
    restic) CMD=(restic -r "$2" dump latest "$3") ;;
    borg) CMD=(borg extract --stdout "$2::$BORG_LAST") ;;
    esac
}

# backup TOOL REPO NAME INPUT LOG  -> T_WALL T_RSS, ADDED (repo growth)
ADDED=0
backup() {
    local before after
    before=$(repo_size "$2")
    warm "$4"
    t_backup_cmd "$1" "$2" "$3"
    run_timed "$5" "$4" "$5.out" "${CMD[@]}"
    after=$(repo_size "$2")
    ADDED=$((after - before))
    log "  $1: backup $(basename "$4") as $3: ${T_WALL}s, rss ${T_RSS}KiB, repo +$ADDED B"
}

# restore TOOL REPO NAME EXPECTED LOG KEYPREFIX
restore() {
    local tool=$1 repo=$2 name=$3 want=$4 lg=$5 key=$6 ok
    t_dump_cmd "$tool" "$repo" "$name"
    run_timed "$lg" "" /dev/null "${CMD[@]}"
    put "${key}_mbps" "$tool" "$(mbps "$(fsize "$want")" "$T_WALL")"
    put "${key}_rss" "$tool" "$T_RSS"
    log "  $tool: restore $name: ${T_WALL}s, rss ${T_RSS}KiB"
    if [[ $VERIFY == all || ($VERIFY == cairn && $tool == cairn) ]]; then
        ok=FAIL
        if "${ENVP[@]}" "${CMD[@]}" 2>"$lg.verify.err" </dev/null | cmp -s - "$want"; then ok=ok; fi
        put "${key}_verify" "$tool" "$ok"
        log "  $tool: restore of $name verified: $ok"
        [[ $ok == ok ]] || echo "$tool:restore-of-$name-differs" >>"$WORK/verify-failures"
    fi
}

# ------------------------------------------------------------ scenarios
scenario_random() { # TOOL DIR
    local tool=$1 d=$2 repo=$2/repo rnd=$CORPUS/random.bin ins=$CORPUS/random-ins.bin
    set_env "$d"
    t_init "$tool" "$repo" "$d/init"
    backup "$tool" "$repo" random.bin "$rnd" "$d/b1"
    put rand1_mbps "$tool" "$(mbps "$(fsize "$rnd")" "$T_WALL")"
    put rand1_s "$tool" "$T_WALL"
    put rand1_rss "$tool" "$T_RSS"
    put rand1_stored "$tool" "$ADDED" "($(pct "$ADDED" "$(fsize "$rnd")" %.1f)% of input)"
    backup "$tool" "$repo" random.bin "$rnd" "$d/b2"
    put rand2_s "$tool" "$T_WALL"
    put rand2_mbps "$tool" "$(mbps "$(fsize "$rnd")" "$T_WALL")"
    put rand2_added "$tool" "$ADDED"
    put rand2_rss "$tool" "$T_RSS"
    restore "$tool" "$repo" random.bin "$rnd" "$d/r1" rest
    backup "$tool" "$repo" random.bin "$ins" "$d/b3"
    put ins_added "$tool" "$ADDED"
    put ins_s "$tool" "$T_WALL"
    put rand_cache "$tool" "$(du -sb "$d/cache" "$d/borgbase" | awk '{ s += $1 } END { print s }')"
}

scenario_pg() { # TOOL DIR
    local tool=$1 d=$2 repo=$2/repo i f sz sum_b=0 sum_add=0 sum_s=0 rss=0 full=0
    set_env "$d"
    t_init "$tool" "$repo" "$d/init"
    for ((i = 0; i < ${#PG_FILES[@]}; i++)); do
        f=$CORPUS/${PG_FILES[$i]}
        sz=$(fsize "$f")
        backup "$tool" "$repo" pg_dump.sql "$f" "$d/b$i"
        ((T_RSS > rss)) && rss=$T_RSS
        if ((i == 0)); then
            put pg0_stored "$tool" "$ADDED" "($(pct "$ADDED" "$sz" %.1f)% of input)"
            put pg0_mbps "$tool" "$(mbps "$sz" "$T_WALL")"
            full=$ADDED
        else
            put "pg_add_$i" "$tool" "$ADDED" "($(pct "$ADDED" "$sz" %.1f)% of dump, $(pct "$ADDED" "$full" %.1f)% of a full copy)"
            sum_b=$((sum_b + sz))
            sum_add=$((sum_add + ADDED))
            sum_s=$(calc "$sum_s + $T_WALL")
        fi
    done
    put pg_add_sum "$tool" "$sum_add"
    put pg_share "$tool" "$(calc "100 * $sum_add / $sum_b")"
    put pg_share_full "$tool" "$(calc "100 * $sum_add / ($full * (${#PG_FILES[@]} - 1))")"
    put pg_mbps "$tool" "$(mbps "$sum_b" "$sum_s")"
    put pg_rss "$tool" "$rss"
    f=$CORPUS/${PG_FILES[$((${#PG_FILES[@]} - 1))]}
    restore "$tool" "$repo" pg_dump.sql "$f" "$d/r1" pgrest
    put pg_repo "$tool" "$(repo_size "$repo")"
}

# ------------------------------------------------------------ file tree
# Every tool backs up the same path, TREE_LIVE: a fresh `cp -a` of tree0
# (backed up twice), then edited in place into tree1 by `gen_tree.py apply`
# (unchanged files keep inode, ctime and mtime, as between two hourly backups
# of a live tree), backed up a third time; then the latest snapshot is
# restored into an empty folder and compared with tree1.  Nothing big is
# deleted before the exit trap: ext4 scans past recently deleted inodes
# (recently_deleted() in the kernel) when it creates files, so a restore right
# after an `rm -rf` of a 60,000-file tree costs every tool seconds of system
# time more (measured: +10 s for restic); used trees are renamed aside instead.
warm_tree() { find "$@" -type f -print0 | xargs -0 -r cat -- >/dev/null; }
tree_bytes() { find "$1" -type f -printf '%s\n' | awk '{ s += $1 } END { printf "%d", s }'; }
TREE_LIVE=""
TREE_RESTORE_BASE=""
if [[ " ${SCENARIOS[*]} " == *" tree "* ]]; then
    TREE_LIVE=$(cd "$WORK" && pwd)/tree-src/tree
    if [[ -n ${BENCH_TREE_RESTORE_DIR:-} ]]; then
        TREE_RESTORE_BASE=$(mktemp -d "$BENCH_TREE_RESTORE_DIR/cairn-bench-restore.XXXXXX")
        TREE_RESTORE_BASE=$(cd "$TREE_RESTORE_BASE" && pwd)
    fi
    TREE0_FILES=$(find "$CORPUS/tree0" -type f | wc -l)
    TREE0_BYTES=$(tree_bytes "$CORPUS/tree0")
    TREE1_BYTES=$(tree_bytes "$CORPUS/tree1")
    TREE1_ENTRIES=$(find "$CORPUS/tree1" | wc -l)
fi
tree_meta() { # DIR: one line per entry: path, type, mode, owner, size (not for folders), mtime
    (cd "$1" && find . \( -type d -printf '%p %y %m %U %G - %T@\n' \) -o -printf '%p %y %m %U %G %s %T@\n') |
        LC_ALL=C sort
}
t_tree_backup_cmd() { # TOOL REPO DIR
    case $1 in
    cairn) CMD=("$CAIRN_BIN" backup -r "$2" --host bench "$3") ;;
    restic) CMD=(restic -r "$2" backup --host bench "${RESTIC_EXTRA[@]}" "$3") ;;
    borg)
        BORG_ARCHIVE_SEQ=$((BORG_ARCHIVE_SEQ + 1))
        BORG_LAST="tree-$BORG_ARCHIVE_SEQ"
        CMD=(borg create --compression "$BORG_COMPRESSION" "$2::$BORG_LAST" "$3")
        ;;
    esac
}
t_tree_restore_cmd() { # TOOL REPO TARGET   (all three restore at the full path below TARGET)
    case $1 in
    cairn) CMD=("$CAIRN_BIN" restore -r "$2" latest --target "$3") ;;
    restic) CMD=(restic -r "$2" restore latest --target "$3") ;;
    borg) CMD=(env -C "$3" borg extract "$2::$BORG_LAST") ;;
    esac
}
backup_tree() { # TOOL REPO LOG  -> T_WALL T_RSS ADDED
    local before after
    before=$(repo_size "$2")
    warm_tree "$TREE_LIVE"
    t_tree_backup_cmd "$1" "$2" "$TREE_LIVE"
    run_timed "$3" "" "$3.out" "${CMD[@]}"
    after=$(repo_size "$2")
    ADDED=$((after - before))
    log "  $1: backup $TREE_LIVE: ${T_WALL}s, rss ${T_RSS}KiB, repo +$ADDED B"
}

scenario_tree() { # TOOL DIR
    local tool=$1 d repo rt got ok n
    d=$(cd "$2" && pwd)
    repo=$d/repo
    rt=${TREE_RESTORE_BASE:-$d}/restore-$tool
    set_env "$d"
    t_init "$tool" "$repo" "$d/init"
    if [[ -e $TREE_LIVE ]]; then mv -- "$TREE_LIVE" "$d/tree-left-over.$$.$RANDOM"; fi
    mkdir -p "$(dirname "$TREE_LIVE")"
    cp -a -- "$CORPUS/tree0" "$TREE_LIVE"
    sync
    backup_tree "$tool" "$repo" "$d/b1"
    put tree1_mbps "$tool" "$(mbps "$TREE0_BYTES" "$T_WALL")"
    put tree1_s "$tool" "$T_WALL"
    put tree1_rss "$tool" "$T_RSS"
    put tree1_cpu "$tool" "$T_CPU"
    put tree1_stored "$tool" "$ADDED" "($(pct "$ADDED" "$TREE0_BYTES" %.1f)% of input)"
    backup_tree "$tool" "$repo" "$d/b2"
    put tree2_s "$tool" "$T_WALL"
    put tree2_added "$tool" "$ADDED"
    put tree2_rss "$tool" "$T_RSS"
    put tree2_cpu "$tool" "$T_CPU"
    run_quiet "$d/apply" "$PY" "$HERE/lib/gen_tree.py" apply "$CORPUS/tree-manifest.txt" "$CORPUS/tree1" "$TREE_LIVE"
    sync
    backup_tree "$tool" "$repo" "$d/b3"
    put tree3_s "$tool" "$T_WALL"
    put tree3_added "$tool" "$ADDED"
    put tree3_rss "$tool" "$T_RSS"
    put tree3_cpu "$tool" "$T_CPU"
    mv -- "$TREE_LIVE" "$d/tree-backed-up"
    put tree_repo "$tool" "$(repo_size "$repo")"
    put tree_cache "$tool" "$(du -sb "$d/cache" "$d/borgbase" | awk '{ s += $1 } END { print s }')"

    if [[ -e $rt ]]; then mv -- "$rt" "$rt.old.$$.$RANDOM"; fi
    mkdir -p "$rt"
    warm_tree "$repo" "$d/cache" "$d/borgbase"
    t_tree_restore_cmd "$tool" "$repo" "$rt"
    run_timed "$d/r1" "" "$d/r1.out" "${CMD[@]}"
    put treerest_s "$tool" "$T_WALL"
    put treerest_mbps "$tool" "$(mbps "$TREE1_BYTES" "$T_WALL")"
    put treerest_rss "$tool" "$T_RSS"
    put treerest_cpu "$tool" "$T_CPU"
    log "  $tool: restore of tree1: ${T_WALL}s, rss ${T_RSS}KiB"
    if [[ $VERIFY == all || ($VERIFY == cairn && $tool == cairn) ]]; then
        got=$rt$TREE_LIVE
        ok=ok
        if ! diff -r --no-dereference -- "$CORPUS/tree1" "$got" >"$d/r1.diff" 2>&1; then
            ok="FAIL ($(grep -c . "$d/r1.diff" || true) lines of diff -r)"
            echo "$tool:restore-of-tree1-differs" >>"$WORK/verify-failures"
        fi
        put treerest_verify "$tool" "$ok"
        log "  $tool: restore of tree1 verified (diff -r): $ok"
        ok=ok
        if ! diff <(tree_meta "$CORPUS/tree1") <(tree_meta "$got") >"$d/r1.meta.diff" 2>&1; then
            n=$(grep -c '^<' "$d/r1.meta.diff" || true)
            ok="$n of $TREE1_ENTRIES differ, e.g. $(grep -m1 '^<' "$d/r1.meta.diff" | cut -c3- | cut -d' ' -f1,2)"
        fi
        put treerest_meta "$tool" "$ok"
        log "  $tool: restored metadata (type, mode, owner, size, mtime): $ok"
    fi
}

scenario_redis() { # TOOL DIR
    local tool=$1 d=$2 repo=$2/repo r0=$CORPUS/redis0.rdb r1=$CORPUS/redis1.rdb rss
    set_env "$d"
    t_init "$tool" "$repo" "$d/init"
    backup "$tool" "$repo" redis.rdb "$r0" "$d/b0"
    put redis0_stored "$tool" "$ADDED" "($(pct "$ADDED" "$(fsize "$r0")" %.1f)% of input)"
    put redis0_mbps "$tool" "$(mbps "$(fsize "$r0")" "$T_WALL")"
    rss=$T_RSS
    local full=$ADDED
    backup "$tool" "$repo" redis.rdb "$r1" "$d/b1"
    put redis1_added "$tool" "$ADDED" "($(pct "$ADDED" "$(fsize "$r1")" %.1f)% of rdb, $(pct "$ADDED" "$full" %.1f)% of a full copy)"
    ((T_RSS > rss)) && rss=$T_RSS
    put redis_rss "$tool" "$rss"
}

# ------------------------------------------------------------ table rows
ROWS=()
declare -A LABEL UNIT BETTER
row() { ROWS+=("$1"); LABEL[$1]=$2; UNIT[$1]=$3; BETTER[$1]=$4; }
for s in "${SCENARIOS[@]}"; do
    case $s in
    random)
        r=$(fsize "$CORPUS/random.bin")
        row rand1_mbps "random.bin ($((r / 1048576)) MiB): first backup throughput" mbps higher
        row rand1_s "random.bin: first backup wall time" s lower
        row rand1_rss "random.bin: first backup peak RSS" rss lower
        row rand1_stored "random.bin: repository size after first backup" bytes lower
        row rand2_s "random.bin: unchanged second backup wall time" s lower
        row rand2_mbps "random.bin: unchanged second backup throughput" mbps higher
        row rand2_added "random.bin: bytes added by unchanged second backup" bytes lower
        row rand2_rss "random.bin: unchanged second backup peak RSS" rss lower
        row ins_added "random-ins.bin (+$(($(fsize "$CORPUS/random-ins.bin") - r)) B in the middle): bytes added" bytes lower
        row ins_s "random-ins.bin: backup wall time" s lower
        row rest_mbps "restore random.bin (dump to /dev/null): throughput" mbps higher
        row rest_rss "restore random.bin: peak RSS" rss lower
        row rest_verify "restore random.bin: restored bytes equal input (cmp)" text -
        row rand_cache "random: client-side cache size after the scenario" bytes lower
        ;;
    pg)
        n=$((${#PG_FILES[@]} - 1))
        row pg0_stored "pg_dump0.sql ($(($(fsize "$CORPUS/pg_dump0.sql") / 1000000)) MB): stored size" bytes lower
        row pg0_mbps "pg_dump0.sql: first backup throughput" mbps higher
        for ((i = 1; i <= n; i++)); do
            row "pg_add_$i" "pg_dump$i.sql (hour $i): bytes added" bytes lower
        done
        row pg_add_sum "pg hours 1..$n: bytes added, total" bytes lower
        row pg_share "pg hours 1..$n: added / dump bytes" pct lower
        row pg_share_full "pg hours 1..$n: added / (hours x stored size of pg_dump0)" pct lower
        row pg_mbps "pg hours 1..$n: backup throughput" mbps higher
        row pg_rss "pg: peak RSS (max over all dumps)" rss lower
        row pg_repo "pg: final repository size ($((n + 1)) dumps)" bytes lower
        row pgrest_mbps "restore pg_dump$n.sql: throughput" mbps higher
        row pgrest_rss "restore pg_dump$n.sql: peak RSS" rss lower
        row pgrest_verify "restore pg_dump$n.sql: restored bytes equal input (cmp)" text -
        ;;
    redis)
        row redis0_stored "redis0.rdb ($(($(fsize "$CORPUS/redis0.rdb") / 1000000)) MB): stored size" bytes lower
        row redis0_mbps "redis0.rdb: backup throughput" mbps higher
        row redis1_added "redis1.rdb after redis0.rdb: bytes added" bytes lower
        row redis_rss "redis: peak RSS" rss lower
        ;;
    tree)
        t0="$TREE0_FILES files, $(awk -v b="$TREE0_BYTES" 'BEGIN { printf "%.2f GiB", b / 1073741824 }')"
        t1="$(grep -c '^append \|^rewrite ' "$CORPUS/tree-manifest.txt") changed, $(grep -c '^add ' "$CORPUS/tree-manifest.txt") added, $(grep -c '^remove ' "$CORPUS/tree-manifest.txt") removed in place"
        row tree1_mbps "tree0 ($t0): first backup throughput" mbps higher
        row tree1_s "tree0: first backup wall time" s lower
        row tree1_cpu "tree0: first backup CPU time (user + system)" s lower
        row tree1_rss "tree0: first backup peak RSS" rss lower
        row tree1_stored "tree0: repository size after first backup" bytes lower
        row tree2_s "tree0: unchanged second backup wall time" s lower
        row tree2_cpu "tree0: unchanged second backup CPU time (user + system)" s lower
        row tree2_added "tree0: bytes added by unchanged second backup" bytes lower
        row tree2_rss "tree0: unchanged second backup peak RSS" rss lower
        row tree3_s "tree1 ($t1): backup wall time" s lower
        row tree3_cpu "tree1: backup CPU time (user + system)" s lower
        row tree3_added "tree1: bytes added" bytes lower
        row tree3_rss "tree1: backup peak RSS" rss lower
        row tree_repo "tree: final repository size (3 backups)" bytes lower
        row tree_cache "tree: client-side cache size" bytes lower
        row treerest_s "restore tree1 (latest, full, into an empty folder): wall time" s lower
        row treerest_mbps "restore tree1: throughput ($(awk -v b="$TREE1_BYTES" 'BEGIN { printf "%.0f", b / 1e6 }') MB of file data)" mbps higher
        row treerest_cpu "restore tree1: CPU time (user + system)" s lower
        row treerest_rss "restore tree1: peak RSS" rss lower
        row treerest_verify "restore tree1: contents equal (diff -r --no-dereference)" text -
        row treerest_meta "restore tree1: type, mode, owner, size, mtime of all entries equal" text -
        ;;
    esac
done

# ------------------------------------------------------------ run
FAILED=()
T_START=$SECONDS
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
log "work dir $WORK, corpus $CORPUS, tools: ${TOOLS[*]}, scenarios: ${SCENARIOS[*]}, stdin: $STDIN_MODE"
for s in "${SCENARIOS[@]}"; do
    for t in "${TOOLS[@]}"; do
        log "scenario $s, tool $t"
        d=$WORK/$s-$t
        mkdir -p "$d"
        # Run in a background subshell so `set -e` stays active inside it and
        # a failing tool does not abort the other tools' measurements.
        ("scenario_$s" "$t" "$d") &
        CHILD=$!
        if ! wait "$CHILD"; then
            FAILED+=("$t/$s")
            log "scenario $s FAILED for $t (logs: $d; keep them with BENCH_KEEP=1)"
        fi
        CHILD=""
        [[ ${BENCH_KEEP:-0} == 1 ]] || rm -rf -- "$d/repo"
    done
done
T_TOTAL=$((SECONDS - T_START))
if [[ -s $WORK/verify-failures ]]; then
    while read -r f; do FAILED+=("$f"); done <"$WORK/verify-failures"
fi

# ------------------------------------------------------------ report
human_bytes() {
    awk -v b="$1" 'BEGIN {
        a = b < 0 ? -b : b
        if (a < 1024) printf "%d B", b
        else if (a < 1048576) printf "%.1f KiB", b / 1024
        else if (a < 1073741824) printf "%.2f MiB", b / 1048576
        else printf "%.2f GiB", b / 1073741824 }'
}
fmt() { # UNIT VALUE
    case $1 in
    mbps) awk -v v="$2" 'BEGIN { printf "%.1f MB/s", v }' ;;
    s) awk -v v="$2" 'BEGIN { printf "%.2f s", v }' ;;
    rss) awk -v v="$2" 'BEGIN { printf "%.0f MiB", v / 1024 }' ;;
    bytes) human_bytes "$2" ;;
    pct) awk -v v="$2" 'BEGIN { printf "%.2f %%", v }' ;;
    *) printf '%s' "$2" ;;
    esac
}
declare -A VAL EXTRA
while IFS=$'\t' read -r k t v x; do
    VAL[$k|$t]=$v
    EXTRA[$k|$t]=$x
done <"$METRICS"

ratio() { # KEY OTHER
    local a=${VAL[$1|cairn]:-} b=${VAL[$1|$2]:-}
    if [[ ${UNIT[$1]} == text || -z $a || -z $b ]]; then printf -- '-'; return; fi
    awk -v a="$a" -v b="$b" 'BEGIN { if (b == 0) { if (a == 0) print "1.00"; else print "n/a" } else printf "%.2f", a / b }'
}

OTHERS=()
if has_tool cairn; then
    for t in "${TOOLS[@]}"; do [[ $t == cairn ]] || OTHERS+=("$t"); done
fi

cpu_model=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)
mem_total=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
fs_type=$(df -T "$WORK" | awk 'NR == 2 { print $2 }')
git_rev=$(git -C "$HERE/.." describe --always --dirty 2>/dev/null || echo "no commit")
tool_version() {
    case $1 in
    cairn) { "$CAIRN_BIN" --version 2>/dev/null || "$CAIRN_BIN" version 2>/dev/null || echo "unknown"; } | head -n 1 || true ;;
    restic) restic version | head -n 1 || true ;;
    borg) borg --version | head -n 1 || true ;;
    esac
}

report() {
    echo "# cairn benchmark run"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'), cairn tree: $git_rev"
    echo "- machine: $(nproc) CPUs ($cpu_model), RAM $mem_total, kernel $(uname -r), repos on $fs_type"
    echo "- load average (1/5/15 min) at start: $LOAD_START, at end: $(cut -d' ' -f1-3 /proc/loadavg)"
    for t in "${TOOLS[@]}"; do
        case $t in
        cairn) echo "- cairn: $(tool_version cairn) ($CAIRN_BIN), init args: '${CAIRN_INIT_EXTRA[*]:-}' (defaults otherwise)" ;;
        restic) echo "- restic: $(tool_version restic), repository v2, compression auto (default), chunks 512 KiB / 1 MiB / 8 MiB (min/avg/max)${RESTIC_EXTRA[*]:+, backup args: ${RESTIC_EXTRA[*]}}" ;;
        borg) echo "- borg: $(tool_version borg), repokey-blake2, --compression $BORG_COMPRESSION, chunker buzhash 19,23,21 (512 KiB / ~2 MiB / 8 MiB)" ;;
        esac
    done
    echo "- input via stdin ($STDIN_MODE), page cache warm, every tool/scenario with a fresh repository; sizes are \`du -sb\` of the repository directory"
    if [[ -n $TREE_LIVE ]]; then
        echo "- tree: every tool backs up the same path \`$TREE_LIVE\` (\`--host bench\`): a fresh \`cp -a\` of tree0, backed up twice, then edited in place into tree1 (unchanged files keep inode, ctime and mtime) and backed up again; the restore goes into an empty folder on $(df -T "${TREE_RESTORE_BASE:-$WORK}" | awk 'NR == 2 { print $2 }'), repository and cache read once before"
    fi
    echo "- corpus: $CORPUS ($(du -sh "$CORPUS" | cut -f1)); total benchmark time ${T_TOTAL} s"
    echo
    local hdr="| metric | better |" sep="|---|---|" t k cell
    for t in "${TOOLS[@]}"; do hdr+=" $t |"; sep+="---:|"; done
    for t in "${OTHERS[@]}"; do hdr+=" cairn/$t |"; sep+="---:|"; done
    echo "$hdr"
    echo "$sep"
    for k in "${ROWS[@]}"; do
        local line="| ${LABEL[$k]} | ${BETTER[$k]} |"
        for t in "${TOOLS[@]}"; do
            if [[ -n ${VAL[$k|$t]:-} ]]; then
                cell=$(fmt "${UNIT[$k]}" "${VAL[$k|$t]}")
                [[ -n ${EXTRA[$k|$t]:-} ]] && cell+=" ${EXTRA[$k|$t]}"
            else
                cell="—"
            fi
            line+=" $cell |"
        done
        for t in "${OTHERS[@]}"; do line+=" $(ratio "$k" "$t") |"; done
        echo "$line"
    done
    echo
    echo "\"of a full copy\" relates bytes added to what the same tool stored for the first dump/RDB (compression-neutral share of new data)."
    echo "Ratios are cairn's value divided by the other tool's: for rows marked \"higher\" a ratio above 1 favours cairn, for \"lower\" a ratio below 1 does. MB = 10^6 bytes; \"—\" means no value (tool failed or scenario skipped)."
    if [[ ${#FAILED[@]} -gt 0 ]]; then
        echo
        echo "**Failed:** ${FAILED[*]}"
    fi
}

mkdir -p "$(dirname "$BENCH_OUT")"
report | tee "$BENCH_OUT"
cp "$METRICS" "${BENCH_OUT%.md}.tsv" 2>/dev/null || true
log "wrote $BENCH_OUT"
if [[ ${#FAILED[@]} -gt 0 ]]; then
    log "failures: ${FAILED[*]}"
    exit 1
fi

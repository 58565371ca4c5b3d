#!/usr/bin/env bash
# db.sh - database dumps end to end against real servers (Debian's
# postgresql and redis-server packages): a throwaway PostgreSQL cluster
# (initdb into $T, 127.0.0.1 on a free port, socket in $T) and throwaway
# redis-servers, all stopped by the exit trap.
#
# PostgreSQL: pgbench -i; plain and -Fc dumps through --stdin-from-command;
# change data; dump again; drop the database; restore the first dumps with
# `cairn dump | psql` and `| pg_restore -d`, and compare row counts and a
# checksum query with the values recorded before. A failing pg_dump and a
# pg_dump cut mid-stream create no snapshot. Redis: populate, snapshot with
# `redis-cli --rdb -` (diskless and disk sync), flush, restore the RDB into
# a fresh redis-server, compare DBSIZE, sampled values and DEBUG DIGEST;
# truncated and flipped RDBs are refused, --no-verify-dump lets them in.
. "$(dirname "$0")/lib.sh"

R=$T/repo
PG_PIDS=""
REDIS_PIDS=""

# Stops what was started, then removes $T (replaces lib.sh's trap).
cleanup() {
	local pid
	for pid in $REDIS_PIDS; do
		kill "$pid" 2>/dev/null
	done
	if [ -n "$PG_PIDS" ]; then
		as_pg "$PGBIN/pg_ctl" -D "$T/pg/data" -m fast -w -t 30 stop >/dev/null 2>&1
	fi
	for pid in $REDIS_PIDS; do
		for _ in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
	done
	rm -rf "$T"
}
trap cleanup EXIT

# Runs a command as the postgres user when we are root (initdb refuses root).
as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# A TCP port on 127.0.0.1 that nothing listens on (bounded tries). It is
# below the kernel's ephemeral range (32768 and up), where the other tests'
# servers and every outgoing connection take their ports.
free_port() {
	local p
	for _ in $(seq 1 50); do
		p=$((20000 + RANDOM % 12000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

n_snapshots() {
	ls "$R/snapshots" 2>/dev/null | wc -l
}

# json_field ID FIELD: a field of snapshot ID from `snapshots --json`.
json_field() {
	"$CAIRN" snapshots -r "$R" --json |
		python3 -c 'import json,sys
for s in json.load(sys.stdin):
    if s["id"] == sys.argv[1]:
        print(s.get(sys.argv[2], ""))' "$1" "$2"
}

added_of() {
	sed -n 's/^bytes added: //p' "$1"
}

"$CAIRN" init -q -r "$R" || { not_ok "init"; done_testing; exit 1; }

# ---------------------------------------------------------------- PostgreSQL
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
pg_missing=""
for b in initdb pg_ctl pg_dump pg_restore psql pgbench createdb dropdb; do
	[ -n "$PGBIN" ] && [ -x "$PGBIN/$b" ] || pg_missing="$pg_missing $b"
done
if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
	pg_missing="$pg_missing (user postgres)"
fi

pg_tests() {
	chmod 711 "$T"	# the postgres user must reach its folders
	mkdir -p "$T/pg/sock"
	[ "$(id -u)" -eq 0 ] && chown -R postgres "$T/pg"
	if ! as_pg "$PGBIN/initdb" -D "$T/pg/data" -A trust -U postgres -E UTF8 --no-sync \
		>"$T/pg/initdb.log" 2>&1; then
		not_ok "initdb"
		sed 's/^/# /' "$T/pg/initdb.log" | tail -5
		return
	fi
	local started=0
	for _ in 1 2 3; do
		PGPORT=$(free_port) || break
		if as_pg "$PGBIN/pg_ctl" -D "$T/pg/data" -l "$T/pg/log" -w -t 60 \
			-o "-p $PGPORT -k $T/pg/sock -c listen_addresses=127.0.0.1 -c fsync=off" \
			start >/dev/null 2>&1; then
			started=1
			break
		fi
	done
	if [ "$started" -ne 1 ]; then
		not_ok "PostgreSQL starts on 127.0.0.1"
		sed 's/^/# /' "$T/pg/log" | tail -5
		return
	fi
	PG_PIDS=started
	ok "PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') runs on 127.0.0.1:$PGPORT"
	local PGC="-h 127.0.0.1 -p $PGPORT -U postgres"
	export PGCONNECT_TIMEOUT=10

	# state DB: row counts and a checksum of every account balance
	state() {
		"$PGBIN/psql" $PGC -X -A -t -q -d "$1" -c "select
			(select count(*) from pgbench_accounts) || ' ' ||
			(select count(*) from pgbench_branches) || ' ' ||
			(select count(*) from pgbench_tellers) || ' ' ||
			(select count(*) from pgbench_history) || ' ' ||
			(select md5(string_agg(aid::text || ':' || abalance::text, ',' order by aid))
			 from pgbench_accounts) || ' ' ||
			(select md5(string_agg(tid::text || ':' || tbalance::text, ',' order by tid))
			 from pgbench_tellers)"
	}

	"$PGBIN/createdb" $PGC bench &&
		"$PGBIN/pgbench" $PGC -i -s 2 -q bench >"$T/pg/pgbench.log" 2>&1
	check "pgbench -i -s 2" test $? -eq 0
	# some history rows too, so every table has data
	"$PGBIN/pgbench" $PGC -n -t 200 -c 2 bench >>"$T/pg/pgbench.log" 2>&1
	local s1
	s1=$(state bench)
	check "recorded counts and checksums ($s1)" test -n "$s1"

	# plain format
	check_exit 0 "backup of pg_dump (plain) through --stdin-from-command" \
		"$CAIRN" backup -r "$R" --stdin-from-command --stdin-name bench.sql -- \
		"$PGBIN/pg_dump" $PGC bench
	local plain1 added1
	plain1=$(snap_id_of "$T/last.out")
	added1=$(added_of "$T/last.out")
	err_has "bench.sql: pgdump-plain verified: .*completion trailer" \
		"backup says the plain dump was verified"
	check "snapshot input_format is pgdump-plain" \
		test "$(json_field "$plain1" input_format)" = pgdump-plain
	check "a dump is cut with half the repository's chunk sizes (avg 4096)" \
		grep -q "'avg': 4096" <<<"$(json_field "$plain1" chunker)"
	check "snapshot note says verified ($(json_field "$plain1" note))" \
		grep -q '^verified: pg_dump plain-format SQL, completion trailer present' \
		<<<"$(json_field "$plain1" note)"
	"$CAIRN" snapshots -r "$R" >"$T/list.txt" 2>&1
	check "snapshots table shows the format" grep -q "/bench.sql (pgdump-plain)" "$T/list.txt"
	"$CAIRN" ls -l -r "$R" "$plain1" >"$T/ls.txt" 2>&1
	check "ls -l shows the dump's format and check" \
		grep -q "/bench.sql  \[pgdump-plain: verified: pg_dump plain-format SQL" "$T/ls.txt"

	# custom format, uncompressed and compressed
	check_exit 0 "backup of pg_dump -Fc -Z0" \
		"$CAIRN" backup -r "$R" --stdin-from-command --stdin-name bench.dump -- \
		"$PGBIN/pg_dump" $PGC -Fc -Z0 bench
	local custom1
	custom1=$(snap_id_of "$T/last.out")
	check "-Fc snapshot input_format is pgdump-custom" \
		test "$(json_field "$custom1" input_format)" = pgdump-custom
	check "-Fc note: verified, TOC and data blocks" \
		grep -Eq '^verified: archive 1\.[0-9]+ of database "bench".* TOC entries, [0-9]+ data blocks complete, compression none' \
		<<<"$(json_field "$custom1" note)"
	if grep -q warning "$T/last.err"; then not_ok "-Fc -Z0: no warning"; else ok "-Fc -Z0: no warning"; fi
	check_exit 0 "backup of pg_dump -Fc (compressed)" \
		"$CAIRN" backup -r "$R" --stdin-from-command --stdin-name benchz.dump -- \
		"$PGBIN/pg_dump" $PGC -Fc bench
	err_has "warning: benchz.dump: .*compressed.*deduplication.*-Z0" \
		"compressed -Fc warns and names -Z0"
	check_exit 0 "backup of pg_dump -Z6 (gzip plain)" \
		"$CAIRN" backup -r "$R" --stdin-from-command --stdin-name bench.sql.gz -- \
		"$PGBIN/pg_dump" $PGC -Z6 bench
	err_has "warning: bench.sql.gz: the input is gzip-compressed: deduplication" \
		"gzip input warns"

	# change data, dump again: the second dump adds less than the first
	"$PGBIN/pgbench" $PGC -n -t 500 -c 2 bench >>"$T/pg/pgbench.log" 2>&1
	local s2
	s2=$(state bench)
	check "the workload changed the data" test "$s1" != "$s2"
	check_exit 0 "second plain dump" \
		"$CAIRN" backup -r "$R" --stdin-from-command --stdin-name bench.sql -- \
		"$PGBIN/pg_dump" $PGC bench
	local added2 added3
	added2=$(added_of "$T/last.out")
	# pgbench updates rows uniformly at random: ~1 in 200 rows changed
	# touches a good part of the chunks, but far from all
	check "second dump adds less than 3/4 of the first ($added2 vs $added1 bytes)" \
		test "$added2" -lt $((added1 * 3 / 4))
	check_exit 0 "third plain dump, nothing changed" \
		"$CAIRN" backup -r "$R" --stdin-from-command --stdin-name bench.sql -- \
		"$PGBIN/pg_dump" $PGC bench
	added3=$(added_of "$T/last.out")
	# only the chunks around the \restrict keys (new in every dump) are new
	check "an unchanged database adds < 1/10 of the first dump ($added3 bytes)" \
		test "$added3" -lt $((added1 / 10))

	# a failing pg_dump makes no snapshot
	local n0
	n0=$(n_snapshots)
	check_exit 1 "pg_dump of a database that does not exist" \
		"$CAIRN" backup -r "$R" --stdin-from-command --stdin-name nosuch.sql -- \
		"$PGBIN/pg_dump" $PGC nosuchdb
	err_has "pg_dump exited with status 1; no snapshot was made" "the failure is named"
	check "failing pg_dump made no snapshot" test "$(n_snapshots)" -eq "$n0"

	# a dump cut mid-stream is refused (the pipeline itself exits 0)
	check_exit 1 "plain dump cut at 1 MB is refused" \
		"$CAIRN" backup -r "$R" --stdin-from-command --stdin-name cut.sql -- \
		sh -c "'$PGBIN/pg_dump' $PGC bench | head -c 1000000"
	err_has "cut.sql: pg_dump plain-format output is truncated: it does not end with the completion trailer" \
		"the message says truncated, missing trailer"
	err_has "no snapshot was made \(to store it anyway, add --no-verify-dump\)" \
		"the message names --no-verify-dump"
	check "cut plain dump made no snapshot" test "$(n_snapshots)" -eq "$n0"
	check_exit 1 "-Fc dump cut at 2 MB is refused" \
		"$CAIRN" backup -r "$R" --stdin-from-command --stdin-name cut.dump -- \
		sh -c "'$PGBIN/pg_dump' $PGC -Fc -Z0 bench | head -c 2000000"
	err_has "cut.dump: pg_dump custom-format archive is truncated: it ends in data block" \
		"the message says where the archive ends"
	check "cut -Fc dump made no snapshot" test "$(n_snapshots)" -eq "$n0"
	check_exit 0 "--no-verify-dump stores the cut dump" \
		"$CAIRN" backup -r "$R" --no-verify-dump --stdin-from-command --stdin-name cut.sql -- \
		sh -c "'$PGBIN/pg_dump' $PGC bench | head -c 1000000"
	err_has "warning: cut.sql: .*truncated.*stored anyway" "--no-verify-dump warns"
	local cut
	cut=$(snap_id_of "$T/last.out")
	check "its note says not verified" grep -q '^not verified (--no-verify-dump): ' \
		<<<"$(json_field "$cut" note)"
	"$CAIRN" snapshots -r "$R" >"$T/list.txt" 2>&1
	check "snapshots table marks it" grep -q "/cut.sql (pgdump-plain, not verified)" "$T/list.txt"

	# restore the first plain dump into a new database
	"$PGBIN/dropdb" $PGC bench
	"$PGBIN/createdb" $PGC bench
	set -o pipefail
	"$CAIRN" dump -r "$R" "$plain1" bench.sql |
		"$PGBIN/psql" $PGC -X -q -v ON_ERROR_STOP=1 -d bench >"$T/pg/restore.log" 2>&1
	check "cairn dump | psql restores the first plain dump" test $? -eq 0
	set +o pipefail
	check "counts and checksums equal those before the first dump" test "$(state bench)" = "$s1"

	# the same with -Fc and pg_restore
	"$PGBIN/dropdb" $PGC bench
	"$PGBIN/createdb" $PGC bench
	set -o pipefail
	"$CAIRN" dump -r "$R" "$custom1" bench.dump |
		"$PGBIN/pg_restore" $PGC -d bench --exit-on-error >"$T/pg/restore2.log" 2>&1
	check "cairn dump | pg_restore -d restores the -Fc dump" test $? -eq 0
	set +o pipefail
	check "counts and checksums equal those before the -Fc dump" test "$(state bench)" = "$s1"

	# a directory-format dump (-Fd) is a tree: its toc.dat is checked
	rm -rf "$T/fd"
	"$PGBIN/pg_dump" $PGC -Fd -Z0 -f "$T/fd" bench
	check_exit 0 "backup of a pg_dump -Fd folder" "$CAIRN" backup -r "$R" "$T/fd"
	local fd1
	fd1=$(snap_id_of "$T/last.out")
	err_has "fd: pgdump-directory verified: archive .*TOC entries, [1-9][0-9]* data files" \
		"backup says the -Fd dump was verified"
	check "-Fd snapshot input_format is pgdump-directory" \
		test "$(json_field "$fd1" input_format)" = pgdump-directory
	rm -rf "$T/fd-restore"
	check_exit 0 "restore of the -Fd snapshot" "$CAIRN" restore -r "$R" "$fd1" --target "$T/fd-restore"
	"$PGBIN/dropdb" $PGC bench
	"$PGBIN/createdb" $PGC bench
	"$PGBIN/pg_restore" $PGC -d bench --exit-on-error "$T/fd-restore$T/fd" >"$T/pg/restore3.log" 2>&1
	check "pg_restore -d restores the restored -Fd folder" test $? -eq 0
	check "counts and checksums equal those of the -Fd dump (the -Fc restore's)" test "$(state bench)" = "$s1"
	n0=$(n_snapshots)
	cp -a "$T/fd" "$T/fd-cut"
	head -c 3000 "$T/fd/toc.dat" >"$T/fd-cut/toc.dat"
	check_exit 1 "a -Fd folder with a truncated toc.dat is refused" \
		"$CAIRN" backup -r "$R" "$T/fd-cut"
	err_has "fd-cut: the toc.dat of a pg_dump directory-format dump is truncated" \
		"the message says truncated"
	cp -a "$T/fd" "$T/fd-miss"
	rm -f "$(ls "$T"/fd-miss/[0-9]*.dat | head -n 1)"
	check_exit 1 "a -Fd folder missing a data file is refused" \
		"$CAIRN" backup -r "$R" "$T/fd-miss"
	err_has "fd-miss: the pg_dump directory-format dump is incomplete: its toc.dat lists" \
		"the message counts the data files"
	check "the refused -Fd folders made no snapshot" test "$(n_snapshots)" -eq "$n0"

	# contrib: every database of the cluster, one snapshot each, tagged by database
	check_exit 0 "contrib/db/cairn-pg-dumpall.sh -g -t nightly" \
		env PATH="$PGBIN:$PATH" PGHOST=127.0.0.1 PGPORT="$PGPORT" PGUSER=postgres \
		CAIRN_REPO="$R" sh "$CAIRN_SRCDIR/contrib/db/cairn-pg-dumpall.sh" -g -t nightly
	"$CAIRN" snapshots -r "$R" --tag nightly >"$T/list.txt" 2>&1
	for db in bench postgres; do
		check "cairn-pg-dumpall.sh: a snapshot of $db tagged db:$db" \
			grep -Eq "db:$db,nightly +.* /$db.sql \(pgdump-plain\)" "$T/list.txt"
	done
	check "cairn-pg-dumpall.sh -g: the globals" \
		grep -q "/globals.sql (pgdumpall-plain)" "$T/list.txt"
}

if [ -n "$pg_missing" ]; then
	skip "PostgreSQL tests: missing$pg_missing (Debian: postgresql)"
elif ! command -v python3 >/dev/null 2>&1; then
	skip "PostgreSQL tests: python3 is missing (reads snapshots --json)"
else
	pg_tests
fi

# --------------------------------------------------------------------- Redis
# start_redis DIR [ARGS...]: a redis-server on 127.0.0.1 with its files in
# DIR; sets REDIS_PORT and waits until it answers PING. A port taken between
# free_port and the server's bind is retried with another (3 tries, each up
# to 10 s); a server that never answers has its log's end printed.
start_redis() {
	local dir=$1 try pid
	shift
	mkdir -p "$dir"
	for try in 1 2 3; do
		REDIS_PORT=$(free_port) || return 1
		redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
			--dir "$dir" --logfile "$dir/log" --daemonize no --enable-debug-command yes "$@" \
			</dev/null >/dev/null 2>&1 &
		pid=$!
		REDIS_PIDS="$REDIS_PIDS $pid"
		for _ in $(seq 1 100); do
			kill -0 "$pid" 2>/dev/null || break
			[ "$(timeout 2 redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ] && return 0
			sleep 0.1
		done
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		echo "# redis-server (try $try, port $REDIS_PORT) did not answer; its log ends:"
		tail -3 "$dir/log" 2>/dev/null | sed 's/^/#   /'
	done
	return 1
}

# A few thousand keys of mixed types, some with expiry, via redis-cli.
populate_redis() {
	awk 'BEGIN {
		for (i = 0; i < 4000; i++) {
			k = i % 6
			if (k == 0) printf "SET str:%d \"value %d %s\"\n", i, i * 7919, substr("abcdefghijklmnopqrstuvwxyz", 1 + i % 26)
			else if (k == 1) printf "HSET hash:%d f1 v%d f2 %d name \"user %d\"\n", i, i, i * 3, i
			else if (k == 2) printf "RPUSH list:%d a%d b%d c%d d\n", i, i, i, i
			else if (k == 3) printf "SADD set:%d m%d n%d o%d\n", i, i, i + 1, i + 2
			else if (k == 4) printf "ZADD zset:%d %d one %d two %d three\n", i, i, i + 1, i + 2
			else printf "SET int:%d %d\n", i, i * 1000003
			if (i % 50 == 0) printf "EXPIRE str:%d 86400\n", i - i % 6
		}
		for (i = 0; i < 20; i++) printf "SET big:%d %s\n", i, sprintf("%0300d", i)
	}' | redis-cli -p "$1" >/dev/null
}

# Values that the restore must reproduce exactly.
sample_redis() {
	local p=$1
	redis-cli -p "$p" dbsize
	redis-cli -p "$p" get str:1200
	redis-cli -p "$p" hgetall hash:1201
	redis-cli -p "$p" lrange list:1202 0 -1
	redis-cli -p "$p" smembers set:1203 | sort
	redis-cli -p "$p" zrange zset:1204 0 -1 withscores
	redis-cli -p "$p" get int:1205
	redis-cli -p "$p" get big:7
	redis-cli -p "$p" ttl str:1200 | awk '{ print ($1 > 80000) }'
}

redis_tests() {
	local p1 p2 p3
	if ! start_redis "$T/redis1"; then
		not_ok "redis-server starts on 127.0.0.1"
		return
	fi
	p1=$REDIS_PORT
	ok "redis-server $(redis-server --version | awk '{print $3}') runs on 127.0.0.1:$p1"
	populate_redis "$p1"
	local size1 sample1 digest1
	size1=$(redis-cli -p "$p1" dbsize)
	sample1=$(sample_redis "$p1")
	digest1=$(redis-cli -p "$p1" debug digest)
	check "populated $size1 keys of mixed types" test "$size1" -ge 4000

	check_exit 0 "backup of redis-cli --rdb - (diskless sync)" \
		"$CAIRN" backup -r "$R" --stdin-from-command --stdin-name dump.rdb -- \
		redis-cli -p "$p1" --rdb -
	local rdb1
	rdb1=$(snap_id_of "$T/last.out")
	err_has "dump.rdb: rdb verified: RDB version [0-9]+ .*CRC-64 ok" "the RDB was verified"
	check "snapshot input_format is rdb" test "$(json_field "$rdb1" input_format)" = rdb
	check "an RDB is cut with half the repository's chunk sizes (avg 4096)" \
		grep -q "'avg': 4096" <<<"$(json_field "$rdb1" chunker)"
	check "note: verified, CRC-64 ok ($(json_field "$rdb1" note))" \
		grep -q '^verified: RDB version .*CRC-64 ok' <<<"$(json_field "$rdb1" note)"

	redis-cli -p "$p1" config set repl-diskless-sync no >/dev/null
	check_exit 0 "backup of redis-cli --rdb - (disk-based sync)" \
		"$CAIRN" backup -r "$R" --stdin-from-command --stdin-name dump.rdb -- \
		redis-cli -p "$p1" --rdb -
	local rdb2
	rdb2=$(snap_id_of "$T/last.out")
	check "disk-based RDB verified too" grep -q '^verified: RDB version .*CRC-64 ok$' \
		<<<"$(json_field "$rdb2" note)"

	redis-cli -p "$p1" flushall >/dev/null
	check "flushall emptied the server" test "$(redis-cli -p "$p1" dbsize)" -eq 0

	# restore into a fresh server: the dumped file as its dump.rdb
	mkdir -p "$T/redis2"
	check_exit 0 "cairn dump of the RDB" "$CAIRN" dump -r "$R" "$rdb1" dump.rdb
	cp "$T/last.out" "$T/redis2/dump.rdb"
	cp "$T/last.out" "$T/good.rdb"
	if start_redis "$T/redis2" --dbfilename dump.rdb; then
		p2=$REDIS_PORT
		ok "a fresh redis-server loads the restored RDB"
		check "DBSIZE is the same ($size1)" test "$(redis-cli -p "$p2" dbsize)" = "$size1"
		check "sampled values are the same" test "$(sample_redis "$p2")" = "$sample1"
		check "DEBUG DIGEST is the same" test "$(redis-cli -p "$p2" debug digest)" = "$digest1"
	else
		not_ok "a fresh redis-server loads the restored RDB"
		sed 's/^/# /' "$T/redis2/log" | tail -5
	fi

	# damaged RDBs
	local n0 len cut
	n0=$(n_snapshots)
	len=$(stat -c %s "$T/good.rdb")
	# a cut whose 9th-last byte is not the EOF opcode (0xff), so that it
	# can only be told as truncation
	cut=$((len / 2))
	for _ in $(seq 1 50); do
		[ "$(od -An -tu1 -j $((cut - 9)) -N1 "$T/good.rdb" | tr -d ' ')" != 255 ] && break
		cut=$((cut + 1))
	done
	head -c "$cut" "$T/good.rdb" >"$T/half.rdb"
	check_exit 1 "an RDB cut in half is refused" \
		"$CAIRN" backup -r "$R" --stdin --stdin-name dump.rdb <"$T/half.rdb"
	err_has "dump.rdb: Redis RDB is truncated: .*no snapshot was made \(to store it anyway, add --no-verify-dump\)" \
		"the message says truncated and names --no-verify-dump"
	check_exit 1 "an RDB cut by a pipe is refused" \
		"$CAIRN" backup -r "$R" --stdin-from-command --stdin-name dump.rdb -- \
		sh -c "redis-cli -p $p2 --rdb - 2>/dev/null | head -c 20000"
	# (a cut may end 9 bytes after a 0xff byte by chance: then it is told as a mismatch)
	err_has "Redis RDB is (truncated|corrupt: CRC-64 checksum mismatch)" \
		"the pipe cut says truncated (or checksum mismatch)"
	cp "$T/good.rdb" "$T/flip.rdb"
	printf '\001' | dd of="$T/flip.rdb" bs=1 seek=$((len / 3)) conv=notrunc 2>/dev/null
	# the byte there may have been 1 already: then write 2
	if cmp -s "$T/good.rdb" "$T/flip.rdb"; then
		printf '\002' | dd of="$T/flip.rdb" bs=1 seek=$((len / 3)) conv=notrunc 2>/dev/null
	fi
	check "one byte differs" test "$(cmp -l "$T/good.rdb" "$T/flip.rdb" | wc -l)" -eq 1
	check_exit 1 "an RDB with a flipped byte is refused" \
		"$CAIRN" backup -r "$R" --stdin --stdin-name dump.rdb <"$T/flip.rdb"
	err_has "dump.rdb: Redis RDB is corrupt: CRC-64 checksum mismatch" \
		"the message says checksum mismatch"
	printf 'some notes\n' >"$T/notes.txt"
	check_exit 1 "a text file named .rdb is refused" \
		"$CAIRN" backup -r "$R" --stdin --stdin-name notes.rdb <"$T/notes.txt"
	err_has "expected a Redis RDB file" "the message says an RDB was expected"
	check "no snapshot from the damaged RDBs" test "$(n_snapshots)" -eq "$n0"
	check_exit 0 "--no-verify-dump stores the flipped RDB" \
		"$CAIRN" backup -r "$R" --no-verify-dump --stdin --stdin-name dump.rdb <"$T/flip.rdb"
	local fl
	fl=$(snap_id_of "$T/last.out")
	check "its note says not verified, mismatch" \
		grep -q '^not verified (--no-verify-dump): Redis RDB is corrupt: CRC-64 checksum mismatch' \
		<<<"$(json_field "$fl" note)"
	check_exit 0 "--no-verify-dump stores the truncated RDB" \
		"$CAIRN" backup -r "$R" --no-verify-dump --stdin --stdin-name dump.rdb <"$T/half.rdb"
	check "two snapshots were added" test "$(n_snapshots)" -eq $((n0 + 2))

	check_exit 0 "contrib/db/cairn-redis-rdb.sh -t hourly" \
		env CAIRN_REPO="$R" sh "$CAIRN_SRCDIR/contrib/db/cairn-redis-rdb.sh" -t hourly -- -p "$p2"
	"$CAIRN" snapshots -r "$R" --tag redis --tag hourly >"$T/list.txt" 2>&1
	check "cairn-redis-rdb.sh: a verified RDB snapshot tagged redis" \
		grep -Eq "hourly,redis +.* /dump.rdb \(rdb\)" "$T/list.txt"

	# a server with checksums off writes a zero trailer: accepted, not verified
	if start_redis "$T/redis3" --rdbchecksum no; then
		p3=$REDIS_PORT
		redis-cli -p "$p3" set k v >/dev/null
		check_exit 0 "RDB with checksums off is accepted" \
			"$CAIRN" backup -r "$R" --stdin-from-command --stdin-name nock.rdb -- \
			redis-cli -p "$p3" --rdb -
		local nock
		nock=$(snap_id_of "$T/last.out")
		check "its note says checksums off" grep -q '^not verified: .*checksums off' \
			<<<"$(json_field "$nock" note)"
	else
		not_ok "redis-server --rdbchecksum no starts"
	fi
}

if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
	skip "Redis tests: redis-server or redis-cli is missing (Debian: redis-server redis-tools)"
elif ! command -v python3 >/dev/null 2>&1; then
	skip "Redis tests: python3 is missing (reads snapshots --json)"
else
	redis_tests
fi

done_testing

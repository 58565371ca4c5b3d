#!/bin/sh
# cairn-pg-dumpall.sh - back up every database of a PostgreSQL cluster,
# one snapshot per database, tagged by database.
#
#   cairn-pg-dumpall.sh [-g] [-t TAG]... [-f FORMAT] [-- PG_DUMP_OPTION...]
#
# Each database (but template0/template1) is dumped by pg_dump through
# `cairn backup --stdin-from-command`, so a failing pg_dump or a truncated
# dump creates no snapshot: snapshot NAME.sql (or NAME.dump with -f custom),
# tags db:NAME plus every -t TAG. With -g, the roles and tablespaces
# (pg_dumpall --globals-only) go into one more snapshot, globals.sql, tagged
# db:globals. Connection settings come from the usual libpq environment
# (PGHOST, PGPORT, PGUSER, ~/.pgpass ...); the repository and password from
# cairn's (CAIRN_REPO, CAIRN_PASSWORD_FILE ...). Options after -- go to every
# pg_dump.
#
#   -f plain    plain SQL (default): deduplicates best; restore with
#               `cairn dump --tag db:NAME latest NAME.sql | psql NAME`
#   -f custom   pg_dump -Fc -Z0 (uncompressed: cairn compresses chunks itself);
#               restore with `cairn dump --tag db:NAME latest NAME.dump | pg_restore -d NAME`
#
# Exit status: 0 when every database was backed up, 1 when any failed (the
# others are still backed up), 2 on a usage error. Needs psql and pg_dump.
# See cairn-databases(7).
set -u

CAIRN=${CAIRN:-cairn}
format=plain
globals=0
tags=""
while getopts gt:f:h opt; do
	case $opt in
	g) globals=1 ;;
	t) tags="$tags --tag $OPTARG" ;;
	f) format=$OPTARG ;;
	h)
		sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ "${1:-}" = "--" ] && shift
case $format in
plain) ext=sql; fmt_args="" ;;
custom) ext=dump; fmt_args="-Fc -Z0" ;;
*) echo "cairn-pg-dumpall.sh: -f takes plain or custom, not '$format'" >&2; exit 2 ;;
esac

dbs=$(psql -X -A -t -q -d "${PGDATABASE:-postgres}" \
	-c "select datname from pg_database where datallowconn and not datistemplate order by 1") || {
	echo "cairn-pg-dumpall.sh: cannot list the databases (psql failed)" >&2
	exit 1
}

failed=""
if [ "$globals" -eq 1 ]; then
	# shellcheck disable=SC2086
	if ! "$CAIRN" backup $tags --tag db:globals --stdin-name globals.sql \
		--stdin-from-command -- pg_dumpall --globals-only; then
		failed="$failed globals"
	fi
fi
for db in $dbs; do
	case $db in
	*[!A-Za-z0-9_.-]*)
		# a name that is not a safe tag or file name: say so, go on
		echo "cairn-pg-dumpall.sh: skipping database '$db': its name is not usable as a file name" >&2
		failed="$failed $db"
		continue
		;;
	esac
	echo "cairn-pg-dumpall.sh: backing up database $db" >&2
	# shellcheck disable=SC2086
	if ! "$CAIRN" backup $tags --tag "db:$db" --stdin-name "$db.$ext" \
		--stdin-from-command -- pg_dump $fmt_args "$@" "$db"; then
		failed="$failed $db"
	fi
done
if [ -n "$failed" ]; then
	echo "cairn-pg-dumpall.sh: failed:$failed" >&2
	exit 1
fi
exit 0

#!/bin/sh
# cairn-redis-rdb.sh - back up a running Redis as an RDB snapshot.
#
#   cairn-redis-rdb.sh [-n NAME] [-t TAG]... [-- REDIS_CLI_OPTION...]
#
# Runs `redis-cli [OPTIONS] --rdb -` through `cairn backup
# --stdin-from-command`: the server writes a fresh RDB (as for a replica)
# and cairn stores it as NAME (default dump.rdb) at the root of a new
# snapshot, tagged redis plus every -t TAG. cairn checks the RDB's magic,
# version and CRC-64 trailer while it streams: a failed or cut transfer
# creates no snapshot. Connection options (-h, -p, -a, --tls ...) go after
# --, for example:
#
#   cairn-redis-rdb.sh -t hourly -- -h 127.0.0.1 -p 6379
#
# Restore: stop Redis, put the file in place as its dbfilename in its dir,
# start it (see cairn-databases(7)):
#
#   cairn dump --tag redis latest dump.rdb > /var/lib/redis/dump.rdb
#
# Exit status: cairn's (0 saved, 1 failed). Needs redis-cli.
set -u

CAIRN=${CAIRN:-cairn}
name=dump.rdb
tags="--tag redis"
while getopts n:t:h opt; do
	case $opt in
	n) name=$OPTARG ;;
	t) tags="$tags --tag $OPTARG" ;;
	h)
		sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ "${1:-}" = "--" ] && shift
case $name in
*.rdb) ;;
*) echo "cairn-redis-rdb.sh: the name should end in .rdb (cairn then insists on an RDB)" >&2 ;;
esac
# shellcheck disable=SC2086
exec "$CAIRN" backup $tags --stdin-name "$name" --stdin-from-command -- redis-cli "$@" --rdb -

#!/bin/sh
# cairn-check-monthly.sh JOB - one day's share of a monthly verification.
#
# Run once a day (cairn-check-monthly@.timer, or the cron line). Day D of
# the month runs `cairn check --read-data-subset D/31`: every pack of the
# repository is in exactly one of 31 buckets (by its id), so the days of a
# 31-day month read every pack once. Shorter months: on their last day the
# remaining buckets are read too (on 28 February: 28-31/31), so every month
# covers the whole repository.
#
# Missed days (machine off, failed run): the last bucket read in the month
# is kept in $STATE_DIRECTORY/check-JOB.last, and the next run starts after
# it, catching up at most CAIRN_CHECK_CATCHUP_DAYS (default 3) days, to
# stay in its time window. Buckets missed beyond that, or on the last days
# of a month, are read the next month. The state is only advanced when
# the check passes: after damage, the same buckets are read again (within
# the catch-up limit) until the repository is repaired.
#
# The environment gives the repository (CAIRN_REPO, CAIRN_PASSWORD_FILE,
# ...), CAIRN_CHECK_ARGS (more options), CAIRN_METRICS_DIR (where
# cairn-JOB-check.prom is written; default $STATE_DIRECTORY/metrics) and
# CAIRN (the binary; default: cairn from PATH). Exits with cairn's status.
set -u

job=${1:?usage: cairn-check-monthly.sh JOB}
cairn=${CAIRN:-cairn}
state_dir=${STATE_DIRECTORY:-/var/lib/cairn}
state_dir=${state_dir%%:*}	# systemd lists several directories with ':'
metrics_dir=${CAIRN_METRICS_DIR:-$state_dir/metrics}
catchup=${CAIRN_CHECK_CATCHUP_DAYS:-3}
buckets=31

# CAIRN_TEST_TODAY=YYYY-MM-DD pins the date (tests only)
today=${CAIRN_TEST_TODAY:-$(date +%Y-%m-%d)}
month=$(date -d "$today" +%Y-%m) || exit 1
day=$(date -d "$today" +%-d)
last_day=$(date -d "$month-01 +1 month -1 day" +%-d)

first=$day
state=$state_dir/check-$job.last
if [ -r "$state" ]; then
	read -r s_month s_day <"$state" || s_month=""
	if [ "$s_month" = "$month" ] && [ "${s_day:-0}" -lt "$day" ] 2>/dev/null; then
		first=$((s_day + 1))
		[ "$first" -lt $((day - catchup)) ] && first=$((day - catchup))
	fi
fi
last=$day
[ "$day" -eq "$last_day" ] && last=$buckets
if [ "$first" -eq "$last" ]; then
	subset=$first/$buckets
else
	subset=$first-$last/$buckets
fi

mkdir -p "$metrics_dir" || exit 1
# shellcheck disable=SC2086 # CAIRN_CHECK_ARGS is a list of options
"$cairn" check --quiet --read-data-subset "$subset" --metrics-job "$job" \
	--metrics-file "$metrics_dir/cairn-$job-check.prom" ${CAIRN_CHECK_ARGS:-}
status=$?
if [ "$status" -eq 0 ]; then
	mkdir -p "$state_dir" && printf '%s %s\n' "$month" "$last" >"$state.tmp" &&
		mv "$state.tmp" "$state"
fi
exit "$status"

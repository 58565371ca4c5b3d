#!/usr/bin/env bash
# contrib/: the systemd units pass `systemd-analyze verify`, the alert rules
# pass `promtool check rules` and fire as intended (`promtool test rules`),
# the crontab lines are well formed and use options cairn has, and
# cairn-check-monthly.sh picks the right buckets: one a day, the rest on
# the last day of a short month, catching up after missed days, and a
# month of runs reads every pack exactly once.
. "$(dirname "$0")/lib.sh"

C=$CAIRN_SRCDIR/contrib
WRAP=$C/systemd/cairn-check-monthly.sh

# ---- systemd units ----
if command -v systemd-analyze >/dev/null 2>&1; then
	mkdir -p "$T/units"
	cp "$C"/systemd/*.service "$C"/systemd/*.timer "$T/units/"
	# the installed paths, pointed at this build
	sed -i "s|/usr/local/bin/cairn|$CAIRN|; s|/usr/local/lib/cairn/cairn-check-monthly.sh|$WRAP|" "$T"/units/*.service
	units=""
	for f in "$T"/units/*; do
		u=$(basename "$f")
		units="$units ${u/@./@job.}"
	done
	if (cd "$T/units" && systemd-analyze verify --man=no $units) >"$T/sd.out" 2>&1 && ! grep -q . "$T/sd.out"; then
		ok "systemd-analyze verify passes for$units"
	elif grep -qiE "failed to (connect|initialize)|no such file or directory.*(bus|systemd)|not booted" "$T/sd.out"; then
		skip "systemd-analyze cannot run here: $(head -1 "$T/sd.out")"
	else
		not_ok "systemd-analyze verify passes"
		sed 's/^/# /' "$T/sd.out" | head -10
	fi
	for t in "$C"/systemd/*.timer; do
		cal=$(sed -n 's/^OnCalendar=//p' "$t")
		check "$(basename "$t"): OnCalendar '$cal' is valid" sh -c "systemd-analyze calendar '$cal' >/dev/null"
	done
else
	skip "systemd-analyze is not installed (Debian package systemd)"
fi
for s in backup forget check; do
	check "cairn-$s@.service reads /etc/cairn/%i.env" grep -q '^EnvironmentFile=/etc/cairn/%i.env$' "$C/systemd/cairn-$s@.service"
done

# ---- alert rules ----
RULES=$C/prometheus/cairn-alerts.yml
if command -v promtool >/dev/null 2>&1; then
	check_exit 0 "promtool check rules" promtool check rules "$RULES"
	cp "$RULES" "$T/rules.yml"
	cat >"$T/rules-test.yml" <<'EOF'
rule_files:
  - rules.yml
evaluation_interval: 1m
tests:
  # an hourly job that stops succeeding at 00:00, a nightly job that
  # succeeds at 00:00 only, a check that found errors, a check 36 days old
  # (samples every minute: a gap longer than 5 minutes would end an alert)
  - interval: 1m
    input_series:
      - series: 'cairn_last_success_timestamp_seconds{command="backup",job="node",exported_job="app",repository="/r"}'
        values: '0x200'
      - series: 'cairn_last_success_timestamp_seconds{command="backup",job="db-nightly",repository="/r"}'
        values: '0x1600'
      - series: 'cairn_errors_found{command="check",job="app",repository="/r"}'
        values: '0x20 3x20'
      - series: 'cairn_last_success_timestamp_seconds{command="check",job="app",repository="/r"}'
        values: '-3110400x20'
    alert_rule_test:
      - eval_time: 50m
        alertname: CairnBackupMissing
        exp_alerts: []
      - eval_time: 80m
        alertname: CairnBackupMissing
        exp_alerts:
          - exp_labels: {severity: critical, command: backup, job: node, exported_job: app, repository: /r}
            exp_annotations:
              summary: No successful cairn backup of /r in the last hour
              description: The backup job nodeapp of /r last succeeded 1h 20m 0s ago. See journalctl -u 'cairn-backup@*' and cairn_last_exit_code.
      - eval_time: 10m
        alertname: CairnVerificationFoundErrors
        exp_alerts: []
      - eval_time: 30m
        alertname: CairnVerificationFoundErrors
        exp_alerts:
          - exp_labels: {severity: critical, command: check, job: app, repository: /r}
            exp_annotations:
              summary: cairn check found damage in /r
              description: The last check of /r found 3 error(s). Run 'cairn check' on it; the report names the damaged packs, snapshots and files, and the repairs to run.
      - eval_time: 10m
        alertname: CairnVerificationMissing
        exp_alerts:
          - exp_labels: {severity: warning, command: check, job: app, repository: /r}
            exp_annotations:
              summary: No successful cairn check of /r in 35 days
              description: The repository /r was last verified without errors 36d 0h 10m 0s ago. Backups that are never verified are not backups.
      - eval_time: 190m
        alertname: CairnNightlyBackupMissing
        exp_alerts: []
      - eval_time: 1570m
        alertname: CairnNightlyBackupMissing
        exp_alerts:
          - exp_labels: {severity: critical, command: backup, job: db-nightly, repository: /r}
            exp_annotations:
              summary: No successful nightly cairn backup of /r for a day
              description: The backup job db-nightly last succeeded 1d 2h 10m 0s ago.
EOF
	check_exit 0 "promtool test rules: the alerts fire when they should" sh -c "cd '$T' && promtool test rules rules-test.yml"
elif command -v python3 >/dev/null 2>&1 && python3 -c 'import yaml' 2>/dev/null; then
	skip "promtool is not installed (Debian package prometheus): rules only parsed as YAML"
	check "the rules are YAML with four alerts" python3 -c "
import yaml
d = yaml.safe_load(open('$RULES'))
r = d['groups'][0]['rules']
assert len(r) == 4 and all('alert' in x and 'expr' in x for x in r)"
else
	skip "neither promtool nor python3-yaml: alert rules not checked"
fi

# ---- crontab ----
cat >"$T/cron.py" <<'EOF'
import re, sys
ranges = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]
def field_ok(f, lo, hi):
    for part in f.split(','):
        m = re.match(r'^(\*|\d+(-\d+)?)(/\d+)?$', part)
        if not m:
            return False
        for n in re.findall(r'\d+', m.group(1)):
            if not lo <= int(n) <= hi:
                return False
    return True
jobs = []
for ln in open(sys.argv[1]):
    ln = ln.rstrip('\n')
    if not ln.strip() or ln.lstrip().startswith('#'):
        continue
    if re.match(r'^[A-Za-z_][A-Za-z0-9_]*=', ln):
        continue
    f = ln.split(None, 6)
    assert len(f) == 7, 'too few fields: ' + ln
    for x, (lo, hi) in zip(f[:5], ranges):
        assert field_ok(x, lo, hi), 'bad time field %r in %s' % (x, ln)
    assert re.match(r'^[a-z_][a-z0-9_-]*$', f[5]), 'bad user: ' + ln
    assert '%' not in f[6], 'unescaped % in: ' + ln
    jobs.append(f[6])
for j in jobs:
    print(j)
EOF
if python3 "$T/cron.py" "$C/cron/cairn.crontab" >"$T/cron.jobs" 2>"$T/last.err"; then
	ok "cairn.crontab: every line has valid time fields, a user and no bare %"
else
	not_ok "cairn.crontab is well formed"
	sed 's/^/# /' "$T/last.err" | tail -2
fi
for cmd in backup forget check; do
	for opt in $(grep -o "cairn $cmd [^;]*" "$T/cron.jobs" "$C"/systemd/*.service "$WRAP" | grep -oE -- '--[a-z-]+' | sort -u); do
		check "cairn $cmd has the option $opt used in contrib/" sh -c "'$CAIRN' $cmd --help | grep -q -- '$opt '"
	done
done

# ---- cairn-check-monthly.sh: which buckets ----
# a fake cairn that prints its --read-data-subset and exits with $FAKE_EXIT
mkdir -p "$T/fake" "$T/state"
cat >"$T/fake/cairn" <<'EOF'
#!/bin/sh
while [ $# -gt 0 ]; do
	[ "$1" = "--read-data-subset" ] && echo "$2"
	shift
done
exit "${FAKE_EXIT:-0}"
EOF
chmod +x "$T/fake/cairn"
subset() { # DATE -> the subset the wrapper asks for
	CAIRN=$T/fake/cairn STATE_DIRECTORY=$T/state CAIRN_TEST_TODAY=$1 sh "$WRAP" job
}
rm -f "$T/state/check-job.last"
check "5 March: bucket 5/31" test "$(subset 2026-03-05)" = "5/31"
check "6 March, after 5 March: 6/31" test "$(subset 2026-03-06)" = "6/31"
check "9 March, after 6 March: catch up 7-9/31" test "$(subset 2026-03-09)" = "7-9/31"
check "20 March, after 9 March: catch up 3 days at most, 17-20/31" test "$(subset 2026-03-20)" = "17-20/31"
check "31 March: 21-31/31 capped to 28-31/31" test "$(subset 2026-03-31)" = "28-31/31"
check "1 April: a new month starts at 1/31" test "$(subset 2026-04-01)" = "1/31"
rm -f "$T/state/check-job.last"
check "30 April (last day): 30-31/31" test "$(subset 2026-04-30)" = "30-31/31"
rm -f "$T/state/check-job.last"
check "28 February 2026: 28-31/31" test "$(subset 2026-02-28)" = "28-31/31"
rm -f "$T/state/check-job.last"
check "28 February 2028 (leap year): 28/31" test "$(subset 2028-02-28)" = "28/31"
check "29 February 2028: 29-31/31" test "$(subset 2028-02-29)" = "29-31/31"
rm -f "$T/state/check-job.last"
subset 2026-05-10 >/dev/null
FAKE_EXIT=1 CAIRN=$T/fake/cairn STATE_DIRECTORY=$T/state CAIRN_TEST_TODAY=2026-05-11 sh "$WRAP" job >/dev/null
check_exit 1 "the wrapper exits with cairn's status" env FAKE_EXIT=1 CAIRN="$T/fake/cairn" STATE_DIRECTORY="$T/state" CAIRN_TEST_TODAY=2026-05-11 sh "$WRAP" job
check "a failed day is read again the next day: 11-12/31" test "$(subset 2026-05-12)" = "11-12/31"

# ---- a month of real runs reads every pack exactly once ----
R=$T/repo
"$CAIRN" init -q -r "$R" --pack-size 1M
for i in 1 2 3 4; do
	gen_random "sched$i" $((2 * 1024 * 1024)) "$T/in$i"
	"$CAIRN" backup -q -r "$R" --stdin --stdin-name "in$i" <"$T/in$i"
done
rm -f "$T/state/check-job.last"
: >"$T/read"
fails=0
for d in $(seq -w 1 28); do
	CAIRN=$CAIRN CAIRN_REPO=$R STATE_DIRECTORY=$T/state CAIRN_CHECK_ARGS=--json \
		CAIRN_TEST_TODAY=2026-02-$d sh "$WRAP" job >"$T/day.json" 2>>"$T/last.err" || fails=$((fails + 1))
	python3 -c "import json; print('\n'.join(json.load(open('$T/day.json'))['packs_read']))" | sed '/^$/d' >>"$T/read"
done
check "28 daily runs in February all pass" test "$fails" -eq 0
all=$(cd "$R/data" && find . -type f -printf '%f\n' | sort)
check "February's runs read each of the $(echo "$all" | wc -l) packs exactly once" cmp -s <(sort "$T/read") <(echo "$all")
check "the metrics file of the job is written" grep -q '^cairn_last_exit_code{repository="[^"]*",job="job",command="check"} 0$' "$T/state/metrics/cairn-job-check.prom"
done_testing

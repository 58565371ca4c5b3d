#!/usr/bin/env bash
# Storage faults: a full disk or a failing write creates no snapshot, says
# what failed, and leaves a repository that the next backup and dump use.
. "$(dirname "$0")/lib.sh"

R=$T/repo
"$CAIRN" init -q -r "$R" --pack-size 1M
gen_random 5 $((8 * 1024 * 1024)) "$T/in"
printf 'small\n' >"$T/small"
"$CAIRN" backup -q -r "$R" --stdin --stdin-name small <"$T/small"
n0=$(ls "$R/snapshots" | wc -l)

CAIRN_TEST_FAULTS=enospc_after=3000000 check_exit 1 "backup onto a full disk fails" \
	"$CAIRN" backup -r "$R" --stdin --stdin-name in <"$T/in"
err_has "no space left" "full disk is named"
err_has "no snapshot was made" "says no snapshot was made"
check "no snapshot written on a full disk" test "$(ls "$R/snapshots" | wc -l)" -eq "$n0"
check_exit 0 "earlier snapshot still dumps" "$CAIRN" dump -r "$R" latest small
check "earlier snapshot intact" cmp -s "$T/last.out" "$T/small"

CAIRN_TEST_FAULTS=fail_put=snapshots/ check_exit 1 "failing snapshot write" \
	"$CAIRN" backup -r "$R" --stdin --stdin-name in <"$T/in"
check "no snapshot when its write fails" test "$(ls "$R/snapshots" | wc -l)" -eq "$n0"

CAIRN_TEST_FAULTS=fail_put=index/ check_exit 1 "failing index write" \
	"$CAIRN" backup -r "$R" --stdin --stdin-name in <"$T/in"
check "no snapshot when the index write fails" test "$(ls "$R/snapshots" | wc -l)" -eq "$n0"

check_exit 0 "backup after the faults" "$CAIRN" backup -r "$R" --stdin --stdin-name in <"$T/in"
check_exit 0 "dump after the faults" "$CAIRN" dump -r "$R" latest in
check "dump after the faults equals" cmp -s "$T/last.out" "$T/in"
check "no temporary files left" test -z "$(find "$R" -name '*.tmp-*')"

CAIRN_TEST_FAULTS=fail_get=data/ check_exit 1 "failing pack read" "$CAIRN" dump -r "$R" latest in
err_has "injected" "read failure reported"
done_testing

#!/usr/bin/env bash
# Several passwords open one repository; removing keys; the last key stays.
. "$(dirname "$0")/lib.sh"

R=$T/repo
"$CAIRN" init -q -r "$R"
echo data | "$CAIRN" backup -q -r "$R" --stdin --stdin-name f
check_exit 0 "key list" "$CAIRN" key list -r "$R"
check "one key, marked current" test "$(grep -c '^\*' "$T/last.out")" -eq 1
CAIRN_NEW_PASSWORD=second check_exit 0 "key add" "$CAIRN" key add -r "$R"
check "two key files" test "$(ls "$R/keys" | wc -l)" -eq 2
CAIRN_PASSWORD=second check_exit 0 "the new password opens" "$CAIRN" dump -r "$R" latest f
check "the new password reads the data" grep -qx data "$T/last.out"
first=$("$CAIRN" key list -r "$R" --json | python3 -c "import json,sys; print([k['id'] for k in json.load(sys.stdin) if k['current']][0])")
check_exit 1 "removing the key in use is refused" "$CAIRN" key remove -r "$R" "${first:0:8}"
err_has "key in use" "refusal explained"
CAIRN_PASSWORD=second check_exit 0 "remove the first key with the second password" "$CAIRN" key remove -r "$R" "${first:0:8}"
check_exit 12 "the removed password no longer opens (exit 12)" "$CAIRN" snapshots -r "$R"
second=$(CAIRN_PASSWORD=second "$CAIRN" key list -r "$R" --json | python3 -c "import json,sys; print(json.load(sys.stdin)[0]['id'])")
CAIRN_PASSWORD=second check_exit 1 "removing the last key is refused" "$CAIRN" key remove -r "$R" "${second:0:8}"
echo third >"$T/newpw"
CAIRN_PASSWORD=second check_exit 0 "key passwd" "$CAIRN" key passwd -r "$R" --new-password-file "$T/newpw"
CAIRN_PASSWORD=second check_exit 12 "old password after passwd fails" "$CAIRN" snapshots -r "$R"
CAIRN_PASSWORD=third check_exit 0 "new password after passwd works" "$CAIRN" dump -r "$R" latest f
check "one key left" test "$(ls "$R/keys" | wc -l)" -eq 1
check "key files are 0600" test "$(stat -c %a "$R"/keys/*)" = 600
CAIRN_PASSWORD=third check_exit 1 "key add without a new password source" env -u CAIRN_NEW_PASSWORD "$CAIRN" key add -r "$R"
done_testing

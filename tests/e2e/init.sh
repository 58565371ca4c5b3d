#!/usr/bin/env bash
# init, opening, passwords, permissions, wrong-password and missing-repository codes.
. "$(dirname "$0")/lib.sh"

R=$T/repo
check_exit 0 "init creates a repository" "$CAIRN" init -r "$R"
check "config object exists" test -f "$R/config"
check "one key file" test "$(ls "$R/keys" | wc -l)" -eq 1
check "key file is 0600" test "$(stat -c %a "$R/keys/"*)" = 600
check "config names the format" grep -q '^cairn-repository$' "$R/config"
check_exit 1 "init refuses an existing repository" "$CAIRN" init -r "$R"
err_has "already exists" "init over a repository says so"
err_lines_max 1 "one error line for init over a repository"

check_exit 0 "snapshots on an empty repository" "$CAIRN" snapshots -r "$R"
check "cache folder is 0700" test "$(stat -c %a "$CAIRN_CACHE_DIR"/*)" = 700
check "index cache is 0600" test "$(stat -c %a "$CAIRN_CACHE_DIR"/*/index.db)" = 600

CAIRN_PASSWORD=wrong check_exit 12 "wrong password exits 12" "$CAIRN" snapshots -r "$R"
err_has "wrong password" "wrong password message"
err_lines_max 1 "wrong password is one line"
if grep -q "correct horse" "$T/last.err"; then not_ok "password not in error"; else ok "password not in error"; fi

check_exit 10 "missing repository exits 10" "$CAIRN" snapshots -r "$T/nowhere"
err_has "no repository" "missing repository message"
mkdir -p "$T/empty"
check_exit 10 "folder without config exits 10" "$CAIRN" snapshots -r "$T/empty"
err_has "cairn init" "message says how to create one"

echo "correct horse battery staple" >"$T/pwfile"
env -u CAIRN_PASSWORD "$CAIRN" snapshots -r "$R" --password-file "$T/pwfile" >/dev/null 2>"$T/last.err" </dev/null &&
	ok "--password-file opens" || not_ok "--password-file opens"
CAIRN_PASSWORD_FILE=$T/pwfile env -u CAIRN_PASSWORD "$CAIRN" snapshots -r "$R" >/dev/null 2>&1 </dev/null &&
	ok "CAIRN_PASSWORD_FILE opens" || not_ok "CAIRN_PASSWORD_FILE opens"
env -u CAIRN_PASSWORD "$CAIRN" snapshots -r "$R" --password-command "cat $T/pwfile" >/dev/null 2>&1 </dev/null &&
	ok "--password-command opens" || not_ok "--password-command opens"
env -u CAIRN_PASSWORD "$CAIRN" snapshots -r "$R" --password-command "false" >/dev/null 2>"$T/last.err" </dev/null
[ $? -eq 1 ] && grep -q "password command failed" "$T/last.err" && ok "failing password command is an error" ||
	not_ok "failing password command is an error"
env -u CAIRN_PASSWORD "$CAIRN" snapshots -r "$R" >/dev/null 2>"$T/last.err" </dev/null
[ $? -eq 1 ] && grep -q "no password given" "$T/last.err" && ok "no password source is an error" ||
	not_ok "no password source is an error"
CAIRN_REPO=$R check_exit 0 "CAIRN_REPO names the repository" "$CAIRN" snapshots
check_exit 1 "init with bad chunker sizes" "$CAIRN" init -r "$T/r2" --chunker-avg 5000
err_has "power of two" "bad average says why"
check "no repository left by a refused init" test ! -e "$T/r2/config"
check_exit 0 "init with custom parameters" "$CAIRN" init -r "$T/r3" --chunker-min 4K --chunker-avg 16K --chunker-max 128K --compression 5 --pack-size 4M
check "custom parameters are recorded" grep -q '^chunker_avg=16384$' "$T/r3/config"
done_testing

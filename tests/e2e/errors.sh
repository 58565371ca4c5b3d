#!/usr/bin/env bash
# Bad arguments and bad input: one clear line, a non-zero exit, nothing lost.
. "$(dirname "$0")/lib.sh"

R=$T/repo
"$CAIRN" init -q -r "$R"
printf 'hello\n' >"$T/in"
"$CAIRN" backup -q -r "$R" --stdin --stdin-name in <"$T/in"

check_exit 1 "unknown command" "$CAIRN" frobnicate
err_has "unknown command 'frobnicate'" "unknown command named"
check_exit 1 "no command" "$CAIRN"
check_exit 1 "unknown option" "$CAIRN" snapshots -r "$R" --bogus
err_has "cairn snapshots --help" "unknown option points to help"
check_exit 1 "backup without a source" "$CAIRN" backup -r "$R"
err_has "--stdin" "backup without a source says what to give"
check_exit 1 "backup --stdin and --stdin-from-command" "$CAIRN" backup -r "$R" --stdin --stdin-from-command -- true
check_exit 1 "bad --stdin-name" "$CAIRN" backup -r "$R" --stdin --stdin-name ../x
err_has "not a valid file name" "bad name explained"
check_exit 1 "bad --time" "$CAIRN" backup -r "$R" --stdin --time yesterday-ish
err_has "cannot parse time" "bad time explained"
check_exit 1 "dump without arguments" "$CAIRN" dump -r "$R"
check_exit 1 "dump of a missing snapshot" "$CAIRN" dump -r "$R" deadbeef in
err_has "no snapshot deadbeef" "missing snapshot named"
err_lines_max 1 "missing snapshot is one error line"
check_exit 1 "dump of a missing path" "$CAIRN" dump -r "$R" latest nothere
err_has "nothere is not in the snapshot" "missing path named"
check_exit 1 "cat of an unknown type" "$CAIRN" cat -r "$R" gizmo 12
check_exit 1 "cat snapshot of a missing id" "$CAIRN" cat -r "$R" snapshot ffff
check_exit 1 "repair of an unknown thing" "$CAIRN" repair -r "$R" everything
check_exit 1 "no repository given" env -u CAIRN_REPO "$CAIRN" snapshots
err_has "-r LOCATION" "missing -r explained"
check_exit 1 "unsupported location scheme" "$CAIRN" snapshots -r "ftp://127.0.0.1/b"
err_has "unsupported repository location" "unsupported scheme explained"
check_exit 0 "cat config" "$CAIRN" cat -r "$R" config
check "cat config prints the config" grep -q '^version=1$' "$T/last.out"
id=$(ls "$R/snapshots" | head -1)
check_exit 0 "cat snapshot by prefix" "$CAIRN" cat -r "$R" snapshot "${id:0:8}"
check "cat snapshot prints JSON" grep -q '"tree"' "$T/last.out"
tree=$(sed -n 's/.*"tree":"\([0-9a-f]*\)".*/\1/p' "$T/last.out")
check_exit 0 "cat tree" "$CAIRN" cat -r "$R" tree "$tree"
check "cat tree lists the file" grep -q '"name":"in"' "$T/last.out"
idx=$(ls "$R/index" | head -1)
check_exit 0 "cat index" "$CAIRN" cat -r "$R" index "$idx"
pack=$(find "$R/data" -type f | head -1)
check_exit 0 "cat pack" "$CAIRN" cat -r "$R" pack "$(basename "$pack")"
check "cat pack lists blobs" grep -q '"raw_length"' "$T/last.out"
blob=$(sed -n 's/.*"content":\[{"id":"\([0-9a-f]*\)".*/\1/p' <("$CAIRN" cat -r "$R" tree "$tree"))
check_exit 0 "cat blob" "$CAIRN" cat -r "$R" blob "$blob"
check "cat blob prints the plaintext" cmp -s "$T/last.out" "$T/in"
check_exit 0 "version" "$CAIRN" version
check "repository still dumps after all that" sh -c "'$CAIRN' dump -r '$R' latest in | cmp -s - '$T/in'"
done_testing

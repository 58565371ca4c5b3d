#!/usr/bin/env bash
# s3.sh - the S3 backend against real S3 servers on 127.0.0.1.
#
# Starts two servers from npm: s3rver 3.7.1 (under node
# --openssl-legacy-provider, without which its continuation tokens fail)
# and @20minutes/s3rver 5.0.0, which verifies SigV4 signatures, so a client
# that signs wrongly fails here. Then:
#   - the backend's own tests (tests/unit/s3_test) against each server;
#   - the core end-to-end flow with the same commands and assertions
#     against a local folder and against each server: init (and
#     --create-bucket), stream and file-tree backups, dump and restore
#     byte for byte, a second backup adding almost nothing, snapshots,
#     wrong password (12), missing repository or bucket (10), index
#     files lost and `repair index`, lists over several pages;
#   - credentials (a wrong secret fails with SignatureDoesNotMatch and is
#     never printed; the shared credentials file with AWS_PROFILE), -o,
#     virtual-hosted requests (-o s3.bucket-lookup=dns);
#   - faults, through tests/e2e/s3proxy.py in front of the verifying
#     server: 503s, 500s, requests and answers cut mid-body, slow and
#     stalled answers: backups and restores complete byte for byte; with
#     uploads failing for good, the backup fails cleanly, makes no
#     snapshot, and later backups and dumps work.
#
# The npm packages are looked for in $CAIRN_TEST_NPM_DIR (tests/run.sh
# sets it) or ~/.cache/cairn-test-npm, and installed there with npm when
# missing. Without node, npm or python3 the test is skipped and says why.
real_home=${HOME:-/root}
. "$(dirname "$0")/lib.sh"

npm_dir=${CAIRN_TEST_NPM_DIR:-$real_home/.cache/cairn-test-npm}
S3RVER3=$npm_dir/node_modules/s3rver/bin/s3rver.js
S3RVER5=$npm_dir/node_modules/@20minutes/s3rver/lib/cli.js
UNIT=$(dirname "$CAIRN")/tests/unit/s3_test

skip_all() {
	skip "$1"
	done_testing
	exit 0
}

command -v node >/dev/null 2>&1 || skip_all "node is not installed (Debian: apt-get install nodejs npm)"
command -v python3 >/dev/null 2>&1 || skip_all "python3 is not installed (needed for the fault proxy)"
if [ ! -f "$S3RVER3" ] || [ ! -f "$S3RVER5" ]; then
	if command -v npm >/dev/null 2>&1; then
		mkdir -p "$npm_dir"
		(cd "$npm_dir" && HOME=$real_home timeout 600 npm install --no-audit --no-fund \
			--loglevel=error s3rver@3.7.1 @20minutes/s3rver@5.0.0) >"$T/npm.log" 2>&1
	fi
	[ -f "$S3RVER3" ] && [ -f "$S3RVER5" ] ||
		skip_all "npm packages s3rver@3.7.1 and @20minutes/s3rver@5.0.0 are not in $npm_dir and npm could not install them"
fi

pids=()
cleanup() {
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_port PORT: up to 15 s for a listener on 127.0.0.1:PORT.
wait_port() {
	local i
	for i in $(seq 1 150); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

P3=$(free_port)
# --service-endpoint localhost: BUCKET.s3.localhost is a virtual-hosted bucket
node --openssl-legacy-provider "$S3RVER3" -d "$T/srv3" -a 127.0.0.1 -p "$P3" --silent \
	--service-endpoint localhost >"$T/srv3.log" 2>&1 &
pids+=($!)
P5=$(free_port)
node --openssl-legacy-provider -e \
	'require(process.argv[1]).parseAsync(["node", "s3rver"].concat(process.argv.slice(2)))' \
	"$S3RVER5" -d "$T/srv5" -a 127.0.0.1 -p "$P5" --silent >"$T/srv5.log" 2>&1 &
pids+=($!)
wait_port "$P3" || skip_all "s3rver 3.7.1 did not start: $(head -c 300 "$T/srv3.log")"
wait_port "$P5" || skip_all "@20minutes/s3rver 5.0.0 did not start: $(head -c 300 "$T/srv5.log")"
ok "s3rver 3.7.1 on 127.0.0.1:$P3 and @20minutes/s3rver 5.0.0 on 127.0.0.1:$P5"

export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_SHARED_CREDENTIALS_FILE AWS_REGION AWS_DEFAULT_REGION
unset CAIRN_TEST_FAULTS CAIRN_TEST_S3_MAX_KEYS

# ---------------------------------------------------------------------
# The backend's own tests against each server.
for srv in "3 $P3" "5 $P5"; do
	set -- $srv
	if [ -x "$UNIT" ]; then
		if CAIRN_TEST_S3_LOCATION="s3:http://127.0.0.1:$2/unit$1/pre/fix" "$UNIT" >"$T/unit$1.out" 2>"$T/unit$1.err"; then
			ok "s3_test against s3rver $1: $(grep -c '^ok' "$T/unit$1.out") checks pass"
		else
			not_ok "s3_test against s3rver $1"
			grep -A3 '^not ok' "$T/unit$1.out" | sed 's/^/# /' | head -20
		fi
	else
		skip "tests/unit/s3_test is not built (make check builds it)"
	fi
done

# ---------------------------------------------------------------------
# Test data.
gen_random 11 $((12 * 1024 * 1024)) "$T/stream"
mkdir -p "$T/tree/sub/deeper" "$T/tree/empty"
gen_random 12 300000 "$T/tree/a.bin"
printf 'hello\n' >"$T/tree/sub/hello.txt"
yes 'a line of text that compresses' | head -c 200000 >"$T/tree/sub/deeper/text"
: >"$T/tree/zero"
ln -s sub/hello.txt "$T/tree/link"
chmod 640 "$T/tree/sub/hello.txt"

# cairn check, when this build has it.
have_check=0
"$CAIRN" check --help >/dev/null 2>&1 && have_check=1
check_repo() {
	local desc=$1
	shift
	if [ "$have_check" = 1 ]; then
		check_exit 0 "$desc" "$CAIRN" check "$@"
	else
		skip "$desc: this cairn has no check command"
	fi
}

snap_count() {
	local r=$1
	shift
	"$CAIRN" snapshots -r "$r" "$@" --json 2>/dev/null |
		python3 -c 'import json, sys; print(len(json.load(sys.stdin)))' 2>/dev/null || echo error
}

# s3_keys PORT BUCKET PREFIX: the keys under PREFIX (one per line), by a
# ListObjectsV2 of curl's own (not cairn's) SigV4.
printf 'user = "S3RVER:S3RVER"\n' >"$T/curlrc"
s3_curl() {
	curl -s -K "$T/curlrc" --aws-sigv4 "aws:amz:us-east-1:s3" \
		-H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" "$@"
}
s3_keys() {
	s3_curl "http://127.0.0.1:$1/$2?list-type=2&prefix=$(printf %s "$3" | sed 's|/|%2F|g')" |
		grep -o '<Key>[^<]*</Key>' | sed 's|</*Key>||g'
}

# rm_index KIND LOCATION: deletes the repository's index files.
rm_index() {
	case $1 in
	local) rm -f "$2"/index/* ;;
	*)
		local rest=${2#s3:http://127.0.0.1:} port bucket key
		port=${rest%%/*}
		rest=${rest#*/}
		bucket=${rest%%/*}
		for key in $(s3_keys "$port" "$bucket" "${rest#*/}/index/"); do
			s3_curl -X DELETE "http://127.0.0.1:$port/$bucket/$key" >/dev/null
		done
		;;
	esac
}

# count_objects KIND LOCATION FOLDER
count_objects() {
	case $1 in
	local) find "$2/$3" -type f | wc -l ;;
	*)
		local rest=${2#s3:http://127.0.0.1:} port bucket
		port=${rest%%/*}
		rest=${rest#*/}
		bucket=${rest%%/*}
		s3_keys "$port" "$bucket" "${rest#*/}/$3/" | wc -l
		;;
	esac
}

# core KIND LOCATION MISSING_LOCATION: the same commands and assertions on
# every kind of storage.
core() {
	local kind=$1 R=$2 missing=$3 id n
	if [ "$kind" != local ]; then
		check_exit 1 "$kind: init without --create-bucket on a missing bucket" "$CAIRN" init -r "$R" --pack-size 1M
		err_has "no bucket .* --create-bucket" "$kind: says the bucket is missing and how to create it"
	fi
	check_exit 0 "$kind: init --create-bucket" "$CAIRN" init -r "$R" --create-bucket --pack-size 1M
	check_exit 1 "$kind: init refuses an existing repository" "$CAIRN" init -r "$R" --create-bucket
	err_has "already exists" "$kind: says the repository exists"

	check_exit 0 "$kind: backup of a 12 MiB stream" "$CAIRN" backup -r "$R" --stdin --stdin-name stream <"$T/stream"
	id=$(snap_id_of "$T/last.out")
	check "$kind: backup printed the snapshot id" test -n "$id"
	check_exit 0 "$kind: dump" "$CAIRN" dump -r "$R" "$id" stream
	check "$kind: dump equals the stream byte for byte" cmp -s "$T/last.out" "$T/stream"
	n=$(count_objects "$kind" "$R" data)
	check "$kind: the stream went into several packs ($n)" test "$n" -ge 8

	check_exit 0 "$kind: second backup of the same stream" "$CAIRN" backup -r "$R" --stdin --stdin-name stream <"$T/stream"
	added=$(sed -n 's/^bytes added: //p' "$T/last.out")
	check "$kind: second backup adds almost nothing ($added bytes)" test "${added:-999999999}" -lt 100000

	check_exit 0 "$kind: backup of a file tree" "$CAIRN" backup -r "$R" "$T/tree"
	rm -rf "$T/out-$kind"
	check_exit 0 "$kind: restore of the file tree" "$CAIRN" restore -r "$R" latest --target "$T/out-$kind"
	check "$kind: restored tree equals the original" diff -r --no-dereference "$T/tree" "$T/out-$kind$T/tree"
	check "$kind: restored mode kept" test "$(stat -c %a "$T/out-$kind$T/tree/sub/hello.txt")" = 640

	check "$kind: snapshots lists 3" test "$(snap_count "$R")" = 3
	check_repo "$kind: check passes" -r "$R"
	check "$kind: snapshots over pages of 2 keys lists 3" \
		test "$(CAIRN_TEST_S3_MAX_KEYS=2 snap_count "$R")" = 3
	CAIRN_PASSWORD=wrong check_exit 12 "$kind: wrong password exits 12" "$CAIRN" snapshots -r "$R"
	check_exit 10 "$kind: missing repository exits 10" "$CAIRN" snapshots -r "$missing"

	# the index is a cache of the index files, which repair rebuilds from packs
	rm_index "$kind" "$R"
	rm -rf "$CAIRN_CACHE_DIR"
	check "$kind: index files deleted" test "$(count_objects "$kind" "$R" index)" -eq 0
	check_exit 1 "$kind: dump without index files fails" "$CAIRN" dump -r "$R" "$id" stream
	err_has "repair index" "$kind: the error suggests repair index"
	n=$(count_objects "$kind" "$R" data)
	CAIRN_TEST_S3_MAX_KEYS=3 check_exit 0 "$kind: repair index (listing 3 keys a page)" "$CAIRN" repair -r "$R" index
	check "$kind: repair found all $n packs" grep -q "indexed .* blobs in $n packs" "$T/last.out"
	check_exit 0 "$kind: dump after repair" "$CAIRN" dump -r "$R" "$id" stream
	check "$kind: dump after repair equals" cmp -s "$T/last.out" "$T/stream"
	check_exit 0 "$kind: backup after repair" "$CAIRN" backup -r "$R" --stdin --stdin-name stream <"$T/stream"
	added=$(sed -n 's/^bytes added: //p' "$T/last.out")
	check "$kind: nothing stored again after repair ($added bytes)" test "${added:-999999999}" -lt 100000
	check_repo "$kind: check --read-data passes" -r "$R" --read-data
}

core local "$T/repo" "$T/nowhere"
core s3rver3 "s3:http://127.0.0.1:$P3/core3/repo/x" "s3:http://127.0.0.1:$P3/nobucket3/repo"
core s3rver5 "s3:http://127.0.0.1:$P5/core5/repo" "s3:http://127.0.0.1:$P5/nobucket5/repo"

# ---------------------------------------------------------------------
# Credentials and options (against the verifying server).
R5="s3:http://127.0.0.1:$P5/core5/repo"
AWS_SECRET_ACCESS_KEY=wrong-secret-0a9f7 check_exit 1 "wrong secret key fails" "$CAIRN" snapshots -r "$R5"
err_has "SignatureDoesNotMatch" "the server's SignatureDoesNotMatch is reported"
err_has "check AWS_SECRET_ACCESS_KEY" "the error says what to check"
err_lines_max 1 "one error line for a wrong secret"
AWS_SECRET_ACCESS_KEY=wrong-secret-0a9f7 "$CAIRN" snapshots -r "$R5" -v -v >/dev/null 2>"$T/debug.err"
if grep -q "wrong-secret-0a9f7" "$T/last.err" "$T/debug.err"; then
	not_ok "the secret key is never printed (even with -v -v)"
else
	ok "the secret key is never printed (even with -v -v)"
fi
AWS_ACCESS_KEY_ID=NOBODY check_exit 1 "unknown access key fails" "$CAIRN" snapshots -r "$R5"
err_has "InvalidAccessKeyId" "InvalidAccessKeyId is reported"
printf '[default]\naws_access_key_id = x\n\n[backup]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n' >"$T/credentials"
env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY AWS_SHARED_CREDENTIALS_FILE="$T/credentials" AWS_PROFILE=backup \
	"$CAIRN" snapshots -r "$R5" >"$T/last.out" 2>"$T/last.err" &&
	ok "credentials from the shared credentials file with AWS_PROFILE" ||
	not_ok "credentials from the shared credentials file with AWS_PROFILE"
mkdir -p "$HOME/.aws"
cp "$T/credentials" "$HOME/.aws/credentials"
env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY AWS_PROFILE=backup "$CAIRN" snapshots -r "$R5" \
	>/dev/null 2>"$T/last.err" && ok "credentials from ~/.aws/credentials" ||
	not_ok "credentials from ~/.aws/credentials"
env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY AWS_SHARED_CREDENTIALS_FILE="$T/none" \
	"$CAIRN" snapshots -r "$R5" >/dev/null 2>"$T/last.err"
[ $? -eq 1 ] && grep -q "no S3 credentials" "$T/last.err" && ok "no credentials: a clear error" ||
	not_ok "no credentials: a clear error"
check_exit 0 "-o s3.connections=1 -o s3.region=us-east-1 -o s3.timeout=30" \
	"$CAIRN" snapshots -r "$R5" -o s3.connections=1 --option s3.region=us-east-1 -o s3.timeout=30
check_exit 1 "a bad -o value is refused" "$CAIRN" snapshots -r "$R5" -o s3.connections=0
err_has "s3.connections must be" "the bad value is explained"
check_exit 1 "an unknown -o key is refused" "$CAIRN" snapshots -r "$R5" -o s3.colour=blue
err_has "unknown option 's3.colour'" "the unknown key is named"
check_exit 0 "s3 options on a local repository only warn" "$CAIRN" snapshots -r "$T/repo" -o s3.region=x
err_has "ignored for the local repository" "the warning says they are ignored"
check_exit 1 "an unparseable s3 location" "$CAIRN" snapshots -r "s3:bucket/prefix"
err_has "s3:https://HOST" "the error shows the location forms"
check_exit 0 "-o s3.storage-class=STANDARD_IA backup" "$CAIRN" backup -r "$R5" -o s3.storage-class=STANDARD_IA --stdin --stdin-name sc <"$T/tree/a.bin"

# The spill file: a dump of the last of five versions of a 24 MiB stream,
# each changed in 24 places, needs the packs of every backup all through
# the file. With a 2 MiB memory cache, packs leave memory and are needed
# again: without a spill file they are loaded whole again, with one (the
# default) each is loaded once and read back from the file.
RS="s3:http://127.0.0.1:$P5/spill/repo"
gen_random 40 $((24 << 20)) "$T/sv0"
gen_random 41 $((1 << 20)) "$T/spatch"
for k in 1 2 3 4; do
	cp "$T/sv$((k - 1))" "$T/sv$k"
	for j in $(seq 0 23); do
		dd if="$T/spatch" of="$T/sv$k" bs=16384 skip=$(((k * 24 + j) % 64)) \
			seek=$((j * 64 + k * 3)) count=1 conv=notrunc status=none
	done
done
check_exit 0 "spill: init with 1 MiB packs" "$CAIRN" init -r "$RS" --create-bucket --pack-size 1M
for k in 0 1 2 3 4; do
	"$CAIRN" backup -q -r "$RS" --stdin --stdin-name v <"$T/sv$k" >/dev/null 2>&1 ||
		not_ok "spill: backup of version $k"
done
whole_loads_max() {	# the most whole GETs of one pack in a -vv log
	grep 'GET .*/data/.*HTTP 200' "$1" | awk '{print $5}' | sort | uniq -c |
		sort -rn | awk 'NR == 1 {print $1} END {if (NR == 0) print 0}'
}
check_exit 0 "spill: dump with -o s3.cache-mb=2 -o s3.spill-mb=0" \
	"$CAIRN" dump -vv -r "$RS" -o s3.cache-mb=2 -o s3.spill-mb=0 latest v
check "spill: without the spill file the dump still equals" cmp -s "$T/last.out" "$T/sv4"
nospill=$(whole_loads_max "$T/last.err")
check "spill: without it a pack is loaded whole again (up to $nospill times)" test "$nospill" -gt 1
check_exit 0 "spill: dump with -o s3.cache-mb=2 (spill file on)" \
	"$CAIRN" dump -vv -r "$RS" -o s3.cache-mb=2 latest v
check "spill: the dump equals" cmp -s "$T/last.out" "$T/sv4"
err_has "spill file" "spill: packs went to the spill file"
spill=$(whole_loads_max "$T/last.err")
check "spill: every pack is loaded whole at most once ($spill)" test "$spill" -le 1
heads=$(grep -c 's3: HEAD [^ ]*/data/' "$T/last.err")
check "spill: the read-ahead knows each pack's size from the index: no HEAD of a pack ($heads)" \
	test "$heads" -eq 0
check_exit 1 "spill: a bad -o s3.cache-mb is refused" "$CAIRN" snapshots -r "$RS" -o s3.cache-mb=0
err_has "s3.cache-mb must be" "spill: the bad value is explained"

# Virtual-hosted requests (BUCKET.s3.localhost, which curl resolves to
# 127.0.0.1), against s3rver 3.7.1 only: @20minutes/s3rver 5.0.0 puts the
# bucket into the canonical URI of virtual-hosted requests, which AWS
# does not, so it refuses correctly signed ones.
RV="s3:http://s3.localhost:$P3/vhosted/repo"
check_exit 0 "dns: init --create-bucket -o s3.bucket-lookup=dns" "$CAIRN" init -r "$RV" -o s3.bucket-lookup=dns --create-bucket
check_exit 0 "dns: backup" "$CAIRN" backup -r "$RV" -o s3.bucket-lookup=dns --stdin --stdin-name a <"$T/tree/a.bin"
check_exit 0 "dns: dump" "$CAIRN" dump -r "$RV" -o s3.bucket-lookup=dns latest a
check "dns: dump equals" cmp -s "$T/last.out" "$T/tree/a.bin"
check "dns: the objects are in bucket vhosted" test "$(s3_keys "$P3" vhosted repo/snapshots/ | wc -l)" -eq 1

# ---------------------------------------------------------------------
# copy between a local and an S3 repository and back, with and without
# shared chunker parameters (the local repository of `core local`).
export CAIRN_FROM_PASSWORD="$CAIRN_PASSWORD"
RC="s3:http://127.0.0.1:$P5/copies/shared"
check_exit 0 "copy: init on S3 with the local repository's chunker parameters" \
	"$CAIRN" init -r "$RC" --create-bucket --copy-chunker-params --from-repo "$T/repo"
nlocal=$(snap_count "$T/repo")
check_exit 0 "copy: local -> S3 (shared parameters)" "$CAIRN" copy -r "$RC" --from-repo "$T/repo" --json
check "copy: all $nlocal local snapshots copied to S3" grep -q "\"snapshots_copied\":$nlocal," "$T/last.out"
echo "# copy local -> S3 (shared): $(cat "$T/last.out")"
check_exit 0 "copy: dump from the S3 copy" "$CAIRN" dump -r "$RC" --path /stream latest stream
check "copy: the S3 copy equals the stream" cmp -s "$T/last.out" "$T/stream"
check_exit 0 "copy: running it again" "$CAIRN" copy -r "$RC" --from-repo "$T/repo" --json
check "copy: a second run copies nothing" grep -q '"snapshots_copied":0' "$T/last.out"
gen_random 13 $((2 * 1024 * 1024)) "$T/more"
cat "$T/stream" "$T/more" >"$T/stream2"
"$CAIRN" backup -q -r "$RC" --stdin --stdin-name stream2 --tag s3new <"$T/stream2"
check_exit 0 "copy: S3 -> local" "$CAIRN" copy -r "$T/repo" --from-repo "$RC" --tag s3new --json
added=$(sed -n 's/.*"bytes_added":\([0-9]*\).*/\1/p' "$T/last.out")
echo "# copy S3 -> local (shared): $(cat "$T/last.out")"
check "copy: back to local transfers only the new 2 MiB ($added bytes added)" test "${added:-0}" -lt $((3 * 1024 * 1024))
check_exit 0 "copy: dump of the copied-back stream" "$CAIRN" dump -r "$T/repo" --tag s3new latest stream2
check "copy: copied-back stream equals" cmp -s "$T/last.out" "$T/stream2"
RI="s3:http://127.0.0.1:$P5/copies/independent"
check_exit 0 "copy: init an independent S3 repository" "$CAIRN" init -r "$RI" --create-bucket
check_exit 0 "copy: local -> independent S3 repository" "$CAIRN" copy -r "$RI" --from-repo "$T/repo" --json
echo "# copy local -> S3 (independent): $(cat "$T/last.out")"
check "copy: ids are rewritten for an independent repository" grep -q '"same_chunker_params":false' "$T/last.out"
check_exit 0 "copy: restore from the independent copy" "$CAIRN" restore -r "$RI" --path "$T/tree" latest --target "$T/out-copy"
check "copy: the independent copy restores the tree" diff -r --no-dereference "$T/tree" "$T/out-copy$T/tree"
unset CAIRN_FROM_PASSWORD

# ---------------------------------------------------------------------
# Faults, through the proxy in front of the verifying server.
echo pass >"$T/proxy.mode"
: >"$T/proxy.log"
python3 "$CAIRN_SRCDIR/tests/e2e/s3proxy.py" --port-file "$T/proxy.port" --upstream "$P5" \
	--mode-file "$T/proxy.mode" --log "$T/proxy.log" --lifetime 900 >"$T/proxy.out" 2>&1 &
pids+=($!)
for i in $(seq 1 100); do
	[ -s "$T/proxy.port" ] && break
	sleep 0.1
done
PP=$(cat "$T/proxy.port" 2>/dev/null)
if [ -z "$PP" ] || ! wait_port "$PP"; then
	not_ok "the fault proxy started"
	done_testing
	exit 1
fi
ok "fault proxy on 127.0.0.1:$PP"
RF="s3:http://127.0.0.1:$PP/faults/repo"
RD="s3:http://127.0.0.1:$P5/faults/repo"	# the same repository, without the proxy
check_exit 0 "init through the proxy" "$CAIRN" init -r "$RF" --create-bucket --pack-size 1M
printf 'not empty\n' >"$T/badhash"
code=$(s3_curl -o /dev/null -w '%{http_code}' -T "$T/badhash" "http://127.0.0.1:$PP/faults/badhash")
check "the proxy refuses a body that does not match its x-amz-content-sha256 ($code)" test "$code" = 400
: >"$T/proxy.log"

echo flaky >"$T/proxy.mode"
gen_random 21 $((6 * 1024 * 1024)) "$T/f1"
check_exit 0 "flaky: backup of a 6 MiB stream" "$CAIRN" backup -r "$RF" -o s3.timeout=2 --stdin --stdin-name f1 <"$T/f1"
check_exit 0 "flaky: backup of a file tree" "$CAIRN" backup -r "$RF" -o s3.timeout=2 "$T/tree"
check_exit 0 "flaky: dump" "$CAIRN" dump -r "$RF" -o s3.timeout=2 --path /f1 latest f1
check "flaky: dump equals byte for byte" cmp -s "$T/last.out" "$T/f1"
rm -rf "$T/out-f"
check_exit 0 "flaky: restore" "$CAIRN" restore -r "$RF" -o s3.timeout=2 --path "$T/tree" latest --target "$T/out-f"
check "flaky: restored tree equals" diff -r --no-dereference "$T/tree" "$T/out-f$T/tree"
check_repo "flaky: check --read-data through the proxy" -r "$RF" -o s3.timeout=2 --read-data
rm -rf "$CAIRN_CACHE_DIR"
check "flaky: snapshots (cache rebuilt through the proxy) lists 2" \
	test "$(snap_count "$RF" -o s3.timeout=2)" = 2
nf=$(wc -l <"$T/proxy.log")
check "faults were injected ($nf)" test "$nf" -ge 5
check "5xx answers were injected" grep -qE '^(503|500) ' "$T/proxy.log"
check "connections were cut mid-body" grep -qE '^cut-(request|response) ' "$T/proxy.log"
check "every upload's x-amz-content-sha256 matched its body" sh -c "! grep -q '^sha-mismatch ' '$T/proxy.log'"
sed 's/ .*//' "$T/proxy.log" | sort | uniq -c | sed 's/^/# faults: /'

echo dead-puts >"$T/proxy.mode"
gen_random 22 $((3 * 1024 * 1024)) "$T/f2"
start=$(date +%s)
check_exit 1 "uploads failing for good: backup fails" "$CAIRN" backup -r "$RF" --stdin --stdin-name f2 <"$T/f2"
err_has "cannot store data/.* HTTP 503 SlowDown.*gave up after 6 tries" "the error names the pack, the last status and the tries"
err_has "no snapshot" "says no snapshot was made"
check "it gave up in bounded time ($(($(date +%s) - start)) s)" test $(($(date +%s) - start)) -lt 60
echo pass >"$T/proxy.mode"
check "no snapshot from the failed backup" test "$(snap_count "$RD")" = 2
check_repo "check passes after the failed backup" -r "$RD"
check_exit 0 "a later backup works" "$CAIRN" backup -r "$RF" --stdin --stdin-name f2 <"$T/f2"
check_exit 0 "and its dump" "$CAIRN" dump -r "$RD" --path /f2 latest f2
check "equals byte for byte" cmp -s "$T/last.out" "$T/f2"
check_repo "the interrupted backup left a repository that check passes" -r "$RD" --read-data
check_exit 0 "repair index after the failure" "$CAIRN" repair -r "$RD" index
check_exit 0 "dump of the first stream after all that" "$CAIRN" dump -r "$RD" --path /f1 latest f1
check "first stream still equals" cmp -s "$T/last.out" "$T/f1"

echo dead >"$T/proxy.mode"
start=$(date +%s)
check_exit 1 "a server that only answers 503: snapshots fails" "$CAIRN" snapshots -r "$RF"
err_has "cannot read config .*HTTP 503.*gave up after 6 tries" "names the object, the status and the tries"
err_lines_max 1 "one error line"
check "in bounded time ($(($(date +%s) - start)) s)" test $(($(date +%s) - start)) -lt 30
echo pass >"$T/proxy.mode"
done_testing

#!/usr/bin/env bash
# tests/run.sh - set up a fresh Debian 12 machine and run every test.
#
#   1. installs the build and test packages with apt-get when missing;
#   2. builds out of tree and runs `make check` (unit tests, fuzz-corpus
#      replays, end-to-end scripts against the real binary);
#   3. builds again with AddressSanitizer + UBSan and runs `make check`;
#   4. builds the libFuzzer targets with clang and runs each briefly;
#   5. runs `make distcheck` (its check runs the unit tests and replays);
#   6. prints one line: "N passed, N failed, N skipped".
#
# Environment: CAIRN_FUZZ_SECONDS (default 10) per fuzz target;
# CAIRN_SKIP_DISTCHECK=1 and CAIRN_SKIP_SANITIZERS=1 to shorten a local run.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
jobs=$(nproc 2>/dev/null || echo 2)

# Needed to build and run the core tests: a failure to install stops here.
pkgs="autoconf automake libtool pkg-config make gcc clang libclang-rt-14-dev
libzstd-dev libsodium-dev libsqlite3-dev libcurl4-openssl-dev libarchive-dev libssl-dev
libexpat1-dev libfuse3-dev fuse3 openssl python3 ca-certificates"
# Peers of the optional tests (each test skips, saying why, without them).
optional="mandoc postgresql redis-server redis-tools libarchive-tools attr prometheus systemd"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
missing_of() {
	local out="" p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || out="$out $p"
	done
	echo "$out"
}
missing=$(missing_of $pkgs)
missing_opt=$(missing_of $optional)
# node and npm may come from elsewhere than Debian (e.g. NodeSource): use any
command -v node >/dev/null || missing_opt="$missing_opt nodejs"
command -v npm >/dev/null || missing_opt="$missing_opt npm"
if [ -n "$missing$missing_opt" ]; then
	$SUDO apt-get update -qq || true
fi
if [ -n "$missing" ]; then
	echo "== installing:$missing"
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null ||
		{ echo "cannot install:$missing"; echo "0 passed, 1 failed"; exit 1; }
fi
for p in $missing_opt; do
	echo "== installing $p (optional)"
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$p" >/dev/null 2>&1 ||
		echo "could not install $p: the tests that need it will be skipped"
done

# The S3 test servers (npm), installed once for both test runs.
export CAIRN_TEST_NPM_DIR=${CAIRN_TEST_NPM_DIR:-$HOME/.cache/cairn-test-npm}
need_npm=""
for m in s3rver @20minutes/s3rver; do
	[ -f "$CAIRN_TEST_NPM_DIR/node_modules/$m/package.json" ] || need_npm=1
done
if [ -n "$need_npm" ] && command -v npm >/dev/null; then
	echo "== npm install (S3 test servers)"
	mkdir -p "$CAIRN_TEST_NPM_DIR" && (cd "$CAIRN_TEST_NPM_DIR" &&
		npm install --no-audit --no-fund --loglevel=error s3rver@3.7.1 @20minutes/s3rver@5.0.0 >/dev/null) ||
		echo "npm install failed: the S3 tests will be skipped"
fi

echo "== autoreconf"
autoreconf -fi >/dev/null 2>&1 || { autoreconf -fi; echo "0 passed, 1 failed"; exit 1; }

status=0
logs=()

# run_check NAME CONFIGURE-ARGS...: out-of-tree build and make check.
run_check() {
	local name=$1
	shift
	local dir="$top/_build-$name"
	rm -rf "$dir"
	mkdir -p "$dir"
	echo "== build ($name)"
	(cd "$dir" && "$top/configure" -q "$@" && make -j"$jobs" >/dev/null) || { status=1; echo "build ($name) failed"; return; }
	echo "== make check ($name)"
	(cd "$dir" && make -j"$jobs" check) || status=1
	logs+=("$dir")
}

run_check plain
if [ "${CAIRN_SKIP_SANITIZERS:-0}" != 1 ]; then
	# leak checking stays on; UBSan aborts on the first finding
	# the 1 GiB mount test file is cut to 256 MiB under the sanitizers (3x slower)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		CAIRN_TEST_MOUNT_BIG=$((256 * 1024 * 1024)) run_check sanitizers --enable-sanitizers
fi

fuzz_pass=0
fuzz_fail=0
echo "== fuzz (${CAIRN_FUZZ_SECONDS:-10} s per target)"
if bash "$top/fuzz/build.sh" --run "${CAIRN_FUZZ_SECONDS:-10}"; then fuzz_pass=1; else fuzz_fail=1; status=1; fi

dist_pass=0
dist_fail=0
if [ "${CAIRN_SKIP_DISTCHECK:-0}" != 1 ]; then
	echo "== make distcheck"
	# The tarball must build and pass the unit tests and corpus replays; the
	# end-to-end scripts already ran twice above.
	unit=$(cd "$top/_build-plain" && make -s print-quick-tests 2>/dev/null)
	if (cd "$top/_build-plain" && make -j"$jobs" distcheck TESTS="$unit" >"$top/_build-plain/distcheck.out" 2>&1); then
		dist_pass=1
	else
		dist_fail=1
		status=1
		tail -30 "$top/_build-plain/distcheck.out"
	fi
fi

# Count results from automake's .trs files (one :test-result: per TAP line).
pass=0
fail=0
skipped=0
for d in "${logs[@]}"; do
	while read -r res; do
		case $res in
		PASS | XFAIL) pass=$((pass + 1)) ;;
		SKIP) skipped=$((skipped + 1)) ;;
		*) fail=$((fail + 1)) ;;
		esac
	done < <(find "$d" -name '*.trs' -exec grep -h '^:test-result:' {} + | awk '{print $2}')
done
pass=$((pass + fuzz_pass + dist_pass))
fail=$((fail + fuzz_fail + dist_fail))
[ "$fail" -gt 0 ] && status=1
echo "$pass passed, $fail failed, $skipped skipped"
exit $status

# lib.sh - shared helpers for the end-to-end tests (TAP output).
#
# Each test script sources this file, calls its checks, and ends with
# `done_testing`. A temporary folder is made per script and removed on exit.
# $CAIRN is the binary under test (set by `make check`).

set -u
: "${CAIRN:=$(cd "$(dirname "$0")/../.." && pwd)/cairn}"
: "${CAIRN_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
export CAIRN CAIRN_SRCDIR

T=$(mktemp -d "${TMPDIR:-/tmp}/cairn-e2e.XXXXXX")
trap 'rm -rf "$T"' EXIT
export CAIRN_CACHE_DIR="$T/cache"
export CAIRN_PASSWORD="correct horse battery staple"
unset CAIRN_REPO CAIRN_PASSWORD_FILE CAIRN_PASSWORD_COMMAND
export HOME="$T/home"
mkdir -p "$HOME"

TAP_N=0
TAP_FAILED=0

ok() {
	TAP_N=$((TAP_N + 1))
	echo "ok $TAP_N - $*"
}

not_ok() {
	TAP_N=$((TAP_N + 1))
	TAP_FAILED=$((TAP_FAILED + 1))
	echo "not ok $TAP_N - $*"
}

skip() {
	TAP_N=$((TAP_N + 1))
	echo "ok $TAP_N # SKIP $*"
}

# check DESCRIPTION COMMAND...: passes when the command succeeds.
check() {
	local desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

# check_exit WANT DESCRIPTION COMMAND...: passes when the exit status is WANT.
# The command's stderr is kept in $T/last.err, stdout in $T/last.out.
check_exit() {
	local want=$1 desc=$2
	shift 2
	"$@" >"$T/last.out" 2>"$T/last.err"
	local got=$?
	if [ "$got" -eq "$want" ]; then
		ok "$desc (exit $got)"
	else
		not_ok "$desc (exit $got, wanted $want)"
		sed 's/^/# stderr: /' "$T/last.err" | head -5
	fi
}

# err_has REGEX DESCRIPTION: the last command's stderr matches.
err_has() {
	if grep -Eq -- "$1" "$T/last.err"; then
		ok "$2"
	else
		not_ok "$2"
		sed 's/^/# stderr: /' "$T/last.err" | head -5
	fi
}

# err_one_line DESCRIPTION: the last command printed exactly one error line.
err_lines_max() {
	local n
	n=$(grep -c 'error:' "$T/last.err")
	if [ "$n" -ge 1 ] && [ "$n" -le "$1" ]; then ok "$2"; else
		not_ok "$2 ($n error lines)"
		sed 's/^/# stderr: /' "$T/last.err" | head -5
	fi
}

# A deterministic pseudo-random file of N bytes (seeded).
gen_random() {
	local seed=$1 size=$2 out=$3
	openssl enc -aes-256-ctr -nosalt -pass "pass:$seed" -pbkdf2 </dev/zero 2>/dev/null |
		head -c "$size" >"$out"
}

# The snapshot id printed by a backup ("snapshot <id> saved").
snap_id_of() {
	sed -n 's/^snapshot \([0-9a-f]\{64\}\) saved$/\1/p' "$1"
}

done_testing() {
	echo "1..$TAP_N"
	[ "$TAP_FAILED" -eq 0 ]
}

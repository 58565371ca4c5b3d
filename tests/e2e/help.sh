#!/usr/bin/env bash
# help.sh - `--help`, the man pages and README.md describe the same thing.
#
# For every command with a man page, each long option printed by
# `cairn CMD --help` must appear in man/cairn-CMD.1 as `Fl -NAME` (and each
# short one as `Fl X`), and each `Fl -NAME` of the man page must be in
# --help. Every command listed by `cairn --help` needs a man page (`version`,
# which has no options, is described in cairn.1 instead), an entry in
# cairn.1's command list and a line in README.md's command table. The man
# pages must also render without warnings.
#
# TAP output. Uses $CAIRN (the binary) and $CAIRN_SRCDIR (the source tree);
# sources tests/e2e/lib.sh when it exists, but needs nothing from it.

# `make check` runs the script with $(SHELL); the checks need bash.
if [ -z "${BASH_VERSION:-}" ]; then
	exec bash "$0" "$@"
fi

here=$(cd "$(dirname "$0")" && pwd)
if [ -f "$here/lib.sh" ]; then
	# shellcheck source=/dev/null
	. "$here/lib.sh"
fi
set -u
: "${CAIRN_SRCDIR:=$(cd "$here/../.." && pwd)}"
: "${CAIRN:=$CAIRN_SRCDIR/cairn}"
MAN=$CAIRN_SRCDIR/man
README=$CAIRN_SRCDIR/README.md

n=0
failed=0
t_ok() {
	n=$((n + 1))
	echo "ok $n - $*"
}
t_fail() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $*"
}
t_skip() {
	n=$((n + 1))
	echo "ok $n # SKIP $*"
}
# t_check DESCRIPTION COMMAND...: ok when the command succeeds.
t_check() {
	local desc=$1
	shift
	if "$@"; then t_ok "$desc"; else t_fail "$desc"; fi
}
finish() {
	echo "1..$n"
	[ "$failed" -eq 0 ]
	exit $?
}

if [ ! -x "$CAIRN" ]; then
	t_fail "the cairn binary exists at $CAIRN (build it first)"
	finish
fi

# Commands: the first word of each line between "Commands:" and the next blank line.
if ! usage=$("$CAIRN" --help 2>&1); then
	t_fail "cairn --help exits with status 0"
	finish
fi
t_ok "cairn --help exits with status 0"
commands=$(printf '%s\n' "$usage" | awk '/^Commands:/ { on = 1; next } on && /^[[:space:]]*$/ { exit } on { print $1 }' | tr '\n' ' ')
commands=${commands% }
if [ -n "$commands" ]; then
	t_ok "cairn --help lists commands: $commands"
else
	t_fail "cairn --help lists commands"
	finish
fi

# Every command: a man page (or, for version, an entry in cairn.1), a line
# in cairn.1's command list and a line in README.md's command table.
paged=""
for cmd in $commands; do
	if [ "$cmd" = version ]; then
		t_check "version is described in cairn.1" grep -q '^\.It Ic version$' "$MAN/cairn.1"
	else
		t_check "$cmd has a man page (man/cairn-$cmd.1)" test -f "$MAN/cairn-$cmd.1"
		[ -f "$MAN/cairn-$cmd.1" ] && paged="$paged $cmd"
	fi
	t_check "$cmd is in cairn.1's command list" grep -q "^\.It Ic $cmd\$" "$MAN/cairn.1"
	if [ -f "$README" ]; then
		t_check "$cmd has a line in README.md's command table" \
			grep -Eq "^\|[[:space:]]*\`cairn $cmd( [^\`]*)?\`" "$README"
	else
		t_fail "$cmd has a line in README.md (README.md is missing)"
	fi
done

# No man page for a command that does not exist.
for page in "$MAN"/cairn-*.1; do
	[ -e "$page" ] || continue
	cmd=${page##*/cairn-}
	cmd=${cmd%.1}
	case " $commands " in
	*" $cmd "*) t_ok "man/cairn-$cmd.1 belongs to a command of cairn --help" ;;
	*) t_fail "man/cairn-$cmd.1 belongs to a command of cairn --help (no command '$cmd')" ;;
	esac
done

# Options: --help against the man page, both ways.
for cmd in $paged; do
	page=$MAN/cairn-$cmd.1
	if ! help=$("$CAIRN" "$cmd" --help 2>&1); then
		t_fail "cairn $cmd --help exits with status 0"
		continue
	fi
	t_ok "cairn $cmd --help exits with status 0"
	help_long=$(printf '%s\n' "$help" | grep -oE -- '--[a-z][a-z0-9-]*[a-z0-9]' | sort -u)
	help_short=$(printf '%s\n' "$help" | grep -oE -- '^[[:space:]]+-[a-zA-Z],' | tr -d ' ,-' | sort -u)
	man_long=$(grep -oE 'Fl -[a-z][a-z0-9-]*[a-z0-9]' "$page" | sed 's/^Fl /-/' | sort -u)
	for opt in $help_long; do
		if printf '%s\n' "$man_long" | grep -qxF -- "$opt"; then
			t_ok "$cmd: $opt of --help is in cairn-$cmd.1"
		else
			t_fail "$cmd: $opt of --help is in cairn-$cmd.1 (add '.Fl ${opt#-}')"
		fi
	done
	for opt in $help_short; do
		t_check "$cmd: -$opt of --help is in cairn-$cmd.1" grep -qE "Fl $opt( |\$)" "$page"
	done
	for opt in $man_long; do
		if printf '%s\n' "$help_long" | grep -qxF -- "$opt"; then
			t_ok "$cmd: $opt of cairn-$cmd.1 is in --help"
		else
			t_fail "$cmd: $opt of cairn-$cmd.1 is in --help"
		fi
	done
done

# The pages render without warnings.
pages=$(ls "$MAN"/*.[1-9] 2>/dev/null)
if command -v mandoc >/dev/null 2>&1; then
	for page in $pages; do
		out=$(mandoc -T lint -W warning "$page" 2>&1)
		if [ -z "$out" ]; then
			t_ok "mandoc -T lint: ${page##*/} has no warnings"
		else
			t_fail "mandoc -T lint: ${page##*/} has no warnings"
			printf '%s\n' "$out" | sed 's/^/# /' | head -10
		fi
	done
else
	t_skip "mandoc is not installed: lint of the man pages"
fi
if command -v groff >/dev/null 2>&1; then
	for page in $pages; do
		out=$(groff -mdoc -Tutf8 -ww -z "$page" 2>&1)
		if [ -z "$out" ]; then
			t_ok "groff -mdoc -ww: ${page##*/} has no warnings"
		else
			t_fail "groff -mdoc -ww: ${page##*/} has no warnings"
			printf '%s\n' "$out" | sed 's/^/# /' | head -10
		fi
	done
else
	t_skip "groff is not installed: rendering of the man pages"
fi

finish

#!/usr/bin/env bash
# contrib/demo.sh - from a fresh Debian 12 machine to a working cairn:
#
#   1. installs the build dependencies with apt-get, only those missing;
#   2. builds cairn (autoreconf, configure, make) in _build-demo/;
#   3. in a temporary folder: creates a repository, backs up a generated
#      sample of a few MB twice (the second time slightly changed, to show
#      deduplication), lists the snapshots, restores both and compares them
#      with the originals.
#
# The password and cache location are set for this script only. The
# temporary folder is removed at the end; set CAIRN_DEMO_KEEP=1 to keep it.
# Exits non-zero if anything fails or a restore differs from its original.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

say() { printf '\n== %s\n' "$*"; }
# run COMMAND...: prints the command, then runs it.
run() {
	printf '$ %s\n' "$*"
	"$@"
}

say "checking build dependencies"
pkgs="autoconf automake libtool pkg-config make gcc libzstd-dev libsodium-dev libsqlite3-dev
libcurl4-openssl-dev libarchive-dev libssl-dev libexpat1-dev"
missing=()
for p in $pkgs; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done
if [ ${#missing[@]} -gt 0 ]; then
	say "installing: ${missing[*]}"
	sudo=""
	if [ "$(id -u)" -ne 0 ]; then
		sudo=sudo
	fi
	run $sudo apt-get update -qq
	run $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
else
	echo "all present"
fi

# Built out of the source tree, so that tests/run.sh (which builds in
# _build-*/ folders too) still works afterwards: automake refuses to build
# out of tree once the source folder itself has been configured.
say "building cairn"
run autoreconf -fi
mkdir -p _build-demo
(
	cd _build-demo
	run ../configure -q
	run make -j2 cairn
)
cairn=$top/_build-demo/cairn
run "$cairn" version

work=$(mktemp -d "${TMPDIR:-/tmp}/cairn-demo.XXXXXX")
if [ "${CAIRN_DEMO_KEEP:-0}" = 1 ]; then
	echo "keeping $work"
else
	trap 'rm -rf "$work"' EXIT
fi

# For this demo only: a repository, a password and a cache in the
# temporary folder. A password file or command in the caller's environment
# would take precedence over CAIRN_PASSWORD, so those are cleared.
export CAIRN_REPO=$work/repo
export CAIRN_PASSWORD="demo-$RANDOM-$RANDOM"
export CAIRN_CACHE_DIR=$work/cache
unset CAIRN_PASSWORD_FILE CAIRN_PASSWORD_COMMAND

say "generating a sample: a SQL dump of about 4 MB"
awk 'BEGIN {
	srand(42)
	print "-- demo dump"
	print "CREATE TABLE orders (id integer, customer text, amount numeric, note text);"
	for (i = 1; i <= 40000; i++)
		printf "INSERT INTO orders VALUES (%d, '\''customer-%d'\'', %.2f, '\''%s'\'');\n",
			i, int(rand() * 5000), rand() * 1000, substr("lorem ipsum dolor sit amet consectetur", 1, 10 + int(rand() * 28))
	print "-- dump complete"
}' >"$work/sample.sql"
ls -l "$work/sample.sql"

say "creating a repository in $CAIRN_REPO"
run "$cairn" init

say "backing up the sample through a command (as with pg_dump)"
run "$cairn" backup --stdin-from-command --stdin-name sample.sql --tag demo -- cat "$work/sample.sql"

say "changing a few rows and backing up again through standard input"
sed -e 's/^INSERT INTO orders VALUES (20000, .*/INSERT INTO orders VALUES (20000, '\''changed'\'', 1.00, '\''x'\'');/' \
	-e '$ a INSERT INTO orders VALUES (40001, '\''new'\'', 2.00, '\''y'\'');' \
	"$work/sample.sql" >"$work/sample2.sql"
echo '$ cairn backup --stdin --stdin-name sample.sql --tag demo < sample2.sql'
"$cairn" backup --stdin --stdin-name sample.sql --tag demo <"$work/sample2.sql"
echo "(the second backup added only the chunks around the changes)"

say "listing the snapshots"
run "$cairn" snapshots
first=$("$cairn" snapshots --json | grep -oE '"id":"[0-9a-f]{64}"' | head -1 | cut -d'"' -f4)

say "restoring both and comparing them with the originals"
echo '$ cairn dump latest sample.sql > restored2.sql'
"$cairn" dump latest sample.sql >"$work/restored2.sql"
echo "\$ cairn dump ${first:0:8} sample.sql > restored1.sql"
"$cairn" dump "${first:0:8}" sample.sql >"$work/restored1.sql"
run cmp "$work/sample.sql" "$work/restored1.sql"
run cmp "$work/sample2.sql" "$work/restored2.sql"
du -sh "$work/sample.sql" "$work/sample2.sql" "$CAIRN_REPO" | sed 's|'"$work"'/||'

say "demo passed: both restores are identical to what was backed up"
echo "binary: $cairn; manual: man -l man/cairn.1"

#!/bin/sh
# build.sh - builds the libFuzzer targets, optionally runs them.
#
#   fuzz/build.sh                       build every fuzz/fuzz_*.c into fuzz/out/
#   fuzz/build.sh --run SECONDS         build, then run each target for SECONDS
#   fuzz/build.sh --run 30 pack config  only those targets
#
# Targets are compiled with clang -fsanitize=fuzzer,address,undefined
# against the sources (src/base, src/backend, src/repo, src/model,
# src/input and the archiver), not against the autotools library, so no
# configure is needed. A run works on a copy of fuzz/corpus/<target> in
# fuzz/out/run/<target>/ (new inputs stay there; fuzz/corpus is not
# touched). Crashes are written to fuzz/out/crash-<target>-*; any crash,
# leak or sanitizer report makes the script exit 1 after all targets ran.
#
# Needs clang and its fuzzer runtime (Debian 12: clang libclang-rt-14-dev)
# and the -dev packages of the libraries the sources use (libzstd,
# libsodium, sqlite3, libssl, libcurl, expat, libarchive), as the
# project's setup script (tests/run.sh) installs.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
out="$here/out"
CC=${CC:-clang}
run_seconds=

while [ $# -gt 0 ]; do
	case $1 in
	--run)
		[ $# -ge 2 ] || { echo "build.sh: --run needs a number of seconds" >&2; exit 2; }
		run_seconds=$2
		shift 2
		;;
	-h|--help)
		awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
		exit 0
		;;
	-*)
		echo "build.sh: unknown option $1" >&2
		exit 2
		;;
	*)
		break
		;;
	esac
done
case $run_seconds in
''|*[!0-9]*) [ -z "$run_seconds" ] || { echo "build.sh: --run wants whole seconds" >&2; exit 2; } ;;
esac

command -v "$CC" >/dev/null 2>&1 || {
	echo "build.sh: $CC not found (Debian: apt-get install clang libclang-rt-14-dev)" >&2
	exit 2
}
pkgs="libzstd libsodium sqlite3 libcrypto"
# A backend that talks HTTP needs libcurl; only link it when a source uses it.
if grep -l '<curl/curl.h>' "$top"/src/backend/*.c >/dev/null 2>&1; then
	pkgs="$pkgs libcurl"
fi
# The S3 response parser (src/backend/s3xml.c) uses expat.
if grep -l '<expat.h>' "$top"/src/backend/*.c >/dev/null 2>&1; then
	pkgs="$pkgs expat"
fi
# The archive importer (src/input/tarin.c) uses libarchive.
if grep -l '<archive.h>' "$top"/src/input/*.c >/dev/null 2>&1; then
	pkgs="$pkgs libarchive"
fi
pkg-config --exists $pkgs || {
	echo "build.sh: missing libraries ($pkgs): apt-get install libzstd-dev libsodium-dev libsqlite3-dev libssl-dev libcurl4-openssl-dev libexpat1-dev libarchive-dev" >&2
	exit 2
}
pkg_cflags=$(pkg-config --cflags $pkgs)
pkg_libs=$(pkg-config --libs $pkgs)

# What configure would define (AC_INIT's name and version), for the
# sources that print them.
pkg_name=$(sed -n 's/^AC_INIT(\[\([^]]*\)\], *\[\([^]]*\)\].*/\1/p' "$top/configure.ac")
pkg_version=$(sed -n 's/^AC_INIT(\[\([^]]*\)\], *\[\([^]]*\)\].*/\2/p' "$top/configure.ac")
pkg_name=${pkg_name:-cairn}
pkg_version=${pkg_version:-0}
defs_name="-DPACKAGE_NAME=\"$pkg_name\""
defs_version="-DPACKAGE_VERSION=\"$pkg_version\""
defs_string="-DPACKAGE_STRING=\"$pkg_name $pkg_version\""

san="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
cflags="-std=gnu11 -g -O1 -Wall -Wextra $san -I$top/include $pkg_cflags -pthread"

# The library sources, compiled once with fuzzer coverage but without
# libFuzzer's main.
mkdir -p "$out/obj"
objs=
# src/input (dump checks, archive import) and the archiver it feeds are
# needed by the input targets (fuzz_tar: src/input/tarin.c).
for src in "$top"/src/base/*.c "$top"/src/backend/*.c "$top"/src/repo/*.c "$top"/src/model/*.c \
	"$top"/src/input/*.c "$top"/src/engine/archiver.c; do
	[ -f "$src" ] || continue
	rel=${src#"$top"/src/}
	obj="$out/obj/$(echo "$rel" | tr / _ | sed 's/\.c$/.o/')"
	if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$(find "$top/include" -newer "$obj" -name '*.h' 2>/dev/null | head -n 1)" ]; then
		echo "  CC      src/$rel"
		$CC $cflags "$defs_name" "$defs_version" "$defs_string" -fsanitize=fuzzer-no-link \
			-c "$src" -o "$obj"
	fi
	objs="$objs $obj"
done

# Which targets: all fuzz_*.c, or those named on the command line.
if [ $# -gt 0 ]; then
	targets=$*
else
	targets=
	for f in "$here"/fuzz_*.c; do
		t=$(basename "$f" .c)
		targets="$targets ${t#fuzz_}"
	done
fi

for t in $targets; do
	[ -f "$here/fuzz_$t.c" ] || { echo "build.sh: no fuzz/fuzz_$t.c" >&2; exit 2; }
	echo "  FUZZ    fuzz/out/fuzz_$t"
	$CC $cflags -fsanitize=fuzzer "$here/fuzz_$t.c" $objs $pkg_libs -pthread -o "$out/fuzz_$t"
done

[ -n "$run_seconds" ] || exit 0

failed=
for t in $targets; do
	work="$out/run/$t"
	rm -rf "$work"
	mkdir -p "$work/corpus"
	if [ -d "$here/corpus/$t" ]; then
		cp -p "$here/corpus/$t"/* "$work/corpus/" 2>/dev/null || true
	fi
	echo "== fuzz_$t for ${run_seconds}s (log: fuzz/out/run/$t/log)"
	if "$out/fuzz_$t" -max_total_time="$run_seconds" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$out/crash-$t-" \
		"$work/corpus" >"$work/log" 2>&1; then
		grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units)' "$work/log" | tail -n 2 || true
	else
		echo "!! fuzz_$t failed:"
		grep -E 'ERROR|runtime error|SUMMARY|Test unit written|deadly signal|^==[0-9]+==' "$work/log" | head -n 8 || true
		failed="$failed $t"
	fi
done
if [ -n "$failed" ]; then
	echo "build.sh: crashes in:$failed (inputs in fuzz/out/crash-*)" >&2
	exit 1
fi
echo "build.sh: no crashes"

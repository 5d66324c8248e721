#!/usr/bin/env bash
# tests/fuzz/run.sh SECONDS - build the libFuzzer targets in build-fuzz/ and
# run each for SECONDS (default 60) on a copy of its seed corpus.
#
# Exit status: 0 when every target ran its time without a crash (or when
# clang / libFuzzer is not installed: "fuzz: skipped (no clang)"), 1 when a
# target crashed, leaked, hit UB or timed out; the reproducer is kept in
# build-fuzz/artifacts/<target>/ and the log beside it. See docs/fuzzing.md.
set -euo pipefail

secs=${1:-60}
case "$secs" in
'' | *[!0-9]*) echo "usage: $0 SECONDS" >&2; exit 2 ;;
esac

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build="$root/build-fuzz"

# clang with the libFuzzer runtime (Debian: clang, libclang-rt-14-dev)
probe=$(mktemp -d)
trap 'rm -rf "$probe" "${work:-}" "${scratch:-}"' EXIT
if ! command -v clang >/dev/null 2>&1 ||
	! printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n){(void)d;(void)n;return 0;}\n' |
		clang -fsanitize=fuzzer,address,undefined -x c - -o "$probe/probe" >/dev/null 2>&1; then
	echo "fuzz: skipped (no clang)"
	exit 0
fi

echo "fuzz: building in $build" >&2
CC=clang cmake -S "$root" -B "$build" -DSITEPKI_FUZZ=ON -DSITEPKI_SANITIZE=ON \
	-DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_FLAGS=-fsanitize=fuzzer-no-link >/dev/null
cmake --build "$build" -j"$(nproc)" --target fuzz_csr fuzz_template fuzz_blocklist fuzz_est -- --no-print-directory >/dev/null

# the schema and shipped templates the targets load
export SITEPKI_DATA_DIR="$root/templates"
# leaks and UB are failures; keep stack traces in the log
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

status=0
for t in csr template blocklist est; do
	target="$build/tests/fuzz/fuzz_$t"
	art="$build/artifacts/fuzz_$t"
	work=$(mktemp -d)
	rm -rf "$art"
	mkdir -p "$art"
	# a copy: the fuzzer adds what it finds to its first corpus directory,
	# and the kept seeds stay as they are
	cp -R "$here/corpus/$t/." "$work/"
	echo "fuzz: fuzz_$t for ${secs}s ($(find "$work" -type f | wc -l) seeds)" >&2
	# a dictionary of the input format's tokens, when the target has one
	dict=()
	if [ -f "$here/fuzz_$t.dict" ]; then
		dict=(-dict="$here/fuzz_$t.dict")
	fi
	# TMPDIR for the throw-away CA a target makes (tmpfs when there is one:
	# fuzz_est commits to its store), removed here also after a crash,
	# when the target's own clean-up at exit did not run
	scratch=$(mktemp -d -p /dev/shm 2>/dev/null || mktemp -d)
	rc=0
	TMPDIR="$scratch" "$target" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
		-artifact_prefix="$art/" ${dict[@]+"${dict[@]}"} "$work" >"$art/log" 2>&1 || rc=$?
	grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss_mb)' "$art/log" | sed "s/^/fuzz_$t: /" >&2 || true
	if [ "$rc" -ne 0 ]; then
		echo "fuzz: fuzz_$t FAILED (exit $rc); log: $art/log" >&2
		grep -E 'ERROR:|runtime error|SUMMARY|Test unit written' "$art/log" | head -20 >&2 || true
		status=1
	else
		echo "fuzz: fuzz_$t ok" >&2
	fi
	rm -rf "$work" "$scratch"
done
exit $status

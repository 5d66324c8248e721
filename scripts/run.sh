#!/usr/bin/env bash
# run.sh - the README's two commands.
#   bash scripts/run.sh demo   install what is missing, build, make a demo CA home in ./demo
#   bash scripts/run.sh test   install what is missing, build, run the whole test suite
# Installing is idempotent: only Debian packages that are not installed yet
# are passed to apt-get. Run as root on Debian 12 (or with sudo available).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

# Build dependencies, then the independent implementations the tests use as
# judges (openssl, certtool, NSS, python3-cryptography), then tools.
PKGS=(cmake gcc make pkg-config
      libssl-dev libsqlite3-dev libxml2-dev libmicrohttpd-dev libgnutls28-dev libcunit1-dev
      openssl sqlite3 gnutls-bin libnss3-tools curl python3 python3-cryptography
      python3-cryptography-vectors faketime libxml2-utils time strace
      clang libclang-rt-14-dev)

install_missing() {
	local missing=() p
	for p in "${PKGS[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "run.sh: installing ${missing[*]}" >&2
	local sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

build() { # dir, extra cmake args...
	local dir=$1; shift
	cmake -S "$ROOT" -B "$ROOT/$dir" "$@" >/dev/null
	cmake --build "$ROOT/$dir" -j"$(nproc)" -- --no-print-directory >/dev/null
}

case "${1:-}" in
demo)
	install_missing
	build build -DCMAKE_BUILD_TYPE=RelWithDebInfo
	exec bash "$ROOT/scripts/demo.sh" "$ROOT/build/sitepki" "$ROOT/demo"
	;;
test)
	install_missing
	status=0
	# 1. the suite once under AddressSanitizer + UndefinedBehaviorSanitizer
	echo "== ASan + UBSan build and suite" >&2
	build build-asan -DSITEPKI_SANITIZE=ON -DSITEPKI_WERROR=ON -DCMAKE_BUILD_TYPE=Debug
	# verify_asan_link_order=0: tests move the clock with faketime, which is
	# an LD_PRELOAD library loaded ahead of the ASan runtime.
	(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:verify_asan_link_order=0 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest -j2 --output-on-failure) || status=1
	# 2. a bounded fuzz run when clang is present
	if [ -x tests/fuzz/run.sh ] || [ -f tests/fuzz/run.sh ]; then
		echo "== bounded fuzz run" >&2
		bash tests/fuzz/run.sh "${FUZZ_SECONDS:-10}" || status=1
	fi
	# 3. the release build with warnings as errors; its ctest summary ends the run
	echo "== -Werror build and suite" >&2
	build build -DSITEPKI_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
	(cd build && ctest -j2 --output-on-failure) || status=1
	exit $status
	;;
*)
	echo "usage: bash scripts/run.sh demo|test" >&2
	exit 2
	;;
esac

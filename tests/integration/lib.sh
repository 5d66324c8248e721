# lib.sh - helpers shared by tests/integration/test_*.sh (sourced, not run).
#
# Environment (set by CTest, tests/CMakeLists.txt; defaults for a manual run
# from the source tree):
#   SITEPKI           the built binary
#   SITEPKI_SRC       the source root
#   SITEPKI_DATA_DIR  the shipped templates
#   SITEPKI_BUILD     the build directory (unused here)
#   KEEP_TMP=1        keep the scratch directory for debugging
#
# Judges are independent implementations: openssl, certtool (gnutls-bin),
# certutil (libnss3-tools), Debian's /usr/bin/python3 with
# python3-cryptography (never the pyenv python3 that may be first on PATH).

set -euo pipefail

IT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${SITEPKI_SRC:=$(cd "$IT_DIR/../.." && pwd)}"
: "${SITEPKI:=$SITEPKI_SRC/build/sitepki}"
: "${SITEPKI_DATA_DIR:=$SITEPKI_SRC/templates}"
export SITEPKI_DATA_DIR
# Every call names its home and passphrase explicitly.
unset SITEPKI_HOME SITEPKI_PASS_FILE
export LC_ALL=C.UTF-8
umask 022

PY=/usr/bin/python3
CHECK_CERT="$IT_DIR/check_cert.py"
MKCSR="$IT_DIR/mkcsr.py"

N_OK=0
N_FAIL=0
T0=$SECONDS

T=$(mktemp -d "${TMPDIR:-/tmp}/sitepki-it.XXXXXX")
# Background processes a test starts (by pid) are stopped on exit.
BG_PIDS=()
_cleanup() {
	local p
	for p in "${BG_PIDS[@]:-}"; do
		[ -n "$p" ] && kill -9 "$p" 2>/dev/null || true
	done
	if [ "${KEEP_TMP:-0}" = 1 ]; then
		echo "# scratch kept: $T"
	else
		rm -rf "$T"
	fi
}
trap _cleanup EXIT

ok() {
	N_OK=$((N_OK + 1))
	echo "ok   - $*"
}

# fail MESSAGE [DETAIL FILE...]: record a failure; the details are indented.
fail() {
	local msg=$1 f
	shift
	N_FAIL=$((N_FAIL + 1))
	echo "FAIL - $msg"
	for f in "$@"; do
		[ -s "$f" ] && sed -e 's/^/       | /' "$f" | head -40
	done
	return 0
}

# die MESSAGE: a setup step failed; nothing after it can be judged.
die() {
	echo "FAIL - $* (aborting)"
	N_FAIL=$((N_FAIL + 1))
	finish
}

finish() {
	echo "# $N_OK ok, $N_FAIL failed, $((SECONDS - T0)) s"
	if [ "$N_FAIL" -ne 0 ]; then
		exit 1
	fi
	exit 0
}

need() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || die "required tool '$c' is not installed"
	done
	[ -x "$SITEPKI" ] || die "SITEPKI=$SITEPKI is not an executable"
	[ -x "$PY" ] && "$PY" -c 'import cryptography' 2>/dev/null || die "$PY with python3-cryptography is needed"
}

sp() {
	"$SITEPKI" "$@"
}

# run CMD...: run without aborting; RC, $T/.out (stdout) and $T/.err (stderr).
run() {
	RC=0
	"$@" >"$T/.out" 2>"$T/.err" || RC=$?
}

# check DESC CMD...: ok when CMD exits 0; otherwise FAIL with its output.
check() {
	local desc=$1
	shift
	run "$@"
	if [ "$RC" -eq 0 ]; then
		ok "$desc"
	else
		fail "$desc (exit $RC)" "$T/.out" "$T/.err"
	fi
}

# why_not_refused CODE REGEX: after `run`, set WHY to what is wrong with the
# refusal, or to "" when CMD exited with CODE ("6" or "6|7"), printed nothing
# on stdout, and exactly one line on stderr that starts with "sitepki: " and
# matches the extended REGEX (case-insensitive).
why_not_refused() {
	local code=$1 re=$2 lines
	WHY=""
	lines=$(wc -l <"$T/.err")
	if ! [[ "$RC" =~ ^($code)$ ]]; then
		WHY="exit $RC, expected $code"
	elif [ -s "$T/.out" ]; then
		WHY="wrote $(wc -c <"$T/.out") bytes to stdout"
	elif [ "$lines" -ne 1 ] || [ "$(tail -c1 "$T/.err" | od -An -tx1 | tr -d ' ')" != 0a ]; then
		WHY="stderr is not exactly one line"
	elif ! grep -q '^sitepki: ' "$T/.err"; then
		WHY="stderr does not start with 'sitepki: '"
	elif ! grep -Eiq -- "$re" "$T/.err"; then
		WHY="message does not match /$re/"
	fi
}

# expect_fail CODE REGEX DESC CMD...: CMD must be refused as why_not_refused
# describes. Like every check here it records a failure and returns 0, so
# that `set -e` does not end the script at the first failed check.
expect_fail() {
	local code=$1 re=$2 desc=$3
	shift 3
	run "$@"
	why_not_refused "$code" "$re"
	if [ -z "$WHY" ]; then
		ok "$desc (exit $RC: $(head -n1 "$T/.err" | cut -c1-160))"
		return 0
	fi
	fail "$desc: $WHY" "$T/.out" "$T/.err"
}

# expect_usage REGEX DESC CMD...: a usage error: exit 2, nothing on stdout,
# one line on stderr starting "sitepki: " or "sitepki <command>: " (the form
# cli_usage() prints) and matching REGEX.
expect_usage() {
	local re=$1 desc=$2
	shift 2
	run "$@"
	WHY=""
	if [ "$RC" -ne 2 ]; then
		WHY="exit $RC, expected 2"
	elif [ -s "$T/.out" ]; then
		WHY="wrote to stdout"
	elif [ "$(wc -l <"$T/.err")" -ne 1 ] || ! grep -Eq '^sitepki( [a-z-]+)*: ' "$T/.err"; then
		WHY="stderr is not one 'sitepki[ command]: ' line"
	elif ! grep -Eiq -- "$re" "$T/.err"; then
		WHY="message does not match /$re/"
	fi
	if [ -z "$WHY" ]; then
		ok "$desc (exit 2: $(head -n1 "$T/.err" | cut -c1-160))"
	else
		fail "$desc: $WHY" "$T/.out" "$T/.err"
	fi
}

# The passphrase file every test uses (mode 0600, first line is the secret).
PASS="$T/pass"
printf 'correct horse battery staple\n' >"$PASS"
chmod 600 "$PASS"

# new_ca HOME NAME [init options...]: a CA home protected by $PASS.
new_ca() {
	local home=$1 name=$2
	shift 2
	run sp --home "$home" init --name "$name" --pass-file "$PASS" "$@"
	[ "$RC" -eq 0 ] || { cat "$T/.err"; die "init $name ($*) exited $RC"; }
}

# sql DB SQL: one query through the sqlite3 shell (independent of sitepki).
sql() {
	sqlite3 -batch -noheader "$1" "$2"
}

# store_count HOME: "certificate request audit" row counts.
store_count() {
	sqlite3 -batch -noheader -separator ' ' "$1/sitepki.db" \
		'select (select count(*) from certificate), (select count(*) from request), (select count(*) from audit)'
}

# pem_serial FILE: the serial of a PEM/DER certificate as upper-case hex
# without leading zeros (as openssl prints it).
pem_serial() {
	openssl x509 -in "$1" -noout -serial | sed 's/^serial=//'
}

# ca_urls HOME: sets CRL_URL and AIA_URL from `ca show --json` (no key needed).
ca_urls() {
	run sp --home "$1" ca show --json
	[ "$RC" -eq 0 ] || die "ca show --json exited $RC"
	CRL_URL=$("$PY" -c 'import json,sys; print(json.load(sys.stdin)["crl_url"])' <"$T/.out")
	AIA_URL=$("$PY" -c 'import json,sys; print(json.load(sys.stdin)["aia_url"])' <"$T/.out")
}

# file_mode PATH: octal permission bits, e.g. 600.
file_mode() {
	stat -c '%a' "$1"
}

# ------------------------------------------------------------------------
# Helpers for the revocation, CRL, PKITS and block-list tests
# (test_revocation.sh, test_crl.sh, test_pkits.sh, test_blocklist.sh).

# audit_count HOME [ACTION]: audit rows in the store (of ACTION only), by sqlite3.
audit_count() {
	if [ $# -ge 2 ]; then
		sql "$1/sitepki.db" "select count(*) from audit where action = '$2'"
	else
		sql "$1/sitepki.db" "select count(*) from audit"
	fi
}

# cert_state HOME SERIAL: "status|revoked_at|revoke_reason" of one stored
# certificate (status 0 valid, 1 revoked, 2 on hold), by sqlite3.
cert_state() {
	sql "$1/sitepki.db" "select status || '|' || ifnull(revoked_at, '') || '|' || ifnull(revoke_reason, '') from certificate where serial = '$2' collate nocase"
}

# status_counts HOME: "valid revoked hold" certificate counts, by sqlite3.
status_counts() {
	sqlite3 -batch -noheader -separator ' ' "$1/sitepki.db" \
		'select (select count(*) from certificate where status = 0), (select count(*) from certificate where status = 1), (select count(*) from certificate where status = 2)'
}

# fp_hex FILE sha256|sha1: the certificate's fingerprint as lower-case hex
# without colons (openssl x509, PEM or DER input).
fp_hex() {
	local inform=PEM
	grep -q -- "-----BEGIN" "$1" 2>/dev/null || inform=DER
	openssl x509 -inform "$inform" -in "$1" -noout -fingerprint "-$2" | sed 's/^.*=//' | tr -d : | tr A-F a-f
}

# crl_der FILE: the CRL (PEM or DER) as DER on stdout.
crl_der() {
	local inform=PEM
	grep -q -- "-----BEGIN" "$1" 2>/dev/null || inform=DER
	openssl crl -inform "$inform" -in "$1" -outform DER
}

# crl_number FILE: the CRLNumber of a CRL (PEM or DER) in decimal, as
# `openssl crl -crlnumber` prints it (hex) converted; empty when absent.
crl_number() {
	local inform=PEM h
	grep -q -- "-----BEGIN" "$1" 2>/dev/null || inform=DER
	h=$(openssl crl -inform "$inform" -in "$1" -noout -crlnumber 2>/dev/null | sed -n 's/^crlNumber=0x//p')
	[ -n "$h" ] && echo $((16#$h))
	return 0
}

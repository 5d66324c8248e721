#!/usr/bin/env bash
# bench/crl.sh [M ...] - CRL publication speed and memory, with `openssl ca
# -gencrl` on the same revocation sets in the same run (docs/crl.md).
#
#   bench/crl.sh                  # M = 10000 100000 1000000, run from the project root
#   bench/crl.sh 10000 100000
#   env: BENCH_FS=tmpfs|disk (default tmpfs, as shared/bench/peers-crl.sh: a private tmpfs
#        in a private mount namespace, needs root + unshare -m, else falls back to disk)
#        REPS=3 (timed runs per figure; the median is printed)  DELTA_N=1000
#        SITEPKI=path (default build-bench/sitepki, built in Release)  KEEP_TMP=1 (disk only)
#
# A benchmark, never a test: it prints figures and never fails on a timing.
# Output: "name: value unit  # detail"; lines starting with '#' are context;
# "# WARNING:" marks a failed correctness check (do not trust the figure next to it).
#
# Per M (M revoked certificates; 16-byte serials 1A2B3C4D5E6F70819203||i as in
# peers-crl.sh; distinct revocation dates; one in four keyCompromise, the others
# unspecified, i.e. without a reasonCode; all unexpired), plus DELTA_N valid ones:
#   sitepki.crl.<M>.time        wall of `sitepki crl publish` (median of REPS): process start,
#                               PBKDF2 key unlock (~0.5 s), store walk, build, sign, record +
#                               commit, write DER + PEM + number + CA certificate
#   sitepki.crl.<M>.rss_kb      peak RSS of that process (/usr/bin/time %M), largest of REPS
#   sitepki.crl.<M>.publish     sp_crl_publish alone (bench/crl_driver.c, in process): the
#                               figure the "under 2 s including reading the store" target is for
#   sitepki.crl.<M>.size        DER bytes
#   openssl_ca.crl.<M>.time     `openssl ca -gencrl` over an index.txt written from the very
#                               same store rows (same key, same reasons and dates, + AKI, CRL
#                               number and IDP), median of REPS, interleaved with sitepki's runs
#   openssl_ca.crl.<M>.rss_kb / .size
#   ratio.crl.<M>.sitepki_vs_openssl_ca     sitepki time / openssl time (target <= 1.0)
#   ratio.crl.<M>.publish_vs_openssl_ca     the same without process start and key unlock
#   openssl_ca.crl_peers_index.<M>.time     context: openssl ca on peers-crl.sh's index (one run)
#   sitepki.crl_delta.<M>.time / .publish   a delta CRL after DELTA_N more revocations
#                               (`sitepki revoke --from-file`), CLI wall and in process
#                               (target for .publish: < 0.050 s with 1000 entries)
#   sitepki.crl.unlock_s        sp_ca_open with the key (the PBKDF2 unlock every CLI run pays)
# Checks (untimed): every CRL verifies (`openssl crl -CAfile`); sitepki's and openssl's
# lists of revoked certificates print identically (`openssl crl -text`, entries sorted
# by serial in both) for M <= CMP_MAX (default 100000; larger M: entry count only).
# Needs: cmake, a C compiler, libssl-dev, libsqlite3-dev, libxml2-dev, openssl, sqlite3,
# /usr/bin/time (Debian package "time").
set -euo pipefail
export LC_ALL=C

BENCH_FS=${BENCH_FS:-tmpfs}
case $BENCH_FS in disk | tmpfs) ;; *) echo "BENCH_FS must be disk or tmpfs" >&2; exit 2 ;; esac
if [ "$BENCH_FS" = tmpfs ] && [ "${BENCH_IN_MNTNS:-0}" != 1 ]; then
	if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null && unshare -m true 2>/dev/null; then
		exec unshare -m env BENCH_IN_MNTNS=1 bash "$0" "$@"
	fi
	echo "# BENCH_FS=tmpfs needs root and unshare -m: falling back to BENCH_FS=disk" >&2
	BENCH_FS=disk
fi

MS=${*:-"10000 100000 1000000"}
REPS=${REPS:-3}
DELTA_N=${DELTA_N:-1000}
CMP_MAX=${CMP_MAX:-100000}
for m in $MS $REPS $DELTA_N; do case $m in '' | *[!0-9]*) echo "usage: $0 [M ...] (numbers)" >&2; exit 2 ;; esac; done
if [ ! -f CMakeLists.txt ] || [ ! -d revocation ] || [ ! -d cli ]; then echo "run from the sitepki project root" >&2; exit 2; fi
ROOT=$(pwd)

T=$(mktemp -d "${TMPDIR:-/tmp}/bench-crl.XXXXXX")
if [ "$BENCH_FS" = tmpfs ]; then mount -t tmpfs -o "size=${BENCH_TMPFS_SIZE:-6g},mode=0700" tmpfs "$T"; fi
cleanup() {
	if [ "${KEEP_TMP:-0}" = 1 ] && [ "$BENCH_FS" = disk ]; then echo "# kept $T" >&2; else
		[ "$BENCH_FS" != tmpfs ] || umount "$T" 2>/dev/null || true
		rm -rf "$T"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------ build
if [ -z "${SITEPKI:-}" ]; then
	SITEPKI=$ROOT/build-bench/sitepki
	echo "# building build-bench (Release) ..." >&2
	cmake -S "$ROOT" -B "$ROOT/build-bench" -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build "$ROOT/build-bench" -j"$(nproc)" --target sitepki >/dev/null
fi
LIBDIR=$(dirname "$SITEPKI")
DRIVER=$T/crl_driver
# shellcheck disable=SC2046
cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -I"$ROOT" "$ROOT/bench/crl_driver.c" \
	"$LIBDIR/libsp_revocation.a" "$LIBDIR/libsp_ca.a" "$LIBDIR/libsp_templates.a" "$LIBDIR/libsp_store.a" \
	"$LIBDIR/libsp_common.a" $(pkg-config --libs openssl sqlite3 libxml-2.0) -lpthread -o "$DRIVER"

# ------------------------------------------------------------------ helpers
now() { date +%s%N; }
warn() { echo "# WARNING: $*"; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }
cpu_snap() { awk '/^cpu /{print $2+$3+$4+$7+$8, $9}' /proc/stat; }
# CPU of this shell and its children so far (`times` must run in this shell, not in a $(...))
own_cpu() { times >"$T/times.txt"; awk '{ for (i = 1; i <= NF; i++) { split($i, a, /[ms]/); s += a[1] * 60 + a[2] } } END { printf "%.2f", s }' "$T/times.txt"; }
run_start() { RUN_T0=$(date +%s%N); own_cpu >/dev/null; RUN_OWN0=$(awk '{ for (i = 1; i <= NF; i++) { split($i, a, /[ms]/); s += a[1] * 60 + a[2] } } END { printf "%.2f", s }' "$T/times.txt"); read -r RUN_B0 RUN_S0 < <(cpu_snap); }
run_accounting() {
	local b1 s1 own
	read -r b1 s1 < <(cpu_snap)
	own_cpu >/dev/null
	own=$(awk -v b="$RUN_OWN0" '{ for (i = 1; i <= NF; i++) { split($i, a, /[ms]/); s += a[1] * 60 + a[2] } } END { printf "%.2f", s - b }' "$T/times.txt") # since run_start: the build is not counted
	awk -v b0="$RUN_B0" -v b1="$b1" -v s0="$RUN_S0" -v s1="$s1" -v hz="$(getconf CLK_TCK)" -v own="$own" \
		-v t0="$RUN_T0" -v t1="$(date +%s%N)" -v n="$(nproc)" 'BEGIN {
		wall = (t1 - t0) / 1e9; busy = (b1 - b0) / hz; steal = (s1 - s0) / hz; other = busy - own; if (other < 0) other = 0
		printf "# CPU accounting: wall %.1f s, machine busy %.1f CPU-s, this run %.1f CPU-s, other processes ~%.1f CPU-s (%.0f%% of %d cores), hypervisor steal %.1f CPU-s\n", wall, busy, own, other, 100 * other / (wall * n), n, steal }'
}
# timed OUTVAR_TIME OUTVAR_RSS cmd... : wall seconds and peak RSS KB of one run
timed() {
	local __t=$1 __r=$2 t0 t1 rc
	shift 2
	t0=$(now)
	set +e
	/usr/bin/time -f '%M' -o "$T/rss" "$@" >"$T/cmd.out" 2>"$T/cmd.err"
	rc=$?
	set -e
	t1=$(now)
	if [ "$rc" -ne 0 ]; then
		warn "rc=$rc from $1 $2 $3: $(tail -c 300 "$T/cmd.err" | tr '\n' ' ')"
		printf -v "$__t" 'failed'
		printf -v "$__r" '?'
		return 1
	fi
	printf -v "$__t" '%s' "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')"
	printf -v "$__r" '%s' "$(tail -1 "$T/rss")"
}
verify_crl() { # label der
	openssl crl -inform DER -in "$2" -noout -CAfile "$T/ca.pem" 2>&1 | grep -q 'verify OK' ||
		warn "$1: CRL signature does not verify"
}
entries_text() { # der -> the printed list of revoked certificates
	openssl crl -inform DER -in "$1" -noout -text | awk '/^Revoked Certificates:/ { on = 1 } /^    Signature Algorithm:/ { on = 0 } on'
}

echo "# bench/crl.sh M=\"$MS\" REPS=$REPS DELTA_N=$DELTA_N  $(date -u +%Y-%m-%dT%H:%M:%SZ)  nproc=$(nproc)  cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')  fs=$BENCH_FS($(stat -f -c %T "$T"))"
echo "# $(openssl version) | sqlite $(sqlite3 --version | cut -d' ' -f1) | sitepki $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo ?)+worktree"
run_start

PASS=$T/pass
echo "bench crl passphrase, not a real one" >"$PASS"
chmod 600 "$PASS"
BASE_URL=http://pki.bench.example/pki
SLUG=bench-crl-ca

for m in $MS; do
	echo "# --- M=$m"
	H=$T/h$m
	"$SITEPKI" --home "$H" init --name "Bench CRL CA" --base-url "$BASE_URL" --pass-file "$PASS" >/dev/null 2>&1
	"$SITEPKI" --home "$H" ca set --delta on >/dev/null 2>&1
	cp "$H/ca.pem" "$T/ca.pem"
	openssl pkey -in "$H/ca-key.pem" -passin "file:$PASS" -out "$T/ca.key" 2>/dev/null
	chmod 600 "$T/ca.key"

	# M revoked + DELTA_N valid certificates, straight into the store (one transaction)
	t0=$(now)
	T0=$(date +%s)
	sqlite3 "$H/sitepki.db" <<-EOF
		PRAGMA synchronous = OFF;
		PRAGMA cache_size = -262144;
		BEGIN;
		WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $m)
		INSERT INTO certificate(serial, sha256, sha1, subject, sans, template, not_before, not_after,
		                        issued_at, status, revoked_at, revoke_reason, der, rev_seq)
		SELECT printf('1A2B3C4D5E6F70819203%012X', i), printf('%064x', i), printf('%040x', i),
		       'CN=leaf' || i || '.example.test', '', 'web-server', $T0 - 400 * 86400, $T0 + 365 * 86400,
		       $T0 - 400 * 86400, 1, $T0 - 60 - i * 7, CASE WHEN i % 4 = 0 THEN 1 ELSE 0 END, x'00', i
		FROM n;
		WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $DELTA_N)
		INSERT INTO certificate(serial, sha256, sha1, subject, sans, template, not_before, not_after,
		                        issued_at, status, der)
		SELECT printf('1A2B3C4D5E6F70819204%012X', i), printf('%064x', $m + i), printf('%040x', $m + i),
		       'CN=late' || i || '.example.test', '', 'web-server', $T0 - 400 * 86400, $T0 + 365 * 86400,
		       $T0 - 400 * 86400, 0, x'00'
		FROM n;
		UPDATE meta SET value = '$m' WHERE key = 'revocation_seq';
		COMMIT;
	EOF
	echo "# store filled with $m revoked + $DELTA_N valid rows in $(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }') s (untimed)"

	# openssl ca: index.txt written from the same rows
	O=$T/oca$m
	mkdir -p "$O"
	echo "unique_subject = no" >"$O/index.txt.attr"
	sqlite3 -separator "$(printf '\t')" "$H/sitepki.db" \
		"SELECT 'R', substr(strftime('%Y%m%d%H%M%S', not_after, 'unixepoch'), 3) || 'Z',
		        substr(strftime('%Y%m%d%H%M%S', revoked_at, 'unixepoch'), 3) || 'Z' ||
		        CASE revoke_reason WHEN 1 THEN ',keyCompromise' ELSE '' END,
		        serial, 'unknown', '/CN=leaf' || id || '.example.test'
		 FROM certificate WHERE status = 1 ORDER BY id" >"$O/index.txt"
	cat >"$O/ca.cnf" <<-EOF
		[ ca ]
		default_ca = CA_default
		[ CA_default ]
		dir              = $O
		database         = \$dir/index.txt
		crlnumber        = \$dir/crlnumber
		certificate      = $T/ca.pem
		private_key      = $T/ca.key
		default_md       = sha256
		default_crl_days = 7
		unique_subject   = no
		crl_extensions   = crl_ext
		[ crl_ext ]
		authorityKeyIdentifier = keyid:always
		issuingDistributionPoint = critical, @idp
		[ idp ]
		fullname = URI:$BASE_URL/crl/$SLUG.crl
	EOF
	echo 01 >"$O/crlnumber"
	[ "$(wc -l <"$O/index.txt")" -eq "$m" ] || warn "M=$m: index.txt has $(wc -l <"$O/index.txt") lines"

	ST=() OT=() SR=0 ORSS=0
	for ((r = 1; r <= REPS; r++)); do
		if timed t rss openssl ca -gencrl -config "$O/ca.cnf" -out "$T/oca.pem"; then
			OT+=("$t")
			[ "$rss" -gt "$ORSS" ] && ORSS=$rss
		fi
		if timed t rss "$SITEPKI" --home "$H" crl publish --pass-file "$PASS"; then
			ST+=("$t")
			[ "$rss" -gt "$SR" ] && SR=$rss
		fi
	done
	SDER=$H/publish/crl/$SLUG.crl
	openssl crl -in "$T/oca.pem" -outform DER -out "$T/oca.der"
	st=$(printf '%s\n' "${ST[@]}" | median)
	ot=$(printf '%s\n' "${OT[@]}" | median)
	echo "sitepki.crl.$m.time: $st s  # median of ${#ST[@]}: ${ST[*]}"
	echo "sitepki.crl.$m.rss_kb: $SR KB"
	echo "sitepki.crl.$m.size: $(wc -c <"$SDER" | tr -d ' ') bytes"
	echo "openssl_ca.crl.$m.time: $ot s  # median of ${#OT[@]}: ${OT[*]}"
	echo "openssl_ca.crl.$m.rss_kb: $ORSS KB"
	echo "openssl_ca.crl.$m.size: $(wc -c <"$T/oca.der" | tr -d ' ') bytes"
	awk -v s="$st" -v o="$ot" -v m="$m" 'BEGIN { if (o > 0) printf "ratio.crl.%s.sitepki_vs_openssl_ca: %.2f x  # target <= 1.0\n", m, s / o }'

	# in process: sp_crl_publish alone
	PT=()
	for ((r = 1; r <= REPS; r++)); do
		if "$DRIVER" "$H" "$PASS" full >"$T/drv.out" 2>"$T/drv.err"; then
			PT+=("$(awk '{ print $4 }' "$T/drv.out")")
			UNLOCK=$(awk '{ print $2 }' "$T/drv.out")
		else
			warn "crl_driver: $(cat "$T/drv.err")"
		fi
	done
	pt=$(printf '%s\n' "${PT[@]}" | median)
	echo "sitepki.crl.$m.publish: $pt s  # sp_crl_publish in process, median of ${#PT[@]}: ${PT[*]}"
	awk -v s="$pt" -v o="$ot" -v m="$m" 'BEGIN { if (o > 0) printf "ratio.crl.%s.publish_vs_openssl_ca: %.2f x  # without process start and key unlock\n", m, s / o }'

	# context: openssl ca on peers-crl.sh's index (one date, no reasons), to compare this machine
	# and run with shared/bench/PEERS.md
	awk -v m="$m" 'BEGIN{ for (i = 1; i <= m; i++) printf "R\t271231235959Z\t260101000000Z\t1A2B3C4D5E6F70819203%012X\tunknown\t/CN=leaf%d.example.test\n", i, i }' >"$O/index.txt"
	if timed t rss openssl ca -gencrl -config "$O/ca.cnf" -out "$T/oca2.pem"; then
		echo "openssl_ca.crl_peers_index.$m.time: $t s  # one run, maxrss $rss KB (PEERS.md reference machine: 0.025 / 0.186 / 2.18 s for 10k / 100k / 1M)"
	fi
	rm -f "$T/oca2.pem"

	# checks (untimed)
	verify_crl "sitepki M=$m" "$SDER"
	verify_crl "openssl_ca M=$m" "$T/oca.der"
	if [ "$m" -le "$CMP_MAX" ]; then
		entries_text "$SDER" >"$T/s.txt"
		entries_text "$T/oca.der" >"$T/o.txt"
		n=$(grep -c 'Serial Number:' "$T/s.txt" || true)
		[ "$n" -eq "$m" ] || warn "sitepki M=$m: $n entries"
		cmp -s "$T/s.txt" "$T/o.txt" || warn "M=$m: sitepki's and openssl's revoked lists differ"
		rm -f "$T/s.txt" "$T/o.txt"
	else
		n=$(openssl crl -inform DER -in "$SDER" -noout -text | grep -c 'Serial Number:' || true)
		[ "$n" -eq "$m" ] || warn "sitepki M=$m: $n entries"
	fi

	# delta: DELTA_N more revocations after the last full CRL
	sqlite3 "$H/sitepki.db" "SELECT serial FROM certificate WHERE status = 0 AND template = 'web-server'" >"$T/late.txt"
	"$SITEPKI" --home "$H" revoke --from-file "$T/late.txt" --reason keyCompromise >/dev/null 2>&1 ||
		warn "revoke --from-file failed"
	DT=()
	for ((r = 1; r <= REPS; r++)); do
		if timed t rss "$SITEPKI" --home "$H" crl publish --delta --pass-file "$PASS"; then DT+=("$t"); fi
	done
	PT=()
	for ((r = 1; r <= REPS; r++)); do
		if "$DRIVER" "$H" "$PASS" delta >"$T/drv.out" 2>"$T/drv.err"; then
			PT+=("$(awk '{ print $4 }' "$T/drv.out")")
			n=$(awk '{ print $6 }' "$T/drv.out")
		else
			warn "crl_driver delta: $(cat "$T/drv.err")"
		fi
	done
	echo "sitepki.crl_delta.$m.time: $(printf '%s\n' "${DT[@]}" | median) s  # CLI wall incl. key unlock, median of ${#DT[@]}: ${DT[*]}"
	echo "sitepki.crl_delta.$m.publish: $(printf '%s\n' "${PT[@]}" | median) s  # in process, $n entries, median of ${#PT[@]}: ${PT[*]}"
	verify_crl "sitepki delta M=$m" "$H/publish/crl/$SLUG-delta.crl"
	[ "${n:-0}" -eq "$DELTA_N" ] || warn "delta M=$m: ${n:-?} entries, expected $DELTA_N"
	echo "sitepki.crl.unlock_s: ${UNLOCK:-?} s  # sp_ca_open with the key (PBKDF2), M=$m run"
	rm -rf "$H" "$O" "$T/oca.pem" "$T/oca.der"
done
run_accounting

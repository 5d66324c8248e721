#!/usr/bin/env bash
# bench/est.sh [N] - enrollments/s of the EST service (`sitepki serve`) over HTTPS with
# keep-alive, beside `cfssl serve` with its SQLite certificate database doing the same
# signing in the same run (docs/bench.md "EST service").
#
#   bench/est.sh              # N=2000 CSRs, run from the project root (~50 s on disk, ~25 s tmpfs)
#   bench/est.sh 500
#   env: BENCH_FS=disk|tmpfs (default disk: durability is the point; sitepki commits every
#        certificate with fsync; tmpfs needs root + unshare -m)
#        CLIENTS="1 4" (concurrent curl processes per pass)  ROUNDS=2 (passes per client
#        count and server, alternated sitepki/cfssl then cfssl/sitepki; figures are pooled)
#        BENCH_SETTLE=5 on disk, 0 on tmpfs (seconds of quiet after the setup)
#        THREADS=0 (<limits threads>, 0 = one per connection)  KEEP_TMP=1 (disk only)
#        SITEPKI=path (default build-bench/sitepki, built in Release if missing)
#
# A benchmark, never a test: it prints figures and never fails on a timing.
# Output: one line per figure, "name: value unit  # detail"; lines starting with '#'
# are context; "# WARNING:" marks a correctness check that failed (a figure next to a
# warning is not to be trusted).
#
#   sitepki.est.<c>client(s)           N POST /.well-known/est/web-server/simpleenroll per pass,
#                                      split over c curl processes (curl -K, one keep-alive TLS
#                                      connection each, TLS client certificate of an enrollment
#                                      agent), wall clock from the first request to the last answer;
#                                      detail: p50/p99 of curl's time_total per request, the
#                                      service's own p50 (its log line), the passes
#   cfssl_serve_sqlite.<c>client(s)    the same CSRs as JSON to cfssl serve /api/v1/cfssl/sign,
#                                      plain HTTP, -db-config sqlite3 (as shared/bench/peers-issue.sh)
#   ratio.est.<c>client(s)             sitepki / cfssl  (target >= 3)
#   sitepki.est.rss_kb                 VmHWM of the service process after all passes (target < 64 MB)
#   sitepki.est.signer_rss_kb          VmHWM of its signer child (the process holding the CA key)
#   cfssl_serve_sqlite.rss_kb          VmHWM of cfssl serve, context
#   floor.* (when CLIENTS has 1)       what one request at one client cannot cost less than here,
#                                      whatever the code: floor.https_get.1client (curl GET of
#                                      .../cacerts over the same keep-alive TLS connection: curl, TLS,
#                                      libmicrohttpd, no signer), floor.process_hop (a round trip
#                                      between two processes over a socketpair, the service <->
#                                      signer hand-off; bench/hop.c), floor.ecdsa_p256 (openssl speed:
#                                      one verify for the proof of possession + one signature),
#                                      floor.sqlite_commit (sqlite3: one small row committed
#                                      durably, WAL + synchronous=FULL, on the CA home's filesystem);
#                                      floor.est.1client = 1 / their sum, beside the target's budget
#                                      per request (1 / (3 x cfssl 1client)). FLOOR=0 skips it.
#   sitepki.signer_inprocess.1client   (with the floor) the signer's own work per certificate at one
#                                      client, in process on a copy of the store: parse + prepare,
#                                      the three rows, the durable commit (bench/signer_driver.c)
#   # cpu lines                        CPU per certificate of the service, the signer, cfssl and
#                                      the curl clients in each pass (/proc/<pid>/stat and
#                                      /usr/bin/time): says whether the clients were the limit
# Checks (untimed): the first answer of each server is a 200 certs-only PKCS#7 (cfssl: JSON
# success) holding a certificate that `openssl verify` accepts against its CA; every timed
# request answered 200; 10 sampled answers per pass verify; the stores hold every certificate.
# Needs: cmake + a C compiler (build), openssl, curl, sqlite3, cfssl (Debian golang-cfssl),
# /usr/bin/time (Debian package "time").
set -euo pipefail
export LC_ALL=C

BENCH_FS=${BENCH_FS:-disk}
case $BENCH_FS in disk | tmpfs) ;; *) echo "BENCH_FS must be disk or tmpfs" >&2; exit 2 ;; esac
if [ "$BENCH_FS" = tmpfs ] && [ "${BENCH_IN_MNTNS:-0}" != 1 ]; then
	if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null && unshare -m true 2>/dev/null; then
		exec unshare -m env BENCH_IN_MNTNS=1 bash "$0" "$@"
	fi
	echo "# BENCH_FS=tmpfs needs root and unshare -m: falling back to BENCH_FS=disk" >&2
	BENCH_FS=disk
fi

N=${1:-2000}
case $N in '' | *[!0-9]*) echo "usage: $0 [N]" >&2; exit 2 ;; esac
[ "$N" -ge 20 ] || { echo "N must be >= 20" >&2; exit 2; }
CLIENTS=${CLIENTS:-"1 4"}
ROUNDS=${ROUNDS:-2}
THREADS=${THREADS:-0}
for v in $CLIENTS $ROUNDS $THREADS; do case $v in '' | *[!0-9]*) echo "CLIENTS, ROUNDS, THREADS: numbers" >&2; exit 2 ;; esac; done
for c in $CLIENTS; do
	if [ "$c" -lt 1 ] || [ "$c" -gt "$N" ]; then echo "CLIENTS: 1..N" >&2; exit 2; fi
done
[ "$ROUNDS" -ge 1 ] || { echo "ROUNDS must be >= 1" >&2; exit 2; }
for tool in openssl curl sqlite3 cfssl; do
	command -v "$tool" >/dev/null || { echo "bench/est.sh needs $tool" >&2; exit 2; }
done
if [ ! -f CMakeLists.txt ] || [ ! -d enroll ] || [ ! -d cli ]; then echo "run from the sitepki project root" >&2; exit 2; fi
ROOT=$(pwd)

# ------------------------------------------------------------------ build
SITEPKI_FROM_ENV=${SITEPKI:+1}
SITEPKI=${SITEPKI:-$ROOT/build-bench/sitepki}
if [ ! -x "$SITEPKI" ]; then
	echo "# building $SITEPKI (Release) ..." >&2
	cmake -S "$ROOT" -B "$ROOT/build-bench" -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build "$ROOT/build-bench" -j"$(nproc)" --target sitepki >/dev/null
fi
STALE=
[ -n "$SITEPKI_FROM_ENV" ] || STALE=$(find "$ROOT/ca" "$ROOT/cli" "$ROOT/common" "$ROOT/store" "$ROOT/enroll" "$ROOT/media" \
	"$ROOT/revocation" "$ROOT/templates" "$ROOT/CMakeLists.txt" \( -name '*.[ch]' -o -name CMakeLists.txt \) \
	-newer "$SITEPKI" 2>/dev/null | head -1 || true)

T=$(mktemp -d "${TMPDIR:-/tmp}/bench-sitepki-est.XXXXXX")
if [ "$BENCH_FS" = tmpfs ]; then mount -t tmpfs -o "size=${BENCH_TMPFS_SIZE:-2g},mode=0700" tmpfs "$T"; fi
SP_PID=
CF_PID=
stop_pid() { # pid: TERM, then wait (bounded: KILL after 10 s)
	[ -n "$1" ] || return 0
	kill -TERM "$1" 2>/dev/null || true
	for _ in $(seq 1 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}
cleanup() {
	stop_pid "$SP_PID"
	stop_pid "$CF_PID"
	if [ "${KEEP_TMP:-0}" = 1 ] && [ "$BENCH_FS" = disk ]; then echo "# kept $T" >&2; else
		[ "$BENCH_FS" != tmpfs ] || umount "$T" 2>/dev/null || true
		rm -rf "$T"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s%N; }
res() { printf '%s: %s %s\n' "$@"; }
warn() { echo "# WARNING: $*"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a+0 > 0 && b+0 > 0) printf "%.2f", a/b; else print "n/a" }'; }
bgload() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat >"$T/st0"; sleep 1
	awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat | awk -v f="$T/st0" 'BEGIN{getline l <f; split(l,a," ")} {b=$1-a[1]; i=$2-a[2]; if (b+i > 0) printf "%.0f", 100*b/(b+i); else printf "0"}'; }
# whole-run CPU accounting (noise indicator): machine busy vs this script's own CPU
cpu_snap() { awk '/^cpu /{print $2+$3+$4+$7+$8, $9}' /proc/stat; }
run_start() { RUN_T0=$(date +%s%N); read -r RUN_B0 RUN_S0 < <(cpu_snap); }
run_accounting() {
	local b1 s1 own
	read -r b1 s1 < <(cpu_snap)
	times >"$T/times.txt" # builtin in this shell: own + waited-for children CPU
	own=$(awk '{ for (i = 1; i <= NF; i++) { split($i, a, /[ms]/); s += a[1] * 60 + a[2] } } END { printf "%.2f", s }' "$T/times.txt")
	awk -v b0="$RUN_B0" -v b1="$b1" -v s0="$RUN_S0" -v s1="$s1" -v hz="$(getconf CLK_TCK)" -v own="$own" \
		-v t0="$RUN_T0" -v t1="$(date +%s%N)" -v n="$(nproc)" 'BEGIN {
		wall = (t1 - t0) / 1e9; busy = (b1 - b0) / hz; steal = (s1 - s0) / hz; other = busy - own; if (other < 0) other = 0
		printf "# CPU accounting: wall %.1f s, machine busy %.1f CPU-s, this run %.1f CPU-s, other processes ~%.1f CPU-s (%.0f%% of %d cores), hypervisor steal %.1f CPU-s\n", wall, busy, own, other, 100 * other / (wall * n), n, steal }'
}
# CPU seconds (user+sys, children not included) of a live process; 0 when gone
proc_cpu() { awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.3f", ($12 + $13) / hz }' "/proc/$1/stat" 2>/dev/null || echo 0; }
hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo n/a; }
free_port() { # as shared/bench/peers-issue.sh: a port no socket uses, read from /proc/net/tcp{,6}
	local b=$((20000 + ($$ * 7) % 20000)) p used
	used=$(awk 'FNR > 1 { split($2, a, ":"); print a[2] }' /proc/net/tcp /proc/net/tcp6 2>/dev/null | sort -u)
	for p in $(seq "$b" $((b + 49))); do
		printf '%s\n' "$used" | grep -qx "$(printf '%04X' "$p")" || { echo "$p"; return 0; }
	done
	return 1
}
# percentile (nearest rank) of a file of numbers, in ms from seconds
pct_ms() { sort -g "$1" | awk -v q="$2" '{ v[NR] = $1 } END { if (NR == 0) { print "n/a"; exit } i = int(q * NR + 0.999999); if (i < 1) i = 1; if (i > NR) i = NR; printf "%.2f", v[i] * 1000 }'; }

echo "# bench/est.sh N=$N CLIENTS=\"$CLIENTS\" ROUNDS=$ROUNDS  $(date -u +%Y-%m-%dT%H:%M:%SZ)  nproc=$(nproc)  cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')  fs=$BENCH_FS($(findmnt -no FSTYPE -T "$T" 2>/dev/null || stat -f -c %T "$T"))"
echo "# $(openssl version) | sitepki $(if [ -n "$SITEPKI_FROM_ENV" ]; then echo "from \$SITEPKI"; else git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'; git -C "$ROOT" status --porcelain -uno 2>/dev/null | grep -q . && echo '+dirty'; fi | tr -d '\n') $SITEPKI ($(date -u -r "$SITEPKI" +%H:%M:%SZ)) | cfssl $(cfssl version 2>/dev/null | awk '/Version/{print $2}') | $(curl --version | head -1 | cut -d' ' -f1-2,5) | $(sqlite3 --version 2>/dev/null | cut -d' ' -f1 | sed 's/^/sqlite3 /')"
echo "# nproc: $(nproc)"
[ -z "$STALE" ] || echo "# note: $SITEPKI is older than $STALE (rebuild: cmake --build build-bench, or delete it)"
HAVE_TIME=1
[ -x /usr/bin/time ] || { HAVE_TIME=0; echo "# /usr/bin/time missing (apt-get install -y time): curl CPU figures are n/a"; }
echo "# background CPU busy before run: $(bgload)% of $(nproc) cores (want ~0; other load skews every figure)"
run_start

# ------------------------------------------------------------------ setup (untimed)
mkdir -p "$T/csr" "$T/est" "$T/json"
# N CSRs, P-256 keys, CN + SAN dNSName, made by openssl 2 at a time (as peers-issue.sh)
seq 1 "$N" | xargs -P 2 -I{} openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout /dev/null -subj "/CN=leaf{}.example.test" -addext "subjectAltName=DNS:leaf{}.example.test" \
	-out "$T/csr/{}.csr" 2>/dev/null
[ "$(find "$T/csr" -name '*.csr' -size +0 | wc -l)" -eq "$N" ] || { echo "CSR generation failed" >&2; exit 1; }
# bodies, one awk for all: EST = the base64 of the DER (the PEM without its armour lines,
# RFC 7030 4.2.1); cfssl = {"certificate_request":"<PEM with \n>"} as peers-issue.sh
seq 1 "$N" | awk -v d="$T" '{
	f = d "/csr/" $1 ".csr"; e = d "/est/" $1 ".b64"; j = d "/json/" $1 ".json"
	printf "{\"certificate_request\":\"" >j
	while ((getline l <f) > 0) { printf "%s\\n", l >j; if (l !~ /^-----/) print l >e }
	printf "\"}" >j; close(f); close(e); close(j) }'

# sitepki: CA home with a P-256 key; the enrollment agent's RSA-2048 client-auth certificate
head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$T/pass"
chmod 600 "$T/pass"
H="$T/home"
"$SITEPKI" --home "$H" init --name "Bench EST P-256 CA" --key ec-p256 --pass-file "$T/pass" >"$T/init.out" 2>&1 ||
	{ cat "$T/init.out" >&2; echo "sitepki init failed" >&2; exit 1; }
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/agent.key" 2>/dev/null
openssl req -new -key "$T/agent.key" -subj "/CN=bench-agent.example" -addext "subjectAltName=DNS:bench-agent.example" \
	-out "$T/agent.csr" 2>/dev/null
"$SITEPKI" --home "$H" issue --template client-auth --csr "$T/agent.csr" --out "$T/agent.pem" --pass-file "$T/pass" \
	>"$T/agent.out" 2>&1 || { cat "$T/agent.out" >&2; echo "sitepki issue (agent certificate) failed" >&2; exit 1; }
cat >"$T/serve.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<serve xmlns="urn:sitepki:serve:1">
  <listen address="127.0.0.1" https="0" http="off"/>
  <limits threads="$THREADS" ratePerMinute="0" maxConnections="256" maxPerClient="64"/>
  <log file="$T/serve.log"/>
  <agent template="client-auth" subject="CN=bench-agent.example" allow="web-server"/>
</serve>
EOF

# cfssl: its own P-256 CA, peers-issue.sh's signing profile and sqlite certdb
mkdir -p "$T/cfca"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/cfca/ca.key" 2>/dev/null
openssl req -x509 -new -key "$T/cfca/ca.key" -sha256 -days 3650 -subj "/CN=Bench p256 CA" \
	-addext "keyUsage=critical,keyCertSign,cRLSign" -out "$T/cfca/ca.pem" 2>/dev/null
cat >"$T/cfssl.json" <<'EOF'
{"signing":{"default":{"expiry":"2160h","usages":["digital signature","server auth"]}}}
EOF
CFDB="$T/cfssl_serve_sqlite.db"
sqlite3 "$CFDB" <<'EOF'
CREATE TABLE certificates (
  serial_number blob NOT NULL, authority_key_identifier blob NOT NULL, ca_label blob,
  status blob NOT NULL, reason int, created_at timestamp, expiry timestamp, revoked_at timestamp,
  pem blob NOT NULL, PRIMARY KEY(serial_number, authority_key_identifier));
CREATE TABLE ocsp_responses (
  serial_number blob NOT NULL, authority_key_identifier blob NOT NULL, body blob NOT NULL, expiry timestamp,
  PRIMARY KEY(serial_number, authority_key_identifier));
EOF
printf '{"driver":"sqlite3","data_source":"%s"}\n' "$CFDB" >"$T/db.json"

# ------------------------------------------------------------------ servers
"$SITEPKI" --home "$H" serve --config "$T/serve.xml" --pass-file "$T/pass" >"$T/serve.out" 2>"$T/serve.err" &
SP_PID=$!
SP_PORT=
for _ in $(seq 1 100); do
	SP_PORT=$(sed -n 's/^sitepki serve: https=127.0.0.1:\([0-9]*\) .*/\1/p' "$T/serve.out")
	[ -z "$SP_PORT" ] || break
	kill -0 "$SP_PID" 2>/dev/null || break
	sleep 0.1
done
[ -n "$SP_PORT" ] || { cat "$T/serve.err" >&2; echo "sitepki serve did not start" >&2; exit 1; }
SIGNER_PID=$(ps -o pid= --ppid "$SP_PID" | awk 'NR == 1 { print $1 }')
SP_URL="https://localhost:$SP_PORT/.well-known/est/web-server/simpleenroll"

CF_PORT=$(free_port) || { echo "no free port for cfssl" >&2; exit 1; }
cfssl serve -address 127.0.0.1 -port "$CF_PORT" -ca "$T/cfca/ca.pem" -ca-key "$T/cfca/ca.key" \
	-config "$T/cfssl.json" -db-config "$T/db.json" >"$T/cfssl.log" 2>&1 &
CF_PID=$!
CF_URL="http://127.0.0.1:$CF_PORT/api/v1/cfssl/sign"
for _ in $(seq 1 100); do
	[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$CF_PORT/" 2>/dev/null || true)" != 000 ] && break
	kill -0 "$CF_PID" 2>/dev/null || break
	sleep 0.1
done
kill -0 "$CF_PID" 2>/dev/null || { tail -5 "$T/cfssl.log" >&2; echo "cfssl serve did not start" >&2; exit 1; }
echo "# servers: sitepki serve pid $SP_PID (signer pid ${SIGNER_PID:-?}) https://localhost:$SP_PORT, threads=$THREADS (0 = one per connection); cfssl serve pid $CF_PID $CF_URL"

# ------------------------------------------- correctness pass (untimed, also the warm-up)
# p7_verify B64FILE CAFILE: a base64 certs-only PKCS#7 holding one certificate that verifies
p7_verify() { openssl base64 -d -in "$1" | openssl pkcs7 -inform DER -print_certs 2>/dev/null >"$1.pem" &&
	[ "$(grep -c 'BEGIN CERTIFICATE' "$1.pem")" -eq 1 ] && openssl verify -CAfile "$2" "$1.pem" >/dev/null 2>&1; }
cf_verify() { sed -n 's/.*"certificate":"\([^"]*\)".*/\1/p' "$1" | sed 's/\\n/\n/g' >"$1.pem" &&
	grep -q '"success":true' "$1" && openssl verify -CAfile "$2" "$1.pem" >/dev/null 2>&1; }
code=$(curl -s -o "$T/first.b64" -D "$T/first.h" -w '%{http_code}' --cacert "$H/ca.pem" --cert "$T/agent.pem" \
	--key "$T/agent.key" -H 'Content-Type: application/pkcs10' --data-binary "@$T/est/1.b64" "$SP_URL" || true)
if [ "$code" = 200 ] && grep -qi '^content-type: application/pkcs7-mime; *smime-type=certs-only' "$T/first.h" &&
	p7_verify "$T/first.b64" "$H/ca.pem"; then
	echo "# check: sitepki first answer 200 certs-only PKCS#7, openssl verify OK ($(openssl x509 -in "$T/first.b64.pem" -noout -subject | sed 's/^subject=//'), $(openssl x509 -in "$T/first.b64.pem" -noout -text | grep -m1 'Public Key Algorithm' | sed 's/^ *//'))"
else
	warn "sitepki first answer: HTTP $code, $(head -c 200 "$T/first.b64" | tr '\n' ' ')"
fi
code=$(curl -s -o "$T/first.json" -w '%{http_code}' --data-binary "@$T/json/1.json" "$CF_URL" || true)
if [ "$code" = 200 ] && cf_verify "$T/first.json" "$T/cfca/ca.pem"; then
	echo "# check: cfssl first answer 200 success, openssl verify OK"
else
	warn "cfssl first answer: HTTP $code, $(head -c 200 "$T/first.json")"
fi

# curl config files: request i goes to client (i mod c); keep-alive within one curl process.
# Every request carries its own options ("next" resets them); the answers go to /dev/null
# except every SAMPLE-th, kept for the checks (N/10 small files per pass, the same on both sides).
SAMPLE=$((N / 10))
mkcfg() { # kind clients -> $T/cfg/<kind>-<c>.<k>.cfg, k = 1..c
	local kind=$1 c=$2
	mkdir -p "$T/cfg" "$T/ans"
	seq 1 "$N" | awk -v kind="$kind" -v c="$c" -v d="$T" -v s="$SAMPLE" -v url="$([ "$kind" = sp ] && echo "$SP_URL" || echo "$CF_URL")" '{
		i = $1; k = (i - 1) % c + 1; f = d "/cfg/" kind "-" c "." k ".cfg"
		if (seen[k]++) print "next" >f
		out = (i % s == 0) ? d "/ans/" kind "-" c "-" i : "/dev/null"
		printf "url = \"%s\"\noutput = \"%s\"\nwrite-out = \"%%{http_code} %%{time_total} %%{num_connects}\\n\"\n", url, out >f
		if (kind == "sp") {
			printf "cacert = \"%s/home/ca.pem\"\ncert = \"%s/agent.pem\"\nkey = \"%s/agent.key\"\n", d, d, d >f
			printf "header = \"Content-Type: application/pkcs10\"\ndata-binary = \"@%s/est/%d.b64\"\n", d, i >f
		} else
			printf "data-binary = \"@%s/json/%d.json\"\n", d, i >f
	}'
}
for c in $CLIENTS; do mkcfg sp "$c"; mkcfg cf "$c"; done

BENCH_SETTLE=${BENCH_SETTLE:-$([ "$BENCH_FS" = disk ] && echo 5 || echo 0)}
sync
[ "$BENCH_SETTLE" -le 0 ] || { echo "# settling ${BENCH_SETTLE} s before timing (BENCH_SETTLE)"; sleep "$BENCH_SETTLE"; }

# ------------------------------------------------------------------ timed passes
# pass kind clients round: N requests over `clients` curl processes; appends
# "ok wall_s curl_cpu_s srv_cpu_s signer_cpu_s" to $T/res/<kind>-<c> and the
# time_total values to $T/res/<kind>-<c>.lat
mkdir -p "$T/res"
pass() {
	local kind=$1 c=$2 r=$3 k t0 t1 s0 s1 g0 g1 pid ok conn lines
	local pids=() srv=$SP_PID
	[ "$kind" = sp ] || srv=$CF_PID
	lines=$(wc -l <"$T/serve.log")
	s0=$(proc_cpu "$srv")
	g0=0
	[ "$kind" = cf ] || g0=$(proc_cpu "${SIGNER_PID:-0}")
	sync
	t0=$(now)
	for k in $(seq 1 "$c"); do
		if [ "$HAVE_TIME" = 1 ]; then
			/usr/bin/time -f '%U %S' -o "$T/res/time.$k" curl -s -K "$T/cfg/$kind-$c.$k.cfg" >"$T/res/w.$k" 2>"$T/res/e.$k" &
		else
			curl -s -K "$T/cfg/$kind-$c.$k.cfg" >"$T/res/w.$k" 2>"$T/res/e.$k" &
		fi
		pids+=($!)
	done
	for pid in "${pids[@]}"; do wait "$pid" || true; done
	t1=$(now)
	s1=$(proc_cpu "$srv")
	[ "$kind" = cf ] || g1=$(proc_cpu "${SIGNER_PID:-0}")
	ok=$(cat "$T"/res/w.* | awk '$1 == 200' | wc -l)
	conn=$(cat "$T"/res/w.* | awk '{ s += $3 } END { print s + 0 }')
	cat "$T"/res/w.* | awk '$1 == 200 { print $2 }' >>"$T/res/$kind-$c.lat"
	[ "$ok" -eq "$N" ] || warn "$kind $c client(s) round $r: $ok of $N requests answered 200 ($(cat "$T"/res/w.* | awk '{print $1}' | sort | uniq -c | tr -s ' \n' ' '); curl: $(cat "$T"/res/e.* | head -c 200))"
	[ "$conn" -le "$c" ] || warn "$kind $c client(s) round $r: $conn TCP connections for $c clients (keep-alive broken?)"
	if [ "$kind" = sp ]; then # the service's own duration of each request in this pass (its log)
		tail -n +"$((lines + 1))" "$T/serve.log" | awk '/simpleenroll 200 / { sub(/ms$/, "", $NF); print $NF / 1000 }' >>"$T/res/sp-$c.srv"
	fi
	awk -v ok="$ok" -v a="$t0" -v b="$t1" -v s0="$s0" -v s1="$s1" -v g0="${g0:-0}" -v g1="${g1:-0}" -v ct="$(cat "$T"/res/time.* 2>/dev/null | awk '{ s += $1 + $2 } END { printf "%.2f", s }')" \
		'BEGIN { printf "%d %.6f %.3f %.3f %.3f\n", ok, (b - a) / 1e9, ct, s1 - s0, g1 - g0 }' >>"$T/res/$kind-$c"
	# sampled answers verify
	local f bad=0 n=0
	for f in "$T/ans/$kind-$c"-*; do
		[ -f "$f" ] || continue
		case $f in *.pem) continue ;; esac
		n=$((n + 1))
		if [ "$kind" = sp ]; then p7_verify "$f" "$H/ca.pem" || bad=$((bad + 1)); else cf_verify "$f" "$T/cfca/ca.pem" || bad=$((bad + 1)); fi
		rm -f "$f" "$f.pem"
	done
	if [ "$bad" -ne 0 ] || [ "$n" -eq 0 ]; then warn "$kind $c client(s) round $r: $bad of $n sampled answers do not verify"; fi
	rm -f "$T"/res/w.* "$T"/res/e.* "$T"/res/time.*
}

for c in $CLIENTS; do
	for r in $(seq 1 "$ROUNDS"); do
		if [ $((r % 2)) -eq 1 ]; then pass sp "$c" "$r"; pass cf "$c" "$r"; else pass cf "$c" "$r"; pass sp "$c" "$r"; fi
	done
done
SP_HWM=$(hwm_kb "$SP_PID")
SIGNER_HWM=$(hwm_kb "${SIGNER_PID:-0}")
CF_HWM=$(hwm_kb "$CF_PID")
SP_THREADS=$(awk '/^Threads:/ { print $2 }' "/proc/$SP_PID/status" 2>/dev/null || echo '?')

# ------------------------------------------------------------------ figures
name_of() { [ "$1" -eq 1 ] && echo "1client" || echo "${1}clients"; }
declare -A RATE
report() { # kind clients label
	local kind=$1 c=$2 label=$3 f=$T/res/$1-$2 srv=""
	[ "$kind" = cf ] || srv=", service p50 $(pct_ms "$T/res/sp-$c.srv" 0.5) ms"
	RATE[$kind-$c]=$(awk '{ n += $1; s += $2 } END { printf "%.1f", n / s }' "$f")
	awk -v name="$label.$(name_of "$c")" -v p50="$(pct_ms "$f.lat" 0.5)" -v p99="$(pct_ms "$f.lat" 0.99)" -v srv="$srv" '
		{ n += $1; s += $2; r = r sprintf("%s%.1f", (NR > 1 ? " / " : ""), $1 / $2) }
		END { printf "%s: %.1f certs/s  # %d certs in %.2f s, p50 %s ms, p99 %s ms%s; passes %s\n", name, n / s, n, s, p50, p99, srv, r }' "$f"
	awk -v kind="$kind" -v c="$c" -v nproc="$(nproc)" '
		{ n += $1; s += $2; ct += $3; sv += $4; sg += $5 }
		END { printf "#   cpu %s %d client(s): %s curl %.0f us/req (each curl process busy %.0f%% of the wall time); server + clients used %.0f%% of %d cores\n",
			kind == "sp" ? "sitepki" : "cfssl", c,
			kind == "sp" ? sprintf("service %.0f us/cert, signer %.0f us/cert,", 1e6 * sv / n, 1e6 * sg / n) : sprintf("cfssl %.0f us/cert,", 1e6 * sv / n),
			1e6 * ct / n, 100 * ct / s / c, 100 * (sv + sg + ct) / (s * nproc), nproc
		      if (ct / s / c > 0.8) printf "# NOTE: the curl clients were busy %.0f%% of the time: %s %d client(s) is client-bound\n", 100 * ct / s / c, kind == "sp" ? "sitepki" : "cfssl", c }' "$f"
}
for c in $CLIENTS; do
	report sp "$c" sitepki.est
	report cf "$c" cfssl_serve_sqlite
done
SUMMARY=
for c in $CLIENTS; do
	R=$(ratio "${RATE[sp-$c]}" "${RATE[cf-$c]}")
	res "ratio.est.$(name_of "$c")" "$R" "x  # sitepki.est / cfssl_serve_sqlite, same run (target >= 3)"
	SUMMARY="$SUMMARY $(name_of "$c") ${R}x ($(awk -v a="${RATE[sp-$c]}" -v b="${RATE[cf-$c]}" 'BEGIN { print (b + 0 > 0 && a >= 3 * b ? "met" : "not met") }'));" # the rates, not the rounded ratio
done
res sitepki.est.rss_kb "$SP_HWM" "KB  # VmHWM of the service process after all passes ($SP_THREADS threads; target < 65536 KB)"
res sitepki.est.signer_rss_kb "$SIGNER_HWM" "KB  # VmHWM of the signer child (CA key, store writes)"
res cfssl_serve_sqlite.rss_kb "$CF_HWM" "KB  # VmHWM of cfssl serve, context"

# ------------------------------------------------ one-client floor (timed, after the passes)
FLOOR_SUMMARY=
if [ "${FLOOR:-1}" = 1 ] && printf ' %s ' $CLIENTS | grep -q ' 1 ' && [ -n "${RATE[cf-1]:-}" ]; then
	# curl, TLS and libmicrohttpd with nothing behind them: N GETs of cacerts on one connection
	GET_URL="https://localhost:$SP_PORT/.well-known/est/web-server/cacerts"
	seq 1 "$N" | awk -v url="$GET_URL" -v d="$T" 'NR > 1 { print "next" }
		{ printf "url = \"%s\"\noutput = \"/dev/null\"\nwrite-out = \"%%{http_code}\\n\"\n", url
		  printf "cacert = \"%s/home/ca.pem\"\ncert = \"%s/agent.pem\"\nkey = \"%s/agent.key\"\n", d, d, d }' >"$T/cfg/get.cfg"
	t0=$(now)
	curl -s -K "$T/cfg/get.cfg" >"$T/res/get.w" 2>"$T/res/get.e" || true
	t1=$(now)
	ok=$(grep -c '^200$' "$T/res/get.w" || true)
	[ "$ok" -eq "$N" ] || warn "floor: $ok of $N cacerts GETs answered 200"
	GET_US=$(awk -v a="$t0" -v b="$t1" -v n="$N" 'BEGIN { printf "%.1f", (b - a) / 1e3 / n }')
	res floor.https_get.1client "$GET_US" "us/request  # $N GETs of .../cacerts on one keep-alive TLS connection (curl, TLS, libmicrohttpd; no signer, no store write)"
	# the service <-> signer hand-off
	HOP_US=n/a
	if cc -O2 -std=c11 -o "$T/hop" "$ROOT/bench/hop.c" 2>"$T/hop.err"; then HOP_US=$("$T/hop" 5000 200 || echo n/a); else warn "floor: bench/hop.c did not build: $(head -c 200 "$T/hop.err")"; fi
	res floor.process_hop "$HOP_US" "us/round trip  # two processes over a SOCK_SEQPACKET socketpair, each working 200 us between messages (bench/hop.c)"
	# the proof of possession (one P-256 verify) and the certificate's signature
	read -r SIGN_S VERIFY_S < <(openssl speed -seconds 1 ecdsap256 2>/dev/null | awk '/nistp256/ { print $(NF - 1), $NF }') || true
	ECDSA_US=$(awk -v s="${SIGN_S:-0}" -v v="${VERIFY_S:-0}" 'BEGIN { if (s > 0 && v > 0) printf "%.1f", 1e6 / s + 1e6 / v; else print "n/a" }')
	res floor.ecdsa_p256 "$ECDSA_US" "us  # openssl speed ecdsap256: one sign ($SIGN_S/s) + one verify ($VERIFY_S/s)"
	# one durable SQLite commit of one small row, on the filesystem of the CA home; timed
	# after as many commits again, once the WAL is in its steady state (reused after each
	# checkpoint rather than growing: a growing file costs every fdatasync a metadata write)
	awk -v n="$N" 'BEGIN { print "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; CREATE TABLE c(id INTEGER PRIMARY KEY, der BLOB);"
		for (k = 0; k < 2; k++) {
			print "SELECT printf(\"%.3f\", (julianday(\"now\") - 2440587.5) * 86400.0);"
			for (i = 0; i < n; i++) print "BEGIN; INSERT INTO c(der) VALUES (randomblob(700)); COMMIT;" }
		print "SELECT printf(\"%.3f\", (julianday(\"now\") - 2440587.5) * 86400.0);" }' >"$T/floor.sql"
	sqlite3 "$T/floor.db" <"$T/floor.sql" 2>"$T/floor.err" | grep -E '^[0-9]+[.][0-9]+$' >"$T/floor.t" || true
	SQL_US=$(awk -v n="$N" 'NR == 2 { a = $1 } NR == 3 { b = $1 } END { if (NR == 3 && b > a) printf "%.1f", (b - a) * 1e6 / n; else print "n/a" }' "$T/floor.t")
	[ "$SQL_US" != n/a ] || warn "floor: sqlite3 gave no timing: $(head -c 200 "$T/floor.err")"
	rm -f "$T"/floor.db*
	res floor.sqlite_commit "$SQL_US" "us/commit  # sqlite3: $N transactions of one 700-byte row after $N more, WAL, synchronous=FULL (fdatasync per commit)"
	awk -v g="$GET_US" -v h="$HOP_US" -v e="$ECDSA_US" -v q="$SQL_US" -v cf="${RATE[cf-1]}" -v sp="${RATE[sp-1]}" 'BEGIN {
		if (h == "n/a" || e == "n/a" || q == "n/a") { print "floor.est.1client: n/a"; exit }
		f = g + h + e + q; b = 1e6 / (3 * cf); s = 1e6 / sp
		printf "floor.est.1client: %.1f certs/s  # 1 / (https_get + process_hop + ecdsa_p256 + sqlite_commit) = 1 / %.0f us\n", 1e6 / f, f
		printf "# one client: the target (3 x cfssl = %.0f certs/s) allows %.0f us per request; the floor above is %.0f us, leaving %.0f us for parsing, policy, building the certificate, its three rows and indexes, the PKCS#7 and the log line (sitepki takes %.0f us per request, %.0f over the floor)\n", 3 * cf, b, f, b - f, s, s - f }' | tee "$T/res/floor"
	FLOOR_SUMMARY=" one-client floor $(awk '/^floor.est/ { print $2 }' "$T/res/floor") certs/s vs target $(awk -v cf="${RATE[cf-1]}" 'BEGIN { printf "%.0f", 3 * cf }') certs/s;"
fi
RSS_OK=$(awk -v a="$SP_HWM" -v b="$SIGNER_HWM" 'BEGIN { print (a + 0 > 0 && a + b < 65536 ? "met" : "not met") }')
echo "# summary: ratio vs cfssl+SQLite target >= 3:$SUMMARY$FLOOR_SUMMARY RSS service + signer $((${SP_HWM:-0} + ${SIGNER_HWM:-0})) KB < 64 MB: $RSS_OK"

# ------------------------------------------------------------------ stores (untimed)
passes=0
for c in $CLIENTS; do passes=$((passes + ROUNDS)); done
stop_pid "$SP_PID"
SP_PID=
grep -q 'stopped cleanly' "$T/serve.err" || warn "sitepki serve did not stop cleanly: $(tail -2 "$T/serve.err" | tr '\n' ' ')"
stop_pid "$CF_PID"
CF_PID=
# the check request + the timed ones (the store also holds the CA, the agent and the HTTPS certificate)
want=$((1 + passes * N))
got=$(sqlite3 "$H/sitepki.db" "select count(*) from certificate where template = 'web-server' and subject like 'CN=leaf%'" 2>/dev/null || echo '?')
if [ "$got" = "$want" ]; then echo "# check: sitepki store holds $got leaf certificates (as expected)"; else warn "sitepki store holds $got leaf certificates, expected $want"; fi
want=$((1 + passes * N))
got=$(sqlite3 "$CFDB" 'select count(*) from certificates' 2>/dev/null || echo '?')
if [ "$got" = "$want" ]; then echo "# check: cfssl certdb holds $got rows (as expected)"; else warn "cfssl certdb holds $got rows, expected $want"; fi

# ------------------------------------------- the signer's own work, in process (after the passes)
if [ -n "$FLOOR_SUMMARY" ]; then
	LIBDIR=$(dirname "$SITEPKI")
	# shellcheck disable=SC2046
	if cc -O2 -std=c11 -I"$ROOT" "$ROOT/bench/signer_driver.c" "$LIBDIR/libsp_ca.a" "$LIBDIR/libsp_templates.a" \
		"$LIBDIR/libsp_revocation.a" "$LIBDIR/libsp_store.a" "$LIBDIR/libsp_common.a" \
		$(pkg-config --libs openssl sqlite3 libxml-2.0) -lpthread -o "$T/signer_driver" 2>"$T/drv.err"; then
		cp -a "$H" "$T/home-drv" # the driver writes N certificates: not into the benchmarked store
		if "$T/signer_driver" "$T/home-drv" "$T/pass" web-server "$T/csr" "$N" >"$T/drv.out" 2>>"$T/drv.err"; then
			awk -v e="$ECDSA_US" -v q="$SQL_US" '{ p = $2; r = $4; c = $6; u = $8 }
				END { printf "sitepki.signer_inprocess.1client: %.1f us/cert  # one CSR per commit, no network or IPC (bench/signer_driver.c): parse + checks + build + sign %.0f, the three rows %.0f, the durable commit %.0f; CPU %.0f\n", p + r + c, p, r, c, u
				      if (e != "n/a" && q != "n/a") printf "#   beyond the floor: parse + checks + build %.0f us (without the two ECDSA operations), the rows %.0f us, the commit %.0f us over the one-row commit\n", p - e, r, c - q }' "$T/drv.out"
		else
			warn "signer_driver: $(head -c 200 "$T/drv.err")"
		fi
		rm -rf "$T/home-drv"
	else
		warn "bench/signer_driver.c did not build: $(head -c 200 "$T/drv.err")"
	fi
fi
run_accounting

#!/bin/bash
# test_crash.sh - crash safety of bulk issuance (docs/issuance.md,
# "Durability"; docs/testing.md layer 5): `issue --batch` is killed with
# SIGKILL at random points, five times in a row on the same home and output
# directory. After every kill: SQLite's integrity_check is ok; certificate,
# request and audit rows were committed together, in whole --commit-every
# chunks; no serial repeats; every file in the output directory holds a
# certificate the store has (byte for byte, for the right request); the
# audit chain verifies. A sixth kill is aimed at the moment an output file is
# being written. Finally an uninterrupted run issues all 400, its files are
# exactly its certificates, and no temporary file (*.tmp*) is left in the
# output directory (one may exist right after a SIGKILL; it must not survive
# the next complete run).
source "$(dirname "$0")/lib.sh"
need sqlite3

N=400
EVERY=50
H=$T/home
new_ca "$H" "Crash Test Root"
mkdir "$T/csr" "$T/out"
"$PY" "$MKCSR" bulk "$T/csr" "$N" crash || die "mkcsr.py bulk"

# invariants LABEL [NEWEST]: the checks above, judged by python3's sqlite3
# module and python3-cryptography (one process), then sitepki's own audit
# verify. With NEWEST the files must be exactly the newest NEWEST
# certificates. Sets TMP_LEFT to the temporary files in the output directory.
invariants() {
	local label=$1
	run "$PY" - "$H/sitepki.db" "${CHECK_OUT:-$T/out}" "$EVERY" "${2:-0}" <<'EOF'
import os, sqlite3, sys
from cryptography import x509
from cryptography.hazmat.primitives import serialization
db, out, every, newest = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
bad = []
c = sqlite3.connect(db)
ic = c.execute("pragma integrity_check").fetchall()
if ic != [("ok",)]:
    bad.append("integrity_check: %s" % ic)
dups = c.execute("select serial, count(*) from certificate group by serial having count(*) > 1").fetchall()
if dups:
    bad.append("repeated serials: %s" % dups[:5])
ncert = c.execute("select count(*) from certificate").fetchone()[0]
nreq = c.execute("select count(*) from request").fetchone()[0]
naud = c.execute("select count(*) from audit").fetchone()[0]
orphans = c.execute("select count(*) from request r left join certificate c on c.serial = r.cert_serial"
                    " where c.serial is null").fetchone()[0]
# the CA's own row has no request; init wrote one audit row
if nreq != ncert - 1 or naud != ncert or orphans:
    bad.append("rows not committed together: %d certificates, %d requests (%d without a certificate), %d audit rows"
               % (ncert, nreq, orphans, naud))
if (ncert - 1) % every:
    bad.append("%d leaves is not a whole number of %d-certificate commits" % (ncert - 1, every))
stored = dict(c.execute("select serial, der from certificate"))
files = sorted(os.listdir(out))
for f in files:
    if ".tmp" in f:
        print("TMP:", f)
npem = 0
seen = set()
for f in files:
    if not f.endswith(".pem"):
        continue
    npem += 1
    try:
        cert = x509.load_pem_x509_certificate(open(os.path.join(out, f), "rb").read())
    except Exception as e:  # noqa: BLE001
        bad.append("%s does not parse: %s" % (f, e))
        continue
    serial = "%X" % cert.serial_number
    seen.add(serial)
    der = cert.public_bytes(serialization.Encoding.DER)
    if serial not in stored:
        bad.append("%s: serial %s is not in the store" % (f, serial))
    elif bytes(stored[serial]) != der:
        bad.append("%s: differs from the store's certificate %s" % (f, serial))
    if cert.subject.rfc4514_string() != "CN=%s.example" % f[:-4]:
        bad.append("%s holds the certificate for %s" % (f, cert.subject.rfc4514_string()))
if newest:
    last = {r[0] for r in c.execute("select serial from certificate order by id desc limit ?", (newest,))}
    if seen != last:
        bad.append("the files are not the newest %d certificates (%d differ)" % (newest, len(seen ^ last)))
for b in bad[:20]:
    print("FAIL:", b)
print("%d leaves in the store, %d files" % (ncert - 1, npem))
sys.exit(1 if bad else 0)
EOF
	STATE=$(tail -n1 "$T/.out")
	TMP_LEFT=$(sed -n 's/^TMP: //p' "$T/.out" | tr '\n' ' ')
	[ -n "$TMP_LEFT" ] && echo "# $label: temporary files in the output directory: $TMP_LEFT"
	if [ "$RC" -eq 0 ]; then
		ok "$label: integrity ok, rows whole, serials unique, every file is a stored certificate ($STATE)"
	else
		fail "$label: invariants broken" "$T/.out" "$T/.err"
	fi
	run sp --home "$H" audit verify
	[ "$RC" -eq 0 ] && ok "$label: audit verify ($(head -n1 "$T/.out"))" || fail "$label: audit verify exited $RC" "$T/.err"
}

leaves() {
	sqlite3 "$H/sitepki.db" "select count(*) - 1 from certificate"
}

# kill_run LABEL DELAY_MS [WAIT_FOR_COMMIT]: start the batch, SIGKILL it after
# DELAY_MS (counted from the first commit when WAIT_FOR_COMMIT is set).
# KILLED=1 if the process was still running; PROGRESS = leaves it committed.
kill_run() {
	local label=$1 ms=$2 after_commit=${3:-} pid st=0 before t
	before=$(leaves)
	"$SITEPKI" --home "$H" issue --template web-server --batch "$T/csr" --out-dir "$T/out" \
		--commit-every "$EVERY" --pass-file "$PASS" >/dev/null 2>"$T/batch.err" &
	pid=$!
	BG_PIDS+=("$pid")
	if [ -n "$after_commit" ]; then
		# wait (at most 5 s) until the run has committed its first chunk
		for ((t = 0; t < 500; t++)); do
			[ "$(leaves)" -gt "$before" ] && break
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.01
		done
	fi
	sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
	kill -9 "$pid" 2>/dev/null || true
	{ wait "$pid"; } 2>/dev/null || st=$?
	KILLED=$([ "$st" -eq 137 ] && echo 1 || echo 0)
	PROGRESS=$(($(leaves) - before))
	if [ "$KILLED" = 1 ]; then
		echo "# $label: SIGKILL after ${ms} ms${after_commit:+ past the first commit}; $PROGRESS certificates committed by this run"
	elif [ "$st" -eq 0 ]; then
		echo "# $label: the run finished before the kill (${ms} ms); $PROGRESS certificates"
	else
		fail "$label: the batch failed on its own (exit $st)" "$T/batch.err"
	fi
}

kills=0
mid=0
attempt=0
# How long one whole run takes on this machine and build (a release build
# can finish 400 certificates before a fixed 1.5 s window is half over, and
# a kill after the end proves nothing): the random points are drawn from the
# first 90% of it.
t0=$(date +%s%N)
"$SITEPKI" --home "$H" issue --template web-server --batch "$T/csr" --out-dir "$T/out" \
	--commit-every "$EVERY" --pass-file "$PASS" >/dev/null 2>"$T/batch.err" || fail "timing run failed" "$T/batch.err"
RUN_MS=$((($(date +%s%N) - t0) / 1000000))
WINDOW=$((RUN_MS * 9 / 10 > 100 ? RUN_MS * 9 / 10 - 50 : 50))
echo "# one whole run takes ${RUN_MS} ms: kills at 50..$((50 + WINDOW)) ms"
invariants "after the timing run"
# Five kills of a live process at random points in that window (a run that
# finished first does not count; at most 15 attempts).
while [ "$kills" -lt 5 ] && [ "$attempt" -lt 15 ]; do
	attempt=$((attempt + 1))
	kill_run "run $attempt" $((50 + RANDOM % (WINDOW + 1)))
	[ "$KILLED" = 1 ] && kills=$((kills + 1))
	[ "$KILLED" = 1 ] && [ "$PROGRESS" -gt 0 ] && [ "$PROGRESS" -lt "$N" ] && mid=$((mid + 1))
	invariants "after run $attempt"
done
[ "$kills" -eq 5 ] && ok "5 runs killed with SIGKILL at random points" || fail "only $kills of $attempt runs could be killed"
# At least one kill must land between two commits, whatever the dice said:
# wait for the first commit, then kill within the next ~0.2 s.
extra=0
while [ "$mid" -eq 0 ] && [ "$extra" -lt 5 ]; do
	extra=$((extra + 1))
	kill_run "mid-batch run $extra" $((RANDOM % 200)) after-commit
	[ "$KILLED" = 1 ] && [ "$PROGRESS" -gt 0 ] && [ "$PROGRESS" -lt "$N" ] && mid=$((mid + 1))
	invariants "after mid-batch run $extra"
done
[ "$mid" -gt 0 ] && ok "$mid run(s) were killed between commits, part of the batch recorded" ||
	fail "no run could be killed in the middle of the batch"

# Aim one more kill at the file-writing phase: SIGKILL as soon as a temporary
# output file exists (at most 5 tries, until one is caught mid-write).
for ((try = 1; try <= 5; try++)); do
	"$SITEPKI" --home "$H" issue --template web-server --batch "$T/csr" --out-dir "$T/out" \
		--commit-every "$EVERY" --pass-file "$PASS" >/dev/null 2>"$T/batch.err" &
	pid=$!
	BG_PIDS+=("$pid")
	while ! compgen -G "$T/out/*.tmp*" >/dev/null && kill -0 "$pid" 2>/dev/null; do :; done
	kill -9 "$pid" 2>/dev/null || true
	{ wait "$pid"; } 2>/dev/null || true
	invariants "after write-phase kill $try"
	[ -n "$TMP_LEFT" ] && break
done

# ---------------------------------------------------- one run to the end
before=$(leaves)
run sp --home "$H" issue --template web-server --batch "$T/csr" --out-dir "$T/out" --commit-every "$EVERY" --pass-file "$PASS"
if [ "$RC" -eq 0 ] && grep -q "^batch: $N issued, 0 refused" "$T/.err" && [ "$(($(leaves) - before))" -eq "$N" ] &&
	[ "$(find "$T/out" -name '*.pem' | wc -l)" -eq "$N" ]; then
	ok "an uninterrupted run issues all $N: exit 0, $N more in the store, $N files"
else
	fail "the uninterrupted run: exit $RC, $(($(leaves) - before)) issued" "$T/.err"
fi
invariants "after the uninterrupted run (its files are exactly its $N certificates)" "$N"
pems=("$T"/out/*.pem)
one=$(basename "${pems[$((RANDOM % ${#pems[@]}))]}")
run sp --home "$H" cert show "$(pem_serial "$T/out/$one")"
[ "$RC" -eq 0 ] && grep -q "${one%.pem}.example" "$T/.out" && ok "cert show finds the certificate in $one" ||
	fail "cert show of the certificate in $one (exit $RC)" "$T/.err"
if [ -z "$TMP_LEFT" ]; then
	ok "no temporary file left in the output directory after the complete run"
else
	fail "temporary files from killed runs are still in the output directory after a complete run: $TMP_LEFT"
fi

# ------------------------------------ two writers and a reader at once
# docs/testing.md: two writers on one store never fail with "database is
# locked"; readers are not blocked either.
before=$(leaves)
pids=()
for w in A B; do
	"$SITEPKI" --home "$H" issue --template web-server --batch "$T/csr" --out-dir "$T/out$w" \
		--commit-every "$EVERY" --pass-file "$PASS" >/dev/null 2>"$T/writer$w.err" &
	pids+=($!)
	BG_PIDS+=($!)
done
readers=0
reader_fail=0
while kill -0 "${pids[0]}" 2>/dev/null || kill -0 "${pids[1]}" 2>/dev/null; do
	"$SITEPKI" --home "$H" cert list --template web-server >/dev/null 2>>"$T/reader.err" || reader_fail=$((reader_fail + 1))
	readers=$((readers + 1))
done
st=()
for p in "${pids[@]}"; do
	s=0
	wait "$p" || s=$?
	st+=("$s")
done
if [ "${st[*]}" = "0 0" ] && [ "$(($(leaves) - before))" -eq $((2 * N)) ] && [ "$reader_fail" -eq 0 ] &&
	! grep -qi "locked\|busy" "$T"/writer?.err "$T/reader.err"; then
	ok "two concurrent batches both issue $N (exit 0, no 'database is locked'); $readers concurrent cert list runs all succeeded"
else
	fail "concurrent writers: exits ${st[*]}, $(($(leaves) - before)) issued of $((2 * N)), $reader_fail of $readers readers failed" \
		"$T/writerA.err" "$T/writerB.err" "$T/reader.err"
fi
CHECK_OUT=$T/outB invariants "after two concurrent writers"

finish

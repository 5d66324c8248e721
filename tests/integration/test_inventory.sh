#!/bin/bash
# test_inventory.sh - the inventory (cert list/show/export), the audit log's
# tamper evidence, file modes and the CA key's encryption, judged by
# openssl, sqlite3 and python3 rather than by sitepki's own output alone.
source "$(dirname "$0")/lib.sh"
need openssl sqlite3

H=$T/home
DB=$H/sitepki.db
new_ca "$H" "Inventory Test Root" --site-code ABC
CA=$H/ca.pem

# ------------------------------------------------------------ issue 52
mkdir "$T/csr" "$T/one"
"$PY" "$MKCSR" bulk "$T/csr" 50 inv || die "mkcsr.py bulk"
"$PY" "$MKCSR" spec "$T/one" <<'EOF' || die "mkcsr.py spec"
[{"name": "pc", "subject": [["O", "Contoso"], ["CN", "pc-inv.corp.example"]], "dns": ["pc-inv.corp.example"]},
 {"name": "pcder", "subject": [["CN", "pcder.corp.example"]]},
 {"name": "quote", "subject": [["CN", "Proxy \"Main\" \\ One, Inc; <x>+#"]]}]
EOF
run sp --home "$H" issue --template web-server --batch "$T/csr" --out-dir "$T/out" --commit-every 20 --pass-file "$PASS"
n_pem=$(find "$T/out" -name '*.pem' | wc -l)
if [ "$RC" -eq 0 ] && [ "$n_pem" -eq 50 ] && grep -q "^batch: 50 issued, 0 refused" "$T/.err"; then
	ok "batch of 50 web-server requests: exit 0, 50 files, reported '50 issued, 0 refused'"
else
	fail "batch of 50: exit $RC, $n_pem files" "$T/.err"
fi
run sp --home "$H" issue --template client-auth --csr "$T/one/pc.csr" --out "$T/pc.pem" --pass-file "$PASS"
[ "$RC" -eq 0 ] || die "issue client-auth exited $RC: $(cat "$T/.err")"
run sp --home "$H" issue --template client-auth --csr "$T/one/pcder.csr" --der --out "$T/pcder.der" --pass-file "$PASS"
[ "$RC" -eq 0 ] || die "issue --der exited $RC: $(cat "$T/.err")"
if openssl x509 -inform DER -in "$T/pcder.der" -noout 2>/dev/null && ! grep -q -- "-----BEGIN" "$T/pcder.der"; then
	ok "issue --der writes one DER certificate"
else
	fail "issue --der output is not a DER certificate"
fi

run sp --home "$H" issue --template isv-proxy --csr "$T/one/quote.csr" --out "$T/quote.pem" --pass-file "$PASS"
[ "$RC" -eq 0 ] || die "issue isv-proxy (quotes) exited $RC: $(cat "$T/.err")"

# ---------------------------------------------------------------- serials
for f in "$T"/out/*.pem; do pem_serial "$f"; done >"$T/serials"
bad=$(grep -cvE '^[0-9A-F]{32}$' "$T/serials" || true)
distinct=$(sort -u "$T/serials" | wc -l)
if [ "$(wc -l <"$T/serials")" -eq 50 ] && [ "$bad" -eq 0 ] && [ "$distinct" -eq 50 ]; then
	ok "the 50 serials are distinct 32-hex-digit (16-byte) values"
else
	fail "serials: $bad not 32 hex digits, $distinct distinct of $(wc -l <"$T/serials")" "$T/serials"
fi
dup=$(sql "$DB" "select serial from certificate group by serial having count(*) > 1")
stored=$(sql "$DB" "select count(*) from certificate where serial in ($(sed "s/.*/'&'/" "$T/serials" | paste -sd,))")
if [ -z "$dup" ] && [ "$stored" -eq 50 ]; then
	ok "every batch serial is in the store, none twice"
else
	fail "store: $stored of 50 batch serials found, duplicates: '$dup'"
fi

# --------------------------------------------------------------- cert list
TOTAL=$(sql "$DB" "select count(*) from certificate")  # the CA itself + 53
# list_count EXPECTED DESC [cert list options...]: number of rows printed
list_count() {
	local want=$1 desc=$2 n
	shift 2
	run sp --home "$H" cert list "$@"
	n=$(grep -c . "$T/.out" || true)
	if [ "$RC" -eq 0 ] && [ "$n" -eq "$want" ]; then
		ok "cert list $* -> $want rows ($desc)"
	else
		fail "cert list $*: exit $RC, $n rows, expected $want ($desc)" "$T/.err"
	fi
}
list_count "$TOTAL" "everything" 
list_count 50 "the batch" --template web-server
list_count 2 "the two client certificates" --template client-auth
list_count 0 "no such template" --template no-such-template
list_count "$TOTAL" "nothing revoked or expired yet" --status valid
list_count 0 "nothing revoked" --status revoked
list_count 0 "nothing expired" --status expired
list_count 0 "nothing expires within a day" --expiring 1d
list_count 3 "client-auth and isv-proxy (365 d) but not web-server (730 d)" --expiring 400d
list_count 50 "the batch, all within 10 years" --template web-server --expiring 3650d
list_count "$TOTAL" "everything, the CA included, within 10 years" --expiring 3650d
list_count 53 "every leaf and not the CA, within 731 days" --expiring 731d
list_count 1 "one host" --subject inv0007
list_count 10 "substring inv000" --subject inv000
list_count 1 "case-insensitive, O=Contoso" --subject contoso
list_count 0 "'_' is a literal, not a LIKE wildcard" --subject _
list_count 0 "'%' is a literal, not a LIKE wildcard" --subject %
list_count 1 "template and subject together" --template web-server --subject inv0042
if grep -q "web-server" "$T/.out" && grep -q "inv0042.example" "$T/.out"; then
	ok "cert list rows show template and subject"
else
	fail "cert list row for inv0042" "$T/.out"
fi
expect_usage "status" "cert list --status bogus" sp --home "$H" cert list --status bogus

# JSON: parsed by python3 and compared with the files openssl reads
run sp --home "$H" cert list --template web-server --json
cp "$T/.out" "$T/list.json"
check "cert list --json: valid JSON whose 50 rows match the issued files (serial, sha256, sha1, subject, sans, dates)" \
	"$PY" - "$T/list.json" "$T/out" <<'EOF'
import json, sys, os, hashlib, datetime
from cryptography import x509
from cryptography.hazmat.primitives import serialization
rows = json.load(open(sys.argv[1]))
assert isinstance(rows, list) and len(rows) == 50, "expected 50 rows, got %d" % len(rows)
files = {}
for f in os.listdir(sys.argv[2]):
    c = x509.load_pem_x509_certificate(open(os.path.join(sys.argv[2], f), "rb").read())
    files["%032X" % c.serial_number] = c
for r in rows:
    c = files.pop(r["serial"].upper())
    der = c.public_bytes(serialization.Encoding.DER)
    assert r["sha256"].lower() == hashlib.sha256(der).hexdigest(), r
    assert r["sha1"].lower() == hashlib.sha1(der).hexdigest(), r
    assert r["status"] == "valid" and r["template"] == "web-server", r
    cn = c.subject.rfc4514_string()
    assert r["subject"] == cn, (r["subject"], cn)
    assert cn[3:] in r["sans"], (r["sans"], cn)
    iso = lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert r["not_before"] == iso(c.not_valid_before) and r["not_after"] == iso(c.not_valid_after), r
assert not files, "rows missing for %s" % list(files)
print("50 rows match")
EOF
run sp --home "$H" cert list --subject Main --json
cp "$T/.out" "$T/quote.json"
check "cert list --json escapes a subject with quotes, backslash, comma, <, +, # (python3 json, compared with python3-cryptography)" \
	"$PY" - "$T/quote.json" "$T/quote.pem" <<'EOF'
import json, sys
from cryptography import x509
rows = json.load(open(sys.argv[1]))
assert len(rows) == 1, rows
c = x509.load_pem_x509_certificate(open(sys.argv[2], "rb").read())
assert c.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == 'Proxy "Main" \\ One, Inc; <x>+#'
assert rows[0]["template"] == "isv-proxy" and rows[0]["subject"] == c.subject.rfc4514_string(), (rows, c.subject.rfc4514_string())
print(rows[0]["subject"])
EOF
# --subject TEXT is a substring of the subject as the certificate holds it:
# "Contoso, Ltd." is an O value administrators type with its comma.
list_count 1 "a value with a comma, typed as it is in the certificate" --subject "One, Inc"
list_count 1 "a value with quotes, typed as it is in the certificate" --subject '"Main"'
run sp --home "$H" cert list --status revoked --json
if [ "$RC" -eq 0 ] && [ "$("$PY" -c 'import json,sys; print(json.load(sys.stdin))' <"$T/.out")" = "[]" ]; then
	ok "cert list --json with no rows is []"
else
	fail "cert list --json with no rows" "$T/.out" "$T/.err"
fi

# expired, seen from the future (faketime moves the clock of the process only)
if command -v faketime >/dev/null 2>&1; then
	run faketime -f "+740d" "$SITEPKI" --home "$H" cert list --status expired
	n=$(grep -c . "$T/.out" || true)
	if [ "$RC" -eq 0 ] && [ "$n" -eq 53 ]; then
		ok "faketime +740d: cert list --status expired shows the 53 leaves, not the CA"
	else
		fail "faketime +740d: cert list --status expired: exit $RC, $n rows (expected 53)" "$T/.out" "$T/.err"
	fi
	run faketime -f "+740d" "$SITEPKI" --home "$H" cert list --status valid
	if [ "$RC" -eq 0 ] && [ "$(grep -c . "$T/.out")" -eq 1 ] && grep -q "Inventory Test Root" "$T/.out"; then
		ok "faketime +740d: cert list --status valid shows only the CA"
	else
		fail "faketime +740d: cert list --status valid: exit $RC" "$T/.out" "$T/.err"
	fi
fi

# --------------------------------------------------------------- cert show
F=$T/pc.pem
S=$(pem_serial "$F")
SHA256=$(openssl x509 -in "$F" -noout -fingerprint -sha256 | sed 's/.*=//')  # AB:CD:... upper case
SHA1=$(openssl x509 -in "$F" -noout -fingerprint -sha1 | sed 's/.*=//')
show_is() { # DESC KEY
	run sp --home "$H" cert show "$2"
	if [ "$RC" -eq 0 ] && grep -Eq "^serial: +$S$" "$T/.out" && grep -q "pc-inv.corp.example" "$T/.out"; then
		ok "cert show by $1"
	else
		fail "cert show by $1 ($2): exit $RC" "$T/.out" "$T/.err"
	fi
}
show_is "serial (upper case)" "$S"
show_is "serial (lower case)" "${S,,}"
show_is "serial with colons" "$(sed 's/../&:/g; s/:$//' <<<"$S")"
show_is "SHA-256 with colons, upper case" "$SHA256"
show_is "SHA-256 without colons, lower case" "$(tr -d : <<<"${SHA256,,}")"
show_is "SHA-1 thumbprint with colons" "$SHA1"
show_is "SHA-1 thumbprint as Windows shows it (spaces, lower case)" "$(tr : ' ' <<<"${SHA1,,}")"
run sp --home "$H" cert show "$S" --json
cp "$T/.out" "$T/show.json"
check "cert show --json: serial, sha256, template, sans" "$PY" -c '
import json, sys
r = json.load(open(sys.argv[1]))
assert r["serial"].upper() == sys.argv[2], r
assert r["sha256"].lower() == sys.argv[3].replace(":", "").lower(), r
assert r["template"] == "client-auth" and r["status"] == "valid", r
assert "pc-inv.corp.example" in r["sans"], r
' "$T/show.json" "$S" "$SHA256"
expect_fail 8 "no certificate|not found" "cert show of an unknown serial" \
	sp --home "$H" cert show 7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF
expect_fail 8 "no certificate|not found" "cert show of an unknown SHA-256" \
	sp --home "$H" cert show "$(printf '%064d' 0)"
expect_fail 8 "no certificate|not found" "cert export of an unknown serial" \
	sp --home "$H" cert export 7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF --der

# ------------------------------------------------------------- cert export
openssl x509 -in "$F" -outform DER -out "$T/pc.openssl.der"
run sp --home "$H" cert export "$S" --der --out "$T/pc.export.der"
if [ "$RC" -eq 0 ] && cmp -s "$T/pc.openssl.der" "$T/pc.export.der"; then
	ok "cert export --der --out is byte-identical to openssl x509 -outform DER of the issued PEM"
else
	fail "cert export --der --out (exit $RC) differs from the issued certificate" "$T/.err"
fi
run sp --home "$H" cert export "$SHA1" --der
if [ "$RC" -eq 0 ] && cmp -s "$T/pc.openssl.der" "$T/.out"; then
	ok "cert export --der to stdout (by thumbprint) is byte-identical"
else
	fail "cert export --der to stdout (exit $RC)"
fi
run sp --home "$H" cert export "$S"
if [ "$RC" -eq 0 ] && cmp -s "$F" "$T/.out"; then
	ok "cert export (PEM) equals the PEM issue wrote"
else
	fail "cert export PEM differs from the issued file (exit $RC)"
fi
DS=$(openssl x509 -inform DER -in "$T/pcder.der" -noout -serial | sed 's/.*=//')
run sp --home "$H" cert export "$DS" --der
if [ "$RC" -eq 0 ] && cmp -s "$T/pcder.der" "$T/.out"; then
	ok "issue --der output is byte-identical to cert export --der"
else
	fail "issue --der and cert export --der differ (exit $RC)"
fi
run sp --home "$H" cert export "$S" --chain --out "$T/pc.chain.pem"
n=$(grep -c -- "-----BEGIN CERTIFICATE-----" "$T/pc.chain.pem" 2>/dev/null || true)
awk '/BEGIN CERT/{n++} n==2' "$T/pc.chain.pem" >"$T/chain.ca.pem" 2>/dev/null || true
if [ "$RC" -eq 0 ] && [ "$n" -eq 2 ] && cmp -s <(openssl x509 -in "$T/chain.ca.pem" -outform DER) <(openssl x509 -in "$CA" -outform DER) &&
	openssl verify -x509_strict -purpose sslclient -CAfile "$T/chain.ca.pem" "$T/pc.chain.pem" >/dev/null 2>&1; then
	ok "cert export --chain: leaf + the CA certificate, and the leaf verifies with it (openssl)"
else
	fail "cert export --chain: exit $RC, $n certificates" "$T/.err"
fi
expect_usage "DER|chain" "cert export --chain --der is a usage error" sp --home "$H" cert export "$S" --chain --der
# python3-cryptography reads the whole inventory: every stored DER is a
# certificate signed by the CA (sqlite3 -> python, no sitepki involved)
check "every certificate in the store parses and verifies with the CA key (python3-cryptography)" "$PY" - "$DB" "$CA" <<'EOF'
import sqlite3, sys
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
ca = x509.load_pem_x509_certificate(open(sys.argv[2], "rb").read())
n = 0
for serial, der in db.execute("select serial, der from certificate"):
    c = x509.load_der_x509_certificate(der)
    assert "%X" % c.serial_number == serial, serial
    ca.public_key().verify(c.signature, c.tbs_certificate_bytes, ec.ECDSA(c.signature_hash_algorithm))
    n += 1
print(n, "certificates verified")
EOF

# --------------------------------------------------------------- the audit log
check "audit verify on the untouched log" sp --home "$H" audit verify
N=$(sql "$DB" "select count(*) from audit")
run sp --home "$H" audit list
if [ "$RC" -eq 0 ] && [ "$(grep -c . "$T/.out")" -eq "$N" ] && [ "$(grep -c ' issue ' "$T/.out")" -eq 53 ]; then
	ok "audit list shows all $N rows, 53 of them issue rows"
else
	fail "audit list: exit $RC, $(grep -c . "$T/.out") rows of $N" "$T/.err"
fi
sql "$DB" "pragma wal_checkpoint(TRUNCATE)" >/dev/null
TRIGGERS=$(sql "$DB" "select name from sqlite_master where type = 'trigger' and tbl_name = 'audit'")
# tamper NAME SQL: a copy of the home with the audit table edited by SQL
tamper() {
	local home=$T/$1 t
	cp -a "$H" "$home"
	for t in $TRIGGERS; do sql "$home/sitepki.db" "drop trigger $t"; done
	sql "$home/sitepki.db" "$2"
	echo "$home"
}
# the triggers stop casual edits (they are not the protection: the chain is)
cp -a "$H" "$T/trig"
if ! sql "$T/trig/sitepki.db" "update audit set detail = 'x' where id = 2" 2>/dev/null &&
	! sql "$T/trig/sitepki.db" "delete from audit where id = 2" 2>/dev/null; then
	ok "triggers refuse UPDATE and DELETE on the audit table"
else
	fail "UPDATE or DELETE on the audit table went through"
fi
M=$((N / 2))
home=$(tamper edited "update audit set detail = detail || ' (edited)' where id = $M")
expect_fail 5 "\b$M\b" "audit verify names row $M after its detail was edited" sp --home "$home" audit verify
home=$(tamper edited-time "update audit set time = time - 86400 where id = $M")
expect_fail 5 "\b$M\b" "audit verify names row $M after its time was changed" sp --home "$home" audit verify
home=$(tamper deleted "delete from audit where id = $M")
expect_fail 5 "\b($M|$((M + 1)))\b" "audit verify names row $M after it was deleted" sp --home "$home" audit verify
home=$(tamper newest "delete from audit where id = $N")
expect_fail 5 "\b($N|$((N - 1)))\b" "audit verify names row $N after the newest row was deleted" sp --home "$home" audit verify
home=$(tamper first "delete from audit where id = 1")
expect_fail 5 "\b(1|2)\b" "audit verify after the first row was deleted" sp --home "$home" audit verify
home=$(tamper swapped "update audit set id = -1 where id = $M; update audit set id = $M where id = $((M + 1)); update audit set id = $((M + 1)) where id = -1")
expect_fail 5 "\b($M|$((M + 1)))\b" "audit verify after rows $M and $((M + 1)) were swapped" sp --home "$home" audit verify
home=$(tamper wiped "delete from audit; delete from meta where key like 'audit_head%'")
expect_fail 5 "audit|head|row" "audit verify after the whole log and its head were deleted" sp --home "$home" audit verify
check "audit verify on the original home is still ok" sp --home "$H" audit verify

# ------------------------------------------------------- files and the key
modes="home $(file_mode "$H") db $(file_mode "$DB") key $(file_mode "$H/ca-key.pem")"
for f in "$DB-wal" "$DB-shm"; do [ -e "$f" ] && modes="$modes ${f##*-} $(file_mode "$f")"; done
if [[ "$modes" =~ ^home\ 700\ db\ 600\ key\ 600(\ wal\ 600)?(\ shm\ 600)?$ ]]; then
	ok "modes: $modes"
else
	fail "modes: $modes (expected home 700, store and key files 600)"
fi
if [ "$(head -n1 "$H/ca-key.pem")" = "-----BEGIN ENCRYPTED PRIVATE KEY-----" ]; then
	ok "ca-key.pem starts with -----BEGIN ENCRYPTED PRIVATE KEY-----"
else
	fail "ca-key.pem starts with '$(head -n1 "$H/ca-key.pem")'"
fi
run openssl pkcs8 -in "$H/ca-key.pem" -passin "file:$PASS" -topk8 -nocrypt
if [ "$RC" -eq 0 ] && grep -q -- "-----BEGIN PRIVATE KEY-----" "$T/.out" &&
	cmp -s <(openssl pkey -in "$T/.out" -pubout) <(openssl x509 -in "$CA" -noout -pubkey); then
	ok "openssl pkcs8 decrypts the CA key with the passphrase, and it is the CA certificate's key"
else
	fail "openssl pkcs8 -passin file:pass (exit $RC)" "$T/.err"
fi
printf 'not the passphrase\n' >"$T/wrong.pass"
run openssl pkcs8 -in "$H/ca-key.pem" -passin "file:$T/wrong.pass" -topk8 -nocrypt
[ "$RC" -ne 0 ] && ok "openssl pkcs8 fails with another passphrase" || fail "openssl pkcs8 decrypted the key with a wrong passphrase"
run openssl asn1parse -in "$H/ca-key.pem"
iter=$(grep -A3 ":PBKDF2" "$T/.out" | sed -n 's/.*INTEGER *:\([0-9A-F]*\).*/\1/p' | head -n1)
if grep -q ":PBES2" "$T/.out" && grep -q ":PBKDF2" "$T/.out" && grep -q ":hmacWithSHA256" "$T/.out" &&
	grep -q ":aes-256-cbc" "$T/.out" && [ -n "$iter" ] && [ $((16#$iter)) -ge 600000 ]; then
	ok "openssl asn1parse: PBES2, PBKDF2 ($((16#$iter)) iterations), hmacWithSHA256, aes-256-cbc"
else
	fail "CA key encryption as openssl asn1parse shows it (iterations '$iter')" "$T/.out"
fi

finish

#!/bin/bash
# test_media.sh - boot-media / PXE certificates as an administrator makes
# them: `sitepki media create` generates the key on the CA side and writes a
# password-protected PKCS#12, `media export` writes an archived key again,
# `media list` shows the state. Judges: openssl pkcs12, NSS pk12util,
# GnuTLS certtool and python3-cryptography read the files (right password
# opens, wrong or empty does not; algorithms and iteration counts as
# claimed; key matches the certificate; chain complete and verifying to the
# root, also from an intermediate); store and audit judged with sqlite3;
# refusals (bad passwords, unusable output paths) leave no certificate and
# no file behind.
source "$(dirname "$0")/lib.sh"
need openssl sqlite3 certtool pk12util certutil script

R=$T/root
I=$T/int
OUT=$T/out
mkdir -p "$OUT"
new_ca "$R" "Media Test Root"
run sp --home "$I" init --name "Media Test Issuing CA" --key rsa-2048 --intermediate "$R" \
	--parent-pass-file "$PASS" --pass-file "$PASS"
[ "$RC" -eq 0 ] || die "init --intermediate exited $RC: $(cat "$T/.err")"

# password files (mode 0600, first line) and a scratch NSS database
PW=$T/pw PW2=$T/pw2 BADPW=$T/badpw EMPTYPW=$T/emptypw SHORTPW=$T/shortpw
printf 'Boot media password 1\n' >"$PW"
printf 'another password, for the re-export\n' >"$PW2"
printf 'not the password\n' >"$BADPW"
: >"$EMPTYPW"
printf '1234567\n' >"$SHORTPW"
chmod 600 "$PW" "$PW2" "$BADPW" "$EMPTYPW" "$SHORTPW"
NSS=$T/nss
mkdir "$NSS"
certutil -N --empty-password -d "sql:$NSS" >/dev/null 2>&1 || die "certutil -N"

certs() { sql "$1/sitepki.db" "select count(*) from certificate"; }
media_rows() { sql "$1/sitepki.db" "select count(*) from media"; }
# leftovers OUTDIR: files in OUTDIR (temp files included)
leftovers() { find "$1" -mindepth 1 -maxdepth 1 | wc -l; }

# p12_judges DESC FILE PWFILE: openssl, NSS and GnuTLS open FILE with the
# password in PWFILE, and refuse a wrong and an empty password.
p12_judges() {
	local desc=$1 f=$2 pw=$3
	run openssl pkcs12 -info -noout -in "$f" -passin "file:$pw"
	[ "$RC" -eq 0 ] && ok "$desc: openssl pkcs12 -info opens it with the password" || fail "$desc: openssl pkcs12 -info (exit $RC)" "$T/.err"
	run openssl pkcs12 -info -noout -in "$f" -passin "file:$BADPW"
	[ "$RC" -ne 0 ] && ok "$desc: openssl refuses a wrong password" || fail "$desc: openssl opened it with a wrong password"
	run openssl pkcs12 -info -noout -in "$f" -passin pass:
	[ "$RC" -ne 0 ] && ok "$desc: openssl refuses an empty password" || fail "$desc: openssl opened it without a password"
	run pk12util -l "$f" -w "$pw" -d "sql:$NSS"
	[ "$RC" -eq 0 ] && grep -q "Certificate(has private key)" "$T/.out" && ok "$desc: NSS pk12util -l opens it (certificate with its private key)" ||
		fail "$desc: pk12util -l (exit $RC)" "$T/.out" "$T/.err"
	run pk12util -l "$f" -w "$BADPW" -d "sql:$NSS"
	[ "$RC" -ne 0 ] && ok "$desc: NSS refuses a wrong password" || fail "$desc: NSS opened it with a wrong password"
	run pk12util -l "$f" -w "$EMPTYPW" -d "sql:$NSS"
	[ "$RC" -ne 0 ] && ok "$desc: NSS refuses an empty password" || fail "$desc: NSS opened it with an empty password"
	# GnuTLS: --p12-info checks the MAC and decrypts the certificate bags;
	# the shrouded key bag it prints is then decrypted with --key-info
	run certtool --p12-info --inraw --infile "$f" --password "$(head -n1 "$pw")"
	cp "$T/.out" "$T/certtool.out"
	sed -n '/BEGIN ENCRYPTED PRIVATE KEY/,/END ENCRYPTED PRIVATE KEY/p' "$T/certtool.out" >"$T/certtool.key"
	[ "$RC" -eq 0 ] && grep -q "BEGIN CERTIFICATE" "$T/certtool.out" && ok "$desc: certtool --p12-info verifies the MAC and decrypts the certificates" ||
		fail "$desc: certtool --p12-info (exit $RC)" "$T/.err"
	run certtool --key-info --pkcs8 --infile "$T/certtool.key" --password "$(head -n1 "$pw")"
	local kid cid
	kid=$(grep -A1 "^Public Key ID:" "$T/.out" | sed -n 's/^[[:space:]]*sha256://p')
	cid=$(openssl pkcs12 -in "$f" -passin "file:$pw" -clcerts -nokeys 2>/dev/null | certtool --certificate-info 2>/dev/null |
		grep -A2 "Public Key ID:" | sed -n 's/^[[:space:]]*sha256://p' | head -n1)
	[ "$RC" -eq 0 ] && [ -n "$kid" ] && [ "$kid" = "$cid" ] &&
		ok "$desc: certtool decrypts the key bag, and the key's ID is the certificate's (sha256:${kid:0:16}...)" ||
		fail "$desc: certtool key bag (exit $RC, key id '$kid', certificate '$cid')" "$T/.err"
	run certtool --p12-info --inraw --infile "$f" --password "wrong password"
	[ "$RC" -ne 0 ] && ok "$desc: certtool refuses a wrong password" || fail "$desc: certtool opened it with a wrong password"
}

# p12_parts FILE PWFILE PREFIX: PREFIX.key (PKCS#8, clear), PREFIX.crt (the
# certificate with the key), PREFIX.ca (the other certificates), by openssl.
p12_parts() {
	openssl pkcs12 -in "$1" -passin "file:$2" -nocerts -nodes 2>/dev/null | openssl pkey -out "$3.key" &&
		openssl pkcs12 -in "$1" -passin "file:$2" -clcerts -nokeys 2>/dev/null | openssl x509 -out "$3.crt" &&
		openssl pkcs12 -in "$1" -passin "file:$2" -cacerts -nokeys -out "$3.ca" 2>/dev/null
}
# same_key KEY CERT: the public key of KEY is the certificate's
same_key() {
	cmp -s <(openssl pkey -in "$1" -pubout -outform DER) <(openssl x509 -in "$2" -noout -pubkey | openssl pkey -pubin -outform DER)
}

# ================================================ create, default form
before=$(certs "$I")
run sp --home "$I" media create --name "PXE DP Lyon" --dns pxe1.lyon.corp.example --password-file "$PW" \
	--out "$OUT/lyon.pfx" --pass-file "$PASS"
[ "$RC" -eq 0 ] || die "media create (intermediate): exit $RC $(cat "$T/.err")"
SERIAL=$(cat "$T/.out")
[[ "$SERIAL" =~ ^[0-9A-F]{2,40}$ ]] && ok "media create prints the serial ($SERIAL) on stdout" || fail "media create stdout is not a serial: '$SERIAL'"
grep -q "PBES2 AES-256-CBC, PBKDF2-HMAC-SHA256, MAC SHA-256, 600000 iterations" "$T/.err" &&
	ok "media create says what it wrote: $(cut -c1-150 "$T/.err")" || fail "media create stderr" "$T/.err"
[ "$(certs "$I")" -eq $((before + 1)) ] && [ "$(media_rows "$I")" -eq 1 ] && ok "one certificate and one media row recorded" ||
	fail "certificates $before -> $(certs "$I"), media rows $(media_rows "$I")"
[ "$(file_mode "$OUT/lyon.pfx")" = 600 ] && ok "the PKCS#12 is mode 0600 (umask $(umask))" || fail "PKCS#12 mode $(file_mode "$OUT/lyon.pfx")"
[ "$(leftovers "$OUT")" -eq 1 ] && ok "nothing else in the output directory (no temp file)" || fail "output directory: $(ls "$OUT")"

p12_judges "default form" "$OUT/lyon.pfx" "$PW"
# the algorithms and iterations, as the outside tools decode them
run openssl pkcs12 -info -noout -in "$OUT/lyon.pfx" -passin "file:$PW"
cp "$T/.err" "$T/info.txt"
n=$(grep -c "PBES2, PBKDF2, AES-256-CBC, Iteration 600000, PRF hmacWithSHA256" "$T/info.txt")
[ "$n" -eq 2 ] && grep -q "^Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC, Iteration 600000, PRF hmacWithSHA256" "$T/info.txt" &&
	grep -q "^PKCS7 Encrypted data: PBES2, PBKDF2, AES-256-CBC, Iteration 600000, PRF hmacWithSHA256" "$T/info.txt" &&
	ok "openssl: key bag and certificate bags are PBES2, PBKDF2, AES-256-CBC, Iteration 600000, PRF hmacWithSHA256" ||
	fail "openssl pkcs12 -info does not show PBES2/AES-256/600000/hmacWithSHA256 for both bags" "$T/info.txt"
grep -q "^MAC: sha256, Iteration 600000" "$T/info.txt" && ok "openssl: MAC: sha256, Iteration 600000" ||
	fail "openssl pkcs12 -info MAC line" "$T/info.txt"
! grep -Eqi "3DES|TripleDES|RC2|sha1" "$T/info.txt" && ok "openssl: no 3DES, RC2 or SHA-1 anywhere in the default form" ||
	fail "weak algorithm in the default form" "$T/info.txt"
grep -q "MAC: SHA256" "$T/certtool.out" && [ "$(grep -c "Iteration count: 600000" "$T/certtool.out")" -ge 3 ] &&
	[ "$(grep -c "Schema: PBES2-AES256-CBC" "$T/certtool.out")" -ge 2 ] &&
	ok "certtool agrees: MAC SHA256, PBES2-AES256-CBC, 600000 iterations (MAC, certificates, key)" ||
	fail "certtool --p12-info does not show the same algorithms" "$T/certtool.out"

# key, certificate, chain
p12_parts "$OUT/lyon.pfx" "$PW" "$T/lyon" || die "openssl pkcs12 could not split the file"
same_key "$T/lyon.key" "$T/lyon.crt" && ok "the key in the PKCS#12 is the certificate's key (public keys compared by openssl)" ||
	fail "key and certificate differ"
[ "$(pem_serial "$T/lyon.crt")" = "$SERIAL" ] && ok "the certificate in the file is the one printed ($SERIAL)" || fail "serial in the file: $(pem_serial "$T/lyon.crt")"
[ "$(grep -c 'BEGIN CERTIFICATE' "$T/lyon.ca")" -eq 2 ] && ok "the file carries two more certificates (intermediate and root)" ||
	fail "chain in the file: $(grep -c 'BEGIN CERTIFICATE' "$T/lyon.ca") certificates"
run openssl verify -x509_strict -purpose sslclient -CAfile "$R/ca.pem" -untrusted "$T/lyon.ca" "$T/lyon.crt"
[ "$RC" -eq 0 ] && ok "openssl verify -x509_strict -purpose sslclient -CAfile root -untrusted <chain from the file>" ||
	fail "openssl verify with the chain from the file" "$T/.out" "$T/.err"
run openssl verify -CAfile "$R/ca.pem" "$T/lyon.crt"
[ "$RC" -ne 0 ] && ok "(without the file's chain it does not verify: the chain is what makes it work)" || fail "verified without the chain?"
check "python3-cryptography: friendly name, RSA-2048, clientAuth, SAN, chain = intermediate + root" \
	"$PY" - "$OUT/lyon.pfx" "$PW" "$I/ca.pem" "$R/ca.pem" <<'EOF'
import sys
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID
pw = open(sys.argv[2], "rb").read().split(b"\n")[0]
p = pkcs12.load_pkcs12(open(sys.argv[1], "rb").read(), pw)
assert p.cert.friendly_name == b"PXE DP Lyon", p.cert.friendly_name
c = p.cert.certificate
assert p.key.key_size == 2048, p.key.key_size
assert c.public_key().public_numbers() == p.key.public_key().public_numbers()
assert c.subject.rfc4514_string() == "CN=PXE DP Lyon", c.subject
assert ExtendedKeyUsageOID.CLIENT_AUTH in c.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
assert c.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName) == ["pxe1.lyon.corp.example"]
want = {x509.load_pem_x509_certificate(open(f, "rb").read()) for f in sys.argv[3:5]}
got = {a.certificate for a in p.additional_certs}
assert got == want and len(p.additional_certs) == 2, p.additional_certs
print("ok")
EOF

# ============================================== root home, --iter, --legacy
run sp --home "$R" media create --name "Old WinPE media" --password-file "$PW" --out "$OUT/winpe.pfx" --legacy --iter 20000 --pass-file "$PASS"
[ "$RC" -eq 0 ] || die "media create --legacy: exit $RC $(cat "$T/.err")"
LSERIAL=$(cat "$T/.out")
grep -q "legacy PKCS#12 (3DES/SHA-1) for old WinPE clients" "$T/.err" && ok "the CLI says legacy: $(cut -c1-120 "$T/.err")" ||
	fail "media create --legacy does not say so" "$T/.err"
p12_judges "legacy form" "$OUT/winpe.pfx" "$PW"
run openssl pkcs12 -info -noout -in "$OUT/winpe.pfx" -passin "file:$PW"
cp "$T/.err" "$T/linfo.txt"
[ "$(grep -c "pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 20000" "$T/linfo.txt")" -eq 2 ] &&
	grep -q "^MAC: sha1, Iteration 20000" "$T/linfo.txt" && ! grep -q "PBES2\|AES" "$T/linfo.txt" &&
	ok "openssl: legacy = pbeWithSHA1And3-KeyTripleDES-CBC for key and certificates, MAC sha1, Iteration 20000 (no legacy provider needed)" ||
	fail "legacy algorithms" "$T/linfo.txt"
p12_parts "$OUT/winpe.pfx" "$PW" "$T/winpe" || die "split legacy file"
same_key "$T/winpe.key" "$T/winpe.crt" && ok "legacy: key matches the certificate" || fail "legacy: key and certificate differ"
[ "$(grep -c 'BEGIN CERTIFICATE' "$T/winpe.ca")" -eq 1 ] && cmp -s <(openssl x509 -in "$T/winpe.ca" -outform DER) <(openssl x509 -in "$R/ca.pem" -outform DER) &&
	ok "root home: the chain is the root certificate itself" || fail "root home chain" "$T/winpe.ca"
run openssl verify -x509_strict -CAfile "$R/ca.pem" "$T/winpe.crt"
[ "$RC" -eq 0 ] && ok "legacy: openssl verify -CAfile root" || fail "legacy verify" "$T/.err"
[ "$(sql "$R/sitepki.db" "select legacy || ' ' || export_count || ' ' || (exported_at > 0) from media where serial = '$LSERIAL'")" = "1 1 1" ] &&
	ok "store: the legacy export is recorded (legacy 1, one export)" || fail "media row of the legacy export"

# ====================================================== media list states
state_of() { # HOME SERIAL: the state media list --json gives
	sp --home "$1" media list --json | "$PY" -c 'import json,sys; print([r["state"] for r in json.load(sys.stdin) if r["serial"] == sys.argv[1]][0])' "$2"
}
run sp --home "$I" media list
grep -Eq "^$SERIAL +valid +[0-9T:-]+Z +1 +no +PXE DP Lyon$" "$T/.out" && ok "media list: $SERIAL valid, 1 export, not archived, name" ||
	fail "media list line" "$T/.out"
[ "$(state_of "$I" "$SERIAL")" = valid ] && ok "media list --json: valid" || fail "state $(state_of "$I" "$SERIAL")"
run sp --home "$I" block add "$SERIAL" --reason "USB stick lost"
[ "$RC" -eq 0 ] || fail "block add: exit $RC" "$T/.err"
[ "$(state_of "$I" "$SERIAL")" = blocked ] && ok "media list: blocked after block add" || fail "state after block: $(state_of "$I" "$SERIAL")"
run sp --home "$I" revoke "$SERIAL" --reason keyCompromise
[ "$RC" -eq 0 ] || fail "revoke: exit $RC" "$T/.err"
[ "$(state_of "$I" "$SERIAL")" = revoked ] && ok "media list: revoked after revoke (revoked wins over blocked)" || fail "state after revoke: $(state_of "$I" "$SERIAL")"

# ============================================================ archive, export
run sp --home "$I" media create --name "PXE DP Nantes" --password-file "$PW" --out "$OUT/nantes.pfx" --archive --iter 10000 --pass-file "$PASS"
[ "$RC" -eq 0 ] || die "media create --archive: exit $RC $(cat "$T/.err")"
ASERIAL=$(cat "$T/.out")
[ "$(sql "$I/sitepki.db" "select archived_key is not null from media where serial = '$ASERIAL'")" = 1 ] &&
	[ "$(sql "$I/sitepki.db" "select archived_key is null from media where serial = '$SERIAL'")" = 1 ] &&
	ok "store: the key is archived only when --archive was given" || fail "archived_key columns"
# the archive is CMS EnvelopedData to the CA certificate: openssl cms -decrypt with the CA key opens it
sql "$I/sitepki.db" "select writefile('$T/arch.der', archived_key) from media where serial = '$ASERIAL'" >/dev/null
openssl pkey -in "$I/ca-key.pem" -passin "file:$PASS" -out "$T/ca.key" 2>/dev/null || die "openssl pkey (CA key)"
run openssl cms -decrypt -inform DER -in "$T/arch.der" -recip "$I/ca.pem" -inkey "$T/ca.key" -binary -out "$T/arch.p8"
openssl pkcs12 -in "$OUT/nantes.pfx" -passin "file:$PW" -clcerts -nokeys 2>/dev/null | openssl x509 -out "$T/nantes.crt"
[ "$RC" -eq 0 ] && openssl pkey -inform DER -in "$T/arch.p8" -out "$T/arch.key" 2>/dev/null && same_key "$T/arch.key" "$T/nantes.crt" &&
	ok "the archived key is CMS EnvelopedData that openssl cms -decrypt opens with the CA key, and it is the certificate's key" ||
	fail "openssl cms -decrypt of the archive (exit $RC)" "$T/.err"
openssl cms -cmsout -print -inform DER -in "$T/arch.der" >"$T/arch.txt" 2>&1
grep -q "rsaesOaep" "$T/arch.txt" && grep -q "aes-256-cbc" "$T/arch.txt" && ok "archive: RSA-OAEP to the RSA CA, content AES-256-CBC" ||
	fail "archive algorithms" "$T/arch.txt"
rm -f "$T/ca.key" "$T/arch.p8" "$T/arch.key"

run sp --home "$I" media export "$(tr A-F a-f <<<"$ASERIAL" | sed 's/../&:/g; s/:$//')" --password-file "$PW2" --out "$OUT/nantes2.pfx" --iter 10000 --pass-file "$PASS"
[ "$RC" -eq 0 ] && ok "media export (serial typed lower case with colons) with a new password: exit 0" || fail "media export: exit $RC" "$T/.err"
run openssl pkcs12 -info -noout -in "$OUT/nantes2.pfx" -passin "file:$PW2"
[ "$RC" -eq 0 ] && ok "the re-export opens with the new password" || fail "re-export with the new password (exit $RC)" "$T/.err"
run openssl pkcs12 -info -noout -in "$OUT/nantes2.pfx" -passin "file:$PW"
[ "$RC" -ne 0 ] && ok "the re-export does not open with the old password" || fail "re-export opened with the old password"
run pk12util -l "$OUT/nantes2.pfx" -w "$PW2" -d "sql:$NSS"
[ "$RC" -eq 0 ] && ok "NSS opens the re-export" || fail "pk12util re-export (exit $RC)" "$T/.err"
p12_parts "$OUT/nantes2.pfx" "$PW2" "$T/n2" || die "split re-export"
cmp -s <(openssl pkey -in "$T/n2.key" -pubout -outform DER) <(openssl x509 -in "$T/nantes.crt" -noout -pubkey | openssl pkey -pubin -outform DER) &&
	[ "$(pem_serial "$T/n2.crt")" = "$ASERIAL" ] && ok "the re-export holds the same certificate and the same key" ||
	fail "re-export: different key or certificate"
[ "$(file_mode "$OUT/nantes2.pfx")" = 600 ] && ok "the re-export is mode 0600" || fail "re-export mode $(file_mode "$OUT/nantes2.pfx")"
[ "$(sql "$I/sitepki.db" "select export_count from media where serial = '$ASERIAL'")" = 2 ] && ok "store: two exports counted" || fail "export_count"
run sp --home "$I" media list
grep -Eq "^$ASERIAL +valid +[0-9T:-]+Z +2 +yes +PXE DP Nantes$" "$T/.out" && ok "media list: 2 exports, archived yes" || fail "media list after export" "$T/.out"
n=$(leftovers "$OUT")
expect_fail 8 "without --archive.*cannot be exported" "media export of a certificate created without --archive" \
	sp --home "$I" media export "$SERIAL" --password-file "$PW2" --out "$OUT/lyon2.pfx" --pass-file "$PASS"
expect_fail 8 "not a boot-media certificate" "media export of a serial that is no media certificate" \
	sp --home "$I" media export "$(pem_serial "$I/ca.pem")" --password-file "$PW2" --out "$OUT/ca.pfx" --pass-file "$PASS"
expect_fail 9 "exists.*never overwritten" "media export onto an existing file" \
	sp --home "$I" media export "$ASERIAL" --password-file "$PW2" --out "$OUT/nantes.pfx" --iter 10000 --pass-file "$PASS"
[ "$(leftovers "$OUT")" -eq "$n" ] && ok "... no file and no temp file from the refused exports" || fail "refused exports left files: $(ls "$OUT")"
openssl pkcs12 -info -noout -in "$OUT/nantes.pfx" -passin "file:$PW" 2>/dev/null && ok "... and the existing file still opens with its own password" ||
	fail "the existing file was changed"
run sp --home "$I" block add "$ASERIAL" --reason "PXE service point decommissioned"
expect_fail 6 "blocked" "media export of a blocked certificate" \
	sp --home "$I" media export "$ASERIAL" --password-file "$PW2" --out "$OUT/blocked.pfx" --iter 10000 --pass-file "$PASS"
[ ! -e "$OUT/blocked.pfx" ] && ok "... wrote nothing" || fail "export of a blocked certificate wrote a file"

# =============================== refusals: nothing issued, nothing written
RO=$T/refused
mkdir "$RO"
snap() { SNAP="certs $(certs "$R"), media $(media_rows "$R"), audit $(audit_count "$R")"; }
unchanged() {
	local now="certs $(certs "$R"), media $(media_rows "$R"), audit $(audit_count "$R")"
	[ "$now" = "$SNAP" ] && [ "$(leftovers "$RO")" -eq 0 ] && ok "$1: store unchanged ($now), nothing in the output directory" ||
		fail "$1: '$SNAP' -> '$now', output directory: $(ls -A "$RO" | tr '\n' ' ')"
}
mc() { sp --home "$R" media create --name "Refused" --pass-file "$PASS" "$@"; }
snap
expect_fail 7 "empty" "an empty password file" mc --password-file "$EMPTYPW" --out "$RO/x.pfx"
expect_fail 7 "too short.*at least 8" "a 7-character password" mc --password-file "$SHORTPW" --out "$RO/x.pfx"
expect_fail 3 "$T/nope" "a password file that does not exist" mc --password-file "$T/nope" --out "$RO/x.pfx"
printf 'readable by all\n' >"$T/pw644" && chmod 644 "$T/pw644"
expect_fail 11 "group/others" "a password file others can read" mc --password-file "$T/pw644" --out "$RO/x.pfx"
unset SP_MEDIA_PW_UNSET
expect_fail 7 "SP_MEDIA_PW_UNSET is not set" "--password-env naming an unset variable" mc --password-env SP_MEDIA_PW_UNSET --out "$RO/x.pfx"
expect_fail 7 "empty" "--password-env naming an empty variable" env SP_MEDIA_PW_EMPTY= "$SITEPKI" --home "$R" media create --name Refused \
	--pass-file "$PASS" --password-env SP_MEDIA_PW_EMPTY --out "$RO/x.pfx"
expect_fail 7 "short" "--password-env with 5 characters" env SP_MEDIA_PW=abcde "$SITEPKI" --home "$R" media create --name Refused \
	--pass-file "$PASS" --password-env SP_MEDIA_PW --out "$RO/x.pfx"
expect_usage "password is needed" "no password option and no terminal" mc --out "$RO/x.pfx" </dev/null
expect_usage "not both" "--password-file and --password-env together" mc --password-file "$PW" --password-env X --out "$RO/x.pfx"
expect_fail 7 "below the minimum of 10000" "--iter 9999" mc --password-file "$PW" --out "$RO/x.pfx" --iter 9999
expect_usage "whole number" "--iter abc" mc --password-file "$PW" --out "$RO/x.pfx" --iter abc
expect_fail 6 "web-server.*serverKeyGen" "a template without serverKeyGen" mc --template web-server --password-file "$PW" --out "$RO/x.pfx"
expect_fail 3 "$RO/missing" "--out in a directory that does not exist" mc --password-file "$PW" --out "$RO/missing/x.pfx"
expect_fail 3 "is a directory" "--out naming an existing directory" mc --password-file "$PW" --out "$RO"
expect_fail 3 "/proc" "--out under /proc" mc --password-file "$PW" --out /proc/sitepki-media.pfx
expect_usage "standard output" "--out -" mc --password-file "$PW" --out -
expect_fail 14 "passphrase|decrypt" "a wrong CA passphrase" sp --home "$R" media create --name Refused --pass-file "$BADPW" --password-file "$PW" --out "$RO/x.pfx"
expect_fail 6 "media name" "a name with a non-ASCII character" mc --name "caf$(printf '\xc3\xa9')" --password-file "$PW" --out "$RO/x.pfx"
# on a terminal (script(1) gives the command a pty) the password is asked
# for twice; two different entries are refused
printf 'prompted password\nanother password\n' | script -qec "$(printf '%q ' "$SITEPKI" --home "$R" media create --name Prompted \
	--pass-file "$PASS" --out "$RO/x.pfx")" /dev/null >"$T/tty.out" 2>&1 && RC=0 || RC=$?
[ "$RC" -eq 7 ] && grep -q "Verifying - PKCS#12 password" "$T/tty.out" && grep -q "^sitepki: .*differ" <(tr -d '\r' <"$T/tty.out") &&
	ok "terminal prompt: asked twice, two different entries refused (exit 7)" || fail "terminal prompt with different entries: exit $RC" "$T/tty.out"
unchanged "after every refused create"
printf 'existing\n' >"$RO/exists.pfx"
snap
expect_fail 9 "never overwritten" "--out naming an existing file" mc --password-file "$PW" --out "$RO/exists.pfx"
[ "$(cat "$RO/exists.pfx")" = existing ] && ok "... the existing file is untouched" || fail "the existing file was changed"
rm -f "$RO/exists.pfx"
unchanged "after the refused overwrite"

# a password from the environment works (and needs no file)
run env SP_MEDIA_PW="environment password" "$SITEPKI" --home "$R" media create --name "Env media" --pass-file "$PASS" \
	--password-env SP_MEDIA_PW --out "$RO/env.pfx" --iter 10000
[ "$RC" -eq 0 ] && openssl pkcs12 -info -noout -in "$RO/env.pfx" -passin pass:"environment password" 2>/dev/null &&
	ok "--password-env: the file opens with the variable's value" || fail "--password-env create (exit $RC)" "$T/.err"

printf 'prompted password\nprompted password\n' | script -qec "$(printf '%q ' "$SITEPKI" --home "$R" media create --name Prompted \
	--pass-file "$PASS" --out "$RO/tty.pfx" --iter 10000)" /dev/null >"$T/tty.out" 2>&1 && RC=0 || RC=$?
[ "$RC" -eq 0 ] && openssl pkcs12 -info -noout -in "$RO/tty.pfx" -passin pass:"prompted password" 2>/dev/null &&
	ok "terminal prompt: the password typed twice protects the file" || fail "terminal prompt: exit $RC" "$T/tty.out"

# ================================================================ audit
for h in "$R" "$I"; do
	check "audit verify ($(basename "$h"))" sp --home "$h" audit verify
done
[ "$(audit_count "$I" media-create)" -eq 2 ] && [ "$(audit_count "$I" media-export)" -eq 3 ] &&
	ok "audit: media-create per certificate, media-export per file written (2 and 3)" ||
	fail "audit rows: $(audit_count "$I" media-create) media-create, $(audit_count "$I" media-export) media-export"
[ "$(sql "$I/sitepki.db" "select count(*) from audit where action like 'media-%' and subject not in (select serial from media)")" = 0 ] &&
	ok "audit: every media row names its serial" || fail "media audit rows without a media serial"
leak=0
for h in "$R" "$I"; do
	for p in "$PW" "$PW2"; do
		grep -aqF "$(head -n1 "$p")" "$h/sitepki.db" "$h"/sitepki.db-wal 2>/dev/null && leak=1
	done
	grep -aqF "environment password" "$h/sitepki.db" "$h"/sitepki.db-wal 2>/dev/null && leak=1
done
[ "$leak" -eq 0 ] && ok "no PKCS#12 password appears anywhere in the stores" || fail "a password is in a store file"

finish

#!/bin/bash
# test_hierarchy.sh - CA hierarchies: a sitepki root with a sitepki
# intermediate, and a sitepki CA signed by an external root (plain openssl
# x509 -req, as any other PKI would). Chains are judged by openssl verify,
# certtool and NSS; the init/import refusals must leave homes as they were.
source "$(dirname "$0")/lib.sh"
need openssl certtool sqlite3

R=$T/root
I=$T/int
E=$T/ext
PASS2=$T/pass2
printf 'a different passphrase for the intermediate\n' >"$PASS2"
chmod 600 "$PASS2"

# der_eq A B: same certificate (PEM or DER in, DER compared)
der_eq() {
	cmp -s <(openssl x509 -in "$1" -outform DER 2>/dev/null) <(openssl x509 -in "$2" -outform DER 2>/dev/null)
}
# nth_cert FILE N: the Nth PEM certificate of FILE
nth_cert() {
	awk -v n="$2" '/-----BEGIN CERTIFICATE-----/{i++} i==n' "$1"
}
# tree_sum DIR: names, modes and contents of every file below DIR
tree_sum() {
	(cd "$1" && find . -printf '%p %m\n' | sort && find . -type f -print0 | sort -z | xargs -0r sha256sum)
}

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/leaf.key" 2>/dev/null

# ======================================================= sitepki intermediate
new_ca "$R" "Hierarchy Root"
ca_before=$(store_count "$R")
run sp --home "$I" init --name "Hierarchy Issuing CA" --key rsa-2048 --intermediate "$R" \
	--parent-pass-file "$PASS" --pass-file "$PASS2"
[ "$RC" -eq 0 ] || die "init --intermediate exited $RC: $(cat "$T/.err")"
ok "init --intermediate (rsa-2048) signed by the sitepki root"

run openssl verify -x509_strict -CAfile "$R/ca.pem" "$I/ca.pem"
[ "$RC" -eq 0 ] && ok "openssl verify -x509_strict: the intermediate chains to the root" ||
	fail "openssl verify of the intermediate" "$T/.out" "$T/.err"
check "the intermediate's profile (python3-cryptography): CA:TRUE pathlen 0 critical, keyCertSign+cRLSign, AKI, CDP/AIA, RSA-2048, inside the root" \
	"$PY" - "$I/ca.pem" "$R/ca.pem" <<'EOF'
import sys
from cryptography import x509
from cryptography.x509.oid import ExtensionOID as X
from cryptography.hazmat.primitives.asymmetric import rsa, ec
c = x509.load_pem_x509_certificate(open(sys.argv[1], "rb").read())
r = x509.load_pem_x509_certificate(open(sys.argv[2], "rb").read())
g = c.extensions.get_extension_for_oid
bc = g(X.BASIC_CONSTRAINTS)
assert bc.critical and bc.value.ca and bc.value.path_length == 0, bc
ku = g(X.KEY_USAGE)
assert ku.critical and ku.value.key_cert_sign and ku.value.crl_sign and not ku.value.digital_signature, ku
assert g(X.AUTHORITY_KEY_IDENTIFIER).value.key_identifier == r.extensions.get_extension_for_oid(X.SUBJECT_KEY_IDENTIFIER).value.digest
assert g(X.SUBJECT_KEY_IDENTIFIER).value.digest == x509.SubjectKeyIdentifier.from_public_key(c.public_key()).digest
assert g(X.CRL_DISTRIBUTION_POINTS) and g(X.AUTHORITY_INFORMATION_ACCESS)
assert isinstance(c.public_key(), rsa.RSAPublicKey) and c.public_key().key_size == 2048
assert c.issuer == r.subject and c.subject.rfc4514_string() == "CN=Hierarchy Issuing CA"
r.public_key().verify(c.signature, c.tbs_certificate_bytes, ec.ECDSA(c.signature_hash_algorithm))
assert r.not_valid_before <= c.not_valid_before and c.not_valid_after <= r.not_valid_after
assert (c.serial_number.bit_length() // 8) + 1 == 16
print("intermediate conforms")
EOF
der_eq "$I/chain.pem" "$R/ca.pem" && [ "$(grep -c 'BEGIN CERT' "$I/chain.pem")" -eq 1 ] &&
	ok "the intermediate's chain.pem is the root certificate" || fail "intermediate chain.pem is not the root certificate"

# the root recorded what it signed, as template subordinate-ca
ISER=$(pem_serial "$I/ca.pem")
run sp --home "$R" cert list --template subordinate-ca --json
cp "$T/.out" "$T/sub.json"
check "the root's cert list shows the subordinate CA (template subordinate-ca, its serial and subject)" \
	"$PY" -c '
import json, sys
rows = json.load(open(sys.argv[1]))
assert len(rows) == 1, rows
assert rows[0]["serial"].upper() == sys.argv[2] and rows[0]["subject"] == "CN=Hierarchy Issuing CA", rows
assert rows[0]["template"] == "subordinate-ca" and rows[0]["status"] == "valid", rows
' "$T/sub.json" "$ISER"
run sp --home "$R" cert export "$ISER" --der
[ "$RC" -eq 0 ] && cmp -s "$T/.out" <(openssl x509 -in "$I/ca.pem" -outform DER) &&
	ok "the root's store holds the intermediate's exact DER" || fail "the root's copy of the intermediate differs"
read -r c1 r1 a1 <<<"$ca_before"
read -r c2 r2 a2 <<<"$(store_count "$R")"
if [ "$c2" -eq $((c1 + 1)) ] && [ "$a2" -eq $((a1 + 1)) ]; then
	ok "the root's store gained one certificate and one audit row"
else
	fail "root store went from '$ca_before' to '$c2 $r2 $a2'"
fi
check "audit verify on the root" sp --home "$R" audit verify
run sp --home "$I" ca show --json
cp "$T/.out" "$T/int.json"
check "ca show --json on the intermediate: active, rsa-2048, intermediate" "$PY" -c '
import json, sys
j = json.load(open(sys.argv[1]))
assert j["state"] == "active" and j["key"] == "rsa-2048" and j["intermediate"] is True, j
' "$T/int.json"

# a wrong parent passphrase fails before anything is created
before=$(tree_sum "$R")
expect_fail 14 "passphrase|decrypt" "init --intermediate with the wrong parent passphrase" \
	sp --home "$T/int2" init --name "Second Issuing CA" --intermediate "$R" --parent-pass-file "$PASS2" --pass-file "$PASS2"
[ ! -e "$T/int2" ] && [ "$before" = "$(tree_sum "$R")" ] &&
	ok "... and left neither a new home nor any change in the root" || fail "failed intermediate init left traces"

# ------------------------------------------------ a leaf from the intermediate
openssl req -new -key "$T/leaf.key" -subj "/CN=mp.corp.example" -out "$T/leaf.csr" 2>/dev/null
run sp --home "$I" issue --template web-server --csr "$T/leaf.csr" --dns mp.corp.example --chain \
	--out "$T/leaf-chain.pem" --pass-file "$PASS2"
[ "$RC" -eq 0 ] || die "issue from the intermediate exited $RC: $(cat "$T/.err")"
nth_cert "$T/leaf-chain.pem" 1 >"$T/leaf.pem"
nth_cert "$T/leaf-chain.pem" 2 >"$T/c2.pem"
nth_cert "$T/leaf-chain.pem" 3 >"$T/c3.pem"
if [ "$(grep -c 'BEGIN CERT' "$T/leaf-chain.pem")" -eq 3 ] && der_eq "$T/c2.pem" "$I/ca.pem" && der_eq "$T/c3.pem" "$R/ca.pem"; then
	ok "issue --chain writes leaf + intermediate + root, in that order"
else
	fail "issue --chain output is not leaf + intermediate + root"
fi
run openssl verify -x509_strict -purpose sslserver -CAfile "$R/ca.pem" -untrusted "$I/ca.pem" "$T/leaf.pem"
[ "$RC" -eq 0 ] && ok "openssl verify -x509_strict -purpose sslserver -CAfile root -untrusted intermediate" ||
	fail "openssl verify of the leaf through the intermediate" "$T/.out" "$T/.err"
run openssl verify -x509_strict -CAfile "$R/ca.pem" "$T/leaf.pem"
[ "$RC" -ne 0 ] && ok "openssl verify without the intermediate fails (the root did not sign the leaf)" ||
	fail "the leaf verified against the root alone"
run certtool --verify --load-ca-certificate "$R/ca.pem" --infile "$T/leaf-chain.pem" --verify-purpose=1.3.6.1.5.5.7.3.1
[ "$RC" -eq 0 ] && grep -q "Chain verification output: Verified" "$T/.out" &&
	ok "certtool --verify: the --chain output verifies to the root" || fail "certtool --verify of the chain" "$T/.out" "$T/.err"
ca_urls "$I"
check "the leaf's profile against the intermediate (python3-cryptography, RSA-signed)" \
	"$PY" "$CHECK_CERT" --cert "$T/leaf.pem" --ca "$I/ca.pem" --csr "$T/leaf.csr" --subject CN=mp.corp.example \
	--eku 1.3.6.1.5.5.7.3.1 --ku digitalSignature,keyEncipherment --days 730 --dns mp.corp.example --key rsa \
	--crl-url "$CRL_URL" --aia-url "$AIA_URL"
run sp --home "$I" cert export "$(pem_serial "$T/leaf.pem")" --chain
[ "$RC" -eq 0 ] && cmp -s "$T/.out" "$T/leaf-chain.pem" && ok "cert export --chain equals issue --chain" ||
	fail "cert export --chain differs from issue --chain (exit $RC)"
if command -v certutil >/dev/null 2>&1; then
	N=$T/nss
	mkdir "$N"
	certutil -N --empty-password -d "sql:$N" >/dev/null 2>&1
	certutil -A -n root -t CT,, -i "$R/ca.pem" -d "sql:$N"
	certutil -A -n int -t ,, -i "$I/ca.pem" -d "sql:$N"
	certutil -A -n leaf -t ,, -i "$T/leaf.pem" -d "sql:$N"
	run certutil -V -u V -n leaf -d "sql:$N"
	[ "$RC" -eq 0 ] && grep -q "certificate is valid" "$T/.out" && ok "NSS certutil -V -u V through the intermediate" ||
		fail "NSS certutil -V -u V" "$T/.out" "$T/.err"
fi

# amt-web-server needs RSA <= 2048 in every CA of the chain: the intermediate
# is RSA-2048, but the root above it is EC.
openssl req -new -key "$T/leaf.key" -subj "/CN=amt1.corp.example" -out "$T/amt.csr" 2>/dev/null
before=$(store_count "$I")
expect_fail 6 "Hierarchy Root|RSA|chain" "amt-web-server from an RSA-2048 intermediate below an EC root" \
	sp --home "$I" issue --template amt-web-server --csr "$T/amt.csr" --dns amt1.corp.example --pass-file "$PASS2"
[ "$(store_count "$I")" = "$before" ] || fail "the refused amt-web-server request changed the store"

# The intermediate is pathLenConstraint 0: it may sign leaves only. A CA
# below it would be created for nothing - every certificate that CA issued
# would fail path validation ("path length constraint exceeded") - so init
# must refuse before anything is created, and the intermediate's store must
# not record a subordinate.
before=$(store_count "$I")
run sp --home "$T/int3" init --name "Third Level CA" --intermediate "$I" --parent-pass-file "$PASS2" --pass-file "$PASS"
why_not_refused '6|7' "path|length|leaves|subordinate|intermediate"
if [ -z "$WHY" ] && [ ! -e "$T/int3" ] && [ "$(store_count "$I")" = "$before" ]; then
	ok "init --intermediate below a pathlen:0 intermediate is refused (exit $RC: $(head -n1 "$T/.err"))"
else
	fail "init --intermediate below a pathlen:0 intermediate: ${WHY:-left traces} (home $( [ -e "$T/int3" ] && echo created || echo absent), intermediate store '$before' -> '$(store_count "$I")')" "$T/.err"
fi

# ====================================================== external root
# The root is plain openssl; it never sees sitepki.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/xroot.key" -subj "/O=Elsewhere/CN=External Root" -days 3650 \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
	-addext "subjectKeyIdentifier=hash" -out "$T/xroot.pem" 2>/dev/null || die "making the external root"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/other.key" -subj "/CN=Some Other Root" -days 3650 \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
	-addext "subjectKeyIdentifier=hash" -out "$T/other.pem" 2>/dev/null || die "making another root"
cat >"$T/ca.ext" <<'EOF'
[v3]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF
# xsign CSR OUT SECTION [CA CAKEY]
xsign() {
	openssl x509 -req -in "$1" -out "$2" -CA "${4:-$T/xroot.pem}" -CAkey "${5:-$T/xroot.key}" -set_serial "0x$(openssl rand -hex 16)" \
		-days "${XDAYS:-1825}" -sha256 -extfile "$T/ca.ext" -extensions "$3" 2>/dev/null || die "openssl x509 -req ($3)"
}

run sp --home "$E" init --name "Externally Signed CA" --key rsa-2048 --csr "$T/ext.csr" --pass-file "$PASS"
[ "$RC" -eq 0 ] || die "init --csr exited $RC: $(cat "$T/.err")"
if openssl req -in "$T/ext.csr" -verify -noout 2>&1 | grep -q "verify OK" &&
	[ "$(openssl req -in "$T/ext.csr" -noout -subject -nameopt RFC2253)" = "subject=CN=Externally Signed CA" ] &&
	cmp -s "$T/ext.csr" "$E/ca.csr" && [ ! -e "$E/ca.pem" ]; then
	ok "init --csr: a self-signed CSR for CN=Externally Signed CA (also kept as ca.csr), no ca.pem yet"
else
	fail "init --csr output"
fi
before=$(store_count "$E")
openssl req -new -key "$T/leaf.key" -subj "/CN=www.corp.example" -out "$T/x-leaf.csr" 2>/dev/null
run sp --home "$E" issue --template web-server --csr "$T/x-leaf.csr" --dns www.corp.example --pass-file "$PASS"
why_not_refused '2|5|6|7' "import-cert|certificate"
[ -z "$WHY" ] && [ "$before" = "$(store_count "$E")" ] &&
	ok "issue before import-cert is refused and says what to do (exit $RC: $(head -n1 "$T/.err"))" ||
	fail "issue before import-cert: ${WHY:-store changed}" "$T/.out" "$T/.err"

# refusals: wrong key, not a CA, a chain that does not lead to the issuer, garbage
openssl req -new -newkey rsa:2048 -nodes -keyout /dev/null -subj "/CN=Externally Signed CA" -out "$T/otherkey.csr" 2>/dev/null
xsign "$T/otherkey.csr" "$T/x-otherkey.pem" v3
xsign "$T/ext.csr" "$T/x-notca.pem" leaf
# the root grants only 300 days: leaves (web-server asks 730) must be clipped
XDAYS=300 xsign "$T/ext.csr" "$T/x-good.pem" v3
xsign "$T/ext.csr" "$T/x-byother.pem" v3 "$T/other.pem" "$T/other.key"
printf 'garbage\n' >"$T/garbage.pem"
state_before=$(tree_sum "$E")
import_refused() { # DESC REGEX CERT CHAIN
	run sp --home "$E" ca import-cert --cert "$3" --chain "$4"
	why_not_refused '2|7' "$2"
	[ -z "$WHY" ] && [ "$state_before" != "" ] && [ "$(tree_sum "$E")" = "$state_before" ] && WHY="" ||
		WHY=${WHY:-"the home changed"}
	[ -z "$WHY" ] && ok "ca import-cert refuses $1 (exit $RC: $(head -n1 "$T/.err" | cut -c1-140))" ||
		fail "ca import-cert with $1: $WHY" "$T/.out" "$T/.err"
}
import_refused "a certificate for a different key" "key" "$T/x-otherkey.pem" "$T/xroot.pem"
import_refused "a non-CA certificate for the right key" "CA" "$T/x-notca.pem" "$T/xroot.pem"
import_refused "a chain that does not lead to the issuer" "verify|chain|issuer" "$T/x-byother.pem" "$T/xroot.pem"
import_refused "a garbage certificate file" "certificate|PEM" "$T/garbage.pem" "$T/xroot.pem"
import_refused "a garbage chain file" "chain|certificate|PEM" "$T/x-good.pem" "$T/garbage.pem"
run sp --home "$E" ca show --json
grep -q '"state":"awaiting-certificate"' "$T/.out" && ok "after the refusals the CA is still awaiting its certificate" ||
	fail "CA state after refused imports" "$T/.out"

run sp --home "$E" ca import-cert --cert "$T/x-good.pem" --chain "$T/xroot.pem"
[ "$RC" -eq 0 ] || die "ca import-cert exited $RC: $(cat "$T/.err")"
if der_eq "$E/ca.pem" "$T/x-good.pem" && der_eq "$E/chain.pem" "$T/xroot.pem"; then
	ok "ca import-cert: ca.pem is the externally signed certificate, chain.pem the external root"
else
	fail "ca import-cert wrote other files"
fi
run sp --home "$E" ca show --json
grep -q '"state":"active"' "$T/.out" && ok "ca show: active after import" || fail "ca show after import" "$T/.out"
run sp --home "$E" ca import-cert --cert "$T/x-good.pem" --chain "$T/xroot.pem"
[ "$RC" -ne 0 ] && grep -Eiq "already" "$T/.err" && ok "a second import-cert is refused (exit $RC)" ||
	fail "second import-cert (exit $RC)" "$T/.err"

run sp --home "$E" issue --template web-server --csr "$T/x-leaf.csr" --dns www.corp.example --chain \
	--out "$T/x-leaf-chain.pem" --pass-file "$PASS"
[ "$RC" -eq 0 ] || die "issue from the externally signed CA exited $RC: $(cat "$T/.err")"
nth_cert "$T/x-leaf-chain.pem" 1 >"$T/x-leaf.pem"
[ "$(grep -c 'BEGIN CERT' "$T/x-leaf-chain.pem")" -eq 3 ] && ok "issue --chain from it: leaf + CA + external root" ||
	fail "issue --chain from the externally signed CA"
run openssl verify -x509_strict -purpose sslserver -CAfile "$T/xroot.pem" -untrusted "$E/ca.pem" "$T/x-leaf.pem"
[ "$RC" -eq 0 ] && ok "openssl verify -x509_strict: the leaf chains to the external root" ||
	fail "openssl verify of the leaf to the external root" "$T/.out" "$T/.err"
run certtool --verify --load-ca-certificate "$T/xroot.pem" --infile "$T/x-leaf-chain.pem"
[ "$RC" -eq 0 ] && grep -q "Chain verification output: Verified" "$T/.out" &&
	ok "certtool --verify: the leaf chains to the external root" || fail "certtool --verify to the external root" "$T/.out"
ca_urls "$E"
check "the leaf's profile against the externally signed CA (python3-cryptography)" \
	"$PY" "$CHECK_CERT" --cert "$T/x-leaf.pem" --ca "$E/ca.pem" --csr "$T/x-leaf.csr" --subject CN=www.corp.example \
	--eku 1.3.6.1.5.5.7.3.1 --ku digitalSignature,keyEncipherment --days 730 --dns www.corp.example --key rsa \
	--crl-url "$CRL_URL" --aia-url "$AIA_URL"
na_leaf=$(openssl x509 -in "$T/x-leaf.pem" -noout -enddate)
na_ca=$(openssl x509 -in "$E/ca.pem" -noout -enddate)
[ "$na_leaf" = "$na_ca" ] && ok "the leaf's notAfter is clipped to the 300-day CA certificate ($na_leaf)" ||
	fail "leaf $na_leaf outlives or differs from the CA's $na_ca"
# the whole chain is RSA-2048 and SHA-256: both AMT server templates issue
for tpl in amt-web-server amt-provisioning; do
	run sp --home "$E" issue --template "$tpl" --csr "$T/amt.csr" --dns amt1.corp.example --chain \
		--out "$T/x-$tpl.pem" --pass-file "$PASS"
	if [ "$RC" -eq 0 ] && openssl verify -x509_strict -purpose sslserver -CAfile "$T/xroot.pem" -untrusted "$T/x-$tpl.pem" \
		"$T/x-$tpl.pem" >/dev/null 2>&1; then
		ok "$tpl from the RSA-2048/SHA-256 external chain, verified by openssl"
	else
		fail "$tpl from the RSA-2048/SHA-256 external chain (exit $RC)" "$T/.err"
	fi
done
check "audit verify on the externally signed CA" sp --home "$E" audit verify

# An external root with an RSA-3072 key that signed itself with SHA-1 (the
# CA below it is RSA-2048, signed with SHA-256): amt-provisioning allows no
# SHA-1 anywhere in the chain, the root included; amt-web-server no CA key
# above RSA-2048.
openssl req -x509 -sha1 -newkey rsa:3072 -nodes -keyout "$T/sha1root.key" -subj "/CN=Legacy SHA1 Root" -days 3650 \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
	-addext "subjectKeyIdentifier=hash" -out "$T/sha1root.pem" 2>/dev/null || die "making the SHA-1 root"
E2=$T/ext2
run sp --home "$E2" init --name "Below Legacy Root" --key rsa-2048 --csr "$T/ext2.csr" --pass-file "$PASS"
[ "$RC" -eq 0 ] || die "init --csr (2) exited $RC: $(cat "$T/.err")"
xsign "$T/ext2.csr" "$T/x2.pem" v3 "$T/sha1root.pem" "$T/sha1root.key"
run sp --home "$E2" ca import-cert --cert "$T/x2.pem" --chain "$T/sha1root.pem"
if [ "$RC" -eq 0 ]; then
	before=$(store_count "$E2")
	expect_fail 6 "SHA-1|SHA1" "amt-provisioning below a root self-signed with SHA-1" \
		sp --home "$E2" issue --template amt-provisioning --csr "$T/amt.csr" --pass-file "$PASS"
	expect_fail 6 "3072|RSA" "amt-web-server below an RSA-3072 root" \
		sp --home "$E2" issue --template amt-web-server --csr "$T/amt.csr" --dns amt1.corp.example --pass-file "$PASS"
	[ "$(store_count "$E2")" = "$before" ] || fail "refused AMT requests changed the store"
else
	fail "ca import-cert below the SHA-1 root exited $RC" "$T/.err"
fi

# ================================================== init must not clobber
mkdir "$T/busy"
echo "keep me" >"$T/busy/notes.txt"
chmod 755 "$T/busy"
before=$(tree_sum "$T/busy")
expect_fail 9 "not empty" "init into a non-empty directory" \
	sp --home "$T/busy" init --name "Clobber" --pass-file "$PASS"
[ "$(tree_sum "$T/busy")" = "$before" ] && [ "$(file_mode "$T/busy")" = 755 ] &&
	ok "... and the directory is exactly as it was" || fail "init changed a non-empty directory"
before=$(tree_sum "$R")
expect_fail 9 "not empty" "init over an existing CA home" sp --home "$R" init --name "Clobber" --pass-file "$PASS"
[ "$(tree_sum "$R")" = "$before" ] && ok "... and the CA home is untouched" || fail "init over a CA home changed it"

# ================================================ failed init leaves nothing
run sp --home "$T/badkey" init --name "Bad Key" --key rsa-1024 --pass-file "$PASS"
[ "$RC" -ne 0 ] && [ "$RC" -ne 1 ] && grep -q "rsa-1024" "$T/.err" && [ ! -e "$T/badkey" ] &&
	ok "init --key rsa-1024 fails (exit $RC) naming the key and leaves no directory" ||
	fail "init --key rsa-1024: exit $RC, directory $( [ -e "$T/badkey" ] && echo exists || echo absent)" "$T/.err"
run sp --home "$T/badsite" init --name "Bad Site" --site-code AB --pass-file "$PASS"
[ "$RC" -ne 0 ] && [ ! -e "$T/badsite" ] && ok "init --site-code AB fails (exit $RC) and leaves no directory" ||
	fail "init --site-code AB: exit $RC" "$T/.err"
run sp --home "$T/badname" init --name "Wurzel-CA für Köln" --pass-file "$PASS"
[ "$RC" -ne 0 ] && [ ! -e "$T/badname" ] && ok "init with a non-ASCII CA name fails (exit $RC) and leaves no directory" ||
	fail "init with a non-ASCII name: exit $RC" "$T/.err"
# a failure after the home was created and the key written: the CSR cannot be written
run sp --home "$T/latefail" init --name "Late Failure" --csr "$T/no/such/dir/x.csr" --pass-file "$PASS"
[ "$RC" -ne 0 ] && [ ! -e "$T/latefail" ] && ok "init --csr into a missing directory fails (exit $RC) and removes the new home" ||
	fail "init --csr into a missing directory: exit $RC, leftovers: $(ls -A "$T/latefail" 2>/dev/null | tr '\n' ' ')" "$T/.err"
mkdir "$T/emptyhome"
run sp --home "$T/emptyhome" init --name "Late Failure" --csr "$T/no/such/dir/x.csr" --pass-file "$PASS"
[ "$RC" -ne 0 ] && [ -d "$T/emptyhome" ] && [ -z "$(ls -A "$T/emptyhome")" ] &&
	ok "the same into an existing empty directory leaves it empty" ||
	fail "failed init in an empty directory left: $(ls -A "$T/emptyhome" 2>/dev/null | tr '\n' ' ')"

finish

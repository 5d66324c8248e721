#!/bin/bash
# test_crl.sh - `sitepki crl publish|show|check|schedule` judged by relying
# parties we did not write: openssl verify -crl_check (and -use_deltas),
# certtool --verify --load-crl, openssl crl / certtool --crl-info, openssl
# asn1parse, and python3-cryptography for the profile (v2, SHA-256, AKI,
# CRLNumber, reasons, IDP = the certificates' CDP, FreshestCRL, delta
# indicator, times). Also: numbers never go back (backup restore), expired
# certificates leave the CRL (faketime), the AIA file, atomic writes.
source "$(dirname "$0")/lib.sh"
need openssl certtool sqlite3 faketime

H=$T/home
DB=$H/sitepki.db
new_ca "$H" "CRL Test Root"
CA=$H/ca.pem
ca_urls "$H"
PUB=$H/publish
FULL=$PUB/crl/${CRL_URL##*/}
FULLPEM=$FULL.pem

# ------------------------------------------------------------ the judge
cat >"$T/judge.py" <<'EOF'
"""judge.py CRL [options]: assert facts about a CRL (DER or PEM) with
python3-cryptography and a small DER walk; print a one-line summary."""
import argparse, datetime, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtensionOID, ObjectIdentifier, SignatureAlgorithmOID

EXPIRED_CERTS_ON_CRL = ObjectIdentifier("2.5.29.60")
KNOWN = {ExtensionOID.CRL_NUMBER, ExtensionOID.AUTHORITY_KEY_IDENTIFIER, ExtensionOID.ISSUING_DISTRIBUTION_POINT,
         ExtensionOID.FRESHEST_CRL, ExtensionOID.DELTA_CRL_INDICATOR, EXPIRED_CERTS_ON_CRL}

def tlv(b, i):
    tag, n = b[i], b[i + 1]
    i += 2
    if n & 0x80:
        k = n & 0x7f
        n = int.from_bytes(b[i:i + k], "big")
        i += k
    return tag, i, i + n

p = argparse.ArgumentParser()
p.add_argument("crl")
p.add_argument("--ca", required=True)
p.add_argument("--number", type=int)
p.add_argument("--entries", type=int)
p.add_argument("--lifetime", type=int, help="nextUpdate - thisUpdate in seconds")
p.add_argument("--now", type=int, help="thisUpdate within 300 s of this")
p.add_argument("--base", type=int, help="a delta CRL on this base (-1: a full CRL)")
p.add_argument("--idp")
p.add_argument("--freshest", help="URL, or 'none'")
p.add_argument("--expired-certs", choices=["present", "absent"])
p.add_argument("--reason", action="append", default=[], help="SERIALHEX=name|none|absent|removeFromCRL")
a = p.parse_args()

data = open(a.crl, "rb").read()
crl = (x509.load_pem_x509_crl if data.startswith(b"-----BEGIN") else x509.load_der_x509_crl)(data)
ca = x509.load_pem_x509_certificate(open(a.ca, "rb").read())
der = crl.public_bytes(__import__("cryptography.hazmat.primitives.serialization", fromlist=["Encoding"]).Encoding.DER)

# TBSCertList, field by field: version INTEGER 1 (v2), signature, issuer,
# thisUpdate, nextUpdate, [revokedCertificates], [0] crlExtensions
_, s, _ = tlv(der, 0)
_, i, end = tlv(der, s)
tags = []
while i < end:
    t, vs, ve = tlv(der, i)
    tags.append((t, der[vs:ve]))
    i = ve
assert tags[0] == (0x02, b"\x01"), "version is not v2: %r" % (tags[0],)
has_list = any(t == 0x30 for t, _ in tags[3:])
assert [t for t, _ in tags] == [0x02, 0x30, 0x30] + [tags[3][0], tags[4][0]] + ([0x30] if has_list else []) + [0xa0], \
    "TBSCertList fields: %s" % [hex(t) for t, _ in tags]
assert has_list == (len(crl) > 0), "revokedCertificates present=%s with %d entries" % (has_list, len(crl))

assert crl.signature_algorithm_oid == SignatureAlgorithmOID.ECDSA_WITH_SHA256, crl.signature_algorithm_oid
assert isinstance(crl.signature_hash_algorithm, hashes.SHA256)
assert crl.is_signature_valid(ca.public_key()), "signature does not verify with the CA key"
assert crl.issuer == ca.subject
for e in crl.extensions:
    assert e.oid in KNOWN, "unexpected extension %s" % e.oid
num = crl.extensions.get_extension_for_class(x509.CRLNumber)
assert not num.critical
aki = crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
assert not aki.critical and aki.value.key_identifier == ski, "AKI %r, CA SKI %r" % (aki.value.key_identifier, ski)
if a.number is not None:
    assert num.value.crl_number == a.number, "CRL number %d, expected %d" % (num.value.crl_number, a.number)
if a.entries is not None:
    assert len(crl) == a.entries, "%d entries, expected %d" % (len(crl), a.entries)
tu = crl.last_update.replace(tzinfo=datetime.timezone.utc).timestamp()
nu = crl.next_update.replace(tzinfo=datetime.timezone.utc).timestamp()
if a.lifetime is not None:
    assert nu - tu == a.lifetime, "nextUpdate - thisUpdate = %d s, expected %d" % (nu - tu, a.lifetime)
if a.now is not None:
    assert abs(tu - a.now) <= 300, "thisUpdate %d is not near %d" % (tu, a.now)
try:
    d = crl.extensions.get_extension_for_class(x509.DeltaCRLIndicator)
    base = d.value.crl_number
    assert d.critical, "DeltaCRLIndicator is not critical"
except x509.ExtensionNotFound:
    base = -1
if a.base is not None:
    assert base == a.base, "delta base %d, expected %d" % (base, a.base)
if a.idp is not None:
    idp = crl.extensions.get_extension_for_class(x509.IssuingDistributionPoint)
    assert idp.critical, "IDP not critical"
    v = idp.value
    assert v.full_name == [x509.UniformResourceIdentifier(a.idp)], v.full_name
    assert not (v.only_contains_user_certs or v.only_contains_ca_certs or v.only_some_reasons or v.indirect_crl
                or v.only_contains_attribute_certs), v
if a.freshest is not None:
    try:
        f = crl.extensions.get_extension_for_class(x509.FreshestCRL)
        got = [n.value for dp in f.value for n in dp.full_name]
        assert not f.critical
    except x509.ExtensionNotFound:
        got = "none"
    assert got == ("none" if a.freshest == "none" else [a.freshest]), "FreshestCRL %r, expected %r" % (got, a.freshest)
if a.expired_certs is not None:
    try:
        e = crl.extensions.get_extension_for_oid(EXPIRED_CERTS_ON_CRL)
        assert not e.critical
        assert e.value.value[0] == 0x18, "ExpiredCertsOnCRL is not a GeneralizedTime"
        got = "present"
        print("ExpiredCertsOnCRL", e.value.value[2:].decode(), end="; ")
    except x509.ExtensionNotFound:
        got = "absent"
    assert got == a.expired_certs, "ExpiredCertsOnCRL %s, expected %s" % (got, a.expired_certs)
for r in a.reason:
    s, want = r.split("=")
    e = crl.get_revoked_certificate_by_serial_number(int(s, 16))
    if want == "absent":
        assert e is None, "%s is listed" % s
        continue
    assert e is not None, "%s is not listed" % s
    try:
        x = e.extensions.get_extension_for_class(x509.CRLReason)
        assert not x.critical, "reason code critical"
        got = x.value.reason.name
    except x509.ExtensionNotFound:
        got = "none"
    assert got == {"none": "none", "keyCompromise": "key_compromise", "certificateHold": "certificate_hold",
                   "superseded": "superseded", "removeFromCRL": "remove_from_crl"}[want], "%s reason %s, expected %s" % (s, got, want)
print("number %d, %d entries, base %d, lifetime %d s" % (num.value.crl_number, len(crl), base, nu - tu))
EOF
judge() { # DESC CRL [judge options]
	local desc=$1
	shift
	check "$desc" "$PY" "$T/judge.py" "$@" --ca "$CA"
}

# publish_ok DESC [publish options]: crl publish, exit 0
publish_ok() {
	local desc=$1
	shift
	run sp --home "$H" crl publish --pass-file "$PASS" "$@"
	if [ "$RC" -eq 0 ]; then ok "$desc: $(cut -c1-110 "$T/.err")"; else fail "$desc: exit $RC" "$T/.err"; fi
}
NUMBERS=()

# ---------------------------------------------------- certificates
mkdir "$T/srv" "$T/cli"
"$PY" "$MKCSR" spec "$T/srv" <<'EOF' || die "mkcsr.py"
[{"name": "s1", "key": "ec256", "subject": [["CN", "s1.corp.example"]], "dns": ["s1.corp.example"]},
 {"name": "s2", "key": "ec256", "subject": [["CN", "s2.corp.example"]], "dns": ["s2.corp.example"]},
 {"name": "s3", "key": "ec256", "subject": [["CN", "s3.corp.example"]], "dns": ["s3.corp.example"]}]
EOF
"$PY" "$MKCSR" spec "$T/cli" <<'EOF' || die "mkcsr.py"
[{"name": "c1", "key": "rsa2048", "subject": [["CN", "c1.corp.example"]]},
 {"name": "c2", "key": "rsa2048", "subject": [["CN", "c2.corp.example"]]},
 {"name": "c3", "key": "rsa2048", "subject": [["CN", "c3.corp.example"]]},
 {"name": "n1", "key": "rsa2048", "subject": [["CN", "n1.corp.example"]]}]
EOF
mv "$T/cli/n1.csr" "$T/n1.csr"
run sp --home "$H" issue --template web-server --batch "$T/srv" --out-dir "$T/o" --pass-file "$PASS"
[ "$RC" -eq 0 ] || die "issue web-server batch: $(cat "$T/.err")"
run sp --home "$H" issue --template client-auth --batch "$T/cli" --out-dir "$T/o" --pass-file "$PASS"
[ "$RC" -eq 0 ] || die "issue client-auth batch: $(cat "$T/.err")"
ALL="s1 s2 s3 c1 c2 c3"
declare -A SER
for c in $ALL; do SER[$c]=$(pem_serial "$T/o/$c.pem"); done

# ------------------------------------------------ an empty CRL first
publish_ok "publish with nothing revoked"
NUMBERS+=("$(crl_number "$FULL")")
judge "empty CRL: v2, SHA-256 signature by the CA, AKI, number 1, no entries, 7 days (python3-cryptography)" \
	"$FULL" --number 1 --entries 0 --lifetime $((7 * 86400)) --now "$(date +%s)" --idp "$CRL_URL"
check "empty CRL: python len(crl) == 0" "$PY" -c '
import sys; from cryptography import x509
c = x509.load_der_x509_crl(open(sys.argv[1], "rb").read()); assert len(c) == 0, len(c)' "$FULL"
# openssl asn1parse: the TBSCertList's fields (depth 2) are exactly
# version, signature, issuer, thisUpdate, nextUpdate, [0] extensions
tbs_fields() { openssl asn1parse -inform DER -in "$1" | awk '/:d=1 /{n++} n==1 && /:d=2 /{sub(/.*(prim|cons): */,""); sub(/ *:.*/,""); sub(/ +$/,""); printf "%s,", $0}'; }
f=$(tbs_fields "$FULL")
if [ "$f" = "INTEGER,SEQUENCE,SEQUENCE,UTCTIME,UTCTIME,cont [ 0 ]," ]; then
	ok "empty CRL: openssl asn1parse shows no revokedCertificates sequence ($f)"
else
	fail "empty CRL: TBSCertList fields per openssl asn1parse: $f"
fi
cmp -s <(openssl crl -in "$FULLPEM" -outform DER) "$FULL" && ok "the .pem beside the DER holds the same CRL" || fail "PEM and DER CRLs differ"
for c in $ALL; do
	run openssl verify -crl_check -CRLfile "$FULLPEM" -CAfile "$CA" "$T/o/$c.pem"
	[ "$RC" -eq 0 ] || fail "openssl verify -crl_check $c with the empty CRL: exit $RC" "$T/.out" "$T/.err"
done
ok "openssl verify -crl_check accepts all six certificates with the empty CRL"

# ------------------------------------------------ revoke, publish
run sp --home "$H" revoke "${SER[s1]}" --reason unspecified
run sp --home "$H" revoke "${SER[c1]}" --reason keyCompromise
run sp --home "$H" revoke "${SER[s2]}" --reason certificateHold
[ "$(status_counts "$H")" = "4 2 1" ] || die "revocations did not land: $(status_counts "$H")"
publish_ok "publish after three revocations"
NUMBERS+=("$(crl_number "$FULL")")

REVOKED="s1 c1 s2" GOOD="s3 c2 c3"
for c in $REVOKED; do
	run openssl verify -crl_check -CRLfile "$FULLPEM" -CAfile "$CA" "$T/o/$c.pem"
	if [ "$RC" -ne 0 ] && grep -q "certificate revoked" "$T/.out" "$T/.err"; then
		ok "openssl verify -crl_check refuses $c: certificate revoked"
	else
		fail "openssl verify -crl_check $c (revoked): exit $RC" "$T/.out" "$T/.err"
	fi
	run certtool --verify --load-ca-certificate "$CA" --load-crl "$FULLPEM" --infile "$T/o/$c.pem"
	if [ "$RC" -ne 0 ] && grep -q "is revoked" "$T/.out"; then
		ok "certtool --verify --load-crl refuses $c (revoked)"
	else
		fail "certtool --verify --load-crl $c (revoked): exit $RC" "$T/.out" "$T/.err"
	fi
done
for c in $GOOD; do
	run openssl verify -crl_check -CRLfile "$FULLPEM" -CAfile "$CA" "$T/o/$c.pem"
	[ "$RC" -eq 0 ] && grep -q ": OK" "$T/.out" && ok "openssl verify -crl_check accepts $c" ||
		fail "openssl verify -crl_check $c (valid): exit $RC" "$T/.out" "$T/.err"
	run certtool --verify --load-ca-certificate "$CA" --load-crl "$FULLPEM" --infile "$T/o/$c.pem"
	[ "$RC" -eq 0 ] && ! grep -q "revoked" "$T/.out" && ok "certtool --verify --load-crl accepts $c" ||
		fail "certtool --verify --load-crl $c (valid): exit $RC" "$T/.out" "$T/.err"
done

# openssl crl -text: number, AKI, reasons (none for unspecified), IDP
openssl crl -in "$FULLPEM" -noout -text >"$T/crl.txt"
ski=$(openssl x509 -in "$CA" -noout -ext subjectKeyIdentifier | tail -n1 | tr -d ' ')
grep -A1 "X509v3 CRL Number" "$T/crl.txt" | tail -n1 | grep -qx " *2" && ok "openssl crl -text: CRL Number 2" ||
	fail "openssl crl -text: CRL number" "$T/crl.txt"
[ "$(grep -A1 "Authority Key Identifier" "$T/crl.txt" | tail -n1 | tr -d ' ')" = "$ski" ] &&
	ok "openssl crl -text: AKI = the CA's SKI ($ski)" || fail "openssl crl -text: AKI is not $ski" "$T/crl.txt"
# entry reasons as openssl prints them: "SERIAL REASON" (REASON '-' when none)
awk '/Serial Number:/{if (s) print s, r; s=$3; r="-"; next} /CRL Reason Code/{getline; sub(/^ +/, ""); r=$0; gsub(/ /, "_", r)} END{if (s) print s, r}' \
	"$T/crl.txt" | sort >"$T/reasons.got"
printf '%s %s\n' "${SER[s1]}" - "${SER[c1]}" Key_Compromise "${SER[s2]}" Certificate_Hold | sort >"$T/reasons.want"
cmp -s "$T/reasons.got" "$T/reasons.want" && ok "openssl crl -text: unspecified has no reason code; Key Compromise, Certificate Hold" ||
	fail "openssl crl -text entries and reasons differ" "$T/reasons.got" "$T/reasons.want"
IDP=$(grep -A3 "Issuing Distribution Point" "$T/crl.txt" | sed -n 's/^ *URI://p')
grep -q "Issuing Distribution Point: critical" "$T/crl.txt" && [ -n "$IDP" ] && ok "openssl crl -text: Issuing Distribution Point (critical) $IDP" ||
	fail "openssl crl -text: no critical IDP with a URI" "$T/crl.txt"
for c in $ALL; do
	cdp=$(openssl x509 -in "$T/o/$c.pem" -noout -ext crlDistributionPoints | sed -n 's/^ *URI://p')
	[ "$cdp" = "$IDP" ] || fail "$c: CDP '$cdp' is not the CRL's IDP '$IDP'"
done
[ "$IDP" = "$CRL_URL" ] && ok "the IDP URL is exactly every certificate's CDP URL and ca show's CRL URL" ||
	fail "IDP '$IDP' is not ca show's '$CRL_URL'"
[ "$PUB/crl/${IDP##*/}" = "$FULL" ] && [[ "$IDP" == */crl/"${FULL##*/}" ]] && ok "the CRL is published under the CDP URL's file name (publish/crl/${FULL##*/})" ||
	fail "the published file does not match the CDP URL"
# certtool --crl-info: number and entries
run certtool --crl-info --infile "$FULLPEM"
n_ok=1
grep -q "CRL Number (not critical): 02" "$T/.out" && grep -q "Revoked certificates (3):" "$T/.out" || n_ok=0
for c in $REVOKED; do grep -qi "Serial Number (hex): ${SER[$c],,}" "$T/.out" || n_ok=0; done
grep -q "Authority Key Identifier (not critical):" "$T/.out" || n_ok=0
[ "$RC" -eq 0 ] && [ "$n_ok" -eq 1 ] && ok "certtool --crl-info: number 02 (not critical), AKI, 3 revoked certificates with their serials" ||
	fail "certtool --crl-info" "$T/.out"
judge "python3-cryptography: v2, ECDSA-SHA256 verifies with the CA key, number 2, reasons non-critical, unspecified omitted, IDP" \
	"$FULL" --number 2 --entries 3 --lifetime $((7 * 86400)) --idp "$CRL_URL" --freshest none --expired-certs absent \
	--reason "${SER[s1]}=none" --reason "${SER[c1]}=keyCompromise" --reason "${SER[s2]}=certificateHold" --reason "${SER[s3]}=absent"
f=$(tbs_fields "$FULL")
[ "$f" = "INTEGER,SEQUENCE,SEQUENCE,UTCTIME,UTCTIME,SEQUENCE,cont [ 0 ]," ] && ok "openssl asn1parse: revokedCertificates present now ($f)" ||
	fail "TBSCertList fields per openssl asn1parse: $f"

# ------------------------------------------------ crl check / crl show
for c in s1:unspecified c1:keyCompromise s2:certificateHold; do
	n=${c%%:*} r=${c#*:}
	run sp --home "$H" crl check "$T/o/$n.pem"
	[ "$RC" -eq 6 ] && grep -q "^revoked: $r since" "$T/.out" && ok "crl check $n: exit 6, '$(cat "$T/.out")'" ||
		fail "crl check $n (revoked, $r): exit $RC" "$T/.out" "$T/.err"
done
for c in $GOOD; do
	run sp --home "$H" crl check "$T/o/$c.pem"
	[ "$RC" -eq 0 ] && grep -q "^not revoked (CRL number 2)" "$T/.out" && ok "crl check $c: exit 0, not revoked" ||
		fail "crl check $c (valid): exit $RC" "$T/.out" "$T/.err"
done
# a CRL past its nextUpdate cannot say anything: docs/cli.md gives exit 6
# to "revoked or on hold" only and "other codes when the check cannot be
# made (expired CRL, ...)", so a script can tell the two apart
expect_fail '[1-57-9]|1[0-9]' "expired" "crl check s3 at a time after the CRL's nextUpdate: a failed check, not 'revoked'" \
	sp --home "$H" crl check "$T/o/s3.pem" --at $(($(date +%s) + 8 * 86400))
expect_fail '[1-57-9]|1[0-9]' "not yet valid" "crl check s3 at a time before the CRL's thisUpdate: a failed check, not 'revoked'" \
	sp --home "$H" crl check "$T/o/s3.pem" --at $(($(date +%s) - 86400))
run sp --home "$H" crl check "$T/o/c1.pem" --crl "$FULL" --issuer "$CA"
[ "$RC" -eq 6 ] && ok "crl check --crl (DER file) --issuer: exit 6 for c1" || fail "crl check --crl --issuer c1: exit $RC" "$T/.out" "$T/.err"
run sp --home "$H" crl show
if [ "$RC" -eq 0 ] && grep -Eq "^number: +2 \(full\)" "$T/.out" && grep -Eq "^entries: +3" "$T/.out" && grep -q "${SER[c1]}" "$T/.out"; then
	ok "crl show: number 2 (full), 3 entries, the serials"
else
	fail "crl show: exit $RC" "$T/.out" "$T/.err"
fi
run sp --home "$H" crl show --number 1
[ "$RC" -eq 0 ] && grep -Eq "^number: +1 \(full\)" "$T/.out" && grep -Eq "^entries: +0" "$T/.out" && ok "crl show --number 1: the empty CRL" ||
	fail "crl show --number 1: exit $RC" "$T/.out" "$T/.err"
run sp --home "$H" crl show --der
[ "$RC" -eq 0 ] && cmp -s "$T/.out" "$FULL" && ok "crl show --der is byte-identical to the published DER" || fail "crl show --der (exit $RC) differs"
expect_fail 8 "no CRL number 99" "crl show --number 99" sp --home "$H" crl show --number 99
expect_usage "positive" "crl show --number 0" sp --home "$H" crl show --number 0

# ------------------------------------------------ numbers only go up
publish_ok "publish again with nothing changed"
NUMBERS+=("$(crl_number "$FULL")")
run sp --home "$H" revoke "${SER[c2]}" --reason superseded
publish_ok "publish after one more revocation"
NUMBERS+=("$(crl_number "$FULL")")
run sp --home "$H" ca set --crl-days 3
[ "$RC" -eq 0 ] || fail "ca set --crl-days 3: exit $RC" "$T/.err"
publish_ok "publish after ca set --crl-days 3"
NUMBERS+=("$(crl_number "$FULL")")
judge "ca set --crl-days 3: nextUpdate = thisUpdate + 3 days, thisUpdate now" "$FULL" --lifetime $((3 * 86400)) --now "$(date +%s)" --entries 4

# documented refusals (docs/crl.md): a delta with deltas off, policy out of
# range, a .number sidecar that is not a number; none of them publishes
n_before=$(sql "$DB" "select max(number) from crl")
expect_fail 2 "delta" "crl publish --delta with deltas off" sp --home "$H" crl publish --delta --pass-file "$PASS"
expect_fail 2 "crl-days|1\.\.365|range" "ca set --crl-days 0" sp --home "$H" ca set --crl-days 0
expect_fail 2 "crl-days|1\.\.365|range" "ca set --crl-days 366" sp --home "$H" ca set --crl-days 366
expect_fail 2 "delta.hours|1\.\.168|range|below|shorter" "ca set --delta on --delta-hours 72 with 3-day CRLs" \
	sp --home "$H" ca set --delta on --delta-hours 72
cp "$PUB/crl/${FULL##*/publish/crl/}" "$T/keep.crl"
NUMF=${FULL%.crl}.number
cp "$NUMF" "$T/number.keep"
printf 'twelve\n' >"$NUMF"
expect_fail 7 "number" "crl publish with a .number file that is not a number" sp --home "$H" crl publish --pass-file "$PASS"
cp "$T/number.keep" "$NUMF"
[ "$(sql "$DB" "select max(number) from crl")" = "$n_before" ] && cmp -s "$FULL" "$T/keep.crl" &&
	ok "none of the refusals recorded or published a CRL" || fail "a refused publish changed the store or the files"

# ------------------------------------------------ delta CRLs
run sp --home "$H" ca set --delta on --delta-hours 12
[ "$RC" -eq 0 ] || die "ca set --delta on: exit $RC $(cat "$T/.err")"
run sp --home "$H" revoke "${SER[c3]}" --reason certificateHold # on hold in the base, released later
publish_ok "publish the base (full) CRL with deltas on"
BASE=$(crl_number "$FULL")
NUMBERS+=("$BASE")
cp "$FULLPEM" "$T/base.pem"
run sp --home "$H" issue --template client-auth --csr "$T/n1.csr" --out "$T/o/n1.pem" --pass-file "$PASS"
[ "$RC" -eq 0 ] || die "issue n1: $(cat "$T/.err")"
DELTA_URL=$(openssl x509 -in "$T/o/n1.pem" -noout -ext freshestCRL | sed -n 's/^ *URI://p')
DELTA=$PUB/crl/${DELTA_URL##*/}
[ -n "$DELTA_URL" ] && [ "$DELTA_URL" != "$CRL_URL" ] && ok "a certificate issued with deltas on carries FreshestCRL $DELTA_URL" ||
	fail "n1 has no FreshestCRL" <(openssl x509 -in "$T/o/n1.pem" -noout -text)
cdp=$(openssl x509 -in "$T/o/n1.pem" -noout -ext crlDistributionPoints | sed -n 's/^ *URI://p')
[ "$cdp" = "$CRL_URL" ] && ok "... and still the full CRL's URL as its CDP" || fail "n1 CDP '$cdp'"
grep -q "$DELTA_URL" <(sp --home "$H" ca show) && ok "ca show names the delta URL" || fail "ca show does not name $DELTA_URL"
judge "the full CRL points to the delta (FreshestCRL, non-critical) and lists c3 on hold" \
	"$T/base.pem" --number "$BASE" --base -1 --freshest "$DELTA_URL" --idp "$CRL_URL" --reason "${SER[c3]}=certificateHold"
N1=$(pem_serial "$T/o/n1.pem")
run sp --home "$H" revoke "$N1" --reason keyCompromise
run sp --home "$H" revoke "${SER[s2]}" --reason keyCompromise # on hold in the base, final now
run sp --home "$H" release "${SER[c3]}"
[ "$RC" -eq 0 ] || fail "release c3: exit $RC" "$T/.err"
publish_ok "publish --delta" --delta
DN=$(crl_number "$DELTA")
NUMBERS+=("$DN")
[ "$DN" -eq $((BASE + 1)) ] && ok "the delta takes the next number ($DN) of the one sequence" || fail "delta number $DN after base $BASE"
judge "delta: DeltaCRLIndicator (critical) = base $BASE, n1 and s2 (hold made final) keyCompromise, c3 removeFromCRL, the base's IDP, 12 hours" \
	"$DELTA.pem" --number "$DN" --base "$BASE" --idp "$CRL_URL" --lifetime $((12 * 3600)) --entries 3 \
	--reason "$N1=keyCompromise" --reason "${SER[s2]}=keyCompromise" --reason "${SER[c3]}=removeFromCRL" --reason "${SER[c1]}=absent"
openssl crl -in "$DELTA.pem" -noout -text >"$T/delta.txt"
if grep -A1 "Delta CRL Indicator: critical" "$T/delta.txt" | tail -n1 | grep -qx " *$BASE" && grep -q "Remove From CRL" "$T/delta.txt"; then
	ok "openssl crl -text: Delta CRL Indicator: critical $BASE, and Remove From CRL for the released hold"
else
	fail "openssl crl -text of the delta" "$T/delta.txt"
fi
# openssl with base + delta refuses the certificate revoked after the base,
# and takes the removeFromCRL; the base alone does neither
vd() { openssl verify -crl_check -use_deltas -CRLfile "$T/base.pem" -CRLfile "$DELTA.pem" -CAfile "$CA" "$1"; }
run vd "$T/o/n1.pem"
[ "$RC" -ne 0 ] && grep -q "certificate revoked" "$T/.out" "$T/.err" && ok "openssl verify -use_deltas (base + delta) refuses n1, revoked after the base" ||
	fail "openssl verify -use_deltas n1: exit $RC" "$T/.out" "$T/.err"
run openssl verify -crl_check -CRLfile "$T/base.pem" -CAfile "$CA" "$T/o/n1.pem"
[ "$RC" -eq 0 ] && ok "... while the base CRL alone accepts n1 (the delta is what revokes it)" || fail "base alone refuses n1: exit $RC" "$T/.out" "$T/.err"
run vd "$T/o/c3.pem"
[ "$RC" -eq 0 ] && ok "openssl verify -use_deltas accepts c3: the delta's removeFromCRL lifts the base's hold" ||
	fail "openssl verify -use_deltas c3 (released): exit $RC" "$T/.out" "$T/.err"
run openssl verify -crl_check -CRLfile "$T/base.pem" -CAfile "$CA" "$T/o/c3.pem"
[ "$RC" -ne 0 ] && grep -q "certificate revoked" "$T/.out" "$T/.err" && ok "... while the base alone still refuses c3 (on hold)" ||
	fail "base alone c3: exit $RC" "$T/.out" "$T/.err"
run vd "$T/o/c1.pem"
[ "$RC" -ne 0 ] && grep -q "certificate revoked" "$T/.out" "$T/.err" && ok "openssl verify -use_deltas still refuses c1 (revoked in the base)" ||
	fail "openssl verify -use_deltas c1: exit $RC" "$T/.out" "$T/.err"
run sp --home "$H" crl check "$T/o/s2.pem"
[ "$RC" -eq 6 ] && grep -q "^revoked: keyCompromise" "$T/.out" && ok "crl check s2: keyCompromise (the delta overrides the base's hold)" ||
	fail "crl check s2 (hold in base, keyCompromise in delta): exit $RC" "$T/.out" "$T/.err"
run vd "$T/o/s3.pem"
[ "$RC" -eq 0 ] && ok "openssl verify -use_deltas accepts s3" || fail "openssl verify -use_deltas s3: exit $RC" "$T/.out" "$T/.err"
run sp --home "$H" crl check "$T/o/n1.pem"
[ "$RC" -eq 6 ] && grep -q "keyCompromise" "$T/.out" && grep -q "CRL number $DN" "$T/.out" && ok "crl check n1 (home: base + delta): exit 6, decided by delta $DN" ||
	fail "crl check n1 with the delta: exit $RC" "$T/.out" "$T/.err"
run sp --home "$H" crl check "$T/o/c3.pem"
[ "$RC" -eq 0 ] && ok "crl check c3: exit 0 after release + delta" || fail "crl check c3: exit $RC" "$T/.out" "$T/.err"
run sp crl check "$T/o/n1.pem" --crl "$T/base.pem" --delta-crl "$DELTA" --issuer "$CA"
[ "$RC" -eq 6 ] && ok "crl check --crl base --delta-crl delta --issuer: exit 6 for n1" || fail "crl check with files n1: exit $RC" "$T/.out" "$T/.err"
run sp --home "$H" crl show
grep -Eq "^number: +$DN \(delta\)" "$T/.out" && grep -Eq "^base: +$BASE" "$T/.out" && ok "crl show: the delta $DN on base $BASE" ||
	fail "crl show after the delta" "$T/.out"

# ----------------------------------------- numbers after a backup restore
sql "$DB" "pragma wal_checkpoint(TRUNCATE)" >/dev/null
cp "$DB" "$T/backup.db"
publish_ok "publish (1 of 2 after the backup)"
NUMBERS+=("$(crl_number "$FULL")")
judge "the next full CRL: no c3 (released), s2 keyCompromise, n1 listed" "$FULL" --base -1 --entries 5 \
	--reason "${SER[c3]}=absent" --reason "${SER[s2]}=keyCompromise" --reason "$N1=keyCompromise" --freshest "$DELTA_URL"
publish_ok "publish (2 of 2 after the backup)"
LAST=$(crl_number "$FULL")
NUMBERS+=("$LAST")
cp "$T/backup.db" "$DB"
rm -f "$DB-wal" "$DB-shm"
[ "$(sql "$DB" "select max(number) from crl")" -lt "$LAST" ] || die "the restored store already knows $LAST"
publish_ok "publish from the store restored from the backup"
N=$(crl_number "$FULL")
NUMBERS+=("$N")
[ "$N" -gt "$LAST" ] && ok "after the restore the number is $N, above the last published $LAST" ||
	fail "after the restore the number is $N, not above the last published $LAST"
# the same without the number sidecar: the published CRL files still tell
cp "$T/backup.db" "$DB"
rm -f "$DB-wal" "$DB-shm" "$PUB"/crl/*.number
publish_ok "publish from the restored store with the .number file gone"
N2=$(crl_number "$FULL")
NUMBERS+=("$N2")
[ "$N2" -gt "$N" ] && ok "without the sidecar the number is $N2, above $N (read back from the published CRLs)" ||
	fail "without the sidecar the number is $N2, not above $N"
check "audit verify on the restored store after the publishes" sp --home "$H" audit verify
inc=1
for ((i = 1; i < ${#NUMBERS[@]}; i++)); do [ "${NUMBERS[i]}" -gt "${NUMBERS[i - 1]}" ] || inc=0; done
[ "$inc" -eq 1 ] && ok "CRL numbers strictly increase across all publishes: ${NUMBERS[*]}" || fail "CRL numbers: ${NUMBERS[*]}"

# ------------------------------------------- the CA certificate at the AIA
AIA_FILE=$PUB/ca/${AIA_URL##*/}
[[ "$AIA_URL" == */ca/"${AIA_FILE##*/}" ]] && cmp -s "$AIA_FILE" <(openssl x509 -in "$CA" -outform DER) &&
	ok "the CA certificate is published at the AIA file name (publish/ca/${AIA_FILE##*/}) and equals ca.pem in DER" ||
	fail "publish/ca/${AIA_FILE##*/} is missing or differs from ca.pem"
aia=$(openssl x509 -in "$T/o/s3.pem" -noout -ext authorityInfoAccess | sed -n 's/.*CA Issuers - URI://p')
[ "$aia" = "$AIA_URL" ] && ok "issued certificates name that URL as caIssuers" || fail "caIssuers '$aia', ca show '$AIA_URL'"
modes=$(stat -c '%n %a' "$FULL" "$FULLPEM" "$DELTA" "$DELTA.pem" "$AIA_FILE" | awk '$2 != 644' | tr '\n' ' ')
[ -z "$modes" ] && ok "published files are mode 644 (a web server serves them)" || fail "published files not 644: $modes"

# --------------------------------------------------- atomic replacement
# strace: the published names are only ever the target of a rename from a
# temporary file in the same directory, never opened for writing
if command -v strace >/dev/null 2>&1; then
	# (LeakSanitizer cannot run under ptrace: leaks off for this one command)
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" strace -f -qq -e trace=openat,open,creat,rename,renameat,renameat2 \
		-o "$T/strace" "$SITEPKI" --home "$H" crl publish --pass-file "$PASS" 2>"$T/.err" >/dev/null || fail "crl publish under strace" "$T/.err"
	bad=$(grep -E "\"($FULL|$FULL.pem|$AIA_FILE)\"" "$T/strace" | grep -E 'open(at)?\(|creat\(' | grep -E 'O_WRONLY|O_RDWR|O_CREAT|O_TRUNC' || true)
	renamed=$(grep -cE "rename(at2?)?\(.*\"$PUB/(crl|ca)/[^\"]+\.tmp[^\"]*\", .*\"($FULL|$FULL.pem|$AIA_FILE)\"" "$T/strace" || true)
	[ -z "$bad" ] && [ "$renamed" -eq 3 ] && ok "strace: the DER, the PEM and the CA certificate are each renamed into place from a temp file, never written in place" ||
		fail "strace: $renamed renames into place; writes in place: '$bad'" "$T/strace"
else
	echo "# skip: strace is not installed (the rename check needs it; the no-.tmp check below still runs)"
fi

# ------------------------------------------------------ crl schedule --once
H3=$T/sched
new_ca "$H3" "CRL Schedule Root"
sched() { # DESC FAKETIME(or '') EXPECTED-NUMBER-OF-NEWEST-CRL EXPECTED-KIND
	local desc=$1 ft=$2 want=$3 kind=$4 got
	if [ -n "$ft" ]; then
		run faketime -f "$ft" "$SITEPKI" --home "$H3" crl schedule --once --pass-file "$PASS"
	else
		run sp --home "$H3" crl schedule --once --pass-file "$PASS"
	fi
	got=$(sql "$H3/sitepki.db" "select ifnull(max(number), 0) || ' ' || ifnull((select case delta when 1 then 'delta' else 'full' end from crl order by number desc limit 1), '-') from crl")
	[ "$RC" -eq 0 ] && [ "$got" = "$want $kind" ] && ok "crl schedule --once $desc: newest CRL $got" ||
		fail "crl schedule --once $desc: exit $RC, newest CRL '$got', expected '$want $kind'" "$T/.err"
}
sched "with no CRL yet publishes one" "" 1 full
F3=$H3/publish/crl/$(sp --home "$H3" ca show --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["crl_url"])' | sed 's|.*/||')
[ "$(crl_number "$F3")" = 1 ] && ok "schedule wrote CRL 1 to ${F3##*/publish/}" || fail "schedule wrote no CRL 1 to $F3"
sched "right after a publish does nothing" "" 1 full
sched "3.5 days before nextUpdate (+4 days, CRL of 7 days) publishes" "+4d" 2 full
sched "again at +4 days does nothing" "+4d" 2 full
run sp --home "$H3" ca set --delta on --delta-hours 2
sched "with deltas turned on publishes the first delta" "+4d" 3 delta
sched "again does nothing" "+4d" 3 delta
sched "an hour later (half the delta's 2 hours) publishes a delta only" "+5821m" 4 delta
[ "$(sql "$H3/sitepki.db" "select base_number from crl where number = 4")" = 2 ] && ok "that delta builds on full CRL 2" || fail "delta 4's base"

# ------------------------------------------- expired certificates leave
H2=$T/expiry
new_ca "$H2" "CRL Expiry Root"
openssl req -new -newkey rsa:2048 -nodes -keyout "$T/e.key" -subj /CN=e1.corp.example -out "$T/e1.csr" 2>/dev/null
openssl req -new -key "$T/e.key" -subj /CN=w1.corp.example -addext subjectAltName=DNS:w1.corp.example -out "$T/w1.csr" 2>/dev/null
run sp --home "$H2" issue --template client-auth --csr "$T/e1.csr" --out "$T/e1.pem" --pass-file "$PASS"
[ "$RC" -eq 0 ] || die "issue e1: $(cat "$T/.err")"
run sp --home "$H2" issue --template web-server --csr "$T/w1.csr" --out "$T/w1.pem" --pass-file "$PASS"
[ "$RC" -eq 0 ] || die "issue w1: $(cat "$T/.err")"
E1=$(pem_serial "$T/e1.pem") W1=$(pem_serial "$T/w1.pem")
run sp --home "$H2" revoke "$E1" --reason keyCompromise
run sp --home "$H2" revoke "$W1" --reason superseded
F2=$H2/publish/crl/$(sp --home "$H2" ca show --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["crl_url"])' | sed 's|.*/||')
run sp --home "$H2" crl publish --pass-file "$PASS"
CA_SAVE=$CA
CA=$H2/ca.pem
judge "today both revoked certificates are on the CRL" "$F2" --entries 2 --reason "$E1=keyCompromise" --reason "$W1=superseded" --expired-certs absent
e_after=$(openssl x509 -in "$T/e1.pem" -noout -enddate | cut -d= -f2)
# RFC 5280 3.3: an entry is removed only after it has appeared on one
# regularly scheduled CRL issued beyond the certificate's validity period
run faketime -f "+400d" "$SITEPKI" --home "$H2" crl publish --pass-file "$PASS"
[ "$RC" -eq 0 ] || fail "faketime +400d crl publish: exit $RC" "$T/.err"
judge "400 days on (e1 expired $e_after): the first full CRL after e1's notAfter still lists it (RFC 5280 3.3)" \
	"$F2" --entries 2 --now $(($(date +%s) + 400 * 86400)) --reason "$E1=keyCompromise" --reason "$W1=superseded" --expired-certs absent
run faketime -f "+401d" "$SITEPKI" --home "$H2" crl publish --pass-file "$PASS"
[ "$RC" -eq 0 ] || fail "faketime +401d crl publish: exit $RC" "$T/.err"
judge "401 days on: e1 has left the CRL, w1 (730 days) is still on it, no ExpiredCertsOnCRL" \
	"$F2" --entries 1 --now $(($(date +%s) + 401 * 86400)) --reason "$E1=absent" --reason "$W1=superseded" --expired-certs absent
[[ "$(cert_state "$H2" "$E1")" == 1\|* ]] && ok "the store still records e1 as revoked" || fail "e1 in the store: $(cert_state "$H2" "$E1")"
run sp --home "$H2" ca set --keep-expired on
[ "$RC" -eq 0 ] || fail "ca set --keep-expired on: exit $RC" "$T/.err"
run faketime -f "+402d" "$SITEPKI" --home "$H2" crl publish --pass-file "$PASS"
[ "$RC" -eq 0 ] || fail "faketime +402d crl publish (keep expired): exit $RC" "$T/.err"
judge "keep-expired on: e1 is back on the CRL, with ExpiredCertsOnCRL (non-critical GeneralizedTime)" \
	"$F2" --entries 2 --reason "$E1=keyCompromise" --reason "$W1=superseded" --expired-certs present
check "ExpiredCertsOnCRL = the CA certificate's notBefore (docs/crl.md), before e1's notAfter" "$PY" -c '
import sys, datetime
from cryptography import x509
from cryptography.x509.oid import ObjectIdentifier
crl = x509.load_der_x509_crl(open(sys.argv[1], "rb").read())
v = crl.extensions.get_extension_for_oid(ObjectIdentifier("2.5.29.60")).value.value[2:].decode()
t = datetime.datetime.strptime(v, "%Y%m%d%H%M%SZ")
e = x509.load_pem_x509_certificate(open(sys.argv[2], "rb").read()).not_valid_after
ca = x509.load_pem_x509_certificate(open(sys.argv[3], "rb").read()).not_valid_before
assert t == ca and t <= e, (t, ca, e)
print(v, "= CA notBefore <=", e)' "$F2" "$T/e1.pem" "$H2/ca.pem"
CA=$CA_SAVE

# ------------------------------------------- no temp files, audit rows
left=$(find "$H/publish" "$H2/publish" "$H3/publish" -name '*.tmp*' | wc -l)
[ "$left" -eq 0 ] && ok "no .tmp files left in any publish directory" || fail "$left temporary files left" <(find "$T" -name '*.tmp*')
np=$(($(audit_count "$H" crl-publish) + $(audit_count "$H" crl-publish-delta)))
nr=$(sql "$DB" "select count(*) from crl")
[ "$np" -eq "$nr" ] && ok "one audit row per CRL in the (restored) store: $np" || fail "$np crl-publish audit rows, $nr CRLs in the store"
check "audit verify (expiry home)" sp --home "$H2" audit verify
check "audit verify (schedule home)" sp --home "$H3" audit verify

finish

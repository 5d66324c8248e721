#!/bin/bash
# test_refusals.sh - requests that must be refused: one line on stderr
# starting "sitepki: " and naming what is wrong, the documented exit status
# (docs/cli.md: 6 policy, 7 bad input, 8 not found, 11 permission,
# 14 authentication), nothing on stdout, no --out file, and the store
# (certificate, request and audit rows) unchanged. Also the near misses that
# must be accepted: an all-ASCII BMPString CN (re-encoded), an IDN A-label.
source "$(dirname "$0")/lib.sh"
need openssl sqlite3

H=$T/home
new_ca "$H" "Refusals Test Root" --site-code ABC
CA=$H/ca.pem
C=$T/csr
mkdir "$C"

SSS="The site code of this site server signing certificate is"
# Requests made with python3-cryptography (string types openssl req cannot
# produce) or by hand (SAN bytes the library refuses to encode).
"$PY" "$MKCSR" spec "$C" <<EOF || die "mkcsr.py failed"
[
 {"name": "cjk_bmp",   "subject": [["CN", "\u4e2d\u6587.example", "BMPString"]]},
 {"name": "ascii_bmp", "subject": [["CN", "bmp.example", "BMPString"]]},
 {"name": "univ",      "subject": [["CN", "\u00fc.example", "UniversalString"]]},
 {"name": "t61",       "subject": [["CN", "caf\u00e9.example", "T61String"]]},
 {"name": "nul",       "subject": [["CN", "a\u0000b.example", "UTF8String"]]},
 {"name": "ctrl",      "subject": [["CN", "a\u0007b.example", "UTF8String"]]},
 {"name": "del",       "subject": [["CN", "a\u007fb.example", "UTF8String"]]},
 {"name": "cjk_o",     "subject": [["O", "\u682a\u5f0f\u4f1a\u793e"], ["CN", "isv.example"]]},
 {"name": "cjk_upn",   "subject": [["CN", "alice"]], "upn": ["\u7528\u6237@corp.example"]},
 {"name": "ldh_san",   "key": "ec256", "subject": [["CN", "ok.corp.example"]], "dns": ["bad_name.example"]},
 {"name": "good_ec",   "key": "ec256", "subject": [["CN", "good.corp.example"]], "dns": ["good.corp.example"]},
 {"name": "ldh_cn",    "key": "ec256", "subject": [["CN", "bad_name.example"]], "dns": ["ok.corp.example"]},
 {"name": "idn_san",   "key": "ec256", "subject": [["CN", "ok.corp.example"]], "raw_dns": ["b\u00fccher.example"]},
 {"name": "idn_cn",    "key": "ec256", "subject": [["CN", "b\u00fccher.example"]], "dns": ["ok.corp.example"]},
 {"name": "alabel",    "key": "ec256", "subject": [["CN", "xn--bcher-kva.example"]], "dns": ["xn--bcher-kva.example"]},
 {"name": "badsig",    "subject": [["CN", "pc1.corp.example"]], "der": true, "break_sig": true},
 {"name": "good_der",  "subject": [["CN", "pc2.corp.example"]], "der": true},
 {"name": "rsa1024",   "key": "rsa1024", "subject": [["CN", "pc3.corp.example"]]},
 {"name": "rsa4096",   "key": "rsa4096", "subject": [["CN", "pc4.corp.example"]]},
 {"name": "ec_client", "key": "ec256", "subject": [["CN", "pc5.corp.example"]]},
 {"name": "sss_xyz",   "subject": [["CN", "$SSS XYZ"]]},
 {"name": "sss_none",  "subject": []},
 {"name": "sss_san",   "subject": [["CN", "$SSS ABC"]], "dns": ["sss.corp.example"]},
 {"name": "amt",       "subject": [["CN", "amt1.corp.example"]]},
 {"name": "amt_upn",   "subject": [["CN", "amt2.corp.example"]], "upn": ["amt2@corp.example"]},
 {"name": "email_attr","subject": [["CN", "pc6.corp.example"], ["emailAddress", "a@corp.example", "IA5String"]]},
 {"name": "email_san", "subject": [["CN", "pc7.corp.example"]], "email": ["a@corp.example"]},
 {"name": "cn64",      "subject": [["CN", "Proxy-0123456789012345678901234567890123456789012345678901234567"]]},
 {"name": "cn65",      "subject": [["CN", "Proxy-01234567890123456789012345678901234567890123456789012345678"]]},
 {"name": "o65",       "subject": [["O", "Org-0123456789012345678901234567890123456789012345678901234567890"], ["CN", "isv.example"]]}
]
EOF
openssl req -new -key "$C/rsa2048.key" -utf8 -subj "/CN=中文.example" -out "$C/cjk_utf8.csr" 2>/dev/null ||
	die "openssl req -utf8"

# Inputs that are not one well-formed request.
printf 'this is not a certificate request\n' >"$C/garbage.csr"
: >"$C/empty.csr"
{ cat "$C/good_der.der"; printf '\x00\x01'; } >"$C/trailing.der"
{ openssl req -in "$C/good_der.der" -inform DER; printf 'junk after the request\n'; } >"$C/trailing.csr"
head -c 200 "$C/good_der.der" >"$C/truncated.der"
{ printf 'leading \001\002 bytes\n'; openssl req -in "$C/good_der.der" -inform DER; } >"$C/leading.csr"
cp "$CA" "$C/a_certificate.csr"

# refuse CODE REGEX DESC TEMPLATE CSR [issue options...]: refused as
# why_not_refused describes, no --out file, no temporary file left, and the
# store's certificate, request and audit counts unchanged.
refuse() {
	local code=$1 re=$2 desc=$3 tpl=$4 csr=$5 before after
	shift 5
	rm -f "$T/refused.pem"
	before=$(store_count "$H")
	run sp --home "$H" issue --template "$tpl" --csr "$csr" --out "$T/refused.pem" --pass-file "$PASS" "$@"
	after=$(store_count "$H")
	why_not_refused "$code" "$re"
	if [ -z "$WHY" ] && [ "$before" != "$after" ]; then
		WHY="store counts changed from '$before' to '$after'"
	fi
	if [ -z "$WHY" ] && compgen -G "$T/refused.pem*" >/dev/null; then
		WHY="left $(ls "$T"/refused.pem*) behind"
	fi
	if [ -z "$WHY" ]; then
		ok "$desc (exit $RC: $(head -n1 "$T/.err" | cut -c1-150))"
	else
		fail "$desc: $WHY" "$T/.out" "$T/.err"
	fi
}

# accept NAME TEMPLATE CSR [issue options...]: issued to $T/NAME.pem, store +1
# (the passphrase from $PASS unless the options give --pass-env).
accept() {
	local name=$1 tpl=$2 csr=$3 before after pass=(--pass-file "$PASS")
	shift 3
	[[ " $* " == *" --pass-env "* ]] && pass=()
	before=$(store_count "$H")
	run sp --home "$H" issue --template "$tpl" --csr "$csr" --out "$T/$name.pem" "${pass[@]}" "$@"
	after=$(store_count "$H")
	read -r b1 b2 b3 <<<"$before"
	if [ "$RC" -eq 0 ] && [ -s "$T/$name.pem" ] && [ "$after" = "$((b1 + 1)) $((b2 + 1)) $((b3 + 1))" ]; then
		ok "$name: accepted by $tpl"
	else
		fail "$name: issue --template $tpl exited $RC, store '$before' -> '$after'" "$T/.err"
	fi
}

NONASCII='single-byte|ascii|multi-byte|dbcs'

# ------------------------------------------- the single-byte rule, subject
refuse 6 "CN.*(U\+4E2D|$NONASCII)" "UTF-8 CJK CN (openssl req -utf8)" isv-proxy "$C/cjk_utf8.csr"
refuse 6 "CN.*(U\+4E2D|$NONASCII)" "BMPString CN with a CJK character" isv-proxy "$C/cjk_bmp.csr"
refuse 6 "CN.*(U\+00FC|$NONASCII)" "UniversalString CN with U+00FC" isv-proxy "$C/univ.csr"
refuse 6 "CN.*(0xC3|U\+00C3|$NONASCII)" "T61String CN with bytes > 0x7F" isv-proxy "$C/t61.csr"
refuse 6 "CN.*(NUL|0x00|control)" "NUL inside a UTF8String CN" isv-proxy "$C/nul.csr"
refuse 6 "CN.*(control|0x07)" "control character 0x07 in the CN" isv-proxy "$C/ctrl.csr"
refuse 6 "CN.*(control|0x7F|DEL)" "DEL (0x7F) in the CN" isv-proxy "$C/del.csr"
refuse 6 "(subject O\b|O:|'O'|organi[sz]ation).*(U\+682A|$NONASCII)" "CJK organisation (O) names the field" isv-proxy "$C/cjk_o.csr"
refuse 6 "UPN.*(U\+7528|$NONASCII)" "CJK UPN in the CSR's subjectAltName" mobile-device "$C/cjk_upn.csr"
refuse 6 "U\+00FC|$NONASCII" "--upn with a non-ASCII user part" mobile-device "$C/amt.csr" --upn "jörg@corp.example"

# an all-ASCII BMPString is accepted and re-encoded as PrintableString
accept ascii_bmp isv-proxy "$C/ascii_bmp.csr"
if [ -s "$T/ascii_bmp.pem" ]; then
	check "ascii_bmp: python3-cryptography profile, CN re-encoded as PrintableString/UTF8String" \
		"$PY" "$CHECK_CERT" --cert "$T/ascii_bmp.pem" --ca "$CA" --csr "$C/ascii_bmp.csr" --subject CN=bmp.example \
		--eku 1.3.6.1.5.5.7.3.2 --ku digitalSignature --days 365 --key rsa
	run openssl asn1parse -in "$T/ascii_bmp.pem"
	if grep -Eq "(PRINTABLESTRING|UTF8STRING) +:bmp.example" "$T/.out" && ! grep -q BMPSTRING "$T/.out"; then
		ok "ascii_bmp: openssl asn1parse shows the CN as PrintableString/UTF8String, no BMPString"
	else
		fail "ascii_bmp: CN encoding" "$T/.out"
	fi
fi

# ------------------------------------------------------------- DNS names
refuse 6 "bad_name\.example" "SAN dNSName bad_name.example (not LDH) in the CSR" web-server "$C/ldh_san.csr"
refuse 6 "bad_name\.example" "--dns bad_name.example (not LDH)" web-server "$C/good_ec.csr" --dns bad_name.example
refuse 6 "CN.*bad_name\.example" "CN bad_name.example where the template wants a host name" web-server "$C/ldh_cn.csr"
refuse 6 "U\+00FC|$NONASCII|xn--|LDH" "SAN dNSName U-label bücher.example in the CSR" web-server "$C/idn_san.csr"
refuse 6 "U\+00FC|$NONASCII|xn--|LDH" "--dns bücher.example (U-label)" web-server "$C/good_ec.csr" --dns "bücher.example"
refuse 6 "CN.*(U\+00FC|$NONASCII|xn--|LDH)" "CN bücher.example (U-label)" web-server "$C/idn_cn.csr"
refuse 6 "ab--cd\.example" "--dns ab--cd.example ('--' in positions 3-4 outside xn--)" web-server "$C/good_ec.csr" --dns ab--cd.example
refuse 6 "wildcard|\*\.corp" "--dns *.corp.example (wildcard)" web-server "$C/good_ec.csr" --dns '*.corp.example'
refuse 6 "-bad\.example|hyphen|'-'" "--dns -bad.example (leading hyphen)" web-server "$C/good_ec.csr" --dns -bad.example
accept alabel web-server "$C/alabel.csr" --dns www.xn--bcher-kva.example
if [ -s "$T/alabel.pem" ]; then
	check "alabel: the A-labels are issued unchanged (python3-cryptography)" \
		"$PY" "$CHECK_CERT" --cert "$T/alabel.pem" --ca "$CA" --csr "$C/alabel.csr" --subject CN=xn--bcher-kva.example \
		--eku 1.3.6.1.5.5.7.3.1 --ku digitalSignature --days 730 --key ec \
		--dns xn--bcher-kva.example,www.xn--bcher-kva.example
fi

# ---------------------------------------------------- proof of possession
refuse '6|7' "signature|proof of possession" "CSR with a broken signature" client-auth "$C/badsig.der"

# -------------------------------------------------------------- key limits
refuse 6 "1024" "RSA-1024 key (client-auth: exactly 2048)" client-auth "$C/rsa1024.csr"
refuse 6 "4096" "RSA-4096 key on client-auth (at most 2048)" client-auth "$C/rsa4096.csr"
refuse 6 "\bEC\b|RSA" "EC key on client-auth (RSA only)" client-auth "$C/ec_client.csr"
refuse 6 "1024" "RSA-1024 key on web-server (at least 2048)" web-server "$C/rsa1024.csr" --dns pc3.corp.example

# ------------------------------------------------------ site-server-signing
refuse 6 "CN.*XYZ" "CSR CN names site XYZ, --site-code ABC" site-server-signing "$C/sss_xyz.csr" --site-code ABC
refuse 6 "site code.*AB\b|AB\b.*site code" "--site-code AB (two characters)" site-server-signing "$C/sss_none.csr" --site-code AB
refuse 6 "site code.*A-C|A-C.*site code" "--site-code A-C (not letters/digits)" site-server-signing "$C/sss_none.csr" --site-code A-C
refuse 6 "DNS|subjectAltName|SAN" "SAN dNSName in a site-server-signing CSR" site-server-signing "$C/sss_san.csr"
refuse 6 "DNS|subjectAltName|SAN" "--dns on site-server-signing" site-server-signing "$C/sss_none.csr" --dns sss.corp.example

# --------------------------------------------------------- amt-8021x-client
refuse 6 "DNS" "--dns on amt-8021x-client" amt-8021x-client "$C/amt.csr" --upn amt1@corp.example --dns amt1.corp.example
refuse 6 "UPN" "amt-8021x-client without --upn" amt-8021x-client "$C/amt.csr"
refuse 6 "UPN" "amt-8021x-client with two UPNs (CSR and --upn)" amt-8021x-client "$C/amt_upn.csr" --upn other@corp.example
refuse 6 "UPN|user principal" "--upn without a domain" amt-8021x-client "$C/amt.csr" --upn amt1

# ------------------------------------------------------ the issuing chain
# amt-web-server: every CA key in the chain RSA <= 2048; this CA is EC P-256.
refuse 6 "RSA|chain" "amt-web-server from an EC P-256 CA" amt-web-server "$C/amt.csr" --dns amt1.corp.example

# ------------------------------------------------ what the template allows
refuse 6 "1\.2\.840\.113549\.1\.9\.1|emailAddress" "emailAddress subject attribute (not in client-auth)" client-auth "$C/email_attr.csr"
refuse 6 "email|rfc822" "rfc822Name in the CSR's subjectAltName" client-auth "$C/email_san.csr"
refuse 6 "DNS|subjectAltName|SAN" "--dns on isv-proxy (no SAN)" isv-proxy "$C/amt.csr" --dns isv.corp.example

# ------------------------------------------------ RFC 5280 upper bounds
# ub-common-name and ub-organization-name are 64 (RFC 5280 appendix A; the
# facts: "CN limit 64"); CertEnroll refuses longer values.
accept cn64 isv-proxy "$C/cn64.csr"
refuse '6|7' "CN.*(64|long|length)" "CN of 65 characters (ub-common-name 64)" isv-proxy "$C/cn65.csr"
refuse '6|7' "(\bO\b|organi[sz]ation).*(64|long|length)" "O of 65 characters (ub-organization-name 64)" isv-proxy "$C/o65.csr"

# ----------------------------------------------------- not one request
refuse 7 "CSR|request" "garbage CSR file" client-auth "$C/garbage.csr"
refuse 7 "empty|CSR" "empty CSR file" client-auth "$C/empty.csr"
refuse 7 "trailing" "DER CSR with 2 trailing bytes" client-auth "$C/trailing.der"
refuse 7 "trailing" "PEM CSR with text after the END line" client-auth "$C/trailing.csr"
refuse 7 "CSR|request|DER" "truncated DER CSR" client-auth "$C/truncated.der"
refuse 7 "CSR|request|PEM" "PEM CSR after binary bytes (text before PEM is fine, RFC 7468)" client-auth "$C/leading.csr"
refuse 7 "CSR|request" "a certificate instead of a CSR" client-auth "$C/a_certificate.csr"

# ----------------------------------------------------------- template names
refuse 8 "no-such-template" "unknown template name" no-such-template "$C/amt.csr"
refuse 7 "template name" "template name ../x" ../x "$C/amt.csr"
refuse 7 "template name" "template name ../../templates/web-server" ../../templates/web-server "$C/amt.csr"

# ------------------------------------------------------------ passphrases
printf 'not the passphrase\n' >"$T/wrong.pass"
chmod 600 "$T/wrong.pass"
before=$(store_count "$H")
expect_fail 14 "passphrase|decrypt" "wrong passphrase" \
	sp --home "$H" issue --template client-auth --csr "$C/good_der.der" --pass-file "$T/wrong.pass"
cp "$PASS" "$T/open.pass"
chmod 644 "$T/open.pass"
expect_fail 11 "0?644|mode|permission|group|others" "right passphrase in a mode 0644 file" \
	sp --home "$H" issue --template client-auth --csr "$C/good_der.der" --pass-file "$T/open.pass"
export SP_IT_WRONG="not the passphrase"
expect_fail 14 "passphrase|decrypt" "wrong passphrase from --pass-env" \
	sp --home "$H" issue --template client-auth --csr "$C/good_der.der" --pass-env SP_IT_WRONG
expect_fail 2 "pass-file|pass-env|passphrase" "no passphrase source and no terminal" \
	sp --home "$H" issue --template client-auth --csr "$C/good_der.der" </dev/null
SITEPKI_PASS_FILE=$T/open.pass expect_fail 11 "0?644|mode|permission" "\$SITEPKI_PASS_FILE naming a mode 0644 file" \
	sp --home "$H" issue --template client-auth --csr "$C/good_der.der" </dev/null
[ "$(store_count "$H")" = "$before" ] && ok "passphrase refusals left the store unchanged" ||
	fail "passphrase refusals changed the store: '$before' -> '$(store_count "$H")'"
# and the right one through the environment works
SP_IT_PASS=$(head -n1 "$PASS")
export SP_IT_PASS
accept pass_env client-auth "$C/good_der.der" --pass-env SP_IT_PASS

# --------------------------------------------------------------- a batch
# Refused requests in a batch are reported one line each (naming the file),
# leave nothing behind, and the others are issued; exit 6.
B=$T/batch
mkdir "$B"
"$PY" "$MKCSR" spec "$B" <<'EOF' || die "mkcsr.py (batch) failed"
[
 {"name": "b1", "subject": [["CN", "b1.corp.example"]]},
 {"name": "b2", "subject": [["CN", "b2.corp.example"]]},
 {"name": "b3", "subject": [["CN", "\u4e2d\u6587.example"]]},
 {"name": "b4", "subject": [["CN", "b4.corp.example"], ["emailAddress", "x@corp.example", "IA5String"]]},
 {"name": "b5", "subject": [["CN", "b5.corp.example"]]}
]
EOF
rm -f "$B"/*.key
before=$(store_count "$H")
run sp --home "$H" issue --template client-auth --batch "$B" --out-dir "$T/batch-out" --pass-file "$PASS"
after=$(store_count "$H")
read -r b1 b2 b3 <<<"$before"
issued=$(cd "$T/batch-out" 2>/dev/null && ls | tr '\n' ' ')
if [ "$RC" -eq 6 ] && [ "$after" = "$((b1 + 3)) $((b2 + 3)) $((b3 + 3))" ] && [ "$issued" = "b1.pem b2.pem b5.pem " ] &&
	[ "$(grep -c '^sitepki: .*b3\.csr.*CN' "$T/.err")" -eq 1 ] &&
	[ "$(grep -c '^sitepki: .*b4\.csr.*\(1\.2\.840\.113549\.1\.9\.1\|emailAddress\)' "$T/.err")" -eq 1 ]; then
	ok "batch with 2 refused of 5: exit 6, 3 issued and recorded, one line per refusal naming the file"
else
	fail "batch with 2 refused of 5: exit $RC, store '$before' -> '$after', out-dir: $issued" "$T/.err"
fi

# A request that cannot be read (a LIST naming a missing file) is one bad
# request: reported on one line, the others still issued (docs/cli.md:
# "Refused requests are reported one line each ...; the rest are issued").
printf '%s\n' "$B/b1.csr" "$B/missing.csr" "$B/b2.csr" >"$T/list"
before=$(store_count "$H")
run sp --home "$H" issue --template client-auth --batch "$T/list" --out-dir "$T/list-out" --pass-file "$PASS"
after=$(store_count "$H")
read -r b1 b2 b3 <<<"$before"
issued=$(cd "$T/list-out" 2>/dev/null && ls | tr '\n' ' ')
if [[ "$RC" =~ ^(3|6|7)$ ]] && [ "$after" = "$((b1 + 2)) $((b2 + 2)) $((b3 + 2))" ] && [ "$issued" = "b1.pem b2.pem " ] &&
	[ "$(grep -c 'missing\.csr' "$T/.err")" -eq 1 ]; then
	ok "batch LIST naming a missing file: reported (exit $RC), the other 2 issued and written"
else
	fail "batch LIST naming a missing file: exit $RC, store '$before' -> '$after', out-dir: '$issued' (expected b1 and b2 issued)" "$T/.err"
fi

# Two requests whose names map to the same output file (x.csr and x.der ->
# x.pem): every certificate the batch records must reach a file of its own,
# or the batch must refuse before issuing anything.
D=$T/dupdir
mkdir "$D"
"$PY" "$MKCSR" spec "$D" <<'EOF' || die "mkcsr.py (dup) failed"
[{"name": "dup", "subject": [["CN", "first.corp.example"]]},
 {"name": "dup", "subject": [["CN", "second.corp.example"]], "der": true}]
EOF
rm -f "$D"/*.key
before=$(store_count "$H")
run sp --home "$H" issue --template client-auth --batch "$D" --out-dir "$T/dup-out" --pass-file "$PASS"
read -r b1 b2 b3 <<<"$before"
read -r a1 a2 a3 <<<"$(store_count "$H")"
files=$(find "$T/dup-out" -type f -name '*.pem' 2>/dev/null | wc -l)
if [ "$((a1 - b1))" -eq "$files" ] && { [ "$RC" -eq 0 ] || [ "$a1" -eq "$b1" ]; }; then
	ok "batch with dup.csr and dup.der: $((a1 - b1)) recorded, $files files (exit $RC)"
else
	fail "batch with dup.csr and dup.der: $((a1 - b1)) certificates recorded but $files output file(s) (exit $RC): an issued certificate was overwritten" "$T/.err"
fi

check "audit verify after all the refusals" sp --home "$H" audit verify
finish

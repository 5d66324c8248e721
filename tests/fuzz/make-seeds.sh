#!/usr/bin/env bash
# tests/fuzz/make-seeds.sh - regenerate the seed corpora in tests/fuzz/corpus/.
# Run once by hand; the results are kept in the repository (keys are
# throw-away and not kept). CSRs come from `openssl req`; the few hostile
# ones OpenSSL will not write (a NUL or DBCS bytes inside a name, a broken
# signature) are byte patches of openssl's output, so their signature no
# longer verifies: fuzz_csr re-signs every parsed CSR with its own key as a
# second try, so they still reach the name rules.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
csr="$here/corpus/csr"
tpl="$here/corpus/template"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$csr" "$tpl"

rsa() { openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:"$1" -out "$tmp/rsa$1.pem" 2>/dev/null; }
rsa 1024
rsa 2048
rsa 4096
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/p256.pem"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$tmp/p384.pem"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -pkeyopt ec_param_enc:explicit -out "$tmp/explicit.pem"
openssl genpkey -algorithm ED25519 -out "$tmp/ed25519.pem"

# req KEY OUT [openssl req options...]: OUT under corpus/csr unless absolute;
# a name ending in .der is written as DER
req() {
	local key=$1 out=$2
	shift 2
	local fmt=PEM
	case "$out" in *.der) fmt=DER ;; esac
	case "$out" in /*) ;; *) out="$csr/$out" ;; esac
	openssl req -new -key "$tmp/$key.pem" -outform "$fmt" -out "$out" "$@"
}

# -- good requests, one or more per shipped template
req p256 web-server-ec.pem -subj /CN=www.corp.example \
	-addext "subjectAltName=DNS:www.corp.example,DNS:intranet.corp.example"
req p256 web-server-ec.der -subj /CN=www.corp.example -addext "subjectAltName=DNS:www.corp.example"
sans=$(for i in $(seq -w 1 32); do printf 'DNS:h%s.corp.example,' "$i"; done)
req p384 web-server-p384-32san.pem -subj "/C=GB/O=Contoso/CN=www.corp.example" -addext "subjectAltName=${sans%,}"
req rsa2048 client-auth.pem -subj "/C=GB/ST=Greater London/L=London/O=Contoso Ltd./OU=IT/OU=Desktops/CN=pc01.corp.example"
req rsa2048 amt-provisioning.der -subj "/O=Contoso/CN=oob.corp.example"
req rsa2048 amt-8021x-upn.der -subj /CN=amt01.corp.example \
	-addext "subjectAltName=otherName:1.3.6.1.4.1.311.20.2.3;UTF8:amt01@corp.example"
req rsa2048 mobile-device-upn.pem -subj "/O=Contoso/CN=Jane Doe" \
	-addext "subjectAltName=otherName:1.3.6.1.4.1.311.20.2.3;UTF8:jane.doe@corp.example"
req rsa2048 site-server-signing.pem -subj "/CN=The site code of this site server signing certificate is FZ1"
req rsa2048 isv-proxy.pem -subj "/O=Contoso/OU=Proxies/CN=ISV Proxy 01"
req rsa2048 osd-media.der -subj "/O=Contoso/CN=OSD Media"
req rsa4096 rsa-4096.pem -subj /CN=oob.corp.example
cat >"$tmp/attrs.cnf" <<'EOF'
[req]
prompt = no
distinguished_name = dn
attributes = attrs
[dn]
CN = www.corp.example
[attrs]
challengePassword = secret-for-revocation
EOF
req p256 challenge-password.pem -config "$tmp/attrs.cnf" -addext "subjectAltName=DNS:www.corp.example"

# -- hostile requests
cat >"$tmp/mask-default.cnf" <<'EOF'
[req]
distinguished_name = dn
string_mask = default
[dn]
EOF
# BMPString (U+4E2D) and T61String (Latin-1 e-acute), as OpenSSL chooses them
req p256 bmp-cjk.pem -config "$tmp/mask-default.cnf" -utf8 -subj "/CN=中文.corp.example" \
	-addext "subjectAltName=DNS:www.corp.example"
req rsa2048 t61-latin1.der -config "$tmp/mask-default.cnf" -utf8 -subj "/CN=José"
req rsa2048 utf8-fullwidth.pem -utf8 -subj "/CN=ＡＢＣ"
req rsa2048 multi-valued-rdn.pem -multivalue-rdn -subj "/CN=pc01.corp.example+O=Contoso"
req p256 san-email-ip-uri.pem -subj /CN=www.corp.example \
	-addext "subjectAltName=DNS:www.corp.example,email:admin@corp.example,IP:10.0.0.1,URI:http://www.corp.example/"
req p256 san-wildcard-idn.pem -subj /CN=www.corp.example \
	-addext "subjectAltName=DNS:*.corp.example,DNS:xn--bcher-kva.example,DNS:ab--cd.example,DNS:under_score.example"
req p256 ca-request.pem -subj /CN=www.corp.example -addext "basicConstraints=critical,CA:TRUE" \
	-addext "keyUsage=critical,keyCertSign,cRLSign" -addext "extendedKeyUsage=anyExtendedKeyUsage" \
	-addext "subjectAltName=DNS:www.corp.example"
req explicit explicit-ec-params.pem -subj /CN=www.corp.example -addext "subjectAltName=DNS:www.corp.example"
req ed25519 ed25519.pem -subj /CN=www.corp.example -addext "subjectAltName=DNS:www.corp.example"
req rsa1024 rsa-1024.pem -subj /CN=pc01.corp.example
req rsa2048 sss-other-site.pem -subj "/CN=The site code of this site server signing certificate is ABC"
req rsa2048 extra-attribute.pem -subj "/CN=pc01.corp.example/emailAddress=a@corp.example/serialNumber=42"

# byte patches (signature no longer verifies)
req rsa2048 "$tmp/nul.der" -subj /CN=AAAAAAAA.corp.example
req rsa2048 "$tmp/dbcs.der" -subj /CN=BBBBBBBB.corp.example
python3 - "$tmp" "$csr" <<'EOF'
import sys
tmp, out = sys.argv[1], sys.argv[2]
def patch(src, old, new, dst):
    b = open(src, "rb").read()
    assert old in b, src
    open(dst, "wb").write(b.replace(old, new, 1))
# NUL inside the CN, and Shift-JIS / GBK lead+trail bytes for U+4E2D
patch(tmp + "/nul.der", b"AAAAAAAA", b"AAA\x00AAAA", out + "/nul-in-cn.der")
patch(tmp + "/dbcs.der", b"BBBBBBBB", b"B\x92\x86BB\xd6\xd0B", out + "/dbcs-bytes-in-cn.der")
# a flipped bit in the signature
b = bytearray(open(out + "/web-server-ec.der", "rb").read())
b[-1] ^= 1
open(out + "/bad-signature.der", "wb").write(bytes(b))
EOF

# framing: trailing garbage, text before PEM, another block first, a bare BEGIN line
{ cat "$csr/web-server-ec.pem"; printf 'garbage\n'; } >"$csr/trailing-garbage.pem"
{ printf 'Here is my CSR:\n'; cat "$csr/web-server-ec.pem"; } >"$csr/leading-text.pem"
{ printf -- '-----BEGIN \nnot a CSR\n'; cat "$csr/web-server-ec.pem"; } >"$csr/bare-begin.pem"
openssl req -x509 -key "$tmp/p256.pem" -subj /CN=x -days 1 -out "$tmp/self.pem"
cat "$tmp/self.pem" "$csr/web-server-ec.pem" >"$csr/certificate-block-first.pem"
cat "$csr/web-server-ec.pem" "$csr/web-server-ec.pem" >"$csr/two-csrs.pem"
{ cat "$csr/web-server-ec.der"; printf '\0'; } >"$csr/der-trailing-byte.der"
sed 's/$/\r/' "$csr/web-server-ec.pem" >"$csr/crlf.pem"

# -- templates: the shipped ones, the test fixtures, and hostile XML
cp "$root"/templates/*.xml "$tpl/"
for d in good bad hostile; do
	for f in "$root"/tests/data/$d/*.xml; do cp "$f" "$tpl/$d-$(basename "$f")"; done
done
ws="$root/templates/web-server.xml"
sed 's/days="730"/days="99999999999999999999"/' "$ws" >"$tpl/x-huge-number.xml"
sed 's/days="730"/days="-1"/' "$ws" >"$tpl/x-negative.xml"
sed 's|<attribute type="CN" required="true" format="dns"/>|<attribute type="CN" required="true" fixed="{siteCode}{siteCode}{siteCode}-{siteCode}"/>|' \
	"$ws" >"$tpl/x-fixed-tokens.xml"
sed 's|<attribute type="CN" required="true" format="dns"/>|<attribute type="CN" required="true" fixed="{siteCode"/>|' \
	"$ws" >"$tpl/x-fixed-open-brace.xml"
sed 's|<description>|<description><![CDATA[cdata]]> &amp; &#x4E2D; |' "$ws" >"$tpl/x-cdata-entities.xml"
sed 's|<extendedKeyUsage>|<?pi data?><!-- c --><extendedKeyUsage>|' "$ws" >"$tpl/x-pi-comment.xml"
sed 's|xmlns="urn:sitepki:template:1"|xmlns="urn:sitepki:template:1" xmlns:x="urn:x" x:extra="1"|' "$ws" >"$tpl/x-foreign-attr.xml"
iconv -f UTF-8 -t UTF-16 "$ws" >"$tpl/x-utf16.xml"
{ printf '<?xml version="1.0"?>\n'; for _ in $(seq 1 200); do printf '<a>'; done; for _ in $(seq 1 200); do printf '</a>'; done; } >"$tpl/x-deep.xml"
{ printf '<?xml version="1.0"?>\n<template xmlns="urn:sitepki:template:1" name="'; head -c 5000 /dev/zero | tr '\0' 'n'; printf '"/>\n'; } >"$tpl/x-long-name.xml"
printf '<?xml version="1.0"?>\n<template xmlns="urn:sitepki:template:1" name="a\xff\xfe"/>\n' >"$tpl/x-bad-utf8.xml"
ls "$csr" | wc -l | sed 's/^/csr seeds: /'
ls "$tpl" | wc -l | sed 's/^/template seeds: /'

# -- EST requests for fuzz_est (a script of their own: it may be run alone)
bash "$here/make-est-seeds.sh"
ls "$here/corpus/est" | wc -l | sed 's/^/est seeds: /'

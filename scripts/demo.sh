#!/usr/bin/env bash
# demo.sh SITEPKI HOME - a demo CA home with one certificate of every
# shipped template, issued from real CSRs made by `openssl req`.
set -euo pipefail
S=$1
H=$2
PASS="$(dirname "$H")/demo-passphrase"
umask 077

rm -rf "$H"
# The CA key passphrase lives beside the home, not in it, and only for the
# demo: a real CA keeps it off the machine or in a root-only file.
openssl rand -base64 24 >"$PASS"
export SITEPKI_PASS_FILE=$PASS
# RSA-2048: AMT takes only RSA chains of at most 2048 bits (template
# amt-web-server refuses anything else), and every client type accepts it.
"$S" --home "$H" init --name "sitepki Demo Root CA" --org "sitepki demo" --site-code P01 --key rsa-2048 \
	--base-url http://127.0.0.1:8080/pki

OUT="$H/issued"
mkdir -p "$OUT"
issue() { # template CN "extra openssl req args" sitepki args...
	local t=$1 cn=$2 reqargs=$3
	shift 3
	# shellcheck disable=SC2086
	openssl req -new -newkey rsa:2048 -nodes -keyout "$OUT/$t.key" -subj "/CN=$cn" $reqargs \
		-out "$OUT/$t.csr" 2>/dev/null
	"$S" --home "$H" issue --template "$t" --csr "$OUT/$t.csr" --out "$OUT/$t.pem" "$@" 2>/dev/null
}
issue web-server mp01.corp.example "-addext subjectAltName=DNS:mp01.corp.example" --dns mp01.internet.example
issue client-auth pc0001.corp.example "-addext subjectAltName=DNS:pc0001.corp.example"
issue mobile-device jdoe "" --upn jdoe@corp.example
issue site-server-signing "The site code of this site server signing certificate is P01" ""
issue osd-media osd-media-p01 ""
issue isv-proxy isvproxy01.corp.example ""
issue amt-provisioning oobsp.corp.example "-addext subjectAltName=DNS:oobsp.corp.example"
issue amt-web-server amt0001.corp.example "-addext subjectAltName=DNS:amt0001.corp.example"
issue amt-8021x-client amt0001.corp.example "" --upn amt0001@corp.example

# The CRL the certificates' distribution point names, published where the
# HTTP service (and any web server) serves it from.
"$S" --home "$H" crl publish 2>/dev/null
SLUG=$(basename "$("$S" --home "$H" ca show --json | sed 's/.*"crl_url":"\([^"]*\)".*/\1/')" .crl)

echo
echo "Demo CA home: $H   (CA certificate: $H/ca.pem, passphrase file: $PASS)"
echo
"$S" --home "$H" cert list
echo
echo "Issued certificates, keys and CSRs: $OUT/<template>.{pem,key,csr}"
echo "Check one:   openssl verify -x509_strict -purpose sslserver -CAfile $H/ca.pem $OUT/web-server.pem"
echo "With CRL:    openssl verify -crl_check -CRLfile $H/publish/crl/$SLUG.crl.pem -CAfile $H/ca.pem $OUT/client-auth.pem"
echo "Revoke:      $S --home $H revoke SERIAL --reason keyCompromise && SITEPKI_PASS_FILE=$PASS $S --home $H crl publish"
echo "Block media: $S --home $H block add --cert $OUT/osd-media.pem --reason 'boot media lost'"
echo "Inventory:   $S --home $H cert list --json"
echo "Audit log:   $S --home $H audit verify"

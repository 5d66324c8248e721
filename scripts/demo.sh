#!/usr/bin/env bash
# demo.sh SITEPKI HOME - a demo CA home with one certificate of every
# shipped template, issued from real CSRs made by `openssl req`, then the
# enrollment service on 127.0.0.1 (HTTPS 8443, CRL/AIA HTTP 8080) in the
# foreground with the exact curl + openssl lines to enroll against it.
# Ctrl-C stops the service cleanly.
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

# The enrollment service, with a one-time token ready for a client.
TOKEN=$("$S" --home "$H" token create --template client-auth --subject CN=pc0002.corp.example \
	--dns pc0002.corp.example --ttl 1d 2>/dev/null)
E=https://localhost:8443/.well-known/est
echo
echo "Enrollment service (EST, RFC 7030) on https://localhost:8443 and the CRL/AIA port http://127.0.0.1:8080/pki."
echo "In another terminal, enroll pc0002 with the one-time token made for it (the secret is shown once):"
echo "  cd $(pwd)"
echo "  curl --cacert $H/ca.pem $E/cacerts | openssl base64 -d | openssl pkcs7 -inform DER -print_certs"
echo "  openssl req -new -newkey rsa:2048 -nodes -keyout pc0002.key -subj /CN=pc0002.corp.example \\"
echo "      -addext subjectAltName=DNS:pc0002.corp.example -outform DER | openssl base64 > pc0002.b64"
echo "  curl --cacert $H/ca.pem -u '$TOKEN' -H 'Content-Type: application/pkcs10' --data-binary @pc0002.b64 \\"
echo "      $E/client-auth/simpleenroll | openssl base64 -d | openssl pkcs7 -inform DER -print_certs -out pc0002.pem"
echo "  openssl verify -CAfile $H/ca.pem pc0002.pem"
echo "Renew it with the certificate itself as TLS client certificate:"
echo "  openssl req -new -key pc0002.key -subj /CN=pc0002.corp.example -addext subjectAltName=DNS:pc0002.corp.example \\"
echo "      -outform DER | openssl base64 > renew.b64"
echo "  curl --cacert $H/ca.pem --cert pc0002.pem --key pc0002.key -H 'Content-Type: application/pkcs10' \\"
echo "      --data-binary @renew.b64 $E/client-auth/simplereenroll | openssl base64 -d | openssl pkcs7 -inform DER -print_certs"
echo "Without a token a request waits for approval: $S --home $H request list / request approve ID"
echo "Ctrl-C stops the service."
echo
exec "$S" --home "$H" serve

#!/usr/bin/env bash
# tests/fuzz/make-est-seeds.sh - regenerate the seed corpus of fuzz_est in
# tests/fuzz/corpus/est/ (called by make-seeds.sh; may be run alone). Run
# once by hand; the results are kept in the repository (keys are throw-away
# and not kept). Needs openssl, base64, xxd, python3.
#
# Input format (fuzz_est.c, docs/fuzzing.md): "METHOD PATH", header lines,
# an empty line, the body. The placeholders @TOKEN@ / @OSDTOKEN@ /
# @ISVTOKEN@ (Authorization) and @PEER@ / @AGENT@ / @REVOKED@ / @BLOCKED@ /
# @CA@ (X-Peer) are filled in by the harness with the per-process token
# credentials and certificates.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out="$here/corpus/est"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$tmp/rsa.pem" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/p256.pem"

# csr KEY NAME SUBJ [openssl req options...] -> $tmp/NAME.der
csr() {
	local key=$1 name=$2 subj=$3
	shift 3
	openssl req -new -key "$tmp/$key.pem" -outform DER -out "$tmp/$name.der" -subj "$subj" "$@"
}
csr rsa token /CN=token.fuzz.example -addext "subjectAltName=DNS:token.fuzz.example"
csr rsa anon /CN=anon.fuzz.example
csr rsa peer /CN=peer.fuzz.example -addext "subjectAltName=DNS:peer.fuzz.example"
csr rsa other /CN=other.fuzz.example
csr rsa osd /O=Contoso/CN=osd.fuzz.example
csr rsa isv /O=Contoso/OU=Proxies/CN=isv.fuzz.example
csr p256 www /CN=www.fuzz.example -addext "subjectAltName=DNS:www.fuzz.example,DNS:intranet.fuzz.example"
# a client certificate from another CA (self-signed), as hex DER
openssl req -new -x509 -key "$tmp/rsa.pem" -subj /CN=foreign.fuzz.example -days 3650 \
	-addext "extendedKeyUsage=clientAuth" -outform DER -out "$tmp/foreign.der"
foreign_hex=$(xxd -p "$tmp/foreign.der" | tr -d '\n')

b64w() { base64 -w 64 "$tmp/$1.der"; }   # wrapped at 64, LF
b64l() { base64 -w 0 "$tmp/$1.der"; }    # one line

# seed FILE "REQUEST LINE" [header lines...] ; body on stdin
seed() {
	local file=$1
	shift
	{
		for l in "$@"; do printf '%s\n' "$l"; done
		printf '\n'
		cat
	} >"$out/$file"
}
CT="Content-Type: application/pkcs10"
P=/.well-known/est

# -- GET operations
seed get-cacerts.txt "GET $P/cacerts" </dev/null
seed get-cacerts-label.txt "GET $P/client-auth/cacerts" </dev/null
seed head-cacerts.txt "HEAD $P/cacerts" </dev/null
seed get-csrattrs-web-server.txt "GET $P/web-server/csrattrs" </dev/null
seed get-csrattrs-osd-media.txt "GET $P/osd-media/csrattrs" </dev/null
seed get-csrattrs-no-label.txt "GET $P/csrattrs" </dev/null

# -- simpleenroll, client-auth
b64w anon | seed simpleenroll-anonymous-wrapped.txt "POST $P/client-auth/simpleenroll" "$CT"
b64l anon | seed simpleenroll-anonymous-oneline.txt "POST $P/client-auth/simpleenroll" "$CT"
b64w token | seed simpleenroll-token-wrapped.txt "POST $P/client-auth/simpleenroll" "$CT" \
	"Authorization: Basic @TOKEN@"
b64l token | seed simpleenroll-token-oneline.txt "POST $P/client-auth/simpleenroll" \
	"Content-Type: application/PKCS10; charset=us-ascii" "Authorization: Basic @TOKEN@"
b64w token | sed 's/$/\r/' | {
	printf 'POST %s/client-auth/simpleenroll\r\n%s\r\nAuthorization: Basic @TOKEN@\r\n\r\n' "$P" "$CT"
	cat
} >"$out/simpleenroll-token-crlf.txt"
b64w other | seed simpleenroll-token-other-names.txt "POST $P/client-auth/simpleenroll" "$CT" \
	"Authorization: Basic @TOKEN@"
b64w token | seed simpleenroll-token-other-template.txt "POST $P/web-server/simpleenroll" "$CT" \
	"Authorization: Basic @TOKEN@"
b64w token | seed simpleenroll-token-not-base64.txt "POST $P/client-auth/simpleenroll" "$CT" \
	"Authorization: Basic !!not base64!!"
b64w token | seed simpleenroll-token-unknown-id.txt "POST $P/client-auth/simpleenroll" "$CT" \
	"Authorization: Basic $(printf '999:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' | base64 -w 0)"
b64w token | seed simpleenroll-token-no-colon.txt "POST $P/client-auth/simpleenroll" "$CT" \
	"Authorization: Basic $(printf 'justauser' | base64 -w 0)"
b64w token | seed simpleenroll-bearer.txt "POST $P/client-auth/simpleenroll" "$CT" \
	"Authorization: Bearer abc"
printf '@@@@ this is not base64 ####\n' | seed simpleenroll-garbage-base64.txt "POST $P/client-auth/simpleenroll" "$CT"
printf 'MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n' |
	seed simpleenroll-base64-not-csr.txt "POST $P/client-auth/simpleenroll" "$CT"
# a flipped bit near the end (the signature): no proof of possession
python3 - "$tmp/anon.der" "$tmp/badsig.der" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[-5] ^= 0x01
open(sys.argv[2], "wb").write(b)
PY
b64w badsig | seed simpleenroll-bad-signature.txt "POST $P/client-auth/simpleenroll" "$CT"
b64w anon | seed simpleenroll-wrong-content-type.txt "POST $P/client-auth/simpleenroll" \
	"Content-Type: application/json"
b64w anon | seed simpleenroll-no-content-type.txt "POST $P/client-auth/simpleenroll"
b64w anon | seed simpleenroll-unknown-label.txt "POST $P/no-such-template/simpleenroll" "$CT"
b64w anon | seed simpleenroll-bad-label.txt "POST $P/Client_Auth/simpleenroll" "$CT"
b64w anon | seed simpleenroll-no-label.txt "POST $P/simpleenroll" "$CT"
seed simpleenroll-get.txt "GET $P/client-auth/simpleenroll" </dev/null
seed not-est.txt "GET /index.html" </dev/null
seed unknown-operation.txt "GET $P/client-auth/fullcmc" </dev/null

# -- other templates: agent, queue with a token, serverkeygen
b64w www | seed simpleenroll-agent-web-server.txt "POST $P/web-server/simpleenroll" "$CT" "X-Peer: @AGENT@" \
	"X-Peer: @CA@"
b64w www | seed simpleenroll-agent-not-allowed.txt "POST $P/osd-media/simpleenroll" "$CT" "X-Peer: @AGENT@"
b64w isv | seed simpleenroll-isv-token-queued.txt "POST $P/isv-proxy/simpleenroll" "$CT" \
	"Authorization: Basic @ISVTOKEN@"
b64w osd | seed serverkeygen-osd-token.txt "POST $P/osd-media/serverkeygen" "$CT" \
	"Authorization: Basic @OSDTOKEN@"
b64w osd | seed serverkeygen-osd-anonymous.txt "POST $P/osd-media/serverkeygen" "$CT"
b64w token | seed serverkeygen-client-auth.txt "POST $P/client-auth/serverkeygen" "$CT" \
	"Authorization: Basic @TOKEN@"

# -- client certificates
b64w peer | seed simplereenroll-peer.txt "POST $P/client-auth/simplereenroll" "$CT" "X-Peer: @PEER@"
b64w other | seed simplereenroll-peer-other-names.txt "POST $P/client-auth/simplereenroll" "$CT" "X-Peer: @PEER@"
b64w peer | seed simplereenroll-no-peer.txt "POST $P/client-auth/simplereenroll" "$CT"
b64w peer | seed simpleenroll-peer.txt "POST $P/client-auth/simpleenroll" "$CT" "X-Peer: @PEER@" "X-Client: 2001:db8::1"
b64w peer | seed simplereenroll-revoked.txt "POST $P/client-auth/simplereenroll" "$CT" "X-Peer: @REVOKED@"
b64w anon | seed simpleenroll-blocked.txt "POST $P/client-auth/simpleenroll" "$CT" "X-Peer: @BLOCKED@" \
	"Authorization: Basic @TOKEN@"
b64w anon | seed simpleenroll-ca-as-peer.txt "POST $P/client-auth/simpleenroll" "$CT" "X-Peer: @CA@"
b64w anon | seed simpleenroll-foreign-peer.txt "POST $P/client-auth/simpleenroll" "$CT" "X-Peer: $foreign_hex"
b64w anon | seed simpleenroll-garbage-peer.txt "POST $P/client-auth/simpleenroll" "$CT" "X-Peer: 3082ffff0102"

# -- a token user name with a line break: the handler puts the user name
#    into the identity the service logs (FUZZ_EST_CHECK_IDENTITY=1 fails on it)
b64w anon | seed simpleenroll-token-user-newline.txt "POST $P/client-auth/simpleenroll" "$CT" \
	"Authorization: Basic $(printf 'x 200 -\n2026-01-01T00:00:00Z 10.0.0.9 GET /x 200 admin:pw' | base64 -w 0)"

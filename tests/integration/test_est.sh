#!/bin/bash
# test_est.sh - the enrollment service as clients and an administrator meet
# it, on 127.0.0.1 with an ephemeral HTTPS port: the classic curl + openssl
# EST lines (cacerts, csrattrs, simpleenroll with a token, simplereenroll
# with the issued certificate as TLS client certificate, pending -> approve
# -> retry, serverkeygen), an enrollment agent, refusals (revoked, blocked,
# wrong/reused/other-name token, garbage base64, 10 MB body, slow client,
# wrong content type, unknown label) each with its status, the service up
# and the store unchanged; TLS judged by openssl s_client and gnutls-cli;
# the CRL and CA certificate URLs inside an issued certificate fetched from
# the plain-HTTP port and verified by openssl; SIGTERM stops it cleanly.
source "$(dirname "$0")/lib.sh"
need openssl curl sqlite3 gnutls-cli

H=$T/home
DB=$H/sitepki.db

# a free port for the plain-HTTP listener: the CA's URLs must name it
free_port() {
	local b=$((20000 + ($$ * 13) % 30000)) p used
	used=$(awk 'FNR > 1 { split($2, a, ":"); print a[2] }' /proc/net/tcp /proc/net/tcp6 2>/dev/null | sort -u)
	for p in $(seq "$b" $((b + 200))); do
		printf '%s\n' "$used" | grep -qx "$(printf '%04X' "$p")" || { echo "$p"; return 0; }
	done
	return 1
}
HP=$(free_port) || die "no free port"
new_ca "$H" "EST Test Root" --key rsa-2048 --base-url "http://127.0.0.1:$HP/pki"
CA=$H/ca.pem
run sp --home "$H" crl publish --pass-file "$PASS"
[ "$RC" -eq 0 ] || die "crl publish: $(cat "$T/.err")"

cat >"$T/serve.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<serve xmlns="urn:sitepki:serve:1">
  <listen address="127.0.0.1" https="0" http="$HP"/>
  <limits maxBody="65536" timeout="3" ratePerMinute="6000" rateBurst="1000"/>
  <pending retryAfter="7"/>
  <log file="$T/serve.log"/>
  <agent template="client-auth" subject="CN=sccm01.corp.example" allow="amt-web-server amt-8021x-client"/>
</serve>
EOF

SERVE_PID=
# start_service CONFIG: start `sitepki serve`, wait for its address line.
start_service() {
	: >"$T/serve.out"
	# the binary itself, not the sp() function: $! must be the service
	"$SITEPKI" --home "$H" serve --config "$1" --pass-file "$PASS" >"$T/serve.out" 2>"$T/serve.err" &
	SERVE_PID=$!
	BG_PIDS+=("$SERVE_PID")
	for _ in $(seq 1 100); do
		grep -q '^sitepki serve: https=' "$T/serve.out" && break
		kill -0 "$SERVE_PID" 2>/dev/null || break
		sleep 0.1
	done
	P=$(sed -n 's/^sitepki serve: https=127.0.0.1:\([0-9]*\) .*/\1/p' "$T/serve.out")
	[ -n "$P" ] || { cat "$T/serve.err"; die "serve did not start"; }
	EST=https://localhost:$P/.well-known/est
}
start_service "$T/serve.xml"
ok "serve started: HTTPS on ephemeral port $P, HTTP on $HP"
# nothing but its own lines, and an empty request log: no library warning
# about the configuration (libmicrohttpd's messages go to the request log)
touch "$T/serve.log"
if grep -hv '^sitepki serve: ' "$T/serve.out" "$T/serve.err" "$T/serve.log" | grep -q .; then
	fail "serve printed more than its own lines at start-up: $(grep -hv '^sitepki serve: ' "$T/serve.out" "$T/serve.err" "$T/serve.log" | head -2 | tr '\n' ' ')"
else
	ok "serve printed only its own lines at start-up"
fi

# est_post URL BODYFILE [curl args...]: sets CODE, headers in $T/h, body in $T/b
est_post() {
	local url=$1 body=$2
	shift 2
	CODE=$(curl -s -o "$T/b" -D "$T/h" -w '%{http_code}' --cacert "$CA" -H 'Content-Type: application/pkcs10' \
		--data-binary @"$body" "$@" "$url" || true)
}
alive() { # the service still answers
	[ "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA" "$EST/cacerts" || true)" = 200 ]
}
counts() { sql "$DB" "select (select count(*) from certificate)||' '||(select count(*) from request)"; }
# p7_to_pem IN OUT: base64 certs-only PKCS#7 -> PEM certificates (openssl)
p7_to_pem() { openssl base64 -d -in "$1" | openssl pkcs7 -inform DER -print_certs -out "$2"; }
# csr KEYFILE SUBJ [SAN] OUT: a base64 (wrapped) DER CSR made by openssl
csr() {
	local key=$1 subj=$2 san=$3 out=$4
	[ -f "$key" ] || openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$key" 2>/dev/null
	if [ -n "$san" ]; then
		openssl req -new -key "$key" -subj "$subj" -addext "subjectAltName=$san" -outform DER -out "$out.der"
	else
		openssl req -new -key "$key" -subj "$subj" -outform DER -out "$out.der"
	fi
	openssl base64 -in "$out.der" -out "$out"
}

# --------------------------------------------------------------- cacerts
CODE=$(curl -s -o "$T/cacerts.b64" -D "$T/h" -w '%{http_code}' --cacert "$CA" "$EST/cacerts" || true)
if [ "$CODE" = 200 ] && p7_to_pem "$T/cacerts.b64" "$T/cacerts.pem" 2>"$T/.err" &&
	[ "$(openssl x509 -in "$T/cacerts.pem" -noout -fingerprint -sha256)" = "$(openssl x509 -in "$CA" -noout -fingerprint -sha256)" ] &&
	grep -qi '^content-type: application/pkcs7-mime' "$T/h" && grep -qi '^content-transfer-encoding: base64' "$T/h"; then
	ok "cacerts: 200, application/pkcs7-mime base64, holds the CA certificate (openssl pkcs7)"
else
	fail "cacerts (HTTP $CODE)" "$T/h" "$T/.err"
fi

# --------------------------------------------------------------- csrattrs
CODE=$(curl -s -o "$T/attrs.b64" -D "$T/h" -w '%{http_code}' --cacert "$CA" "$EST/web-server/csrattrs" || true)
if [ "$CODE" = 200 ] && grep -qi '^content-type: application/csrattrs' "$T/h" &&
	openssl base64 -d -in "$T/attrs.b64" | openssl asn1parse -inform DER >"$T/attrs.txt" 2>&1 &&
	grep -q rsaEncryption "$T/attrs.txt" && grep -q prime256v1 "$T/attrs.txt" && grep -q 'Extension Request' "$T/attrs.txt"; then
	ok "csrattrs web-server: application/csrattrs, openssl asn1parse shows the key types and extensionRequest"
else
	fail "csrattrs (HTTP $CODE)" "$T/h" "$T/attrs.txt"
fi

# ------------------------------------------------- simpleenroll with a token
run sp --home "$H" token create --template client-auth --subject "CN=pc1.corp.example" --dns pc1.corp.example --ttl 1h
[ "$RC" -eq 0 ] || die "token create: $(cat "$T/.err")"
TOK1=$(cat "$T/.out")
csr "$T/pc1.key" "/CN=pc1.corp.example" "DNS:pc1.corp.example" "$T/pc1.b64"
est_post "$EST/client-auth/simpleenroll" "$T/pc1.b64" -u "$TOK1"
if [ "$CODE" = 200 ] && grep -qi '^content-type: application/pkcs7-mime; *smime-type=certs-only' "$T/h" &&
	p7_to_pem "$T/b" "$T/pc1.pem" 2>"$T/.err" && openssl verify -CAfile "$CA" -purpose sslclient "$T/pc1.pem" >"$T/.out" 2>&1 &&
	[ "$(openssl x509 -in "$T/pc1.pem" -noout -pubkey)" = "$(openssl pkey -in "$T/pc1.key" -pubout)" ]; then
	ok "simpleenroll client-auth with a token (wrapped base64): 200 certs-only, openssl verify -purpose sslclient OK, key matches"
else
	fail "simpleenroll with token (HTTP $CODE)" "$T/h" "$T/b" "$T/.out" "$T/.err"
fi
PC1=$(pem_serial "$T/pc1.pem" 2>/dev/null || echo none)
grep -q "POST /.well-known/est/client-auth/simpleenroll 200 token:[0-9]* $PC1 " "$T/serve.log" &&
	ok "log line: method, path, status, token identity, serial, duration" ||
	fail "log line for the token enrollment" "$T/serve.log"
SECRET=${TOK1#*:}
grep -qF -- "$SECRET" "$T/serve.log" "$T/serve.err" "$T/serve.out" && fail "the token secret appears in the service output" ||
	ok "the token secret is in no log"
sql "$DB" "select count(*) from token where secret_sha256 like '%$SECRET%'" | grep -qx 0 &&
	! strings "$DB" | grep -qF -- "$SECRET" && ok "the store holds no token secret" || fail "token secret stored"

# web-server with a one-line base64 body
run sp --home "$H" token create --template web-server --subject "CN=www1.corp.example" --dns www1.corp.example --dns www1.contoso.example
TOK2=$(cat "$T/.out")
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/www1.key" 2>/dev/null
csr "$T/www1.key" "/CN=www1.corp.example" "DNS:www1.corp.example,DNS:www1.contoso.example" "$T/www1.b64"
base64 -w0 "$T/www1.b64.der" >"$T/www1.one"
est_post "$EST/web-server/simpleenroll" "$T/www1.one" -u "$TOK2"
if [ "$CODE" = 200 ] && p7_to_pem "$T/b" "$T/www1.pem" 2>"$T/.err" && openssl verify -CAfile "$CA" -purpose sslserver "$T/www1.pem" >/dev/null 2>&1 &&
	openssl x509 -in "$T/www1.pem" -noout -ext subjectAltName | grep -q 'DNS:www1.contoso.example'; then
	ok "simpleenroll web-server with a token (one-line base64): 200, openssl verify -purpose sslserver OK, both names"
else
	fail "simpleenroll web-server (HTTP $CODE)" "$T/b" "$T/.err"
fi

# --------------------------------------------------------- token refusals
before=$(counts)
csr "$T/pc2.key" "/CN=pc1.corp.example" "DNS:pc1.corp.example" "$T/pc2.b64"
est_post "$EST/client-auth/simpleenroll" "$T/pc2.b64" -u "$TOK1"
[ "$CODE" = 401 ] && grep -qi '^www-authenticate: Basic' "$T/h" && grep -qi 'already used' "$T/b" &&
	ok "reused token: 401 with WWW-Authenticate ($(head -c 80 "$T/b"))" || fail "reused token (HTTP $CODE)" "$T/h" "$T/b"
est_post "$EST/client-auth/simpleenroll" "$T/pc2.b64" -u "${TOK1%%:*}:AAAAwrongsecretAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
[ "$CODE" = 401 ] && grep -qi '^www-authenticate: Basic' "$T/h" && grep -qi 'wrong enrollment token' "$T/b" &&
	ok "wrong token: 401 with WWW-Authenticate" || fail "wrong token (HTTP $CODE)" "$T/h" "$T/b"
# a CSR already issued is answered again only to the token it was issued to
# (the retry of a lost answer); other credentials get the usual refusal
est_post "$EST/client-auth/simpleenroll" "$T/pc1.b64" -u "${TOK1%%:*}:AAAAwrongsecretAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
[ "$CODE" = 401 ] && grep -qi 'wrong enrollment token' "$T/b" &&
	ok "issued CSR with a wrong secret: 401, not its certificate" || fail "issued CSR, wrong secret (HTTP $CODE)" "$T/b"
est_post "$EST/client-auth/simpleenroll" "$T/pc1.b64" -u "$TOK2"
[ "$CODE" = 401 ] && grep -qi 'already used' "$T/b" &&
	ok "issued CSR with another spent token: 401, not its certificate" || fail "issued CSR, other token (HTTP $CODE)" "$T/b"
est_post "$EST/client-auth/simpleenroll" "$T/pc1.b64" -u "$TOK1"
[ "$CODE" = 200 ] && p7_to_pem "$T/b" "$T/pc1.again.pem" 2>"$T/.err" &&
	[ "$(openssl x509 -in "$T/pc1.again.pem" -outform DER | sha256sum)" = "$(openssl x509 -in "$T/pc1.pem" -outform DER | sha256sum)" ] &&
	ok "issued CSR with its own spent token: 200, the same certificate (a lost answer), nothing issued" ||
	fail "issued CSR, own token (HTTP $CODE)" "$T/b" "$T/.err"
run sp --home "$H" token create --template client-auth --subject "CN=pc3.corp.example" --dns pc3.corp.example
TOK3=$(cat "$T/.out")
csr "$T/pc4.key" "/CN=pc4.corp.example" "DNS:pc4.corp.example" "$T/pc4.b64"
est_post "$EST/client-auth/simpleenroll" "$T/pc4.b64" -u "$TOK3"
[ "$CODE" = 403 ] && grep -qi 'not for' "$T/b" && ok "token for another name: 403 ($(head -c 90 "$T/b"))" ||
	fail "token for another name (HTTP $CODE)" "$T/b"
est_post "$EST/web-server/simpleenroll" "$T/pc4.b64" -u "$TOK3"
[ "$CODE" = 403 ] && grep -qi 'is for template' "$T/b" && ok "token for another template: 403" ||
	fail "token for another template (HTTP $CODE)" "$T/b"
[ "$(counts)" = "$before" ] && ok "token refusals left the store unchanged ($before)" || fail "store changed: $before -> $(counts)"
grep -q "est-refused-token" <(sql "$DB" "select action from audit") && ok "token refusals are audited" ||
	fail "no est-refused-token audit row"
# the other-name refusal did not spend the token
csr "$T/pc3.key" "/CN=pc3.corp.example" "DNS:pc3.corp.example" "$T/pc3.b64"
est_post "$EST/client-auth/simpleenroll" "$T/pc3.b64" -u "$TOK3"
[ "$CODE" = 200 ] && ok "a refused request does not spend the token: the right CSR then enrolls" ||
	fail "token after refusal (HTTP $CODE)" "$T/b"

# a token left claimed by a service killed between the claim and its answer
# (the claim is made here by hand: no request was recorded for it)
run sp --home "$H" token create --template client-auth --subject "CN=pc5.corp.example" --dns pc5.corp.example
TOK5=$(cat "$T/.out")
sql "$DB" "update token set state = 1 where id = ${TOK5%%:*}"
csr "$T/pc5.key" "/CN=pc5.corp.example" "DNS:pc5.corp.example" "$T/pc5.b64"
est_post "$EST/client-auth/simpleenroll" "$T/pc5.b64" -u "$TOK5"
[ "$CODE" = 401 ] && ok "a token left claimed is refused (HTTP 401)" || fail "claimed token (HTTP $CODE)" "$T/b"
run sp --home "$H" token release "${TOK5%%:*}"
[ "$RC" -eq 0 ] && grep -q "unused again" "$T/.out" && ok "token release: $(cat "$T/.out")" ||
	fail "token release (exit $RC)" "$T/.out" "$T/.err"
grep -q token-release <(sql "$DB" "select action from audit order by id desc limit 1") &&
	ok "token release is audited" || fail "no token-release audit row"
est_post "$EST/client-auth/simpleenroll" "$T/pc5.b64" -u "$TOK5"
[ "$CODE" = 200 ] && ok "the released token then enrolls with the same credential" ||
	fail "released token (HTTP $CODE)" "$T/b"
run sp --home "$H" token release "${TOK5%%:*}"
[ "$RC" -eq 6 ] && grep -q "not claimed" "$T/.err" && [ "$(wc -l <"$T/.err")" -eq 1 ] &&
	ok "token release of a used token: exit 6, $(cat "$T/.err")" || fail "release of a used token (exit $RC)" "$T/.err"
run sp --home "$H" token release 12abc
[ "$RC" -ne 0 ] && [ ! -s "$T/.out" ] && ok "token release with a bad id: exit $RC" || fail "release bad id (exit $RC)" "$T/.err"

# ------------------------------------ simplereenroll with the TLS client cert
csr "$T/pc1.key" "/CN=pc1.corp.example" "DNS:pc1.corp.example" "$T/pc1r.b64"
est_post "$EST/client-auth/simplereenroll" "$T/pc1r.b64" --cert "$T/pc1.pem" --key "$T/pc1.key"
if [ "$CODE" = 200 ] && p7_to_pem "$T/b" "$T/pc1r.pem" 2>"$T/.err" && openssl verify -CAfile "$CA" "$T/pc1r.pem" >/dev/null 2>&1 &&
	[ "$(openssl x509 -in "$T/pc1r.pem" -noout -subject)" = "$(openssl x509 -in "$T/pc1.pem" -noout -subject)" ] &&
	[ "$(pem_serial "$T/pc1r.pem")" != "$PC1" ]; then
	ok "simplereenroll with the issued certificate as TLS client certificate: 200, same subject, new serial"
else
	fail "simplereenroll (HTTP $CODE)" "$T/b" "$T/.err"
fi
grep -q "simplereenroll 200 cert:$PC1 " "$T/serve.log" && ok "log names the client certificate" || fail "reenroll log line" "$T/serve.log"
before=$(counts)
est_post "$EST/client-auth/simplereenroll" "$T/pc1r.b64"
[ "$CODE" = 401 ] && ok "simplereenroll without a client certificate: 401" || fail "reenroll without cert (HTTP $CODE)" "$T/b"
est_post "$EST/client-auth/simplereenroll" "$T/pc4.b64" --cert "$T/pc1.pem" --key "$T/pc1.key"
[ "$CODE" = 403 ] && ok "simplereenroll for other names: 403" || fail "reenroll other names (HTTP $CODE)" "$T/b"
[ "$(counts)" = "$before" ] && ok "store unchanged by the refused re-enrollments" || fail "store changed: $before -> $(counts)"

# ------------------------------------------------- pending -> approve -> retry
csr "$T/pend.key" "/CN=pend.corp.example" "DNS:pend.corp.example" "$T/pend.b64"
est_post "$EST/client-auth/simpleenroll" "$T/pend.b64"
RID=$(sed -n 's/^request \([0-9]*\) is waiting.*/\1/p' "$T/b")
[ "$CODE" = 202 ] && grep -qi '^retry-after: 7' "$T/h" && [ -n "$RID" ] &&
	ok "anonymous simpleenroll: 202 Accepted, Retry-After 7, request $RID queued" || fail "pending (HTTP $CODE)" "$T/h" "$T/b"
est_post "$EST/client-auth/simpleenroll" "$T/pend.b64"
[ "$CODE" = 202 ] && grep -q "request $RID " "$T/b" && ok "retry before approval: 202 for the same request" ||
	fail "retry while pending (HTTP $CODE)" "$T/b"
run sp --home "$H" request list
grep -q "$RID" "$T/.out" && ok "request list shows request $RID" || fail "request list" "$T/.out" "$T/.err"
run sp --home "$H" request approve "$RID" --pass-file "$PASS"
[ "$RC" -eq 0 ] && ok "request approve $RID" || fail "request approve (exit $RC)" "$T/.err"
est_post "$EST/client-auth/simpleenroll" "$T/pend.b64"
if [ "$CODE" = 200 ] && p7_to_pem "$T/b" "$T/pend.pem" 2>"$T/.err" && openssl verify -CAfile "$CA" "$T/pend.pem" >/dev/null 2>&1 &&
	[ "$(openssl x509 -in "$T/pend.pem" -noout -pubkey)" = "$(openssl pkey -in "$T/pend.key" -pubout)" ]; then
	ok "retry after approval: 200 with the certificate (RFC 7030 4.2.3), openssl verify OK"
else
	fail "retry after approval (HTTP $CODE)" "$T/b" "$T/.err"
fi
csr "$T/rej.key" "/CN=rej.corp.example" "" "$T/rej.b64"
est_post "$EST/client-auth/simpleenroll" "$T/rej.b64"
RJ=$(sed -n 's/^request \([0-9]*\) is waiting.*/\1/p' "$T/b")
run sp --home "$H" request reject "$RJ" --reason "not a corporate device"
est_post "$EST/client-auth/simpleenroll" "$T/rej.b64"
[ "$CODE" = 403 ] && grep -q 'not a corporate device' "$T/b" && ok "retry after reject: 403 with the reason" ||
	fail "retry after reject (HTTP $CODE)" "$T/b"

# ------------------------------------------------------ enrollment agent
run sp --home "$H" token create --template client-auth --subject "CN=sccm01.corp.example" --dns sccm01.corp.example
TOKA=$(cat "$T/.out")
csr "$T/agent.key" "/CN=sccm01.corp.example" "DNS:sccm01.corp.example" "$T/agent.b64"
est_post "$EST/client-auth/simpleenroll" "$T/agent.b64" -u "$TOKA"
p7_to_pem "$T/b" "$T/agent.pem" 2>/dev/null || die "agent certificate (HTTP $CODE)"
csr "$T/amt.key" "/CN=amt01.corp.example" "otherName:msUPN;UTF8:amt01@corp.example" "$T/amt.b64"
est_post "$EST/amt-8021x-client/simpleenroll" "$T/amt.b64" --cert "$T/agent.pem" --key "$T/agent.key"
if [ "$CODE" = 200 ] && p7_to_pem "$T/b" "$T/amt.pem" 2>"$T/.err" && openssl verify -CAfile "$CA" "$T/amt.pem" >/dev/null 2>&1; then
	ok "enrollment agent (site server) requests amt-8021x-client on behalf of a device: 200, openssl verify OK"
else
	fail "agent enrollment (HTTP $CODE)" "$T/b" "$T/.err"
fi
csr "$T/amt2.key" "/CN=amt02.corp.example" "otherName:msUPN;UTF8:amt02@corp.example" "$T/amt2.b64"
est_post "$EST/amt-8021x-client/simpleenroll" "$T/amt2.b64" --cert "$T/pc1r.pem" --key "$T/pc1.key"
[ "$CODE" = 202 ] && ok "a client certificate that is no agent asking for others' names: queued (202)" ||
	fail "non-agent on behalf (HTTP $CODE)" "$T/b"

# ------------------------------------------------------ serverkeygen (osd-media)
run sp --home "$H" token create --template osd-media --subject "CN=PXE pxe1" --dns pxe1.corp.example
TOKM=$(cat "$T/.out")
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/skg.key" 2>/dev/null
csr "$T/skg.key" "/CN=PXE pxe1" "DNS:pxe1.corp.example" "$T/skg.b64"
est_post "$EST/osd-media/serverkeygen" "$T/skg.b64" -u "$TOKM"
# the multipart body split by Python's email package (not by us)
SPLIT=0
"$PY" - "$T/h" "$T/b" "$T/skg" >"$T/split.err" 2>&1 <<'PYEOF' || SPLIT=$?
import base64, email, sys
hdr = open(sys.argv[1], encoding="latin-1").read()
ct = [l.split(":", 1)[1].strip() for l in hdr.splitlines() if l.lower().startswith("content-type:")][-1]
msg = email.message_from_bytes(b"Content-Type: " + ct.encode() + b"\r\n\r\n" + open(sys.argv[2], "rb").read())
parts = [p for p in msg.walk() if not p.is_multipart()]
assert [p.get_content_type() for p in parts] == ["application/pkcs8", "application/pkcs7-mime"], parts
open(sys.argv[3] + ".p8", "wb").write(base64.b64decode(parts[0].get_payload()))
open(sys.argv[3] + ".p7", "wb").write(base64.b64decode(parts[1].get_payload()))
PYEOF
if [ "$CODE" = 200 ] && [ "$SPLIT" -eq 0 ] && grep -qi '^content-type: multipart/mixed; boundary=' "$T/h" &&
	openssl pkcs7 -inform DER -in "$T/skg.p7" -print_certs -out "$T/skg.pem" &&
	[ "$(openssl x509 -in "$T/skg.pem" -noout -pubkey)" = "$(openssl pkey -inform DER -in "$T/skg.p8" -pubout)" ] &&
	[ "$(openssl x509 -in "$T/skg.pem" -noout -pubkey)" != "$(openssl pkey -in "$T/skg.key" -pubout)" ] &&
	openssl x509 -in "$T/skg.pem" -noout -text | grep -q 'Public-Key: (2048 bit)' &&
	openssl verify -CAfile "$CA" "$T/skg.pem" >/dev/null 2>&1; then
	ok "serverkeygen osd-media with a token: multipart (pkcs8 + certs-only), the CA-made RSA-2048 key matches the certificate"
else
	fail "serverkeygen (HTTP $CODE)" "$T/h" "$T/b" "$T/split.err"
fi

# ------------------------- boot media: its certificate as TLS client, then blocked
printf 'media password 42\n' >"$T/media.pw"
chmod 600 "$T/media.pw"
run sp --home "$H" media create --name "PXE media 9" --dns pxe9.corp.example --password-file "$T/media.pw" \
	--out "$T/media.pfx" --iter 10000 --pass-file "$PASS"
[ "$RC" -eq 0 ] || die "media create: $(cat "$T/.err")"
openssl pkcs12 -in "$T/media.pfx" -passin file:"$T/media.pw" -nokeys -clcerts -out "$T/media.pem" 2>/dev/null &&
	openssl pkcs12 -in "$T/media.pfx" -passin file:"$T/media.pw" -nocerts -nodes -out "$T/media.key" 2>/dev/null ||
	die "openssl pkcs12 could not open the media PKCS#12"
csr "$T/media.key" "/CN=PXE media 9" "DNS:pxe9.corp.example" "$T/media.b64"
est_post "$EST/osd-media/simplereenroll" "$T/media.b64" --cert "$T/media.pem" --key "$T/media.key"
[ "$CODE" = 202 ] && ok "boot-media certificate as TLS client: accepted, renewal queued (osd-media approves tokens only)" ||
	fail "media certificate before blocking (HTTP $CODE)" "$T/b"
run sp --home "$H" block add --cert "$T/media.pem" --reason "boot media lost"
[ "$RC" -eq 0 ] || fail "block add media" "$T/.err"
est_post "$EST/osd-media/simplereenroll" "$T/media.b64" --cert "$T/media.pem" --key "$T/media.key"
[ "$CODE" = 403 ] && grep -qi blocked "$T/b" && ok "blocked boot-media certificate as TLS client: 403 ($(head -c 90 "$T/b"))" ||
	fail "blocked media certificate (HTTP $CODE)" "$T/b"

# --------------------------------------------- revoked and blocked clients
run sp --home "$H" revoke "$(pem_serial "$T/pc1r.pem")" --reason keyCompromise
[ "$RC" -eq 0 ] || fail "revoke pc1r" "$T/.err"
before=$(counts)
est_post "$EST/client-auth/simplereenroll" "$T/pc1r.b64" --cert "$T/pc1r.pem" --key "$T/pc1.key"
[ "$CODE" = 403 ] && grep -qi revoked "$T/b" && ok "revoked client certificate: 403 ($(head -c 80 "$T/b"))" ||
	fail "revoked client cert (HTTP $CODE)" "$T/b"
run sp --home "$H" block add --cert "$T/www1.pem" --reason "stolen"
[ "$RC" -eq 0 ] || fail "block add" "$T/.err"
est_post "$EST/web-server/simpleenroll" "$T/www1.b64" --cert "$T/www1.pem" --key "$T/www1.key"
[ "$CODE" = 403 ] && grep -qi blocked "$T/b" && ok "blocked client certificate: 403 ($(head -c 80 "$T/b"))" ||
	fail "blocked client cert (HTTP $CODE)" "$T/b"
[ "$(counts)" = "$before" ] && ok "revoked/blocked refusals left certificates and requests unchanged" ||
	fail "store changed: $before -> $(counts)"
sql "$DB" "select action from audit" >"$T/actions"
grep -q est-refused-cert "$T/actions" && grep -q est-refused-blocked "$T/actions" &&
	ok "both refusals are in the audit log" || fail "refusal audit rows" "$T/actions"

# ------------------------------------------------------------ bad requests
before=$(counts)
printf 'this is not base64!!\n' >"$T/garbage"
est_post "$EST/client-auth/simpleenroll" "$T/garbage"
[ "$CODE" = 400 ] && grep -qi base64 "$T/b" && ok "garbage base64: 400 ($(head -c 70 "$T/b"))" || fail "garbage (HTTP $CODE)" "$T/b"
printf 'AAAA\n' >"$T/notcsr"
est_post "$EST/client-auth/simpleenroll" "$T/notcsr"
[ "$CODE" = 400 ] && ok "base64 that is no CSR: 400" || fail "not a CSR (HTTP $CODE)" "$T/b"
head -c 10485760 /dev/zero | tr '\0' 'A' >"$T/big"
est_post "$EST/client-auth/simpleenroll" "$T/big"
[ "$CODE" = 413 ] && ok "10 MB body: 413" || fail "10 MB body (HTTP $CODE)" "$T/b"
CODE=$(curl -s -o "$T/b" -w '%{http_code}' --cacert "$CA" -H 'Content-Type: text/plain' --data-binary @"$T/pc3.b64" "$EST/client-auth/simpleenroll" || true)
[ "$CODE" = 415 ] && ok "wrong content type: 415" || fail "wrong content type (HTTP $CODE)" "$T/b"
est_post "$EST/no-such-template/simpleenroll" "$T/pc3.b64"
[ "$CODE" = 404 ] && ok "unknown label: 404" || fail "unknown label (HTTP $CODE)" "$T/b"
CODE=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA" "$EST/client-auth/simpleenroll" || true)
[ "$CODE" = 405 ] && ok "GET on simpleenroll: 405" || fail "GET simpleenroll (HTTP $CODE)"
# a slow client: headers dribbled slower than the 3 s idle timeout
"$PY" - "$P" >"$T/slow" 2>&1 <<'PYEOF' &
import socket, ssl, sys, time
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))))
s.send(b"POST /.well-known/est/client-auth/simpleenroll HTTP/1.1\r\nHost: x\r\n")
time.sleep(5)
try:
    s.send(b"Content-Type: application/pkcs10\r\n")
    print("closed" if s.recv(100) == b"" else "answered")
except OSError:
    print("closed")
PYEOF
SLOW=$!
sleep 0.5
alive && ok "service answers while a slow client holds a connection" || fail "service blocked by a slow client"
wait "$SLOW" || true
grep -q closed "$T/slow" && ok "slow client: connection closed after the idle timeout" || fail "slow client not cut off" "$T/slow"
alive && ok "service still up after every bad request" || fail "service is down"
[ "$(counts)" = "$before" ] && ok "bad requests left the store unchanged" || fail "store changed: $before -> $(counts)"

# ------------------------------------------------------------------- TLS
echo | openssl s_client -connect "127.0.0.1:$P" -servername localhost -CAfile "$CA" -verify_return_error >"$T/s1" 2>&1
grep -q 'Verify return code: 0' "$T/s1" && grep -q 'Acceptable client certificate CA names' "$T/s1" &&
	grep -A2 'Acceptable client certificate CA names' "$T/s1" | grep -q 'EST Test Root' &&
	ok "openssl s_client: server certificate verifies, client certificates from this CA are asked for" ||
	fail "openssl s_client" "$T/s1"
echo | openssl s_client -connect "127.0.0.1:$P" -servername localhost -CAfile "$CA" -cert "$T/agent.pem" -key "$T/agent.key" -tls1_2 >"$T/s2" 2>&1
grep -q 'Protocol *: TLSv1.2' "$T/s2" && ok "openssl s_client TLS 1.2 with a client certificate" || fail "s_client tls1.2 + cert" "$T/s2"
echo | openssl s_client -connect "127.0.0.1:$P" -CAfile "$CA" -tls1_3 >"$T/s3" 2>&1
grep -q 'TLSv1.3' "$T/s3" && ok "openssl s_client TLS 1.3" || fail "s_client tls1.3" "$T/s3"
if echo | openssl s_client -connect "127.0.0.1:$P" -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' >"$T/s4" 2>&1 && grep -q 'Cipher is [A-Z]' "$T/s4"; then
	fail "TLS 1.1 was accepted" "$T/s4"
else
	ok "TLS 1.1 refused"
fi
gnutls-cli --x509cafile "$CA" -p "$P" localhost </dev/null >"$T/g1" 2>&1 || true
grep -q 'Handshake was completed' "$T/g1" && ok "gnutls-cli without a client certificate" || fail "gnutls-cli" "$T/g1"
gnutls-cli --x509cafile "$CA" --x509certfile "$T/agent.pem" --x509keyfile "$T/agent.key" -p "$P" localhost </dev/null >"$T/g2" 2>&1 || true
grep -q 'Handshake was completed' "$T/g2" && ok "gnutls-cli with a client certificate" || fail "gnutls-cli with cert" "$T/g2"

# ------------------------------------------- CRL and AIA from the HTTP port
CDP=$(openssl x509 -in "$T/pc1.pem" -noout -ext crlDistributionPoints | sed -n 's/^ *URI://p' | head -n1)
AIA=$(openssl x509 -in "$T/pc1.pem" -noout -ext authorityInfoAccess | sed -n 's/^ *CA Issuers - URI://p' | head -n1)
CODE=$(curl -s -o "$T/crl.der" -D "$T/h" -w '%{http_code}' "$CDP" || true)
[ "$CODE" = 200 ] && grep -qi '^content-type: application/pkix-crl' "$T/h" &&
	openssl crl -inform DER -in "$T/crl.der" -CAfile "$CA" -noout 2>&1 | grep -q 'verify OK' &&
	ok "CRL URL from the certificate ($CDP): 200 application/pkix-crl, openssl crl: verify OK" || fail "CRL download $CDP (HTTP $CODE)" "$T/h"
CODE=$(curl -s -o "$T/aia.der" -D "$T/h" -w '%{http_code}' "$AIA" || true)
[ "$CODE" = 200 ] && grep -qi '^content-type: application/pkix-cert' "$T/h" &&
	[ "$(openssl x509 -inform DER -in "$T/aia.der" -noout -fingerprint -sha256)" = "$(openssl x509 -in "$CA" -noout -fingerprint -sha256)" ] &&
	ok "AIA caIssuers URL ($AIA): 200 application/pkix-cert, the CA certificate" || fail "AIA download $AIA (HTTP $CODE)" "$T/h"
for bad in /pki/../sitepki.db /pki/crl/../../ca-key.pem /pki/ca-key.pem /sitepki.db /pki/crl/x.pem; do
	CODE=$(curl -s --path-as-is -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HP$bad" || true)
	[ "$CODE" = 404 ] || fail "HTTP port served $bad ($CODE)"
done
ok "HTTP port serves nothing but publish/crl/*.crl and publish/ca/*.crt"

# ------------------------------------------------------------- limits
big=$(head -c 20000 /dev/zero | tr '\0' 'x')
CODE=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA" -H "X-Big: $big" "$EST/cacerts" || true)
# libmicrohttpd answers 431, or closes the connection when the client is
# still sending as the buffer fills (curl then reports 000): refused either way
case $CODE in 413 | 431 | 000) ok "20 KB header over maxHeader 16 KiB: refused ($CODE)" ;; *) fail "20 KB header answered $CODE" ;; esac
alive && ok "service up after the oversized header" || fail "service down after the oversized header"

# ------------------------------------------------------------- shutdown
# A request in flight when SIGTERM arrives is finished and answered: the
# client sends its headers and half the body, the service is told to stop,
# then the rest of the body follows.
run sp --home "$H" token create --template client-auth --subject "CN=late.corp.example" --dns late.corp.example
TOKL=$(cat "$T/.out")
csr "$T/late.key" "/CN=late.corp.example" "DNS:late.corp.example" "$T/late.b64"
rm -f "$T/late.sent"
"$PY" - "$P" "$T/late.b64" "$TOKL" "$T/late.sent" "$CA" >"$T/late.out" 2>&1 <<'PYEOF' &
import base64, os, socket, ssl, sys, time
port, body, cred, marker, ca = int(sys.argv[1]), open(sys.argv[2], "rb").read(), sys.argv[3], sys.argv[4], sys.argv[5]
ctx = ssl.create_default_context(cafile=ca)
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
head = ("POST /.well-known/est/client-auth/simpleenroll HTTP/1.1\r\nHost: localhost\r\n"
        "Content-Type: application/pkcs10\r\nAuthorization: Basic %s\r\nContent-Length: %d\r\n\r\n"
        % (base64.b64encode(cred.encode()).decode(), len(body))).encode()
s.sendall(head + body[: len(body) // 2])
open(marker, "w").close()
time.sleep(1.0)
s.sendall(body[len(body) // 2 :])
data = b""
while b"\r\n\r\n" not in data:
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
print(data.split(b"\r\n", 1)[0].decode(errors="replace"))
PYEOF
LATE=$!
for _ in $(seq 1 50); do [ -f "$T/late.sent" ] && break; sleep 0.1; done
kill -TERM "$SERVE_PID"
wait "$LATE" || true
grep -q ' 200 ' "$T/late.out" && ok "a request in flight at SIGTERM is finished: $(cat "$T/late.out")" ||
	fail "in-flight request at SIGTERM" "$T/late.out"
RCS=0
for _ in $(seq 1 150); do kill -0 "$SERVE_PID" 2>/dev/null || break; sleep 0.1; done
wait "$SERVE_PID" || RCS=$?
[ "$RCS" -eq 0 ] && grep -q 'stopped cleanly' "$T/serve.err" && ok "SIGTERM: exit 0, stopped cleanly" ||
	fail "SIGTERM (exit $RCS)" "$T/serve.err"
check "audit chain intact after the service ran" sp --home "$H" audit verify
sql "$DB" "pragma integrity_check" | grep -qx ok && ok "store integrity_check ok" || fail "integrity_check"

# ------------------------------------------------------ per-client rate limit
sed -e 's/ratePerMinute="6000" rateBurst="1000"/ratePerMinute="6" rateBurst="3" maxPerClient="2"/' "$T/serve.xml" >"$T/serve-rl.xml"
start_service "$T/serve-rl.xml"
codes=""
for _ in 1 2 3 4 5; do codes="$codes $(curl -s -o /dev/null -D "$T/h" -w '%{http_code}' --cacert "$CA" "$EST/cacerts" || true)"; done
[ "$codes" = " 200 200 200 429 429" ] && grep -qi '^retry-after: [0-9]' "$T/h" &&
	ok "rate limit: burst of 3 then 429 with Retry-After ($codes)" || fail "rate limit ($codes)" "$T/h"
# maxPerClient=2: two idle connections held open, a third is not served
"$PY" - "$P" >/dev/null 2>&1 <<'PYEOF' &
import socket, sys, time
a = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
b = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
time.sleep(2.5)
PYEOF
HOLD=$!
sleep 0.7
CODE=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 --cacert "$CA" "$EST/cacerts" || true)
[ "$CODE" = 000 ] && ok "maxPerClient=2: a third connection from the same address is refused" ||
	fail "third connection answered $CODE"
wait "$HOLD" || true
kill -TERM "$SERVE_PID"
wait "$SERVE_PID" || true

finish

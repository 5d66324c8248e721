#!/bin/bash
# test_templates.sh - the nine shipped templates (and the AMT provisioning OU
# variant) issue from real `openssl req` CSRs, and what they issue is judged
# by OpenSSL, GnuTLS (certtool), NSS (certutil) and python3-cryptography
# against the facts in native-mode-certificates.md and the template files.
source "$(dirname "$0")/lib.sh"
need openssl certtool sqlite3

H=$T/home
new_ca "$H" "Templates Test Root" --site-code ABC
CA=$H/ca.pem
ca_urls "$H"
# amt-web-server wants every CA key in the chain RSA <= 2048 (facts, row 7b):
# it is issued by a second, RSA-2048 root.
H2=$T/home-rsa
new_ca "$H2" "Templates AMT Root" --key rsa-2048

SERVER_AUTH=1.3.6.1.5.5.7.3.1
CLIENT_AUTH=1.3.6.1.5.5.7.3.2
DOC_SIGNING=1.3.6.1.4.1.311.10.3.12
AMT_SETUP=2.16.840.1.113741.1.2.3
UPN_OID=1.3.6.1.4.1.311.20.2.3

# ---------------------------------------------------------------- listing
run sp --home "$H" template list
names=$(awk '{print $1}' "$T/.out" | sort | tr '\n' ' ')
want="amt-8021x-client amt-provisioning amt-web-server client-auth isv-proxy mobile-device osd-media site-server-signing web-server "
if [ "$RC" -eq 0 ] && [ "$names" = "$want" ]; then
	ok "template list shows exactly the nine shipped templates"
else
	fail "template list (exit $RC): got '$names'" "$T/.err"
fi
check "template check accepts tests/data/good/amt-provisioning-ou.xml" \
	sp template check "$SITEPKI_SRC/tests/data/good/amt-provisioning-ou.xml"

# ------------------------------------------------------------------- keys
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/rsa.key" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/ec.key" 2>/dev/null

# req NAME KEY SUBJ [openssl req options...]: $T/NAME.csr
req() {
	local name=$1 key=$2 subj=$3
	shift 3
	openssl req -new -key "$key" -subj "$subj" -sha256 -out "$T/$name.csr" "$@" 2>"$T/.err" ||
		die "openssl req for $name: $(cat "$T/.err")"
}

# iss NAME TEMPLATE [issue options...]: issue $T/NAME.csr to $T/NAME.pem
# (from home $H) and check the exit status, the one-line report, and that
# the store gained exactly one certificate, request and audit row holding
# these very bytes.
iss() {
	local name=$1 tpl=$2 before after serial reported db_der file_der
	shift 2
	before=$(store_count "$H")
	run sp --home "$H" issue --template "$tpl" --csr "$T/$name.csr" --out "$T/$name.pem" --pass-file "$PASS" "$@"
	after=$(store_count "$H")
	if [ "$RC" -ne 0 ] || [ ! -s "$T/$name.pem" ]; then
		fail "$name: issue --template $tpl $* exited $RC" "$T/.err"
		return 0
	fi
	serial=$(pem_serial "$T/$name.pem")
	reported=$(sed -n 's/^issued \([a-z0-9-]*\) serial \([0-9A-Fa-f]*\).*/\1 \2/p' "$T/.err")
	read -r b1 b2 b3 <<<"$before"
	if [ "$after" != "$((b1 + 1)) $((b2 + 1)) $((b3 + 1))" ]; then
		fail "$name: store counts went from '$before' to '$after', expected +1 certificate, request, audit"
		return 0
	fi
	if [ "${reported,,}" != "$tpl ${serial,,}" ]; then
		fail "$name: stderr reported '$reported', expected '$tpl $serial'" "$T/.err"
		return 0
	fi
	db_der=$(sql "$H/sitepki.db" "select lower(hex(der)) || ' ' || template from certificate where serial = '$serial' collate nocase")
	file_der=$(openssl x509 -in "$T/$name.pem" -outform DER | od -An -v -tx1 | tr -d ' \n')
	if [ "$db_der" != "$file_der $tpl" ]; then
		fail "$name: the store's row for serial $serial does not hold the issued certificate under template $tpl"
		return 0
	fi
	ok "$name: issued by $tpl (serial $serial), recorded with the same DER"
}

# judge NAME PURPOSE EKUS KU DAYS SUBJECT DNS UPN KEY: the three verifiers
# plus python3-cryptography's field-by-field check.
judge() {
	local name=$1 purpose=$2 ekus=$3 ku=$4 days=$5 subject=$6 dns=$7 upn=$8 key=$9 e
	local cert=$T/$name.pem
	[ -s "$cert" ] || return 0
	run openssl verify -x509_strict -purpose "$purpose" -CAfile "$CA" "$cert"
	if [ "$RC" -eq 0 ] && grep -q ": OK$" "$T/.out"; then
		ok "$name: openssl verify -x509_strict -purpose $purpose"
	else
		fail "$name: openssl verify -x509_strict -purpose $purpose (exit $RC)" "$T/.out" "$T/.err"
	fi
	for e in ${ekus//,/ }; do
		run certtool --verify --load-ca-certificate "$CA" --infile "$cert" --verify-purpose="$e"
		if [ "$RC" -eq 0 ] && grep -q "Chain verification output: Verified" "$T/.out"; then
			ok "$name: certtool --verify --verify-purpose=$e"
		else
			fail "$name: certtool --verify --verify-purpose=$e (exit $RC)" "$T/.out" "$T/.err"
		fi
	done
	check "$name: python3-cryptography profile (subject, EKU $ekus, KU $ku, SAN, serial, validity, AKI, CDP/AIA)" \
		"$PY" "$CHECK_CERT" --cert "$cert" --ca "$CA" --csr "$T/$name.csr" --subject "$subject" --eku "$ekus" \
		--ku "$ku" --days "$days" --dns "$dns" --upn "$upn" --key "$key" --crl-url "$CRL_URL" --aia-url "$AIA_URL"
}

# wrong_purpose NAME PURPOSE: OpenSSL must refuse the certificate for a
# purpose its EKU does not grant (the EKU is not a formality).
wrong_purpose() {
	[ -s "$T/$1.pem" ] || return 0
	run openssl verify -x509_strict -purpose "$2" -CAfile "$CA" "$T/$1.pem"
	if [ "$RC" -ne 0 ]; then
		ok "$1: openssl verify -purpose $2 refuses it"
	else
		fail "$1: openssl verify -purpose $2 accepted a certificate without that purpose" "$T/.out"
	fi
}

# --------------------------------------------------------------- web-server
req ws-rsa "$T/rsa.key" "/C=US/O=Contoso/CN=mp1.corp.example" -addext "subjectAltName=DNS:mp1.corp.example"
iss ws-rsa web-server --dns mp1.internet.example --dns MP1.CORP.EXAMPLE
judge ws-rsa sslserver $SERVER_AUTH digitalSignature,keyEncipherment 730 \
	"CN=mp1.corp.example,O=Contoso,C=US" mp1.corp.example,mp1.internet.example "" rsa
wrong_purpose ws-rsa sslclient

req ws-ec "$T/ec.key" "/CN=ec.corp.example" -addext "subjectAltName=DNS:ec.corp.example"
iss ws-ec web-server
# RFC 5480 section 3: no keyEncipherment for an EC key
judge ws-ec sslserver $SERVER_AUTH digitalSignature 730 "CN=ec.corp.example" ec.corp.example "" ec

# A CSR asking for CA:TRUE, keyCertSign and other purposes gets none of it:
# only names come from a CSR (docs/issuance.md); the template sets the rest.
req ws-greedy "$T/rsa.key" "/CN=greedy.corp.example" -addext "subjectAltName=DNS:greedy.corp.example" \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
	-addext "extendedKeyUsage=codeSigning,clientAuth,anyExtendedKeyUsage"
iss ws-greedy web-server
judge ws-greedy sslserver $SERVER_AUTH digitalSignature,keyEncipherment 730 "CN=greedy.corp.example" greedy.corp.example "" rsa
wrong_purpose ws-greedy sslclient

# -------------------------------------------------------------- client-auth
req client "$T/rsa.key" "/O=Contoso/OU=Workstations/CN=pc1.corp.example" -addext "subjectAltName=DNS:pc1.corp.example"
iss client client-auth
judge client sslclient $CLIENT_AUTH digitalSignature,keyEncipherment 365 \
	"CN=pc1.corp.example,OU=Workstations,O=Contoso" pc1.corp.example "" rsa
wrong_purpose client sslserver

# ------------------------------------------------------------ mobile-device
req mobile "$T/rsa.key" "/O=Contoso/CN=alice" -addext "subjectAltName=otherName:$UPN_OID;UTF8:alice@corp.example"
iss mobile mobile-device
judge mobile sslclient $CLIENT_AUTH digitalSignature,keyEncipherment 365 "CN=alice,O=Contoso" "" alice@corp.example rsa

# ---------------------------------------------------------------- osd-media
req osd "$T/rsa.key" "/O=Contoso/OU=OSD/CN=OSD Boot Media"
iss osd osd-media --dns pxe1.corp.example
judge osd sslclient $CLIENT_AUTH digitalSignature,keyEncipherment 365 "CN=OSD Boot Media,OU=OSD,O=Contoso" \
	pxe1.corp.example "" rsa

# ---------------------------------------------------------------- isv-proxy
req isv "$T/rsa.key" "/O=ISV Inc/CN=isv-proxy-01"
iss isv isv-proxy
judge isv sslclient $CLIENT_AUTH digitalSignature 365 "CN=isv-proxy-01,O=ISV Inc" "" "" rsa

# ------------------------------------------------------ site-server-signing
SSS_CN="The site code of this site server signing certificate is ABC"
req sss "$T/rsa.key" "/CN=$SSS_CN"
iss sss site-server-signing --site-code ABC
judge sss any $DOC_SIGNING digitalSignature 365 "CN=$SSS_CN" "" "" rsa
wrong_purpose sss sslclient
wrong_purpose sss sslserver
# the CN exactly, as openssl prints it: 60 characters, nothing else in the DN
if [ -s "$T/sss.pem" ]; then
	subj=$(openssl x509 -in "$T/sss.pem" -noout -subject -nameopt RFC2253)
	if [ "$subj" = "subject=CN=$SSS_CN" ] && [ "${#SSS_CN}" -eq 60 ]; then
		ok "site-server-signing: subject is exactly CN=$SSS_CN"
	else
		fail "site-server-signing: subject '$subj'"
	fi
fi
# the CA's default site code (init --site-code ABC) fills the CN when the CSR has none
req sss-default "$T/rsa.key" "/"
iss sss-default site-server-signing
judge sss-default any $DOC_SIGNING digitalSignature 365 "CN=$SSS_CN" "" "" rsa

# --------------------------------------------------------- amt-provisioning
req amtprov "$T/rsa.key" "/O=Contoso/CN=oob.corp.example" -addext "subjectAltName=DNS:oob.corp.example"
iss amtprov amt-provisioning
judge amtprov sslserver $SERVER_AUTH,$AMT_SETUP digitalSignature,keyEncipherment 365 \
	"CN=oob.corp.example,O=Contoso" oob.corp.example "" rsa

# ----------------------------------------------------------- amt-web-server
req amtweb "$T/rsa.key" "/CN=amt1.corp.example"
H_EC=$H CA_EC=$CA CRL_EC=$CRL_URL AIA_EC=$AIA_URL
H=$H2 CA=$H2/ca.pem
ca_urls "$H"
iss amtweb amt-web-server --dns amt1.corp.example
judge amtweb sslserver $SERVER_AUTH digitalSignature,keyEncipherment 365 "CN=amt1.corp.example" amt1.corp.example "" rsa
run openssl x509 -in "$CA" -noout -text
grep -q "Public-Key: (2048 bit)" "$T/.out" && grep -q "sha256WithRSAEncryption" "$T/.out" &&
	ok "amt-web-server's issuing root is RSA-2048 with SHA-256" || fail "the AMT root is not RSA-2048/SHA-256"
H=$H_EC CA=$CA_EC CRL_URL=$CRL_EC AIA_URL=$AIA_EC

# --------------------------------------------------------- amt-8021x-client
req amt8021x "$T/rsa.key" "/CN=amt1.corp.example"
iss amt8021x amt-8021x-client --upn 'amt1$@corp.example'
judge amt8021x sslclient $CLIENT_AUTH digitalSignature,keyEncipherment 365 "CN=amt1.corp.example" "" 'amt1$@corp.example' rsa
if [ -s "$T/amt8021x.pem" ]; then
	run openssl x509 -in "$T/amt8021x.pem" -noout -ext subjectAltName
	if grep -q "othername: UPN::amt1\$@corp.example" "$T/.out" && ! grep -q "DNS:" "$T/.out"; then
		ok "amt-8021x-client: openssl shows the UPN otherName and no DNS name"
	else
		fail "amt-8021x-client: SAN as openssl shows it" "$T/.out"
	fi
fi

# ---------------------------------------- amt-provisioning, OU variant (site template)
mkdir -p "$H/templates"
cp "$SITEPKI_SRC/tests/data/good/amt-provisioning-ou.xml" "$H/templates/"
AMT_OU="Intel(R) Client Setup Certificate"
req amtou "$T/rsa.key" "/CN=oob2.corp.example"
iss amtou amt-provisioning-ou
judge amtou sslserver $SERVER_AUTH digitalSignature,keyEncipherment 365 "CN=oob2.corp.example,OU=$AMT_OU" "" "" rsa
req amtou-csr "$T/rsa.key" "/OU=$AMT_OU/CN=oob3.corp.example"
iss amtou-csr amt-provisioning-ou
judge amtou-csr sslserver $SERVER_AUTH digitalSignature,keyEncipherment 365 "CN=oob3.corp.example,OU=$AMT_OU" "" "" rsa
if [ -s "$T/amtou.pem" ]; then
	ou=$(openssl x509 -in "$T/amtou.pem" -noout -subject -nameopt multiline | sed -n 's/^ *organizationalUnitName *= //p')
	if [ "$ou" = "$AMT_OU" ]; then
		ok "amt-provisioning-ou: OU is exactly '$AMT_OU'"
	else
		fail "amt-provisioning-ou: OU is '$ou'"
	fi
fi
req amtou-bad "$T/rsa.key" "/OU=$AMT_OU./CN=oob4.corp.example"
before=$(store_count "$H")
expect_fail 6 "OU" "amt-provisioning-ou: an OU with a trailing period is refused" \
	sp --home "$H" issue --template amt-provisioning-ou --csr "$T/amtou-bad.csr" --pass-file "$PASS"
[ "$(store_count "$H")" = "$before" ] || fail "amt-provisioning-ou: the refused request changed the store"

# ------------------------------------------------------------------- NSS
if command -v certutil >/dev/null 2>&1; then
	DB=$T/nssdb
	mkdir "$DB"
	certutil -N --empty-password -d "sql:$DB" >/dev/null 2>&1
	certutil -A -n ca -t CT,, -i "$CA" -d "sql:$DB"
	nss() { # nss NAME USAGE(V|C) WHAT
		[ -s "$T/$1.pem" ] || return 0
		certutil -A -n "$1" -t ,, -i "$T/$1.pem" -d "sql:$DB"
		run certutil -V -u "$2" -n "$1" -d "sql:$DB"
		if [ "$RC" -eq 0 ] && grep -q "certificate is valid" "$T/.out"; then
			ok "$1: NSS certutil -V -u $2 ($3)"
		else
			fail "$1: NSS certutil -V -u $2 ($3), exit $RC" "$T/.out" "$T/.err"
		fi
	}
	nss ws-rsa V "SSL server"
	nss ws-ec V "SSL server, EC key"
	nss amtprov V "SSL server"
	nss client C "SSL client"
	nss amt8021x C "SSL client"
	run certutil -V -u V -n client -d "sql:$DB"
	if [ "$RC" -ne 0 ]; then
		ok "client: NSS refuses the client-auth certificate as an SSL server"
	else
		fail "client: NSS accepted a client-auth certificate as an SSL server" "$T/.out"
	fi
else
	echo "# certutil (libnss3-tools) not installed: NSS checks skipped"
fi

# ----------------------------------------------------------- the audit log
check "audit verify after every template" sp --home "$H" audit verify

finish

#!/bin/bash
# test_request.sh - one-time enrollment tokens and the approval queue from
# the command line (docs/enrollment.md): `token create` prints the
# credential once and stores only its SHA-256 (judged with openssl dgst and
# sqlite3), refuses bad lifetimes, unknown templates and names outside the
# single-byte rule; `token list` shows states, never the hash. Queued
# requests are rows the enrollment service would write, inserted here with
# the sqlite3 shell around real CSRs made by openssl req; `request
# list/show/approve/reject` are judged by openssl (the approved certificate
# verifies against the CA and carries the queued names) and by sqlite3 (the
# same request row turns issued with that serial, nothing else changes).
source "$(dirname "$0")/lib.sh"
need openssl sqlite3

H=$T/home
DB=$H/sitepki.db
new_ca "$H" "Request Test Root"
CA=$H/ca.pem

tokens() { sql "$DB" "select count(*) from token"; }
snap() { SNAP="tokens $(tokens), requests $(sql "$DB" "select count(*) from request"), certificates $(sql "$DB" "select count(*) from certificate"), audit $(audit_count "$H")"; }
unchanged() {
	local now
	now="tokens $(tokens), requests $(sql "$DB" "select count(*) from request"), certificates $(sql "$DB" "select count(*) from certificate"), audit $(audit_count "$H")"
	[ "$now" = "$SNAP" ] && ok "$1: store unchanged ($now)" || fail "$1: store changed from '$SNAP' to '$now'"
}

# ================================================================= tokens

# created DESC TTL-SECONDS CREATE-OPTIONS...: token create exits 0, prints
# exactly "ID:SECRET" (43 base64url characters) on stdout and one line on
# stderr; the row's lifetime is TTL-SECONDS; sets TID and SECRET.
created() {
	local desc=$1 ttl=$2 life
	shift 2
	run sp --home "$H" token create "$@"
	TID="" SECRET=""
	if [ "$RC" -ne 0 ]; then
		fail "$desc: exit $RC" "$T/.out" "$T/.err"
		return 0
	fi
	if [ "$(wc -l <"$T/.out")" -ne 1 ] || ! grep -Eq '^[1-9][0-9]*:[A-Za-z0-9_-]{43}$' "$T/.out"; then
		fail "$desc: stdout is not one ID:SECRET line" "$T/.out"
		return 0
	fi
	TID=$(cut -d: -f1 "$T/.out") SECRET=$(cut -d: -f2 "$T/.out")
	life=$(sql "$DB" "select expires_at - created_at from token where id = $TID")
	if [ "$(wc -l <"$T/.err")" -eq 1 ] && grep -q "shown once" "$T/.err" && grep -q "expires 20[0-9-]*T[0-9:]*Z" "$T/.err" &&
		[ "$life" = "$ttl" ]; then
		ok "$desc: token $TID, lifetime $life s; stderr: $(cut -c1-150 "$T/.err")"
	else
		fail "$desc: lifetime '$life' (want $ttl) or stderr not one 'shown once ... expires' line" "$T/.err"
	fi
}

created "token create web-server, subject + two DNS names, --ttl 2h" 7200 \
	--template web-server --subject "CN=pc1.corp.example, O=Contoso" --dns pc1.corp.example --dns www.corp.example --ttl 2h
T1=$TID S1=$SECRET
grep -q "subject CN=pc1.corp.example,O=Contoso, DNS pc1.corp.example,www.corp.example" "$T/.err" &&
	ok "stderr says what the token binds, the subject normalised" || fail "stderr does not name the bound names" "$T/.err"

# only the SHA-256 of the secret is stored (openssl dgst is the judge)
want=$(printf '%s' "$S1" | openssl dgst -sha256 -r | cut -c1-64)
got=$(sql "$DB" "select secret_sha256 from token where id = $T1")
[ -n "$want" ] && [ "$got" = "$want" ] && ok "the store holds the secret's SHA-256 (openssl dgst -sha256)" ||
	fail "token $T1 hash '$got', openssl says '$want'"
hits=$(sql "$DB" "select (select count(*) from token where instr(secret_sha256 || template || subject || dns || upn || created_by || cert_serial, '$S1') > 0) + (select count(*) from audit where instr(actor || action || subject || detail, '$S1') > 0)")
found_bytes=0
for f in "$DB" "$DB-wal"; do [ -f "$f" ] && grep -qaF -- "$S1" "$f" && found_bytes=1; done
[ "$hits" -eq 0 ] && [ "$found_bytes" -eq 0 ] && ok "the secret is in no column and no byte of the store or its WAL" ||
	fail "the secret is stored: $hits rows, file bytes $found_bytes"
row=$(sql "$DB" "select template || '|' || subject || '|' || dns || '|' || upn || '|' || state from token where id = $T1")
[ "$row" = "web-server|CN=pc1.corp.example,O=Contoso|pc1.corp.example,www.corp.example||0" ] &&
	ok "token row: template, normalised subject, DNS names, unused" || fail "token row '$row'"
last=$(sql "$DB" "select action || '|' || subject || '|' || detail from audit order by id desc limit 1")
[[ "$last" == "token-create|token:$T1|template=web-server subject=CN=pc1.corp.example,O=Contoso dns=pc1.corp.example,www.corp.example upn= expires="* ]] &&
	ok "audit row token-create names the template, the names and the expiry" || fail "last audit row '$last'"

created "token create with the default lifetime (1h)" 3600 --template client-auth --dns pc2.corp.example
T2=$TID
created "token create --ttl 90m" 5400 --template mobile-device --upn alice@corp.example --subject "CN=Alice Smith,O=Contoso" --ttl 90m
T3=$TID
grep -q "UPN alice@corp.example" "$T/.err" && ok "stderr names the bound UPN" || fail "stderr lacks the UPN" "$T/.err"
created "token create --ttl 60 (seconds, the minimum)" 60 --template osd-media --subject "CN=OSD Boot Media" --ttl 60
T4=$TID
created "token create --ttl 30d (the maximum)" 2592000 --template amt-web-server --dns oob.corp.example --ttl 30d
T5=$TID
[ "$T1" != "" ] && [ "$(sql "$DB" "select count(distinct secret_sha256) from token")" -eq "$(tokens)" ] &&
	ok "every token has its own secret" || fail "two tokens share a secret hash"

# ---------------------------------------------------------------- refusals
snap
expect_usage "ttl" "--ttl abc" sp --home "$H" token create --template web-server --dns a.corp.example --ttl abc
expect_usage "ttl" "--ttl 1w" sp --home "$H" token create --template web-server --dns a.corp.example --ttl 1w
expect_usage "ttl" "--ttl -5" sp --home "$H" token create --template web-server --dns a.corp.example --ttl -5
expect_fail 7 "lifetime" "--ttl 59 (under a minute)" sp --home "$H" token create --template web-server --dns a.corp.example --ttl 59
expect_fail 7 "lifetime" "--ttl 0" sp --home "$H" token create --template web-server --dns a.corp.example --ttl 0
expect_fail 7 "lifetime" "--ttl 31d (over 30 days)" sp --home "$H" token create --template web-server --dns a.corp.example --ttl 31d
expect_fail 8 "template" "an unknown template" sp --home "$H" token create --template no-such-template --dns a.corp.example
expect_fail 7 "template" "a template name that cannot be one" sp --home "$H" token create --template "Web Server" --dns a.corp.example
expect_usage "template" "no --template" sp --home "$H" token create --dns a.corp.example
expect_usage "name" "no name bound" sp --home "$H" token create --template web-server
DBCS=$(printf '\xe6\x97\xa5\xe6\x9c\xac')                 # two CJK characters in UTF-8
SJIS=$(printf 'pc\x83\x65st.corp.example')              # a Shift-JIS double-byte character
expect_fail 6 "DNS|single|ASCII|character" "a DBCS (UTF-8) DNS name" sp --home "$H" token create --template web-server --dns "$DBCS.corp.example"
expect_fail 6 "DNS|single|ASCII|character" "a Shift-JIS DNS name" sp --home "$H" token create --template web-server --dns "$SJIS"
expect_fail 6 "subject CN|ASCII|character" "a DBCS subject" sp --home "$H" token create --template web-server --subject "CN=$DBCS" --dns a.corp.example
expect_fail 6 "UPN|ASCII|character" "a DBCS UPN" sp --home "$H" token create --template mobile-device --upn "$DBCS@corp.example"
expect_fail 6 "DNS" "a DNS name that is not LDH" sp --home "$H" token create --template web-server --dns "pc_1.corp.example"
expect_fail 6 "wildcard" "a wildcard DNS name" sp --home "$H" token create --template web-server --dns "*.corp.example"
expect_fail 6 "no DNS" "DNS names for a template that takes none (mobile-device)" sp --home "$H" token create --template mobile-device --dns a.corp.example
expect_fail 7 "multi-valued" "a multi-valued RDN" sp --home "$H" token create --template web-server --subject "CN=a+O=b"
unchanged "after the refused token creations"

# ------------------------------------------------------------------ list
sql "$DB" "update token set expires_at = created_at - 50, created_at = created_at - 100 where id = $T4" # expired
sql "$DB" "update token set state = 2, used_at = created_at, cert_serial = '0A0B0C' where id = $T5"
sql "$DB" "update token set state = 1 where id = $T2"
run sp --home "$H" token list
if [ "$RC" -eq 0 ] && [ "$(grep -c . "$T/.out")" -eq 5 ] &&
	grep -Eq "^$T1 +web-server +unused .* - dns=pc1.corp.example,www.corp.example subject=CN=pc1.corp.example,O=Contoso$" "$T/.out" &&
	grep -Eq "^$T2 +client-auth +claimed " "$T/.out" && grep -Eq "^$T4 +osd-media +expired " "$T/.out" &&
	grep -Eq "^$T5 +amt-web-server +used .* 0A0B0C dns=oob.corp.example$" "$T/.out" &&
	grep -Eq "^$T3 +mobile-device +unused .* upn=alice@corp.example subject=CN=Alice Smith,O=Contoso$" "$T/.out"; then
	ok "token list: one line each, unused/claimed/expired/used, names and serial"
else
	fail "token list: exit $RC" "$T/.out" "$T/.err"
fi
hashes=0
while read -r h; do grep -qF "$h" "$T/.out" && hashes=$((hashes + 1)); done < <(sql "$DB" "select secret_sha256 from token")
[ "$hashes" -eq 0 ] && ok "token list shows no hash" || fail "token list shows $hashes hashes"
run sp --home "$H" token list --json
cp "$T/.out" "$T/tokens.json"
check "token list --json: python3 json; ids, states, names, serial; no hash" \
	"$PY" - "$T/tokens.json" "$T1" "$T2" "$T3" "$T4" "$T5" "$DB" <<'EOF'
import json, sqlite3, sys, datetime
rows = json.load(open(sys.argv[1]))
t1, t2, t3, t4, t5 = (int(x) for x in sys.argv[2:7])
by = {r["id"]: r for r in rows}
assert sorted(by) == sorted([t1, t2, t3, t4, t5]), by.keys()
assert by[t1]["state"] == "unused" and by[t1]["template"] == "web-server", by[t1]
assert by[t1]["dns"] == ["pc1.corp.example", "www.corp.example"] and by[t1]["subject"] == "CN=pc1.corp.example,O=Contoso", by[t1]
assert by[t1]["serial"] == "" and by[t1]["created_by"].startswith("cli:"), by[t1]
assert by[t2]["state"] == "claimed" and by[t4]["state"] == "expired", (by[t2], by[t4])
assert by[t5]["state"] == "used" and by[t5]["serial"] == "0A0B0C", by[t5]
assert by[t3]["upn"] == "alice@corp.example" and by[t3]["dns"] == [], by[t3]
for r in rows:
    for k in ("created", "expires"):
        datetime.datetime.strptime(r[k], "%Y-%m-%dT%H:%M:%SZ")
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[7], uri=True)
text = open(sys.argv[1]).read()
for (h,) in db.execute("select secret_sha256 from token"):
    assert h not in text
print(len(rows), "tokens")
EOF
expect_usage "unexpected" "token list --bogus" sp --home "$H" token list --bogus
expect_usage "unknown subcommand" "token frob" sp --home "$H" token frob

# ============================================================== requests

# csr NAME ec|rsa SUBJ [openssl req options...]: an EC P-256 or RSA-2048
# CSR in $T/NAME.der (client-auth and mobile-device take RSA keys only)
csr() {
	local name=$1 alg=$2 subj=$3 kopt=(-newkey ec -pkeyopt ec_paramgen_curve:P-256)
	shift 3
	[ "$alg" = rsa ] && kopt=(-newkey rsa:2048)
	openssl req -new "${kopt[@]}" -nodes -keyout "$T/$name.key" -subj "$subj" \
		-outform DER -out "$T/$name.der" "$@" 2>/dev/null || die "openssl req $name"
}
# queue TEMPLATE NAME DETAIL: insert a pending request for $T/NAME.der as
# the enrollment service would (sqlite3), print its id
queue() {
	local hex sha subj
	hex=$(od -An -v -tx1 "$T/$2.der" | tr -d ' \n')
	sha=$(openssl dgst -sha256 -r "$T/$2.der" | cut -c1-64)
	subj=$(openssl req -inform DER -in "$T/$2.der" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')
	sql "$DB" "insert into request(template, requester, subject, status, cert_serial, detail, csr_der, created_at, updated_at, csr_sha256)
		values ('$1', 'est:token:$T1', '$subj', 0, '', '$3', X'$hex', strftime('%s','now'), strftime('%s','now'), '$sha');
		select last_insert_rowid();"
}

csr pc1 ec "/O=Contoso/CN=pc1.corp.example" -addext "subjectAltName=DNS:pc1.corp.example"
csr pc2 rsa "/CN=pc2.corp.example"
csr pc3 ec "/CN=pc3.corp.example" -addext "subjectAltName=DNS:pc3.corp.example"
csr alice rsa "/O=Contoso/CN=Alice Smith"
csr bad ec "/CN=pc4.corp.example" -addext "subjectAltName=DNS:pc4.corp.example,email:pc4@corp.example"
csr odd rsa "/CN=pc5.corp.example"
R1=$(queue web-server pc1 "dns=pc1.corp.example,www.corp.example")
R2=$(queue client-auth pc2 "")
R3=$(queue web-server pc3 "dns=pc3.corp.example")
R4=$(queue mobile-device alice "upn=alice@corp.example")
R5=$(queue web-server bad "dns=pc4.corp.example")
R6=$(queue client-auth odd "names: pc5")
[ -n "$R1" ] && [ -n "$R6" ] || die "queueing the requests with sqlite3"
# one request issued the usual way, for the list filters
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/www.key" -subj "/CN=www.corp.example" -out "$T/www.csr" 2>/dev/null
run sp --home "$H" issue --template web-server --csr "$T/www.csr" --dns www.corp.example --out "$T/www.pem" --pass-file "$PASS"
[ "$RC" -eq 0 ] || die "issue web-server: $(cat "$T/.err")"
RI=$(sql "$DB" "select max(id) from request")

# ---------------------------------------------------------------- list
run sp --home "$H" request list
if [ "$RC" -eq 0 ] && [ "$(grep -c . "$T/.out")" -eq 6 ] && ! grep -Eq "^$RI " "$T/.out" &&
	grep -Eq "^$R1 +pending +web-server +20[0-9-]+T[0-9:]+Z +- +est:token:$T1 CN=pc1.corp.example,O=Contoso$" "$T/.out"; then
	ok "request list: the 6 pending requests (default), not the issued one"
else
	fail "request list: exit $RC" "$T/.out" "$T/.err"
fi
run sp --home "$H" request list --status all
[ "$RC" -eq 0 ] && [ "$(grep -c . "$T/.out")" -eq 7 ] && grep -Eq "^$RI +issued +web-server .* CN=www.corp.example$" "$T/.out" &&
	ok "request list --status all: 7, the issued one with its serial" || fail "request list --status all: exit $RC" "$T/.out"
run sp --home "$H" request list --status issued
[ "$RC" -eq 0 ] && [ "$(grep -c . "$T/.out")" -eq 1 ] && ok "request list --status issued: 1" || fail "--status issued" "$T/.out"
run sp --home "$H" request list --status rejected
[ "$RC" -eq 0 ] && [ ! -s "$T/.out" ] && ok "request list --status rejected: none yet" || fail "--status rejected" "$T/.out"
expect_usage "status" "request list --status bogus" sp --home "$H" request list --status bogus
run sp --home "$H" request list --json
cp "$T/.out" "$T/pending.json"
check "request list --json: python3 json; ids, template, requester, detail, csr_sha256 = openssl dgst" \
	"$PY" - "$T/pending.json" "$R1" "$T/pc1.der" <<'EOF'
import json, sys, hashlib
rows = json.load(open(sys.argv[1]))
assert len(rows) == 6 and all(r["status"] == "pending" for r in rows), rows
r = [r for r in rows if r["id"] == int(sys.argv[2])][0]
assert r["template"] == "web-server" and r["requester"].startswith("est:token:"), r
assert r["detail"] == "dns=pc1.corp.example,www.corp.example" and r["serial"] == "", r
assert r["csr_sha256"] == hashlib.sha256(open(sys.argv[3], "rb").read()).hexdigest(), r
print("6 pending")
EOF

# ---------------------------------------------------------------- show
run sp --home "$H" request show "$R1"
SHA1=$(openssl dgst -sha256 -r "$T/pc1.der" | cut -c1-64)
if [ "$RC" -eq 0 ] && grep -q "^status: *pending$" "$T/.out" && grep -q "^template: *web-server$" "$T/.out" &&
	grep -q "^CSR subject: CN=pc1.corp.example,O=Contoso$" "$T/.out" && grep -q "^CSR SANs: *DNS:pc1.corp.example$" "$T/.out" &&
	grep -q "^CSR key: *EC prime256v1$" "$T/.out" && grep -q "^CSR sha256: *$SHA1$" "$T/.out" &&
	grep -q "^detail: *dns=pc1.corp.example,www.corp.example$" "$T/.out"; then
	ok "request show: status, template, the CSR's subject, SANs, key and SHA-256 (as openssl computes it)"
else
	fail "request show $R1: exit $RC" "$T/.out" "$T/.err"
fi
run sp --home "$H" request show "$R4" --json
cp "$T/.out" "$T/r4.json"
check "request show --json: the CSR decoded" "$PY" - "$T/r4.json" "$T/alice.der" <<'EOF'
import json, sys, hashlib
r = json.load(open(sys.argv[1]))
assert r["status"] == "pending" and r["template"] == "mobile-device" and r["detail"] == "upn=alice@corp.example", r
assert r["csr"]["subject"] == "CN=Alice Smith,O=Contoso" and r["csr"]["sans"] == "", r
assert r["csr"]["sha256"] == hashlib.sha256(open(sys.argv[2], "rb").read()).hexdigest(), r
print("ok")
EOF
expect_fail 8 "no request" "request show of an unknown id" sp --home "$H" request show 9999
expect_usage "ID" "request show abc" sp --home "$H" request show abc

# ------------------------------------------------------------- approve
approved() { # approved DESC ID: exit 0, the serial alone on stdout; sets SERIAL
	run sp --home "$H" request approve "$2" --pass-file "$PASS"
	SERIAL=""
	if [ "$RC" -eq 0 ] && [ "$(wc -l <"$T/.out")" -eq 1 ] && grep -Eq '^[0-9A-F]{32}$' "$T/.out"; then
		SERIAL=$(cat "$T/.out")
		ok "$1: serial $SERIAL; $(cut -c1-120 "$T/.err")"
	else
		fail "$1: exit $RC" "$T/.out" "$T/.err"
	fi
}
snap
b_issue=$(audit_count "$H" issue) b_appr=$(audit_count "$H" request-approve)
approved "request approve (web-server, names from the request)" "$R1"
S_R1=$SERIAL
run sp --home "$H" cert export "$S_R1" --out "$T/r1.pem"
[ "$RC" -eq 0 ] || fail "cert export $S_R1: exit $RC" "$T/.err"
run openssl verify -CAfile "$CA" -purpose sslserver "$T/r1.pem"
[ "$RC" -eq 0 ] && ok "openssl verify: the approved certificate chains to the CA (sslserver)" || fail "openssl verify r1" "$T/.out" "$T/.err"
[ "$(pem_serial "$T/r1.pem")" = "$S_R1" ] && ok "openssl reads the serial request approve printed" ||
	fail "serial: openssl $(pem_serial "$T/r1.pem"), approve printed $S_R1"
san=$(openssl x509 -in "$T/r1.pem" -noout -ext subjectAltName | tail -n +2 | tr -d ' ')
subj=$(openssl x509 -in "$T/r1.pem" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')
[ "$san" = "DNS:pc1.corp.example,DNS:www.corp.example" ] && [ "$subj" = "CN=pc1.corp.example,O=Contoso" ] &&
	ok "the certificate has the CSR's subject and the CSR's + queued DNS names ($san)" || fail "subject '$subj', SAN '$san'"
cmp -s <(openssl x509 -in "$T/r1.pem" -noout -pubkey) <(openssl pkey -in "$T/pc1.key" -pubout) &&
	ok "the certificate carries the queued CSR's key" || fail "the certificate's key is not the CSR's"
row=$(sql "$DB" "select status || '|' || cert_serial || '|' || requester || '|' || detail from request where id = $R1")
[ "$row" = "3|$S_R1|est:token:$T1|dns=pc1.corp.example,www.corp.example" ] &&
	ok "sqlite3: request $R1 is issued with that serial, requester and names kept" || fail "request row '$row'"
now="requests $(sql "$DB" "select count(*) from request"), certificates $(sql "$DB" "select count(*) from certificate")"
want="requests $(sed 's/.*requests \([0-9]*\),.*/\1/' <<<"$SNAP"), certificates $(($(sed 's/.*certificates \([0-9]*\),.*/\1/' <<<"$SNAP") + 1))"
[ "$now" = "$want" ] && ok "one more certificate, no new request row ($now)" || fail "counts '$now', want '$want'"
[ "$(audit_count "$H" issue)" -eq $((b_issue + 1)) ] && [ "$(audit_count "$H" request-approve)" -eq $((b_appr + 1)) ] &&
	ok "audit: one 'issue' and one 'request-approve' row" || fail "audit issue/request-approve counts"
last=$(sql "$DB" "select actor || '|' || action || '|' || subject || '|' || detail from audit where action = 'issue' order by id desc limit 1")
[[ "$last" == "est:token:$T1|issue|$S_R1|template=web-server request=$R1 "* ]] &&
	ok "the issue audit row names the original requester and request $R1" || fail "issue audit row '$last'"
run sp --home "$H" request show "$R1"
grep -q "^status: *issued$" "$T/.out" && grep -q "^serial: *$S_R1$" "$T/.out" && ok "request show: issued, with the serial" ||
	fail "request show after approve" "$T/.out"

approved "request approve (client-auth, no queued names)" "$R2"
run sp --home "$H" cert export "$SERIAL" --out "$T/r2.pem"
run openssl verify -CAfile "$CA" -purpose sslclient "$T/r2.pem"
[ "$RC" -eq 0 ] && ok "openssl verify: the client-auth certificate (sslclient)" || fail "openssl verify r2" "$T/.out" "$T/.err"
approved "request approve (mobile-device, queued UPN)" "$R4"
run sp --home "$H" cert export "$SERIAL" --out "$T/r4.pem"
check "the mobile-device certificate carries the queued UPN (python3-cryptography)" \
	"$PY" - "$T/r4.pem" "$CA" <<'EOF'
import sys
from cryptography import x509
c = x509.load_pem_x509_certificate(open(sys.argv[1], "rb").read())
ca = x509.load_pem_x509_certificate(open(sys.argv[2], "rb").read())
assert c.issuer == ca.subject, c.issuer
san = c.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
upn = [n for n in san if isinstance(n, x509.OtherName) and n.type_id.dotted_string == "1.3.6.1.4.1.311.20.2.3"]
assert len(upn) == 1 and upn[0].value == b"\x0c\x12alice@corp.example", upn
print(c.subject.rfc4514_string())
EOF
run openssl verify -CAfile "$CA" "$T/r4.pem"
[ "$RC" -eq 0 ] && ok "openssl verify: the mobile-device certificate" || fail "openssl verify r4" "$T/.out" "$T/.err"

snap
expect_fail 6 "request $R1 is issued" "approve an issued request again" sp --home "$H" request approve "$R1" --pass-file "$PASS"
expect_fail 8 "no request" "approve an unknown id" sp --home "$H" request approve 9999 --pass-file "$PASS"
expect_usage "ID" "approve without an id" sp --home "$H" request approve --pass-file "$PASS"
expect_fail 6 "email|SAN" "approve a request whose CSR the template refuses (e-mail SAN)" sp --home "$H" request approve "$R5" --pass-file "$PASS"
expect_fail 7 "detail" "approve a request whose detail is not dns=/upn=" sp --home "$H" request approve "$R6" --pass-file "$PASS"
printf 'not the passphrase\n' >"$T/wrong"
chmod 600 "$T/wrong"
expect_fail 14 "" "approve with a wrong passphrase" sp --home "$H" request approve "$R3" --pass-file "$T/wrong"
unchanged "after the refused approvals"
[ "$(sql "$DB" "select group_concat(status) from request where id in ($R3, $R5, $R6)")" = "0,0,0" ] &&
	ok "the refused requests are still pending" || fail "refused requests changed state"

# -------------------------------------------------------------- reject
b_rej=$(audit_count "$H" request-reject)
run sp --home "$H" request reject "$R3" --reason "not a machine we know"
row=$(sql "$DB" "select status || '|' || cert_serial || '|' || detail from request where id = $R3")
[ "$RC" -eq 0 ] && [ "$row" = "2||not a machine we know" ] && [ "$(audit_count "$H" request-reject)" -eq $((b_rej + 1)) ] &&
	ok "request reject: rejected with the reason as detail, one 'request-reject' audit row" || fail "reject $R3: exit $RC, row '$row'" "$T/.err"
last=$(sql "$DB" "select action || '|' || subject || '|' || detail from audit order by id desc limit 1")
[ "$last" = "request-reject|request:$R3|not a machine we know" ] && ok "audit row: request-reject, the request, the reason" ||
	fail "audit row '$last'"
snap
expect_fail 6 "request $R3 is rejected" "approve after reject" sp --home "$H" request approve "$R3" --pass-file "$PASS"
expect_fail 6 "rejected" "reject twice" sp --home "$H" request reject "$R3" --reason again
expect_fail 6 "issued" "reject an issued request" sp --home "$H" request reject "$R1" --reason late
expect_fail 8 "no request" "reject an unknown id" sp --home "$H" request reject 9999 --reason x
expect_usage "reason" "reject without --reason" sp --home "$H" request reject "$R5"
for r in "" "   " "caf$(printf '\xc3\xa9')" "$(printf 'tab\there')" "$(printf 'x%.0s' $(seq 257))"; do
	expect_usage "reason" "reject reason '$(printf '%q' "$r" | cut -c1-30)' (${#r} bytes)" sp --home "$H" request reject "$R5" --reason "$r"
done
unchanged "after the refused rejections"
run sp --home "$H" request list --status rejected
[ "$RC" -eq 0 ] && [ "$(grep -c . "$T/.out")" -eq 1 ] && grep -Eq "^$R3 +rejected " "$T/.out" &&
	ok "request list --status rejected: the one" || fail "list rejected" "$T/.out"
run sp --home "$H" request list
[ "$RC" -eq 0 ] && [ "$(grep -c . "$T/.out")" -eq 2 ] && ok "request list: 2 still pending (the refused ones)" || fail "pending list" "$T/.out"

check "audit verify" sp --home "$H" audit verify
finish

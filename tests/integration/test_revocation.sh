#!/bin/bash
# test_revocation.sh - `sitepki revoke` / `release` as an administrator uses
# them: every RFC 5280 reason by serial, SHA-256 and SHA-1; refusals that
# leave the store unchanged; hold and release; --time; the CA's own
# certificate; bulk lists in one transaction (all or nothing); an audit row
# for every change and CRL publication. The store is judged with sqlite3,
# the published CRL with openssl and python3-cryptography.
source "$(dirname "$0")/lib.sh"
need openssl sqlite3

H=$T/home
DB=$H/sitepki.db
new_ca "$H" "Revocation Test Root"
CA=$H/ca.pem
CA_SERIAL=$(pem_serial "$CA")

# ------------------------------------------------------------ certificates
# three batches of EC P-256 requests (python3-cryptography, fast): 32 for
# the single revocations, 1,000 for the bulk list, 2,000 for the bulk figure
mkdir "$T/csr-r" "$T/csr-f" "$T/csr-b"
"$PY" "$MKCSR" bulk "$T/csr-r" 32 r || die "mkcsr.py bulk r"
"$PY" "$MKCSR" bulk "$T/csr-f" 1000 f || die "mkcsr.py bulk f"
"$PY" "$MKCSR" bulk "$T/csr-b" 2000 b || die "mkcsr.py bulk b"
for b in r f b; do
	run sp --home "$H" issue --template web-server --batch "$T/csr-$b" --out-dir "$T/out-$b" --pass-file "$PASS"
	[ "$RC" -eq 0 ] || die "issue --batch $b exited $RC: $(tail -n3 "$T/.err")"
done
ok "issued 3,032 certificates in three batches"
# serials of the batches from the store (sqlite3), keyed by subject
sql "$DB" "select serial from certificate where subject like 'CN=f%' order by subject" >"$T/f.serials"
sql "$DB" "select serial from certificate where subject like 'CN=b%' order by subject" >"$T/b.serials"
[ "$(wc -l <"$T/f.serials")" -eq 1000 ] && [ "$(wc -l <"$T/b.serials")" -eq 2000 ] || die "batch serials not in the store"

# the 32 single certificates: serial, SHA-256 and SHA-1 by openssl
R_SER=() R_256=() R_1=()
for i in $(seq 0 31); do
	f=$(printf '%s/out-r/r%04d.pem' "$T" "$i")
	R_SER[i]=$(pem_serial "$f")
	R_256[i]=$(openssl x509 -in "$f" -noout -fingerprint -sha256 | sed 's/.*=//')  # AB:CD:.. upper case
	R_1[i]=$(openssl x509 -in "$f" -noout -fingerprint -sha1 | sed 's/.*=//')
done

# ledger of what the audit log must hold at the end
N_REVOKE=0 N_HOLD=0 N_RELEASE=0 N_PUBLISH=0

# unchanged BEFORE_COUNTS BEFORE_AUDIT DESC: store counts and audit rows as before
snap() { SNAP="$(status_counts "$H") / $(audit_count "$H")"; }
unchanged() {
	local now
	now="$(status_counts "$H") / $(audit_count "$H")"
	if [ "$now" = "$SNAP" ]; then
		ok "$1: store unchanged (valid revoked hold / audit rows: $now)"
	else
		fail "$1: store changed from '$SNAP' to '$now'"
	fi
}

# revoke_ok DESC KEY REASON SERIAL CODE [revoke options]: exit 0, the one
# certificate now has status CODE's status, reason CODE, and exactly one new
# audit row (revoke or hold) names its serial and the reason.
revoke_ok() {
	local desc=$1 key=$2 reason=$3 serial=$4 code=$5 before after st action want
	shift 5
	before=$(audit_count "$H")
	run sp --home "$H" revoke "$key" --reason "$reason" "$@"
	after=$(audit_count "$H")
	st=$(cert_state "$H" "$serial")
	action=revoke want=1
	[ "$reason" = certificateHold ] && action=hold want=2
	last=$(sql "$DB" "select action || '|' || subject || '|' || detail from audit order by id desc limit 1")
	if [ "$RC" -eq 0 ] && [[ "$st" =~ ^$want\|[0-9]+\|$code$ ]] && [ "$after" -eq $((before + 1)) ] &&
		[[ "$last" == "$action|$serial|reason=$reason "* ]] && grep -q "^revoked $serial ($reason)" "$T/.err"; then
		ok "$desc: exit 0, store '$st', one '$action' audit row"
	else
		fail "$desc: exit $RC, store '$st' (want status $want reason $code), audit $before -> $after, last row '$last'" "$T/.err"
	fi
	if [ "$action" = hold ]; then N_HOLD=$((N_HOLD + 1)); else N_REVOKE=$((N_REVOKE + 1)); fi
}

# ------------------------------------------- every reason, every key form
REASONS=(unspecified keyCompromise cACompromise affiliationChanged superseded cessationOfOperation certificateHold privilegeWithdrawn)
CODES=(0 1 2 3 4 5 6 9)
k=0
for i in "${!REASONS[@]}"; do
	r=${REASONS[i]} c=${CODES[i]}
	revoke_ok "revoke by serial ($r)" "${R_SER[k]}" "$r" "${R_SER[k]}" "$c"
	k=$((k + 1))
	# SHA-256 as openssl prints it (upper case, colons), every other one lower case without colons
	key=${R_256[k]}
	[ $((i % 2)) -eq 1 ] && key=$(tr -d : <<<"${key,,}")
	revoke_ok "revoke by SHA-256 ($r)" "$key" "$r" "${R_SER[k]}" "$c"
	k=$((k + 1))
	# SHA-1 thumbprint as Windows shows it: upper case with spaces (or colons)
	key=$(tr : ' ' <<<"${R_1[k]}")
	[ $((i % 2)) -eq 1 ] && key=${R_1[k]}
	revoke_ok "revoke by SHA-1 thumbprint '${key:0:11}...' ($r)" "$key" "$r" "${R_SER[k]}" "$c"
	k=$((k + 1))
done
# k = 24: certificates 0..23 are revoked or on hold; 24..31 are still valid
# (hold ones: 18, 19, 20 - certificateHold is reasons[6])

# -------------------------------------------------------------- refusals
snap
for bad in bogus keycompromise KeyCompromise removeFromCRL aACompromise "" "keyCompromise "; do
	expect_usage "not a revocation reason|reason" "reason '$bad' is refused (exit 2)" \
		sp --home "$H" revoke "${R_SER[24]}" --reason "$bad"
done
expect_usage "reason" "revoke without --reason" sp --home "$H" revoke "${R_SER[24]}"
expect_usage "one SERIAL|from-file" "a key and --from-file together" \
	sp --home "$H" revoke "${R_SER[24]}" --from-file "$T/f.serials" --reason superseded
expect_usage "time" "--time that is not a time" sp --home "$H" revoke "${R_SER[24]}" --reason superseded --time yesterday
unchanged "after the refused reasons and usage errors"

snap
expect_fail 8 "no certificate|not found" "unknown serial" sp --home "$H" revoke 7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF --reason keyCompromise
expect_fail 8 "no certificate|not found" "unknown SHA-256" sp --home "$H" revoke "$(printf '%064d' 0)" --reason keyCompromise
expect_fail 8 "no certificate|not found" "unknown SHA-1" sp --home "$H" revoke "$(printf 'ab%.0s' $(seq 20))" --reason keyCompromise
unchanged "after revoking unknown certificates (exit 8)"

snap
expect_fail 6 "own certificate|CA" "revoking the CA's own certificate by serial" sp --home "$H" revoke "$CA_SERIAL" --reason cACompromise
expect_fail 6 "own certificate|CA" "revoking the CA's own certificate by SHA-256" \
	sp --home "$H" revoke "$(fp_hex "$CA" sha256)" --reason keyCompromise
ca_state=$(cert_state "$H" "$CA_SERIAL")
[[ "$ca_state" == "0||" ]] && ok "the CA certificate is still valid in the store" || fail "CA certificate state '$ca_state'"
unchanged "after the refused CA revocations"

# ------------------------------------------------------ already revoked
st_before=$(cert_state "$H" "${R_SER[1]}")
snap
expect_fail 9 "already revoked" "revoking again (same reason) is exit 9 with a message" \
	sp --home "$H" revoke "${R_SER[1]}" --reason unspecified
expect_fail 9 "already revoked" "revoking again with another reason is exit 9" \
	sp --home "$H" revoke "${R_SER[1]}" --reason keyCompromise
expect_fail 9 "already (revoked|on hold)" "putting a certificate on hold twice is exit 9" \
	sp --home "$H" revoke "${R_SER[18]}" --reason certificateHold
unchanged "after revoking again: no second record"
st_after=$(cert_state "$H" "${R_SER[1]}")
[ "$st_before" = "$st_after" ] && ok "revoked_at and reason unchanged ($st_after)" ||
	fail "revoking again changed the record from '$st_before' to '$st_after'"

# --------------------------------------------------------- hold / release
S=${R_SER[18]}
before=$(audit_count "$H")
run sp --home "$H" release "$S"
last=$(sql "$DB" "select action || '|' || subject from audit order by id desc limit 1")
if [ "$RC" -eq 0 ] && [ "$(cert_state "$H" "$S" | cut -d'|' -f1)" = 0 ] && [ "$(audit_count "$H")" -eq $((before + 1)) ] &&
	[ "$last" = "release|$S" ]; then
	ok "release of a hold: exit 0, valid again, one 'release' audit row"
else
	fail "release: exit $RC, state '$(cert_state "$H" "$S")', last audit row '$last'" "$T/.err"
fi
N_RELEASE=$((N_RELEASE + 1))
run sp --home "$H" cert list --status valid --subject "$(sql "$DB" "select substr(subject, 4) from certificate where serial = '$S'")"
[ "$RC" -eq 0 ] && [ "$(grep -c . "$T/.out")" -eq 1 ] && ok "cert list --status valid lists the released certificate" ||
	fail "cert list --status valid after release: exit $RC" "$T/.out" "$T/.err"
snap
expect_fail 6 "not on hold|only a certificateHold" "releasing a valid certificate is refused" sp --home "$H" release "$S"
expect_fail 6 "final|not on hold|only a certificateHold" "release of a final revocation is exit 6" sp --home "$H" release "${R_SER[1]}"
expect_fail 8 "no certificate|not found" "release of an unknown serial is exit 8" sp --home "$H" release 7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF
unchanged "after the refused releases"
revoke_ok "the released certificate can be put on hold again" "$S" certificateHold "$S" 6
# hold -> keyCompromise is allowed (a hold may become final)
S=${R_SER[19]}
revoke_ok "hold -> keyCompromise" "$S" keyCompromise "$S" 1
grep -q "was on hold" <<<"$(sql "$DB" "select detail from audit order by id desc limit 1")" &&
	ok "the audit row says the certificate was on hold" || fail "audit detail lacks 'was on hold'"
expect_fail 6 "final|not on hold" "after hold -> keyCompromise, release is refused" sp --home "$H" release "$S"

# ------------------------------------------------------------------ --time
NOW=$(date -u +%s)
PAST=$((NOW - 7200))
PAST_ISO=$(date -u -d "@$PAST" +%Y-%m-%dT%H:%M:%SZ)
revoke_ok "--time two hours ago (ISO)" "${R_SER[24]}" superseded "${R_SER[24]}" 4 --time "$PAST_ISO"
at=$(cert_state "$H" "${R_SER[24]}" | cut -d'|' -f2)
[ "$at" = "$PAST" ] && ok "--time $PAST_ISO is recorded as revoked_at $PAST" || fail "--time $PAST_ISO recorded as '$at'"
revoke_ok "--time in seconds since 1970" "${R_SER[25]}" affiliationChanged "${R_SER[25]}" 3 --time "$((PAST - 60))"
at=$(cert_state "$H" "${R_SER[25]}" | cut -d'|' -f2)
[ "$at" = "$((PAST - 60))" ] && ok "--time $((PAST - 60)) is recorded" || fail "--time $((PAST - 60)) recorded as '$at'"
snap
expect_usage "future" "--time an hour in the future is refused" \
	sp --home "$H" revoke "${R_SER[26]}" --reason superseded --time "$(date -u -d "@$((NOW + 3600))" +%Y-%m-%dT%H:%M:%SZ)"
expect_usage "future" "--time next year is refused" \
	sp --home "$H" revoke "${R_SER[26]}" --reason superseded --time "$(date -u -d "@$((NOW + 366 * 86400))" +%Y-%m-%dT%H:%M:%SZ)"
unchanged "after --time in the future"

# ------------------------------------------------------- --from-file: 1,000
# serials, SHA-256 (lower case, colons) and SHA-1 (Windows style), comments,
# blank lines, CRLF and surrounding blanks, as an incident list arrives
"$PY" - "$DB" "$T/f.serials" "$T/list.good" "$T/list.unknown" "$T/list.ca" "$CA_SERIAL" <<'EOF'
import sqlite3, sys
db, serials, good, unknown, ca, ca_serial = sys.argv[1:]
con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
rows = dict((s, (s256, s1)) for s, s256, s1 in con.execute("select serial, sha256, sha1 from certificate"))
lines = ["# incident 4711: every f-certificate", ""]
for i, s in enumerate(open(serials).read().split()):
    s256, s1 = rows[s]
    if i % 3 == 1:
        key = ":".join(s256[j:j + 2] for j in range(0, 64, 2)).lower()
    elif i % 5 == 2:
        key = " ".join(s1[j:j + 2] for j in range(0, 40, 2)).upper()
    else:
        key = s
    if i % 7 == 0:
        key = "  " + key + " \t"
    lines.append(key + ("\r" if i % 11 == 0 else ""))
    if i % 100 == 99:
        lines.append("# --- %d ---" % (i + 1))
open(good, "w").write("\n".join(lines) + "\n")
bad = lines[:700] + ["7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"] + lines[700:]
open(unknown, "w").write("\n".join(bad) + "\n")
open(ca, "w").write("\n".join(lines[:500] + [ca_serial] + lines[500:]) + "\n")
# the line numbers an editor shows for the two planted keys
open(unknown + ".line", "w").write("701\n")
open(ca + ".line", "w").write("501\n")
EOF
snap
expect_fail 8 "nothing was revoked" "--from-file with one unknown serial among 1,000: exit 8, names the line" \
	sp --home "$H" revoke --from-file "$T/list.unknown" --reason keyCompromise
# the line an administrator finds it on in an editor (comments and blank
# lines count: `sed -n 701p` shows the unknown serial)
L=$(cat "$T/list.unknown.line")
[ "$(sed -n "${L}p" "$T/list.unknown")" = 7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF ] || die "test list: line $L is not the planted key"
grep -q "(line $L of " "$T/.err" && ok "the message names line $L, where the unknown serial is" ||
	fail "the message does not name line $L of the list (where sed -n ${L}p finds the unknown serial)" "$T/.err"
expect_fail 6 "own certificate|CA" "--from-file with the CA's own serial among 1,000: nothing revoked" \
	sp --home "$H" revoke --from-file "$T/list.ca" --reason keyCompromise
L=$(cat "$T/list.ca.line")
[ "$(sed -n "${L}p" "$T/list.ca")" = "$CA_SERIAL" ] || die "test list: line $L is not the CA serial"
grep -q "(line $L of " "$T/.err" && ok "the message names line $L, where the CA's serial is" ||
	fail "the message does not name line $L of the list (where the CA's serial is)" "$T/.err"
printf '# nothing but comments\n\n' >"$T/list.empty"
expect_fail 7 "no serials" "--from-file with no keys at all is exit 7" sp --home "$H" revoke --from-file "$T/list.empty" --reason keyCompromise
unchanged "after the refused lists: nothing revoked at all"
n=$(sql "$DB" "select count(*) from certificate where subject like 'CN=f%' and status <> 0")
[ "$n" -eq 0 ] && ok "none of the 1,000 is revoked" || fail "$n of the 1,000 were revoked by a refused list"

max_id=$(sql "$DB" "select max(id) from audit")
run sp --home "$H" revoke --from-file "$T/list.good" --reason cessationOfOperation
n=$(sql "$DB" "select count(*) from certificate where subject like 'CN=f%' and status = 1 and revoke_reason = 5")
if [ "$RC" -eq 0 ] && [ "$n" -eq 1000 ] && grep -q "^revoked 1000, already revoked 0" "$T/.err"; then
	ok "--from-file with 1,000 keys (three key forms, comments, CRLF): all revoked, reported 'revoked 1000'"
else
	fail "--from-file 1,000: exit $RC, $n revoked" "$T/.err"
fi
N_REVOKE=$((N_REVOKE + 1000))
sql "$DB" "select subject from audit where id > $max_id and action = 'revoke' order by subject" >"$T/audit.f"
sort "$T/f.serials" >"$T/f.sorted"
n_rows=$(sql "$DB" "select count(*) from audit where id > $max_id")
if [ "$n_rows" -eq 1000 ] && cmp -s "$T/audit.f" "$T/f.sorted"; then
	ok "one 'revoke' audit row for each of the 1,000, nothing else"
else
	fail "audit after the bulk list: $n_rows rows; the subjects differ from the 1,000 serials: $(comm -3 "$T/audit.f" "$T/f.sorted" | head -3 | tr '\n' ' ')"
fi
sum_before=$(sql "$DB" "select sum(revoked_at), count(*) from certificate where subject like 'CN=f%'")
snap
run sp --home "$H" revoke --from-file "$T/list.good" --reason keyCompromise
if [ "$RC" -eq 0 ] && grep -q "revoked 0, already revoked 1000" "$T/.err" &&
	[ "$(sql "$DB" "select sum(revoked_at), count(*) from certificate where subject like 'CN=f%'")" = "$sum_before" ] &&
	[ "$(sql "$DB" "select count(*) from certificate where subject like 'CN=f%' and revoke_reason = 5")" -eq 1000 ]; then
	ok "the same list again: exit 0, 'already revoked 1000', times and reasons unchanged"
else
	fail "the same list again: exit $RC" "$T/.err"
fi
unchanged "the same list again: no second record"
# a list mixing two already revoked and two new ones
printf '%s\n' "${R_SER[0]}" "${R_SER[27]}" "${R_SER[1]}" "${R_SER[28]}" >"$T/list.mixed"
before=$(audit_count "$H")
run sp --home "$H" revoke --from-file "$T/list.mixed" --reason privilegeWithdrawn
if [ "$RC" -eq 0 ] && grep -q "revoked 2, already revoked 2" "$T/.err" && [ "$(audit_count "$H")" -eq $((before + 2)) ] &&
	[[ "$(cert_state "$H" "${R_SER[27]}")" =~ ^1\|[0-9]+\|9$ ]] && [[ "$(cert_state "$H" "${R_SER[0]}")" =~ \|0$ ]]; then
	ok "a list with two new and two already revoked: two revoked, two reported and left as they were"
else
	fail "mixed list: exit $RC" "$T/.err"
fi
N_REVOKE=$((N_REVOKE + 2))

# ----------------------------------------------- bulk figure (no assertion)
t0=$(date +%s.%N)
run sp --home "$H" revoke --from-file "$T/b.serials" --reason superseded
t1=$(date +%s.%N)
n=$(sql "$DB" "select count(*) from certificate where subject like 'CN=b%' and status = 1")
[ "$RC" -eq 0 ] && [ "$n" -eq 2000 ] && ok "bulk: 2,000 revoked with one revoke --from-file" || fail "bulk revoke: exit $RC, $n revoked" "$T/.err"
N_REVOKE=$((N_REVOKE + 2000))
echo "# figure: revoke --from-file of 2,000 serials: $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b - a}') s (process start, key-less store open, one transaction)"

# ------------------------------------------------------------- publish
t0=$(date +%s.%N)
run sp --home "$H" crl publish --pass-file "$PASS"
t1=$(date +%s.%N)
N_PUBLISH=$((N_PUBLISH + 1))
[ "$RC" -eq 0 ] || die "crl publish exited $RC: $(cat "$T/.err")"
echo "# figure: crl publish with $(sql "$DB" "select count(*) from certificate where status <> 0") entries: $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b - a}') s (includes loading the CA key)"
ca_urls "$H"
CRL=$H/publish/crl/${CRL_URL##*/}
last=$(sql "$DB" "select action || '|' || subject || '|' || actor from audit order by id desc limit 1")
[[ "$last" == crl-publish\|*\|cli:* ]] && ok "crl publish wrote an audit row naming who published ('$last')" ||
	fail "last audit row after crl publish: '$last'"
# the CRL lists exactly the revoked and held certificates, with the stored
# reasons and times (python3-cryptography reads the CRL, sqlite3 the store)
check "the published CRL lists exactly the store's revoked/held certificates, with their reasons and revocation times" \
	"$PY" - "$DB" "$CRL" "$CA" <<'EOF'
import sqlite3, sys
from cryptography import x509
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
crl = x509.load_der_x509_crl(open(sys.argv[2], "rb").read())
ca = x509.load_pem_x509_certificate(open(sys.argv[3], "rb").read())
assert crl.is_signature_valid(ca.public_key())
names = {0: None, 1: x509.ReasonFlags.key_compromise, 2: x509.ReasonFlags.ca_compromise,
         3: x509.ReasonFlags.affiliation_changed, 4: x509.ReasonFlags.superseded,
         5: x509.ReasonFlags.cessation_of_operation, 6: x509.ReasonFlags.certificate_hold,
         9: x509.ReasonFlags.privilege_withdrawn}
want = {int(s, 16): (t, r) for s, t, r in db.execute(
    "select serial, revoked_at, revoke_reason from certificate where status in (1, 2)")}
got = {}
for e in crl:
    try:
        ext = e.extensions.get_extension_for_class(x509.CRLReason)
        assert not ext.critical
        reason = ext.value.reason
    except x509.ExtensionNotFound:
        reason = None
    got[e.serial_number] = (int(e.revocation_date.replace(tzinfo=__import__("datetime").timezone.utc).timestamp()), reason)
assert set(got) == set(want), "CRL %d entries, store %d; differ: %s" % (len(got), len(want), list(set(got) ^ set(want))[:3])
for s, (t, r) in want.items():
    assert got[s] == (t, names[r]), (hex(s), got[s], t, r)
print(len(got), "entries match")
EOF

# -------------------------------------------------------------- the audit
got="revoke $(audit_count "$H" revoke) hold $(audit_count "$H" hold) release $(audit_count "$H" release) crl-publish $(audit_count "$H" crl-publish)"
want="revoke $N_REVOKE hold $N_HOLD release $N_RELEASE crl-publish $N_PUBLISH"
[ "$got" = "$want" ] && ok "audit rows: $got" || fail "audit rows: $got; expected $want"
check "audit verify is ok after all of it" sp --home "$H" audit verify

finish

#!/usr/bin/python3
"""check_cert.py - judge an issued certificate with Debian's
python3-cryptography (run with /usr/bin/python3), independently of sitepki.

  check_cert.py --cert LEAF.pem --ca ISSUER.pem --subject 'CN=a,O=b'
                --eku OID[,OID] --ku digitalSignature[,keyEncipherment]
                --days N [--dns a,b] [--upn u@d] [--csr REQ]
                [--crl-url URL] [--aia-url URL] [--key rsa|ec]

Every check that fails prints one "FAIL:" line; exit 1 if any failed.
Without --dns and --upn the certificate must carry no subjectAltName.
"""
import argparse
import datetime
import sys

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtensionOID, ObjectIdentifier

UPN_OID = ObjectIdentifier("1.3.6.1.4.1.311.20.2.3")
KU_NAMES = {
    "digitalSignature": "digital_signature",
    "nonRepudiation": "content_commitment",
    "keyEncipherment": "key_encipherment",
    "dataEncipherment": "data_encipherment",
    "keyAgreement": "key_agreement",
    "keyCertSign": "key_cert_sign",
    "cRLSign": "crl_sign",
}
ALLOWED_EXT = {
    ExtensionOID.BASIC_CONSTRAINTS, ExtensionOID.KEY_USAGE, ExtensionOID.EXTENDED_KEY_USAGE,
    ExtensionOID.SUBJECT_ALTERNATIVE_NAME, ExtensionOID.SUBJECT_KEY_IDENTIFIER,
    ExtensionOID.AUTHORITY_KEY_IDENTIFIER, ExtensionOID.CRL_DISTRIBUTION_POINTS,
    ExtensionOID.AUTHORITY_INFORMATION_ACCESS,
}
PRINTABLE = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 '()+,-./:=?")

failures = []


def fail(msg):
    failures.append(msg)


def der_read(buf, pos):
    """One DER TLV at pos: (tag, value, next_pos)."""
    tag = buf[pos]
    n = buf[pos + 1]
    pos += 2
    if n & 0x80:
        k = n & 0x7F
        n = int.from_bytes(buf[pos:pos + k], "big")
        pos += k
    return tag, buf[pos:pos + n], pos + n


def der_items(buf):
    pos, out = 0, []
    while pos < len(buf):
        tag, val, pos = der_read(buf, pos)
        out.append((tag, val))
    return out


def oid_text(der):
    first = der[0]
    parts = [first // 40 if first < 80 else 2, first % 40 if first < 80 else first - 80]
    v = 0
    for b in der[1:]:
        v = (v << 7) | (b & 0x7F)
        if not b & 0x80:
            parts.append(v)
            v = 0
    return ".".join(map(str, parts))


def check_subject_encoding(name):
    """Walk the DER of the Name: every value PrintableString (printable
    characters only) or UTF8String with ASCII, non-control characters."""
    tag, seq, _ = der_read(name.public_bytes(), 0)
    for set_tag, rdn in der_items(seq):
        atvs = der_items(rdn)
        if len(atvs) != 1:
            fail("subject: multi-valued RDN")
        for _, atv in atvs:
            (otag, oid), (vtag, val) = der_items(atv)
            o = oid_text(oid)
            if vtag == 0x13:
                if not set(val.decode("latin-1")) <= PRINTABLE:
                    fail("subject %s: PrintableString with a non-printable character %r" % (o, val))
            elif vtag == 0x0C:
                if any(b < 0x20 or b > 0x7E for b in val):
                    fail("subject %s: UTF8String with a non-ASCII or control byte %r" % (o, val))
            elif vtag == 0x16 and o == "0.9.2342.19200300.100.1.25":
                pass  # DC as IA5String (RFC 4519)
            else:
                fail("subject %s: string type tag 0x%02x is neither PrintableString nor UTF8String" % (o, vtag))


def verify_sig(cert, issuer_pub):
    try:
        if isinstance(issuer_pub, ec.EllipticCurvePublicKey):
            issuer_pub.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))
        elif isinstance(issuer_pub, rsa.RSAPublicKey):
            issuer_pub.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(),
                              cert.signature_hash_algorithm)
        else:
            fail("issuer key type %s not supported by this check" % type(issuer_pub))
            return
    except InvalidSignature:
        fail("signature does not verify with the CA public key")


def ext(cert, oid):
    try:
        return cert.extensions.get_extension_for_oid(oid)
    except x509.ExtensionNotFound:
        return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert", required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--csr")
    ap.add_argument("--subject", required=True)
    ap.add_argument("--eku", required=True)
    ap.add_argument("--ku", required=True)
    ap.add_argument("--days", type=int, required=True)
    ap.add_argument("--dns", default="")
    ap.add_argument("--upn", default="")
    ap.add_argument("--crl-url")
    ap.add_argument("--aia-url")
    ap.add_argument("--key", choices=["rsa", "ec"])
    a = ap.parse_args()

    with open(a.cert, "rb") as f:
        data = f.read()
    cert = (x509.load_pem_x509_certificate(data) if data.lstrip().startswith(b"-----")
            else x509.load_der_x509_certificate(data))
    with open(a.ca, "rb") as f:
        ca = x509.load_pem_x509_certificate(f.read())

    if cert.version != x509.Version.v3:
        fail("version is %s, expected v3" % cert.version)
    # issuer and signature
    if cert.issuer.public_bytes() != ca.subject.public_bytes():
        fail("issuer %s is not the CA subject %s" % (cert.issuer.rfc4514_string(), ca.subject.rfc4514_string()))
    h = cert.signature_hash_algorithm
    if not isinstance(h, (hashes.SHA256, hashes.SHA384, hashes.SHA512)):
        fail("signature hash is %s (SHA-1 or other weak hash)" % (h.name if h else None))
    else:
        verify_sig(cert, ca.public_key())
    # every extension known and unique (cryptography raises on duplicates)
    try:
        exts = cert.extensions
    except Exception as e:  # noqa: BLE001 - duplicate or malformed extensions
        fail("extensions do not parse: %s" % e)
        exts = []
    for e in exts:
        if e.oid not in ALLOWED_EXT:
            fail("unexpected extension %s" % e.oid.dotted_string)
    # basic constraints
    bc = ext(cert, ExtensionOID.BASIC_CONSTRAINTS)
    if not bc:
        fail("basicConstraints missing")
    else:
        if not bc.critical:
            fail("basicConstraints not critical")
        if bc.value.ca or bc.value.path_length is not None:
            fail("basicConstraints: ca=%s pathlen=%s, expected CA:FALSE" % (bc.value.ca, bc.value.path_length))
    # key usage, exactly
    ku = ext(cert, ExtensionOID.KEY_USAGE)
    want_ku = {KU_NAMES[k] for k in a.ku.split(",") if k}
    if not ku:
        fail("keyUsage missing")
    else:
        if not ku.critical:
            fail("keyUsage not critical")
        got = {v for v in KU_NAMES.values() if getattr(ku.value, v)}
        if ku.value.key_agreement and (ku.value.encipher_only or ku.value.decipher_only):
            got.add("encipher/decipher_only")
        if got != want_ku:
            fail("keyUsage %s, expected %s" % (sorted(got), sorted(want_ku)))
    # extended key usage, exactly and in order
    eku = ext(cert, ExtensionOID.EXTENDED_KEY_USAGE)
    want_eku = [o for o in a.eku.split(",") if o]
    got_eku = [o.dotted_string for o in eku.value] if eku else None
    if got_eku != want_eku:
        fail("extendedKeyUsage %s, expected %s" % (got_eku, want_eku))
    # subjectAltName
    san = ext(cert, ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    want_dns = sorted(d.lower() for d in a.dns.split(",") if d)
    want_upn = sorted(u for u in a.upn.split(",") if u)
    if not want_dns and not want_upn:
        if san:
            fail("unexpected subjectAltName %s" % san.value)
    elif not san:
        fail("subjectAltName missing (expected DNS %s UPN %s)" % (want_dns, want_upn))
    else:
        if san.critical != (len(cert.subject) == 0):
            fail("subjectAltName critical=%s with a %s subject" % (san.critical, "empty" if len(cert.subject) == 0 else "non-empty"))
        dns, upn = [], []
        for g in san.value:
            if isinstance(g, x509.DNSName):
                dns.append(g.value.lower())
            elif isinstance(g, x509.OtherName) and g.type_id == UPN_OID:
                tag, val, end = der_read(g.value, 0)
                if tag != 0x0C or end != len(g.value):
                    fail("UPN value is not a single UTF8String: %s" % g.value.hex())
                upn.append(val.decode("utf-8", "replace"))
            else:
                fail("unexpected SAN entry %r" % g)
        if sorted(dns) != want_dns:
            fail("SAN DNS %s, expected %s" % (sorted(dns), want_dns))
        if sorted(upn) != want_upn:
            fail("SAN UPN %s, expected %s" % (sorted(upn), want_upn))
    # subject
    if cert.subject.rfc4514_string() != a.subject:
        fail("subject '%s', expected '%s'" % (cert.subject.rfc4514_string(), a.subject))
    check_subject_encoding(cert.subject)
    # serial: positive, DER INTEGER of exactly 16 bytes
    s = cert.serial_number
    if s <= 0:
        fail("serial %d is not positive" % s)
    elif (s.bit_length() // 8) + 1 != 16:
        fail("serial %x is %d bytes in DER, expected 16" % (s, (s.bit_length() // 8) + 1))
    # validity: template days (clipped to the CA), inside the CA, starts now
    nb, na = cert.not_valid_before, cert.not_valid_after
    if na - nb > datetime.timedelta(days=a.days):
        fail("validity %s is longer than %d days" % (na - nb, a.days))
    if na - nb != datetime.timedelta(days=a.days) and na != ca.not_valid_after:
        fail("validity %s is neither %d days nor clipped to the CA's notAfter" % (na - nb, a.days))
    if nb < ca.not_valid_before or na > ca.not_valid_after:
        fail("validity %s..%s is outside the CA's %s..%s" % (nb, na, ca.not_valid_before, ca.not_valid_after))
    now = datetime.datetime.utcnow()
    if abs((nb - now).total_seconds()) > 900:
        fail("notBefore %s is not the issuing time (now %s)" % (nb, now))
    # key identifiers
    ski = ext(cert, ExtensionOID.SUBJECT_KEY_IDENTIFIER)
    if not ski:
        fail("subjectKeyIdentifier missing")
    elif ski.value.digest != x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest:
        fail("subjectKeyIdentifier is not the RFC 5280 method 1 hash of the key")
    aki = ext(cert, ExtensionOID.AUTHORITY_KEY_IDENTIFIER)
    ca_ski = ext(ca, ExtensionOID.SUBJECT_KEY_IDENTIFIER)
    if not aki or not ca_ski:
        fail("authorityKeyIdentifier or the CA's subjectKeyIdentifier missing")
    elif aki.value.key_identifier != ca_ski.value.digest:
        fail("authorityKeyIdentifier %s != CA subjectKeyIdentifier %s" % (
            (aki.value.key_identifier or b"").hex(), ca_ski.value.digest.hex()))
    # CRL distribution point and AIA caIssuers: http URLs
    cdp = ext(cert, ExtensionOID.CRL_DISTRIBUTION_POINTS)
    urls = [g.value for dp in (cdp.value if cdp else []) for g in (dp.full_name or [])
            if isinstance(g, x509.UniformResourceIdentifier)]
    if not urls or not all(u.startswith("http://") for u in urls):
        fail("CRL distribution point URLs %s (expected http://)" % urls)
    if a.crl_url and urls != [a.crl_url]:
        fail("CRL distribution point %s, expected %s" % (urls, a.crl_url))
    aia = ext(cert, ExtensionOID.AUTHORITY_INFORMATION_ACCESS)
    ai = [d.access_location.value for d in (aia.value if aia else [])
          if d.access_method == AuthorityInformationAccessOID.CA_ISSUERS]
    if not ai or not all(u.startswith("http://") for u in ai):
        fail("AIA caIssuers URLs %s (expected http://)" % ai)
    if a.aia_url and ai != [a.aia_url]:
        fail("AIA caIssuers %s, expected %s" % (ai, a.aia_url))
    # the key is the requester's
    pub = cert.public_key()
    if a.key == "rsa" and not isinstance(pub, rsa.RSAPublicKey):
        fail("public key is not RSA")
    if a.key == "ec" and not isinstance(pub, ec.EllipticCurvePublicKey):
        fail("public key is not EC")
    if a.csr:
        with open(a.csr, "rb") as f:
            d = f.read()
        csr = (x509.load_pem_x509_csr(d) if d.lstrip().startswith(b"-----") else x509.load_der_x509_csr(d))
        spki = serialization.PublicFormat.SubjectPublicKeyInfo
        if csr.public_key().public_bytes(serialization.Encoding.DER, spki) != pub.public_bytes(
                serialization.Encoding.DER, spki):
            fail("public key differs from the CSR's")

    for f in failures:
        print("FAIL: %s: %s" % (a.cert, f))
    if failures:
        sys.exit(1)
    print("python3-cryptography: %s conforms (%s, serial %x)" % (a.cert, cert.subject.rfc4514_string(), s))


if __name__ == "__main__":
    main()

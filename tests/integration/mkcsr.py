#!/usr/bin/python3
"""mkcsr.py - make PKCS#10 requests for the integration tests with Debian's
python3-cryptography (run with /usr/bin/python3).

  mkcsr.py spec OUTDIR < SPEC.json
      SPEC is a list of requests:
        {"name": "x",                  # writes OUTDIR/x.csr (PEM) or x.der
         "key": "rsa2048",             # rsa1024 rsa2048 rsa4096 ec256 ec384;
                                       # one key of each kind per run, saved
                                       # as OUTDIR/<key>.key (PEM, no password)
         "subject": [["CN", "value", "UTF8String"], ...],
                                       # type: UTF8String PrintableString
                                       # BMPString UniversalString T61String
                                       # IA5String (default UTF8String)
         "dns": ["a.example"],         # SAN dNSName (A-labels only)
         "raw_dns": ["b\u00fccher.example"], # SAN dNSName, value bytes = UTF-8,
                                       # built by hand (the library refuses)
         "upn": ["user@corp.example"], # SAN otherName UPN (UTF8String)
         "email": ["a@b.example"],     # SAN rfc822Name
         "der": false,                 # DER instead of PEM
         "break_sig": false}           # flip a bit of the signature

  mkcsr.py bulk OUTDIR N PREFIX
      N requests OUTDIR/<PREFIX>NNNN.csr, each with a fresh EC P-256 key,
      CN = <PREFIX>NNNN.example and the same name as SAN dNSName.
"""
import json
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import ExtensionOID, NameOID, ObjectIdentifier

UPN_OID = ObjectIdentifier("1.3.6.1.4.1.311.20.2.3")

ATTRS = {
    "CN": NameOID.COMMON_NAME,
    "O": NameOID.ORGANIZATION_NAME,
    "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "C": NameOID.COUNTRY_NAME,
    "ST": NameOID.STATE_OR_PROVINCE_NAME,
    "L": NameOID.LOCALITY_NAME,
    "emailAddress": NameOID.EMAIL_ADDRESS,
    "DC": NameOID.DOMAIN_COMPONENT,
}

_keys = {}


def der_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def tlv(tag, value):
    return bytes([tag]) + der_len(len(value)) + value


def get_key(kind, outdir):
    if kind in _keys:
        return _keys[kind]
    if kind.startswith("rsa"):
        k = rsa.generate_private_key(public_exponent=65537, key_size=int(kind[3:]))
    elif kind == "ec256":
        k = ec.generate_private_key(ec.SECP256R1())
    elif kind == "ec384":
        k = ec.generate_private_key(ec.SECP384R1())
    else:
        raise SystemExit("unknown key kind %s" % kind)
    with open(os.path.join(outdir, kind + ".key"), "wb") as f:
        f.write(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()))
    _keys[kind] = k
    return k


def build(spec, outdir):
    key = get_key(spec.get("key", "rsa2048"), outdir)
    attrs = []
    for a in spec.get("subject", []):
        typ = getattr(_ASN1Type, a[2]) if len(a) > 2 else _ASN1Type.UTF8String
        attrs.append(x509.NameAttribute(ATTRS[a[0]], a[1], typ))
    b = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(attrs))
    raw = b""
    for d in spec.get("dns", []):
        raw += tlv(0x82, d.encode("ascii"))
    for d in spec.get("raw_dns", []):
        raw += tlv(0x82, d.encode("utf-8"))
    for e in spec.get("email", []):
        raw += tlv(0x81, e.encode("utf-8"))
    for u in spec.get("upn", []):
        # otherName [0] { type-id OID, [0] EXPLICIT UTF8String }
        oid = bytes.fromhex("060a2b060104018237140203")
        raw += tlv(0xA0, oid + tlv(0xA0, tlv(0x0C, u.encode("utf-8"))))
    if raw:
        b = b.add_extension(x509.UnrecognizedExtension(ExtensionOID.SUBJECT_ALTERNATIVE_NAME, tlv(0x30, raw)),
                            critical=False)
    csr = b.sign(key, hashes.SHA256())
    der = bytearray(csr.public_bytes(serialization.Encoding.DER))
    if spec.get("break_sig"):
        der[-3] ^= 0x01  # inside the signature BIT STRING, still valid DER
    der = bytes(der)
    if spec.get("der"):
        path, data = os.path.join(outdir, spec["name"] + ".der"), der
    else:
        path = os.path.join(outdir, spec["name"] + ".csr")
        data = x509.load_der_x509_csr(der).public_bytes(serialization.Encoding.PEM)
    with open(path, "wb") as f:
        f.write(data)


def bulk(outdir, n, prefix):
    for i in range(n):
        k = ec.generate_private_key(ec.SECP256R1())
        name = "%s%04d" % (prefix, i)
        csr = (x509.CertificateSigningRequestBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name + ".example")]))
               .add_extension(x509.SubjectAlternativeName([x509.DNSName(name + ".example")]), critical=False)
               .sign(k, hashes.SHA256()))
        with open(os.path.join(outdir, name + ".csr"), "wb") as f:
            f.write(csr.public_bytes(serialization.Encoding.PEM))


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "spec":
        for spec in json.load(sys.stdin):
            build(spec, sys.argv[2])
    elif len(sys.argv) == 5 and sys.argv[1] == "bulk":
        bulk(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()

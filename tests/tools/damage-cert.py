#!/usr/bin/env python3
"""damage-cert.py FILE CERT.pem PART: one bit turned over, in place, inside the copy of CERT that the
PKCS#7 signature in FILE carries (found byte for byte, so the damage is where PART says):
  subject    the subject name's text (the issuer name still says the certificate is self-signed)
  signature  the certificate's own signature value
FILE is a signature file (DER), or a signature partition's bytes (NUL-padded JSON whose "signature"
is the base64 DER), which keep their length. Fails when the certificate is not found."""
import base64, re, ssl, sys

path, cert_path, part = sys.argv[1:]
cert = ssl.PEM_cert_to_DER_cert(open(cert_path).read())
data = open(path, "rb").read()


def damage(der):
    at = der.find(cert)
    assert at >= 0, "the certificate is not in the signature"
    if part == "subject":
        # the common name's text occurs twice: issuer, then subject
        cn = re.search(rb"\x06\x03\x55\x04\x03[\x0c\x13](.)", cert, re.S)
        assert cn, "no common name"
        text = cert[cn.end():cn.end() + cn.group(1)[0]]
        first = cert.find(text)
        second = cert.find(text, first + 1)
        assert first >= 0 and second > first, "the subject name is not after the issuer name"
        off = at + second + 2
    elif part == "signature":
        off = at + len(cert) - 10
    else:
        sys.exit("PART is subject or signature")
    return der[:off] + bytes([der[off] ^ 0x01]) + der[off + 1:]


if data.startswith(b"{"):
    m = re.search(rb'"signature" *: *"([A-Za-z0-9+/=]+)"', data)
    assert m, "no signature in the payload"
    new = base64.b64encode(damage(base64.b64decode(m.group(1))))
    assert len(new) == len(m.group(1))
    data = data[:m.start(1)] + new + data[m.end(1):]
else:
    data = damage(data)
open(path, "r+b").write(data)

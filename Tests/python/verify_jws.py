#!/usr/bin/env python3
"""Verifies a JWS (compact serialization) with the `cryptography` package, independently
of keycoord's own crypto, and computes SPIRE's kid of the key (lowercase hex SHA-1 of the
SubjectPublicKeyInfo's subjectPublicKey bits: the uncompressed EC point, or the PKCS #1
RSAPublicKey). stdin: JSON {jws, spki_der_b64, der?}; with "der": true an ES* signature
segment holds a DER ECDSA-Sig-Value instead of JOSE's r‖s (what SPIRE's SignData wants).
stdout: JSON {valid, alg, spire_kid}."""
import hashlib
import base64
import json
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_der_public_key


def b64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def main():
    request = json.load(sys.stdin)
    header_b64, payload_b64, signature_b64 = request["jws"].split(".")
    header = json.loads(b64url(header_b64))
    alg = header["alg"]
    signing_input = f"{header_b64}.{payload_b64}".encode("ascii")
    signature = b64url(signature_b64)
    key = load_der_public_key(base64.b64decode(request["spki_der_b64"]))
    hash_alg = {"ES256": hashes.SHA256(), "ES384": hashes.SHA384(), "RS256": hashes.SHA256()}[alg]
    try:
        if alg.startswith("ES"):
            assert isinstance(key, ec.EllipticCurvePublicKey)
            if request.get("der"):
                der = signature
            else:
                size = len(signature) // 2
                der = encode_dss_signature(int.from_bytes(signature[:size], "big"),
                                           int.from_bytes(signature[size:], "big"))
            key.verify(der, signing_input, ec.ECDSA(hash_alg))
        else:
            assert isinstance(key, rsa.RSAPublicKey)
            key.verify(signature, signing_input, padding.PKCS1v15(), hash_alg)
        valid = True
    except InvalidSignature:
        valid = False
    if isinstance(key, ec.EllipticCurvePublicKey):
        bits = key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    else:
        bits = key.public_bytes(Encoding.DER, PublicFormat.PKCS1)
    json.dump({"valid": valid, "alg": alg, "spire_kid": hashlib.sha1(bits).hexdigest()}, sys.stdout)


if __name__ == "__main__":
    main()

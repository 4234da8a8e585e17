#!/usr/bin/env python3
"""Independent checks for keycoord's Core and Crypto tests, using PyCA `cryptography`
and `joserfc`. Reads one JSON request on stdin, writes one JSON answer on stdout.

Operations:
  kids      {"keys": [base64 DER SPKI]} -> per key: SPIRE kid (the X.509 SubjectKeyIdentifier,
            RFC 5280 method 1), the FIPS variant, the RFC 7638 thumbprint and the public JWK
            as joserfc exports it.
  keygen    {"type": "ec-p256"|"ec-p384", "zero": "x"|"y", "count": n} -> keys whose
            coordinate starts with a zero byte (base64 DER SPKI).
  jwks      {"jwks": text} -> kids and thumbprints of every key joserfc imports.
  jwt       {"jwks": text, "token": compact JWS, "algorithms": [...]} -> verified claims.
  verify    {"key": base64 DER SPKI, "hash": "sha256"|"sha384", "message": base64, ["pss_salt": n|"digest"],
             "signature": base64 DER/PKCS#1} -> {"valid": bool}
  sign      {"type": ..., "hash": ..., "message": base64} -> a fresh key (PKCS#8 PEM and SPKI DER)
            and its signature (DER ECDSA or PKCS#1 v1.5) for the Swift side to verify.
  parse_private {"pem": text} -> the SPKI DER of a PKCS#8 PEM written by the Swift side.
"""
import base64
import hashlib
import json
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey

HASHES = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384()}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def load_spki(text: str):
    return serialization.load_der_public_key(base64.b64decode(text))


def spki_der(key) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def subject_public_key_bits(key) -> bytes:
    # The BIT STRING contents without the unused-bits byte, parsed independently of
    # cryptography's own SubjectKeyIdentifier code: EC keys carry the X9.62 point, RSA
    # keys the PKCS#1 RSAPublicKey.
    if isinstance(key, ec.EllipticCurvePublicKey):
        return key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)


def joserfc_key(key):
    pem = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    if isinstance(key, ec.EllipticCurvePublicKey):
        return ECKey.import_key(pem)
    return RSAKey.import_key(pem)


def op_kids(request):
    out = []
    for text in request["keys"]:
        key = load_spki(text)
        jose = joserfc_key(key)
        out.append({
            "spire": x509.SubjectKeyIdentifier.from_public_key(key).digest.hex(),
            "fips": hashlib.sha256(subject_public_key_bits(key)).digest()[:20].hex(),
            "rfc7638": jose.thumbprint(),
            "jwk": jose.as_dict(private=False),
        })
    return {"keys": out}


def op_keygen(request):
    curve = {"ec-p256": ec.SECP256R1(), "ec-p384": ec.SECP384R1()}[request["type"]]
    found = []
    while len(found) < request["count"]:
        private = ec.generate_private_key(curve)
        numbers = private.public_key().public_numbers()
        size = (curve.key_size + 7) // 8
        coordinate = numbers.x if request["zero"] == "x" else numbers.y
        if coordinate.to_bytes(size, "big")[0] == 0:
            found.append(b64(spki_der(private.public_key())))
    return {"keys": found}


def op_jwks(request):
    key_set = KeySet.import_key_set(json.loads(request["jwks"]))
    return {"keys": [{"kid": k.kid, "thumbprint": k.thumbprint(), "kty": k.key_type,
                      "alg": k.get("alg"), "use": k.get("use")} for k in key_set.keys]}


def op_jwt(request):
    key_set = KeySet.import_key_set(json.loads(request["jwks"]))
    token = jwt.decode(request["token"], key_set, algorithms=request["algorithms"])
    return {"header": token.header, "claims": token.claims}


def op_verify(request):
    key = load_spki(request["key"])
    message = base64.b64decode(request["message"])
    signature = base64.b64decode(request["signature"])
    algorithm = HASHES[request["hash"]]
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, message, ec.ECDSA(algorithm))
        elif "pss_salt" in request:  # an exact salt length, or "digest"
            salt = request["pss_salt"]
            salt = padding.PSS.DIGEST_LENGTH if salt == "digest" else salt
            key.verify(signature, message, padding.PSS(mgf=padding.MGF1(algorithm), salt_length=salt), algorithm)
        else:
            key.verify(signature, message, padding.PKCS1v15(), algorithm)
        return {"valid": True}
    except Exception:  # InvalidSignature, or a malformed signature
        return {"valid": False}


def op_sign(request):
    kind = request["type"]
    if kind.startswith("ec-"):
        private = ec.generate_private_key({"ec-p256": ec.SECP256R1(), "ec-p384": ec.SECP384R1()}[kind])
        signature = private.sign(base64.b64decode(request["message"]), ec.ECDSA(HASHES[request["hash"]]))
    else:
        private = rsa.generate_private_key(public_exponent=65537, key_size=int(kind.split("-")[1]))
        signature = private.sign(base64.b64decode(request["message"]), padding.PKCS1v15(), HASHES[request["hash"]])
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return {"pem": pem, "spki": b64(spki_der(private.public_key())), "signature": b64(signature)}


def op_parse_private(request):
    private = serialization.load_pem_private_key(request["pem"].encode(), password=None)
    return {"spki": b64(spki_der(private.public_key()))}


def main():
    request = json.load(sys.stdin)
    handler = {"kids": op_kids, "keygen": op_keygen, "jwks": op_jwks, "jwt": op_jwt, "verify": op_verify,
               "sign": op_sign, "parse_private": op_parse_private}[request["op"]]
    json.dump(handler(request), sys.stdout)


if __name__ == "__main__":
    main()

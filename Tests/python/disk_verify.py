#!/usr/bin/env python3
"""Independent check of a DiskBackend key and signature with pyca/cryptography.

usage: disk_verify.py <key.pem> <key-type> <spki-der-hex> <digest-hex> <jose-signature-hex>

Loads the PKCS #8 PEM file as a SPIRE server would, checks that its public key is the
SubjectPublicKeyInfo keycoord reported and that its type and size match <key-type>, then
verifies the JOSE signature (r||s for EC, PKCS #1 v1.5 for RSA) over the digest.
Prints "ok" and exits 0 on success; prints the reason and exits 1 otherwise.
"""
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

TYPES = {
    "ec-p256": (ec.EllipticCurvePrivateKey, "secp256r1", hashes.SHA256()),
    "ec-p384": (ec.EllipticCurvePrivateKey, "secp384r1", hashes.SHA384()),
    "rsa-2048": (rsa.RSAPrivateKey, 2048, hashes.SHA256()),
    "rsa-4096": (rsa.RSAPrivateKey, 4096, hashes.SHA256()),
}


def main(path, key_type, spki_hex, digest_hex, signature_hex):
    with open(path, "rb") as handle:
        pem = handle.read()
    if not pem.startswith(b"-----BEGIN PRIVATE KEY-----"):
        return "not a PKCS #8 PEM file"
    key = serialization.load_pem_private_key(pem, password=None)
    kind, size, algorithm = TYPES[key_type]
    if not isinstance(key, kind):
        return f"key is {type(key).__name__}, expected {key_type}"
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name != size:
        return f"curve {key.curve.name}, expected {size}"
    if isinstance(key, rsa.RSAPrivateKey) and key.key_size != size:
        return f"modulus {key.key_size} bits, expected {size}"
    public = key.public_key()
    spki = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if spki.hex() != spki_hex:
        return "public key differs from the one keycoord reported"
    digest = bytes.fromhex(digest_hex)
    signature = bytes.fromhex(signature_hex)
    try:
        if isinstance(public, ec.EllipticCurvePublicKey):
            half = (public.curve.key_size + 7) // 8
            if len(signature) != 2 * half:
                return f"EC signature has {len(signature)} bytes, expected {2 * half}"
            der = utils.encode_dss_signature(int.from_bytes(signature[:half], "big"), int.from_bytes(signature[half:], "big"))
            public.verify(der, digest, ec.ECDSA(utils.Prehashed(algorithm)))
        else:
            public.verify(signature, digest, padding.PKCS1v15(), utils.Prehashed(algorithm))
    except InvalidSignature:
        return "signature does not verify"
    return None


if __name__ == "__main__":
    if len(sys.argv) != 6:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    failure = main(*sys.argv[1:])
    print(failure or "ok")
    sys.exit(1 if failure else 0)

#!/usr/bin/env python3
"""moto's server mode, with KMS Sign honouring MessageType=DIGEST as real KMS does
(ECDSA, RSASSA_PKCS1_V1_5 and RSASSA_PSS, whose salt is the digest's length).

moto 5 signs the Message of a DIGEST request as if it were RAW (it hashes it again), so a
backend sending the production setting would get signatures over the wrong bytes. Real
KMS signs a DIGEST message as the prehashed digest, and refuses one whose length is not
the signing algorithm's digest length (ValidationException). This launcher patches
exactly that, then runs moto.server.main with the given arguments (same flags as
`python3 -m moto.server`)."""
import base64
import json
import sys

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils
from moto.kms import responses
from moto.kms.exceptions import ValidationException
from moto.server import main

HASHES = {"SHA_256": hashes.SHA256, "SHA_384": hashes.SHA384, "SHA_512": hashes.SHA512}
_original_sign = responses.KmsResponse.sign


def _sign(self):
    if self._get_param("MessageType") != "DIGEST":
        return _original_sign(self)
    key_id = self._get_param("KeyId")
    algorithm = self._get_param("SigningAlgorithm")
    digest = self._get_param("Message")  # moto's _get_param base64-decodes Message
    if isinstance(digest, str):
        digest = digest.encode("utf-8")
    self._validate_key_id(key_id)
    key = self.kms_backend.describe_key(key_id)
    if key.key_usage != "SIGN_VERIFY":
        raise ValidationException(f"1 validation error detected: Value '{key.id}' at 'KeyId' failed to satisfy "
                                  "constraint: Member must point to a key with usage: 'SIGN_VERIFY'")
    if algorithm not in key.signing_algorithms:
        raise ValidationException(f"1 validation error detected: Value '{algorithm}' at 'SigningAlgorithm' failed to "
                                  f"satisfy constraint: Member must satisfy enum value set: {key.signing_algorithms}")
    suffix = algorithm[-7:]
    if suffix not in HASHES:
        raise ValidationException(f"DIGEST signing with {algorithm} is not supported by this test launcher")
    hash_algorithm = HASHES[suffix]()
    if len(digest) != hash_algorithm.digest_size:
        raise ValidationException(f"Digest is invalid length for algorithm {algorithm}.")
    private = key.private_key.private_key
    prehashed = utils.Prehashed(hash_algorithm)
    if algorithm.startswith("ECDSA"):
        signature = private.sign(digest, ec.ECDSA(prehashed))
    elif algorithm.startswith("RSASSA_PSS"):
        # KMS's PSS: MGF1 with the same hash, a salt as long as the digest.
        pss = padding.PSS(mgf=padding.MGF1(hash_algorithm), salt_length=hash_algorithm.digest_size)
        signature = private.sign(digest, pss, prehashed)
    else:
        signature = private.sign(digest, padding.PKCS1v15(), prehashed)
    return json.dumps({"KeyId": key.arn, "Signature": base64.b64encode(signature).decode("ascii"),
                       "SigningAlgorithm": algorithm})


responses.KmsResponse.sign = _sign

if __name__ == "__main__":
    main(sys.argv[1:])

"""The plugin's shared JWT keys held in AWS KMS (the test moto): the sidecar mints them
(`--backend aws-kms`), the plugin signs through KMS Sign with its own AWS settings and
credentials from the environment, as a SPIRE server would. Signatures are verified with
`cryptography`: ECDSA DER, RSA PKCS#1 v1.5, RSA-PSS (KMS's salt is the digest's length);
a PSS salt KMS cannot produce is INVALID_ARGUMENT.
argv: keycoord-binary plugin-executable proto-dir work-dir moto-url. Prints "ok <checks>"."""
import os
import sys

import grpc
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding

from spire_plugin_support import KM, Checks, Plugin, Sidecar, load_protos, sha

binary, executable, proto_dir, work, moto = sys.argv[1:6]
os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "",
                   "AWS_PROFILE": "", "HOME": work})
protos = load_protos(proto_dir)
km = protos[0]
checks = Checks()
expect = checks.expect


trust_domain = "plugin-%s.example.org" % os.urandom(4).hex()
sidecar = Sidecar(binary, os.path.join(work, "state"),
                  ["--backend", "aws-kms", "--aws-region", "us-east-1", "--aws-endpoint", moto,
                   "--aws-deletion-window-days", "7", "--trust-domain", trust_domain,
                   "--key-type", "ec-p256", "--key-type", "rsa-2048"])
try:
    plugin = Plugin(executable, protos)
    data = sidecar.plugin_data("spire-aws", os.path.join(work, "server.json"))
    del data["keys_dir"]
    data.update({"aws_region": "us-east-1", "aws_endpoint": moto})
    plugin.configure(trust_domain, data)
    message = b"header.payload"

    ec_slot = plugin.generate("JWT-Signer-A", km.EC_P256)
    signature = plugin.sign("JWT-Signer-A", sha(message), km.SHA256).signature
    serialization.load_der_public_key(ec_slot.pkix_data).verify(signature, message, ec.ECDSA(hashes.SHA256()))
    expect(True, "KMS EC key: DER signature verified")

    rsa_slot = plugin.generate("JWT-Signer-B", km.RSA_2048)
    rsa_public = serialization.load_der_public_key(rsa_slot.pkix_data)
    rsa_public.verify(plugin.sign("JWT-Signer-B", sha(message), km.SHA256).signature, message, padding.PKCS1v15(),
                      hashes.SHA256())
    expect(True, "KMS RSA key: PKCS#1 v1.5 verified")
    for salt in (0, -1):
        pss = km.SignDataRequest.PSSOptions(salt_length=salt, hash_algorithm=km.SHA256)
        rsa_public.verify(plugin.sign("JWT-Signer-B", sha(message), pss=pss).signature, message,
                          padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH),
                          hashes.SHA256())
        expect(True, "KMS RSA key: PSS salt_length %d verified" % salt)
    code, details = plugin.status(KM + "SignData",
                                  km.SignDataRequest(key_id="JWT-Signer-B", data=sha(message),
                                                     pss_options=km.SignDataRequest.PSSOptions(
                                                         salt_length=20, hash_algorithm=km.SHA256)),
                                  km.SignDataResponse)
    expect(code == grpc.StatusCode.INVALID_ARGUMENT and "salt" in details, "an impossible salt: %s %s" % (code, details))
    plugin.stop()
finally:
    sidecar.stop()
print("ok %d" % checks.count)

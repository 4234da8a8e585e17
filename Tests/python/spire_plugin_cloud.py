"""The plugin's shared JWT keys held in a cloud key service: the sidecar mints them
(`--backend aws-kms | gcp-kms | azure-key-vault`), the plugin signs through the service
with its own backend settings and credentials from the environment, as a SPIRE server
would. AWS KMS is the test moto; Cloud KMS and Key Vault are the project's protocol fakes
(Tests/python/fakes, proved with the vendors' SDKs). Signatures are verified with
`cryptography`: ECDSA DER (Key Vault's r‖s turned into DER on the way), RSA PKCS#1 v1.5,
and RSA-PSS where the service signs it (salt = the digest's length); what the key cannot
sign — a PSS salt KMS and Key Vault cannot produce, PSS or another hash with a Cloud KMS
key, whose algorithm is fixed — is INVALID_ARGUMENT.
argv: keycoord-binary plugin-executable proto-dir work-dir BACKEND ARGS, where BACKEND ARGS
is `aws MOTO_URL`, `gcp FAKE_URL FAKE_STATE_DIR` or `azure FAKE_URL FAKE_STATE_DIR`.
Prints "ok <checks>"."""
import json
import os
import sys

import grpc
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding

from spire_plugin_support import KM, Checks, Plugin, Sidecar, load_protos, sha

binary, executable, proto_dir, work, backend = sys.argv[1:6]
service = sys.argv[6:]
protos = load_protos(proto_dir)
km = protos[0]
checks = Checks()
expect = checks.expect

if backend == "aws":
    moto, = service
    os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "",
                       "AWS_PROFILE": "", "HOME": work})
    settings = {"aws_region": "us-east-1", "aws_endpoint": moto}
    serve = ["--backend", "aws-kms", "--aws-region", "us-east-1", "--aws-endpoint", moto,
             "--aws-deletion-window-days", "7"]
    pss = True
elif backend == "gcp":
    url, state = service
    settings = {"gcp_project": "fake-project", "gcp_location": "us-east1", "gcp_key_ring": "spire-plugin",
                "gcp_endpoint": url, "gcp_credentials_file": os.path.join(state, "service-account.json")}
    serve = ["--backend", "gcp-kms", "--gcp-project", "fake-project", "--gcp-location", "us-east1",
             "--gcp-key-ring", "spire-plugin", "--gcp-endpoint", url,
             "--gcp-credentials-file", settings["gcp_credentials_file"]]
    pss = False
elif backend == "azure":
    url, state = service
    with open(os.path.join(state, "client.json")) as f:
        client = json.load(f)
    os.environ.update({"AZURE_TENANT_ID": client["tenant_id"], "AZURE_CLIENT_ID": client["client_id"],
                       "AZURE_CLIENT_SECRET": client["client_secret"]})
    settings = {"azure_vault_url": "https://keycoord-test.vault.azure.net", "azure_endpoint": url,
                "azure_authority_host": url, "azure_ca_file": os.path.join(state, "ca.pem")}
    serve = ["--backend", "azure-key-vault", "--azure-vault-url", settings["azure_vault_url"],
             "--azure-endpoint", url, "--azure-authority-host", url, "--azure-ca-file", settings["azure_ca_file"]]
    pss = True
else:
    sys.exit("unknown backend %r" % backend)


def refused(key_id, digest, **options):
    """The status of a SignData the key cannot sign."""
    return plugin.status(KM + "SignData", km.SignDataRequest(key_id=key_id, data=digest, **options), km.SignDataResponse)


trust_domain = "plugin-%s.example.org" % os.urandom(4).hex()
sidecar = Sidecar(binary, os.path.join(work, "state"),
                  serve + ["--trust-domain", trust_domain, "--key-type", "ec-p256", "--key-type", "rsa-2048"])
try:
    plugin = Plugin(executable, protos)
    data = sidecar.plugin_data("spire-" + backend, os.path.join(work, "server.json"))
    del data["keys_dir"]
    data.update(settings)
    plugin.configure(trust_domain, data)
    message = b"header.payload"

    ec_slot = plugin.generate("JWT-Signer-A", km.EC_P256)
    signature = plugin.sign("JWT-Signer-A", sha(message), km.SHA256).signature
    serialization.load_der_public_key(ec_slot.pkix_data).verify(signature, message, ec.ECDSA(hashes.SHA256()))
    expect(True, "%s EC key: DER signature verified" % backend)
    code, details = refused("JWT-Signer-A", sha(message, hashes.SHA384), hash_algorithm=km.SHA384)
    expect(code == grpc.StatusCode.INVALID_ARGUMENT, "an EC P-256 key asked for SHA-384: %s %s" % (code, details))

    rsa_slot = plugin.generate("JWT-Signer-B", km.RSA_2048)
    rsa_public = serialization.load_der_public_key(rsa_slot.pkix_data)
    rsa_public.verify(plugin.sign("JWT-Signer-B", sha(message), km.SHA256).signature, message, padding.PKCS1v15(),
                      hashes.SHA256())
    expect(True, "%s RSA key: PKCS#1 v1.5 verified" % backend)
    if pss:
        for salt, spire_hash, hash_type in ((0, km.SHA256, hashes.SHA256), (-1, km.SHA256, hashes.SHA256),
                                            (-1, km.SHA384, hashes.SHA384)):
            options = km.SignDataRequest.PSSOptions(salt_length=salt, hash_algorithm=spire_hash)
            rsa_public.verify(plugin.sign("JWT-Signer-B", sha(message, hash_type), pss=options).signature, message,
                              padding.PSS(mgf=padding.MGF1(hash_type()), salt_length=padding.PSS.DIGEST_LENGTH),
                              hash_type())
            expect(True, "%s RSA key: PSS %s salt_length %d verified" % (backend, hash_type.name, salt))
        code, details = refused("JWT-Signer-B", sha(message),
                                pss_options=km.SignDataRequest.PSSOptions(salt_length=20, hash_algorithm=km.SHA256))
        expect(code == grpc.StatusCode.INVALID_ARGUMENT and "salt" in details, "an impossible salt: %s %s" % (code, details))
    else:
        # A Cloud KMS key version has one algorithm for life: RSA_SIGN_PKCS1_2048_SHA256.
        code, details = refused("JWT-Signer-B", sha(message),
                                pss_options=km.SignDataRequest.PSSOptions(salt_length=-1, hash_algorithm=km.SHA256))
        expect(code == grpc.StatusCode.INVALID_ARGUMENT, "PSS with a PKCS#1 Cloud KMS key: %s %s" % (code, details))
        code, details = refused("JWT-Signer-B", sha(message, hashes.SHA384), hash_algorithm=km.SHA384)
        expect(code == grpc.StatusCode.INVALID_ARGUMENT, "SHA-384 with a SHA-256 Cloud KMS key: %s %s" % (code, details))
    plugin.stop()
finally:
    sidecar.stop()
print("ok %d" % checks.count)

"""The plugin's shared JWT keys against a real `keycoord serve` (file store, disk backend),
with grpcio as SPIRE's side: GenerateKey for the JWT slots hands out the sidecar's keys,
SignData signatures verify with `cryptography` (EC DER, RSA PKCS#1 v1.5 and PSS), a JWT
signed through SignData verifies with joserfc against the sidecar's JWKS, slots survive a
plugin restart, a tainted key is never handed out, and a stopped sidecar is UNAVAILABLE
while SignData goes on without it. Then a sidecar whose control API is https with client
certificates: the plugin reaches it with ca_file and a token, reads its token_file again
when the token is rotated (the removed token is UNAUTHENTICATED), and with mutual TLS; a
server it does not trust and a client certificate of another CA are UNAVAILABLE.
argv: keycoord-binary plugin-executable proto-dir work-dir. Prints "ok <checks>"."""
import base64
import json
import os
import subprocess
import sys
import time

import grpc
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils
from joserfc import jwt
from joserfc.jwk import KeySet

from spire_plugin_support import Checks, Plugin, Sidecar, load_protos, sha

binary, executable, proto_dir, work = sys.argv[1:5]
protos = load_protos(proto_dir)
km = protos[0]
checks = Checks()
expect = checks.expect


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def kid_of(sidecar, pkix):
    """The sidecar's kid for a public key, from its key list."""
    status, listing = sidecar.control("GET", "/v1/keys")
    expect(status == 200, "GET /v1/keys: %s" % status)
    pem = serialization.load_der_public_key(pkix).public_bytes(serialization.Encoding.PEM,
                                                               serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    matches = [k for k in listing["keys"] if k["public_key"].strip() == pem.strip()]
    expect(len(matches) == 1, "the slot's key is one of the sidecar's keys")
    return matches[0]


sidecar = Sidecar(binary, os.path.join(work, "state"), ["--key-type", "ec-p256", "--key-type", "rsa-2048"])
try:
    keys1 = os.path.join(work, "server-1.json")
    plugin = Plugin(executable, protos)
    plugin.configure("example.org", sidecar.plugin_data("spire-1", keys1))
    code, _ = plugin.status("/spire.plugin.server.keymanager.v1.KeyManager/GetPublicKey",
                            km.GetPublicKeyRequest(key_id="JWT-Signer-A"), km.GetPublicKeyResponse)
    expect(code == grpc.StatusCode.NOT_FOUND, "an unassigned slot is NOT_FOUND: %s" % code)

    slot_a = plugin.generate("JWT-Signer-A", km.EC_P256)
    record_a = kid_of(sidecar, slot_a.pkix_data)
    expect(record_a["state"] == "active" and not record_a["tainted"], "slot A gets the active key: %r" % record_a)
    expect(plugin.public_key("JWT-Signer-A") == slot_a, "GetPublicKey answers the slot")

    message = b"header.payload"
    signed = plugin.sign("JWT-Signer-A", sha(message), km.SHA256)
    serialization.load_der_public_key(slot_a.pkix_data).verify(signed.signature, message, ec.ECDSA(hashes.SHA256()))
    expect(signed.key_fingerprint == slot_a.fingerprint, "SignData with a shared EC key: DER verified")
    code, _ = plugin.status("/spire.plugin.server.keymanager.v1.KeyManager/SignData",
                            km.SignDataRequest(key_id="JWT-Signer-A", data=b"\1" * 20, hash_algorithm=km.SHA256),
                            km.SignDataResponse)
    expect(code == grpc.StatusCode.INVALID_ARGUMENT, "a digest of the wrong size: %s" % code)

    # A JWT-SVID as SPIRE builds it, signed through SignData, verified against the JWKS.
    header = b64url(json.dumps({"alg": "ES256", "kid": record_a["kid"], "typ": "JWT"}).encode())
    claims = b64url(json.dumps({"sub": "spiffe://example.org/workload", "aud": ["rp"], "exp": 4102444800}).encode())
    signing_input = ("%s.%s" % (header, claims)).encode()
    der = plugin.sign("JWT-Signer-A", sha(signing_input), km.SHA256).signature
    r, s = utils.decode_dss_signature(der)
    token = "%s.%s" % (signing_input.decode(), b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big")))
    decoded = jwt.decode(token, KeySet.import_key_set(sidecar.jwks()), algorithms=["ES256"])
    expect(decoded.claims["sub"] == "spiffe://example.org/workload", "joserfc verifies the JWT with the sidecar's JWKS")

    # Taint the slot's key in keycoord: the next GenerateKey never hands it out.
    status, tainted = sidecar.control("POST", "/v1/keys/%s/taint" % record_a["kid"], {"reason": "test"})
    expect(status == 200 and tainted["tainted"], "taint: %s %r" % (status, tainted))
    slot_b = plugin.generate("JWT-Signer-B", km.EC_P256)
    record_b = kid_of(sidecar, slot_b.pkix_data)
    expect(record_b["kid"] != record_a["kid"] and not record_b["tainted"], "slot B gets an untainted key: %r" % record_b)
    x509_1 = plugin.generate("x509-CA-A", km.EC_P256)
    plugin.stop()

    # A restarted plugin answers its slots from keys_path, without asking the sidecar.
    plugin = Plugin(executable, protos)
    plugin.configure("example.org", sidecar.plugin_data("spire-1", keys1))
    expect(plugin.public_key("JWT-Signer-A") == slot_a and plugin.public_key("JWT-Signer-B") == slot_b,
           "slots survive a restart")
    signed = plugin.sign("JWT-Signer-B", sha(message), km.SHA256)
    serialization.load_der_public_key(slot_b.pkix_data).verify(signed.signature, message, ec.ECDSA(hashes.SHA256()))
    expect(True, "SignData after a restart")
    listed = plugin.call("/spire.plugin.server.keymanager.v1.KeyManager/GetPublicKeys", km.GetPublicKeysRequest(),
                         km.GetPublicKeysResponse).public_keys
    expect(sorted(k.id for k in listed) == ["JWT-Signer-A", "JWT-Signer-B", "x509-CA-A"], "GetPublicKeys: %r" % listed)
    plugin.stop()

    # Another server: its own X.509 CA key, the same shared RSA key; PKCS#1 v1.5 and PSS.
    # This server names the shared keys volume by another path than the sidecar does.
    mounted = os.path.join(work, "state", "..", "state", "keys")
    plugin2 = Plugin(executable, protos)
    data = sidecar.plugin_data("spire-2", os.path.join(work, "server-2.json"))
    data["keys_dir"] = mounted
    plugin2.configure("example.org", data)
    x509_2 = plugin2.generate("x509-CA-A", km.EC_P256)
    expect(x509_2.pkix_data != x509_1.pkix_data, "X.509 CA keys are per server")
    rsa_slot = plugin2.generate("JWT-Signer-A", km.RSA_2048)
    rsa_public = serialization.load_der_public_key(rsa_slot.pkix_data)
    rsa_public.verify(plugin2.sign("JWT-Signer-A", sha(message), km.SHA256).signature, message, padding.PKCS1v15(),
                      hashes.SHA256())
    expect(True, "shared RSA key: PKCS#1 v1.5 verified")
    for salt, expected in ((0, padding.PSS.AUTO), (-1, padding.PSS.DIGEST_LENGTH), (20, 20)):
        signature = plugin2.sign("JWT-Signer-A", sha(message, hashes.SHA384),
                                 pss=km.SignDataRequest.PSSOptions(salt_length=salt, hash_algorithm=km.SHA384)).signature
        rsa_public.verify(signature, message, padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=expected),
                          hashes.SHA384())
        expect(True, "shared RSA key: PSS salt_length %d verified" % salt)
    local_rsa = plugin2.generate("x509-CA-B", km.RSA_2048)
    signature = plugin2.sign("x509-CA-B", sha(message),
                             pss=km.SignDataRequest.PSSOptions(salt_length=-1, hash_algorithm=km.SHA256)).signature
    serialization.load_der_public_key(local_rsa.pkix_data).verify(
        signature, message, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH),
        hashes.SHA256())
    expect(True, "local RSA key: PSS verified")
    code, _ = plugin2.status("/spire.plugin.server.keymanager.v1.KeyManager/SignData",
                             km.SignDataRequest(key_id="x509-CA-A", data=sha(message),
                                                pss_options=km.SignDataRequest.PSSOptions(salt_length=-1,
                                                                                          hash_algorithm=km.SHA256)),
                             km.SignDataResponse)
    expect(code == grpc.StatusCode.INVALID_ARGUMENT, "PSS with an EC key is refused: %s" % code)

    # Wrong credentials: the sidecar's 401 is UNAUTHENTICATED.
    bad_token = os.path.join(work, "bad-token")
    with open(bad_token, "w") as f:
        f.write("not-the-control-token-at-all\n")
    plugin3 = Plugin(executable, protos)
    data = sidecar.plugin_data("spire-3", os.path.join(work, "server-3.json"))
    data["token_file"] = bad_token
    plugin3.configure("example.org", data)
    code, details = plugin3.status("/spire.plugin.server.keymanager.v1.KeyManager/GenerateKey",
                                   km.GenerateKeyRequest(key_id="JWT-Signer-A", key_type=km.EC_P256),
                                   km.GenerateKeyResponse)
    expect(code == grpc.StatusCode.UNAUTHENTICATED, "a refused token is UNAUTHENTICATED: %s %s" % (code, details))
    plugin3.stop()
finally:
    sidecar.stop()

# The sidecar is gone: GenerateKey is UNAVAILABLE with the reason; SignData still signs.
code, details = plugin2.status("/spire.plugin.server.keymanager.v1.KeyManager/GenerateKey",
                               km.GenerateKeyRequest(key_id="JWT-Signer-B", key_type=km.RSA_2048), km.GenerateKeyResponse)
expect(code == grpc.StatusCode.UNAVAILABLE and "cannot be reached" in details, "sidecar down: %s %s" % (code, details))
rsa_public.verify(plugin2.sign("JWT-Signer-A", sha(message), km.SHA256).signature, message, padding.PKCS1v15(),
                  hashes.SHA256())
expect(True, "SignData needs no sidecar")
plugin2.stop()


def replace_file(path, text):
    """Writes by rename, as docs/security.md asks of a token rotation."""
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.chmod(path + ".tmp", 0o600)
    os.replace(path + ".tmp", path)


def generate_refused(plugin):
    return plugin.status("/spire.plugin.server.keymanager.v1.KeyManager/GenerateKey",
                         km.GenerateKeyRequest(key_id="JWT-Signer-B", key_type=km.EC_P256), km.GenerateKeyResponse)


def signs_with(plugin, slot_id):
    slot = plugin.generate(slot_id, km.EC_P256)
    signed = plugin.sign(slot_id, sha(message), km.SHA256)
    serialization.load_der_public_key(slot.pkix_data).verify(signed.signature, message, ec.ECDSA(hashes.SHA256()))
    return True


pki = os.path.join(work, "pki")
os.makedirs(pki)
subprocess.run([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "tls_make_certs.py")],
               input=json.dumps({"dir": pki, "server_serials": [1],
                                 "clients": {"spire": "spiffe://example.org/spire/server/spire-tls"}}),
               text=True, capture_output=True, check=True)
old_token, new_token = "old-" + os.urandom(16).hex(), "new-" + os.urandom(16).hex()
sidecar_tokens = os.path.join(work, "control-tokens")
replace_file(sidecar_tokens, old_token + "\n")
tls_sidecar = Sidecar(binary, os.path.join(work, "state-tls"),
                      ["--control-tls-cert", os.path.join(pki, "server-1.pem"),
                       "--control-tls-key", os.path.join(pki, "server-1.key"),
                       "--control-client-ca", os.path.join(pki, "ca.pem"),
                       "--control-allow-spiffe-id", "spiffe://example.org/spire/server/*",
                       "--control-token-file", sidecar_tokens],
                      control_listen="127.0.0.1:0", instance="sidecar-tls")
try:
    plugin_token = os.path.join(work, "plugin-token")
    replace_file(plugin_token, old_token + "\n")
    base = {"control_url": "https://127.0.0.1:%s" % tls_sidecar.control_address.rsplit(":", 1)[1],
            "ca_file": os.path.join(pki, "ca.pem"), "server_id": "spire-tls",
            "keys_path": os.path.join(work, "server-tls.json"), "keys_dir": tls_sidecar.keys_dir}
    plugin4 = Plugin(executable, protos)
    plugin4.configure("example.org", dict(base, token_file=plugin_token))
    expect(signs_with(plugin4, "JWT-Signer-A"), "https with ca_file and a token: GenerateKey, then SignData")

    # Rotation: the sidecar drops the old token first, while the plugin still presents it.
    replace_file(sidecar_tokens, new_token + "\n")
    code, details = generate_refused(plugin4)
    expect(code == grpc.StatusCode.UNAUTHENTICATED, "the removed token is UNAUTHENTICATED: %s %s" % (code, details))
    replace_file(plugin_token, "# rotated\n" + new_token + "\n")
    expect(signs_with(plugin4, "JWT-Signer-B"), "the rotated token_file is read again, no restart")

    # Mutual TLS: the client certificate instead of a token; the sidecar audits its SPIFFE ID.
    plugin4.configure("example.org", dict(base, client_cert_file=os.path.join(pki, "client-spire.pem"),
                                          client_key_file=os.path.join(pki, "client-spire.key")))
    expect(signs_with(plugin4, "JWT-Signer-A"), "mutual TLS: GenerateKey, then SignData")
    deadline = time.time() + 10
    audited = []
    while not audited and time.time() < deadline:
        audited = [line for line in list(tls_sidecar.log)
                   if '"key.ensure"' in line and '"spiffe://example.org/spire/server/spire-tls"' in line]
        time.sleep(0.05)
    expect(audited, "the sidecar saw the plugin's SPIFFE ID as the caller")

    untrusted = dict(base, token_file=plugin_token, ca_file=os.path.join(pki, "other-ca.pem"))
    stranger = dict(base, client_cert_file=os.path.join(pki, "client-stranger.pem"),
                    client_key_file=os.path.join(pki, "client-stranger.key"))
    for what, settings in (("a server certificate ca_file does not trust", untrusted),
                           ("a client certificate of another CA", stranger)):
        plugin4.configure("example.org", settings)
        code, details = generate_refused(plugin4)
        expect(code == grpc.StatusCode.UNAVAILABLE, "%s is UNAVAILABLE: %s %s" % (what, code, details))
    plugin4.stop()
finally:
    tls_sidecar.stop()
print("ok %d" % checks.count)

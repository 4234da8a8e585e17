"""Proof of azure_kv_fake.py: Microsoft's own clients (azure-keyvault-keys, azure-identity
with MSAL) drive it over HTTPS, trusting only the fake's throwaway CA; PyCA cryptography
checks its signatures."""
import hashlib
import json
import os
import time

import pytest
import requests
from azure.core.exceptions import (ClientAuthenticationError, HttpResponseError, ResourceExistsError,
                                   ResourceNotFoundError, ServiceResponseError)
from azure.identity import (ClientAssertionCredential, ClientSecretCredential, ManagedIdentityCredential,
                            WorkloadIdentityCredential)
from azure.keyvault.keys import KeyClient
from azure.keyvault.keys.crypto import CryptographyClient, SignatureAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

API_VERSION = "7.4"
CURVES = {"P-256": ec.SECP256R1, "P-384": ec.SECP384R1}


@pytest.fixture(scope="module")
def kv(start_fake):
    fake = start_fake("azure_kv_fake.py", scheme="https")
    fake.ca_file = os.path.join(fake.state_dir, "ca.pem")
    with open(os.path.join(fake.state_dir, "client.json")) as f:
        fake.client = json.load(f)
    return fake


def secret_credential(kv):
    return ClientSecretCredential(kv.client["tenant_id"], kv.client["client_id"], kv.client["client_secret"],
                                  authority=kv.url, disable_instance_discovery=True, connection_verify=kv.ca_file)


def vault_options(kv):
    return {"api_version": API_VERSION, "verify_challenge_resource": False, "connection_verify": kv.ca_file}


@pytest.fixture(scope="module")
def credential(kv):
    return secret_credential(kv)


@pytest.fixture(scope="module")
def client(kv, credential):
    return KeyClient(kv.url + "/", credential, **vault_options(kv))


def public_key_of(key):
    jwk = key.key
    if jwk.kty.startswith("EC"):
        return ec.EllipticCurvePublicNumbers(int.from_bytes(jwk.x, "big"), int.from_bytes(jwk.y, "big"),
                                             CURVES[jwk.crv]()).public_key()
    return rsa.RSAPublicNumbers(int.from_bytes(jwk.e, "big"), int.from_bytes(jwk.n, "big")).public_key()


def verify(public_key, algorithm, digest, signature):
    hash_type = {"ES256": hashes.SHA256, "ES384": hashes.SHA384, "RS256": hashes.SHA256, "PS256": hashes.SHA256,
                 "PS384": hashes.SHA384}[algorithm]
    prehashed = utils.Prehashed(hash_type())
    if algorithm.startswith("ES"):
        size = (public_key.curve.key_size + 7) // 8
        assert len(signature) == 2 * size, "Key Vault answers raw R||S"
        der = utils.encode_dss_signature(int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big"))
        public_key.verify(der, digest, ec.ECDSA(prehashed))
    elif algorithm.startswith("PS"):
        # Key Vault's PSS salt is the digest's length.
        public_key.verify(signature, digest, padding.PSS(mgf=padding.MGF1(hash_type()), salt_length=hash_type.digest_size),
                          prehashed)
    else:
        public_key.verify(signature, digest, padding.PKCS1v15(), prehashed)


@pytest.mark.parametrize("name,create,algorithm,digest_name", [
    ("ec-p256", lambda c, n: c.create_ec_key(n, curve="P-256", tags={"role": "jwt"}), SignatureAlgorithm.es256, "sha256"),
    ("ec-p384", lambda c, n: c.create_ec_key(n, curve="P-384", tags={"role": "jwt"}), SignatureAlgorithm.es384, "sha384"),
    ("rsa-2048", lambda c, n: c.create_rsa_key(n, size=2048, tags={"role": "jwt"}), SignatureAlgorithm.rs256, "sha256"),
    ("rsa-2048-pss", lambda c, n: c.create_rsa_key(n, size=2048), SignatureAlgorithm.ps256, "sha256"),
    ("rsa-2048-ps384", lambda c, n: c.create_rsa_key(n, size=2048), SignatureAlgorithm.ps384, "sha384"),
])
def test_create_sign_verify(kv, client, credential, name, create, algorithm, digest_name):
    key = create(client, name)
    assert key.name == name and key.id == f"{kv.url}/keys/{name}/{key.properties.version}"
    assert key.properties.enabled is True and key.properties.recovery_level == "Recoverable+Purgeable"
    crypto = CryptographyClient(key, credential, **vault_options(kv))
    digest = hashlib.new(digest_name, b"keycoord signs " + name.encode()).digest()
    result = crypto.sign(algorithm, digest)
    assert result.key_id == key.id
    verify(public_key_of(key), algorithm.value, digest, result.signature)
    # The same key fetched again, by id, is the same public key.
    fetched = client.get_key(name, key.properties.version)
    assert fetched.key.n == key.key.n and fetched.key.x == key.key.x
    # The service-side verify agrees, and says no to a wrong signature.
    assert crypto.verify(algorithm, digest, result.signature).is_valid
    assert kv.state()["tokensIssued"]["client_secret"] >= 1


def test_tags_versions_and_update(client):
    first = client.create_ec_key("versioned", curve="P-256", tags={"generation": "1"})
    second = client.create_ec_key("versioned", curve="P-256", tags={"generation": "2"})
    assert first.properties.version != second.properties.version
    assert client.get_key("versioned").properties.version == second.properties.version
    assert client.get_key("versioned", first.properties.version).properties.tags == {"generation": "1"}
    versions = {p.version: p.tags for p in client.list_properties_of_key_versions("versioned", max_page_size=1)}
    assert versions == {first.properties.version: {"generation": "1"}, second.properties.version: {"generation": "2"}}
    updated = client.update_key_properties("versioned", first.properties.version, tags={"retired": "yes"}, enabled=False)
    assert updated.properties.tags == {"retired": "yes"} and updated.properties.enabled is False
    names = [p.name for p in client.list_properties_of_keys(max_page_size=2)]
    assert "versioned" in names and len(names) == len(set(names))


def test_disabled_key_cannot_sign(kv, client, credential):
    key = client.create_ec_key("disabled", curve="P-256")
    client.update_key_properties("disabled", enabled=False)
    crypto = CryptographyClient(key, credential, **vault_options(kv))
    with pytest.raises(HttpResponseError) as refused:
        crypto.sign(SignatureAlgorithm.es256, hashlib.sha256(b"m").digest())
    assert refused.value.status_code == 403


def test_delete_get_deleted_purge_and_recover(kv, client):
    client.create_rsa_key("doomed", size=2048, tags={"a": "b"})
    deleted = client.begin_delete_key("doomed", _polling_interval=0.05).result()
    assert deleted.recovery_id == f"{kv.url}/deletedkeys/doomed"
    assert deleted.deleted_date and deleted.scheduled_purge_date > deleted.deleted_date
    assert client.get_deleted_key("doomed").properties.tags == {"a": "b"}
    with pytest.raises(ResourceNotFoundError):
        client.get_key("doomed")
    with pytest.raises(ResourceExistsError) as reused:
        client.create_rsa_key("doomed", size=2048)
    assert reused.value.status_code == 409
    assert "doomed" in [d.name for d in client.list_deleted_keys()]
    client.purge_deleted_key("doomed")
    with pytest.raises(ResourceNotFoundError):
        client.get_deleted_key("doomed")
    assert "doomed" not in kv.state()["deletedKeys"]

    client.create_ec_key("phoenix", curve="P-256")
    client.begin_delete_key("phoenix", _polling_interval=0.05).result()
    recovered = client.begin_recover_deleted_key("phoenix", _polling_interval=0.05).result()
    assert recovered.name == "phoenix" and client.get_key("phoenix").id == recovered.id


def test_names_compare_case_insensitively(client):
    created = client.create_ec_key("Mixed-Case", curve="P-256")
    assert client.get_key("mixed-case").id == created.id
    again = client.create_ec_key("MIXED-CASE", curve="P-256")
    assert again.name == "Mixed-Case", "a new version keeps the name as first created"
    assert len(list(client.list_properties_of_key_versions("mixed-CASE"))) == 2


def test_key_not_found_and_bad_name(client):
    with pytest.raises(ResourceNotFoundError) as missing:
        client.get_key("absent")
    assert missing.value.error.code == "KeyNotFound"
    with pytest.raises(ResourceNotFoundError):
        client.get_key("versioned", "0" * 32)
    with pytest.raises(HttpResponseError) as bad:
        client.create_ec_key("bad_name", curve="P-256")
    assert bad.value.status_code == 400 and bad.value.error.code == "BadParameter"
    with pytest.raises(HttpResponseError) as curve:
        client.create_ec_key("curve", curve="P-256K")
    assert curve.value.status_code == 400


def test_wrong_algorithm_and_digest_length(kv, client, credential):
    key = client.create_ec_key("strict", curve="P-384")
    crypto = CryptographyClient(key, credential, **vault_options(kv))
    with pytest.raises(HttpResponseError) as short:
        crypto.sign(SignatureAlgorithm.es384, b"\x00" * 32)
    assert short.value.status_code == 400 and "length" in short.value.message
    with pytest.raises(HttpResponseError) as mismatch:
        crypto.sign(SignatureAlgorithm.es256, b"\x00" * 32)
    assert mismatch.value.status_code == 400


def test_429_with_retry_after_is_honoured(kv, client, credential):
    key = client.create_ec_key("throttled", curve="P-256")
    crypto = CryptographyClient(key, credential, **vault_options(kv))
    digest = hashlib.sha256(b"m").digest()
    crypto.sign(SignatureAlgorithm.es256, digest)  # challenge and token settled
    before = kv.state()["requests"]["sign"]
    kv.fault(match="sign", status=429, count=1, retry_after=1)
    started = time.monotonic()
    result = crypto.sign(SignatureAlgorithm.es256, digest)
    assert time.monotonic() - started >= 1.0, "the SDK retried before Retry-After"
    verify(public_key_of(key), "ES256", digest, result.signature)
    assert kv.state()["requests"]["sign"] == before + 2 and kv.state()["faults"] == []
    kv.fault(match="sign", status=429, count=1, retry_after=0)
    with pytest.raises(HttpResponseError) as throttled:
        crypto.sign(SignatureAlgorithm.es256, digest, retry_total=0)
    assert throttled.value.status_code == 429 and throttled.value.error.code == "Throttled"


def test_dropped_answer_still_creates(kv, client):
    kv.fault(match="createKey", drop=True)
    with pytest.raises(ServiceResponseError):
        client.create_ec_key("lost-answer", curve="P-256", retry_total=0)
    assert client.get_key("lost-answer").name == "lost-answer"


def test_unauthenticated_gets_the_challenge(kv):
    answer = requests.get(kv.url + "/keys?api-version=7.4", verify=kv.ca_file, timeout=10)
    assert answer.status_code == 401
    tenant = kv.client["tenant_id"]
    assert answer.headers["WWW-Authenticate"] == \
        f'Bearer authorization="{kv.url}/{tenant}", resource="https://vault.azure.net"'
    assert answer.json()["error"]["code"] == "Unauthorized"
    forged = requests.get(kv.url + "/keys?api-version=7.4", verify=kv.ca_file, timeout=10,
                          headers={"Authorization": "Bearer forged"})
    assert forged.status_code == 401


def test_bad_requests_get_vault_errors(kv, credential):
    token = credential.get_token("https://vault.azure.net/.default").token
    auth = {"Authorization": f"Bearer {token}"}
    url = kv.url + "/keys/raw/create"
    for query, body in (("?api-version=7.4", b"{not json"), ("?api-version=7.4", b"[]"),
                        ("?api-version=1.0", b'{"kty":"EC"}'), ("", b'{"kty":"EC"}'),
                        ("?api-version=7.4", b'{"kty":"oct"}'), ("?api-version=7.4", b'{"kty":"RSA","key_size":1024}'),
                        ("?api-version=7.4", json.dumps({"kty": "EC", "tags": {f"t{n}": "v" for n in range(16)}}).encode())):
        answer = requests.post(url + query, data=body, headers=auth, verify=kv.ca_file, timeout=10)
        assert answer.status_code == 400, (query, body, answer.text)
        assert answer.json()["error"]["code"] == "BadParameter"
    assert requests.post(url + "?api-version=7.4", data=b"x" * (2 << 20), headers=auth, verify=kv.ca_file,
                         timeout=10).status_code == 413
    assert requests.get(kv.url + "/keys?api-version=7.4&maxresults=26", headers=auth, verify=kv.ca_file,
                        timeout=10).status_code == 400


def test_client_assertion_and_workload_identity(kv):
    with open(os.path.join(kv.state_dir, "federated-token")) as f:
        assertion = f.read()
    before = kv.state()["tokensIssued"]["client_assertion"]
    by_function = ClientAssertionCredential(kv.client["tenant_id"], kv.client["client_id"], lambda: assertion,
                                            authority=kv.url, connection_verify=kv.ca_file)
    assert KeyClient(kv.url, by_function, **vault_options(kv)).get_key("versioned").name == "versioned"
    by_file = WorkloadIdentityCredential(tenant_id=kv.client["tenant_id"], client_id=kv.client["client_id"],
                                         token_file_path=os.path.join(kv.state_dir, "federated-token"),
                                         authority=kv.url, connection_verify=kv.ca_file)
    assert KeyClient(kv.url, by_file, **vault_options(kv)).get_key("versioned").name == "versioned"
    assert kv.state()["tokensIssued"]["client_assertion"] == before + 2
    wrong = ClientAssertionCredential(kv.client["tenant_id"], kv.client["client_id"], lambda: "forged",
                                      authority=kv.url, connection_verify=kv.ca_file)
    with pytest.raises(ClientAuthenticationError):
        wrong.get_token("https://vault.azure.net/.default")


def test_wrong_client_secret_is_refused(kv):
    wrong = ClientSecretCredential(kv.client["tenant_id"], kv.client["client_id"], "wrong", authority=kv.url,
                                   disable_instance_discovery=True, connection_verify=kv.ca_file)
    with pytest.raises(ClientAuthenticationError) as refused:
        wrong.get_token("https://vault.azure.net/.default")
    assert "7000215" in str(refused.value)


def test_managed_identity_through_imds(kv, monkeypatch):
    monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", kv.url)
    credential = ManagedIdentityCredential(connection_verify=kv.ca_file)
    before = kv.state()["tokensIssued"]["imds"]
    assert KeyClient(kv.url, credential, **vault_options(kv)).get_key("versioned").name == "versioned"
    assert kv.state()["tokensIssued"]["imds"] == before + 1
    no_header = requests.get(kv.url + "/metadata/identity/oauth2/token?api-version=2018-02-01&resource="
                             "https://vault.azure.net", verify=kv.ca_file, timeout=10)
    assert no_header.status_code == 400


def test_sdk_default_api_version(kv, credential):
    default = KeyClient(kv.url, credential, verify_challenge_resource=False, connection_verify=kv.ca_file)
    assert default.get_key("versioned").name == "versioned"


def test_concurrent_versions_and_signing(kv, client, credential):
    import concurrent.futures
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        keys = list(pool.map(lambda n: client.create_ec_key("busy", curve="P-256", tags={"n": str(n)}), range(4)))
    assert len({k.properties.version for k in keys}) == 4
    assert len(list(client.list_properties_of_key_versions("busy"))) == 4
    crypto = CryptographyClient(keys[0], credential, **vault_options(kv))
    digests = [hashlib.sha256(f"m{n}".encode()).digest() for n in range(16)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda d: crypto.sign(SignatureAlgorithm.es256, d), digests))
    for digest, result in zip(digests, results):
        verify(public_key_of(keys[0]), "ES256", digest, result.signature)


def test_garbage_does_not_stop_the_fake(kv, client):
    import socket
    for payload in (b"GET / HTTP/1.1\r\n\r\n", b"\x16\x03\x01\x00\x05hello", b""):
        with socket.create_connection(("127.0.0.1", kv.port), timeout=5) as raw:
            try:
                raw.sendall(payload)
                raw.shutdown(socket.SHUT_WR)
                raw.recv(1024)
            except OSError:
                pass  # the fake may close (or reset) a failed handshake first: that is the point
    assert client.get_key("versioned").name == "versioned"


HOSTILE_VALUES = [None, True, 0, -1, 2 ** 70, 1.5, "", "x" * 600, "%00", [], [[]], {}, {"a": {}}, ["sign"]]


def test_hostile_fields_get_4xx_never_5xx(kv, client, credential):
    token = credential.get_token("https://vault.azure.net/.default").token
    auth = {"Authorization": f"Bearer {token}"}
    key = client.create_ec_key("hostile", curve="P-256")
    valid_key = {"kty": "EC", "crv": "P-256", "key_ops": ["sign"], "attributes": {"enabled": True},
                 "tags": {"a": "b"}}
    valid_sign = {"alg": "ES256", "value": "AA"}
    cases = []
    for value in HOSTILE_VALUES:
        for field in valid_key:
            cases.append(("/keys/hostile/create", "POST", {**valid_key, field: value}))
        cases.append(("/keys/hostile/create", "POST", {**valid_key, "attributes": {"exp": value}}))
        cases.append(("/keys/hostile/create", "POST", {**valid_key, "tags": {"k": value}}))
        for field in valid_sign:
            cases.append((f"/keys/hostile/{key.properties.version}/sign", "POST", {**valid_sign, field: value}))
            cases.append((f"/keys/hostile/{key.properties.version}/verify", "POST",
                          {"alg": "ES256", "digest": "AA", "value": "AA", field: value}))
        cases.append(("/keys/hostile/", "PATCH", {"tags": value}))
        cases.append(("/keys/hostile/", "PATCH", {"attributes": value}))
    session = requests.Session()  # one TLS connection for them all
    for path, method, body in cases:
        answer = session.request(method, kv.url + path + "?api-version=7.4", json=body, headers=auth,
                                 verify=kv.ca_file, timeout=10)
        if answer.status_code == 200:
            continue  # a value that happens to be valid (e.g. tags {} or a null field)
        assert 400 <= answer.status_code < 500, (path, body, answer.status_code, answer.text)
        assert answer.json()["error"]["code"] in ("BadParameter", "Forbidden"), answer.text


def test_given_certificate_instead_of_a_generated_one(kv, start_fake):
    """--tls-cert/--tls-key serve that certificate; here the first fake's, so its CA trusts it."""
    given = start_fake("azure_kv_fake.py", "--tls-cert", os.path.join(kv.state_dir, "server.pem"),
                       "--tls-key", os.path.join(kv.state_dir, "server-key.pem"), scheme="https")
    assert not os.path.exists(os.path.join(given.state_dir, "ca.pem"))
    answer = requests.get(given.url + "/keys?api-version=7.4", verify=kv.ca_file, timeout=10)
    assert answer.status_code == 401
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(given.url + "/keys?api-version=7.4", timeout=10)  # the system trust store does not know it

"""Proof of gcp_kms_fake.py: Google's own client (google-cloud-kms over its REST transport,
credentials through google-auth) drives it; google-crc32c checks its checksums and PyCA
cryptography its signatures."""
import base64
import concurrent.futures
import hashlib
import json
import os
import time

import google.auth.crypt
import google.auth.jwt
import google_crc32c
import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from google.api_core import exceptions as api_exceptions
from google.api_core import retry as api_retry
from google.api_core.client_options import ClientOptions
from google.auth.compute_engine import _metadata as compute_metadata
from google.auth.compute_engine import credentials as compute_credentials
from google.cloud import kms_v1
from google.cloud.kms_v1.services.key_management_service.transports import KeyManagementServiceRestTransport
from google.auth import identity_pool
from google.oauth2 import service_account

SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
LOCATION = "projects/fake-project/locations/us-east1"
Algorithm = kms_v1.CryptoKeyVersion.CryptoKeyVersionAlgorithm
State = kms_v1.CryptoKeyVersion.CryptoKeyVersionState
ENABLE_TIMEOUT = 30  # a bound for RSA-4096 generation on a loaded machine, not a wait
HASHES = {"sha256": hashes.SHA256, "sha384": hashes.SHA384}


@pytest.fixture(scope="module")
def fake(start_fake):
    return start_fake("gcp_kms_fake.py", "--pending-seconds", "0.05")


@pytest.fixture(scope="module")
def service_account_file(fake):
    return os.path.join(fake.state_dir, "service-account.json")


def grant_client(fake):
    """The JWT-bearer grant: google-auth signs an assertion with the generated key and
    trades it at the fake's /token (no self-signed JWT: always_use_jwt_access=False)."""
    credentials = service_account.Credentials.from_service_account_file(
        os.path.join(fake.state_dir, "service-account.json"), scopes=SCOPES)
    transport = KeyManagementServiceRestTransport(host=fake.url, credentials=credentials, always_use_jwt_access=False)
    return kms_v1.KeyManagementServiceClient(transport=transport)


@pytest.fixture(scope="module")
def client(fake):
    return grant_client(fake)


@pytest.fixture(scope="module")
def key_ring(client):
    return client.create_key_ring(request={"parent": LOCATION, "key_ring_id": "proof-ring", "key_ring": {}}).name


def wait_enabled(client, name):
    deadline = time.monotonic() + ENABLE_TIMEOUT
    while True:
        version = client.get_crypto_key_version(name=name)
        if version.state == State.ENABLED:
            return version
        assert version.state == State.PENDING_GENERATION, version
        assert time.monotonic() < deadline, f"{name} not ENABLED after {ENABLE_TIMEOUT}s"
        time.sleep(0.02)


def create_key(client, key_ring, key_id, algorithm, labels=None, skip_initial=False):
    return client.create_crypto_key(request={
        "parent": key_ring, "crypto_key_id": key_id, "skip_initial_version_creation": skip_initial,
        "crypto_key": {"purpose": kms_v1.CryptoKey.CryptoKeyPurpose.ASYMMETRIC_SIGN,
                       "version_template": {"algorithm": algorithm}, "labels": labels or {}}})


def sign(client, version_name, digest_kind, message):
    digest = hashlib.new(digest_kind, message).digest()
    return client.asymmetric_sign(request={"name": version_name, "digest": {digest_kind: digest},
                                           "digest_crc32c": google_crc32c.value(digest)})


def verify(public_key, signature, message, digest_kind):
    digest = hashlib.new(digest_kind, message).digest()
    prehashed = utils.Prehashed(HASHES[digest_kind]())
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        public_key.verify(signature, digest, ec.ECDSA(prehashed))
    else:
        public_key.verify(signature, digest, padding.PKCS1v15(), prehashed)


@pytest.mark.parametrize("algorithm,digest_kind,check", [
    (Algorithm.EC_SIGN_P256_SHA256, "sha256", lambda k: isinstance(k.curve, ec.SECP256R1)),
    (Algorithm.EC_SIGN_P384_SHA384, "sha384", lambda k: isinstance(k.curve, ec.SECP384R1)),
    (Algorithm.RSA_SIGN_PKCS1_2048_SHA256, "sha256", lambda k: k.key_size == 2048),
    (Algorithm.RSA_SIGN_PKCS1_4096_SHA256, "sha256", lambda k: k.key_size == 4096),
])
def test_create_wait_public_key_sign_verify(fake, client, key_ring, algorithm, digest_kind, check):
    key = create_key(client, key_ring, f"key-{algorithm.name.lower()}", algorithm, {"team": "keycoord"})
    assert key.purpose == kms_v1.CryptoKey.CryptoKeyPurpose.ASYMMETRIC_SIGN
    assert key.version_template.algorithm == algorithm
    version = wait_enabled(client, key.name + "/cryptoKeyVersions/1")
    assert version.algorithm == algorithm and version.generate_time

    public = client.get_public_key(name=version.name)
    assert public.pem_crc32c == google_crc32c.value(public.pem.encode())
    assert public.algorithm == algorithm and public.name == version.name
    public_key = serialization.load_pem_public_key(public.pem.encode())
    assert check(public_key)

    message = b"keycoord signs this " + algorithm.name.encode()
    answer = sign(client, version.name, digest_kind, message)
    assert answer.verified_digest_crc32c is True
    assert answer.name == version.name
    assert answer.signature_crc32c == google_crc32c.value(answer.signature)
    verify(public_key, answer.signature, message, digest_kind)

    assert fake.state()["tokensIssued"]["jwt-bearer"] >= 1


def test_list_with_label_filter_and_pages(client, key_ring):
    for n in range(3):
        create_key(client, key_ring, f"listed-{n}", Algorithm.EC_SIGN_P256_SHA256,
                   {"role": "jwt" if n < 2 else "other", "n": str(n)}, skip_initial=True)
    jwt_keys = list(client.list_crypto_keys(request={"parent": key_ring, "filter": "labels.role=jwt", "page_size": 1}))
    assert [k.name.rsplit("/", 1)[1] for k in jwt_keys] == ["listed-0", "listed-1"]
    both = list(client.list_crypto_keys(request={"parent": key_ring, "filter": 'labels.role="jwt" AND labels.n=1'}))
    assert [k.name.rsplit("/", 1)[1] for k in both] == ["listed-1"]
    first_page = client.list_crypto_keys(request={"parent": key_ring, "filter": "labels:role", "page_size": 2})
    assert first_page.next_page_token and first_page.total_size == 3
    rings = list(client.list_key_rings(request={"parent": LOCATION}))
    assert key_ring in [r.name for r in rings]


def test_skip_initial_version_then_create_versions(client, key_ring):
    key = create_key(client, key_ring, "versions", Algorithm.EC_SIGN_P256_SHA256, skip_initial=True)
    assert list(client.list_crypto_key_versions(parent=key.name)) == []
    first = client.create_crypto_key_version(parent=key.name, crypto_key_version={})
    second = client.create_crypto_key_version(parent=key.name, crypto_key_version={})
    assert first.name.endswith("/1") and second.name.endswith("/2")
    assert first.state == State.PENDING_GENERATION
    wait_enabled(client, second.name)
    enabled = list(client.list_crypto_key_versions(request={"parent": key.name, "filter": "state=ENABLED"}))
    assert len(enabled) == 2


def test_pending_version_cannot_sign(start_fake):
    slow = start_fake("gcp_kms_fake.py", "--pending-seconds", "60")
    client = grant_client(slow)
    ring = client.create_key_ring(request={"parent": LOCATION, "key_ring_id": "slow", "key_ring": {}}).name
    key = create_key(client, ring, "pending", Algorithm.EC_SIGN_P256_SHA256)
    version = client.get_crypto_key_version(name=key.name + "/cryptoKeyVersions/1")
    assert version.state == State.PENDING_GENERATION and not version.generate_time
    with pytest.raises(api_exceptions.BadRequest) as pending:
        sign(client, version.name, "sha256", b"too early")
    assert pending.value.response.json()["error"]["status"] == "FAILED_PRECONDITION"
    assert "PENDING_GENERATION" in pending.value.message
    with pytest.raises(api_exceptions.BadRequest):
        client.get_public_key(name=version.name)


def test_labels_patch(client, key_ring):
    key = create_key(client, key_ring, "patched", Algorithm.EC_SIGN_P256_SHA256, {"a": "1"}, skip_initial=True)
    updated = client.update_crypto_key(crypto_key={"name": key.name, "labels": {"b": "2"}},
                                       update_mask={"paths": ["labels"]})
    assert dict(updated.labels) == {"b": "2"}
    assert dict(client.get_crypto_key(name=key.name).labels) == {"b": "2"}
    with pytest.raises(api_exceptions.BadRequest):
        client.update_crypto_key(crypto_key={"name": key.name, "labels": {"Bad": "x"}}, update_mask={"paths": ["labels"]})


def test_destroy_and_restore(client, key_ring):
    key = create_key(client, key_ring, "doomed", Algorithm.EC_SIGN_P256_SHA256)
    version = wait_enabled(client, key.name + "/cryptoKeyVersions/1")
    destroyed = client.destroy_crypto_key_version(name=version.name)
    assert destroyed.state == State.DESTROY_SCHEDULED and destroyed.destroy_time
    with pytest.raises(api_exceptions.BadRequest) as refused:
        sign(client, version.name, "sha256", b"after destroy")
    assert "DESTROY_SCHEDULED" in refused.value.message
    with pytest.raises(api_exceptions.BadRequest):
        client.destroy_crypto_key_version(name=version.name)
    restored = client.restore_crypto_key_version(name=version.name)
    assert restored.state == State.DISABLED
    assert client.get_crypto_key_version(name=version.name).state == State.DISABLED


def test_already_exists_and_not_found(client, key_ring):
    with pytest.raises(api_exceptions.Conflict) as duplicate_ring:
        client.create_key_ring(request={"parent": LOCATION, "key_ring_id": "proof-ring", "key_ring": {}})
    assert "already exists" in duplicate_ring.value.message
    create_key(client, key_ring, "twice", Algorithm.EC_SIGN_P256_SHA256, skip_initial=True)
    with pytest.raises(api_exceptions.Conflict) as duplicate_key:
        create_key(client, key_ring, "twice", Algorithm.EC_SIGN_P256_SHA256, skip_initial=True)
    assert duplicate_key.value.response.json()["error"]["status"] == "ALREADY_EXISTS"
    with pytest.raises(api_exceptions.NotFound):
        client.get_crypto_key(name=key_ring + "/cryptoKeys/absent")
    with pytest.raises(api_exceptions.NotFound):
        client.get_key_ring(name=LOCATION + "/keyRings/absent")
    with pytest.raises(api_exceptions.NotFound):
        client.get_public_key(name=key_ring + "/cryptoKeys/twice/cryptoKeyVersions/9")


def test_invalid_arguments(client, key_ring):
    key = create_key(client, key_ring, "strict", Algorithm.EC_SIGN_P384_SHA384)
    version = wait_enabled(client, key.name + "/cryptoKeyVersions/1")
    with pytest.raises(api_exceptions.BadRequest) as short:
        client.asymmetric_sign(request={"name": version.name, "digest": {"sha384": b"\x00" * 32}})
    assert "length" in short.value.message
    with pytest.raises(api_exceptions.BadRequest) as wrong_kind:
        client.asymmetric_sign(request={"name": version.name, "digest": {"sha256": b"\x00" * 32}})
    assert "sha384" in wrong_kind.value.message
    digest = hashlib.sha384(b"m").digest()
    with pytest.raises(api_exceptions.BadRequest) as checksum:
        client.asymmetric_sign(request={"name": version.name, "digest": {"sha384": digest},
                                        "digest_crc32c": google_crc32c.value(digest) ^ 1})
    assert "digest_crc32c" in checksum.value.message
    with pytest.raises(api_exceptions.BadRequest):
        create_key(client, key_ring, "bad id!", Algorithm.EC_SIGN_P256_SHA256)
    with pytest.raises(api_exceptions.BadRequest):
        create_key(client, key_ring, "symmetric", Algorithm.GOOGLE_SYMMETRIC_ENCRYPTION)
    with pytest.raises(api_exceptions.BadRequest):
        create_key(client, key_ring, "pss", Algorithm.RSA_SIGN_PSS_2048_SHA256)
    for labels in ({"Upper": "x"}, {"1digit": "x"}, {"k": "Value"}, {"k" * 64: "x"}):
        with pytest.raises(api_exceptions.BadRequest):
            create_key(client, key_ring, "labelled", Algorithm.EC_SIGN_P256_SHA256, labels)


def test_unauthenticated_without_or_with_unknown_token(fake, key_ring):
    url = f"{fake.url}/v1/{key_ring}/cryptoKeys"
    for headers in ({}, {"Authorization": "Bearer not-issued-here"}, {"Authorization": "Basic eDp5"}):
        answer = requests.get(url, headers=headers, timeout=10)
        assert answer.status_code == 401
        assert answer.json()["error"]["status"] == "UNAUTHENTICATED"
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")


def test_bad_requests_get_google_errors(fake, key_ring):
    token = requests.get(fake.url + "/computeMetadata/v1/instance/service-accounts/default/token",
                         headers={"Metadata-Flavor": "Google"}, timeout=10).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    url = f"{fake.url}/v1/{key_ring}/cryptoKeys?cryptoKeyId=raw"
    for body in (b"{not json", b"[1]", json.dumps({"purpose": "NOPE"}).encode(),
                 json.dumps({"purpose": "ASYMMETRIC_SIGN", "versionTemplate": "x"}).encode()):
        answer = requests.post(url, data=body, headers=auth, timeout=10)
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]["status"] == "INVALID_ARGUMENT"
    too_big = requests.post(url, data=b"x" * (2 << 20), headers=auth, timeout=10)
    assert too_big.status_code == 413
    assert requests.get(f"{fake.url}/v1/{key_ring}/cryptoKeys?pageToken=%%%", headers=auth,
                        timeout=10).status_code == 400
    assert requests.get(f"{fake.url}/v1/{key_ring}/cryptoKeys?filter=labels.a%3Db%20OR%20labels.c%3Dd",
                        headers=auth, timeout=10).status_code == 400
    # A plain JSON client gets enum names; Google's REST transport asks for numbers.
    created = requests.post(url, headers=auth, timeout=10, json={
        "purpose": "ASYMMETRIC_SIGN", "versionTemplate": {"algorithm": "EC_SIGN_P256_SHA256"}})
    assert created.status_code == 200 and created.json()["purpose"] == "ASYMMETRIC_SIGN"
    numeric = requests.get(f"{fake.url}/v1/{key_ring}/cryptoKeys/raw?$alt=json;enum-encoding=int", headers=auth,
                           timeout=10)
    assert numeric.json()["purpose"] == 5
    unknown = requests.get(f"{fake.url}/v1/nothing/here", headers=auth, timeout=10)
    assert unknown.status_code == 404 and unknown.json()["error"]["status"] == "NOT_FOUND"


def test_injected_429_then_success(fake, client, key_ring):
    key = create_key(client, key_ring, "throttled", Algorithm.EC_SIGN_P256_SHA256)
    version = wait_enabled(client, key.name + "/cryptoKeyVersions/1")
    before = fake.state()["requests"].get("asymmetricSign", 0)
    fake.fault(match="asymmetricSign", status=429, count=1)
    with pytest.raises(api_exceptions.TooManyRequests) as throttled:
        sign(client, version.name, "sha256", b"m")
    assert throttled.value.response.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
    fake.fault(match="asymmetricSign", status=429, count=2)
    retry = api_retry.Retry(predicate=api_retry.if_exception_type(api_exceptions.TooManyRequests),
                            initial=0.01, maximum=0.05, timeout=10)
    digest = hashlib.sha256(b"m").digest()
    answer = client.asymmetric_sign(request={"name": version.name, "digest": {"sha256": digest}}, retry=retry)
    assert answer.signature
    assert fake.state()["requests"]["asymmetricSign"] == before + 4


def test_dropped_answer_still_performs_the_operation(fake, client, key_ring):
    fake.fault(match="createCryptoKey", drop=True)
    with pytest.raises(requests.exceptions.ConnectionError):
        create_key(client, key_ring, "lost-answer", Algorithm.EC_SIGN_P256_SHA256, skip_initial=True)
    assert client.get_crypto_key(name=key_ring + "/cryptoKeys/lost-answer").name.endswith("lost-answer")
    with pytest.raises(api_exceptions.Conflict):
        create_key(client, key_ring, "lost-answer", Algorithm.EC_SIGN_P256_SHA256, skip_initial=True)


def test_delayed_answer(fake, client, key_ring):
    fake.fault(match="getKeyRing", delay_seconds=0.3)
    started = time.monotonic()
    assert client.get_key_ring(name=key_ring).name == key_ring
    assert time.monotonic() - started >= 0.3


def test_self_signed_jwt_through_client_options(fake, service_account_file, key_ring):
    """The client's default: a self-signed JWT as the bearer token (no grant at /token)."""
    issued = fake.state()["tokensIssued"]["jwt-bearer"]
    credentials = service_account.Credentials.from_service_account_file(service_account_file, scopes=SCOPES)
    client = kms_v1.KeyManagementServiceClient(credentials=credentials, transport="rest",
                                               client_options=ClientOptions(api_endpoint=fake.url))
    assert client.get_key_ring(name=key_ring).name == key_ring
    assert fake.state()["tokensIssued"]["jwt-bearer"] == issued


def test_revoked_tokens_are_refreshed(fake, client, key_ring):
    client.get_key_ring(name=key_ring)
    issued = fake.state()["tokensIssued"]["jwt-bearer"]
    fake.admin("reset", {"tokens": True})
    # The old token now gets 401; google-auth's session refreshes and retries once.
    assert client.get_key_ring(name=key_ring).name == key_ring
    assert fake.state()["tokensIssued"]["jwt-bearer"] == 1


def test_bad_assertions_are_refused(fake, service_account_file):
    credentials = service_account.Credentials.from_service_account_file(service_account_file, scopes=SCOPES)
    answer = requests.post(fake.url + "/token", data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                                                      "assertion": "a.b.c"}, timeout=10)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"
    grant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
    now = int(time.time())
    wrong_audience = google.auth.jwt.encode(credentials.signer, {
        "iss": credentials.service_account_email, "aud": "https://token.example/token", "scope": SCOPES[0],
        "iat": now, "exp": now + 600})
    answer = requests.post(fake.url + "/token", timeout=10, data={"grant_type": grant, "assertion": wrong_audience})
    assert answer.status_code == 400 and "aud" in answer.json()["error_description"]
    too_long = google.auth.jwt.encode(credentials.signer, {
        "iss": credentials.service_account_email, "aud": fake.url + "/token", "scope": SCOPES[0],
        "iat": now, "exp": now + 7200})
    answer = requests.post(fake.url + "/token", timeout=10, data={"grant_type": grant, "assertion": too_long})
    assert answer.status_code == 400 and "short-lived" in answer.json()["error_description"]
    stranger_pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    forged = service_account.Credentials(google.auth.crypt.RSASigner.from_string(stranger_pem),
                                         credentials.service_account_email, fake.url + "/token", scopes=SCOPES)
    answer = requests.post(fake.url + "/token", timeout=10, data={
        "grant_type": grant, "assertion": forged._make_authorization_grant_assertion()})
    assert answer.status_code == 400 and answer.json()["error_description"] == "Invalid JWT Signature."
    answer = requests.post(fake.url + "/token", data={"grant_type": "password"}, timeout=10)
    assert answer.status_code == 400 and answer.json()["error"] == "unsupported_grant_type"


def test_metadata_server_credentials(fake, key_ring, monkeypatch):
    monkeypatch.setattr(compute_metadata, "_GCE_METADATA_HOST", f"127.0.0.1:{fake.port}")
    credentials = compute_credentials.Credentials()
    client = kms_v1.KeyManagementServiceClient(credentials=credentials, transport="rest",
                                               client_options=ClientOptions(api_endpoint=fake.url))
    before = fake.state()["tokensIssued"]["metadata"]
    assert client.get_key_ring(name=key_ring).name == key_ring
    assert credentials.service_account_email == fake.state()["serviceAccount"]
    assert fake.state()["tokensIssued"]["metadata"] == before + 1
    refused = requests.get(fake.url + "/computeMetadata/v1/instance/service-accounts/default/token", timeout=10)
    assert refused.status_code == 403


def test_external_account_through_sts(fake, key_ring):
    credentials = identity_pool.Credentials.from_file(os.path.join(fake.state_dir, "external-account.json"),
                                                      scopes=SCOPES)
    client = kms_v1.KeyManagementServiceClient(credentials=credentials, transport="rest",
                                               client_options=ClientOptions(api_endpoint=fake.url))
    assert client.get_key_ring(name=key_ring).name == key_ring
    assert fake.state()["tokensIssued"]["sts"] >= 1
    wrong = requests.post(fake.url + "/v1/token", timeout=10, data={
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange", "subject_token": "forged",
        "subject_token_type": "urn:ietf:params:oauth:token-type:jwt", "audience": credentials._audience})
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"


def test_external_account_with_url_source(fake, key_ring):
    credentials = identity_pool.Credentials.from_file(os.path.join(fake.state_dir, "external-account-url.json"),
                                                      scopes=SCOPES)
    client = kms_v1.KeyManagementServiceClient(credentials=credentials, transport="rest",
                                               client_options=ClientOptions(api_endpoint=fake.url))
    before = fake.state()["requests"].get("subjectToken", 0)
    assert client.get_key_ring(name=key_ring).name == key_ring
    assert fake.state()["requests"]["subjectToken"] == before + 1
    assert requests.get(fake.url + "/subject-token", timeout=10).status_code == 400


def test_concurrent_signing(client, key_ring):
    key = create_key(client, key_ring, "busy", Algorithm.EC_SIGN_P256_SHA256)
    version = wait_enabled(client, key.name + "/cryptoKeyVersions/1")
    public_key = serialization.load_pem_public_key(client.get_public_key(name=version.name).pem.encode())
    messages = [f"message {n}".encode() for n in range(24)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda m: sign(client, version.name, "sha256", m), messages))
    for message, answer in zip(messages, answers):
        verify(public_key, answer.signature, message, "sha256")


def test_connection_limit(start_fake):
    import socket
    small = start_fake("gcp_kms_fake.py", "--max-connections", "2")
    held = [socket.create_connection(("127.0.0.1", small.port), timeout=5) for _ in range(2)]
    try:
        for connection in held:  # both are served: a request on each is answered
            connection.sendall(b"GET /v1/x HTTP/1.1\r\nHost: f\r\n\r\n")
            assert connection.recv(100).startswith(b"HTTP/1.1 ")
        with socket.create_connection(("127.0.0.1", small.port), timeout=5) as third:
            try:
                third.sendall(b"GET /v1/x HTTP/1.1\r\nHost: f\r\n\r\n")
                answer = third.recv(100)
            except ConnectionResetError:  # closed with the request unread: a reset
                answer = b""
            assert answer == b"", "a connection past the limit is closed unanswered"
    finally:
        for connection in held:
            connection.close()
    # Freed slots serve again.
    deadline = time.monotonic() + 5
    while True:
        try:
            if requests.get(small.url + "/v1/x", timeout=5).status_code == 404:
                break
        except requests.exceptions.ConnectionError:
            pass
        assert time.monotonic() < deadline, "slots were not freed"
        time.sleep(0.05)


def test_token_ttl_expires_tokens(start_fake):
    short = start_fake("gcp_kms_fake.py", "--token-ttl", "1")
    issued = time.monotonic()
    token = requests.get(short.url + "/computeMetadata/v1/instance/service-accounts/default/token",
                         headers={"Metadata-Flavor": "Google"}, timeout=10).json()
    assert token["expires_in"] == 1
    url = short.url + "/v1/" + LOCATION + "/keyRings"
    auth = {"Authorization": f"Bearer {token['access_token']}"}
    assert requests.get(url, headers=auth, timeout=10).status_code == 200
    deadline = time.monotonic() + 10
    while requests.get(url, headers=auth, timeout=10).status_code == 200:
        assert time.monotonic() < deadline, "the token never expired"
        time.sleep(0.05)
    assert time.monotonic() - issued >= 1.0, "the token expired before its lifetime"


def test_garbage_does_not_stop_the_fake(fake, client, key_ring):
    import socket
    for payload in (b"NOT HTTP AT ALL\r\n\r\n", b"NOT HTTP\r\n\r\n", b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n",
                    b"POST /token HTTP/1.1\r\nContent-Length: -5\r\n\r\n", b"GET / HTTP/1.1\r\nBad Header\r\n\r\n"):
        with socket.create_connection(("127.0.0.1", fake.port), timeout=5) as raw:
            raw.sendall(payload)
            raw.shutdown(socket.SHUT_WR)
            assert raw.recv(1024), "a malformed request still gets an answer"
    assert client.get_key_ring(name=key_ring).name == key_ring


HOSTILE_VALUES = [None, True, 0, -1, 2 ** 70, 1.5, "", "x" * 300, "%00", [], [[]], {}, {"a": {}}, ["ENABLED"]]


def test_hostile_fields_get_4xx_never_5xx(fake, client, key_ring):
    token = requests.get(fake.url + "/computeMetadata/v1/instance/service-accounts/default/token",
                         headers={"Metadata-Flavor": "Google"}, timeout=10).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    key = create_key(client, key_ring, "hostile", Algorithm.EC_SIGN_P256_SHA256)
    version = wait_enabled(client, key.name + "/cryptoKeyVersions/1")
    valid_key = {"purpose": "ASYMMETRIC_SIGN", "versionTemplate": {"algorithm": "EC_SIGN_P256_SHA256"},
                 "labels": {"a": "b"}, "destroyScheduledDuration": "86400s"}
    valid_sign = {"digest": {"sha256": base64.b64encode(b"\0" * 32).decode()}, "digestCrc32c": "0"}
    cases = []
    for value in HOSTILE_VALUES:
        for field in valid_key:
            cases.append((f"/v1/{key_ring}/cryptoKeys?cryptoKeyId=h{len(cases)}", "POST", {**valid_key, field: value}))
        cases.append((f"/v1/{key_ring}/cryptoKeys?cryptoKeyId=h{len(cases)}", "POST",
                      {**valid_key, "versionTemplate": {"algorithm": value}}))
        cases.append((f"/v1/{key_ring}/cryptoKeys?cryptoKeyId=h{len(cases)}", "POST", {**valid_key, "labels": {"k": value}}))
        for field in valid_sign:
            cases.append((f"/v1/{version.name}:asymmetricSign", "POST", {**valid_sign, field: value}))
        cases.append((f"/v1/{version.name}:asymmetricSign", "POST", {"digest": {"sha256": value}}))
        cases.append((f"/v1/{key.name}?updateMask=labels", "PATCH", {"labels": value}))
        cases.append((f"/v1/{version.name}?updateMask=state", "PATCH", {"state": value}))
    for path, method, body in cases:
        answer = requests.request(method, fake.url + path, json=body, headers=auth, timeout=10)
        if answer.status_code == 200:
            continue  # a value that happens to be valid (e.g. labels {} or a null field)
        assert 400 <= answer.status_code < 500, (path, body, answer.status_code, answer.text)
        assert answer.json()["error"]["status"] in ("INVALID_ARGUMENT", "FAILED_PRECONDITION"), answer.text

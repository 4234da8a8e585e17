#!/usr/bin/env python3
"""A protocol-level fake of Google Cloud KMS (REST v1) and of the Google token endpoints a
client meets on the way: the OAuth2 JWT-bearer grant, the metadata server's token path and
STS for workload identity federation. Written from the public REST reference; keys and
signatures are real (PyCA cryptography). The contract is in README.md beside this file.

  python3 gcp_kms_fake.py --port-file PATH [--state-dir DIR] [--pending-seconds 0.2]
                          [--token-ttl 3600] [--accept-subject-token TOKEN]
"""
import base64
import datetime
import json
import os
import re
import secrets
import sys
import threading
import time
import urllib.parse

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

import fake_common
from fake_common import App, Response, b64url, bearer_token

# The algorithms keycoord's key types map to; each with its curve or modulus and digest.
ALGORITHMS = {
    "EC_SIGN_P256_SHA256": ("ec", ec.SECP256R1, "sha256"),
    "EC_SIGN_P384_SHA384": ("ec", ec.SECP384R1, "sha384"),
    "RSA_SIGN_PKCS1_2048_SHA256": ("rsa", 2048, "sha256"),
    "RSA_SIGN_PKCS1_4096_SHA256": ("rsa", 4096, "sha256"),
}
DIGEST_SIZES = {"sha256": 32, "sha384": 48, "sha512": 64}
DIGEST_HASHES = {"sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}

# The enum values of google.cloud.kms.v1 (resources.proto), for clients that send or ask for
# enums as numbers ($alt=json;enum-encoding=int, as Google's REST transports do).
ENUMS = {
    "purpose": {"CRYPTO_KEY_PURPOSE_UNSPECIFIED": 0, "ENCRYPT_DECRYPT": 1, "ASYMMETRIC_SIGN": 5,
                "ASYMMETRIC_DECRYPT": 6, "RAW_ENCRYPT_DECRYPT": 7, "MAC": 9},
    "algorithm": {"CRYPTO_KEY_VERSION_ALGORITHM_UNSPECIFIED": 0, "GOOGLE_SYMMETRIC_ENCRYPTION": 1,
                  "RSA_SIGN_PSS_2048_SHA256": 2, "RSA_SIGN_PSS_3072_SHA256": 3, "RSA_SIGN_PSS_4096_SHA256": 4,
                  "RSA_SIGN_PKCS1_2048_SHA256": 5, "RSA_SIGN_PKCS1_3072_SHA256": 6,
                  "RSA_SIGN_PKCS1_4096_SHA256": 7, "EC_SIGN_P256_SHA256": 12, "EC_SIGN_P384_SHA384": 13,
                  "EC_SIGN_SECP256K1_SHA256": 31, "EC_SIGN_ED25519": 40},
    "protectionLevel": {"PROTECTION_LEVEL_UNSPECIFIED": 0, "SOFTWARE": 1, "HSM": 2, "EXTERNAL": 3,
                        "EXTERNAL_VPC": 4},
    "state": {"CRYPTO_KEY_VERSION_STATE_UNSPECIFIED": 0, "ENABLED": 1, "DISABLED": 2, "DESTROYED": 3,
              "DESTROY_SCHEDULED": 4, "PENDING_GENERATION": 5, "PENDING_IMPORT": 6, "IMPORT_FAILED": 7,
              "GENERATION_FAILED": 8},
}
ENUM_NAMES = {field: {number: name for name, number in values.items()} for field, values in ENUMS.items()}

HTTP_STATUS_NAMES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                     404: "NOT_FOUND", 409: "ALREADY_EXISTS", 411: "INVALID_ARGUMENT",
                     413: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED", 499: "CANCELLED", 500: "INTERNAL",
                     501: "UNIMPLEMENTED", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}
OAUTH_FAULT_ERRORS = {400: "invalid_request", 401: "invalid_client", 429: "rate_limit_exceeded",
                      503: "temporarily_unavailable"}
STATUS_CODES = {"INVALID_ARGUMENT": 400, "FAILED_PRECONDITION": 400, "OUT_OF_RANGE": 400,
                "UNAUTHENTICATED": 401, "PERMISSION_DENIED": 403, "NOT_FOUND": 404, "ALREADY_EXISTS": 409,
                "ABORTED": 409, "RESOURCE_EXHAUSTED": 429, "INTERNAL": 500, "UNIMPLEMENTED": 501,
                "UNAVAILABLE": 503}

ID_PATTERN = re.compile(r"^[a-zA-Z0-9_-]{1,63}$")
SEGMENT = r"([^/:]+)"
LOCATION = rf"/v1/projects/{SEGMENT}/locations/{SEGMENT}"
KEY_RING = rf"{LOCATION}/keyRings/{SEGMENT}"
CRYPTO_KEY = rf"{KEY_RING}/cryptoKeys/{SEGMENT}"
VERSION = rf"{CRYPTO_KEY}/cryptoKeyVersions/{SEGMENT}"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
# google-auth puts Google's token URI in aud whatever token_uri says, and Google takes it.
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
# What the URL credential source wants, so a client is seen to send the configured headers.
SUBJECT_TOKEN_HEADER = "X-Subject-Token-Request"
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
# Google refuses grants whose JWT lives longer than an hour, or is dated too far off.
MAX_ASSERTION_LIFETIME = 3600
CLOCK_SKEW = 300
# Cloud KMS accepts a destroy delay of 24 hours to 120 days, 30 days by default.
DEFAULT_DESTROY_DURATION = 30 * 86400
DESTROY_DURATION_RANGE = (86400, 120 * 86400)
MAX_PAGE_SIZE = 1000
MAX_LABELS = 64


class RpcError(Exception):
    """A google.rpc.Status answer."""

    def __init__(self, status, message, http_code=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.http_code = http_code or STATUS_CODES[status]


class OAuthError(Exception):
    def __init__(self, error, description, http_code=400):
        super().__init__(description)
        self.error = error
        self.description = description
        self.http_code = http_code


def crc32c(data):
    """CRC-32C (Castagnoli), written here so the fake's checksums are checked by another
    implementation (google-crc32c) in the proof."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC32C_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _crc32c_table():
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C_TABLE = _crc32c_table()


def b64decode_field(value, field):
    """Proto3 JSON bytes: standard or URL-safe base64, padding optional."""
    if not isinstance(value, str):
        raise RpcError("INVALID_ARGUMENT", f"Invalid value at '{field}': expected base64 bytes")
    text = value.replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        raise RpcError("INVALID_ARGUMENT", f"Invalid value at '{field}' (TYPE_BYTES), Base64 decoding failed") from None


def int64_field(value, field):
    """Proto3 JSON int64 (and Int64Value): a decimal string or a JSON number."""
    if isinstance(value, bool):
        raise RpcError("INVALID_ARGUMENT", f"Invalid value at '{field}' (TYPE_INT64)")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,20}", value):
        return int(value)
    raise RpcError("INVALID_ARGUMENT", f"Invalid value at '{field}' (TYPE_INT64), \"{value}\"")


def enum_field(field, value, path):
    if isinstance(value, int) and not isinstance(value, bool):
        if value in ENUM_NAMES[field]:
            return ENUM_NAMES[field][value]
    elif isinstance(value, str) and value in ENUMS[field]:
        return value
    raise RpcError("INVALID_ARGUMENT", f"Invalid value at '{path}', \"{value}\"")


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def timestamp(seconds):
    moment = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}000Z"


def validate_labels(labels, field="labels"):
    """GCP label rules: at most 64; keys 1-63 characters starting with a lowercase letter;
    keys and values of lowercase letters, digits, '_' and '-'; values up to 63."""
    if not isinstance(labels, dict):
        raise RpcError("INVALID_ARGUMENT", f"Invalid value at '{field}': expected a map")
    if len(labels) > MAX_LABELS:
        raise RpcError("INVALID_ARGUMENT", f"{field}: at most {MAX_LABELS} labels are allowed")

    def allowed(text):
        return all(c.islower() or c.isdigit() or c in "_-" for c in text)

    for key, value in labels.items():
        if not (1 <= len(key) <= 63 and key[0].islower() and allowed(key)):
            raise RpcError("INVALID_ARGUMENT", f"{field}: invalid label key \"{key}\": 1-63 lowercase letters, "
                                               "digits, '_' or '-', starting with a lowercase letter")
        if not isinstance(value, str) or not (len(value) <= 63 and allowed(value)):
            raise RpcError("INVALID_ARGUMENT", f"{field}: invalid value for label \"{key}\": up to 63 lowercase "
                                               "letters, digits, '_' or '-'")
    return dict(labels)


def parse_duration(value, field):
    match = re.fullmatch(r"([0-9]{1,12})(?:\.([0-9]{1,9}))?s", value) if isinstance(value, str) else None
    if not match:
        raise RpcError("INVALID_ARGUMENT", f"Invalid value at '{field}' (type.googleapis.com/google.protobuf.Duration)")
    return int(match.group(1)) + (int(match.group(2).ljust(9, "0")) / 1e9 if match.group(2) else 0)


class Filter:
    """The subset of the AIP-160 filters Cloud KMS list calls take that tests use:
    terms joined by AND (or juxtaposed), each FIELD=VALUE, FIELD!=VALUE or FIELD:VALUE
    ('has'; VALUE * means the field is set, on a map the key is present), FIELD a dotted
    path such as labels.env, state or versionTemplate.algorithm, VALUE bare or "quoted"."""

    TERM = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(!=|=|:)\s*("(?:[^"\\]|\\.)*"|[^\s"()]+)\s*')

    def __init__(self, text):
        self.terms = []
        rest = (text or "").strip()
        while rest:
            match = self.TERM.match(rest)
            if not match:
                raise RpcError("INVALID_ARGUMENT", f"Invalid filter: {text}")
            value = match.group(3)
            if value.startswith('"'):
                try:
                    value = json.loads(value)
                except ValueError:
                    raise RpcError("INVALID_ARGUMENT", f"Invalid filter: {text}") from None
            if match.group(1) in ("AND", "OR", "NOT"):
                raise RpcError("INVALID_ARGUMENT", f"Invalid filter: {text}")
            self.terms.append((match.group(1), match.group(2), value))
            rest = rest[match.end():]
            if rest.startswith("AND "):
                rest = rest[4:]
            elif rest.startswith(("OR ", "NOT ", "(")):
                raise RpcError("INVALID_ARGUMENT", f"Unsupported filter (only AND of terms): {text}")

    def matches(self, resource):
        for path, op, value in self.terms:
            node, present = resource, True
            for part in path.split("."):
                if isinstance(node, dict) and part in node:
                    node = node[part]
                else:
                    present = False
                    break
            if op == ":":
                if isinstance(node, dict) and present:
                    ok = value == "*" or value in node
                else:
                    ok = present and (value == "*" or str(node) == value)
            elif op == "=":
                ok = present and str(node) == value
            else:
                ok = not present or str(node) != value
            if not ok:
                return False
        return True


class Version:
    def __init__(self, name, algorithm, protection_level, created, ready_at):
        self.name = name
        self.algorithm = algorithm
        self.protection_level = protection_level
        self.created = created
        self.ready_at = ready_at
        _, _, self.digest = ALGORITHMS[algorithm]
        self.private_key = None
        self.generated = threading.Event()
        # Generated off the request thread and outside the fake's lock, as Cloud KMS does it
        # asynchronously: an RSA-4096 key takes a while, and must not stall other calls.
        threading.Thread(target=self._generate, daemon=True).start()
        self.manual_state = None  # set once the version leaves generation: ENABLED, DISABLED, ...
        self.destroy_time = None
        self.destroy_event_time = None

    def _generate(self):
        kind, parameter, _ = ALGORITHMS[self.algorithm]
        if kind == "ec":
            self.private_key = ec.generate_private_key(parameter())
        else:
            self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=parameter)
        self.generated_at = max(time.time(), self.ready_at)
        self.generated.set()

    def state(self, now):
        if self.manual_state is None:
            if not self.generated.is_set() or now < self.generated_at:
                return "PENDING_GENERATION"
            return "ENABLED"
        if self.manual_state == "DESTROY_SCHEDULED" and now >= self.destroy_time:
            self.manual_state, self.destroy_event_time, self.private_key = "DESTROYED", self.destroy_time, None
        return self.manual_state

    def set_state(self, state, now):
        self.state(now)
        self.manual_state = state

    def resource(self, now):
        state = self.state(now)
        body = {"name": self.name, "state": state, "protectionLevel": self.protection_level,
                "algorithm": self.algorithm, "createTime": timestamp(self.created)}
        if state != "PENDING_GENERATION":
            body["generateTime"] = timestamp(self.generated_at)
        if self.destroy_time is not None:
            body["destroyTime"] = timestamp(self.destroy_time)
        if self.destroy_event_time is not None:
            body["destroyEventTime"] = timestamp(self.destroy_event_time)
        return body


class CryptoKey:
    def __init__(self, name, algorithm, protection_level, labels, destroy_duration, created):
        self.name = name
        self.algorithm = algorithm
        self.protection_level = protection_level
        self.labels = labels
        self.destroy_duration = destroy_duration
        self.created = created
        self.versions = {}
        self.next_version = 1

    def resource(self):
        body = {"name": self.name, "purpose": "ASYMMETRIC_SIGN", "createTime": timestamp(self.created),
                "versionTemplate": {"protectionLevel": self.protection_level, "algorithm": self.algorithm},
                "destroyScheduledDuration": f"{int(self.destroy_duration)}s"}
        if self.labels:
            body["labels"] = dict(self.labels)
        return body


class GcpKmsFake(App):
    name = "gcp-kms-fake"

    def __init__(self, port, options):
        self.base_url = f"http://127.0.0.1:{port}"
        self.pending_seconds = options.pending_seconds
        self.project = options.project
        self.client_email = f"{options.service_account}@{options.project}.iam.gserviceaccount.com"
        self.audience = options.audience
        self.lock = threading.RLock()
        self.sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.sa_key_id = secrets.token_hex(20)
        self.subject_token = options.accept_subject_token or "subject-" + secrets.token_urlsafe(24)
        self.key_rings = {}
        self.crypto_keys = {}
        self.tokens = fake_common.TokenStore("ya29.fake-", options.token_ttl, ("jwt-bearer", "metadata", "sts"))
        self.routes = [
            ("POST", re.compile(rf"^{LOCATION}/keyRings$"), "createKeyRing", self.create_key_ring),
            ("GET", re.compile(rf"^{LOCATION}/keyRings$"), "listKeyRings", self.list_key_rings),
            ("GET", re.compile(rf"^{KEY_RING}$"), "getKeyRing", self.get_key_ring),
            ("POST", re.compile(rf"^{KEY_RING}/cryptoKeys$"), "createCryptoKey", self.create_crypto_key),
            ("GET", re.compile(rf"^{KEY_RING}/cryptoKeys$"), "listCryptoKeys", self.list_crypto_keys),
            ("GET", re.compile(rf"^{CRYPTO_KEY}$"), "getCryptoKey", self.get_crypto_key),
            ("PATCH", re.compile(rf"^{CRYPTO_KEY}$"), "updateCryptoKey", self.update_crypto_key),
            ("POST", re.compile(rf"^{CRYPTO_KEY}/cryptoKeyVersions$"), "createCryptoKeyVersion", self.create_version),
            ("GET", re.compile(rf"^{CRYPTO_KEY}/cryptoKeyVersions$"), "listCryptoKeyVersions", self.list_versions),
            ("GET", re.compile(rf"^{VERSION}$"), "getCryptoKeyVersion", self.get_version),
            ("PATCH", re.compile(rf"^{VERSION}$"), "updateCryptoKeyVersion", self.update_version),
            ("POST", re.compile(rf"^{VERSION}:destroy$"), "destroyCryptoKeyVersion", self.destroy_version),
            ("POST", re.compile(rf"^{VERSION}:restore$"), "restoreCryptoKeyVersion", self.restore_version),
            ("GET", re.compile(rf"^{VERSION}/publicKey$"), "getPublicKey", self.get_public_key),
            ("POST", re.compile(rf"^{VERSION}:asymmetricSign$"), "asymmetricSign", self.asymmetric_sign),
        ]

    # -- files a client is configured with ------------------------------------------------

    def write_state_files(self, directory):
        os.makedirs(directory, exist_ok=True)
        pem = self.sa_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()).decode()
        service_account = {
            "type": "service_account", "project_id": self.project, "private_key_id": self.sa_key_id,
            "private_key": pem, "client_email": self.client_email, "client_id": "100000000000000000001",
            "auth_uri": self.base_url + "/o/oauth2/auth", "token_uri": self.base_url + "/token",
            "universe_domain": "googleapis.com",
        }
        fake_common.write_atomically(os.path.join(directory, "service-account.json"), json.dumps(service_account, indent=2))
        subject_path = os.path.join(directory, "subject-token")
        fake_common.write_atomically(subject_path, self.subject_token)
        external_account = {
            "type": "external_account", "audience": self.audience,
            "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
            "token_url": self.base_url + "/v1/token",
            "credential_source": {"file": os.path.abspath(subject_path)},
            "universe_domain": "googleapis.com",
        }
        fake_common.write_atomically(os.path.join(directory, "external-account.json"), json.dumps(external_account, indent=2))
        external_account["credential_source"] = {
            "url": self.base_url + "/subject-token?format=json", "headers": {SUBJECT_TOKEN_HEADER: "true"},
            "format": {"type": "json", "subject_token_field_name": "id_token"}}
        fake_common.write_atomically(os.path.join(directory, "external-account-url.json"),
                                     json.dumps(external_account, indent=2))

    # -- App --------------------------------------------------------------------------------

    def error(self, status, message, operation=None):
        if operation in ("token", "stsToken"):
            return self.oauth_response(OAuthError(OAUTH_FAULT_ERRORS.get(status, "server_error"), message, status))
        if operation == "metadata":
            return Response(status, message + "\n", "text/plain", {"Metadata-Flavor": "Google"})
        return self.rpc_response(RpcError(HTTP_STATUS_NAMES.get(status, "UNKNOWN"), message, status))

    @staticmethod
    def rpc_response(error):
        body = {"error": {"code": error.http_code, "message": error.message, "status": error.status}}
        headers = {}
        if error.status == "UNAUTHENTICATED":
            headers["WWW-Authenticate"] = 'Bearer realm="https://accounts.google.com/"'
        return Response(error.http_code, body, headers=headers)

    @staticmethod
    def oauth_response(error):
        return Response(error.http_code, {"error": error.error, "error_description": error.description})

    def route(self, request):
        path = request.path
        if path == "/token":
            return "token", self.oauth_handler(self.token_grant, "POST")
        if path == "/v1/token":
            return "stsToken", self.oauth_handler(self.sts_exchange, "POST")
        if path.startswith("/computeMetadata/"):
            return "metadata", self.metadata
        if path == "/subject-token":
            return "subjectToken", self.subject_token_source
        for method, pattern, operation, handler in self.routes:
            match = pattern.match(path)
            if match and method == request.method:
                segments = [urllib.parse.unquote(s) for s in match.groups()]
                return operation, self.rpc_handler(handler, segments)
        known = any(pattern.match(path) for _, pattern, _, _ in self.routes)
        return ("methodNotAllowed" if known else None), None

    def rpc_handler(self, handler, segments):
        def run(request):
            try:
                self.authenticate(request)
                body = {}
                if request.method in ("POST", "PATCH") and request.body.strip():
                    try:
                        body = json.loads(request.body)
                    except ValueError:
                        raise RpcError("INVALID_ARGUMENT", "Invalid JSON payload received.") from None
                    if not isinstance(body, dict):
                        raise RpcError("INVALID_ARGUMENT", "Invalid JSON payload received. Expected an object.")
                with self.lock:
                    result = handler(request, body, *segments)
                return Response(200, self.encode_enums(result, request))
            except RpcError as error:
                return self.rpc_response(error)
        return run

    def oauth_handler(self, handler, method):
        def run(request):
            if request.method != method:
                return self.oauth_response(OAuthError("invalid_request", f"{request.method} is not supported", 405))
            try:
                fields = fake_common.form_fields(request.body)
            except UnicodeDecodeError:
                return self.oauth_response(OAuthError("invalid_request", "the body is not UTF-8"))
            try:
                return Response(200, handler(fields))
            except OAuthError as error:
                return self.oauth_response(error)
        return run

    @staticmethod
    def encode_enums(body, request):
        if "enum-encoding=int" not in (request.param("$alt") or ""):
            return body

        def walk(node):
            if isinstance(node, dict):
                return {k: (ENUMS[k].get(v, v) if k in ENUMS and isinstance(v, str) else walk(v)) for k, v in node.items()}
            if isinstance(node, list):
                return [walk(v) for v in node]
            return node
        return walk(body)

    def state(self):
        with self.lock:
            now = time.time()
            return {
                "keyRings": sorted(self.key_rings),
                "cryptoKeys": {name: dict(key.resource(), versions={v.name.rsplit("/", 1)[1]: v.resource(now)["state"]
                                                                     for v in key.versions.values()})
                               for name, key in self.crypto_keys.items()},
                "tokensIssued": self.tokens.issued(),
                "serviceAccount": self.client_email,
            }

    def reset(self, options):
        with self.lock:
            if options.get("keys"):
                self.key_rings.clear()
                self.crypto_keys.clear()
            if options.get("keys") or options.get("tokens"):
                self.tokens.clear()

    # -- tokens -----------------------------------------------------------------------------

    def issue_token(self, source):
        return {"access_token": self.tokens.issue(source), "expires_in": int(self.tokens.ttl), "token_type": "Bearer"}

    def authenticate(self, request):
        credential = bearer_token(request)
        if credential:
            known = self.tokens.check(credential)
            if known == "valid":
                return
            if known == "unknown" and credential.count(".") == 2:
                try:
                    self.verify_service_account_jwt(credential, self_signed=True)
                    return
                except OAuthError:
                    pass
        raise RpcError("UNAUTHENTICATED", "Request had invalid authentication credentials. Expected OAuth 2 access "
                                          "token, login cookie or other valid authentication credential.")

    def verify_service_account_jwt(self, assertion, self_signed):
        """An RS256 JWT signed with the service-account key: the grant's assertion, or (as
        Google also accepts) a self-signed JWT used directly as the bearer token."""
        try:
            header_b64, claims_b64, signature_b64 = assertion.split(".")
            header = json.loads(b64url_decode(header_b64))
            claims = json.loads(b64url_decode(claims_b64))
            signature = b64url_decode(signature_b64)
        except (ValueError, TypeError):
            raise OAuthError("invalid_grant", "Invalid JWT: not a compact JWS") from None
        if not isinstance(header, dict) or not isinstance(claims, dict) or header.get("alg") != "RS256":
            raise OAuthError("invalid_grant", "Invalid JWT: only RS256 JWTs are accepted")
        try:
            self.sa_key.public_key().verify(signature, f"{header_b64}.{claims_b64}".encode(),
                                            padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            raise OAuthError("invalid_grant", "Invalid JWT Signature.") from None
        if header.get("kid") not in (None, self.sa_key_id):
            raise OAuthError("invalid_grant", "Invalid JWT: unknown kid")
        if claims.get("iss") != self.client_email:
            raise OAuthError("invalid_grant", "Invalid JWT: iss is not the service account")
        iat, exp, now = claims.get("iat"), claims.get("exp"), time.time()
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (iat, exp)) \
                or exp > iat + MAX_ASSERTION_LIFETIME or exp <= now or iat > now + CLOCK_SKEW or exp <= iat:
            raise OAuthError("invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a "
                                              "reasonable timeframe. Check your iat and exp values in the JWT claim.")
        if self_signed:
            if not claims.get("scope") and not claims.get("aud"):
                raise OAuthError("invalid_grant", "Invalid JWT: neither scope nor aud")
        else:
            if claims.get("aud") not in (self.base_url + "/token", GOOGLE_TOKEN_URI):
                raise OAuthError("invalid_grant", "Invalid JWT: aud is neither this token endpoint nor "
                                                  + GOOGLE_TOKEN_URI)
            if not isinstance(claims.get("scope"), str) or not claims["scope"].strip():
                raise OAuthError("invalid_scope", "Invalid OAuth scope or ID token audience provided.")
        return claims

    def token_grant(self, form):
        if form.get("grant_type") != JWT_BEARER:
            raise OAuthError("unsupported_grant_type", f"Invalid grant_type: {form.get('grant_type', '')}")
        if not form.get("assertion"):
            raise OAuthError("invalid_request", "Missing required parameter: assertion")
        claims = self.verify_service_account_jwt(form["assertion"], self_signed=False)
        return self.issue_token("jwt-bearer")

    def sts_exchange(self, form):
        if form.get("grant_type") != TOKEN_EXCHANGE:
            raise OAuthError("unsupported_grant_type", f"Invalid grant_type: {form.get('grant_type', '')}")
        for field in ("subject_token", "subject_token_type", "audience"):
            if not form.get(field):
                raise OAuthError("invalid_request", f"Missing required parameter: {field}")
        if form.get("requested_token_type", ACCESS_TOKEN_TYPE) != ACCESS_TOKEN_TYPE:
            raise OAuthError("invalid_request", "requested_token_type must be " + ACCESS_TOKEN_TYPE)
        if form["audience"] != self.audience:
            raise OAuthError("invalid_target", "The target service indicated by the \"audience\" parameters is invalid.")
        if not secrets.compare_digest(form["subject_token"].encode(), self.subject_token.encode()):
            raise OAuthError("invalid_grant", "The subject token is not accepted.")
        answer = self.issue_token("sts")
        answer["issued_token_type"] = ACCESS_TOKEN_TYPE
        return answer

    def subject_token_source(self, request):
        """A URL credential source for workload identity federation, as an identity provider
        on the workload's host serves it: the subject token, as text or ?format=json."""
        if request.method != "GET":
            return Response(405, "Method not allowed\n", "text/plain")
        if request.header(SUBJECT_TOKEN_HEADER) != "true":
            return Response(400, f"Missing {SUBJECT_TOKEN_HEADER}: true header.\n", "text/plain")
        if request.param("format") == "json":
            return Response(200, {"id_token": self.subject_token})
        return Response(200, self.subject_token, "text/plain")

    def metadata(self, request):
        """The metadata server paths google-auth's compute_engine credentials read."""
        headers = {"Metadata-Flavor": "Google"}
        if request.header("Metadata-Flavor") != "Google":
            return Response(403, "Missing Metadata-Flavor:Google header.\n", "text/plain", headers)
        if request.method != "GET":
            return Response(405, "Method not allowed\n", "text/plain", headers)
        accounts = "/computeMetadata/v1/instance/service-accounts/"
        path = request.path
        if path == "/computeMetadata/v1/project/project-id":
            return Response(200, self.project, "application/text", headers)
        if path.startswith(accounts):
            account, _, leaf = path[len(accounts):].partition("/")
            if account not in ("default", self.client_email):
                return Response(404, "Not Found\n", "text/plain", headers)
            if leaf == "token":
                return Response(200, self.issue_token("metadata"), headers=headers)
            if leaf == "email":
                return Response(200, self.client_email, "application/text", headers)
            if leaf == "scopes":
                return Response(200, CLOUD_PLATFORM_SCOPE + "\n", "application/text", headers)
            if leaf == "" and request.param("recursive") == "true":
                return Response(200, {"aliases": ["default"], "email": self.client_email,
                                      "scopes": [CLOUD_PLATFORM_SCOPE]}, headers=headers)
        return Response(404, "Not Found\n", "text/plain", headers)

    # -- lookups ----------------------------------------------------------------------------

    @staticmethod
    def check_id(value, field):
        if value is None or not ID_PATTERN.match(value):
            raise RpcError("INVALID_ARGUMENT", f"{field} must match [a-zA-Z0-9_-]{{1,63}}: \"{value or ''}\"")

    def key_ring(self, project, location, ring):
        name = f"projects/{project}/locations/{location}/keyRings/{ring}"
        if name not in self.key_rings:
            raise RpcError("NOT_FOUND", f"KeyRing {name} not found.")
        return name

    def crypto_key(self, project, location, ring, key):
        name = f"projects/{project}/locations/{location}/keyRings/{ring}/cryptoKeys/{key}"
        if name not in self.crypto_keys:
            self.key_ring(project, location, ring)
            raise RpcError("NOT_FOUND", f"CryptoKey {name} not found.")
        return self.crypto_keys[name]

    def version(self, project, location, ring, key, version):
        crypto_key = self.crypto_key(project, location, ring, key)
        found = crypto_key.versions.get(version)
        if found is None:
            raise RpcError("NOT_FOUND", f"CryptoKeyVersion {crypto_key.name}/cryptoKeyVersions/{version} not found.")
        return crypto_key, found

    @staticmethod
    def page(request, items, field):
        """pageSize/pageToken/filter/orderBy over resources already in order."""
        size = request.param("pageSize", "0")
        if not re.fullmatch(r"[0-9]{1,9}", size):
            raise RpcError("INVALID_ARGUMENT", "page_size must be a non-negative integer")
        size = min(int(size) or MAX_PAGE_SIZE, MAX_PAGE_SIZE)
        selected = [item for item in items if Filter(request.param("filter")).matches(item)]
        order = (request.param("orderBy") or "").strip()
        if order:
            if order not in ("name", "name asc", "name desc"):
                raise RpcError("INVALID_ARGUMENT", f"Invalid order_by: {order}")
            selected.sort(key=lambda item: item["name"], reverse=order.endswith("desc"))
        token = request.param("pageToken") or ""
        start = 0
        if token:
            try:
                start = int(b64url_decode(token).decode())
            except (ValueError, UnicodeDecodeError):
                raise RpcError("INVALID_ARGUMENT", "Invalid page_token") from None
        answer = {field: selected[start:start + size]} if selected[start:start + size] else {}
        if start + size < len(selected):
            answer["nextPageToken"] = b64url(str(start + size).encode())
        answer["totalSize"] = len(selected)
        return answer

    # -- key rings ----------------------------------------------------------------------------

    def create_key_ring(self, request, body, project, location):
        ring = request.param("keyRingId")
        self.check_id(ring, "key_ring_id")
        name = f"projects/{project}/locations/{location}/keyRings/{ring}"
        if name in self.key_rings:
            raise RpcError("ALREADY_EXISTS", f"KeyRing {name} already exists.")
        self.key_rings[name] = {"name": name, "createTime": timestamp(time.time())}
        return self.key_rings[name]

    def get_key_ring(self, request, body, project, location, ring):
        return self.key_rings[self.key_ring(project, location, ring)]

    def list_key_rings(self, request, body, project, location):
        prefix = f"projects/{project}/locations/{location}/keyRings/"
        return self.page(request, [r for n, r in self.key_rings.items() if n.startswith(prefix)], "keyRings")

    # -- crypto keys --------------------------------------------------------------------------

    def create_crypto_key(self, request, body, project, location, ring):
        ring_name = self.key_ring(project, location, ring)
        key_id = request.param("cryptoKeyId")
        self.check_id(key_id, "crypto_key_id")
        purpose = enum_field("purpose", body.get("purpose", "CRYPTO_KEY_PURPOSE_UNSPECIFIED"), "crypto_key.purpose")
        if purpose != "ASYMMETRIC_SIGN":
            raise RpcError("INVALID_ARGUMENT", f"crypto_key.purpose {purpose} is not supported by this fake "
                                               "(only ASYMMETRIC_SIGN).")
        template = body.get("versionTemplate") or {}
        if not isinstance(template, dict):
            raise RpcError("INVALID_ARGUMENT", "Invalid value at 'crypto_key.version_template'")
        algorithm = enum_field("algorithm", template.get("algorithm", 0), "crypto_key.version_template.algorithm")
        if algorithm not in ALGORITHMS:
            raise RpcError("INVALID_ARGUMENT", f"The specified algorithm {algorithm} is not supported for purpose "
                                               "ASYMMETRIC_SIGN by this fake.")
        protection = enum_field("protectionLevel", template.get("protectionLevel", "SOFTWARE"),
                                "crypto_key.version_template.protection_level")
        if protection == "PROTECTION_LEVEL_UNSPECIFIED":
            protection = "SOFTWARE"
        if protection not in ("SOFTWARE", "HSM"):
            raise RpcError("INVALID_ARGUMENT", f"protection level {protection} is not supported by this fake")
        labels = validate_labels(body.get("labels") or {}, "crypto_key.labels")
        duration = DEFAULT_DESTROY_DURATION
        if "destroyScheduledDuration" in body:
            duration = parse_duration(body["destroyScheduledDuration"], "crypto_key.destroy_scheduled_duration")
            if not DESTROY_DURATION_RANGE[0] <= duration <= DESTROY_DURATION_RANGE[1]:
                raise RpcError("INVALID_ARGUMENT", "destroy_scheduled_duration must be between 24 hours and 120 days")
        skip = (request.param("skipInitialVersionCreation") or "false").lower()
        if skip not in ("true", "false"):
            raise RpcError("INVALID_ARGUMENT", "Invalid value for skip_initial_version_creation")
        name = f"{ring_name}/cryptoKeys/{key_id}"
        if name in self.crypto_keys:
            raise RpcError("ALREADY_EXISTS", f"CryptoKey {name} already exists.")
        key = CryptoKey(name, algorithm, protection, labels, duration, time.time())
        if skip == "false":
            self.add_version(key)
        self.crypto_keys[name] = key
        return key.resource()

    def get_crypto_key(self, request, body, *segments):
        return self.crypto_key(*segments).resource()

    def list_crypto_keys(self, request, body, project, location, ring):
        ring_name = self.key_ring(project, location, ring)
        keys = [k.resource() for n, k in self.crypto_keys.items() if n.startswith(ring_name + "/cryptoKeys/")]
        return self.page(request, keys, "cryptoKeys")

    def update_crypto_key(self, request, body, *segments):
        key = self.crypto_key(*segments)
        mask = [m.strip() for m in (request.param("updateMask") or "").split(",") if m.strip()]
        if not mask:
            raise RpcError("INVALID_ARGUMENT", "update_mask is required")
        for field in mask:
            if field != "labels":
                raise RpcError("INVALID_ARGUMENT", f"update_mask field {field} is not supported by this fake "
                                                   "(only labels)")
        key.labels = validate_labels(body.get("labels") or {}, "crypto_key.labels")
        return key.resource()

    # -- versions -------------------------------------------------------------------------------

    def add_version(self, key):
        now = time.time()
        number = str(key.next_version)
        key.next_version += 1
        version = Version(f"{key.name}/cryptoKeyVersions/{number}", key.algorithm, key.protection_level,
                          now, now + self.pending_seconds)
        key.versions[number] = version
        return version.resource(now)

    def create_version(self, request, body, *segments):
        key = self.crypto_key(*segments)
        if body.get("state") not in (None, "CRYPTO_KEY_VERSION_STATE_UNSPECIFIED", 0):
            raise RpcError("INVALID_ARGUMENT", "crypto_key_version.state must not be set on create")
        return self.add_version(key)

    def get_version(self, request, body, *segments):
        return self.version(*segments)[1].resource(time.time())

    def list_versions(self, request, body, *segments):
        key = self.crypto_key(*segments)
        now = time.time()
        return self.page(request, [v.resource(now) for v in key.versions.values()], "cryptoKeyVersions")

    def update_version(self, request, body, *segments):
        _, version = self.version(*segments)
        now = time.time()
        mask = [m.strip() for m in (request.param("updateMask") or "").split(",") if m.strip()]
        if mask != ["state"]:
            raise RpcError("INVALID_ARGUMENT", "update_mask must be \"state\" (the only mutable field)")
        wanted = enum_field("state", body.get("state", 0), "crypto_key_version.state")
        current = version.state(now)
        if wanted not in ("ENABLED", "DISABLED"):
            raise RpcError("INVALID_ARGUMENT", f"crypto_key_version.state can only be set to ENABLED or DISABLED")
        if current not in ("ENABLED", "DISABLED"):
            raise self.state_precondition(version, current)
        version.set_state(wanted, now)
        return version.resource(now)

    @staticmethod
    def state_precondition(version, current):
        return RpcError("FAILED_PRECONDITION", f"The request cannot be fulfilled. Resource {version.name} has value "
                                               f"{current} in field crypto_key_version.state.")

    def destroy_version(self, request, body, *segments):
        key, version = self.version(*segments)
        now = time.time()
        current = version.state(now)
        if current not in ("ENABLED", "DISABLED"):
            raise self.state_precondition(version, current)
        version.set_state("DESTROY_SCHEDULED", now)
        version.destroy_time = now + key.destroy_duration
        return version.resource(now)

    def restore_version(self, request, body, *segments):
        _, version = self.version(*segments)
        now = time.time()
        current = version.state(now)
        if current != "DESTROY_SCHEDULED":
            raise self.state_precondition(version, current)
        version.set_state("DISABLED", now)
        version.destroy_time = None
        return version.resource(now)

    def enabled(self, *segments):
        key, version = self.version(*segments)
        current = version.state(time.time())
        if current != "ENABLED":
            raise self.state_precondition(version, current)
        return key, version

    def get_public_key(self, request, body, *segments):
        _, version = self.enabled(*segments)
        pem = version.private_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                            serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        return {"pem": pem, "algorithm": version.algorithm, "pemCrc32c": str(crc32c(pem.encode())),
                "name": version.name, "protectionLevel": version.protection_level}

    def asymmetric_sign(self, request, body, *segments):
        _, version = self.enabled(*segments)
        if body.get("data") is not None:
            raise RpcError("INVALID_ARGUMENT", f"Algorithm {version.algorithm} requires a digest, not data.")
        digest = body.get("digest")
        if not isinstance(digest, dict) or len(digest) != 1:
            raise RpcError("INVALID_ARGUMENT", "digest is required and must hold exactly one of sha256, sha384, sha512")
        (kind, value), = digest.items()
        if kind != version.digest:
            raise RpcError("INVALID_ARGUMENT", f"The digest type {kind} does not match the algorithm "
                                               f"{version.algorithm}, which needs {version.digest}.")
        data = b64decode_field(value, f"digest.{kind}")
        if len(data) != DIGEST_SIZES[kind]:
            raise RpcError("INVALID_ARGUMENT", f"Digest length ({len(data)} bytes) does not match the algorithm "
                                               f"{version.algorithm} ({DIGEST_SIZES[kind]} bytes).")
        verified = False
        if body.get("digestCrc32c") is not None:
            if int64_field(body["digestCrc32c"], "digest_crc32c") != crc32c(data):
                raise RpcError("INVALID_ARGUMENT", "The checksum in field digest_crc32c did not match the data in "
                                                   "field digest.")
            verified = True
        prehashed = utils.Prehashed(DIGEST_HASHES[kind]())
        if isinstance(version.private_key, ec.EllipticCurvePrivateKey):
            signature = version.private_key.sign(data, ec.ECDSA(prehashed))
        else:
            signature = version.private_key.sign(data, padding.PKCS1v15(), prehashed)
        return {"signature": base64.b64encode(signature).decode(), "signatureCrc32c": str(crc32c(signature)),
                "verifiedDigestCrc32c": verified, "verifiedDataCrc32c": False, "name": version.name,
                "protectionLevel": version.protection_level}


def main():
    parser = fake_common.base_arguments("A protocol-level fake of Google Cloud KMS REST v1 and Google's token endpoints.")
    parser.add_argument("--pending-seconds", type=float, default=0.2,
                        help="how long a new key version stays PENDING_GENERATION (default 0.2)")
    parser.add_argument("--token-ttl", type=float, default=3600, help="lifetime of issued access tokens (default 3600)")
    parser.add_argument("--project", default="fake-project", help="project of the generated service account")
    parser.add_argument("--service-account", default="keycoord-test", help="account id of the generated service account")
    parser.add_argument("--audience", default="//iam.googleapis.com/projects/100000000001/locations/global/"
                                              "workloadIdentityPools/fake-pool/providers/fake-provider",
                        help="the workload identity provider STS accepts as audience")
    parser.add_argument("--accept-subject-token", help="the subject token STS accepts (default: a random one, written "
                                                       "to STATE_DIR/subject-token)")
    args = parser.parse_args()
    if args.pending_seconds < 0 or args.token_ttl <= 0 or args.max_body_bytes <= 0:
        parser.error("--pending-seconds must be >= 0, --token-ttl and --max-body-bytes > 0")

    def make_app(port):
        app = GcpKmsFake(port, args)
        if args.state_dir:
            app.write_state_files(args.state_dir)
        return app

    return fake_common.serve(args, make_app)


if __name__ == "__main__":
    sys.exit(main())

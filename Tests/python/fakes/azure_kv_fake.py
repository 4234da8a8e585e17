#!/usr/bin/env python3
"""A protocol-level fake of Azure Key Vault keys (REST 7.4) over HTTPS, with the Entra ID
token endpoint (client secret, client assertion), the authority discovery documents MSAL
reads, and the IMDS managed-identity token path. Written from the public REST reference;
keys and signatures are real (PyCA cryptography). The contract is in README.md beside
this file.

  python3 azure_kv_fake.py --port-file PATH --state-dir DIR [--tenant T] [--client-id C]
                           [--client-secret S] [--accept-assertion A] [--token-ttl 3600]
"""
import base64
import datetime
import ipaddress
import json
import os
import re
import secrets
import ssl
import sys
import threading
import time
import urllib.parse
import uuid

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

import fake_common
from fake_common import App, Response, b64url, bearer_token

VAULT_RESOURCE = "https://vault.azure.net"
VAULT_SCOPE = VAULT_RESOURCE + "/.default"
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# 7.4 is the reference; later versions only add fields this fake does not serve. The SDK's
# own default (a dated version) is accepted so a client left on its default works.
API_VERSIONS = {"7.0", "7.1", "7.2", "7.3", "7.4", "7.5", "7.6", "2025-07-01"}
NAME_PATTERN = re.compile(r"^[0-9a-zA-Z-]{1,127}$")
CURVES = {"P-256": (ec.SECP256R1, "ES256"), "P-384": (ec.SECP384R1, "ES384"), "P-521": (ec.SECP521R1, "ES512")}
RSA_SIZES = (2048, 3072, 4096)
KEY_OPS = {"encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey", "import", "export"}
DEFAULT_KEY_OPS = {"EC": ["sign", "verify"], "RSA": ["encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"]}
# alg -> (hash, digest bytes, key family, padding for RSA)
SIGN_ALGORITHMS = {
    "ES256": (hashes.SHA256, 32, "EC", None), "ES384": (hashes.SHA384, 48, "EC", None),
    "ES512": (hashes.SHA512, 64, "EC", None),
    "RS256": (hashes.SHA256, 32, "RSA", "pkcs1"), "RS384": (hashes.SHA384, 48, "RSA", "pkcs1"),
    "RS512": (hashes.SHA512, 64, "RSA", "pkcs1"),
    "PS256": (hashes.SHA256, 32, "RSA", "pss"), "PS384": (hashes.SHA384, 48, "RSA", "pss"),
    "PS512": (hashes.SHA512, 64, "RSA", "pss"),
}
MAX_TAGS = 15
MAX_RESULTS = 25
RECOVERY_LEVEL = "Recoverable+Purgeable"
ERROR_CODES = {400: "BadParameter", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "BadParameter",
               409: "Conflict", 411: "BadParameter", 413: "RequestEntityTooLarge", 429: "Throttled",
               500: "InternalServerError", 502: "BadGateway", 503: "ServiceUnavailable", 504: "GatewayTimeout"}
OAUTH_FAULT_ERRORS = {400: "invalid_request", 401: "invalid_client", 429: "temporarily_unavailable",
                      500: "server_error", 503: "temporarily_unavailable"}
# Handlers that take the lock themselves, to do slow work (key generation) outside it.
LOCKS_ITSELF = {"createKey"}
TOKEN_OPERATIONS = ("token", "imds", "openidConfiguration", "instanceDiscovery")


class VaultError(Exception):
    def __init__(self, status, code, message, inner=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.inner = inner


class OAuthError(Exception):
    def __init__(self, status, error, code, description):
        super().__init__(description)
        self.status = status
        self.error = error
        self.code = code
        self.description = description


def b64url_decode(value, field):
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_\-+/]*={0,2}", value):
        raise VaultError(400, "BadParameter", f"Property {field} is not valid base64url")
    text = value.rstrip("=").replace("+", "-").replace("/", "_")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        raise VaultError(400, "BadParameter", f"Property {field} is not valid base64url") from None


def int_bytes(number):
    return number.to_bytes((number.bit_length() + 7) // 8 or 1, "big")


def make_tls_files(directory):
    """A throwaway CA and a server certificate for 127.0.0.1, ::1 and localhost."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "azure-kv-fake throwaway CA")])
    ca_cert = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=7))
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                            content_commitment=False, key_encipherment=False, data_encipherment=False,
                                            key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
               .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    sans = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address("::1"))]
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=7))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=False, crl_sign=False,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    fake_common.write_atomically(os.path.join(directory, "ca.pem"), ca_cert.public_bytes(pem), 0o644)
    cert_path, key_path = os.path.join(directory, "server.pem"), os.path.join(directory, "server-key.pem")
    fake_common.write_atomically(cert_path, cert.public_bytes(pem) + ca_cert.public_bytes(pem), 0o644)
    fake_common.write_atomically(key_path, key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                             serialization.NoEncryption()))
    return cert_path, key_path


class KeyVersion:
    def __init__(self, name, version, kty, crv, size, key_ops, attributes, tags):
        self.name = name
        self.version = version
        self.kty = kty
        self.crv = crv
        self.size = size
        self.key_ops = key_ops
        now = int(time.time())
        self.enabled = attributes.get("enabled", True)
        self.nbf = attributes.get("nbf")
        self.exp = attributes.get("exp")
        self.created = self.updated = now
        self.tags = tags
        if kty.startswith("EC"):
            self.private_key = ec.generate_private_key(CURVES[crv][0]())
        else:
            self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=size)

    @property
    def family(self):
        return "EC" if self.kty.startswith("EC") else "RSA"

    def jwk(self, base_url):
        body = {"kid": f"{base_url}/keys/{self.name}/{self.version}", "kty": self.kty, "key_ops": list(self.key_ops)}
        public = self.private_key.public_key().public_numbers()
        if self.family == "EC":
            size = (self.private_key.curve.key_size + 7) // 8
            body.update(crv=self.crv, x=b64url(public.x.to_bytes(size, "big")), y=b64url(public.y.to_bytes(size, "big")))
        else:
            body.update(n=b64url(int_bytes(public.n)), e=b64url(int_bytes(public.e)))
        return body

    def attributes(self, recoverable_days):
        body = {"enabled": self.enabled, "created": self.created, "updated": self.updated,
                "recoveryLevel": RECOVERY_LEVEL, "recoverableDays": recoverable_days, "exportable": False}
        if self.nbf is not None:
            body["nbf"] = self.nbf
        if self.exp is not None:
            body["exp"] = self.exp
        return body


class AzureKeyVaultFake(App):
    name = "azure-kv-fake"

    def __init__(self, port, options):
        self.host = f"127.0.0.1:{port}"
        self.base_url = f"https://{self.host}"
        self.tenant = options.tenant
        self.client_id = options.client_id
        self.client_secret = options.client_secret or secrets.token_urlsafe(24)
        self.assertion = options.accept_assertion or "federated-" + secrets.token_urlsafe(24)
        self.recoverable_days = options.recoverable_days
        self.lock = threading.RLock()
        # Both by the name in lower case: Key Vault compares object names case-insensitively.
        # Each version keeps the name as its key was first created.
        self.keys = {}      # name -> [KeyVersion, ...] oldest first
        self.deleted = {}   # name -> {"versions": [...], "deletedDate": t, "scheduledPurgeDate": t}
        self.tokens = fake_common.TokenStore("eyJ.fake-kv-", options.token_ttl,
                                             ("client_secret", "client_assertion", "imds"))
        self.routes = [
            ("POST", re.compile(r"^/keys/([^/]+)/create$"), "createKey", self.create_key),
            ("GET", re.compile(r"^/keys/?$"), "listKeys", self.list_keys),
            ("GET", re.compile(r"^/keys/([^/]+)/versions$"), "listKeyVersions", self.list_versions),
            ("GET", re.compile(r"^/keys/([^/]+)(?:/([^/]*))?$"), "getKey", self.get_key),
            ("PATCH", re.compile(r"^/keys/([^/]+)(?:/([^/]*))?$"), "updateKey", self.update_key),
            ("POST", re.compile(r"^/keys/([^/]+)/([^/]*)/sign$"), "sign", self.sign),
            ("POST", re.compile(r"^/keys/([^/]+)/([^/]*)/verify$"), "verify", self.verify),
            ("DELETE", re.compile(r"^/keys/([^/]+)/?$"), "deleteKey", self.delete_key),
            ("GET", re.compile(r"^/deletedkeys/?$"), "listDeletedKeys", self.list_deleted),
            ("GET", re.compile(r"^/deletedkeys/([^/]+)$"), "getDeletedKey", self.get_deleted),
            ("DELETE", re.compile(r"^/deletedkeys/([^/]+)$"), "purgeDeletedKey", self.purge_deleted),
            ("POST", re.compile(r"^/deletedkeys/([^/]+)/recover$"), "recoverDeletedKey", self.recover_deleted),
        ]

    def write_state_files(self, directory):
        client = {"tenant_id": self.tenant, "client_id": self.client_id, "client_secret": self.client_secret,
                  "authority": self.base_url, "vault_url": self.base_url + "/"}
        fake_common.write_atomically(os.path.join(directory, "client.json"), json.dumps(client, indent=2))
        fake_common.write_atomically(os.path.join(directory, "federated-token"), self.assertion)

    # -- App --------------------------------------------------------------------------------

    def error(self, status, message, operation=None):
        if operation in TOKEN_OPERATIONS:
            return self.oauth_response(OAuthError(status, OAUTH_FAULT_ERRORS.get(status, "server_error"), 0, message))
        return self.vault_response(VaultError(status, ERROR_CODES.get(status, "Unknown"), message))

    def vault_response(self, error):
        body = {"error": {"code": error.code, "message": error.message}}
        if error.inner:
            body["error"]["innererror"] = {"code": error.inner}
        headers = {}
        if error.status == 401:
            headers["WWW-Authenticate"] = f'Bearer authorization="{self.base_url}/{self.tenant}", resource="{VAULT_RESOURCE}"'
        return Response(error.status, body, headers=headers)

    @staticmethod
    def oauth_response(error):
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
        description = f"AADSTS{error.code}: {error.description}" if error.code else error.description
        return Response(error.status, {"error": error.error, "error_description": description,
                                       "error_codes": [error.code] if error.code else [], "timestamp": now,
                                       "trace_id": str(uuid.uuid4()), "correlation_id": str(uuid.uuid4())})

    def route(self, request):
        path = request.path
        if path == "/metadata/identity/oauth2/token":
            return "imds", self.imds
        if path == "/common/discovery/instance":
            return "instanceDiscovery", self.instance_discovery
        match = re.fullmatch(r"/([0-9A-Za-z.-]+)/(?:v2\.0/\.well-known/openid-configuration|oauth2/v2\.0/token)", path)
        if match and not path.startswith(("/keys/", "/deletedkeys/")):
            if path.endswith("/token"):
                return "token", lambda r: self.token(r, match.group(1))
            return "openidConfiguration", lambda r: self.openid_configuration(r, match.group(1))
        for method, pattern, operation, handler in self.routes:
            found = pattern.match(path)
            if found and method == request.method:
                groups = [urllib.parse.unquote(g or "") for g in found.groups()]
                return operation, self.vault_handler(operation, handler, groups)
        if path.startswith(("/keys", "/deletedkeys")):
            return "methodNotAllowed", lambda r: self.vault_response(
                VaultError(405, "BadParameter", f"The requested method {r.method} is not allowed for {path}."))
        return None, None

    def vault_handler(self, operation, handler, groups):
        def run(request):
            try:
                self.authenticate(request)
                version = request.param("api-version")
                if version is None:
                    raise VaultError(400, "BadParameter", "The api-version query parameter is missing.")
                if version not in API_VERSIONS:
                    raise VaultError(400, "BadParameter", f"The specified version ({version}) is not recognized. "
                                                          "Consider using the latest supported version (7.4).")
                body = {}
                if request.method in ("POST", "PATCH", "PUT") and request.body.strip():
                    try:
                        body = json.loads(request.body)
                    except ValueError:
                        raise VaultError(400, "BadParameter", "The request body is not valid JSON.") from None
                    if not isinstance(body, dict):
                        raise VaultError(400, "BadParameter", "The request body must be a JSON object.")
                if groups:
                    self.check_name(groups[0])
                if operation in LOCKS_ITSELF:
                    status, answer = handler(request, body, *groups)
                else:
                    with self.lock:
                        status, answer = handler(request, body, *groups)
                return Response(status, answer if answer is not None else b"")
            except VaultError as error:
                return self.vault_response(error)
        return run

    def state(self):
        with self.lock:
            def describe(version):
                return {"version": version.version, "kty": version.kty, "crv": version.crv, "key_size": version.size,
                        "enabled": version.enabled, "tags": dict(version.tags), "key_ops": list(version.key_ops)}
            return {
                "keys": {versions[0].name: [describe(v) for v in versions] for versions in self.keys.values()},
                "deletedKeys": {entry["versions"][0].name: {"versions": [describe(v) for v in entry["versions"]],
                                       "deletedDate": entry["deletedDate"],
                                       "scheduledPurgeDate": entry["scheduledPurgeDate"]}
                                for entry in self.deleted.values()},
                "tokensIssued": self.tokens.issued(),
                "tenant": self.tenant, "clientId": self.client_id,
            }

    def reset(self, options):
        with self.lock:
            if options.get("keys"):
                self.keys.clear()
                self.deleted.clear()
            if options.get("keys") or options.get("tokens"):
                self.tokens.clear()

    # -- tokens -----------------------------------------------------------------------------

    def authenticate(self, request):
        token = bearer_token(request)
        if token is None:
            raise VaultError(401, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.")
        known = self.tokens.check(token)
        if known == "unknown":
            raise VaultError(401, "Unauthorized", "AKV10022: Invalid token: not issued by this tenant.")
        if known == "expired":
            raise VaultError(401, "Unauthorized", "AKV10032: Token has expired.")

    def form(self, request):
        if request.method != "POST":
            raise OAuthError(405, "invalid_request", 900561, "The endpoint only accepts POST requests.")
        try:
            return fake_common.form_fields(request.body)
        except UnicodeDecodeError:
            raise OAuthError(400, "invalid_request", 900144, "The request body is not UTF-8.") from None

    def token(self, request, tenant):
        try:
            form = self.form(request)
            if tenant != self.tenant:
                raise OAuthError(400, "invalid_tenant", 90002, f"Tenant '{tenant}' not found.")
            if form.get("grant_type") != "client_credentials":
                raise OAuthError(400, "unsupported_grant_type", 70003,
                                 f"The app requested an unsupported grant type '{form.get('grant_type', '')}'.")
            if form.get("client_id") != self.client_id:
                raise OAuthError(400, "unauthorized_client", 700016,
                                 f"Application with identifier '{form.get('client_id', '')}' was not found.")
            if VAULT_SCOPE not in (form.get("scope") or "").split():
                raise OAuthError(400, "invalid_scope", 70011, "The provided value for the input parameter 'scope' is "
                                                              f"not valid: only {VAULT_SCOPE} is served.")
            if "client_secret" in form:
                if not secrets.compare_digest(form["client_secret"].encode(), self.client_secret.encode()):
                    raise OAuthError(401, "invalid_client", 7000215, "Invalid client secret provided.")
                source = "client_secret"
            elif "client_assertion" in form:
                if form.get("client_assertion_type") != CLIENT_ASSERTION_TYPE:
                    raise OAuthError(400, "invalid_request", 700024, "client_assertion_type must be "
                                                                     + CLIENT_ASSERTION_TYPE)
                if not secrets.compare_digest(form["client_assertion"].encode(), self.assertion.encode()):
                    raise OAuthError(401, "invalid_client", 700213, "No matching federated identity record found "
                                                                    "for presented assertion.")
                source = "client_assertion"
            else:
                raise OAuthError(401, "invalid_client", 7000218, "The request body must contain the following "
                                                                 "parameter: 'client_assertion' or 'client_secret'.")
        except OAuthError as error:
            return self.oauth_response(error)
        return Response(200, {"token_type": "Bearer", "expires_in": int(self.tokens.ttl),
                              "ext_expires_in": int(self.tokens.ttl), "access_token": self.tokens.issue(source)})

    def openid_configuration(self, request, tenant):
        if tenant != self.tenant:
            return self.oauth_response(OAuthError(400, "invalid_tenant", 90002, f"Tenant '{tenant}' not found."))
        root = f"{self.base_url}/{tenant}"
        return Response(200, {
            "issuer": f"{root}/v2.0", "token_endpoint": f"{root}/oauth2/v2.0/token",
            "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{root}/oauth2/v2.0/devicecode",
            "jwks_uri": f"{self.base_url}/{tenant}/discovery/v2.0/keys",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "subject_types_supported": ["pairwise"], "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "tenant_region_scope": "NA", "cloud_instance_name": "127.0.0.1",
        })

    def instance_discovery(self, request):
        return Response(200, {
            "tenant_discovery_endpoint": f"{self.base_url}/{self.tenant}/v2.0/.well-known/openid-configuration",
            "api-version": "1.1",
            "metadata": [{"preferred_network": self.host, "preferred_cache": self.host, "aliases": [self.host]}],
        })

    def imds(self, request):
        try:
            if request.method != "GET":
                raise OAuthError(405, "invalid_request", 0, "Only GET is supported.")
            if request.header("Metadata") != "true":
                raise OAuthError(400, "invalid_request", 0, "Required metadata header not specified")
            if not request.param("api-version"):
                raise OAuthError(400, "invalid_request", 0, "Required query variable 'api-version' is missing")
            resource = request.param("resource")
            if not resource:
                raise OAuthError(400, "invalid_request", 0, "Required query variable 'resource' is missing")
            if resource.rstrip("/") != VAULT_RESOURCE:
                raise OAuthError(400, "invalid_resource", 0, f"The resource '{resource}' is not served here.")
        except OAuthError as error:
            return self.oauth_response(error)
        now, ttl = int(time.time()), int(self.tokens.ttl)
        return Response(200, {"access_token": self.tokens.issue("imds"), "client_id": self.client_id,
                              "expires_in": str(ttl), "expires_on": str(now + ttl), "ext_expires_in": str(ttl),
                              "not_before": str(now), "resource": resource, "token_type": "Bearer"})

    # -- keys -------------------------------------------------------------------------------

    @staticmethod
    def check_name(name):
        if not NAME_PATTERN.match(name):
            raise VaultError(400, "BadParameter", f"The request URI contains an invalid name: {name}")

    def not_found(self, name, version=None):
        ident = f"{name}/{version}" if version else name
        return VaultError(404, "KeyNotFound", f"A key with (name/id) {ident} was not found in this key vault. If you "
                                              "recently deleted this key you may be able to recover it using the "
                                              "correct recovery command.")

    def find(self, name, version):
        versions = self.keys.get(name.lower())
        if not versions:
            raise self.not_found(name)
        if not version:
            return versions[-1]
        for candidate in versions:
            if candidate.version == version:
                return candidate
        raise self.not_found(name, version)

    def bundle(self, version):
        body = {"key": version.jwk(self.base_url), "attributes": version.attributes(self.recoverable_days)}
        if version.tags:
            body["tags"] = dict(version.tags)
        return body

    def item(self, version, with_version):
        kid = f"{self.base_url}/keys/{version.name}" + (f"/{version.version}" if with_version else "")
        body = {"kid": kid, "attributes": version.attributes(self.recoverable_days)}
        if version.tags:
            body["tags"] = dict(version.tags)
        return body

    @staticmethod
    def validate_attributes(attributes):
        if not isinstance(attributes, dict):
            raise VaultError(400, "BadParameter", "Property attributes must be an object.")
        for field in ("nbf", "exp"):
            value = attributes.get(field)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                raise VaultError(400, "BadParameter", f"Property attributes.{field} must be a Unix time in seconds.")
        if "enabled" in attributes and not isinstance(attributes["enabled"], bool):
            raise VaultError(400, "BadParameter", "Property attributes.enabled must be a boolean.")
        return attributes

    @staticmethod
    def validate_key_ops(key_ops):
        if not isinstance(key_ops, list) or not all(isinstance(op, str) and op in KEY_OPS for op in key_ops):
            raise VaultError(400, "BadParameter", f"Property key_ops has an invalid value: {key_ops}.")
        return list(key_ops)

    @staticmethod
    def validate_tags(tags):
        if not isinstance(tags, dict) or len(tags) > MAX_TAGS:
            raise VaultError(400, "BadParameter", f"Tags must be an object of at most {MAX_TAGS} entries.")
        for key, value in tags.items():
            if not (1 <= len(key) <= 512) or not isinstance(value, str) or len(value) > 256:
                raise VaultError(400, "BadParameter", "A tag name is 1-512 characters and its value a string of "
                                                      "at most 256.")
        return dict(tags)

    def create_key(self, request, body, name):
        kty = body.get("kty")
        if not isinstance(kty, str) or kty not in ("EC", "EC-HSM", "RSA", "RSA-HSM"):
            raise VaultError(400, "BadParameter", f"Property kty has an invalid value: {kty}. "
                                                  "This fake serves EC, EC-HSM, RSA and RSA-HSM.")
        family = "EC" if kty.startswith("EC") else "RSA"
        crv, size = None, None
        if family == "EC":
            crv = body.get("crv", "P-256")
            if not isinstance(crv, str) or crv not in CURVES:
                raise VaultError(400, "BadParameter", f"Property crv has an invalid value: {crv}.")
        else:
            size = body.get("key_size", 2048)
            if not isinstance(size, int) or isinstance(size, bool) or size not in RSA_SIZES:
                raise VaultError(400, "BadParameter", f"Property key_size has an invalid value: {size}.")
            if body.get("public_exponent", 65537) != 65537:
                raise VaultError(400, "BadParameter", "Only public_exponent 65537 is supported.")
        key_ops = self.validate_key_ops(body.get("key_ops") or DEFAULT_KEY_OPS[family])
        attributes = self.validate_attributes(body.get("attributes") or {})
        tags = self.validate_tags(body.get("tags") or {})
        with self.lock:
            self.check_not_deleted(name)
        # Generated outside the lock: an RSA-4096 key takes a while and must not stall other calls.
        with self.lock:
            name = self.keys[name.lower()][0].name if name.lower() in self.keys else name
        version = KeyVersion(name, uuid.uuid4().hex, kty, crv, size, key_ops, attributes, tags)
        with self.lock:
            self.check_not_deleted(name)
            self.keys.setdefault(name.lower(), []).append(version)
            return 200, self.bundle(version)

    def check_not_deleted(self, name):
        if name.lower() in self.deleted:
            raise VaultError(409, "Conflict", f"Key {name} is currently in a deleted but recoverable state, and its "
                                              "name cannot be reused; in this state, the key can only be recovered or "
                                              "purged.", "ObjectIsDeletedButRecoverable")

    def get_key(self, request, body, name, version):
        return 200, self.bundle(self.find(name, version))

    def page(self, request, items, path):
        maximum = request.param("maxresults", str(MAX_RESULTS))
        if not re.fullmatch(r"[0-9]{1,3}", maximum) or not 1 <= int(maximum) <= MAX_RESULTS:
            raise VaultError(400, "BadParameter", f"invalid maxresults: {maximum}; it must be 1-{MAX_RESULTS}.")
        maximum = int(maximum)
        skip = request.param("$skiptoken", "0")
        if not re.fullmatch(r"[0-9]{1,9}", skip):
            raise VaultError(400, "BadParameter", "The $skiptoken is not valid.")
        start = int(skip)
        answer = {"value": items[start:start + maximum], "nextLink": None}
        if start + maximum < len(items):
            query = urllib.parse.urlencode({"api-version": request.param("api-version"), "$skiptoken": start + maximum,
                                            "maxresults": maximum})
            answer["nextLink"] = f"{self.base_url}{path}?{query}"
        return 200, answer

    def list_keys(self, request, body):
        return self.page(request, [self.item(self.keys[n][-1], False) for n in sorted(self.keys)], "/keys")

    def list_versions(self, request, body, name):
        if name.lower() not in self.keys:
            raise self.not_found(name)
        return self.page(request, [self.item(v, True) for v in self.keys[name.lower()]], f"/keys/{name}/versions")

    def update_key(self, request, body, name, version):
        target = self.find(name, version)
        attributes = self.validate_attributes(body.get("attributes") or {})
        tags = self.validate_tags(body["tags"]) if body.get("tags") is not None else None
        key_ops = self.validate_key_ops(body["key_ops"]) if body.get("key_ops") is not None else None
        if "enabled" in attributes:
            target.enabled = attributes["enabled"]
        for field in ("nbf", "exp"):
            if field in attributes:
                setattr(target, field, attributes[field])
        if tags is not None:
            target.tags = tags
        if key_ops is not None:
            target.key_ops = list(key_ops)
        target.updated = int(time.time())
        return 200, self.bundle(target)

    def usable(self, name, version, operation):
        target = self.find(name, version)
        now = time.time()
        if not target.enabled:
            raise VaultError(403, "Forbidden", f"Operation {operation} is not allowed on a disabled key.", "KeyDisabled")
        if (target.nbf is not None and now < target.nbf) or (target.exp is not None and now >= target.exp):
            raise VaultError(403, "Forbidden", f"Operation {operation} is not allowed: the key is not yet valid or "
                                               "has expired.", "KeyExpired")
        if operation not in target.key_ops:
            raise VaultError(403, "Forbidden", f"Operation {operation} is not allowed on this key.",
                             "KeyOperationForbidden")
        return target

    @staticmethod
    def algorithm(target, body, field):
        alg = body.get("alg")
        if not isinstance(alg, str) or alg not in SIGN_ALGORITHMS:
            raise VaultError(400, "BadParameter", f"Property alg has an invalid value: {alg}.")
        digest_hash, size, family, scheme = SIGN_ALGORITHMS[alg]
        if family != target.family or (family == "EC" and CURVES[target.crv][1] != alg):
            raise VaultError(400, "BadParameter", f"Algorithm {alg} is not supported for this key "
                                                  f"({target.kty} {target.crv or target.size}).")
        digest = b64url_decode(body.get(field), field)
        if len(digest) != size:
            raise VaultError(400, "BadParameter", f"Invalid length of the digest: {len(digest)} bytes, {alg} takes "
                                                  f"{size}.")
        prehashed = utils.Prehashed(digest_hash())
        if scheme == "pss":
            return digest, prehashed, padding.PSS(mgf=padding.MGF1(digest_hash()), salt_length=size)
        return digest, prehashed, padding.PKCS1v15() if scheme else None

    def sign(self, request, body, name, version):
        target = self.usable(name, version, "sign")
        digest, prehashed, rsa_padding = self.algorithm(target, body, "value")
        if target.family == "EC":
            r, s = utils.decode_dss_signature(target.private_key.sign(digest, ec.ECDSA(prehashed)))
            size = (target.private_key.curve.key_size + 7) // 8
            signature = r.to_bytes(size, "big") + s.to_bytes(size, "big")
        else:
            signature = target.private_key.sign(digest, rsa_padding, prehashed)
        return 200, {"kid": f"{self.base_url}/keys/{target.name}/{target.version}", "value": b64url(signature)}

    def verify(self, request, body, name, version):
        target = self.usable(name, version, "verify")
        digest, prehashed, rsa_padding = self.algorithm(target, body, "digest")
        signature = b64url_decode(body.get("value"), "value")
        public = target.private_key.public_key()
        try:
            if target.family == "EC":
                size = (target.private_key.curve.key_size + 7) // 8
                if len(signature) != 2 * size:
                    return 200, {"value": False}
                der = utils.encode_dss_signature(int.from_bytes(signature[:size], "big"),
                                                 int.from_bytes(signature[size:], "big"))
                public.verify(der, digest, ec.ECDSA(prehashed))
            else:
                public.verify(signature, digest, rsa_padding, prehashed)
        except InvalidSignature:
            return 200, {"value": False}
        return 200, {"value": True}

    def deleted_bundle(self, entry, full=True):
        latest = entry["versions"][-1]
        body = self.bundle(latest) if full else self.item(latest, False)
        body.update(recoveryId=f"{self.base_url}/deletedkeys/{latest.name}", deletedDate=entry["deletedDate"],
                    scheduledPurgeDate=entry["scheduledPurgeDate"])
        return body

    def delete_key(self, request, body, name):
        if name.lower() not in self.keys:
            raise self.not_found(name)
        now = int(time.time())
        entry = {"versions": self.keys.pop(name.lower()), "deletedDate": now,
                 "scheduledPurgeDate": now + self.recoverable_days * 86400}
        self.deleted[name.lower()] = entry
        return 200, self.deleted_bundle(entry)

    def deleted_entry(self, name):
        if name.lower() not in self.deleted:
            raise VaultError(404, "KeyNotFound", f"Deleted Key not found: {name}")
        return self.deleted[name.lower()]

    def get_deleted(self, request, body, name):
        return 200, self.deleted_bundle(self.deleted_entry(name))

    def list_deleted(self, request, body):
        return self.page(request, [self.deleted_bundle(self.deleted[n], full=False) for n in sorted(self.deleted)],
                         "/deletedkeys")

    def purge_deleted(self, request, body, name):
        self.deleted_entry(name)
        del self.deleted[name.lower()]
        return 204, None

    def recover_deleted(self, request, body, name):
        entry = self.deleted_entry(name)
        if name.lower() in self.keys:
            raise VaultError(409, "Conflict", f"Key {name} already exists.")
        self.keys[name.lower()] = entry["versions"]
        del self.deleted[name.lower()]
        return 200, self.bundle(entry["versions"][-1])


def main():
    parser = fake_common.base_arguments("A protocol-level fake of Azure Key Vault keys (REST 7.4) and Entra ID tokens.")
    parser.add_argument("--tls-cert", help="server certificate chain PEM (default: generated, needs --state-dir)")
    parser.add_argument("--tls-key", help="server private key PEM")
    parser.add_argument("--tenant", default="11111111-2222-3333-4444-555555555555", help="the one tenant served")
    parser.add_argument("--client-id", default="00000000-0000-0000-0000-0000000c11e7", help="the one client id served")
    parser.add_argument("--client-secret", help="the accepted client secret (default: random, in STATE_DIR/client.json)")
    parser.add_argument("--accept-assertion", help="the accepted client assertion (default: random, in "
                                                   "STATE_DIR/federated-token)")
    parser.add_argument("--token-ttl", type=float, default=3600, help="lifetime of issued tokens (default 3600)")
    parser.add_argument("--recoverable-days", type=int, default=90, help="soft-delete retention (default 90)")
    args = parser.parse_args()
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    if not args.tls_cert and not args.state_dir:
        parser.error("HTTPS needs --tls-cert/--tls-key or --state-dir (to generate a throwaway CA)")
    if args.token_ttl <= 0 or args.max_body_bytes <= 0 or not 7 <= args.recoverable_days <= 90:
        parser.error("--token-ttl and --max-body-bytes must be > 0, --recoverable-days 7-90")
    if args.state_dir:
        os.makedirs(args.state_dir, exist_ok=True)
    cert, key = (args.tls_cert, args.tls_key) if args.tls_cert else make_tls_files(args.state_dir)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)

    def make_app(port):
        app = AzureKeyVaultFake(port, args)
        if args.state_dir:
            app.write_state_files(args.state_dir)
        return app

    return fake_common.serve(args, make_app, context)


if __name__ == "__main__":
    sys.exit(main())

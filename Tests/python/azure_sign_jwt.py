"""Signs JWTs through the Azure Key Vault fake with Microsoft's own SDK (CryptographyClient).

stdin: {"url", "ca_file", "tenant_id", "client_id", "client_secret",
        "tokens": [{"key_path": "/keys/NAME/VERSION", "alg": "ES256"|"RS256", "kid", "claims"}]}
stdout: {"tokens": ["header.payload.signature", ...]}
"""
import base64
import hashlib
import json
import sys

from azure.identity import ClientSecretCredential
from azure.keyvault.keys.crypto import CryptographyClient, SignatureAlgorithm


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def main() -> None:
    request = json.load(sys.stdin)
    credential = ClientSecretCredential(request["tenant_id"], request["client_id"], request["client_secret"],
                                        authority=request["url"], disable_instance_discovery=True,
                                        connection_verify=request["ca_file"])
    tokens = []
    for item in request["tokens"]:
        header = b64url(json.dumps({"alg": item["alg"], "kid": item["kid"], "typ": "JWT"}).encode())
        payload = b64url(json.dumps(item["claims"]).encode())
        signing_input = f"{header}.{payload}".encode()
        client = CryptographyClient(request["url"] + item["key_path"], credential, api_version="7.4",
                                    verify_challenge_resource=False, connection_verify=request["ca_file"])
        # Key Vault answers EC signatures as raw R||S: the JWS form as is.
        result = client.sign(SignatureAlgorithm(item["alg"]), hashlib.sha256(signing_input).digest())
        tokens.append(f"{header}.{payload}.{b64url(result.signature)}")
    json.dump({"tokens": tokens}, sys.stdout)


if __name__ == "__main__":
    main()

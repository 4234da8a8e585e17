"""Verifies JWTs against a JWKS with joserfc, an independent JOSE implementation.

stdin: {"jwks": {...}, "tokens": ["..."]}
stdout: {"results": [{"ok": bool, "kid": str|None, "claims": {...}|None, "error": str|None}]}
"""
import json
import sys

from joserfc import jwt
from joserfc.jwk import KeySet


def main() -> None:
    request = json.load(sys.stdin)
    key_set = KeySet.import_key_set(request["jwks"])
    results = []
    for token in request["tokens"]:
        try:
            decoded = jwt.decode(token, key_set, algorithms=["ES256", "ES384", "RS256"])
            results.append({"ok": True, "kid": decoded.header.get("kid"), "claims": decoded.claims, "error": None})
        except Exception as error:  # every failure is a result, not a crash
            results.append({"ok": False, "kid": None, "claims": None, "error": f"{type(error).__name__}: {error}"})
    json.dump({"results": results}, sys.stdout)


if __name__ == "__main__":
    main()

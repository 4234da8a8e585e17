"""Validates openapi.yaml (OpenAPI 3.1) and lists its operations.

stdin: {"path": "<openapi.yaml>", "identifiers": ["spire-1", ...]}
stdout: {"operations": [["GET", "/keys", "<the path's server URL>"], ...],
         "identifiers": {"spire-1": true, ...}}  (whether each matches the Identifier pattern)
"""
import json
import re
import sys

import yaml
from openapi_spec_validator import validate


def main() -> None:
    request = json.load(sys.stdin)
    with open(request["path"], encoding="utf-8") as handle:
        document = yaml.safe_load(handle)
    validate(document)
    operations = []
    for path, item in document["paths"].items():
        servers = [server["url"] for server in item.get("servers", [])]
        for method in ("get", "put", "post", "delete", "patch", "head", "options"):
            if method in item:
                operations.append([method.upper(), path, servers[0] if len(servers) == 1 else ""])
    pattern = re.compile(document["components"]["schemas"]["Identifier"]["pattern"])
    identifiers = {value: pattern.fullmatch(value) is not None for value in request.get("identifiers", [])}
    json.dump({"operations": sorted(operations), "identifiers": identifiers}, sys.stdout)


if __name__ == "__main__":
    main()

"""Validates openapi.yaml (OpenAPI 3.1) and lists its operations.

stdin: {"path": "<openapi.yaml>"}
stdout: {"operations": [["GET", "/keys"], ...]}
"""
import json
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
        for method in ("get", "put", "post", "delete", "patch", "head", "options"):
            if method in item:
                operations.append([method.upper(), path])
    json.dump({"operations": sorted(operations)}, sys.stdout)


if __name__ == "__main__":
    main()

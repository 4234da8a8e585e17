#!/usr/bin/env python3
"""Signs requests with botocore's own SigV4Auth, for byte-for-byte comparison with
keycoord's SigV4Signer.

stdin: JSON list of cases {method, url, headers: [[name, value], ...], body_b64,
access_key, secret_key, token (or null), region, service, timestamp ("YYYYMMDDTHHMMSSZ")}.
stdout: JSON list of {authorization, canonical_request, headers: [[name, value], ...]}.
The timestamp is pinned by replacing the datetime module botocore.auth reads the clock from.
"""
import base64
import datetime
import json
import sys
import types
from unittest import mock

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


class RecordingSigV4Auth(botocore.auth.SigV4Auth):
    def canonical_request(self, request):
        self.last_canonical_request = super().canonical_request(request)
        return self.last_canonical_request


def sign(case):
    fixed = datetime.datetime.strptime(case["timestamp"], "%Y%m%dT%H%M%SZ")

    class FixedDateTime(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return fixed

    clock = types.SimpleNamespace(datetime=FixedDateTime)
    request = AWSRequest(method=case["method"], url=case["url"], data=base64.b64decode(case["body_b64"]))
    for name, value in case["headers"]:
        request.headers[name] = value  # HTTPHeaders appends: repeated names stay repeated
    credentials = Credentials(case["access_key"], case["secret_key"], case.get("token"))
    auth = RecordingSigV4Auth(credentials, case["service"], case["region"])
    with mock.patch.object(botocore.auth, "datetime", clock):
        auth.add_auth(request)
    return {
        "authorization": request.headers["Authorization"],
        "canonical_request": auth.last_canonical_request,
        "headers": [[k, v] for k, v in request.headers.items()],
    }


def main():
    cases = json.load(sys.stdin)
    json.dump([sign(case) for case in cases], sys.stdout)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Runs a private moto server that verifies SigV4 signatures and IAM permissions.

moto enforces authentication only after INITIAL_NO_AUTH_ACTION_COUNT unauthenticated
requests, and reads that variable in the server process, so this script starts its own
server with it set, spends those requests creating an IAM user with a KMS policy and an
access key, then prints one JSON line {url, access_key, secret_key} and serves until
stdin closes."""
import json
import os
import socket
import subprocess
import sys
import time

import boto3

SETUP_CALLS = 3  # create_user, put_user_policy, create_access_key


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    port = free_port()
    env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT=str(SETUP_CALLS))
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        url = f"http://127.0.0.1:{port}"
        iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1",
                           aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
        iam.create_user(UserName="keycoord")
        iam.put_user_policy(UserName="keycoord", PolicyName="kms", PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}],
        }))
        key = iam.create_access_key(UserName="keycoord")["AccessKey"]
        print(json.dumps({"url": url, "access_key": key["AccessKeyId"], "secret_key": key["SecretAccessKey"]}),
              flush=True)
        sys.stdin.read()
    finally:
        server.kill()  # a throwaway test server: no graceful shutdown needed
        server.wait()


if __name__ == "__main__":
    main()

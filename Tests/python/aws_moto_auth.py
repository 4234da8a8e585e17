#!/usr/bin/env python3
"""Runs a private moto server that verifies SigV4 signatures and IAM permissions.

moto enforces authentication only after INITIAL_NO_AUTH_ACTION_COUNT unauthenticated
requests, and reads that variable in the server process, so this script starts its own
server with it set, spends those requests creating an IAM user with a KMS policy and an
access key (and a role it may assume), then prints one JSON line {url, access_key,
secret_key, session: {access_key, secret_key, token}} and serves until stdin closes. The
session credentials come from an authenticated sts:AssumeRole, so they exercise
X-Amz-Security-Token."""
import json
import os
import socket
import subprocess
import sys
import time

import boto3

SETUP_CALLS = 5  # create_user, put_user_policy, create_access_key, create_role, put_role_policy


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    port = free_port()
    env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT=str(SETUP_CALLS))
    server = subprocess.Popen([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "moto_server.py"), "-H", "127.0.0.1", "-p", str(port)],
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
            "Statement": [{"Effect": "Allow", "Action": ["kms:*", "sts:AssumeRole"], "Resource": "*"}],
        }))
        key = iam.create_access_key(UserName="keycoord")["AccessKey"]
        role = iam.create_role(RoleName="keycoord-signer", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
        }))["Role"]
        iam.put_role_policy(RoleName="keycoord-signer", PolicyName="kms", PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}],
        }))
        sts = boto3.client("sts", endpoint_url=url, region_name="us-east-1",
                           aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
        session = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="keycoord-test")["Credentials"]
        print(json.dumps({"url": url, "access_key": key["AccessKeyId"], "secret_key": key["SecretAccessKey"],
                          "session": {"access_key": session["AccessKeyId"], "secret_key": session["SecretAccessKey"],
                                      "token": session["SessionToken"]}}), flush=True)
        sys.stdin.read()
    finally:
        server.kill()  # a throwaway test server: no graceful shutdown needed
        server.wait()


if __name__ == "__main__":
    main()

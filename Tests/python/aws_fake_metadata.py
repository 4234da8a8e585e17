#!/usr/bin/env python3
"""A fake of the AWS credential endpoints, on one loopback port:
  PUT  /latest/api/token                                    IMDSv2 session token
  GET  /latest/meta-data/iam/security-credentials/[role]    IMDS role name / credentials (token required)
  GET  /ecs/credentials                                     ECS container credentials (Authorization required)
  POST /sts/                                                STS AssumeRoleWithWebIdentity (query protocol, XML)
  GET  /_log                                                the requests seen, as JSON
argv[1]: JSON {ecs_token, web_identity_token, role_arn, lifetime_seconds}. Every
credentials answer carries a fresh AccessKeyId (a counter), so refreshes are visible.
Prints "READY <port>" once listening; serves until stdin closes."""
import datetime
import json
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CONFIG = json.loads(sys.argv[1])
LOCK = threading.Lock()
LOG = []
COUNTER = [0]
IMDS_TOKEN = "imds-session-token"


def fresh(prefix):
    with LOCK:
        COUNTER[0] += 1
        n = COUNTER[0]
    expiration = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=CONFIG["lifetime_seconds"])
    return {
        "AccessKeyId": f"{prefix}{n:04d}",
        "SecretAccessKey": f"secret-{prefix}-{n}",
        "Token": f"token-{prefix}-{n}",
        "Expiration": expiration.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body, content_type="application/json"):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def record(self, form=None):
        with LOCK:
            LOG.append({"method": self.command, "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()}, "form": form})

    def do_PUT(self):
        self.record()
        if self.path == "/latest/api/token" and self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
            self.reply(200, IMDS_TOKEN, "text/plain")
        else:
            self.reply(400, "bad token request", "text/plain")

    def do_GET(self):
        if self.path == "/_log":
            with LOCK:
                self.reply(200, json.dumps(LOG))
            return
        self.record()
        if self.path.startswith("/latest/meta-data/iam/security-credentials/"):
            if self.headers.get("X-aws-ec2-metadata-token") != IMDS_TOKEN:
                self.reply(401, "", "text/plain")
                return
            role = self.path.rsplit("/", 1)[1]
            if role == "":
                self.reply(200, "keycoord-role\n", "text/plain")
            elif role == "keycoord-role":
                self.reply(200, json.dumps(dict(fresh("IMDS"), Code="Success", Type="AWS-HMAC")))
            else:
                self.reply(404, "", "text/plain")
        elif self.path == "/ecs/credentials":
            if self.headers.get("Authorization") != CONFIG["ecs_token"]:
                self.reply(403, json.dumps({"message": "bad token"}))
            else:
                self.reply(200, json.dumps(fresh("ECS")))
        else:
            self.reply(404, "", "text/plain")

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
        form = dict(urllib.parse.parse_qsl(body, keep_blank_values=True))
        self.record(form)
        if self.path != "/sts/" or form.get("Action") != "AssumeRoleWithWebIdentity":
            self.reply(400, "<ErrorResponse><Error><Code>InvalidAction</Code><Message>no</Message></Error></ErrorResponse>",
                       "text/xml")
            return
        if form.get("WebIdentityToken") != CONFIG["web_identity_token"] or form.get("RoleArn") != CONFIG["role_arn"]:
            self.reply(400, "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code>"
                            "<Message>token &amp; role do not match</Message></Error>"
                            "<RequestId>r-1</RequestId></ErrorResponse>", "text/xml")
            return
        creds = fresh("STS")
        self.reply(200, f"""<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <Credentials>
      <AccessKeyId>{creds["AccessKeyId"]}</AccessKeyId>
      <SecretAccessKey>{creds["SecretAccessKey"]}</SecretAccessKey>
      <SessionToken>{creds["Token"]}</SessionToken>
      <Expiration>{creds["Expiration"]}</Expiration>
    </Credentials>
    <AssumedRoleUser><Arn>{CONFIG["role_arn"]}/{form.get("RoleSessionName")}</Arn></AssumedRoleUser>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>r-2</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>""", "text/xml")


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(f"READY {server.server_address[1]}", flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()
    server.shutdown()


if __name__ == "__main__":
    main()

"""What the plugin tests against a sidecar share: the proto classes (generated with
grpcio-tools' protoc into a temporary directory), a plugin process launched as go-plugin's
host does, and a `keycoord serve` sidecar process."""
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

import grpc
from cryptography.hazmat.primitives import hashes
from grpc_tools import protoc

_FILES = ["spire/plugin/server/keymanager/v1/keymanager.proto", "spire/service/common/config/v1/config.proto",
          "spire/service/private/init/v1/init.proto", "goplugin/grpc_controller.proto"]


def load_protos(proto_dir):
    out = tempfile.mkdtemp()
    include = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    if protoc.main(["protoc", "-I" + proto_dir, "-I" + include, "--python_out=" + out] + _FILES) != 0:
        sys.exit("protoc failed")
    sys.path.insert(0, out)
    from spire.plugin.server.keymanager.v1 import keymanager_pb2 as km
    from spire.service.common.config.v1 import config_pb2 as cfg
    from goplugin import grpc_controller_pb2 as controller
    return km, cfg, controller


KM = "/spire.plugin.server.keymanager.v1.KeyManager/"


class Checks:
    """Counts passed checks; the first failed one ends the script with its message."""

    def __init__(self):
        self.count = 0

    def expect(self, condition, message):
        if not condition:
            print("FAIL: " + message, file=sys.stderr)
            sys.exit(1)
        self.count += 1


def sha(data, algorithm=hashes.SHA256):
    digest = hashes.Hash(algorithm())
    digest.update(data)
    return digest.finalize()


class Plugin:
    """One plugin process and a channel to it; `call` raises grpc.RpcError on a status."""

    def __init__(self, executable, protos):
        self.km, self.cfg, self.controller = protos
        env = dict(os.environ, KeyManager="KeyManager", PLUGIN_PROTOCOL_VERSIONS="1", PLUGIN_MIN_PORT="10000",
                   PLUGIN_MAX_PORT="25000")
        self.process = subprocess.Popen([executable], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
        self.stderr_lines = []
        threading.Thread(target=lambda: self.stderr_lines.extend(self.process.stderr), daemon=True).start()
        parts = self.process.stdout.readline().strip().split("|")
        if len(parts) < 5:
            raise RuntimeError("no handshake line; stderr: %r" % self.stderr_lines)
        self.channel = grpc.insecure_channel("unix:" + parts[3])

    def call(self, path, request, response_type, timeout=20):
        method = self.channel.unary_unary(path, request_serializer=lambda m: m.SerializeToString(),
                                          response_deserializer=response_type.FromString)
        return method(request, timeout=timeout)

    def status(self, path, request, response_type):
        try:
            self.call(path, request, response_type)
        except grpc.RpcError as error:
            return error.code(), error.details()
        return grpc.StatusCode.OK, ""

    def configure(self, trust_domain, data):
        hcl = "".join('%s = "%s"\n' % (name, value) for name, value in data.items())
        self.call("/spire.service.common.config.v1.Config/Configure",
                  self.cfg.ConfigureRequest(core_configuration=self.cfg.CoreConfiguration(trust_domain=trust_domain),
                                            hcl_configuration=hcl), self.cfg.ConfigureResponse)

    def generate(self, key_id, key_type):
        return self.call(KM + "GenerateKey", self.km.GenerateKeyRequest(key_id=key_id, key_type=key_type),
                         self.km.GenerateKeyResponse).public_key

    def public_key(self, key_id):
        return self.call(KM + "GetPublicKey", self.km.GetPublicKeyRequest(key_id=key_id),
                         self.km.GetPublicKeyResponse).public_key

    def sign(self, key_id, digest, hash_algorithm=None, pss=None):
        if pss is not None:
            request = self.km.SignDataRequest(key_id=key_id, data=digest, pss_options=pss)
        else:
            request = self.km.SignDataRequest(key_id=key_id, data=digest, hash_algorithm=hash_algorithm)
        return self.call(KM + "SignData", request, self.km.SignDataResponse)

    def stop(self):
        try:
            self.call("/plugin.GRPCController/Shutdown", self.controller.Empty(), self.controller.Empty)
        except grpc.RpcError:
            pass
        self.channel.close()
        code = self.process.wait(timeout=10)
        if code != 0:
            raise RuntimeError("plugin exited %d; stderr: %r" % (code, self.stderr_lines))


class Sidecar:
    """`keycoord serve` with the embedded file store and the disk backend, the control API on
    a unix socket unless `control_listen` names another address; its public and control
    addresses come from the start-up log line."""

    def __init__(self, binary, state_dir, extra=(), control_listen=None, instance="sidecar-1"):
        self.state_dir = state_dir
        self.control_socket = os.path.join(state_dir, "control.sock")
        os.makedirs(state_dir, exist_ok=True)
        args = [binary, "serve", "--state-dir", state_dir, "--public-listen", "127.0.0.1:0",
                "--control-listen", control_listen or "unix:" + self.control_socket, "--instance-id", instance,
                "--trust-domain", "example.org", "--log-format", "json"] + list(extra)
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 60
        self.public_port = None
        self.log = []
        while time.time() < deadline:
            line = self.process.stderr.readline()
            if not line:
                break
            self.log.append(line)
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("msg") == "keycoord serving":
                self.public_port = int(record["public"].rsplit(":", 1)[1])
                self.control_address = record["control"]
                break
        if self.public_port is None:
            self.process.kill()
            raise RuntimeError("keycoord serve did not start: %s" % "".join(self.log))
        threading.Thread(target=lambda: self.log.extend(self.process.stderr), daemon=True).start()
        self.token_file = os.path.join(state_dir, "control-token")
        self.keys_dir = os.path.join(state_dir, "keys")

    def control(self, method, path, body=None):
        """One control API call over the unix socket; (status, parsed JSON body)."""
        import http.client
        import socket

        class UnixConnection(http.client.HTTPConnection):
            def connect(inner):
                inner.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                inner.sock.connect(self.control_socket)

        token = open(self.token_file).read().strip()
        connection = UnixConnection("localhost", timeout=20)
        payload = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": "Bearer " + token}
        if payload is not None:
            headers["Content-Type"] = "application/json"
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        data = response.read()
        connection.close()
        return response.status, (json.loads(data) if data else None)

    def jwks(self):
        import urllib.request
        with urllib.request.urlopen("http://127.0.0.1:%d/.well-known/jwks.json" % self.public_port, timeout=20) as r:
            return json.loads(r.read())

    def plugin_data(self, server_id, keys_path):
        return {"control_url": "unix://" + self.control_socket, "token_file": self.token_file, "server_id": server_id,
                "keys_path": keys_path, "keys_dir": self.keys_dir}

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=20)

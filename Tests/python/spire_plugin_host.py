"""Plays SPIRE server's part with Python grpcio: starts the plugin executable as go-plugin's
host does (magic cookie, protocol versions, port range in the environment), reads the
handshake line, and calls every service over the unix socket. Message classes are
generated from proto/ with grpcio-tools' protoc into a temporary directory.
argv: plugin-executable proto-dir keys-path. Prints "ok <checks>" on success."""
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import threading

import grpc
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils
from grpc_tools import protoc

executable, proto_dir, keys_path = sys.argv[1:4]
out = tempfile.mkdtemp()
files = ["spire/plugin/server/keymanager/v1/keymanager.proto", "spire/service/common/config/v1/config.proto",
         "spire/service/private/init/v1/init.proto", "goplugin/grpc_broker.proto", "goplugin/grpc_controller.proto",
         "grpc/health/v1/health.proto"]
include = os.path.join(os.path.dirname(protoc.__file__), "_proto")
if protoc.main(["protoc", "-I" + proto_dir, "-I" + include, "--python_out=" + out] + files) != 0:
    sys.exit("protoc failed")
sys.path.insert(0, out)
from spire.plugin.server.keymanager.v1 import keymanager_pb2 as km  # noqa: E402
from spire.service.common.config.v1 import config_pb2 as cfg  # noqa: E402
from spire.service.private.init.v1 import init_pb2 as init  # noqa: E402
from goplugin import grpc_broker_pb2 as broker, grpc_controller_pb2 as controller  # noqa: E402
# grpc/health/v1 would shadow grpcio's own "grpc" package: load that module by its path.
spec = importlib.util.spec_from_file_location("health_pb2", os.path.join(out, "grpc/health/v1/health_pb2.py"))
health = importlib.util.module_from_spec(spec)
spec.loader.exec_module(health)

checks = 0


def expect(condition, message):
    global checks
    if not condition:
        print("FAIL: " + message, file=sys.stderr)
        sys.exit(1)
    checks += 1


def call(channel, path, request, response_type, **kwargs):
    method = channel.unary_unary(path, request_serializer=lambda m: m.SerializeToString(),
                                 response_deserializer=response_type.FromString)
    return method(request, timeout=10, **kwargs)


def status(channel, path, request, response_type):
    try:
        call(channel, path, request, response_type)
    except grpc.RpcError as error:
        return error.code(), error.details()
    return grpc.StatusCode.OK, ""


# By hand, without the cookie: a clear refusal, no socket.
manual = subprocess.run([executable], capture_output=True, text=True, timeout=30, env={"PATH": os.environ["PATH"]})
expect(manual.returncode != 0 and "not meant to be run by hand" in manual.stderr, "manual run: %r" % manual.stderr)

env = dict(os.environ, KeyManager="KeyManager", PLUGIN_PROTOCOL_VERSIONS="1", PLUGIN_MIN_PORT="10000",
           PLUGIN_MAX_PORT="25000")
plugin = subprocess.Popen([executable], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
stderr_lines = []
reader = threading.Thread(target=lambda: stderr_lines.extend(plugin.stderr), daemon=True)
reader.start()
line = plugin.stdout.readline().strip()
parts = line.split("|")
expect(len(parts) >= 5 and parts[0] == "1" and parts[1] == "1" and parts[2] == "unix" and parts[4] == "grpc",
       "handshake line %r" % line)
socket_path = parts[3]
expect(oct(os.stat(os.path.dirname(socket_path)).st_mode & 0o777) == "0o700", "private socket directory")

with grpc.insecure_channel("unix:" + socket_path) as channel:
    answer = call(channel, "/grpc.health.v1.Health/Check", health.HealthCheckRequest(service="plugin"),
                  health.HealthCheckResponse)
    expect(answer.status == health.HealthCheckResponse.SERVING, "health of service plugin")

    # The broker stream is opened first and held, as go-plugin's host does.
    start_stream = channel.stream_stream("/plugin.GRPCBroker/StartStream",
                                         request_serializer=lambda m: m.SerializeToString(),
                                         response_deserializer=broker.ConnInfo.FromString)
    announce = iter([broker.ConnInfo(service_id=1, network="unix", address="/nonexistent")])
    broker_call = start_stream(announce)

    names = call(channel, "/spire.service.private.init.v1.Init/Init",
                 init.InitRequest(host_service_names=["spire.hostservice.common.metrics.v1.Metrics"]), init.InitResponse)
    expect(set(names.plugin_service_names) == {"spire.plugin.server.keymanager.v1.KeyManager",
                                               "spire.service.common.config.v1.Config"}, "Init: %r" % names)

    core = cfg.CoreConfiguration(trust_domain="example.org")
    good = 'control_url = "unix:///run/keycoord/control.sock"\ntoken_file = "/run/keycoord/token"\n' \
           'server_id = "spire-1"  # this server\nkeys_path = "%s"\n' % keys_path
    answer = call(channel, "/spire.service.common.config.v1.Config/Validate",
                  cfg.ValidateRequest(core_configuration=core, hcl_configuration=good), cfg.ValidateResponse)
    expect(answer.valid, "Validate accepts good data: %r" % answer)
    answer = call(channel, "/spire.service.common.config.v1.Config/Validate",
                  cfg.ValidateRequest(core_configuration=core, hcl_configuration='control_url = "ftp://x"'),
                  cfg.ValidateResponse)
    expect(not answer.valid and "control_url" in answer.notes[0], "Validate names the field: %r" % answer)

    code, details = status(channel, "/spire.plugin.server.keymanager.v1.KeyManager/GetPublicKeys",
                           km.GetPublicKeysRequest(), km.GetPublicKeysResponse)
    expect(code == grpc.StatusCode.FAILED_PRECONDITION, "KeyManager before Configure: %s" % code)
    code, details = status(channel, "/spire.service.common.config.v1.Config/Configure",
                           cfg.ConfigureRequest(core_configuration=core, hcl_configuration=good + 'colour = "red"\n'),
                           cfg.ConfigureResponse)
    expect(code == grpc.StatusCode.INVALID_ARGUMENT and "colour" in details, "Configure names the field: %s" % details)
    call(channel, "/spire.service.common.config.v1.Config/Configure",
         cfg.ConfigureRequest(core_configuration=core, hcl_configuration=good), cfg.ConfigureResponse)

    KM = "/spire.plugin.server.keymanager.v1.KeyManager/"
    code, _ = status(channel, KM + "GetPublicKey", km.GetPublicKeyRequest(key_id="x509-CA-A"), km.GetPublicKeyResponse)
    expect(code == grpc.StatusCode.NOT_FOUND, "unknown key is NOT_FOUND: %s" % code)
    generated = call(channel, KM + "GenerateKey", km.GenerateKeyRequest(key_id="x509-CA-A", key_type=km.EC_P256),
                     km.GenerateKeyResponse).public_key
    expect(generated.id == "x509-CA-A" and generated.type == km.EC_P256 and generated.fingerprint, "GenerateKey")
    fetched = call(channel, KM + "GetPublicKey", km.GetPublicKeyRequest(key_id="x509-CA-A"),
                   km.GetPublicKeyResponse).public_key
    expect(fetched == generated, "GetPublicKey returns the generated key")
    call(channel, KM + "GenerateKey", km.GenerateKeyRequest(key_id="x509-CA-B", key_type=km.RSA_2048),
         km.GenerateKeyResponse)
    listed = call(channel, KM + "GetPublicKeys", km.GetPublicKeysRequest(), km.GetPublicKeysResponse).public_keys
    expect(sorted(k.id for k in listed) == ["x509-CA-A", "x509-CA-B"], "GetPublicKeys")

    message = b"a JWT-SVID signing input"
    digest = hashes.Hash(hashes.SHA256())
    digest.update(message)
    signed = call(channel, KM + "SignData", km.SignDataRequest(key_id="x509-CA-A", data=digest.finalize(),
                                                                hash_algorithm=km.SHA256), km.SignDataResponse)
    public = serialization.load_der_public_key(generated.pkix_data)
    public.verify(signed.signature, message, ec.ECDSA(hashes.SHA256()))
    expect(signed.key_fingerprint == generated.fingerprint, "SignData: DER ECDSA verified, fingerprint is the key's")
    rsa_key = [k for k in listed if k.id == "x509-CA-B"][0]
    digest = hashes.Hash(hashes.SHA256())
    digest.update(message)
    signed = call(channel, KM + "SignData", km.SignDataRequest(key_id="x509-CA-B", data=digest.finalize(),
                                                                hash_algorithm=km.SHA256), km.SignDataResponse)
    serialization.load_der_public_key(rsa_key.pkix_data).verify(signed.signature, message, padding.PKCS1v15(),
                                                                hashes.SHA256())
    expect(True, "SignData: RSA PKCS#1 v1.5 verified")
    code, _ = status(channel, KM + "SignData", km.SignDataRequest(key_id="x509-CA-A", data=b"short",
                                                                   hash_algorithm=km.SHA256), km.SignDataResponse)
    expect(code == grpc.StatusCode.INVALID_ARGUMENT, "a digest of the wrong size is refused: %s" % code)
    code, _ = status(channel, KM + "SignData", km.SignDataRequest(key_id="nope", data=b"\0" * 32,
                                                                   hash_algorithm=km.SHA256), km.SignDataResponse)
    expect(code == grpc.StatusCode.NOT_FOUND, "SignData with an unknown key: %s" % code)
    code, _ = status(channel, KM + "GenerateKey", km.GenerateKeyRequest(key_id="x509-CA-A"), km.GenerateKeyResponse)
    expect(code == grpc.StatusCode.INVALID_ARGUMENT, "GenerateKey without a type: %s" % code)

    call(channel, "/plugin.GRPCController/Shutdown", controller.Empty(), controller.Empty)

expect(plugin.wait(timeout=10) == 0, "the plugin exits 0 after Shutdown")
reader.join(timeout=5)
expect(not os.path.exists(socket_path), "the socket is removed")
records = [json.loads(line) for line in stderr_lines if line.strip()]
expect(records and all(isinstance(r.get("@message"), str) and r.get("@level") in ("trace", "debug", "info", "warn", "error")
                       and "@timestamp" in r for r in records), "stderr is hclog JSON: %r" % stderr_lines)
expect(any(r["@message"] == "configured" and r.get("server_id") == "spire-1" for r in records), "fields as keys")

keys = json.load(open(keys_path))
expect(oct(os.stat(keys_path).st_mode & 0o777) == "0o600" and sorted(keys["keys"]) == ["x509-CA-A", "x509-CA-B"],
       "key file: 0600 with both keys")
for entry in keys["keys"].values():
    serialization.load_pem_private_key(entry["pkcs8PEM"].encode(), password=None)
expect(all(e["pkcs8PEM"].startswith("-----BEGIN PRIVATE KEY-----") for e in keys["keys"].values()), "keys are PKCS#8")
print("ok %d" % checks)

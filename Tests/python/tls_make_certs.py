"""Throwaway PKI for the TLS tests, made with PyCA cryptography (independent of our code).

stdin JSON: {"dir": D, "server_serials": [N, ...], "clients": {"name": "spiffe://...", ...}}
Writes D/ca.pem, D/server-N.pem + D/server-N.key (SAN localhost, 127.0.0.1),
D/client-NAME.pem + .key (URI SANs: the space-separated URIs given), and D/other-ca.pem with D/client-stranger.pem + .key
signed by that other CA. Prints {"ok": true}.
"""
import datetime
import ipaddress
import json
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def key():
    return ec.generate_private_key(ec.SECP256R1())


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, 0o600)


def write_key(path, k):
    write(path, k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()))


def ca(name):
    k = key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(k.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(k, hashes.SHA256()))
    return k, cert


def leaf(ca_key, ca_cert, serial, sans, usage, cn):
    k = key()
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
            .issuer_name(ca_cert.subject).public_key(k.public_key()).serial_number(serial)
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return k, cert


def main():
    request = json.load(sys.stdin)
    d = request["dir"]
    ca_key, ca_cert = ca("keycoord test CA")
    write(os.path.join(d, "ca.pem"), ca_cert.public_bytes(serialization.Encoding.PEM))
    for serial in request.get("server_serials", []):
        sans = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        k, cert = leaf(ca_key, ca_cert, serial, sans, ExtendedKeyUsageOID.SERVER_AUTH, "keycoord")
        # Chain file: leaf then CA, as deployments ship it.
        write(os.path.join(d, f"server-{serial}.pem"),
              cert.public_bytes(serialization.Encoding.PEM) + ca_cert.public_bytes(serialization.Encoding.PEM))
        write_key(os.path.join(d, f"server-{serial}.key"), k)
    for name, uri in request.get("clients", {}).items():
        k, cert = leaf(ca_key, ca_cert, x509.random_serial_number(), [x509.UniformResourceIdentifier(u) for u in uri.split()],
                       ExtendedKeyUsageOID.CLIENT_AUTH, name)
        write(os.path.join(d, f"client-{name}.pem"), cert.public_bytes(serialization.Encoding.PEM))
        write_key(os.path.join(d, f"client-{name}.key"), k)
    other_key, other_cert = ca("some other CA")
    write(os.path.join(d, "other-ca.pem"), other_cert.public_bytes(serialization.Encoding.PEM))
    k, cert = leaf(other_key, other_cert, x509.random_serial_number(),
                   [x509.UniformResourceIdentifier("spiffe://example.org/spire/server/a")],
                   ExtendedKeyUsageOID.CLIENT_AUTH, "stranger")
    write(os.path.join(d, "client-stranger.pem"), cert.public_bytes(serialization.Encoding.PEM))
    write_key(os.path.join(d, "client-stranger.key"), k)
    print(json.dumps({"ok": True}))


main()

// spirehost loads keycoord's KeyManager plugin the way SPIRE's catalog does: go-plugin's real
// client (Debian's package, GOPATH mode), SPIRE's handshake for the KeyManager type, gRPC
// over the socket the plugin announces; then it configures the plugin, generates an X.509 CA
// key and verifies a SignData signature with Go's crypto. With a sidecar it also has the
// JWT-Signer-A slot handed a shared key and verifies its signature, and verifies RSA
// PKCS #1 v1.5 and PSS signatures (Go's salt-length conventions) with crypto/rsa.
// Prints "ok" on success.
//
// Usage: spirehost PLUGIN KEYS_PATH [CONTROL_URL TOKEN_FILE KEYS_DIR]
package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"os"
	"time"

	hclog "github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"keycoord.test/pluginhost"
	keymanagerv1 "keycoord.test/spire/plugin/server/keymanager/v1"
	configv1 "keycoord.test/spire/service/common/config/v1"
	initv1 "keycoord.test/spire/service/private/init/v1"
)

// fail and codec are pluginhost's, under the names the checks below use.
var fail = pluginhost.Fail

type codec = pluginhost.Codec

func main() {
	client, conn := pluginhost.Start(os.Args[1], "spirehost", os.Stderr, hclog.Trace)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	initResponse := new(initv1.InitResponse)
	if err := conn.Invoke(ctx, "/spire.service.private.init.v1.Init/Init", &initv1.InitRequest{}, initResponse, grpc.ForceCodec(codec{})); err != nil {
		fail("Init: %v", err)
	}
	names := map[string]bool{}
	for _, name := range initResponse.PluginServiceNames {
		names[name] = true
	}
	if !names["spire.plugin.server.keymanager.v1.KeyManager"] || !names["spire.service.common.config.v1.Config"] {
		fail("Init names %v", initResponse.PluginServiceNames)
	}
	hcl := fmt.Sprintf("control_url = \"unix:///run/keycoord/control.sock\"\ntoken_file = \"/t\"\nserver_id = \"go-host\"\nkeys_path = %q\n", os.Args[2])
	withSidecar := len(os.Args) == 6
	if withSidecar {
		hcl = fmt.Sprintf("control_url = %q\ntoken_file = %q\nkeys_dir = %q\nserver_id = \"go-host\"\nkeys_path = %q\n",
			os.Args[3], os.Args[4], os.Args[5], os.Args[2])
	}
	configure := &configv1.ConfigureRequest{CoreConfiguration: &configv1.CoreConfiguration{TrustDomain: "example.org"}, HclConfiguration: hcl}
	if err := conn.Invoke(ctx, "/spire.service.common.config.v1.Config/Configure", configure, new(configv1.ConfigureResponse), grpc.ForceCodec(codec{})); err != nil {
		fail("Configure: %v", err)
	}
	generated := new(keymanagerv1.GenerateKeyResponse)
	request := &keymanagerv1.GenerateKeyRequest{KeyId: "x509-CA-A", KeyType: keymanagerv1.KeyType_EC_P256}
	if err := conn.Invoke(ctx, "/spire.plugin.server.keymanager.v1.KeyManager/GenerateKey", request, generated, grpc.ForceCodec(codec{})); err != nil {
		fail("GenerateKey: %v", err)
	}
	digest := sha256.Sum256([]byte("signed through go-plugin"))
	signed := new(keymanagerv1.SignDataResponse)
	sign := &keymanagerv1.SignDataRequest{KeyId: "x509-CA-A", Data: digest[:],
		SignerOpts: &keymanagerv1.SignDataRequest_HashAlgorithm{HashAlgorithm: keymanagerv1.HashAlgorithm_SHA256}}
	if err := conn.Invoke(ctx, "/spire.plugin.server.keymanager.v1.KeyManager/SignData", sign, signed, grpc.ForceCodec(codec{})); err != nil {
		fail("SignData: %v", err)
	}
	public, err := x509.ParsePKIXPublicKey(generated.PublicKey.PkixData)
	if err != nil {
		fail("pkix_data: %v", err)
	}
	if !ecdsa.VerifyASN1(public.(*ecdsa.PublicKey), digest[:], signed.Signature) {
		fail("the signature does not verify with ecdsa.VerifyASN1")
	}
	if signed.KeyFingerprint != generated.PublicKey.Fingerprint {
		fail("fingerprint %q, key's %q", signed.KeyFingerprint, generated.PublicKey.Fingerprint)
	}
	if withSidecar {
		checkSidecar(ctx, conn)
	}
	client.Kill()
	if !client.Exited() {
		fail("the plugin did not exit after Kill")
	}
	fmt.Println("ok")
}

func invoke(ctx context.Context, conn *grpc.ClientConn, method string, request, response proto.Message) {
	if err := conn.Invoke(ctx, "/spire.plugin.server.keymanager.v1.KeyManager/"+method, request, response, grpc.ForceCodec(codec{})); err != nil {
		fail("%s: %v", method, err)
	}
}

func sign(ctx context.Context, conn *grpc.ClientConn, id string, digest []byte, pss *keymanagerv1.SignDataRequest_PSSOptions) []byte {
	request := &keymanagerv1.SignDataRequest{KeyId: id, Data: digest,
		SignerOpts: &keymanagerv1.SignDataRequest_HashAlgorithm{HashAlgorithm: keymanagerv1.HashAlgorithm_SHA256}}
	if pss != nil {
		request.SignerOpts = &keymanagerv1.SignDataRequest_PssOptions{PssOptions: pss}
	}
	response := new(keymanagerv1.SignDataResponse)
	invoke(ctx, conn, "SignData", request, response)
	return response.Signature
}

// checkSidecar: a shared EC key for JWT-Signer-A, and a local RSA key signing PKCS #1 v1.5
// and PSS as SPIRE's crypto.Signer asks (rsa.PSSSaltLengthAuto 0, EqualsHash -1).
func checkSidecar(ctx context.Context, conn *grpc.ClientConn) {
	digest := sha256.Sum256([]byte("a JWT-SVID signing input"))
	shared := new(keymanagerv1.GenerateKeyResponse)
	invoke(ctx, conn, "GenerateKey", &keymanagerv1.GenerateKeyRequest{KeyId: "JWT-Signer-A", KeyType: keymanagerv1.KeyType_EC_P256}, shared)
	public, err := x509.ParsePKIXPublicKey(shared.PublicKey.PkixData)
	if err != nil {
		fail("shared pkix_data: %v", err)
	}
	if !ecdsa.VerifyASN1(public.(*ecdsa.PublicKey), digest[:], sign(ctx, conn, "JWT-Signer-A", digest[:], nil)) {
		fail("the shared key's signature does not verify with ecdsa.VerifyASN1")
	}
	local := new(keymanagerv1.GenerateKeyResponse)
	invoke(ctx, conn, "GenerateKey", &keymanagerv1.GenerateKeyRequest{KeyId: "x509-CA-B", KeyType: keymanagerv1.KeyType_RSA_2048}, local)
	parsed, err := x509.ParsePKIXPublicKey(local.PublicKey.PkixData)
	if err != nil {
		fail("rsa pkix_data: %v", err)
	}
	rsaKey := parsed.(*rsa.PublicKey)
	if err := rsa.VerifyPKCS1v15(rsaKey, crypto.SHA256, digest[:], sign(ctx, conn, "x509-CA-B", digest[:], nil)); err != nil {
		fail("PKCS #1 v1.5: %v", err)
	}
	for _, salt := range []int{rsa.PSSSaltLengthAuto, rsa.PSSSaltLengthEqualsHash, 20} {
		pss := &keymanagerv1.SignDataRequest_PSSOptions{SaltLength: int32(salt), HashAlgorithm: keymanagerv1.HashAlgorithm_SHA256}
		options := &rsa.PSSOptions{SaltLength: salt, Hash: crypto.SHA256}
		if err := rsa.VerifyPSS(rsaKey, crypto.SHA256, digest[:], sign(ctx, conn, "x509-CA-B", digest[:], pss), options); err != nil {
			fail("PSS salt %d: %v", salt, err)
		}
	}
}

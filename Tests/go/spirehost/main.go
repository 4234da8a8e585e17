// spirehost loads keycoord's KeyManager plugin the way SPIRE's catalog does: go-plugin's real
// client (Debian's package, GOPATH mode), SPIRE's handshake for the KeyManager type, gRPC
// over the socket the plugin announces; then it configures the plugin, generates an X.509 CA
// key and verifies a SignData signature with Go's crypto. Prints "ok" on success.
//
// Usage: spirehost PLUGIN KEYS_PATH
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"os"
	"os/exec"
	"time"

	hclog "github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	keymanagerv1 "keycoord.test/spire/plugin/server/keymanager/v1"
	configv1 "keycoord.test/spire/service/common/config/v1"
	initv1 "keycoord.test/spire/service/private/init/v1"
)

// codec encodes with the protobuf API the stubs are generated for: Debian's grpc 1.33 would
// otherwise use the older golang/protobuf 1.3 runtime, which cannot read these messages.
type codec struct{}

func (codec) Marshal(v interface{}) ([]byte, error) { return proto.Marshal(v.(proto.Message)) }
func (codec) Unmarshal(data []byte, v interface{}) error {
	return proto.Unmarshal(data, v.(proto.Message))
}
func (codec) Name() string { return "proto" }

// keyManagerPlugin hands back the plugin's gRPC connection, as SPIRE's catalog does.
type keyManagerPlugin struct {
	goplugin.NetRPCUnsupportedPlugin
}

func (keyManagerPlugin) GRPCServer(*goplugin.GRPCBroker, *grpc.Server) error {
	return fmt.Errorf("host only")
}

func (keyManagerPlugin) GRPCClient(_ context.Context, _ *goplugin.GRPCBroker, conn *grpc.ClientConn) (interface{}, error) {
	return conn, nil
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "FAIL: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	client := goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig: goplugin.HandshakeConfig{
			ProtocolVersion: 1, MagicCookieKey: "KeyManager", MagicCookieValue: "KeyManager",
		},
		Plugins:          map[string]goplugin.Plugin{"KeyManager": keyManagerPlugin{}},
		Cmd:              exec.Command(os.Args[1]),
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		Logger:           hclog.New(&hclog.LoggerOptions{Name: "spirehost", Output: os.Stderr, Level: hclog.Trace}),
	})
	defer client.Kill()
	rpcClient, err := client.Client()
	if err != nil {
		fail("go-plugin client: %v", err)
	}
	if err := rpcClient.Ping(); err != nil {
		fail("ping: %v", err)
	}
	raw, err := rpcClient.Dispense("KeyManager")
	if err != nil {
		fail("dispense: %v", err)
	}
	conn := raw.(*grpc.ClientConn)
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
	client.Kill()
	if !client.Exited() {
		fail("the plugin did not exit after Kill")
	}
	fmt.Println("ok")
}

// Package pluginhost is what keycoord's Go hosts share (Tests/go/spirehost, the SignData
// benchmark in bench/plugin): go-plugin's real client started with SPIRE's handshake for the
// KeyManager type, as SPIRE's catalog does, and a gRPC codec for the generated stubs.
package pluginhost

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"

	hclog "github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

// Codec encodes with the protobuf API the stubs are generated for: Debian's grpc 1.33 would
// otherwise use the older golang/protobuf 1.3 runtime, which cannot read these messages.
type Codec struct{}

func (Codec) Marshal(v interface{}) ([]byte, error) { return proto.Marshal(v.(proto.Message)) }
func (Codec) Unmarshal(data []byte, v interface{}) error {
	return proto.Unmarshal(data, v.(proto.Message))
}
func (Codec) Name() string { return "proto" }

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

// Fail reports a failed check on stderr and exits 1.
func Fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "FAIL: "+format+"\n", args...)
	os.Exit(1)
}

// Start launches the plugin executable with SPIRE's KeyManager handshake (core protocol 1,
// the KeyManager magic cookie, gRPC only), pings it and dispenses the KeyManager: the
// go-plugin client (Kill ends the plugin) and the plugin's gRPC connection.
func Start(path, name string, logs io.Writer, level hclog.Level) (*goplugin.Client, *grpc.ClientConn) {
	client := goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig: goplugin.HandshakeConfig{
			ProtocolVersion: 1, MagicCookieKey: "KeyManager", MagicCookieValue: "KeyManager",
		},
		Plugins:          map[string]goplugin.Plugin{"KeyManager": keyManagerPlugin{}},
		Cmd:              exec.Command(path),
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		Logger:           hclog.New(&hclog.LoggerOptions{Name: name, Output: logs, Level: level}),
	})
	rpcClient, err := client.Client()
	if err != nil {
		client.Kill()
		Fail("go-plugin client: %v", err)
	}
	if err := rpcClient.Ping(); err != nil {
		client.Kill()
		Fail("ping: %v", err)
	}
	raw, err := rpcClient.Dispense("KeyManager")
	if err != nil {
		client.Kill()
		Fail("dispense: %v", err)
	}
	return client, raw.(*grpc.ClientConn)
}

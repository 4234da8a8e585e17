// signbench measures SignData through keycoord's SPIRE plugin as SPIRE calls it: go-plugin's
// client loads the plugin, Config.Configure points it at a running sidecar, GenerateKey
// hands JWT-Signer-A a shared key, then CONCURRENCY callers sign SHA-256 digests for
// SECONDS. One signature is verified with ecdsa.VerifyASN1 first. Prints one JSON line:
// p50/p99 in microseconds and signatures per second.
//
// Usage: signbench PLUGIN CONTROL_URL TOKEN_FILE KEYS_DIR KEYS_PATH SECONDS CONCURRENCY
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io/ioutil"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"

	hclog "github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"

	"keycoord.test/pluginhost"
	keymanagerv1 "keycoord.test/spire/plugin/server/keymanager/v1"
	configv1 "keycoord.test/spire/service/common/config/v1"
)

// fail and codec are pluginhost's, under the names the checks below use.
var fail = pluginhost.Fail

type codec = pluginhost.Codec

func main() {
	if len(os.Args) != 8 {
		fail("usage: signbench PLUGIN CONTROL_URL TOKEN_FILE KEYS_DIR KEYS_PATH SECONDS CONCURRENCY")
	}
	seconds, _ := strconv.ParseFloat(os.Args[6], 64)
	concurrency, _ := strconv.Atoi(os.Args[7])
	client, conn := pluginhost.Start(os.Args[1], "signbench", ioutil.Discard, hclog.Error)
	ctx := context.Background()
	hcl := fmt.Sprintf("control_url = %q\ntoken_file = %q\nserver_id = \"bench\"\nkeys_dir = %q\nkeys_path = %q\n",
		os.Args[2], os.Args[3], os.Args[4], os.Args[5])
	configure := &configv1.ConfigureRequest{CoreConfiguration: &configv1.CoreConfiguration{TrustDomain: "example.org"}, HclConfiguration: hcl}
	if err := conn.Invoke(ctx, "/spire.service.common.config.v1.Config/Configure", configure, new(configv1.ConfigureResponse), grpc.ForceCodec(codec{})); err != nil {
		fail("Configure: %v", err)
	}
	generated := new(keymanagerv1.GenerateKeyResponse)
	request := &keymanagerv1.GenerateKeyRequest{KeyId: "JWT-Signer-A", KeyType: keymanagerv1.KeyType_EC_P256}
	if err := conn.Invoke(ctx, "/spire.plugin.server.keymanager.v1.KeyManager/GenerateKey", request, generated, grpc.ForceCodec(codec{})); err != nil {
		fail("GenerateKey: %v", err)
	}
	public, err := x509.ParsePKIXPublicKey(generated.PublicKey.PkixData)
	if err != nil {
		fail("pkix_data: %v", err)
	}
	digest := sha256.Sum256([]byte("header.payload"))
	sign := &keymanagerv1.SignDataRequest{KeyId: "JWT-Signer-A", Data: digest[:],
		SignerOpts: &keymanagerv1.SignDataRequest_HashAlgorithm{HashAlgorithm: keymanagerv1.HashAlgorithm_SHA256}}
	first := new(keymanagerv1.SignDataResponse)
	if err := conn.Invoke(ctx, "/spire.plugin.server.keymanager.v1.KeyManager/SignData", sign, first, grpc.ForceCodec(codec{})); err != nil {
		fail("SignData: %v", err)
	}
	if !ecdsa.VerifyASN1(public.(*ecdsa.PublicKey), digest[:], first.Signature) {
		fail("the signature does not verify")
	}

	deadline := time.Now().Add(time.Duration(seconds * float64(time.Second)))
	var mutex sync.Mutex
	var latencies []time.Duration
	failures := 0
	var group sync.WaitGroup
	start := time.Now()
	for i := 0; i < concurrency; i++ {
		group.Add(1)
		go func() {
			defer group.Done()
			var local []time.Duration
			errors := 0
			for time.Now().Before(deadline) {
				begin := time.Now()
				response := new(keymanagerv1.SignDataResponse)
				if err := conn.Invoke(ctx, "/spire.plugin.server.keymanager.v1.KeyManager/SignData", sign, response, grpc.ForceCodec(codec{})); err != nil {
					errors++
					continue
				}
				local = append(local, time.Since(begin))
			}
			mutex.Lock()
			latencies = append(latencies, local...)
			failures += errors
			mutex.Unlock()
		}()
	}
	group.Wait()
	elapsed := time.Since(start)
	if len(latencies) == 0 {
		fail("no SignData succeeded")
	}
	sort.Slice(latencies, func(a, b int) bool { return latencies[a] < latencies[b] })
	micros := func(q float64) float64 {
		return float64(latencies[int(q*float64(len(latencies)-1))].Nanoseconds()) / 1000
	}
	out, _ := json.Marshal(map[string]interface{}{
		"signatures": len(latencies), "failures": failures, "seconds": elapsed.Seconds(), "concurrency": concurrency,
		"p50_us": micros(0.50), "p99_us": micros(0.99), "per_second": float64(len(latencies)) / elapsed.Seconds(),
	})
	fmt.Println(string(out))
	client.Kill()
}

package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apiserver/pkg/storage/storagebackend"
)

// claimClusterCA makes sure every kcsr server on one etcd uses the same cluster CA: the
// first to start records the CA certificate's SHA-256 under PREFIX/kcsr/cluster-ca (an
// etcd transaction, so two first starts cannot both win); a later one whose CA differs is
// refused before it serves anything. Replicas with different CAs would each trust only the
// client certificates of their own CA, and sign with a CA the others do not know.
func claimClusterCA(ctx context.Context, cfg storagebackend.Config, caDER []byte) error {
	tlsInfo := transport.TLSInfo{CertFile: cfg.Transport.CertFile, KeyFile: cfg.Transport.KeyFile, TrustedCAFile: cfg.Transport.TrustedCAFile}
	var clientCfg clientv3.Config
	clientCfg.Endpoints = cfg.Transport.ServerList
	clientCfg.DialTimeout = 20 * time.Second
	if tlsInfo.CertFile != "" || tlsInfo.TrustedCAFile != "" {
		tlsConfig, err := tlsInfo.ClientConfig()
		if err != nil {
			return fmt.Errorf("etcd TLS: %w", err)
		}
		clientCfg.TLS = tlsConfig
	}
	client, err := clientv3.New(clientCfg)
	if err != nil {
		return fmt.Errorf("connect to etcd %v: %w", cfg.Transport.ServerList, err)
	}
	defer client.Close()

	sum := sha256.Sum256(caDER)
	mine := hex.EncodeToString(sum[:])
	key := path.Join("/", cfg.Prefix, "kcsr", "cluster-ca")
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := client.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, mine)).
		Else(clientv3.OpGet(key)).
		Commit()
	if err != nil {
		return fmt.Errorf("record the cluster CA in etcd: %w", err)
	}
	if resp.Succeeded {
		return nil
	}
	kvs := resp.Responses[0].GetResponseRange().GetKvs()
	if len(kvs) == 1 && string(kvs[0].Value) == mine {
		return nil
	}
	theirs := ""
	if len(kvs) == 1 {
		theirs = string(kvs[0].Value)
	}
	return fmt.Errorf("this etcd already serves kcsr with another cluster CA (SHA-256 %s; this server's is %s): every replica must use the same CA. Copy the pki directory of a running replica into --data-dir before the first start, or point --cluster-ca-pkcs11-uri at the same HSM key (docs/operations.md)", theirs, mine)
}

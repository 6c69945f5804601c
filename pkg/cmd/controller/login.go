package controller

import (
	"context"
	"crypto/x509"
	"fmt"
	"os"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"

	"kcsr.dev/kcsr/pkg/ca"
	"kcsr.dev/kcsr/pkg/pemutil"
)

// The ConfigMap in which kube-apiserver publishes its --client-ca-file for extension API
// servers, and its key.
const (
	authenticationConfigMapNamespace = "kube-system"
	authenticationConfigMapName      = "extension-apiserver-authentication"
	clientCAKey                      = "client-ca-file"
)

// loginCAs returns the CAs the cluster accepts client certificates from, and where they
// come from (for the log): --client-ca-file; without it, the client-ca-file of the
// kube-system/extension-apiserver-authentication ConfigMap kube-apiserver publishes;
// always with the CA of the built-in signers (--cluster-signing-cert-file), whose
// kubernetes.io/kube-apiserver-client certificates log in by definition. When the flag is
// not given and the ConfigMap cannot be read, kcsr cannot know the cluster's client CAs:
// it says so, and only the CA of the built-in signers counts.
func (o *Options) loginCAs(ctx context.Context, client kubernetes.Interface, clusterCA ca.Backend) ([]*x509.Certificate, string, error) {
	var (
		trusted []*x509.Certificate
		source  string
	)
	switch {
	case o.ClientCAFile != "":
		data, err := os.ReadFile(o.ClientCAFile)
		if err != nil {
			return nil, "", fmt.Errorf("--client-ca-file: %w", err)
		}
		if trusted, err = pemutil.ParseCertificates(data); err != nil {
			return nil, "", fmt.Errorf("--client-ca-file %s: %w", o.ClientCAFile, err)
		}
		source = "--client-ca-file"
	default:
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		cm, err := client.CoreV1().ConfigMaps(authenticationConfigMapNamespace).Get(ctx, authenticationConfigMapName, metav1.GetOptions{})
		if err == nil && cm.Data[clientCAKey] != "" {
			trusted, err = pemutil.ParseCertificates([]byte(cm.Data[clientCAKey]))
		} else if err == nil {
			err = fmt.Errorf("it has no %s", clientCAKey)
		}
		if err != nil {
			klog.InfoS("Cannot read the cluster's client CAs: only signers on the CA of --cluster-signing-cert-file count as login signers; give --client-ca-file (kube-apiserver's) to count every signer whose certificates log in",
				"configMap", authenticationConfigMapNamespace+"/"+authenticationConfigMapName, "err", err)
			trusted, source = nil, "--cluster-signing-cert-file only"
			break
		}
		source = "configmap " + authenticationConfigMapNamespace + "/" + authenticationConfigMapName
	}
	if clusterCA != nil {
		chain, err := clusterCA.Chain(ctx)
		if err != nil {
			return nil, "", fmt.Errorf("--cluster-signing-cert-file: %w", err)
		}
		if len(chain) > 0 {
			trusted = append(trusted, chain[0])
		}
	}
	return trusted, source, nil
}

package doctor

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	kcsrclient "kcsr.dev/kcsr/pkg/generated/clientset/versioned"
	"kcsr.dev/kcsr/pkg/pemutil"
	"kcsr.dev/kcsr/pkg/policy"
	"kcsr.dev/kcsr/pkg/signer"
)

// This file is the edge: it reads the cluster, files and the network, and hands plain
// values to the checks.

const dialTimeout = 10 * time.Second

// probeTLS connects to the kubeconfig's server trusting what the kubeconfig trusts. When
// verification fails, the server's chain comes from the verification error, or from a
// second handshake that does not verify, only to show who issued it.
func probeTLS(ctx context.Context, cfg *rest.Config, cluster string) TLSResult {
	r := TLSResult{Cluster: cluster, Server: cfg.Host, Insecure: cfg.Insecure}
	caPEM, _ := caData(cfg)
	r.CA = pemutil.TrustedCertificates(caPEM)
	host := cfg.Host
	if !strings.Contains(host, "://") {
		host = "https://" + host
	}
	u, err := url.Parse(host)
	if err != nil || u.Host == "" {
		r.Err = fmt.Errorf("the server URL %q cannot be parsed", cfg.Host)
		return r
	}
	if u.Scheme != "https" {
		r.Err = fmt.Errorf("the server URL %q is not https", cfg.Host)
		return r
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "443"
	}
	conf := &tls.Config{ServerName: host, InsecureSkipVerify: cfg.Insecure} //nolint:gosec // insecure only when the kubeconfig says so, and reported
	if cfg.TLSClientConfig.ServerName != "" {
		conf.ServerName = cfg.TLSClientConfig.ServerName
	}
	if len(r.CA) > 0 {
		conf.RootCAs = x509.NewCertPool()
		for _, c := range r.CA {
			conf.RootCAs.AddCert(c)
		}
	}
	addr := net.JoinHostPort(host, port)
	chain, err := handshake(ctx, addr, conf)
	if err == nil {
		r.Chain = chain
		return r
	}
	r.Err = err
	var verification *tls.CertificateVerificationError
	if errors.As(err, &verification) {
		r.Chain = verification.UnverifiedCertificates
		return r
	}
	var unknown x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	if errors.As(err, &unknown) || errors.As(err, &hostname) || errors.As(err, &invalid) {
		insecure := conf.Clone()
		insecure.InsecureSkipVerify = true //nolint:gosec // only to show the chain's issuer; nothing is sent
		r.Chain, _ = handshake(ctx, addr, insecure)
	}
	return r
}

func handshake(ctx context.Context, addr string, conf *tls.Config) ([]*x509.Certificate, error) {
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: dialTimeout}, Config: conf}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.(*tls.Conn).ConnectionState().PeerCertificates, nil
}

// caData is the kubeconfig's certificate-authority(-data).
func caData(cfg *rest.Config) ([]byte, error) {
	if len(cfg.CAData) > 0 || cfg.CAFile == "" {
		return cfg.CAData, nil
	}
	return os.ReadFile(cfg.CAFile)
}

// clientCredentials are the kubeconfig's client certificate and key, if any.
func clientCredentials(cfg *rest.Config) (certPEM, keyPEM []byte, err error) {
	certPEM, keyPEM = cfg.CertData, cfg.KeyData
	if len(certPEM) == 0 && cfg.CertFile != "" {
		if certPEM, err = os.ReadFile(cfg.CertFile); err != nil {
			return nil, nil, err
		}
	}
	if len(keyPEM) == 0 && cfg.KeyFile != "" {
		if keyPEM, err = os.ReadFile(cfg.KeyFile); err != nil {
			return nil, nil, err
		}
	}
	return certPEM, keyPEM, nil
}

// servesKcsr reports whether the server serves kcsr's ApprovalPolicies: a kcsr server
// rather than a Kubernetes cluster.
func servesKcsr(client kubernetes.Interface) bool {
	resources, err := client.Discovery().ServerResourcesForGroupVersion("kcsr.dev/v1alpha1")
	if err != nil {
		return false
	}
	return slices.ContainsFunc(resources.APIResources, func(r metav1.APIResource) bool { return r.Name == "approvalpolicies" })
}

// coveringPolicies lists the names of the ApprovalPolicies that cover signerName.
func coveringPolicies(ctx context.Context, kcsr kcsrclient.Interface, signerName string) ([]string, error) {
	list, err := kcsr.KcsrV1alpha1().ApprovalPolicies().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var names []string
	for _, p := range list.Items {
		compiled, err := policy.Compile(p.Name, p.Spec)
		if err == nil && compiled.Covers(signerName) {
			names = append(names, p.Name)
		}
	}
	slices.Sort(names)
	return names, nil
}

// findApprovers reads the cluster's RBAC objects and works out who may approve.
func findApprovers(ctx context.Context, client kubernetes.Interface, signerName string) (Approvers, error) {
	roles, err := client.RbacV1().ClusterRoles().List(ctx, metav1.ListOptions{})
	if err != nil {
		return Approvers{}, rbacListError("clusterroles", err)
	}
	bindings, err := client.RbacV1().ClusterRoleBindings().List(ctx, metav1.ListOptions{})
	if err != nil {
		return Approvers{}, rbacListError("clusterrolebindings", err)
	}
	return FindApprovers(signerName, roles.Items, bindings.Items), nil
}

func rbacListError(resource string, err error) error {
	if apierrors.IsForbidden(err) {
		return fmt.Errorf("listing %s is forbidden", resource)
	}
	return fmt.Errorf("listing %s: %w", resource, err)
}

// signerProfiles returns the signers of a signer configuration with their rules, without
// opening their CAs (doctor only checks requests against the rules).
func signerProfiles(c *signer.Configuration) (map[string]*signer.Profile, error) {
	rulesOnly := &signer.Configuration{TypeMeta: c.TypeMeta}
	for _, s := range c.Signers {
		s.CA = nil
		rulesOnly.Signers = append(rulesOnly.Signers, s)
	}
	return signer.Build(context.Background(), rulesOnly, nil, signer.DefaultMaxDuration, time.Time{})
}

// signerCA is the CA certificate of signerName when doctor can know it: the certFile of
// the signer configuration, or, for a built-in signer without one, the cluster CA of the
// kubeconfig.
func (o *Options) signerCA(cfg *rest.Config, signerName string) (*x509.Certificate, string) {
	if o.config != nil {
		for _, s := range o.config.Signers {
			if s.SignerName != signerName || s.CA == nil {
				continue
			}
			file := s.CA.CertFile
			if s.CA.PKCS11 != nil {
				file = s.CA.PKCS11.CertFile
			}
			data, err := os.ReadFile(file)
			if err != nil {
				return nil, ""
			}
			if cert, err := pemutil.FirstCertificate(data); err == nil {
				return cert, "certFile " + file
			}
			return nil, ""
		}
	}
	if !isBuiltIn(signerName) {
		return nil, ""
	}
	caPEM, _ := caData(cfg)
	if cas := pemutil.TrustedCertificates(caPEM); len(cas) > 0 {
		return cas[0], "the kubeconfig's certificate-authority-data"
	}
	return nil, ""
}

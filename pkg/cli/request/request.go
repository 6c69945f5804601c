// Package request is the onboarding half of the kcsr CLI: `kcsr request` (key, PKCS#10
// request, CSR, wait, verify, key + certificate + kubeconfig in one command) and
// `kcsr kubeconfig` (assemble one from files). The private key is generated here and never
// sent; nothing is written until the certificate is issued and verified, and then every
// file is written atomically, so an interrupt or a timeout leaves no partial files.
package request

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	certificatesv1 "k8s.io/api/certificates/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	certvalidation "kcsr.dev/kcsr/pkg/apis/certificates/validation"
	"kcsr.dev/kcsr/pkg/atomicfile"
	"kcsr.dev/kcsr/pkg/cli"
	"kcsr.dev/kcsr/pkg/csr"
	"kcsr.dev/kcsr/pkg/pki"
)

// Exit codes of `kcsr request` and `kcsr renew` (docs/cli.md).
const (
	ExitDenied      = 2
	ExitFailed      = 3
	ExitTimeout     = 4
	ExitServerError = 5
)

// KeyTypes are the key types --key-type accepts.
var KeyTypes = []string{"ecdsa-p256", "ecdsa-p384", "rsa-2048", "rsa-3072", "rsa-4096", "ed25519"}

// Options are the flags of `kcsr request`.
type Options struct {
	Conn        cli.Connection
	Name        string
	User        string
	Groups      []string
	Signer      string
	Usages      []string
	DNSNames    []string
	IPAddresses []string
	Duration    time.Duration
	KeyType     string
	KeyFile     string
	OutDir      string
	Wait        time.Duration
}

// NewCommand returns `kcsr request`.
func NewCommand(out io.Writer) *cobra.Command {
	o := &Options{Signer: certificatesv1.KubeAPIServerClientSignerName, KeyType: "ecdsa-p256", OutDir: ".", Wait: 10 * time.Minute, Duration: 24 * time.Hour}
	cmd := &cobra.Command{
		Use:   "request --name NAME --user CN [--group O ...]",
		Short: "Get a certificate in one command: key, request, CSR, wait, verify, kubeconfig",
		Long: `Generates a private key on this machine (it is never sent), builds the PKCS#10 request,
submits it as a CertificateSigningRequest, waits for an approver and the signer, checks
that the certificate matches the key and chains to the cluster's CA, and writes
NAME.key (0600), NAME.crt and NAME.kubeconfig. Nothing is written before that: an
interrupt, a timeout, a denial or a failure leaves no files behind.

Exit codes: 0 issued, 1 bad input, 2 denied, 3 failed, 4 timed out or interrupted,
5 server or connection error.`,
		Example: `  # A client certificate for rahul, approved by an admin or a policy
  kcsr request --kubeconfig admin.kubeconfig --name rahul --user rahul --group developers

  # A kubelet serving certificate with SANs and an RSA key
  kcsr request --name node-1-serving --user system:node:node-1 --group system:nodes \
    --signer kubernetes.io/kubelet-serving --dns-name node-1.example --ip-address 10.0.0.7 --key-type rsa-2048`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.Run(cmd.Context(), out) },
	}
	f := cmd.Flags()
	o.Conn.AddFlags(f)
	f.StringVar(&o.Name, "name", "", "Name of the CSR and of the files written (NAME.key, NAME.crt, NAME.kubeconfig).")
	f.StringVar(&o.User, "user", "", "The subject common name: the user name the certificate logs in as.")
	f.StringSliceVar(&o.Groups, "group", nil, "A subject organization: a group the certificate logs in with (repeatable).")
	f.StringVar(&o.Signer, "signer", o.Signer, "The signerName.")
	f.StringSliceVar(&o.Usages, "usage", nil, "A key usage (repeatable; default: what the signer allows).")
	f.StringSliceVar(&o.DNSNames, "dns-name", nil, "A DNS subject alternative name (repeatable).")
	f.StringSliceVar(&o.IPAddresses, "ip-address", nil, "An IP subject alternative name (repeatable).")
	f.DurationVar(&o.Duration, "duration", o.Duration, "Requested lifetime (spec.expirationSeconds); at least 10m. 0 leaves it to the signer.")
	f.StringVar(&o.KeyType, "key-type", o.KeyType, "Key to generate: "+strings.Join(KeyTypes, ", ")+".")
	f.StringVar(&o.KeyFile, "key", "", "Use this existing private key (PEM) instead of generating one; it is not rewritten.")
	f.StringVar(&o.OutDir, "out-dir", o.OutDir, "Directory for NAME.key, NAME.crt and NAME.kubeconfig.")
	f.DurationVar(&o.Wait, "wait", o.Wait, "How long to wait for approval and issuance.")
	return cmd
}

// Validate returns every problem of the flags at once, changing nothing.
func (o *Options) Validate() error {
	var errs []error
	if o.Name == "" {
		errs = append(errs, errors.New("--name is required (the CSR's name and the files' base name)"))
	} else if strings.ContainsAny(o.Name, "/\\") {
		errs = append(errs, fmt.Errorf("--name %q must not contain a path separator", o.Name))
	}
	if o.User == "" {
		errs = append(errs, errors.New("--user is required (the CN: the user name the certificate logs in as)"))
	}
	if e := certvalidation.ValidateSignerName(nil, o.Signer); len(e) > 0 {
		errs = append(errs, fmt.Errorf("--signer: %s", e.ToAggregate()))
	}
	for _, u := range o.Usages {
		if !csr.KnownUsage(certificatesv1.KeyUsage(u)) {
			errs = append(errs, fmt.Errorf("--usage %q is not a Kubernetes key usage (e.g. \"client auth\", \"server auth\", \"digital signature\")", u))
		}
	}
	for _, ip := range o.IPAddresses {
		if net.ParseIP(ip) == nil {
			errs = append(errs, fmt.Errorf("--ip-address %q is not an IP address", ip))
		}
	}
	if o.Duration != 0 && o.Duration < 10*time.Minute {
		errs = append(errs, fmt.Errorf("--duration %s is below the 10m minimum", o.Duration))
	}
	if o.KeyFile == "" && !slices.Contains(KeyTypes, o.KeyType) {
		errs = append(errs, fmt.Errorf("--key-type %q is not one of %s", o.KeyType, strings.Join(KeyTypes, ", ")))
	}
	if o.Wait <= 0 {
		errs = append(errs, fmt.Errorf("--wait must be positive"))
	}
	if fi, err := os.Stat(o.OutDir); err != nil || !fi.IsDir() {
		errs = append(errs, fmt.Errorf("--out-dir %q is not a directory", o.OutDir))
	}
	if len(o.Usages) == 0 && !builtIn(o.Signer) {
		errs = append(errs, fmt.Errorf("--usage is required for signer %s (kcsr knows the defaults of the built-in signers only)", o.Signer))
	}
	return errors.Join(errs...)
}

func builtIn(signer string) bool {
	switch signer {
	case certificatesv1.KubeAPIServerClientSignerName, certificatesv1.KubeAPIServerClientKubeletSignerName, certificatesv1.KubeletServingSignerName:
		return true
	}
	return false
}

// DefaultUsages are what the signer allows, as the kubelet asks: key encipherment only for
// RSA keys.
func DefaultUsages(signer string, key crypto.PublicKey) []certificatesv1.KeyUsage {
	_, isRSA := key.(*rsa.PublicKey)
	u := []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature}
	if isRSA {
		u = append(u, certificatesv1.UsageKeyEncipherment)
	}
	if signer == certificatesv1.KubeletServingSignerName {
		return append(u, certificatesv1.UsageServerAuth)
	}
	return append(u, certificatesv1.UsageClientAuth)
}

// Run does the whole request.
func (o *Options) Run(ctx context.Context, out io.Writer) error {
	if err := o.Validate(); err != nil {
		return err
	}
	cfg, err := o.Conn.RESTConfig()
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	key, keyPEM, err := o.key()
	if err != nil {
		return err
	}
	var ips []net.IP
	for _, s := range o.IPAddresses {
		ips = append(ips, net.ParseIP(s))
	}
	subject := pkix.Name{CommonName: o.User, Organization: o.Groups}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: subject, DNSNames: o.DNSNames, IPAddresses: ips}, key)
	if err != nil {
		return fmt.Errorf("build the request: %w", err)
	}
	usages := make([]certificatesv1.KeyUsage, 0, len(o.Usages))
	for _, u := range o.Usages {
		usages = append(usages, certificatesv1.KeyUsage(u))
	}
	if len(usages) == 0 {
		usages = DefaultUsages(o.Signer, key.Public())
	}
	obj := &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: o.Name},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}),
			SignerName: o.Signer,
			Usages:     usages,
		},
	}
	if o.Duration > 0 {
		s := int32(o.Duration / time.Second)
		obj.Spec.ExpirationSeconds = &s
	}
	certPEM, err := Submit(ctx, client, obj, o.Wait, out)
	if err != nil {
		return err
	}
	cert, err := Verify(certPEM, key.Public(), cfg)
	if err != nil {
		return &cli.ExitError{Code: ExitFailed, Message: "the issued certificate does not check out: " + err.Error()}
	}
	base := filepath.Join(o.OutDir, o.Name)
	if o.KeyFile == "" {
		if err := atomicfile.WriteFile(base+".key", keyPEM, 0o600); err != nil {
			return err
		}
	}
	if err := atomicfile.WriteFile(base+".crt", certPEM, 0o644); err != nil {
		return err
	}
	if err := pki.WriteKubeconfig(base+".kubeconfig", cfg.Host, o.User, CAData(cfg), certPEM, keyPEM); err != nil {
		return err
	}
	fmt.Fprintf(out, "issued: serial %s, %s, valid until %s\nwrote %s.key, %s.crt and %s.kubeconfig\n",
		cert.SerialNumber.Text(16), cert.Subject, cert.NotAfter.UTC().Format(time.RFC3339), base, base, base)
	return nil
}

func (o *Options) key() (crypto.Signer, []byte, error) {
	if o.KeyFile != "" {
		data, err := os.ReadFile(o.KeyFile)
		if err != nil {
			return nil, nil, fmt.Errorf("--key: %w", err)
		}
		key, err := pki.ParseKey(data)
		if err != nil {
			return nil, nil, fmt.Errorf("--key %s: %w", o.KeyFile, err)
		}
		return key, data, nil
	}
	key, err := GenerateKey(o.KeyType)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err := pki.EncodeKey(key)
	return key, keyPEM, err
}

// GenerateKey makes a private key of one of KeyTypes.
func GenerateKey(keyType string) (crypto.Signer, error) {
	switch keyType {
	case "ecdsa-p256":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ecdsa-p384":
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "rsa-2048":
		return rsa.GenerateKey(rand.Reader, 2048)
	case "rsa-3072":
		return rsa.GenerateKey(rand.Reader, 3072)
	case "rsa-4096":
		return rsa.GenerateKey(rand.Reader, 4096)
	case "ed25519":
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	}
	return nil, fmt.Errorf("unknown key type %q; use one of %s", keyType, strings.Join(KeyTypes, ", "))
}

// Submit creates obj and waits until it is issued, denied, failed, deleted or wait passes,
// printing a line per state change. It returns the certificate.
func Submit(ctx context.Context, client kubernetes.Interface, obj *certificatesv1.CertificateSigningRequest, wait time.Duration, out io.Writer) ([]byte, error) {
	csrs := client.CertificatesV1().CertificateSigningRequests()
	created, err := csrs.Create(ctx, obj, metav1.CreateOptions{})
	switch {
	case apierrors.IsAlreadyExists(err):
		return nil, fmt.Errorf("a CSR named %q already exists; choose another --name (or delete it: kubectl delete csr %s)", obj.Name, obj.Name)
	case err != nil:
		return nil, &cli.ExitError{Code: ExitServerError, Message: "create the CSR: " + err.Error()}
	}
	fmt.Fprintf(out, "created CSR %s for signer %s; waiting for approval (an approver runs: kubectl certificate approve %s)\n", created.Name, created.Spec.SignerName, created.Name)

	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	state := "Pending"
	for {
		w, err := csrs.Watch(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", created.Name).String(), ResourceVersion: created.ResourceVersion})
		if err != nil {
			if ctx.Err() != nil {
				return nil, waitEnded(ctx, created.Name, state)
			}
			return nil, &cli.ExitError{Code: ExitServerError, Message: "watch the CSR: " + err.Error()}
		}
		for ev := range w.ResultChan() {
			if ev.Type == watch.Deleted {
				w.Stop()
				return nil, &cli.ExitError{Code: ExitFailed, Message: fmt.Sprintf("CSR %s was deleted before it was issued", created.Name)}
			}
			cur, ok := ev.Object.(*certificatesv1.CertificateSigningRequest)
			if !ok || cur.UID != created.UID {
				continue
			}
			created = cur
			for _, c := range cur.Status.Conditions {
				switch c.Type {
				case certificatesv1.CertificateDenied:
					w.Stop()
					return nil, &cli.ExitError{Code: ExitDenied, Message: fmt.Sprintf("CSR %s was denied: %s: %s", cur.Name, c.Reason, c.Message)}
				case certificatesv1.CertificateFailed:
					w.Stop()
					return nil, &cli.ExitError{Code: ExitFailed, Message: fmt.Sprintf("CSR %s failed: %s: %s", cur.Name, c.Reason, c.Message)}
				case certificatesv1.CertificateApproved:
					if state == "Pending" {
						state = "Approved"
						fmt.Fprintf(out, "approved: %s: %s; waiting for the signer\n", c.Reason, c.Message)
					}
				case "SignerUnavailable":
					if state != "Unavailable" {
						state = "Unavailable"
						fmt.Fprintf(out, "not issued yet: %s\n", c.Message)
					}
				}
			}
			if len(cur.Status.Certificate) > 0 {
				w.Stop()
				return cur.Status.Certificate, nil
			}
		}
		if ctx.Err() != nil {
			return nil, waitEnded(ctx, created.Name, state)
		}
		// The watch closed (server timeout); resume from the last version seen.
	}
}

func waitEnded(ctx context.Context, name, state string) error {
	why := "timed out"
	if errors.Is(ctx.Err(), context.Canceled) {
		why = "interrupted"
	}
	return &cli.ExitError{Code: ExitTimeout, Message: fmt.Sprintf("%s while CSR %s was %s; no files were written (the CSR stays: kubectl get csr %s)", why, name, state, name)}
}

// Verify checks that certPEM is a certificate for pub that chains to the CA the client
// trusts.
func Verify(certPEM []byte, pub crypto.PublicKey, cfg *rest.Config) (*x509.Certificate, error) {
	cert, err := pki.ParseCert(certPEM)
	if err != nil {
		return nil, err
	}
	want, _ := x509.MarshalPKIXPublicKey(pub)
	got, _ := x509.MarshalPKIXPublicKey(cert.PublicKey)
	if string(want) != string(got) {
		return nil, errors.New("it is for another key")
	}
	if ca := CAData(cfg); len(ca) > 0 {
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(ca) {
			return nil, errors.New("the kubeconfig's certificate-authority-data holds no certificate")
		}
		if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			return nil, fmt.Errorf("it does not chain to the cluster CA of the kubeconfig: %w", err)
		}
	}
	return cert, nil
}

// CAData is the CA bundle the client trusts, from data or file.
func CAData(cfg *rest.Config) []byte {
	if len(cfg.CAData) > 0 {
		return cfg.CAData
	}
	if cfg.CAFile != "" {
		if b, err := os.ReadFile(cfg.CAFile); err == nil {
			return b
		}
	}
	return nil
}

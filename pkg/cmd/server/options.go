// Package server is the `kcsr server` command: its flags (Options), their validation, and
// the start-up sequence: cluster PKI, storage (embedded or external etcd), the API server,
// the bootstrap RBAC policy, and the kubeconfig printed for the administrator.
package server

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	genericoptions "k8s.io/apiserver/pkg/server/options"
	"k8s.io/apiserver/pkg/storage/storagebackend"
	"k8s.io/client-go/informers"

	capkcs11 "kcsr.dev/kcsr/pkg/ca/pkcs11"
	"kcsr.dev/kcsr/pkg/controller/cleaner"
	kcsrinformers "kcsr.dev/kcsr/pkg/generated/informers/externalversions"
	"kcsr.dev/kcsr/pkg/leaderelection"
	"kcsr.dev/kcsr/pkg/pki"
	"kcsr.dev/kcsr/pkg/policy"
	"kcsr.dev/kcsr/pkg/signer"
)

// Options are the flags of `kcsr server`.
type Options struct {
	// DataDir holds the PKI, the embedded etcd and the admin kubeconfig.
	DataDir string
	// TLSSANs are extra host names and IPs for the serving certificate.
	TLSSANs []string
	// TokenAuthFile is a kube-apiserver style static token file.
	TokenAuthFile string

	// SignerConfig declares custom signers and CA overrides (pkg/signer).
	SignerConfig string
	// ClusterSigningDuration is the longest lifetime a built-in signer issues.
	ClusterSigningDuration time.Duration
	// ClusterCAPKCS11URI and PKCS11Module put the cluster CA key in an HSM.
	ClusterCAPKCS11URI string
	PKCS11Module       string
	// PublicPort serves CRLs and OCSP over plain HTTP on PublicBindAddress; 0 turns it off.
	PublicPort        int
	PublicBindAddress net.IP
	// PublicURL is the base URL of the public listener written into issued certificates
	// (CRL distribution point, OCSP responder).
	PublicURL string
	// GuardRails are the approval checks no policy can override.
	GuardRails policy.GuardRails
	// Cleaner holds the CSR garbage-collection ages.
	Cleaner cleaner.Options
	// Workers is how many CSRs the approver and the signer each handle at once: each
	// sync waits on a few storage writes, so concurrency is what lets etcd batch them.
	Workers int
	// LeaderElection runs the approver, signer and cleaner on one replica at a time.
	LeaderElection *leaderelection.Options

	SecureServing *genericoptions.SecureServingOptionsWithLoopback
	Etcd          *genericoptions.EtcdOptions
	Audit         *genericoptions.AuditOptions

	// kcsrInformers is the one informer factory of kcsr's API group, shared by the
	// authenticator, the controllers and the publisher (set by Config).
	kcsrInformers kcsrinformers.SharedInformerFactory
	// kubeInformers is the generic server's informer factory over the loopback client
	// (RBAC, the kcsr_csrs gauges, and the controllers' CSR informer: one copy of every
	// CSR, shared, whichever replica leads).
	kubeInformers informers.SharedInformerFactory
}

// NewOptions returns the defaults: data in ./kcsr-data, https on 127.0.0.1:6443, embedded
// etcd.
func NewOptions() *Options {
	o := &Options{
		DataDir:                "kcsr-data",
		ClusterSigningDuration: signer.DefaultMaxDuration,
		Cleaner:                cleaner.DefaultOptions(),
		LeaderElection:         leaderelection.NewOptions(),
		GuardRails:             policy.DefaultGuardRails(),
		Workers:                16,
		SecureServing:          genericoptions.NewSecureServingOptions().WithLoopback(),
		Etcd:                   genericoptions.NewEtcdOptions(storagebackend.NewDefaultConfig("/registry", nil)),
		Audit:                  genericoptions.NewAuditOptions(),
	}
	o.SecureServing.BindAddress = net.ParseIP("127.0.0.1")
	o.SecureServing.BindPort = 6443
	o.SecureServing.ServerCert.PairName = "serving"
	// The embedded etcd is the default; --etcd-servers selects an external cluster.
	o.Etcd.StorageConfig.Transport.ServerList = nil
	return o
}

// AddFlags registers the flags.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.DataDir, "data-dir", o.DataDir,
		"Directory for the cluster CA, the serving and admin certificates, admin.kubeconfig and the embedded etcd. Created on first start; reused after.")
	fs.StringSliceVar(&o.TLSSANs, "tls-san", o.TLSSANs,
		"Extra host name or IP address the serving certificate must be valid for (repeatable). localhost, 127.0.0.1 and ::1 are always included.")
	fs.StringVar(&o.TokenAuthFile, "token-auth-file", o.TokenAuthFile,
		"File of static bearer tokens in kube-apiserver's CSV format: token,user,uid,\"group1,group2\".")

	fs.StringVar(&o.SignerConfig, "signer-config", o.SignerConfig,
		"SignerConfiguration file (kcsr.dev/v1alpha1) declaring custom signers (CA, usages, maximum duration, subject and SAN rules) and CA overrides for the built-in ones. See docs/signers.md.")
	fs.DurationVar(&o.ClusterSigningDuration, "cluster-signing-duration", o.ClusterSigningDuration,
		"The longest lifetime the built-in signers issue; spec.expirationSeconds above it is clamped, as kube-controller-manager does.")
	fs.StringVar(&o.ClusterCAPKCS11URI, "cluster-ca-pkcs11-uri", o.ClusterCAPKCS11URI,
		"RFC 7512 URI of the cluster CA key in an HSM (pkcs11:token=…;object=…?pin-source=file:/path). The CA certificate must be in DATA_DIR/pki/ca.crt and no ca.key beside it. The PIN comes from pin-source or $KCSR_PKCS11_PIN, never from a flag.")
	fs.StringVar(&o.PKCS11Module, "pkcs11-module", o.PKCS11Module,
		"PKCS#11 module of the HSM, e.g. /usr/lib/softhsm/libsofthsm2.so (or module-path= in the URI).")
	fs.IntVar(&o.PublicPort, "public-port", o.PublicPort,
		"Port of the plain-HTTP public listener serving CRLs (/crl/<ca>.crl) and OCSP (/ocsp/<ca>); 0 turns it off.")
	fs.IPVar(&o.PublicBindAddress, "public-bind-address", o.PublicBindAddress,
		"IP address of the public listener (default: --bind-address).")
	fs.StringVar(&o.PublicURL, "public-url", o.PublicURL,
		"Base URL at which clients reach the public listener, written into issued certificates as CRL distribution point and OCSP responder (default: http://<bind address>:<public port> when --public-port is set).")
	fs.StringSliceVar(&o.GuardRails.ProtectedGroups, "protected-groups", o.GuardRails.ProtectedGroups,
		"Groups (subject O) for which a kube-apiserver-client certificate is never approved automatically, whatever the policies say; system:masters is always protected.")
	fs.IntVar(&o.GuardRails.MinRSABits, "min-rsa-key-bits", o.GuardRails.MinRSABits,
		"Requests with a shorter RSA key are denied, whatever the policies say.")
	fs.StringSliceVar(&o.GuardRails.AllowedCurves, "allowed-curves", o.GuardRails.AllowedCurves,
		"ECDSA curves accepted; requests on other curves are denied.")
	fs.BoolVar(&o.GuardRails.RefuseSHA1, "refuse-sha1", o.GuardRails.RefuseSHA1,
		"Deny requests signed with SHA-1 (MD5 is always denied).")
	fs.IntVar(&o.Workers, "controller-workers", o.Workers, "CSRs the approver and the signer each handle at once.")
	fs.DurationVar(&o.Cleaner.Interval, "csr-gc-interval", o.Cleaner.Interval, "How often finished CSRs are garbage-collected.")
	fs.DurationVar(&o.Cleaner.ApprovedAge, "csr-gc-issued-age", o.Cleaner.ApprovedAge, "Delete issued CSRs this long after approval (the certificate stays in the inventory).")
	fs.DurationVar(&o.Cleaner.DeniedAge, "csr-gc-denied-age", o.Cleaner.DeniedAge, "Delete Denied and Failed CSRs this long after the decision.")
	fs.DurationVar(&o.Cleaner.PendingAge, "csr-gc-pending-age", o.Cleaner.PendingAge, "Delete CSRs left Pending, or Approved but never issued, this long.")
	o.LeaderElection.AddFlags(fs)

	fs.IPVar(&o.SecureServing.BindAddress, "bind-address", o.SecureServing.BindAddress,
		"IP address to serve HTTPS on. Use 0.0.0.0 for every interface (and add --tls-san for the names clients use).")
	fs.IntVar(&o.SecureServing.BindPort, "secure-port", o.SecureServing.BindPort,
		"Port to serve HTTPS on. 0 picks a free port (printed at start).")
	fs.StringVar(&o.SecureServing.ServerCert.CertKey.CertFile, "tls-cert-file", o.SecureServing.ServerCert.CertKey.CertFile,
		"Serving certificate to use instead of the one kcsr issues from its CA in --data-dir.")
	fs.StringVar(&o.SecureServing.ServerCert.CertKey.KeyFile, "tls-private-key-file", o.SecureServing.ServerCert.CertKey.KeyFile,
		"Private key of --tls-cert-file.")

	etcdFlags := pflag.NewFlagSet("etcd", pflag.ContinueOnError)
	o.Etcd.AddFlags(etcdFlags)
	for _, name := range []string{"etcd-servers", "etcd-cafile", "etcd-certfile", "etcd-keyfile", "etcd-prefix", "etcd-compaction-interval", "etcd-count-metric-poll-period", "etcd-db-metric-poll-interval", "etcd-healthcheck-timeout", "etcd-readycheck-timeout", "watch-cache", "encryption-provider-config", "encryption-provider-config-automatic-reload"} {
		if f := etcdFlags.Lookup(name); f != nil {
			fs.AddFlag(f)
		}
	}
	if f := fs.Lookup("etcd-servers"); f != nil {
		f.Usage = "External etcd servers (scheme://ip:port, comma separated). Empty: kcsr runs an embedded etcd in --data-dir."
	}
	o.Audit.AddFlags(fs)
}

// Complete fills in derived values.
func (o *Options) Complete() error {
	abs, err := filepath.Abs(o.DataDir)
	if err != nil {
		return fmt.Errorf("--data-dir: %w", err)
	}
	o.DataDir = abs
	return nil
}

// Validate returns every problem with the flags at once.
func (o *Options) Validate() error {
	var errs []error
	if o.DataDir == "" {
		errs = append(errs, errors.New("--data-dir must not be empty"))
	}
	if o.Workers < 1 {
		errs = append(errs, fmt.Errorf("--controller-workers must be at least 1, not %d", o.Workers))
	}
	if o.SecureServing.BindPort < 0 || o.SecureServing.BindPort > 65535 {
		errs = append(errs, fmt.Errorf("--secure-port %d is out of range; use 1-65535, or 0 for a free port", o.SecureServing.BindPort))
	}
	for _, san := range o.TLSSANs {
		if strings.TrimSpace(san) == "" || strings.ContainsAny(san, " /") {
			errs = append(errs, fmt.Errorf("--tls-san %q is neither a host name nor an IP address", san))
		}
	}
	if (o.SecureServing.ServerCert.CertKey.CertFile == "") != (o.SecureServing.ServerCert.CertKey.KeyFile == "") {
		errs = append(errs, errors.New("--tls-cert-file and --tls-private-key-file go together; set both or neither"))
	}
	if o.ClusterSigningDuration < 10*time.Minute {
		errs = append(errs, fmt.Errorf("--cluster-signing-duration %s is below the 10m minimum", o.ClusterSigningDuration))
	}
	for name, d := range map[string]time.Duration{"--csr-gc-interval": o.Cleaner.Interval, "--csr-gc-issued-age": o.Cleaner.ApprovedAge, "--csr-gc-denied-age": o.Cleaner.DeniedAge, "--csr-gc-pending-age": o.Cleaner.PendingAge} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive, got %s", name, d))
		}
	}
	if o.PublicPort < 0 || o.PublicPort > 65535 {
		errs = append(errs, fmt.Errorf("--public-port %d is out of range", o.PublicPort))
	}
	if o.PublicURL != "" && !strings.HasPrefix(o.PublicURL, "http://") && !strings.HasPrefix(o.PublicURL, "https://") {
		errs = append(errs, fmt.Errorf("--public-url %q must start with http:// (CRLs and OCSP are served over plain HTTP)", o.PublicURL))
	}
	errs = append(errs, o.LeaderElection.Validate()...)
	if err := o.GuardRails.Validate(); err != nil {
		errs = append(errs, err)
	}
	if o.ClusterCAPKCS11URI != "" {
		if _, err := capkcs11.ParseURI(o.ClusterCAPKCS11URI); err != nil {
			errs = append(errs, fmt.Errorf("--cluster-ca-pkcs11-uri: %w", err))
		}
	}
	if o.SignerConfig != "" {
		if _, err := signer.LoadConfiguration(o.SignerConfig); err != nil {
			errs = append(errs, err)
		}
	}
	if o.TokenAuthFile != "" {
		// The tokens are passwords: refused where others can read them, as a CA key is.
		if fi, err := os.Stat(o.TokenAuthFile); err != nil {
			errs = append(errs, fmt.Errorf("--token-auth-file: %w", err))
		} else if err := pki.CheckSecretFileMode("--token-auth-file", o.TokenAuthFile, fi.Mode()); err != nil {
			errs = append(errs, err)
		}
	}
	if len(o.Etcd.StorageConfig.Transport.ServerList) > 0 {
		errs = append(errs, o.Etcd.Validate()...)
	}
	errs = append(errs, o.Audit.Validate()...)
	return utilerrors.NewAggregate(errs)
}

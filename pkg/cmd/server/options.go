// Package server is the `kcsr server` command: its flags (Options), their validation, and
// the start-up sequence: cluster PKI, storage (embedded or external etcd), the API server,
// the bootstrap RBAC policy, and the kubeconfig printed for the administrator.
package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	genericoptions "k8s.io/apiserver/pkg/server/options"
	"k8s.io/apiserver/pkg/storage/storagebackend"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/controller/manager"
	"kcsr.dev/kcsr/pkg/pki"
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

	// Controllers are the signer's, approver's, cleaner's and publisher's settings, shared
	// with `kcsr controller`. The cluster CA is the one in DataDir.
	Controllers *manager.Options

	SecureServing *genericoptions.SecureServingOptionsWithLoopback
	Etcd          *genericoptions.EtcdOptions
	Audit         *genericoptions.AuditOptions
}

// NewOptions returns the defaults: data in ./kcsr-data, https on 127.0.0.1:6443, embedded
// etcd; the server approves (policies, guard rails) and garbage-collects CSRs.
func NewOptions() *Options {
	o := &Options{
		DataDir:       "kcsr-data",
		Controllers:   manager.NewOptions(),
		SecureServing: genericoptions.NewSecureServingOptions().WithLoopback(),
		Etcd:          genericoptions.NewEtcdOptions(storagebackend.NewDefaultConfig("/registry", nil)),
		Audit:         genericoptions.NewAuditOptions(),
	}
	o.Controllers.Approve = true
	o.Controllers.Clean = true
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

	o.Controllers.AddFlags(fs)
	o.Controllers.AddCleanerFlags(fs)
	fs.Lookup("cluster-ca-pkcs11-uri").Usage += " The CA certificate must be in DATA_DIR/pki/ca.crt and no ca.key beside it."
	fs.Lookup("public-bind-address").Usage += " Default: --bind-address."
	// The name of this flag before `kcsr controller` and `kcsr server` shared their
	// controller flags.
	fs.IntVar(&o.Controllers.Workers, "controller-workers", o.Controllers.Workers, "CSRs the approver and the signer each handle at once.")
	_ = fs.MarkDeprecated("controller-workers", "use --workers")

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

// Complete fills in derived values: the absolute data directory, the serving certificate
// kcsr issues there unless --tls-cert-file names one, and the controllers' defaults. With
// the embedded etcd, leader election is off: only this process can use the store, there
// is no replica to take turns with, and a restart after a crash should not wait out a
// lease.
func (o *Options) Complete() error {
	abs, err := filepath.Abs(o.DataDir)
	if err != nil {
		return fmt.Errorf("--data-dir: %w", err)
	}
	o.DataDir = abs
	if o.SecureServing.ServerCert.CertKey.CertFile == "" && o.SecureServing.ServerCert.CertKey.KeyFile == "" {
		o.SecureServing.ServerCert.CertKey.CertFile = filepath.Join(o.pkiDir(), pki.ServingCertFile)
		o.SecureServing.ServerCert.CertKey.KeyFile = filepath.Join(o.pkiDir(), pki.ServingKeyFile)
	}
	if o.embeddedEtcd() {
		o.Controllers.LeaderElection.Enabled = false
	}
	// No watch cache for events and the inventory unless --watch-cache-sizes asks for
	// one: events are written far more than they are watched (as in kube-apiserver), and
	// the inventory, the one resource that grows to millions, is read through lists paged
	// from etcd and the server's own index (pkg/inventory); a cache would hold every
	// object decoded, with its PEM. (A malformed flag is Validate's to report.)
	if sizes, err := genericoptions.ParseWatchCacheSizes(o.Etcd.WatchCacheSizes); err == nil {
		for _, gr := range uncachedResources {
			if _, set := sizes[gr]; !set {
				o.Etcd.WatchCacheSizes = append(o.Etcd.WatchCacheSizes, gr.String()+"#0")
			}
		}
	}
	o.Controllers.Complete(o.SecureServing.BindAddress)
	return nil
}

// uncachedResources have no watch cache unless --watch-cache-sizes gives them one.
var uncachedResources = []schema.GroupResource{{Resource: "events"}, {Group: kcsrv1alpha1.GroupName, Resource: "issuedcertificates"}}

// pkiDir is where the cluster CA, the serving and the admin certificates are.
func (o *Options) pkiDir() string { return filepath.Join(o.DataDir, "pki") }

// embeddedEtcd reports whether the server runs its own etcd (no --etcd-servers).
func (o *Options) embeddedEtcd() bool { return len(o.Etcd.StorageConfig.Transport.ServerList) == 0 }

// Validate returns every problem with the flags at once. It reads no file: loadFiles does,
// first thing in Run.
func (o *Options) Validate() error {
	var errs []error
	if o.DataDir == "" {
		errs = append(errs, errors.New("--data-dir must not be empty"))
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
	errs = append(errs, o.Controllers.Validate()...)
	if !o.embeddedEtcd() {
		errs = append(errs, o.Etcd.Validate()...)
	}
	errs = append(errs, o.Audit.Validate()...)
	return utilerrors.NewAggregate(errs)
}

// loadFiles reads the files the flags name, before anything is changed, so that a bad one
// changes nothing: the signer configuration, and the static token file, refused where
// others can read it (its tokens are passwords, as a CA key is).
func (o *Options) loadFiles(ctx context.Context) (*signer.Configuration, error) {
	// The cluster CA is created on a first start, after this: a signer on it is checked
	// when the signers are opened.
	cfg, err := o.Controllers.LoadSignerConfig(ctx, filepath.Join(o.pkiDir(), pki.CACertFile), filepath.Join(o.pkiDir(), pki.CAKeyFile))
	if err != nil {
		return nil, err
	}
	if o.TokenAuthFile != "" {
		fi, err := os.Stat(o.TokenAuthFile)
		if err != nil {
			return nil, fmt.Errorf("--token-auth-file: %w", err)
		}
		if err := pki.CheckSecretFileMode("--token-auth-file", o.TokenAuthFile, fi.Mode()); err != nil {
			return nil, err
		}
	}
	return cfg, nil
}

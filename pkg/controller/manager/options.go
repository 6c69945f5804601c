// Package manager wires kcsr's CSR controllers for the two commands that run them: `kcsr
// server`, the control plane, over its loopback client; and `kcsr controller`, beside
// kube-controller-manager on a Kubernetes cluster. It is the one place the signing CAs are
// opened and closed, the revocation publisher and its public listener are started, and the
// approver, the signer (csrsigning) and the cleaner are built and run under the leader
// election Lease, so the two commands cannot drift apart.
//
// The stages follow the Kubernetes component pattern:
//
//	NewOptions → AddFlags → Complete (defaults) → Validate (no I/O)
//	  → LoadSignerConfig, OpenClusterCA, OpenSigners (I/O: files, HSMs; nothing is changed)
//	  → StartPublisher (CRL, OCSP, every replica) → Run (controllers, the Lease holder)
//
// Options are not changed after Complete: what is derived from files (the login signers,
// the guard rails that name them) is returned in Signers.
package manager

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	capkcs11 "kcsr.dev/kcsr/pkg/ca/pkcs11"
	"kcsr.dev/kcsr/pkg/controller/cleaner"
	"kcsr.dev/kcsr/pkg/leaderelection"
	"kcsr.dev/kcsr/pkg/policy"
	"kcsr.dev/kcsr/pkg/signer"
)

// DefaultWorkers is how many CSRs the approver and the signer each handle at once by
// default: each sync waits on a few storage writes, so concurrency is what lets the store
// batch them.
const DefaultWorkers = 16

// Options are the controller settings `kcsr server` and `kcsr controller` share, with the
// same flag names in both.
type Options struct {
	// SignerConfig is the SignerConfiguration file: custom signers, their CAs and rules,
	// and CA overrides for the built-in signers.
	SignerConfig string
	// ClusterSigningDuration is the longest lifetime a signer issues unless its
	// configuration says otherwise.
	ClusterSigningDuration time.Duration
	// ClusterCAPKCS11URI and PKCS11Module put the built-in signers' CA key in an HSM.
	ClusterCAPKCS11URI string
	PKCS11Module       string

	// Approve runs the policy approver. kcsr server always approves; kcsr controller only
	// with --approve.
	Approve bool
	// GuardRails are the approval checks no policy can override.
	GuardRails policy.GuardRails
	// Clean runs the CSR garbage collector with the ages of Cleaner. kcsr server cleans;
	// on a cluster, kube-controller-manager's csrcleaner does.
	Clean   bool
	Cleaner cleaner.Options
	// Workers is how many CSRs the approver and the signer each handle at once.
	Workers int
	// LeaderElection runs the approver, signer and cleaner on one replica at a time.
	LeaderElection *leaderelection.Options

	// PublicPort serves CRLs and OCSP over plain HTTP on PublicBindAddress; 0 turns it off.
	PublicPort        int
	PublicBindAddress net.IP
	// PublicURL is the base URL of the public listener as clients reach it, written into
	// issued certificates (CRL distribution point, OCSP responder). Complete derives it
	// from the bind address and port when it is not given.
	PublicURL string
}

// NewOptions returns the defaults.
func NewOptions() *Options {
	return &Options{
		ClusterSigningDuration: signer.DefaultMaxDuration,
		GuardRails:             policy.DefaultGuardRails(),
		Cleaner:                cleaner.DefaultOptions(),
		Workers:                DefaultWorkers,
		LeaderElection:         leaderelection.NewOptions(),
	}
}

// AddFlags registers the shared flags. The cleaner's flags are AddCleanerFlags', for the
// command that cleans.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.SignerConfig, "signer-config", o.SignerConfig,
		"SignerConfiguration file (kcsr.dev/v1alpha1) declaring custom signers (CA in a file or a PKCS#11 HSM, usages, maximum duration, subject and SAN rules) and CA overrides for the built-in ones. See docs/signers.md.")
	fs.DurationVar(&o.ClusterSigningDuration, "cluster-signing-duration", o.ClusterSigningDuration,
		"The longest lifetime a signer issues unless its configuration says otherwise; spec.expirationSeconds above it is clamped, as kube-controller-manager does.")
	fs.StringVar(&o.ClusterCAPKCS11URI, "cluster-ca-pkcs11-uri", o.ClusterCAPKCS11URI,
		"RFC 7512 URI of the built-in signers' CA key in an HSM (pkcs11:token=…;object=…?pin-source=file:/path). The PIN comes from pin-source or $KCSR_PKCS11_PIN, never from a flag.")
	fs.StringVar(&o.PKCS11Module, "pkcs11-module", o.PKCS11Module,
		"PKCS#11 module of the HSM, e.g. /usr/lib/softhsm/libsofthsm2.so (or module-path= in the URI).")
	fs.IntVar(&o.Workers, "workers", o.Workers, "CSRs the approver and the signer each handle at once.")
	fs.IntVar(&o.PublicPort, "public-port", o.PublicPort,
		"Port of the plain-HTTP public listener serving CRLs (/crl/<ca>.crl), OCSP (/ocsp/<ca>) and the revocation authorization webhook; 0 turns it off.")
	fs.IPVar(&o.PublicBindAddress, "public-bind-address", o.PublicBindAddress, "IP address of the public listener.")
	fs.StringVar(&o.PublicURL, "public-url", o.PublicURL,
		"Base URL at which clients reach the public listener, written into issued certificates as CRL distribution point and OCSP responder (default: http://<bind address>:<public port> when --public-port is set).")
	fs.StringSliceVar(&o.GuardRails.ProtectedGroups, "protected-groups", o.GuardRails.ProtectedGroups,
		"Groups (subject O) for which a login certificate is never approved automatically, whatever the policies say; system:masters is always protected.")
	fs.IntVar(&o.GuardRails.MinRSABits, "min-rsa-key-bits", o.GuardRails.MinRSABits,
		"Requests with a shorter RSA key are denied, whatever the policies say.")
	fs.StringSliceVar(&o.GuardRails.AllowedCurves, "allowed-curves", o.GuardRails.AllowedCurves,
		"ECDSA curves accepted; requests on other curves are denied.")
	fs.BoolVar(&o.GuardRails.RefuseSHA1, "refuse-sha1", o.GuardRails.RefuseSHA1,
		"Deny requests signed with SHA-1 (MD5 is always denied).")
	o.LeaderElection.AddFlags(fs)
}

// AddCleanerFlags registers the CSR garbage collector's flags.
func (o *Options) AddCleanerFlags(fs *pflag.FlagSet) {
	fs.DurationVar(&o.Cleaner.Interval, "csr-gc-interval", o.Cleaner.Interval, "How often finished CSRs are garbage-collected.")
	fs.DurationVar(&o.Cleaner.ApprovedAge, "csr-gc-issued-age", o.Cleaner.ApprovedAge, "Delete issued CSRs this long after approval (the certificate stays in the inventory).")
	fs.DurationVar(&o.Cleaner.DeniedAge, "csr-gc-denied-age", o.Cleaner.DeniedAge, "Delete Denied and Failed CSRs this long after the decision.")
	fs.DurationVar(&o.Cleaner.PendingAge, "csr-gc-pending-age", o.Cleaner.PendingAge, "Delete CSRs left Pending, or Approved but never issued, this long.")
	fs.DurationVar(&o.Cleaner.InventoryRetention, "inventory-retention", o.Cleaner.InventoryRetention, "Delete an IssuedCertificate this long after its certificate expired (checked every --csr-gc-interval); 0 keeps every record.")
}

// Complete fills in the derived defaults: the public listener binds defaultBind unless
// --public-bind-address says otherwise, and its URL is derived from where it binds.
func (o *Options) Complete(defaultBind net.IP) {
	if o.PublicBindAddress == nil {
		o.PublicBindAddress = defaultBind
	}
	if o.PublicURL == "" && o.PublicPort != 0 && o.PublicBindAddress != nil {
		host := o.PublicBindAddress.String()
		if o.PublicBindAddress.IsUnspecified() {
			host = "127.0.0.1"
		}
		o.PublicURL = "http://" + net.JoinHostPort(host, strconv.Itoa(o.PublicPort))
	}
}

// PublicAddress is the host:port the public listener binds.
func (o *Options) PublicAddress() string {
	return net.JoinHostPort(o.PublicBindAddress.String(), strconv.Itoa(o.PublicPort))
}

// Validate returns every problem with the shared flags, naming them. It reads no file:
// LoadSignerConfig and the Open functions do that.
func (o *Options) Validate() []error {
	var errs []error
	if o.Workers < 1 {
		errs = append(errs, fmt.Errorf("--workers must be at least 1, not %d", o.Workers))
	}
	if o.ClusterSigningDuration < 10*time.Minute {
		errs = append(errs, fmt.Errorf("--cluster-signing-duration %s is below the 10m minimum", o.ClusterSigningDuration))
	}
	if o.PublicPort < 0 || o.PublicPort > 65535 {
		errs = append(errs, fmt.Errorf("--public-port %d is out of range; use 1-65535, or 0 to turn the listener off", o.PublicPort))
	}
	if o.PublicURL != "" && !strings.HasPrefix(o.PublicURL, "http://") && !strings.HasPrefix(o.PublicURL, "https://") {
		errs = append(errs, fmt.Errorf("--public-url %q must start with http:// (CRLs and OCSP are served over plain HTTP)", o.PublicURL))
	}
	if o.ClusterCAPKCS11URI != "" {
		if _, err := capkcs11.ParseURI(o.ClusterCAPKCS11URI); err != nil {
			errs = append(errs, fmt.Errorf("--cluster-ca-pkcs11-uri: %w", err))
		}
	}
	if o.Clean {
		for _, d := range []struct {
			flag string
			age  time.Duration
		}{{"--csr-gc-interval", o.Cleaner.Interval}, {"--csr-gc-issued-age", o.Cleaner.ApprovedAge}, {"--csr-gc-denied-age", o.Cleaner.DeniedAge}, {"--csr-gc-pending-age", o.Cleaner.PendingAge}} {
			if d.age <= 0 {
				errs = append(errs, fmt.Errorf("%s must be positive, got %s", d.flag, d.age))
			}
		}
		if o.Cleaner.InventoryRetention < 0 {
			errs = append(errs, fmt.Errorf("--inventory-retention must not be negative (0 keeps every record), got %s", o.Cleaner.InventoryRetention))
		}
	}
	errs = append(errs, o.LeaderElection.Validate()...)
	if err := o.GuardRails.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// errNothingToServe is returned when no signer has a CA.
var errNothingToServe = errors.New("no signer has a CA: nothing to serve")

package signer

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"sigs.k8s.io/yaml"

	"k8s.io/apimachinery/pkg/util/validation/field"
	"kcsr.dev/kcsr/pkg/apis/certificates/validation"
	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/ca"
	cafile "kcsr.dev/kcsr/pkg/ca/file"
	"kcsr.dev/kcsr/pkg/csr"
	"kcsr.dev/kcsr/pkg/upstream"
)

// Configuration is the signer configuration file of `kcsr server --signer-config`.
//
//	apiVersion: kcsr.dev/v1alpha1
//	kind: SignerConfiguration
//	signers:
//	- signerName: example.com/internal-webhook
//	  ca: {certFile: /etc/kcsr/webhook-ca.crt, keyFile: /etc/kcsr/webhook-ca.key}
//	  maxDuration: 720h
//	  rules:
//	    allowedUsages: [digital signature, key encipherment, server auth]
//	    requiredUsages: [server auth]
//	    dnsNames: ["*.*.svc", "*.*.svc.cluster.local"]
type Configuration struct {
	metav1.TypeMeta `json:",inline"`
	// Signers declares custom signers, and may override the CA or maximum duration of a
	// built-in one (its Kubernetes rules always apply; rules given for it are refused).
	Signers []SignerSpec `json:"signers"`
}

// SignerSpec declares one signer.
type SignerSpec struct {
	SignerName string  `json:"signerName"`
	CA         *CASpec `json:"ca,omitempty"`
	// Upstream is a CA outside kcsr that signs the CSR itself, instead of CA.
	Upstream    *UpstreamSpec   `json:"upstream,omitempty"`
	MaxDuration metav1.Duration `json:"maxDuration,omitempty"`
	Rules       *Rules          `json:"rules,omitempty"`
}

// CASpec selects a CA backend: PEM files, or a key in an HSM over PKCS#11.
type CASpec struct {
	CertFile string      `json:"certFile,omitempty"`
	KeyFile  string      `json:"keyFile,omitempty"`
	PKCS11   *PKCS11Spec `json:"pkcs11,omitempty"`
}

// UpstreamSpec selects an upstream CA (package upstream).
type UpstreamSpec struct {
	// Login makes kcsr server accept this signer's certificates for login, and only
	// those: a certificate that chains to the upstream's roots logs in when kcsr's
	// inventory records it for this signer and it is not revoked. Whatever else the
	// upstream signs (for its other clients, or by its administrators) does not. The
	// signer is then a login signer (system:masters refused, protected groups left to a
	// person). kcsr server only: kube-apiserver trusts a client CA for every certificate
	// it signs.
	Login  bool                   `json:"login,omitempty"`
	StepCA *upstream.StepCAConfig `json:"stepCA,omitempty"`
	Vault  *upstream.VaultConfig  `json:"vault,omitempty"`
}

// PKCS11Spec addresses a key in an HSM. The PIN comes from the URI's pin-source file or
// the KCSR_PKCS11_PIN environment variable, never from this file.
type PKCS11Spec struct {
	ModulePath string `json:"modulePath,omitempty"`
	URI        string `json:"uri"`
	// CertFile is the CA certificate (PEM).
	CertFile string `json:"certFile"`
}

// LoadConfiguration reads and checks a signer configuration file.
func LoadConfiguration(file string) (*Configuration, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("--signer-config: %w", err)
	}
	var c Configuration
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		return nil, fmt.Errorf("--signer-config %s: %w", file, err)
	}
	if c.APIVersion != "kcsr.dev/v1alpha1" || c.Kind != "SignerConfiguration" {
		return nil, fmt.Errorf("--signer-config %s: apiVersion/kind must be kcsr.dev/v1alpha1 SignerConfiguration, got %q %q", file, c.APIVersion, c.Kind)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("--signer-config %s: %w", file, err)
	}
	return &c, nil
}

// Validate returns every problem of the configuration at once.
func (c *Configuration) Validate() error {
	var errs []error
	seen := map[string]bool{}
	for i, s := range c.Signers {
		p := field.NewPath("signers").Index(i)
		for _, e := range validation.ValidateSignerName(p.Child("signerName"), s.SignerName) {
			errs = append(errs, e)
		}
		if seen[s.SignerName] {
			errs = append(errs, fmt.Errorf("%s: signer %q is declared twice", p.Child("signerName"), s.SignerName))
		}
		if s.SignerName == kcsrv1alpha1.PKISignerName {
			errs = append(errs, fmt.Errorf("%s: %s is reserved for the inventory records of the server's own certificates (admin, serving); choose another name", p.Child("signerName"), s.SignerName))
		}
		seen[s.SignerName] = true
		builtIn := isBuiltIn(s.SignerName)
		if builtIn && s.Rules != nil {
			errs = append(errs, fmt.Errorf("%s: %s is a built-in signer with Kubernetes' rules; remove rules", p.Child("rules"), s.SignerName))
		}
		if !builtIn && s.CA == nil && s.Upstream == nil {
			errs = append(errs, fmt.Errorf("%s: a custom signer needs a CA (certFile + keyFile, or pkcs11), or an upstream", p.Child("ca")))
		}
		if u := s.Upstream; u != nil {
			switch {
			case builtIn:
				errs = append(errs, fmt.Errorf("%s: %s is a built-in signer, issued by the cluster CA; an upstream serves custom signers only", p.Child("upstream"), s.SignerName))
			case s.CA != nil:
				errs = append(errs, fmt.Errorf("%s: set either ca or upstream, not both", p))
			case u.StepCA == nil && u.Vault == nil:
				errs = append(errs, fmt.Errorf("%s: name the upstream: stepCA or vault", p.Child("upstream")))
			case u.StepCA != nil && u.Vault != nil:
				errs = append(errs, fmt.Errorf("%s: name one upstream: stepCA or vault, not both", p.Child("upstream")))
			case u.StepCA != nil:
				for _, problem := range u.StepCA.Validate() {
					errs = append(errs, fmt.Errorf("%s: %s", p.Child("upstream", "stepCA"), problem))
				}
			default:
				for _, problem := range u.Vault.Validate() {
					errs = append(errs, fmt.Errorf("%s: %s", p.Child("upstream", "vault"), problem))
				}
			}
		}
		if s.MaxDuration.Duration < 0 || (s.MaxDuration.Duration > 0 && s.MaxDuration.Duration < 10*time.Minute) {
			errs = append(errs, fmt.Errorf("%s: %s is below the 10m minimum", p.Child("maxDuration"), s.MaxDuration.Duration))
		}
		if ca := s.CA; ca != nil {
			files := ca.CertFile != "" || ca.KeyFile != ""
			switch {
			case files && ca.PKCS11 != nil:
				errs = append(errs, fmt.Errorf("%s: set either certFile + keyFile or pkcs11, not both", p.Child("ca")))
			case files && (ca.CertFile == "" || ca.KeyFile == ""):
				errs = append(errs, fmt.Errorf("%s: certFile and keyFile go together", p.Child("ca")))
			case ca.PKCS11 != nil && (ca.PKCS11.URI == "" || ca.PKCS11.CertFile == ""):
				errs = append(errs, fmt.Errorf("%s: uri and certFile are required", p.Child("ca", "pkcs11")))
			case !files && ca.PKCS11 == nil:
				errs = append(errs, fmt.Errorf("%s: set certFile + keyFile, or pkcs11", p.Child("ca")))
			}
		}
		if r := s.Rules; r != nil {
			for _, u := range append(append([]certificatesv1.KeyUsage{}, r.AllowedUsages...), r.RequiredUsages...) {
				if !csr.KnownUsage(u) {
					errs = append(errs, fmt.Errorf("%s: unknown usage %q", p.Child("rules"), u))
				}
			}
			errs = append(errs, validatePatterns(p.Child("rules"), r)...)
			for _, cidr := range r.IPRanges {
				if _, _, err := net.ParseCIDR(cidr); err != nil {
					errs = append(errs, fmt.Errorf("%s: %v", p.Child("rules", "ipRanges"), err))
				}
			}
		}
	}
	return utilerrors.NewAggregate(errs)
}

// validatePatterns returns what is wrong with the name patterns of r: a pattern that
// matches nothing, or not what it seems to (pattern.go). Subject patterns (commonNames,
// organizations) match any text, so any is valid.
func validatePatterns(rules *field.Path, r *Rules) []error {
	var errs []error
	check := func(name string, patterns []string, problemOf func(string) string) {
		for i, pat := range patterns {
			if problem := problemOf(pat); problem != "" {
				errs = append(errs, fmt.Errorf("%s: bad pattern %q: %s", rules.Child(name).Index(i), pat, problem))
			}
		}
	}
	check("dnsNames", r.DNSNames, func(p string) string { _, problem := dnsPatternLabels(p); return problem })
	check("emailAddresses", r.EmailAddresses, emailPatternProblem)
	check("uris", r.URIs, uriPatternProblem)
	return errs
}

func isBuiltIn(name string) bool {
	for _, b := range BuiltInSignerNames {
		if b == name {
			return true
		}
	}
	return false
}

// Build loads every CA and returns the profiles by signerName: the built-in signers on
// clusterCA with defaultMax unless the configuration overrides them, then the custom
// signers. On error, every CA already opened is closed.
func Build(ctx context.Context, c *Configuration, clusterCA ca.Backend, defaultMax time.Duration, now time.Time) (profiles map[string]*Profile, err error) {
	profiles = map[string]*Profile{}
	var opened []ca.Backend
	defer func() {
		if err != nil {
			for _, b := range opened {
				b.Close()
			}
		}
	}()
	for _, name := range BuiltInSignerNames {
		profiles[name] = &Profile{SignerName: name, CA: clusterCA, MaxDuration: defaultMax, Check: builtInCheck(name)}
	}
	if c == nil {
		return profiles, nil
	}
	var errs []error
	for _, s := range c.Signers {
		p := profiles[s.SignerName]
		if p == nil {
			rules := Rules{}
			if s.Rules != nil {
				rules = *s.Rules
			}
			name := s.SignerName
			p = &Profile{SignerName: name, MaxDuration: defaultMax, Check: func(req *x509.CertificateRequest, usages []certificatesv1.KeyUsage) error {
				return rules.check(name, req, usages)
			}}
			profiles[name] = p
		}
		if s.MaxDuration.Duration > 0 {
			p.MaxDuration = s.MaxDuration.Duration
		}
		if s.CA != nil {
			b, err := openCA(ctx, s.CA, now)
			if err != nil {
				// Every CA is opened, so that every problem is reported at once.
				errs = append(errs, fmt.Errorf("signer %s: %w", s.SignerName, err))
				continue
			}
			opened = append(opened, b)
			p.CA = b
		}
		if s.Upstream != nil {
			var u upstream.Signer
			var err error
			kind := "stepCA"
			if s.Upstream.Vault != nil {
				kind = "vault"
				u, err = upstream.NewVault(s.Upstream.Vault)
			} else {
				u, err = upstream.NewStepCA(s.Upstream.StepCA)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("signer %s: upstream %s: %w", s.SignerName, kind, err))
				continue
			}
			p.Upstream, p.UpstreamLogin = u, s.Upstream.Login
		}
	}
	if err = errors.Join(errs...); err != nil {
		return nil, err
	}
	return profiles, nil
}

// CheckCAs opens the CA of every signer of c and closes it again, and reports every CA
// that cannot be opened (a missing or unreadable file, a key that is not the
// certificate's, an expired CA, an HSM that does not answer) at once: what Build would
// refuse, before anything else starts. A signer whose CA file is one of pending, files
// the caller creates before it opens the signers (kcsr server's cluster CA on a first
// start), and is not there yet, is left to Build.
func CheckCAs(ctx context.Context, c *Configuration, now time.Time, pending ...string) error {
	if c == nil {
		return nil
	}
	checked := &Configuration{Signers: slices.DeleteFunc(slices.Clone(c.Signers), func(s SignerSpec) bool {
		if s.CA == nil {
			return false
		}
		for _, f := range []string{s.CA.CertFile, s.CA.KeyFile} {
			abs, err := filepath.Abs(f)
			if f == "" || err != nil || !slices.Contains(pending, abs) {
				continue
			}
			if _, err := os.Stat(f); os.IsNotExist(err) {
				return true
			}
		}
		return false
	})}
	profiles, err := Build(ctx, checked, nil, time.Hour, now)
	if err != nil {
		return err
	}
	for _, p := range profiles {
		if p.CA != nil {
			p.CA.Close()
		}
	}
	return nil
}

func openCA(ctx context.Context, s *CASpec, now time.Time) (ca.Backend, error) {
	if s.PKCS11 != nil {
		return openPKCS11(ctx, s.PKCS11, now)
	}
	if s.CertFile == "" {
		return nil, errors.New("no CA configured")
	}
	return cafile.Load(ctx, s.CertFile, s.KeyFile, now)
}

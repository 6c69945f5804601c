package manager

import (
	"context"
	"crypto/x509"
	"fmt"
	"slices"
	"sort"
	"time"

	"k8s.io/klog/v2"

	"kcsr.dev/kcsr/pkg/ca"
	cafile "kcsr.dev/kcsr/pkg/ca/file"
	capkcs11 "kcsr.dev/kcsr/pkg/ca/pkcs11"
	"kcsr.dev/kcsr/pkg/policy"
	"kcsr.dev/kcsr/pkg/signer"
	"kcsr.dev/kcsr/pkg/upstream"
)

// Signers are what the controllers sign with, read from the files and HSMs the options
// name: the served signer profiles, each with its CA open, and the login signers.
type Signers struct {
	// Profiles are the served signers, by signerName; each has a CA.
	Profiles map[string]*signer.Profile
	// ClusterCA is the built-in signers' CA; nil when kcsr does not sign them.
	ClusterCA ca.Backend
	// GuardRails are the options' guard rails with LoginSigners set: the signers whose
	// certificates log in, for admission and the approver.
	GuardRails policy.GuardRails
}

// Names returns the served signerNames, sorted.
func (s *Signers) Names() []string {
	names := make([]string, 0, len(s.Profiles))
	for name := range s.Profiles {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Upstreams returns the upstream CAs of the served signers, by signerName.
func (s *Signers) Upstreams() map[string]upstream.Signer {
	out := map[string]upstream.Signer{}
	for name, p := range s.Profiles {
		if p.Upstream != nil {
			out[name] = p.Upstream
		}
	}
	return out
}

// Close closes every CA once: several signers may share one backend.
func (s *Signers) Close() {
	closed := map[ca.Backend]bool{}
	backends := []ca.Backend{s.ClusterCA}
	for _, name := range s.Names() {
		backends = append(backends, s.Profiles[name].CA)
	}
	for _, b := range backends {
		if b != nil && !closed[b] {
			closed[b] = true
			b.Close()
		}
	}
}

// LoadSignerConfig reads --signer-config; nil without it. Commands call it before they
// change anything, so that a bad file changes nothing.
// pending are CA files the caller creates before it opens the signers (kcsr server's
// cluster CA on a first start): a signer on one that is not there yet is checked when
// the signers are opened.
func (o *Options) LoadSignerConfig(ctx context.Context, pending ...string) (*signer.Configuration, error) {
	if o.SignerConfig == "" {
		return nil, nil
	}
	cfg, err := signer.LoadConfiguration(o.SignerConfig)
	if err != nil {
		return nil, err
	}
	if err := signer.CheckCAs(ctx, cfg, time.Now(), pending...); err != nil {
		return nil, fmt.Errorf("--signer-config %s:\n%w", o.SignerConfig, err)
	}
	return cfg, nil
}

// OpenClusterCA opens the built-in signers' CA: its key in the HSM of
// --cluster-ca-pkcs11-uri, or in keyFile; certFile holds its certificate either way. It
// returns nil when certFile is empty (kcsr does not sign the built-in signers). flags names
// the settings in errors.
func (o *Options) OpenClusterCA(ctx context.Context, certFile, keyFile, flags string) (ca.Backend, error) {
	now := time.Now()
	switch {
	case certFile == "":
		return nil, nil
	case o.ClusterCAPKCS11URI != "":
		b, err := capkcs11.New(ctx, capkcs11.Config{ModulePath: o.PKCS11Module, URI: o.ClusterCAPKCS11URI, CertFile: certFile}, now)
		if err != nil {
			return nil, fmt.Errorf("--cluster-ca-pkcs11-uri: %w", err)
		}
		return b, nil
	default:
		b, err := cafile.Load(ctx, certFile, keyFile, now)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", flags, err)
		}
		return b, nil
	}
}

// OpenSigners builds the signer profiles from cfg (LoadSignerConfig's) and clusterCA,
// keeps those with a CA (limited to served when it is not empty), and marks the login
// signers: those whose CA is one of loginCAs or issued by one (signer.MarkLoginSigners),
// which never issue system:masters and whose protected groups are left to a person. It
// takes ownership of clusterCA: Signers.Close closes it.
func (o *Options) OpenSigners(ctx context.Context, cfg *signer.Configuration, clusterCA ca.Backend, served []string, loginCAs []*x509.Certificate) (_ *Signers, err error) {
	s := &Signers{Profiles: map[string]*signer.Profile{}, ClusterCA: clusterCA, GuardRails: o.GuardRails}
	all, err := signer.Build(ctx, cfg, clusterCA, o.ClusterSigningDuration, time.Now())
	if err != nil {
		if clusterCA != nil {
			clusterCA.Close()
		}
		return nil, err
	}
	for name, p := range all {
		if (p.CA != nil || p.Upstream != nil) && (len(served) == 0 || slices.Contains(served, name)) {
			s.Profiles[name] = p
		}
	}
	// The CAs of signers not served are closed now; on error, every CA is.
	defer func() {
		inUse := map[ca.Backend]bool{}
		if err == nil {
			for _, p := range s.Profiles {
				inUse[p.CA] = true
			}
			inUse[clusterCA] = true
		}
		for _, p := range all {
			if p.CA != nil && !inUse[p.CA] {
				inUse[p.CA] = true
				p.CA.Close()
			}
		}
		if err != nil && clusterCA != nil && !inUse[clusterCA] {
			clusterCA.Close()
		}
	}()
	for _, want := range served {
		if s.Profiles[want] == nil {
			return nil, fmt.Errorf("--signers names %q, but no CA is configured for it: declare it in --signer-config, or give --cluster-signing-cert-file for a kubernetes.io signer", want)
		}
	}
	if len(s.Profiles) == 0 {
		return nil, errNothingToServe
	}
	login, err := signer.MarkLoginSigners(ctx, s.Profiles, loginCAs)
	if err != nil {
		return nil, err
	}
	s.GuardRails.LoginSigners = login
	klog.InfoS("Login signers: their certificates log in, so system:masters is refused and the protected groups are left to a person", "signers", login)
	return s, nil
}

// UpstreamLogins are the upstream signers configured for login (upstream.login), sorted.
func (s *Signers) UpstreamLogins() []string {
	var names []string
	for _, name := range s.Names() {
		if s.Profiles[name].UpstreamLogin {
			names = append(names, name)
		}
	}
	return names
}

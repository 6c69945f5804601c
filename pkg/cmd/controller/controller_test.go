package controller

import (
	"strings"
	"testing"

	"kcsr.dev/kcsr/pkg/signer"
	"kcsr.dev/kcsr/pkg/testkit"
	"kcsr.dev/kcsr/pkg/upstream"
)

// TestValidate: every bad combination is refused with a message naming the flag to change.
func TestValidate(t *testing.T) {
	cases := []struct {
		name   string
		modify func(o *Options)
		want   []string // substrings of the error; nil means valid
	}{
		{"signer config only", func(o *Options) { o.Controllers.SignerConfig = "signers.yaml" }, nil},
		{"cluster CA files", func(o *Options) { o.ClusterSigningCertFile, o.ClusterSigningKeyFile = "ca.crt", "ca.key" }, nil},
		{"cluster CA in an HSM", func(o *Options) {
			o.ClusterSigningCertFile, o.Controllers.ClusterCAPKCS11URI = "ca.crt", "pkcs11:token=t"
		}, nil},
		{"nothing to sign with", func(o *Options) {}, []string{"--signer-config", "--cluster-signing-cert-file"}},
		{"certificate without key", func(o *Options) { o.ClusterSigningCertFile = "ca.crt" }, []string{"--cluster-signing-key-file or --cluster-ca-pkcs11-uri"}},
		{"key without certificate", func(o *Options) { o.Controllers.SignerConfig, o.ClusterSigningKeyFile = "s.yaml", "ca.key" }, []string{"--cluster-signing-cert-file needs"}},
		{"two keys", func(o *Options) {
			o.ClusterSigningCertFile, o.ClusterSigningKeyFile, o.Controllers.ClusterCAPKCS11URI = "ca.crt", "ca.key", "pkcs11:token=t"
		}, []string{"both name the CA key"}},
		{"no workers", func(o *Options) { o.Controllers.SignerConfig, o.Controllers.Workers = "s.yaml", 0 }, []string{"--workers must be at least 1"}},
		{"bad port", func(o *Options) { o.Controllers.SignerConfig, o.Controllers.PublicPort = "s.yaml", 70000 }, []string{"--public-port 70000"}},
		{"bad lease timings", func(o *Options) {
			o.Controllers.SignerConfig, o.Controllers.LeaderElection.RenewDeadline = "s.yaml", o.Controllers.LeaderElection.LeaseDuration
		}, []string{"--leader-elect-renew-deadline"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := NewOptions()
			tc.modify(o)
			err := o.Validate()
			if tc.want == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error; want one mentioning %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// TestRefuseUpstreamLogin: upstream.login is kcsr server's; kcsr controller refuses it.
func TestRefuseUpstreamLogin(t *testing.T) {
	step := &signer.UpstreamSpec{StepCA: &upstream.StepCAConfig{}}
	if err := refuseUpstreamLogin(&signer.Configuration{Signers: []signer.SignerSpec{{SignerName: "example.com/step", Upstream: step}}}); err != nil {
		t.Errorf("an upstream signer without login: %v", err)
	}
	login := &signer.UpstreamSpec{Login: true, StepCA: &upstream.StepCAConfig{}}
	err := refuseUpstreamLogin(&signer.Configuration{Signers: []signer.SignerSpec{{SignerName: "example.com/step", Upstream: login}}})
	testkit.ErrorContains(t, err, "signer example.com/step: upstream.login is for kcsr server")
	if err := refuseUpstreamLogin(nil); err != nil {
		t.Errorf("no configuration: %v", err)
	}
}

package manager

import (
	"context"
	"crypto/x509"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	certificatesv1 "k8s.io/api/certificates/v1"

	"kcsr.dev/kcsr/pkg/testkit"
)

// TestValidate: every bad shared flag is refused with a message naming it, and Validate
// reads no file (a signer configuration that does not exist is LoadSignerConfig's error).
func TestValidate(t *testing.T) {
	cases := []struct {
		name   string
		modify func(o *Options)
		want   []string
	}{
		{"defaults", func(*Options) {}, nil},
		{"a missing signer configuration is not read", func(o *Options) { o.SignerConfig = "/nonexistent/signers.yaml" }, nil},
		{"no workers", func(o *Options) { o.Workers = 0 }, []string{"--workers must be at least 1, not 0"}},
		{"short maximum duration", func(o *Options) { o.ClusterSigningDuration = time.Minute }, []string{"--cluster-signing-duration 1m0s is below the 10m minimum"}},
		{"bad public port", func(o *Options) { o.PublicPort = 70000 }, []string{"--public-port 70000 is out of range"}},
		{"public URL without scheme", func(o *Options) { o.PublicURL = "ca.example.com" }, []string{`--public-url "ca.example.com" must start with http://`}},
		{"bad PKCS#11 URI", func(o *Options) { o.ClusterCAPKCS11URI = "token=x" }, []string{"--cluster-ca-pkcs11-uri"}},
		{"cleaner ages are checked when cleaning", func(o *Options) { o.Clean, o.Cleaner.Interval = true, 0 }, []string{"--csr-gc-interval must be positive"}},
		{"cleaner ages are not when not", func(o *Options) { o.Cleaner.Interval = 0 }, nil},
		{"bad guard rail", func(o *Options) { o.GuardRails.AllowedCurves = []string{"P-1"} }, []string{"P-1"}},
		{"bad lease timings", func(o *Options) { o.LeaderElection.RenewDeadline = o.LeaderElection.LeaseDuration }, []string{"--leader-elect-renew-deadline"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := NewOptions()
			tc.modify(o)
			errs := o.Validate()
			if tc.want == nil {
				if len(errs) > 0 {
					t.Fatalf("Validate() = %v; want no error", errs)
				}
				return
			}
			var all []string
			for _, err := range errs {
				all = append(all, err.Error())
			}
			got := strings.Join(all, "; ")
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("Validate() = %q; want it to mention %q", got, w)
				}
			}
		})
	}
}

// TestComplete: the public URL is derived from where the listener binds, loopback for an
// unspecified address; a given URL or bind address is kept.
func TestComplete(t *testing.T) {
	cases := []struct {
		name            string
		port            int
		bind, url       string
		defaultBind     string
		wantBind, wantU string
	}{
		{name: "no listener", defaultBind: "127.0.0.1", wantBind: "127.0.0.1"},
		{name: "default bind", port: 8080, defaultBind: "10.0.0.1", wantBind: "10.0.0.1", wantU: "http://10.0.0.1:8080"},
		{name: "every interface", port: 8080, defaultBind: "0.0.0.0", wantBind: "0.0.0.0", wantU: "http://127.0.0.1:8080"},
		{name: "explicit bind", port: 8080, bind: "192.0.2.1", defaultBind: "0.0.0.0", wantBind: "192.0.2.1", wantU: "http://192.0.2.1:8080"},
		{name: "explicit URL", port: 8080, url: "http://ca.example.com", defaultBind: "0.0.0.0", wantBind: "0.0.0.0", wantU: "http://ca.example.com"},
		{name: "IPv6", port: 8080, defaultBind: "::1", wantBind: "::1", wantU: "http://[::1]:8080"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := NewOptions()
			o.PublicPort, o.PublicURL = tc.port, tc.url
			if tc.bind != "" {
				o.PublicBindAddress = net.ParseIP(tc.bind)
			}
			o.Complete(net.ParseIP(tc.defaultBind))
			if got := o.PublicBindAddress.String(); got != tc.wantBind {
				t.Errorf("PublicBindAddress = %s; want %s", got, tc.wantBind)
			}
			if o.PublicURL != tc.wantU {
				t.Errorf("PublicURL = %q; want %q", o.PublicURL, tc.wantU)
			}
		})
	}
}

// TestOpenSigners: the served signers are those with a CA, limited to the served list;
// the login signers are those on a login CA; every CA is closed exactly once, by Close or
// at once when it is not served, and all of them on error.
func TestOpenSigners(t *testing.T) {
	clusterAuthority := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
	otherAuthority := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
	clientSigners := []string{certificatesv1.KubeAPIServerClientSignerName, certificatesv1.KubeAPIServerClientKubeletSignerName}
	cases := []struct {
		name      string
		served    []string
		loginCAs  []*x509.Certificate
		noCA      bool
		wantNames []string
		wantLogin []string
		wantErr   string
	}{
		{
			name:      "every built-in signer, the cluster CA a login CA",
			loginCAs:  []*x509.Certificate{clusterAuthority.Cert},
			wantNames: []string{certificatesv1.KubeAPIServerClientSignerName, certificatesv1.KubeAPIServerClientKubeletSignerName, certificatesv1.KubeletServingSignerName, "kubernetes.io/legacy-unknown"},
			wantLogin: []string{certificatesv1.KubeAPIServerClientSignerName, certificatesv1.KubeAPIServerClientKubeletSignerName, certificatesv1.KubeletServingSignerName, "kubernetes.io/legacy-unknown"},
		},
		{
			name:      "served limits, another login CA",
			served:    clientSigners,
			loginCAs:  []*x509.Certificate{otherAuthority.Cert},
			wantNames: clientSigners,
		},
		{name: "a served signer without a CA", served: []string{"example.com/none"}, wantErr: `--signers names "example.com/none", but no CA is configured for it: declare it in --signer-config, or give --cluster-signing-cert-file for a kubernetes.io signer`},
		{name: "no CA at all", noCA: true, wantErr: "no signer has a CA: nothing to serve"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			backend := clusterAuthority.Backend()
			o := NewOptions()
			var s *Signers
			var err error
			if tc.noCA {
				s, err = o.OpenSigners(context.Background(), nil, nil, tc.served, tc.loginCAs)
			} else {
				s, err = o.OpenSigners(context.Background(), nil, backend, tc.served, tc.loginCAs)
			}
			if !testkit.ExpectError(t, err, tc.wantErr) {
				t.FailNow()
			}
			if err != nil {
				if !tc.noCA && backend.Closed() != 1 {
					t.Errorf("on error the cluster CA was closed %d times; want 1", backend.Closed())
				}
				return
			}
			if diff := cmp.Diff(tc.wantNames, s.Names()); diff != "" {
				t.Errorf("served signers (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantLogin, s.GuardRails.LoginSigners); diff != "" {
				t.Errorf("login signers (-want +got):\n%s", diff)
			}
			if o.GuardRails.LoginSigners != nil {
				t.Errorf("OpenSigners changed the options' guard rails: %v", o.GuardRails.LoginSigners)
			}
			if backend.Closed() != 0 {
				t.Fatalf("the cluster CA was closed before Close")
			}
			s.Close()
			if backend.Closed() != 1 {
				t.Errorf("Close closed the cluster CA %d times; want 1", backend.Closed())
			}
		})
	}
}

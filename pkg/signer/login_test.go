package signer

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	certificatesv1 "k8s.io/api/certificates/v1"

	"kcsr.dev/kcsr/pkg/ca"
	"kcsr.dev/kcsr/pkg/testkit"
)

// TestMarkLoginSigners checks which signers are login signers, and that a login signer
// refuses system:masters after its own rules, whoever approved the request.
func TestMarkLoginSigners(t *testing.T) {
	cluster := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
	sub := cluster.NewIntermediate(t, testkit.NewKey(t, testkit.P256))
	other := testkit.NewCA(t, testkit.NewKey(t, testkit.P256), func(c *x509.Certificate) { c.Subject = pkix.Name{CommonName: "other"} })
	clusterBackend := cluster.Backend()
	anyOrg := Rules{Organizations: []string{"*"}}
	build := func() map[string]*Profile {
		profiles, err := Build(context.Background(), nil, clusterBackend, DefaultMaxDuration, testkit.Epoch)
		if err != nil {
			t.Fatal(err)
		}
		for name, b := range map[string]ca.Backend{
			"example.com/ops":     cluster.Backend(), // the cluster CA's files, opened again
			"example.com/sub":     sub.Backend(),
			"example.com/webhook": other.Backend(),
		} {
			rules, name := anyOrg, name
			profiles[name] = &Profile{SignerName: name, CA: b, MaxDuration: DefaultMaxDuration, Check: func(req *x509.CertificateRequest, usages []certificatesv1.KeyUsage) error {
				return rules.check(name, req, usages)
			}}
		}
		profiles["example.com/no-ca"] = &Profile{SignerName: "example.com/no-ca"}
		return profiles
	}
	request := func(orgs ...string) *x509.CertificateRequest {
		req, _ := testkit.NewRequest(t, testkit.NewKey(t, testkit.P256), &x509.CertificateRequest{Subject: pkix.Name{CommonName: "root", Organization: orgs}})
		return req
	}
	clientUsages := []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth}

	profiles := build()
	login, err := MarkLoginSigners(context.Background(), profiles, []*x509.Certificate{cluster.Cert})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"example.com/ops", "example.com/sub",
		certificatesv1.KubeAPIServerClientSignerName, certificatesv1.KubeAPIServerClientKubeletSignerName,
		certificatesv1.KubeletServingSignerName, "kubernetes.io/legacy-unknown",
	}
	if diff := cmp.Diff(want, login); diff != "" {
		t.Errorf("login signers (-want +got):\n%s", diff)
	}
	// Twice is once: Check is not wrapped again.
	if again, err := MarkLoginSigners(context.Background(), profiles, []*x509.Certificate{cluster.Cert}); err != nil || !cmp.Equal(again, want) {
		t.Errorf("MarkLoginSigners again = %v, %v; want %v", again, err, want)
	}

	mastersMessage := func(signer string) string {
		return `subject organization "system:masters" is not allowed for signer ` + signer + `: the server accepts this signer's certificates for login, and system:masters is the cluster administrators' group; request the certificate without it`
	}
	tests := []struct {
		name    string
		signer  string
		req     *x509.CertificateRequest
		usages  []certificatesv1.KeyUsage
		wantErr string
	}{
		{name: "a custom signer on the cluster CA refuses system:masters", signer: "example.com/ops", req: request("ops", "system:masters"), usages: clientUsages, wantErr: mastersMessage("example.com/ops")},
		{name: "a custom signer on the cluster CA issues other groups", signer: "example.com/ops", req: request("ops"), usages: clientUsages},
		{name: "a custom signer on a CA the cluster CA issued refuses system:masters", signer: "example.com/sub", req: request("system:masters"), usages: clientUsages, wantErr: mastersMessage("example.com/sub")},
		{name: "a custom signer on another CA is not a login signer", signer: "example.com/webhook", req: request("system:masters"), usages: clientUsages},
		{name: "kube-apiserver-client refuses system:masters at signing too", signer: certificatesv1.KubeAPIServerClientSignerName, req: request("system:masters"), usages: clientUsages, wantErr: mastersMessage(certificatesv1.KubeAPIServerClientSignerName)},
		{name: "the signer's own rules come first", signer: certificatesv1.KubeAPIServerClientSignerName, req: request("system:masters"), usages: []certificatesv1.KeyUsage{certificatesv1.UsageServerAuth}, wantErr: "invalid usage for client certificate: server auth"},
		{name: "the kubelet client signer keeps Kubernetes' message", signer: certificatesv1.KubeAPIServerClientKubeletSignerName, req: request("system:masters"), usages: clientUsages, wantErr: "subject organization is not system:nodes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			testkit.ExpectError(t, profiles[tc.signer].Check(tc.req, tc.usages), tc.wantErr)
		})
	}
	for name, p := range profiles {
		if want := name != "example.com/webhook" && name != "example.com/no-ca"; p.Login != want {
			t.Errorf("%s: Login = %v, want %v", name, p.Login, want)
		}
	}
}

func TestMarkLoginSignersChainError(t *testing.T) {
	broken := &testkit.Static{ChainErr: errors.New("the token is gone")}
	_, err := MarkLoginSigners(context.Background(), map[string]*Profile{"example.com/hsm": {SignerName: "example.com/hsm", CA: broken}}, nil)
	if diff := cmp.Diff("signer example.com/hsm: read the CA certificate: the token is gone", testkit.ErrString(err)); diff != "" {
		t.Errorf("error (-want +got):\n%s", diff)
	}
}

// rootsOnly is an upstream known by its roots (MarkLoginSigners reads nothing else).
type rootsOnly []*x509.Certificate

func (r rootsOnly) Name() string { return "test upstream" }
func (r rootsOnly) Sign(context.Context, *x509.CertificateRequest, []certificatesv1.KeyUsage, time.Duration) ([]*x509.Certificate, error) {
	return nil, errors.New("not used")
}
func (r rootsOnly) Roots() []*x509.Certificate { return r }
func (r rootsOnly) Revoke(context.Context, *big.Int, int, string) error {
	return errors.New("not used")
}

// TestMarkLoginSignersUpstream: an upstream signer is a login signer, and refuses
// system:masters, when its roots are trusted for client authentication, issued by a
// trusted CA, or issue a trusted CA (the server trusts one of the upstream's
// intermediates), or when it is configured for login (upstream.login); not when they are
// unrelated.
func TestMarkLoginSignersUpstream(t *testing.T) {
	trustedRoot := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
	stepRoot := testkit.NewCA(t, testkit.NewKey(t, testkit.P256), testkit.Named("step root"))
	stepIntermediate := stepRoot.NewIntermediate(t, testkit.NewKey(t, testkit.P256))
	masters := testkit.Request(t, "root", testkit.WithOrg("system:masters"))
	for _, tc := range []struct {
		name      string
		roots     []*x509.Certificate
		trusted   []*x509.Certificate
		login     bool
		wantLogin bool
	}{
		{"its root is trusted", []*x509.Certificate{trustedRoot.Cert}, []*x509.Certificate{trustedRoot.Cert}, false, true},
		{"one of its intermediates is trusted", []*x509.Certificate{stepRoot.Cert}, []*x509.Certificate{stepIntermediate.Cert}, false, true},
		{"unrelated", []*x509.Certificate{stepRoot.Cert}, []*x509.Certificate{trustedRoot.Cert}, false, false},
		{"unrelated, configured for login", []*x509.Certificate{stepRoot.Cert}, []*x509.Certificate{trustedRoot.Cert}, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &Profile{SignerName: "example.com/step", Upstream: rootsOnly(tc.roots), UpstreamLogin: tc.login, Check: func(*x509.CertificateRequest, []certificatesv1.KeyUsage) error { return nil }}
			login, err := MarkLoginSigners(context.Background(), map[string]*Profile{p.SignerName: p}, tc.trusted)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(login) == 1; got != tc.wantLogin || p.Login != tc.wantLogin {
				t.Fatalf("login signers %v, Login %v; want login %v", login, p.Login, tc.wantLogin)
			}
			if err := p.Check(masters, nil); (err != nil) != tc.wantLogin {
				t.Errorf("system:masters: %v", err)
			}
		})
	}
}

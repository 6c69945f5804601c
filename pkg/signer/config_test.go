package signer

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"

	"kcsr.dev/kcsr/pkg/testkit"
	"kcsr.dev/kcsr/pkg/upstream"
)

func TestLoadConfiguration(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		path := filepath.Join(dir, name)
		testkit.NoError(t, os.WriteFile(path, []byte(data), 0o600), "write "+name)
		return path
	}
	const header = "apiVersion: kcsr.dev/v1alpha1\nkind: SignerConfiguration\n"
	valid := write("valid.yaml", header+"signers:\n- signerName: example.com/webhooks\n  ca: {certFile: ca.crt, keyFile: ca.key}\n  maxDuration: 720h\n")
	cases := []struct {
		name, file, wantErr string
	}{
		{name: "valid", file: valid},
		{name: "missing", file: filepath.Join(dir, "missing.yaml"), wantErr: "--signer-config: open " + filepath.Join(dir, "missing.yaml") + ": no such file or directory"},
		{name: "unknown field", file: write("typo.yaml", header+"signer: []\n"), wantErr: `unknown field "signer"`},
		{name: "another kind", file: write("kind.yaml", "apiVersion: v1\nkind: ConfigMap\n"),
			wantErr: "apiVersion/kind must be kcsr.dev/v1alpha1 SignerConfiguration, got \"v1\" \"ConfigMap\""},
		{name: "invalid", file: write("invalid.yaml", header+"signers:\n- signerName: example.com/webhooks\n"),
			wantErr: "--signer-config " + filepath.Join(dir, "invalid.yaml") + ": signers[0].ca: a custom signer needs a CA (certFile + keyFile, or pkcs11)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := LoadConfiguration(tc.file)
			if !testkit.ErrorContains(t, err, tc.wantErr) || err != nil {
				return
			}
			want := []SignerSpec{{SignerName: "example.com/webhooks", CA: &CASpec{CertFile: "ca.crt", KeyFile: "ca.key"}, MaxDuration: metav1.Duration{Duration: 720 * time.Hour}}}
			if diff := cmp.Diff(want, c.Signers); diff != "" {
				t.Errorf("signers (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	files := &CASpec{CertFile: "ca.crt", KeyFile: "ca.key"}
	cases := []struct {
		name    string
		signers []SignerSpec
		want    []string
	}{
		{name: "a custom signer and a built-in override", signers: []SignerSpec{
			{SignerName: "example.com/webhooks", CA: files, Rules: &Rules{AllowedUsages: []certificatesv1.KeyUsage{certificatesv1.UsageServerAuth}, IPRanges: []string{"10.0.0.0/8"}}},
			{SignerName: certificatesv1.KubeAPIServerClientSignerName, MaxDuration: metav1.Duration{Duration: time.Hour}},
		}},
		{name: "declared twice", signers: []SignerSpec{{SignerName: "example.com/a", CA: files}, {SignerName: "example.com/a", CA: files}},
			want: []string{`signers[1].signerName: signer "example.com/a" is declared twice`}},
		{name: "rules for a built-in signer", signers: []SignerSpec{{SignerName: certificatesv1.KubeletServingSignerName, Rules: &Rules{}}},
			want: []string{"signers[0].rules: kubernetes.io/kubelet-serving is a built-in signer with Kubernetes' rules; remove rules"}},
		{name: "every problem at once", signers: []SignerSpec{
			{SignerName: "example.com/a", MaxDuration: metav1.Duration{Duration: time.Minute}},
			{SignerName: "example.com/b", CA: &CASpec{CertFile: "ca.crt"}},
			{SignerName: "example.com/c", CA: &CASpec{CertFile: "ca.crt", KeyFile: "ca.key", PKCS11: &PKCS11Spec{URI: "pkcs11:token=x"}}},
			{SignerName: "example.com/d", CA: &CASpec{PKCS11: &PKCS11Spec{URI: "pkcs11:token=x"}}},
			{SignerName: "example.com/e", CA: &CASpec{}},
			{SignerName: "example.com/f", CA: files, Rules: &Rules{RequiredUsages: []certificatesv1.KeyUsage{"root"}, IPRanges: []string{"10.0.0.0/33"}}},
		}, want: []string{
			"signers[0].ca: a custom signer needs a CA (certFile + keyFile, or pkcs11), or an upstream",
			"signers[0].maxDuration: 1m0s is below the 10m minimum",
			"signers[1].ca: certFile and keyFile go together",
			"signers[2].ca: set either certFile + keyFile or pkcs11, not both",
			"signers[3].ca.pkcs11: uri and certFile are required",
			"signers[4].ca: set certFile + keyFile, or pkcs11",
			`signers[5].rules: unknown usage "root"`,
			"signers[5].rules.ipRanges: invalid CIDR address: 10.0.0.0/33",
		}},
		{name: "upstream step-ca", signers: []SignerSpec{
			{SignerName: "example.com/step", Upstream: &UpstreamSpec{StepCA: &upstream.StepCAConfig{URL: "https://ca.example:9000", RootsFile: "root.crt", Provisioner: "kcsr", ProvisionerKeyFile: "kcsr.jwk"}}},
		}},
		{name: "upstream problems", signers: []SignerSpec{
			{SignerName: "example.com/a", Upstream: &UpstreamSpec{}},
			{SignerName: "example.com/b", CA: files, Upstream: &UpstreamSpec{StepCA: &upstream.StepCAConfig{}}},
			{SignerName: certificatesv1.KubeAPIServerClientSignerName, Upstream: &UpstreamSpec{StepCA: &upstream.StepCAConfig{}}},
			{SignerName: "example.com/c", Upstream: &UpstreamSpec{StepCA: &upstream.StepCAConfig{URL: "http://ca.example:9000"}}},
		}, want: []string{
			"signers[0].upstream: name the upstream: stepCA or vault",
			"signers[1]: set either ca or upstream, not both",
			"signers[2].upstream: kubernetes.io/kube-apiserver-client is a built-in signer, issued by the cluster CA; an upstream serves custom signers only",
			`signers[3].upstream.stepCA: url "http://ca.example:9000" is not an https://HOST:PORT URL`,
			"signers[3].upstream.stepCA: rootsFile is required: the CA's root certificates (PEM), e.g. step-ca's certs/root_ca.crt",
			"signers[3].upstream.stepCA: provisioner is required: the name of a JWK provisioner of the CA",
			"signers[3].upstream.stepCA: provisionerKeyFile is required: the provisioner's private JWK",
		}},
		{name: "upstream Vault", signers: []SignerSpec{
			{SignerName: "example.com/vault", Upstream: &UpstreamSpec{Vault: &upstream.VaultConfig{Address: "https://vault.example:8200", Mount: "pki", RootsFile: "root.crt", Auth: upstream.VaultAuth{TokenFile: "token"}}}},
			{SignerName: "example.com/vault-k8s", Upstream: &UpstreamSpec{Vault: &upstream.VaultConfig{Address: "https://vault.example:8200", Mount: "pki", RootsFile: "root.crt", Auth: upstream.VaultAuth{Kubernetes: &upstream.VaultKubernetes{Role: "kcsr"}}}}},
			{SignerName: "example.com/vault-dev", Upstream: &UpstreamSpec{Vault: &upstream.VaultConfig{Address: "http://127.0.0.1:8200", Mount: "pki_int", Role: "kcsr", RootsFile: "root.crt", Auth: upstream.VaultAuth{AppRole: &upstream.VaultAppRole{RoleID: "r", SecretIDFile: "s"}}}}},
		}},
		{name: "upstream Vault problems", signers: []SignerSpec{
			{SignerName: "example.com/a", Upstream: &UpstreamSpec{StepCA: &upstream.StepCAConfig{}, Vault: &upstream.VaultConfig{}}},
			{SignerName: "example.com/b", Upstream: &UpstreamSpec{Vault: &upstream.VaultConfig{Address: "http://vault.example:8200", Mount: "/pki"}}},
			{SignerName: "example.com/c", Upstream: &UpstreamSpec{Vault: &upstream.VaultConfig{Address: "https://vault.example:8200", Mount: "pki", Role: "a b", RootsFile: "r", Auth: upstream.VaultAuth{TokenFile: "t", AppRole: &upstream.VaultAppRole{}}}}},
			{SignerName: "example.com/d", Upstream: &UpstreamSpec{Vault: &upstream.VaultConfig{Address: "https://vault.example:8200", Mount: "pki", RootsFile: "r", Sign: "role", Auth: upstream.VaultAuth{AppRole: &upstream.VaultAppRole{}}}}},
			{SignerName: "example.com/e", Upstream: &UpstreamSpec{Vault: &upstream.VaultConfig{Address: "https://vault.example:8200", Mount: "pki", RootsFile: "r", Sign: "sign", Auth: upstream.VaultAuth{TokenFile: "t"}}}},
			{SignerName: "example.com/f", Upstream: &UpstreamSpec{Vault: &upstream.VaultConfig{Address: "https://vault.example:8200", Mount: "pki", RootsFile: "r", Auth: upstream.VaultAuth{Kubernetes: &upstream.VaultKubernetes{}}}}},
		}, want: []string{
			"signers[0].upstream: name one upstream: stepCA or vault, not both",
			`signers[1].upstream.vault: address "http://vault.example:8200": plain http is accepted for a loopback dev server only; Vault's tokens and certificates must travel over https`,
			`signers[1].upstream.vault: mount "/pki" is required: the path of the PKI secrets engine, e.g. pki`,
			"signers[1].upstream.vault: rootsFile is required: the certificates Vault's must chain to (PEM), e.g. the output of vault read -field=certificate pki/cert/ca",
			"signers[1].upstream.vault: auth: give tokenFile, appRole or kubernetes",
			`signers[2].upstream.vault: role "a b" is not a Vault role name`,
			"signers[2].upstream.vault: auth: give one of tokenFile, appRole and kubernetes",
			`signers[3].upstream.vault: sign "role" needs role: the Vault role whose sign path signs`,
			"signers[3].upstream.vault: auth.appRole.roleID is required (vault read auth/approle/role/NAME/role-id)",
			"signers[3].upstream.vault: auth.appRole.secretIDFile is required: a file holding a secret ID (vault write -f auth/approle/role/NAME/secret-id)",
			`signers[4].upstream.vault: sign "sign": give "verbatim" (sign-verbatim, keeps the CSR's subject) or "role" (the role's sign path)`,
			"signers[5].upstream.vault: auth.kubernetes.role is required: the Vault role bound to kcsr's service account",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			if err := (&Configuration{Signers: tc.signers}).Validate(); err != nil {
				for _, e := range err.(utilerrors.Aggregate).Errors() {
					got = append(got, e.Error())
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

// writeCA writes ca's certificate and key as files a file backend loads.
func writeCA(t *testing.T, ca *testkit.CA) *CASpec {
	t.Helper()
	return &CASpec{CertFile: testkit.WriteFile(t, "ca.crt", ca.CertPEM, 0o644), KeyFile: testkit.WriteFile(t, "ca.key", ca.KeyPEM, 0o600)}
}

func TestBuild(t *testing.T) {
	ctx := context.Background()
	cluster := testkit.NewCA(t, testkit.NewKey(t, testkit.P256)).Backend()

	t.Run("without configuration, the built-in signers on the cluster CA", func(t *testing.T) {
		profiles, err := Build(ctx, nil, cluster, DefaultMaxDuration, testkit.Epoch)
		testkit.NoError(t, err, "Build")
		if len(profiles) != len(BuiltInSignerNames) {
			t.Errorf("%d profiles, want the %d built-in signers", len(profiles), len(BuiltInSignerNames))
		}
		for _, name := range BuiltInSignerNames {
			if p := profiles[name]; p == nil || p.CA != cluster || p.MaxDuration != DefaultMaxDuration || p.Check == nil {
				t.Errorf("profile %s = %+v", name, p)
			}
		}
	})

	t.Run("a custom signer on its own CA, with its rules; a built-in with another duration", func(t *testing.T) {
		own := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
		c := &Configuration{Signers: []SignerSpec{
			{SignerName: "example.com/webhooks", CA: writeCA(t, own), Rules: &Rules{RequiredUsages: []certificatesv1.KeyUsage{certificatesv1.UsageServerAuth}}},
			{SignerName: certificatesv1.KubeAPIServerClientSignerName, MaxDuration: metav1.Duration{Duration: time.Hour}},
		}}
		profiles, err := Build(ctx, c, cluster, DefaultMaxDuration, testkit.Epoch)
		testkit.NoError(t, err, "Build")
		webhooks := profiles["example.com/webhooks"]
		if webhooks == nil {
			t.Fatal("no profile for the custom signer")
		}
		chain, err := webhooks.CA.Chain(ctx)
		testkit.NoError(t, err, "Chain")
		if len(chain) == 0 || !chain[0].Equal(own.Cert) {
			t.Errorf("the custom signer does not issue from its own CA")
		}
		if webhooks.MaxDuration != DefaultMaxDuration {
			t.Errorf("custom signer MaxDuration = %v, want the default", webhooks.MaxDuration)
		}
		err = webhooks.Check(testkit.ParsedRequest(t, testkit.Request(t, "web")), []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature})
		if diff := cmp.Diff(`usage "server auth" is required by signer example.com/webhooks; add it to spec.usages`, testkit.ErrString(err)); diff != "" {
			t.Errorf("custom rules (-want +got):\n%s", diff)
		}
		client := profiles[certificatesv1.KubeAPIServerClientSignerName]
		if client.MaxDuration != time.Hour || client.CA != cluster {
			t.Errorf("overridden built-in = %+v, want 1h on the cluster CA", client)
		}
	})

	t.Run("a CA that does not load fails the build, naming the signer", func(t *testing.T) {
		c := &Configuration{Signers: []SignerSpec{{SignerName: "example.com/webhooks", CA: &CASpec{CertFile: filepath.Join(t.TempDir(), "missing.crt"), KeyFile: "ca.key"}}}}
		_, err := Build(ctx, c, cluster, DefaultMaxDuration, testkit.Epoch)
		testkit.ErrorContains(t, err, "signer example.com/webhooks: read the CA certificate: ")
	})

	t.Run("every CA that does not load is reported at once, by CheckCAs too", func(t *testing.T) {
		own := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
		other := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
		mismatched := writeCA(t, own)
		mismatched.KeyFile = writeCA(t, other).KeyFile
		c := &Configuration{Signers: []SignerSpec{
			{SignerName: "example.com/missing", CA: &CASpec{CertFile: filepath.Join(t.TempDir(), "missing.crt"), KeyFile: "ca.key"}},
			{SignerName: "example.com/good", CA: writeCA(t, own)},
			{SignerName: "example.com/mismatched", CA: mismatched},
		}}
		for name, err := range map[string]error{
			"Build":    func() error { _, err := Build(ctx, c, cluster, DefaultMaxDuration, testkit.Epoch); return err }(),
			"CheckCAs": CheckCAs(ctx, c, testkit.Epoch),
		} {
			testkit.ErrorContains(t, err, "signer example.com/missing: read the CA certificate: ")
			testkit.ErrorContains(t, err, "signer example.com/mismatched: ")
			if strings.Contains(testkit.ErrString(err), "example.com/good") {
				t.Errorf("%s reports the good signer: %v", name, err)
			}
		}
		if err := CheckCAs(ctx, &Configuration{Signers: c.Signers[1:2]}, testkit.Epoch); err != nil {
			t.Errorf("CheckCAs of a good configuration: %v", err)
		}
		// A CA the caller creates later (kcsr server's cluster CA on a first start) is
		// left to Build.
		if err := CheckCAs(ctx, &Configuration{Signers: c.Signers[:1]}, testkit.Epoch, c.Signers[0].CA.CertFile); err != nil {
			t.Errorf("CheckCAs of a CA still to be created: %v", err)
		}
	})
}

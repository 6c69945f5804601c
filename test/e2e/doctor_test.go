package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kcsr.dev/kcsr/pkg/pemutil"
	"kcsr.dev/kcsr/pkg/testkit"
	"kcsr.dev/kcsr/test/e2e/framework"
)

// Exit codes of kcsr doctor (docs/doctor.md).
const (
	doctorHealthy = 0
	doctorProblem = 2
	doctorWarning = 3
)

// TestDoctor: kcsr doctor names the cause and the fix of each classic failure (issue 5
// item 3, acceptance c), each made for real, and exits 0 on a healthy issued CSR.
func TestDoctor(t *testing.T) {
	s := framework.StartServer(t, "")
	kc := s.Kubeconfig
	dir := t.TempDir()
	bin := framework.Binary(t)
	doctor := func(args ...string) framework.Result {
		t.Helper()
		return framework.Run(t, "", bin, append([]string{"doctor"}, args...)...)
	}
	// expect checks the exit code and that every wanted line starts a line of stdout.
	expect := func(t *testing.T, r framework.Result, code int, lines ...string) {
		t.Helper()
		if r.ExitCode != code {
			t.Errorf("exit code %d, want %d\n%s", r.ExitCode, code, r.Combined())
		}
		for _, want := range lines {
			if !hasLine(r.Stdout, want) {
				t.Errorf("no line starting %q in:\n%s", want, r.Stdout)
			}
		}
	}
	// request makes dir/NAME.key and dir/NAME.csr with openssl, as the seed does.
	request := func(name, subj string) (csrPath string) {
		framework.OpensslECCSR(t, dir, name, subj)
		return filepath.Join(dir, name+".csr")
	}
	create := func(t *testing.T, name, signer string, usages ...string) {
		t.Helper()
		b64 := framework.OpensslECCSR(t, dir, name, "/CN="+name+"/O=developers")
		framework.MustKubectl(t, kc, "create", "-f", framework.WriteFile(t, dir, name+".yaml", framework.CSRManifest(name, b64, signer, 3600, usages...)))
	}
	approve := func(t *testing.T, name string) {
		t.Helper()
		if r := framework.Run(t, "", bin, "approve", name, "--kubeconfig", kc); r.ExitCode != 0 {
			t.Fatalf("kcsr approve %s: %s", name, r.Combined())
		}
	}
	waitCondition := func(t *testing.T, name, condition string) {
		t.Helper()
		framework.Eventually(t, 30*time.Second, name+" to have condition "+condition, func() bool {
			return strings.Contains(framework.MustKubectl(t, kc, "get", "csr", name, "-o", "jsonpath={.status.conditions[*].type}"), condition)
		})
	}

	t.Run("request wrapped at 76 columns", func(t *testing.T) {
		// `base64 user.csr` wraps at 76 columns; its lines pasted under request: are a
		// YAML plain scalar whose line breaks are folded into spaces.
		wrapped := framework.Run(t, "", "base64", request("wrapped", "/CN=wrapped"))
		lines := strings.Split(strings.TrimSpace(wrapped.Stdout), "\n")
		if len(lines) < 2 {
			t.Fatalf("base64 did not wrap: %q", wrapped.Stdout)
		}
		manifest := framework.WriteFile(t, dir, "wrapped.yaml", framework.CSRManifest("wrapped", strings.Join(lines, "\n    "), clientSigner, 3600, "client auth"))
		if r := framework.Kubectl(t, kc, "create", "-f", manifest); r.ExitCode == 0 || !strings.Contains(r.Stderr, "illegal base64 data at input byte 76") {
			t.Fatalf("the API server accepted the wrapped request: %s", r.Combined())
		}
		expect(t, doctor("-f", manifest), doctorProblem,
			"✗ spec.request: the base64 contains line breaks (wrapped at 76 columns), which YAML folded into spaces, so Kubernetes cannot decode it (illegal base64 data at input byte 76): encode with base64 -w0 user.csr",
			"✓ spec.request: a certificate request for CN=wrapped")
	})

	t.Run("private key in the manifest", func(t *testing.T) {
		request("leaky", "/CN=leaky")
		keyB64 := framework.Run(t, "", "base64", "-w0", filepath.Join(dir, "leaky.key")).Stdout
		manifest := framework.WriteFile(t, dir, "leaky.yaml", framework.CSRManifest("leaky", keyB64, clientSigner, 3600, "client auth"))
		r := doctor("-f", manifest)
		expect(t, r, doctorProblem, "✗ spec.request: holds a private key: never send your private key")
		if strings.Contains(r.Combined(), keyB64[:40]) || strings.Contains(r.Combined(), "BEGIN") {
			t.Errorf("kcsr doctor printed key material:\n%s", r.Combined())
		}
	})

	t.Run("signature does not verify", func(t *testing.T) {
		tampered := framework.CorruptSignature(t, mustRead(t, request("tampered", "/CN=tampered")))
		manifest := framework.WriteFile(t, dir, "tampered.yaml", framework.CSRManifest("tampered", tampered, clientSigner, 3600, "client auth"))
		expect(t, doctor("-f", manifest), doctorProblem,
			"✗ spec.request: the request's signature does not verify (x509: ECDSA verification failure): it was changed after it was signed, or signed with another key")
	})

	t.Run("server auth for kube-apiserver-client", func(t *testing.T) {
		create(t, "serving", clientSigner, "digital signature", "key encipherment", "server auth")
		usages := "✗ spec.usages: invalid usage for client certificate: server auth; the API server accepts this CSR and its approval, then the signer marks it Failed (SignerValidationFailure)"
		expect(t, doctor("serving", "--kubeconfig", kc), doctorProblem, usages)
		expect(t, doctor("-f", filepath.Join(dir, "serving.yaml")), doctorProblem, usages)
		// kcsr approve knows what doctor knows: it refuses without --force.
		r := framework.Run(t, "", bin, "approve", "serving", "--kubeconfig", kc)
		if r.ExitCode == 0 || !strings.Contains(r.Stderr, "refusing to approve serving: its signer kubernetes.io/kube-apiserver-client would refuse it after approval (invalid usage for client certificate: server auth)") {
			t.Errorf("kcsr approve of a doomed CSR: exit %d\n%s", r.ExitCode, r.Combined())
		}
		// Approved anyway (--force), the signer refuses it, as the finding said.
		if r := framework.Run(t, "", bin, "approve", "serving", "--force", "--kubeconfig", kc); r.ExitCode != 0 {
			t.Fatalf("kcsr approve --force serving: %s", r.Combined())
		}
		waitCondition(t, "serving", "Failed")
		expect(t, doctor("serving", "--kubeconfig", kc), doctorProblem,
			"✗ status: Approved, then Failed (SignerValidationFailure): invalid usage for client certificate: server auth: a Failed CSR is never retried")
	})

	t.Run("pending, nobody may approve", func(t *testing.T) {
		create(t, "orphan", "example.com/nobody", "client auth")
		expect(t, doctor("orphan", "--kubeconfig", kc), doctorProblem,
			`✗ status: Pending for `,
			`✗ approvers: nobody but system:masters can approve CSRs of signer "example.com/nobody": no ClusterRole grants approve on it`)
		if r := doctor("orphan", "--kubeconfig", kc); !strings.Contains(r.Stdout, `no ApprovalPolicy covers signer "example.com/nobody", so kcsr's approver leaves it to a person`) {
			t.Errorf("the policy cause is not named:\n%s", r.Stdout)
		}

		create(t, "unbound", clientSigner, "client auth")
		expect(t, doctor("unbound", "--kubeconfig", kc), doctorProblem,
			`✗ approvers: nobody but system:masters can approve CSRs of signer "kubernetes.io/kube-apiserver-client": ClusterRole system:certificates.k8s.io:kube-apiserver-client-approver grants approve on it, but no ClusterRoleBinding gives it to anyone else`)

		// Once alice may approve, the CSR only waits for her.
		framework.MustKubectl(t, kc, "create", "-f", framework.WriteFile(t, dir, "approver.yaml", clusterRole("csr-approver",
			`{apiGroups: ["certificates.k8s.io"], resources: ["signers"], verbs: ["approve"], resourceNames: ["example.com/nobody"]}
- {apiGroups: ["certificates.k8s.io"], resources: ["certificatesigningrequests/approval"], verbs: ["update"]}`)))
		framework.MustKubectl(t, kc, "create", "-f", framework.WriteFile(t, dir, "approver-binding.yaml", clusterRoleBinding("csr-approvers", "csr-approver", "alice")))
		expect(t, doctor("orphan", "--kubeconfig", kc), doctorWarning,
			`⚠ status: Pending for `,
			`✓ approvers: user alice (ClusterRoleBinding csr-approvers) may approve CSRs of signer "example.com/nobody"`)
	})

	t.Run("approved, no signer for the signerName", func(t *testing.T) {
		create(t, "unserved", "example.com/not-configured", "client auth")
		// Before approval, doctor (and kcsr approve) see that no running signer serves it.
		expect(t, doctor("unserved", "--kubeconfig", kc), doctorProblem, // Pending, and no approver but an admin
			`⚠ spec.signerName: no running signer serves "example.com/not-configured" (the kcsr signers running serve kubernetes.io/kube-apiserver-client, `)
		if r := framework.Run(t, "", bin, "approve", "unserved", "--yes", "--kubeconfig", kc); r.ExitCode != 0 {
			t.Fatalf("kcsr approve --yes unserved: %s", r.Combined())
		}
		waitCondition(t, "unserved", "SignerUnavailable")
		r := doctor("unserved", "--kubeconfig", kc)
		expect(t, r, doctorProblem, `✗ status: Approved `)
		if !strings.Contains(r.Stdout, `but not issued: SignerUnavailable (NoSignerConfigured): no signer serves signerName "example.com/not-configured"`) ||
			!strings.Contains(r.Stdout, `: declare signer "example.com/not-configured" in kcsr server's --signer-config`) {
			t.Errorf("the SignerUnavailable condition is not quoted:\n%s", r.Stdout)
		}

		// kubernetes.io/kube-apiserver-serving names no CSR signer, in Kubernetes either.
		create(t, "misnamed", "kubernetes.io/kube-apiserver-serving", "server auth")
		expect(t, doctor("misnamed", "--kubeconfig", kc), doctorProblem,
			`✗ spec.signerName: "kubernetes.io/kube-apiserver-serving" is not a CSR signer (it names the API server's ClusterTrustBundle), so an approved CSR is never issued`)
	})

	t.Run("kubeconfig with another CA", func(t *testing.T) {
		otherCA, _ := framework.SelfSignedCA(t, dir, "other-ca")
		cert, key := s.ClientCert(t, dir, "alice", "/CN=alice/O=dev")
		other := kubeconfigFor(t, dir, "other", s.URL, otherCA, cert, key)
		if r := framework.Kubectl(t, other, "get", "csr"); r.ExitCode == 0 || !strings.Contains(r.Stderr, "certificate signed by unknown authority") {
			t.Fatalf("kubectl with the wrong CA: %s", r.Combined())
		}
		want := fmt.Sprintf(`✗ cluster "kcsr" (%s): x509: certificate signed by unknown authority: the server's certificate is issued by "CN=kcsr-ca", but the kubeconfig trusts the certificate-authority-data "CN=other-ca": put the cluster CA's certificate in the kubeconfig's certificate-authority-data`, s.URL)
		expect(t, doctor("--kubeconfig", other), doctorProblem, want)
		// A CSR cannot be looked at through it either; doctor says why.
		expect(t, doctor("unserved", "--kubeconfig", other), doctorProblem, want)
		// The right CA fixes it.
		expect(t, doctor("--kubeconfig", kubeconfigFor(t, dir, "alice", s.URL, s.CACertPath(), cert, key)), doctorHealthy,
			fmt.Sprintf(`✓ cluster "kcsr" (%s): the server's certificate (issued by CN=kcsr-ca) verifies with the certificate-authority-data "CN=kcsr-ca"`, s.URL),
			`✓ credentials: the server authenticates them as user "alice" in groups dev, system:authenticated`)
	})

	t.Run("expired certificate", func(t *testing.T) {
		cert, key := framework.SignedCert(t, dir, "expired", "/CN=bob/O=dev", s.CACertPath(), s.CAKeyPath(), "extendedKeyUsage=clientAuth", -1)
		expect(t, doctor("--cert", cert, "--key", key), doctorProblem, "✗ certificate "+cert+" (CN=bob): expired at ")
		expect(t, doctor("--kubeconfig", kubeconfigFor(t, dir, "expired", s.URL, s.CACertPath(), cert, key)), doctorProblem,
			"✗ client certificate (CN=bob): expired at ",
			"✗ credentials: the server does not accept them (401 Unauthorized)")

		// 10 % of its lifetime left: a warning, exit code 3.
		now := time.Now()
		soon, soonKey := goSignedCert(t, s, dir, "soon", "carol", now.Add(-9*time.Hour), now.Add(time.Hour))
		expect(t, doctor("--cert", soon, "--key", soonKey), doctorWarning, "⚠ certificate "+soon+" (CN=carol): expires at ")
		expect(t, doctor("--kubeconfig", kubeconfigFor(t, dir, "soon", s.URL, s.CACertPath(), soon, soonKey)), doctorWarning,
			"⚠ client certificate (CN=carol): expires at ",
			`✓ credentials: the server authenticates them as user "carol"`)
	})

	t.Run("key of another certificate", func(t *testing.T) {
		cert, _ := framework.SignedCert(t, dir, "dave", "/CN=dave/O=dev", s.CACertPath(), s.CAKeyPath(), "extendedKeyUsage=clientAuth", 30)
		_, otherKey := framework.SignedCert(t, dir, "erin", "/CN=erin/O=dev", s.CACertPath(), s.CAKeyPath(), "extendedKeyUsage=clientAuth", 30)
		expect(t, doctor("--cert", cert, "--key", otherKey), doctorProblem,
			"✓ certificate "+cert+" (CN=dave): valid until ",
			"✗ key "+otherKey+": does not match the certificate: the key's public key is ECDSA P-256 sha256:")
		expect(t, doctor("--kubeconfig", kubeconfigFor(t, dir, "mixed", s.URL, s.CACertPath(), cert, otherKey)), doctorProblem,
			"✗ client key: does not match the certificate")
	})

	t.Run("healthy issued CSR", func(t *testing.T) {
		create(t, "healthy", clientSigner, "client auth")
		approve(t, "healthy")
		framework.WaitIssued(t, kc, "healthy")
		r := doctor("healthy", "--kubeconfig", kc, "--key", filepath.Join(dir, "healthy.key"))
		expect(t, r, doctorHealthy,
			fmt.Sprintf(`✓ cluster "kcsr" (%s): the server's certificate (issued by CN=kcsr-ca) verifies`, s.URL),
			"✓ spec.request: a certificate request for CN=healthy, O=developers with an ECDSA P-256 key, signed with ECDSA-SHA256; the signature verifies",
			"✓ spec.usages: [client auth] and the subject follow the rules of kubernetes.io/kube-apiserver-client",
			"✓ status: Approved,Issued",
			"✓ certificate (serial ",
			"✓ inventory: recorded as IssuedCertificate ",
			"✓ key "+filepath.Join(dir, "healthy.key")+": matches the certificate (ECDSA P-256")
		if r.Stderr != "" {
			t.Errorf("stderr on a healthy CSR: %s", r.Stderr)
		}
		expect(t, doctor("--kubeconfig", kc), doctorHealthy, `✓ credentials: the server authenticates them as user "kcsr-admin"`)
		expect(t, doctor("-f", filepath.Join(dir, "healthy.yaml")), doctorHealthy)
	})

	t.Run("usage errors", func(t *testing.T) {
		if r := doctor("ghost", "--kubeconfig", kc); r.ExitCode != 1 || !strings.Contains(r.Stderr, `"ghost" not found`) {
			t.Errorf("an unknown CSR: exit %d\n%s", r.ExitCode, r.Combined())
		}
		if r := doctor("-f", filepath.Join(dir, "missing.yaml")); r.ExitCode != 1 {
			t.Errorf("a missing file: exit %d\n%s", r.ExitCode, r.Combined())
		}
		if r := doctor("healthy", "-f", filepath.Join(dir, "healthy.yaml")); r.ExitCode != 1 || !strings.Contains(r.Stderr, "give either a CSR NAME or -f FILE, not both") {
			t.Errorf("NAME and -f: exit %d\n%s", r.ExitCode, r.Combined())
		}
	})
}

// hasLine reports whether a line of out starts with prefix.
func hasLine(out, prefix string) bool {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}

// goSignedCert makes dir/NAME.key and dir/NAME.crt, a client certificate for CN=cn valid
// from notBefore to notAfter, signed by the server's CA: openssl x509 -days cannot make a
// certificate that is most of the way through its life.
func goSignedCert(t *testing.T, s *framework.Server, dir, name, cn string, notBefore, notAfter time.Time) (certPath, keyPath string) {
	t.Helper()
	ca, err := pemutil.FirstCertificate(mustRead(t, s.CACertPath()))
	if err != nil {
		t.Fatal(err)
	}
	caKey, err := pemutil.ParseKey(mustRead(t, s.CAKeyPath()))
	if err != nil {
		t.Fatal(err)
	}
	key := testkit.NewKey(t, testkit.P256)
	cert := (&testkit.CA{Cert: ca, Key: caKey}).Issue(t, testkit.LeafTemplate(testkit.Serial(t), cn, notBefore, notAfter), key.Public())
	return framework.WriteFile(t, dir, name+".crt", string(testkit.CertPEM(cert))), framework.WriteFile(t, dir, name+".key", string(testkit.KeyPEM(t, key)))
}

// kubeconfigFor writes dir/NAME.kubeconfig for the server, trusting caPath, with a client
// certificate and key, all embedded, as an administrator makes one by hand.
func kubeconfigFor(t *testing.T, dir, name, server, caPath, certPath, keyPath string) string {
	t.Helper()
	path := filepath.Join(dir, name+".kubeconfig")
	for _, args := range [][]string{
		{"config", "set-cluster", "kcsr", "--server", server, "--certificate-authority", caPath, "--embed-certs"},
		{"config", "set-credentials", name, "--client-certificate", certPath, "--client-key", keyPath, "--embed-certs"},
		{"config", "set-context", name, "--cluster", "kcsr", "--user", name},
		{"config", "use-context", name},
	} {
		framework.MustKubectl(t, path, args...)
	}
	return path
}

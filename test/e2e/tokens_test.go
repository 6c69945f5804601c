package e2e

import (
	"context"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	certutil "k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/certificate/csr"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/testkit"
	"kcsr.dev/kcsr/test/e2e/framework"
)

// TestJoinToken: one CSR approved with a join token; a second use is refused at create, a
// subject mismatch denied with the reason.
func TestJoinToken(t *testing.T) {
	s := framework.StartServer(t, "")
	dir := t.TempDir()
	r := framework.Kcsr(t, s.Kubeconfig, "token", "create", "--user", "rahul", "--group", "developers", "--ttl", "1h")
	if r.ExitCode != 0 {
		t.Fatalf("kcsr token create: %s", r.Combined())
	}
	token := strings.TrimSpace(r.Stdout)
	if !kcsrv1alpha1.TokenRE.MatchString(token) {
		t.Fatalf("token %q is not in <id>.<secret> form", token)
	}
	if !strings.Contains(r.Stderr, "printed once") {
		t.Errorf("create does not warn that the token is shown once: %s", r.Stderr)
	}
	asRahul := func(args ...string) framework.Result {
		return framework.Run(t, "", framework.KubectlBinary(), append([]string{"--server", s.URL, "--certificate-authority", filepath.Join(s.DataDir, "pki", "ca.crt"), "--token", token}, args...)...)
	}

	ok := framework.GoCSR(t, dir, "rahul", "rahul", []string{"developers"}, nil, nil)
	if r := asRahul("create", "-f", framework.WriteFile(t, dir, "rahul.yaml", framework.CSRManifest("rahul", ok, clientSigner, 3600, "client auth"))); r.ExitCode != 0 {
		t.Fatalf("create with the join token: %s", r.Combined())
	}
	framework.WaitIssued(t, s.Kubeconfig, "rahul")
	if got := framework.MustKubectl(t, s.Kubeconfig, "get", "csr", "rahul", "-o", `jsonpath={.status.conditions[?(@.type=="Approved")].reason}`); got != "JoinToken" {
		t.Errorf("approval reason = %q, want JoinToken", got)
	}
	// The holder can fetch its certificate with the (spent) token.
	if r := asRahul("get", "csr", "rahul", "-o", "jsonpath={.status.certificate}"); r.ExitCode != 0 || r.Stdout == "" {
		t.Errorf("fetching the certificate with the token: %s", r.Combined())
	}

	// Second use of the same token: refused at create, nothing stored.
	again := framework.GoCSR(t, dir, "rahul2", "rahul", []string{"developers"}, nil, nil)
	r = asRahul("create", "-f", framework.WriteFile(t, dir, "rahul2.yaml", framework.CSRManifest("rahul-again", again, clientSigner, 3600, "client auth")))
	if r.ExitCode == 0 || !strings.Contains(r.Stderr, `is forbidden: join token `+strings.Split(token, ".")[0]+` was already used for CSR "rahul"`) {
		t.Errorf("second CSR with a spent token: %s", r.Combined())
	}
	if r := framework.Kubectl(t, s.Kubeconfig, "get", "csr", "rahul-again"); r.ExitCode == 0 {
		t.Errorf("the refused CSR was stored: %s", r.Combined())
	}

	// A fresh token, but the request claims other groups.
	r = framework.Kcsr(t, s.Kubeconfig, "token", "create", "--user", "priya", "--group", "developers", "--ttl", "1h")
	token = strings.TrimSpace(r.Stdout)
	// (DER sorts the O values of one RDN set, so the request holds [admins developers].)
	bad := framework.GoCSR(t, dir, "priya", "priya", []string{"developers", "admins"}, nil, nil)
	asRahul("create", "-f", framework.WriteFile(t, dir, "priya.yaml", framework.CSRManifest("priya", bad, clientSigner, 3600, "client auth")))
	wantDenied(t, s.Kubeconfig, "priya", "JoinTokenMismatch", "join token "+strings.Split(token, ".")[0]+` is for groups [developers] but the request's subject O is [admins developers]`)

	list := framework.Kcsr(t, s.Kubeconfig, "token", "list")
	if !strings.Contains(list.Stdout, "spent on rahul") || !strings.Contains(list.Stdout, "CN=priya O=developers") {
		t.Errorf("kcsr token list:\n%s", list.Combined())
	}
	if strings.Contains(list.Stdout, strings.Split(token, ".")[1]) {
		t.Errorf("kcsr token list shows a secret")
	}
	// A wrong secret does not authenticate.
	wrong := strings.Split(token, ".")[0] + ".0123456789abcdef"
	if r := framework.Run(t, "", framework.KubectlBinary(), "--server", s.URL, "--certificate-authority", filepath.Join(s.DataDir, "pki", "ca.crt"), "--token", wrong, "get", "csr"); r.ExitCode == 0 || !strings.Contains(r.Stderr, "Unauthorized") {
		t.Errorf("a wrong secret: %s", r.Combined())
	}
	// Bad input changes nothing and says what to do.
	if r := framework.Kcsr(t, s.Kubeconfig, "token", "create", "--group", "x"); r.ExitCode == 0 || !strings.Contains(r.Stderr, "--user is required") {
		t.Errorf("token create without --user: %s", r.Combined())
	}
}

// TestKubeletBootstrap: a simulated kubelet (client-go, as the kubelet does) gets its client
// certificate with a bootstrap token and no human, renews it with that certificate, and a
// serving CSR stays unapproved without a policy.
func TestKubeletBootstrap(t *testing.T) {
	s := framework.StartServer(t, "")
	r := framework.Run(t, "", framework.Binary(t), "token", "create", "--bootstrap", "--ttl", "1h", "--kubeconfig", s.Kubeconfig)
	if r.ExitCode != 0 {
		t.Fatalf("kcsr token create --bootstrap: %s", r.Combined())
	}
	token := strings.TrimSpace(r.Stdout)
	caFile := filepath.Join(s.DataDir, "pki", "ca.crt")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	bootstrapClient := kubernetes.NewForConfigOrDie(&rest.Config{Host: s.URL, BearerToken: token, TLSClientConfig: rest.TLSClientConfig{CAFile: caFile}})
	_, certPEM, keyPEM := framework.NodeClientCert(ctx, t, bootstrapClient, "node-1", fmt.Sprintf("node-csr-%d", time.Now().UnixNano()))
	cert := parseCert(t, certPEM)
	if cert.Subject.CommonName != "system:node:node-1" || strings.Join(cert.Subject.Organization, ",") != "system:nodes" {
		t.Errorf("subject = %s", cert.Subject)
	}
	reasons := framework.MustKubectl(t, s.Kubeconfig, "get", "csr", "-o", `jsonpath={range .items[*]}{.spec.username} {.status.conditions[0].reason}{"\n"}{end}`)
	if !strings.Contains(reasons, "system:bootstrap:"+strings.Split(token, ".")[0]+" AutoApproved") {
		t.Errorf("bootstrap CSR not AutoApproved for the bootstrap user:\n%s", reasons)
	}

	// Rotation: the node, now system:node:node-1, renews (selfnodeclient).
	nodeClient := kubernetes.NewForConfigOrDie(&rest.Config{Host: s.URL, TLSClientConfig: rest.TLSClientConfig{CAFile: caFile, CertData: certPEM, KeyData: keyPEM}})
	framework.NodeClientCert(ctx, t, nodeClient, "node-1", fmt.Sprintf("node-csr-%d", time.Now().UnixNano()))
	msgs := framework.MustKubectl(t, s.Kubeconfig, "get", "csr", "-o", `jsonpath={range .items[*]}{.status.conditions[0].message}{"\n"}{end}`)
	if !strings.Contains(msgs, "Auto approving self kubelet client certificate after SubjectAccessReview.") {
		t.Errorf("renewal not approved by selfnodeclient:\n%s", msgs)
	}

	// A serving CSR is never approved by default.
	serving := func(dns []string, ips []net.IP) string {
		key := testkit.NewKey(t, testkit.P256)
		csrPEM, err := certutil.MakeCSR(key, &pkix.Name{CommonName: "system:node:node-1", Organization: []string{"system:nodes"}}, dns, ips)
		if err != nil {
			t.Fatal(err)
		}
		name, _, err := csr.RequestCertificate(nodeClient, csrPEM, "", certificatesv1.KubeletServingSignerName, nil, []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth}, key)
		if err != nil {
			t.Fatal(err)
		}
		return name
	}
	first := serving([]string{"node-1.nodes.example.com"}, []net.IP{net.ParseIP("10.1.2.3")})
	time.Sleep(3 * time.Second)
	if got := condition(t, s.Kubeconfig, first); got != "Pending" {
		t.Errorf("serving CSR was decided without a policy: %s", got)
	}

	// The kubelet-csr-approver case: a policy allows node hostnames and an IP range.
	framework.MustKubectl(t, s.Kubeconfig, "apply", "-f", framework.WriteFile(t, t.TempDir(), "serving.yaml", `apiVersion: kcsr.dev/v1alpha1
kind: ApprovalPolicy
metadata:
  name: kubelet-serving
spec:
  signerNames: [kubernetes.io/kubelet-serving]
  match: request.requester.username.startsWith("system:node:") && request.subject.commonName == request.requester.username
  rules:
  - name: hostnames
    expression: request.dnsNames.all(d, d.matches(r'^[a-z0-9-]+\.nodes\.example\.com$'))
    message: DNS names must be <host>.nodes.example.com
  - name: ip-range
    expression: request.ipAddresses.all(ip, cidr("10.0.0.0/8").containsIP(ip))
    message: IP addresses must be in 10.0.0.0/8
  action: Approve
`))
	// The pending CSR is reconsidered when the policy appears.
	framework.Eventually(t, 20*time.Second, "the in-pattern serving CSR to be issued", func() bool { return condition(t, s.Kubeconfig, first) == "Approved,Issued" })
	outside := serving([]string{"evil.attacker.example"}, []net.IP{net.ParseIP("10.1.2.3")})
	var verdict string
	framework.Eventually(t, 20*time.Second, "a verdict on the outside CSR", func() bool {
		verdict = framework.MustKubectl(t, s.Kubeconfig, "get", "csr", outside, "-o", `jsonpath={.metadata.annotations.kcsr\.dev/approval-verdict}`)
		return verdict != ""
	})
	if got := condition(t, s.Kubeconfig, outside); got != "Pending" || !strings.Contains(verdict, "hostnames") {
		t.Errorf("serving CSR with a SAN outside the pattern: %s, verdict %q", got, verdict)
	}
}

func wantDenied(t *testing.T, kc, name, reason, messagePart string) {
	t.Helper()
	framework.Eventually(t, 20*time.Second, name+" to be denied", func() bool { return condition(t, kc, name) == "Denied" })
	got := framework.MustKubectl(t, kc, "get", "csr", name, "-o", `jsonpath={.status.conditions[?(@.type=="Denied")].reason}|{.status.conditions[?(@.type=="Denied")].message}`)
	r, msg, _ := strings.Cut(got, "|")
	if r != reason || !strings.Contains(msg, messagePart) {
		t.Errorf("%s denied with %q; want reason %s and a message containing %q", name, got, reason, messagePart)
	}
}

package fidelity

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"kcsr.dev/kcsr/test/e2e/framework"
)

const clientSigner = "kubernetes.io/kube-apiserver-client"

func init() {
	register("walkthrough", walkthrough)
	register("rejections", rejections)
	register("decisions", decisions)
	register("rbac", rbacChecks)
	register("signer-rules", signerRules)
	register("kubelet", kubeletAutoApproval)
}

// walkthrough is the seed's: openssl key and CSR, apply twice, get, approve, describe, the
// issued certificate and openssl verify.
func walkthrough(t *testing.T, tg *target, r *record) {
	dir := t.TempDir()
	kc := tg.admin
	request := framework.OpensslCSR(t, dir, "user", "/CN=myuser/O=dev-team")
	manifest := framework.WriteFile(t, dir, "csr.yaml", framework.CSRManifest("myuser", request, clientSigner, 86400, "client auth"))
	r.set("apply-1", "%s", kubectlOutcome(t, kc, "apply", "-f", manifest))
	r.set("apply-2", "%s", kubectlOutcome(t, kc, "apply", "-f", manifest))
	rows := framework.TableRows(framework.MustKubectl(t, kc, "get", "csr", "myuser"))
	r.set("table-header", "%v", rows[0])
	r.set("table-row-without-age", "%v", withoutColumn(rows[1], 1))
	r.set("wide-header", "%v", framework.TableRows(framework.MustKubectl(t, kc, "get", "csr", "myuser", "-o", "wide"))[0])

	r.set("approve", "%s", kubectlOutcome(t, kc, "certificate", "approve", "myuser"))
	waitFor(t, kc, "myuser", "Issued", "Failed")
	r.set("conditions", "%s", conditions(t, kc, "myuser"))
	r.set("approved", "%s", framework.MustKubectl(t, kc, "get", "csr", "myuser", "-o", `jsonpath={.status.conditions[?(@.type=="Approved")].reason}|{.status.conditions[?(@.type=="Approved")].message}|{.status.conditions[?(@.type=="Approved")].status}`))
	rows = framework.TableRows(framework.MustKubectl(t, kc, "get", "csr", "myuser"))
	r.set("table-row-issued", "%v", withoutColumn(rows[1], 1))
	r.set("describe", "%s", describeWithoutVolatile(framework.MustKubectl(t, kc, "describe", "csr", "myuser")))
	// Server-side apply bookkeeping of the clients' writes (the controllers' own entries
	// differ by name, kcsr vs kube-controller-manager, and kcsr's verdict annotation).
	var clientManaged []string
	for _, m := range strings.Split(framework.MustKubectl(t, kc, "get", "csr", "myuser", "--show-managed-fields", "-o", `jsonpath={range .metadata.managedFields[*]}{.manager}/{.operation}/{.subresource}/{.fieldsV1};{end}`), ";") {
		if strings.HasPrefix(m, "kubectl") {
			clientManaged = append(clientManaged, m)
		}
	}
	sort.Strings(clientManaged) // their order follows the order of later writes
	r.set("managed-fields", "%v", clientManaged)
	r.set("annotations", "%s", framework.MustKubectl(t, kc, "get", "csr", "myuser", "-o", `go-template={{range $k, $v := .metadata.annotations}}{{$k}} {{end}}`))

	certPEM := framework.IssuedCertificate(t, kc, "myuser")
	certPath := framework.WriteFile(t, dir, "user.crt", string(certPEM))
	caPath := filepath.Join(tg.s.DataDir, "pki", "ca.crt")
	r.set("openssl-verify", "%s", strings.ReplaceAll(framework.Openssl(t, dir, "verify", "-CAfile", caPath, certPath), certPath, "user.crt"))
	describeCertificate(t, r, "cert", certPEM, 24*time.Hour)

	// The certificate logs in as myuser / dev-team.
	kubeconfig := tg.s.UserKubeconfig(t, dir, "myuser", "--client-certificate", certPath, "--client-key", filepath.Join(dir, "user.key"))
	r.set("whoami", "%v", framework.TableRows(framework.MustKubectl(t, kubeconfig, "auth", "whoami"))[:3])
	r.set("forbidden", "%s", kubectlOutcome(t, kubeconfig, "get", "csr"))
}

// rejections: every malformed request is refused at create, with the same code and text.
func rejections(t *testing.T, tg *target, r *record) {
	dir := t.TempDir()
	kc := tg.admin
	good := framework.OpensslCSR(t, dir, "user", "/CN=myuser/O=dev-team")
	masters := framework.OpensslCSR(t, dir, "masters", "/CN=evil/O=system:masters")
	keyPEM, _ := os.ReadFile(filepath.Join(dir, "user.key"))
	csrPEM, _ := os.ReadFile(filepath.Join(dir, "user.csr"))
	wrapped := strings.Join(framework.Chunk(base64.StdEncoding.EncodeToString(csrPEM), 76), "\n    ")
	cases := []struct {
		name, request, signer string
		expiration            int
		usages                []string
	}{
		{"masters", masters, clientSigner, 86400, []string{"client auth"}},
		{"wrapped", wrapped, clientSigner, 86400, []string{"client auth"}},
		{"wrongpem", base64.StdEncoding.EncodeToString(keyPEM), clientSigner, 86400, []string{"client auth"}},
		// cat user.csr user.key | base64 -w0: Kubernetes reads the first block and stores the key.
		{"csrkey", base64.StdEncoding.EncodeToString(append(append([]byte(nil), csrPEM...), keyPEM...)), clientSigner, 86400, []string{"client auth"}},
		{"badsig", framework.CorruptSignature(t, csrPEM), clientSigner, 86400, []string{"client auth"}},
		{"short", good, clientSigner, 599, []string{"client auth"}},
		{"badusage", good, clientSigner, 86400, []string{"client-auth"}},
		{"dupusage", good, clientSigner, 86400, []string{"client auth", "client auth"}},
		{"badsigner", good, "notasigner", 86400, []string{"client auth"}},
		{"nousages", good, clientSigner, 86400, nil},
		{"masters-kubelet-signer", masters, "kubernetes.io/kube-apiserver-client-kubelet", 86400, []string{"digital signature", "client auth"}},
	}
	for _, tc := range cases {
		path := framework.WriteFile(t, dir, tc.name+".yaml", framework.CSRManifest(tc.name, tc.request, tc.signer, tc.expiration, tc.usages...))
		out := kubectlOutcome(t, kc, "create", "-f", path)
		// kubectl quotes the whole object on a decode error; the key part is the same.
		// The request differs (fresh keys); the rest must not.
		out = strings.ReplaceAll(strings.ReplaceAll(out, dir, "DIR"), tc.request, "REQUEST")
		r.set(tc.name, "%s", out)
		r.set(tc.name+"-stored", "%v", framework.Kubectl(t, kc, "get", "csr", tc.name).ExitCode == 0)
	}
}

// decisions: approve, deny, the already-decided errors, --force, and the status writes
// that validation refuses.
func decisions(t *testing.T, tg *target, r *record) {
	dir := t.TempDir()
	kc := tg.admin
	for _, name := range []string{"approve-me", "deny-me", "force-me"} {
		req := framework.GoCSR(t, dir, name, name, []string{"dev"}, nil, nil)
		framework.MustKubectl(t, kc, "create", "-f", framework.WriteFile(t, dir, name+".yaml", framework.CSRManifest(name, req, "example.com/nobody", 3600, "client auth")))
	}
	r.set("approve", "%s", kubectlOutcome(t, kc, "certificate", "approve", "approve-me"))
	r.set("approve-again", "%s", kubectlOutcome(t, kc, "certificate", "approve", "approve-me"))
	r.set("approve-again-force", "%s", kubectlOutcome(t, kc, "certificate", "approve", "--force", "approve-me"))
	r.set("deny-approved", "%s", kubectlOutcome(t, kc, "certificate", "deny", "approve-me"))
	r.set("deny-approved-force", "%s", kubectlOutcome(t, kc, "certificate", "deny", "--force", "approve-me"))
	r.set("approved-conditions", "%s", conditions(t, kc, "approve-me"))

	r.set("deny", "%s", kubectlOutcome(t, kc, "certificate", "deny", "deny-me"))
	r.set("deny-conditions", "%s", framework.MustKubectl(t, kc, "get", "csr", "deny-me", "-o", `jsonpath={.status.conditions[0].type}|{.status.conditions[0].reason}|{.status.conditions[0].message}`))
	r.set("approve-denied", "%s", kubectlOutcome(t, kc, "certificate", "approve", "deny-me"))
	r.set("approve-denied-force", "%s", kubectlOutcome(t, kc, "certificate", "approve", "--force", "deny-me"))
	r.set("denied-row", "%v", withoutColumn(framework.TableRows(framework.MustKubectl(t, kc, "get", "csr", "deny-me"))[1], 1))

	// Removing a decision through /approval is refused.
	r.set("remove-decision", "%s", kubectlOutcome(t, kc, "patch", "csr", "approve-me", "--subresource=approval", "--type=json", "-p", `[{"op":"remove","path":"/status/conditions/0"}]`))
	// Spec is immutable through the main resource.
	r.set("change-spec", "%s", kubectlOutcome(t, kc, "patch", "csr", "force-me", "--type=merge", "-p", `{"spec":{"signerName":"example.com/other"}}`))
	// Status through the main resource is ignored: the patch "succeeds" with no change.
	r.set("status-via-main", "%s", kubectlOutcome(t, kc, "patch", "csr", "force-me", "--type=merge", "-p", `{"status":{"conditions":[{"type":"Approved","status":"True","reason":"Sneaky"}]}}`))
	r.set("status-via-main-conditions", "%s", conditions(t, kc, "force-me"))
	// A certificate on a CSR that is not approved is refused.
	r.set("cert-unapproved", "%s", kubectlOutcome(t, kc, "patch", "csr", "force-me", "--subresource=status", "--type=merge", "-p", `{"status":{"certificate":"`+base64.StdEncoding.EncodeToString([]byte("not a certificate"))+`"}}`))
	r.set("cert-garbage", "%s", kubectlOutcome(t, kc, "patch", "csr", "approve-me", "--subresource=status", "--type=merge", "-p", `{"status":{"certificate":"`+base64.StdEncoding.EncodeToString([]byte("not a certificate"))+`"}}`))
	r.set("delete", "%s", kubectlOutcome(t, kc, "delete", "csr", "force-me"))
}

// rbacChecks: 403 texts for create and approve; the approval admission check; the sign
// check on status.
func rbacChecks(t *testing.T, tg *target, r *record) {
	dir := t.TempDir()
	kc := tg.admin
	mallory := tg.s.UserKubeconfig(t, dir, "mallory", "--token", malloryToken)
	alice := tg.s.UserKubeconfig(t, dir, "alice", "--token", aliceToken)
	sam := tg.s.UserKubeconfig(t, dir, "sam", "--token", samToken)
	req := framework.GoCSR(t, dir, "rbac", "alice", []string{"dev"}, nil, nil)
	manifest := framework.WriteFile(t, dir, "rbac.yaml", framework.CSRManifest("rbac-alice", req, clientSigner, 3600, "client auth"))

	r.set("create-no-grant", "%s", kubectlOutcome(t, mallory, "create", "-f", manifest))
	r.set("list-no-grant", "%s", kubectlOutcome(t, mallory, "get", "csr"))
	r.set("can-i-create", "%s", kubectlOutcome(t, mallory, "auth", "can-i", "create", "certificatesigningrequests.certificates.k8s.io"))

	framework.MustKubectl(t, kc, "apply", "-f", framework.WriteFile(t, dir, "roles.yaml", rbacRoles))
	r.set("create", "%s", kubectlOutcome(t, alice, "create", "-f", manifest))
	r.set("requestor", "%s", framework.MustKubectl(t, kc, "get", "csr", "rbac-alice", "-o", "jsonpath={.spec.username}|{.spec.groups}|{.spec.uid}"))
	r.set("approve-without-signer-grant", "%s", kubectlOutcome(t, alice, "certificate", "approve", "rbac-alice"))
	r.set("can-i-approval", "%s", kubectlOutcome(t, alice, "auth", "can-i", "update", "certificatesigningrequests.certificates.k8s.io/approval"))

	framework.MustKubectl(t, kc, "create", "clusterrolebinding", "fidelity-alice-approver", "--clusterrole", "system:certificates.k8s.io:kube-apiserver-client-approver", "--user", "alice")
	framework.Eventually(t, 10*time.Second, "alice's approver binding", func() bool {
		return allowed(t, kc, "alice", "approve", clientSigner)
	})
	r.set("approve-with-signer-grant", "%s", kubectlOutcome(t, alice, "certificate", "approve", "rbac-alice"))
	waitFor(t, kc, "rbac-alice", "Issued", "Failed")

	// sam may update status but may sign for no signer.
	req2 := framework.GoCSR(t, dir, "sign", "sam", nil, nil, nil)
	framework.MustKubectl(t, kc, "create", "-f", framework.WriteFile(t, dir, "sign.yaml", framework.CSRManifest("rbac-sign", req2, "example.com/sam-signer", 3600, "client auth")))
	framework.MustKubectl(t, kc, "certificate", "approve", "rbac-sign")
	certPEM := selfSigned(t)
	patch := `{"status":{"certificate":"` + base64.StdEncoding.EncodeToString(certPEM) + `"}}`
	r.set("sign-without-grant", "%s", kubectlOutcome(t, sam, "patch", "csr", "rbac-sign", "--subresource=status", "--type=merge", "-p", patch))
	framework.MustKubectl(t, kc, "apply", "-f", framework.WriteFile(t, dir, "signer-role.yaml", samSignerRole))
	framework.Eventually(t, 10*time.Second, "sam's signer grant", func() bool {
		return allowed(t, kc, "sam", "sign", "example.com/sam-signer")
	})
	r.set("sign-with-grant", "%s", kubectlOutcome(t, sam, "patch", "csr", "rbac-sign", "--subresource=status", "--type=merge", "-p", patch, "-o", "name"))
	r.set("sign-with-grant-conditions", "%s", conditions(t, kc, "rbac-sign"))
}

// signerRules: each built-in signer's rule, a passing and a Failed case.
func signerRules(t *testing.T, tg *target, r *record) {
	dir := t.TempDir()
	kc := tg.admin
	node := func(name string, orgs, dns []string) string {
		return framework.GoCSR(t, dir, name, "system:node:"+name, orgs, dns, nil)
	}
	cases := []struct {
		name, request, signer string
		usages                []string
	}{
		{"client-ok", framework.GoCSR(t, dir, "client-ok", "alice", []string{"dev"}, nil, nil), clientSigner, []string{"digital signature", "client auth"}},
		{"client-server-auth", framework.GoCSR(t, dir, "client-server-auth", "alice", nil, nil, nil), clientSigner, []string{"client auth", "server auth"}},
		{"client-no-client-auth", framework.GoCSR(t, dir, "client-no-client-auth", "alice", nil, nil, nil), clientSigner, []string{"digital signature"}},
		{"client-key-encipherment", framework.GoCSR(t, dir, "client-key-encipherment", "alice", nil, nil, nil), clientSigner, []string{"key encipherment", "digital signature", "client auth"}},
		{"kubelet-ok", node("kubelet-ok", []string{"system:nodes"}, nil), "kubernetes.io/kube-apiserver-client-kubelet", []string{"digital signature", "client auth"}},
		{"kubelet-bad-org", node("kubelet-bad-org", []string{"dev"}, nil), "kubernetes.io/kube-apiserver-client-kubelet", []string{"digital signature", "client auth"}},
		{"kubelet-bad-cn", framework.GoCSR(t, dir, "kubelet-bad-cn", "node-x", []string{"system:nodes"}, nil, nil), "kubernetes.io/kube-apiserver-client-kubelet", []string{"digital signature", "client auth"}},
		{"kubelet-bad-usages", node("kubelet-bad-usages", []string{"system:nodes"}, nil), "kubernetes.io/kube-apiserver-client-kubelet", []string{"client auth"}},
		{"kubelet-dns-san", node("kubelet-dns-san", []string{"system:nodes"}, []string{"x.example"}), "kubernetes.io/kube-apiserver-client-kubelet", []string{"digital signature", "client auth"}},
		{"serving-ok", node("serving-ok", []string{"system:nodes"}, []string{"serving-ok.example"}), "kubernetes.io/kubelet-serving", []string{"digital signature", "server auth"}},
		{"serving-no-san", node("serving-no-san", []string{"system:nodes"}, nil), "kubernetes.io/kubelet-serving", []string{"digital signature", "server auth"}},
		{"serving-client-auth", node("serving-client-auth", []string{"system:nodes"}, []string{"a.example"}), "kubernetes.io/kubelet-serving", []string{"digital signature", "server auth", "client auth"}},
		{"legacy-unknown", framework.GoCSR(t, dir, "legacy-unknown", "legacy", nil, nil, nil), "kubernetes.io/legacy-unknown", []string{"digital signature", "client auth"}},
	}
	var names []string
	for _, tc := range cases {
		r.set(tc.name+"-create", "%s", kubectlOutcome(t, kc, "create", "-f", framework.WriteFile(t, dir, tc.name+".yaml", framework.CSRManifest(tc.name, tc.request, tc.signer, 3600, tc.usages...))))
		if framework.Kubectl(t, kc, "get", "csr", tc.name).ExitCode == 0 {
			names = append(names, tc.name)
		}
	}
	framework.MustKubectl(t, kc, append([]string{"certificate", "approve"}, names...)...)
	for _, name := range names {
		waitFor(t, kc, name, "Issued", "Failed")
		r.set(name, "%s", framework.MustKubectl(t, kc, "get", "csr", name, "-o", `jsonpath={range .status.conditions[*]}{.type}/{.reason}/{.message};{end}`))
		if cert := framework.MustKubectl(t, kc, "get", "csr", name, "-o", "jsonpath={.status.certificate}"); cert != "" {
			certPEM, _ := base64.StdEncoding.DecodeString(cert)
			describeCertificate(t, r, name+"-cert", certPEM, time.Hour)
		}
	}

	// A signerName nobody serves stays Approved on Kubernetes; kcsr says why.
	req := framework.GoCSR(t, dir, "unserved", "svc", nil, []string{"svc.example"}, nil)
	framework.MustKubectl(t, kc, "create", "-f", framework.WriteFile(t, dir, "unserved.yaml", framework.CSRManifest("unserved", req, "example.com/not-configured", 3600, "server auth")))
	framework.MustKubectl(t, kc, "certificate", "approve", "unserved")
	time.Sleep(3 * time.Second)
	r.set("unserved", "%s", conditions(t, kc, "unserved"))
}

// kubectlOutcome is kubectl's exit code and output, the unit the tests compare, with the
// test's temporary directories replaced by DIR.
func kubectlOutcome(t testing.TB, kubeconfig string, args ...string) string {
	t.Helper()
	res := framework.Kubectl(t, kubeconfig, args...)
	out := tempDirRE.ReplaceAllString(strings.TrimSpace(res.Combined()), "DIR")
	return fmt.Sprintf("exit %d: %s", res.ExitCode, out)
}

var tempDirRE = regexp.MustCompile(regexp.QuoteMeta(os.TempDir()) + `/[^"' ]+/[0-9]+`)

// waitFor waits until the CSR is issued (has a certificate) or has one of the condition
// types.
func waitFor(t testing.TB, kc, name string, types ...string) {
	t.Helper()
	framework.Eventually(t, 30*time.Second, name+" to be "+strings.Join(types, " or "), func() bool {
		out := framework.MustKubectl(t, kc, "get", "csr", name, "-o", `jsonpath={range .status.conditions[*]}{.type}{","}{end}{.status.certificate}`)
		i := strings.LastIndex(out, ",")
		conds, cert := out[:i+1], out[i+1:]
		for _, ty := range types {
			if ty == "Issued" && cert != "" || strings.Contains(conds, ty+",") {
				return true
			}
		}
		return false
	})
}

// describeCertificate records the shape of an issued certificate: everything but the key,
// serial, signature and exact times (the lifetime in whole minutes, rounded).
func describeCertificate(t testing.TB, r *record, prefix string, certPEM []byte, requested time.Duration) {
	t.Helper()
	block, _ := pem.Decode(certPEM)
	if block == nil {
		t.Fatalf("%s: no PEM certificate in status.certificate", prefix)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	r.set(prefix+"/subject", "%s", cert.Subject)
	r.set(prefix+"/version", "%d", cert.Version)
	r.set(prefix+"/key-usage", "%d", cert.KeyUsage)
	r.set(prefix+"/ext-key-usage", "%v", cert.ExtKeyUsage)
	r.set(prefix+"/basic-constraints", "valid=%v ca=%v", cert.BasicConstraintsValid, cert.IsCA)
	r.set(prefix+"/sans", "dns=%v ip=%v email=%v uri=%v", cert.DNSNames, cert.IPAddresses, cert.EmailAddresses, cert.URIs)
	r.set(prefix+"/signature-algorithm", "%s", cert.SignatureAlgorithm)
	r.set(prefix+"/has-aki", "%v", len(cert.AuthorityKeyId) > 0)
	// Lifetime and how far notBefore is backdated, to the minute.
	r.set(prefix+"/lifetime-minutes", "%d", int(math.Round(cert.NotAfter.Sub(cert.NotBefore).Minutes())))
	r.set(prefix+"/backdate-minutes", "%d", int(math.Round(time.Since(cert.NotBefore).Minutes())))
	var oids []string
	for _, e := range cert.Extensions {
		oids = append(oids, fmt.Sprintf("%s(critical=%v)", e.Id, e.Critical))
	}
	r.set(prefix+"/extensions", "%v", oids)
	_ = requested
}

func withoutColumn(row []string, i int) []string {
	out := append([]string{}, row[:i]...)
	return append(out, row[i+1:]...)
}

// describeWithoutVolatile drops the creation time, the annotations (recorded apart: the
// last-applied one embeds the request, which differs), and the events (kcsr records more),
// and trims each line (kubectl's tab alignment follows the longest annotation).
func describeWithoutVolatile(s string) string {
	var out []string
	inAnnotations := false
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(line, "Events:") {
			break
		}
		if strings.HasPrefix(line, "Annotations:") {
			inAnnotations = true
			continue
		}
		if inAnnotations && strings.HasPrefix(line, " ") {
			continue
		}
		inAnnotations = false
		if strings.HasPrefix(line, "CreationTimestamp:") {
			continue
		}
		out = append(out, strings.TrimSpace(line))
	}
	return strings.Join(out, "\n")
}

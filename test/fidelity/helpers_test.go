package fidelity

import (
	"context"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/certificate/csr"

	"kcsr.dev/kcsr/pkg/testkit"
	"kcsr.dev/kcsr/test/e2e/framework"
)

// rbacRoles lets alice read and create CSRs and write their approval subresource, and sam
// write their status: neither may approve or sign for any signer yet.
var rbacRoles = framework.CSRRequesterRole("fidelity-requester", "alice") + `---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: fidelity-status-writer
rules:
- apiGroups: ["certificates.k8s.io"]
  resources: ["certificatesigningrequests"]
  verbs: ["get", "list"]
- apiGroups: ["certificates.k8s.io"]
  resources: ["certificatesigningrequests/status"]
  verbs: ["update", "patch"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: fidelity-status-writer-sam
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: fidelity-status-writer}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: sam}]
`

// samSignerRole grants sam sign for example.com/sam-signer.
const samSignerRole = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: fidelity-sam-signer
rules:
- apiGroups: ["certificates.k8s.io"]
  resources: ["signers"]
  resourceNames: ["example.com/sam-signer"]
  verbs: ["sign"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: fidelity-sam-signer
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: fidelity-sam-signer}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: sam}]
`

// allowed asks the server, as the admin, whether user may verb the signer (a
// SubjectAccessReview): RBAC changes reach the authorizer through an informer.
func allowed(t testing.TB, kc, user, verb, signer string) bool {
	t.Helper()
	sar := fmt.Sprintf(`{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":%q,"resourceAttributes":{"group":"certificates.k8s.io","resource":"signers","verb":%q,"name":%q}}}`, user, verb, signer)
	out := framework.KubectlStdin(t, kc, sar, "create", "-f", "-", "-o", "jsonpath={.status.allowed}")
	return strings.TrimSpace(out.Stdout) == "true"
}

// selfSigned is a throwaway certificate for status writes.
func selfSigned(t testing.TB) []byte {
	t.Helper()
	return testkit.CertPEM(testkit.SelfSigned(t, testkit.NewKey(t, testkit.P256), testkit.LeafTemplate(big.NewInt(1), "sam", time.Now(), time.Now().Add(time.Hour))))
}

// kubeletAutoApproval is the kubelet's TLS bootstrap with client-go: a bootstrap-token
// identity asks for a node client certificate (nodeclient), then the node renews with it
// (selfnodeclient); a node asking for another node's certificate is not auto-approved.
func kubeletAutoApproval(t *testing.T, tg *target, r *record) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	caFile := tg.s.CACertPath()
	bootstrap := kubernetes.NewForConfigOrDie(&rest.Config{Host: tg.s.URL, BearerToken: bootstrapToken, TLSClientConfig: rest.TLSClientConfig{CAFile: caFile}})
	name, certPEM, keyPEM := framework.NodeClientCert(ctx, t, bootstrap, "node-1", "bootstrap")
	r.set("bootstrap-csr", "%s", csrSummary(ctx, t, bootstrap, name))
	describeCertificate(t, r, "bootstrap-cert", certPEM, 0)

	node := kubernetes.NewForConfigOrDie(&rest.Config{Host: tg.s.URL, TLSClientConfig: rest.TLSClientConfig{CAFile: caFile, CertData: certPEM, KeyData: keyPEM}})
	name, _, _ = framework.NodeClientCert(ctx, t, node, "node-1", "renewal")
	r.set("renewal-csr", "%s", csrSummary(ctx, t, node, name))

	// node-1 asking for node-2's client certificate: created, but no one approves it.
	key := testkit.NewKey(t, testkit.P256)
	csrPEM, _ := cert.MakeCSR(key, &pkix.Name{CommonName: "system:node:node-2", Organization: []string{"system:nodes"}}, nil, nil)
	other, _, err := csr.RequestCertificate(node, csrPEM, "other-node", certificatesv1.KubeAPIServerClientKubeletSignerName, nil,
		[]certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth}, key)
	r.set("other-node-create", "%v", err)
	if err == nil {
		time.Sleep(3 * time.Second)
		r.set("other-node", "%s", csrSummary(ctx, t, node, other))
	}
}

// csrSummary is the requester and the conditions of a CSR, read as the client that made it.
func csrSummary(ctx context.Context, t testing.TB, client kubernetes.Interface, name string) string {
	t.Helper()
	obj, err := client.CertificatesV1().CertificateSigningRequests().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "get: " + err.Error()
	}
	var conds []string
	for _, c := range obj.Status.Conditions {
		conds = append(conds, fmt.Sprintf("%s/%s/%s/%s", c.Type, c.Status, c.Reason, c.Message))
	}
	return fmt.Sprintf("user=%s groups=%v conditions=%v", obj.Spec.Username, obj.Spec.Groups, conds)
}

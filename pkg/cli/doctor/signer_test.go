package doctor

import (
	"crypto/x509"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"

	"kcsr.dev/kcsr/pkg/signer"
	"kcsr.dev/kcsr/pkg/testkit"
)

func usages(u ...certificatesv1.KeyUsage) []certificatesv1.KeyUsage { return u }

func TestCheckSignerRules(t *testing.T) {
	user := testkit.ParsedRequest(t, testkit.Request(t, "rahul", testkit.WithOrg("developers")))
	masters := testkit.ParsedRequest(t, testkit.Request(t, "root", testkit.WithOrg("system:masters")))
	node := testkit.ParsedRequest(t, testkit.Request(t, "system:node:n1", testkit.WithOrg("system:nodes")))
	nodeNoOrg := testkit.ParsedRequest(t, testkit.Request(t, "system:node:n1"))
	webhook := testkit.ParsedRequest(t, testkit.Request(t, "webhook", testkit.WithDNS("webhook.default.svc")))
	elsewhere := testkit.ParsedRequest(t, testkit.Request(t, "webhook", testkit.WithDNS("webhook.example.com")))

	profiles, err := signerProfiles(&signer.Configuration{Signers: []signer.SignerSpec{{
		SignerName: "example.com/webhooks",
		Rules: &signer.Rules{
			AllowedUsages: usages("digital signature", "server auth"),
			DNSNames:      []string{"*.default.svc"},
		},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	const (
		client  = "kubernetes.io/kube-apiserver-client"
		kubelet = "kubernetes.io/kube-apiserver-client-kubelet"
		serving = "kubernetes.io/kubelet-serving"
		fails   = `; the API server accepts this CSR and its approval, then the signer marks it Failed (SignerValidationFailure): the "mismatched usages fail silently after approval" case`
	)

	cases := []struct {
		name       string
		signerName string
		request    *x509.CertificateRequest
		usages     []certificatesv1.KeyUsage
		want       []string
	}{
		{name: "client auth for a user", signerName: client, request: user, usages: usages("client auth"),
			want: []string{"✓ spec.usages: [client auth] and the subject follow the rules of kubernetes.io/kube-apiserver-client"}},
		{name: "server auth for a user", signerName: client, request: user, usages: usages("digital signature", "key encipherment", "server auth"),
			want: []string{"✗ spec.usages: invalid usage for client certificate: server auth" + fails + ": create a new CSR with usages [client auth] (digital signature and key encipherment may be added); a serving certificate needs another signer (kubernetes.io/kubelet-serving for kubelets, a custom signer otherwise)"}},
		{name: "no client auth", signerName: client, request: user, usages: usages("digital signature"),
			want: []string{"✗ spec.usages: missing required usage for client certificate: client auth" + fails + ": create a new CSR with usages [client auth] (digital signature and key encipherment may be added)"}},
		{name: "system:masters", signerName: client, request: masters, usages: usages("client auth"),
			want: []string{
				"✗ spec.request: the subject asks for group system:masters (O=system:masters), which the API server refuses for signer kubernetes.io/kube-apiserver-client at create (CertificateSubjectRestriction): that group bypasses every authorization check: make a request without O=system:masters and grant permissions with RBAC instead",
				"✓ spec.usages: [client auth] and the subject follow the rules of kubernetes.io/kube-apiserver-client",
			}},
		{name: "kubelet client usages", signerName: kubelet, request: node, usages: usages("client auth"),
			want: []string{"✗ spec.usages: usages did not match [client auth digital signature key encipherment]" + fails + ": create a new CSR with usages [digital signature, client auth] (add key encipherment for an RSA key)"}},
		{name: "kubelet client organization", signerName: kubelet, request: nodeNoOrg, usages: usages("digital signature", "client auth"),
			want: []string{`✗ spec.request: subject organization is not system:nodes` + fails + `: a node's certificate has the subject "/O=system:nodes/CN=system:node:NODENAME"; make a new request with that subject`}},
		{name: "kubelet serving without SANs", signerName: serving, request: node, usages: usages("digital signature", "server auth"),
			want: []string{"✗ spec.request: DNS or IP subjectAltName is required" + fails + ": a serving certificate names the node: make a new request with its DNS names or IP addresses (openssl req -addext subjectAltName=DNS:NODE,IP:ADDRESS)"}},
		{name: "kube-apiserver-serving is no CSR signer", signerName: "kubernetes.io/kube-apiserver-serving", request: user, usages: usages("server auth"),
			want: []string{`✗ spec.signerName: "kubernetes.io/kube-apiserver-serving" is not a CSR signer (it names the API server's ClusterTrustBundle), so an approved CSR is never issued: create a new CSR with a served signerName: kubernetes.io/kube-apiserver-client, kubernetes.io/kube-apiserver-client-kubelet, kubernetes.io/kubelet-serving, or a custom signer (example.com/NAME); did you mean kubernetes.io/kubelet-serving (for a kubelet's serving certificate)?`}},
		{name: "misspelled", signerName: "kubernetes.io/kube-apiserver-clent", request: user, usages: usages("client auth"),
			want: []string{`✗ spec.signerName: no Kubernetes signer serves "kubernetes.io/kube-apiserver-clent", so an approved CSR is never issued: create a new CSR with a served signerName: kubernetes.io/kube-apiserver-client, kubernetes.io/kube-apiserver-client-kubelet, kubernetes.io/kubelet-serving, or a custom signer (example.com/NAME); did you mean kubernetes.io/kube-apiserver-client?`}},
		{name: "custom signer, allowed", signerName: "example.com/webhooks", request: webhook, usages: usages("server auth"),
			want: []string{"✓ spec.usages: [server auth] and the subject follow the rules of example.com/webhooks"}},
		{name: "custom signer, usage refused", signerName: "example.com/webhooks", request: webhook, usages: usages("client auth"),
			want: []string{`✗ spec.usages: usage "client auth" is not allowed for signer example.com/webhooks; allowed: digital signature, server auth; kcsr accepts this CSR and its approval, then marks it Failed (SignerValidationFailure): create a new CSR that follows the rules of example.com/webhooks`}},
		{name: "custom signer, DNS name refused", signerName: "example.com/webhooks", request: elsewhere, usages: usages("server auth"),
			want: []string{`✗ spec.request: DNS subjectAltName "webhook.example.com" is not allowed for signer example.com/webhooks; allowed: *.default.svc; kcsr accepts this CSR and its approval, then marks it Failed (SignerValidationFailure): create a new CSR that follows the rules of example.com/webhooks`}},
		{name: "custom signer, rules unknown", signerName: "example.com/other", request: user, usages: usages("client auth")},
		{name: "no request", signerName: client, request: nil, usages: usages("server auth")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			diffLines(t, tc.want, CheckSignerRules(tc.signerName, tc.request, tc.usages, profiles))
		})
	}
}

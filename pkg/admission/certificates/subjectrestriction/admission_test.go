package subjectrestriction

import (
	"context"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authentication/user"

	"kcsr.dev/kcsr/pkg/testkit"
)

func csr(signerName string, request []byte) *certificatesv1.CertificateSigningRequest {
	return testkit.CSR("csr-1", testkit.SetSignerName(signerName), testkit.SetRequest(request))
}

func attrs(obj runtime.Object, subresource string, op admission.Operation) admission.Attributes {
	return testkit.CSRAttributes("csr-1", obj, nil, subresource, op, &user.DefaultInfo{Name: "alice"})
}

func TestValidate(t *testing.T) {
	const client = certificatesv1.KubeAPIServerClientSignerName
	masters := testkit.ClientRequestPEM(t, "root", testkit.WithOrg("dev", "system:masters"))
	ordinary := testkit.ClientRequestPEM(t, "alice", testkit.WithOrg("dev"))
	keyPEM := testkit.PEM("EC PRIVATE KEY", []byte{0, 0, 0}) // a placeholder, no key
	garbled := testkit.PEM(testkit.RequestBlock, []byte{0x30, 0x03, 0x02, 0x01})

	const ops = "example.com/ops"
	login := []string{ops, certificatesv1.KubeAPIServerClientKubeletSignerName}
	tests := []struct {
		name         string
		loginSigners []string
		attrs        admission.Attributes
		wantErr      string
	}{
		{
			name:    "system:masters for kube-apiserver-client",
			attrs:   attrs(csr(client, masters), "", admission.Create),
			wantErr: `certificatesigningrequests.certificates.k8s.io "csr-1" is forbidden: use of kubernetes.io/kube-apiserver-client signer with system:masters group is not allowed`,
		},
		{name: "other groups", attrs: attrs(csr(client, ordinary), "", admission.Create)},
		{name: "system:masters for another signer", attrs: attrs(csr("example.com/a", masters), "", admission.Create)},
		{name: "system:masters for the kubelet client signer", attrs: attrs(csr(certificatesv1.KubeAPIServerClientKubeletSignerName, masters), "", admission.Create)},
		{
			name:    "not a CERTIFICATE REQUEST block",
			attrs:   attrs(csr(client, keyPEM), "", admission.Create),
			wantErr: `certificatesigningrequests.certificates.k8s.io "csr-1" is forbidden: failed to parse CSR: PEM block type must be CERTIFICATE REQUEST`,
		},
		{
			name:    "no PEM at all",
			attrs:   attrs(csr(client, []byte("not pem")), "", admission.Create),
			wantErr: `certificatesigningrequests.certificates.k8s.io "csr-1" is forbidden: failed to parse CSR: PEM block type must be CERTIFICATE REQUEST`,
		},
		{
			name:    "bad DER",
			attrs:   attrs(csr(client, garbled), "", admission.Create),
			wantErr: `certificatesigningrequests.certificates.k8s.io "csr-1" is forbidden: failed to parse CSR: asn1: syntax error: data truncated`,
		},
		{name: "unparsable request for another signer is not this plugin's business", attrs: attrs(csr("example.com/a", garbled), "", admission.Create)},
		{
			name:    "not a CSR",
			attrs:   attrs(&certificatesv1.CertificateSigningRequestList{}, "", admission.Create),
			wantErr: `certificatesigningrequests.certificates.k8s.io "csr-1" is forbidden: expected type CertificateSigningRequest, got: *v1.CertificateSigningRequestList`,
		},
		{
			name:         "system:masters for a custom login signer",
			loginSigners: login,
			attrs:        attrs(csr(ops, masters), "", admission.Create),
			wantErr:      `certificatesigningrequests.certificates.k8s.io "csr-1" is forbidden: use of example.com/ops signer with system:masters group is not allowed: this server accepts the signer's certificates for login (its CA is trusted for client authentication); request the certificate without system:masters`,
		},
		{name: "other groups for a custom login signer", loginSigners: login, attrs: attrs(csr(ops, ordinary), "", admission.Create)},
		{name: "system:masters for a custom signer not trusted for login", loginSigners: login, attrs: attrs(csr("example.com/a", masters), "", admission.Create)},
		{name: "custom signers are not login signers unless given", attrs: attrs(csr(ops, masters), "", admission.Create)},
		{
			name:         "kube-apiserver-client keeps upstream's text among login signers",
			loginSigners: append(login, client),
			attrs:        attrs(csr(client, masters), "", admission.Create),
			wantErr:      `certificatesigningrequests.certificates.k8s.io "csr-1" is forbidden: use of kubernetes.io/kube-apiserver-client signer with system:masters group is not allowed`,
		},
		{name: "the kubelet client signer keeps Kubernetes' behaviour even when it is a login signer", loginSigners: login, attrs: attrs(csr(certificatesv1.KubeAPIServerClientKubeletSignerName, masters), "", admission.Create)},
		{
			name:         "unparsable request for a custom login signer",
			loginSigners: login,
			attrs:        attrs(csr(ops, garbled), "", admission.Create),
			wantErr:      `certificatesigningrequests.certificates.k8s.io "csr-1" is forbidden: failed to parse CSR: asn1: syntax error: data truncated`,
		},
		{name: "update of a custom login signer's CSR ignored", loginSigners: login, attrs: attrs(csr(ops, masters), "", admission.Update)},
		{name: "subresource ignored", attrs: attrs(csr(client, masters), "status", admission.Create)},
		{name: "update ignored", attrs: attrs(csr(client, masters), "", admission.Update)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			testkit.ExpectError(t, New(tc.loginSigners...).Validate(context.Background(), tc.attrs, nil), tc.wantErr)
		})
	}
}

func TestHandles(t *testing.T) {
	p := New()
	for op, want := range map[admission.Operation]bool{admission.Create: true, admission.Update: false, admission.Delete: false} {
		if got := p.Handles(op); got != want {
			t.Errorf("Handles(%s) = %v, want %v", op, got, want)
		}
	}
}

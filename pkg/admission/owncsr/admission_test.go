package owncsr

import (
	"context"
	"crypto/x509/pkix"
	"net"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"

	"kcsr.dev/kcsr/pkg/admission/certificates"
	"kcsr.dev/kcsr/pkg/authz/own"
	"kcsr.dev/kcsr/pkg/testkit"
)

func TestValidate(t *testing.T) {
	// rahul holds the own-CSR verbs only; admin holds create on CSRs outright.
	direct := authorizer.AuthorizerFunc(func(_ context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
		if a.GetUser().GetName() == "admin" || a.GetSubresource() == own.Subresource {
			return authorizer.DecisionAllow, "", nil
		}
		return authorizer.DecisionNoOpinion, "", nil
	})
	p := New(own.Authorizer{Direct: direct})
	key := testkit.NewKey(t, testkit.P256)
	rahul := &user.DefaultInfo{Name: "rahul", Groups: []string{"developers", user.AllAuthenticated}}
	const refusal = `certificatesigningrequests.certificates.k8s.io "x" is forbidden: you may create CSRs only for yourself (your rights on CSRs come from certificatesigningrequests/own, the kcsr:self-renewal role): `
	for _, tc := range []struct {
		name    string
		who     user.Info
		subject pkix.Name
		ips     []net.IP
		wantErr string
	}{
		{name: "rahul renews rahul", who: rahul, subject: pkix.Name{CommonName: "rahul", Organization: []string{"developers"}}},
		{name: "rahul asks for bob", who: rahul, subject: pkix.Name{CommonName: "bob"},
			wantErr: refusal + `the CN must be your user name "rahul" (it is "bob")`},
		{name: "rahul asks for a group he is not in", who: rahul, subject: pkix.Name{CommonName: "rahul", Organization: []string{"admins", "system:authenticated"}},
			wantErr: refusal + `O "admins" is not one of your groups [developers]; O "system:authenticated" is not one of your groups [developers]`},
		{name: "rahul asks for a name", who: rahul, subject: pkix.Name{CommonName: "rahul"}, ips: []net.IP{net.ParseIP("10.0.0.1")},
			wantErr: refusal + "subject alternative names are not allowed: they would name more than you"},
		{name: "an administrator asks for anyone", who: &user.DefaultInfo{Name: "admin"}, subject: pkix.Name{CommonName: "bob"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmpl := testkit.Request(t, tc.subject.CommonName, testkit.WithOrg(tc.subject.Organization...))
			tmpl.IPAddresses = tc.ips
			obj := &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: "x"}, Spec: certificatesv1.CertificateSigningRequestSpec{Request: testkit.RequestPEM(t, key, tmpl)}}
			attrs := admission.NewAttributesRecord(obj, nil, certificatesv1.SchemeGroupVersion.WithKind("CertificateSigningRequest"), "", "x",
				certificates.Resource.WithVersion("v1"), "", admission.Create, &metav1.CreateOptions{}, false, tc.who)
			testkit.ExpectError(t, p.Validate(context.Background(), attrs, nil), tc.wantErr)
		})
	}
}

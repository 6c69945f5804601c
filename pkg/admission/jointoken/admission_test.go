package jointoken

import (
	"context"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/client-go/tools/cache"
	clocktesting "k8s.io/utils/clock/testing"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	kcsrlisters "kcsr.dev/kcsr/pkg/generated/listers/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/testkit"
)

func TestValidate(t *testing.T) {
	now := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	token := func(name string, expires time.Time, spentOn string) *kcsrv1alpha1.JoinToken {
		jt := testkit.JoinToken(name, "erin", expires)
		if spentOn != "" {
			testkit.SpentOn(spentOn, now.Add(-time.Minute))(jt)
		}
		return jt
	}
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	for _, jt := range []*kcsrv1alpha1.JoinToken{
		token("unused", now.Add(time.Hour), ""),
		token("spent0", now.Add(time.Hour), "erin"),
		token("old000", now.Add(-time.Second), ""),
	} {
		if err := indexer.Add(jt); err != nil {
			t.Fatal(err)
		}
	}
	if err := indexer.Add(token("retry0", now.Add(time.Hour), "")); err != nil {
		t.Fatal(err)
	}
	if err := indexer.Add(token("wait00", now.Add(time.Hour), "")); err != nil {
		t.Fatal(err)
	}
	csrs := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{RequesterIndex: IndexJoinRequester})
	for _, c := range []*certificatesv1.CertificateSigningRequest{
		{ObjectMeta: metav1.ObjectMeta{Name: "denied"}, Spec: certificatesv1.CertificateSigningRequestSpec{Username: "system:join:retry0"},
			Status: certificatesv1.CertificateSigningRequestStatus{Conditions: []certificatesv1.CertificateSigningRequestCondition{{Type: certificatesv1.CertificateDenied}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "pending"}, Spec: certificatesv1.CertificateSigningRequestSpec{Username: "system:join:wait00"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "others"}, Spec: certificatesv1.CertificateSigningRequestSpec{Username: "erin"}},
	} {
		if err := csrs.Add(c); err != nil {
			t.Fatal(err)
		}
	}
	p := New(kcsrlisters.NewJoinTokenLister(indexer), csrs, clocktesting.NewFakePassiveClock(now))

	cases := []struct {
		name, user, subresource string
		op                      admission.Operation
		wantErr                 string
	}{
		{name: "unused token creates", user: "system:join:unused", op: admission.Create},
		{name: "spent token", user: "system:join:spent0", op: admission.Create,
			wantErr: `certificatesigningrequests.certificates.k8s.io "new" is forbidden: join token spent0 was already used for CSR "erin" at 2030-06-01T11:59:00Z; a join token gets one certificate`},
		{name: "expired token", user: "system:join:old000", op: admission.Create, wantErr: "join token old000 expired at 2030-06-01T11:59:59Z"},
		{name: "deleted token", user: "system:join:gone00", op: admission.Create, wantErr: "join token gone00 no longer exists"},
		{name: "a denied request may be retried", user: "system:join:retry0", op: admission.Create},
		{name: "not while another awaits a decision", user: "system:join:wait00", op: admission.Create,
			wantErr: `CSR "pending" made with join token wait00 awaits a decision; a join token gets one certificate, so wait for that request`},
		{name: "other users are not concerned", user: "system:bootstrap:abcdef", op: admission.Create},
		{name: "status writes are not concerned", user: "system:join:spent0", subresource: "status", op: admission.Update},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: "new"}}
			attrs := admission.NewAttributesRecord(obj, nil, certificatesv1.SchemeGroupVersion.WithKind("CertificateSigningRequest"), "", "new",
				certificatesv1.SchemeGroupVersion.WithResource("certificatesigningrequests"), tc.subresource, tc.op, nil, false,
				&user.DefaultInfo{Name: tc.user})
			err := p.Validate(context.Background(), attrs, nil)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error = %v; want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

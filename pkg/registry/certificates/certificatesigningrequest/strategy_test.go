package certificatesigningrequest

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apiserver/pkg/authentication/user"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/client-go/kubernetes/scheme"

	"kcsr.dev/kcsr/pkg/testkit"
)

var (
	stored  = metav1.NewTime(time.Date(2030, 5, 1, 0, 0, 0, 0, time.UTC))
	client  = certificatesv1.KubeAPIServerClientSignerName
	aliceAs = &user.DefaultInfo{Name: "alice", UID: "uid-alice", Groups: []string{"dev", "system:authenticated"}, Extra: map[string][]string{"scopes": {"a", "b"}}}
)

// storedCSR is a CSR as the store holds it: requested by alice, approved, issued.
func storedCSR(t *testing.T) *certificatesv1.CertificateSigningRequest {
	t.Helper()
	obj := testkit.CSR("alice",
		testkit.SetRequest(testkit.ClientRequestPEM(t, "alice", testkit.WithOrg("dev"))),
		testkit.SetSignerName(client), testkit.SetUsages(certificatesv1.UsageClientAuth),
		testkit.SetUsername("alice"), testkit.SetGroups("dev", "system:authenticated"),
		testkit.SetApproved("KubectlApprove", "ok"),
		testkit.SetCertificate([]byte("stored certificate")))
	obj.ResourceVersion = "7"
	obj.Status.Conditions[0].LastTransitionTime = stored
	return obj
}

func TestPrepareForCreate(t *testing.T) {
	cases := []struct {
		name string
		ctx  context.Context
		want certificatesv1.CertificateSigningRequestSpec
	}{
		{
			name: "the caller's identity replaces the claimed one",
			ctx:  genericapirequest.WithUser(context.Background(), aliceAs),
			want: certificatesv1.CertificateSigningRequestSpec{Username: "alice", UID: "uid-alice", Groups: []string{"dev", "system:authenticated"},
				Extra: map[string]certificatesv1.ExtraValue{"scopes": {"a", "b"}}},
		},
		{
			name: "without a caller no identity is kept",
			ctx:  context.Background(),
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := testkit.CSR("claimed",
				testkit.SetUsername("system:admin"), testkit.SetRequesterUID("uid-admin"), testkit.SetGroups("system:masters"),
				testkit.SetExtra("scopes", "everything"),
				testkit.SetApproved("SelfApproved", "trust me"), testkit.SetCertificate([]byte("forged")))
			NewStrategy(scheme.Scheme).PrepareForCreate(tc.ctx, obj)
			if diff := cmp.Diff(tc.want, obj.Spec); diff != "" {
				t.Errorf("spec (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(certificatesv1.CertificateSigningRequestStatus{}, obj.Status); diff != "" {
				t.Errorf("status survived create (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPrepareForCreateCopiesExtra: the stored extra does not share memory with the
// authenticated user's.
func TestPrepareForCreateCopiesExtra(t *testing.T) {
	u := &user.DefaultInfo{Name: "alice", Extra: map[string][]string{"scopes": {"a"}}}
	obj := testkit.CSR("alice")
	NewStrategy(scheme.Scheme).PrepareForCreate(genericapirequest.WithUser(context.Background(), u), obj)
	u.Extra["scopes"][0] = "changed"
	if got := obj.Spec.Extra["scopes"][0]; got != "a" {
		t.Errorf("spec.extra follows the user's map: %q", got)
	}
}

func TestPrepareForUpdate(t *testing.T) {
	old := storedCSR(t)
	obj := old.DeepCopy()
	obj.Labels = map[string]string{"team": "dev"}
	obj.Spec.Username, obj.Spec.SignerName = "mallory", "example.com/other"
	obj.Status = certificatesv1.CertificateSigningRequestStatus{Certificate: []byte("forged")}
	NewStrategy(scheme.Scheme).PrepareForUpdate(context.Background(), obj, old)
	want := old.DeepCopy()
	want.Labels = map[string]string{"team": "dev"}
	if diff := cmp.Diff(want, obj); diff != "" {
		t.Errorf("main resource update (-want +got):\n%s", diff)
	}
}

func TestStatusPrepareForUpdate(t *testing.T) {
	s := NewStatusStrategy(NewStrategy(scheme.Scheme))
	t.Run("a signer sets the certificate and adds Failed, never changes approval", func(t *testing.T) {
		old := storedCSR(t)
		old.Status.Certificate = nil
		obj := old.DeepCopy()
		obj.Spec.Usages = []certificatesv1.KeyUsage{certificatesv1.UsageServerAuth}
		leaf, _ := testkit.NewCA(t, testkit.NewKey(t, testkit.P256)).Leaf(t, "alice")
		obj.Status.Certificate = testkit.CertPEM(leaf)
		obj.Status.Conditions[0].Message = "rewritten"
		obj.Status.Conditions = append(obj.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{Type: certificatesv1.CertificateFailed, Status: corev1.ConditionTrue, Reason: "X"})
		s.PrepareForUpdate(context.Background(), obj, old)
		if diff := cmp.Diff(old.Spec, obj.Spec); diff != "" {
			t.Errorf("spec changed through /status (-stored +got):\n%s", diff)
		}
		if string(obj.Status.Certificate) != string(testkit.CertPEM(leaf)) {
			t.Errorf("certificate = %q, want the signer's", obj.Status.Certificate)
		}
		if diff := cmp.Diff(old.Status.Conditions[0], obj.Status.Conditions[0]); diff != "" {
			t.Errorf("Approved condition edited through /status (-stored +got):\n%s", diff)
		}
		failed := obj.Status.Conditions[1]
		if failed.LastUpdateTime.IsZero() || failed.LastTransitionTime.IsZero() {
			t.Errorf("Failed condition without timestamps: %+v", failed)
		}
		if errs := s.ValidateUpdate(context.Background(), obj, old); len(errs) != 0 {
			t.Errorf("ValidateUpdate: %v", errs)
		}
	})
	t.Run("adding Denied is left for validation to refuse", func(t *testing.T) {
		old := storedCSR(t)
		obj := old.DeepCopy()
		testkit.SetDenied("Nope", "")(obj)
		s.PrepareForUpdate(context.Background(), obj, old)
		if n := len(obj.Status.Conditions); n != 2 {
			t.Fatalf("%d conditions, want the added Denied kept for validation", n)
		}
		if errs := s.ValidateUpdate(context.Background(), obj, old); len(errs) == 0 {
			t.Errorf("ValidateUpdate allowed a signer to deny")
		}
	})
}

func TestApprovalPrepareForUpdate(t *testing.T) {
	s := NewApprovalStrategy(NewStrategy(scheme.Scheme))
	old := storedCSR(t)
	old.Status.Conditions = nil
	old.Status.Certificate = nil
	testkit.SetConditionAt(certificatesv1.CertificateFailed, "Earlier", "", time.Time{})(old)
	old.Status.Conditions[0].LastTransitionTime = stored

	obj := old.DeepCopy()
	obj.Spec.Groups = []string{"system:masters"}
	obj.Status.Certificate = []byte("forged")
	testkit.SetConditionAt(certificatesv1.CertificateApproved, "KubectlApprove", "", time.Time{})(obj)
	obj.Status.Conditions[0].LastTransitionTime = metav1.Time{}
	s.PrepareForUpdate(context.Background(), obj, old)

	if diff := cmp.Diff(old.Spec, obj.Spec); diff != "" {
		t.Errorf("spec changed through /approval (-stored +got):\n%s", diff)
	}
	if obj.Status.Certificate != nil {
		t.Errorf("an approver set the certificate: %q", obj.Status.Certificate)
	}
	if got := obj.Status.Conditions[0].LastTransitionTime; !got.Equal(&stored) {
		t.Errorf("Failed lastTransitionTime = %v, want the stored %v: its status did not change", got, stored)
	}
	approved := obj.Status.Conditions[1]
	if approved.LastUpdateTime.IsZero() || approved.LastTransitionTime.IsZero() {
		t.Errorf("Approved condition without timestamps: %+v", approved)
	}
}

func TestValidate(t *testing.T) {
	s := NewStrategy(scheme.Scheme)
	valid := storedCSR(t)
	valid.Status = certificatesv1.CertificateSigningRequestStatus{}
	valid.ResourceVersion = ""
	if errs := s.Validate(context.Background(), valid); len(errs) != 0 {
		t.Errorf("Validate(valid CSR) = %v", errs)
	}
	invalid := valid.DeepCopy()
	invalid.Spec.Request = []byte("not a request")
	invalid.Spec.SignerName = ""
	var got []string
	for _, e := range s.Validate(context.Background(), invalid) {
		got = append(got, e.Field)
	}
	if diff := cmp.Diff([]string{"spec.request", "spec.signerName"}, got); diff != "" {
		t.Errorf("invalid fields (-want +got):\n%s", diff)
	}
	changed := valid.DeepCopy()
	changed.ResourceVersion = "7"
	old := changed.DeepCopy()
	changed.Name = "renamed"
	if errs := s.ValidateUpdate(context.Background(), changed, old); len(errs) == 0 {
		t.Errorf("ValidateUpdate allowed metadata.name to change")
	}
}

func TestGetAttrs(t *testing.T) {
	obj := testkit.CSR("alice", testkit.SetSignerName(client))
	obj.Labels = map[string]string{"team": "dev"}
	labels, got, err := GetAttrs(obj)
	testkit.NoError(t, err, "GetAttrs")
	want := fields.Set{"metadata.name": "alice", "spec.signerName": client}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
	if labels["team"] != "dev" {
		t.Errorf("labels = %v", labels)
	}
	if _, _, err := GetAttrs(&certificatesv1.CertificateSigningRequestList{}); err == nil {
		t.Error("GetAttrs accepted a list")
	}
}

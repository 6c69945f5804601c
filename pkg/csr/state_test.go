package csr

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kcsr.dev/kcsr/pkg/testkit"
)

func TestState(t *testing.T) {
	approved := testkit.SetApproved("KubectlApprove", "")
	denied := testkit.SetDenied("KubectlDeny", "")
	failed := testkit.SetFailed("SignerValidationFailure", "")
	issued := testkit.SetCertificate([]byte("-----BEGIN CERTIFICATE-----"))
	// Only the type counts: a status other than True (which validation refuses) too.
	approvedFalse := func(o *certificatesv1.CertificateSigningRequest) {
		o.Status.Conditions = append(o.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{Type: certificatesv1.CertificateApproved, Status: corev1.ConditionFalse})
	}
	other := testkit.SetCondition("SignerUnavailable", "NoSigner", "")

	type want struct {
		State                                       State
		Condition                                   string
		Approved, Denied, Failed, Issued, IsPending bool
	}
	cases := []struct {
		name string
		mods []testkit.CSRModifier
		want want
	}{
		{"no conditions", nil, want{State: Pending, Condition: "Pending", IsPending: true}},
		{"another condition only", []testkit.CSRModifier{other}, want{State: Pending, Condition: "Pending", IsPending: true}},
		{"approved", []testkit.CSRModifier{approved}, want{State: Approved, Condition: "Approved", Approved: true}},
		{"approved with status False", []testkit.CSRModifier{approvedFalse}, want{State: Approved, Condition: "Approved", Approved: true}},
		{"approved and issued", []testkit.CSRModifier{approved, issued}, want{State: Issued, Condition: "Approved,Issued", Approved: true, Issued: true}},
		{"denied", []testkit.CSRModifier{denied}, want{State: Denied, Condition: "Denied", Denied: true}},
		{"approved and denied", []testkit.CSRModifier{approved, denied}, want{State: Denied, Condition: "Denied", Denied: true}},
		{"denied and approved", []testkit.CSRModifier{denied, approved}, want{State: Denied, Condition: "Denied", Denied: true}},
		{"approved and failed", []testkit.CSRModifier{approved, failed}, want{State: Failed, Condition: "Approved,Failed", Approved: true, Failed: true}},
		{"failed, not approved", []testkit.CSRModifier{failed}, want{State: Failed, Condition: "Pending,Failed", Failed: true, IsPending: true}},
		{"approved, failed and issued", []testkit.CSRModifier{approved, failed, issued}, want{State: Failed, Condition: "Approved,Failed,Issued", Approved: true, Failed: true, Issued: true}},
		{"denied and failed", []testkit.CSRModifier{denied, failed}, want{State: Denied, Condition: "Denied,Failed", Denied: true, Failed: true}},
		{"denied and issued", []testkit.CSRModifier{denied, issued}, want{State: Denied, Condition: "Denied,Issued", Denied: true, Issued: true}},
		{"issued, not approved", []testkit.CSRModifier{issued}, want{State: Issued, Condition: "Pending,Issued", Issued: true, IsPending: true}},
		{"approved, signer unavailable", []testkit.CSRModifier{approved, other}, want{State: Approved, Condition: "Approved,SignerUnavailable", Approved: true}},
		{"approved, signer unavailable, then issued", []testkit.CSRModifier{approved, other, issued}, want{State: Issued, Condition: "Approved,Issued", Approved: true, Issued: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := testkit.CSR("alice", tc.mods...)
			got := want{
				State:     StateOf(obj),
				Condition: ConditionString(obj),
				Approved:  IsApproved(obj),
				Denied:    IsDenied(obj),
				Failed:    IsFailed(obj),
				Issued:    IsIssued(obj),
				IsPending: IsPending(obj),
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(want -, got +)\n%s", diff)
			}
		})
	}
}

func TestCondition(t *testing.T) {
	obj := testkit.CSR("alice", testkit.SetApproved("First", ""), testkit.SetCondition(certificatesv1.CertificateApproved, "Second", ""))
	if c := Condition(obj, certificatesv1.CertificateApproved); c == nil || c.Reason != "First" {
		t.Errorf("Condition(Approved) = %+v; want the first Approved condition", c)
	}
	if c := Condition(obj, certificatesv1.CertificateDenied); c != nil {
		t.Errorf("Condition(Denied) = %+v; want nil", c)
	}
	if HasCondition(obj, certificatesv1.CertificateFailed) || !HasCondition(obj, certificatesv1.CertificateApproved) {
		t.Error("HasCondition: want Approved only")
	}
}

func TestSetCondition(t *testing.T) {
	const unavailable certificatesv1.RequestConditionType = "SignerUnavailable"
	earlier := metav1.NewTime(testkit.Epoch.Add(-time.Hour))
	now := testkit.Epoch
	cond := func(t certificatesv1.RequestConditionType, status corev1.ConditionStatus, reason string, updated, transitioned metav1.Time) certificatesv1.CertificateSigningRequestCondition {
		return certificatesv1.CertificateSigningRequestCondition{Type: t, Status: status, Reason: reason, LastUpdateTime: updated, LastTransitionTime: transitioned}
	}
	approved := cond(certificatesv1.CertificateApproved, corev1.ConditionTrue, "AutoApproved", earlier, earlier)
	cases := []struct {
		name        string
		conditions  []certificatesv1.CertificateSigningRequestCondition
		set         certificatesv1.CertificateSigningRequestCondition
		want        []certificatesv1.CertificateSigningRequestCondition
		wantChanged bool
	}{
		{
			name:        "a new type is appended, last updated now, its transition left to the server",
			conditions:  []certificatesv1.CertificateSigningRequestCondition{approved},
			set:         cond(certificatesv1.CertificateFailed, corev1.ConditionTrue, "SignerValidationFailure", metav1.Time{}, metav1.Time{}),
			want:        []certificatesv1.CertificateSigningRequestCondition{approved, cond(certificatesv1.CertificateFailed, corev1.ConditionTrue, "SignerValidationFailure", metav1.NewTime(now), metav1.Time{})},
			wantChanged: true,
		},
		{
			name:       "the same status, reason and message change nothing",
			conditions: []certificatesv1.CertificateSigningRequestCondition{approved, cond(unavailable, corev1.ConditionTrue, "NoSigner", earlier, earlier)},
			set:        cond(unavailable, corev1.ConditionTrue, "NoSigner", metav1.Time{}, metav1.Time{}),
			want:       []certificatesv1.CertificateSigningRequestCondition{approved, cond(unavailable, corev1.ConditionTrue, "NoSigner", earlier, earlier)},
		},
		{
			name:        "another reason replaces it in place and keeps the transition time",
			conditions:  []certificatesv1.CertificateSigningRequestCondition{cond(unavailable, corev1.ConditionTrue, "NoSigner", earlier, earlier), approved},
			set:         cond(unavailable, corev1.ConditionTrue, "CAUnavailable", metav1.Time{}, metav1.Time{}),
			want:        []certificatesv1.CertificateSigningRequestCondition{cond(unavailable, corev1.ConditionTrue, "CAUnavailable", metav1.NewTime(now), earlier), approved},
			wantChanged: true,
		},
		{
			name:        "another status is a transition, left to the server",
			conditions:  []certificatesv1.CertificateSigningRequestCondition{cond(unavailable, corev1.ConditionTrue, "NoSigner", earlier, earlier)},
			set:         cond(unavailable, corev1.ConditionFalse, "NoSigner", metav1.Time{}, metav1.Time{}),
			want:        []certificatesv1.CertificateSigningRequestCondition{cond(unavailable, corev1.ConditionFalse, "NoSigner", metav1.NewTime(now), metav1.Time{})},
			wantChanged: true,
		},
		{
			name:        "times given are kept",
			conditions:  []certificatesv1.CertificateSigningRequestCondition{cond(unavailable, corev1.ConditionTrue, "NoSigner", earlier, earlier)},
			set:         cond(unavailable, corev1.ConditionFalse, "NoSigner", metav1.NewTime(now.Add(time.Minute)), metav1.NewTime(now.Add(time.Minute))),
			want:        []certificatesv1.CertificateSigningRequestCondition{cond(unavailable, corev1.ConditionFalse, "NoSigner", metav1.NewTime(now.Add(time.Minute)), metav1.NewTime(now.Add(time.Minute)))},
			wantChanged: true,
		},
		{
			name:        "only the first of duplicates is replaced",
			conditions:  []certificatesv1.CertificateSigningRequestCondition{cond(unavailable, corev1.ConditionTrue, "A", earlier, earlier), cond(unavailable, corev1.ConditionTrue, "B", earlier, earlier)},
			set:         cond(unavailable, corev1.ConditionTrue, "C", metav1.Time{}, metav1.Time{}),
			want:        []certificatesv1.CertificateSigningRequestCondition{cond(unavailable, corev1.ConditionTrue, "C", metav1.NewTime(now), earlier), cond(unavailable, corev1.ConditionTrue, "B", earlier, earlier)},
			wantChanged: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := testkit.CSR("alice")
			obj.Status.Conditions = tc.conditions
			changed := SetCondition(obj, tc.set, now)
			if diff := cmp.Diff(tc.want, obj.Status.Conditions); diff != "" {
				t.Errorf("conditions (want -, got +)\n%s", diff)
			}
			if changed != tc.wantChanged {
				t.Errorf("changed = %v; want %v", changed, tc.wantChanged)
			}
		})
	}
}

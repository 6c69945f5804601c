package validation

import (
	"errors"
	"strings"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"kcsr.dev/kcsr/pkg/csr"
)

// FuzzValidateCertificateSigningRequestCreate checks that validation of hostile objects never
// panics, and that every error it reports renders. Usages, finalizers and conditions are
// "\n"-separated; a condition is "type=status".
func FuzzValidateCertificateSigningRequestCreate(f *testing.F) {
	pki := newTestPKI(f)
	f.Add("csr-1", "", "", pki.request, "example.com/signer", "digital signature\nclient auth", int32(600), "", "", []byte(nil))
	f.Add("csr-1", "ns", "orphan\nmine", pki.request, "kubernetes.io/legacy-unknown", "foo\nfoo", int32(1), "Approved=True\nDenied=True\n=", "", pki.cert)
	f.Add("", "", "", []byte("junk"), "/", "", int32(-1), "Failed=False\nFailed=\nX=Maybe", "x", append(pki.cert, pki.request...))
	f.Add("a", "", "", pki.cert, "a.b/c.d/e", "\n", int32(0), "Approved=True", "-", []byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"))

	f.Fuzz(func(t *testing.T, name, namespace, finalizers string, request []byte, signerName, usages string, expirationSeconds int32, conditions, label string, certificate []byte) {
		obj := &certificatesv1.CertificateSigningRequest{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: map[string]string{"l": label}},
			Spec: certificatesv1.CertificateSigningRequestSpec{
				Request:           request,
				SignerName:        signerName,
				ExpirationSeconds: &expirationSeconds,
			},
			Status: certificatesv1.CertificateSigningRequestStatus{Certificate: certificate},
		}
		if finalizers != "" {
			obj.Finalizers = strings.Split(finalizers, "\n")
		}
		if usages != "" {
			for _, u := range strings.Split(usages, "\n") {
				obj.Spec.Usages = append(obj.Spec.Usages, certificatesv1.KeyUsage(u))
			}
		}
		if conditions != "" {
			for _, c := range strings.Split(conditions, "\n") {
				typ, status, _ := strings.Cut(c, "=")
				obj.Status.Conditions = append(obj.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
					Type: certificatesv1.RequestConditionType(typ), Status: corev1.ConditionStatus(status),
				})
			}
		}

		errs := ValidateCertificateSigningRequestCreate(obj)
		for _, err := range errs {
			if err.Field == "" || err.Error() == "" {
				t.Fatalf("error without field or text: %#v", err)
			}
			// The value is shown only for a well-formed request with a bad signature.
			var sigErr *csr.SignatureError
			if _, shown := err.BadValue.([]byte); shown && err.Field == "spec.request" {
				if _, perr := csr.ParseStrictRequest(request); !errors.As(perr, &sigErr) {
					t.Fatalf("spec.request shown for a value refused with %v", perr)
				}
			}
		}
		_ = errs.ToAggregate()

		// Every write path must also cope with the object as both old and new.
		renamed := obj.DeepCopy()
		renamed.ResourceVersion = "2"
		for _, validate := range []func(newCSR, oldCSR *certificatesv1.CertificateSigningRequest) field.ErrorList{
			ValidateCertificateSigningRequestUpdate,
			ValidateCertificateSigningRequestStatusUpdate,
			ValidateCertificateSigningRequestApprovalUpdate,
		} {
			for _, err := range validate(renamed, obj) {
				_ = err.Error()
			}
		}
	})
}

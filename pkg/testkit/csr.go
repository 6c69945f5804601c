package testkit

import (
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// CSRModifier changes a CertificateSigningRequest built by CSR.
type CSRModifier func(*certificatesv1.CertificateSigningRequest)

// CSR returns a CertificateSigningRequest named name, with UID "uid-"+name and nothing
// else, changed by mods in order:
//
//	testkit.CSR("alice",
//		testkit.SetRequest(testkit.ClientRequestPEM(t, "alice")),
//		testkit.SetSignerName(certificatesv1.KubeAPIServerClientSignerName),
//		testkit.SetUsages(certificatesv1.UsageClientAuth),
//		testkit.SetApproved("KubectlApprove", ""))
func CSR(name string, mods ...CSRModifier) *certificatesv1.CertificateSigningRequest {
	obj := &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("uid-" + name)},
	}
	for _, m := range mods {
		m(obj)
	}
	return obj
}

// SetRequest sets spec.request (PEM).
func SetRequest(pem []byte) CSRModifier {
	return func(o *certificatesv1.CertificateSigningRequest) { o.Spec.Request = pem }
}

// SetSignerName sets spec.signerName.
func SetSignerName(name string) CSRModifier {
	return func(o *certificatesv1.CertificateSigningRequest) { o.Spec.SignerName = name }
}

// SetUsages sets spec.usages.
func SetUsages(usages ...certificatesv1.KeyUsage) CSRModifier {
	return func(o *certificatesv1.CertificateSigningRequest) { o.Spec.Usages = usages }
}

// SetUsername sets spec.username.
func SetUsername(username string) CSRModifier {
	return func(o *certificatesv1.CertificateSigningRequest) { o.Spec.Username = username }
}

// SetRequesterUID sets spec.uid.
func SetRequesterUID(uid string) CSRModifier {
	return func(o *certificatesv1.CertificateSigningRequest) { o.Spec.UID = uid }
}

// SetGroups sets spec.groups.
func SetGroups(groups ...string) CSRModifier {
	return func(o *certificatesv1.CertificateSigningRequest) { o.Spec.Groups = groups }
}

// SetExtra adds values for key to spec.extra.
func SetExtra(key string, values ...string) CSRModifier {
	return func(o *certificatesv1.CertificateSigningRequest) {
		if o.Spec.Extra == nil {
			o.Spec.Extra = map[string]certificatesv1.ExtraValue{}
		}
		o.Spec.Extra[key] = values
	}
}

// SetExpirationSeconds sets spec.expirationSeconds.
func SetExpirationSeconds(seconds int32) CSRModifier {
	return func(o *certificatesv1.CertificateSigningRequest) { o.Spec.ExpirationSeconds = &seconds }
}

// SetCreated sets metadata.creationTimestamp.
func SetCreated(at time.Time) CSRModifier {
	return func(o *certificatesv1.CertificateSigningRequest) { o.CreationTimestamp = metav1.NewTime(at) }
}

// SetCondition appends a condition of type typ with status True, last updated at Epoch.
func SetCondition(typ certificatesv1.RequestConditionType, reason, message string) CSRModifier {
	return SetConditionAt(typ, reason, message, Epoch)
}

// SetConditionAt appends a condition of type typ with status True, last updated at at (a
// zero at leaves the times unset).
func SetConditionAt(typ certificatesv1.RequestConditionType, reason, message string, at time.Time) CSRModifier {
	return func(o *certificatesv1.CertificateSigningRequest) {
		c := certificatesv1.CertificateSigningRequestCondition{Type: typ, Status: corev1.ConditionTrue, Reason: reason, Message: message}
		if !at.IsZero() {
			c.LastUpdateTime = metav1.NewTime(at)
		}
		o.Status.Conditions = append(o.Status.Conditions, c)
	}
}

// SetApproved appends an Approved condition.
func SetApproved(reason, message string) CSRModifier {
	return SetCondition(certificatesv1.CertificateApproved, reason, message)
}

// SetDenied appends a Denied condition.
func SetDenied(reason, message string) CSRModifier {
	return SetCondition(certificatesv1.CertificateDenied, reason, message)
}

// SetFailed appends a Failed condition.
func SetFailed(reason, message string) CSRModifier {
	return SetCondition(certificatesv1.CertificateFailed, reason, message)
}

// SetCertificate sets status.certificate (PEM).
func SetCertificate(pem []byte) CSRModifier {
	return func(o *certificatesv1.CertificateSigningRequest) { o.Status.Certificate = pem }
}

package issuance

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"

	certificatesv1 "k8s.io/api/certificates/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/inventory"
	"kcsr.dev/kcsr/pkg/pemutil"
	"kcsr.dev/kcsr/pkg/signer"
)

// Records is where the signer controller writes the inventory records of the
// certificates it issues (the API, through its client).
type Records interface {
	Create(ctx context.Context, record *kcsrv1alpha1.IssuedCertificate) (*kcsrv1alpha1.IssuedCertificate, error)
	Get(ctx context.Context, name string) (*kcsrv1alpha1.IssuedCertificate, error)
}

// Issue returns the inventory record of obj's certificate: it signs req (as Sign does)
// and records the certificate before anyone can be handed it. The record is named after
// the CSR's UID and its create decides which certificate is the one: when a record exists
// already (another replica, or an earlier attempt whose answer was lost, recorded first),
// that certificate is returned, provided it certifies req's key, and the new signature is
// thrown away, never handed out. So the common case costs one signature and one write.
// (kcsr server's in-request signing writes the record in the CSR's own transaction
// instead: certificatesigningrequest.jointStorage.)
func (i *Issuer) Issue(ctx context.Context, records Records, obj *certificatesv1.CertificateSigningRequest, profile *signer.Profile, req *x509.CertificateRequest) (*kcsrv1alpha1.IssuedCertificate, error) {
	signed, err := i.Sign(ctx, obj, profile, req)
	if err != nil {
		return nil, err
	}
	rec := inventory.NewRecord(obj, profile.SignerName, signed.Certificate, signed.PEM)
	rec.Spec.Intermediates = signed.Intermediates
	rec.Spec.Login = profile.UpstreamLogin
	if profile.Upstream != nil {
		if rec.Annotations == nil {
			rec.Annotations = map[string]string{}
		}
		rec.Annotations[kcsrv1alpha1.UpstreamAnnotation] = profile.Upstream.Name()
	}
	record, err := records.Create(ctx, rec)
	if apierrors.IsAlreadyExists(err) {
		existing, gerr := records.Get(ctx, string(obj.UID))
		if gerr != nil {
			return nil, gerr
		}
		return existing, CheckRecord(existing, req)
	}
	if err != nil {
		return nil, fmt.Errorf("record issued certificate: %w", err)
	}
	return record, nil
}

// CheckRecord makes sure an existing record answers this request (same public key).
func CheckRecord(record *kcsrv1alpha1.IssuedCertificate, req *x509.CertificateRequest) error {
	cert, err := pemutil.FirstCertificate(record.Spec.Certificate)
	if err != nil {
		return fmt.Errorf("inventory record %s: %w", record.Name, err)
	}
	pub, err1 := x509.MarshalPKIXPublicKey(cert.PublicKey)
	want, err2 := x509.MarshalPKIXPublicKey(req.PublicKey)
	if err1 != nil || err2 != nil || !bytes.Equal(pub, want) {
		return fmt.Errorf("inventory record %s holds a certificate for another key; refusing to hand it out", record.Name)
	}
	return nil
}

package issuedcertificate

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"time"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/generic"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/csr"
	"kcsr.dev/kcsr/pkg/pemutil"
	"kcsr.dev/kcsr/pkg/registry"
)

type strategy struct{ registry.Strategy }

func (strategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return registry.ResetFields("kcsr.dev/v1alpha1", []any{"status"})
}

// PrepareForCreate drops any status: a new record has no history yet.
func (strategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	obj.(*kcsrv1alpha1.IssuedCertificate).Status = kcsrv1alpha1.IssuedCertificateStatus{}
}

// PrepareForUpdate keeps status: the main resource changes metadata only.
func (strategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	obj.(*kcsrv1alpha1.IssuedCertificate).Status = old.(*kcsrv1alpha1.IssuedCertificate).Status
}

func (strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return validate(obj.(*kcsrv1alpha1.IssuedCertificate))
}

func (strategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	n, o := obj.(*kcsrv1alpha1.IssuedCertificate), old.(*kcsrv1alpha1.IssuedCertificate)
	errs := apivalidation.ValidateObjectMetaUpdate(&n.ObjectMeta, &o.ObjectMeta, field.NewPath("metadata"))
	if !apiequality.Semantic.DeepEqual(n.Spec, o.Spec) {
		errs = append(errs, field.Forbidden(field.NewPath("spec"), "an issued certificate's record cannot change"))
	}
	return errs
}

type statusStrategy struct{ strategy }

func (statusStrategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return registry.ResetFields("kcsr.dev/v1alpha1", []any{"spec"})
}

// PrepareForUpdate keeps spec and metadata changes out of a status write, and stamps a
// new revocation with the revoking user (and the time, when not given).
func (statusStrategy) PrepareForUpdate(ctx context.Context, obj, old runtime.Object) {
	n, o := obj.(*kcsrv1alpha1.IssuedCertificate), old.(*kcsrv1alpha1.IssuedCertificate)
	n.Spec = o.Spec
	n.Labels, n.Annotations = o.Labels, o.Annotations
	if r := n.Status.Revocation; r != nil && !apiequality.Semantic.DeepEqual(r, o.Status.Revocation) {
		if u, ok := genericapirequest.UserFrom(ctx); ok {
			r.RevokedBy = u.GetName()
		}
		if r.Time.IsZero() {
			r.Time = metav1.Now()
		}
	}
}

// ValidateUpdate: a revocation is durable; only a certificateHold can be lifted or made
// permanent.
func (statusStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	n, o := obj.(*kcsrv1alpha1.IssuedCertificate), old.(*kcsrv1alpha1.IssuedCertificate)
	errs := apivalidation.ValidateObjectMetaUpdate(&n.ObjectMeta, &o.ObjectMeta, field.NewPath("metadata"))
	p := field.NewPath("status", "revocation")
	nr, or := n.Status.Revocation, o.Status.Revocation
	if nr != nil && !slices.Contains(kcsrv1alpha1.RevocationReasons, nr.Reason) {
		errs = append(errs, field.NotSupported(p.Child("reason"), nr.Reason, kcsrv1alpha1.RevocationReasons))
	}
	if or != nil && or.Reason != kcsrv1alpha1.ReasonCertificateHold && !apiequality.Semantic.DeepEqual(nr, or) {
		errs = append(errs, field.Forbidden(p, fmt.Sprintf("certificate %s was revoked (%s) on %s; a revocation is final, only certificateHold can be lifted", o.Spec.SerialNumber, or.Reason, or.Time.UTC().Format(time.RFC3339))))
	}
	return errs
}

func validate(ic *kcsrv1alpha1.IssuedCertificate) field.ErrorList {
	errs := apivalidation.ValidateObjectMeta(&ic.ObjectMeta, false, apivalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	spec := field.NewPath("spec")
	if ic.Spec.SignerName == "" {
		errs = append(errs, field.Required(spec.Child("signerName"), ""))
	}
	if ic.Spec.SignerName == kcsrv1alpha1.PKISignerName {
		// The server's own PKI answered no CSR; the record says so, and who issued it.
		for _, f := range []struct{ name, value string }{{"csrName", ic.Spec.CSRName}, {"csrUID", ic.Spec.CSRUID}} {
			if f.value != "" {
				errs = append(errs, field.Invalid(spec.Child(f.name), f.value, fmt.Sprintf("must be empty for signer %s: its certificates answer no CSR", kcsrv1alpha1.PKISignerName)))
			}
		}
		if u := ic.Spec.Requester.Username; u != kcsrv1alpha1.PKIRequester {
			errs = append(errs, field.Invalid(spec.Child("requester", "username"), u, fmt.Sprintf("must be %s for signer %s", kcsrv1alpha1.PKIRequester, kcsrv1alpha1.PKISignerName)))
		}
	} else if ic.Spec.CSRUID == "" {
		errs = append(errs, field.Required(spec.Child("csrUID"), "the UID of the CSR the certificate answers"))
	}
	cert, err := parseCertificate(ic.Spec.Certificate)
	if err != nil {
		// The value is left out: it may hold anything, a private key included.
		return append(errs, field.Invalid(spec.Child("certificate"), "", err.Error()))
	}
	if len(ic.Spec.Intermediates) > 0 {
		if err := checkIntermediates(cert, ic.Spec.Intermediates); err != nil {
			errs = append(errs, field.Invalid(spec.Child("intermediates"), "", err.Error()))
		}
	}
	return append(errs, agreeWithCertificate(spec, &ic.Spec, cert)...)
}

// checkIntermediates accepts PEM CERTIFICATE blocks as pem.EncodeToMemory writes them and
// nothing else (the record is readable by every inventory reader), each a CA certificate
// that signed the one before it, cert first.
func checkIntermediates(cert *x509.Certificate, data []byte) error {
	chain, err := pemutil.ParseCertificates(data)
	if err != nil {
		return err
	}
	if !bytes.Equal(pemutil.EncodeCertificates(chain), data) {
		return errors.New("must be PEM CERTIFICATE blocks and nothing else: no text, headers or other blocks around them")
	}
	child := cert
	for i, c := range chain {
		if !c.IsCA || !c.BasicConstraintsValid {
			return fmt.Errorf("certificate %d (%s) is not a CA certificate", i+1, c.Subject)
		}
		if err := child.CheckSignatureFrom(c); err != nil {
			return fmt.Errorf("certificate %d (%s) did not issue %s: %w", i+1, c.Subject, child.Subject, err)
		}
		child = c
	}
	return nil
}

// parseCertificate accepts exactly one PEM CERTIFICATE block, whitespace aside: a record
// is readable by everyone who may read the inventory, so nothing else (a private key
// pasted after the certificate, say) may be stored with it.
func parseCertificate(data []byte) (*x509.Certificate, error) {
	const certBegin = "-----BEGIN " + pemutil.CertificateBlockType + "-----"
	block, rest := pem.Decode(data)
	// The first block's BEGIN line is the last one before its end.
	var before []byte
	if block != nil {
		before = data[:bytes.LastIndex(data[:len(data)-len(rest)], []byte("-----BEGIN "))]
	}
	switch {
	case block == nil && bytes.Contains(data, []byte(certBegin)):
		return nil, errors.New("must be one PEM CERTIFICATE block; the block is not well-formed PEM (its BEGIN and END lines, base64 between them)")
	case block == nil:
		return nil, errors.New("must be one PEM CERTIFICATE block (the issued certificate)")
	case block.Type != pemutil.CertificateBlockType && bytes.Contains(rest, []byte(certBegin)), len(bytes.TrimSpace(before)) > 0:
		return nil, errors.New("must be one PEM CERTIFICATE block and nothing else; remove what precedes the BEGIN CERTIFICATE line")
	case block.Type != pemutil.CertificateBlockType:
		return nil, errors.New("must be one PEM CERTIFICATE block (the issued certificate)")
	case len(bytes.TrimSpace(rest)) > 0:
		return nil, errors.New("must be one PEM CERTIFICATE block and nothing else; remove what follows the END CERTIFICATE line")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("not a valid X.509 certificate: %w", err)
	}
	return cert, nil
}

// agreeWithCertificate checks every field of the spec that the certificate determines
// against it, as pkg/controller/csrsigning derives them (tested there and here with records it
// builds), so that the fingerprint the login check matches, the serial the CRL and OCSP
// publish, and the validity that bounds the record's life all describe spec.certificate.
func agreeWithCertificate(spec *field.Path, s *kcsrv1alpha1.IssuedCertificateSpec, cert *x509.Certificate) field.ErrorList {
	sum := sha256.Sum256(cert.Raw)
	var ips, uris []string
	for _, ip := range cert.IPAddresses {
		ips = append(ips, ip.String())
	}
	for _, u := range cert.URIs {
		uris = append(uris, u.String())
	}
	var errs field.ErrorList
	for _, f := range []struct {
		name      string
		got, want string
		required  bool
	}{
		{"serialNumber", s.SerialNumber, cert.SerialNumber.Text(16), true},
		{"sha256Fingerprint", s.SHA256Fingerprint, hex.EncodeToString(sum[:]), true},
		{"issuer", s.Issuer, cert.Issuer.String(), false},
		{"commonName", s.CommonName, cert.Subject.CommonName, false},
		{"keyAlgorithm", s.KeyAlgorithm, csr.KeyAlgorithm(cert.PublicKey), false},
		{"notBefore", formatTime(s.NotBefore.Time), formatTime(cert.NotBefore), true},
		{"notAfter", formatTime(s.NotAfter.Time), formatTime(cert.NotAfter), true},
	} {
		switch {
		case f.got == f.want:
		case f.got == "" && f.required:
			errs = append(errs, field.Required(spec.Child(f.name), fmt.Sprintf("spec.certificate says %q", f.want)))
		default:
			errs = append(errs, field.Invalid(spec.Child(f.name), f.got, fmt.Sprintf("does not match spec.certificate, which says %q", f.want)))
		}
	}
	for _, f := range []struct {
		name      string
		got, want []string
	}{
		{"organizations", s.Organizations, cert.Subject.Organization},
		{"organizationalUnits", s.OrganizationalUnits, cert.Subject.OrganizationalUnit},
		{"dnsNames", s.DNSNames, cert.DNSNames},
		{"ipAddresses", s.IPAddresses, ips},
		{"uris", s.URIs, uris},
		{"emailAddresses", s.EmailAddresses, cert.EmailAddresses},
	} {
		if !slices.Equal(f.got, f.want) {
			errs = append(errs, field.Invalid(spec.Child(f.name), f.got, fmt.Sprintf("does not match spec.certificate, which says %q", f.want)))
		}
	}
	return errs
}

// formatTime is how a time reads in the API, to the second (certificates carry no less).
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// SelectableFields are the fields a field selector can match.
func SelectableFields(ic *kcsrv1alpha1.IssuedCertificate) fields.Set {
	return generic.MergeFieldsSets(generic.ObjectMetaFieldsSet(&ic.ObjectMeta, false), fields.Set{
		"spec.serialNumber":      ic.Spec.SerialNumber,
		"spec.sha256Fingerprint": ic.Spec.SHA256Fingerprint,
		"spec.signerName":        ic.Spec.SignerName,
		"spec.csrName":           ic.Spec.CSRName,
		"spec.commonName":        ic.Spec.CommonName,
	})
}

// GetAttrs returns labels and selectable fields.
func GetAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	ic, ok := obj.(*kcsrv1alpha1.IssuedCertificate)
	if !ok {
		return nil, nil, fmt.Errorf("expected an IssuedCertificate, got %T", obj)
	}
	return ic.Labels, SelectableFields(ic), nil
}

package inventory

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"strings"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/csr"
	"kcsr.dev/kcsr/pkg/pki"
)

// NewRecord builds the inventory record of a certificate issued for a CSR, named after the
// CSR's UID.
func NewRecord(obj *certificatesv1.CertificateSigningRequest, signerName string, cert *x509.Certificate, certPEM []byte) *kcsrv1alpha1.IssuedCertificate {
	return newRecord(string(obj.UID), cert, certPEM, issuance{
		signerName: signerName,
		usages:     obj.Spec.Usages,
		requester:  kcsrv1alpha1.Requester{Username: obj.Spec.Username, UID: obj.Spec.UID, Groups: obj.Spec.Groups},
		csrName:    obj.Name,
		csrUID:     string(obj.UID),
	})
}

// NewPKIRecord builds the inventory record of a certificate kcsr server's own PKI issued
// from the cluster CA (pkg/pki): signer kcsrv1alpha1.PKISignerName, requester
// kcsrv1alpha1.PKIRequester, no CSR, named pki-<role>-<SHA-256 fingerprint> so that every
// replica and every restart finds the one record of a certificate.
func NewPKIRecord(leaf pki.Leaf) *kcsrv1alpha1.IssuedCertificate {
	sum := sha256.Sum256(leaf.Cert.Raw)
	return newRecord("pki-"+leaf.Role+"-"+hex.EncodeToString(sum[:]), leaf.Cert, leaf.PEM, issuance{
		signerName: kcsrv1alpha1.PKISignerName,
		usages:     leaf.Usages,
		requester:  kcsrv1alpha1.Requester{Username: kcsrv1alpha1.PKIRequester},
	})
}

// issuance is what a record says beyond what its certificate says: how it came to be.
type issuance struct {
	signerName      string
	usages          []certificatesv1.KeyUsage
	requester       kcsrv1alpha1.Requester
	csrName, csrUID string
}

// newRecord builds an inventory record: every field the certificate determines is taken from
// it here, and only here (the registry checks each against spec.certificate at create).
func newRecord(name string, cert *x509.Certificate, certPEM []byte, in issuance) *kcsrv1alpha1.IssuedCertificate {
	sum := sha256.Sum256(cert.Raw)
	spec := kcsrv1alpha1.IssuedCertificateSpec{
		SerialNumber:        cert.SerialNumber.Text(16),
		SHA256Fingerprint:   hex.EncodeToString(sum[:]),
		SignerName:          in.signerName,
		Issuer:              cert.Issuer.String(),
		CommonName:          cert.Subject.CommonName,
		Organizations:       cert.Subject.Organization,
		OrganizationalUnits: cert.Subject.OrganizationalUnit,
		DNSNames:            cert.DNSNames,
		EmailAddresses:      cert.EmailAddresses,
		Usages:              in.usages,
		KeyAlgorithm:        csr.KeyAlgorithm(cert.PublicKey),
		NotBefore:           metav1.NewTime(cert.NotBefore),
		NotAfter:            metav1.NewTime(cert.NotAfter),
		Requester:           in.requester,
		CSRName:             in.csrName,
		CSRUID:              in.csrUID,
		Certificate:         certPEM,
	}
	for _, ip := range cert.IPAddresses {
		spec.IPAddresses = append(spec.IPAddresses, ip.String())
	}
	for _, u := range cert.URIs {
		spec.URIs = append(spec.URIs, u.String())
	}
	return &kcsrv1alpha1.IssuedCertificate{
		ObjectMeta: metav1.ObjectMeta{
			Name:   name,
			Labels: map[string]string{kcsrv1alpha1.SignerLabel: SignerLabelValue(in.signerName)},
		},
		Spec: spec,
	}
}

// Chain is what a CSR's status.certificate carries for a record: its certificate, then
// its intermediates (an upstream CA's), which the holder presents with it.
func Chain(ic *kcsrv1alpha1.IssuedCertificate) []byte {
	if len(ic.Spec.Intermediates) == 0 {
		return ic.Spec.Certificate
	}
	chain := bytes.TrimRight(bytes.Clone(ic.Spec.Certificate), "\n")
	return append(append(chain, '\n'), ic.Spec.Intermediates...)
}

// SignerLabelValue is a signerName as a label value ("example.com/x" → "example.com.x").
func SignerLabelValue(signerName string) string {
	s := strings.ReplaceAll(signerName, "/", ".")
	if len(s) > 63 {
		s = s[:63]
	}
	return strings.Trim(s, ".-_")
}

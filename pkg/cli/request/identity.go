package request

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strings"

	"kcsr.dev/kcsr/pkg/csr"
)

// Identity is what a certificate says about its holder: the subject's CN and O (the
// Kubernetes user and groups) and the subject alternative names.
type Identity struct {
	CommonName     string
	Organizations  []string
	DNSNames       []string
	IPAddresses    []net.IP
	EmailAddresses []string
	URIs           []*url.URL
}

// IdentityOf is the identity a certificate carries.
func IdentityOf(cert *x509.Certificate) Identity {
	return Identity{
		CommonName:     cert.Subject.CommonName,
		Organizations:  cert.Subject.Organization,
		DNSNames:       cert.DNSNames,
		IPAddresses:    cert.IPAddresses,
		EmailAddresses: cert.EmailAddresses,
		URIs:           cert.URIs,
	}
}

func (id Identity) subject() pkix.Name {
	return pkix.Name{CommonName: id.CommonName, Organization: id.Organizations}
}

// joinStrings joins the String of each of xs with commas.
func joinStrings[T fmt.Stringer](xs []T) string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = x.String()
	}
	return strings.Join(out, ",")
}

// String is the identity as one line: `CN=rahul O=developers DNS=a,b IP=10.0.0.1`.
func (id Identity) String() string {
	parts := []string{"CN=" + id.CommonName}
	if len(id.Organizations) > 0 {
		parts = append(parts, "O="+strings.Join(id.Organizations, ","))
	}
	if len(id.DNSNames) > 0 {
		parts = append(parts, "DNS="+strings.Join(id.DNSNames, ","))
	}
	if len(id.IPAddresses) > 0 {
		parts = append(parts, "IP="+joinStrings(id.IPAddresses))
	}
	if len(id.EmailAddresses) > 0 {
		parts = append(parts, "email="+strings.Join(id.EmailAddresses, ","))
	}
	if len(id.URIs) > 0 {
		parts = append(parts, "URI="+joinStrings(id.URIs))
	}
	return strings.Join(parts, " ")
}

// CSR is the PEM PKCS#10 request for the identity, signed with key.
func (id Identity) CSR(key crypto.Signer, r io.Reader) ([]byte, error) {
	der, err := x509.CreateCertificateRequest(r, &x509.CertificateRequest{
		Subject:        id.subject(),
		DNSNames:       id.DNSNames,
		IPAddresses:    id.IPAddresses,
		EmailAddresses: id.EmailAddresses,
		URIs:           id.URIs,
	}, key)
	if err != nil {
		return nil, fmt.Errorf("build the PKCS#10 request: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: csr.RequestBlockType, Bytes: der}), nil
}

// mismatch says how cert differs from the identity in its subject, or "" when it does not.
// Signers copy the subject from the request; SANs may legitimately be dropped by a custom
// signer, so only the user and groups are compared.
func (id Identity) mismatch(cert *x509.Certificate) string {
	if cert.Subject.CommonName != id.CommonName {
		return fmt.Sprintf("its CN is %q, not %q", cert.Subject.CommonName, id.CommonName)
	}
	got, want := slices.Sorted(slices.Values(cert.Subject.Organization)), slices.Sorted(slices.Values(id.Organizations))
	if !slices.Equal(got, want) {
		return fmt.Sprintf("its O is %q, not %q", got, want)
	}
	return ""
}

package server

import (
	"bytes"
	"crypto/x509"

	"k8s.io/apiserver/pkg/server/dynamiccertificates"

	"kcsr.dev/kcsr/pkg/pemutil"
)

// servingChain serves the serving certificate with the cluster CA after it, so that a
// client that does not trust the CA yet can read it from the TLS handshake and check it
// against a pin (kcsr join --ca-hash, as kubeadm join's --discovery-token-ca-cert-hash),
// before it trusts anything the server says. A CA certificate is public; sending it
// changes nothing for a client that already trusts it.
type servingChain struct {
	*dynamiccertificates.DynamicCertKeyPairContent
	ca []byte // PEM
}

// CurrentCertKeyContent is the file's certificate, then the CA when the file does not
// already hold it.
func (s servingChain) CurrentCertKeyContent() ([]byte, []byte) {
	cert, key := s.DynamicCertKeyPairContent.CurrentCertKeyContent()
	if len(cert) == 0 || bytes.Contains(cert, s.ca) {
		return cert, key
	}
	chain := append(append(bytes.TrimRight(bytes.Clone(cert), "\n"), '\n'), s.ca...)
	return chain, key
}

// withCAChain returns the serving certificate provider with the cluster CA appended when
// the CA issued the serving certificate (kcsr's own PKI); a --tls-cert-file from another
// CA is served as given.
func withCAChain(cert dynamiccertificates.CertKeyContentProvider, ca *x509.Certificate) dynamiccertificates.CertKeyContentProvider {
	content, ok := cert.(*dynamiccertificates.DynamicCertKeyPairContent)
	if !ok {
		return cert
	}
	leaf, err := pemutil.FirstCertificate(func() []byte { c, _ := content.CurrentCertKeyContent(); return c }())
	if err != nil || leaf.CheckSignatureFrom(ca) != nil {
		return cert
	}
	return servingChain{DynamicCertKeyPairContent: content, ca: pemutil.EncodeCertificate(ca.Raw)}
}

package testkit

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"testing"
)

// PEM block types, as kcsr reads and writes them.
const (
	CertificateBlock = "CERTIFICATE"
	RequestBlock     = "CERTIFICATE REQUEST"
	PrivateKeyBlock  = "PRIVATE KEY"
)

// PEM encodes der as one PEM block of type typ.
func PEM(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// CertPEM encodes cert as a CERTIFICATE block.
func CertPEM(cert *x509.Certificate) []byte { return PEM(CertificateBlock, cert.Raw) }

// KeyPEM encodes key as a PKCS#8 PRIVATE KEY block.
func KeyPEM(t testing.TB, key crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("testkit: marshal %T: %v", key, err)
	}
	return PEM(PrivateKeyBlock, der)
}

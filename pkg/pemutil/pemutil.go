// Package pemutil reads and writes the PEM forms kcsr handles outside CSRs: certificates,
// bundles of them, and private keys, as client-go's certutil and keyutil do for
// Kubernetes. Its errors say what the data holds instead and what to give, and never
// quote the data (it may be a key).
//
// It owns the decoding only: PKCS#10 requests are pkg/csr's (with Kubernetes' rules),
// files and their modes are the callers', and the strict readers that implement an API
// contract (status.certificate validation, the IssuedCertificate record) keep their own
// rules and texts, built on Blocks.
package pemutil

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"iter"
	"strings"
)

// PEM block types.
const (
	CertificateBlockType = "CERTIFICATE"
	// PrivateKeyBlockType is PKCS#8, the form EncodeKey writes.
	PrivateKeyBlockType = "PRIVATE KEY"
)

// ErrNoCertificate is returned when data holds no CERTIFICATE PEM block.
var ErrNoCertificate = errors.New("no CERTIFICATE PEM block found")

// ErrEncryptedKey is returned by ParseKey for an encrypted key (PKCS#8 ENCRYPTED PRIVATE
// KEY, or an OpenSSL Proc-Type: 4,ENCRYPTED block), which kcsr cannot use.
var ErrEncryptedKey = errors.New("the key is encrypted; give it unencrypted, protected by mode 0600 (openssl pkey -in KEY -out KEY.new)")

// Blocks yields the PEM blocks of data in order, as repeated pem.Decode calls find them:
// text before, between and after the blocks is skipped.
func Blocks(data []byte) iter.Seq[*pem.Block] {
	return func(yield func(*pem.Block) bool) {
		for rest := data; ; {
			block, next := pem.Decode(rest)
			if block == nil || !yield(block) {
				return
			}
			rest = next
		}
	}
}

// ParseCertificates parses a bundle that must hold only certificates: a CA certificate
// and the certificates that issued it, or a CA bundle. Every PEM block must be a
// CERTIFICATE and parse, and there must be at least one; text between blocks is ignored
// (openssl writes a human-readable dump there).
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for block := range Blocks(data) {
		n := len(certs) + 1
		if block.Type != CertificateBlockType {
			return nil, fmt.Errorf("PEM block %d is a %q; the file must hold only CERTIFICATE blocks (keep the key in its own file)", n, block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", n, err)
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%w; give the certificate in PEM form (-----BEGIN CERTIFICATE-----)", ErrNoCertificate)
	}
	return certs, nil
}

// FirstCertificate parses the first CERTIFICATE block of data, skipping blocks of other
// types before it (a key before the certificate in a combined file): the leaf of a chain
// or of status.certificate. A parse error is crypto/x509's, unchanged.
func FirstCertificate(data []byte) (*x509.Certificate, error) {
	for block := range Blocks(data) {
		if block.Type == CertificateBlockType {
			return x509.ParseCertificate(block.Bytes)
		}
	}
	return nil, ErrNoCertificate
}

// TrustedCertificates returns the certificates a TLS client trusts from a CA bundle, as
// x509.CertPool.AppendCertsFromPEM (client-go's reading of certificate-authority-data)
// takes them: every CERTIFICATE block without headers that parses, the rest skipped.
func TrustedCertificates(data []byte) []*x509.Certificate {
	var certs []*x509.Certificate
	for block := range Blocks(data) {
		if block.Type != CertificateBlockType || len(block.Headers) != 0 {
			continue
		}
		if cert, err := x509.ParseCertificate(block.Bytes); err == nil {
			certs = append(certs, cert)
		}
	}
	return certs
}

// ParseKey parses an unencrypted PEM private key in PKCS#8 (PRIVATE KEY), SEC 1 (EC
// PRIVATE KEY) or PKCS#1 (RSA PRIVATE KEY) form. An EC PARAMETERS block before it (openssl
// ecparam -genkey writes one) is skipped; anything else first is refused with what it is.
func ParseKey(data []byte) (crypto.Signer, error) {
	for block := range Blocks(data) {
		switch {
		case block.Type == "EC PARAMETERS":
			continue
		case block.Type == CertificateBlockType:
			return nil, errors.New("the key file holds a certificate; were the certificate and key files swapped?")
		case block.Type == "ENCRYPTED PRIVATE KEY" || block.Headers["Proc-Type"] == "4,ENCRYPTED":
			return nil, ErrEncryptedKey
		}
		return parseKeyBlock(block)
	}
	return nil, errors.New("no PEM private key found; give an unencrypted PEM key (a PEM block of type PRIVATE KEY)")
}

func parseKeyBlock(block *pem.Block) (crypto.Signer, error) {
	var (
		key any
		err error
	)
	switch block.Type {
	case PrivateKeyBlockType:
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		if strings.HasSuffix(block.Type, "PRIVATE KEY") {
			return nil, fmt.Errorf("PEM block %q is a private key in a form kcsr cannot read; give a PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY block", block.Type)
		}
		return nil, fmt.Errorf("PEM block %q is not a private key; give a PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY block", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("private key of type %T cannot sign", key)
	}
	return signer, nil
}

// ParseCertAndKey parses a PEM certificate (FirstCertificate) and its PEM private key
// (ParseKey), and checks that they belong together.
func ParseCertAndKey(certPEM, keyPEM []byte) (*x509.Certificate, crypto.Signer, error) {
	cert, err := FirstCertificate(certPEM)
	if err != nil {
		return nil, nil, err
	}
	key, err := ParseKey(keyPEM)
	if err != nil {
		return nil, nil, err
	}
	if pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(cert.PublicKey) {
		return nil, nil, errors.New("the private key does not match the certificate's public key")
	}
	return cert, key, nil
}

// EncodeKey encodes a private key as a PKCS#8 PEM block.
func EncodeKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: PrivateKeyBlockType, Bytes: der}), nil
}

// EncodeCertificate encodes a DER certificate as a PEM block.
func EncodeCertificate(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: CertificateBlockType, Bytes: der})
}

// EncodeCertificates is certs as consecutive CERTIFICATE blocks.
func EncodeCertificates(certs []*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, EncodeCertificate(c.Raw)...)
	}
	return out
}

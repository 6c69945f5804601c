package csrsigning

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
)

func parseFirstCert(data []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no CERTIFICATE PEM block")
	}
	return x509.ParseCertificate(block.Bytes)
}

// labelSafe turns a signerName into a label value ("example.com/x" → "example.com.x").
func labelSafe(s string) string {
	s = strings.ReplaceAll(s, "/", ".")
	if len(s) > 63 {
		s = s[:63]
	}
	return strings.Trim(s, ".-_")
}

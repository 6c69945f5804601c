package pki

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"strings"
)

// CAPin is a CA certificate's pin as kubeadm join's --discovery-token-ca-cert-hash writes
// it: "sha256:" and the lower-case hex SHA-256 of the certificate's DER
// SubjectPublicKeyInfo. It names the CA's key, so it survives the CA certificate's renewal
// with the same key.
func CAPin(ca *x509.Certificate) string {
	sum := sha256.Sum256(ca.RawSubjectPublicKeyInfo)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// ParseCAPin checks a pin given on the command line and returns it as CAPin writes it.
func ParseCAPin(flag, pin string) (string, error) {
	alg, sum, ok := strings.Cut(strings.TrimSpace(pin), ":")
	if !ok || !strings.EqualFold(alg, "sha256") {
		return "", fmt.Errorf("%s %q: want sha256:<64 hex digits>, the CA hash kcsr token create prints", flag, pin)
	}
	raw, err := hex.DecodeString(sum)
	if err != nil || len(raw) != sha256.Size {
		return "", fmt.Errorf("%s %q: want sha256: and 64 hex digits, the CA hash kcsr token create prints", flag, pin)
	}
	return "sha256:" + hex.EncodeToString(raw), nil
}

package request

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"fmt"
	"io"
	"os"
	"strings"

	"kcsr.dev/kcsr/pkg/pemutil"
)

// KeyTypes are the values of --key-type, the first one the default: the kubelet's key.
var KeyTypes = []string{"ecdsa-p256", "ecdsa-p384", "rsa-2048", "rsa-3072", "rsa-4096", "ed25519"}

// DefaultKeyType is the key kcsr generates unless told otherwise.
const DefaultKeyType = "ecdsa-p256"

// GenerateKey makes a private key of one of KeyTypes from the randomness of r.
func GenerateKey(keyType string, r io.Reader) (crypto.Signer, error) {
	switch keyType {
	case "ecdsa-p256":
		return ecdsa.GenerateKey(elliptic.P256(), r)
	case "ecdsa-p384":
		return ecdsa.GenerateKey(elliptic.P384(), r)
	case "rsa-2048":
		return rsa.GenerateKey(r, 2048)
	case "rsa-3072":
		return rsa.GenerateKey(r, 3072)
	case "rsa-4096":
		return rsa.GenerateKey(r, 4096)
	case "ed25519":
		_, k, err := ed25519.GenerateKey(r)
		return k, err
	}
	return nil, fmt.Errorf("--key-type %q is not one of %s", keyType, strings.Join(KeyTypes, ", "))
}

// KeyTypeOf is the --key-type value of a public key, or "" for a key kcsr does not make
// (RSA of another size, ECDSA P-521).
func KeyTypeOf(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		switch n := k.N.BitLen(); n {
		case 2048, 3072, 4096:
			return fmt.Sprintf("rsa-%d", n)
		}
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return "ecdsa-p256"
		case elliptic.P384():
			return "ecdsa-p384"
		}
	case ed25519.PublicKey:
		return "ed25519"
	}
	return ""
}

// readKey loads a PEM private key; flag names the flag that gave its path, for errors.
func readKey(flag, path string) (crypto.Signer, []byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", flag, err)
	}
	key, err := pemutil.ParseKey(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", flag, path, err)
	}
	return key, data, nil
}

// publicKeysEqual reports whether two public keys are the same key.
func publicKeysEqual(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	ea, ok := a.(equaler)
	return ok && ea.Equal(b)
}

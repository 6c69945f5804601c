package policy

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"

	certificatesv1 "k8s.io/api/certificates/v1"

	"kcsr.dev/kcsr/pkg/csr"
)

// Request is a certificate signing request as policies see it: the CEL variable `request`.
// Its JSON names are its CEL field names, so that `kcsr policy test -o json` can show a
// request exactly as expressions read it.
type Request struct {
	// SignerName is spec.signerName.
	SignerName string `json:"signerName"`
	// Subject is the subject of the PKCS#10 request.
	Subject Subject `json:"subject"`
	// DNSNames, IPAddresses (in Go's text form), URIs and EmailAddresses are the requested
	// subjectAltNames.
	DNSNames       []string `json:"dnsNames"`
	IPAddresses    []string `json:"ipAddresses"`
	URIs           []string `json:"uris"`
	EmailAddresses []string `json:"emailAddresses"`
	// Key is the requested public key.
	Key Key `json:"key"`
	// SignatureAlgorithm is the algorithm of the request's self-signature, as Go names it:
	// "SHA256-RSA", "ECDSA-SHA256", "Ed25519", "SHA1-RSA"…
	SignatureAlgorithm string `json:"signatureAlgorithm"`
	// Usages is spec.usages.
	Usages []string `json:"usages"`
	// ExpirationSeconds is spec.expirationSeconds, 0 when unset.
	ExpirationSeconds int64 `json:"expirationSeconds"`
	// Requester is the user who created the CSR, as the API server recorded it.
	Requester Requester `json:"requester"`
}

// Subject is the subject of a request.
type Subject struct {
	CommonName          string   `json:"commonName"`
	Organizations       []string `json:"organizations"`
	OrganizationalUnits []string `json:"organizationalUnits"`
}

// Key describes a public key.
type Key struct {
	// Algorithm is "RSA", "ECDSA" or "Ed25519".
	Algorithm string `json:"algorithm"`
	// Size is the modulus size in bits for RSA, the curve size in bits for ECDSA (521 for
	// P-521) and 256 for Ed25519.
	Size int64 `json:"size"`
	// Curve is the ECDSA curve ("P-256", "P-384", "P-521"…), "" for other algorithms.
	Curve string `json:"curve"`
}

// Requester is the identity that created the CSR: spec.username, uid, groups and extra.
type Requester struct {
	Username string              `json:"username"`
	UID      string              `json:"uid"`
	Groups   []string            `json:"groups"`
	Extra    map[string][]string `json:"extra"`
}

// The key algorithms of Key.Algorithm.
const (
	KeyAlgorithmRSA     = "RSA"
	KeyAlgorithmECDSA   = "ECDSA"
	KeyAlgorithmEd25519 = "Ed25519"
)

// NewRequest decodes a CSR for policies: spec.request with csr.ParseRequest (which checks
// its self-signature), the signer, usages and expiration from spec, and the requester
// from spec.username, uid, groups and extra. Lists are never nil.
func NewRequest(obj *certificatesv1.CertificateSigningRequest) (*Request, error) {
	if obj == nil {
		return nil, errors.New("no CertificateSigningRequest to decode")
	}
	x509req, err := csr.ParseRequest(obj.Spec.Request)
	if err != nil {
		return nil, fmt.Errorf("spec.request: %w", err)
	}
	return NewRequestFor(obj, x509req)
}

// NewRequestFor is NewRequest for a CSR whose request the caller has parsed already.
func NewRequestFor(obj *certificatesv1.CertificateSigningRequest, x509req *x509.CertificateRequest) (*Request, error) {
	spec := &obj.Spec
	key, err := describeKey(x509req.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("spec.request: %w", err)
	}
	r := &Request{
		SignerName: spec.SignerName,
		Subject: Subject{
			CommonName:          x509req.Subject.CommonName,
			Organizations:       cloneStrings(x509req.Subject.Organization),
			OrganizationalUnits: cloneStrings(x509req.Subject.OrganizationalUnit),
		},
		DNSNames:           cloneStrings(x509req.DNSNames),
		IPAddresses:        make([]string, 0, len(x509req.IPAddresses)),
		URIs:               make([]string, 0, len(x509req.URIs)),
		EmailAddresses:     cloneStrings(x509req.EmailAddresses),
		Key:                key,
		SignatureAlgorithm: x509req.SignatureAlgorithm.String(),
		Usages:             make([]string, 0, len(spec.Usages)),
		Requester: Requester{
			Username: spec.Username,
			UID:      spec.UID,
			Groups:   cloneStrings(spec.Groups),
			Extra:    make(map[string][]string, len(spec.Extra)),
		},
	}
	for _, ip := range x509req.IPAddresses {
		r.IPAddresses = append(r.IPAddresses, ip.String())
	}
	for _, u := range x509req.URIs {
		r.URIs = append(r.URIs, u.String())
	}
	for _, u := range spec.Usages {
		r.Usages = append(r.Usages, string(u))
	}
	if spec.ExpirationSeconds != nil {
		r.ExpirationSeconds = int64(*spec.ExpirationSeconds)
	}
	for k, v := range spec.Extra {
		r.Requester.Extra[k] = cloneStrings(v)
	}
	return r, nil
}

// describeKey returns the Key of a public key that x509 decoded.
func describeKey(pub any) (Key, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return Key{Algorithm: KeyAlgorithmRSA, Size: int64(k.N.BitLen())}, nil
	case *ecdsa.PublicKey:
		params := k.Curve.Params()
		return Key{Algorithm: KeyAlgorithmECDSA, Size: int64(params.BitSize), Curve: params.Name}, nil
	case ed25519.PublicKey:
		return Key{Algorithm: KeyAlgorithmEd25519, Size: 256}, nil
	default:
		return Key{}, fmt.Errorf("%s keys are not supported; use ECDSA P-256, RSA or Ed25519", csr.KeyAlgorithm(pub))
	}
}

// cloneStrings copies s, returning an empty list rather than nil.
func cloneStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return slices.Clone(s)
}

package request

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"kcsr.dev/kcsr/pkg/pemutil"
)

// Verify checks an issued certificate (status.certificate: the leaf, then any
// intermediates) before anything is written: it is for key, it names the requested user
// and groups, and it chains to roots (the CA bundle the client trusts for the API server)
// at now. When the chain does not verify, that is an error if requireChain (a certificate
// for logging in to that API server), a warning otherwise (a custom signer's own CA); with
// no roots it is a warning. It returns the leaf and the warnings.
func Verify(certPEM []byte, key crypto.PublicKey, id Identity, roots []byte, requireChain bool, now time.Time) (*x509.Certificate, []string, error) {
	certs, err := pemutil.ParseCertificates(certPEM)
	if errors.Is(err, pemutil.ErrNoCertificate) {
		return nil, nil, errors.New("status.certificate holds no PEM CERTIFICATE")
	}
	if err != nil {
		return nil, nil, fmt.Errorf("parse status.certificate: %w", err)
	}
	leaf := certs[0]
	if !publicKeysEqual(leaf.PublicKey, key) {
		return nil, nil, errors.New("it is for another public key than the request's")
	}
	if m := id.mismatch(leaf); m != "" {
		return nil, nil, errors.New(m)
	}
	if len(roots) == 0 {
		return leaf, []string{"warning: the certificate was not checked against a CA: the kubeconfig names none (the system's CAs are trusted)"}, nil
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(roots) {
		return nil, nil, errors.New("the cluster CA data of the kubeconfig holds no PEM certificate")
	}
	intermediates := x509.NewCertPool()
	for _, c := range certs[1:] {
		intermediates.AddCert(c)
	}
	_, err = leaf.Verify(x509.VerifyOptions{Roots: pool, Intermediates: intermediates, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	switch {
	case err == nil:
		return leaf, nil, nil
	case requireChain:
		return nil, nil, fmt.Errorf("it does not chain to the cluster CA of the kubeconfig: %w", err)
	default:
		return leaf, []string{fmt.Sprintf("warning: the certificate does not chain to the cluster CA of the kubeconfig (%v): its signer uses another CA", err)}, nil
	}
}

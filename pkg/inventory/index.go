package inventory

import (
	"errors"
	"strings"

	"k8s.io/client-go/tools/cache"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
)

// Informer index names over IssuedCertificates.
const (
	// SerialIndex indexes records by serial number (lower-case hex), for OCSP.
	SerialIndex = "kcsr.dev/serial"
	// FingerprintIndex indexes records by the certificate's SHA-256 fingerprint
	// (lower-case hex), for revocation at login.
	FingerprintIndex = "kcsr.dev/fingerprint"
)

// Indexers are the indexes every IssuedCertificate informer of kcsr carries; add them
// before the informer starts.
func Indexers() cache.Indexers {
	return cache.Indexers{SerialIndex: indexSerial, FingerprintIndex: indexFingerprint}
}

func indexSerial(obj any) ([]string, error) {
	if ic, ok := obj.(*kcsrv1alpha1.IssuedCertificate); ok {
		return []string{strings.ToLower(ic.Spec.SerialNumber)}, nil
	}
	return nil, nil
}

func indexFingerprint(obj any) ([]string, error) {
	if ic, ok := obj.(*kcsrv1alpha1.IssuedCertificate); ok {
		return []string{strings.ToLower(ic.Spec.SHA256Fingerprint)}, nil
	}
	return nil, nil
}

// ErrNotLoaded is the Checker's answer before the inventory is loaded: it cannot tell a
// revoked certificate from a good one yet.
var ErrNotLoaded = errors.New("the revocation inventory is not loaded yet; retry in a moment")

// Checker answers whether a certificate is revoked from an IssuedCertificate informer
// carrying Indexers, so a revocation is enforced as soon as the watch delivers it
// (milliseconds), on every replica.
type Checker struct {
	Indexer cache.Indexer
	Synced  cache.InformerSynced
}

// NewChecker returns the Checker of informer.
func NewChecker(informer cache.SharedIndexInformer) *Checker {
	return &Checker{Indexer: informer.GetIndexer(), Synced: informer.HasSynced}
}

// Revoked returns the revoked record of the certificate with this SHA-256 fingerprint
// (hex, either case), nil when it has none. A certificate is revoked when any of its
// records is: a second, unrevoked record of it must not make it good. Until the inventory
// is loaded it fails closed with ErrNotLoaded.
func (c *Checker) Revoked(fingerprint string) (*kcsrv1alpha1.IssuedCertificate, error) {
	if !c.Synced() {
		return nil, ErrNotLoaded
	}
	objs, err := c.Indexer.ByIndex(FingerprintIndex, strings.ToLower(fingerprint))
	if err != nil {
		return nil, err
	}
	for _, obj := range objs {
		if ic := obj.(*kcsrv1alpha1.IssuedCertificate); ic.Status.Revocation != nil {
			return ic, nil
		}
	}
	return nil, nil
}

// CredentialFingerprint returns the SHA-256 fingerprint of a user.extra
// "authentication.kubernetes.io/credential-id" value (user.CredentialIDKey) naming a
// client certificate, "X509SHA256=<hex>"; false for another kind of credential.
func CredentialFingerprint(credentialID string) (string, bool) {
	return strings.CutPrefix(credentialID, "X509SHA256=")
}

package authn

import (
	"errors"
	"net/http"
	"strings"

	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/client-go/tools/cache"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
)

// RevokedFingerprintIndex indexes revoked IssuedCertificates by SHA-256 fingerprint.
const RevokedFingerprintIndex = "kcsr.dev/revoked-fingerprint"

// IndexRevoked is the informer indexer of RevokedFingerprintIndex.
func IndexRevoked(obj any) ([]string, error) {
	ic, ok := obj.(*kcsrv1alpha1.IssuedCertificate)
	if !ok || ic.Status.Revocation == nil {
		return nil, nil
	}
	return []string{ic.Spec.SHA256Fingerprint}, nil
}

// RevocationChecker refuses client certificates revoked in the inventory. It reads the
// IssuedCertificate informer of the server it runs in, so a revocation is enforced as soon
// as the watch delivers it (milliseconds), on every replica.
type RevocationChecker struct {
	Indexer cache.Indexer
	Synced  cache.InformerSynced
}

var errNotSynced = errors.New("x509: the revocation list is not loaded yet; retry in a moment")

// Revoked reports whether the certificate with this fingerprint is revoked. Until the
// inventory is loaded it fails closed.
func (c *RevocationChecker) Revoked(fingerprint string) (bool, error) {
	if !c.Synced() {
		return false, errNotSynced
	}
	objs, err := c.Indexer.ByIndex(RevokedFingerprintIndex, fingerprint)
	if err != nil {
		return false, err
	}
	return len(objs) > 0, nil
}

// withRevocation wraps the x509 authenticator.
type withRevocation struct {
	x509    authenticator.Request
	checker *RevocationChecker
}

func (w withRevocation) AuthenticateRequest(req *http.Request) (*authenticator.Response, bool, error) {
	resp, ok, err := w.x509.AuthenticateRequest(req)
	if !ok || err != nil {
		return resp, ok, err
	}
	for _, id := range resp.User.GetExtra()[user.CredentialIDKey] {
		fp, isX509 := strings.CutPrefix(id, "X509SHA256=")
		if !isX509 {
			continue
		}
		revoked, err := w.checker.Revoked(fp)
		if err != nil {
			return nil, false, err
		}
		if revoked {
			return nil, false, errors.New("x509: the client certificate has been revoked")
		}
	}
	return resp, true, nil
}

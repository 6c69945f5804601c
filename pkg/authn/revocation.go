package authn

import (
	"errors"
	"net/http"

	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/user"

	"kcsr.dev/kcsr/pkg/inventory"
)

// withRevocation wraps the x509 authenticator: a client certificate revoked in the
// inventory is refused, and every client certificate is until the inventory is loaded
// (inventory.Index fails closed).
type withRevocation struct {
	x509    authenticator.Request
	checker *inventory.Index
}

func (w withRevocation) AuthenticateRequest(req *http.Request) (*authenticator.Response, bool, error) {
	resp, ok, err := w.x509.AuthenticateRequest(req)
	if !ok || err != nil {
		return resp, ok, err
	}
	for _, id := range resp.User.GetExtra()[user.CredentialIDKey] {
		fp, isX509 := inventory.CredentialFingerprint(id)
		if !isX509 {
			continue
		}
		revoked, err := w.checker.Revoked(fp)
		if err != nil {
			return nil, false, errors.New("x509: " + err.Error())
		}
		if revoked != nil {
			return nil, false, errors.New("x509: the client certificate has been revoked")
		}
	}
	return resp, true, nil
}

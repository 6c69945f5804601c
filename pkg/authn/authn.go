// Package authn builds the request authenticator of `kcsr server`: x509 client certificates
// signed by the cluster CA (CN is the user, every O a group, the certificate's SHA-256
// fingerprint the credential id, as kube-apiserver ≥ 1.32 does), those of upstream login
// signers that the inventory records (upstream.go), and bearer tokens from a
// kube-apiserver style token file. Every authenticated user is put in
// system:authenticated; a request that no authenticator accepts gets 401 (there is no
// anonymous access).
package authn

import (
	"fmt"

	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/group"
	"k8s.io/apiserver/pkg/authentication/request/bearertoken"
	"k8s.io/apiserver/pkg/authentication/request/union"
	"k8s.io/apiserver/pkg/authentication/request/x509"
	"k8s.io/apiserver/pkg/authentication/token/tokenfile"
	tokenunion "k8s.io/apiserver/pkg/authentication/token/union"
	"k8s.io/apiserver/pkg/server/dynamiccertificates"

	"kcsr.dev/kcsr/pkg/inventory"
)

// Options selects the authenticators.
type Options struct {
	// ClientCA verifies client certificates. Required.
	ClientCA dynamiccertificates.CAContentProvider
	// TokenAuthFile is a CSV file of static bearer tokens (token,user,uid,"group1,group2").
	// Optional.
	TokenAuthFile string
	// Tokens authenticates bootstrap and join tokens. Optional.
	Tokens authenticator.Token
	// Revocation refuses revoked client certificates. Optional, but for Upstreams.
	Revocation *inventory.Index
	// Upstreams are the upstream login signers: their certificates chain to their
	// upstream's roots and log in only when Revocation's inventory records them for the
	// signer (its FingerprintSigners must name them).
	Upstreams []UpstreamSigner
}

// New returns the request authenticator.
func New(o Options) (authenticator.Request, error) {
	if o.ClientCA == nil {
		return nil, fmt.Errorf("authn: a client CA is required")
	}
	var certs authenticator.Request = x509.NewDynamic(o.ClientCA.VerifyOptions, x509.CommonNameUserConversion)
	if o.Revocation != nil {
		certs = withRevocation{x509: certs, checker: o.Revocation}
	}
	authenticators := []authenticator.Request{certs}
	for _, u := range o.Upstreams {
		if o.Revocation == nil || !o.Revocation.FingerprintSigners[u.SignerName] {
			return nil, fmt.Errorf("authn: upstream signer %s logs in through the inventory, which must find its records by fingerprint", u.SignerName)
		}
		authenticators = append(authenticators, withRevocation{x509: newUpstream(u, o.Revocation), checker: o.Revocation})
	}
	var tokens []authenticator.Token
	if o.TokenAuthFile != "" {
		static, err := tokenfile.NewCSV(o.TokenAuthFile)
		if err != nil {
			return nil, fmt.Errorf("--token-auth-file: %w", err)
		}
		tokens = append(tokens, static)
	}
	if o.Tokens != nil {
		tokens = append(tokens, o.Tokens)
	}
	if len(tokens) > 0 {
		authenticators = append(authenticators, bearertoken.New(tokenunion.New(tokens...)))
	}
	return group.NewAuthenticatedGroupAdder(union.New(authenticators...)), nil
}

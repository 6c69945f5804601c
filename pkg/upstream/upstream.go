// Package upstream is the CA outside kcsr that a signer may issue through: an enterprise
// PKI that receives the CSR itself and signs it with a key kcsr never holds: step-ca
// (stepca.go) or a Vault PKI mount (vault.go).
//
// kcsr stays the authority on what is issued: the signer's rules are checked before a
// request leaves (pkg/issuance), and the upstream's answer is checked after (Check):
// the certificate is for the request's key, carries the request's subject and names and
// no usage that was not requested, and chains to the roots the configuration names. An
// upstream that cannot be asked, or refuses, is an *UnavailableError (the CSR stays
// Approved with SignerUnavailable and signing is retried); an answer that fails Check
// marks the CSR Failed.
//
// An upstream's roots are never trusted for client authentication as the cluster CA is:
// that would let whoever can get it to sign mint logins without a CSR or an approval.
// With upstream.login, kcsr server accepts the certificates of the upstream that its
// inventory records for the signer, and only those (pkg/authn).
package upstream

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"

	"kcsr.dev/kcsr/pkg/csr"
	"kcsr.dev/kcsr/pkg/pemutil"
)

// Signer is an upstream CA.
type Signer interface {
	// Name names the upstream in conditions and logs ("step-ca https://ca:9000").
	Name() string
	// Sign asks the upstream for a certificate for req with usages (those the upstream
	// lets a client choose), valid for ttl, and returns the chain it answered, leaf first. A request it can never sign is a *RequestError;
	// every other failure an *UnavailableError.
	Sign(ctx context.Context, req *x509.CertificateRequest, usages []certificatesv1.KeyUsage, ttl time.Duration) ([]*x509.Certificate, error)
	// Roots are the certificates the upstream's certificates must chain to.
	Roots() []*x509.Certificate
	// Revoke revokes at the upstream the certificate with serial it issued, for the RFC
	// 5280 reason code. A certificate it had revoked already is no error.
	Revoke(ctx context.Context, serial *big.Int, reasonCode int, reason string) error
}

// RequestError is a request this upstream can never sign, whatever is retried (a
// step-ca token needs a subject CN): the CSR is Failed.
type RequestError struct {
	Upstream string
	Err      error
}

func (e *RequestError) Error() string { return e.Upstream + ": " + e.Err.Error() }
func (e *RequestError) Unwrap() error { return e.Err }

// UnavailableError is an upstream that could not be asked, or refused to sign: the
// request may be signed later.
type UnavailableError struct {
	Upstream string
	Err      error
}

func (e *UnavailableError) Error() string { return e.Upstream + ": " + e.Err.Error() }
func (e *UnavailableError) Unwrap() error { return e.Err }

// Check returns what is wrong with chain, the upstream's answer to req for usages at
// now, with a lifetime of at most ttl (and a few minutes of backdating): nil when the
// leaf is for req's public key, has req's subject (compared attribute by attribute: an
// upstream may re-encode it) and exactly req's SANs, is no CA, carries no extended usage
// that was not requested, lasts no longer than asked, and chains to roots through the
// rest of chain. It returns the intermediates of the verified chain, issuer first: what a
// holder presents with the leaf (an upstream may answer them in any order, with extras,
// or with the root).
func Check(req *x509.CertificateRequest, usages []certificatesv1.KeyUsage, ttl time.Duration, chain []*x509.Certificate, roots []*x509.Certificate, now time.Time) ([]*x509.Certificate, error) {
	if len(chain) == 0 {
		return nil, errors.New("the upstream answered no certificate")
	}
	leaf := chain[0]
	if !publicKeyEqual(leaf.PublicKey, req.PublicKey) {
		return nil, fmt.Errorf("the certificate is for another key (%s), not the request's (%s)", csr.KeyAlgorithm(leaf.PublicKey), csr.KeyAlgorithm(req.PublicKey))
	}
	if got, want := nameAttributes(leaf.Subject), nameAttributes(req.Subject); !slices.Equal(got, want) {
		return nil, fmt.Errorf("the certificate's subject %q is not the request's %q", leaf.Subject.String(), req.Subject.String())
	}
	if got, want := sans(leaf.DNSNames, leaf.IPAddresses, leaf.EmailAddresses, leaf.URIs), sans(req.DNSNames, req.IPAddresses, req.EmailAddresses, req.URIs); !slices.Equal(got, want) {
		return nil, fmt.Errorf("the certificate's subject alternative names [%s] are not the request's [%s]", strings.Join(got, ", "), strings.Join(want, ", "))
	}
	if leaf.IsCA {
		return nil, errors.New("the certificate is a CA certificate")
	}
	_, requested, err := csr.KeyUsages(usages)
	if err != nil {
		return nil, err
	}
	for _, eku := range leaf.ExtKeyUsage {
		if !slices.Contains(requested, eku) {
			return nil, fmt.Errorf("the certificate carries an extended key usage (%d, see crypto/x509.ExtKeyUsage) that was not requested (requested: %s)", eku, joinUsages(usages))
		}
	}
	if len(leaf.UnknownExtKeyUsage) > 0 {
		return nil, fmt.Errorf("the certificate carries extended key usages %v, which were not requested", leaf.UnknownExtKeyUsage)
	}
	if max := now.Add(ttl + 5*time.Minute); leaf.NotAfter.After(max) {
		return nil, fmt.Errorf("the certificate is valid until %s, longer than the %s asked", leaf.NotAfter.UTC().Format(time.RFC3339), ttl)
	}
	pool := x509.NewCertPool()
	for _, r := range roots {
		pool.AddCert(r)
	}
	intermediates := x509.NewCertPool()
	for _, c := range chain[1:] {
		intermediates.AddCert(c)
	}
	chains, err := leaf.Verify(x509.VerifyOptions{Roots: pool, Intermediates: intermediates, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil {
		return nil, fmt.Errorf("the certificate does not chain to the configured roots: %w", err)
	}
	return chains[0][1 : len(chains[0])-1], nil
}

func publicKeyEqual(a, b crypto.PublicKey) bool {
	ea, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ea.Equal(b)
}

// nameAttributes lists a name's attributes as "OID=value", sorted: the same name
// however its RDNs are grouped or ordered.
func nameAttributes(n pkix.Name) []string {
	var out []string
	for _, a := range n.Names {
		out = append(out, a.Type.String()+"="+fmt.Sprint(a.Value))
	}
	slices.Sort(out)
	return out
}

// sans lists subject alternative names as "kind:value", sorted.
func sans(dns []string, ips []net.IP, emails []string, uris []*url.URL) []string {
	var out []string
	for _, d := range dns {
		out = append(out, "DNS:"+d)
	}
	for _, ip := range ips {
		out = append(out, "IP:"+ip.String())
	}
	for _, e := range emails {
		out = append(out, "email:"+e)
	}
	for _, u := range uris {
		out = append(out, "URI:"+u.String())
	}
	slices.Sort(out)
	return out
}

func joinUsages(us []certificatesv1.KeyUsage) string {
	var b bytes.Buffer
	for i, u := range us {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(string(u))
	}
	return b.String()
}

// readRoots reads a configuration's rootsFile: the certificates an upstream's must chain
// to.
func readRoots(file string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("rootsFile: %w", err)
	}
	roots := pemutil.TrustedCertificates(data)
	if len(roots) == 0 {
		return nil, fmt.Errorf("rootsFile %s holds no PEM certificate", file)
	}
	return roots, nil
}

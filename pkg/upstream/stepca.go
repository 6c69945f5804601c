package upstream

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	certificatesv1 "k8s.io/api/certificates/v1"

	"kcsr.dev/kcsr/pkg/pemutil"
	"kcsr.dev/kcsr/pkg/pki"
)

// StepCAConfig is a step-ca with a JWK provisioner.
type StepCAConfig struct {
	// URL is the CA's address, https://HOST:PORT.
	URL string `json:"url"`
	// RootsFile holds the CA's root certificates (PEM): they authenticate the CA over TLS
	// and are what its certificates must chain to.
	RootsFile string `json:"rootsFile"`
	// Provisioner is the JWK provisioner's name; ProvisionerKeyFile its private key, a
	// JWK (JSON) with its kid, readable by the server's user only.
	Provisioner        string `json:"provisioner"`
	ProvisionerKeyFile string `json:"provisionerKeyFile"`
}

// Validate returns what is missing or wrong in c, without reading a file.
func (c *StepCAConfig) Validate() []string {
	var problems []string
	if u, err := url.Parse(c.URL); err != nil || u.Scheme != "https" || u.Host == "" {
		problems = append(problems, fmt.Sprintf("url %q is not an https://HOST:PORT URL", c.URL))
	}
	if c.RootsFile == "" {
		problems = append(problems, "rootsFile is required: the CA's root certificates (PEM), e.g. step-ca's certs/root_ca.crt")
	}
	if c.Provisioner == "" {
		problems = append(problems, "provisioner is required: the name of a JWK provisioner of the CA")
	}
	if c.ProvisionerKeyFile == "" {
		problems = append(problems, "provisionerKeyFile is required: the provisioner's private JWK")
	}
	return problems
}

// stepCA signs through step-ca's /1.0/sign with one-time tokens of a JWK provisioner.
type stepCA struct {
	url, provisioner string
	roots            []*x509.Certificate
	key              jose.JSONWebKey
	alg              jose.SignatureAlgorithm
	client           *http.Client
}

// NewStepCA reads c's files and returns its signer.
func NewStepCA(c *StepCAConfig) (Signer, error) {
	if problems := c.Validate(); len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "; "))
	}
	roots, err := readRoots(c.RootsFile)
	if err != nil {
		return nil, err
	}
	info, err := os.Stat(c.ProvisionerKeyFile)
	if err != nil {
		return nil, fmt.Errorf("provisionerKeyFile: %w", err)
	}
	if err := pki.CheckSecretFileMode("provisionerKeyFile", c.ProvisionerKeyFile, info.Mode()); err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(c.ProvisionerKeyFile)
	if err != nil {
		return nil, fmt.Errorf("provisionerKeyFile: %w", err)
	}
	var key jose.JSONWebKey
	if err := json.Unmarshal(raw, &key); err != nil {
		return nil, fmt.Errorf("provisionerKeyFile %s is not a JWK: %w; give the provisioner's private key as a JSON Web Key (decrypted)", c.ProvisionerKeyFile, err)
	}
	if key.IsPublic() || !key.Valid() {
		return nil, fmt.Errorf("provisionerKeyFile %s holds no private key: give the provisioner's private JWK, not its public one", c.ProvisionerKeyFile)
	}
	if key.KeyID == "" {
		return nil, fmt.Errorf("provisionerKeyFile %s has no kid: step-ca finds the provisioner by it; add the kid the CA's configuration gives the key", c.ProvisionerKeyFile)
	}
	alg := jose.SignatureAlgorithm(key.Algorithm)
	if alg == "" {
		alg = jose.ES256
	}
	pool := x509.NewCertPool()
	for _, r := range roots {
		pool.AddCert(r)
	}
	return &stepCA{
		url:         strings.TrimSuffix(c.URL, "/"),
		provisioner: c.Provisioner,
		roots:       roots,
		key:         key,
		alg:         alg,
		client: &http.Client{
			Timeout:   30 * time.Second,
			Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
		},
	}, nil
}

func (s *stepCA) Name() string               { return "step-ca " + s.url }
func (s *stepCA) Roots() []*x509.Certificate { return s.roots }

// token is a one-time token of the provisioner for subject and sans, for the endpoint
// aud (step-ca refuses a reused jti, and one issued before it started).
func (s *stepCA) token(subject string, sans []string, aud string, now time.Time) (string, error) {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: s.alg, Key: s.key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", s.key.KeyID))
	if err != nil {
		return "", err
	}
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", err
	}
	claims := jwt.Claims{
		Issuer:    s.provisioner,
		Subject:   subject,
		Audience:  jwt.Audience{aud},
		ID:        hex.EncodeToString(jti),
		NotBefore: jwt.NewNumericDate(now),
		IssuedAt:  jwt.NewNumericDate(now),
		Expiry:    jwt.NewNumericDate(now.Add(5 * time.Minute)),
	}
	b := jwt.Signed(signer).Claims(claims)
	if sans != nil {
		b = b.Claims(map[string]any{"sans": sans})
	}
	return b.Serialize()
}

// Sign is POST /1.0/sign with the request and a token whose subject is its CN and whose
// SANs are its names (the provisioner allows nothing else). The usages are the
// provisioner's template's: Check refuses an answer with one not requested.
func (s *stepCA) Sign(ctx context.Context, req *x509.CertificateRequest, _ []certificatesv1.KeyUsage, ttl time.Duration) ([]*x509.Certificate, error) {
	fail := func(err error) error { return &UnavailableError{Upstream: s.Name(), Err: err} }
	if req.Subject.CommonName == "" {
		return nil, &RequestError{Upstream: s.Name(), Err: errors.New("the request has no subject CN, and step-ca's one-time token needs one as its subject; request a certificate with a CN")}
	}
	sans := []string{req.Subject.CommonName}
	sans = append(sans, req.DNSNames...)
	for _, ip := range req.IPAddresses {
		sans = append(sans, ip.String())
	}
	sans = append(sans, req.EmailAddresses...)
	for _, u := range req.URIs {
		sans = append(sans, u.String())
	}
	ott, err := s.token(req.Subject.CommonName, sans, s.url+"/1.0/sign", time.Now())
	if err != nil {
		return nil, fail(fmt.Errorf("make the provisioner's token: %w", err))
	}
	body, err := json.Marshal(map[string]string{
		"csr":      string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: req.Raw})),
		"ott":      ott,
		"notAfter": ttl.String(),
	})
	if err != nil {
		return nil, fail(err)
	}
	status, data, err := s.post(ctx, "/1.0/sign", body)
	if err != nil {
		return nil, fail(err)
	}
	if status != http.StatusCreated && status != http.StatusOK {
		msg := stepMessage(data)
		if status == http.StatusUnauthorized {
			msg += " (step-ca refuses the provisioner's token: check the provisioner's name, its key and kid, and this machine's clock; step-ca's log says which)"
		}
		return nil, fail(fmt.Errorf("POST /1.0/sign: %d %s: %s", status, http.StatusText(status), msg))
	}
	var answer struct {
		Crt       string   `json:"crt"`
		CA        string   `json:"ca"`
		CertChain []string `json:"certChain"`
	}
	if err := json.Unmarshal(data, &answer); err != nil {
		return nil, fail(fmt.Errorf("POST /1.0/sign: the answer is not step-ca's JSON: %w", err))
	}
	pems := answer.CertChain
	if len(pems) == 0 {
		pems = []string{answer.Crt, answer.CA}
	}
	var chain []*x509.Certificate
	for _, p := range pems {
		chain = append(chain, pemutil.TrustedCertificates([]byte(p))...)
	}
	if len(chain) == 0 {
		return nil, fail(errors.New("POST /1.0/sign: the answer holds no certificate"))
	}
	return chain, nil
}

// Revoke is POST /1.0/revoke, passive (step-ca implements no other), with a token whose
// subject is the decimal serial. step-ca answers 400 "already revoked" for a certificate
// it had revoked: that is success.
func (s *stepCA) Revoke(ctx context.Context, serial *big.Int, reasonCode int, reason string) error {
	dec := serial.Text(10)
	ott, err := s.token(dec, nil, s.url+"/1.0/revoke", time.Now())
	if err != nil {
		return &UnavailableError{Upstream: s.Name(), Err: fmt.Errorf("make the provisioner's token: %w", err)}
	}
	body, err := json.Marshal(map[string]any{"serial": dec, "ott": ott, "reasonCode": reasonCode, "reason": reason, "passive": true})
	if err != nil {
		return err
	}
	status, data, err := s.post(ctx, "/1.0/revoke", body)
	if err != nil {
		return &UnavailableError{Upstream: s.Name(), Err: err}
	}
	msg := stepMessage(data)
	switch {
	case status == http.StatusOK:
		return nil
	case status == http.StatusBadRequest && strings.Contains(msg, "already revoked"):
		return nil
	default:
		return &UnavailableError{Upstream: s.Name(), Err: fmt.Errorf("POST /1.0/revoke: %d %s: %s", status, http.StatusText(status), msg)}
	}
}

// post sends body to path and returns the status and up to 1 MiB of the answer.
func (s *stepCA) post(ctx context.Context, path string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := s.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	return res.StatusCode, data, err
}

// stepMessage is the message of a step-ca error answer ({"status", "message"}), or the
// answer itself.
func stepMessage(data []byte) string {
	var e struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(data, &e) == nil && e.Message != "" {
		return e.Message
	}
	return strings.TrimSpace(string(data))
}

package upstream

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	vault "github.com/hashicorp/vault/api"
	certificatesv1 "k8s.io/api/certificates/v1"

	"kcsr.dev/kcsr/pkg/csr"
	"kcsr.dev/kcsr/pkg/pemutil"
	"kcsr.dev/kcsr/pkg/pki"
)

// VaultConfig is a Vault (or OpenBao) PKI secrets engine.
type VaultConfig struct {
	// Address is Vault's address, https://HOST:PORT (http:// only for a loopback dev
	// server).
	Address string `json:"address"`
	// CAFile authenticates Vault's TLS certificate (PEM); the system's roots when empty.
	CAFile string `json:"caFile,omitempty"`
	// Mount is the PKI secrets engine's path, e.g. "pki".
	Mount string `json:"mount"`
	// Role, when set, signs through sign-verbatim/ROLE, so that the role's limits
	// (lifetime, key types) apply too; without it, sign-verbatim. Either way the CSR's
	// subject and names are kept as they are: kcsr's rules decide them.
	Role string `json:"role,omitempty"`
	// Sign is "verbatim" (the default: sign-verbatim, as above) or "role": the role's
	// own sign/ROLE path, where the role decides what it signs and takes the subject's O,
	// OU… from its configuration, not from the CSR (only the CN and SANs come from it).
	// A role therefore suits signers whose requests carry no groups; a certificate that
	// lost a requested one is refused by kcsr's check of the answer.
	Sign string `json:"sign,omitempty"`
	// RootsFile holds the certificates Vault's certificates must chain to (PEM): the
	// mount's root, or the enterprise root above it.
	RootsFile string `json:"rootsFile"`
	// Auth is how kcsr gets a Vault token.
	Auth VaultAuth `json:"auth"`
}

// VaultAuth is one way to a Vault token: a token file, AppRole, or Kubernetes.
type VaultAuth struct {
	// TokenFile holds a Vault token, read again at every request (so that it can be
	// replaced without a restart); readable by the server's user only.
	TokenFile string `json:"tokenFile,omitempty"`
	// AppRole logs in at auth/MOUNT/login with a role ID and a secret ID.
	AppRole *VaultAppRole `json:"appRole,omitempty"`
	// Kubernetes logs in at auth/MOUNT/login with a service account token, which Vault
	// checks with the cluster's TokenReview.
	Kubernetes *VaultKubernetes `json:"kubernetes,omitempty"`
}

// VaultKubernetes is a Kubernetes auth login.
type VaultKubernetes struct {
	// Mount is the auth method's path; "kubernetes" when empty.
	Mount string `json:"mount,omitempty"`
	// Role is the Vault role bound to the service account.
	Role string `json:"role"`
	// JWTFile holds the service account token, read again at every login (kubelet
	// rotates projected tokens); the pod's own token when empty.
	JWTFile string `json:"jwtFile,omitempty"`
}

// DefaultServiceAccountTokenFile is where a pod finds its service account token.
const DefaultServiceAccountTokenFile = "/var/run/secrets/kubernetes.io/serviceaccount/token"

// VaultAppRole is an AppRole login.
type VaultAppRole struct {
	// Mount is the auth method's path; "approle" when empty.
	Mount  string `json:"mount,omitempty"`
	RoleID string `json:"roleID"`
	// SecretIDFile holds the secret ID, readable by the server's user only.
	SecretIDFile string `json:"secretIDFile"`
}

// The Vault paths a signer signs through (VaultConfig.Sign).
const (
	VaultSignVerbatim = "verbatim"
	VaultSignRole     = "role"
)

var mountPath = regexp.MustCompile(`^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$`)

// Validate returns what is missing or wrong in c, without reading a file.
func (c *VaultConfig) Validate() []string {
	var problems []string
	u, err := url.Parse(c.Address)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		problems = append(problems, fmt.Sprintf("address %q is not an https://HOST:PORT URL", c.Address))
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		problems = append(problems, fmt.Sprintf("address %q: plain http is accepted for a loopback dev server only; Vault's tokens and certificates must travel over https", c.Address))
	}
	if !mountPath.MatchString(c.Mount) {
		problems = append(problems, fmt.Sprintf("mount %q is required: the path of the PKI secrets engine, e.g. pki", c.Mount))
	}
	if c.Role != "" && !mountPath.MatchString(c.Role) {
		problems = append(problems, fmt.Sprintf("role %q is not a Vault role name", c.Role))
	}
	switch c.Sign {
	case "", VaultSignVerbatim:
	case VaultSignRole:
		if c.Role == "" {
			problems = append(problems, `sign "role" needs role: the Vault role whose sign path signs`)
		}
	default:
		problems = append(problems, fmt.Sprintf(`sign %q: give "verbatim" (sign-verbatim, keeps the CSR's subject) or "role" (the role's sign path)`, c.Sign))
	}
	if c.RootsFile == "" {
		problems = append(problems, "rootsFile is required: the certificates Vault's must chain to (PEM), e.g. the output of vault read -field=certificate pki/cert/ca")
	}
	a := c.Auth
	ways := 0
	for _, set := range []bool{a.TokenFile != "", a.AppRole != nil, a.Kubernetes != nil} {
		if set {
			ways++
		}
	}
	switch {
	case ways == 0:
		problems = append(problems, "auth: give tokenFile, appRole or kubernetes")
	case ways > 1:
		problems = append(problems, "auth: give one of tokenFile, appRole and kubernetes")
	case a.Kubernetes != nil:
		if a.Kubernetes.Role == "" {
			problems = append(problems, "auth.kubernetes.role is required: the Vault role bound to kcsr's service account")
		}
		if m := a.Kubernetes.Mount; m != "" && !mountPath.MatchString(m) {
			problems = append(problems, fmt.Sprintf("auth.kubernetes.mount %q is not an auth method path", m))
		}
	case a.AppRole != nil:
		if a.AppRole.RoleID == "" {
			problems = append(problems, "auth.appRole.roleID is required (vault read auth/approle/role/NAME/role-id)")
		}
		if a.AppRole.SecretIDFile == "" {
			problems = append(problems, "auth.appRole.secretIDFile is required: a file holding a secret ID (vault write -f auth/approle/role/NAME/secret-id)")
		}
		if m := a.AppRole.Mount; m != "" && !mountPath.MatchString(m) {
			problems = append(problems, fmt.Sprintf("auth.appRole.mount %q is not an auth method path", m))
		}
	}
	return problems
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// vaultSigner signs through a Vault PKI mount with the official client.
type vaultSigner struct {
	address, mount, role string
	byRole               bool // sign/ROLE instead of sign-verbatim[/ROLE]
	roots                []*x509.Certificate
	auth                 VaultAuth
	client               *vault.Client

	mu    sync.Mutex
	token string // an AppRole login's token; "" before the first login
}

// NewVault reads c's files and returns its signer. It does not call Vault: a Vault
// that is down at start delays issuance, it does not stop the server.
func NewVault(c *VaultConfig) (Signer, error) {
	if problems := c.Validate(); len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "; "))
	}
	roots, err := readRoots(c.RootsFile)
	if err != nil {
		return nil, err
	}
	for _, f := range []struct{ name, path string }{{"auth.tokenFile", c.Auth.TokenFile}, {"auth.appRole.secretIDFile", appRoleSecretFile(c.Auth)}} {
		if f.path == "" {
			continue
		}
		info, err := os.Stat(f.path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.name, err)
		}
		if err := pki.CheckSecretFileMode(f.name, f.path, info.Mode()); err != nil {
			return nil, err
		}
	}
	// Nothing comes from the environment (VAULT_AGENT_ADDR, VAULT_SKIP_VERIFY,
	// VAULT_CACERT, VAULT_TOKEN, VAULT_NAMESPACE, VAULT_HEADERS, VAULT_RATE_LIMIT…, which
	// DefaultConfig and NewClient read): the configuration says everything. Only the
	// standard proxy variables apply.
	cfg := vault.DefaultConfig()
	if cfg.Error != nil {
		return nil, fmt.Errorf("the environment's VAULT_* variables, which Vault's client reads (kcsr overrides them): %w", cfg.Error)
	}
	cfg.Address, cfg.AgentAddress = strings.TrimSuffix(c.Address, "/"), ""
	cfg.Timeout = 30 * time.Second
	// The signer controller retries with backoff and reports each failure; the client's
	// own retries would only hide them.
	cfg.MaxRetries = 0
	cfg.Limiter, cfg.SRVLookup, cfg.DisableRedirects = nil, false, false
	transport, ok := cfg.HttpClient.Transport.(*http.Transport)
	if !ok {
		return nil, fmt.Errorf("vault client: unexpected transport %T", cfg.HttpClient.Transport)
	}
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		data, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("caFile: %w", err)
		}
		tlsConfig.RootCAs = x509.NewCertPool()
		if !tlsConfig.RootCAs.AppendCertsFromPEM(data) {
			return nil, fmt.Errorf("caFile %s holds no PEM certificate", c.CAFile)
		}
	}
	transport.TLSClientConfig = tlsConfig
	// The standard proxy variables only (VAULT_HTTP_PROXY and VAULT_PROXY_ADDR would
	// proxy loopback too); none for a loopback dev server.
	transport.Proxy = http.ProxyFromEnvironment
	client, err := vault.NewClient(cfg)
	if err != nil {
		return nil, err
	}
	client.ClearToken()
	client.ClearNamespace()
	client.SetHeaders(http.Header{}) // VAULT_HEADERS
	if client.Address() != cfg.Address {
		return nil, fmt.Errorf("vault client: address %s instead of %s", client.Address(), cfg.Address)
	}
	return &vaultSigner{address: cfg.Address, mount: c.Mount, role: c.Role, byRole: c.Sign == VaultSignRole, roots: roots, auth: c.Auth, client: client}, nil
}

func appRoleSecretFile(a VaultAuth) string {
	if a.AppRole == nil {
		return ""
	}
	return a.AppRole.SecretIDFile
}

func (v *vaultSigner) Name() string               { return "Vault " + v.address + " (" + v.mount + ")" }
func (v *vaultSigner) Roots() []*x509.Certificate { return v.roots }

// Sign is a write to MOUNT/sign-verbatim[/ROLE] with the CSR, the lifetime and the
// usages asked for: sign-verbatim keeps the CSR's subject (a role's sign path would take
// O, OU… from the role, and Kubernetes groups would be lost). With sign "role", it is a
// write to MOUNT/sign/ROLE with the CSR, its CN and the lifetime: the role decides the
// rest.
func (v *vaultSigner) Sign(ctx context.Context, req *x509.CertificateRequest, usages []certificatesv1.KeyUsage, ttl time.Duration) ([]*x509.Certificate, error) {
	data := map[string]any{
		"csr":    string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: req.Raw})),
		"ttl":    fmt.Sprintf("%ds", int64(ttl/time.Second)),
		"format": "pem",
	}
	var path string
	if v.byRole {
		if req.Subject.CommonName == "" {
			return nil, &RequestError{Upstream: v.Name(), Err: errors.New("the request has no subject CN, which a Vault role's sign path needs (common_name); request a certificate with a CN")}
		}
		path = v.mount + "/sign/" + v.role
		data["common_name"] = req.Subject.CommonName
	} else {
		keyUsage, extUsage, err := vaultUsages(usages)
		if err != nil {
			return nil, &RequestError{Upstream: v.Name(), Err: err}
		}
		data["key_usage"], data["ext_key_usage"] = keyUsage, extUsage
		path = v.mount + "/sign-verbatim"
		if v.role != "" {
			path += "/" + v.role
		}
	}
	secret, err := v.write(ctx, path, data)
	if err != nil {
		return nil, &UnavailableError{Upstream: v.Name(), Err: err}
	}
	var chain []*x509.Certificate
	add := func(v any) {
		if s, ok := v.(string); ok {
			chain = append(chain, pemutil.TrustedCertificates([]byte(s))...)
		}
	}
	add(secret.Data["certificate"])
	if caChain, ok := secret.Data["ca_chain"].([]any); ok && len(caChain) > 0 {
		for _, c := range caChain {
			add(c)
		}
	} else {
		add(secret.Data["issuing_ca"])
	}
	if len(chain) == 0 {
		return nil, &UnavailableError{Upstream: v.Name(), Err: fmt.Errorf("write %s: the answer holds no certificate", path)}
	}
	return chain, nil
}

// Revoke is a write to MOUNT/revoke with the serial. Vault answers a certificate it
// revoked already with its first revocation: success.
func (v *vaultSigner) Revoke(ctx context.Context, serial *big.Int, _ int, _ string) error {
	if _, err := v.write(ctx, v.mount+"/revoke", map[string]any{"serial_number": colonHex(serial)}); err != nil {
		return &UnavailableError{Upstream: v.Name(), Err: err}
	}
	return nil
}

// colonHex is a serial as Vault writes it: lower-case hex byte pairs joined by colons.
func colonHex(serial *big.Int) string {
	b := serial.Bytes()
	if len(b) == 0 {
		b = []byte{0}
	}
	parts := make([]string, len(b))
	for i, x := range b {
		parts[i] = fmt.Sprintf("%02x", x)
	}
	return strings.Join(parts, ":")
}

// write writes data to path with the current token. A login's token Vault refuses (it
// expired) is replaced by a new login, once.
func (v *vaultSigner) write(ctx context.Context, path string, data map[string]any) (*vault.Secret, error) {
	for attempt := 0; ; attempt++ {
		token, err := v.currentToken(ctx)
		if err != nil {
			return nil, err
		}
		c := v.client.WithNamespace("")
		c.SetToken(token)
		secret, err := c.Logical().WriteWithContext(ctx, path, data)
		var re *vault.ResponseError
		if errors.As(err, &re) && re.StatusCode == http.StatusForbidden && v.auth.TokenFile == "" && attempt == 0 &&
			strings.Contains(strings.Join(re.Errors, " "), "invalid token") {
			v.dropToken(token)
			continue
		}
		if err != nil {
			return nil, v.explain(path, err)
		}
		if secret == nil || secret.Data == nil {
			return nil, fmt.Errorf("write %s: Vault answered without data", path)
		}
		return secret, nil
	}
}

// dropToken forgets the login's token when it is still token, so that the next request
// logs in again (once, whatever the number of requests that saw it refused).
func (v *vaultSigner) dropToken(token string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.token == token {
		v.token = ""
	}
}

// currentToken is the token to send: the token file's, or the AppRole or Kubernetes
// login's (a new login when there is none).
func (v *vaultSigner) currentToken(ctx context.Context) (string, error) {
	if f := v.auth.TokenFile; f != "" {
		data, err := os.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("auth.tokenFile: %w", err)
		}
		token := strings.TrimSpace(string(data))
		if token == "" {
			return "", fmt.Errorf("auth.tokenFile %s is empty: write a Vault token in it", f)
		}
		return token, nil
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.token != "" {
		return v.token, nil
	}
	method, mount, data, err := v.loginData()
	if err != nil {
		return "", err
	}
	c := v.client.WithNamespace("")
	c.ClearToken()
	path := "auth/" + mount + "/login"
	secret, err := c.Logical().WriteWithContext(ctx, path, data)
	if err != nil {
		return "", fmt.Errorf("%s login at %s: %w", method, path, v.explain(path, err))
	}
	if secret == nil || secret.Auth == nil || secret.Auth.ClientToken == "" {
		return "", fmt.Errorf("%s login at %s: Vault answered without a token", method, path)
	}
	v.token = secret.Auth.ClientToken
	return v.token, nil
}

// loginData is the login of the AppRole or Kubernetes auth: the method's name, its mount
// and what to write to auth/MOUNT/login, with the secret read from its file now.
func (v *vaultSigner) loginData() (method, mount string, data map[string]any, err error) {
	if k := v.auth.Kubernetes; k != nil {
		file := k.JWTFile
		if file == "" {
			file = DefaultServiceAccountTokenFile
		}
		jwt, err := os.ReadFile(file)
		if err != nil {
			return "", "", nil, fmt.Errorf("auth.kubernetes.jwtFile: %w", err)
		}
		mount = k.Mount
		if mount == "" {
			mount = "kubernetes"
		}
		return "Kubernetes", mount, map[string]any{"role": k.Role, "jwt": strings.TrimSpace(string(jwt))}, nil
	}
	a := v.auth.AppRole
	secretID, err := os.ReadFile(a.SecretIDFile)
	if err != nil {
		return "", "", nil, fmt.Errorf("auth.appRole.secretIDFile: %w", err)
	}
	mount = a.Mount
	if mount == "" {
		mount = "approle"
	}
	return "AppRole", mount, map[string]any{"role_id": a.RoleID, "secret_id": strings.TrimSpace(string(secretID))}, nil
}

// explain adds to a Vault error what to check.
func (v *vaultSigner) explain(path string, err error) error {
	var re *vault.ResponseError
	if !errors.As(err, &re) {
		return err
	}
	var problems []string
	for _, e := range re.Errors {
		problems = append(problems, vaultProblems(e)...)
	}
	msg := fmt.Sprintf("%s %s: %d %s: %s", re.HTTPMethod, "/v1/"+path, re.StatusCode, http.StatusText(re.StatusCode), strings.Join(problems, "; "))
	switch {
	case re.StatusCode == http.StatusForbidden && strings.Contains(msg, "invalid token"):
		msg += " (the Vault token has expired or been revoked: " + v.renewHint() + ")"
	case re.StatusCode == http.StatusForbidden:
		msg += fmt.Sprintf(" (the Vault token's policies do not allow update on %s; grant it, e.g. path \"%s\" { capabilities = [\"update\"] })", path, path)
	case re.StatusCode == http.StatusServiceUnavailable && strings.Contains(msg, "sealed"):
		msg += " (unseal it: vault operator unseal)"
	case re.StatusCode == http.StatusServiceUnavailable:
		msg += " (Vault is in standby without a leader, or overloaded)"
	}
	return errors.New(msg)
}

var multiErrorHead = regexp.MustCompile(`^\d+ errors? occurred:`)

// vaultProblems splits one of Vault's error strings, which may be a go-multierror list
// ("2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n"), into its items.
func vaultProblems(e string) []string {
	var out []string
	for _, p := range strings.Split(multiErrorHead.ReplaceAllString(strings.TrimSpace(e), ""), "\n") {
		if p = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(p), "*")); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// renewHint says how to give kcsr a valid token again.
func (v *vaultSigner) renewHint() string {
	if v.auth.TokenFile != "" {
		return "write a new one in auth.tokenFile " + v.auth.TokenFile + "; kcsr reads it at every request"
	}
	if v.auth.Kubernetes != nil {
		return "kcsr logged in again with its service account token and was refused; check the Vault role's token_ttl and policies"
	}
	return "kcsr logged in again with the AppRole and was refused; check the role's token_ttl and the secret ID in auth.appRole.secretIDFile"
}

// vaultUsages are usages as sign-verbatim's key_usage and ext_key_usage names.
func vaultUsages(usages []certificatesv1.KeyUsage) (keyUsage, extUsage []string, err error) {
	ku, ekus, err := csr.KeyUsages(usages)
	if err != nil {
		return nil, nil, err
	}
	for _, k := range []struct {
		bit  x509.KeyUsage
		name string
	}{
		{x509.KeyUsageDigitalSignature, "DigitalSignature"},
		{x509.KeyUsageContentCommitment, "ContentCommitment"},
		{x509.KeyUsageKeyEncipherment, "KeyEncipherment"},
		{x509.KeyUsageDataEncipherment, "DataEncipherment"},
		{x509.KeyUsageKeyAgreement, "KeyAgreement"},
		{x509.KeyUsageCertSign, "CertSign"},
		{x509.KeyUsageCRLSign, "CRLSign"},
		{x509.KeyUsageEncipherOnly, "EncipherOnly"},
		{x509.KeyUsageDecipherOnly, "DecipherOnly"},
	} {
		if ku&k.bit != 0 {
			keyUsage = append(keyUsage, k.name)
		}
	}
	names := map[x509.ExtKeyUsage]string{
		x509.ExtKeyUsageAny:                        "Any",
		x509.ExtKeyUsageServerAuth:                 "ServerAuth",
		x509.ExtKeyUsageClientAuth:                 "ClientAuth",
		x509.ExtKeyUsageCodeSigning:                "CodeSigning",
		x509.ExtKeyUsageEmailProtection:            "EmailProtection",
		x509.ExtKeyUsageIPSECEndSystem:             "IPSECEndSystem",
		x509.ExtKeyUsageIPSECTunnel:                "IPSECTunnel",
		x509.ExtKeyUsageIPSECUser:                  "IPSECUser",
		x509.ExtKeyUsageTimeStamping:               "TimeStamping",
		x509.ExtKeyUsageOCSPSigning:                "OCSPSigning",
		x509.ExtKeyUsageMicrosoftServerGatedCrypto: "MicrosoftServerGatedCrypto",
		x509.ExtKeyUsageNetscapeServerGatedCrypto:  "NetscapeServerGatedCrypto",
	}
	for _, e := range ekus {
		name, ok := names[e]
		if !ok {
			return nil, nil, fmt.Errorf("usage %d has no Vault ext_key_usage name", e)
		}
		extUsage = append(extUsage, name)
	}
	return keyUsage, extUsage, nil
}

package upstream

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"kcsr.dev/kcsr/pkg/testkit"
)

// TestNewStepCA: the files a step-ca signer needs, and what is said when one is wrong.
func TestNewStepCA(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte, mode os.FileMode) string { return testkit.WriteFile(t, name, data, mode) }
	root := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
	roots := write("root.crt", root.CertPEM, 0o644)
	key := testkit.NewKey(t, testkit.P256)
	jwk := jose.JSONWebKey{Key: key, Algorithm: string(jose.ES256)}
	thumb, _ := jwk.Thumbprint(crypto.SHA256)
	jwk.KeyID = string(thumb[:4])
	private, _ := json.Marshal(jwk)
	public, _ := json.Marshal(jwk.Public())
	noKid := jwk
	noKid.KeyID = ""
	noKidJSON, _ := json.Marshal(noKid)
	good := write("good.jwk", private, 0o600)

	cfg := func(rootsFile, keyFile string) *StepCAConfig {
		return &StepCAConfig{URL: "https://127.0.0.1:9000", RootsFile: rootsFile, Provisioner: "kcsr", ProvisionerKeyFile: keyFile}
	}
	s, err := NewStepCA(cfg(roots, good))
	if err != nil {
		t.Fatal(err)
	}
	if s.Name() != "step-ca https://127.0.0.1:9000" || len(s.Roots()) != 1 {
		t.Errorf("name %q, %d roots", s.Name(), len(s.Roots()))
	}
	for name, tc := range map[string]struct {
		cfg  *StepCAConfig
		want string
	}{
		"missing roots":   {cfg(filepath.Join(dir, "nope.crt"), good), "rootsFile: open"},
		"roots not PEM":   {cfg(write("bad.crt", []byte("x"), 0o644), good), "holds no PEM certificate"},
		"key readable":    {cfg(roots, write("open.jwk", private, 0o644)), "provisionerKeyFile"},
		"key not JSON":    {cfg(roots, write("bad.jwk", []byte("-----BEGIN"), 0o600)), "is not a JWK"},
		"public key only": {cfg(roots, write("public.jwk", public, 0o600)), "holds no private key"},
		"no kid":          {cfg(roots, write("nokid.jwk", noKidJSON, 0o600)), "has no kid"},
	} {
		if _, err := NewStepCA(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
}

// TestStepCANoCN: a request without a CN can never get a step-ca token: a RequestError,
// before anything is sent.
func TestStepCANoCN(t *testing.T) {
	s := &stepCA{url: "https://127.0.0.1:1"}
	key := testkit.NewKey(t, testkit.P256)
	req := testkit.Request(t, "")
	req.Raw = testkit.RequestPEM(t, key, req)
	_, err := s.Sign(context.Background(), req, nil, time.Hour)
	var requestErr *RequestError
	if !errors.As(err, &requestErr) || !strings.Contains(err.Error(), "has no subject CN") {
		t.Errorf("Sign = %v, want a RequestError", err)
	}
}

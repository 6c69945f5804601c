// Package softhsmtest creates real SoftHSM2 tokens for tests, so that the PKCS#11 backend
// is tested against a PKCS#11 module and not a fake: a token directory and softhsm2.conf in
// the test's temporary directory (SOFTHSM2_CONF points at it for the rest of the test),
// keys imported with softhsm2-util, and a URI whose PIN comes from a 0600 file.
//
// SoftHSM2 is installed by hack/install-deps.sh. When it is missing the test fails, saying
// so: a test that skips in CI is a test that does not exist.
//
// Because SOFTHSM2_CONF is set with t.Setenv, tests using it cannot be parallel. SoftHSM2
// reads its configuration when the module is loaded, and crypto11 keeps the module loaded
// while any backend is open: close every backend before the test ends (t.Cleanup), and
// create all the tokens of a test before opening the first backend.
package softhsmtest

import (
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"kcsr.dev/kcsr/pkg/ca/pkcs11"
	"kcsr.dev/kcsr/pkg/pemutil"
)

// The PINs of every test token.
const (
	UserPIN = "1234"
	SOPIN   = "5678"
)

// ModulePaths are where distributions install SoftHSM2's PKCS#11 module. The
// SOFTHSM2_MODULE environment variable, when set, comes first.
var ModulePaths = []string{
	"/usr/lib/softhsm/libsofthsm2.so",                  // Debian, Ubuntu
	"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so", // Debian multiarch
	"/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib64/pkcs11/libsofthsm2.so", // Fedora, RHEL
	"/usr/lib/pkcs11/libsofthsm2.so",
	"/usr/local/lib/softhsm/libsofthsm2.so",    // built from source
	"/opt/homebrew/lib/softhsm/libsofthsm2.so", // Homebrew
}

const installHint = "SoftHSM2 is needed for this test; run hack/install-deps.sh (as root; on Debian it runs apt-get install softhsm2)"

// ModulePath returns SoftHSM2's PKCS#11 module, failing t when SoftHSM2 is not installed.
func ModulePath(t testing.TB) string {
	t.Helper()
	candidates := ModulePaths
	if env := os.Getenv("SOFTHSM2_MODULE"); env != "" {
		candidates = append([]string{env}, candidates...)
	}
	for _, p := range candidates {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	t.Fatalf("%s: libsofthsm2.so is in none of %v (set SOFTHSM2_MODULE if it is elsewhere)", installHint, candidates)
	return ""
}

// Token is a SoftHSM2 token of one test.
type Token struct {
	Label      string
	ModulePath string
	// PINFile holds UserPIN, mode 0600.
	PINFile string
	// Conf is the softhsm2.conf SOFTHSM2_CONF points at.
	Conf string
}

// configs counts the tokens of each live configuration this package created, so that a
// second token of the same test goes into the same token directory (the module reads one
// configuration).
var (
	mu      sync.Mutex
	configs = map[string]int{}
)

// InitToken initialises a token labelled label, in the configuration of the test's earlier
// tokens or in a new one in t.TempDir.
func InitToken(t testing.TB, label string) *Token {
	t.Helper()
	module := ModulePath(t)
	util := softhsmUtil(t)
	mu.Lock()
	conf := os.Getenv("SOFTHSM2_CONF")
	_, ours := configs[conf]
	mu.Unlock()
	if !ours {
		dir := t.TempDir()
		tokens := filepath.Join(dir, "tokens")
		if err := os.Mkdir(tokens, 0o700); err != nil {
			t.Fatal(err)
		}
		conf = filepath.Join(dir, "softhsm2.conf")
		content := fmt.Sprintf("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n", tokens)
		if err := os.WriteFile(conf, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv("SOFTHSM2_CONF", conf)
		mu.Lock()
		configs[conf] = 0
		mu.Unlock()
		t.Cleanup(func() {
			mu.Lock()
			delete(configs, conf)
			mu.Unlock()
		})
	}
	mu.Lock()
	configs[conf]++
	mu.Unlock()

	pinFile := filepath.Join(t.TempDir(), "pin")
	if err := os.WriteFile(pinFile, []byte(UserPIN+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, util, conf, "--init-token", "--free", "--label", label, "--pin", UserPIN, "--so-pin", SOPIN)
	return &Token{Label: label, ModulePath: module, PINFile: pinFile, Conf: conf}
}

// ImportKey imports keyPEM (a PEM private key: PKCS#8, SEC 1 or PKCS#1; RSA or ECDSA, the
// key types crypto11 supports) into the token with the object label and id, and returns
// the key's URI, with pin-source pointing at tok.PINFile and module-path at the module.
func (tok *Token) ImportKey(t testing.TB, keyPEM []byte, label string, id []byte) string {
	t.Helper()
	key, err := pemutil.ParseKey(keyPEM)
	if err != nil {
		t.Fatalf("softhsmtest: %v", err)
	}
	if _, ok := key.(ed25519.PrivateKey); ok {
		t.Fatal("softhsmtest: Ed25519 keys are not supported by crypto11; use an ECDSA or RSA key")
	}
	pk8, err := pemutil.EncodeKey(key) // softhsm2-util imports PKCS#8 only
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "key.pk8")
	if err := os.WriteFile(path, pk8, 0o600); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(path)
	run(t, softhsmUtil(t), tok.Conf, "--import", path, "--token", tok.Label, "--label", label, "--id", hex.EncodeToString(id), "--pin", UserPIN)
	return tok.URI(label, id)
}

// URI returns the URI of the object with label and id (either may be empty) on tok.
func (tok *Token) URI(label string, id []byte) string {
	u := pkcs11.URI{Token: tok.Label, Object: label, ID: id, PINSource: "file:" + tok.PINFile, ModulePath: tok.ModulePath}
	return u.String()
}

// NewToken creates a token labelled kcsr-test (kcsr-test-2, … for the test's further
// tokens), imports keyPEM as object "ca" with id 01, and returns SoftHSM2's module path and
// the key's URI (pkcs11:token=kcsr-test;object=ca;id=%01?pin-source=file:…&module-path=…).
func NewToken(t testing.TB, keyPEM []byte) (modulePath, uri string) {
	t.Helper()
	mu.Lock()
	n := configs[os.Getenv("SOFTHSM2_CONF")]
	mu.Unlock()
	label := "kcsr-test"
	if n > 0 {
		label = fmt.Sprintf("kcsr-test-%d", n+1)
	}
	tok := InitToken(t, label)
	return tok.ModulePath, tok.ImportKey(t, keyPEM, "ca", []byte{0x01})
}

func softhsmUtil(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("softhsm2-util")
	if err != nil {
		t.Fatalf("%s: softhsm2-util is not in PATH", installHint)
	}
	return path
}

func run(t testing.TB, util, conf string, args ...string) {
	t.Helper()
	cmd := exec.Command(util, args...)
	cmd.Env = append(os.Environ(), "SOFTHSM2_CONF="+conf)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("softhsm2-util %v: %v\n%s", redactPINs(args), err, out)
	}
}

// redactPINs hides PIN arguments in failure messages, out of habit even for test PINs.
func redactPINs(args []string) []string {
	out := append([]string(nil), args...)
	for i := 0; i+1 < len(out); i++ {
		if out[i] == "--pin" || out[i] == "--so-pin" {
			out[i+1] = "***"
		}
	}
	return out
}

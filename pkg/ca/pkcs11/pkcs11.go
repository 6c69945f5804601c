//go:build cgo

package pkcs11

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ThalesGroup/crypto11"
	"github.com/miekg/pkcs11"

	"kcsr.dev/kcsr/pkg/ca"
	"kcsr.dev/kcsr/pkg/pemutil"
)

// poolWait bounds how long a signature waits for a free session on the token.
const poolWait = 30 * time.Second

// New logs in to the token cfg.URI names, finds the key, reads the CA certificate and
// checks the CA with ca.Check at now. The returned Backend holds the token's sessions until
// Close.
func New(ctx context.Context, cfg Config, now time.Time) (*Backend, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	u, err := ParseURI(cfg.URI)
	if err != nil {
		return nil, err
	}
	module, err := modulePath(cfg.ModulePath, u)
	if err != nil {
		return nil, err
	}
	c11cfg := &crypto11.Config{Path: module, PoolWaitTimeout: poolWait}
	if c11cfg.TokenLabel, c11cfg.TokenSerial, c11cfg.SlotNumber, err = tokenSelector(u); err != nil {
		return nil, err
	}
	if err := checkObjectSelector(u); err != nil {
		return nil, err
	}
	var chain []*x509.Certificate
	if cfg.CertFile != "" {
		data, err := os.ReadFile(cfg.CertFile)
		if err != nil {
			return nil, fmt.Errorf("pkcs11: read the CA certificate: %w", err)
		}
		if chain, err = pemutil.ParseCertificates(data); err != nil {
			return nil, fmt.Errorf("pkcs11: CA certificate file %s: %w", cfg.CertFile, err)
		}
	}
	if c11cfg.Pin, err = readPIN(u, os.Getenv); err != nil {
		return nil, err
	}

	token, err := crypto11.Configure(c11cfg)
	if err != nil {
		return nil, openError(err, module, u)
	}
	b := &Backend{chain: chain, closeFn: token.Close}
	fail := func(err error) (*Backend, error) {
		b.Close()
		return nil, err
	}
	var label []byte
	if u.Object != "" {
		label = []byte(u.Object)
	}
	signers, err := token.FindKeyPairs(u.ID, label)
	switch {
	case err != nil:
		return fail(fmt.Errorf("pkcs11: find the key %s on token %s: %w", describeObject(u), describeToken(u), err))
	case len(signers) == 0:
		return fail(keyNotFoundError(module, u))
	case len(signers) > 1:
		return fail(fmt.Errorf("pkcs11: %d keys on token %s match %s; add id= or object= to the URI so that it selects one", len(signers), describeToken(u), describeObject(u)))
	}
	b.signer = signers[0]
	if len(b.chain) == 0 {
		cert, err := token.FindCertificate(u.ID, label, nil)
		if err != nil {
			return fail(fmt.Errorf("pkcs11: read the CA certificate of %s from the token: %w", describeObject(u), err))
		}
		if cert == nil {
			return fail(fmt.Errorf("pkcs11: the token has no certificate object for %s; set certFile to the CA certificate (PEM), or import it to the token with the key's id and label", describeObject(u)))
		}
		b.chain = []*x509.Certificate{cert}
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	if err := ca.Check(ctx, b, now); err != nil {
		where := "the token's certificate"
		if cfg.CertFile != "" {
			where = cfg.CertFile
		}
		return fail(fmt.Errorf("pkcs11: CA %s with key %s: %w", where, describeObject(u), err))
	}
	b.chain = ca.TrimRoot(b.chain)
	return b, nil
}

// modulePath picks the module from the configuration and the URI's module-path.
func modulePath(configured string, u *URI) (string, error) {
	module := configured
	switch {
	case module != "" && u.ModulePath != "" && filepath.Clean(module) != filepath.Clean(u.ModulePath):
		return "", fmt.Errorf("pkcs11: modulePath %s and the URI's module-path %s differ; give the module once", module, u.ModulePath)
	case module == "":
		module = u.ModulePath
	}
	if module == "" {
		if u.ModuleName != "" {
			return "", fmt.Errorf("pkcs11: module-name=%s is not supported; give the module's absolute path as modulePath or module-path= in the URI", u.ModuleName)
		}
		return "", errors.New("pkcs11: no PKCS#11 module; set modulePath or add module-path= to the URI (for SoftHSM2 on Debian: /usr/lib/softhsm/libsofthsm2.so)")
	}
	if !filepath.IsAbs(module) {
		return "", fmt.Errorf("pkcs11: module %s is not an absolute path; give the module's absolute path, so that no library search path decides which code handles the PIN", module)
	}
	fi, err := os.Stat(module)
	if err != nil {
		return "", fmt.Errorf("pkcs11: module: %w; install the HSM vendor's PKCS#11 library or fix the module path", err)
	}
	if fi.IsDir() {
		return "", fmt.Errorf("pkcs11: module %s is a directory; give the path of the module's .so file", module)
	}
	return module, nil
}

// tokenSelector returns crypto11's token selection: exactly one of token, serial, slot-id.
func tokenSelector(u *URI) (label, serial string, slot *int, err error) {
	var given []string
	if u.Token != "" {
		given = append(given, "token=")
	}
	if u.Serial != "" {
		given = append(given, "serial=")
	}
	if u.SlotID != nil {
		given = append(given, "slot-id=")
		if *u.SlotID > uint64(^uint(0)>>1) {
			return "", "", nil, fmt.Errorf("pkcs11 URI: slot-id %d is out of range", *u.SlotID)
		}
		n := int(*u.SlotID)
		slot = &n
	}
	switch {
	case len(given) == 0:
		return "", "", nil, errors.New("pkcs11 URI: no token selected; add token= (the token label), serial= or slot-id=")
	case len(given) > 1:
		return "", "", nil, fmt.Errorf("pkcs11 URI: %s all select the token; keep only one", strings.Join(given, ", "))
	}
	for _, a := range []struct{ name, value string }{
		{"manufacturer", u.Manufacturer}, {"model", u.Model},
		{"library-manufacturer", u.LibraryManufacturer}, {"library-description", u.LibraryDescription}, {"library-version", u.LibraryVersion},
		{"slot-description", u.SlotDescription}, {"slot-manufacturer", u.SlotManufacturer},
	} {
		if a.value != "" {
			return "", "", nil, fmt.Errorf("pkcs11 URI: %s= is not supported for selecting the token; select it with token=, serial= or slot-id= only", a.name)
		}
	}
	if len(u.VendorPath) > 0 {
		return "", "", nil, fmt.Errorf("pkcs11 URI: vendor attribute %s= is not supported; remove it", u.VendorPath[0].Name)
	}
	return u.Token, u.Serial, slot, nil
}

// checkObjectSelector checks that the URI names one private key.
func checkObjectSelector(u *URI) error {
	if u.Object == "" && len(u.ID) == 0 {
		return errors.New("pkcs11 URI: no key selected; add object= (the key's label), id= (its CKA_ID, e.g. id=%01) or both")
	}
	if u.Type != "" && u.Type != "private" {
		return fmt.Errorf("pkcs11 URI: type=%s does not select a private key; write type=private or leave type out", u.Type)
	}
	return nil
}

// openError explains a failure to load the module, find the token or log in.
func openError(err error, module string, u *URI) error {
	var p11 pkcs11.Error
	switch {
	case errors.As(err, &p11) && p11 == pkcs11.CKR_PIN_INCORRECT:
		return fmt.Errorf("pkcs11: token %s refused the PIN (CKR_PIN_INCORRECT); check the pin-source file or %s (repeated failures may lock the PIN)", describeToken(u), PINEnv)
	case errors.As(err, &p11) && p11 == pkcs11.CKR_PIN_LOCKED:
		return fmt.Errorf("pkcs11: the user PIN of token %s is locked (CKR_PIN_LOCKED); unlock it with the security officer PIN, then check the PIN kcsr is given", describeToken(u))
	case errors.As(err, &p11) && (p11 == pkcs11.CKR_PIN_EXPIRED || p11 == pkcs11.CKR_USER_PIN_NOT_INITIALIZED):
		return fmt.Errorf("pkcs11: token %s: the user PIN is expired or not initialised (%v); set it with the token's tools", describeToken(u), p11)
	case err.Error() == "could not find PKCS#11 token":
		return fmt.Errorf("pkcs11: module %s has no token %s; list its tokens (softhsm2-util --show-slots, or pkcs11-tool --module %s --list-token-slots) and fix the URI", module, describeToken(u), module)
	default:
		return fmt.Errorf("pkcs11: open token %s with module %s: %w", describeToken(u), module, err)
	}
}

// keyNotFoundError explains a URI that matches no key pair, spotting id=01 written for
// id=%01.
func keyNotFoundError(module string, u *URI) error {
	hint := ""
	if isHexText(u.ID) {
		hint = fmt.Sprintf(" (id= is percent-encoded bytes: id=%s is the %d characters %q; for the bytes 0x%s write id=%s)",
			string(u.ID), len(u.ID), string(u.ID), string(u.ID), percentHex(string(u.ID)))
	}
	return fmt.Errorf("pkcs11: no key pair %s on token %s%s; list the token's objects with: pkcs11-tool --module %s --login --list-objects",
		describeObject(u), describeToken(u), hint, module)
}

func describeToken(u *URI) string {
	switch {
	case u.Token != "":
		return fmt.Sprintf("%q", u.Token)
	case u.Serial != "":
		return fmt.Sprintf("with serial %q", u.Serial)
	case u.SlotID != nil:
		return fmt.Sprintf("in slot %d", *u.SlotID)
	default:
		return "(none selected)"
	}
}

func describeObject(u *URI) string {
	var parts []string
	if u.Object != "" {
		parts = append(parts, fmt.Sprintf("object=%q", u.Object))
	}
	if len(u.ID) > 0 {
		parts = append(parts, "id="+encodeAll(u.ID))
	}
	return strings.Join(parts, " ")
}

// isHexText reports whether id is an even number of ASCII hex digits: what someone who
// wrote id=01 instead of id=%01 gets.
func isHexText(id []byte) bool {
	if len(id) == 0 || len(id)%2 != 0 {
		return false
	}
	for _, c := range id {
		if !isHex(c) {
			return false
		}
	}
	return true
}

// percentHex turns hex text ("0a01") into its percent-encoded bytes ("%0a%01").
func percentHex(hexText string) string {
	var b strings.Builder
	for i := 0; i+1 < len(hexText); i += 2 {
		b.WriteString("%" + strings.ToUpper(hexText[i:i+2]))
	}
	return b.String()
}

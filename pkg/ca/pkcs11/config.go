package pkcs11

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"kcsr.dev/kcsr/pkg/pki"
)

// PINEnv is the environment variable that holds the user PIN when the URI has no
// pin-source.
const PINEnv = "KCSR_PKCS11_PIN"

// Config says where the CA key and its certificate are.
type Config struct {
	// ModulePath is the vendor's PKCS#11 module (an absolute path, e.g.
	// /usr/lib/softhsm/libsofthsm2.so). It may be left empty when the URI has module-path;
	// when both are set they must agree.
	ModulePath string
	// URI addresses the token and the key (RFC 7512): see the package documentation.
	URI string
	// CertFile is the CA certificate (PEM), optionally followed by its issuers. When empty,
	// the certificate object on the token with the key's id and label is used.
	CertFile string
}

// maxPINFile bounds what is read from a pin-source file.
const maxPINFile = 4096

// readPIN returns the user PIN: from the URI's pin-source file, else from $KCSR_PKCS11_PIN.
func readPIN(u *URI, getenv func(string) string) (string, error) {
	if u.PINSource == "" {
		if pin := getenv(PINEnv); pin != "" {
			return pin, nil
		}
		return "", fmt.Errorf("pkcs11: no PIN: add ?pin-source=file:/path/to/pin to the URI (a file only kcsr can read, chmod 600), or set the %s environment variable", PINEnv)
	}
	path, err := pinSourcePath(u.PINSource)
	if err != nil {
		return "", err
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("pkcs11: read the PIN (pin-source): %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("pkcs11: read the PIN (pin-source): %w", err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("pkcs11: PIN file %s is not a regular file; point pin-source at a file holding the PIN", path)
	}
	if err := pki.CheckSecretFileMode("pkcs11: PIN file", path, fi.Mode()); err != nil {
		return "", err
	}
	data, err := io.ReadAll(io.LimitReader(f, maxPINFile+1))
	if err != nil {
		return "", fmt.Errorf("pkcs11: read the PIN (pin-source): %w", err)
	}
	if len(data) > maxPINFile {
		return "", fmt.Errorf("pkcs11: PIN file %s is larger than %d bytes; it must hold the PIN alone", path, maxPINFile)
	}
	pin := strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r")
	if pin == "" {
		return "", fmt.Errorf("pkcs11: PIN file %s is empty; write the token's user PIN in it", path)
	}
	return pin, nil
}

// pinSourcePath returns the file a pin-source names: file:/abs, file:///abs,
// file://localhost/abs, or a bare absolute path.
func pinSourcePath(src string) (string, error) {
	path := src
	if rest, ok := strings.CutPrefix(src, "file:"); ok {
		path = rest
		if after, ok := strings.CutPrefix(rest, "//"); ok {
			host, p, _ := strings.Cut(after, "/")
			if host != "" && host != "localhost" {
				return "", fmt.Errorf("pkcs11: pin-source %q names a file on host %q; use a local file, e.g. pin-source=file:/etc/kcsr/hsm.pin", src, host)
			}
			path = "/" + p
		}
	} else if strings.Contains(src, ":") && !filepath.IsAbs(src) {
		return "", fmt.Errorf("pkcs11: pin-source %q is not a file; only files are supported, e.g. pin-source=file:/etc/kcsr/hsm.pin", src)
	}
	if !filepath.IsAbs(path) {
		return "", fmt.Errorf("pkcs11: pin-source %q is not an absolute path; write pin-source=file:/absolute/path", src)
	}
	return filepath.Clean(path), nil
}

// errNoCgo is New's error in a build without cgo.
var errNoCgo = errors.New("pkcs11: kcsr was built without cgo; PKCS#11 needs a cgo build (CGO_ENABLED=1 and a C compiler)")

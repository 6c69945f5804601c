package pkcs11

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"kcsr.dev/kcsr/pkg/testkit"
)

func slotID(n uint64) *uint64 { return &n }

func TestParseURI(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    *URI
		wantErr string
	}{
		{
			name: "label, id and PIN file",
			in:   "pkcs11:token=kcsr;object=ca;id=%01?pin-source=file:/etc/kcsr/hsm.pin",
			want: &URI{Token: "kcsr", Object: "ca", ID: []byte{0x01}, PINSource: "file:/etc/kcsr/hsm.pin"},
		},
		{
			name: "every standard attribute",
			in: "pkcs11:token=T;manufacturer=SoftHSM%20project;serial=abc123;model=SoftHSM%20v2;library-manufacturer=L;" +
				"library-description=Implementation%20of%20PKCS11;library-version=2.6;object=ca;type=private;id=%01%FF;" +
				"slot-description=S;slot-manufacturer=M;slot-id=42?pin-source=file:/p&module-name=softhsm2&module-path=/usr/lib/softhsm/libsofthsm2.so",
			want: &URI{
				Token: "T", Manufacturer: "SoftHSM project", Serial: "abc123", Model: "SoftHSM v2", LibraryManufacturer: "L",
				LibraryDescription: "Implementation of PKCS11", LibraryVersion: "2.6", Object: "ca", Type: "private", ID: []byte{0x01, 0xff},
				SlotDescription: "S", SlotManufacturer: "M", SlotID: slotID(42),
				PINSource: "file:/p", ModuleName: "softhsm2", ModulePath: "/usr/lib/softhsm/libsofthsm2.so",
			},
		},
		{name: "scheme in any case", in: "PKCS11:token=a", want: &URI{Token: "a"}},
		{name: "empty URI matches everything", in: "pkcs11:", want: &URI{}},
		{name: "empty segments are ignored", in: "pkcs11:;token=a;;object=b;?&module-path=/m&", want: &URI{Token: "a", Object: "b", ModulePath: "/m"}},
		{name: "unencoded id is its characters", in: "pkcs11:token=a;id=01", want: &URI{Token: "a", ID: []byte("01")}},
		{name: "lower-case hex", in: "pkcs11:token=a;id=%ab%cD", want: &URI{Token: "a", ID: []byte{0xab, 0xcd}}},
		{name: "reserved characters allowed in the path", in: "pkcs11:object=a:b[c]@d!$'()*+,=&e", want: &URI{Object: "a:b[c]@d!$'()*+,=&e"}},
		{name: "slash, question mark and bar allowed in the query", in: "pkcs11:?module-path=/a/b?c|d", want: &URI{ModulePath: "/a/b?c|d"}},
		{name: "encoded slash in the path", in: "pkcs11:token=a%2Fb", want: &URI{Token: "a/b"}},
		{name: "slot 0", in: "pkcs11:slot-id=0", want: &URI{SlotID: slotID(0)}},
		{name: "library version without minor", in: "pkcs11:library-version=3", want: &URI{LibraryVersion: "3"}},
		{
			name: "vendor attributes are kept in order",
			in:   "pkcs11:token=a;x-vendor=1;x-other=%20?x-q=2&x-q=3",
			want: &URI{Token: "a", VendorPath: []Attribute{{"x-vendor", "1"}, {"x-other", " "}}, VendorQuery: []Attribute{{"x-q", "2"}, {"x-q", "3"}}},
		},
		{name: "other scheme", in: "file:/etc/kcsr/ca.key", wantErr: `pkcs11 URI: it must start with "pkcs11:", e.g. pkcs11:token=kcsr;object=ca`},
		{name: "no scheme", in: "token=kcsr;object=ca", wantErr: `pkcs11 URI: it must start with "pkcs11:", e.g. pkcs11:token=kcsr;object=ca`},
		{name: "empty", in: "", wantErr: `pkcs11 URI: it must start with "pkcs11:", e.g. pkcs11:token=kcsr;object=ca`},
		{name: "fragment", in: "pkcs11:token=a#b", wantErr: `pkcs11 URI: token: character '#' must be percent-encoded as %23`},
		{name: "pin-value in the query", in: "pkcs11:token=a;object=ca?pin-value=123456", wantErr: ErrPINValue.Error()},
		{name: "pin-value in the path", in: "pkcs11:token=a;pin-value=123456;object=ca", wantErr: ErrPINValue.Error()},
		{name: "empty pin-value", in: "pkcs11:token=a?pin-value=", wantErr: ErrPINValue.Error()},
		{name: "pin-value without a value", in: "pkcs11:token=a?pin-value", wantErr: ErrPINValue.Error()},
		{
			name:    "pin-source in the path",
			in:      "pkcs11:token=kcsr;object=ca;pin-source=file:/etc/kcsr/pin",
			wantErr: "pkcs11 URI: pin-source is a query attribute: put it after a '?' (pkcs11:token=…;object=…?pin-source=…), not among the ';'-separated path attributes",
		},
		{
			name:    "token in the query",
			in:      "pkcs11:object=ca?token=kcsr",
			wantErr: "pkcs11 URI: token is a path attribute: put it before the '?' (pkcs11:token=…;…), not in the query",
		},
		{name: "attribute without a value", in: "pkcs11:token", wantErr: "pkcs11 URI: token has no value; write token=value"},
		{name: "empty value", in: "pkcs11:token=;object=ca", wantErr: "pkcs11 URI: token is empty; give it a value or leave it out"},
		{name: "empty name", in: "pkcs11:=a", wantErr: "pkcs11 URI: a path attribute name must be letters, digits, '-' and '_' (e.g. token=kcsr)"},
		{name: "bad name in the query", in: "pkcs11:?a b=c", wantErr: "pkcs11 URI: a query attribute name must be letters, digits, '-' and '_' (e.g. token=kcsr)"},
		{name: "duplicate path attribute", in: "pkcs11:token=a;token=b", wantErr: "pkcs11 URI: token appears twice; give each path attribute once"},
		{name: "duplicate query attribute", in: "pkcs11:?module-path=/a&module-path=/b", wantErr: "pkcs11 URI: module-path appears twice; give it once"},
		{name: "space", in: "pkcs11:token=My Token", wantErr: `pkcs11 URI: token: byte 0x20 must be percent-encoded as %20`},
		{name: "slash in the path", in: "pkcs11:object=a/b", wantErr: `pkcs11 URI: object: character '/' must be percent-encoded as %2F`},
		{name: "non-ASCII", in: "pkcs11:object=clé", wantErr: `pkcs11 URI: object: byte 0xC3 must be percent-encoded as %C3`},
		{name: "truncated escape", in: "pkcs11:id=%0", wantErr: `pkcs11 URI: id: '%' must start a percent-encoded byte (two hex digits, e.g. %01); write a literal '%' as %25`},
		{name: "bad escape", in: "pkcs11:id=%zz", wantErr: `pkcs11 URI: id: '%' must start a percent-encoded byte (two hex digits, e.g. %01); write a literal '%' as %25`},
		{name: "unknown type", in: "pkcs11:token=a;type=key", wantErr: `pkcs11 URI: type "key" is not an object type; use one of public, private, cert, secret-key, data`},
		{name: "slot-id not a number", in: "pkcs11:slot-id=x", wantErr: `pkcs11 URI: slot-id "x" is not a slot number; write a decimal number, e.g. slot-id=0`},
		{name: "negative slot-id", in: "pkcs11:slot-id=-1", wantErr: `pkcs11 URI: slot-id "-1" is not a slot number; write a decimal number, e.g. slot-id=0`},
		{name: "slot-id with a sign", in: "pkcs11:slot-id=+1", wantErr: `pkcs11 URI: slot-id "+1" is not a slot number; write a decimal number, e.g. slot-id=0`},
		{name: "slot-id too large", in: "pkcs11:slot-id=18446744073709551616", wantErr: `pkcs11 URI: slot-id "18446744073709551616" is not a slot number; write a decimal number, e.g. slot-id=0`},
		{name: "bad library version", in: "pkcs11:library-version=2.x", wantErr: `pkcs11 URI: library-version "2.x" is not a version; write M or M.N, e.g. library-version=2.6`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseURI(tt.in)
			if !testkit.ExpectError(t, err, tt.wantErr) {
				t.FailNow()
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseURI(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestParseURIRefusesPINValue(t *testing.T) {
	_, err := ParseURI("pkcs11:token=a;object=ca?pin-value=s3cr3t-PIN")
	if !errors.Is(err, ErrPINValue) {
		t.Fatalf("ParseURI() error = %v, want ErrPINValue", err)
	}
	if strings.Contains(err.Error(), "s3cr3t-PIN") {
		t.Errorf("the error repeats the PIN: %v", err)
	}
}

func TestURIString(t *testing.T) {
	tests := []struct {
		name string
		uri  URI
		want string
	}{
		{name: "empty", uri: URI{}, want: "pkcs11:"},
		{
			name: "kcsr's usual URI",
			uri:  URI{Token: "kcsr", Object: "ca", ID: []byte{1}, PINSource: "file:/etc/kcsr/hsm.pin", ModulePath: "/usr/lib/softhsm/libsofthsm2.so"},
			want: "pkcs11:token=kcsr;object=ca;id=%01?pin-source=file:/etc/kcsr/hsm.pin&module-path=/usr/lib/softhsm/libsofthsm2.so",
		},
		{
			name: "values that need encoding",
			uri:  URI{Token: "My Token/1", Object: "a;b?c", ID: []byte("AB"), PINSource: "file:/tmp/a&b #1"},
			want: "pkcs11:token=My%20Token%2F1;object=a%3Bb%3Fc;id=%41%42?pin-source=file:/tmp/a%26b%20%231",
		},
		{
			name: "attribute order",
			uri:  URI{SlotID: slotID(3), Type: "private", Serial: "s", VendorPath: []Attribute{{"x-a", "1"}}, ModuleName: "m", VendorQuery: []Attribute{{"x-b", "2"}}},
			want: "pkcs11:serial=s;type=private;slot-id=3;x-a=1?module-name=m&x-b=2",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.uri.String()
			if got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
			back, err := ParseURI(got)
			if err != nil {
				t.Fatalf("ParseURI(String()) error: %v", err)
			}
			if diff := cmp.Diff(&tt.uri, back); diff != "" {
				t.Errorf("ParseURI(String()) (-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzParseURI checks, on any input, that ParseURI does not panic, that what it accepts
// survives String and ParseURI again unchanged, and that its errors do not depend on the
// value of a pin-value (so they cannot leak it).
func FuzzParseURI(f *testing.F) {
	for _, s := range []string{
		"pkcs11:token=kcsr;object=ca;id=%01?pin-source=file:/etc/kcsr/hsm.pin",
		"pkcs11:slot-id=1;id=%00%ff?module-path=/usr/lib/softhsm/libsofthsm2.so&x-a=b",
		"pkcs11:",
		"pkcs11:;;?&&",
		"pkcs11:token=a?pin-value=1234",
		"pkcs11:token=a;pin-value=%zz",
		"pkcs11:object=%",
		"PKCS11:library-version=2.6;type=private;x-v=%20",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseURI(s)
		_, redactedErr := ParseURI(redactPINValues(s))
		if (err == nil) != (redactedErr == nil) || (err != nil && err.Error() != redactedErr.Error()) {
			t.Fatalf("the error depends on the pin-value: %v, with the PIN redacted: %v", err, redactedErr)
		}
		if err != nil {
			return
		}
		again, err := ParseURI(u.String())
		if err != nil {
			t.Fatalf("ParseURI(%q) failed on the String() of ParseURI(%q): %v", u.String(), s, err)
		}
		if diff := cmp.Diff(u, again); diff != "" {
			t.Fatalf("ParseURI(String()) differs for %q (-first +second):\n%s", s, diff)
		}
	})
}

// redactPINValues replaces the value of every pin-value attribute of s with "x".
func redactPINValues(s string) string {
	redact := func(part, sep string) string {
		segs := strings.Split(part, sep)
		for i, seg := range segs {
			if name, _, ok := strings.Cut(seg, "="); ok && name == "pin-value" {
				segs[i] = "pin-value=x"
			}
		}
		return strings.Join(segs, sep)
	}
	scheme, rest, ok := strings.Cut(s, ":")
	if !ok {
		return s
	}
	path, query, hasQuery := strings.Cut(rest, "?")
	out := scheme + ":" + redact(path, ";")
	if hasQuery {
		out += "?" + redact(query, "&")
	}
	return out
}

func TestReadPIN(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("pin", "1234\n", 0o600)
	crlf := write("crlf", "1234\r\n", 0o400)
	spaces := write("spaces", " 12 34 ", 0o600)
	loose := write("loose", "1234\n", 0o644)
	group := write("group", "1234\n", 0o640)
	empty := write("empty", "\n", 0o600)
	big := write("big", strings.Repeat("1", maxPINFile+1), 0o600)
	env := func(pin string) func(string) string {
		return func(k string) string {
			if k == PINEnv {
				return pin
			}
			return ""
		}
	}

	tests := []struct {
		name    string
		source  string
		env     string
		want    string
		wantErr string
	}{
		{name: "file: URI", source: "file:" + good, want: "1234"},
		{name: "file:/// URI", source: "file://" + good, want: "1234"},
		{name: "file://localhost/ URI", source: "file://localhost" + good, want: "1234"},
		{name: "bare absolute path", source: good, want: "1234"},
		{name: "CRLF and mode 0400", source: "file:" + crlf, want: "1234"},
		{name: "spaces are part of the PIN", source: "file:" + spaces, want: " 12 34 "},
		{name: "pin-source wins over the environment", source: "file:" + good, env: "9999", want: "1234"},
		{name: "environment", env: "5678", want: "5678"},
		{
			name:    "no PIN anywhere",
			wantErr: "pkcs11: no PIN: add ?pin-source=file:/path/to/pin to the URI (a file only kcsr can read, chmod 600), or set the KCSR_PKCS11_PIN environment variable",
		},
		{name: "readable by others", source: "file:" + loose, wantErr: "pkcs11: PIN file " + loose + " is readable by group or others (mode 0644); run: chmod 600 " + loose},
		{name: "readable by group", source: "file:" + group, wantErr: "pkcs11: PIN file " + group + " is readable by group or others (mode 0640); run: chmod 600 " + group},
		{name: "empty file", source: "file:" + empty, wantErr: "pkcs11: PIN file " + empty + " is empty; write the token's user PIN in it"},
		{name: "huge file", source: "file:" + big, wantErr: "pkcs11: PIN file " + big + " is larger than 4096 bytes; it must hold the PIN alone"},
		{name: "missing file", source: "file:" + dir + "/nope", wantErr: "pkcs11: read the PIN (pin-source): open " + dir + "/nope: no such file or directory"},
		{name: "directory", source: "file:" + dir, wantErr: "pkcs11: PIN file " + dir + " is not a regular file; point pin-source at a file holding the PIN"},
		{name: "relative file: path", source: "file:pin", wantErr: `pkcs11: pin-source "file:pin" is not an absolute path; write pin-source=file:/absolute/path`},
		{name: "relative bare path", source: "etc/pin", wantErr: `pkcs11: pin-source "etc/pin" is not an absolute path; write pin-source=file:/absolute/path`},
		{name: "remote file", source: "file://vault.example.com/pin", wantErr: `pkcs11: pin-source "file://vault.example.com/pin" names a file on host "vault.example.com"; use a local file, e.g. pin-source=file:/etc/kcsr/hsm.pin`},
		{name: "other scheme", source: "env:PIN", wantErr: `pkcs11: pin-source "env:PIN" is not a file; only files are supported, e.g. pin-source=file:/etc/kcsr/hsm.pin`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readPIN(&URI{PINSource: tt.source}, env(tt.env))
			if !testkit.ExpectError(t, err, tt.wantErr) {
				t.FailNow()
			}
			if got != tt.want {
				t.Errorf("readPIN() = %q, want %q", got, tt.want)
			}
		})
	}
}

package pkcs11

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// URI is a parsed RFC 7512 PKCS#11 URI. Values are percent-decoded; an attribute that is
// absent is empty (nil for ID and SlotID). A URI never holds a PIN: ParseURI refuses
// pin-value.
type URI struct {
	// Path attributes (RFC 7512 §2.3): which token, which object.
	Token               string  // token: the token label
	Manufacturer        string  // manufacturer: the token manufacturer
	Serial              string  // serial: the token serial number
	Model               string  // model: the token model
	LibraryManufacturer string  // library-manufacturer
	LibraryDescription  string  // library-description
	LibraryVersion      string  // library-version: "M" or "M.N"
	Object              string  // object: the object label (CKA_LABEL)
	Type                string  // type: public, private, cert, secret-key or data
	ID                  []byte  // id: the object id (CKA_ID), raw bytes
	SlotDescription     string  // slot-description
	SlotManufacturer    string  // slot-manufacturer
	SlotID              *uint64 // slot-id: the slot number (CK_SLOT_ID)

	// Query attributes: how to reach the token.
	PINSource  string // pin-source: where to read the PIN, e.g. file:/etc/kcsr/hsm.pin
	ModuleName string // module-name: the module's name without path or suffix
	ModulePath string // module-path: the module's absolute path

	// Vendor-specific attributes, in the order they appear.
	VendorPath, VendorQuery []Attribute
}

// Attribute is a vendor-specific URI attribute.
type Attribute struct{ Name, Value string }

// ErrPINValue is returned for a URI with a pin-value attribute.
var ErrPINValue = errors.New("pkcs11 URI: pin-value is refused: a PIN written in the URI ends up in configuration files, process listings and logs; " +
	"put the PIN in a file only kcsr can read (chmod 600) and add ?pin-source=file:/path/to/pin to the URI, or set the " + PINEnv + " environment variable")

// The attributes of RFC 7512, in the order String writes them.
var (
	pathAttrs  = []string{"token", "manufacturer", "serial", "model", "library-manufacturer", "library-description", "library-version", "object", "type", "id", "slot-description", "slot-manufacturer", "slot-id"}
	queryAttrs = []string{"pin-source", "pin-value", "module-name", "module-path"}
	objectType = []string{"public", "private", "cert", "secret-key", "data"}
)

// ParseURI parses a PKCS#11 URI (RFC 7512). It is strict where a mistake would select the
// wrong key or leak a secret, and its errors say what to write instead:
//   - the scheme is pkcs11 (in any case); there is no fragment ('#' must be encoded);
//   - path attributes are separated by ";", query attributes by "&"; empty segments are
//     ignored; every attribute is name=value with a non-empty value;
//   - a standard attribute appears at most once and on its own side of the "?"
//     (pin-source=… in the path is refused, with the corrected form in the error);
//   - characters outside the RFC's unreserved and allowed sets (a space, "/" in the path,
//     "%" not followed by two hex digits, any non-ASCII byte) must be percent-encoded;
//   - type is one of public, private, cert, secret-key, data; slot-id is a decimal
//     number; library-version is M or M.N;
//   - pin-value is refused (ErrPINValue). Errors never repeat the URI, so never a PIN.
//
// Unknown attribute names are kept as vendor attributes.
func ParseURI(s string) (*URI, error) {
	scheme, rest, ok := strings.Cut(s, ":")
	if !ok || !strings.EqualFold(scheme, "pkcs11") {
		return nil, errors.New(`pkcs11 URI: it must start with "pkcs11:", e.g. pkcs11:token=kcsr;object=ca`)
	}
	path, query, _ := strings.Cut(rest, "?")
	u := &URI{}
	seen := map[string]bool{}
	for _, seg := range strings.Split(path, ";") {
		if seg == "" {
			continue
		}
		name, raw, err := splitAttr(seg, "path")
		if name == "pin-value" {
			return nil, ErrPINValue
		}
		if err != nil {
			return nil, err
		}
		if slices.Contains(queryAttrs, name) {
			return nil, fmt.Errorf("pkcs11 URI: %s is a query attribute: put it after a '?' (pkcs11:token=…;object=…?%s=…), not among the ';'-separated path attributes", name, name)
		}
		value, err := decode(name, raw, pathChar)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(pathAttrs, name) {
			u.VendorPath = append(u.VendorPath, Attribute{Name: name, Value: value})
			continue
		}
		if seen[name] {
			return nil, fmt.Errorf("pkcs11 URI: %s appears twice; give each path attribute once", name)
		}
		seen[name] = true
		if err := u.setPath(name, value); err != nil {
			return nil, err
		}
	}
	for _, seg := range strings.Split(query, "&") {
		if seg == "" {
			continue
		}
		name, raw, err := splitAttr(seg, "query")
		if name == "pin-value" {
			return nil, ErrPINValue
		}
		if err != nil {
			return nil, err
		}
		if slices.Contains(pathAttrs, name) {
			return nil, fmt.Errorf("pkcs11 URI: %s is a path attribute: put it before the '?' (pkcs11:%s=…;…), not in the query", name, name)
		}
		value, err := decode(name, raw, queryChar)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(queryAttrs, name) {
			u.VendorQuery = append(u.VendorQuery, Attribute{Name: name, Value: value})
			continue
		}
		if seen[name] {
			return nil, fmt.Errorf("pkcs11 URI: %s appears twice; give it once", name)
		}
		seen[name] = true
		switch name {
		case "pin-source":
			u.PINSource = value
		case "module-name":
			u.ModuleName = value
		case "module-path":
			u.ModulePath = value
		}
	}
	return u, nil
}

func (u *URI) setPath(name, value string) error {
	switch name {
	case "token":
		u.Token = value
	case "manufacturer":
		u.Manufacturer = value
	case "serial":
		u.Serial = value
	case "model":
		u.Model = value
	case "library-manufacturer":
		u.LibraryManufacturer = value
	case "library-description":
		u.LibraryDescription = value
	case "library-version":
		major, minor, hasMinor := strings.Cut(value, ".")
		if !isDigits(major) || (hasMinor && !isDigits(minor)) {
			return fmt.Errorf("pkcs11 URI: library-version %q is not a version; write M or M.N, e.g. library-version=2.6", value)
		}
		u.LibraryVersion = value
	case "object":
		u.Object = value
	case "type":
		if !slices.Contains(objectType, value) {
			return fmt.Errorf("pkcs11 URI: type %q is not an object type; use one of %s", value, strings.Join(objectType, ", "))
		}
		u.Type = value
	case "id":
		u.ID = []byte(value)
	case "slot-description":
		u.SlotDescription = value
	case "slot-manufacturer":
		u.SlotManufacturer = value
	case "slot-id":
		n, err := strconv.ParseUint(value, 10, 64)
		if err != nil || !isDigits(value) {
			return fmt.Errorf("pkcs11 URI: slot-id %q is not a slot number; write a decimal number, e.g. slot-id=0", value)
		}
		u.SlotID = &n
	}
	return nil
}

// String returns the URI in canonical form: attributes in RFC 7512 order, vendor attributes
// after them, id fully percent-encoded, other values percent-encoded where they must be.
func (u *URI) String() string {
	var path []string
	add := func(name, value string) {
		if value != "" {
			path = append(path, name+"="+encode(value, pathChar))
		}
	}
	add("token", u.Token)
	add("manufacturer", u.Manufacturer)
	add("serial", u.Serial)
	add("model", u.Model)
	add("library-manufacturer", u.LibraryManufacturer)
	add("library-description", u.LibraryDescription)
	add("library-version", u.LibraryVersion)
	add("object", u.Object)
	add("type", u.Type)
	if len(u.ID) > 0 {
		path = append(path, "id="+encodeAll(u.ID))
	}
	add("slot-description", u.SlotDescription)
	add("slot-manufacturer", u.SlotManufacturer)
	if u.SlotID != nil {
		path = append(path, "slot-id="+strconv.FormatUint(*u.SlotID, 10))
	}
	for _, a := range u.VendorPath {
		add(a.Name, a.Value)
	}
	var query []string
	addQ := func(name, value string) {
		if value != "" {
			query = append(query, name+"="+encode(value, queryChar))
		}
	}
	addQ("pin-source", u.PINSource)
	addQ("module-name", u.ModuleName)
	addQ("module-path", u.ModulePath)
	for _, a := range u.VendorQuery {
		addQ(a.Name, a.Value)
	}
	s := "pkcs11:" + strings.Join(path, ";")
	if len(query) > 0 {
		s += "?" + strings.Join(query, "&")
	}
	return s
}

// splitAttr splits name=value and checks both are there. It returns the name, when valid,
// even with an error, so that pin-value is refused whatever follows it.
func splitAttr(seg, part string) (name, value string, err error) {
	name, value, ok := strings.Cut(seg, "=")
	if !isAttrName(name) {
		return "", "", fmt.Errorf("pkcs11 URI: a %s attribute name must be letters, digits, '-' and '_' (e.g. token=kcsr)", part)
	}
	if !ok {
		return name, "", fmt.Errorf("pkcs11 URI: %s has no value; write %s=value", name, name)
	}
	if value == "" {
		return name, "", fmt.Errorf("pkcs11 URI: %s is empty; give it a value or leave it out", name)
	}
	return name, value, nil
}

// decode percent-decodes the value of attribute name, refusing characters that must be
// encoded.
func decode(name, s string, allowed func(byte) bool) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return "", fmt.Errorf("pkcs11 URI: %s: '%%' must start a percent-encoded byte (two hex digits, e.g. %%01); write a literal '%%' as %%25", name)
			}
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
		case allowed(c):
			b.WriteByte(c)
		case c < 0x21 || c > 0x7e:
			return "", fmt.Errorf("pkcs11 URI: %s: byte 0x%02X must be percent-encoded as %%%02X", name, c, c)
		default:
			return "", fmt.Errorf("pkcs11 URI: %s: character %q must be percent-encoded as %%%02X", name, c, c)
		}
	}
	return b.String(), nil
}

func encode(s string, allowed func(byte) bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; allowed(c) {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func encodeAll(v []byte) string {
	var b strings.Builder
	for _, c := range v {
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// unreserved is RFC 3986's unreserved set.
func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

// resAvail is RFC 7512's pk11-res-avail.
func resAvail(c byte) bool { return strings.IndexByte(":[]@!$'()*+,=", c) >= 0 }

// pathChar is what may appear unencoded in a path value (pk11-pchar).
func pathChar(c byte) bool { return unreserved(c) || resAvail(c) || c == '&' }

// queryChar is what may appear unencoded in a query value (pk11-qchar).
func queryChar(c byte) bool { return unreserved(c) || resAvail(c) || c == '/' || c == '?' || c == '|' }

func isAttrName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	default:
		return c - 'a' + 10
	}
}

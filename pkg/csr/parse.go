package csr

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// RequestBlockType is the PEM block type of a PKCS#10 certificate signing request.
const RequestBlockType = "CERTIFICATE REQUEST"

// ErrNotCertificateRequest is returned by ParseRequest when the first PEM block of its input
// is missing or is not a CERTIFICATE REQUEST block. Its text is the one kube-apiserver
// reports for spec.request.
var ErrNotCertificateRequest = errors.New("PEM block type must be " + RequestBlockType)

// An EncodingError is why ParseStrictRequest refused its input before reading the request
// in it: the input is not exactly one CERTIFICATE REQUEST PEM block. Its text describes the
// input's shape and never quotes any of it, so it may be shown and logged.
type EncodingError struct {
	// PrivateKey is set when the input holds a private key in any shape HoldsPrivateKey
	// recognizes: whoever sent it must be told that the key is exposed.
	PrivateKey bool
	found      string
}

func (e *EncodingError) Error() string {
	return "must be exactly one PEM block of type " + RequestBlockType + ": found " + e.found
}

// A SignatureError is a request's failed self-signature check (the requester's proof that it
// holds the private key). Its text is crypto/x509's, unchanged, as kube-apiserver shows it.
// A request refused for its signature is well formed: it holds a public key, no secret.
type SignatureError struct{ Err error }

func (e *SignatureError) Error() string { return e.Err.Error() }
func (e *SignatureError) Unwrap() error { return e.Err }

// ParseRequest decodes a PEM-encoded PKCS#10 request and checks its self-signature (the
// requester's proof that it holds the private key). It is the reader of stored requests,
// with Kubernetes' semantics; a request about to be stored goes through ParseStrictRequest.
//
// As in Kubernetes, only the first well-formed PEM block counts, and it must be a CERTIFICATE
// REQUEST block: text before it is skipped and anything after it is ignored. Errors from
// x509.ParseCertificateRequest are returned unchanged and CheckSignature's are wrapped in a
// *SignatureError with the same text, because their text is what kube-apiserver shows to
// clients.
func ParseRequest(pemBytes []byte) (*x509.CertificateRequest, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil || block.Type != RequestBlockType {
		return nil, ErrNotCertificateRequest
	}
	return parseDER(block.Bytes)
}

// DecodeRequest is ParseRequest without the signature check, for a stored request: it was
// verified when it was created and spec.request is immutable, so the updates of a CSR,
// the approver and the signer read it without verifying it again.
func DecodeRequest(pemBytes []byte) (*x509.CertificateRequest, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil || block.Type != RequestBlockType {
		return nil, ErrNotCertificateRequest
	}
	return x509.ParseCertificateRequest(block.Bytes)
}

// ParseStrictRequest is ParseRequest for a request about to be stored, in spec.request,
// where every reader of CSRs can see it: data must be exactly one CERTIFICATE REQUEST PEM
// block without headers, with nothing but whitespace around it. Anything else, a private
// key after the request above all, is refused with an *EncodingError (its PrivateKey set
// when data holds a key), whose text never quotes data. Within that one block, errors are
// ParseRequest's.
func ParseStrictRequest(data []byte) (*x509.CertificateRequest, error) {
	der, err := singleRequestBlock(data)
	if err != nil {
		if HoldsPrivateKey(data) {
			return nil, &EncodingError{PrivateKey: true, found: "a private key"}
		}
		return nil, err
	}
	req, err := parseDER(der)
	if err != nil && isPrivateKeyDER(der) {
		// A key relabelled as a request.
		return nil, &EncodingError{PrivateKey: true, found: "a private key"}
	}
	return req, err
}

func parseDER(der []byte) (*x509.CertificateRequest, error) {
	req, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, err
	}
	if err := req.CheckSignature(); err != nil {
		return nil, &SignatureError{Err: err}
	}
	return req, nil
}

var pemBegin = []byte("-----BEGIN ")

// pemSpace is the whitespace allowed around the block.
const pemSpace = " \t\r\n"

// singleRequestBlock returns the DER of data's one CERTIFICATE REQUEST PEM block, or an
// *EncodingError that says what data holds instead. It accepts nothing that ParseRequest
// would read differently, or not at all: the BEGIN line must start a line.
func singleRequestBlock(data []byte) ([]byte, error) {
	body := bytes.TrimRight(data, pemSpace)
	leading := len(body)
	body = bytes.TrimLeft(body, pemSpace)
	leading -= len(body)
	block, rest := pem.Decode(body)
	switch {
	case len(body) == 0:
		return nil, &EncodingError{found: "nothing"}
	case block == nil && bytes.Contains(body, pemBegin):
		return nil, &EncodingError{found: "a PEM block that does not decode (a missing or misspelt END line, or a broken base64 body)"}
	case block == nil && isRequestDER(data):
		return nil, &EncodingError{found: "a DER (binary) request; convert it to PEM (openssl req -inform DER -in user.der -out user.csr)"}
	case block == nil:
		return nil, &EncodingError{found: "no PEM block"}
	case !bytes.HasPrefix(body, pemBegin):
		return nil, &EncodingError{found: "text before the PEM block"}
	case leading > 0 && data[leading-1] != '\n':
		return nil, &EncodingError{found: "spaces before the BEGIN line; it must start a line"}
	case bytes.Count(body, pemBegin) > 1:
		return nil, &EncodingError{found: "more than one PEM block"}
	case block.Type != RequestBlockType:
		return nil, &EncodingError{found: "a PEM block of type " + blockTypeName(block.Type)}
	case len(block.Headers) != 0:
		return nil, &EncodingError{found: "PEM headers in the block"}
	case len(rest) != 0:
		return nil, &EncodingError{found: "text after the PEM block"}
	}
	return block.Bytes, nil
}

// blockTypeName quotes a PEM block type when it looks like one (capitals, digits and
// spaces); anything else could be content pasted into a BEGIN line, and is not repeated.
func blockTypeName(t string) string {
	if len(t) == 0 || len(t) > 40 || strings.TrimLeft(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ") != "" {
		return "another type"
	}
	return fmt.Sprintf("%q", t)
}

func isRequestDER(der []byte) bool {
	_, err := x509.ParseCertificateRequest(der)
	return err == nil
}

// HoldsPrivateKey reports whether data holds a private key in any shape found in practice:
// a PEM block of any "… PRIVATE KEY" type (OpenSSL, OpenSSH, PGP), also indented, without
// its END line or after other blocks; a PKCS#1, PKCS#8 or SEC 1 key in DER, as the whole
// of data, inside a PEM block of another type, or before or after the PEM blocks; and such
// DER as base64 text. It is the classic mistake of sending the key instead of, or with,
// the request.
func HoldsPrivateKey(data []byte) bool {
	if bytes.Contains(data, []byte("PRIVATE KEY")) {
		return true
	}
	pieces := [][]byte{data}
	if i := bytes.Index(data, pemBegin); i > 0 {
		pieces = append(pieces, data[:i])
	}
	for rest := data; ; {
		block, next := pem.Decode(rest)
		if block == nil {
			if len(rest) < len(data) {
				pieces = append(pieces, rest)
			}
			break
		}
		pieces = append(pieces, block.Bytes)
		rest = next
	}
	for _, p := range pieces {
		if isPrivateKeyDER(p) || isPrivateKeyDER(bytes.TrimSpace(p)) {
			return true
		}
		// The key's base64 text (a PEM body without its BEGIN and END lines).
		if der, err := base64.StdEncoding.DecodeString(string(bytes.Join(bytes.Fields(p), nil))); err == nil && isPrivateKeyDER(der) {
			return true
		}
	}
	return false
}

// isPrivateKeyDER reports whether der is a PKCS#8, PKCS#1 (RSA) or SEC 1 (EC) private key.
func isPrivateKeyDER(der []byte) bool {
	if len(der) == 0 {
		return false
	}
	if _, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		return true
	}
	if _, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return true
	}
	_, err := x509.ParseECPrivateKey(der)
	return err == nil
}

package doctor

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"kcsr.dev/kcsr/pkg/cli"
	"kcsr.dev/kcsr/pkg/csr"
)

const requestField = "spec.request"

// Fixes shared by several findings. user.csr and user.key are the seed's file names.
const fixEncodeOneLine = "encode with base64 -w0 user.csr (macOS: base64 < user.csr | tr -d '\\n') and paste it on one line"

// fixMakeRequest names the CLI as the user runs it (cli.Self).
func fixMakeRequest() string {
	return "make the request with openssl req -new -key user.key -out user.csr (or let " + cli.Self + " request do every step)"
}

// CheckRequestText checks spec.request as a manifest spells it, before any decoding: raw
// is the value YAML gave (nil when the field is missing). It returns the bytes Kubernetes
// would decode (nil when there are none), looking past line breaks so that the next checks
// can still name what else is wrong.
func CheckRequestText(raw any) ([]byte, []Finding) {
	if raw == nil {
		return nil, []Finding{problem(requestField, "is missing", "put the base64 of the PEM request in it: "+fixEncodeOneLine)}
	}
	s, isString := raw.(string)
	if !isString {
		return nil, []Finding{problem(requestField, fmt.Sprintf("is a %s, not a string", yamlType(raw)), fixEncodeOneLine)}
	}
	if strings.TrimSpace(s) == "" {
		return nil, []Finding{problem(requestField, "is empty", "put the base64 of the PEM request in it: "+fixEncodeOneLine)}
	}
	if strings.HasPrefix(strings.TrimSpace(s), "-----BEGIN") {
		return []byte(s), []Finding{problem(requestField,
			"holds PEM text, not its base64: Kubernetes decodes this field as base64 and refuses it",
			fixEncodeOneLine)}
	}

	var findings []Finding
	trimmed := strings.TrimRight(s, "\r\n")
	switch {
	case strings.ContainsAny(trimmed, " \t"):
		// A plain scalar pasted over several lines: YAML folded each line break into a
		// space, which base64 cannot decode.
		findings = append(findings, problem(requestField,
			fmt.Sprintf("the base64 contains line breaks%s, which YAML folded into spaces, so Kubernetes cannot decode it (illegal base64 data at input byte %d)",
				wrapWidth(trimmed), strings.IndexAny(trimmed, " \t")),
			fixEncodeOneLine))
	case strings.ContainsAny(trimmed, "\r\n"):
		findings = append(findings, warning(requestField,
			fmt.Sprintf("the base64 contains line breaks%s; Kubernetes accepts them in a block scalar (request: |), but the same text pasted as a plain value is refused", wrapWidth(trimmed)),
			fixEncodeOneLine))
	}

	compact := strings.Map(func(r rune) rune {
		if strings.ContainsRune(" \t\r\n", r) {
			return -1
		}
		return r
	}, s)
	data, err := base64.StdEncoding.DecodeString(compact)
	if err != nil {
		cause := fmt.Sprintf("is not valid base64 (%v)", err)
		switch {
		case strings.ContainsAny(compact, "-_"):
			cause += `: it uses the URL-safe alphabet ("-" and "_"), Kubernetes wants standard base64`
		case len(compact)%4 != 0:
			cause += ": it is cut short or lost its trailing \"=\" padding"
		}
		return nil, append(findings, problem(requestField, cause, fixEncodeOneLine))
	}
	return data, findings
}

// wrapWidth describes how s was wrapped: " (wrapped at 76 columns)" when every line but
// the last has the same length, "" otherwise.
func wrapWidth(s string) string {
	lines := strings.Fields(s)
	if len(lines) < 2 {
		return ""
	}
	w := len(lines[0])
	for _, l := range lines[1 : len(lines)-1] {
		if len(l) != w {
			return ""
		}
	}
	if len(lines[len(lines)-1]) > w {
		return ""
	}
	return fmt.Sprintf(" (wrapped at %d columns)", w)
}

func yamlType(v any) string {
	switch v.(type) {
	case map[string]any:
		return "mapping"
	case []any:
		return "list"
	case bool:
		return "boolean"
	case float64, int, int64:
		return "number"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// CheckRequestPEM checks the decoded spec.request: one PEM CERTIFICATE REQUEST block
// holding a PKCS#10 request whose signature verifies. It returns the request whenever it
// can be parsed, even with a finding, so that the signer's rules can be checked too.
func CheckRequestPEM(data []byte) (*x509.CertificateRequest, []Finding) {
	var findings []Finding
	if csr.HoldsPrivateKey(data) {
		findings = append(findings, problem(requestField,
			"holds a private key",
			"never send your private key: it must stay on your machine; send the request made from it ("+
				"openssl req -new -key user.key -out user.csr, then base64 -w0 user.csr), and if this manifest was shared or applied, make a new key"))
	}

	block, _ := pem.Decode(data)
	if block == nil {
		return nil, append(findings, notPEM(data))
	}
	switch {
	case block.Type == csr.RequestBlockType:
	case block.Type == "NEW "+csr.RequestBlockType:
		findings = append(findings, problem(requestField,
			`the PEM header is "BEGIN NEW CERTIFICATE REQUEST" (the old openssl -newhdr style); Kubernetes accepts only "BEGIN CERTIFICATE REQUEST"`,
			`remove "NEW " from the BEGIN and END lines (sed -i 's/NEW CERTIFICATE REQUEST/CERTIFICATE REQUEST/' user.csr), then base64 -w0 user.csr`))
	case strings.HasSuffix(block.Type, "PRIVATE KEY"):
		// Named above; a request after the key is never read.
		return nil, findings
	case block.Type == "CERTIFICATE":
		return nil, append(findings, problem(requestField,
			"holds a certificate, not a certificate request: Kubernetes issues the certificate, you send the request",
			fixMakeRequest()+"; to renew a certificate you hold, openssl x509 -x509toreq -in user.crt -signkey user.key -out user.csr"))
	case block.Type == "PUBLIC KEY":
		return nil, append(findings, problem(requestField,
			"holds a public key, not a certificate request: the request carries the public key and your name, signed with the private key",
			fixMakeRequest()))
	default:
		return nil, append(findings, problem(requestField,
			fmt.Sprintf(`the PEM block is a %q; Kubernetes wants a "CERTIFICATE REQUEST"`, block.Type),
			fixMakeRequest()))
	}

	var encodingErr *csr.EncodingError
	if _, err := csr.ParseStrictRequest(data); block.Type == csr.RequestBlockType && errors.As(err, &encodingErr) && !encodingErr.PrivateKey {
		findings = append(findings, problem(requestField,
			err.Error()+" (kcsr refuses it; Kubernetes reads the first block only and stores the rest where every reader of CSRs sees it)",
			"send only the request: base64 -w0 user.csr"))
	}

	req, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, append(findings, problem(requestField,
			fmt.Sprintf("is not a valid PKCS#10 certificate request (%v)", err), fixMakeRequest()))
	}
	if err := req.CheckSignature(); err != nil {
		return req, append(findings, problem(requestField,
			fmt.Sprintf("the request's signature does not verify (%v): it was changed after it was signed, or signed with another key", err),
			"make it again from your key: "+fixMakeRequest()))
	}
	if len(findings) == 0 {
		findings = append(findings, ok(requestField, fmt.Sprintf("a certificate request for %s with an %s key, signed with %s; the signature verifies",
			subjectString(req), csr.KeyAlgorithm(req.PublicKey), req.SignatureAlgorithm)))
	}
	return req, findings
}

// notPEM names what data is when it is not PEM at all.
func notPEM(data []byte) Finding {
	if _, err := x509.ParseCertificateRequest(data); err == nil {
		return problem(requestField, "holds a DER (binary) request, not PEM",
			"convert it with openssl req -inform DER -in user.csr -out user.pem, then base64 -w0 user.pem")
	}
	if again, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(data))); err == nil && bytes.HasPrefix(bytes.TrimSpace(again), []byte("-----BEGIN")) {
		return problem(requestField, "is base64-encoded twice", "encode the PEM file once: base64 -w0 user.csr")
	}
	return problem(requestField, "does not hold a PEM certificate request", fixMakeRequest()+", then "+strings.TrimPrefix(fixEncodeOneLine, "encode with "))
}

// subjectString is "CN=rahul, O=developers" with "no CN" spelled out.
func subjectString(req *x509.CertificateRequest) string {
	s := "CN=" + req.Subject.CommonName
	if req.Subject.CommonName == "" {
		s = "an empty CN"
	}
	for _, o := range req.Subject.Organization {
		s += ", O=" + o
	}
	return s
}

package csr

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
)

// RequestBlockType is the PEM block type of a PKCS#10 certificate signing request.
const RequestBlockType = "CERTIFICATE REQUEST"

// ErrNotCertificateRequest is returned by ParseRequest when the first PEM block of its input
// is missing or is not a CERTIFICATE REQUEST block. Its text is the one kube-apiserver
// reports for spec.request.
var ErrNotCertificateRequest = errors.New("PEM block type must be " + RequestBlockType)

// ParseRequest decodes a PEM-encoded PKCS#10 request and checks its self-signature (the
// requester's proof that it holds the private key).
//
// As in Kubernetes, only the first well-formed PEM block counts, and it must be a CERTIFICATE
// REQUEST block: text before it is skipped and anything after it is ignored. Errors from
// x509.ParseCertificateRequest and CheckSignature are returned unchanged, because their text
// is what kube-apiserver shows to clients.
func ParseRequest(pemBytes []byte) (*x509.CertificateRequest, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil || block.Type != RequestBlockType {
		return nil, ErrNotCertificateRequest
	}
	req, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, err
	}
	if err := req.CheckSignature(); err != nil {
		return nil, err
	}
	return req, nil
}

// HoldsPrivateKey reports whether any PEM block of data is a private key (PKCS#1, PKCS#8,
// SEC 1 or encrypted), the classic mistake of sending the key instead of the request.
func HoldsPrivateKey(data []byte) bool {
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return false
		}
		if strings.HasSuffix(block.Type, "PRIVATE KEY") {
			return true
		}
	}
}

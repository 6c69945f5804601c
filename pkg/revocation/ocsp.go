package revocation

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"

	"golang.org/x/crypto/ocsp"
)

// Request is an OCSP request (RFC 6960 §4.1) about one certificate: its CertID, and the
// nonce to repeat in the response.
type Request struct {
	// HashAlgorithm hashed IssuerNameHash and IssuerKeyHash: SHA-1, SHA-256, SHA-384 or
	// SHA-512.
	HashAlgorithm  crypto.Hash
	IssuerNameHash []byte
	IssuerKeyHash  []byte
	SerialNumber   *big.Int
	// Nonce is the value of the request's nonce extension (RFC 8954) as sent, nil when it
	// has none.
	Nonce []byte

	// hashAlgorithm is the AlgorithmIdentifier as the request wrote it (with NULL
	// parameters or none), repeated in the response's CertID: clients compare the two.
	hashAlgorithm *pkix.AlgorithmIdentifier
}

// Status is what the caller knows about a serial number.
type Status struct {
	// Known is false when the CA never issued a certificate with this serial: the
	// response says "unknown", whatever Revoked says.
	Known bool
	// Revoked says the certificate is revoked, as Entry tells; otherwise it is good.
	Revoked bool
	Entry   Entry
}

// Limits of ParseRequest.
const (
	// MaxRequestSize bounds the DER of a request; one CertID with a nonce is under 200
	// bytes.
	MaxRequestSize = 4096
	// maxNonceSize bounds the nonce extension's value (RFC 8954 §2.1 lets responders
	// refuse nonces over 128 octets), with its OCTET STRING header.
	maxNonceSize = 128 + 3
)

// ErrMalformed is wrapped by the errors of ParseRequest: the request gets the
// malformedRequest response.
var ErrMalformed = errors.New("malformed OCSP request")

// ASN.1 of requests and responses (RFC 6960 §4.1.1, §4.2.1).

type ocspRequest struct {
	TBSRequest tbsRequest
	// A signature is allowed and ignored: this responder answers anyone.
	OptionalSignature asn1.RawValue `asn1:"explicit,tag:0,optional"`
}

type tbsRequest struct {
	Version           int           `asn1:"explicit,tag:0,default:0,optional"`
	RequestorName     asn1.RawValue `asn1:"explicit,tag:1,optional"`
	RequestList       []singleRequest
	RequestExtensions []pkix.Extension `asn1:"explicit,tag:2,optional"`
}

type singleRequest struct {
	Cert       certID
	Extensions []pkix.Extension `asn1:"explicit,tag:0,optional"`
}

type certID struct {
	HashAlgorithm  pkix.AlgorithmIdentifier
	IssuerNameHash []byte
	IssuerKeyHash  []byte
	SerialNumber   *big.Int
}

type ocspResponse struct {
	Status   asn1.Enumerated
	Response responseBytes `asn1:"explicit,tag:0,optional"`
}

type responseBytes struct {
	ResponseType asn1.ObjectIdentifier
	Response     []byte
}

type basicResponse struct {
	TBSResponseData    asn1.RawValue
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          asn1.BitString
	Certificates       []asn1.RawValue `asn1:"explicit,tag:0,optional"`
}

type responseData struct {
	// Version is v1, the DEFAULT, so never written.
	ResponderID        asn1.RawValue
	ProducedAt         time.Time `asn1:"generalized"`
	Responses          []singleResponse
	ResponseExtensions []pkix.Extension `asn1:"explicit,tag:1,optional"`
}

// singleResponse's certStatus is a CHOICE: exactly one of Good, Revoked, Unknown is set,
// the others are left out as zero optional values.
type singleResponse struct {
	CertID     certID
	Good       asn1.Flag   `asn1:"tag:0,optional"`
	Revoked    revokedInfo `asn1:"tag:1,optional"`
	Unknown    asn1.Flag   `asn1:"tag:2,optional"`
	ThisUpdate time.Time   `asn1:"generalized"`
	NextUpdate time.Time   `asn1:"generalized,explicit,tag:0,optional"`
}

type revokedInfo struct {
	RevocationTime time.Time       `asn1:"generalized"`
	Reason         asn1.Enumerated `asn1:"explicit,tag:0,optional"`
}

var (
	oidOCSPBasic = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 1}
	oidOCSPNonce = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 2}

	hashOIDs = map[crypto.Hash]asn1.ObjectIdentifier{
		crypto.SHA1:   {1, 3, 14, 3, 2, 26},
		crypto.SHA256: {2, 16, 840, 1, 101, 3, 4, 2, 1},
		crypto.SHA384: {2, 16, 840, 1, 101, 3, 4, 2, 2},
		crypto.SHA512: {2, 16, 840, 1, 101, 3, 4, 2, 3},
	}

	oidSHA256WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidECDSAWithSHA256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECDSAWithSHA384 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	oidECDSAWithSHA512 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}
	oidEd25519         = asn1.ObjectIdentifier{1, 3, 101, 112}
)

// ParseRequest parses a DER OCSP request. It answers requests about one certificate, as
// RFC 5019 clients (openssl, browsers, Go) send them; a request listing several is
// refused. A request signature is ignored: the responder answers anyone. Every error wraps
// ErrMalformed.
func ParseRequest(der []byte) (*Request, error) {
	if len(der) > MaxRequestSize {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrMalformed, len(der), MaxRequestSize)
	}
	var req ocspRequest
	rest, err := asn1.Unmarshal(der, &req)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(rest) > 0 {
		return nil, fmt.Errorf("%w: %d bytes after the request", ErrMalformed, len(rest))
	}
	tbs := req.TBSRequest
	if tbs.Version != 0 {
		return nil, fmt.Errorf("%w: version %d; only v1 (0) exists", ErrMalformed, tbs.Version)
	}
	if n := len(tbs.RequestList); n != 1 {
		return nil, fmt.Errorf("%w: it asks about %d certificates; ask about one per request", ErrMalformed, n)
	}
	id := tbs.RequestList[0].Cert
	var hash crypto.Hash
	for h, oid := range hashOIDs {
		if id.HashAlgorithm.Algorithm.Equal(oid) {
			hash = h
		}
	}
	if hash == 0 {
		return nil, fmt.Errorf("%w: CertID hash algorithm %s; use SHA-1, SHA-256, SHA-384 or SHA-512", ErrMalformed, id.HashAlgorithm.Algorithm)
	}
	if id.SerialNumber == nil {
		return nil, fmt.Errorf("%w: no serial number", ErrMalformed)
	}
	out := &Request{
		HashAlgorithm:  hash,
		IssuerNameHash: id.IssuerNameHash,
		IssuerKeyHash:  id.IssuerKeyHash,
		SerialNumber:   id.SerialNumber,
		hashAlgorithm:  &id.HashAlgorithm,
	}
	for _, ext := range tbs.RequestExtensions {
		if !ext.Id.Equal(oidOCSPNonce) {
			continue
		}
		if len(ext.Value) == 0 || len(ext.Value) > maxNonceSize {
			return nil, fmt.Errorf("%w: a nonce extension of %d bytes; send a nonce of 1 to 128 bytes (RFC 8954)", ErrMalformed, len(ext.Value))
		}
		out.Nonce = ext.Value
	}
	return out, nil
}

// OCSPResponse returns the signed OCSP response (DER) that tells status of the
// certificate req asks about: good, revoked (with the revocation time and reason) or,
// when status is not Known, unknown. It is signed by the delegated responder when one is
// set, otherwise by the CA, and says producedAt and thisUpdate now, nextUpdate
// now+OCSPValidity; a nonce in req is repeated.
//
// A request whose issuer name and key hashes are not this CA's gets the unsigned
// unauthorized response (RFC 5019 §2.2.3): this responder knows nothing of another CA's
// certificates.
func (a *Authority) OCSPResponse(ctx context.Context, req *Request, status Status, now time.Time) ([]byte, error) {
	der, _, err := a.respond(ctx, req, func() Status { return status }, now)
	return der, err
}

// respond is OCSPResponse, asking lookup for the status only once the request is known to
// be about this CA, and telling what the response says: good, revoked or unknown (signed)
// or unauthorized (not signed).
func (a *Authority) respond(ctx context.Context, req *Request, lookup func() Status, now time.Time) (der []byte, result OCSPResult, err error) {
	if err := a.checkValidities(); err != nil {
		return nil, "", err
	}
	if err := a.checkResponderKey(); err != nil {
		return nil, "", err
	}
	if req == nil || req.SerialNumber == nil {
		return nil, "", errors.New("the OCSP request has no serial number")
	}
	issuer, signer, err := a.caKey(ctx)
	if err != nil {
		return nil, "", err
	}
	nameHash, keyHash, err := issuerHashes(issuer, req.HashAlgorithm)
	if err != nil {
		return nil, "", err
	}
	if !bytes.Equal(nameHash, req.IssuerNameHash) || !bytes.Equal(keyHash, req.IssuerKeyHash) {
		return ocsp.UnauthorizedErrorResponse, OCSPUnauthorized, nil
	}

	status := lookup()
	hashAlg := pkix.AlgorithmIdentifier{Algorithm: hashOIDs[req.HashAlgorithm], Parameters: asn1.NullRawValue}
	if req.hashAlgorithm != nil && req.hashAlgorithm.Algorithm.Equal(hashAlg.Algorithm) {
		hashAlg = *req.hashAlgorithm
	}
	now = now.UTC().Truncate(time.Second)
	single := singleResponse{
		CertID: certID{
			HashAlgorithm:  hashAlg,
			IssuerNameHash: nameHash,
			IssuerKeyHash:  keyHash,
			SerialNumber:   req.SerialNumber,
		},
		ThisUpdate: now,
		NextUpdate: now.Add(a.ocspValidity()),
	}
	switch {
	case !status.Known:
		single.Unknown, result = true, OCSPUnknown
	case status.Revoked:
		e := status.Entry
		if e.RevokedAt.IsZero() {
			return nil, "", fmt.Errorf("the revocation of serial %s has no time; give Status.Entry.RevokedAt", req.SerialNumber.Text(16))
		}
		if !e.Reason.valid() {
			return nil, "", fmt.Errorf("the revocation of serial %s: %w %s; use one of %s", req.SerialNumber.Text(16), ErrUnknownReason, e.Reason, reasonList())
		}
		// Unspecified, 0, is left out as the zero value of an optional field.
		single.Revoked, result = revokedInfo{RevocationTime: e.RevokedAt.UTC(), Reason: asn1.Enumerated(e.Reason)}, OCSPRevoked
	default:
		single.Good, result = true, OCSPGood
	}

	responder := issuer
	var certs []asn1.RawValue
	if a.ResponderCert != nil {
		responder, signer = a.ResponderCert, a.ResponderKey
		certs = []asn1.RawValue{{FullBytes: a.ResponderCert.Raw}}
	}
	data := responseData{
		ResponderID: asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 1, IsCompound: true, Bytes: responder.RawSubject}, // byName
		ProducedAt:  now,
		Responses:   []singleResponse{single},
	}
	if req.Nonce != nil {
		data.ResponseExtensions = []pkix.Extension{{Id: oidOCSPNonce, Value: req.Nonce}}
	}
	tbs, err := asn1.Marshal(data)
	if err != nil {
		return nil, "", fmt.Errorf("encode the OCSP response: %w", err)
	}
	sigAlg, sig, err := a.sign(signer, tbs)
	if err != nil {
		return nil, "", err
	}
	basic, err := asn1.Marshal(basicResponse{
		TBSResponseData:    asn1.RawValue{FullBytes: tbs},
		SignatureAlgorithm: sigAlg,
		Signature:          asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)},
		Certificates:       certs,
	})
	if err != nil {
		return nil, "", fmt.Errorf("encode the OCSP response: %w", err)
	}
	out, err := asn1.Marshal(ocspResponse{
		Status:   asn1.Enumerated(ocsp.Success),
		Response: responseBytes{ResponseType: oidOCSPBasic, Response: basic},
	})
	if err != nil {
		return nil, "", fmt.Errorf("encode the OCSP response: %w", err)
	}
	return out, result, nil
}

// issuerHashes returns the CertID hashes of issuer (RFC 6960 §4.1.1): of its subject's
// DER, and of the value of its subjectPublicKey BIT STRING.
func issuerHashes(issuer *x509.Certificate, h crypto.Hash) (name, key []byte, err error) {
	if _, ok := hashOIDs[h]; !ok || !h.Available() {
		return nil, nil, fmt.Errorf("CertID hash algorithm %v is not supported; use SHA-1, SHA-256, SHA-384 or SHA-512", h)
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(issuer.RawSubjectPublicKeyInfo, &spki); err != nil {
		return nil, nil, fmt.Errorf("read the public key of the CA %q: %w", issuer.Subject, err)
	}
	hn := h.New()
	hn.Write(issuer.RawSubject)
	hk := h.New()
	hk.Write(spki.PublicKey.RightAlign())
	return hn.Sum(nil), hk.Sum(nil), nil
}

// sign signs tbs with signer, with the algorithm x509 would choose for its key.
func (a *Authority) sign(signer crypto.Signer, tbs []byte) (pkix.AlgorithmIdentifier, []byte, error) {
	var (
		alg  pkix.AlgorithmIdentifier
		hash crypto.Hash
	)
	switch pub := signer.Public().(type) {
	case *rsa.PublicKey:
		alg, hash = pkix.AlgorithmIdentifier{Algorithm: oidSHA256WithRSA, Parameters: asn1.NullRawValue}, crypto.SHA256
	case *ecdsa.PublicKey:
		switch pub.Curve {
		case elliptic.P256():
			alg, hash = pkix.AlgorithmIdentifier{Algorithm: oidECDSAWithSHA256}, crypto.SHA256
		case elliptic.P384():
			alg, hash = pkix.AlgorithmIdentifier{Algorithm: oidECDSAWithSHA384}, crypto.SHA384
		case elliptic.P521():
			alg, hash = pkix.AlgorithmIdentifier{Algorithm: oidECDSAWithSHA512}, crypto.SHA512
		default:
			return alg, nil, fmt.Errorf("sign the OCSP response: the ECDSA curve %s is not supported; use P-256, P-384 or P-521", pub.Curve.Params().Name)
		}
	case ed25519.PublicKey:
		sig, err := signer.Sign(a.rand(), tbs, crypto.Hash(0))
		if err != nil {
			return alg, nil, fmt.Errorf("sign the OCSP response: %w", err)
		}
		return pkix.AlgorithmIdentifier{Algorithm: oidEd25519}, sig, nil
	default:
		return alg, nil, fmt.Errorf("sign the OCSP response: keys of type %T are not supported; use RSA, ECDSA or Ed25519", pub)
	}
	h := hash.New()
	h.Write(tbs)
	sig, err := signer.Sign(a.rand(), h.Sum(nil), hash)
	if err != nil {
		return alg, nil, fmt.Errorf("sign the OCSP response: %w", err)
	}
	return alg, sig, nil
}

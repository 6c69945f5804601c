package revocation_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"io"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/ocsp"

	"kcsr.dev/kcsr/pkg/ca"
	"kcsr.dev/kcsr/pkg/revocation"
	"kcsr.dev/kcsr/pkg/testkit"
)

var oidNonce = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 2}

// Test-side ASN.1 of OCSP requests (RFC 6960 §4.1.1), to build the requests x/crypto
// cannot: with a nonce, several CertIDs, a signature, another version.
type (
	testRequest struct {
		TBS       testTBSRequest
		Signature asn1.RawValue `asn1:"explicit,tag:0,optional"`
	}
	testTBSRequest struct {
		Version    int `asn1:"explicit,tag:0,default:0,optional"`
		List       []testSingleRequest
		Extensions []pkix.Extension `asn1:"explicit,tag:2,optional"`
	}
	testSingleRequest struct{ CertID testCertID }
	testCertID        struct {
		Hash              pkix.AlgorithmIdentifier
		NameHash, KeyHash []byte
		Serial            *big.Int
	}
)

// requestFor returns the DER OCSP request x/crypto makes for cert, hashing with h.
func requestFor(t testing.TB, cert, issuer *x509.Certificate, h crypto.Hash) []byte {
	t.Helper()
	der, err := ocsp.CreateRequest(cert, issuer, &ocsp.RequestOptions{Hash: h})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// editRequest parses der (one of requestFor's), lets edit change it and marshals it again.
func editRequest(t testing.TB, der []byte, edit func(*testRequest)) []byte {
	t.Helper()
	var req testRequest
	if _, err := asn1.Unmarshal(der, &req); err != nil {
		t.Fatal(err)
	}
	edit(&req)
	out, err := asn1.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func withNonce(nonce []byte) func(*testRequest) {
	return func(r *testRequest) {
		r.TBS.Extensions = append(r.TBS.Extensions, pkix.Extension{Id: oidNonce, Value: nonce})
	}
}

func parseRequest(t testing.TB, der []byte) *revocation.Request {
	t.Helper()
	req, err := revocation.ParseRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func TestParseRequest(t *testing.T) {
	c := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
	leaf := c.Issue(t, testkit.LeafTemplate(big.NewInt(0x1234), "rahul", testkit.Epoch, testkit.Epoch.Add(time.Hour)), testkit.NewKey(t, testkit.P256).Public())
	sha1Req := requestFor(t, leaf, c.Cert, crypto.SHA1)
	nonce := []byte{0x04, 0x10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}

	tests := []struct {
		name      string
		der       []byte
		wantHash  crypto.Hash
		wantNonce []byte
		wantErr   string // after "malformed OCSP request: "
		prefix    bool   // wantErr is the start of the error
	}{
		{name: "SHA-1", der: sha1Req, wantHash: crypto.SHA1},
		{name: "SHA-256", der: requestFor(t, leaf, c.Cert, crypto.SHA256), wantHash: crypto.SHA256},
		{name: "SHA-384", der: requestFor(t, leaf, c.Cert, crypto.SHA384), wantHash: crypto.SHA384},
		{name: "SHA-512", der: requestFor(t, leaf, c.Cert, crypto.SHA512), wantHash: crypto.SHA512},
		{name: "with a nonce", der: editRequest(t, sha1Req, withNonce(nonce)), wantHash: crypto.SHA1, wantNonce: nonce},
		{
			name: "with another extension", wantHash: crypto.SHA1,
			der: editRequest(t, sha1Req, func(r *testRequest) {
				r.TBS.Extensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 4}, Value: []byte{0x30, 0x00}}}
			}),
		},
		{
			name: "signed (the signature is ignored)", wantHash: crypto.SHA1,
			der: editRequest(t, sha1Req, func(r *testRequest) {
				r.Signature = asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: []byte{0x05, 0x00}}
			}),
		},
		{name: "empty", der: nil, wantErr: "asn1: syntax error: sequence truncated"},
		{name: "not DER", der: []byte("GET / HTTP/1.1"), wantErr: "asn1: structure error: tags don't match", prefix: true},
		{name: "truncated", der: sha1Req[:len(sha1Req)-1], wantErr: "asn1: syntax error: data truncated"},
		{name: "trailing data", der: append(append([]byte{}, sha1Req...), 0), wantErr: "1 bytes after the request"},
		{name: "too large", der: make([]byte, 4097), wantErr: "4097 bytes, more than 4096"},
		{
			name: "version 2", der: editRequest(t, sha1Req, func(r *testRequest) { r.TBS.Version = 1 }),
			wantErr: "version 1; only v1 (0) exists",
		},
		{
			// encoding/asn1 refuses SEQUENCE { SEQUENCE {} } before ParseRequest looks.
			name: "no CertID", der: editRequest(t, sha1Req, func(r *testRequest) { r.TBS.List = nil }),
			wantErr: "asn1: structure error: explicit tag has no child",
		},
		{
			name: "no CertID, a nonce", der: editRequest(t, sha1Req, func(r *testRequest) { r.TBS.List = nil; withNonce(nonce)(r) }),
			wantErr: "it asks about 0 certificates; ask about one per request",
		},
		{
			name: "two CertIDs", der: editRequest(t, sha1Req, func(r *testRequest) { r.TBS.List = append(r.TBS.List, r.TBS.List[0]) }),
			wantErr: "it asks about 2 certificates; ask about one per request",
		},
		{
			name: "MD5", der: editRequest(t, sha1Req, func(r *testRequest) {
				r.TBS.List[0].CertID.Hash.Algorithm = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 5}
			}),
			wantErr: "CertID hash algorithm 1.2.840.113549.2.5; use SHA-1, SHA-256, SHA-384 or SHA-512",
		},
		{name: "empty nonce", der: editRequest(t, sha1Req, withNonce(nil)), wantErr: "a nonce extension of 0 bytes; send a nonce of 1 to 128 bytes (RFC 8954)"},
		{name: "nonce of 200 bytes", der: editRequest(t, sha1Req, withNonce(make([]byte, 200))), wantErr: "a nonce extension of 200 bytes; send a nonce of 1 to 128 bytes (RFC 8954)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := revocation.ParseRequest(tt.der)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("ParseRequest = %+v, want error %q", got, tt.wantErr)
				}
				msg := err.Error()
				if tt.prefix && strings.HasPrefix(msg, "malformed OCSP request: "+tt.wantErr) {
					msg = "malformed OCSP request: " + tt.wantErr
				}
				if diff := cmp.Diff("malformed OCSP request: "+tt.wantErr, msg); diff != "" {
					t.Errorf("error (-want +got):\n%s", diff)
				}
				if !errors.Is(err, revocation.ErrMalformed) {
					t.Errorf("error %v is not ErrMalformed", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// x/crypto agrees on what it parses.
			x, err := ocsp.ParseRequest(tt.der)
			if err != nil && !strings.Contains(err.Error(), "signed OCSP requests are not supported") {
				t.Fatalf("x/crypto: %v", err)
			}
			if x != nil {
				if diff := cmp.Diff(*x, ocsp.Request{HashAlgorithm: got.HashAlgorithm, IssuerNameHash: got.IssuerNameHash, IssuerKeyHash: got.IssuerKeyHash, SerialNumber: got.SerialNumber}, bigIntEqual); diff != "" {
					t.Errorf("ParseRequest vs x/crypto (-x/crypto +ParseRequest):\n%s", diff)
				}
			}
			if got.HashAlgorithm != tt.wantHash || got.SerialNumber.Cmp(leaf.SerialNumber) != 0 {
				t.Errorf("hash %v, serial %x; want %v, %x", got.HashAlgorithm, got.SerialNumber, tt.wantHash, leaf.SerialNumber)
			}
			if !bytes.Equal(got.Nonce, tt.wantNonce) {
				t.Errorf("nonce %x, want %x", got.Nonce, tt.wantNonce)
			}
		})
	}
}

// verifyResponse parses an OCSP response and checks it is signed by signer, which is
// issuer or a responder certificate it carries.
func verifyResponse(t testing.TB, der []byte, issuer, signer *x509.Certificate) *ocsp.Response {
	t.Helper()
	check := issuer
	if signer.PublicKeyAlgorithm == x509.Ed25519 {
		check = nil // x/crypto knows no Ed25519 signatures: checked below
	}
	resp, err := ocsp.ParseResponse(der, check)
	if err != nil {
		t.Fatalf("parse the OCSP response: %v", err)
	}
	alg := resp.SignatureAlgorithm
	if signer.PublicKeyAlgorithm == x509.Ed25519 {
		if alg != x509.UnknownSignatureAlgorithm {
			t.Errorf("signature algorithm %v for an Ed25519 signer", alg)
		}
		alg = x509.PureEd25519
	}
	if err := signer.CheckSignature(alg, resp.TBSResponseData, resp.Signature); err != nil {
		t.Errorf("the response is not signed by %s: %v", signer.Subject, err)
	}
	if !bytes.Equal(resp.RawResponderName, signer.RawSubject) {
		t.Errorf("responder ID %x, want the name %s", resp.RawResponderName, signer.Subject)
	}
	if signer == issuer {
		if resp.Certificate != nil {
			t.Errorf("a CA-signed response carries the certificate %s", resp.Certificate.Subject)
		}
	} else if resp.Certificate == nil || !resp.Certificate.Equal(signer) {
		t.Errorf("the response does not carry the responder certificate")
	}
	return resp
}

func TestOCSPResponse(t *testing.T) {
	now := testkit.Epoch.Add(1500 * time.Millisecond)
	thisUpdate := testkit.Epoch.Add(time.Second)
	revokedAt := time.Date(2030, 5, 31, 9, 30, 15, 0, time.UTC)
	revoked := func(r revocation.Reason) revocation.Status {
		return revocation.Status{Known: true, Revoked: true, Entry: revocation.Entry{Serial: big.NewInt(0x1234), RevokedAt: revokedAt, Reason: r}}
	}
	tests := []struct {
		name       string
		status     revocation.Status
		hash       crypto.Hash
		validity   time.Duration
		wantStatus int
		wantReason int
	}{
		{name: "good", status: revocation.Status{Known: true}, wantStatus: ocsp.Good},
		{name: "revoked for keyCompromise", status: revoked(revocation.KeyCompromise), wantStatus: ocsp.Revoked, wantReason: ocsp.KeyCompromise},
		{name: "revoked for aACompromise", status: revoked(revocation.AACompromise), wantStatus: ocsp.Revoked, wantReason: ocsp.AACompromise},
		{name: "on hold", status: revoked(revocation.CertificateHold), wantStatus: ocsp.Revoked, wantReason: ocsp.CertificateHold},
		{name: "revoked, reason unspecified", status: revoked(revocation.Unspecified), wantStatus: ocsp.Revoked, wantReason: ocsp.Unspecified},
		{name: "unknown", status: revocation.Status{}, wantStatus: ocsp.Unknown},
		{name: "unknown even if said revoked", status: revocation.Status{Revoked: true}, wantStatus: ocsp.Unknown},
		{name: "good, SHA-256 CertID", status: revocation.Status{Known: true}, hash: crypto.SHA256, wantStatus: ocsp.Good},
		{name: "revoked, SHA-512 CertID", status: revoked(revocation.Superseded), hash: crypto.SHA512, wantStatus: ocsp.Revoked, wantReason: ocsp.Superseded},
		{name: "good for 10 minutes", status: revocation.Status{Known: true}, validity: 10 * time.Minute, wantStatus: ocsp.Good},
	}
	for _, kt := range []testkit.KeyType{testkit.P256, testkit.P384, testkit.RSA2048, testkit.Ed25519} {
		c := testkit.NewCA(t, testkit.NewKey(t, kt))
		leaf := c.Issue(t, testkit.LeafTemplate(big.NewInt(0x1234), "rahul", testkit.Epoch, testkit.Epoch.Add(time.Hour)), testkit.NewKey(t, testkit.P256).Public())
		responderCert, responderKey := newResponder(t, c, testkit.P256, testkit.Epoch.Add(-time.Hour), testkit.Epoch.Add(time.Hour))
		for _, delegated := range []bool{false, true} {
			signer, how := c.Cert, "CA-signed"
			a := &revocation.Authority{Backend: c.Backend()}
			if delegated {
				a.ResponderCert, a.ResponderKey = responderCert, responderKey
				signer, how = responderCert, "delegated"
			}
			for _, tt := range tests {
				t.Run(string(kt)+", "+how+", "+tt.name, func(t *testing.T) {
					a := *a
					a.OCSPValidity = tt.validity
					hash := tt.hash
					if hash == 0 {
						hash = crypto.SHA1
					}
					der, err := a.OCSPResponse(context.Background(), parseRequest(t, requestFor(t, leaf, c.Cert, hash)), tt.status, now)
					if err != nil {
						t.Fatal(err)
					}
					resp := verifyResponse(t, der, c.Cert, signer)
					wantValidity := tt.validity
					if wantValidity == 0 {
						wantValidity = time.Hour
					}
					type summary struct {
						Status                                        int
						Serial                                        string
						ProducedAt, ThisUpdate, NextUpdate, RevokedAt time.Time
						Reason                                        int
						IssuerHash                                    crypto.Hash
					}
					want := summary{
						Status: tt.wantStatus, Serial: "1234", ProducedAt: thisUpdate, ThisUpdate: thisUpdate, NextUpdate: thisUpdate.Add(wantValidity),
						Reason: tt.wantReason, IssuerHash: hash,
					}
					if tt.wantStatus == ocsp.Revoked {
						want.RevokedAt = revokedAt
					}
					got := summary{
						Status: resp.Status, Serial: resp.SerialNumber.Text(16), ProducedAt: resp.ProducedAt, ThisUpdate: resp.ThisUpdate, NextUpdate: resp.NextUpdate,
						RevokedAt: resp.RevokedAt, Reason: resp.RevocationReason, IssuerHash: resp.IssuerHash,
					}
					if diff := cmp.Diff(want, got); diff != "" {
						t.Errorf("response (-want +got):\n%s", diff)
					}
					// The reason is left out for unspecified, as RFC 5280 §5.3.1 asks: its
					// encoding, [0] EXPLICIT ENUMERATED 0, is absent.
					if hasUnspecified := bytes.Contains(der, []byte{0xa0, 0x03, 0x0a, 0x01, 0x00}); hasUnspecified {
						t.Errorf("the response encodes the reason unspecified")
					}
				})
			}
		}
	}
}

func TestOCSPResponseNonce(t *testing.T) {
	c := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
	leaf := c.Issue(t, testkit.LeafTemplate(big.NewInt(7), "rahul", testkit.Epoch, testkit.Epoch.Add(time.Hour)), testkit.NewKey(t, testkit.P256).Public())
	a := &revocation.Authority{Backend: c.Backend()}
	nonce := append([]byte{0x04, 0x20}, bytes.Repeat([]byte{0xab}, 32)...)
	ext, err := asn1.Marshal(pkix.Extension{Id: oidNonce, Value: nonce})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		der       []byte
		wantNonce bool
	}{
		{name: "with a nonce", der: editRequest(t, requestFor(t, leaf, c.Cert, crypto.SHA1), withNonce(nonce)), wantNonce: true},
		{name: "without", der: requestFor(t, leaf, c.Cert, crypto.SHA1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			der, err := a.OCSPResponse(context.Background(), parseRequest(t, tt.der), revocation.Status{Known: true}, testkit.Epoch)
			if err != nil {
				t.Fatal(err)
			}
			verifyResponse(t, der, c.Cert, c.Cert)
			if got := bytes.Contains(der, ext); got != tt.wantNonce {
				t.Errorf("the response repeats the nonce: %v, want %v", got, tt.wantNonce)
			}
		})
	}
}

// A responder answers for its own CA only: RFC 5019 §2.2.3 "unauthorized" for the rest.
func TestOCSPResponseOtherIssuer(t *testing.T) {
	c := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
	sameName := testkit.NewCA(t, testkit.NewKey(t, testkit.P256)) // testkit CAs share their name
	otherName := testkit.NewCA(t, c.Key, func(x *x509.Certificate) { x.Subject.CommonName = "another CA" })
	key := testkit.NewKey(t, testkit.P256).Public()
	leafOf := func(issuer *testkit.CA) *x509.Certificate {
		return issuer.Issue(t, testkit.LeafTemplate(big.NewInt(7), "rahul", testkit.Epoch, testkit.Epoch.Add(time.Hour)), key)
	}
	a := &revocation.Authority{Backend: c.Backend()}
	tests := []struct {
		name string
		der  []byte
		want []byte
	}{
		{name: "this CA", der: requestFor(t, leafOf(c), c.Cert, crypto.SHA1)},
		{name: "same name, another key", der: requestFor(t, leafOf(sameName), sameName.Cert, crypto.SHA1), want: ocsp.UnauthorizedErrorResponse},
		{name: "same key, another name", der: requestFor(t, leafOf(otherName), otherName.Cert, crypto.SHA256), want: ocsp.UnauthorizedErrorResponse},
		{
			name: "name hash cut short", want: ocsp.UnauthorizedErrorResponse,
			der: editRequest(t, requestFor(t, leafOf(c), c.Cert, crypto.SHA1), func(r *testRequest) { r.TBS.List[0].CertID.NameHash = r.TBS.List[0].CertID.NameHash[:19] }),
		},
		{
			name: "SHA-256 hashes labelled SHA-1", want: ocsp.UnauthorizedErrorResponse,
			der: editRequest(t, requestFor(t, leafOf(c), c.Cert, crypto.SHA256), func(r *testRequest) { r.TBS.List[0].CertID.Hash.Algorithm = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26} }),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			der, err := a.OCSPResponse(context.Background(), parseRequest(t, tt.der), revocation.Status{Known: true}, testkit.Epoch)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == nil {
				verifyResponse(t, der, c.Cert, c.Cert)
				return
			}
			if !bytes.Equal(der, tt.want) {
				t.Errorf("response %x, want %x", der, tt.want)
			}
		})
	}
}

func TestOCSPResponseErrors(t *testing.T) {
	c := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
	leaf := c.Issue(t, testkit.LeafTemplate(big.NewInt(7), "rahul", testkit.Epoch, testkit.Epoch.Add(time.Hour)), testkit.NewKey(t, testkit.P256).Public())
	responderCert, responderKey := newResponder(t, c, testkit.P256, testkit.Epoch.Add(-time.Hour), testkit.Epoch.Add(time.Hour))
	req := parseRequest(t, requestFor(t, leaf, c.Cert, crypto.SHA1))
	boom := errors.New("the HSM is unplugged")
	good := revocation.Status{Known: true}

	tests := []struct {
		name    string
		a       revocation.Authority
		req     *revocation.Request
		status  revocation.Status
		wantIs  error
		wantErr string
	}{
		{
			name: "revoked without a time", a: revocation.Authority{Backend: c.Backend()}, req: req,
			status:  revocation.Status{Known: true, Revoked: true, Entry: revocation.Entry{Reason: revocation.KeyCompromise}},
			wantErr: "the revocation of serial 7 has no time; give Status.Entry.RevokedAt",
		},
		{
			name: "revoked for reason 7", a: revocation.Authority{Backend: c.Backend()}, req: req, wantIs: revocation.ErrUnknownReason,
			status:  revocation.Status{Known: true, Revoked: true, Entry: revocation.Entry{RevokedAt: testkit.Epoch, Reason: 7}},
			wantErr: "the revocation of serial 7: unknown revocation reason Reason(7); use one of " + validReasons,
		},
		{name: "no request", a: revocation.Authority{Backend: c.Backend()}, status: good, wantErr: "the OCSP request has no serial number"},
		{
			name: "unsupported hash", a: revocation.Authority{Backend: c.Backend()}, status: good,
			req:     &revocation.Request{HashAlgorithm: crypto.MD5, SerialNumber: big.NewInt(7)},
			wantErr: "CertID hash algorithm MD5 is not supported; use SHA-1, SHA-256, SHA-384 or SHA-512",
		},
		{
			name: "responder certificate without key", a: revocation.Authority{Backend: c.Backend(), ResponderCert: responderCert}, req: req, status: good, wantIs: revocation.ErrResponder,
			wantErr: `the delegated OCSP responder is not usable: the responder certificate "CN=kcsr test OCSP responder" is set without its key; give both, or neither to sign with the CA`,
		},
		{
			name: "responder key without certificate", a: revocation.Authority{Backend: c.Backend(), ResponderKey: responderKey}, req: req, status: good, wantIs: revocation.ErrResponder,
			wantErr: "the delegated OCSP responder is not usable: a responder key is set without its certificate; give both, or neither to sign with the CA",
		},
		{
			name: "responder key of another certificate", a: revocation.Authority{Backend: c.Backend(), ResponderCert: responderCert, ResponderKey: c.Key}, req: req, status: good, wantIs: revocation.ErrResponder,
			wantErr: `the delegated OCSP responder is not usable: the responder key is not the key of the responder certificate "CN=kcsr test OCSP responder"; give the key the certificate was issued for`,
		},
		{
			name: "negative validity", a: revocation.Authority{Backend: c.Backend(), OCSPValidity: -time.Minute}, req: req, status: good,
			wantErr: "OCSPValidity: -1m0s is negative; give a positive duration, or zero for 1h0m0s",
		},
		{
			name: "signer fails", a: revocation.Authority{Backend: &testkit.Static{ChainCerts: c.Chain, SignerErr: boom}}, req: req, status: good, wantIs: boom,
			wantErr: "open the CA key: the HSM is unplugged",
		},
		{
			name: "signing fails", a: revocation.Authority{Backend: &testkit.Static{ChainCerts: c.Chain, Key: failingSigner{c.Key, boom}}}, req: req, status: good, wantIs: boom,
			wantErr: "sign the OCSP response: the HSM is unplugged",
		},
		{
			name: "CA key mismatch", a: revocation.Authority{Backend: &testkit.Static{ChainCerts: c.Chain, Key: responderKey}}, req: req, status: good, wantIs: ca.ErrKeyMismatch,
			wantErr: `the CA key does not match the CA certificate: the CA "CN=kcsr test CA,O=kcsr tests"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			der, err := tt.a.OCSPResponse(context.Background(), tt.req, tt.status, testkit.Epoch)
			if err == nil {
				t.Fatalf("OCSPResponse = %x, want error %q", der, tt.wantErr)
			}
			if diff := cmp.Diff(tt.wantErr, err.Error()); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %v is not %v", err, tt.wantIs)
			}
		})
	}
}

// failingSigner is key whose Sign fails.
type failingSigner struct {
	crypto.Signer
	err error
}

func (f failingSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) { return nil, f.err }

func TestAuthorityCheck(t *testing.T) {
	c := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
	other := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
	noCRLSign := testkit.NewCA(t, c.Key, func(x *x509.Certificate) { x.KeyUsage = x509.KeyUsageCertSign })
	window := func(x *x509.Certificate) {}
	responder := func(issuer *testkit.CA, mutate ...func(*x509.Certificate)) (*x509.Certificate, crypto.Signer) {
		return newResponder(t, issuer, testkit.P256, testkit.Epoch.Add(-time.Hour), testkit.Epoch.Add(time.Hour), append([]func(*x509.Certificate){window}, mutate...)...)
	}
	goodCert, goodKey := responder(c)
	otherCert, otherKey := responder(other)
	noEKUCert, noEKUKey := responder(c, func(x *x509.Certificate) { x.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth} })
	expiredCert, expiredKey := responder(c, func(x *x509.Certificate) { x.NotAfter = testkit.Epoch.Add(-time.Minute) })
	futureCert, futureKey := responder(c, func(x *x509.Certificate) { x.NotBefore = testkit.Epoch.Add(time.Minute) })

	tests := []struct {
		name    string
		a       revocation.Authority
		wantIs  error
		wantErr string
	}{
		{name: "the CA alone", a: revocation.Authority{Backend: c.Backend()}},
		{name: "a delegated responder", a: revocation.Authority{Backend: c.Backend(), ResponderCert: goodCert, ResponderKey: goodKey}},
		{
			name: "CA without cRLSign", a: revocation.Authority{Backend: noCRLSign.Backend()}, wantIs: revocation.ErrNoCRLSign,
			wantErr: `the CA certificate does not allow CRL signing: the keyUsage of "CN=kcsr test CA,O=kcsr tests" lacks cRLSign; reissue the CA with keyUsage=critical,keyCertSign,cRLSign`,
		},
		{
			name: "responder of another CA", a: revocation.Authority{Backend: c.Backend(), ResponderCert: otherCert, ResponderKey: otherKey}, wantIs: revocation.ErrResponder,
			wantErr: `the delegated OCSP responder is not usable: the responder certificate "CN=kcsr test OCSP responder" is not issued by the CA "CN=kcsr test CA,O=kcsr tests" (x509: ECDSA verification failure); issue it with the CA key`,
		},
		{
			name: "responder without OCSPSigning", a: revocation.Authority{Backend: c.Backend(), ResponderCert: noEKUCert, ResponderKey: noEKUKey}, wantIs: revocation.ErrResponder,
			wantErr: `the delegated OCSP responder is not usable: the responder certificate "CN=kcsr test OCSP responder" lacks the extended key usage OCSPSigning; reissue it with extendedKeyUsage=OCSPSigning`,
		},
		{
			name: "expired responder", a: revocation.Authority{Backend: c.Backend(), ResponderCert: expiredCert, ResponderKey: expiredKey}, wantIs: revocation.ErrResponder,
			wantErr: `the delegated OCSP responder is not usable: the responder certificate "CN=kcsr test OCSP responder" is valid from 2030-06-01T11:00:00Z to 2030-06-01T11:59:00Z, not at 2030-06-01T12:00:00Z; issue a new one`,
		},
		{
			name: "responder not valid yet", a: revocation.Authority{Backend: c.Backend(), ResponderCert: futureCert, ResponderKey: futureKey}, wantIs: revocation.ErrResponder,
			wantErr: `the delegated OCSP responder is not usable: the responder certificate "CN=kcsr test OCSP responder" is valid from 2030-06-01T12:01:00Z to 2030-06-01T13:00:00Z, not at 2030-06-01T12:00:00Z; issue a new one`,
		},
		{
			name: "responder key mismatch", a: revocation.Authority{Backend: c.Backend(), ResponderCert: goodCert, ResponderKey: otherKey}, wantIs: revocation.ErrResponder,
			wantErr: `the delegated OCSP responder is not usable: the responder key is not the key of the responder certificate "CN=kcsr test OCSP responder"; give the key the certificate was issued for`,
		},
		{
			name: "negative CRL validity", a: revocation.Authority{Backend: c.Backend(), CRLValidity: -time.Second},
			wantErr: "CRLValidity: -1s is negative; give a positive duration, or zero for 24h0m0s",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.a.Check(context.Background(), testkit.Epoch)
			if diff := cmp.Diff(tt.wantErr, testkit.ErrString(err)); diff != "" {
				t.Errorf("Check (-want +got):\n%s", diff)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %v is not %v", err, tt.wantIs)
			}
		})
	}
}

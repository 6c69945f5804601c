package revocation_test

import (
	"bytes"
	"crypto"
	"encoding/base64"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/ocsp"

	"kcsr.dev/kcsr/pkg/revocation"
	"kcsr.dev/kcsr/pkg/testkit"
)

// How FuzzOCSPHandler sends its input.
const (
	fuzzPOST      = iota // as the body of a POST
	fuzzGETBase64        // base64 and URL-escaped, as the path of a GET
	fuzzGETRaw           // as it is, as the path of a GET
	fuzzModes
)

// FuzzOCSPHandler sends hostile requests to the OCSP handler: it must never panic, and
// must always answer 200 with an OCSP response that is either an error response or a
// response signed by the CA.
func FuzzOCSPHandler(f *testing.F) {
	c := testkit.NewCA(f, testkit.NewKey(f, testkit.P256))
	h := newHandlerFixture(f, &revocation.Authority{Backend: c.Backend()}, c)
	for _, serial := range []int64{1, 2, 10} {
		der := h.requests[serial]
		f.Add(der, uint8(fuzzPOST))
		f.Add(der, uint8(fuzzGETBase64))
		f.Add(der[:len(der)/2], uint8(fuzzPOST))
		f.Add(editRequest(f, der, withNonce([]byte{0x04, 0x02, 0xca, 0xfe})), uint8(fuzzPOST))
	}
	f.Add([]byte(base64.StdEncoding.EncodeToString(h.requests[2])), uint8(fuzzGETRaw))
	f.Add([]byte(nil), uint8(fuzzGETRaw))
	f.Add([]byte("%2F%2F%zz"), uint8(fuzzGETRaw))

	f.Fuzz(func(t *testing.T, in []byte, mode uint8) {
		r := &http.Request{Method: http.MethodGet, URL: &url.URL{}, Header: http.Header{}, Body: http.NoBody}
		switch mode % fuzzModes {
		case fuzzPOST:
			r = httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(in))
			r.Header.Set("Content-Type", "application/ocsp-request")
		case fuzzGETBase64:
			r.URL.Path = "/" + base64.StdEncoding.EncodeToString(in)
		case fuzzGETRaw:
			r.URL.Path = "/" + string(in)
		}
		w := httptest.NewRecorder()
		h.observed = nil
		h.handler.ServeHTTP(w, r)
		if len(h.observed) != 1 {
			t.Fatalf("the handler observed %v; want one result per request", h.observed)
		}
		if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/ocsp-response" {
			t.Fatalf("status %d, Content-Type %q; want 200, application/ocsp-response", w.Code, w.Header().Get("Content-Type"))
		}
		resp, err := ocsp.ParseResponse(w.Body.Bytes(), c.Cert)
		var re ocsp.ResponseError
		switch {
		case errors.As(err, &re) && (re.Status == ocsp.Malformed || re.Status == ocsp.Unauthorized):
		case err != nil:
			t.Fatalf("the handler answered %x: %v", w.Body.Bytes(), err)
		case !resp.ThisUpdate.Equal(testkit.Epoch):
			t.Fatalf("thisUpdate %s, want %s", resp.ThisUpdate, testkit.Epoch)
		}
	})
}

// FuzzParseRequest checks ParseRequest against x/crypto's parser: whatever both accept,
// they read alike.
func FuzzParseRequest(f *testing.F) {
	c := testkit.NewCA(f, testkit.NewKey(f, testkit.P256))
	leaf := c.Issue(f, testkit.LeafTemplate(big.NewInt(0x1234), "rahul", testkit.Epoch, testkit.Epoch.Add(time.Hour)), testkit.NewKey(f, testkit.P256).Public())
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA512} {
		der := requestFor(f, leaf, c.Cert, h)
		f.Add(der)
		f.Add(editRequest(f, der, withNonce([]byte{0x04, 0x01, 0x00})))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := revocation.ParseRequest(in)
		if err != nil {
			if got != nil || !errors.Is(err, revocation.ErrMalformed) {
				t.Fatalf("ParseRequest = %v, %v; want nil and an ErrMalformed", got, err)
			}
			return
		}
		if got.SerialNumber == nil || got.HashAlgorithm == 0 {
			t.Fatalf("ParseRequest = %+v without a serial or a hash", got)
		}
		x, err := ocsp.ParseRequest(in)
		if err != nil {
			return // x/crypto refuses signed requests, ParseRequest ignores the signature
		}
		want := ocsp.Request{HashAlgorithm: got.HashAlgorithm, IssuerNameHash: got.IssuerNameHash, IssuerKeyHash: got.IssuerKeyHash, SerialNumber: got.SerialNumber}
		if diff := cmp.Diff(*x, want, bigIntEqual); diff != "" {
			t.Fatalf("ParseRequest vs x/crypto (-x/crypto +ParseRequest):\n%s", diff)
		}
	})
}

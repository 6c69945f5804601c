package revocation_test

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/crypto/ocsp"

	"kcsr.dev/kcsr/pkg/revocation"
	"kcsr.dev/kcsr/pkg/testkit"
)

// handlerFixture is an OCSP handler for a P-256 CA that issued serials 1 to 9 and revoked
// serial 2 for keyCompromise, with its clock at testkit.Epoch.
type handlerFixture struct {
	ca       *testkit.CA
	handler  http.Handler
	requests map[int64][]byte // DER requests by serial
	looked   []string         // serials lookup was asked about, in hex
	observed []revocation.OCSPResult
}

func newHandlerFixture(t testing.TB, a *revocation.Authority, c *testkit.CA) *handlerFixture {
	t.Helper()
	f := &handlerFixture{ca: c, requests: map[int64][]byte{}}
	set := revoked{}
	set.put(t, entry(2, func(e *revocation.Entry) { e.RevokedAt = testkit.Epoch.Add(-time.Hour) }))
	lookup := func(serial *big.Int) revocation.Status {
		f.looked = append(f.looked, serial.Text(16))
		e, isRevoked := set.get(serial)
		return revocation.Status{Known: serial.Sign() > 0 && serial.Cmp(big.NewInt(10)) < 0, Revoked: isRevoked, Entry: e}
	}
	observe := func(r revocation.OCSPResult) { f.observed = append(f.observed, r) }
	f.handler = revocation.OCSPHandler(a, lookup, func() time.Time { return testkit.Epoch }, observe)
	key := testkit.NewKey(t, testkit.P256).Public()
	for serial := int64(1); serial <= 10; serial++ {
		leaf := c.Issue(t, testkit.LeafTemplate(big.NewInt(serial), "rahul", testkit.Epoch, testkit.Epoch.Add(time.Hour)), key)
		f.requests[serial] = requestFor(t, leaf, c.Cert, crypto.SHA1)
	}
	return f
}

// getPath returns the GET path of der: "/" and its base64, URL-escaped.
func getPath(der []byte) string { return "/" + url.PathEscape(base64.StdEncoding.EncodeToString(der)) }

func TestOCSPHandler(t *testing.T) {
	c := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
	f := newHandlerFixture(t, &revocation.Authority{Backend: c.Backend()}, c)
	other := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
	otherReq := requestFor(t, other.Issue(t, testkit.LeafTemplate(big.NewInt(1), "x", testkit.Epoch, testkit.Epoch.Add(time.Hour)), other.Cert.PublicKey), other.Cert, crypto.SHA1)
	withNonceReq := editRequest(t, f.requests[1], withNonce([]byte{0x04, 0x01, 0x2a}))
	// A request whose base64 holds "+" and "/", to try the ways clients mangle them.
	base, err := ocsp.ParseRequest(f.requests[1])
	if err != nil {
		t.Fatal(err)
	}
	var (
		plusSlash []byte
		psSerial  string
	)
	for plusSlash == nil {
		base.SerialNumber = testkit.Serial(t)
		der, err := base.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if b := base64.StdEncoding.EncodeToString(der); strings.Contains(b, "+") && strings.Contains(b, "/") {
			plusSlash, psSerial = der, base.SerialNumber.Text(16)
		}
	}
	cacheHeaders := http.Header{
		"Cache-Control": {"max-age=3600, public, no-transform, must-revalidate"},
		"Last-Modified": {"Sat, 01 Jun 2030 12:00:00 GMT"},
		"Expires":       {"Sat, 01 Jun 2030 13:00:00 GMT"},
	}
	const (
		good      = "good"
		revoked   = "revoked"
		unknown   = "unknown"
		malformed = "malformed"
		unauth    = "unauthorized"
	)

	tests := []struct {
		name        string
		method      string
		target      string
		contentType string
		body        []byte
		wantCode    int // 200 when zero
		want        string
		wantHeaders http.Header // besides Content-Type; compared only when set
		wantLooked  []string
	}{
		{name: "POST, good", method: "POST", target: "/", contentType: "application/ocsp-request", body: f.requests[1], want: good, wantLooked: []string{"1"}, wantHeaders: http.Header{}},
		{name: "POST, revoked", method: "POST", target: "/", contentType: "application/ocsp-request", body: f.requests[2], want: revoked, wantLooked: []string{"2"}},
		{name: "POST, unknown", method: "POST", target: "/", contentType: "application/ocsp-request", body: f.requests[10], want: unknown, wantLooked: []string{"a"}},
		{name: "POST, any path", method: "POST", target: "/ocsp/x", contentType: "application/ocsp-request", body: f.requests[1], want: good, wantLooked: []string{"1"}},
		{name: "POST without Content-Type", method: "POST", target: "/", body: f.requests[1], want: good, wantLooked: []string{"1"}},
		{name: "POST, Content-Type with a parameter", method: "POST", target: "/", contentType: "application/ocsp-request; q=1", body: f.requests[1], want: good, wantLooked: []string{"1"}},
		{name: "POST, wrong Content-Type", method: "POST", target: "/", contentType: "text/plain", body: f.requests[1], wantCode: http.StatusUnsupportedMediaType},
		{name: "POST, garbage", method: "POST", target: "/", contentType: "application/ocsp-request", body: []byte("hello"), want: malformed},
		{name: "POST, empty", method: "POST", target: "/", contentType: "application/ocsp-request", want: malformed},
		{name: "POST, 1 MiB", method: "POST", target: "/", contentType: "application/ocsp-request", body: bytes.Repeat([]byte{0x30}, 1<<20), want: malformed},
		{name: "POST, another CA", method: "POST", target: "/", contentType: "application/ocsp-request", body: otherReq, want: unauth, wantHeaders: http.Header{}},
		{name: "GET, good", method: "GET", target: getPath(f.requests[1]), want: good, wantHeaders: cacheHeaders, wantLooked: []string{"1"}},
		{name: "GET, revoked", method: "GET", target: getPath(f.requests[2]), want: revoked, wantHeaders: cacheHeaders, wantLooked: []string{"2"}},
		{name: "GET, unknown", method: "GET", target: getPath(f.requests[10]), want: unknown, wantHeaders: cacheHeaders, wantLooked: []string{"a"}},
		{name: "GET, with a nonce: not cacheable", method: "GET", target: getPath(withNonceReq), want: good, wantHeaders: http.Header{}, wantLooked: []string{"1"}},
		{name: "GET, another CA: not cacheable", method: "GET", target: getPath(otherReq), want: unauth, wantHeaders: http.Header{}},
		{name: "GET, base64 not escaped", method: "GET", target: "/" + base64.StdEncoding.EncodeToString(plusSlash), want: unknown, wantLooked: []string{psSerial}},
		{name: "GET, + as a space", method: "GET", target: "/" + strings.ReplaceAll(url.PathEscape(base64.StdEncoding.EncodeToString(plusSlash)), "%2B", "%20"), want: unknown, wantLooked: []string{psSerial}},
		{name: "GET, without padding", method: "GET", target: "/" + base64.RawStdEncoding.EncodeToString(plusSlash), want: unknown, wantLooked: []string{psSerial}},
		{name: "GET, URL alphabet", method: "GET", target: "/" + base64.RawURLEncoding.EncodeToString(plusSlash), want: unknown, wantLooked: []string{psSerial}},
		{name: "GET, nothing", method: "GET", target: "/", want: malformed},
		{name: "GET, not base64", method: "GET", target: "/%21%21%21", want: malformed},
		{name: "GET, base64 of garbage", method: "GET", target: "/aGVsbG8=", want: malformed},
		{name: "GET, too long", method: "GET", target: "/" + strings.Repeat("A", 6000), want: malformed},
		{name: "PUT", method: "PUT", target: "/", body: f.requests[1], wantCode: http.StatusMethodNotAllowed, wantHeaders: http.Header{"Allow": {"GET, POST"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.looked, f.observed = nil, nil
			r := httptest.NewRequest(tt.method, tt.target, bytes.NewReader(tt.body))
			if tt.contentType != "" {
				r.Header.Set("Content-Type", tt.contentType)
			}
			w := httptest.NewRecorder()
			f.handler.ServeHTTP(w, r)
			wantCode := tt.wantCode
			if wantCode == 0 {
				wantCode = http.StatusOK
			}
			if w.Code != wantCode {
				t.Fatalf("status %d, want %d; body %q", w.Code, wantCode, w.Body.Bytes())
			}
			if tt.wantHeaders != nil {
				got := http.Header{}
				for _, k := range []string{"Cache-Control", "Last-Modified", "Expires", "Allow"} {
					if v := w.Header().Values(k); v != nil {
						got[k] = v
					}
				}
				if diff := cmp.Diff(tt.wantHeaders, got); diff != "" {
					t.Errorf("headers (-want +got):\n%s", diff)
				}
			}
			if diff := cmp.Diff(tt.wantLooked, f.looked, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("lookup calls (-want +got):\n%s", diff)
			}
			// Every request is observed once: as what its response says, and a request
			// refused over HTTP as malformed.
			wantObserved := []revocation.OCSPResult{revocation.OCSPResult(tt.want)}
			if wantCode != http.StatusOK {
				wantObserved = []revocation.OCSPResult{revocation.OCSPMalformed}
			}
			if diff := cmp.Diff(wantObserved, f.observed); diff != "" {
				t.Errorf("observed (-want +got):\n%s", diff)
			}
			if wantCode != http.StatusOK {
				return
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/ocsp-response" {
				t.Errorf("Content-Type %q, want application/ocsp-response", ct)
			}
			if got := w.Header().Get("Content-Length"); got != itoa(w.Body.Len()) {
				t.Errorf("Content-Length %s, body of %d bytes", got, w.Body.Len())
			}
			if got := describeResponse(t, w.Body.Bytes(), c.Cert); got != tt.want {
				t.Errorf("response %s, want %s", got, tt.want)
			}
		})
	}
}

func itoa(n int) string { return big.NewInt(int64(n)).String() }

// describeResponse names an OCSP response: its status, or its error.
func describeResponse(t *testing.T, der []byte, issuer *x509.Certificate) string {
	t.Helper()
	resp, err := ocsp.ParseResponse(der, issuer)
	var re ocsp.ResponseError
	switch {
	case errors.As(err, &re) && re.Status == ocsp.Malformed:
		return "malformed"
	case errors.As(err, &re) && re.Status == ocsp.Unauthorized:
		return "unauthorized"
	case errors.As(err, &re) && re.Status == ocsp.InternalError:
		return "internalError"
	case errors.As(err, &re) && re.Status == ocsp.TryLater:
		return "tryLater"
	case err != nil:
		t.Fatalf("parse the OCSP response: %v", err)
	}
	if !resp.ThisUpdate.Equal(testkit.Epoch) {
		t.Errorf("thisUpdate %s, want the handler's now, %s", resp.ThisUpdate, testkit.Epoch)
	}
	return map[int]string{ocsp.Good: "good", ocsp.Revoked: "revoked", ocsp.Unknown: "unknown"}[resp.Status]
}

// The handler mounted on a ServeMux as its documentation says.
func TestOCSPHandlerUnderAPrefix(t *testing.T) {
	c := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
	f := newHandlerFixture(t, &revocation.Authority{Backend: c.Backend()}, c)
	mux := http.NewServeMux()
	mux.Handle("/ocsp/", http.StripPrefix("/ocsp", f.handler))
	mux.Handle("POST /ocsp", f.handler)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	tests := []struct {
		name string
		do   func() (*http.Response, error)
		want string
	}{
		{name: "GET", do: func() (*http.Response, error) { return http.Get(srv.URL + "/ocsp" + getPath(f.requests[2])) }, want: "revoked"},
		{name: "POST /ocsp", do: func() (*http.Response, error) {
			return http.Post(srv.URL+"/ocsp", "application/ocsp-request", bytes.NewReader(f.requests[1]))
		}, want: "good"},
		{name: "POST /ocsp/", do: func() (*http.Response, error) {
			return http.Post(srv.URL+"/ocsp/", "application/ocsp-request", bytes.NewReader(f.requests[10]))
		}, want: "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, body := readResponse(t)(tt.do())
			if got := describeResponse(t, body, c.Cert); got != tt.want {
				t.Errorf("response %s, want %s", got, tt.want)
			}
		})
	}
}

func TestOCSPHandlerInternalError(t *testing.T) {
	c := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
	broken := &testkit.Static{ChainCerts: c.Chain, SignerErr: errors.New("the HSM is unplugged")}
	f := newHandlerFixture(t, &revocation.Authority{Backend: broken}, c)
	w := httptest.NewRecorder()
	f.handler.ServeHTTP(w, httptest.NewRequest("POST", "/", bytes.NewReader(f.requests[1])))
	if got := describeResponse(t, w.Body.Bytes(), c.Cert); w.Code != http.StatusOK || got != "internalError" {
		t.Errorf("%d %s, want 200 internalError", w.Code, got)
	}
	if diff := cmp.Diff([]revocation.OCSPResult{revocation.OCSPError}, f.observed); diff != "" {
		t.Errorf("observed (-want +got):\n%s", diff)
	}
}

func TestCRLHandler(t *testing.T) {
	crl := []byte{0x30, 0x03, 0x02, 0x01, 0x07} // the handler serves bytes, whatever they are
	tests := []struct {
		name     string
		method   string
		current  func() ([]byte, error)
		wantCode int
		wantBody []byte
		wantType string
		wantLen  string
		wantAlow string
	}{
		{name: "GET", method: "GET", current: func() ([]byte, error) { return crl, nil }, wantCode: 200, wantBody: crl, wantType: "application/pkix-crl", wantLen: "5"},
		{name: "HEAD", method: "HEAD", current: func() ([]byte, error) { return crl, nil }, wantCode: 200, wantType: "application/pkix-crl", wantLen: "5"},
		{name: "POST", method: "POST", current: func() ([]byte, error) { return crl, nil }, wantCode: 405, wantAlow: "GET, HEAD"},
		{name: "no CRL yet", method: "GET", current: func() ([]byte, error) { return nil, nil }, wantCode: 503},
		{name: "failing", method: "GET", current: func() ([]byte, error) { return nil, errors.New("boom") }, wantCode: 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			revocation.CRLHandler(tt.current).ServeHTTP(w, httptest.NewRequest(tt.method, "/crl/kubernetes.io-kube-apiserver-client.crl", nil))
			if w.Code != tt.wantCode {
				t.Fatalf("status %d, want %d", w.Code, tt.wantCode)
			}
			if got := w.Header().Get("Allow"); got != tt.wantAlow {
				t.Errorf("Allow %q, want %q", got, tt.wantAlow)
			}
			if tt.wantCode != 200 {
				return
			}
			if got := w.Header().Get("Content-Type"); got != tt.wantType {
				t.Errorf("Content-Type %q, want %q", got, tt.wantType)
			}
			if got := w.Header().Get("Content-Length"); got != tt.wantLen {
				t.Errorf("Content-Length %q, want %q", got, tt.wantLen)
			}
			if !bytes.Equal(w.Body.Bytes(), tt.wantBody) {
				t.Errorf("body %x, want %x", w.Body.Bytes(), tt.wantBody)
			}
		})
	}
}

// readResponse returns a function that takes an HTTP client call's results and returns
// the response and its whole body, failing t on any error.
func readResponse(t *testing.T) func(*http.Response, error) (*http.Response, []byte) {
	return func(resp *http.Response, err error) (*http.Response, []byte) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, body
	}
}

// Until the inventory is loaded, the responder says tryLater rather than "unknown" for a
// certificate it has not read yet; then it answers.
func TestOCSPWhenReady(t *testing.T) {
	c := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
	f := newHandlerFixture(t, &revocation.Authority{Backend: c.Backend()}, c)
	ready := false
	h := revocation.OCSPWhenReady(func() bool { return ready }, f.handler, func(r revocation.OCSPResult) { f.observed = append(f.observed, r) })
	for _, want := range []string{"tryLater", "good"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("POST", "/", bytes.NewReader(f.requests[1])))
		if got := describeResponse(t, w.Body.Bytes(), c.Cert); w.Code != http.StatusOK || got != want {
			t.Errorf("%d %s, want 200 %s", w.Code, got, want)
		}
		ready = true
	}
	if diff := cmp.Diff([]revocation.OCSPResult{revocation.OCSPTryLater, revocation.OCSPGood}, f.observed); diff != "" {
		t.Errorf("observed (-want +got):\n%s", diff)
	}
	if len(f.looked) != 1 {
		t.Errorf("looked up %v before it was ready", f.looked)
	}
}

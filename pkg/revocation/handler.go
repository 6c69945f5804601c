package revocation

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ocsp"
	"k8s.io/klog/v2"
)

// Content types of RFC 6960 Appendix A and RFC 2585.
const (
	ContentTypeOCSPRequest  = "application/ocsp-request"
	ContentTypeOCSPResponse = "application/ocsp-response"
	ContentTypeCRL          = "application/pkix-crl"
)

// OCSPHandler serves the OCSP responder of a over HTTP (RFC 6960 Appendix A, RFC 5019):
//   - GET /<base64 of the DER request>, URL-encoded or not;
//   - POST of the DER request, with Content-Type application/ocsp-request (or none).
//
// It answers with Content-Type application/ocsp-response: the response of a.OCSPResponse
// for lookup(serial) at now() (lookup is not called for a request about another CA), the
// malformedRequest response for a request it cannot parse, internalError when signing
// fails. A signed GET response without a nonce carries the caching headers of RFC 5019
// §6.2, up to its nextUpdate.
//
// observe, when not nil, is told how every request was answered (for metrics); it is
// called on the request's goroutine and must not block.
//
// For GET the handler takes the whole URL path as the request, so it must see the path
// without the prefix it is mounted under:
//
//	mux.Handle("/ocsp/", http.StripPrefix("/ocsp", h)) // GET /ocsp/<base64>, POST /ocsp/
//	mux.Handle("POST /ocsp", h)                         // openssl ocsp -url http://host/ocsp
//
// Base64 may hold "//": http.ServeMux redirects such a path to a cleaned one, which breaks
// the request, unless the client URL-encodes the base64 as RFC 6960 asks ("%2F%2F" is
// left alone). POST, what openssl sends, is unaffected.
func OCSPHandler(a *Authority, lookup func(serial *big.Int) Status, now func() time.Time, observe func(OCSPResult)) http.Handler {
	if observe == nil {
		observe = func(OCSPResult) {}
	}
	return &ocspHandler{a: a, lookup: lookup, now: now, observe: observe}
}

// OCSPResult is how OCSPHandler answered a request.
type OCSPResult string

// The answers of OCSPHandler. Good, Revoked and Unknown are signed responses about a
// certificate of the CA.
const (
	OCSPGood    OCSPResult = "good"
	OCSPRevoked OCSPResult = "revoked"
	OCSPUnknown OCSPResult = "unknown"
	// OCSPUnauthorized: the request is about another CA's certificate (the unsigned
	// unauthorized response).
	OCSPUnauthorized OCSPResult = "unauthorized"
	// OCSPMalformed: the request could not be read (malformedRequest), or came with a
	// method or Content-Type that is not OCSP's (HTTP 405 or 415).
	OCSPMalformed OCSPResult = "malformed"
	// OCSPError: the response could not be signed (internalError).
	OCSPError OCSPResult = "error"
	// OCSPTryLater: the responder cannot answer yet (tryLater, not signed): the inventory
	// is still loading.
	OCSPTryLater OCSPResult = "tryLater"
)

// OCSPResults are every OCSPResult, for callers that set up a metric per result.
func OCSPResults() []OCSPResult {
	return []OCSPResult{OCSPGood, OCSPRevoked, OCSPUnknown, OCSPUnauthorized, OCSPMalformed, OCSPError, OCSPTryLater}
}

// OCSPWhenReady answers tryLater (RFC 6960 §4.2.1) until ready reports true, then lets h
// answer: a responder that has not read every certificate yet would call a good one
// "unknown".
func OCSPWhenReady(ready func() bool, h http.Handler, observe func(OCSPResult)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !ready() {
			if observe != nil {
				observe(OCSPTryLater)
			}
			writeOCSP(w, ocsp.TryLaterErrorResponse)
			return
		}
		h.ServeHTTP(w, r)
	})
}

type ocspHandler struct {
	a       *Authority
	lookup  func(*big.Int) Status
	now     func() time.Time
	observe func(OCSPResult)
}

func (h *ocspHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var (
		der []byte
		err error
	)
	switch r.Method {
	case http.MethodGet:
		der, err = decodeGETRequest(r.URL.Path)
	case http.MethodPost:
		if ct := r.Header.Get("Content-Type"); ct != "" {
			if mt, _, perr := mime.ParseMediaType(ct); perr != nil || mt != ContentTypeOCSPRequest {
				h.observe(OCSPMalformed)
				http.Error(w, fmt.Sprintf("Content-Type %q is not %s", ct, ContentTypeOCSPRequest), http.StatusUnsupportedMediaType)
				return
			}
		}
		der, err = io.ReadAll(http.MaxBytesReader(w, r.Body, MaxRequestSize))
	default:
		h.observe(OCSPMalformed)
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "use GET or POST (RFC 6960 Appendix A)", http.StatusMethodNotAllowed)
		return
	}
	var req *Request
	if err == nil {
		req, err = ParseRequest(der)
	}
	if err != nil {
		klog.V(2).InfoS("Malformed OCSP request", "method", r.Method, "remote", r.RemoteAddr, "err", err)
		h.observe(OCSPMalformed)
		writeOCSP(w, ocsp.MalformedRequestErrorResponse)
		return
	}

	now := h.now()
	resp, result, err := h.a.respond(r.Context(), req, func() Status { return h.lookup(req.SerialNumber) }, now)
	if err != nil {
		klog.ErrorS(err, "OCSP response failed", "serial", req.SerialNumber.Text(16))
		h.observe(OCSPError)
		writeOCSP(w, ocsp.InternalErrorErrorResponse)
		return
	}
	h.observe(result)
	if r.Method == http.MethodGet && result != OCSPUnauthorized && req.Nonce == nil {
		thisUpdate := now.UTC().Truncate(time.Second)
		validity := h.a.ocspValidity()
		w.Header().Set("Cache-Control", fmt.Sprintf("max-age=%d, public, no-transform, must-revalidate", int64(validity/time.Second)))
		w.Header().Set("Last-Modified", thisUpdate.Format(http.TimeFormat))
		w.Header().Set("Expires", thisUpdate.Add(validity).Format(http.TimeFormat))
	}
	writeOCSP(w, resp)
}

// decodeGETRequest decodes the path of a GET request: "/" then the base64 of the DER
// request, already URL-decoded by net/http. It accepts what clients send: standard
// base64 with or without padding, "+" turned into a space by a form encoder, and the URL
// alphabet.
func decodeGETRequest(path string) ([]byte, error) {
	s := strings.ReplaceAll(strings.TrimPrefix(path, "/"), " ", "+")
	if s == "" {
		return nil, errors.New("no request in the URL path")
	}
	if len(s) > base64.StdEncoding.EncodedLen(MaxRequestSize) {
		return nil, fmt.Errorf("a request of %d base64 characters, more than %d", len(s), base64.StdEncoding.EncodedLen(MaxRequestSize))
	}
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		var der []byte
		if der, err = enc.DecodeString(s); err == nil {
			return der, nil
		}
	}
	return nil, fmt.Errorf("the URL path is not base64: %w", err)
}

func writeOCSP(w http.ResponseWriter, der []byte) {
	w.Header().Set("Content-Type", ContentTypeOCSPResponse)
	w.Header().Set("Content-Length", strconv.Itoa(len(der)))
	_, _ = w.Write(der)
}

// CRLHandler serves the CRL current returns (DER) to GET and HEAD, with Content-Type
// application/pkix-crl. When current fails or has no CRL yet it answers 503 Service
// Unavailable.
func CRLHandler(current func() ([]byte, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "use GET", http.StatusMethodNotAllowed)
			return
		}
		der, err := current()
		if err == nil && len(der) == 0 {
			err = errors.New("no CRL has been generated yet")
		}
		if err != nil {
			klog.ErrorS(err, "CRL not available")
			http.Error(w, "the CRL is not available yet; try again later", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", ContentTypeCRL)
		w.Header().Set("Content-Length", strconv.Itoa(len(der)))
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(der)
	})
}

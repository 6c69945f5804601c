package console

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/cli"
)

// TestGuard: the login secret works once; without the session nothing but the login and
// the assets answers; a POST needs the session's CSRF token, JSON, and a same-origin
// request; another Host is refused; every response carries the security headers.
func TestGuard(t *testing.T) {
	const host = "127.0.0.1:8080"
	g := newGuard([]string{host})
	reached := 0
	h := g.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/login" {
			g.login(w, r)
			return
		}
		reached++
	}))
	do := func(method, target string, header http.Header, body string) *httptest.ResponseRecorder {
		t.Helper()
		r := httptest.NewRequest(method, "http://"+host+target, strings.NewReader(body))
		for k, v := range header {
			r.Header[k] = v
		}
		if hh := header.Get("Host"); hh != "" {
			r.Host = hh
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if got := w.Header().Get("Content-Security-Policy"); got != contentSecurityPolicy {
			t.Errorf("%s %s: Content-Security-Policy %q", method, target, got)
		}
		for k, want := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store", "X-Frame-Options": "DENY"} {
			if got := w.Header().Get(k); got != want {
				t.Errorf("%s %s: %s %q, want %q", method, target, k, got, want)
			}
		}
		return w
	}

	if w := do("GET", "/api/session", nil, ""); w.Code != http.StatusUnauthorized {
		t.Errorf("no session: %d", w.Code)
	}
	if w := do("GET", "/login?secret=nope", nil, ""); w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "not valid") {
		t.Errorf("a wrong secret: %d %s", w.Code, w.Body)
	}
	secret := g.loginSecret()
	if w := do("GET", "/login?secret="+secret, http.Header{"Host": {"evil.example:8080"}}, ""); w.Code != http.StatusMisdirectedRequest {
		t.Errorf("another Host: %d", w.Code)
	}
	w := do("GET", "/login?secret="+secret, nil, "")
	token, ok := strings.CutPrefix(w.Header().Get("Location"), "/#t=")
	if w.Code != http.StatusSeeOther || !ok || len(token) != 64 {
		t.Fatalf("login: %d %v", w.Code, w.Header())
	}
	cookie := w.Result().Cookies()[0]
	if !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Name != sessionCookie {
		t.Errorf("session cookie %+v", cookie)
	}
	if w := do("GET", "/login?secret="+secret, nil, ""); w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "used already") {
		t.Errorf("the secret a second time: %d %s", w.Code, w.Body)
	}

	// The cookie opens the page; the API needs the token too (a page on another port of
	// this host gets the cookie, never the token).
	session := http.Header{"Cookie": {cookie.Name + "=" + cookie.Value}}
	if w := do("GET", "/", session, ""); w.Code != http.StatusOK || reached != 1 {
		t.Errorf("the page with the session: %d, reached %d", w.Code, reached)
	}
	if w := do("GET", "/api/session", session, ""); w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "session's token") || reached != 1 {
		t.Errorf("the API with the cookie alone: %d %s", w.Code, w.Body)
	}
	withToken := http.Header{"Cookie": session["Cookie"], tokenHeader: {token}}
	if w := do("GET", "/api/session", withToken, ""); w.Code != http.StatusOK || reached != 2 {
		t.Errorf("the API with the session and its token: %d, reached %d", w.Code, reached)
	}
	if w := do("GET", "/api/events?t="+token, session, ""); w.Code != http.StatusOK || reached != 3 {
		t.Errorf("the event stream with its token in the query: %d", w.Code)
	}
	if w := do("GET", "/api/session?t="+token, session, ""); w.Code != http.StatusForbidden {
		t.Errorf("the token in the query of another API path: %d", w.Code)
	}
	if w := do("GET", "/api/session", http.Header{"Cookie": {cookie.Name + "=" + strings.Repeat("0", 64)}, tokenHeader: {token}}, ""); w.Code != http.StatusUnauthorized {
		t.Errorf("a forged session: %d", w.Code)
	}

	post := func(extra http.Header) *httptest.ResponseRecorder {
		hd := http.Header{"Cookie": session["Cookie"], "Content-Type": {"application/json"}, tokenHeader: {token}}
		for k, v := range extra {
			hd[k] = v
		}
		return do("POST", "/api/csrs/x/approve", hd, "{}")
	}
	before := reached
	for name, tc := range map[string]struct {
		header http.Header
		want   string
	}{
		"no token":        {http.Header{tokenHeader: {""}}, "session's token"},
		"wrong token":     {http.Header{tokenHeader: {"x" + token[1:]}}, "session's token"},
		"form body":       {http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, "not JSON"},
		"other origin":    {http.Header{"Origin": {"http://127.0.0.1:9999"}}, "another origin"},
		"same-site fetch": {http.Header{"Sec-Fetch-Site": {"same-site"}}, "another site"},
	} {
		if w := post(tc.header); w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), tc.want) {
			t.Errorf("%s: %d %s", name, w.Code, w.Body)
		}
	}
	if reached != before {
		t.Errorf("a refused POST reached the handler")
	}
	if w := post(http.Header{"Origin": {"http://" + host}, "Sec-Fetch-Site": {"same-origin"}}); w.Code != http.StatusOK || reached != before+1 {
		t.Errorf("the page's own POST: %d", w.Code)
	}
	if w := do("DELETE", "/api/csrs/x", withToken, ""); w.Code != http.StatusMethodNotAllowed {
		t.Errorf("DELETE: %d", w.Code)
	}
}

func TestCheckLoopback(t *testing.T) {
	for _, ok := range []string{"127.0.0.1:8080", "127.0.0.2:0", "[::1]:8080", "localhost:9090"} {
		if _, _, err := checkLoopback(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for addr, want := range map[string]string{
		"0.0.0.0:8080":     "is not a loopback address",
		"192.168.1.5:8080": "ssh -L 8080:127.0.0.1:8080",
		":8080":            "is not a loopback address",
		"example.com:80":   "is not a loopback address",
		"127.0.0.1":        "is not HOST:PORT",
		"127.0.0.1:http":   "is not a number",
	} {
		if _, _, err := checkLoopback(addr); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", addr, err, want)
		}
	}
}

func TestSearchSelector(t *testing.T) {
	for _, tc := range []struct {
		s       search
		want    string
		wantErr string
	}{
		{s: search{}, want: ""},
		{s: search{By: "cn", Q: "alice"}, want: "spec.commonName=alice"},
		{s: search{By: "serial", Q: "0A:BC"}, want: "spec.serialNumber=abc"},
		{s: search{By: "fingerprint", Q: "AB:CD"}, want: "spec.sha256Fingerprint=abcd"},
		{s: search{By: "cn", Q: "a,b=c"}, want: `spec.commonName=a\,b\=c`},
		{s: search{By: "uid", Q: "x"}, wantErr: "use cn, serial, csr, signer or fingerprint"},
		{s: search{By: "serial", Q: "zz"}, wantErr: "not a hexadecimal serial"},
	} {
		got, err := tc.s.selector()
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%+v: %v, want %q", tc.s, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%+v: %q %v, want %q", tc.s, got, err, tc.want)
		}
	}
}

func TestCertificateState(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	record := func(lifetime, left time.Duration, revoked bool) *kcsrv1alpha1.IssuedCertificate {
		ic := &kcsrv1alpha1.IssuedCertificate{}
		ic.Spec.NotAfter = metav1.NewTime(now.Add(left))
		ic.Spec.NotBefore = metav1.NewTime(now.Add(left - lifetime))
		if revoked {
			ic.Status.Revocation = &kcsrv1alpha1.Revocation{Reason: "keyCompromise"}
		}
		return ic
	}
	day := 24 * time.Hour
	for _, tc := range []struct {
		name           string
		lifetime, left time.Duration
		revoked        bool
		want           string
	}{
		{"a year, 100 days left", 365 * day, 100 * day, false, stateValid},
		{"a year, 29 days left", 365 * day, 29 * day, false, stateExpiring},
		{"a day, 8 hours left", day, 8 * time.Hour, false, stateValid},
		{"a day, 7 hours left", day, 7 * time.Hour, false, stateExpiring},
		{"expired", day, -time.Second, false, stateExpired},
		{"revoked and expired", day, -time.Second, true, stateRevoked},
	} {
		if got := certificateState(record(tc.lifetime, tc.left, tc.revoked), now); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

// TestStartUnreachable: an API server that cannot be reached is an error that says so,
// not a console with an empty queue.
func TestStartUnreachable(t *testing.T) {
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "none"))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	o := &Options{Conn: cli.Connection{Server: "https://" + addr, Token: "x"}, Address: "127.0.0.1:0"}
	if _, err := o.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "cannot reach the API server at https://"+addr) {
		t.Errorf("Start = %v, want cannot reach", err)
	}
}

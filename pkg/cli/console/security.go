package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strings"
	"sync"
)

const (
	// sessionCookie holds the session id after the login.
	sessionCookie = "kcsr_console"
	// tokenHeader carries the session's token on every API request; tokenParam carries it
	// on the event stream (EventSource sends no headers).
	tokenHeader = "X-Kcsr-Token"
	tokenParam  = "t"
	// contentSecurityPolicy lets the page load its script, style and data from the
	// console only: no inline script, no other origin, no framing, no form posts.
	contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

// randomToken is 32 random bytes, hex.
func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return hex.EncodeToString(b)
}

// guard is the console's access control: the one-time login secret, the sessions it
// opened, their CSRF tokens, and the hosts a request may name.
type guard struct {
	hosts map[string]bool

	mu       sync.Mutex
	secret   string            // "" once spent
	sessions map[string]string // session id → CSRF token
}

func newGuard(hosts []string) *guard {
	g := &guard{hosts: map[string]bool{}, secret: randomToken(), sessions: map[string]string{}}
	for _, h := range hosts {
		g.hosts[h] = true
	}
	return g
}

// loginSecret is the secret the printed URL carries.
func (g *guard) loginSecret() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.secret
}

// login spends the secret: the first request that presents it gets a session.
func (g *guard) login(w http.ResponseWriter, r *http.Request) {
	presented := r.URL.Query().Get("secret")
	g.mu.Lock()
	valid := g.secret != "" && subtle.ConstantTimeCompare([]byte(presented), []byte(g.secret)) == 1
	if valid {
		g.secret = ""
	}
	var session string
	if valid {
		session = randomToken()
		g.sessions[session] = randomToken()
	}
	spent := g.secret == ""
	g.mu.Unlock()
	if !valid {
		msg := "This login link is not valid: open the URL kcsr console printed."
		if spent {
			msg = "This login link was used already (it works once): restart kcsr console for a new one."
		}
		http.Error(w, msg, http.StatusForbidden)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: session, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
	// The token goes in the fragment, which the browser never sends: the page keeps it
	// in its origin's storage (scheme, host and port), out of reach of a page on another
	// port of this host, to which the browser would send the cookie.
	g.mu.Lock()
	token := g.sessions[session]
	g.mu.Unlock()
	http.Redirect(w, r, "/#"+tokenParam+"="+token, http.StatusSeeOther)
}

// token returns the token of r's session, "" without a valid session.
func (g *guard) token(r *http.Request) string {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return ""
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for id, token := range g.sessions {
		if subtle.ConstantTimeCompare([]byte(c.Value), []byte(id)) == 1 {
			return token
		}
	}
	return ""
}

// headers sets the security headers of every response.
func headers(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
}

// wrap is the middleware in front of every handler: the headers, the Host check, then
// for everything but the login and the assets a session; for every API request the
// session's token too (the cookie alone is not enough: browsers send it to every port of
// the host), and for every POST a JSON body and a same-origin request.
func (g *guard) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		headers(w)
		if !g.hosts[r.Host] {
			http.Error(w, "kcsr console answers only at the address it printed", http.StatusMisdirectedRequest)
			return
		}
		if r.URL.Path == "/login" || strings.HasPrefix(r.URL.Path, "/assets/") {
			if r.Method != http.MethodGet {
				http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		token := g.token(r)
		if token == "" {
			http.Error(w, "Not logged in: open the URL kcsr console printed (it carries a one-time login secret).", http.StatusUnauthorized)
			return
		}
		if strings.HasPrefix(r.URL.Path, "/api/") {
			presented := r.Header.Get(tokenHeader)
			if r.URL.Path == "/api/events" && presented == "" {
				presented = r.URL.Query().Get(tokenParam)
			}
			if subtle.ConstantTimeCompare([]byte(presented), []byte(token)) != 1 {
				writeError(w, http.StatusForbidden, "refused: the request does not carry this session's token")
				return
			}
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead:
		case http.MethodPost:
			if reason := refuseForged(r); reason != "" {
				writeError(w, http.StatusForbidden, "refused: "+reason)
				return
			}
		default:
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// refuseForged says why a POST (which carries the session's token) is not the console
// page's own ("" when it is).
func refuseForged(r *http.Request) string {
	if r.Header.Get(tokenHeader) == "" {
		return "the token must come in the " + tokenHeader + " header"
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return "the request's body is not JSON"
	}
	if o := r.Header.Get("Origin"); o != "" && o != "http://"+r.Host {
		return "the request comes from another origin (" + o + ")"
	}
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" && s != "same-origin" {
		return "the request comes from another site (Sec-Fetch-Site: " + s + ")"
	}
	return ""
}

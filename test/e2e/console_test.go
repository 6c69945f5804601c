package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"kcsr.dev/kcsr/test/e2e/framework"
)

// createCSR creates a CSR for CN=cn, O=orgs with kubectl.
func createCSR(t *testing.T, kc, dir, name, cn string, orgs []string, signer string, usages ...string) {
	t.Helper()
	req := framework.GoCSR(t, dir, fmt.Sprintf("key%d", time.Now().UnixNano()), cn, orgs, nil, nil)
	framework.MustKubectl(t, kc, "create", "-f", framework.WriteFile(t, dir, fmt.Sprintf("csr%d.yaml", time.Now().UnixNano()),
		framework.CSRManifest(strconv.Quote(name), req, signer, 86400, usages...)))
}

// jsString is s as a JavaScript string literal.
func jsString(s string) string { return strconv.Quote(s) }

// TestConsole drives kcsr console in headless Chromium as an approver would (issue 17):
// log in with the printed secret, see a pending CSR appear without a reload, approve it
// and see it Issued, deny one with a reason, confirm an approval the signer will refuse
// and see it Failed, revoke from the inventory, read the charts; a name made of markup
// renders as text; another origin's page cannot make the logged-in browser approve.
func TestConsole(t *testing.T) {
	s := framework.StartServer(t, "")
	kc := s.Kubeconfig
	dir := t.TempDir()
	_, login, base := framework.StartConsole(t, kc)

	b := framework.StartBrowser(t)
	b.Do("log in", chromedp.Navigate(login), chromedp.WaitVisible(chromedp.CSS("#queue-table")))
	if loc := framework.Eval[string](b, "location.href"); strings.Contains(loc, "secret=") {
		t.Errorf("after the login the page is at %s: the secret stays in the address bar and history", loc)
	}
	b.WaitFor("the queue is live", `document.getElementById('status').textContent.startsWith('Live')`, 30*time.Second)
	if got := b.Text("#user"); got != "kcsr-admin" {
		t.Errorf("the page acts as %q, want kcsr-admin", got)
	}
	// A mark on the window: a reload would clear it.
	framework.Eval[bool](b, "window.kcsrTestMark = true")

	// A pending CSR appears without a reload, decoded.
	createCSR(t, kc, dir, "alice", "alice", []string{"dev"}, clientSigner, "client auth")
	b.WaitFor("alice appears in the queue", `document.querySelector('#queue-body tr[data-id="alice"]') !== null`, 30*time.Second)
	row := b.Text(`#queue-body tr[data-id="alice"]`)
	for _, want := range []string{"alice", "CN=alice", "O=dev", "ECDSA P-256", "client auth", clientSigner, "24h", "kcsr-admin", "system:masters", "Pending", "no approval policy covers signer"} {
		if !strings.Contains(row, want) {
			t.Errorf("the queue's row of alice lacks %q: %q", want, row)
		}
	}
	if !framework.Eval[bool](b, "window.kcsrTestMark === true") {
		t.Error("the page reloaded to show the new CSR")
	}

	// Detail: doctor's findings, then Approve; the result comes live.
	b.Do("open alice", chromedp.Click(chromedp.CSS(`#queue-body tr[data-id="alice"] a`)), chromedp.WaitVisible(chromedp.CSS("#approve")))
	b.WaitFor("doctor's findings shown", `document.querySelectorAll('#detail-findings li').length > 0`, 30*time.Second)
	findings := b.Text("#detail-findings")
	if !strings.Contains(findings, "spec.request") || !strings.Contains(findings, "follow the rules of "+clientSigner) {
		t.Errorf("findings of alice: %q", findings)
	}
	if fields := b.Text("#detail-fields"); !strings.Contains(fields, "Requester credential") || !strings.Contains(fields, "Request signature") {
		t.Errorf("description of alice: %q", fields)
	}
	b.Screenshot("console-detail")
	b.Do("approve alice", chromedp.Click(chromedp.CSS("#approve")))
	b.WaitFor("alice shows Issued", `document.getElementById('detail-state').textContent === 'Issued'`, 30*time.Second)
	if got := framework.MustKubectl(t, kc, "get", "csr", "alice", "-o", `jsonpath={.status.conditions[?(@.type=="Approved")].reason}`); got != "KcsrConsoleApprove" {
		t.Errorf("alice's Approved reason = %q, want KcsrConsoleApprove", got)
	}
	framework.WaitIssued(t, kc, "alice")

	// Deny with a reason.
	createCSR(t, kc, dir, "bob", "bob", nil, clientSigner, "client auth")
	b.OpenCSR(base, "bob")
	b.Do("deny without a reason", chromedp.Click(chromedp.CSS("#deny")))
	if got := b.Text("#detail-result"); !strings.Contains(got, "Say why") {
		t.Errorf("deny without a reason: %q", got)
	}
	b.Do("deny bob", chromedp.SendKeys(chromedp.CSS("#deny-message"), "not a member of the team"), chromedp.Click(chromedp.CSS("#deny")))
	b.WaitFor("bob shows Denied", `document.getElementById('detail-state').textContent === 'Denied'`, 30*time.Second)
	if got := framework.MustKubectl(t, kc, "get", "csr", "bob", "-o", `jsonpath={.status.conditions[?(@.type=="Denied")].message}`); got != "not a member of the team" {
		t.Errorf("bob's denial message = %q", got)
	}

	// An approval doctor says will fail asks first; cancelled, nothing changes; confirmed,
	// the CSR ends Failed with the signer's message.
	createCSR(t, kc, dir, "doomed", "doomed", nil, clientSigner, "client auth", "server auth")
	b.OpenCSR(base, "doomed")
	b.WaitFor("the warning is shown before the buttons", `!document.getElementById('detail-warnings').hidden`, 30*time.Second)
	b.Do("approve doomed", chromedp.Click(chromedp.CSS("#approve")), chromedp.WaitVisible(chromedp.CSS("#confirm-panel")))
	if got := b.Text("#confirm-list"); !strings.Contains(got, "would refuse it after approval") {
		t.Errorf("confirmation of doomed: %q", got)
	}
	b.Do("cancel", chromedp.Click(chromedp.CSS("#confirm-cancel")), chromedp.WaitNotVisible(chromedp.CSS("#confirm-panel")))
	if got := framework.MustKubectl(t, kc, "get", "csr", "doomed", "-o", "jsonpath={.status.conditions}"); got != "" {
		t.Errorf("doomed changed after a cancelled approval: %s", got)
	}
	b.Do("approve doomed, confirmed", chromedp.Click(chromedp.CSS("#approve")), chromedp.WaitVisible(chromedp.CSS("#confirm-approve")), chromedp.Click(chromedp.CSS("#confirm-approve")))
	b.WaitFor("doomed shows Failed", `document.getElementById('detail-state').textContent === 'Failed'`, 30*time.Second)
	if got := b.Text("#detail-condition"); !strings.Contains(got, "Failed") {
		t.Errorf("doomed's condition: %q", got)
	}

	// system:masters asks too, before the buttons.
	createCSR(t, kc, dir, "root", "root", []string{"system:masters"}, "example.com/internal", "client auth")
	b.OpenCSR(base, "root")
	b.WaitFor("root's warnings", `!document.getElementById('detail-warnings').hidden`, 30*time.Second)
	if got := b.Text("#detail-warning-list"); !strings.Contains(got, "system:masters") || !strings.Contains(got, "superuser") {
		t.Errorf("root's warnings: %q", got)
	}

	// A name made of markup is text: no element made of it, no script run.
	const xss = `<img src=x onerror=alert(1)>`
	createCSR(t, kc, dir, xss, xss, []string{`"><script>alert(2)</script>`}, clientSigner, "client auth")
	b.Do("back to the queue", chromedp.Navigate(base+"/#queue"), chromedp.WaitVisible(chromedp.CSS("#queue-table")))
	b.WaitFor("the markup-named CSR appears", fmt.Sprintf(`[...document.querySelectorAll('#queue-body tr')].some(r => r.getAttribute('data-id') === %s)`, jsString(xss)), 30*time.Second)
	b.Screenshot("console-queue")
	if n := framework.Eval[int](b, `document.querySelectorAll('main img, main script').length`); n != 0 {
		t.Errorf("the page holds %d img/script elements: a CSR's name or subject was rendered as HTML", n)
	}
	if got := b.Text("#queue-body"); !strings.Contains(got, xss) || !strings.Contains(got, `"><script>alert(2)</script>`) {
		t.Errorf("the queue does not show the name as text: %q", got)
	}
	b.OpenCSR(base, xss)
	select {
	case msg := <-b.Dialogs:
		t.Errorf("a script from a CSR ran: dialog %q", msg)
	default:
	}

	// Inventory: search alice's certificate, revoke it, see the state change.
	b.Do("inventory", chromedp.Click(chromedp.CSS("#nav-inventory")), chromedp.WaitVisible(chromedp.CSS("#inv-form")))
	b.Do("search alice", chromedp.SetValue(chromedp.CSS("#inv-by"), "csr"), chromedp.SetValue(chromedp.CSS("#inv-q"), "alice"), chromedp.Click(chromedp.CSS("#inv-search")))
	b.WaitFor("alice's certificate is listed", `document.querySelectorAll('#inv-body tr').length === 1 && document.querySelector('#inv-body tr .revoke') !== null`, 30*time.Second)
	if got := b.Text("#inv-body"); !strings.Contains(got, "CN=alice") || !strings.Contains(got, "valid") {
		t.Errorf("inventory row of alice: %q", got)
	}
	b.Screenshot("console-inventory")
	b.Do("revoke alice", chromedp.Click(chromedp.CSS("#inv-body tr .revoke")), chromedp.WaitVisible(chromedp.CSS("#revoke-panel")),
		chromedp.SetValue(chromedp.CSS("#revoke-reason"), "keyCompromise"), chromedp.SendKeys(chromedp.CSS("#revoke-message"), "laptop stolen"),
		chromedp.Click(chromedp.CSS("#revoke-confirm")))
	b.WaitFor("alice's certificate shows revoked", `document.querySelector('#inv-body tr .badge').textContent === 'revoked'`, 30*time.Second)
	if got := b.Text("#inv-body"); !strings.Contains(got, "keyCompromise: laptop stolen (by kcsr-admin)") {
		t.Errorf("revoked row: %q", got)
	}
	if got := framework.MustKubectl(t, kc, "get", "issuedcertificates", "--field-selector", "spec.csrName=alice", "-o", "jsonpath={.items[0].status.revocation.reason}"); got != "keyCompromise" {
		t.Errorf("alice's record revocation reason = %q", got)
	}

	// Charts: expiries per signer and the last 24 hours (carol's certificate is valid for
	// a day; alice's is revoked, and the server's own expire later than 90 days).
	createCSR(t, kc, dir, "carol", "carol", nil, clientSigner, "client auth")
	framework.Kcsr(t, kc, "approve", "carol")
	framework.WaitIssued(t, kc, "carol")
	b.Do("charts", chromedp.Click(chromedp.CSS("#nav-charts")), chromedp.WaitVisible(chromedp.CSS("#chart-expiring")))
	b.WaitFor("the charts are drawn", `document.querySelectorAll('#chart-expiring svg rect').length > 0 && document.querySelectorAll('#chart-activity svg rect[data-series="issued"]').length > 0 && document.querySelectorAll('#chart-activity svg rect[data-series="denied"]').length > 0`, 30*time.Second)
	if got := b.Text("#legend-expiring"); !strings.Contains(got, clientSigner+" (1)") {
		t.Errorf("legend of the expiry chart: %q", got)
	}
	b.Screenshot("console-charts")

	createCSR(t, kc, dir, "victim", "victim", nil, clientSigner, "client auth")
	// Another origin's page posting to the console (a classic CSRF): refused, nothing
	// changes.
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<!DOCTYPE html><body><form id=f method=POST action="%s/api/csrs/victim/approve" enctype="text/plain"><input name='{"confirm":true,"x":"' value='"}'></form><script>
fetch(%q, {method: 'POST', mode: 'no-cors', credentials: 'include', body: '{"confirm":true}'}).finally(() => document.getElementById('f').submit());
</script></body>`, base, base+"/api/csrs/victim/approve")
	}))
	defer evil.Close()
	b.Do("visit another origin's page", chromedp.Navigate(evil.URL))
	time.Sleep(2 * time.Second)
	if got := framework.MustKubectl(t, kc, "get", "csr", "victim", "-o", "jsonpath={.status.conditions}"); got != "" {
		t.Errorf("victim changed after another origin's POST: %s", got)
	}
}

// TestConsoleGuards: the console's defences (issue 17 item 1, 7). The login link works
// once; a request without the session, at another Host, or a POST without the CSRF token
// (from the page itself, or from another origin's page) is refused before the API is
// called; a user without approve and revoke sees no buttons, and the API refuses them
// even with the token.
func TestConsoleGuards(t *testing.T) {
	s := framework.StartServer(t, "")
	kc := s.Kubeconfig
	dir := t.TempDir()
	createCSR(t, kc, dir, "pending1", "pending1", nil, clientSigner, "client auth")
	createCSR(t, kc, dir, "issued1", "issued1", nil, clientSigner, "client auth")
	framework.Kcsr(t, kc, "approve", "issued1")
	framework.WaitIssued(t, kc, "issued1")

	// A viewer: may read CSRs and the inventory, not approve or revoke.
	framework.MustKubectl(t, kc, "create", "clusterrole", "csr-viewer", "--verb=get,list,watch",
		"--resource=certificatesigningrequests.certificates.k8s.io,issuedcertificates.kcsr.dev")
	framework.MustKubectl(t, kc, "create", "clusterrolebinding", "csr-viewer", "--clusterrole=csr-viewer", "--user=viewer")
	cert, key := s.ClientCert(t, dir, "viewer", "/CN=viewer")
	viewerKC := s.UserKubeconfig(t, dir, "viewer", "--client-certificate", cert, "--client-key", key)

	_, login, base := framework.StartConsole(t, viewerKC)
	get := func(path string, header http.Header) (int, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range header {
			req.Header[k] = v
		}
		if h := header.Get("Host"); h != "" {
			req.Host = h
		}
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("GET %s: Content-Security-Policy %q", path, csp)
		}
		return res.StatusCode, string(body)
	}
	if code, body := get("/api/session", nil); code != http.StatusUnauthorized || !strings.Contains(body, "one-time login secret") {
		t.Errorf("without a session: %d %s", code, body)
	}
	if code, _ := get("/login?secret="+strings.Repeat("0", 64), nil); code != http.StatusForbidden {
		t.Errorf("a wrong secret: %d", code)
	}
	if code, _ := get(strings.TrimPrefix(login, base), http.Header{"Host": {"kcsr.attacker.example"}}); code != http.StatusMisdirectedRequest {
		t.Errorf("another Host (DNS rebinding): %d", code)
	}

	b := framework.StartBrowser(t)
	b.Do("log in as viewer", chromedp.Navigate(login), chromedp.WaitVisible(chromedp.CSS("#queue-table")))
	if got := b.Text("#user"); got != "viewer" {
		t.Errorf("the page acts as %q, want viewer", got)
	}
	// The link is spent.
	if code, body := get(strings.TrimPrefix(login, base), nil); code != http.StatusForbidden || !strings.Contains(body, "used already") {
		t.Errorf("the login link a second time: %d %s", code, body)
	}

	// No buttons for who may not approve or revoke.
	b.OpenCSR(base, "pending1")
	if !framework.Eval[bool](b, `document.getElementById('detail-actions').hidden`) {
		t.Error("a viewer sees the Approve and Deny buttons")
	}
	b.Do("inventory", chromedp.Navigate(base+"/#inventory"), chromedp.WaitVisible(chromedp.CSS("#inv-form")))
	b.WaitFor("the inventory is listed", `document.querySelectorAll('#inv-body tr').length >= 1`, 30*time.Second)
	if n := framework.Eval[int](b, `document.querySelectorAll('#inv-body .revoke').length`); n != 0 {
		t.Errorf("a viewer sees %d Revoke buttons", n)
	}

	// Forged POSTs from the page: without the CSRF token refused by the console; with it,
	// refused by RBAC (the console acts as the viewer).
	post := func(withToken bool) string {
		token := `''`
		if withToken {
			token = `localStorage.getItem('kcsr-console-token')`
		}
		return framework.Eval[string](b, `(async () => {
			const t = localStorage.getItem('kcsr-console-token');
			const uid = (await (await fetch('/api/csrs/pending1', {headers: {'X-Kcsr-Token': t}})).json()).summary.uid;
			const r = await fetch('/api/csrs/pending1/approve', {method: 'POST', headers: {'Content-Type': 'application/json', 'X-Kcsr-Token': `+token+`}, body: JSON.stringify({confirm: true, uid})});
			return r.status + ' ' + await r.text();
		})()`)
	}
	if got := post(false); !strings.HasPrefix(got, "403 ") || !strings.Contains(got, "session's token") {
		t.Errorf("a POST without the session's token: %s", got)
	}
	// The page holds no token in its markup: a page that can read it (another port of
	// this host gets the cookie) finds nothing.
	if html := framework.Eval[string](b, `fetch('/').then(r => r.text())`); strings.Contains(html, framework.Eval[string](b, `localStorage.getItem('kcsr-console-token')`)) {
		t.Error("the page's HTML carries the session's token")
	}
	if got := post(true); !strings.HasPrefix(got, "403 ") || !strings.Contains(got, "you may not approve") {
		t.Errorf("a viewer's approve with the token: %s", got)
	}

}

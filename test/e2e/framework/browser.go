package framework

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// consoleURL is the login URL kcsr console prints.
var consoleURL = regexp.MustCompile(`http://127\.0\.0\.1:\d+/login\?secret=[0-9a-f]{64}`)

// StartConsole runs kcsr console for kubeconfig on a free loopback port and returns it,
// its login URL and its base URL.
func StartConsole(t testing.TB, kubeconfig string) (p *Process, login, base string) {
	t.Helper()
	p = StartProcess(t, Binary(t), "console", "--kubeconfig", kubeconfig, "--address", "127.0.0.1:0")
	Eventually(t, time.Minute, "kcsr console prints its URL", func() bool {
		login = consoleURL.FindString(p.Stdout())
		return login != "" || p.Exited()
	})
	if login == "" {
		t.Fatalf("kcsr console printed no URL:\n%s\n%s", p.Stdout(), p.Stderr())
	}
	return p, login, strings.Split(login, "/login")[0]
}

// OpenCSR shows the CSR name in the console page at base and waits until it is loaded.
func (b *Browser) OpenCSR(base, name string) {
	b.t.Helper()
	b.Do("open "+name, chromedp.Navigate(base+"/#csr/"+url.PathEscape(name)))
	b.WaitFor(name+" is shown", fmt.Sprintf(`document.getElementById('detail-name').textContent === %s && document.querySelectorAll('#detail-fields dt').length > 0`, strconv.Quote(name)), 30*time.Second)
}

// ChromiumPath is the browser the console tests drive: $KCSR_E2E_CHROMIUM, else Debian's
// chromium (hack/install-deps.sh installs it).
func ChromiumPath(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("KCSR_E2E_CHROMIUM"); p != "" {
		return p
	}
	p, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium is not installed: run hack/install-deps.sh (Debian's chromium package), or set KCSR_E2E_CHROMIUM to a Chromium binary")
	}
	return p
}

// Browser is a headless Chromium with its own profile (cookies), driven with chromedp.
type Browser struct {
	t   testing.TB
	Ctx context.Context
	// Dialogs counts JavaScript dialogs (alert, confirm) the pages opened; each is
	// dismissed.
	Dialogs chan string
}

// StartBrowser starts a headless Chromium for the test, with a new empty profile and the
// flags that keep it off the network (no background connections, component updates or
// sync). When the test fails, the page is saved as a screenshot in ScreenshotDir.
func StartBrowser(t testing.TB) *Browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(ChromiumPath(t)),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1400, 1000),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	b := &Browser{t: t, Ctx: ctx, Dialogs: make(chan string, 16)}
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	go func() {
		for ev, err := range chromedp.Events(ctx, page.JavascriptDialogOpening) {
			if err != nil {
				return
			}
			select {
			case b.Dialogs <- ev.Message:
			default:
			}
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
	t.Cleanup(func() {
		if t.Failed() {
			b.Screenshot("failed-" + t.Name())
		}
		cancel()
		cancelAlloc()
	})
	return b
}

// ScreenshotDir is where Screenshot writes: $KCSR_E2E_SCREENSHOTS, else a directory under
// the system's temporary directory.
func ScreenshotDir() string {
	if d := os.Getenv("KCSR_E2E_SCREENSHOTS"); d != "" {
		return d
	}
	return filepath.Join(os.TempDir(), "kcsr-e2e-screenshots")
}

var unsafeFileChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// Screenshot saves the whole page as ScreenshotDir/NAME.png and logs where.
func (b *Browser) Screenshot(name string) string {
	ctx, cancel := context.WithTimeout(b.Ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return ""
	}
	dir := ScreenshotDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return ""
	}
	path := filepath.Join(dir, unsafeFileChars.ReplaceAllString(name, "_")+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return ""
	}
	b.t.Logf("screenshot: %s", path)
	return path
}

// Do runs chromedp actions with a timeout, failing the test with what failed.
func (b *Browser) Do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// Text returns the text of the first element matching the CSS selector sel, once it is
// visible.
func (b *Browser) Text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, 30*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible))
	if err != nil {
		b.t.Fatalf("read %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// Eval evaluates the JavaScript expression expr in b's page, awaiting a promise, and
// returns its value as T.
func Eval[T any](b *Browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// WaitFor polls the JavaScript condition cond (an expression) until it is true.
func (b *Browser) WaitFor(what, cond string, timeout time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(b.Ctx, 10*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("Boolean("+cond+")"))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("%s: not within %s (%s; last error %v)", what, timeout, cond, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

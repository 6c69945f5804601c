package request

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	testingclock "k8s.io/utils/clock/testing"
)

func TestProgressPlain(t *testing.T) {
	var out bytes.Buffer
	p := NewProgress(&out, testingclock.NewFakeClock(t0))
	p.Printf("Pending: %s", "waiting")
	p.Status("Pending: waiting for approval")
	p.Printf("Approved: ok")
	p.Stop()
	if diff := cmp.Diff("Pending: waiting\nApproved: ok\n", out.String()); diff != "" {
		t.Errorf("not a terminal: lines only (-want +got):\n%s", diff)
	}
}

func TestProgressSpinner(t *testing.T) {
	var out bytes.Buffer
	clk := testingclock.NewFakeClock(t0)
	p := &Progress{out: &out, tty: true, width: 30, clock: clk}
	p.Status("Pending: waiting for approval")
	for !clk.HasWaiters() {
		time.Sleep(time.Millisecond)
	}
	clk.Step(1500 * time.Millisecond) // one tick: the next frame, 1s elapsed
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(readLocked(p, &out), "⠙") && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	p.Printf("Approved: ok")
	p.Stop()
	// The spinner line is cut to one line of the terminal's 30 columns.
	want := "\r\x1b[K⠋ Pending: waiting for approv" +
		"\r\x1b[K⠙ Pending: waiting for approv" +
		"\r\x1b[KApproved: ok\n" +
		"\r\x1b[K⠙ Pending: waiting for approv" +
		"\r\x1b[K"
	got := out.String()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func readLocked(p *Progress, out *bytes.Buffer) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return out.String()
}

package request

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"
	"k8s.io/utils/clock"
)

// Progress shows a wait. Every state change is a line of its own; on a terminal a spinner
// with the elapsed time runs on the last line in between, elsewhere (a pipe, a log, a CI
// job) nothing else is printed.
type Progress struct {
	out   io.Writer
	tty   bool
	width int // of the terminal; 0 if unknown
	clock clock.WithTicker

	mu       sync.Mutex
	status   string
	since    time.Time
	frame    int
	stop     chan struct{}
	finished chan struct{}
}

var spinnerFrames = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// NewProgress writes to out; it spins when out is a terminal.
func NewProgress(out io.Writer, clk clock.WithTicker) *Progress {
	p := &Progress{out: out, clock: clk}
	if f, ok := out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = true
		if w, _, err := term.GetSize(int(f.Fd())); err == nil {
			p.width = w
		}
	}
	return p
}

// Printf prints a line that stays.
func (p *Progress) Printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
	fmt.Fprintf(p.out, format+"\n", args...)
	p.drawLocked()
}

// Status sets what the spinner says while nothing changes, and starts it (on a terminal).
// The elapsed time it shows counts from the first Status after Stop.
func (p *Progress) Status(status string) {
	if !p.tty {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.status = status
	if p.stop == nil {
		p.since = p.clock.Now()
		p.stop, p.finished = make(chan struct{}), make(chan struct{})
		go p.spin(p.stop, p.finished)
	}
	p.drawLocked()
}

// Stop stops the spinner and clears its line; Printf and Status work again afterwards.
func (p *Progress) Stop() {
	p.mu.Lock()
	stop, finished := p.stop, p.finished
	p.mu.Unlock()
	if stop == nil {
		return
	}
	close(stop)
	<-finished
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
	p.stop, p.finished, p.status = nil, nil, ""
}

func (p *Progress) spin(stop <-chan struct{}, finished chan<- struct{}) {
	defer close(finished)
	ticker := p.clock.NewTicker(100 * time.Millisecond)
	defer ticker.Stop()
	for {
		select {
		case <-stop:
			return
		case <-ticker.C():
			p.mu.Lock()
			p.frame++
			p.drawLocked()
			p.mu.Unlock()
		}
	}
}

func (p *Progress) drawLocked() {
	if p.stop == nil || p.status == "" {
		return
	}
	line := []rune(fmt.Sprintf("%s %s %s", spinnerFrames[p.frame%len(spinnerFrames)], p.status, p.clock.Since(p.since).Truncate(time.Second)))
	if p.width > 1 && len(line) >= p.width {
		line = line[:p.width-1] // one terminal line, or \r cannot redraw it
	}
	fmt.Fprint(p.out, "\r\033[K"+string(line))
}

func (p *Progress) clearLocked() {
	if p.stop != nil {
		fmt.Fprint(p.out, "\r\033[K")
	}
}

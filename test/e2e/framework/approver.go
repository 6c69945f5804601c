package framework

import (
	"context"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// Approver approves CSRs from another process, as an administrator does: it polls with
// `kubectl get csr` and runs `kubectl certificate approve` on every undecided CSR whose
// name starts with one of its prefixes.
type Approver struct {
	mu       sync.Mutex
	approved []string
	cancel   context.CancelFunc
	done     chan struct{}
}

// StartApprover approves, with kubeconfig, the CSRs whose names start with a prefix, until
// Stop or the end of the test.
func StartApprover(t testing.TB, kubeconfig string, prefixes ...string) *Approver {
	ctx, cancel := context.WithCancel(context.Background())
	a := &Approver{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(a.done)
		for ctx.Err() == nil {
			out, _ := exec.CommandContext(ctx, KubectlBinary(), "--kubeconfig", kubeconfig, "get", "csr",
				"-o", `jsonpath={range .items[*]}{.metadata.name}{" "}{.status.conditions[*].type}{"\n"}{end}`).Output()
			for _, line := range strings.Split(string(out), "\n") {
				fields := strings.Fields(line)
				if len(fields) != 1 || !hasAnyPrefix(fields[0], prefixes) {
					continue // decided already, or not ours
				}
				if exec.CommandContext(ctx, KubectlBinary(), "--kubeconfig", kubeconfig, "certificate", "approve", fields[0]).Run() == nil {
					a.mu.Lock()
					a.approved = append(a.approved, fields[0])
					a.mu.Unlock()
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(a.Stop)
	return a
}

// Stop stops approving and waits for the loop to end.
func (a *Approver) Stop() {
	a.cancel()
	<-a.done
}

// Approved lists the CSRs approved so far.
func (a *Approver) Approved() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.approved...)
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

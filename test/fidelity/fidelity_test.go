// Package fidelity holds kcsr's side-by-side tests: one test body, run against `kcsr
// server` and against a real kube-apiserver + kube-controller-manager v1.37.2 (built by
// hack/build-kube.sh), each recording what it observed — outputs, HTTP codes, conditions,
// table rows, error messages, the issued certificates' shape. Then the two records are
// compared key by key: a difference fails the test unless it is listed in
// knownDifferences, which mirrors docs/compatibility.md.
package fidelity

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"kcsr.dev/kcsr/test/e2e/framework"
)

// target is one of the two servers under test.
type target struct {
	name  string
	s     *framework.Server // API server: URL, admin kubeconfig, CA files in DataDir/pki
	admin string
	logs  func() string
}

// record is what one run of a body observed, by key.
type record struct {
	mu     sync.Mutex
	values map[string]string
	order  []string
}

func (r *record) set(key, format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.values == nil {
		r.values = map[string]string{}
	}
	if _, ok := r.values[key]; !ok {
		r.order = append(r.order, key)
	}
	r.values[key] = fmt.Sprintf(format, args...)
}

// knownDifferences are the observations where kcsr differs from Kubernetes on purpose, by
// "case/key"; each is a row of docs/compatibility.md. A listed key that stops differing is
// reported too, so this list never goes stale.
var knownDifferences = map[string]string{
	"rejections/wrapped":              "kcsr names spec.request and says how to encode (compatibility.md: base64 decode error)",
	"rejections/wrongpem":             "kcsr does not echo a private key back (compatibility.md: a private key sent as spec.request)",
	"rejections/csrkey":               "kcsr refuses anything but one CERTIFICATE REQUEST block (compatibility.md: text or a key after the request)",
	"rejections/csrkey-stored":        "kcsr refuses anything but one CERTIFICATE REQUEST block (compatibility.md: text or a key after the request)",
	"signer-rules/unserved":           "kcsr adds a SignerUnavailable condition (compatibility.md: Approved CSR whose signerName no signer serves)",
	"rbac/sign-with-grant-conditions": "kcsr adds a SignerUnavailable condition (compatibility.md: Approved CSR whose signerName no signer serves)",
	"walkthrough/annotations":         "kcsr explains a CSR left to a person in kcsr.dev/approval-verdict (compatibility.md: CSR decisions)",
	"decisions/approved-conditions":   "kcsr adds a SignerUnavailable condition (compatibility.md: Approved CSR whose signerName no signer serves)",
	// Suffix rules ("*/KEY"): every issued certificate's extension list.
	"*/extensions": "kcsr's leaf certificates carry a Subject Key Identifier (compatibility.md: issued certificates)",
}

// knownDifference returns why key of case name differs on purpose, if it does.
func knownDifference(name, key string) (string, bool) {
	if why, ok := knownDifferences[name+"/"+key]; ok {
		return why, true
	}
	for pattern, why := range knownDifferences {
		if suffix, ok := strings.CutPrefix(pattern, "*/"); ok && (key == suffix || strings.HasSuffix(key, "/"+suffix)) {
			return why, true
		}
	}
	return "", false
}

// TestFidelity starts both servers once (each start costs seconds) and runs every case
// against both, concurrently, then compares.
func TestFidelity(t *testing.T) {
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens.csv")
	if err := os.WriteFile(tokens, []byte(tokenFile), 0o600); err != nil {
		t.Fatal(err)
	}
	var targets []*target
	var wg sync.WaitGroup
	var kube *framework.KubeCluster
	var kcsr *framework.Server
	// Start both at once: kube-apiserver takes ~10 s to become ready.
	wg.Add(1)
	go func() {
		defer wg.Done()
		kcsr = framework.StartServer(t, "", "--token-auth-file", tokens)
	}()
	kube = framework.StartKubeCluster(t, framework.KubeOptions{TokenAuthFile: tokens})
	wg.Wait()
	if kcsr == nil || t.Failed() {
		t.FailNow()
	}
	targets = append(targets,
		&target{name: "kcsr", s: kcsr, admin: kcsr.Kubeconfig, logs: func() string { return kcsr.Stderr() }},
		&target{name: "kube", s: kube.API, admin: kube.API.Kubeconfig, logs: kube.Logs})
	for _, tg := range targets {
		// kubeadm's bootstrap bindings, which kcsr makes itself on first start; applying
		// them on both keeps the comparison about the CSR rules.
		framework.MustKubectl(t, tg.admin, "apply", "-f", framework.WriteFile(t, dir, tg.name+"-bootstrap.yaml", bootstrapBindings))
	}

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { compare(t, c.name, targets, c.body) })
	}
}

type fidelityCase struct {
	name string
	body func(t *testing.T, tg *target, r *record)
}

var cases []fidelityCase

func register(name string, body func(t *testing.T, tg *target, r *record)) {
	cases = append(cases, fidelityCase{name, body})
}

// compare runs body against every target in parallel and compares the records.
func compare(t *testing.T, name string, targets []*target, body func(t *testing.T, tg *target, r *record)) {
	records := map[string]*record{}
	t.Run("run", func(t *testing.T) {
		for _, tg := range targets {
			r := &record{}
			records[tg.name] = r
			t.Run(tg.name, func(t *testing.T) {
				t.Parallel()
				body(t, tg, r)
				if t.Failed() {
					t.Logf("%s logs:\n%s", tg.name, tg.logs())
				}
			})
		}
	})
	if t.Failed() {
		return
	}
	kcsr, kube := records["kcsr"], records["kube"]
	keys := map[string]bool{}
	for _, k := range append(append([]string{}, kcsr.order...), kube.order...) {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	compared := 0
	for _, k := range sorted {
		a, aok := kcsr.values[k]
		b, bok := kube.values[k]
		why, known := knownDifference(name, k)
		same := aok && bok && a == b
		switch {
		case same && known:
			t.Errorf("%s: listed as a known difference, but both servers now agree (%q): remove it from knownDifferences and docs/compatibility.md", k, a)
		case !same && !known:
			t.Errorf("%s differs:\n  kcsr:       %s\n  Kubernetes: %s", k, show(a, aok), show(b, bok))
		case !same:
			t.Logf("%s differs on purpose (%s):\n  kcsr:       %s\n  Kubernetes: %s", k, why, show(a, aok), show(b, bok))
		}
		compared++
	}
	t.Logf("%d observations compared", compared)
}

func show(v string, ok bool) string {
	if !ok {
		return "(not observed)"
	}
	return fmt.Sprintf("%q", v)
}

// conditions is the CSR's condition types joined by commas (kubectl's CONDITION column
// without the Pending default), "Pending" when there is none.
func conditions(t testing.TB, kc, name string) string {
	t.Helper()
	out := framework.MustKubectl(t, kc, "get", "csr", name, "-o", `jsonpath={range .status.conditions[*]}{.type}{","}{end}`)
	out = strings.TrimSuffix(out, ",")
	if out == "" {
		return "Pending"
	}
	return out
}

// Static tokens (kube-apiserver's CSV format), the same file on both servers.
const (
	aliceToken     = "alice-4f1b2c3d4e5f6a7b"
	malloryToken   = "mallory-0a1b2c3d4e5f6a7b"
	samToken       = "sam-9e8d7c6b5a4f3e2d"
	bootstrapToken = "abcdef.0123456789abcdef"
	tokenFile      = aliceToken + ",alice,uid-alice,dev\n" +
		malloryToken + ",mallory,uid-mallory\n" +
		samToken + ",sam,uid-sam,signers\n" +
		bootstrapToken + ",system:bootstrap:abcdef,uid-bootstrap,system:bootstrappers\n"
)

// bootstrapBindings are kubeadm's: bootstrappers may create CSRs and have node client CSRs
// auto-approved; nodes may have their renewals auto-approved.
const bootstrapBindings = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: fidelity-kubelet-bootstrap
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:node-bootstrapper"}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: Group, name: "system:bootstrappers"}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: fidelity-node-autoapprove-bootstrap
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:certificates.k8s.io:certificatesigningrequests:nodeclient"}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: Group, name: "system:bootstrappers"}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: fidelity-node-autoapprove-certificate-rotation
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient"}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: Group, name: "system:nodes"}]
`

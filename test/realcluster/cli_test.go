package realcluster

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"kcsr.dev/kcsr/test/e2e/framework"
)

// TestCLIOnKubeAPIServer: the kcsr CLI works against a real kube-apiserver +
// kube-controller-manager, not only against kcsr server (issue 6 item 4, issue 5 (e)):
// `kcsr request` → a working rahul.kubeconfig; `kcsr get`/`approve`/`deny`; `kcsr doctor` on
// a healthy CSR, a CSR waiting for a person, and one its signer will refuse.
func TestCLIOnKubeAPIServer(t *testing.T) {
	cluster := framework.StartKubeCluster(t, framework.KubeOptions{})
	kc := cluster.API.Kubeconfig
	dir := t.TempDir()

	t.Run("request", func(t *testing.T) {
		approver := framework.StartApprover(t, kc, "rahul")
		r := framework.Kcsr(t, kc, "request", "--user", "rahul", "--group", "developers", "--out-dir", dir, "--wait", "1m")
		approver.Stop()
		if r.ExitCode != 0 {
			t.Fatalf("kcsr request: exit %d\n%s\n%s", r.ExitCode, r.Combined(), cluster.Logs())
		}
		for _, want := range []string{"Approved", "Issued"} {
			if !strings.Contains(r.Stdout, want) {
				t.Errorf("kcsr request output lacks %q:\n%s", want, r.Stdout)
			}
		}
		whoami := framework.TableRows(framework.MustKubectl(t, filepath.Join(dir, "rahul.kubeconfig"), "auth", "whoami"))
		if len(whoami) < 3 || whoami[1][1] != "rahul" || !strings.Contains(strings.Join(whoami[2], " "), "developers") {
			t.Errorf("kubectl auth whoami with rahul.kubeconfig on kube-apiserver: %v", whoami)
		}
		if doc := framework.Kcsr(t, kc, "doctor", "rahul"); doc.ExitCode != 0 {
			t.Errorf("kcsr doctor on an issued CSR: exit %d\n%s", doc.ExitCode, doc.Combined())
		}
	})

	t.Run("approve and deny", func(t *testing.T) {
		for _, name := range []string{"cli-approve", "cli-deny"} {
			req := framework.GoCSR(t, dir, name, name, []string{"dev"}, nil, nil)
			framework.MustKubectl(t, kc, "create", "-f", framework.WriteFile(t, dir, name+".yaml", framework.CSRManifest(name, req, "kubernetes.io/kube-apiserver-client", 3600, "digital signature", "client auth")))
		}
		// Waiting for a person whom no binding names: doctor says who can act (exit 2).
		if doc := framework.Kcsr(t, kc, "doctor", "cli-approve"); doc.ExitCode != 2 || !strings.Contains(doc.Stdout, "Pending") || !strings.Contains(doc.Stdout, "kcsr approve cli-approve") {
			t.Errorf("kcsr doctor on a pending CSR: exit %d\n%s", doc.ExitCode, doc.Combined())
		}
		if r := framework.Kcsr(t, kc, "approve", "cli-approve"); r.ExitCode != 0 {
			t.Fatalf("kcsr approve: %s", r.Combined())
		}
		if r := framework.Kcsr(t, kc, "deny", "cli-deny", "--reason", "NotOnTheList", "--message", "rahul is not in the team"); r.ExitCode != 0 {
			t.Fatalf("kcsr deny: %s", r.Combined())
		}
		framework.Eventually(t, 30*time.Second, "kube-controller-manager to issue cli-approve", func() bool {
			return framework.MustKubectl(t, kc, "get", "csr", "cli-approve", "-o", "jsonpath={.status.certificate}") != ""
		})
		got := framework.MustKubectl(t, kc, "get", "csr", "cli-deny", "-o", `jsonpath={.status.conditions[0].type}/{.status.conditions[0].reason}/{.status.conditions[0].message}`)
		if got != "Denied/NotOnTheList/rahul is not in the team" {
			t.Errorf("denied condition = %q", got)
		}
		list := framework.Kcsr(t, kc, "get")
		if list.ExitCode != 0 || !strings.Contains(list.Stdout, "cli-approve") || !strings.Contains(list.Stdout, "Issued") {
			t.Errorf("kcsr get: exit %d\n%s", list.ExitCode, list.Combined())
		}
	})

	t.Run("doctor names the signer's refusal", func(t *testing.T) {
		req := framework.GoCSR(t, dir, "cli-server-auth", "svc", nil, nil, nil)
		framework.MustKubectl(t, kc, "create", "-f", framework.WriteFile(t, dir, "cli-server-auth.yaml", framework.CSRManifest("cli-server-auth", req, "kubernetes.io/kube-apiserver-client", 3600, "client auth", "server auth")))
		doc := framework.Kcsr(t, kc, "doctor", "cli-server-auth")
		if doc.ExitCode != 2 || !strings.Contains(doc.Stdout, "server auth") {
			t.Errorf("kcsr doctor on a CSR with server auth for kube-apiserver-client: exit %d\n%s", doc.ExitCode, doc.Combined())
		}
	})

	// kcsr console against kube-apiserver (issue 17 item 6): the queue and the decisions
	// work; the views of kcsr.dev (the inventory) are hidden, the charts say why they are
	// empty.
	t.Run("console", func(t *testing.T) {
		_, login, base := framework.StartConsole(t, kc)
		b := framework.StartBrowser(t)
		b.Do("log in", chromedp.Navigate(login), chromedp.WaitVisible(chromedp.CSS("#queue-table")))
		b.WaitFor("the queue is live", `document.getElementById('status').textContent.startsWith('Live')`, 30*time.Second)
		if !framework.Eval[bool](b, `document.getElementById('nav-inventory').hidden`) {
			t.Error("the Inventory view is offered on an API without kcsr.dev")
		}
		req := framework.GoCSR(t, dir, "console-approve", "console-approve", []string{"dev"}, nil, nil)
		framework.MustKubectl(t, kc, "create", "-f", framework.WriteFile(t, dir, "console-approve.yaml", framework.CSRManifest("console-approve", req, "kubernetes.io/kube-apiserver-client", 3600, "digital signature", "client auth")))
		b.WaitFor("the CSR appears", `document.querySelector('#queue-body tr[data-id="console-approve"]') !== null`, 30*time.Second)
		b.OpenCSR(base, "console-approve")
		b.Do("approve", chromedp.Click(chromedp.CSS("#approve")))
		b.WaitFor("kube-controller-manager issues it", `document.getElementById('detail-state').textContent === 'Issued'`, time.Minute)
		b.Do("charts", chromedp.Navigate(base+"/#charts"))
		b.WaitFor("the charts say there is no inventory", `document.getElementById('chart-note').textContent.includes('keeps no inventory')`, 30*time.Second)
	})
}

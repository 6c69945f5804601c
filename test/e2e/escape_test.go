package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"kcsr.dev/kcsr/test/e2e/framework"
)

// TestCLIEscapesServerStrings (issue 13 item 11): CSR names are only checked as path
// segments, so a CSR may be named "evil\nforged-row   Approved", and a request's CN may
// hold a terminal escape sequence. kcsr get, describe, approve and doctor show them
// escaped: one row per CSR, no raw ESC byte.
func TestCLIEscapesServerStrings(t *testing.T) {
	s := framework.StartServer(t, "")
	kc := s.Kubeconfig
	dir := t.TempDir()
	const evil = "evil\nforged-row   Approved"
	request := framework.GoCSR(t, dir, "evil", "\x1b[31mroot", []string{"dev\x1b[0m"}, []string{"evil.example"}, nil)
	manifest, err := json.Marshal(map[string]any{
		"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
		"metadata": map[string]any{"name": evil},
		"spec":     map[string]any{"request": request, "signerName": clientSigner, "usages": []string{"client auth"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	framework.MustKubectl(t, kc, "create", "-f", framework.WriteFile(t, dir, "evil.json", string(manifest)))
	ordinary := framework.GoCSR(t, dir, "ordinary", "ordinary", nil, nil, nil)
	framework.MustKubectl(t, kc, "create", "-f", framework.WriteFile(t, dir, "ordinary.yaml", framework.CSRManifest("ordinary", ordinary, clientSigner, 3600, "client auth")))

	noRawControl := func(t *testing.T, what, out string) {
		t.Helper()
		for _, r := range out {
			if r == 0x1b || r == '\r' || r == 0x07 {
				t.Fatalf("%s holds a raw %q:\n%q", what, r, out)
			}
		}
	}
	const escapedName = `"evil\nforged-row   Approved"`

	r := framework.Kcsr(t, kc, "get")
	noRawControl(t, "kcsr get", r.Combined())
	lines := strings.Split(strings.TrimSuffix(r.Stdout, "\n"), "\n")
	if r.ExitCode != 0 || len(lines) != 3 || !strings.HasPrefix(lines[1], escapedName+" ") || !strings.HasPrefix(lines[2], "ordinary ") {
		t.Fatalf("kcsr get: want a header and two rows, the first for %s:\n%s", escapedName, r.Combined())
	}
	for _, want := range []string{`"\x1b[31mroot"`, `"dev\x1b[0m"`, "Pending"} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("kcsr get: the row %q lacks %s", lines[1], want)
		}
	}
	if r := framework.Kcsr(t, kc, "get", "-o", "name"); r.Stdout != "certificatesigningrequest.certificates.k8s.io/"+escapedName+"\ncertificatesigningrequest.certificates.k8s.io/ordinary\n" {
		t.Errorf("kcsr get -o name:\n%s", r.Combined())
	}

	r = framework.Kcsr(t, kc, "approve", evil)
	noRawControl(t, "kcsr approve", r.Combined())
	if r.ExitCode != 0 || !strings.Contains(r.Stdout, escapedName+`: CN="\x1b[31mroot" O="dev\x1b[0m" SANs=evil.example`) ||
		!strings.Contains(r.Stdout, "certificatesigningrequest.certificates.k8s.io/"+escapedName+" approved\n") {
		t.Errorf("kcsr approve:\n%s", r.Combined())
	}
	framework.WaitIssued(t, kc, evil)

	r = framework.Kcsr(t, kc, "describe", evil)
	noRawControl(t, "kcsr describe", r.Combined())
	for _, want := range []string{
		"Name:                  " + escapedName + "\n",
		`Subject CN:            "\x1b[31mroot"` + "\n",
		`Certificate subject:   "CN=\x1b[31mroot,O=dev\x1b[0m"` + "\n",
		"Status:                Approved,Issued\n",
	} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("kcsr describe lacks %q:\n%s", want, r.Combined())
		}
	}
	if strings.Contains(r.Stdout, "\nforged-row") {
		t.Errorf("kcsr describe prints a forged line:\n%s", r.Stdout)
	}

	r = framework.Kcsr(t, kc, "doctor", evil)
	noRawControl(t, "kcsr doctor", r.Combined())
	if strings.Contains(r.Stdout, "\nforged-row") || !strings.Contains(r.Stdout, `\x1b[31mroot`) {
		t.Errorf("kcsr doctor:\n%s", r.Combined())
	}
}

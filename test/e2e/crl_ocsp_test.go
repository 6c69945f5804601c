package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"kcsr.dev/kcsr/test/e2e/framework"
)

// TestCRLAndOCSP: issue 7 acceptance (a) with openssl and (c): a revoked certificate is in
// the CRL (openssl verify -crl_check says revoked) and OCSP says revoked with the reason;
// another certificate is good; after kill -9 and restart the CRL still lists it. /metrics
// tells the same: the revocation by reason, the OCSP answers, the CRL's size and entries,
// and the live certificate about to expire.
func TestCRLAndOCSP(t *testing.T) {
	port := framework.FreePort(t)
	s := framework.StartServer(t, "", "--public-port", fmt.Sprint(port))
	kc := s.Kubeconfig
	dir := t.TempDir()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	caFile := filepath.Join(s.DataDir, "pki", "ca.crt")
	rahul, other := framework.IssueClientCert(t, kc, dir, "rahul"), framework.IssueClientCert(t, kc, dir, "priya")
	cert := parseCert(t, mustRead(t, rahul))
	if got := strings.Join(cert.CRLDistributionPoints, ","); got != base+"/crl/cluster.crl" {
		t.Errorf("CRL distribution point = %q", got)
	}
	if got := strings.Join(cert.OCSPServer, ","); got != base+"/ocsp/cluster" {
		t.Errorf("OCSP server = %q", got)
	}

	r := framework.Run(t, "", framework.Binary(t), "revoke", "--csr", "rahul", "--reason", "keyCompromise", "--kubeconfig", kc)
	if r.ExitCode != 0 {
		t.Fatalf("revoke: %s", r.Combined())
	}
	crlPEM := func() string {
		t.Helper()
		resp, err := http.Get(base + "/crl/cluster.crl")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		der, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/pkix-crl" {
			t.Fatalf("GET CRL: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		framework.WriteFile(t, dir, "crl.der", string(der))
		framework.Openssl(t, dir, "crl", "-inform", "DER", "-in", "crl.der", "-out", "crl.pem")
		return filepath.Join(dir, "crl.pem")
	}
	serialHex := strings.ToUpper(cert.SerialNumber.Text(16))
	framework.Eventually(t, 10*time.Second, "the CRL to list the revoked serial", func() bool {
		text := framework.Openssl(t, dir, "crl", "-in", crlPEM(), "-noout", "-text")
		return strings.Contains(strings.ReplaceAll(text, ":", ""), serialHex)
	})
	verify := func(certFile string) string {
		cmd := framework.Run(t, "", "openssl", "verify", "-crl_check", "-CAfile", caFile, "-CRLfile", filepath.Join(dir, "crl.pem"), certFile)
		return cmd.Combined()
	}
	if out := verify(rahul); !strings.Contains(out, "certificate revoked") {
		t.Errorf("openssl verify -crl_check on the revoked certificate:\n%s", out)
	}
	if out := verify(other); !strings.Contains(out, ": OK") {
		t.Errorf("openssl verify -crl_check on a good certificate:\n%s", out)
	}
	ocsp := func(certFile string) string {
		return framework.Run(t, "", "openssl", "ocsp", "-issuer", caFile, "-cert", certFile, "-url", base+"/ocsp/cluster", "-CAfile", caFile, "-resp_text").Combined()
	}
	if out := ocsp(rahul); !strings.Contains(out, rahul+": revoked") || !strings.Contains(out, "Reason: keyCompromise") || !strings.Contains(out, "Response verify OK") {
		t.Errorf("openssl ocsp on the revoked certificate:\n%s", out)
	}
	if out := ocsp(other); !strings.Contains(out, other+": good") {
		t.Errorf("openssl ocsp on a good certificate:\n%s", out)
	}

	// Issue 7 item 6, issue 9 item 4: the metrics of what just happened.
	crlInfo, err := os.Stat(filepath.Join(dir, "crl.der"))
	if err != nil {
		t.Fatal(err)
	}
	checkMetrics(t, framework.MustKubectl(t, kc, "get", "--raw", "/metrics"), map[string]float64{
		`kcsr_revoked_certificates{ca="cluster",reason="keyCompromise"}`:                               1,
		`kcsr_revoked_certificates{ca="cluster",reason="superseded"}`:                                  0,
		`kcsr_revocations_total{reason="keyCompromise"}`:                                               1,
		`kcsr_ocsp_responses_total{ca="cluster",status="revoked"}`:                                     1,
		`kcsr_ocsp_responses_total{ca="cluster",status="good"}`:                                        1,
		`kcsr_ocsp_responses_total{ca="cluster",status="unknown"}`:                                     0,
		`kcsr_crl_size_bytes{ca="cluster"}`:                                                            float64(crlInfo.Size()),
		`kcsr_crl_entries{ca="cluster"}`:                                                               1,
		`kcsr_crl_generation_errors_total{ca="cluster"}`:                                               0,
		`kcsr_certificates_expiring{renewed="false",signer_name="` + clientSigner + `",within="1h"}`:   1,
		`kcsr_certificates_expiring{renewed="false",signer_name="` + clientSigner + `",within="+Inf"}`: 1,
	})

	// (c) after kill -9 and restart the CRL still lists the revocation.
	s.Kill()
	s.Start()
	framework.Eventually(t, 15*time.Second, "the CRL after restart", func() bool {
		resp, err := http.Get(base + "/crl/cluster.crl")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	if text := framework.Openssl(t, dir, "crl", "-in", crlPEM(), "-noout", "-text"); !strings.Contains(strings.ReplaceAll(text, ":", ""), serialHex) || !strings.Contains(text, "Key Compromise") {
		t.Errorf("CRL after restart:\n%s", text)
	}
	// The revoked gauge comes from the inventory; the counter counts revocations seen
	// happening, none since the restart.
	checkMetrics(t, framework.MustKubectl(t, kc, "get", "--raw", "/metrics"), map[string]float64{
		`kcsr_revoked_certificates{ca="cluster",reason="keyCompromise"}`: 1,
		`kcsr_revocations_total{reason="keyCompromise"}`:                 0,
		`kcsr_crl_entries{ca="cluster"}`:                                 1,
	})
}

// checkMetrics checks that the Prometheus text exposition has each series of want (name
// and labels, labels in alphabetical order as Prometheus writes them) with its value.
func checkMetrics(t *testing.T, exposition string, want map[string]float64) {
	t.Helper()
	got := map[string]float64{}
	for _, line := range strings.Split(exposition, "\n") {
		series, value, ok := strings.Cut(line, " ")
		if _, wanted := want[series]; !ok || !wanted {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			t.Errorf("/metrics: %q: %v", line, err)
			continue
		}
		got[series] = v
	}
	for series, w := range want {
		if g, ok := got[series]; !ok {
			t.Errorf("/metrics lacks %s", series)
		} else if g != w {
			t.Errorf("/metrics: %s %v, want %v", series, g, w)
		}
	}
}

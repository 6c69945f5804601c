package doctor

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"

	"kcsr.dev/kcsr/pkg/testkit"
)

func TestCheckServerTLS(t *testing.T) {
	key := testkit.NewKey(t, testkit.P256)
	clusterCA := certificate(t, "kcsr-ca", key.Public(), nil, key, epoch, epoch.Add(time.Hour), true)
	otherCA := certificate(t, "other-ca", key.Public(), nil, key, epoch, epoch.Add(time.Hour), true)
	serving := certificate(t, "kcsr-apiserver", key.Public(), clusterCA, key, epoch, epoch.Add(time.Hour), false)
	const server = "https://127.0.0.1:6443"
	const fixCA = "put the cluster CA's certificate in the kubeconfig's certificate-authority-data: kubectl config set-cluster kcsr --certificate-authority=ca.crt --embed-certs (the CA is /etc/kubernetes/pki/ca.crt on a kubeadm control plane, DATA_DIR/pki/ca.crt for kcsr server)"

	cases := []struct {
		name string
		in   TLSResult
		want []string
	}{
		{name: "verified", in: TLSResult{CA: []*x509.Certificate{clusterCA}, Chain: []*x509.Certificate{serving}},
			want: []string{`✓ cluster "kcsr" (https://127.0.0.1:6443): the server's certificate (issued by CN=kcsr-ca) verifies with the certificate-authority-data "CN=kcsr-ca"`}},
		{name: "insecure", in: TLSResult{Insecure: true, Chain: []*x509.Certificate{serving}},
			want: []string{`⚠ cluster "kcsr" (https://127.0.0.1:6443): insecure-skip-tls-verify is set, so the server's identity is not checked (issued by CN=kcsr-ca): put the cluster CA's certificate in the kubeconfig's certificate-authority-data and remove insecure-skip-tls-verify: kubectl config set-cluster kcsr --certificate-authority=ca.crt --embed-certs (the CA is /etc/kubernetes/pki/ca.crt on a kubeadm control plane, DATA_DIR/pki/ca.crt for kcsr server)`}},
		{name: "another CA", in: TLSResult{CA: []*x509.Certificate{otherCA}, Chain: []*x509.Certificate{serving}, Err: x509.UnknownAuthorityError{Cert: serving}},
			want: []string{`✗ cluster "kcsr" (https://127.0.0.1:6443): x509: certificate signed by unknown authority: the server's certificate is issued by "CN=kcsr-ca", but the kubeconfig trusts the certificate-authority-data "CN=other-ca": ` + fixCA}},
		{name: "no CA data", in: TLSResult{Chain: []*x509.Certificate{serving}, Err: x509.UnknownAuthorityError{Cert: serving}},
			want: []string{`✗ cluster "kcsr" (https://127.0.0.1:6443): x509: certificate signed by unknown authority: the server's certificate is issued by "CN=kcsr-ca", but the kubeconfig trusts only the system's CAs (it has no certificate-authority-data): ` + fixCA}},
		{name: "no chain", in: TLSResult{Err: x509.UnknownAuthorityError{}},
			want: []string{`✗ cluster "kcsr" (https://127.0.0.1:6443): x509: certificate signed by unknown authority: ` + fixCA}},
		{name: "wrong host", in: TLSResult{CA: []*x509.Certificate{clusterCA}, Chain: []*x509.Certificate{serving}, Err: x509.HostnameError{Certificate: serving, Host: "kcsr.example.com"}},
			want: []string{`✗ cluster "kcsr" (https://127.0.0.1:6443): the server's certificate is not valid for kcsr.example.com (it names: localhost, 127.0.0.1): use a server URL the certificate names (kubectl config set-cluster kcsr --server=https://NAME:PORT), or reissue the serving certificate with that name`}},
		{name: "expired", in: TLSResult{CA: []*x509.Certificate{clusterCA}, Err: x509.CertificateInvalidError{Cert: serving, Reason: x509.Expired, Detail: "current time 2031-01-01T00:00:00Z is after 2030-01-01T01:00:00Z"}},
			want: []string{`✗ cluster "kcsr" (https://127.0.0.1:6443): the server's certificate (or its CA) expired or is not yet valid (x509: certificate has expired or is not yet valid: current time 2031-01-01T00:00:00Z is after 2030-01-01T01:00:00Z): renew the API server's serving certificate (kubeadm certs renew apiserver; kcsr server renews its own on restart), or fix the clock`}},
		{name: "connection refused", in: TLSResult{Err: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}},
			want: []string{`✗ cluster "kcsr" (https://127.0.0.1:6443): cannot connect (dial tcp: connect: connection refused): check that the API server runs and that the server URL (host and port) is right`}},
		{name: "not TLS", in: TLSResult{Err: errors.New("tls: first record does not look like a TLS handshake")},
			want: []string{`✗ cluster "kcsr" (https://127.0.0.1:6443): TLS with the server fails (tls: first record does not look like a TLS handshake): check the server URL and that it speaks HTTPS; ` + fixCA}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.Cluster, tc.in.Server = "kcsr", server
			diffLines(t, tc.want, CheckServerTLS(tc.in))
		})
	}
}

// TestProbeTLS connects to a real TLS server: the edge that feeds CheckServerTLS.
func TestProbeTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshakes that fail on purpose
	srv.StartTLS()
	defer srv.Close()
	key := testkit.NewKey(t, testkit.P256)
	otherCA := certificate(t, "other-ca", key.Public(), nil, key, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), true)
	ctx := context.Background()

	r := probeTLS(ctx, &rest.Config{Host: srv.URL, TLSClientConfig: rest.TLSClientConfig{CAData: testkit.PEM(testkit.CertificateBlock, srv.Certificate().Raw)}}, "test")
	if r.Err != nil || len(r.Chain) == 0 {
		t.Errorf("with the server's CA: err %v, chain of %d", r.Err, len(r.Chain))
	}

	r = probeTLS(ctx, &rest.Config{Host: srv.URL, TLSClientConfig: rest.TLSClientConfig{CAData: testkit.PEM(testkit.CertificateBlock, otherCA.Raw)}}, "test")
	var unknown x509.UnknownAuthorityError
	if !errors.As(r.Err, &unknown) || len(r.Chain) == 0 || r.Chain[0].Issuer.String() != srv.Certificate().Issuer.String() {
		t.Errorf("with another CA: err %v, chain %v", r.Err, r.Chain)
	}
	if got := CheckServerTLS(r); len(got) != 1 || got[0].Severity != Problem {
		t.Errorf("findings: %v", got)
	}

	r = probeTLS(ctx, &rest.Config{Host: srv.URL, TLSClientConfig: rest.TLSClientConfig{ServerName: "wrong.example", CAData: testkit.PEM(testkit.CertificateBlock, srv.Certificate().Raw)}}, "test")
	var hostname x509.HostnameError
	if !errors.As(r.Err, &hostname) || len(r.Chain) == 0 {
		t.Errorf("with the wrong server name: err %v, chain of %d", r.Err, len(r.Chain))
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "https://" + l.Addr().String()
	l.Close()
	r = probeTLS(ctx, &rest.Config{Host: closed}, "test")
	var opErr *net.OpError
	if !errors.As(r.Err, &opErr) || opErr.Op != "dial" {
		t.Errorf("a closed port: err %v", r.Err)
	}
}

func TestCheckAuthentication(t *testing.T) {
	unauthorized := apierrors.NewUnauthorized("Unauthorized")
	notFound := apierrors.NewNotFound(schema.GroupResource{Group: "authentication.k8s.io", Resource: "selfsubjectreviews"}, "")
	cases := []struct {
		name string
		user *authenticationv1.UserInfo
		err  error
		want []string
	}{
		{name: "a user", user: &authenticationv1.UserInfo{Username: "rahul", Groups: []string{"developers", "system:authenticated"}},
			want: []string{`✓ credentials: the server authenticates them as user "rahul" in groups developers, system:authenticated`}},
		{name: "anonymous", user: &authenticationv1.UserInfo{Username: "system:anonymous"},
			want: []string{"✗ credentials: the server takes this kubeconfig for system:anonymous: it sends no credentials the server accepts: add a client certificate and key (kcsr request writes a complete kubeconfig) or a token"}},
		{name: "refused", err: unauthorized,
			want: []string{"✗ credentials: the server does not accept them (401 Unauthorized): the client certificate expired, was revoked or is not signed by a CA the server trusts for clients, or the token is wrong: a certificate the server refuses cannot authenticate its own renewal: " + NewCertificate() + "; a wrong token: ask for a new one"}},
		{name: "not served", err: notFound},
		{name: "other", err: errors.New("EOF"),
			want: []string{"⚠ credentials: cannot ask the server who they authenticate (EOF): run kcsr doctor again; check the server's health"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { diffLines(t, tc.want, CheckAuthentication(tc.user, tc.err)) })
	}
}

func TestReportExitCode(t *testing.T) {
	cases := []struct {
		name   string
		report Report
		want   int
	}{
		{name: "empty", want: ExitHealthy},
		{name: "all fine", report: Report{ok("a", "b")}, want: ExitHealthy},
		{name: "a warning", report: Report{ok("a", "b"), warning("c", "d", "e")}, want: ExitWarning},
		{name: "a problem", report: Report{warning("c", "d", "e"), problem("f", "g", "h"), ok("a", "b")}, want: ExitProblem},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.report.ExitCode(); got != tc.want {
				t.Errorf("ExitCode = %d, want %d", got, tc.want)
			}
		})
	}
	if got := summary(Report{problem("f", "g", "h"), warning("c", "d", "e"), warning("c", "d", "e")}); got != "kcsr doctor: 1 problem, 2 warnings" {
		t.Errorf("summary = %q", got)
	}
}

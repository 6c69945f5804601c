package doctor

import (
	"crypto/x509"
	"errors"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/testkit"
)

func TestCheckValidity(t *testing.T) {
	key := testkit.NewKey(t, testkit.P256)
	day := 24 * time.Hour
	const renew = "renew it"
	cases := []struct {
		name                string
		notBefore, notAfter time.Time
		want                string
	}{
		{name: "fine", notBefore: epoch.Add(-day), notAfter: epoch.Add(9 * day),
			want: "✓ certificate: valid until 2030-01-10T00:00:00Z (9d left)"},
		{name: "expired", notBefore: epoch.Add(-2 * day), notAfter: epoch.Add(-3 * time.Hour),
			want: "✗ certificate: expired at 2029-12-31T21:00:00Z (3h ago): get a new one"},
		{name: "expires this very second", notBefore: epoch.Add(-day), notAfter: epoch,
			want: "✗ certificate: expired at 2030-01-01T00:00:00Z (0s ago): get a new one"},
		{name: "not valid yet", notBefore: epoch.Add(2 * time.Hour), notAfter: epoch.Add(day),
			want: "✗ certificate: is not valid until 2030-01-01T02:00:00Z (in 120m): check the clock of this machine and of the CA's host"},
		{name: "less than 24h left of a year", notBefore: epoch.Add(-364 * day), notAfter: epoch.Add(23 * time.Hour),
			want: "⚠ certificate: expires at 2030-01-01T23:00:00Z, in 23h (0 % of its 364d lifetime left): renew it"},
		{name: "less than 20 % left of ten minutes", notBefore: epoch.Add(-9 * time.Minute), notAfter: epoch.Add(time.Minute),
			want: "⚠ certificate: expires at 2030-01-01T00:01:00Z, in 60s (10 % of its 10m lifetime left): renew it"},
		{name: "less than 20 % left of a month", notBefore: epoch.Add(-25 * day), notAfter: epoch.Add(5 * day),
			want: "⚠ certificate: expires at 2030-01-06T00:00:00Z, in 5d (16 % of its 30d lifetime left): renew it"},
		{name: "a fresh one-hour certificate", notBefore: epoch.Add(-5 * time.Minute), notAfter: epoch.Add(55 * time.Minute),
			want: "✓ certificate: valid until 2030-01-01T00:55:00Z (55m left)"},
		{name: "a fresh one-day certificate", notBefore: epoch.Add(-5 * time.Minute), notAfter: epoch.Add(day - 5*time.Minute),
			want: "✓ certificate: valid until 2030-01-01T23:55:00Z (23h left)"},
		{name: "less than 24h left of two days", notBefore: epoch.Add(-25 * time.Hour), notAfter: epoch.Add(23 * time.Hour),
			want: "⚠ certificate: expires at 2030-01-01T23:00:00Z, in 23h (47 % of its 2d lifetime left): renew it"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cert := certificate(t, "rahul", key.Public(), nil, key, tc.notBefore, tc.notAfter, false)
			if got := CheckValidity("certificate", cert, epoch, renew, "get a new one").String(); got != tc.want {
				t.Errorf("\n got: %s\nwant: %s", got, tc.want)
			}
		})
	}
}

func TestCheckKeyMatch(t *testing.T) {
	key, other := testkit.NewKey(t, testkit.P256), testkit.NewKey(t, testkit.P256)
	cert := certificate(t, "rahul", key.Public(), nil, key, epoch, epoch.Add(time.Hour), false)
	cases := []struct {
		name   string
		keyPEM []byte
		want   string
	}{
		{name: "its key", keyPEM: testkit.KeyPEM(t, key),
			want: "✓ key: matches the certificate (ECDSA P-256, public key " + publicKeyID(key.Public()) + ")"},
		{name: "another key", keyPEM: testkit.KeyPEM(t, other),
			want: "✗ key: does not match the certificate: the key's public key is ECDSA P-256 " + publicKeyID(other.Public()) + ", the certificate's is ECDSA P-256 " + publicKeyID(key.Public()) +
				": use the key the request was made from (keep NAME.key next to NAME.crt), or request a new certificate for this key (kcsr request --key FILE)"},
		{name: "a certificate instead of a key", keyPEM: testkit.PEM(testkit.CertificateBlock, cert.Raw),
			want: `✗ key: cannot be read (the key file holds a certificate; were the certificate and key files swapped?): pass the PEM private key file (PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY), unencrypted`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := CheckKeyMatch("key", tc.keyPEM, cert.PublicKey, "the certificate").String(); got != tc.want {
				t.Errorf("\n got: %s\nwant: %s", got, tc.want)
			}
		})
	}
}

func TestCheckClientAuth(t *testing.T) {
	key := testkit.NewKey(t, testkit.P256)
	cases := []struct {
		name string
		eku  []x509.ExtKeyUsage
		want []string
	}{
		{name: "client auth", eku: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}},
		{name: "no extended key usage", eku: nil},
		{name: "server auth only", eku: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			want: []string{"✗ client certificate: lacks the client auth extended key usage, so the API server does not accept it for login: request a certificate with usages [client auth] (signer kubernetes.io/kube-apiserver-client)"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cert := certificate(t, "rahul", key.Public(), nil, key, epoch, epoch.Add(time.Hour), false, tc.eku...)
			diffLines(t, tc.want, CheckClientAuth("client certificate", cert))
		})
	}
}

func TestCheckInventory(t *testing.T) {
	key := testkit.NewKey(t, testkit.P256)
	cert := certificate(t, "rahul", key.Public(), nil, key, epoch, epoch.Add(time.Hour), false) // serial abc
	record := func(serial string, rev *kcsrv1alpha1.Revocation) kcsrv1alpha1.IssuedCertificate {
		return kcsrv1alpha1.IssuedCertificate{
			ObjectMeta: metav1.ObjectMeta{Name: "0f1e"},
			Spec:       kcsrv1alpha1.IssuedCertificateSpec{SerialNumber: serial},
			Status:     kcsrv1alpha1.IssuedCertificateStatus{Revocation: rev},
		}
	}
	cases := []struct {
		name    string
		records []kcsrv1alpha1.IssuedCertificate
		err     error
		want    string
	}{
		{name: "recorded", records: []kcsrv1alpha1.IssuedCertificate{record("abc", nil)}, want: "✓ inventory: recorded as IssuedCertificate 0f1e (serial abc)"},
		{name: "revoked", records: []kcsrv1alpha1.IssuedCertificate{record("abc", &kcsrv1alpha1.Revocation{Time: metav1.NewTime(epoch), Reason: "keyCompromise", Message: "laptop stolen"})},
			want: "✗ inventory: the certificate (serial abc) was revoked at 2030-01-01T00:00:00Z (keyCompromise): laptop stolen: the API server refuses it, and it cannot authenticate its own renewal: " + NewCertificate()},
		{name: "another serial", records: []kcsrv1alpha1.IssuedCertificate{record("def", nil)},
			want: "⚠ inventory: no IssuedCertificate records serial abc: every certificate kcsr issues is recorded: this one was issued by another signer, or its record was deleted"},
		{name: "forbidden", err: errors.New("forbidden"),
			want: "⚠ inventory: cannot read the IssuedCertificate inventory (forbidden): run kcsr doctor as a user who may list issuedcertificates"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := CheckInventory(cert, tc.records, tc.err).String(); got != tc.want {
				t.Errorf("\n got: %s\nwant: %s", got, tc.want)
			}
		})
	}
}

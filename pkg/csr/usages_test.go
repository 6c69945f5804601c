package csr

import (
	"crypto/x509"
	"testing"

	"github.com/google/go-cmp/cmp"
	certificatesv1 "k8s.io/api/certificates/v1"

	"kcsr.dev/kcsr/pkg/testkit"
)

func TestKeyUsages(t *testing.T) {
	cases := []struct {
		name    string
		usages  []certificatesv1.KeyUsage
		wantKU  x509.KeyUsage
		wantEKU []x509.ExtKeyUsage
		wantErr string
	}{
		{name: "none"},
		{
			name:    "kubelet client",
			usages:  []certificatesv1.KeyUsage{"digital signature", "key encipherment", "client auth"},
			wantKU:  x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
			wantEKU: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		},
		{
			name:   "signing and digital signature are the same bit",
			usages: []certificatesv1.KeyUsage{"signing", "digital signature"},
			wantKU: x509.KeyUsageDigitalSignature,
		},
		{
			name: "every key usage",
			usages: []certificatesv1.KeyUsage{
				"signing", "digital signature", "content commitment", "key encipherment", "key agreement",
				"data encipherment", "cert sign", "crl sign", "encipher only", "decipher only",
			},
			wantKU: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment | x509.KeyUsageKeyEncipherment |
				x509.KeyUsageKeyAgreement | x509.KeyUsageDataEncipherment | x509.KeyUsageCertSign |
				x509.KeyUsageCRLSign | x509.KeyUsageEncipherOnly | x509.KeyUsageDecipherOnly,
		},
		{
			name: "every extended key usage, sorted and de-duplicated",
			usages: []certificatesv1.KeyUsage{
				"netscape sgc", "microsoft sgc", "ocsp signing", "timestamping", "ipsec user", "ipsec tunnel",
				"ipsec end system", "s/mime", "email protection", "code signing", "client auth", "server auth",
				"any", "client auth",
			},
			wantEKU: []x509.ExtKeyUsage{
				x509.ExtKeyUsageAny, x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth,
				x509.ExtKeyUsageCodeSigning, x509.ExtKeyUsageEmailProtection, x509.ExtKeyUsageIPSECEndSystem,
				x509.ExtKeyUsageIPSECTunnel, x509.ExtKeyUsageIPSECUser, x509.ExtKeyUsageTimeStamping,
				x509.ExtKeyUsageOCSPSigning, x509.ExtKeyUsageMicrosoftServerGatedCrypto,
				x509.ExtKeyUsageNetscapeServerGatedCrypto,
			},
		},
		{
			name:    "unknown usages are all listed",
			usages:  []certificatesv1.KeyUsage{"server-auth", "client auth", "foo"},
			wantErr: `unrecognized usage values: ["server-auth" "foo"]`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ku, eku, err := KeyUsages(tc.usages)
			if diff := cmp.Diff(tc.wantErr, testkit.ErrString(err)); diff != "" {
				t.Fatalf("error (-want +got):\n%s", diff)
			}
			if ku != tc.wantKU {
				t.Errorf("key usage = %b, want %b", ku, tc.wantKU)
			}
			if diff := cmp.Diff(tc.wantEKU, eku); diff != "" {
				t.Errorf("extended key usages (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSupportedUsages(t *testing.T) {
	want := []certificatesv1.KeyUsage{
		"any", "cert sign", "client auth", "code signing", "content commitment", "crl sign",
		"data encipherment", "decipher only", "digital signature", "email protection",
		"encipher only", "ipsec end system", "ipsec tunnel", "ipsec user", "key agreement",
		"key encipherment", "microsoft sgc", "netscape sgc", "ocsp signing", "s/mime",
		"server auth", "signing", "timestamping",
	}
	if diff := cmp.Diff(want, SupportedUsages()); diff != "" {
		t.Errorf("SupportedUsages (-want +got):\n%s", diff)
	}
	for _, u := range want {
		if !KnownUsage(u) {
			t.Errorf("KnownUsage(%q) = false", u)
		}
	}
}

func TestKnownUsage(t *testing.T) {
	for _, u := range []certificatesv1.KeyUsage{"", "Client Auth", "server-auth"} {
		if KnownUsage(u) {
			t.Errorf("KnownUsage(%q) = true", u)
		}
	}
}

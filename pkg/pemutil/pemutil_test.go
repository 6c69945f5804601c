package pemutil_test

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"kcsr.dev/kcsr/pkg/pemutil"
	"kcsr.dev/kcsr/pkg/testkit"
)

func TestParseCertificates(t *testing.T) {
	root := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
	inter := root.NewIntermediate(t, testkit.NewKey(t, testkit.P256))

	tests := []struct {
		name    string
		data    []byte
		want    []*x509.Certificate
		wantErr string
	}{
		{name: "one certificate", data: root.CertPEM, want: root.Chain},
		{name: "CA then issuer", data: inter.ChainPEM(), want: inter.Chain},
		{
			name: "text around the blocks",
			data: append(append([]byte("Certificate:\n    Data: ...\n"), root.CertPEM...), "trailing\n"...),
			want: root.Chain,
		},
		{name: "empty", data: nil, wantErr: "no CERTIFICATE PEM block found; give the certificate in PEM form (-----BEGIN CERTIFICATE-----)"},
		{name: "DER", data: root.Cert.Raw, wantErr: "no CERTIFICATE PEM block found; give the certificate in PEM form (-----BEGIN CERTIFICATE-----)"},
		{
			name:    "key in the certificate file",
			data:    append(append([]byte{}, root.CertPEM...), root.KeyPEM...),
			wantErr: `PEM block 2 is a "PRIVATE KEY"; the file must hold only CERTIFICATE blocks (keep the key in its own file)`,
		},
		{
			name:    "garbage certificate",
			data:    []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
			wantErr: "certificate 1: x509: malformed certificate",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pemutil.ParseCertificates(tt.data)
			if diff := cmp.Diff(tt.wantErr, testkit.ErrString(err)); diff != "" {
				t.Fatalf("error (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(raws(tt.want), raws(got)); diff != "" {
				t.Errorf("certificates (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := pemutil.ParseCertificates(nil); !errors.Is(err, pemutil.ErrNoCertificate) {
		t.Errorf("no certificate: %v, not ErrNoCertificate", err)
	}
}

func TestFirstCertificate(t *testing.T) {
	root := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
	inter := root.NewIntermediate(t, testkit.NewKey(t, testkit.P256))

	tests := []struct {
		name    string
		data    []byte
		want    *x509.Certificate
		wantErr string
	}{
		{name: "one certificate", data: root.CertPEM, want: root.Cert},
		{name: "a chain: its first", data: inter.ChainPEM(), want: inter.Cert},
		{name: "after a key", data: append(append([]byte{}, root.KeyPEM...), root.CertPEM...), want: root.Cert},
		{name: "empty", data: nil, wantErr: "no CERTIFICATE PEM block found"},
		{name: "a key only", data: root.KeyPEM, wantErr: "no CERTIFICATE PEM block found"},
		{name: "garbage certificate", data: testkit.PEM(pemutil.CertificateBlockType, []byte{0}), wantErr: "x509: malformed certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pemutil.FirstCertificate(tt.data)
			if diff := cmp.Diff(tt.wantErr, testkit.ErrString(err)); diff != "" {
				t.Fatalf("error (-want +got):\n%s", diff)
			}
			if tt.want != nil && !tt.want.Equal(got) {
				t.Errorf("got %v, want %v", got.Subject, tt.want.Subject)
			}
		})
	}
}

func TestTrustedCertificates(t *testing.T) {
	root := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
	other := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
	withHeaders := pem.EncodeToMemory(&pem.Block{Type: pemutil.CertificateBlockType, Headers: map[string]string{"Note": "x"}, Bytes: other.Cert.Raw})
	var data []byte
	for _, b := range [][]byte{root.KeyPEM, root.CertPEM, testkit.PEM(pemutil.CertificateBlockType, []byte{0}), withHeaders, other.CertPEM} {
		data = append(data, b...)
	}
	// As x509.CertPool.AppendCertsFromPEM: the key, the broken certificate and the block
	// with headers are skipped.
	got := pemutil.TrustedCertificates(data)
	if len(got) != 2 || !got[0].Equal(root.Cert) || !got[1].Equal(other.Cert) {
		t.Errorf("got %d certificates, want root's and other's", len(got))
	}
	if got := pemutil.TrustedCertificates([]byte("not PEM")); len(got) != 0 {
		t.Errorf("got %d certificates from no PEM", len(got))
	}
}

func TestParseKey(t *testing.T) {
	ec := testkit.NewKey(t, testkit.P256).(*ecdsa.PrivateKey)
	rsaKey := testkit.NewKey(t, testkit.RSA2048).(*rsa.PrivateKey)
	ed := testkit.NewKey(t, testkit.Ed25519)
	sec1, err := x509.MarshalECPrivateKey(ec)
	testkit.NoError(t, err, "marshal SEC 1")
	cert := testkit.NewCA(t, ec).CertPEM
	encrypted := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00"}, Bytes: sec1})

	tests := []struct {
		name    string
		data    []byte
		want    any
		wantErr string
	}{
		{name: "PKCS#8 ECDSA", data: testkit.KeyPEM(t, ec), want: ec.Public()},
		{name: "PKCS#8 RSA", data: testkit.KeyPEM(t, rsaKey), want: rsaKey.Public()},
		{name: "PKCS#8 Ed25519", data: testkit.KeyPEM(t, ed), want: ed.Public()},
		{name: "SEC 1", data: testkit.PEM("EC PRIVATE KEY", sec1), want: ec.Public()},
		{name: "SEC 1 after EC PARAMETERS", data: append(testkit.PEM("EC PARAMETERS", []byte{6, 8, 42, 134, 72, 206, 61, 3, 1, 7}), testkit.PEM("EC PRIVATE KEY", sec1)...), want: ec.Public()},
		{name: "PKCS#1", data: testkit.PEM("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey)), want: rsaKey.Public()},
		{name: "empty", data: nil, wantErr: "no PEM private key found; give an unencrypted PEM key (a PEM block of type PRIVATE KEY)"},
		{name: "a certificate", data: cert, wantErr: "the key file holds a certificate; were the certificate and key files swapped?"},
		{name: "PKCS#8 encrypted", data: testkit.PEM("ENCRYPTED PRIVATE KEY", []byte{0}), wantErr: pemutil.ErrEncryptedKey.Error()},
		{name: "OpenSSL encrypted", data: encrypted, wantErr: pemutil.ErrEncryptedKey.Error()},
		{name: "a public key", data: testkit.PEM("PUBLIC KEY", []byte{0}), wantErr: `PEM block "PUBLIC KEY" is not a private key; give a PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY block`},
		{name: "an OpenSSH key", data: testkit.PEM("OPENSSH PRIVATE KEY", []byte{0}), wantErr: `PEM block "OPENSSH PRIVATE KEY" is a private key in a form kcsr cannot read; give a PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY block`},
		{name: "a broken key", data: testkit.PEM("EC PRIVATE KEY", []byte{0}), wantErr: "parse private key: x509: failed to parse EC private key: asn1: syntax error: truncated tag or length"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pemutil.ParseKey(tt.data)
			if diff := cmp.Diff(tt.wantErr, testkit.ErrString(err)); diff != "" {
				t.Fatalf("error (-want +got):\n%s", diff)
			}
			if tt.want != nil && !cmp.Equal(tt.want, got.Public()) {
				t.Errorf("got the key of %T, not the one encoded", got.Public())
			}
		})
	}
	if _, err := pemutil.ParseKey(encrypted); !errors.Is(err, pemutil.ErrEncryptedKey) {
		t.Errorf("an encrypted key: %v, not ErrEncryptedKey", err)
	}
}

func TestParseCertAndKey(t *testing.T) {
	key := testkit.NewKey(t, testkit.P256)
	ca := testkit.NewCA(t, key)
	cert, got, err := pemutil.ParseCertAndKey(ca.CertPEM, ca.KeyPEM)
	testkit.NoError(t, err, "ParseCertAndKey")
	if !cert.Equal(ca.Cert) || !cmp.Equal(got.Public(), key.Public()) {
		t.Error("ParseCertAndKey returned another certificate or key")
	}
	other := testkit.KeyPEM(t, testkit.NewKey(t, testkit.P256))
	_, _, err = pemutil.ParseCertAndKey(ca.CertPEM, other)
	if diff := cmp.Diff("the private key does not match the certificate's public key", testkit.ErrString(err)); diff != "" {
		t.Errorf("another key (-want +got):\n%s", diff)
	}
	if _, _, err = pemutil.ParseCertAndKey(ca.KeyPEM, ca.KeyPEM); !errors.Is(err, pemutil.ErrNoCertificate) {
		t.Errorf("no certificate: %v, not ErrNoCertificate", err)
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	for _, kt := range []testkit.KeyType{testkit.P256, testkit.RSA2048, testkit.Ed25519} {
		key := testkit.NewKey(t, kt)
		data, err := pemutil.EncodeKey(key)
		testkit.NoError(t, err, "EncodeKey")
		got, err := pemutil.ParseKey(data)
		testkit.NoError(t, err, "ParseKey")
		if !cmp.Equal(got.Public(), key.Public()) {
			t.Errorf("%s: the key read back differs", kt)
		}
	}
	ca := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
	if diff := cmp.Diff(string(ca.CertPEM), string(pemutil.EncodeCertificate(ca.Cert.Raw))); diff != "" {
		t.Errorf("EncodeCertificate (-want +got):\n%s", diff)
	}
}

func TestBlocksStops(t *testing.T) {
	ca := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
	var types []string
	for b := range pemutil.Blocks(append(append([]byte("text\n"), ca.CertPEM...), ca.KeyPEM...)) {
		types = append(types, b.Type)
		break
	}
	if diff := cmp.Diff([]string{pemutil.CertificateBlockType}, types); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// raws are the DER of certs, to compare certificates exactly.
func raws(certs []*x509.Certificate) [][]byte {
	var out [][]byte
	for _, c := range certs {
		out = append(out, c.Raw)
	}
	return out
}

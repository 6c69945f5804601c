package revocation_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"kcsr.dev/kcsr/pkg/ca"
	"kcsr.dev/kcsr/pkg/revocation"
	"kcsr.dev/kcsr/pkg/testkit"
)

var oidReasonCode = asn1.ObjectIdentifier{2, 5, 29, 21}

// crlEntry is what a test expects of a CRL entry.
type crlEntry struct {
	Serial     string // hex
	RevokedAt  time.Time
	ReasonCode int
}

func TestCRL(t *testing.T) {
	now := testkit.Epoch.Add(1234 * time.Millisecond) // the CRL says Epoch+1s
	thisUpdate := testkit.Epoch.Add(time.Second)
	revokedAt := testkit.Epoch.Add(-time.Hour)
	at := func(e revocation.Entry) revocation.Entry { e.RevokedAt = revokedAt; return e }
	withReason := func(serial int64, r revocation.Reason) revocation.Entry {
		return at(entry(serial, func(e *revocation.Entry) { e.Reason = r }))
	}
	notAfter := func(serial int64, na time.Time) revocation.Entry {
		return at(entry(serial, func(e *revocation.Entry) { e.NotAfter = na }))
	}
	maxNumber := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 159), big.NewInt(1)) // 20 octets

	tests := []struct {
		name     string
		entries  []revocation.Entry
		number   *big.Int
		validity time.Duration
		want     []crlEntry
		// wantNextUpdate is nextUpdate − thisUpdate; 24h when zero.
		wantNextUpdate time.Duration
	}{
		{name: "no entries", number: big.NewInt(1)},
		{
			name:   "every reason",
			number: big.NewInt(2),
			entries: []revocation.Entry{
				withReason(0x10, revocation.Unspecified), withReason(0x11, revocation.KeyCompromise), withReason(0x12, revocation.CACompromise),
				withReason(0x13, revocation.AffiliationChanged), withReason(0x14, revocation.Superseded), withReason(0x15, revocation.CessationOfOperation),
				withReason(0x16, revocation.CertificateHold), withReason(0x17, revocation.PrivilegeWithdrawn), withReason(0x18, revocation.AACompromise),
			},
			want: []crlEntry{
				{"10", revokedAt, 0}, {"11", revokedAt, 1}, {"12", revokedAt, 2}, {"13", revokedAt, 3}, {"14", revokedAt, 4},
				{"15", revokedAt, 5}, {"16", revokedAt, 6}, {"17", revokedAt, 9}, {"18", revokedAt, 10},
			},
		},
		{
			name:   "expired entries dropped",
			number: big.NewInt(3),
			entries: []revocation.Entry{
				notAfter(1, now.Add(-time.Nanosecond)), notAfter(2, now.Add(-365*24*time.Hour)),
				notAfter(3, now), notAfter(4, now.Add(time.Second)), notAfter(5, time.Time{}),
			},
			want: []crlEntry{{"3", revokedAt, 1}, {"4", revokedAt, 1}, {"5", revokedAt, 1}},
		},
		{
			name:   "order kept, times in UTC to the second",
			number: big.NewInt(4),
			entries: []revocation.Entry{entry(0x300), entry(0x2, func(e *revocation.Entry) {
				e.RevokedAt = time.Date(2030, 5, 1, 14, 0, 0, 999, time.FixedZone("CEST", 2*3600))
			})},
			want: []crlEntry{{"300", testkit.Epoch, 1}, {"2", time.Date(2030, 5, 1, 12, 0, 0, 0, time.UTC), 1}},
		},
		{name: "a week's validity", number: big.NewInt(5), validity: 7 * 24 * time.Hour, wantNextUpdate: 7 * 24 * time.Hour},
		{name: "CRL number of 20 octets", number: maxNumber},
		{name: "CRL number 0", number: big.NewInt(0)},
	}
	cas := []struct {
		name string
		ca   *testkit.CA
	}{
		{"P-256", testkit.NewCA(t, testkit.NewKey(t, testkit.P256))},
		{"P-384", testkit.NewCA(t, testkit.NewKey(t, testkit.P384))},
		{"RSA-2048", testkit.NewCA(t, testkit.NewKey(t, testkit.RSA2048))},
		{"Ed25519", testkit.NewCA(t, testkit.NewKey(t, testkit.Ed25519))},
	}
	cas = append(cas, struct {
		name string
		ca   *testkit.CA
	}{"Ed25519 intermediate of P-256", cas[0].ca.NewIntermediate(t, testkit.NewKey(t, testkit.Ed25519))})

	for _, c := range cas {
		for _, tt := range tests {
			t.Run(c.name+", "+tt.name, func(t *testing.T) {
				a := &revocation.Authority{Backend: c.ca.Backend(), CRLValidity: tt.validity}
				der, err := a.CRL(context.Background(), tt.entries, tt.number, now)
				if err != nil {
					t.Fatal(err)
				}
				crl, err := x509.ParseRevocationList(der)
				if err != nil {
					t.Fatal(err)
				}
				if err := crl.CheckSignatureFrom(c.ca.Cert); err != nil {
					t.Errorf("CheckSignatureFrom(CA): %v", err)
				}
				if crl.Number.Cmp(tt.number) != 0 {
					t.Errorf("CRL number %s, want %s", crl.Number, tt.number)
				}
				wantNext := tt.wantNextUpdate
				if wantNext == 0 {
					wantNext = 24 * time.Hour
				}
				if !crl.ThisUpdate.Equal(thisUpdate) || !crl.NextUpdate.Equal(thisUpdate.Add(wantNext)) {
					t.Errorf("thisUpdate %s, nextUpdate %s; want %s, %s", crl.ThisUpdate, crl.NextUpdate, thisUpdate, thisUpdate.Add(wantNext))
				}
				if !bytes.Equal(crl.RawIssuer, c.ca.Cert.RawSubject) {
					t.Errorf("issuer %s, want %s", crl.Issuer, c.ca.Cert.Subject)
				}
				if !bytes.Equal(crl.AuthorityKeyId, c.ca.Cert.SubjectKeyId) {
					t.Errorf("authorityKeyIdentifier %x, want the CA's subjectKeyIdentifier %x", crl.AuthorityKeyId, c.ca.Cert.SubjectKeyId)
				}
				var got []crlEntry
				for _, e := range crl.RevokedCertificateEntries {
					got = append(got, crlEntry{e.SerialNumber.Text(16), e.RevocationTime, e.ReasonCode})
					hasReason := false
					for _, ext := range e.Extensions {
						hasReason = hasReason || ext.Id.Equal(oidReasonCode)
					}
					if hasReason != (e.ReasonCode != 0) {
						t.Errorf("entry %x: reasonCode extension present: %v, reason %d; want it only for a reason other than unspecified", e.SerialNumber, hasReason, e.ReasonCode)
					}
				}
				if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("entries (-want +got):\n%s", diff)
				}
			})
		}
	}
}

func TestCRLErrors(t *testing.T) {
	p256 := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
	other := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
	noCRLSign := testkit.NewCA(t, p256.Key, func(c *x509.Certificate) { c.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature })
	noKeyUsage := testkit.NewCA(t, p256.Key, func(c *x509.Certificate) { c.KeyUsage = 0 })
	noSKID := *p256.Cert // x509 always writes one for a CA: take it away from a copy
	noSKID.SubjectKeyId = nil
	boom := errors.New("the HSM is unplugged")

	tests := []struct {
		name      string
		backend   ca.Backend // p256's unless noBackend
		noBackend bool
		validity  time.Duration
		entries   []revocation.Entry
		number    *big.Int // 1 unless noNumber
		noNumber  bool
		wantIs    error
		wantErr   string
	}{
		{
			name: "CA without cRLSign", backend: noCRLSign.Backend(), wantIs: revocation.ErrNoCRLSign,
			wantErr: `the CA certificate does not allow CRL signing: the keyUsage of "CN=kcsr test CA,O=kcsr tests" lacks cRLSign; reissue the CA with keyUsage=critical,keyCertSign,cRLSign`,
		},
		{
			name: "CA without keyUsage", backend: noKeyUsage.Backend(), wantIs: revocation.ErrNoCRLSign,
			wantErr: `the CA certificate does not allow CRL signing: "CN=kcsr test CA,O=kcsr tests" has no keyUsage extension; reissue the CA with keyUsage=critical,keyCertSign,cRLSign`,
		},
		{
			name: "CA without subjectKeyIdentifier", backend: &testkit.Static{ChainCerts: []*x509.Certificate{&noSKID}, Key: p256.Key}, wantIs: revocation.ErrNoSubjectKeyID,
			wantErr: `the CA certificate has no subject key identifier: "CN=kcsr test CA,O=kcsr tests"; reissue the CA with subjectKeyIdentifier=hash`,
		},
		{
			name: "key of another CA", backend: &testkit.Static{ChainCerts: other.Chain, Key: p256.Key}, wantIs: ca.ErrKeyMismatch,
			wantErr: `the CA key does not match the CA certificate: the CA "CN=kcsr test CA,O=kcsr tests"`,
		},
		{name: "no certificate", backend: &testkit.Static{Key: p256.Key}, wantIs: ca.ErrNoCertificate, wantErr: "the CA has no certificate"},
		{name: "chain fails", backend: &testkit.Static{ChainErr: boom}, wantIs: boom, wantErr: "read the CA certificate: the HSM is unplugged"},
		{name: "signer fails", backend: &testkit.Static{ChainCerts: p256.Chain, SignerErr: boom}, wantIs: boom, wantErr: "open the CA key: the HSM is unplugged"},
		{name: "no backend", noBackend: true, wantErr: "revocation: Authority.Backend is not set"},
		{name: "no CRL number", noNumber: true, wantErr: "CRL number: missing; give a number that grows with each CRL"},
		{name: "negative CRL number", number: big.NewInt(-3), wantErr: "CRL number: -3 is negative; give a number that grows with each CRL, from 0"},
		{
			name: "CRL number of 21 octets", number: new(big.Int).Lsh(big.NewInt(1), 159),
			wantErr: "CRL number: 730750818665451459101842416358141509827966271488 is longer than 20 octets (RFC 5280 §5.2.3)",
		},
		{name: "negative validity", validity: -time.Hour, wantErr: "CRLValidity: -1h0m0s is negative; give a positive duration, or zero for 24h0m0s"},
		{
			name: "invalid entry", entries: []revocation.Entry{entry(1), entry(2, func(e *revocation.Entry) { e.RevokedAt = time.Time{} })},
			wantErr: "entry 1: revokedAt: missing for serial 2; give the time of the revocation",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &revocation.Authority{Backend: tt.backend, CRLValidity: tt.validity}
			if tt.backend == nil && !tt.noBackend {
				a.Backend = p256.Backend()
			}
			number := tt.number
			if number == nil && !tt.noNumber {
				number = big.NewInt(1)
			}
			der, err := a.CRL(context.Background(), tt.entries, number, testkit.Epoch)
			if err == nil {
				t.Fatalf("CRL = %d bytes, want error %q", len(der), tt.wantErr)
			}
			if diff := cmp.Diff(tt.wantErr, err.Error()); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %v is not %v", err, tt.wantIs)
			}
		})
	}
}

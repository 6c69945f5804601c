package csr

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseRequest(t *testing.T) {
	ecKey, rsaKey, edKey := newECDSAKey(t), newRSAKey(t), newEd25519Key(t)
	tmpl := requestTemplate("system:node:n1", []string{"system:nodes"})
	ecDER := requestDER(t, ecKey, tmpl)
	ecPEM := requestPEM(t, ecKey, tmpl)

	// tampered flips the last byte of the signature, which keeps the DER well-formed.
	tampered := func(der []byte) []byte {
		der = bytes.Clone(der)
		der[len(der)-1] ^= 0xff
		return pem.EncodeToMemory(&pem.Block{Type: RequestBlockType, Bytes: der})
	}
	block := func(typ string, b []byte) []byte {
		return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b})
	}

	cases := []struct {
		name    string
		in      []byte
		wantErr string
		wantCN  string
	}{
		{name: "ecdsa", in: ecPEM, wantCN: "system:node:n1"},
		{name: "rsa", in: requestPEM(t, rsaKey, tmpl), wantCN: "system:node:n1"},
		{name: "ed25519", in: requestPEM(t, edKey, tmpl), wantCN: "system:node:n1"},
		{name: "text before the block is skipped", in: append([]byte("a comment\n"), ecPEM...), wantCN: "system:node:n1"},
		{name: "blocks after the first are ignored", in: append(bytes.Clone(ecPEM), block("GARBAGE", []byte("x"))...), wantCN: "system:node:n1"},
		{name: "nil", in: nil, wantErr: "PEM block type must be CERTIFICATE REQUEST"},
		{name: "empty", in: []byte{}, wantErr: "PEM block type must be CERTIFICATE REQUEST"},
		{name: "DER instead of PEM", in: ecDER, wantErr: "PEM block type must be CERTIFICATE REQUEST"},
		{name: "certificate block", in: block("CERTIFICATE", ecDER), wantErr: "PEM block type must be CERTIFICATE REQUEST"},
		{name: "NEW CERTIFICATE REQUEST header", in: block("NEW CERTIFICATE REQUEST", ecDER), wantErr: "PEM block type must be CERTIFICATE REQUEST"},
		{name: "only the first block counts", in: append(block("PRIVATE KEY", []byte("k")), ecPEM...), wantErr: "PEM block type must be CERTIFICATE REQUEST"},
		{name: "garbage DER", in: block(RequestBlockType, []byte("garbage")), wantErr: "asn1: structure error: tags don't match (16 vs {class:1 tag:7 length:97 isCompound:true}) {optional:false explicit:false application:false private:false defaultValue:<nil> tag:<nil> stringType:0 timeType:0 set:false omitEmpty:false} certificateRequest @2"},
		{name: "empty DER", in: block(RequestBlockType, nil), wantErr: "asn1: syntax error: sequence truncated"},
		{name: "trailing DER", in: block(RequestBlockType, append(bytes.Clone(ecDER), 0)), wantErr: "asn1: syntax error: trailing data"},
		{name: "bad ecdsa signature", in: tampered(ecDER), wantErr: "x509: ECDSA verification failure"},
		{name: "bad rsa signature", in: tampered(requestDER(t, rsaKey, tmpl)), wantErr: "crypto/rsa: verification error"},
		{name: "bad ed25519 signature", in: tampered(requestDER(t, edKey, tmpl)), wantErr: "x509: Ed25519 verification failure"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := ParseRequest(tc.in)
			if diff := cmp.Diff(tc.wantErr, errString(err)); diff != "" {
				t.Fatalf("error (-want +got):\n%s", diff)
			}
			if err != nil {
				if req != nil {
					t.Errorf("got a request with error %v", err)
				}
				return
			}
			if req.Subject.CommonName != tc.wantCN {
				t.Errorf("common name = %q, want %q", req.Subject.CommonName, tc.wantCN)
			}
		})
	}
}

func FuzzParseRequest(f *testing.F) {
	tmpl := requestTemplate("system:node:n1", []string{"system:nodes"}, withDNS("n1.example.com"), withIP("10.0.0.1"))
	for _, pemBytes := range [][]byte{
		requestPEM(f, newECDSAKey(f), tmpl),
		requestPEM(f, newEd25519Key(f), tmpl),
		requestPEM(f, newRSAKey(f), requestTemplate("jane", []string{"dev"})),
	} {
		f.Add(pemBytes)
		f.Add(pemBytes[:len(pemBytes)/2]) // truncated
	}
	f.Add([]byte(nil))
	f.Add([]byte("-----BEGIN CERTIFICATE REQUEST-----\n-----END CERTIFICATE REQUEST-----\n"))
	f.Add([]byte("-----BEGIN CERTIFICATE REQUEST-----\nMAA=\n-----END CERTIFICATE REQUEST-----\n"))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n"))

	f.Fuzz(func(t *testing.T, in []byte) {
		req, err := ParseRequest(in)
		if err != nil {
			if req != nil {
				t.Fatalf("ParseRequest returned a request and error %v", err)
			}
			return
		}
		if req == nil {
			t.Fatal("ParseRequest returned neither a request nor an error")
		}
		// A request that passed must survive a PEM round trip unchanged.
		again, err := ParseRequest(pem.EncodeToMemory(&pem.Block{Type: RequestBlockType, Bytes: req.Raw}))
		if err != nil {
			t.Fatalf("re-parsing an accepted request: %v", err)
		}
		if !bytes.Equal(again.Raw, req.Raw) {
			t.Fatal("re-parsed request differs")
		}
		if err := req.CheckSignature(); err != nil {
			t.Fatalf("accepted request has a bad signature: %v", err)
		}
	})
}

func TestHoldsPrivateKey(t *testing.T) {
	cases := map[string]struct {
		data string
		want bool
	}{
		"pkcs8":       {fakePEM("PRIVATE KEY"), true},
		"rsa":         {fakePEM("RSA PRIVATE KEY"), true},
		"after a csr": {fakePEM("CERTIFICATE REQUEST") + fakePEM("EC PRIVATE KEY"), true},
		"csr only":    {"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n", false},
		"not pem":     {"hello", false},
		"public key":  {"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", false},
	}
	for name, tc := range cases {
		if got := HoldsPrivateKey([]byte(tc.data)); got != tc.want {
			t.Errorf("%s: HoldsPrivateKey = %v, want %v", name, got, tc.want)
		}
	}
}

func TestKeyAlgorithm(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for want, pub := range map[string]any{"RSA 1024": &rsaKey.PublicKey, "ECDSA P-384": &ecKey.PublicKey, "Ed25519": edPub} {
		if got := KeyAlgorithm(pub); got != want {
			t.Errorf("KeyAlgorithm = %q, want %q", got, want)
		}
	}
}

// fakePEM is a PEM block of the given type with placeholder content (no key material).
func fakePEM(blockType string) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: []byte{0, 0, 0}}))
}

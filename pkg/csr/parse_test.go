package csr

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"kcsr.dev/kcsr/pkg/testkit"
)

func TestParseRequest(t *testing.T) {
	ecKey, rsaKey, edKey := testkit.NewKey(t, testkit.P256), testkit.NewKey(t, testkit.RSA2048), testkit.NewKey(t, testkit.Ed25519)
	tmpl := testkit.Request(t, "system:node:n1", testkit.WithOrg("system:nodes"))
	ecDER := testkit.RequestDER(t, ecKey, tmpl)
	ecPEM := testkit.RequestPEM(t, ecKey, tmpl)

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
		// badSignature: only the signature is wrong, which DecodeRequest does not check.
		badSignature bool
	}{
		{name: "ecdsa", in: ecPEM, wantCN: "system:node:n1"},
		{name: "rsa", in: testkit.RequestPEM(t, rsaKey, tmpl), wantCN: "system:node:n1"},
		{name: "ed25519", in: testkit.RequestPEM(t, edKey, tmpl), wantCN: "system:node:n1"},
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
		{name: "bad ecdsa signature", in: tampered(ecDER), wantErr: "x509: ECDSA verification failure", badSignature: true},
		{name: "bad rsa signature", in: tampered(testkit.RequestDER(t, rsaKey, tmpl)), wantErr: "crypto/rsa: verification error", badSignature: true},
		{name: "bad ed25519 signature", in: tampered(testkit.RequestDER(t, edKey, tmpl)), wantErr: "x509: Ed25519 verification failure", badSignature: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// DecodeRequest reads stored requests: it refuses what ParseRequest refuses,
			// but for the signature, which was checked when the request was stored.
			decoded, derr := DecodeRequest(tc.in)
			wantDecodeErr := tc.wantErr
			if tc.badSignature {
				wantDecodeErr = ""
			}
			if diff := cmp.Diff(wantDecodeErr, testkit.ErrString(derr)); diff != "" {
				t.Errorf("DecodeRequest error (-want +got):\n%s", diff)
			}
			if derr == nil && decoded.Subject.CommonName != "system:node:n1" {
				t.Errorf("DecodeRequest common name = %q", decoded.Subject.CommonName)
			}

			req, err := ParseRequest(tc.in)
			if diff := cmp.Diff(tc.wantErr, testkit.ErrString(err)); diff != "" {
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

func TestParseStrictRequest(t *testing.T) {
	ecKey, rsaKey, edKey := testkit.NewKey(t, testkit.P256), testkit.NewKey(t, testkit.RSA2048), testkit.NewKey(t, testkit.Ed25519)
	tmpl := testkit.Request(t, "jane", testkit.WithOrg("dev"))
	reqDER := testkit.RequestDER(t, ecKey, tmpl)
	reqPEM := testkit.RequestPEM(t, ecKey, tmpl)
	keys := privateKeyShapes(t, rsaKey, ecKey, edKey)
	block := func(typ string, b []byte, headers map[string]string) []byte {
		return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b, Headers: headers})
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	tampered := bytes.Clone(reqDER)
	tampered[len(tampered)-1] ^= 0xff

	const (
		keyErr = "must be exactly one PEM block of type CERTIFICATE REQUEST: found a private key"
		prefix = "must be exactly one PEM block of type CERTIFICATE REQUEST: found "
	)
	cases := []struct {
		name    string
		in      []byte
		wantErr string
		wantKey bool
	}{
		{name: "the request", in: reqPEM},
		{name: "whitespace around it", in: cat([]byte(" \n\t\r\n"), reqPEM, []byte("\n\n  \t\n"))},
		{name: "no line end", in: bytes.TrimSuffix(reqPEM, []byte("\n"))},
		{name: "CRLF line ends", in: bytes.ReplaceAll(reqPEM, []byte("\n"), []byte("\r\n"))},
		{name: "rsa", in: testkit.RequestPEM(t, rsaKey, tmpl)},
		{name: "ed25519", in: testkit.RequestPEM(t, edKey, tmpl)},

		// A private key in every shape: refused, and said so.
		{name: "the request then the key", in: cat(reqPEM, keys["pkcs8"]), wantErr: keyErr, wantKey: true},
		{name: "the request then an RSA key", in: cat(reqPEM, keys["pkcs1"]), wantErr: keyErr, wantKey: true},
		{name: "the request then an EC key with parameters", in: cat(reqPEM, keys["sec1 with parameters"]), wantErr: keyErr, wantKey: true},
		{name: "the key then the request", in: cat(keys["pkcs8"], reqPEM), wantErr: keyErr, wantKey: true},
		{name: "the key alone", in: keys["pkcs8"], wantErr: keyErr, wantKey: true},
		{name: "an ed25519 key", in: keys["ed25519"], wantErr: keyErr, wantKey: true},
		{name: "a DER key", in: keys["der"], wantErr: keyErr, wantKey: true},
		{name: "a DER key as base64 text", in: keys["base64 der"], wantErr: keyErr, wantKey: true},
		{name: "an indented PEM key", in: keys["indented"], wantErr: keyErr, wantKey: true},
		{name: "the request then an indented key", in: cat(reqPEM, keys["indented"]), wantErr: keyErr, wantKey: true},
		{name: "a PEM key without its END line", in: keys["no end line"], wantErr: keyErr, wantKey: true},
		{name: "the request then a key without its END line", in: cat(reqPEM, keys["no end line"]), wantErr: keyErr, wantKey: true},
		{name: "a key in a block of another type", in: keys["other type"], wantErr: keyErr, wantKey: true},
		{name: "the request then a key in a block of another type", in: cat(reqPEM, keys["other type"]), wantErr: keyErr, wantKey: true},
		{name: "the request then a DER key", in: cat(reqPEM, keys["der"]), wantErr: keyErr, wantKey: true},
		{name: "the request then the key's base64 text", in: cat(reqPEM, keys["base64 der"]), wantErr: keyErr, wantKey: true},
		{name: "a DER key then the request", in: cat(keys["der"], []byte("\n"), reqPEM), wantErr: keyErr, wantKey: true},
		{name: "a key in a CERTIFICATE REQUEST block", in: block(RequestBlockType, keys["der"], nil), wantErr: keyErr, wantKey: true},

		// Anything else around or instead of the one block.
		{name: "nil", in: nil, wantErr: prefix + "nothing"},
		{name: "only whitespace", in: []byte(" \n\t"), wantErr: prefix + "nothing"},
		{name: "an indented BEGIN line", in: cat([]byte("\n  "), reqPEM), wantErr: prefix + "spaces before the BEGIN line; it must start a line"},
		{name: "text before", in: cat([]byte("my request:\n"), reqPEM), wantErr: prefix + "text before the PEM block"},
		{name: "text after", in: cat(reqPEM, []byte("# made by openssl\n")), wantErr: prefix + "text after the PEM block"},
		{name: "two requests", in: cat(reqPEM, reqPEM), wantErr: prefix + "more than one PEM block"},
		{name: "the request then a certificate", in: cat(reqPEM, block("CERTIFICATE", []byte{0x30, 0}, nil)), wantErr: prefix + "more than one PEM block"},
		{name: "a certificate", in: block("CERTIFICATE", reqDER, nil), wantErr: prefix + `a PEM block of type "CERTIFICATE"`},
		{name: "the legacy NEW CERTIFICATE REQUEST type", in: block("NEW CERTIFICATE REQUEST", reqDER, nil), wantErr: prefix + `a PEM block of type "NEW CERTIFICATE REQUEST"`},
		{name: "a type that is not a type name", in: block("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", reqDER, nil), wantErr: prefix + "a PEM block of type another type"},
		{name: "headers", in: block(RequestBlockType, reqDER, map[string]string{"Comment": "x"}), wantErr: prefix + "PEM headers in the block"},
		{name: "no END line", in: bytes.TrimSuffix(reqPEM, []byte("-----END CERTIFICATE REQUEST-----\n")), wantErr: prefix + "a PEM block that does not decode (a missing or misspelt END line, or a broken base64 body)"},
		{name: "DER request", in: reqDER, wantErr: prefix + "a DER (binary) request; convert it to PEM (openssl req -inform DER -in user.der -out user.csr)"},
		{name: "not PEM", in: []byte("hello"), wantErr: prefix + "no PEM block"},

		// Within the one block: ParseRequest's errors.
		{name: "garbage DER", in: block(RequestBlockType, []byte{0x30, 0x03, 0x02, 0x01}, nil), wantErr: "asn1: syntax error: data truncated"},
		{name: "bad signature", in: block(RequestBlockType, tampered, nil), wantErr: "x509: ECDSA verification failure"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := ParseStrictRequest(tc.in)
			if diff := cmp.Diff(tc.wantErr, testkit.ErrString(err)); diff != "" {
				t.Fatalf("error (-want +got):\n%s", diff)
			}
			if err == nil {
				if req == nil || req.Subject.CommonName != "jane" {
					t.Fatalf("request = %v, want the one for CN=jane", req)
				}
				return
			}
			if req != nil {
				t.Errorf("got a request with error %v", err)
			}
			var encodingErr *EncodingError
			if got := errors.As(err, &encodingErr) && encodingErr.PrivateKey; got != tc.wantKey {
				t.Errorf("EncodingError.PrivateKey = %v, want %v", got, tc.wantKey)
			}
			assertNoKeyMaterial(t, err.Error(), tc.in, keys)
		})
	}

	var sigErr *SignatureError
	if _, err := ParseStrictRequest(block(RequestBlockType, tampered, nil)); !errors.As(err, &sigErr) {
		t.Errorf("bad signature: error %T, want *SignatureError", err)
	}
}

// privateKeyShapes returns the shapes in which people send private keys, by name. Keys
// are generated per test.
func privateKeyShapes(t testing.TB, rsaKey, ecKey, edKey crypto.Signer) map[string][]byte {
	t.Helper()
	pkcs8 := func(key crypto.Signer) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	ecDER, err := x509.MarshalECPrivateKey(ecKey.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	der := pkcs8(rsaKey)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	var indented bytes.Buffer
	for _, line := range bytes.SplitAfter(pemKey, []byte("\n")) {
		if len(line) > 0 {
			indented.WriteString("    ")
			indented.Write(line)
		}
	}
	noEnd := pemKey[:bytes.LastIndex(pemKey, []byte("-----END"))]
	return map[string][]byte{
		"pkcs8":                pemKey,
		"pkcs1":                pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey.(*rsa.PrivateKey))}),
		"sec1 with parameters": append(pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{6, 8, 0x2a, 0x86, 0x48, 0xce, 0x3d, 3, 1, 7}}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER})...),
		"ed25519":              pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8(edKey)}),
		"der":                  der,
		"base64 der":           []byte(base64.StdEncoding.EncodeToString(der)),
		"indented":             indented.Bytes(),
		"no end line":          noEnd,
		"other type":           pem.EncodeToMemory(&pem.Block{Type: "DATA", Bytes: der}),
	}
}

// assertNoKeyMaterial fails when msg holds 8 characters in a row of any key's base64 (the
// text of a PEM body, and of a base64 echo of the DER), or of in's base64 (the echo of the
// whole value, as kube-apiserver shows spec.request).
func assertNoKeyMaterial(t testing.TB, msg string, in []byte, keys map[string][]byte) {
	t.Helper()
	const window = 8
	texts := []string{base64.StdEncoding.EncodeToString(in)}
	for _, k := range keys {
		texts = append(texts, base64.StdEncoding.EncodeToString(k))
		if block, _ := pem.Decode(k); block != nil {
			texts = append(texts, base64.StdEncoding.EncodeToString(block.Bytes))
		}
	}
	for _, text := range texts {
		for i := 0; i+window <= len(text); i++ {
			if strings.Contains(msg, text[i:i+window]) {
				t.Fatalf("error %q holds %q, a piece of the input or of a key", msg, text[i:i+window])
			}
		}
	}
}

func FuzzParseRequest(f *testing.F) {
	tmpl := testkit.Request(f, "system:node:n1", testkit.WithOrg("system:nodes"), testkit.WithDNS("n1.example.com"), testkit.WithIP("10.0.0.1"))
	for _, pemBytes := range [][]byte{
		testkit.RequestPEM(f, testkit.NewKey(f, testkit.P256), tmpl),
		testkit.RequestPEM(f, testkit.NewKey(f, testkit.Ed25519), tmpl),
		testkit.RequestPEM(f, testkit.NewKey(f, testkit.RSA2048), testkit.Request(f, "jane", testkit.WithOrg("dev"))),
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

// FuzzParseStrictRequest checks that what ParseStrictRequest accepts is one request and
// nothing else: ParseRequest reads the same request from it, and it holds no private key.
func FuzzParseStrictRequest(f *testing.F) {
	key := testkit.NewKey(f, testkit.P256)
	reqPEM := testkit.RequestPEM(f, key, testkit.Request(f, "jane", testkit.WithOrg("dev")))
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(reqPEM)
	f.Add(append(bytes.Clone(reqPEM), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})...))
	f.Add(append([]byte("\n  "), reqPEM...))
	f.Add(keyDER)

	f.Fuzz(func(t *testing.T, in []byte) {
		req, err := ParseStrictRequest(in)
		if err != nil {
			if req != nil {
				t.Fatalf("ParseStrictRequest returned a request and error %v", err)
			}
			return
		}
		loose, err := ParseRequest(in)
		if err != nil {
			t.Fatalf("ParseStrictRequest accepted what ParseRequest refuses: %v", err)
		}
		if !bytes.Equal(loose.Raw, req.Raw) {
			t.Fatal("ParseStrictRequest and ParseRequest read different requests")
		}
		if HoldsPrivateKey(in) {
			t.Fatal("ParseStrictRequest accepted a private key")
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
	rsaKey, ecKey, edKey := testkit.NewKey(t, testkit.RSA1024), testkit.NewKey(t, testkit.P384), testkit.NewKey(t, testkit.Ed25519)
	for want, pub := range map[string]any{"RSA 1024": rsaKey.Public(), "ECDSA P-384": ecKey.Public(), "Ed25519": edKey.Public()} {
		if got := KeyAlgorithm(pub); got != want {
			t.Errorf("KeyAlgorithm = %q, want %q", got, want)
		}
	}
}

// fakePEM is a PEM block of the given type with placeholder content (no key material).
func fakePEM(blockType string) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: []byte{0, 0, 0}}))
}

package controller

import (
	"context"
	"fmt"
	"testing"

	"k8s.io/client-go/kubernetes/fake"

	"kcsr.dev/kcsr/pkg/pemutil"
	"kcsr.dev/kcsr/pkg/testkit"
)

// TestOpenSignersRefusesOpenKeyFiles: kcsr controller's CA keys, the cluster signing key and a
// custom signer's, get the check kcsr server applies to its own keys and to
// --token-auth-file (pki.CheckSecretFileMode, through the file CA backend).
func TestOpenSignersRefusesOpenKeyFiles(t *testing.T) {
	key := testkit.NewKey(t, testkit.P256)
	authority := testkit.NewCA(t, key)
	keyPEM, err := pemutil.EncodeKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile := testkit.WriteFile(t, "ca.crt", authority.ChainPEM(), 0o644)
	openKey := testkit.WriteFile(t, "ca.key", keyPEM, 0o640)
	signerConfig := testkit.WriteFile(t, "signers.yaml", []byte(fmt.Sprintf(`apiVersion: kcsr.dev/v1alpha1
kind: SignerConfiguration
signers:
- signerName: example.com/webhook
  ca: {certFile: %s, keyFile: %s}
`, certFile, openKey)), 0o644)
	refusal := fmt.Sprintf("CA key file %s is readable by group or others (mode 0640); run: chmod 600 %s", openKey, openKey)

	cases := []struct {
		name    string
		options func(o *Options)
		wantErr string
	}{
		{
			name:    "--cluster-signing-key-file",
			options: func(o *Options) { o.ClusterSigningCertFile, o.ClusterSigningKeyFile = certFile, openKey },
			wantErr: "--cluster-signing-cert-file, --cluster-signing-key-file: " + refusal,
		},
		{
			name:    "a custom signer's keyFile",
			options: func(o *Options) { o.Controllers.SignerConfig = signerConfig },
			// Refused when the configuration is loaded, before anything else starts.
			wantErr: "--signer-config " + signerConfig + ":\nsigner example.com/webhook: " + refusal,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := NewOptions()
			tc.options(o)
			cfg, err := o.Controllers.LoadSignerConfig(context.Background())
			if err == nil {
				_, err = o.openSigners(context.Background(), cfg, fake.NewSimpleClientset())
			}
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.wantErr {
				t.Errorf("LoadSignerConfig, openSigners: %q; want %q", got, tc.wantErr)
			}
		})
	}
}

package signer

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestReservedSignerName: kcsr.dev/pki names the records of the server's own
// certificates, which answer no CSR; a configured signer may not take it.
func TestReservedSignerName(t *testing.T) {
	c := &Configuration{Signers: []SignerSpec{{SignerName: "kcsr.dev/pki", CA: &CASpec{CertFile: "ca.crt", KeyFile: "ca.key"}}}}
	got := ""
	if err := c.Validate(); err != nil {
		got = err.Error()
	}
	want := "signers[0].signerName: kcsr.dev/pki is reserved for the inventory records of the server's own certificates (admin, serving); choose another name"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("error (-want +got):\n%s", diff)
	}
}

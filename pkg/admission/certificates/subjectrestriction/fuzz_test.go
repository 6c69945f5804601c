package subjectrestriction

import (
	"context"
	"crypto/x509/pkix"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apiserver/pkg/admission"
)

// FuzzValidate feeds arbitrary spec.request bytes to the plugin: it must never panic, and
// it may only allow a request that parses without system:masters in its Organization.
func FuzzValidate(f *testing.F) {
	f.Add(pemCSR(&testing.T{}, pkix.Name{CommonName: "alice", Organization: []string{"dev"}}))
	f.Add(pemCSR(&testing.T{}, pkix.Name{CommonName: "root", Organization: []string{"system:masters"}}))
	f.Add([]byte("-----BEGIN CERTIFICATE REQUEST-----\nMAA=\n-----END CERTIFICATE REQUEST-----\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, request []byte) {
		err := New().Validate(context.Background(), attrs(csr(certificatesv1.KubeAPIServerClientSignerName, request), "", admission.Create), nil)
		if err != nil {
			return
		}
		parsed, perr := parseCSR(request)
		if perr != nil {
			t.Fatalf("allowed a request that does not parse: %v", perr)
		}
		for _, o := range parsed.Subject.Organization {
			if o == "system:masters" {
				t.Fatalf("allowed a system:masters request")
			}
		}
	})
}

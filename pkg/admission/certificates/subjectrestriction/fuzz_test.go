package subjectrestriction

import (
	"context"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apiserver/pkg/admission"

	"kcsr.dev/kcsr/pkg/testkit"
)

// FuzzValidate feeds arbitrary spec.request bytes to the plugin: it must never panic, and
// it may only allow a request that parses without system:masters in its Organization.
func FuzzValidate(f *testing.F) {
	f.Add(testkit.ClientRequestPEM(f, "alice", testkit.WithOrg("dev")))
	f.Add(testkit.ClientRequestPEM(f, "root", testkit.WithOrg("system:masters")))
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

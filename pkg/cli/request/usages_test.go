package request

import (
	"net"
	"testing"

	"github.com/google/go-cmp/cmp"
	certificatesv1 "k8s.io/api/certificates/v1"

	"kcsr.dev/kcsr/pkg/testkit"
)

func TestDefaultUsages(t *testing.T) {
	for _, tc := range []struct {
		signer  string
		rsa     bool
		want    []certificatesv1.KeyUsage
		wantErr string
	}{
		{certificatesv1.KubeAPIServerClientSignerName, false, []certificatesv1.KeyUsage{"digital signature", "client auth"}, ""},
		{certificatesv1.KubeAPIServerClientSignerName, true, []certificatesv1.KeyUsage{"digital signature", "key encipherment", "client auth"}, ""},
		{certificatesv1.KubeAPIServerClientKubeletSignerName, false, []certificatesv1.KeyUsage{"digital signature", "client auth"}, ""},
		{certificatesv1.KubeletServingSignerName, false, []certificatesv1.KeyUsage{"digital signature", "server auth"}, ""},
		{certificatesv1.KubeletServingSignerName, true, []certificatesv1.KeyUsage{"digital signature", "key encipherment", "server auth"}, ""},
		{"example.com/mtls", false, nil, `--usage is required for signer example.com/mtls: kcsr knows the usages of the built-in signers only (e.g. --usage "digital signature" --usage "client auth")`},
	} {
		got, err := DefaultUsages(tc.signer, tc.rsa)
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s rsa=%v (-want +got):\n%s", tc.signer, tc.rsa, diff)
		}
		if testkit.ErrString(err) != tc.wantErr {
			t.Errorf("%s: error %q, want %q", tc.signer, testkit.ErrString(err), tc.wantErr)
		}
	}
}

// The defaults satisfy the built-in signers; what they would refuse is announced.
func TestSignerObjection(t *testing.T) {
	node := Identity{CommonName: "system:node:n1", Organizations: []string{"system:nodes"}, IPAddresses: []net.IP{net.ParseIP("10.0.0.1")}}
	for _, tc := range []struct {
		name   string
		signer string
		id     Identity
		usages []certificatesv1.KeyUsage
		want   string
	}{
		{"client defaults", certificatesv1.KubeAPIServerClientSignerName, Identity{CommonName: "rahul"}, []certificatesv1.KeyUsage{"digital signature", "client auth"}, ""},
		{"server auth for a client signer", certificatesv1.KubeAPIServerClientSignerName, Identity{CommonName: "rahul"}, []certificatesv1.KeyUsage{"server auth"}, "invalid usage for client certificate: server auth"},
		{"serving defaults", certificatesv1.KubeletServingSignerName, node, []certificatesv1.KeyUsage{"digital signature", "server auth"}, ""},
		{"serving without SANs", certificatesv1.KubeletServingSignerName, Identity{CommonName: "system:node:n1", Organizations: []string{"system:nodes"}}, []certificatesv1.KeyUsage{"digital signature", "server auth"}, "DNS or IP subjectAltName is required"},
		{"custom signers are not second-guessed", "example.com/x", Identity{CommonName: "x"}, []certificatesv1.KeyUsage{"any"}, ""},
	} {
		if got := signerObjection(tc.signer, tc.id, tc.usages); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

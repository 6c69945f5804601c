package admin

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/testkit"
)

func TestDescribe(t *testing.T) {
	key := testkit.NewKey(t, testkit.P256)
	request := requestPEM(t, key, pkix.Name{CommonName: "rahul", Organization: []string{"developers"}, OrganizationalUnit: []string{"platform"}}, "rahul.example")
	certPEM := issue(t, key, "rahul", epoch, epoch.Add(24*time.Hour))
	block, _ := pem.Decode(certPEM)
	sum := sha256.Sum256(block.Bytes)
	fingerprint := hex.EncodeToString(sum[:])
	now := epoch.Add(5 * time.Hour)

	issued := newCSR("rahul", request,
		withCondition(certificatesv1.CertificateApproved, "KcsrApprove", "checked with rahul's manager"),
		func(obj *certificatesv1.CertificateSigningRequest) {
			obj.Spec.UID = "8f9e"
			obj.Spec.Extra = map[string]certificatesv1.ExtraValue{
				"authentication.kubernetes.io/credential-id": {"X509SHA256=abcd"},
				"example.com/team":                           {"a", "b"},
			}
			obj.Status.Certificate = certPEM
		})
	pending := newCSR("webhook", request, testkit.SetSignerName("example.com/webhooks"), func(obj *certificatesv1.CertificateSigningRequest) {
		obj.Annotations = map[string]string{"kcsr.dev/approval-verdict": `no approval policy covers signer "example.com/webhooks", so a person must approve or deny this request`}
	})
	broken := newCSR("broken", []byte("garbage"))

	head := func(name, uid, status string) string {
		return "Name:                  " + name + "\nUID:                   " + uid + "\nCreated:               2030-01-01T00:00:00Z (5h ago)\nStatus:                " + status + "\n"
	}
	requester := "Requester:             kcsr-admin\nRequester groups:      system:masters, system:authenticated\n"
	subject := `Subject:               CN=rahul,OU=platform,O=developers
Subject CN:            rahul
Subject O:             developers
Subject OU:            platform
SANs:                  DNS:rahul.example, IP:10.0.0.1, URI:spiffe://example.com/rahul
Key:                   ECDSA P-256
Request signature:     ECDSA-SHA256, verifies
`
	certificate := `Certificate serial:    1f2e3d
Certificate subject:   CN=rahul
Certificate issuer:    CN=kcsr-ca
Certificate validity:  2030-01-01T00:00:00Z to 2030-01-02T00:00:00Z (19h left)
Certificate SHA-256:   ` + fingerprint + "\n"

	cases := []struct {
		name   string
		obj    *certificatesv1.CertificateSigningRequest
		extras describeExtras
		want   string
	}{
		{
			name: "issued, in the inventory, with events",
			obj:  issued,
			extras: describeExtras{
				records: []kcsrv1alpha1.IssuedCertificate{{ObjectMeta: metav1.ObjectMeta{Name: "uid-rahul"}, Spec: kcsrv1alpha1.IssuedCertificateSpec{SerialNumber: "1f2e3d"}}},
				events: []corev1.Event{
					{Type: "Normal", Reason: "Issued", Message: "issued certificate 1f2e3d", LastTimestamp: metav1.NewTime(epoch.Add(2 * time.Minute))},
					{Type: "Normal", Reason: "Approved", Message: "KcsrApprove: checked", LastTimestamp: metav1.NewTime(epoch.Add(time.Minute))},
				},
			},
			want: head("rahul", "uid-rahul", "Approved,Issued") + requester +
				"Requester UID:         8f9e\nRequester credential:  X509SHA256=abcd\nRequester extra:       example.com/team=a,b\n" +
				"Signer:                kubernetes.io/kube-apiserver-client\nRequested duration:    24h\nUsages:                client auth\n" + subject +
				"Condition Approved:    True, KcsrApprove: checked with rahul's manager (2030-01-01T00:01:00Z)\n" + certificate +
				"Inventory:             IssuedCertificate uid-rahul, valid\n" +
				"Events:\n  TYPE    REASON    AGE    MESSAGE\n  Normal  Approved  4h59m  KcsrApprove: checked\n  Normal  Issued    4h58m  issued certificate 1f2e3d\n",
		},
		{
			name: "issued, revoked",
			obj:  issued,
			extras: describeExtras{records: []kcsrv1alpha1.IssuedCertificate{{ObjectMeta: metav1.ObjectMeta{Name: "uid-rahul"},
				Spec:   kcsrv1alpha1.IssuedCertificateSpec{SerialNumber: "1f2e3d"},
				Status: kcsrv1alpha1.IssuedCertificateStatus{Revocation: &kcsrv1alpha1.Revocation{Time: metav1.NewTime(epoch.Add(time.Hour)), Reason: "keyCompromise", Message: "laptop stolen"}}}}},
			want: "Inventory:             IssuedCertificate uid-rahul, REVOKED at 2030-01-01T01:00:00Z (keyCompromise): laptop stolen\n",
		},
		{
			name: "issued, not recorded",
			obj:  issued,
			want: "Inventory:             not recorded: no IssuedCertificate has serial 1f2e3d\n",
		},
		{
			name:   "issued, on a server without an inventory",
			obj:    issued,
			extras: describeExtras{inventory: "not served (this API server keeps no IssuedCertificate inventory)"},
			want:   "Inventory:             not served (this API server keeps no IssuedCertificate inventory)\n",
		},
		{
			name: "pending, with the approver's verdict",
			obj:  pending,
			want: head("webhook", "uid-webhook", "Pending") + requester + "Requester UID:         <none>\n" +
				"Signer:                example.com/webhooks\nRequested duration:    24h\nUsages:                client auth\n" + subject +
				"Conditions:            <none>: Pending, nobody has approved or denied it\n" +
				`Approval verdict:      no approval policy covers signer "example.com/webhooks", so a person must approve or deny this request` + "\n" +
				"Verdict meaning:       kcsr's approver could not decide this CSR (no approval policy approved or denied it), so it waits for a person: kcsr approve webhook or kcsr deny webhook\n",
		},
		{
			name: "an unreadable request",
			obj:  broken,
			want: head("broken", "uid-broken", "Pending") + requester + "Requester UID:         <none>\n" +
				"Signer:                kubernetes.io/kube-apiserver-client\nRequested duration:    24h\nUsages:                client auth\n" +
				"Request:               unreadable: PEM block type must be CERTIFICATE REQUEST\n" +
				"Conditions:            <none>: Pending, nobody has approved or denied it\n",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			describe(&out, tc.obj, tc.extras, now)
			got := out.String()
			if strings.HasPrefix(tc.want, "Inventory:") {
				// Only the inventory line differs between these cases.
				i := strings.Index(got, "Inventory:")
				if i < 0 {
					t.Fatalf("no Inventory line:\n%s", got)
				}
				got = got[i:]
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("describe (-want +got):\n%s", diff)
			}
		})
	}
}

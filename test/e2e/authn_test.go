package e2e

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kcsr.dev/kcsr/test/e2e/framework"
)

// unauthorized is the body kube-apiserver sends with every 401.
var unauthorized = metav1.Status{
	TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
	Status:   metav1.StatusFailure,
	Message:  "Unauthorized",
	Reason:   metav1.StatusReasonUnauthorized,
	Code:     http.StatusUnauthorized,
}

// testAuthentication: x509 client certificates from the cluster CA and static tokens
// authenticate; anything else is 401 (issue 2, Must have 4: no anonymous access).
func testAuthentication(t *testing.T, cp *controlPlane) {
	dir := t.TempDir()
	s := cp.s
	rogueCA, rogueKey := framework.SelfSignedCA(t, dir, "rogue-ca")
	rogueCert, rogueCertKey := framework.SignedCert(t, dir, "rogue-alice", "/CN=alice/O=dev", rogueCA, rogueKey, "extendedKeyUsage=clientAuth", 1)
	expiredCert, expiredKey := framework.SignedCert(t, dir, "expired", "/CN=alice/O=dev", s.CACertPath(), s.CAKeyPath(), "extendedKeyUsage=clientAuth", -1)
	serverAuthCert, serverAuthKey := framework.SignedCert(t, dir, "server-auth", "/CN=alice/O=dev", s.CACertPath(), s.CAKeyPath(), "extendedKeyUsage=serverAuth", 1)
	noCNCert, noCNKey := framework.SignedCert(t, dir, "no-cn", "/O=dev", s.CACertPath(), s.CAKeyPath(), "extendedKeyUsage=clientAuth", 1)

	clients := []struct {
		name   string
		client *http.Client
		token  string
	}{
		{"no credentials", s.HTTPClient(t, "", ""), ""},
		{"certificate from another CA", s.HTTPClient(t, rogueCert, rogueCertKey), ""},
		{"expired certificate", s.HTTPClient(t, expiredCert, expiredKey), ""},
		{"certificate without client auth usage", s.HTTPClient(t, serverAuthCert, serverAuthKey), ""},
		{"certificate without common name", s.HTTPClient(t, noCNCert, noCNKey), ""},
		{"unknown bearer token", s.HTTPClient(t, "", ""), "not-a-token"},
	}
	paths := []string{"/apis", "/api", "/version", "/openapi/v2", "/apis/certificates.k8s.io/v1/certificatesigningrequests"}
	for _, c := range clients {
		t.Run(c.name, func(t *testing.T) {
			for _, path := range paths {
				req, err := http.NewRequest(http.MethodGet, s.URL+path, nil)
				if err != nil {
					t.Fatal(err)
				}
				if c.token != "" {
					req.Header.Set("Authorization", "Bearer "+c.token)
				}
				resp, err := c.client.Do(req)
				if err != nil {
					t.Errorf("GET %s: %v (want an HTTP 401, not a TLS failure)", path, err)
					continue
				}
				var status metav1.Status
				decodeErr := json.NewDecoder(resp.Body).Decode(&status)
				resp.Body.Close()
				if resp.StatusCode != http.StatusUnauthorized {
					t.Errorf("GET %s: HTTP %d, want 401", path, resp.StatusCode)
					continue
				}
				if decodeErr != nil {
					t.Errorf("GET %s: 401 body is not a Status: %v", path, decodeErr)
				} else if diff := cmp.Diff(unauthorized, status); diff != "" {
					t.Errorf("GET %s: 401 body (-want +got):\n%s", path, diff)
				}
			}
		})
	}
	t.Run("admin certificate is accepted", func(t *testing.T) {
		admin := s.HTTPClient(t, s.DataDir+"/pki/admin.crt", s.DataDir+"/pki/admin.key")
		if code, body := httpGet(t, admin, s.URL+"/apis/certificates.k8s.io/v1/certificatesigningrequests"); code != http.StatusOK {
			t.Errorf("admin GET CSR list: HTTP %d %s", code, body)
		}
	})

	t.Run("kubectl with a certificate from another CA", func(t *testing.T) {
		kc := s.UserKubeconfig(t, dir, "rogue-alice", "--client-certificate", rogueCert, "--client-key", rogueCertKey)
		wantStderr(t, "kubectl get csr", framework.Kubectl(t, kc, "get", "csr"), "error: You must be logged in to the server (Unauthorized)")
	})

	t.Run("token", func(t *testing.T) {
		bob := s.UserKubeconfig(t, dir, "bob", "--token", bobToken)
		var review authenticationv1.SelfSubjectReview
		if err := json.Unmarshal([]byte(framework.MustKubectl(t, bob, "auth", "whoami", "-o", "json")), &review); err != nil {
			t.Fatal(err)
		}
		want := authenticationv1.UserInfo{Username: "bob", UID: "uid-bob", Groups: []string{"ops", "auditors", "system:authenticated"}}
		if diff := cmp.Diff(want, review.Status.UserInfo); diff != "" {
			t.Errorf("auth whoami -o json with bob's token (-want +got):\n%s", diff)
		}
		wantTable := [][]string{{"ATTRIBUTE", "VALUE"}, {"Username", "bob"}, {"UID", "uid-bob"}, {"Groups", "[ops", "auditors", "system:authenticated]"}}
		if diff := cmp.Diff(wantTable, framework.TableRows(framework.MustKubectl(t, bob, "auth", "whoami"))); diff != "" {
			t.Errorf("auth whoami with bob's token (-want +got):\n%s", diff)
		}

		// A group from the token file is an RBAC subject, and the identity goes into the CSR.
		framework.MustKubectl(t, cp.admin, "create", "clusterrolebinding", "ops-node-bootstrapper", "--clusterrole", "system:node-bootstrapper", "--group", "ops")
		framework.Eventually(t, 10*time.Second, "the ops binding to take effect", func() bool {
			return canI(t, bob, "create", "certificatesigningrequests") == "yes"
		})
		mustCreateCSRAs(t, dir, bob, "bob-token-csr", clientSigner)
		csr := cp.getCSR(t, "bob-token-csr")
		got := []any{csr.Spec.Username, csr.Spec.UID, csr.Spec.Groups, len(csr.Spec.Extra)}
		if diff := cmp.Diff([]any{"bob", "uid-bob", []string{"ops", "auditors", "system:authenticated"}, 0}, got); diff != "" {
			t.Errorf("identity on bob's CSR [username uid groups len(extra)] (-want +got):\n%s", diff)
		}
	})

	t.Run("wrong token", func(t *testing.T) {
		kc := s.UserKubeconfig(t, dir, "wrong-token", "--token", bobToken+"x")
		wantStderr(t, "kubectl auth whoami", framework.Kubectl(t, kc, "auth", "whoami"), "error: You must be logged in to the server (Unauthorized)")
	})
}

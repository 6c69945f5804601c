package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apimachinery/pkg/util/version"
	"sigs.k8s.io/yaml"

	"kcsr.dev/kcsr/test/e2e/framework"
)

// testHealth: /livez, /readyz and /healthz answer "ok" to any authenticated client, also one
// without a single RBAC grant of its own (system:public-info-viewer), and 401 to an
// anonymous one. Kubernetes with its default --anonymous-auth=true lets anonymous clients
// read them; issue 2 says anonymous requests get 401, which is kube-apiserver with
// --anonymous-auth=false. The individual checks (/readyz/etcd …) are not in those roles:
// only the admin reads them, as in Kubernetes.
func testHealth(t *testing.T, cp *controlPlane) {
	dir := t.TempDir()
	s := cp.s
	hal := cp.newCertUser(t, dir, "hal", "/CN=hal")
	type want struct {
		code int
		body string
	}
	ok := want{http.StatusOK, "ok"}
	unauthorizedBody := `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}`
	forbidden := func(path string) want {
		return want{http.StatusForbidden, `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"forbidden: User \"hal\" cannot get path \"` + path + `\"","reason":"Forbidden","details":{},"code":403}`}
	}
	cases := []struct {
		name   string
		client *http.Client
		want   map[string]want
	}{
		{"admin", s.HTTPClient(t, s.DataDir+"/pki/admin.crt", s.DataDir+"/pki/admin.key"), map[string]want{
			"/livez": ok, "/readyz": ok, "/healthz": ok, "/livez/ping": ok, "/readyz/etcd": ok, "/healthz/etcd": ok,
		}},
		{"user without grants", s.HTTPClient(t, hal.cert, hal.key), map[string]want{
			"/livez": ok, "/readyz": ok, "/healthz": ok,
			"/livez/ping": forbidden("/livez/ping"), "/readyz/etcd": forbidden("/readyz/etcd"), "/healthz/etcd": forbidden("/healthz/etcd"),
		}},
		{"anonymous", s.HTTPClient(t, "", ""), map[string]want{
			"/livez": {401, unauthorizedBody}, "/readyz": {401, unauthorizedBody}, "/healthz": {401, unauthorizedBody}, "/readyz/etcd": {401, unauthorizedBody},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for path, w := range c.want {
				code, body := httpGet(t, c.client, s.URL+path)
				if code != w.code || strings.TrimSpace(body) != w.body {
					t.Errorf("GET %s: HTTP %d %s\nwant HTTP %d %s", path, code, body, w.code, w.body)
				}
			}
		})
	}
	t.Run("verbose", func(t *testing.T) {
		for _, c := range []struct{ path, last string }{{"/readyz?verbose", "readyz check passed"}, {"/livez?verbose", "livez check passed"}, {"/healthz?verbose", "healthz check passed"}} {
			out := framework.MustKubectl(t, hal.kubeconfig, "get", "--raw", c.path)
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if lines[len(lines)-1] != c.last || !slices.Contains(lines, "[+]etcd ok") || !slices.Contains(lines, "[+]ping ok") {
				t.Errorf("GET %s: want [+]ping ok, [+]etcd ok and %q at the end:\n%s", c.path, c.last, out)
			}
		}
	})
}

// testDiscovery: what kubectl learns from the server (issue 2, Must have 3): api-resources
// with the short name, explain from OpenAPI, OpenAPI v2 and v3, a version kubectl parses.
func testDiscovery(t *testing.T, cp *controlPlane) {
	kc := cp.admin
	t.Run("api-resources", func(t *testing.T) {
		rows := framework.TableRows(framework.MustKubectl(t, kc, "api-resources"))
		for _, want := range [][]string{
			{"NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"},
			{"certificatesigningrequests", "csr", "certificates.k8s.io/v1", "false", "CertificateSigningRequest"},
			{"clusterroles", "rbac.authorization.k8s.io/v1", "false", "ClusterRole"},
			{"clusterrolebindings", "rbac.authorization.k8s.io/v1", "false", "ClusterRoleBinding"},
			{"selfsubjectaccessreviews", "authorization.k8s.io/v1", "false", "SelfSubjectAccessReview"},
			{"subjectaccessreviews", "authorization.k8s.io/v1", "false", "SubjectAccessReview"},
			{"selfsubjectrulesreviews", "authorization.k8s.io/v1", "false", "SelfSubjectRulesReview"},
			{"selfsubjectreviews", "authentication.k8s.io/v1", "false", "SelfSubjectReview"},
		} {
			if !slices.ContainsFunc(rows, func(r []string) bool { return slices.Equal(r, want) }) {
				t.Errorf("kubectl api-resources lacks %v:\n%v", want, rows)
			}
		}
		wide := framework.TableRows(framework.MustKubectl(t, kc, "api-resources", "--api-group=certificates.k8s.io", "-o", "wide"))
		want := [][]string{
			{"NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND", "VERBS", "CATEGORIES"},
			{"certificatesigningrequests", "csr", "certificates.k8s.io/v1", "false", "CertificateSigningRequest", "create,delete,deletecollection,get,list,patch,update,watch"},
		}
		if diff := cmp.Diff(want, wide); diff != "" {
			t.Errorf("kubectl api-resources --api-group=certificates.k8s.io -o wide (-want +got):\n%s", diff)
		}
	})

	t.Run("explain", func(t *testing.T) {
		out := framework.MustKubectl(t, kc, "explain", "csr.spec.usages")
		for _, want := range []string{
			"GROUP:      certificates.k8s.io\n",
			"KIND:       CertificateSigningRequest\n",
			"VERSION:    v1\n",
			"FIELD: usages <[]string>\n",
			"    usages specifies a set of key usages requested in the issued certificate.\n",
			`     "server auth", "client auth",` + "\n",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("kubectl explain csr.spec.usages lacks %q:\n%s", want, out)
			}
		}
		out = framework.MustKubectl(t, kc, "explain", "certificatesigningrequests.status.conditions.type")
		if !strings.Contains(out, "FIELD: type <string>") || !strings.Contains(out, "Approved") {
			t.Errorf("kubectl explain ….status.conditions.type:\n%s", out)
		}
	})

	t.Run("openapi v2", func(t *testing.T) {
		var doc struct {
			Swagger     string
			Paths       map[string]json.RawMessage
			Definitions map[string]struct {
				GVK []map[string]string `json:"x-kubernetes-group-version-kind"`
			}
		}
		if err := json.Unmarshal([]byte(framework.MustKubectl(t, kc, "get", "--raw", "/openapi/v2")), &doc); err != nil {
			t.Fatalf("/openapi/v2 is not JSON: %v", err)
		}
		if doc.Swagger != "2.0" {
			t.Errorf("/openapi/v2 swagger = %q, want 2.0", doc.Swagger)
		}
		for _, p := range []string{
			"/apis/certificates.k8s.io/v1/certificatesigningrequests",
			"/apis/certificates.k8s.io/v1/certificatesigningrequests/{name}",
			"/apis/certificates.k8s.io/v1/certificatesigningrequests/{name}/approval",
			"/apis/certificates.k8s.io/v1/certificatesigningrequests/{name}/status",
			"/apis/certificates.k8s.io/v1/watch/certificatesigningrequests",
		} {
			if _, ok := doc.Paths[p]; !ok {
				t.Errorf("/openapi/v2 has no path %s", p)
			}
		}
		def, ok := doc.Definitions["io.k8s.api.certificates.v1.CertificateSigningRequest"]
		want := []map[string]string{{"group": "certificates.k8s.io", "kind": "CertificateSigningRequest", "version": "v1"}}
		if diff := cmp.Diff(want, def.GVK); !ok || diff != "" {
			t.Errorf("/openapi/v2 definition io.k8s.api.certificates.v1.CertificateSigningRequest (present %v) x-kubernetes-group-version-kind (-want +got):\n%s", ok, diff)
		}
	})

	t.Run("openapi v3", func(t *testing.T) {
		var index struct {
			Paths map[string]struct{ ServerRelativeURL string }
		}
		if err := json.Unmarshal([]byte(framework.MustKubectl(t, kc, "get", "--raw", "/openapi/v3")), &index); err != nil {
			t.Fatalf("/openapi/v3 is not JSON: %v", err)
		}
		entry, ok := index.Paths["apis/certificates.k8s.io/v1"]
		if !ok || !strings.HasPrefix(entry.ServerRelativeURL, "/openapi/v3/apis/certificates.k8s.io/v1?hash=") {
			t.Fatalf("/openapi/v3 has no apis/certificates.k8s.io/v1 entry with a hashed URL: %+v", index.Paths)
		}
		var doc struct {
			OpenAPI    string
			Components struct {
				Schemas map[string]struct {
					GVK []map[string]string `json:"x-kubernetes-group-version-kind"`
				}
			}
		}
		if err := json.Unmarshal([]byte(framework.MustKubectl(t, kc, "get", "--raw", entry.ServerRelativeURL)), &doc); err != nil {
			t.Fatalf("%s is not JSON: %v", entry.ServerRelativeURL, err)
		}
		if !strings.HasPrefix(doc.OpenAPI, "3.") {
			t.Errorf("openapi = %q, want 3.x", doc.OpenAPI)
		}
		schema, ok := doc.Components.Schemas["io.k8s.api.certificates.v1.CertificateSigningRequest"]
		want := []map[string]string{{"group": "certificates.k8s.io", "kind": "CertificateSigningRequest", "version": "v1"}}
		if diff := cmp.Diff(want, schema.GVK); !ok || diff != "" {
			t.Errorf("OpenAPI v3 schema CertificateSigningRequest (present %v) x-kubernetes-group-version-kind (-want +got):\n%s", ok, diff)
		}
	})

	t.Run("version", func(t *testing.T) {
		var info struct{ Major, Minor, GitVersion string }
		if err := json.Unmarshal([]byte(framework.MustKubectl(t, kc, "get", "--raw", "/version")), &info); err != nil {
			t.Fatalf("/version is not JSON: %v", err)
		}
		server, err := version.ParseSemantic(info.GitVersion)
		if err != nil {
			t.Fatalf("/version gitVersion %q does not parse as kubectl parses it: %v", info.GitVersion, err)
		}
		if info.Major != fmt.Sprint(server.Major()) || strings.TrimSuffix(info.Minor, "+") != fmt.Sprint(server.Minor()) {
			t.Errorf("/version major %q minor %q disagree with gitVersion %q", info.Major, info.Minor, info.GitVersion)
		}
		var both struct {
			ClientVersion, ServerVersion struct{ GitVersion string }
		}
		r := framework.Kubectl(t, kc, "version", "-o", "json")
		if err := json.Unmarshal([]byte(r.Stdout), &both); err != nil || r.ExitCode != 0 {
			t.Fatalf("kubectl version -o json: exit %d, %v\n%s", r.ExitCode, err, r.Combined())
		}
		if both.ServerVersion.GitVersion != info.GitVersion {
			t.Errorf("kubectl version shows server %q, /version says %q", both.ServerVersion.GitVersion, info.GitVersion)
		}
		// kubectl prints its skew warning only after it parsed both versions.
		client, err := version.ParseSemantic(both.ClientVersion.GitVersion)
		if err != nil {
			t.Fatal(err)
		}
		skew := int(server.Minor()) - int(client.Minor())
		warning := fmt.Sprintf("WARNING: version difference between client (%d.%d) and server (%d.%d) exceeds the supported minor version skew of +/-1",
			client.Major(), client.Minor(), server.Major(), server.Minor())
		if got := strings.Contains(r.Stderr, warning); got != (skew > 1 || skew < -1) {
			t.Errorf("kubectl version: skew warning printed=%v for client %s server %s:\n%s", got, client, server, r.Stderr)
		}
	})
}

// testGetOutputs: field selection on spec.signerName (list and watch), label selection and
// kubectl's output formats.
func testGetOutputs(t *testing.T, cp *controlPlane) {
	dir := t.TempDir()
	kc := cp.admin
	mustCreateCSRAs(t, dir, kc, "fs-foo-1", "example.com/foo")
	mustCreateCSRAs(t, dir, kc, "fs-foo-2", "example.com/foo")
	mustCreateCSRAs(t, dir, kc, "fs-bar-1", "example.com/bar")
	framework.MustKubectl(t, kc, "label", "csr", "fs-foo-2", "e2e=selected")

	names := func(t *testing.T, args ...string) []string {
		t.Helper()
		out := strings.Fields(framework.MustKubectl(t, kc, append([]string{"get", "csr", "-o", "name"}, args...)...))
		out = slices.DeleteFunc(out, func(n string) bool { return !strings.Contains(n, "/fs-") })
		if len(out) == 0 {
			return nil
		}
		return out
	}
	const prefix = "certificatesigningrequest.certificates.k8s.io/"
	t.Run("field selector", func(t *testing.T) {
		cases := []struct {
			selector string
			want     []string
		}{
			{"spec.signerName=example.com/foo", []string{prefix + "fs-foo-1", prefix + "fs-foo-2"}},
			{"spec.signerName==example.com/bar", []string{prefix + "fs-bar-1"}},
			{"spec.signerName!=example.com/foo", []string{prefix + "fs-bar-1"}},
			{"spec.signerName=example.com/none", nil},
			{"metadata.name=fs-foo-2", []string{prefix + "fs-foo-2"}},
		}
		for _, tc := range cases {
			if diff := cmp.Diff(tc.want, names(t, "--field-selector", tc.selector)); diff != "" {
				t.Errorf("--field-selector %s (-want +got):\n%s", tc.selector, diff)
			}
		}
		wantStderr(t, "unsupported field label", framework.Kubectl(t, kc, "get", "csr", "--field-selector", "spec.username=kcsr-admin"),
			`Error from server (BadRequest): Unable to find "certificates.k8s.io/v1, Resource=certificatesigningrequests" that match label selector "", field selector "spec.username=kcsr-admin": field label not supported: spec.username`)
	})
	t.Run("label selector", func(t *testing.T) {
		if diff := cmp.Diff([]string{prefix + "fs-foo-2"}, names(t, "-l", "e2e=selected")); diff != "" {
			t.Errorf("-l e2e=selected (-want +got):\n%s", diff)
		}
	})
	t.Run("watch with field selector", func(t *testing.T) {
		out := framework.KubectlWatch(t, kc, "get", "csr", "-w", "--watch-only", "-o", "name", "--field-selector", "spec.signerName=example.com/bar")
		// Let the watch connect: a CSR created before it would not show with --watch-only.
		time.Sleep(time.Second)
		mustCreateCSRAs(t, dir, kc, "fs-foo-3", "example.com/foo")
		mustCreateCSRAs(t, dir, kc, "fs-bar-2", "example.com/bar")
		framework.Eventually(t, 10*time.Second, "the watch to stream fs-bar-2", func() bool {
			return strings.Contains(out.String(), prefix+"fs-bar-2")
		})
		// Events come in resourceVersion order: fs-foo-3 would have come first. fs-bar-2
		// may stream more than once (the approver annotates a CSR it leaves to a person).
		for _, name := range strings.Fields(out.String()) {
			if name != prefix+"fs-bar-2" {
				t.Errorf("watch --field-selector spec.signerName=example.com/bar streamed %s, want only fs-bar-2", name)
			}
		}
	})
	t.Run("output formats", func(t *testing.T) {
		header := []string{"NAME", "AGE", "SIGNERNAME", "REQUESTOR", "REQUESTEDDURATION", "CONDITION"}
		for _, args := range [][]string{{"get", "csr", "fs-foo-1"}, {"get", "csr", "fs-foo-1", "-o", "wide"}, {"get", "certificatesigningrequests.v1.certificates.k8s.io", "fs-foo-1"}} {
			rows := framework.TableRows(framework.MustKubectl(t, kc, args...))
			if len(rows) != 2 || !slices.Equal(rows[0], header) {
				t.Errorf("kubectl %s: %v, want header %v and one row", strings.Join(args, " "), rows, header)
				continue
			}
			if r := rows[1]; len(r) != 6 || r[0] != "fs-foo-1" || r[2] != "example.com/foo" || r[3] != "kcsr-admin" || r[4] != "24h" || r[5] != "Pending" {
				t.Errorf("kubectl %s: row %v, want fs-foo-1 AGE example.com/foo kcsr-admin 24h Pending", strings.Join(args, " "), r)
			}
		}
		wantStdout(t, "-o name", framework.Kubectl(t, kc, "get", "csr", "fs-foo-1", "-o", "name"), prefix+"fs-foo-1")

		var fromYAML certificatesv1.CertificateSigningRequest
		out := framework.MustKubectl(t, kc, "get", "csr", "fs-foo-1", "-o", "yaml")
		if err := yaml.UnmarshalStrict([]byte(out), &fromYAML); err != nil {
			t.Fatalf("-o yaml does not decode as a CertificateSigningRequest: %v\n%s", err, out)
		}
		got := []any{fromYAML.APIVersion, fromYAML.Kind, fromYAML.Name, fromYAML.Spec.SignerName, fromYAML.Spec.Username, fromYAML.Spec.Usages, *fromYAML.Spec.ExpirationSeconds, len(fromYAML.Spec.Request) > 0, fromYAML.UID != "", fromYAML.ResourceVersion != ""}
		want := []any{"certificates.k8s.io/v1", "CertificateSigningRequest", "fs-foo-1", "example.com/foo", "kcsr-admin", []certificatesv1.KeyUsage{"client auth"}, int32(86400), true, true, true}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("-o yaml (-want +got):\n%s", diff)
		}
		if !strings.HasPrefix(out, "apiVersion: certificates.k8s.io/v1\nkind: CertificateSigningRequest\nmetadata:\n") {
			t.Errorf("-o yaml does not start as kubectl prints a CSR:\n%s", out)
		}
	})
}

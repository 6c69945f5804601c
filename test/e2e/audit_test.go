package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"

	"kcsr.dev/kcsr/test/e2e/framework"
)

// auditRecord is the part of an audit event the tests compare.
type auditRecord struct {
	User, Verb, Name, Subresource string
	Level                         auditv1.Level
	Code                          int32
}

func (r auditRecord) String() string {
	return fmt.Sprintf("%s %s csr/%s/%s %s %d", r.User, r.Verb, r.Name, r.Subresource, r.Level, r.Code)
}

// testAudit: with --audit-log-path and --audit-policy-file, CSR create, approve, deny and
// status updates are JSON lines of audit.k8s.io/v1 Events with the user, verb, object and
// response code, at the level the policy gives them (issue 2, Must have 7).
func testAudit(t *testing.T, cp *controlPlane) {
	dir := t.TempDir()
	dave := cp.s.UserKubeconfig(t, dir, "dave", "--token", daveToken)
	mallory := cp.s.UserKubeconfig(t, dir, "mallory", "--token", malloryToken)
	framework.MustKubectl(t, cp.admin, "apply", "-f", framework.WriteFile(t, dir, "requester.yaml", framework.CSRRequesterRole("csr-requester-dave", "dave")))
	framework.Eventually(t, 10*time.Second, "dave's binding to take effect", func() bool {
		return canI(t, dave, "create", "certificatesigningrequests") == "yes"
	})

	mustCreateCSRAs(t, dir, cp.admin, "audit-approved", clientSigner)
	mustCreateCSRAs(t, dir, cp.admin, "audit-denied", clientSigner)
	framework.MustKubectl(t, cp.admin, "certificate", "approve", "audit-approved")
	framework.MustKubectl(t, cp.admin, "certificate", "deny", "audit-denied")
	// A signer's status update: a Failed condition next to Approved.
	framework.MustKubectl(t, cp.admin, "patch", "csr", "audit-approved", "--subresource=status", "--type=json", "-p",
		`[{"op":"add","path":"/status/conditions/-","value":{"type":"Failed","status":"True","reason":"E2E","message":"audit test"}}]`)
	// dave may create and write /approval, but not approve for the signer: admission says 403.
	mustCreateCSRAs(t, dir, dave, "audit-dave", clientSigner)
	if r := framework.Kubectl(t, dave, "certificate", "approve", "audit-dave"); r.ExitCode == 0 {
		t.Fatalf("dave approved without signer rights: %s", r.Combined())
	}
	// mallory has no grant at all: RBAC says 403 before anything is decoded.
	if r, _ := createCSRAs(t, dir, mallory, "audit-mallory", clientSigner); r.ExitCode == 0 {
		t.Fatalf("mallory created a CSR without any grant: %s", r.Combined())
	}

	want := []auditRecord{
		{"kcsr-admin", "create", "audit-approved", "", auditv1.LevelMetadata, 201},
		{"kcsr-admin", "create", "audit-denied", "", auditv1.LevelMetadata, 201},
		{"kcsr-admin", "update", "audit-approved", "approval", auditv1.LevelRequestResponse, 200},
		{"kcsr-admin", "update", "audit-denied", "approval", auditv1.LevelRequestResponse, 200},
		{"kcsr-admin", "patch", "audit-approved", "status", auditv1.LevelMetadata, 200},
		{"dave", "create", "audit-dave", "", auditv1.LevelMetadata, 201},
		{"dave", "update", "audit-dave", "approval", auditv1.LevelRequestResponse, 403},
		// A create refused by RBAC is not decoded, so the event has no object name.
		{"mallory", "create", "", "", auditv1.LevelMetadata, 403},
	}
	relevant := func(e auditv1.Event) bool {
		return e.ObjectRef != nil && (strings.HasPrefix(e.ObjectRef.Name, "audit-") || e.User.Username == "mallory")
	}
	// The log backend writes an event when the request completes, which may be just after
	// kubectl has its answer: wait a little for the last ones, then compare.
	var events []auditv1.Event
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		events = slices.DeleteFunc(readAuditLog(t, cp.auditLog), func(e auditv1.Event) bool { return !relevant(e) })
		if isSubsequence(want, toAuditRecords(events)) || time.Now().After(deadline) {
			break
		}
	}

	t.Run("events", func(t *testing.T) {
		// kubectl's own GETs come in between; every wanted event must be there, in order.
		if got := toAuditRecords(events); !isSubsequence(want, got) {
			t.Errorf("audit events lack, in this order:\n%s\ngot:\n%s", joinRecords(want), joinRecords(got))
		}
	})

	adminFingerprint := framework.SHA256Fingerprint(t, cp.s.DataDir+"/pki/admin.crt")
	t.Run("fields", func(t *testing.T) {
		for _, e := range events {
			r := toAuditRecord(e)
			if e.APIVersion != "audit.k8s.io/v1" || e.Kind != "Event" || e.AuditID == "" || e.RequestReceivedTimestamp.IsZero() || e.StageTimestamp.IsZero() {
				t.Errorf("%s: not a complete audit.k8s.io/v1 Event: %+v", r, e.TypeMeta)
			}
			if e.ObjectRef.APIGroup != "certificates.k8s.io" || e.ObjectRef.APIVersion != "v1" || e.ObjectRef.Resource != "certificatesigningrequests" {
				t.Errorf("%s: objectRef %+v", r, *e.ObjectRef)
			}
			if !slices.Contains(e.User.Groups, "system:authenticated") {
				t.Errorf("%s: user.groups %v lack system:authenticated", r, e.User.Groups)
			}
			switch e.User.Username {
			case "kcsr-admin":
				if got := e.User.Extra["authentication.kubernetes.io/credential-id"]; !slices.Equal(got, authenticationv1.ExtraValue{"X509SHA256=" + adminFingerprint}) {
					t.Errorf("%s: user.extra credential-id %v, want the admin certificate's X509SHA256=%s", r, got, adminFingerprint)
				}
			case "dave":
				if e.User.UID != "uid-dave" {
					t.Errorf("%s: user.uid %q, want uid-dave", r, e.User.UID)
				}
			}
			decision := e.Annotations["authorization.k8s.io/decision"]
			if wantDecision := map[bool]string{true: "forbid", false: "allow"}[e.User.Username == "mallory"]; decision != wantDecision {
				t.Errorf("%s: annotation authorization.k8s.io/decision = %q, want %q", r, decision, wantDecision)
			}
			if e.Level == auditv1.LevelMetadata && (e.RequestObject != nil || e.ResponseObject != nil) {
				t.Errorf("%s: a Metadata event carries the request or response object", r)
			}
		}
	})

	t.Run("approval bodies", func(t *testing.T) {
		for _, c := range []struct {
			name, cond string
			code       int32
		}{{"audit-approved", "Approved", 200}, {"audit-denied", "Denied", 200}, {"audit-dave", "Approved", 403}} {
			i := slices.IndexFunc(events, func(e auditv1.Event) bool {
				return e.ObjectRef.Name == c.name && e.ObjectRef.Subresource == "approval"
			})
			if i < 0 {
				t.Errorf("no approval event for %s", c.name)
				continue
			}
			e := events[i]
			if e.RequestObject == nil {
				t.Errorf("%s: RequestResponse event without requestObject", c.name)
			} else if got := decodedConditions(t, e.RequestObject.Raw); !slices.Contains(got, c.cond) {
				t.Errorf("%s: requestObject conditions %v lack %s", c.name, got, c.cond)
			}
			if c.code == 200 {
				if e.ResponseObject == nil {
					t.Errorf("%s: RequestResponse event without responseObject", c.name)
				} else if got := decodedConditions(t, e.ResponseObject.Raw); !slices.Equal(got, []string{c.cond}) {
					t.Errorf("%s: responseObject conditions %v, want [%s]", c.name, got, c.cond)
				}
				continue
			}
			if want := `certificatesigningrequests.certificates.k8s.io "audit-dave" is forbidden: user not permitted to approve requests with signerName "kubernetes.io/kube-apiserver-client"`; e.ResponseStatus == nil || e.ResponseStatus.Message != want || e.ResponseStatus.Reason != "Forbidden" {
				t.Errorf("%s: responseStatus %+v, want Forbidden %q", c.name, e.ResponseStatus, want)
			}
		}
	})
}

// testAuditPolicyNone runs after the other subtests: the policy's last rule (level None)
// kept everything but CSRs out of the log, and omitStages dropped RequestReceived.
func testAuditPolicyNone(t *testing.T, cp *controlPlane) {
	events := readAuditLog(t, cp.auditLog)
	if len(events) == 0 {
		t.Fatal("the audit log is empty")
	}
	for _, e := range events {
		if e.ObjectRef == nil || e.ObjectRef.APIGroup != "certificates.k8s.io" || e.ObjectRef.Resource != "certificatesigningrequests" {
			t.Errorf("the policy logs only CSRs; got %s %s by %s (objectRef %+v)", e.Verb, e.RequestURI, e.User.Username, e.ObjectRef)
		}
		if e.Stage == auditv1.StageRequestReceived {
			t.Errorf("omitStages: [RequestReceived] not honoured: %s %s", e.Verb, e.RequestURI)
		}
		if e.ObjectRef != nil && e.ObjectRef.Subresource == "approval" && e.Level != auditv1.LevelRequestResponse {
			t.Errorf("%s %s at level %s, want RequestResponse", e.Verb, e.RequestURI, e.Level)
		}
	}
}

// readAuditLog parses the log: one JSON Event a line; a line that does not parse fails. A
// last line without its newline may still be being written and is left out.
func readAuditLog(t *testing.T, path string) []auditv1.Event {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read audit log: %v", err)
	}
	lines := bytes.Split(data, []byte("\n"))
	lines = lines[:len(lines)-1] // after the last newline: empty or incomplete
	var events []auditv1.Event
	for _, line := range lines {
		var e auditv1.Event
		if err := json.Unmarshal(line, &e); err != nil {
			t.Fatalf("audit log line is not a JSON Event: %v\n%s", err, line)
		}
		events = append(events, e)
	}
	return events
}

func toAuditRecord(e auditv1.Event) auditRecord {
	r := auditRecord{User: e.User.Username, Verb: e.Verb, Level: e.Level}
	if e.ObjectRef != nil {
		r.Name, r.Subresource = e.ObjectRef.Name, e.ObjectRef.Subresource
	}
	if e.ResponseStatus != nil {
		r.Code = e.ResponseStatus.Code
	}
	return r
}

func toAuditRecords(events []auditv1.Event) []auditRecord {
	var out []auditRecord
	for _, e := range events {
		out = append(out, toAuditRecord(e))
	}
	return out
}

func joinRecords(rs []auditRecord) string {
	var b strings.Builder
	for _, r := range rs {
		b.WriteString("  " + r.String() + "\n")
	}
	return b.String()
}

// isSubsequence reports whether want appears in got in order, other elements in between.
func isSubsequence(want, got []auditRecord) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}

func decodedConditions(t *testing.T, raw []byte) []string {
	t.Helper()
	var csr certificatesv1.CertificateSigningRequest
	if err := json.Unmarshal(raw, &csr); err != nil {
		t.Fatalf("decode audited object: %v", err)
	}
	return conditionTypes(csr)
}

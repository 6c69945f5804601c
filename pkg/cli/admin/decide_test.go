package admin

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509/pkix"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"

	"kcsr.dev/kcsr/pkg/announce"
	"kcsr.dev/kcsr/pkg/csr"
	"kcsr.dev/kcsr/pkg/testkit"
)

func TestRefuseSystemMasters(t *testing.T) {
	key := testkit.NewKey(t, testkit.P256)
	const refusal = "refusing to approve root: it asks for group system:masters (O=system:masters), and "
	const tail = ", a superuser that bypasses every authorization check and that RBAC cannot restrict or revoke; grant permissions with RBAC instead, or pass --yes if this is really intended"
	cases := []struct {
		name    string
		signer  string
		orgs    []string
		wantErr string
	}{
		{name: "a developer", signer: certificatesv1.KubeAPIServerClientSignerName, orgs: []string{"developers"}},
		{name: "no groups", signer: certificatesv1.KubeAPIServerClientSignerName},
		{name: "system:masters client certificate", signer: certificatesv1.KubeAPIServerClientSignerName, orgs: []string{"developers", "system:masters"},
			wantErr: refusal + "the API server would authenticate its holder as a member of system:masters" + tail},
		{name: "system:masters for a custom signer", signer: "example.com/internal", orgs: []string{"system:masters"},
			wantErr: refusal + "a certificate from any CA the API server trusts for clients would make its holder a member of system:masters" + tail},
		{name: "a look-alike group", signer: certificatesv1.KubeAPIServerClientSignerName, orgs: []string{"system:masters-readonly"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := newCSR("root", requestPEM(t, key, pkix.Name{CommonName: "root", Organization: tc.orgs}), testkit.SetSignerName(tc.signer))
			req, err := csr.ParseRequest(obj.Spec.Request)
			if err != nil {
				t.Fatal(err)
			}
			testkit.ExpectError(t, refuseSystemMasters(obj, req), tc.wantErr)
		})
	}
	if err := refuseSystemMasters(newCSR("broken", []byte("x")), nil); err != nil {
		t.Errorf("an unreadable request: %v", err)
	}
}

// TestRefuseDoomed: a CSR its built-in signer's rules refuse is not approved without
// --force (it would end Failed), nor one for a kubernetes.io/ signer nobody serves (it
// would never be issued); one the rules allow, and any custom signer's, are.
func TestRefuseDoomed(t *testing.T) {
	key := testkit.NewKey(t, testkit.P256)
	for _, tc := range []struct {
		name, signer string
		usages       []certificatesv1.KeyUsage
		wantErr      string
	}{
		{name: "client auth for the client signer", signer: certificatesv1.KubeAPIServerClientSignerName, usages: []certificatesv1.KeyUsage{certificatesv1.UsageClientAuth}},
		{name: "server auth for the client signer", signer: certificatesv1.KubeAPIServerClientSignerName, usages: []certificatesv1.KeyUsage{certificatesv1.UsageServerAuth},
			wantErr: "refusing to approve alice: its signer kubernetes.io/kube-apiserver-client would refuse it after approval (invalid usage for client certificate: server auth), and it would end Failed; deny it and ask for a corrected request, or pass --yes to approve it anyway"},
		{name: "a custom signer is its own judge", signer: "example.com/internal", usages: []certificatesv1.KeyUsage{certificatesv1.UsageServerAuth}},
		{name: "a misspelled Kubernetes signer", signer: "kubernetes.io/kube-apiserver-clent", usages: []certificatesv1.KeyUsage{certificatesv1.UsageClientAuth},
			wantErr: `refusing to approve alice: no Kubernetes signer serves "kubernetes.io/kube-apiserver-clent", so an approved CSR is never issued: create a new CSR with a served signerName: kubernetes.io/kube-apiserver-client, kubernetes.io/kube-apiserver-client-kubelet, kubernetes.io/kubelet-serving, or a custom signer (example.com/NAME); did you mean kubernetes.io/kube-apiserver-client?; deny it, or pass --yes to approve it anyway`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obj := newCSR("alice", requestPEM(t, key, pkix.Name{CommonName: "alice"}), testkit.SetSignerName(tc.signer), testkit.SetUsages(tc.usages...))
			req, err := csr.ParseRequest(obj.Spec.Request)
			if err != nil {
				t.Fatal(err)
			}
			testkit.ExpectError(t, refuseDoomed(obj, req), tc.wantErr)
		})
	}
}

func TestDecide(t *testing.T) {
	key := testkit.NewKey(t, testkit.P256)
	alpha := requestPEM(t, key, pkix.Name{CommonName: "alpha", Organization: []string{"developers"}}, "alpha.example")
	root := requestPEM(t, key, pkix.Name{CommonName: "root", Organization: []string{"system:masters"}})
	now := epoch.Add(time.Hour)
	const (
		approved = certificatesv1.CertificateApproved
		denied   = certificatesv1.CertificateDenied
	)
	written := func(t certificatesv1.RequestConditionType, reason, message string) certificatesv1.CertificateSigningRequestCondition {
		return certificatesv1.CertificateSigningRequestCondition{Type: t, Status: corev1.ConditionTrue, Reason: reason, Message: message, LastUpdateTime: metav1.NewTime(now)}
	}
	earlier := certificatesv1.CertificateSigningRequestCondition{Type: approved, Status: corev1.ConditionTrue, Reason: "KcsrApprove", Message: "before", LastUpdateTime: metav1.NewTime(epoch.Add(time.Minute))}
	summaryAlpha := "alpha: CN=alpha O=developers SANs=alpha.example,10.0.0.1,spiffe://example.com/rahul signer=kubernetes.io/kube-apiserver-client usages=[client auth] duration=24h requester=kcsr-admin key=ECDSA P-256\n"

	cases := []struct {
		name           string
		obj            *certificatesv1.CertificateSigningRequest
		t              certificatesv1.RequestConditionType
		force          bool
		conflicts      int
		wantErr        string
		wantOut        string
		wantUpdates    int
		wantConditions []certificatesv1.CertificateSigningRequestCondition
	}{
		{name: "approve", obj: newCSR("alpha", alpha), t: approved, wantUpdates: 1,
			wantOut:        summaryAlpha + "certificatesigningrequest.certificates.k8s.io/alpha approved\n",
			wantConditions: []certificatesv1.CertificateSigningRequestCondition{written(approved, "KcsrApprove", "checked")}},
		{name: "deny", obj: newCSR("alpha", alpha), t: denied, wantUpdates: 1,
			wantOut:        summaryAlpha + "certificatesigningrequest.certificates.k8s.io/alpha denied\n",
			wantConditions: []certificatesv1.CertificateSigningRequestCondition{written(denied, "KcsrDeny", "checked")}},
		{name: "approve after two conflicts", obj: newCSR("alpha", alpha), t: approved, conflicts: 2, wantUpdates: 3,
			wantOut:        summaryAlpha + "certificatesigningrequest.certificates.k8s.io/alpha approved\n",
			wantConditions: []certificatesv1.CertificateSigningRequestCondition{written(approved, "KcsrApprove", "checked")}},
		{name: "already approved: nothing is written", obj: newCSR("alpha", alpha, withCondition(approved, "KcsrApprove", "before")), t: approved,
			wantOut:        summaryAlpha + "certificatesigningrequest.certificates.k8s.io/alpha already approved\n",
			wantConditions: []certificatesv1.CertificateSigningRequestCondition{earlier}},
		{name: "already approved, forced: the same conditions are written", obj: newCSR("alpha", alpha, withCondition(approved, "KcsrApprove", "before")), t: approved, force: true, wantUpdates: 1,
			wantOut:        summaryAlpha + "certificatesigningrequest.certificates.k8s.io/alpha approved\n",
			wantConditions: []certificatesv1.CertificateSigningRequestCondition{earlier}},
		{name: "deny an approved CSR", obj: newCSR("alpha", alpha, withCondition(approved, "KcsrApprove", "before")), t: denied, force: true,
			wantOut: summaryAlpha, wantErr: `certificate signing request "alpha" is already Approved`,
			wantConditions: []certificatesv1.CertificateSigningRequestCondition{earlier}},
		{name: "approve a denied CSR", obj: newCSR("alpha", alpha, withCondition(denied, "KcsrDeny", "no")), t: approved,
			wantOut: summaryAlpha, wantErr: `certificate signing request "alpha" is already Denied`,
			wantConditions: []certificatesv1.CertificateSigningRequestCondition{{Type: denied, Status: corev1.ConditionTrue, Reason: "KcsrDeny", Message: "no", LastUpdateTime: metav1.NewTime(epoch.Add(time.Minute))}}},
		{name: "system:masters is refused", obj: newCSR("root", root, testkit.SetSignerName("example.com/internal")), t: approved,
			wantOut: "root: CN=root O=system:masters SANs=10.0.0.1,spiffe://example.com/rahul signer=example.com/internal usages=[client auth] duration=24h requester=kcsr-admin key=ECDSA P-256\n",
			wantErr: "refusing to approve root: it asks for group system:masters (O=system:masters), and a certificate from any CA the API server trusts for clients would make its holder a member of system:masters, a superuser that bypasses every authorization check and that RBAC cannot restrict or revoke; grant permissions with RBAC instead, or pass --yes if this is really intended"},
		{name: "system:masters may be denied", obj: newCSR("root", root, testkit.SetSignerName("example.com/internal")), t: denied, wantUpdates: 1,
			wantOut:        "root: CN=root O=system:masters SANs=10.0.0.1,spiffe://example.com/rahul signer=example.com/internal usages=[client auth] duration=24h requester=kcsr-admin key=ECDSA P-256\ncertificatesigningrequest.certificates.k8s.io/root denied\n",
			wantConditions: []certificatesv1.CertificateSigningRequestCondition{written(denied, "KcsrDeny", "checked")}},
		{name: "system:masters with --force", obj: newCSR("root", root, testkit.SetSignerName("example.com/internal")), t: approved, force: true, wantUpdates: 1,
			wantOut:        "root: CN=root O=system:masters SANs=10.0.0.1,spiffe://example.com/rahul signer=example.com/internal usages=[client auth] duration=24h requester=kcsr-admin key=ECDSA P-256\ncertificatesigningrequest.certificates.k8s.io/root approved\n",
			wantConditions: []certificatesv1.CertificateSigningRequestCondition{written(approved, "KcsrApprove", "checked")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			client := fake.NewClientset(tc.obj)
			conflicts := tc.conflicts
			client.PrependReactor("update", "certificatesigningrequests", func(a clienttesting.Action) (bool, runtime.Object, error) {
				if a.GetSubresource() == "approval" && conflicts > 0 {
					conflicts--
					return true, nil, apierrors.NewConflict(schema.GroupResource{Group: "certificates.k8s.io", Resource: "certificatesigningrequests"}, tc.obj.Name, nil)
				}
				return false, nil, nil
			})
			reason := "KcsrApprove"
			if tc.t == denied {
				reason = "KcsrDeny"
			}
			d := decision{t: tc.t, reason: reason, message: "checked", force: tc.force, clock: clocktesting.NewFakePassiveClock(now)}
			var out bytes.Buffer
			err := d.apply(context.Background(), &out, client, tc.obj.Name)
			testkit.ExpectError(t, err, tc.wantErr)
			if diff := cmp.Diff(tc.wantOut, out.String()); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
			updates := 0
			for _, a := range client.Actions() {
				if a.GetVerb() == "update" {
					if a.GetSubresource() != "approval" {
						t.Errorf("update of %q, want only /approval", a.GetSubresource())
					}
					updates++
				}
			}
			if updates != tc.wantUpdates {
				t.Errorf("%d updates, want %d", updates, tc.wantUpdates)
			}
			stored, err := client.CertificatesV1().CertificateSigningRequests().Get(context.Background(), tc.obj.Name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.wantConditions, stored.Status.Conditions); diff != "" {
				t.Errorf("stored conditions (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecideNotFound(t *testing.T) {
	d := decision{t: certificatesv1.CertificateApproved, clock: clocktesting.NewFakePassiveClock(epoch)}
	err := d.apply(context.Background(), &bytes.Buffer{}, fake.NewClientset(), "ghost")
	if !apierrors.IsNotFound(err) {
		t.Errorf("error = %v, want NotFound", err)
	}
}

// TestDecisionWords: the help and the default message use the verbs' real forms
// ("denied", "approving"), not the stem with a suffix.
func TestDecisionWords(t *testing.T) {
	for _, tc := range []struct {
		t                  certificatesv1.RequestConditionType
		doing, done, short string
	}{
		{certificatesv1.CertificateApproved, "so approving a CSR", "This CSR was approved by kcsr approve.", "showing what is being approved"},
		{certificatesv1.CertificateDenied, "so denying a CSR", "This CSR was denied by kcsr deny.", "showing what is being denied"},
	} {
		cmd := NewDecisionCommand(io.Discard, tc.t)
		if !strings.Contains(cmd.Long, tc.doing) || !strings.Contains(cmd.Short, tc.short) || cmd.Flags().Lookup("message").DefValue != tc.done {
			t.Errorf("%s: long %q, short %q, default message %q", tc.t, cmd.Long, cmd.Short, cmd.Flags().Lookup("message").DefValue)
		}
	}
}

// TestRefuseUnserved: a CSR for a signerName no running kcsr signer announces is refused
// (with the nearest served name), unless nothing is announced or readable (the signers
// are not kcsr's), or the name is a kubernetes.io/ one (refuseDoomed's).
func TestRefuseUnserved(t *testing.T) {
	key := testkit.NewKey(t, testkit.P256)
	running := &announce.Announcements{Processes: 1, Signers: map[string][]string{"example.com/ci": {"host-a"}, "kubernetes.io/kube-apiserver-client": {"host-a"}}}
	for _, tc := range []struct {
		name, signer string
		announced    *announce.Announcements
		wantErr      string
	}{
		{name: "served", signer: "example.com/ci", announced: running},
		{name: "misspelled", signer: "example.com/cii", announced: running,
			wantErr: `refusing to approve alice: no running signer serves "example.com/cii" (the kcsr signers running serve example.com/ci, kubernetes.io/kube-apiserver-client), so an approved CSR would stay Approved with no certificate; did you mean example.com/ci? create a new CSR with a served signerName, or start the signer that serves it (when a controller other than kcsr signs it, nothing is wrong); or pass --yes to approve it anyway`},
		{name: "nothing announced", signer: "example.com/cii", announced: &announce.Announcements{Signers: map[string][]string{}}},
		{name: "announcements unreadable", signer: "example.com/cii"},
		{name: "a Kubernetes signer", signer: "kubernetes.io/kubelet-serving", announced: running},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obj := newCSR("alice", requestPEM(t, key, pkix.Name{CommonName: "alice"}), testkit.SetSignerName(tc.signer))
			testkit.ExpectError(t, refuseUnserved(obj, tc.announced), tc.wantErr)
		})
	}
}

// TestConfirm: a refused approval goes on after a "yes" read, or with --yes (a warning
// printed); anything else, an empty input and a dry run keep the refusal.
func TestConfirm(t *testing.T) {
	why := errors.New("refusing to approve alice: no running signer serves \"example.com/cii\"")
	for _, tc := range []struct {
		name            string
		d               decision
		input           string
		wantErr         bool
		wantOut, wantEr string
	}{
		{name: "yes", input: "yes\n", wantOut: "refusing to approve alice: no running signer serves \"example.com/cii\"\napprove alice anyway? [y/N] "},
		{name: "y", input: "y\n", wantOut: "refusing to approve alice: no running signer serves \"example.com/cii\"\napprove alice anyway? [y/N] "},
		{name: "no", input: "n\n", wantErr: true, wantOut: "refusing to approve alice: no running signer serves \"example.com/cii\"\napprove alice anyway? [y/N] \n"},
		{name: "no input", wantErr: true, wantOut: "refusing to approve alice: no running signer serves \"example.com/cii\"\napprove alice anyway? [y/N] \n"},
		{name: "--yes", d: decision{yes: true}, wantEr: "warning: approving anyway alice: no running signer serves \"example.com/cii\"\n"},
		{name: "--dry-run", d: decision{dryRun: true}, input: "yes\n", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			d := tc.d
			d.in, d.errOut = bufio.NewReader(strings.NewReader(tc.input)), &errOut
			err := d.confirm(&out, "alice", why)
			if (err != nil) != tc.wantErr {
				t.Errorf("error %v, want one: %v", err, tc.wantErr)
			}
			if out.String() != tc.wantOut || errOut.String() != tc.wantEr {
				t.Errorf("stdout %q, stderr %q; want %q, %q", out.String(), errOut.String(), tc.wantOut, tc.wantEr)
			}
		})
	}
}

// TestDecideReviewed: a program's decision (kcsr console) names the CSR it reviewed by
// uid: a CSR deleted and created again under the name since is not decided; a decision
// the other way is a *DecidedError; a warned approval needs Confirmed.
func TestDecideReviewed(t *testing.T) {
	alpha := testkit.RequestPEM(t, testkit.NewKey(t, testkit.P256), testkit.Request(t, "alpha", testkit.WithOrg("dev")))
	root := testkit.RequestPEM(t, testkit.NewKey(t, testkit.P256), testkit.Request(t, "root", testkit.WithOrg("system:masters")))
	c := clocktesting.NewFakePassiveClock(epoch)
	approve := Decision{Type: certificatesv1.CertificateApproved, Reason: "KcsrConsoleApprove", Message: "ok"}

	obj := newCSR("alpha", alpha)
	obj.UID = "uid-1"
	client := fake.NewClientset(obj)
	d := approve
	d.UID = "uid-0"
	testkit.ExpectError(t, Decide(context.Background(), client, "alpha", d, c), `certificate signing request "alpha" is not the one reviewed: it was deleted and created again (uid uid-1, reviewed uid-0); review it again`)
	d.UID = "uid-1"
	if err := Decide(context.Background(), client, "alpha", d, c); err != nil {
		t.Fatal(err)
	}
	var decided *DecidedError
	if err := Decide(context.Background(), client, "alpha", Decision{Type: certificatesv1.CertificateDenied, Message: "no", UID: "uid-1"}, c); !errors.As(err, &decided) || decided.State != certificatesv1.CertificateApproved {
		t.Errorf("deny an approved CSR: %v, want a DecidedError", err)
	}

	client = fake.NewClientset(newCSR("root", root, testkit.SetSignerName("example.com/internal")))
	err := Decide(context.Background(), client, "root", approve, c)
	if reasons := RefusalReasons(err); len(reasons) != 1 || !strings.HasPrefix(reasons[0], "it asks for group system:masters") {
		t.Errorf("an unconfirmed approval of system:masters: %v (reasons %q)", err, reasons)
	}
	confirmed := approve
	confirmed.Confirmed = true
	if err := Decide(context.Background(), client, "root", confirmed, c); err != nil {
		t.Errorf("a confirmed approval: %v", err)
	}
}

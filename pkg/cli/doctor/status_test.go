package doctor

import (
	"errors"
	"fmt"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kcsr.dev/kcsr/pkg/signer"
	"kcsr.dev/kcsr/pkg/testkit"
)

// csrObj builds a CSR created at epoch for signerName, with conditions.
func csrObj(name, signerName string, conditions ...certificatesv1.CertificateSigningRequestCondition) *certificatesv1.CertificateSigningRequest {
	return &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(epoch)},
		Spec:       certificatesv1.CertificateSigningRequestSpec{SignerName: signerName, Username: "rahul"},
		Status:     certificatesv1.CertificateSigningRequestStatus{Conditions: conditions},
	}
}

func cond(t certificatesv1.RequestConditionType, reason, message string, at time.Time) certificatesv1.CertificateSigningRequestCondition {
	return certificatesv1.CertificateSigningRequestCondition{Type: t, Status: corev1.ConditionTrue, Reason: reason, Message: message, LastUpdateTime: metav1.NewTime(at)}
}

func withAnnotation(obj *certificatesv1.CertificateSigningRequest, k, v string) *certificatesv1.CertificateSigningRequest {
	obj.Annotations = map[string]string{k: v}
	return obj
}

func TestCheckDecided(t *testing.T) {
	cases := []struct {
		name string
		obj  *certificatesv1.CertificateSigningRequest
		want []string
	}{
		{name: "pending", obj: csrObj("rahul", "x/y")},
		{name: "approved", obj: csrObj("rahul", "x/y", cond("Approved", "KcsrApprove", "ok", epoch))},
		{name: "denied", obj: csrObj("rahul", "x/y", cond("Denied", "KcsrDeny", "who is rahul?", epoch)),
			want: []string{"✗ status: Denied (KcsrDeny): who is rahul?: a decision is final: if rahul should get a certificate, create a new CSR (with another name) and have it approved"}},
		{name: "failed", obj: csrObj("rahul", "x/y", cond("Approved", "KcsrApprove", "ok", epoch), cond("Failed", "SignerValidationFailure", "invalid usage for client certificate: server auth", epoch)),
			want: []string{"✗ status: Approved, then Failed (SignerValidationFailure): invalid usage for client certificate: server auth: a Failed CSR is never retried: create a new CSR that fixes what the message says"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { diffLines(t, tc.want, CheckDecided(tc.obj)) })
	}
}

func TestCheckPending(t *testing.T) {
	const client = "kubernetes.io/kube-apiserver-client"
	now := epoch.Add(5 * time.Minute)
	nobody := Approvers{}
	alice := Approvers{Approvers: []Approver{{Subject: "user alice", Bindings: []string{"approvers"}, UpdateApproval: true}}}
	const (
		nobodyLine = `✗ approvers: nobody but system:masters can approve CSRs of signer "%s": no ClusterRole grants approve on it: a cluster administrator approves it (kcsr approve rahul), or binds the approvers to a ClusterRole with approve on signers "%s" and update on certificatesigningrequests/approval (kubectl create clusterrolebinding NAME --clusterrole=ROLE --group=GROUP)`
		aliceLine  = `✓ approvers: user alice (ClusterRoleBinding approvers) may approve CSRs of signer "%s"`
	)
	cases := []struct {
		name string
		in   PendingInput
		want []string
	}{
		{
			name: "kcsr, no policy, nobody may approve",
			in:   PendingInput{CSR: csrObj("rahul", "example.com/x"), Now: now, Kcsr: true, Approvers: nobody},
			want: []string{
				`✗ status: Pending for 5m: no ApprovalPolicy covers signer "example.com/x", so kcsr's approver leaves it to a person: someone who may approve runs kcsr approve rahul (or kcsr deny rahul), or an administrator adds the signer to an ApprovalPolicy's signerNames`,
				fmt.Sprintf(nobodyLine, "example.com/x", "example.com/x"),
			},
		},
		{
			name: "kcsr, a policy without an opinion, alice may approve",
			in: PendingInput{CSR: withAnnotation(csrObj("rahul", client), "kcsr.dev/approval-verdict", `no policy covering signer "kubernetes.io/kube-apiserver-client" approves or denies this request (1 policy considered), so a person must decide: developers: rule "group" is false`),
				Now: now, Kcsr: true, Policies: []string{"developers"}, Approvers: alice},
			want: []string{
				`⚠ status: Pending for 5m: ApprovalPolicy developers covers signer "kubernetes.io/kube-apiserver-client" but did not approve or deny it (kcsr's approver: "no policy covering signer \"kubernetes.io/kube-apiserver-client\" approves or denies this request (1 policy considered), so a person must decide: developers: rule \"group\" is false"): someone who may approve runs kcsr approve rahul (or kcsr deny rahul), or an administrator changes the policy so that it decides such requests`,
				fmt.Sprintf(aliceLine, client),
			},
		},
		{
			name: "kcsr, policies cannot be listed, RBAC cannot be read",
			in:   PendingInput{CSR: csrObj("rahul", client), Now: now, Kcsr: true, PoliciesErr: errors.New("forbidden"), ApproversErr: errors.New("listing clusterroles is forbidden")},
			want: []string{
				`⚠ status: Pending for 5m: cannot tell whether an ApprovalPolicy covers signer "kubernetes.io/kube-apiserver-client" (forbidden): someone who may approve runs kcsr approve rahul (or kcsr deny rahul)`,
				`⚠ approvers: cannot tell who may approve signer "kubernetes.io/kube-apiserver-client" (listing clusterroles is forbidden): run kcsr doctor as a cluster administrator to see`,
			},
		},
		{
			name: "Kubernetes, a kubelet client CSR",
			in:   PendingInput{CSR: csrObj("node-csr-1", "kubernetes.io/kube-apiserver-client-kubelet"), Now: now, KubeletClient: true, Approvers: nobody},
			want: []string{
				`✗ status: Pending for 5m: a kubelet client CSR is approved automatically (by kube-controller-manager, or kcsr's approver) only when its requester "rahul" may create certificatesigningrequests/nodeclient (or selfnodeclient, to renew its own certificate): bind ClusterRole system:certificates.k8s.io:certificatesigningrequests:nodeclient to the bootstrap tokens' group (kubeadm: kubeadm:node-autoapprove-bootstrap), or someone who may approve runs kcsr approve node-csr-1 (or kcsr deny node-csr-1)`,
				`✗ approvers: nobody but system:masters can approve CSRs of signer "kubernetes.io/kube-apiserver-client-kubelet": no ClusterRole grants approve on it: a cluster administrator approves it (kcsr approve node-csr-1), or binds the approvers to a ClusterRole with approve on signers "kubernetes.io/kube-apiserver-client-kubelet" and update on certificatesigningrequests/approval (kubectl create clusterrolebinding NAME --clusterrole=ROLE --group=GROUP)`,
			},
		},
		{
			name: "Kubernetes, a user's CSR",
			in:   PendingInput{CSR: csrObj("rahul", client), Now: now, Approvers: alice},
			want: []string{
				`⚠ status: Pending for 5m: nothing in Kubernetes approves signer "kubernetes.io/kube-apiserver-client" automatically (kube-controller-manager approves only kubelet client certificates): someone who may approve runs kcsr approve rahul (or kcsr deny rahul), or run an approver for this signer`,
				fmt.Sprintf(aliceLine, client),
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { diffLines(t, tc.want, CheckPending(tc.in)) })
	}
}

func TestCheckNotIssued(t *testing.T) {
	const client = "kubernetes.io/kube-apiserver-client"
	now := epoch.Add(10 * time.Minute)
	approved := cond("Approved", "KcsrApprove", "ok", epoch.Add(5*time.Minute))
	justApproved := cond("Approved", "KcsrApprove", "ok", now.Add(-10*time.Second))
	key := testkit.NewKey(t, testkit.P256)
	expiredCA := certificate(t, "old-ca", key.Public(), nil, key, epoch.Add(-48*time.Hour), epoch, true)
	futureCA := certificate(t, "future-ca", key.Public(), nil, key, now.Add(time.Hour), now.Add(48*time.Hour), true)
	validCA := certificate(t, "kcsr-ca", key.Public(), nil, key, epoch.Add(-time.Hour), epoch.Add(48*time.Hour), true)
	profiles, err := signerProfiles(&signer.Configuration{Signers: []signer.SignerSpec{{SignerName: "example.com/webhooks"}}})
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name string
		in   NotIssuedInput
		want []string
	}{
		{
			name: "kcsr: no signer configured",
			in: NotIssuedInput{CSR: csrObj("rahul", "example.com/not-configured", approved, cond("SignerUnavailable", "NoSignerConfigured",
				`no signer serves signerName "example.com/not-configured"; declare it in the --signer-config file of kcsr server (or fix a misspelled signerName and create a new CSR)`, now)), Now: now, Kcsr: true},
			want: []string{`✗ status: Approved 5m ago but not issued: SignerUnavailable (NoSignerConfigured): no signer serves signerName "example.com/not-configured"; declare it in the --signer-config file of kcsr server (or fix a misspelled signerName and create a new CSR): declare signer "example.com/not-configured" in kcsr server's --signer-config, or create a new CSR with a signerName that is served`},
		},
		{
			name: "kcsr: the CA cannot sign",
			in:   NotIssuedInput{CSR: csrObj("rahul", client, approved, cond("SignerUnavailable", "CAUnavailable", "the CA expired at 2029-12-31T00:00:00Z", now)), Now: now, Kcsr: true},
			want: []string{`✗ status: Approved 5m ago but not issued: SignerUnavailable (CAUnavailable): the CA expired at 2029-12-31T00:00:00Z: renew or restore the signer's CA (its certFile/keyFile or HSM key in --signer-config, the cluster CA for built-in signers), then restart kcsr server`},
		},
		{
			name: "the signer's CA expired",
			in:   NotIssuedInput{CSR: csrObj("rahul", client, approved), Now: now, SignerCA: expiredCA, SignerCASource: "the kubeconfig's certificate-authority-data"},
			want: []string{`✗ status: Approved 5m ago but not issued: the signer's CA (the kubeconfig's certificate-authority-data, CN=old-ca) expired at 2030-01-01T00:00:00Z, so the signer refuses to sign ("the signer has expired"): renew the signer's CA and restart the signer; certificates it issued before stop working too`},
		},
		{
			name: "the signer's CA is not valid yet",
			in:   NotIssuedInput{CSR: csrObj("rahul", "example.com/webhooks", approved), Now: now, SignerCA: futureCA, SignerCASource: "certFile /etc/kcsr/webhooks.crt"},
			want: []string{`✗ status: Approved 5m ago but not issued: the signer's CA (certFile /etc/kcsr/webhooks.crt, CN=future-ca) is not valid until 2030-01-01T01:10:00Z: check the clock of the signer's host`},
		},
		{
			name: "a signer configuration without the signer",
			in:   NotIssuedInput{CSR: csrObj("rahul", "example.com/other", approved), Now: now, Kcsr: true, Profiles: profiles},
			want: []string{`✗ status: Approved 5m ago but not issued: the signer configuration declares no signer "example.com/other": declare signer "example.com/other" in kcsr server's --signer-config, or create a new CSR with a signerName that is served`},
		},
		{
			name: "a kubernetes.io name nothing serves is named by spec.signerName",
			in:   NotIssuedInput{CSR: csrObj("rahul", "kubernetes.io/kube-apiserver-serving", approved), Now: now},
		},
		{
			name: "just approved",
			in:   NotIssuedInput{CSR: csrObj("rahul", client, justApproved), Now: now, Kcsr: true, SignerCA: validCA},
			want: []string{`⚠ status: Approved 10s ago but not issued yet: the signer may still be at work: run kcsr doctor again in a minute`},
		},
		{
			name: "kcsr without a condition",
			in:   NotIssuedInput{CSR: csrObj("rahul", "example.com/webhooks", approved), Now: now, Kcsr: true},
			want: []string{`✗ status: Approved 5m ago but not issued, and kcsr's signer left no SignerUnavailable condition: if another signer serves "example.com/webhooks", check it; otherwise look for this CSR in kcsr server's log`},
		},
		{
			name: "Kubernetes, a built-in signer",
			in:   NotIssuedInput{CSR: csrObj("rahul", client, approved), Now: now, SignerCA: validCA},
			want: []string{`✗ status: Approved 5m ago but not issued: kube-controller-manager signs kubernetes.io/kube-apiserver-client only when it runs with --cluster-signing-cert-file and --cluster-signing-key-file (or the per-signer flags) and its CA has not expired: check kube-controller-manager's flags and its log ("Skipping CSR signer controller", "the signer has expired")`},
		},
		{
			name: "Kubernetes, a custom signer",
			in:   NotIssuedInput{CSR: csrObj("rahul", "example.com/not-configured", approved), Now: now},
			want: []string{`✗ status: Approved 5m ago but not issued: no built-in Kubernetes signer serves "example.com/not-configured"; only its own signer (cert-manager, an external CA controller) can issue it: check that a signer for "example.com/not-configured" runs and watches CSRs, or create a new CSR with a correctly spelled signerName`},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { diffLines(t, tc.want, CheckNotIssued(tc.in)) })
	}
}

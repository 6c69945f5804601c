package issuance

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/policy"
)

// approvers allows "approve" on the listed signer names (exact names, as RBAC would match
// resourceNames), "sign" on those listed as "sign:NAME", and nothing else.
type approvers map[string]bool

func (a approvers) authorizer() authorizer.Authorizer {
	return authorizer.AuthorizerFunc(func(_ context.Context, attrs authorizer.Attributes) (authorizer.Decision, string, error) {
		key := attrs.GetName()
		if attrs.GetVerb() == "sign" {
			key = "sign:" + key
		} else if attrs.GetVerb() != "approve" {
			return authorizer.DecisionNoOpinion, "", nil
		}
		if attrs.GetResource() == "signers" && attrs.GetAPIGroup() == "certificates.k8s.io" && a[key] {
			return authorizer.DecisionAllow, "", nil
		}
		return authorizer.DecisionNoOpinion, "", nil
	})
}

func approvalPolicy(signers ...string) *kcsrv1alpha1.ApprovalPolicy {
	return &kcsrv1alpha1.ApprovalPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "p"},
		Spec:       kcsrv1alpha1.ApprovalPolicySpec{SignerNames: signers, Action: kcsrv1alpha1.PolicyApprove},
	}
}

func joinToken(signer string, groups ...string) *kcsrv1alpha1.JoinToken {
	return &kcsrv1alpha1.JoinToken{
		ObjectMeta: metav1.ObjectMeta{Name: "abcdef"},
		Spec:       kcsrv1alpha1.JoinTokenSpec{Username: "erin", Groups: groups, SignerName: signer},
	}
}

func bootstrapToken(description string) *kcsrv1alpha1.BootstrapToken {
	return &kcsrv1alpha1.BootstrapToken{
		ObjectMeta: metav1.ObjectMeta{Name: "abcdef"},
		Spec:       kcsrv1alpha1.BootstrapTokenSpec{Description: description},
	}
}

func record(signerName string, login bool) *kcsrv1alpha1.IssuedCertificate {
	return &kcsrv1alpha1.IssuedCertificate{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: kcsrv1alpha1.IssuedCertificateSpec{SignerName: signerName, Login: login}}
}

func TestValidate(t *testing.T) {
	const client = "kubernetes.io/kube-apiserver-client"
	labelled := approvalPolicy(client)
	labelled.Labels = map[string]string{"team": "a"}

	cases := []struct {
		name     string
		resource string
		kind     string
		sub      string
		op       admission.Operation
		obj, old runtime.Object
		allowed  approvers
		wantErr  string // substring; "" means allowed
	}{
		{
			name: "policy create without approve", resource: "approvalpolicies", kind: "ApprovalPolicy", op: admission.Create,
			obj:     approvalPolicy(client),
			wantErr: `approvalpolicies.kcsr.dev "p" is forbidden: user "mallory" may not create ApprovalPolicy "p": it can cause certificates of signer "kubernetes.io/kube-apiserver-client" to be issued, which needs the verb "approve" on signers.certificates.k8s.io "kubernetes.io/kube-apiserver-client" (or "kubernetes.io/*"); bind the user to a ClusterRole granting it (such as system:certificates.k8s.io:kube-apiserver-client-approver), or ask someone who may approve those requests`,
		},
		{
			name: "policy create with approve on the signer", resource: "approvalpolicies", kind: "ApprovalPolicy", op: admission.Create,
			obj: approvalPolicy(client), allowed: approvers{client: true},
		},
		{
			name: "policy create with approve on the domain wildcard", resource: "approvalpolicies", kind: "ApprovalPolicy", op: admission.Create,
			obj: approvalPolicy(client), allowed: approvers{"kubernetes.io/*": true},
		},
		{
			name: "wildcard policy needs approve on the wildcard", resource: "approvalpolicies", kind: "ApprovalPolicy", op: admission.Create,
			obj: approvalPolicy("example.com/*"), allowed: approvers{"example.com/a": true},
			wantErr: `needs the verb "approve" on signers.certificates.k8s.io "example.com/*";`,
		},
		{
			name: "wildcard policy with approve on the wildcard", resource: "approvalpolicies", kind: "ApprovalPolicy", op: admission.Create,
			obj: approvalPolicy("example.com/*"), allowed: approvers{"example.com/*": true},
		},
		{
			name: "policy naming two signers needs both", resource: "approvalpolicies", kind: "ApprovalPolicy", op: admission.Create,
			obj: approvalPolicy("example.com/a", "example.com/b"), allowed: approvers{"example.com/a": true},
			wantErr: `it can cause certificates of signer "example.com/b" to be issued`,
		},
		{
			name: "policy update moving to another signer needs the old one too", resource: "approvalpolicies", kind: "ApprovalPolicy", op: admission.Update,
			obj: approvalPolicy("example.com/b"), old: approvalPolicy("example.com/a"), allowed: approvers{"example.com/b": true},
			wantErr: `signer "example.com/a"`,
		},
		{
			name: "policy update of metadata only", resource: "approvalpolicies", kind: "ApprovalPolicy", op: admission.Update,
			obj: labelled, old: approvalPolicy(client),
		},
		{
			name: "policy delete without approve", resource: "approvalpolicies", kind: "ApprovalPolicy", op: admission.Delete,
			old: approvalPolicy(client), wantErr: `user "mallory" may not delete ApprovalPolicy "p"`,
		},
		{
			name: "policy delete with approve", resource: "approvalpolicies", kind: "ApprovalPolicy", op: admission.Delete,
			old: approvalPolicy(client), allowed: approvers{client: true},
		},
		{
			name: "join token create without approve", resource: "jointokens", kind: "JoinToken", op: admission.Create,
			obj: joinToken(client, "dev"), wantErr: `user "mallory" may not create JoinToken "abcdef": it can cause certificates of signer "kubernetes.io/kube-apiserver-client" to be issued`,
		},
		{
			name: "join token create with approve", resource: "jointokens", kind: "JoinToken", op: admission.Create,
			obj: joinToken(client, "dev"), allowed: approvers{client: true},
		},
		{
			name: "join token for system:masters, even by an approver", resource: "jointokens", kind: "JoinToken", op: admission.Create,
			obj: joinToken(client, "dev", "system:masters"), allowed: approvers{client: true},
			wantErr: `spec.groups: "system:masters" is a protected group: certificates for it are never approved automatically, so a join token may not grant it`,
		},
		{
			name: "join token for a configured protected group", resource: "jointokens", kind: "JoinToken", op: admission.Create,
			obj: joinToken("example.com/a", "platform-admins"), allowed: approvers{"example.com/a": true},
			wantErr: `"platform-admins" is a protected group`,
		},
		{
			name: "join token update of its subject", resource: "jointokens", kind: "JoinToken", op: admission.Update,
			obj: joinToken(client, "admins"), old: joinToken(client, "dev"),
			wantErr: `may not update JoinToken "abcdef"`,
		},
		{
			name: "join token delete", resource: "jointokens", kind: "JoinToken", op: admission.Delete,
			old: joinToken(client, "dev"),
		},
		{
			name: "join token status (spending) is not checked here", resource: "jointokens", kind: "JoinToken", sub: "status", op: admission.Update,
			obj: joinToken(client, "dev"), old: joinToken(client, "dev"),
		},
		{
			name: "bootstrap token create without approve on the kubelet client signer", resource: "bootstraptokens", kind: "BootstrapToken", op: admission.Create,
			obj: bootstrapToken(""), allowed: approvers{client: true},
			wantErr: `needs the verb "approve" on signers.certificates.k8s.io "kubernetes.io/kube-apiserver-client-kubelet" (or "kubernetes.io/*"); bind the user to a ClusterRole granting it (such as system:certificates.k8s.io:kube-apiserver-client-kubelet-approver)`,
		},
		{
			name: "bootstrap token create with approve", resource: "bootstraptokens", kind: "BootstrapToken", op: admission.Create,
			obj: bootstrapToken(""), allowed: approvers{"kubernetes.io/kube-apiserver-client-kubelet": true},
		},
		{
			name: "bootstrap token spec update", resource: "bootstraptokens", kind: "BootstrapToken", op: admission.Update,
			obj: bootstrapToken("b"), old: bootstrapToken("a"), wantErr: `may not update BootstrapToken "abcdef"`,
		},
		{
			name: "bootstrap token delete", resource: "bootstraptokens", kind: "BootstrapToken", op: admission.Delete,
			old: bootstrapToken("a"),
		},
		{
			name: "a record that is no login", resource: "issuedcertificates", kind: "IssuedCertificate", op: admission.Create,
			obj: record("example.com/step", false),
		},
		{
			name: "a login record without sign", resource: "issuedcertificates", kind: "IssuedCertificate", op: admission.Create,
			obj: record("example.com/step", true), allowed: approvers{"example.com/step": true},
			wantErr: `user "mallory" may not create an IssuedCertificate with spec.login for signer "example.com/step": kcsr server admits an upstream CA's certificate for login when such a record of it exists, so the record approves and issues a login, which needs the verbs "approve" and "sign" on signers.certificates.k8s.io "example.com/step" (or "example.com/*") (missing: "sign")`,
		},
		{
			name: "a login record without approve", resource: "issuedcertificates", kind: "IssuedCertificate", op: admission.Create,
			obj: record("example.com/step", true), allowed: approvers{"sign:example.com/step": true},
			wantErr: `(missing: "approve")`,
		},
		{
			name: "a login record with approve and sign", resource: "issuedcertificates", kind: "IssuedCertificate", op: admission.Create,
			obj: record("example.com/step", true), allowed: approvers{"example.com/step": true, "sign:example.com/step": true},
		},
		{
			name: "a login record with approve and sign on its domain", resource: "issuedcertificates", kind: "IssuedCertificate", op: admission.Create,
			obj: record("example.com/step", true), allowed: approvers{"example.com/*": true, "sign:example.com/*": true},
		},
		{
			name: "a revocation of a login record is another plugin's", resource: "issuedcertificates", kind: "IssuedCertificate", sub: "status", op: admission.Update,
			obj: record("example.com/step", true), old: record("example.com/step", true),
		},
	}
	guardRails := policy.GuardRails{ProtectedGroups: []string{"platform-admins"}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := New(tc.allowed.authorizer(), guardRails)
			name := "p"
			if tc.resource != "approvalpolicies" && tc.resource != "issuedcertificates" {
				name = "abcdef"
			}
			attrs := admission.NewAttributesRecord(tc.obj, tc.old,
				kcsrv1alpha1.SchemeGroupVersion.WithKind(tc.kind), "", name,
				kcsrv1alpha1.SchemeGroupVersion.WithResource(tc.resource), tc.sub, tc.op, nil, false,
				&user.DefaultInfo{Name: "mallory"})
			err := p.Validate(context.Background(), attrs, nil)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.wantErr != "" && err == nil:
				t.Fatalf("allowed; want an error containing %q", tc.wantErr)
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Fatalf("error:\n%s\nwant it to contain:\n%s", err, tc.wantErr)
			}
		})
	}
}

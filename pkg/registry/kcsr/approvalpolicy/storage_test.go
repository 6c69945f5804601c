package approvalpolicy

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/registry"
)

func approvalPolicy(name string, rules ...kcsrv1alpha1.PolicyRule) *kcsrv1alpha1.ApprovalPolicy {
	return &kcsrv1alpha1.ApprovalPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name, ResourceVersion: "1"},
		Spec: kcsrv1alpha1.ApprovalPolicySpec{
			SignerNames: []string{"kubernetes.io/kube-apiserver-client"},
			Rules:       rules,
			Action:      kcsrv1alpha1.PolicyApprove,
		},
	}
}

var ownCN = kcsrv1alpha1.PolicyRule{Name: "own-cn", Expression: "request.subject.commonName == request.requester.username"}

// TestValidate: a policy is compiled when it is stored, and each compile error is a field
// error at the rule that has it.
func TestValidate(t *testing.T) {
	s := strategy{registry.NewStrategy(scheme.Scheme)}
	cases := []struct {
		name string
		obj  *kcsrv1alpha1.ApprovalPolicy
		want []string
	}{
		{name: "compiles", obj: approvalPolicy("developers", ownCN)},
		{name: "name is not a DNS subdomain", obj: approvalPolicy("Developers", ownCN), want: []string{"metadata.name"}},
		{
			name: "a rule that does not compile is refused at its field, naming the rule",
			obj:  approvalPolicy("developers", ownCN, kcsrv1alpha1.PolicyRule{Name: "typo", Expression: "request.subjct.commonName == ''"}),
			want: []string{"spec.rules[1].expression"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			errs := s.Validate(context.Background(), tc.obj)
			for _, e := range errs {
				got = append(got, e.Field)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("invalid fields (-want +got):\n%s\nerrors: %v", diff, errs)
			}
			if len(tc.want) > 0 && strings.HasPrefix(tc.want[0], "spec.rules") && !strings.HasPrefix(errs[0].Detail, `rule "typo": `) {
				t.Errorf("detail %q does not name the rule", errs[0].Detail)
			}
		})
	}
}

func TestValidateUpdate(t *testing.T) {
	s := strategy{registry.NewStrategy(scheme.Scheme)}
	old := approvalPolicy("developers", ownCN)
	broken := approvalPolicy("developers", kcsrv1alpha1.PolicyRule{Name: "typo", Expression: "request.subjct == ''"})
	if errs := s.ValidateUpdate(context.Background(), broken, old); len(errs) == 0 {
		t.Error("an update to a policy that does not compile was allowed")
	}
	renamed := approvalPolicy("ops", ownCN)
	if errs := s.ValidateUpdate(context.Background(), renamed, old); len(errs) == 0 {
		t.Error("an update that renames the policy was allowed")
	}
	if errs := s.ValidateUpdate(context.Background(), approvalPolicy("developers", ownCN), old); len(errs) != 0 {
		t.Errorf("a valid update was refused: %v", errs)
	}
}

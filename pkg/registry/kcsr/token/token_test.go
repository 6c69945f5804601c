package token

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/kubernetes/scheme"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/registry"
	"kcsr.dev/kcsr/pkg/testkit"
)

var secret = strings.Repeat("ab", 32)

func bootstrapToken(mutate ...func(*kcsrv1alpha1.BootstrapToken)) *kcsrv1alpha1.BootstrapToken {
	t := &kcsrv1alpha1.BootstrapToken{
		ObjectMeta: metav1.ObjectMeta{Name: "abc123"},
		Spec: kcsrv1alpha1.BootstrapTokenSpec{
			SecretSHA256: secret, Expiration: metav1.NewTime(testkit.Epoch), Usages: []string{"authentication", "signing"},
			ExtraGroups: []string{"system:bootstrappers:workers"},
		},
	}
	for _, m := range mutate {
		m(t)
	}
	return t
}

func joinToken(mutate ...func(*kcsrv1alpha1.JoinToken)) *kcsrv1alpha1.JoinToken {
	t := &kcsrv1alpha1.JoinToken{
		ObjectMeta: metav1.ObjectMeta{Name: "abc123", ResourceVersion: "1"},
		Spec: kcsrv1alpha1.JoinTokenSpec{
			SecretSHA256: secret, Expiration: metav1.NewTime(testkit.Epoch), Username: "rahul", Groups: []string{"dev"},
			SignerName: "kubernetes.io/kube-apiserver-client", DNSNames: []string{"rahul.example.com"}, IPAddresses: []string{"10.0.0.1"},
			URIs: []string{"spiffe://example.com/rahul"}, EmailAddresses: []string{"rahul@example.com"}, MaxExpirationSeconds: 3600,
		},
	}
	for _, m := range mutate {
		m(t)
	}
	return t
}

// fieldErrors renders errors as "field: type", so that cases say exactly what is refused
// without repeating every message.
func fieldErrors(errs field.ErrorList) []string {
	var out []string
	for _, e := range errs {
		out = append(out, fmt.Sprintf("%s: %s", e.Field, e.Type))
	}
	return out
}

func TestValidateBootstrapToken(t *testing.T) {
	s := strategy{registry.NewStrategy(scheme.Scheme), validateBootstrapToken}
	cases := []struct {
		name   string
		mutate func(*kcsrv1alpha1.BootstrapToken)
		want   []string
	}{
		{name: "valid", mutate: func(*kcsrv1alpha1.BootstrapToken) {}},
		{name: "name is not a token id", mutate: func(b *kcsrv1alpha1.BootstrapToken) { b.Name = "ABC-123" }, want: []string{"metadata.name: Invalid value"}},
		{name: "the secret itself", mutate: func(b *kcsrv1alpha1.BootstrapToken) { b.Spec.SecretSHA256 = "0123456789abcdef" }, want: []string{"spec.secretSHA256: Invalid value"}},
		{name: "no expiration", mutate: func(b *kcsrv1alpha1.BootstrapToken) { b.Spec.Expiration = metav1.Time{} }, want: []string{"spec.expiration: Required value"}},
		{name: "no usages", mutate: func(b *kcsrv1alpha1.BootstrapToken) { b.Spec.Usages = nil }, want: []string{"spec.usages: Required value"}},
		{name: "unknown usage", mutate: func(b *kcsrv1alpha1.BootstrapToken) { b.Spec.Usages = []string{"authentication", "admin"} }, want: []string{"spec.usages[1]: Unsupported value"}},
		{name: "extra group outside system:bootstrappers", mutate: func(b *kcsrv1alpha1.BootstrapToken) { b.Spec.ExtraGroups = []string{"system:masters"} }, want: []string{"spec.extraGroups[0]: Invalid value"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, fieldErrors(s.Validate(context.Background(), bootstrapToken(tc.mutate)))); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateJoinToken(t *testing.T) {
	s := strategy{registry.NewStrategy(scheme.Scheme), validateJoinToken}
	cases := []struct {
		name   string
		mutate func(*kcsrv1alpha1.JoinToken)
		want   []string
	}{
		{name: "valid", mutate: func(*kcsrv1alpha1.JoinToken) {}},
		{name: "no expiration", mutate: func(j *kcsrv1alpha1.JoinToken) { j.Spec.Expiration = metav1.Time{} }, want: []string{"spec.expiration: Required value"}},
		{name: "blank username", mutate: func(j *kcsrv1alpha1.JoinToken) { j.Spec.Username = " " }, want: []string{"spec.username: Required value"}},
		{name: "no signer", mutate: func(j *kcsrv1alpha1.JoinToken) { j.Spec.SignerName = "" }, want: []string{"spec.signerName: Required value"}},
		{name: "empty and repeated groups", mutate: func(j *kcsrv1alpha1.JoinToken) { j.Spec.Groups = []string{"dev", "", "dev"} },
			want: []string{"spec.groups[1]: Invalid value", "spec.groups[2]: Invalid value"}},
		{name: "upper-case and repeated DNS names", mutate: func(j *kcsrv1alpha1.JoinToken) {
			j.Spec.DNSNames = []string{"Rahul.example.com", "a.example", "a.example"}
		},
			want: []string{"spec.dnsNames[0]: Invalid value", "spec.dnsNames[2]: Duplicate value"}},
		{name: "IP not in canonical form", mutate: func(j *kcsrv1alpha1.JoinToken) { j.Spec.IPAddresses = []string{"fd00:0::1"} }, want: []string{"spec.ipAddresses[0]: Invalid value"}},
		{name: "relative URI", mutate: func(j *kcsrv1alpha1.JoinToken) { j.Spec.URIs = []string{"/ns/app"} }, want: []string{"spec.uris[0]: Invalid value"}},
		{name: "e-mail with a display name", mutate: func(j *kcsrv1alpha1.JoinToken) { j.Spec.EmailAddresses = []string{"Rahul <rahul@example.com>"} }, want: []string{"spec.emailAddresses[0]: Invalid value"}},
		{name: "maximum lifetime under ten minutes", mutate: func(j *kcsrv1alpha1.JoinToken) { j.Spec.MaxExpirationSeconds = 599 }, want: []string{"spec.maxExpirationSeconds: Invalid value"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, fieldErrors(s.Validate(context.Background(), joinToken(tc.mutate)))); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateUpdateKeepsTheName(t *testing.T) {
	s := strategy{registry.NewStrategy(scheme.Scheme), validateJoinToken}
	old := joinToken()
	renamed := joinToken(func(j *kcsrv1alpha1.JoinToken) { j.Name = "xyz789" })
	if diff := cmp.Diff([]string{"metadata.name: Invalid value"}, fieldErrors(s.ValidateUpdate(context.Background(), renamed, old))); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}

var spent = &kcsrv1alpha1.TokenUse{CSRName: "first", CSRUID: "uid-first", Time: metav1.NewTime(testkit.Epoch)}

// TestMainResourceNeverWritesStatus: a join token is created unspent, and the main
// resource cannot spend or unspend it.
func TestMainResourceNeverWritesStatus(t *testing.T) {
	s := strategy{registry.NewStrategy(scheme.Scheme), validateJoinToken}
	created := joinToken(func(j *kcsrv1alpha1.JoinToken) { j.Status.UsedBy = spent })
	s.PrepareForCreate(context.Background(), created)
	if created.Status.UsedBy != nil {
		t.Errorf("a token was created spent: %+v", created.Status.UsedBy)
	}
	old := joinToken(func(j *kcsrv1alpha1.JoinToken) { j.Status.UsedBy = spent })
	unspent := joinToken(func(j *kcsrv1alpha1.JoinToken) { j.Spec.Groups = []string{"ops"} })
	s.PrepareForUpdate(context.Background(), unspent, old)
	if diff := cmp.Diff(spent, unspent.Status.UsedBy); diff != "" {
		t.Errorf("the main resource changed status (-stored +got):\n%s", diff)
	}
	// Bootstrap tokens have no status; the strategy leaves them alone.
	var b runtime.Object = bootstrapToken()
	s.PrepareForCreate(context.Background(), b)
}

func TestSpendOnce(t *testing.T) {
	s := joinStatusStrategy{strategy{registry.NewStrategy(scheme.Scheme), validateJoinToken}}
	cases := []struct {
		name     string
		old, new *kcsrv1alpha1.TokenUse
		want     []string
	}{
		{name: "first use", new: spent},
		{name: "the same use again", old: spent, new: spent},
		{name: "another CSR", old: spent, new: &kcsrv1alpha1.TokenUse{CSRName: "second", CSRUID: "uid-second", Time: metav1.NewTime(testkit.Epoch)}, want: []string{"status.usedBy: Forbidden"}},
		{name: "unspending", old: spent, want: []string{"status.usedBy: Forbidden"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			old := joinToken(func(j *kcsrv1alpha1.JoinToken) { j.Status.UsedBy = tc.old })
			obj := joinToken(func(j *kcsrv1alpha1.JoinToken) { j.Status.UsedBy, j.Spec.Username = tc.new, "mallory" })
			s.PrepareForUpdate(context.Background(), obj, old)
			if obj.Spec.Username != "rahul" {
				t.Errorf("/status changed spec.username to %q", obj.Spec.Username)
			}
			if diff := cmp.Diff(tc.want, fieldErrors(s.ValidateUpdate(context.Background(), obj, old))); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

package validation

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// errorStrings renders errs the way the API server reports them.
func errorStrings(errs field.ErrorList) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

// validLease is a Lease as client-go's LeaseLock writes it.
func validLease() *coordinationv1.Lease {
	now := metav1.NewMicroTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	return &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: "kcsr-controllers", Namespace: "kube-system", ResourceVersion: "7"},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity:       ptr.To("host-a_0f1e2d3c"),
			LeaseDurationSeconds: ptr.To[int32](15),
			AcquireTime:          &now,
			RenewTime:            &now,
			LeaseTransitions:     ptr.To[int32](2),
		},
	}
}

func TestValidateLease(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*coordinationv1.Lease)
		want   []string
	}{
		{name: "valid", modify: func(*coordinationv1.Lease) {}},
		{name: "empty spec", modify: func(l *coordinationv1.Lease) { l.Spec = coordinationv1.LeaseSpec{} }},
		{
			name: "released by client-go: no holder, one second",
			modify: func(l *coordinationv1.Lease) {
				l.Spec.HolderIdentity = ptr.To("")
				l.Spec.LeaseDurationSeconds = ptr.To[int32](1)
			},
		},
		{name: "any holder identity", modify: func(l *coordinationv1.Lease) { l.Spec.HolderIdentity = ptr.To("Not a DNS name / with spaces") }},
		{name: "leaseTransitions 0", modify: func(l *coordinationv1.Lease) { l.Spec.LeaseTransitions = ptr.To[int32](0) }},
		{
			name:   "leaseDurationSeconds 0",
			modify: func(l *coordinationv1.Lease) { l.Spec.LeaseDurationSeconds = ptr.To[int32](0) },
			want:   []string{"spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"},
		},
		{
			name:   "leaseDurationSeconds negative",
			modify: func(l *coordinationv1.Lease) { l.Spec.LeaseDurationSeconds = ptr.To[int32](-5) },
			want:   []string{"spec.leaseDurationSeconds: Invalid value: -5: must be greater than 0"},
		},
		{
			name:   "leaseTransitions negative",
			modify: func(l *coordinationv1.Lease) { l.Spec.LeaseTransitions = ptr.To[int32](-1) },
			want:   []string{"spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0"},
		},
		{
			name: "Kubernetes strategy with a preferred holder",
			modify: func(l *coordinationv1.Lease) {
				l.Spec.Strategy = ptr.To(coordinationv1.OldestEmulationVersion)
				l.Spec.PreferredHolder = ptr.To("host-b_1a2b3c4d")
			},
		},
		{name: "custom strategy", modify: func(l *coordinationv1.Lease) {
			l.Spec.Strategy = ptr.To(coordinationv1.CoordinatedLeaseStrategy("example.com/newest"))
		}},
		{
			name: "unknown Kubernetes strategy",
			modify: func(l *coordinationv1.Lease) {
				l.Spec.Strategy = ptr.To(coordinationv1.CoordinatedLeaseStrategy("Newest"))
			},
			want: []string{`spec.strategy.strategy: Unsupported value: "Newest": supported values: "OldestEmulationVersion"`},
		},
		{
			name:   "empty strategy",
			modify: func(l *coordinationv1.Lease) { l.Spec.Strategy = ptr.To(coordinationv1.CoordinatedLeaseStrategy("")) },
			want:   []string{`spec.strategy.strategy: Unsupported value: "": supported values: "OldestEmulationVersion"`},
		},
		{
			name: "custom strategy with a bad prefix",
			modify: func(l *coordinationv1.Lease) {
				l.Spec.Strategy = ptr.To(coordinationv1.CoordinatedLeaseStrategy("Example.com/newest"))
			},
			want: []string{`spec.strategy.strategy: Invalid value: "Example.com/newest": prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`},
		},
		{
			name:   "preferred holder without a strategy",
			modify: func(l *coordinationv1.Lease) { l.Spec.PreferredHolder = ptr.To("host-b_1a2b3c4d") },
			want:   []string{"spec.preferredHolder: Forbidden: may only be specified if `strategy` is defined"},
		},
		{
			name: "preferred holder with an empty strategy",
			modify: func(l *coordinationv1.Lease) {
				l.Spec.Strategy = ptr.To(coordinationv1.CoordinatedLeaseStrategy(""))
				l.Spec.PreferredHolder = ptr.To("host-b_1a2b3c4d")
			},
			want: []string{
				`spec.strategy.strategy: Unsupported value: "": supported values: "OldestEmulationVersion"`,
				"spec.preferredHolder: Forbidden: may only be specified if `strategy` is defined",
			},
		},
		{name: "empty preferred holder without a strategy", modify: func(l *coordinationv1.Lease) { l.Spec.PreferredHolder = ptr.To("") }},
		{
			name:   "no namespace",
			modify: func(l *coordinationv1.Lease) { l.Namespace = "" },
			want:   []string{"metadata.namespace: Required value"},
		},
		{
			name:   "name not a DNS subdomain",
			modify: func(l *coordinationv1.Lease) { l.Name = "Kcsr_Controllers" },
			want:   []string{`metadata.name: Invalid value: "Kcsr_Controllers": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`},
		},
		{
			name: "every spec error at once",
			modify: func(l *coordinationv1.Lease) {
				l.Spec.LeaseDurationSeconds = ptr.To[int32](0)
				l.Spec.LeaseTransitions = ptr.To[int32](-1)
				l.Spec.PreferredHolder = ptr.To("x")
			},
			want: []string{
				"spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0",
				"spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0",
				"spec.preferredHolder: Forbidden: may only be specified if `strategy` is defined",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lease := validLease()
			tt.modify(lease)
			if diff := cmp.Diff(tt.want, errorStrings(ValidateLease(lease))); diff != "" {
				t.Errorf("ValidateLease (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateLeaseUpdate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*coordinationv1.Lease)
		want   []string
	}{
		{name: "renewed", modify: func(l *coordinationv1.Lease) {
			renew := metav1.NewMicroTime(l.Spec.RenewTime.Add(2 * time.Second))
			l.Spec.RenewTime = &renew
		}},
		{name: "taken over", modify: func(l *coordinationv1.Lease) {
			l.Spec.HolderIdentity = ptr.To("host-b_1a2b3c4d")
			l.Spec.LeaseTransitions = ptr.To[int32](3)
		}},
		{name: "released", modify: func(l *coordinationv1.Lease) {
			l.Spec.HolderIdentity = ptr.To("")
			l.Spec.LeaseDurationSeconds = ptr.To[int32](1)
		}},
		{
			name:   "invalid spec",
			modify: func(l *coordinationv1.Lease) { l.Spec.LeaseDurationSeconds = ptr.To[int32](0) },
			want:   []string{"spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"},
		},
		{
			name:   "renamed",
			modify: func(l *coordinationv1.Lease) { l.Name = "other" },
			want:   []string{`metadata.name: Invalid value: "other": field is immutable`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old, lease := validLease(), validLease()
			tt.modify(lease)
			if diff := cmp.Diff(tt.want, errorStrings(ValidateLeaseUpdate(lease, old))); diff != "" {
				t.Errorf("ValidateLeaseUpdate (-want +got):\n%s", diff)
			}
		})
	}
}

package lease

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func coordinated(l *coordinationv1.Lease) *coordinationv1.Lease {
	l.Spec.Strategy = ptr.To(coordinationv1.OldestEmulationVersion)
	l.Spec.PreferredHolder = ptr.To("host-b_1a2b3c4d")
	return l
}

func newLease() *coordinationv1.Lease {
	return &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: "kcsr-controllers", Namespace: "kube-system"},
		Spec:       coordinationv1.LeaseSpec{HolderIdentity: ptr.To("host-a_0f1e2d3c"), LeaseDurationSeconds: ptr.To[int32](15)},
	}
}

// With CoordinatedLeaderElection off (its default, and kcsr has no --feature-gates),
// strategy and preferredHolder are dropped as kube-apiserver drops them, unless the stored
// object already has them.
func TestPrepareDropsCoordinatedFields(t *testing.T) {
	if coordinatedLeaderElection() {
		t.Skip("CoordinatedLeaderElection is on by default in this k8s.io/apiserver; the fields are kept")
	}
	s := strategy{}
	ctx := context.Background()
	tests := []struct {
		name     string
		old, obj *coordinationv1.Lease
		want     coordinationv1.LeaseSpec
	}{
		{name: "create", obj: coordinated(newLease()), want: newLease().Spec},
		{name: "update of a plain lease", old: newLease(), obj: coordinated(newLease()), want: newLease().Spec},
		{name: "update of a lease that has them", old: coordinated(newLease()), obj: coordinated(newLease()), want: coordinated(newLease()).Spec},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.old == nil {
				s.PrepareForCreate(ctx, tt.obj)
			} else {
				s.PrepareForUpdate(ctx, tt.obj, tt.old)
			}
			if diff := cmp.Diff(tt.want, tt.obj.Spec); diff != "" {
				t.Errorf("spec (-want +got):\n%s", diff)
			}
		})
	}
}

// `kubectl get leases` prints NAME, HOLDER, AGE as on kube-apiserver.
func TestTable(t *testing.T) {
	lease := newLease()
	lease.CreationTimestamp = metav1.NewTime(time.Now().Add(-3 * time.Minute))
	released := newLease()
	released.Name, released.Spec.HolderIdentity = "released", nil
	got, err := tableConvertor.ConvertToTable(context.Background(), &coordinationv1.LeaseList{Items: []coordinationv1.Lease{*lease, *released}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range got.ColumnDefinitions {
		names = append(names, c.Name)
	}
	if diff := cmp.Diff([]string{"Name", "Holder", "Age"}, names); diff != "" {
		t.Errorf("columns (-want +got):\n%s", diff)
	}
	var cells [][]any
	for _, row := range got.Rows {
		cells = append(cells, row.Cells)
	}
	want := [][]any{{"kcsr-controllers", "host-a_0f1e2d3c", "3m"}, {"released", "", "<unknown>"}}
	if diff := cmp.Diff(want, cells); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
}

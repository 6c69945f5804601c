package announce

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
)

var epoch = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

func lease(name, holder, signers string, renewed time.Time) *coordinationv1.Lease {
	return &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: kcsrv1alpha1.SignersAnnouncementNamespace,
			Labels:      map[string]string{kcsrv1alpha1.SignersAnnouncementLabel: "true"},
			Annotations: map[string]string{kcsrv1alpha1.SignersAnnotation: signers}},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(holder), LeaseDurationSeconds: ptr.To(int32(60)), RenewTime: ptr.To(metav1.NewMicroTime(renewed))},
	}
}

// TestServed: live announcements count, with a lease duration of slack; expired ones,
// other Leases and unlabelled ones do not.
func TestServed(t *testing.T) {
	leaderElection := lease("kcsr-controllers", "a", "", epoch)
	leaderElection.Labels = nil
	client := fake.NewClientset(
		lease("kcsr-signers-a", "host-a", "example.com/ci,kubernetes.io/kube-apiserver-client", epoch.Add(-30*time.Second)),
		lease("kcsr-signers-b", "host-b", "example.com/ci", epoch.Add(-100*time.Second)), // expired 40 s ago: within the slack
		lease("kcsr-signers-c", "host-c", "example.com/gone", epoch.Add(-time.Hour)),
		leaderElection,
	)
	a, err := Served(context.Background(), client, epoch)
	if err != nil {
		t.Fatal(err)
	}
	want := &Announcements{Processes: 2, Signers: map[string][]string{"example.com/ci": {"host-a", "host-b"}, "kubernetes.io/kube-apiserver-client": {"host-a"}}}
	if diff := cmp.Diff(want, a); diff != "" {
		t.Errorf("announcements (-want +got):\n%s", diff)
	}
	if got := a.Names(); !cmp.Equal(got, []string{"example.com/ci", "kubernetes.io/kube-apiserver-client"}) {
		t.Errorf("Names() = %v", got)
	}
}

// TestAnnouncer: a process announces its signers, renews the Lease, deletes it when it
// stops, and at start deletes the announcements expired for over a day.
func TestAnnouncer(t *testing.T) {
	client := fake.NewClientset(
		lease("kcsr-signers-old", "killed", "example.com/old", epoch.Add(-25*time.Hour)),
		lease("kcsr-signers-recent", "killed-recently", "example.com/recent", epoch.Add(-time.Hour)),
	)
	clock := clocktesting.NewFakeClock(epoch)
	a := &Announcer{Client: client, Identity: "host-a_1", Signers: []string{"example.com/ci", "example.com/ops"}, Clock: clock}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); a.Run(ctx) }()
	leases := client.CoordinationV1().Leases(kcsrv1alpha1.SignersAnnouncementNamespace)
	name := LeaseName("host-a_1")
	var got *coordinationv1.Lease
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var err error
		if got, err = leases.Get(context.Background(), name, metav1.GetOptions{}); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no announcement %s: %v", name, err)
		}
	}
	if got.Annotations[kcsrv1alpha1.SignersAnnotation] != "example.com/ci,example.com/ops" || ptr.Deref(got.Spec.HolderIdentity, "") != "host-a_1" || !got.Spec.RenewTime.Time.Equal(epoch) {
		t.Errorf("announcement %+v", got)
	}
	if _, err := leases.Get(context.Background(), "kcsr-signers-old", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("an announcement expired for over a day is kept: %v", err)
	}
	if _, err := leases.Get(context.Background(), "kcsr-signers-recent", metav1.GetOptions{}); err != nil {
		t.Errorf("an announcement expired an hour ago was deleted: %v", err)
	}
	served, err := Served(context.Background(), client, epoch)
	if err != nil || served.Processes != 1 || len(served.Signers["example.com/ops"]) != 1 {
		t.Errorf("Served = %+v, %v; want this process only", served, err)
	}
	cancel()
	<-done
	if _, err := leases.Get(context.Background(), name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the announcement outlived its process: %v", err)
	}
}

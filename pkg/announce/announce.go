// Package announce tells which signer names are served, across the processes that sign:
// each (kcsr server, each kcsr controller replica) keeps a Lease saying which signers it
// serves (Announcer), and approvers read the live ones (Served), so that `kcsr approve`
// and `kcsr doctor` can say, before a CSR is approved, that nothing will sign it: a
// custom signerName misspelled, or a signer whose controller is not running. Kubernetes
// has no such thing: an approved CSR for a signer nobody serves just stays Approved.
//
// The Lease is kcsr-signers-<hash of the process identity> in kube-system, labelled
// kcsr.dev/signers-announcement, its kcsr.dev/signers annotation the signer names; it is
// renewed every RenewInterval and lives LeaseDuration past its last renewal. A process
// deletes its own when it stops; a Lease left by a killed one is ignored once expired and
// deleted by the next process to start after a day.
package announce

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
)

const (
	// LeaseDuration is how long an announcement lives past its last renewal.
	LeaseDuration = 60 * time.Second
	// RenewInterval is how often a running process renews its announcement.
	RenewInterval = 20 * time.Second
	// forgetAfter is how long after its expiry a process's announcement is deleted by
	// another: it was killed before it could delete it.
	forgetAfter = 24 * time.Hour
)

// Announcer keeps the announcement of one process.
type Announcer struct {
	Client kubernetes.Interface
	// Identity is the process's (the leader election's, when it has one).
	Identity string
	// Signers are the signer names the process serves.
	Signers []string
	Clock   clock.Clock
}

// LeaseName is the name of the announcement of the process with this identity.
func LeaseName(identity string) string {
	sum := sha256.Sum256([]byte(identity))
	return "kcsr-signers-" + hex.EncodeToString(sum[:6])
}

// Run announces until ctx is done, then deletes the announcement.
func (a *Announcer) Run(ctx context.Context) {
	if a.Clock == nil {
		a.Clock = clock.RealClock{}
	}
	logger := klog.FromContext(ctx).WithName("signer-announcement")
	leases := a.Client.CoordinationV1().Leases(kcsrv1alpha1.SignersAnnouncementNamespace)
	name := LeaseName(a.Identity)
	a.forgetStale(ctx)
	failing := false
	wait.UntilWithContext(ctx, func(ctx context.Context) {
		err := a.renew(ctx, name)
		switch {
		case err != nil && !failing && ctx.Err() == nil:
			logger.Error(err, "Cannot announce the signers served; kcsr approve and kcsr doctor will not see them", "lease", kcsrv1alpha1.SignersAnnouncementNamespace+"/"+name)
			failing = true
		case err != nil:
			logger.V(2).Info("Cannot announce the signers served", "err", err)
		default:
			failing = false
		}
	}, RenewInterval)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := leases.Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		logger.V(2).Info("Cannot delete the announcement", "lease", name, "err", err)
	}
}

func (a *Announcer) renew(ctx context.Context, name string) error {
	leases := a.Client.CoordinationV1().Leases(kcsrv1alpha1.SignersAnnouncementNamespace)
	now := metav1.NewMicroTime(a.Clock.Now())
	signers := strings.Join(a.Signers, ",")
	lease, err := leases.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		lease = &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{
				Name:        name,
				Namespace:   kcsrv1alpha1.SignersAnnouncementNamespace,
				Labels:      map[string]string{kcsrv1alpha1.SignersAnnouncementLabel: "true"},
				Annotations: map[string]string{kcsrv1alpha1.SignersAnnotation: signers},
			},
			Spec: coordinationv1.LeaseSpec{
				HolderIdentity:       ptr.To(a.Identity),
				LeaseDurationSeconds: ptr.To(int32(LeaseDuration / time.Second)),
				AcquireTime:          &now,
				RenewTime:            &now,
			},
		}
		_, err = leases.Create(ctx, lease, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	if lease.Annotations == nil {
		lease.Annotations = map[string]string{}
	}
	lease.Annotations[kcsrv1alpha1.SignersAnnotation] = signers
	lease.Spec.HolderIdentity = ptr.To(a.Identity)
	lease.Spec.LeaseDurationSeconds = ptr.To(int32(LeaseDuration / time.Second))
	lease.Spec.RenewTime = &now
	_, err = leases.Update(ctx, lease, metav1.UpdateOptions{})
	return err
}

// forgetStale deletes the announcements expired for more than a day.
func (a *Announcer) forgetStale(ctx context.Context) {
	leases := a.Client.CoordinationV1().Leases(kcsrv1alpha1.SignersAnnouncementNamespace)
	list, err := leases.List(ctx, metav1.ListOptions{LabelSelector: selector()})
	if err != nil {
		return
	}
	for _, l := range list.Items {
		if end, ok := expiry(&l); ok && a.Clock.Since(end) > forgetAfter {
			_ = leases.Delete(ctx, l.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &l.ResourceVersion}})
		}
	}
}

func selector() string {
	return labels.Set{kcsrv1alpha1.SignersAnnouncementLabel: "true"}.String()
}

// expiry is when an announcement stops counting, false when it says nothing of it.
func expiry(l *coordinationv1.Lease) (time.Time, bool) {
	if l.Spec.RenewTime == nil || l.Spec.LeaseDurationSeconds == nil {
		return time.Time{}, false
	}
	return l.Spec.RenewTime.Add(time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second), true
}

// Announcements are the live announcements read at one time.
type Announcements struct {
	// Signers maps each announced signer name to the identities serving it.
	Signers map[string][]string
	// Processes is how many processes announce.
	Processes int
}

// Served reads the live announcements. An announcement counts until its expiry, with a
// LeaseDuration of slack for clocks that disagree.
func Served(ctx context.Context, client kubernetes.Interface, now time.Time) (*Announcements, error) {
	list, err := client.CoordinationV1().Leases(kcsrv1alpha1.SignersAnnouncementNamespace).List(ctx, metav1.ListOptions{LabelSelector: selector()})
	if err != nil {
		return nil, err
	}
	out := &Announcements{Signers: map[string][]string{}}
	for i := range list.Items {
		l := &list.Items[i]
		if end, ok := expiry(l); !ok || now.After(end.Add(LeaseDuration)) {
			continue
		}
		out.Processes++
		holder := ptr.Deref(l.Spec.HolderIdentity, l.Name)
		for _, name := range strings.Split(l.Annotations[kcsrv1alpha1.SignersAnnotation], ",") {
			if name = strings.TrimSpace(name); name != "" {
				out.Signers[name] = append(out.Signers[name], holder)
			}
		}
	}
	return out, nil
}

// Names are the announced signer names, sorted.
func (a *Announcements) Names() []string {
	names := make([]string, 0, len(a.Signers))
	for n := range a.Signers {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

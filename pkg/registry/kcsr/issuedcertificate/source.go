package issuedcertificate

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/storage"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/inventory"
)

// Source is the inventory read straight from this storage, as the watch cache reads its
// resource: the server's own inventory.Index loads and follows it without going through
// HTTP, authorization and a JSON encoding and decoding of every record.
//
// It is an inventory.RevocationSource: the revoked records are listed and followed apart,
// so that the index can answer the revocation check before it has read every record.
func (r *REST) Source() inventory.Source { return storageSource{r} }

type storageSource struct{ r *REST }

var _ inventory.RevocationSource = storageSource{}

func (s storageSource) Revocations(ctx context.Context) ([]*kcsrv1alpha1.IssuedCertificate, int64, error) {
	return s.r.revocations.revocations(ctx)
}

func (s storageSource) WatchRevocations(ctx context.Context, rev int64) <-chan inventory.RevocationEvent {
	return s.r.revocations.watchRevocations(ctx, rev)
}

func (s storageSource) List(ctx context.Context, opts metav1.ListOptions) (*kcsrv1alpha1.IssuedCertificateList, error) {
	list := &kcsrv1alpha1.IssuedCertificateList{}
	pred := storage.Everything
	pred.Limit, pred.Continue = opts.Limit, opts.Continue
	err := s.r.Store.Storage.GetList(ctx, s.r.Store.KeyRootFunc(ctx), storage.ListOptions{ResourceVersion: opts.ResourceVersion, Predicate: pred, Recursive: true}, list)
	return list, err
}

func (s storageSource) Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	pred := storage.Everything
	pred.AllowWatchBookmarks = opts.AllowWatchBookmarks
	return s.r.Store.Storage.Watch(ctx, s.r.Store.KeyRootFunc(ctx), storage.ListOptions{ResourceVersion: opts.ResourceVersion, Predicate: pred, Recursive: true})
}

func (s storageSource) Get(ctx context.Context, name string, _ metav1.GetOptions) (*kcsrv1alpha1.IssuedCertificate, error) {
	key, err := s.r.Store.KeyFunc(ctx, name)
	if err != nil {
		return nil, err
	}
	ic := &kcsrv1alpha1.IssuedCertificate{}
	return ic, s.r.Store.Storage.Get(ctx, key, storage.GetOptions{}, ic)
}

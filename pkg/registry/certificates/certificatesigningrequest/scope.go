package certificatesigningrequest

import (
	"context"
	"strings"

	certificatesv1 "k8s.io/api/certificates/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
)

// A join identity (system:join:<id>) reads only the CSRs it created: a join token is given
// to someone outside the cluster's administration, who has no business seeing other
// people's requests and certificates. RBAC's kcsr:joiner role lets it get, list and watch
// CSRs; these methods narrow what it gets back to spec.username == its own name. So are
// the users who may read CSRs only through certificatesigningrequests/own (the
// kcsr:self-renewal role, pkg/authz/own). Others read as RBAC allows, as in Kubernetes
// (system:node-bootstrapper included).

// ownerScope returns the user name a request's reads are limited to, if they are.
func (r *REST) ownerScope(ctx context.Context, verb string) (string, bool) {
	u, ok := genericapirequest.UserFrom(ctx)
	if !ok {
		return "", false
	}
	if strings.HasPrefix(u.GetName(), kcsrv1alpha1.JoinUserPrefix) || (r.own != nil && r.own(ctx, u, verb)) {
		return u.GetName(), true
	}
	return "", false
}

func ownedBy(obj runtime.Object, owner string) bool {
	// The watch cache wraps the objects of its events to cache their serializations.
	if cached, ok := obj.(runtime.CacheableObject); ok {
		obj = cached.GetObject()
	}
	csr, ok := obj.(*certificatesv1.CertificateSigningRequest)
	return ok && csr.Spec.Username == owner
}

// Get returns the CSR; to a join identity, only its own (others are NotFound, as if they
// did not exist).
func (r *REST) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	obj, err := r.Store.Get(ctx, name, options)
	if err != nil {
		return nil, err
	}
	if owner, scoped := r.ownerScope(ctx, "get"); scoped && !ownedBy(obj, owner) {
		return nil, apierrors.NewNotFound(certificatesv1.Resource("certificatesigningrequests"), name)
	}
	return obj, nil
}

// List lists CSRs; to a join identity, only its own.
func (r *REST) List(ctx context.Context, options *metainternalversion.ListOptions) (runtime.Object, error) {
	obj, err := r.Store.List(ctx, options)
	if err != nil {
		return nil, err
	}
	owner, scoped := r.ownerScope(ctx, "list")
	if !scoped {
		return obj, nil
	}
	list, ok := obj.(*certificatesv1.CertificateSigningRequestList)
	if !ok {
		return nil, apierrors.NewInternalError(errNotCSR(obj))
	}
	kept := list.Items[:0]
	for i := range list.Items {
		if list.Items[i].Spec.Username == owner {
			kept = append(kept, list.Items[i])
		}
	}
	list.Items = kept
	return list, nil
}

// Watch watches CSRs; a join identity sees events of its own only (and bookmarks).
func (r *REST) Watch(ctx context.Context, options *metainternalversion.ListOptions) (watch.Interface, error) {
	w, err := r.Store.Watch(ctx, options)
	if err != nil {
		return nil, err
	}
	owner, scoped := r.ownerScope(ctx, "watch")
	if !scoped {
		return w, nil
	}
	return watch.Filter(w, func(e watch.Event) (watch.Event, bool) {
		switch e.Type {
		case watch.Bookmark, watch.Error:
			return e, true
		}
		return e, ownedBy(e.Object, owner)
	}), nil
}

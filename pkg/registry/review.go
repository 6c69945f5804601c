package registry

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/authentication/user"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
)

// Review is the base of a create-only endpoint whose objects are answered and never
// stored (the access reviews, the self reviews): a review type embeds it and adds Create.
type Review struct {
	// NewFunc returns an empty review; Singular is the resource's singular name.
	NewFunc  func() runtime.Object
	Singular string
}

func (r Review) New() runtime.Object     { return r.NewFunc() }
func (Review) Destroy()                  {}
func (Review) NamespaceScoped() bool     { return false }
func (r Review) GetSingularName() string { return r.Singular }

// Admit runs admission's createValidation (when set) on a copy of the review obj and
// returns the caller: what every review does before answering.
func (Review) Admit(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc) (user.Info, error) {
	u, ok := genericapirequest.UserFrom(ctx)
	if !ok {
		return nil, apierrors.NewBadRequest("no user present on request")
	}
	if createValidation != nil {
		if err := createValidation(ctx, obj.DeepCopyObject()); err != nil {
			return nil, err
		}
	}
	return u, nil
}

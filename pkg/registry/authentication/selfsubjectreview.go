// Package authentication serves authentication.k8s.io/v1 SelfSubjectReview, which tells the
// caller who the server thinks it is (`kubectl auth whoami`). Nothing is stored.
package authentication

import (
	"context"
	"fmt"

	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/rest"

	"kcsr.dev/kcsr/pkg/registry"
)

// SelfSubjectReviewREST is the create-only endpoint.
type SelfSubjectReviewREST struct{ registry.Review }

// NewSelfSubjectReview returns the endpoint.
func NewSelfSubjectReview() *SelfSubjectReviewREST {
	return &SelfSubjectReviewREST{registry.Review{NewFunc: func() runtime.Object { return &authenticationv1.SelfSubjectReview{} }, Singular: "selfsubjectreview"}}
}

var (
	_ rest.Creater              = &SelfSubjectReviewREST{}
	_ rest.SingularNameProvider = &SelfSubjectReviewREST{}
)

// Create returns the caller's user information.
func (r *SelfSubjectReviewREST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, _ *metav1.CreateOptions) (runtime.Object, error) {
	if _, ok := obj.(*authenticationv1.SelfSubjectReview); !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("not a SelfSubjectReview: %T", obj))
	}
	u, err := r.Admit(ctx, obj, createValidation)
	if err != nil {
		return nil, err
	}
	extra := make(map[string]authenticationv1.ExtraValue, len(u.GetExtra()))
	for k, v := range u.GetExtra() {
		extra[k] = v
	}
	return &authenticationv1.SelfSubjectReview{
		ObjectMeta: metav1.ObjectMeta{CreationTimestamp: metav1.Now()},
		Status: authenticationv1.SelfSubjectReviewStatus{
			UserInfo: authenticationv1.UserInfo{
				Username: u.GetName(),
				UID:      u.GetUID(),
				Groups:   u.GetGroups(),
				Extra:    extra,
			},
		},
	}, nil
}

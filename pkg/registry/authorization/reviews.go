// Package authorization serves authorization.k8s.io/v1 SubjectAccessReview,
// SelfSubjectAccessReview and SelfSubjectRulesReview: create-only, nothing stored, answered
// by the server's authorizer (the same one that guards every request), so `kubectl auth
// can-i` tells the truth.
package authorization

import (
	"context"
	"fmt"
	"strings"

	authorizationv1 "k8s.io/api/authorization/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/registry/rest"

	"kcsr.dev/kcsr/pkg/registry"
)

// SubjectAccessReviewREST answers "may this user do that?" for any user.
type SubjectAccessReviewREST struct {
	registry.Review
	authorizer authorizer.Authorizer
}

// SelfSubjectAccessReviewREST answers "may I do that?".
type SelfSubjectAccessReviewREST struct {
	registry.Review
	authorizer authorizer.Authorizer
}

// SelfSubjectRulesReviewREST lists what the caller may do.
type SelfSubjectRulesReviewREST struct {
	registry.Review
	resolver authorizer.RuleResolver
}

// NewSubjectAccessReview returns the SubjectAccessReview endpoint.
func NewSubjectAccessReview(a authorizer.Authorizer) *SubjectAccessReviewREST {
	return &SubjectAccessReviewREST{registry.Review{NewFunc: func() runtime.Object { return &authorizationv1.SubjectAccessReview{} }, Singular: "subjectaccessreview"}, a}
}

// NewSelfSubjectAccessReview returns the SelfSubjectAccessReview endpoint.
func NewSelfSubjectAccessReview(a authorizer.Authorizer) *SelfSubjectAccessReviewREST {
	return &SelfSubjectAccessReviewREST{registry.Review{NewFunc: func() runtime.Object { return &authorizationv1.SelfSubjectAccessReview{} }, Singular: "selfsubjectaccessreview"}, a}
}

// NewSelfSubjectRulesReview returns the SelfSubjectRulesReview endpoint.
func NewSelfSubjectRulesReview(r authorizer.RuleResolver) *SelfSubjectRulesReviewREST {
	return &SelfSubjectRulesReviewREST{registry.Review{NewFunc: func() runtime.Object { return &authorizationv1.SelfSubjectRulesReview{} }, Singular: "selfsubjectrulesreview"}, r}
}

var (
	_ rest.Creater              = &SubjectAccessReviewREST{}
	_ rest.SingularNameProvider = &SubjectAccessReviewREST{}
	_ rest.Creater              = &SelfSubjectAccessReviewREST{}
	_ rest.SingularNameProvider = &SelfSubjectAccessReviewREST{}
	_ rest.Creater              = &SelfSubjectRulesReviewREST{}
	_ rest.SingularNameProvider = &SelfSubjectRulesReviewREST{}
)

// Create evaluates the review.
func (r *SubjectAccessReviewREST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, _ *metav1.CreateOptions) (runtime.Object, error) {
	sar, ok := obj.(*authorizationv1.SubjectAccessReview)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("not a SubjectAccessReview: %T", obj))
	}
	errs := validateMeta(&sar.ObjectMeta)
	errs = append(errs, validateSpec(field.NewPath("spec"), sar.Spec.ResourceAttributes, sar.Spec.NonResourceAttributes)...)
	if sar.Spec.User == "" && len(sar.Spec.Groups) == 0 {
		errs = append(errs, field.Invalid(field.NewPath("spec", "user"), sar.Spec.User, `at least one of user or group must be specified`))
	}
	if len(errs) > 0 {
		return nil, apierrors.NewInvalid(authorizationv1.SchemeGroupVersion.WithKind("SubjectAccessReview").GroupKind(), "", errs)
	}
	if _, err := r.Admit(ctx, obj, createValidation); err != nil {
		return nil, err
	}
	extra := map[string][]string{}
	for k, v := range sar.Spec.Extra {
		extra[k] = v
	}
	u := &user.DefaultInfo{Name: sar.Spec.User, UID: sar.Spec.UID, Groups: sar.Spec.Groups, Extra: extra}
	sar.Status = evaluate(ctx, r.authorizer, attributes(u, sar.Spec.ResourceAttributes, sar.Spec.NonResourceAttributes))
	return sar, nil
}

// Create evaluates the review for the caller.
func (r *SelfSubjectAccessReviewREST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, _ *metav1.CreateOptions) (runtime.Object, error) {
	ssar, ok := obj.(*authorizationv1.SelfSubjectAccessReview)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("not a SelfSubjectAccessReview: %T", obj))
	}
	errs := validateMeta(&ssar.ObjectMeta)
	errs = append(errs, validateSpec(field.NewPath("spec"), ssar.Spec.ResourceAttributes, ssar.Spec.NonResourceAttributes)...)
	if len(errs) > 0 {
		return nil, apierrors.NewInvalid(authorizationv1.SchemeGroupVersion.WithKind("SelfSubjectAccessReview").GroupKind(), "", errs)
	}
	u, err := r.Admit(ctx, obj, createValidation)
	if err != nil {
		return nil, err
	}
	ssar.Status = evaluate(ctx, r.authorizer, attributes(u, ssar.Spec.ResourceAttributes, ssar.Spec.NonResourceAttributes))
	return ssar, nil
}

// Create lists the caller's rules. kcsr has no namespaced roles, so the namespace only
// selects nothing extra; cluster-wide rules apply in every namespace.
func (r *SelfSubjectRulesReviewREST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, _ *metav1.CreateOptions) (runtime.Object, error) {
	review, ok := obj.(*authorizationv1.SelfSubjectRulesReview)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("not a SelfSubjectRulesReview: %T", obj))
	}
	u, err := r.Admit(ctx, obj, createValidation)
	if err != nil {
		return nil, err
	}
	resourceRules, nonResourceRules, incomplete, err := r.resolver.RulesFor(ctx, u, review.Spec.Namespace)
	status := authorizationv1.SubjectRulesReviewStatus{
		ResourceRules:    []authorizationv1.ResourceRule{},
		NonResourceRules: []authorizationv1.NonResourceRule{},
		Incomplete:       incomplete,
	}
	for _, rr := range resourceRules {
		status.ResourceRules = append(status.ResourceRules, authorizationv1.ResourceRule{
			Verbs: rr.GetVerbs(), APIGroups: rr.GetAPIGroups(), Resources: rr.GetResources(), ResourceNames: rr.GetResourceNames(),
		})
	}
	for _, nr := range nonResourceRules {
		status.NonResourceRules = append(status.NonResourceRules, authorizationv1.NonResourceRule{
			Verbs: nr.GetVerbs(), NonResourceURLs: nr.GetNonResourceURLs(),
		})
	}
	if err != nil {
		status.EvaluationError = err.Error()
	}
	review.Status = status
	return review, nil
}

// validateMeta: a review is not stored, so it may carry no metadata but a name.
func validateMeta(m *metav1.ObjectMeta) field.ErrorList {
	want := metav1.ObjectMeta{Name: m.Name, ManagedFields: m.ManagedFields}
	if !apiequality.Semantic.DeepEqual(*m, want) {
		return field.ErrorList{field.Invalid(field.NewPath("metadata"), m, "must be empty")}
	}
	return nil
}

func validateSpec(p *field.Path, ra *authorizationv1.ResourceAttributes, nra *authorizationv1.NonResourceAttributes) field.ErrorList {
	switch {
	case ra == nil && nra == nil:
		return field.ErrorList{field.Required(p.Child("resourceAttributes"), "exactly one of nonResourceAttributes or resourceAttributes must be specified")}
	case ra != nil && nra != nil:
		return field.ErrorList{field.Invalid(p.Child("nonResourceAttributes"), nra, `cannot be specified in combination with resourceAttributes`)}
	}
	return nil
}

func attributes(u user.Info, ra *authorizationv1.ResourceAttributes, nra *authorizationv1.NonResourceAttributes) authorizer.AttributesRecord {
	if ra != nil {
		return authorizer.AttributesRecord{
			User:            u,
			Verb:            ra.Verb,
			Namespace:       ra.Namespace,
			APIGroup:        ra.Group,
			APIVersion:      matchAny(ra.Version),
			Resource:        ra.Resource,
			Subresource:     ra.Subresource,
			Name:            ra.Name,
			ResourceRequest: true,
		}
	}
	return authorizer.AttributesRecord{
		User:            u,
		ResourceRequest: false,
		Path:            nra.Path,
		Verb:            nra.Verb,
	}
}

func matchAny(v string) string {
	if v == "" {
		return "*"
	}
	return v
}

func evaluate(ctx context.Context, a authorizer.Authorizer, attrs authorizer.AttributesRecord) authorizationv1.SubjectAccessReviewStatus {
	decision, reason, err := a.Authorize(ctx, attrs)
	status := authorizationv1.SubjectAccessReviewStatus{
		Allowed: decision == authorizer.DecisionAllow,
		Denied:  decision == authorizer.DecisionDeny,
		Reason:  strings.TrimSpace(reason),
	}
	if err != nil {
		status.EvaluationError = err.Error()
	}
	return status
}

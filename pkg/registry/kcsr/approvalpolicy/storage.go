// Package approvalpolicy is the REST storage of kcsr.dev/v1alpha1 ApprovalPolicy. A policy
// is compiled when it is created or updated; one that does not compile is refused with
// every CEL error and its position, so a broken policy never reaches the approver.
package approvalpolicy

import (
	"context"
	"errors"
	"fmt"
	"strings"

	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/storage/names"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/policy"
	"kcsr.dev/kcsr/pkg/registry"
	"kcsr.dev/kcsr/pkg/registry/table"
)

type strategy struct{ registry.Strategy }

func (strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return validate(obj.(*kcsrv1alpha1.ApprovalPolicy))
}

func (strategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	n, o := obj.(*kcsrv1alpha1.ApprovalPolicy), old.(*kcsrv1alpha1.ApprovalPolicy)
	return append(validate(n), apivalidation.ValidateObjectMetaUpdate(&n.ObjectMeta, &o.ObjectMeta, field.NewPath("metadata"))...)
}

func validate(p *kcsrv1alpha1.ApprovalPolicy) field.ErrorList {
	errs := apivalidation.ValidateObjectMeta(&p.ObjectMeta, false, apivalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	_, err := policy.Compile(p.Name, p.Spec)
	var ce *policy.CompileError
	switch {
	case err == nil:
	case errors.As(err, &ce):
		for _, fe := range ce.Errors {
			detail := fe.Detail
			if fe.Rule != "" {
				detail = fmt.Sprintf("rule %q: %s", fe.Rule, detail)
			}
			errs = append(errs, field.Invalid(field.NewPath("spec").Child(fe.Field), "", detail))
		}
	default:
		errs = append(errs, field.InternalError(field.NewPath("spec"), err))
	}
	return errs
}

// REST is the ApprovalPolicy storage.
type REST struct{ *genericregistry.Store }

// ShortNames lets `kubectl get ap` work.
func (*REST) ShortNames() []string { return []string{"ap"} }

// Categories puts policies in `kubectl get kcsr`.
func (*REST) Categories() []string { return []string{"kcsr"} }

// NewStorage returns the storage.
func NewStorage(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter) (*REST, error) {
	s := strategy{registry.Strategy{ObjectTyper: scheme, NameGenerator: names.SimpleNameGenerator, UnconditionalUpdate: true}}
	store, err := registry.NewStore(optsGetter, registry.StoreSpec{
		Resource: kcsrv1alpha1.Resource("approvalpolicies"),
		Singular: "approvalpolicy",
		New:      func() runtime.Object { return &kcsrv1alpha1.ApprovalPolicy{} },
		NewList:  func() runtime.Object { return &kcsrv1alpha1.ApprovalPolicyList{} },
		Strategy: s,
		Table: table.Convertor{
			Columns: []metav1.TableColumnDefinition{
				table.NameColumn,
				{Name: "Signers", Type: "string"},
				{Name: "Action", Type: "string"},
				{Name: "OnFailure", Type: "string"},
				{Name: "Rules", Type: "integer"},
			},
			Cells: func(obj runtime.Object) ([]any, error) {
				p := obj.(*kcsrv1alpha1.ApprovalPolicy)
				onFailure := string(p.Spec.OnFailure)
				if onFailure == "" {
					onFailure = string(kcsrv1alpha1.PolicyNoOpinion)
				}
				return []any{p.Name, strings.Join(p.Spec.SignerNames, ","), string(p.Spec.Action), onFailure, int64(len(p.Spec.Rules))}, nil
			},
		},
	})
	if err != nil {
		return nil, err
	}
	return &REST{store}, nil
}

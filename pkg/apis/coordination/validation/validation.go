// Package validation validates coordination.k8s.io/v1 Lease with kube-apiserver's rules
// and messages (pkg/apis/coordination/validation upstream), applied to the v1 type (kcsr has
// no internal types).
//
// Upstream checks only metadata and three spec fields: leaseDurationSeconds must be
// positive, leaseTransitions not negative, and strategy/preferredHolder (coordinated leader
// election) must name a known or a domain-qualified strategy, with preferredHolder only
// beside a strategy. holderIdentity, acquireTime and renewTime are free-form, as upstream.
//
// It owns field validation only: whether strategy and preferredHolder are kept at all
// (the CoordinatedLeaderElection feature gate) is the registry's decision.
package validation

import (
	"slices"
	"strings"

	coordinationv1 "k8s.io/api/coordination/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validLeaseStrategies are the Kubernetes-defined strategies: a strategy without a "/" must
// be one of them.
var validLeaseStrategies = []coordinationv1.CoordinatedLeaseStrategy{coordinationv1.OldestEmulationVersion}

// ValidateLease validates a Lease on create.
func ValidateLease(lease *coordinationv1.Lease) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMeta(&lease.ObjectMeta, true, apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	allErrs = append(allErrs, ValidateLeaseSpec(&lease.Spec, field.NewPath("spec"))...)
	return allErrs
}

// ValidateLeaseUpdate validates an update of old to lease. Every spec field may change.
func ValidateLeaseUpdate(lease, old *coordinationv1.Lease) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&lease.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, ValidateLeaseSpec(&lease.Spec, field.NewPath("spec"))...)
	return allErrs
}

// ValidateLeaseSpec validates a Lease's spec at fldPath.
func ValidateLeaseSpec(spec *coordinationv1.LeaseSpec, fldPath *field.Path) field.ErrorList {
	allErrs := field.ErrorList{}
	if spec.LeaseDurationSeconds != nil && *spec.LeaseDurationSeconds <= 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("leaseDurationSeconds"), spec.LeaseDurationSeconds, "must be greater than 0"))
	}
	if spec.LeaseTransitions != nil && *spec.LeaseTransitions < 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("leaseTransitions"), spec.LeaseTransitions, "must be greater than or equal to 0"))
	}
	if spec.Strategy != nil {
		allErrs = append(allErrs, ValidateCoordinatedLeaseStrategy(*spec.Strategy, fldPath.Child("strategy"))...)
	}
	if spec.PreferredHolder != nil && *spec.PreferredHolder != "" && (spec.Strategy == nil || *spec.Strategy == "") {
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("preferredHolder"), "may only be specified if `strategy` is defined"))
	}
	// acquireTime and renewTime are MicroTimes: nothing more to check.
	return allErrs
}

// ValidateCoordinatedLeaseStrategy validates a coordinated leader election strategy: a
// Kubernetes-defined name, or a qualified name with a domain prefix ("example.com/mine").
//
// Upstream appends "strategy" to a path that already ends in it, so errors read
// spec.strategy.strategy; kcsr keeps that path so that messages match kube-apiserver's.
func ValidateCoordinatedLeaseStrategy(strategy coordinationv1.CoordinatedLeaseStrategy, fldPath *field.Path) field.ErrorList {
	allErrs := field.ErrorList{}
	fld := fldPath.Child("strategy")
	if !strings.Contains(string(strategy), "/") {
		if !slices.Contains(validLeaseStrategies, strategy) {
			allErrs = append(allErrs, field.NotSupported(fld, strategy, validLeaseStrategies))
		}
		return allErrs
	}
	for _, msg := range utilvalidation.IsQualifiedName(string(strategy)) {
		allErrs = append(allErrs, field.Invalid(fld, strategy, msg))
	}
	return allErrs
}

// Package validation validates the rbac.authorization.k8s.io/v1 objects kcsr serves,
// ClusterRole and ClusterRoleBinding, with kube-apiserver's rules and messages
// (pkg/apis/rbac/validation upstream). kcsr has no internal RBAC types, so it validates
// the v1 types directly; callers apply the v1 defaults (roleRef.apiGroup and subject
// apiGroup) before validating, as upstream validates defaulted objects.
//
// It owns field validation only: escalation checks live in pkg/authz/rbac.
package validation

import (
	rbacv1 "k8s.io/api/rbac/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ClusterRoleValidationOptions tunes ValidateClusterRole for data already stored.
type ClusterRoleValidationOptions struct {
	// AllowInvalidLabelValueInSelector tolerates label values in aggregationRule
	// selectors that are no longer valid; set it on update when the stored object had one.
	AllowInvalidLabelValueInSelector bool
}

// ValidateRBACName validates the name of a role or binding, and a roleRef name: any path
// segment name (not "." or "..", no "/" or "%"), as upstream.
func ValidateRBACName(name string, _ bool) []string {
	return path.IsValidPathSegmentName(name)
}

// ValidateClusterRole validates a ClusterRole on create.
func ValidateClusterRole(role *rbacv1.ClusterRole) field.ErrorList {
	return ValidateClusterRoleWithOptions(role, ClusterRoleValidationOptions{})
}

// ValidateClusterRoleWithOptions validates a ClusterRole with opts.
func ValidateClusterRoleWithOptions(role *rbacv1.ClusterRole, opts ClusterRoleValidationOptions) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMeta(&role.ObjectMeta, false, ValidateRBACName, field.NewPath("metadata"))

	rulesPath := field.NewPath("rules")
	for i, rule := range role.Rules {
		allErrs = append(allErrs, ValidatePolicyRule(rule, false, rulesPath.Index(i))...)
	}

	if role.AggregationRule != nil {
		selectorsPath := field.NewPath("aggregationRule", "clusterRoleSelectors")
		if len(role.AggregationRule.ClusterRoleSelectors) == 0 {
			allErrs = append(allErrs, field.Required(selectorsPath, "at least one clusterRoleSelector required if aggregationRule is non-nil"))
		}
		selectorOpts := metav1validation.LabelSelectorValidationOptions{AllowInvalidLabelValueInSelector: opts.AllowInvalidLabelValueInSelector}
		for i := range role.AggregationRule.ClusterRoleSelectors {
			selector := &role.AggregationRule.ClusterRoleSelectors[i]
			allErrs = append(allErrs, metav1validation.ValidateLabelSelector(selector, selectorOpts, selectorsPath.Index(i))...)
			if _, err := metav1.LabelSelectorAsSelector(selector); err != nil {
				allErrs = append(allErrs, field.Invalid(selectorsPath.Index(i), selector, "invalid label selector."))
			}
		}
	}

	if len(allErrs) == 0 {
		return nil
	}
	return allErrs
}

// ValidateClusterRoleUpdate validates an update of old to role. Label values in
// aggregationRule selectors that were already invalid in old are tolerated.
func ValidateClusterRoleUpdate(role, old *rbacv1.ClusterRole) field.ErrorList {
	opts := ClusterRoleValidationOptions{AllowInvalidLabelValueInSelector: hasInvalidSelectorLabelValue(old)}
	allErrs := ValidateClusterRoleWithOptions(role, opts)
	allErrs = append(allErrs, apimachineryvalidation.ValidateObjectMetaUpdate(&role.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))...)
	return allErrs
}

// hasInvalidSelectorLabelValue reports whether role's aggregationRule holds a label value
// that strict validation rejects.
func hasInvalidSelectorLabelValue(role *rbacv1.ClusterRole) bool {
	if role.AggregationRule == nil {
		return false
	}
	for i := range role.AggregationRule.ClusterRoleSelectors {
		strict := metav1validation.LabelSelectorValidationOptions{}
		if len(metav1validation.ValidateLabelSelector(&role.AggregationRule.ClusterRoleSelectors[i], strict, nil)) > 0 {
			return true
		}
	}
	return false
}

// ValidatePolicyRule validates one rule: verbs are required; a rule grants either
// non-resource URLs or resources (with apiGroups and resources both required), never both;
// namespaced rules (isNamespaced) cannot name URLs.
func ValidatePolicyRule(rule rbacv1.PolicyRule, isNamespaced bool, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if len(rule.Verbs) == 0 {
		allErrs = append(allErrs, field.Required(fldPath.Child("verbs"), "verbs must contain at least one value"))
	}

	if len(rule.NonResourceURLs) > 0 {
		if isNamespaced {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("nonResourceURLs"), rule.NonResourceURLs, "namespaced rules cannot apply to non-resource URLs"))
		}
		if len(rule.APIGroups) > 0 || len(rule.Resources) > 0 || len(rule.ResourceNames) > 0 {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("nonResourceURLs"), rule.NonResourceURLs, "rules cannot apply to both regular resources and non-resource URLs"))
		}
		return allErrs
	}

	if len(rule.APIGroups) == 0 {
		allErrs = append(allErrs, field.Required(fldPath.Child("apiGroups"), "resource rules must supply at least one api group"))
	}
	if len(rule.Resources) == 0 {
		allErrs = append(allErrs, field.Required(fldPath.Child("resources"), "resource rules must supply at least one resource"))
	}
	return allErrs
}

// ValidateClusterRoleBinding validates a ClusterRoleBinding on create: roleRef must name a
// ClusterRole in rbac.authorization.k8s.io, and each subject must be well formed.
func ValidateClusterRoleBinding(binding *rbacv1.ClusterRoleBinding) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMeta(&binding.ObjectMeta, false, ValidateRBACName, field.NewPath("metadata"))

	roleRefPath := field.NewPath("roleRef")
	if binding.RoleRef.APIGroup != rbacv1.GroupName {
		allErrs = append(allErrs, field.NotSupported(roleRefPath.Child("apiGroup"), binding.RoleRef.APIGroup, []string{rbacv1.GroupName}))
	}
	if binding.RoleRef.Kind != "ClusterRole" {
		allErrs = append(allErrs, field.NotSupported(roleRefPath.Child("kind"), binding.RoleRef.Kind, []string{"ClusterRole"}))
	}
	if binding.RoleRef.Name == "" {
		allErrs = append(allErrs, field.Required(roleRefPath.Child("name"), ""))
	} else {
		for _, msg := range ValidateRBACName(binding.RoleRef.Name, false) {
			allErrs = append(allErrs, field.Invalid(roleRefPath.Child("name"), binding.RoleRef.Name, msg))
		}
	}

	subjectsPath := field.NewPath("subjects")
	for i, subject := range binding.Subjects {
		allErrs = append(allErrs, ValidateRoleBindingSubject(subject, false, subjectsPath.Index(i))...)
	}
	return allErrs
}

// ValidateClusterRoleBindingUpdate validates an update of old to binding; roleRef cannot
// change (delete and recreate the binding instead).
func ValidateClusterRoleBindingUpdate(binding, old *rbacv1.ClusterRoleBinding) field.ErrorList {
	allErrs := ValidateClusterRoleBinding(binding)
	allErrs = append(allErrs, apimachineryvalidation.ValidateObjectMetaUpdate(&binding.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))...)
	if old.RoleRef != binding.RoleRef {
		allErrs = append(allErrs, field.Invalid(field.NewPath("roleRef"), binding.RoleRef, "cannot change roleRef"))
	}
	return allErrs
}

// ValidateRoleBindingSubject validates one subject: a name is required; a ServiceAccount
// has a DNS-subdomain name, no apiGroup and (outside a namespace, isNamespaced false) a
// namespace; User and Group have apiGroup rbac.authorization.k8s.io.
func ValidateRoleBindingSubject(subject rbacv1.Subject, isNamespaced bool, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if subject.Name == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("name"), ""))
	}

	switch subject.Kind {
	case rbacv1.ServiceAccountKind:
		if subject.Name != "" {
			for _, msg := range apimachineryvalidation.ValidateServiceAccountName(subject.Name, false) {
				allErrs = append(allErrs, field.Invalid(fldPath.Child("name"), subject.Name, msg))
			}
		}
		if subject.APIGroup != "" {
			allErrs = append(allErrs, field.NotSupported(fldPath.Child("apiGroup"), subject.APIGroup, []string{""}))
		}
		if !isNamespaced && subject.Namespace == "" {
			allErrs = append(allErrs, field.Required(fldPath.Child("namespace"), ""))
		}
	case rbacv1.UserKind, rbacv1.GroupKind:
		if subject.APIGroup != rbacv1.GroupName {
			allErrs = append(allErrs, field.NotSupported(fldPath.Child("apiGroup"), subject.APIGroup, []string{rbacv1.GroupName}))
		}
	default:
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("kind"), subject.Kind, []string{rbacv1.ServiceAccountKind, rbacv1.UserKind, rbacv1.GroupKind}))
	}
	return allErrs
}

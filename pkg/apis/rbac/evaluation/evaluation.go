// Package evaluation matches RBAC policy rules against request attributes, with
// Kubernetes' semantics (pkg/apis/rbac/v1/evaluation_helpers.go upstream). The server's
// authorizer (pkg/authz/rbac) and kcsr doctor, which explains who may approve, share it.
package evaluation

import (
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apiserver/pkg/authorization/authorizer"
)

// RulesAllow reports whether any of rules allows the request described by attrs.
func RulesAllow(attrs authorizer.Attributes, rules ...rbacv1.PolicyRule) bool {
	for i := range rules {
		if RuleAllows(attrs, &rules[i]) {
			return true
		}
	}
	return false
}

// RuleAllows reports whether rule allows the request described by attrs, with
// Kubernetes RBAC semantics:
//   - verbs: exact, or "*";
//   - apiGroups: exact, or "*";
//   - resources: "*", the exact "resource" or "resource/subresource", or "*/subresource"
//     for any resource's subresource. "resource/*" is not a wildcard (as upstream): it
//     matches only a literal subresource "*";
//   - resourceNames: empty means every name; otherwise the request's name must be listed,
//     so a rule with resourceNames never matches a request without a name (list, watch,
//     create, deletecollection);
//   - nonResourceURLs: exact, "*", or a trailing "*" as a prefix match.
func RuleAllows(attrs authorizer.Attributes, rule *rbacv1.PolicyRule) bool {
	if !verbMatches(rule, attrs.GetVerb()) {
		return false
	}
	if !attrs.IsResourceRequest() {
		return nonResourceURLMatches(rule, attrs.GetPath())
	}
	resource := attrs.GetResource()
	subresource := attrs.GetSubresource()
	if subresource != "" {
		resource += "/" + subresource
	}
	return apiGroupMatches(rule, attrs.GetAPIGroup()) &&
		resourceMatches(rule, resource, subresource) &&
		resourceNameMatches(rule, attrs.GetName())
}

func verbMatches(rule *rbacv1.PolicyRule, verb string) bool {
	return slices.Contains(rule.Verbs, rbacv1.VerbAll) || slices.Contains(rule.Verbs, verb)
}

func apiGroupMatches(rule *rbacv1.PolicyRule, group string) bool {
	return slices.Contains(rule.APIGroups, rbacv1.APIGroupAll) || slices.Contains(rule.APIGroups, group)
}

// resourceMatches matches combined ("resource" or "resource/subresource") against the
// rule's resources; subresource is the request's subresource alone ("" if none).
func resourceMatches(rule *rbacv1.PolicyRule, combined, subresource string) bool {
	for _, r := range rule.Resources {
		switch {
		case r == rbacv1.ResourceAll, r == combined:
			return true
		case subresource != "" && r == "*/"+subresource:
			return true
		}
	}
	return false
}

func resourceNameMatches(rule *rbacv1.PolicyRule, name string) bool {
	return len(rule.ResourceNames) == 0 || slices.Contains(rule.ResourceNames, name)
}

func nonResourceURLMatches(rule *rbacv1.PolicyRule, path string) bool {
	for _, u := range rule.NonResourceURLs {
		switch {
		case u == rbacv1.NonResourceAll, u == path:
			return true
		case strings.HasSuffix(u, "*") && strings.HasPrefix(path, strings.TrimRight(u, "*")):
			return true
		}
	}
	return false
}

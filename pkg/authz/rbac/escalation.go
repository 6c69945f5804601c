package rbac

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/component-helpers/auth/rbac/validation"
	"k8s.io/klog/v2"
)

// PolicyRuleResolver returns every rule granted to a user; *Authorizer implements it. As
// with Authorizer.PolicyRulesFor, an error may come with a partial, still usable list.
type PolicyRuleResolver interface {
	PolicyRulesFor(ctx context.Context, u user.Info) ([]rbacv1.PolicyRule, error)
}

var (
	clusterRolesResource        = rbacv1.Resource("clusterroles")
	clusterRoleBindingsResource = rbacv1.Resource("clusterrolebindings")

	// fullAuthority is what a user must hold to write an aggregationRule, which can
	// gather any permission.
	fullAuthority = []rbacv1.PolicyRule{
		{Verbs: []string{rbacv1.VerbAll}, APIGroups: []string{rbacv1.APIGroupAll}, Resources: []string{rbacv1.ResourceAll}},
		{Verbs: []string{rbacv1.VerbAll}, NonResourceURLs: []string{rbacv1.NonResourceAll}},
	}
)

// ConfirmNoEscalation returns nil when u already holds every permission in rules (as
// judged by validation.Covers over the rules resolver grants u). Otherwise it returns an
// error in upstream's words, listing the missing permissions one per line:
//
//	user "alice" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:
//	{APIGroups:["certificates.k8s.io"], Resources:["signers"], ResourceNames:["example.com/x"], Verbs:["approve"]}
//
// Errors met while resolving u's rules are appended ("; resolution errors: ...") rather than
// failing the check, since the rules that were found still count. Callers wrap the result in
// a Forbidden error (see EscalationChecker).
func ConfirmNoEscalation(ctx context.Context, resolver PolicyRuleResolver, u user.Info, rules []rbacv1.PolicyRule) error {
	if u == nil {
		return errors.New("no user on context")
	}
	var resolutionErrs []error
	owned, err := resolver.PolicyRulesFor(ctx, u)
	if err != nil {
		klog.FromContext(ctx).V(1).Info("Non-fatal error getting rules", "user", u.GetName(), "err", err)
		resolutionErrs = append(resolutionErrs, err)
	}

	covered, missing := validation.Covers(owned, rules)
	if covered {
		return nil
	}
	var lines []string
	for _, r := range compactRules(missing) {
		lines = append(lines, compactString(r))
	}
	slices.Sort(lines)
	lines = slices.Compact(lines)
	msg := fmt.Sprintf("user %q (groups=%q) is attempting to grant RBAC permissions not currently held:\n%s",
		u.GetName(), u.GetGroups(), strings.Join(lines, "\n"))
	if len(resolutionErrs) > 0 {
		msg += fmt.Sprintf("; resolution errors: %v", resolutionErrs)
	}
	return errors.New(msg)
}

// EscalationAllowed reports whether u may write any RBAC object without further checks:
// members of system:masters (the superuser group the server uses for its own loopback
// client) always may. A nil user may not.
func EscalationAllowed(u user.Info) bool {
	return u != nil && slices.Contains(u.GetGroups(), user.SystemPrivilegedGroup)
}

// RoleEscalationAuthorized reports whether u holds the `escalate` verb on the ClusterRole
// being written, which lets u grant permissions u does not hold. name is the name from the
// request URL, as upstream uses it: empty on create, so a rule limited by resourceNames
// never authorizes creating a role. Authorizer errors count as "no" and are logged.
func RoleEscalationAuthorized(ctx context.Context, authz authorizer.Authorizer, u user.Info, name string) bool {
	if authz == nil || u == nil {
		return false
	}
	attrs := authorizer.AttributesRecord{
		User:            u,
		Verb:            "escalate",
		APIGroup:        rbacv1.GroupName,
		APIVersion:      "*",
		Resource:        "clusterroles",
		Name:            name,
		ResourceRequest: true,
	}
	decision, _, err := authz.Authorize(ctx, attrs)
	if err != nil {
		klog.FromContext(ctx).Error(err, "Error authorizing escalate on clusterroles", "user", u.GetName(), "name", name)
	}
	return decision == authorizer.DecisionAllow
}

// BindingAuthorized reports whether u holds the `bind` verb on the ClusterRole that roleRef
// names, which lets u bind it without holding its permissions. Only roleRef kind
// ClusterRole can be authorized. Authorizer errors count as "no" and are logged.
func BindingAuthorized(ctx context.Context, authz authorizer.Authorizer, u user.Info, roleRef rbacv1.RoleRef) bool {
	if authz == nil || u == nil || roleRef.Kind != "ClusterRole" {
		return false
	}
	attrs := authorizer.AttributesRecord{
		User:            u,
		Verb:            "bind",
		APIGroup:        roleRef.APIGroup,
		Resource:        "clusterroles",
		Name:            roleRef.Name,
		ResourceRequest: true,
	}
	decision, _, err := authz.Authorize(ctx, attrs)
	if err != nil {
		klog.FromContext(ctx).Error(err, "Error authorizing bind on clusterroles", "user", u.GetName(), "roleRef", roleRef.Name)
	}
	return decision == authorizer.DecisionAllow
}

// EscalationChecker applies Kubernetes' escalation rules to writes (create and update) of
// ClusterRoles and ClusterRoleBindings, as upstream's policybased storages do. The registry
// calls it with the request context, which carries the user and request info.
type EscalationChecker struct {
	authz    authorizer.Authorizer
	resolver PolicyRuleResolver
	roles    ClusterRoleGetter
}

// NewEscalationChecker returns a checker that asks authz (the server's whole authorizer
// chain) for `escalate` and `bind`, resolves the writer's own rules with resolver (the RBAC
// Authorizer) and reads referenced ClusterRoles from roles.
func NewEscalationChecker(authz authorizer.Authorizer, resolver PolicyRuleResolver, roles ClusterRoleGetter) *EscalationChecker {
	return &EscalationChecker{authz: authz, resolver: resolver, roles: roles}
}

// CheckClusterRole returns nil when the user in ctx may write role; old is the stored
// object on update and nil on create. The write is allowed when the user is in
// system:masters, holds `escalate` on the role, changes only the fields garbage collection
// changes (finalizers, ownerReferences), or already holds every permission the role grants.
// Setting or changing an aggregationRule also needs every permission (cluster-admin).
// Refusals are Forbidden errors on clusterroles.rbac.authorization.k8s.io.
func (c *EscalationChecker) CheckClusterRole(ctx context.Context, role, old *rbacv1.ClusterRole) error {
	u, _ := genericapirequest.UserFrom(ctx)
	if EscalationAllowed(u) || RoleEscalationAuthorized(ctx, c.authz, u, requestName(ctx)) {
		return nil
	}
	if old != nil && onlyGCFieldsChanged(role, old) {
		return nil
	}
	if err := ConfirmNoEscalation(ctx, c.resolver, u, role.Rules); err != nil {
		return apierrors.NewForbidden(clusterRolesResource, role.Name, err)
	}
	if hasAggregationRule(role) || (old != nil && hasAggregationRule(old)) {
		if err := ConfirmNoEscalation(ctx, c.resolver, u, fullAuthority); err != nil {
			return apierrors.NewForbidden(clusterRolesResource, role.Name,
				errors.New("must have cluster-admin privileges to use the aggregationRule"))
		}
	}
	return nil
}

// CheckClusterRoleBinding returns nil when the user in ctx may write binding; old is the
// stored object on update and nil on create. The write is allowed when the user is in
// system:masters, holds `bind` on the referenced ClusterRole, changes only the fields
// garbage collection changes, or already holds every permission that role grants. An
// error reading the role (such as NotFound) is returned as is; an escalation is a
// Forbidden error on clusterrolebindings.rbac.authorization.k8s.io.
func (c *EscalationChecker) CheckClusterRoleBinding(ctx context.Context, binding, old *rbacv1.ClusterRoleBinding) error {
	u, _ := genericapirequest.UserFrom(ctx)
	if EscalationAllowed(u) {
		return nil
	}
	if old != nil && onlyGCFieldsChanged(binding, old) {
		return nil
	}
	if BindingAuthorized(ctx, c.authz, u, binding.RoleRef) {
		return nil
	}
	rules, err := roleRefRules(ctx, c.roles, binding.RoleRef)
	if err != nil {
		return err
	}
	if err := ConfirmNoEscalation(ctx, c.resolver, u, rules); err != nil {
		return apierrors.NewForbidden(clusterRoleBindingsResource, binding.Name, err)
	}
	return nil
}

func hasAggregationRule(role *rbacv1.ClusterRole) bool {
	return role.AggregationRule != nil && len(role.AggregationRule.ClusterRoleSelectors) > 0
}

// onlyGCFieldsChanged reports whether obj differs from old only in the fields the garbage
// collector writes (ownerReferences, finalizers), so no escalation check is needed.
func onlyGCFieldsChanged[T interface {
	metav1.Object
	DeepCopyObject() runtime.Object
}](obj, old T) bool {
	copied, ok := obj.DeepCopyObject().(T)
	if !ok {
		return false
	}
	copied.SetOwnerReferences(old.GetOwnerReferences())
	copied.SetFinalizers(old.GetFinalizers())
	copied.SetSelfLink(old.GetSelfLink())
	return equality.Semantic.DeepEqual(copied, old)
}

func requestName(ctx context.Context) string {
	if info, ok := genericapirequest.RequestInfoFrom(ctx); ok && info.IsResourceRequest {
		return info.Name
	}
	return ""
}

// compactRules merges rules that name one API group, one resource and at most one resource
// name and differ only in verbs, which is the shape Covers reports missing rules in.
func compactRules(rules []rbacv1.PolicyRule) []rbacv1.PolicyRule {
	type key struct {
		group, resource, name string
		hasName               bool
	}
	var (
		out    []rbacv1.PolicyRule
		merged = map[key]int{} // index into out
	)
	for _, r := range rules {
		simple := len(r.NonResourceURLs) == 0 && len(r.APIGroups) == 1 && len(r.Resources) == 1 && len(r.ResourceNames) <= 1
		if !simple {
			out = append(out, r)
			continue
		}
		k := key{group: r.APIGroups[0], resource: r.Resources[0], hasName: len(r.ResourceNames) == 1}
		if k.hasName {
			k.name = r.ResourceNames[0]
		}
		if i, ok := merged[k]; ok {
			out[i].Verbs = append(out[i].Verbs, r.Verbs...)
			continue
		}
		merged[k] = len(out)
		out = append(out, *r.DeepCopy())
	}
	return out
}

// compactString words a rule the way upstream's escalation errors do:
// {APIGroups:["g"], Resources:["r"], NonResourceURLs:[...], ResourceNames:["n"], Verbs:["v"]}.
func compactString(r rbacv1.PolicyRule) string {
	var parts []string
	add := func(label string, values []string) {
		if len(values) > 0 {
			parts = append(parts, fmt.Sprintf("%s:%q", label, values))
		}
	}
	add("APIGroups", r.APIGroups)
	add("Resources", r.Resources)
	add("NonResourceURLs", r.NonResourceURLs)
	add("ResourceNames", r.ResourceNames)
	add("Verbs", r.Verbs)
	return "{" + strings.Join(parts, ", ") + "}"
}

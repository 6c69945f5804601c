package rbac

import (
	"context"
	"fmt"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/klog/v2"

	"kcsr.dev/kcsr/pkg/apis/rbac/evaluation"
)

// ClusterRoleGetter returns one ClusterRole by name. A missing role is reported with an
// error such as apierrors.NewNotFound (what client-go listers return).
type ClusterRoleGetter interface {
	GetClusterRole(ctx context.Context, name string) (*rbacv1.ClusterRole, error)
}

// ClusterRoleBindingLister returns every ClusterRoleBinding.
type ClusterRoleBindingLister interface {
	ListClusterRoleBindings(ctx context.Context) ([]*rbacv1.ClusterRoleBinding, error)
}

// Authorizer authorizes requests with the rules of the ClusterRoles bound to the requesting
// user by ClusterRoleBindings.
type Authorizer struct {
	roles    ClusterRoleGetter
	bindings ClusterRoleBindingLister
}

var (
	_ authorizer.Authorizer   = (*Authorizer)(nil)
	_ authorizer.RuleResolver = (*Authorizer)(nil)
	_ PolicyRuleResolver      = (*Authorizer)(nil)
)

// New returns an Authorizer that reads ClusterRoles from roles and ClusterRoleBindings from
// bindings on every decision (back them with informer caches).
func New(roles ClusterRoleGetter, bindings ClusterRoleBindingLister) *Authorizer {
	return &Authorizer{roles: roles, bindings: bindings}
}

// Authorize allows the request when a rule of a ClusterRole bound to the user matches it.
// Otherwise it has no opinion; the reason then lists any errors met while resolving the
// user's rules (e.g. `RBAC: clusterrole.rbac.authorization.k8s.io "x" not found`), and is
// empty when there were none. It never returns an error, as upstream.
func (a *Authorizer) Authorize(ctx context.Context, attrs authorizer.Attributes) (authorizer.Decision, string, error) {
	var (
		allowedBy string
		errs      []error
	)
	a.VisitRulesFor(ctx, attrs.GetUser(), func(source fmt.Stringer, rule *rbacv1.PolicyRule, err error) bool {
		if rule != nil && evaluation.RuleAllows(attrs, rule) {
			allowedBy = source.String()
			return false
		}
		if err != nil {
			errs = append(errs, err)
		}
		return true
	})
	if allowedBy != "" {
		return authorizer.DecisionAllow, "RBAC: allowed by " + allowedBy, nil
	}

	if logger := klog.FromContext(ctx).V(5); logger.Enabled() {
		u := attrs.GetUser()
		var name string
		var groups []string
		if u != nil {
			name, groups = u.GetName(), u.GetGroups()
		}
		logger.Info("RBAC: no rules authorize user", "user", name, "groups", groups,
			"operation", describeOperation(attrs), "namespace", attrs.GetNamespace())
	}

	reason := ""
	if len(errs) > 0 {
		reason = fmt.Sprintf("RBAC: %v", utilerrors.NewAggregate(errs))
	}
	return authorizer.DecisionNoOpinion, reason, nil
}

// ConditionsAwareAuthorize implements authorizer.Authorizer; RBAC decisions are never
// conditional.
func (a *Authorizer) ConditionsAwareAuthorize(ctx context.Context, attrs authorizer.Attributes) authorizer.ConditionsAwareDecision {
	return authorizer.ConditionsAwareDecisionFromParts(a.Authorize(ctx, attrs))
}

// EvaluateConditions implements authorizer.Authorizer; RBAC does not support conditions
// and fails closed.
func (a *Authorizer) EvaluateConditions(context.Context, authorizer.ConditionsAwareDecision, authorizer.ConditionsData) (authorizer.Decision, string, error) {
	return authorizer.DecisionDeny, "", authorizer.ErrorConditionEvaluationNotSupported
}

// RulesFor implements authorizer.RuleResolver (SelfSubjectRulesReview, `kubectl auth can-i
// --list`). The namespace does not matter: every rule kcsr knows is cluster-wide. The list
// is never marked incomplete; resolution errors are returned along with the rules found.
func (a *Authorizer) RulesFor(ctx context.Context, u user.Info, _ string) ([]authorizer.ResourceRuleInfo, []authorizer.NonResourceRuleInfo, bool, error) {
	var (
		resourceRules    []authorizer.ResourceRuleInfo
		nonResourceRules []authorizer.NonResourceRuleInfo
	)
	rules, err := a.PolicyRulesFor(ctx, u)
	for _, r := range rules {
		if len(r.Resources) > 0 {
			resourceRules = append(resourceRules, &authorizer.DefaultResourceRuleInfo{
				Verbs:         r.Verbs,
				APIGroups:     r.APIGroups,
				Resources:     r.Resources,
				ResourceNames: r.ResourceNames,
			})
		}
		if len(r.NonResourceURLs) > 0 {
			nonResourceRules = append(nonResourceRules, &authorizer.DefaultNonResourceRuleInfo{
				Verbs:           r.Verbs,
				NonResourceURLs: r.NonResourceURLs,
			})
		}
	}
	return resourceRules, nonResourceRules, false, err
}

// PolicyRulesFor returns every rule granted to u. If some bindings could not be resolved
// the error says which, and the rules that could be resolved are still returned: rules
// only ever add permissions, so a partial list is safe to decide on.
func (a *Authorizer) PolicyRulesFor(ctx context.Context, u user.Info) ([]rbacv1.PolicyRule, error) {
	var (
		rules []rbacv1.PolicyRule
		errs  []error
	)
	a.VisitRulesFor(ctx, u, func(_ fmt.Stringer, rule *rbacv1.PolicyRule, err error) bool {
		if rule != nil {
			rules = append(rules, *rule)
		}
		if err != nil {
			errs = append(errs, err)
		}
		return true
	})
	return rules, utilerrors.NewAggregate(errs)
}

// VisitRulesFor calls visit with each rule that applies to u, together with the binding
// that grants it (its String() names the binding, role and subject), and with each error met
// while resolving rules (rule and source are then nil). Visiting stops when visit returns
// false.
func (a *Authorizer) VisitRulesFor(ctx context.Context, u user.Info, visit func(source fmt.Stringer, rule *rbacv1.PolicyRule, err error) bool) {
	if u == nil {
		return
	}
	bindings, err := a.bindings.ListClusterRoleBindings(ctx)
	if err != nil {
		visit(nil, nil, err)
		return
	}
	for _, b := range bindings {
		i, ok := subjectIndex(u, b.Subjects)
		if !ok {
			continue
		}
		rules, err := roleRefRules(ctx, a.roles, b.RoleRef)
		if err != nil {
			if !visit(nil, nil, err) {
				return
			}
			continue
		}
		source := bindingSource{binding: b, subject: &b.Subjects[i]}
		for j := range rules {
			if !visit(source, &rules[j], nil) {
				return
			}
		}
	}
}

// roleRefRules resolves the rules a binding's roleRef grants. Only ClusterRoles exist in
// kcsr.
func roleRefRules(ctx context.Context, roles ClusterRoleGetter, ref rbacv1.RoleRef) ([]rbacv1.PolicyRule, error) {
	if ref.Kind != "ClusterRole" {
		return nil, fmt.Errorf("unsupported role reference kind: %q", ref.Kind)
	}
	role, err := roles.GetClusterRole(ctx, ref.Name)
	if err != nil {
		return nil, err
	}
	return role.Rules, nil
}

// subjectIndex returns the index of the first subject that is u.
func subjectIndex(u user.Info, subjects []rbacv1.Subject) (int, bool) {
	for i := range subjects {
		if appliesTo(u, &subjects[i]) {
			return i, true
		}
	}
	return 0, false
}

func appliesTo(u user.Info, s *rbacv1.Subject) bool {
	switch s.Kind {
	case rbacv1.UserKind:
		return u.GetName() == s.Name
	case rbacv1.GroupKind:
		return slices.Contains(u.GetGroups(), s.Name)
	case rbacv1.ServiceAccountKind:
		// A ClusterRoleBinding has no namespace to default from: an unqualified
		// ServiceAccount subject matches nobody.
		if s.Namespace == "" {
			return false
		}
		return serviceaccount.MatchesUsername(s.Namespace, s.Name, u.GetName())
	default:
		return false
	}
}

// bindingSource describes the binding and subject a rule came from, as upstream words it:
// ClusterRoleBinding "b" of ClusterRole "r" to Group "g".
type bindingSource struct {
	binding *rbacv1.ClusterRoleBinding
	subject *rbacv1.Subject
}

func (s bindingSource) String() string {
	subject := fmt.Sprintf("%s %q", s.subject.Kind, s.subject.Name)
	if s.subject.Kind == rbacv1.ServiceAccountKind {
		subject = fmt.Sprintf("%s %q", s.subject.Kind, s.subject.Name+"/"+s.subject.Namespace)
	}
	return fmt.Sprintf("ClusterRoleBinding %q of %s %q to %s",
		s.binding.Name, s.binding.RoleRef.Kind, s.binding.RoleRef.Name, subject)
}

// describeOperation words a request for the denial log, as upstream does.
func describeOperation(attrs authorizer.Attributes) string {
	if !attrs.IsResourceRequest() {
		return fmt.Sprintf("%q nonResourceURL %q", attrs.GetVerb(), attrs.GetPath())
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%q resource \"%s", attrs.GetVerb(), attrs.GetResource())
	if g := attrs.GetAPIGroup(); g != "" {
		b.WriteString("." + g)
	}
	if sub := attrs.GetSubresource(); sub != "" {
		b.WriteString("/" + sub)
	}
	b.WriteString(`"`)
	if n := attrs.GetName(); n != "" {
		fmt.Fprintf(&b, " named %q", n)
	}
	return b.String()
}

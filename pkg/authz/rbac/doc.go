// Package rbac is kcsr's RBAC authorizer: Kubernetes role-based access control over
// ClusterRoles and ClusterRoleBindings, with the rule-matching semantics of
// kube-apiserver's RBAC authorizer (plugin/pkg/auth/authorizer/rbac upstream).
//
// It owns three things:
//   - Authorizer: an authorizer.Authorizer and authorizer.RuleResolver that resolves the
//     ClusterRoleBindings applying to a user and allows a request when one rule of a bound
//     ClusterRole matches it;
//   - rule matching: pkg/apis/rbac/evaluation;
//   - escalation prevention for writes to ClusterRoles and ClusterRoleBindings
//     (ConfirmNoEscalation, EscalationAllowed, RoleEscalationAuthorized,
//     BindingAuthorized and the EscalationChecker that combines them as the upstream
//     "policybased" storage does).
//
// kcsr serves only cluster-scoped RBAC objects: there are no Roles or RoleBindings, and
// ClusterRoleBindings apply in every namespace. Aggregated ClusterRoles (aggregationRule)
// are not expanded: only a ClusterRole's own rules count.
//
// The package must not touch storage or HTTP: it reads RBAC objects through the small
// ClusterRoleGetter and ClusterRoleBindingLister interfaces (backed by client-go listers in
// the server, see NewListerGetters). The superuser group system:masters is authorized by
// the server's privileged-groups authorizer, not here; only the escalation checks know
// about it, as upstream's do.
package rbac

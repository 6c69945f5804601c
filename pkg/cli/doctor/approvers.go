package doctor

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"

	"kcsr.dev/kcsr/pkg/apis/rbac/evaluation"
	"kcsr.dev/kcsr/pkg/cli"
)

// Approver is a subject that RBAC lets approve a signer's CSRs.
type Approver struct {
	// Subject is "user alice", "group csr-approvers" or "serviceaccount ns/name".
	Subject string
	// Bindings are the ClusterRoleBindings that grant approve on the signer.
	Bindings []string
	// UpdateApproval: the subject may also update certificatesigningrequests/approval,
	// which approving needs as well.
	UpdateApproval bool
}

// Approvers is who may approve a signer's CSRs, from the cluster's RBAC objects.
type Approvers struct {
	// Approvers are the subjects, system:masters excepted, sorted.
	Approvers []Approver
	// UnboundRoles are the ClusterRoles about signers (not wildcard roles such as
	// cluster-admin) that grant approve on the signer but are bound to nobody except
	// system:masters.
	UnboundRoles []string
}

// FindApprovers works out who may approve CSRs of signerName: the subjects of the
// ClusterRoleBindings whose ClusterRole grants `approve` on signers/<signerName> (or
// signers/<domain>/*), as the CertificateApproval admission plugin asks. A
// SubjectAccessReview cannot answer "who", so the bindings are read. Members of
// system:masters may always approve and are left out.
func FindApprovers(signerName string, roles []rbacv1.ClusterRole, bindings []rbacv1.ClusterRoleBinding) Approvers {
	domain, _, _ := strings.Cut(signerName, "/")
	approve := func(name string) authorizer.Attributes {
		return authorizer.AttributesRecord{Verb: "approve", APIGroup: "certificates.k8s.io", APIVersion: "*", Resource: "signers", Name: name, ResourceRequest: true}
	}
	updateApproval := authorizer.AttributesRecord{Verb: "update", APIGroup: "certificates.k8s.io", APIVersion: "v1", Resource: "certificatesigningrequests", Subresource: "approval", ResourceRequest: true}

	grantsApprove := map[string]bool{}
	grantsUpdate := map[string]bool{}
	for _, r := range roles {
		grantsApprove[r.Name] = evaluation.RulesAllow(approve(signerName), r.Rules...) || evaluation.RulesAllow(approve(domain+"/*"), r.Rules...)
		grantsUpdate[r.Name] = evaluation.RulesAllow(updateApproval, r.Rules...)
	}

	type grants struct {
		approveVia []string
		update     bool
	}
	bySubject := map[string]*grants{}
	boundToSomeone := map[string]bool{}
	for _, b := range bindings {
		if b.RoleRef.Kind != "ClusterRole" {
			continue
		}
		for _, s := range b.Subjects {
			if s.Kind == rbacv1.GroupKind && s.Name == user.SystemPrivilegedGroup {
				continue
			}
			name := subjectName(s)
			g := bySubject[name]
			if g == nil {
				g = &grants{}
				bySubject[name] = g
			}
			if grantsApprove[b.RoleRef.Name] {
				g.approveVia = append(g.approveVia, b.Name)
				boundToSomeone[b.RoleRef.Name] = true
			}
			g.update = g.update || grantsUpdate[b.RoleRef.Name]
		}
	}

	var out Approvers
	for name, g := range bySubject {
		if len(g.approveVia) > 0 {
			out.Approvers = append(out.Approvers, Approver{Subject: name, Bindings: g.approveVia, UpdateApproval: g.update})
		}
	}
	sort.Slice(out.Approvers, func(i, j int) bool { return out.Approvers[i].Subject < out.Approvers[j].Subject })
	for _, r := range roles {
		if grantsApprove[r.Name] && !boundToSomeone[r.Name] && namesSigners(r) {
			out.UnboundRoles = append(out.UnboundRoles, r.Name)
		}
	}
	slices.Sort(out.UnboundRoles)
	return out
}

// namesSigners reports whether a role is about signers, rather than a wildcard role such
// as cluster-admin.
func namesSigners(r rbacv1.ClusterRole) bool {
	return slices.ContainsFunc(r.Rules, func(rule rbacv1.PolicyRule) bool { return slices.Contains(rule.Resources, "signers") })
}

func subjectName(s rbacv1.Subject) string {
	switch s.Kind {
	case rbacv1.ServiceAccountKind:
		return "serviceaccount " + s.Namespace + "/" + s.Name
	case rbacv1.GroupKind:
		return "group " + s.Name
	default:
		return "user " + s.Name
	}
}

// CheckApprovers turns FindApprovers' answer into a finding. err is the error of listing
// the RBAC objects, if any.
func CheckApprovers(csrName, signerName string, a Approvers, err error) Finding {
	const subject = "approvers"
	if err != nil {
		return warning(subject, fmt.Sprintf("cannot tell who may approve signer %q (%v)", signerName, err),
			"run "+cli.Self+" doctor as a cluster administrator to see")
	}
	var full, partial []string
	for _, ap := range a.Approvers {
		s := fmt.Sprintf("%s (ClusterRoleBinding %s)", ap.Subject, strings.Join(ap.Bindings, ", "))
		if ap.UpdateApproval {
			full = append(full, s)
		} else {
			partial = append(partial, s)
		}
	}
	if len(full) > 0 {
		cause := fmt.Sprintf("%s may approve CSRs of signer %q", strings.Join(full, ", "), signerName)
		if len(partial) > 0 {
			cause += fmt.Sprintf("; %s also %s approve on the signer but not update on certificatesigningrequests/approval", strings.Join(partial, ", "), holds(partial))
		}
		return ok(subject, cause)
	}
	cause := fmt.Sprintf("nobody but system:masters can approve CSRs of signer %q", signerName)
	switch {
	case len(partial) > 0:
		cause += fmt.Sprintf(": %s %s approve on the signer but not update on certificatesigningrequests/approval, which approving also needs", strings.Join(partial, ", "), holds(partial))
	case len(a.UnboundRoles) > 0:
		roles := "ClusterRole " + a.UnboundRoles[0] + " grants"
		if len(a.UnboundRoles) > 1 {
			roles = "ClusterRoles " + strings.Join(a.UnboundRoles, ", ") + " grant"
		}
		cause += fmt.Sprintf(": %s approve on it, but no ClusterRoleBinding gives it to anyone else", roles)
	default:
		cause += ": no ClusterRole grants approve on it"
	}
	return problem(subject, cause, fmt.Sprintf(
		"a cluster administrator approves it ("+cli.Self+" approve %s), or binds the approvers to a ClusterRole with approve on signers %q and update on certificatesigningrequests/approval (kubectl create clusterrolebinding NAME --clusterrole=ROLE --group=GROUP)", csrName, signerName))
}

func holds(subjects []string) string {
	if len(subjects) == 1 {
		return "holds"
	}
	return "hold"
}

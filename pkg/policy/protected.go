package policy

import (
	"slices"

	"k8s.io/apiserver/pkg/authentication/user"
)

// IsProtected reports whether group is protected: system:masters, or one of
// ProtectedGroups. Certificates for a protected group are left to a person.
func (g GuardRails) IsProtected(group string) bool {
	return group == user.SystemPrivilegedGroup || slices.Contains(g.ProtectedGroups, group)
}

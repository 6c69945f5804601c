package policy

import "slices"

// IsProtected reports whether group is protected: system:masters, or one of
// ProtectedGroups. Certificates for a protected group are left to a person.
func (g GuardRails) IsProtected(group string) bool {
	return group == SystemMastersGroup || slices.Contains(g.ProtectedGroups, group)
}

package framework

import "fmt"

// CSRRequesterRole is the manifest of a ClusterRole name that lets its subject read and
// create CSRs and write their approval subresource, but approve for no signer (the
// admission check still refuses), bound to user as name-user.
func CSRRequesterRole(name, user string) string {
	return fmt.Sprintf(`apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: %[1]s
rules:
- apiGroups: ["certificates.k8s.io"]
  resources: ["certificatesigningrequests"]
  verbs: ["get", "list", "create"]
- apiGroups: ["certificates.k8s.io"]
  resources: ["certificatesigningrequests/approval"]
  verbs: ["update"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: %[1]s-%[2]s
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: %[1]s
subjects:
- apiGroup: rbac.authorization.k8s.io
  kind: User
  name: %[2]s
`, name, user)
}

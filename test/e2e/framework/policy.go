package framework

import "fmt"

// ApprovalPolicy is the manifest of an ApprovalPolicy name whose action (Approve or Deny)
// applies to every request of signer whose subject CN is cn ("" for every request).
func ApprovalPolicy(name, signer, action, cn string) string {
	match := ""
	if cn != "" {
		match = fmt.Sprintf("  match: request.subject.commonName == %q\n", cn)
	}
	return fmt.Sprintf(`apiVersion: kcsr.dev/v1alpha1
kind: ApprovalPolicy
metadata:
  name: %s
spec:
  signerNames: [%q]
%s  rules:
  - name: any
    expression: "true"
  action: %s
`, name, signer, match, action)
}

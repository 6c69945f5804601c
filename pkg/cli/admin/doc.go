// Package admin is the administrator half of the kcsr CLI: `kcsr get`, `kcsr describe`,
// `kcsr approve` and `kcsr deny`. They show CSRs decoded (subject, SANs, key, the
// requester, the approver's verdict, the issued certificate and its inventory record),
// and write decisions through the /approval subresource with kubectl's semantics,
// refusing to approve a system:masters certificate unless forced.
//
// It talks to any Kubernetes-compatible API through client-go; what only a kcsr server
// has (the IssuedCertificate inventory, the approval verdict annotation) is shown when
// present. It never changes anything but the Approved and Denied conditions.
package admin

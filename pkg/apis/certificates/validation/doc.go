// Package validation holds Kubernetes' validation rules for certificates.k8s.io/v1
// CertificateSigningRequest, applied to the v1 types (kcsr has no internal types).
//
// It mirrors kube-apiserver's pkg/apis/certificates/validation: the same checks in the same
// order, with the same field paths and error texts, and the same tolerance for problems that
// the stored object already had. One rule is kcsr's own (docs/compatibility.md): a new
// spec.request must be exactly one CERTIFICATE REQUEST block, and a refused value is not
// echoed unless it is a well-formed request, since it may hold a private key. There is one
// entry point per write path, because what may
// change depends on it:
//   - ValidateCertificateSigningRequestCreate: create;
//   - ValidateCertificateSigningRequestUpdate: the main resource (no Approved/Denied changes,
//     no certificate);
//   - ValidateCertificateSigningRequestStatusUpdate: /status (the certificate may be set once);
//   - ValidateCertificateSigningRequestApprovalUpdate: /approval (Approved/Denied may be added).
//
// Every update re-runs the create checks on the new object. The package decides only what
// is valid: it must not mutate objects (the registry strategies restore spec and status and
// fill in condition timestamps before calling it) and must not touch storage or
// authorization. Request decoding is pkg/csr's.
package validation

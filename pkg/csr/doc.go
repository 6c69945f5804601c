// Package csr decodes and checks PKCS#10 certificate signing requests and the constraints
// that the built-in kubernetes.io signers put on them.
//
// It owns four things, each with the semantics of the Kubernetes code it mirrors:
//   - ParseRequest: the decoding of spec.request (pkg/apis/certificates ParseCSR upstream,
//     plus the proof-of-possession signature check that API validation adds), and
//     ParseStrictRequest, kcsr's stricter rule for a request about to be stored: exactly
//     one CERTIFICATE REQUEST block, so that a private key sent along is refused, never
//     stored (HoldsPrivateKey recognizes keys in every shape people send them);
//   - KeyUsages: the mapping of spec.usages to x509 key usages and extended key usages
//     (the in-tree signer's policies.go upstream);
//   - the built-in signer names and their constraints (ValidateKubeAPIServerClient,
//     ValidateKubeletClient, ValidateKubeletServing), whose error texts are the exact
//     texts kube-controller-manager writes into a Failed condition;
//   - the state of a CertificateSigningRequest read from its conditions (StateOf,
//     IsApproved, IsDenied, IsFailed, IsIssued, IsPending, ConditionString: kubectl's
//     CONDITION column and upstream's certificates helpers), and SetCondition, the one way
//     kcsr adds or replaces a condition.
//
// The package must not touch the Kubernetes API machinery, storage or the network: it
// imports the API types only (k8s.io/api/certificates/v1, and metav1 for condition times),
// so that API validation, the approver, the signer and the CLI can all share it.
package csr

// Package doctor is `kcsr doctor`: it names the cause and the fix of what keeps a CSR, a
// certificate or a kubeconfig from working, one finding per line, and exits non-zero when
// it finds a problem so that scripts can use it.
//
// The checks are small functions over plain inputs (a manifest's bytes, a parsed request,
// a certificate and a time, the result of a TLS handshake, lists of RBAC objects) that
// return findings; each is unit-tested with its exact findings. Kubernetes API access,
// files and the network stay at the edges, in doctor.go, which gathers those inputs and
// prints the findings. docs/doctor.md lists every finding with its fix, and the exit codes.
//
// The package only reads: it never creates, approves or changes anything, and never prints
// key material (a private key found where a request belongs is named, not shown).
package doctor

// Package testkit is the one kit kcsr's tests build on: throw-away PKI (keys of each
// supported type, CAs, intermediates and leaves, PEM encodings, an in-memory ca.Backend
// and the Close contract every backend keeps), PKCS#10 requests and CertificateSigningRequest
// objects built from options, join tokens, CSR admission requests and a signer-verb
// authorizer, error assertions, metric samples, and the fixture a CSR controller runs in
// under unit test (fake clientsets, a shared informer, a fake clock and an event recorder
// whose events tests compare).
//
// Everything is generated per test; no key is ever committed. It is imported by tests
// only (test/e2e/framework included), and imports no kcsr package a test of which could
// import it back: only pkg/ca (the backend contract), the kcsr.dev API types and their
// generated fake clientset.
package testkit

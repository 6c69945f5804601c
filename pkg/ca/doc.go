// Package ca is the contract between kcsr's signers and the keys of its certificate
// authorities.
//
// A Backend is one CA: a private key, wherever it lives, with its certificate chain. Keys
// live in backends: pkg/ca/file holds a PEM key file in memory, pkg/ca/pkcs11 keeps the key
// inside an HSM and only ever hands out a crypto.Signer bound to it. Nothing outside pkg/ca
// and its subpackages reads, parses, copies or logs CA key material; everything else signs
// through Backend.Signer and learns the CA certificate through Backend.Chain.
//
// Check validates a freshly loaded CA (the key matches the certificate and can sign, the
// certificate is a CA allowed to sign certificates, the chain is in issuer order and within
// its validity) and returns errors that say what to change. Backends read their PEM
// certificate and key files with pkg/pemutil (ParseCertificates, ParseKey), in memory.
//
// The package has no cgo and no Kubernetes machinery: it may be imported by the API
// server, the controllers and the CLI alike.
package ca

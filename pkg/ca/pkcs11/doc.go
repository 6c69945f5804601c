// Package pkcs11 is the CA backend whose key lives in an HSM and is used through PKCS#11
// (github.com/ThalesGroup/crypto11 over the vendor's module). The key never leaves the
// token: Backend.Signer returns a crypto.Signer whose Sign is a C_Sign on the token.
//
// The key is addressed by an RFC 7512 URI, parsed by ParseURI:
//
//	pkcs11:token=kcsr;object=ca;id=%01?pin-source=file:/etc/kcsr/hsm.pin&module-path=/usr/lib/softhsm/libsofthsm2.so
//
// The token is selected by exactly one of token= (its label), serial= or slot-id=; the key
// by object= (its CKA_LABEL), id= (its CKA_ID, percent-encoded bytes) or both. The PIN comes
// from the pin-source file (mode 0600 or stricter) or, without pin-source, from the
// KCSR_PKCS11_PIN environment variable; never from a flag, a configuration file or the
// URI's pin-value, which is refused. The CA certificate comes from Config.CertFile (PEM,
// optionally followed by its issuers) or, without it, from the certificate object on the
// token with the key's id and label.
//
// The backend needs cgo: a build without cgo compiles a stub whose New says so.
package pkcs11

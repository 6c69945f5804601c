// Package inventory is the one home of what kcsr knows about the IssuedCertificate
// inventory beyond its API types: how a record is built from a certificate (NewRecord for
// a CSR's, NewPKIRecord for the server's own), the informer indexes over it (by serial for
// OCSP, by fingerprint for revocation at login), and the one revocation check both the
// authenticator of kcsr server and the authorization webhook of kcsr controller use
// (Checker: it fails closed until the inventory is loaded).
package inventory

// Package inventory is the one home of what kcsr knows about the IssuedCertificate
// inventory beyond its API types: how a record is built from a certificate (NewRecord for
// a CSR's, NewPKIRecord for the server's own), and the Index every reader of the
// inventory at run time shares: the revocation check at login (kcsr server's
// authenticator, kcsr controller's authorization webhook; it fails closed until the
// inventory is loaded), the CRLs, OCSP, the inventory metrics and the inventory cleaner.
// The Index holds a small Record per certificate, never the objects: a fleet CA's
// inventory reaches a million records.
package inventory

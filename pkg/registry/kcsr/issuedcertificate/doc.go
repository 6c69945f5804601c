// Package issuedcertificate is the REST storage of kcsr.dev/v1alpha1 IssuedCertificate, the
// inventory of issued certificates. Records are created by the signers and by the server's
// PKI at start, never changed in spec (what was issued is history), and carry their later
// life (revocation) in status. It owns the rules of the record itself, which hold whoever
// asks, system:masters included:
//
//   - at create, every field the certificate determines (serial, fingerprint, issuer,
//     subject, names, key algorithm, validity) must agree with spec.certificate, which must be
//     exactly one CERTIFICATE block (nothing else, no private key, is stored with it);
//   - the spec never changes, and status.revocation, once set, only changes from
//     certificateHold (lifted, or made final);
//   - a record cannot be deleted, alone or in a deletecollection, before its certificate
//     expires (spec.notAfter), revoked or not.
//
// Why deletion is refused here and not in an admission plugin: the login check, the CRL
// and OCSP all read the inventory, so deleting a revoked record un-revokes its certificate,
// and deleting a live one makes it impossible to revoke. That is an invariant of the data,
// like the immutable spec and the final revocation next to it, not a question of who may do
// what; pkg/admission/revocation keeps that question (the verb "revoke"). Here it cannot
// be left out of, or reordered in, an admission chain, and it is checked by the store inside
// the deletion itself, on the object as stored at that moment (the delete is conditional on
// its resourceVersion), so a revocation racing a delete cannot slip between check and
// delete. A deletecollection deletes record by record through the same check and stops at
// the first record it refuses.
//
// The refusal is 403 Forbidden naming the record, its certificate's serial, the
// revocation if any, and the time after which it can be deleted. After notAfter a record
// can be deleted: the certificate no longer authenticates, and CRLs drop expired entries
// anyway (RFC 5280 §3.3).
package issuedcertificate

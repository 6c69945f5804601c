// Package revocation builds the standard revocation artefacts of one signing CA: CRLs
// (RFC 5280) and OCSP responses (RFC 6960), from a set of revoked certificates kept in
// memory.
//
// It owns:
//   - Reason, the RFC 5280 CRLReason codes, with the names the CLI and the API use;
//   - Set, the revoked certificates of one CA held in memory and safe for concurrent use;
//   - Authority, which signs CRLs and OCSP responses with a ca.Backend (or, for OCSP, a
//     delegated responder certificate and key);
//   - OCSPHandler and CRLHandler, the http.Handlers that serve them (OCSPHandler tells an
//     observer how it answered each request, for the caller's metrics).
//
// It must not touch storage or Kubernetes: callers (the revocation controller, kcsr
// server) load revocations from storage into a Set, keep it in step, keep the CRL number
// monotonic and durable, and decide when to regenerate the CRL. It does no HTTP routing
// beyond its handlers: mounting them under paths is the caller's job. It never reads the
// wall clock: every operation takes the time it works at.
//
// The CA key is only ever used through Backend.Signer; nothing here reads or logs key
// material.
package revocation

package v1alpha1

import certificatesv1 "k8s.io/api/certificates/v1"

// What kcsr adds to certificates.k8s.io/v1 CertificateSigningRequests: an annotation on a
// request left to a person, and a condition on an Approved request that cannot be issued.
// Clients (kcsr request, doctor, describe) read them; the approver and signer write them.
const (
	// VerdictAnnotation explains, on a CSR left Pending, what every approval policy said.
	VerdictAnnotation = "kcsr.dev/approval-verdict"

	// ConditionSignerUnavailable says why an Approved CSR is not issued.
	ConditionSignerUnavailable certificatesv1.RequestConditionType = "SignerUnavailable"
	// ReasonNoSigner: no signer serves the CSR's signerName.
	ReasonNoSigner = "NoSignerConfigured"
	// ReasonCAUnavailable: the signer's CA cannot sign (expired, not yet valid, missing).
	ReasonCAUnavailable = "CAUnavailable"
)

// What a process that signs (kcsr server, kcsr controller) says of itself, so that an
// approver can tell a signerName nobody serves before approving (kcsr approve, kcsr
// doctor): a Lease in SignersAnnouncementNamespace, labelled SignersAnnouncementLabel,
// whose SignersAnnotation lists the signer names it serves (comma-separated), renewed
// while the process runs and deleted when it stops.
const (
	SignersAnnouncementNamespace = "kube-system"
	SignersAnnouncementLabel     = "kcsr.dev/signers-announcement"
	SignersAnnotation            = "kcsr.dev/signers"
)

// What kcsr says on the inventory record of a certificate an upstream CA issued
// (package upstream): UpstreamAnnotation names the upstream, and once the certificate is
// revoked, UpstreamRevocationAnnotation gives the upstream's answer to kcsr's revocation
// ("revoked at …", or why not yet: it is retried). Informational: the login check is
// kcsr's own, from the record's status.
const (
	UpstreamAnnotation           = "kcsr.dev/upstream"
	UpstreamRevocationAnnotation = "kcsr.dev/upstream-revocation"
)

package v1alpha1

import (
	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +genclient
// +genclient:nonNamespaced
// +genclient:onlyVerbs=create,get,list,watch,delete,update,updateStatus
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// IssuedCertificate records one certificate kcsr issued. A signer creates it before it
// hands the certificate out (no certificate without its record), it is named after the UID
// of the CSR it answers (so a retried issuance finds it instead of issuing twice), and it
// outlives that CSR.
//
// The certificates kcsr server's own PKI issues from the cluster CA without a CSR (the admin
// client certificate and the serving certificate) are recorded too, at every server start:
// signerName kcsr.dev/pki, requester system:kcsr:pki, csrName and csrUID empty (no CSR was
// answered), and the name pki-<role>-<sha256 fingerprint> (role "admin" or "serving"), so
// that every replica and every restart finds the one record of a certificate.
//
// Everything the certificate says (serial, fingerprint, issuer, subject, names, key,
// validity) must agree with spec.certificate, or the record is refused at create. The spec
// never changes; a revocation is final (but for certificateHold); and a record cannot be
// deleted before its certificate expires (spec.notAfter), revoked or not: the login check,
// the CRL and OCSP read the inventory, and a certificate without its record could neither
// be refused nor revoked.
type IssuedCertificate struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object's metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is what was issued, to whom, on whose request. It never changes.
	Spec IssuedCertificateSpec `json:"spec"`
	// Status is what happened to the certificate since: its revocation.
	// +optional
	Status IssuedCertificateStatus `json:"status,omitempty"`
}

// IssuedCertificateSpec is what was issued, to whom, on whose request. It never changes.
type IssuedCertificateSpec struct {
	// SerialNumber is the certificate's serial number in lower-case hex, without leading
	// zeros.
	SerialNumber string `json:"serialNumber"`
	// SHA256Fingerprint is the lower-case hex SHA-256 of the certificate's DER, the value
	// Kubernetes puts in the credential id X509SHA256=<fingerprint>.
	SHA256Fingerprint string `json:"sha256Fingerprint"`
	// SignerName is the signer that issued the certificate.
	SignerName string `json:"signerName"`
	// Issuer is the issuing CA's subject, in RFC 2253 form.
	Issuer string `json:"issuer"`

	// CommonName is the subject's CN: the user name the certificate logs in as.
	CommonName string `json:"commonName,omitempty"`
	// Organizations are the subject's O values: the groups the certificate logs in with.
	Organizations []string `json:"organizations,omitempty"`
	// OrganizationalUnits are the subject's OU values.
	OrganizationalUnits []string `json:"organizationalUnits,omitempty"`
	// DNSNames are the DNS subject alternative names.
	DNSNames []string `json:"dnsNames,omitempty"`
	// IPAddresses are the IP address subject alternative names, in text form.
	IPAddresses []string `json:"ipAddresses,omitempty"`
	// URIs are the URI subject alternative names (a SPIFFE ID, for instance).
	URIs []string `json:"uris,omitempty"`
	// EmailAddresses are the e-mail subject alternative names.
	EmailAddresses []string `json:"emailAddresses,omitempty"`
	// Usages are the key usages the certificate was issued with.
	Usages []certificatesv1.KeyUsage `json:"usages,omitempty"`
	// KeyAlgorithm describes the subject's public key, e.g. "ECDSA P-256" or "RSA 2048".
	KeyAlgorithm string `json:"keyAlgorithm,omitempty"`

	// NotBefore is the start of the certificate's validity.
	NotBefore metav1.Time `json:"notBefore"`
	// NotAfter is the end of the certificate's validity; the record may be deleted once
	// it has passed, and is, --inventory-retention later.
	NotAfter metav1.Time `json:"notAfter"`

	// Requester is who created the CSR, as the server recorded it.
	Requester Requester `json:"requester"`
	// CSRName is the name of the CertificateSigningRequest answered; empty for a
	// certificate of the server's own PKI (signerName kcsr.dev/pki), which answered no CSR.
	CSRName string `json:"csrName"`
	// CSRUID is the UID of the CertificateSigningRequest answered, and the record's name;
	// empty only for a certificate of the server's own PKI.
	CSRUID string `json:"csrUID"`

	// Certificate is the issued certificate, PEM encoded.
	Certificate []byte `json:"certificate"`
	// Login says the certificate was issued for login by an upstream login signer
	// (upstream.login in kcsr server's signer configuration): kcsr server admits a
	// certificate of an upstream CA only when a record of it says so. Set by the signer
	// when it issues; creating a record with it needs "approve" and "sign" on the signer.
	Login bool `json:"login,omitempty"`
	// Intermediates are the CA certificates, PEM encoded, between the certificate and
	// its issuer's roots, first the one that issued it: an upstream CA's intermediates,
	// which its holder presents with it (the CSR's status.certificate carries them after
	// the certificate). Empty for certificates of kcsr's own CAs.
	Intermediates []byte `json:"intermediates,omitempty"`
}

// PKISignerName is the signerName of the records of certificates kcsr server's own PKI
// issued from the cluster CA (the admin client certificate, the serving certificate).
// No signer serves it: these certificates answer no CSR.
const PKISignerName = "kcsr.dev/pki"

// PKIRequester is the requester username of those records.
const PKIRequester = "system:kcsr:pki"

// SignerLabel is the label of every IssuedCertificate naming its signer, with "/" made "."
// (a label value cannot hold "/"): `kubectl get issuedcertificates -l
// kcsr.dev/signer=example.com.webhook`.
const SignerLabel = "kcsr.dev/signer"

// Requester is the identity that created a CSR.
type Requester struct {
	// Username is the user who created the CSR (its spec.username).
	Username string `json:"username,omitempty"`
	// UID is that user's UID, when the authenticator gave one (spec.uid).
	UID string `json:"uid,omitempty"`
	// Groups are that user's groups (spec.groups).
	Groups []string `json:"groups,omitempty"`
}

// IssuedCertificateStatus is what happened to the certificate after issuance.
type IssuedCertificateStatus struct {
	// Revocation is set when the certificate is revoked. It cannot be removed, except
	// for reason certificateHold (kcsr unrevoke).
	// +optional
	Revocation *Revocation `json:"revocation,omitempty"`
}

// ReasonCertificateHold is the only revocation reason that can be lifted.
const ReasonCertificateHold = "certificateHold"

// RevocationReasons are the RFC 5280 CRLReason names a Revocation may give.
var RevocationReasons = []string{"unspecified", "keyCompromise", "cACompromise", "affiliationChanged", "superseded", "cessationOfOperation", ReasonCertificateHold, "privilegeWithdrawn", "aACompromise"}

// Revocation records a revocation.
type Revocation struct {
	// Time the certificate was revoked.
	Time metav1.Time `json:"time"`
	// Reason is an RFC 5280 CRLReason name: unspecified, keyCompromise, cACompromise,
	// affiliationChanged, superseded, cessationOfOperation, certificateHold,
	// privilegeWithdrawn, aACompromise.
	Reason string `json:"reason"`
	// RevokedBy is the user who revoked it.
	// +optional
	RevokedBy string `json:"revokedBy,omitempty"`
	// Message says why, for people.
	// +optional
	Message string `json:"message,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// IssuedCertificateList is a list of IssuedCertificates.
type IssuedCertificateList struct {
	metav1.TypeMeta `json:",inline"`
	// Standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`

	// Items are the IssuedCertificates.
	Items []IssuedCertificate `json:"items"`
}

package doctor

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/util/duration"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/cli"
	"kcsr.dev/kcsr/pkg/csr"
	"kcsr.dev/kcsr/pkg/pemutil"
)

// Thresholds of "expires soon": less than this share of the lifetime is left, or less
// than this time of a lifetime longer than it (a certificate that lives a day or less
// would otherwise be "expiring soon" from the moment it is issued).
const (
	soonShare = 0.20
	soonLeft  = 24 * time.Hour
)

// CheckValidity checks that cert is valid at now and not about to expire: less than 20 %
// of its lifetime left, or less than 24 hours of a lifetime longer than that, is a
// warning. renew is the fix.
func CheckValidity(subject string, cert *x509.Certificate, now time.Time, renew, expired string) Finding {
	notAfter := cert.NotAfter.UTC().Format(time.RFC3339)
	switch {
	case now.Before(cert.NotBefore):
		return problem(subject, fmt.Sprintf("is not valid until %s (in %s)", cert.NotBefore.UTC().Format(time.RFC3339), duration.HumanDuration(cert.NotBefore.Sub(now))),
			"check the clock of this machine and of the CA's host")
	case !now.Before(cert.NotAfter):
		return problem(subject, fmt.Sprintf("expired at %s (%s ago)", notAfter, duration.HumanDuration(now.Sub(cert.NotAfter))), expired)
	}
	left, lifetime := cert.NotAfter.Sub(now), cert.NotAfter.Sub(cert.NotBefore)
	share := float64(left) / float64(lifetime)
	if share < soonShare || (left < soonLeft && lifetime > soonLeft) {
		return warning(subject, fmt.Sprintf("expires at %s, in %s (%d %% of its %s lifetime left)",
			notAfter, duration.HumanDuration(left), int(share*100), duration.HumanDuration(lifetime)), renew)
	}
	return ok(subject, fmt.Sprintf("valid until %s (%s left)", notAfter, duration.HumanDuration(left)))
}

// NewCertificate is the way to a certificate when the current one can no longer
// authenticate its own renewal (expired or revoked): kcsr renew refuses then.
func NewCertificate() string {
	return "get a new one: " + cli.Self + " request with an administrator's kubeconfig, or " + cli.Self + " join with the command of a join token an administrator makes (" + cli.Self + " token create --user CN --print-join-command)"
}

// CheckKeyMatch checks that the private key keyPEM belongs to pub, the public key of
// against ("the certificate", "the request").
func CheckKeyMatch(subject string, keyPEM []byte, pub crypto.PublicKey, against string) Finding {
	key, err := pemutil.ParseKey(keyPEM)
	if err != nil {
		return problem(subject, fmt.Sprintf("cannot be read (%v)", err), "pass the PEM private key file (PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY), unencrypted")
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if e, isEqualer := key.Public().(equaler); isEqualer && e.Equal(pub) {
		return ok(subject, fmt.Sprintf("matches %s (%s, public key %s)", against, csr.KeyAlgorithm(pub), publicKeyID(pub)))
	}
	return problem(subject, fmt.Sprintf("does not match %s: the key's public key is %s %s, %s's is %s %s",
		against, csr.KeyAlgorithm(key.Public()), publicKeyID(key.Public()), against, csr.KeyAlgorithm(pub), publicKeyID(pub)),
		"use the key the request was made from (keep NAME.key next to NAME.crt), or request a new certificate for this key ("+cli.Self+" request --key FILE)")
}

// publicKeyID is "sha256:" and the first 8 bytes of the SHA-256 of the public key's
// SubjectPublicKeyInfo, in hex: enough to tell keys apart (openssl pkey -pubout | sha256sum).
func publicKeyID(pub crypto.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "(unknown)"
	}
	sum := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(sum[:8])
}

// CheckClientAuth checks that a client certificate may authenticate to the API server,
// which requires the client auth extended key usage when any is listed.
func CheckClientAuth(subject string, cert *x509.Certificate) []Finding {
	if len(cert.ExtKeyUsage) == 0 || slices.Contains(cert.ExtKeyUsage, x509.ExtKeyUsageClientAuth) || slices.Contains(cert.ExtKeyUsage, x509.ExtKeyUsageAny) {
		return nil
	}
	return []Finding{problem(subject, "lacks the client auth extended key usage, so the API server does not accept it for login",
		"request a certificate with usages [client auth] (signer kubernetes.io/kube-apiserver-client)")}
}

// CheckInventory checks that an issued certificate is in kcsr's IssuedCertificate
// inventory and not revoked. records are the inventory records of the CSR; err is the
// error of listing them.
func CheckInventory(cert *x509.Certificate, records []kcsrv1alpha1.IssuedCertificate, err error) Finding {
	const subject = "inventory"
	if err != nil {
		return warning(subject, fmt.Sprintf("cannot read the IssuedCertificate inventory (%v)", err), "run "+cli.Self+" doctor as a user who may list issuedcertificates")
	}
	serial := cert.SerialNumber.Text(16)
	for _, r := range records {
		if r.Spec.SerialNumber != serial {
			continue
		}
		if rev := r.Status.Revocation; rev != nil {
			cause := fmt.Sprintf("the certificate (serial %s) was revoked at %s (%s)", serial, rev.Time.UTC().Format(time.RFC3339), rev.Reason)
			if rev.Message != "" {
				cause += ": " + rev.Message
			}
			return problem(subject, cause, "the API server refuses it, and it cannot authenticate its own renewal: "+NewCertificate())
		}
		return ok(subject, fmt.Sprintf("recorded as IssuedCertificate %s (serial %s)", r.Name, serial))
	}
	return warning(subject, fmt.Sprintf("no IssuedCertificate records serial %s", serial),
		"every certificate kcsr issues is recorded: this one was issued by another signer, or its record was deleted")
}

package csr

import (
	"crypto/x509"
	"fmt"
	"slices"

	certificatesv1 "k8s.io/api/certificates/v1"
)

// keyUsages maps the spec.usages values that are key usage bits.
var keyUsages = map[certificatesv1.KeyUsage]x509.KeyUsage{
	certificatesv1.UsageSigning:           x509.KeyUsageDigitalSignature,
	certificatesv1.UsageDigitalSignature:  x509.KeyUsageDigitalSignature,
	certificatesv1.UsageContentCommitment: x509.KeyUsageContentCommitment,
	certificatesv1.UsageKeyEncipherment:   x509.KeyUsageKeyEncipherment,
	certificatesv1.UsageKeyAgreement:      x509.KeyUsageKeyAgreement,
	certificatesv1.UsageDataEncipherment:  x509.KeyUsageDataEncipherment,
	certificatesv1.UsageCertSign:          x509.KeyUsageCertSign,
	certificatesv1.UsageCRLSign:           x509.KeyUsageCRLSign,
	certificatesv1.UsageEncipherOnly:      x509.KeyUsageEncipherOnly,
	certificatesv1.UsageDecipherOnly:      x509.KeyUsageDecipherOnly,
}

// extKeyUsages maps the spec.usages values that are extended key usages.
var extKeyUsages = map[certificatesv1.KeyUsage]x509.ExtKeyUsage{
	certificatesv1.UsageAny:             x509.ExtKeyUsageAny,
	certificatesv1.UsageServerAuth:      x509.ExtKeyUsageServerAuth,
	certificatesv1.UsageClientAuth:      x509.ExtKeyUsageClientAuth,
	certificatesv1.UsageCodeSigning:     x509.ExtKeyUsageCodeSigning,
	certificatesv1.UsageEmailProtection: x509.ExtKeyUsageEmailProtection,
	certificatesv1.UsageSMIME:           x509.ExtKeyUsageEmailProtection,
	certificatesv1.UsageIPsecEndSystem:  x509.ExtKeyUsageIPSECEndSystem,
	certificatesv1.UsageIPsecTunnel:     x509.ExtKeyUsageIPSECTunnel,
	certificatesv1.UsageIPsecUser:       x509.ExtKeyUsageIPSECUser,
	certificatesv1.UsageTimestamping:    x509.ExtKeyUsageTimeStamping,
	certificatesv1.UsageOCSPSigning:     x509.ExtKeyUsageOCSPSigning,
	certificatesv1.UsageMicrosoftSGC:    x509.ExtKeyUsageMicrosoftServerGatedCrypto,
	certificatesv1.UsageNetscapeSGC:     x509.ExtKeyUsageNetscapeServerGatedCrypto,
}

// KnownUsage reports whether u is one of the 23 usage values of certificates.k8s.io/v1.
func KnownUsage(u certificatesv1.KeyUsage) bool {
	_, isKeyUsage := keyUsages[u]
	_, isExtKeyUsage := extKeyUsages[u]
	return isKeyUsage || isExtKeyUsage
}

// SupportedUsages returns the usage values of certificates.k8s.io/v1, sorted.
func SupportedUsages() []certificatesv1.KeyUsage {
	all := make([]certificatesv1.KeyUsage, 0, len(keyUsages)+len(extKeyUsages))
	for u := range keyUsages {
		all = append(all, u)
	}
	for u := range extKeyUsages {
		all = append(all, u)
	}
	slices.Sort(all)
	return all
}

// KeyUsages translates spec.usages into the key usage bits and extended key usages of the
// certificate to issue, as the in-tree signer does: "signing" and "digital signature" both
// set the digital signature bit, "email protection" and "s/mime" both give the email
// protection EKU, and the extended key usages come back de-duplicated and sorted.
//
// Unknown values give an error listing all of them, e.g.
// `unrecognized usage values: ["server-auth" "foo"]`.
func KeyUsages(usages []certificatesv1.KeyUsage) (x509.KeyUsage, []x509.ExtKeyUsage, error) {
	var (
		keyUsage     x509.KeyUsage
		extUsages    []x509.ExtKeyUsage
		unrecognized []certificatesv1.KeyUsage
	)
	for _, u := range usages {
		if bit, ok := keyUsages[u]; ok {
			keyUsage |= bit
			continue
		}
		if eku, ok := extKeyUsages[u]; ok {
			extUsages = append(extUsages, eku)
			continue
		}
		unrecognized = append(unrecognized, u)
	}
	if len(unrecognized) > 0 {
		return 0, nil, fmt.Errorf("unrecognized usage values: %q", unrecognized)
	}
	slices.Sort(extUsages)
	return keyUsage, slices.Compact(extUsages), nil
}

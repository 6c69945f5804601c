package validation

import (
	"fmt"
	"strings"

	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Length limits of a signer name <domain>/<path>. The path must hold
// <namespace>.<resource name>, so the longest name is a DNS subdomain, "/", a DNS label, "."
// and a DNS subdomain: 253+1+63+1+253 = 571 bytes.
const (
	maxSignerDomainLength = utilvalidation.DNS1123SubdomainMaxLength
	maxSignerPathLength   = utilvalidation.DNS1123SubdomainMaxLength + 1 + utilvalidation.DNS1123LabelMaxLength
	maxSignerNameLength   = maxSignerDomainLength + 1 + maxSignerPathLength
)

// ValidateSignerName checks that signerName has the form <domain>/<path> of a qualified
// signer name, as kube-apiserver does for CSRs and ClusterTrustBundles:
//   - exactly one "/" (otherwise nothing else is checked);
//   - a domain of at most 253 bytes made of DNS labels, with at least one dot; only the
//     first bad label is reported;
//   - a path whose dot-separated pieces are DNS subdomains; only the first bad piece is
//     reported;
//   - at most 571 bytes in all.
//
// It does not know which signer names are reserved; see csr.IsKubernetesSignerName.
func ValidateSignerName(fldPath *field.Path, signerName string) field.ErrorList {
	if signerName == "" {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	domain, path, found := strings.Cut(signerName, "/")
	if !found || strings.Contains(path, "/") {
		return field.ErrorList{field.Invalid(fldPath, signerName, "must be a fully qualified domain and path of the form 'example.com/signer-name'")}
	}

	var errs field.ErrorList
	if len(domain) > maxSignerDomainLength {
		errs = append(errs, field.TooLong(fldPath, "", maxSignerDomainLength))
	}
	domainLabels := strings.Split(domain, ".")
	errs = append(errs, firstBadLabel(fldPath, domain, domainLabels, utilvalidation.IsDNS1123Label)...)
	if len(domainLabels) < 2 {
		errs = append(errs, field.Invalid(fldPath, domain, "should be a domain with at least two segments separated by dots"))
	}
	errs = append(errs, firstBadLabel(fldPath, path, strings.Split(path, "."), utilvalidation.IsDNS1123Subdomain)...)
	if len(signerName) > maxSignerNameLength {
		errs = append(errs, field.TooLong(fldPath, "", maxSignerNameLength))
	}
	return errs
}

// firstBadLabel reports every problem of the first label that check rejects, against the
// whole segment; later labels are not checked, as their errors could not be told apart.
func firstBadLabel(fldPath *field.Path, segment string, labels []string, check func(string) []string) field.ErrorList {
	for _, label := range labels {
		msgs := check(label)
		if len(msgs) == 0 {
			continue
		}
		errs := make(field.ErrorList, 0, len(msgs))
		for _, msg := range msgs {
			errs = append(errs, field.Invalid(fldPath, segment, fmt.Sprintf("validating label %q: %s", label, msg)))
		}
		return errs
	}
	return nil
}

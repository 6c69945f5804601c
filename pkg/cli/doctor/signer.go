package doctor

import (
	"crypto/x509"
	"errors"
	"fmt"
	"kcsr.dev/kcsr/pkg/announce"
	"slices"
	"strings"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apiserver/pkg/authentication/user"

	"kcsr.dev/kcsr/pkg/csr"
	"kcsr.dev/kcsr/pkg/signer"
)

const (
	usagesField     = "spec.usages"
	signerNameField = "spec.signerName"
	// kubeAPIServerServing names the API server's ClusterTrustBundle, not a CSR signer.
	kubeAPIServerServing = "kubernetes.io/kube-apiserver-serving"
	failsAfterApproval   = "the API server accepts this CSR and its approval, then the signer marks it Failed (SignerValidationFailure): the \"mismatched usages fail silently after approval\" case"
)

// CheckSignerRules checks a request against its signer's rules before anyone approves it:
// Kubernetes' rules for the built-in signers (pkg/csr), the rules of a kcsr signer
// configuration for the custom signers in profiles (nil when unknown).
func CheckSignerRules(signerName string, req *x509.CertificateRequest, usages []certificatesv1.KeyUsage, profiles map[string]*signer.Profile) []Finding {
	if req == nil || signerName == "" {
		return nil
	}
	var findings []Finding
	if signerName == csr.KubeAPIServerClientSignerName && slices.Contains(req.Subject.Organization, user.SystemPrivilegedGroup) {
		findings = append(findings, problem(requestField,
			"the subject asks for group system:masters (O=system:masters), which the API server refuses for signer "+signerName+" at create (CertificateSubjectRestriction): that group bypasses every authorization check",
			"make a request without O=system:masters and grant permissions with RBAC instead"))
	}
	if isBuiltIn(signerName) {
		if err := csr.ValidateForSigner(signerName, req, usages); err != nil {
			return append(findings, builtInViolation(signerName, err, usages))
		}
		return append(findings, ok(usagesField, fmt.Sprintf("[%s] and the subject follow the rules of %s", joinUsages(usages), signerName)))
	}
	if p := profiles[signerName]; p != nil && p.Check != nil {
		if err := p.Check(req, usages); err != nil {
			return append(findings, problem(signerField(err), err.Error()+"; kcsr accepts this CSR and its approval, then marks it Failed (SignerValidationFailure)",
				"create a new CSR that follows the rules of "+signerName))
		}
		return append(findings, ok(usagesField, fmt.Sprintf("[%s] and the subject follow the rules of %s", joinUsages(usages), signerName)))
	}
	if csr.IsKubernetesSignerName(signerName) {
		return append(findings, unknownKubernetesSigner(signerName))
	}
	return findings
}

// builtInViolation explains a refusal of Kubernetes' rules for a built-in signer.
func builtInViolation(signerName string, err error, usages []certificatesv1.KeyUsage) Finding {
	cause := err.Error() + "; " + failsAfterApproval
	subject := signerField(err)
	var fix string
	switch {
	case errors.Is(err, csr.ErrOrganizationNotSystemNodes), errors.Is(err, csr.ErrCommonNameNotSystemNode):
		fix = `a node's certificate has the subject "/O=system:nodes/CN=system:node:NODENAME"; make a new request with that subject`
	case errors.Is(err, csr.ErrDNSOrIPSANRequired):
		fix = "a serving certificate names the node: make a new request with its DNS names or IP addresses (openssl req -addext subjectAltName=DNS:NODE,IP:ADDRESS)"
	case subject == requestField:
		fix = "make a new request without those subjectAltNames"
	default:
		fix = "create a new CSR with usages " + allowedUsages(signerName)
		if signerName == csr.KubeAPIServerClientSignerName && slices.Contains(usages, certificatesv1.UsageServerAuth) {
			fix += "; a serving certificate needs another signer (kubernetes.io/kubelet-serving for kubelets, a custom signer otherwise)"
		}
	}
	return problem(subject, cause, fix)
}

// signerField is the field a signer's refusal is about.
func signerField(err error) string {
	if strings.Contains(strings.ToLower(err.Error()), "usage") {
		return usagesField
	}
	return requestField
}

// allowedUsages spells the usage sets a built-in signer accepts.
func allowedUsages(signerName string) string {
	switch signerName {
	case csr.KubeAPIServerClientSignerName:
		return "[client auth] (digital signature and key encipherment may be added)"
	case csr.KubeAPIServerClientKubeletSignerName:
		return "[digital signature, client auth] (add key encipherment for an RSA key)"
	case csr.KubeletServingSignerName:
		return "[digital signature, server auth] (add key encipherment for an RSA key)"
	}
	return "that " + signerName + " allows"
}

// unknownKubernetesSigner is the finding for a kubernetes.io signer name nothing signs.
func unknownKubernetesSigner(signerName string) Finding {
	cause := fmt.Sprintf("no Kubernetes signer serves %q, so an approved CSR is never issued", signerName)
	if signerName == kubeAPIServerServing {
		cause = fmt.Sprintf("%q is not a CSR signer (it names the API server's ClusterTrustBundle), so an approved CSR is never issued", signerName)
	}
	fix := "create a new CSR with a served signerName: " + strings.Join(issuingBuiltIns, ", ") + ", or a custom signer (example.com/NAME)"
	if near := nearestBuiltIn(signerName); near != "" {
		fix += fmt.Sprintf("; did you mean %s?", near)
	}
	return problem(signerNameField, cause, fix)
}

// issuingBuiltIns are the built-in signers a new CSR may name (legacy-unknown is refused).
var issuingBuiltIns = []string{csr.KubeAPIServerClientSignerName, csr.KubeAPIServerClientKubeletSignerName, csr.KubeletServingSignerName}

// CheckServed finds a custom signerName that no running kcsr signer announces (package
// announce) while others are: approved, its CSR would never be issued. A warning, not a
// problem: a controller other than kcsr's may serve it. Nothing is said when nothing is
// announced (the signers are not kcsr's) or a is nil (the announcements could not be
// read), nor of a kubernetes.io/ name (CheckSignerRules' business).
func CheckServed(signerName string, a *announce.Announcements) []Finding {
	if a == nil || a.Processes == 0 || strings.HasPrefix(signerName, "kubernetes.io/") {
		return nil
	}
	if holders := a.Signers[signerName]; len(holders) > 0 {
		return []Finding{ok("spec.signerName", fmt.Sprintf("%s is served by %s", signerName, strings.Join(holders, ", ")))}
	}
	served := a.Names()
	fix := "create a new CSR with a served signerName, or start the signer that serves it (when a controller other than kcsr signs it, nothing is wrong)"
	if near := Nearest(signerName, served); near != "" {
		fix = "did you mean " + near + "? " + fix
	}
	return []Finding{warning("spec.signerName", fmt.Sprintf("no running signer serves %q (the kcsr signers running serve %s), so an approved CSR would stay Approved with no certificate", signerName, strings.Join(served, ", ")), fix)}
}

// isBuiltIn reports whether Kubernetes (and kcsr server) serve signerName themselves.
func isBuiltIn(signerName string) bool {
	return slices.Contains(signer.BuiltInSignerNames, signerName)
}

// nearestBuiltIn is the built-in signer name closest to a misspelled one, or "".
func nearestBuiltIn(name string) string {
	if name == kubeAPIServerServing {
		return csr.KubeletServingSignerName + " (for a kubelet's serving certificate)"
	}
	return Nearest(name, issuingBuiltIns)
}

// Nearest is the candidate closest to a misspelled name (within a third of its length in
// edits), or "".
func Nearest(name string, candidates []string) string {
	best, bestDistance := "", len(name)/3+1
	for _, c := range candidates {
		if d := editDistance(name, c); d < bestDistance {
			best, bestDistance = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

func joinUsages(us []certificatesv1.KeyUsage) string {
	s := make([]string, len(us))
	for i, u := range us {
		s[i] = string(u)
	}
	return strings.Join(s, ", ")
}

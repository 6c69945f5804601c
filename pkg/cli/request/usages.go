package request

import (
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	certificatesv1 "k8s.io/api/certificates/v1"

	certvalidation "kcsr.dev/kcsr/pkg/apis/certificates/validation"
	"kcsr.dev/kcsr/pkg/csr"
)

// validateSigner checks a --signer value as the API does.
func validateSigner(signer string) error {
	errs := certvalidation.ValidateSignerName(nil, signer)
	if len(errs) == 0 {
		return nil
	}
	details := make([]string, len(errs))
	for i, e := range errs {
		details[i] = e.Detail
	}
	return fmt.Errorf("--signer %q: %s", signer, strings.Join(details, "; "))
}

// isRSA reports whether pub is an RSA key.
func isRSA(pub crypto.PublicKey) bool {
	_, ok := pub.(*rsa.PublicKey)
	return ok
}

// DefaultUsages are the usages the kubelet requests from a built-in signer: digital
// signature plus client auth (kube-apiserver-client, kube-apiserver-client-kubelet) or
// server auth (kubelet-serving), and key encipherment only for an RSA key. A custom signer
// has no default: its usages are whatever its owner decided, so the caller must say.
func DefaultUsages(signer string, rsaKey bool) ([]certificatesv1.KeyUsage, error) {
	var purpose certificatesv1.KeyUsage
	switch signer {
	case certificatesv1.KubeAPIServerClientSignerName, certificatesv1.KubeAPIServerClientKubeletSignerName:
		purpose = certificatesv1.UsageClientAuth
	case certificatesv1.KubeletServingSignerName:
		purpose = certificatesv1.UsageServerAuth
	default:
		return nil, fmt.Errorf("--usage is required for signer %s: kcsr knows the usages of the built-in signers only (e.g. --usage \"digital signature\" --usage \"client auth\")", signer)
	}
	usages := []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature}
	if rsaKey {
		usages = append(usages, certificatesv1.UsageKeyEncipherment)
	}
	return append(usages, purpose), nil
}

// parseUsages checks --usage values: each one of the 23 Kubernetes values, none twice (the
// API refuses duplicates).
func parseUsages(values []string) ([]certificatesv1.KeyUsage, error) {
	usages := make([]certificatesv1.KeyUsage, 0, len(values))
	for _, v := range values {
		u := certificatesv1.KeyUsage(v)
		if !csr.KnownUsage(u) {
			return nil, fmt.Errorf("--usage %q is not a Kubernetes key usage; use one of %q", v, csr.SupportedUsages())
		}
		if slices.Contains(usages, u) {
			return nil, fmt.Errorf("--usage %q is given twice; give each usage once", v)
		}
		usages = append(usages, u)
	}
	return usages, nil
}

// signerObjection is what a built-in signer will say about the request when it refuses to
// sign it (the Failed condition's message after approval), or "" when it will sign. kcsr
// submits such a request anyway, with a warning: the server has the last word.
func signerObjection(signer string, id Identity, usages []certificatesv1.KeyUsage) string {
	rules := csr.SignerRules(signer)
	if rules == nil {
		return ""
	}
	req := &x509.CertificateRequest{Subject: id.subject(), DNSNames: id.DNSNames, IPAddresses: id.IPAddresses, EmailAddresses: id.EmailAddresses, URIs: id.URIs}
	if err := rules(req, usages); err != nil {
		return err.Error()
	}
	return ""
}

// completeFlags registers shell completions for the flags with a fixed set of values.
func completeFlags(cmd *cobra.Command) {
	fixed := func(values ...string) cobra.CompletionFunc {
		return cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp)
	}
	usages := make([]string, 0, len(csr.SupportedUsages()))
	for _, u := range csr.SupportedUsages() {
		usages = append(usages, string(u))
	}
	for flag, complete := range map[string]cobra.CompletionFunc{
		"key-type": fixed(KeyTypes...),
		"usage":    fixed(usages...),
		"signer":   fixed(certificatesv1.KubeAPIServerClientSignerName, certificatesv1.KubeAPIServerClientKubeletSignerName, certificatesv1.KubeletServingSignerName),
	} {
		if cmd.Flags().Lookup(flag) != nil {
			_ = cmd.RegisterFlagCompletionFunc(flag, complete)
		}
	}
}

package doctor

import (
	"crypto/x509"
	"fmt"
	"strings"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apimachinery/pkg/util/duration"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/cli"
	"kcsr.dev/kcsr/pkg/csr"
	"kcsr.dev/kcsr/pkg/signer"
)

const (
	statusSubject = "status"
	// recently is how long a signer may take before doctor calls a CSR stuck.
	recently = time.Minute
)

// CheckDecided names a decision that ends a CSR: Denied, or Failed (the signer refused it).
// It returns nothing for a CSR that is neither.
func CheckDecided(obj *certificatesv1.CertificateSigningRequest) []Finding {
	if c := csr.Condition(obj, certificatesv1.CertificateDenied); c != nil {
		return []Finding{problem(statusSubject, "Denied"+reasonMessage(c),
			fmt.Sprintf("a decision is final: if %s should get a certificate, create a new CSR (with another name) and have it approved", requester(obj)))}
	}
	if c := csr.Condition(obj, certificatesv1.CertificateFailed); c != nil {
		return []Finding{problem(statusSubject, "Approved, then Failed"+reasonMessage(c),
			"a Failed CSR is never retried: create a new CSR that fixes what the message says")}
	}
	return nil
}

// PendingInput is what CheckPending looks at.
type PendingInput struct {
	CSR *certificatesv1.CertificateSigningRequest
	Now time.Time
	// Kcsr: the kcsr.dev API is served, so kcsr's approver and its ApprovalPolicies
	// decide CSRs; otherwise this is a Kubernetes cluster, where only kubelet client
	// certificates are approved automatically.
	Kcsr bool
	// Policies are the names of the ApprovalPolicies covering the CSR's signer (Kcsr);
	// PoliciesErr is the error of listing them.
	Policies    []string
	PoliciesErr error
	// KubeletClient: the request is a kubelet client certificate request.
	KubeletClient bool
	// Approvers are who may approve the signer; ApproversErr the error of finding out.
	Approvers    Approvers
	ApproversErr error
}

// CheckPending explains why a CSR is still Pending: what could approve it automatically
// and did not, and who may approve it by hand.
func CheckPending(in PendingInput) []Finding {
	obj := in.CSR
	signerName := obj.Spec.SignerName
	approvers := CheckApprovers(obj.Name, signerName, in.Approvers, in.ApproversErr)
	cause := "Pending for " + age(obj.CreationTimestamp.Time, in.Now)
	decide := fmt.Sprintf("someone who may approve runs "+cli.Self+" approve %s (or "+cli.Self+" deny %s)", obj.Name, obj.Name)
	var fix string
	switch {
	case signerName == csr.KubeAPIServerClientKubeletSignerName && in.KubeletClient:
		cause += fmt.Sprintf(": a kubelet client CSR is approved automatically (by kube-controller-manager, or kcsr's approver) only when its requester %q may create certificatesigningrequests/nodeclient (or selfnodeclient, to renew its own certificate)", obj.Spec.Username)
		fix = "bind ClusterRole system:certificates.k8s.io:certificatesigningrequests:nodeclient to the bootstrap tokens' group (kubeadm: kubeadm:node-autoapprove-bootstrap), or " + decide
	case in.Kcsr && in.PoliciesErr != nil:
		cause += fmt.Sprintf(": cannot tell whether an ApprovalPolicy covers signer %q (%v)", signerName, in.PoliciesErr)
		fix = decide
	case in.Kcsr && len(in.Policies) == 0:
		cause += fmt.Sprintf(": no ApprovalPolicy covers signer %q, so kcsr's approver leaves it to a person", signerName)
		fix = decide + ", or an administrator adds the signer to an ApprovalPolicy's signerNames"
	case in.Kcsr:
		cause += fmt.Sprintf(": ApprovalPolicy %s covers signer %q but did not approve or deny it", strings.Join(in.Policies, ", "), signerName)
		if v := obj.Annotations[kcsrv1alpha1.VerdictAnnotation]; v != "" {
			cause += fmt.Sprintf(" (kcsr's approver: %q)", v)
		}
		fix = decide + ", or an administrator changes the policy so that it decides such requests"
	default:
		cause += fmt.Sprintf(": nothing in Kubernetes approves signer %q automatically (kube-controller-manager approves only kubelet client certificates)", signerName)
		fix = decide + ", or run an approver for this signer"
	}
	severity := Warning
	if approvers.Severity == Problem {
		severity = Problem
	}
	return []Finding{{Severity: severity, Subject: statusSubject, Cause: cause, Fix: fix}, approvers}
}

// NotIssuedInput is what CheckNotIssued looks at.
type NotIssuedInput struct {
	CSR *certificatesv1.CertificateSigningRequest
	Now time.Time
	// Kcsr: the kcsr.dev API is served, so kcsr's signer reports a signerName it cannot
	// serve with a SignerUnavailable condition.
	Kcsr bool
	// Profiles are the signers of a kcsr signer configuration (--signer-config), nil when
	// unknown.
	Profiles map[string]*signer.Profile
	// SignerCA is the CA certificate of the CSR's signer when known, SignerCASource where
	// it was found.
	SignerCA       *x509.Certificate
	SignerCASource string
}

// CheckNotIssued explains why an Approved CSR has no certificate: the signer said why (a
// SignerUnavailable condition), its CA expired, nothing serves the signerName, or, on a
// Kubernetes cluster, kube-controller-manager is not configured to sign.
func CheckNotIssued(in NotIssuedInput) []Finding {
	obj := in.CSR
	signerName := obj.Spec.SignerName
	approved := "Approved but not issued"
	var since time.Duration
	if c := csr.Condition(obj, certificatesv1.CertificateApproved); c != nil && !c.LastUpdateTime.IsZero() {
		since = in.Now.Sub(c.LastUpdateTime.Time)
		approved = fmt.Sprintf("Approved %s ago but not issued", duration.HumanDuration(since))
	}

	if c := csr.Condition(obj, kcsrv1alpha1.ConditionSignerUnavailable); c != nil {
		fix := "fix what the message says; the signer retries on its own"
		switch c.Reason {
		case kcsrv1alpha1.ReasonNoSigner:
			fix = fmt.Sprintf("declare signer %q in kcsr server's --signer-config, or create a new CSR with a signerName that is served", signerName)
		case kcsrv1alpha1.ReasonCAUnavailable:
			fix = "renew or restore the signer's CA (its certFile/keyFile or HSM key in --signer-config, the cluster CA for built-in signers), then restart kcsr server"
		}
		return []Finding{problem(statusSubject, approved+": "+string(kcsrv1alpha1.ConditionSignerUnavailable)+reasonMessage(c), fix)}
	}
	if ca := in.SignerCA; ca != nil {
		switch {
		case !in.Now.Before(ca.NotAfter):
			return []Finding{problem(statusSubject, fmt.Sprintf(`%s: the signer's CA (%s, %s) expired at %s, so the signer refuses to sign ("the signer has expired")`,
				approved, in.SignerCASource, ca.Subject, ca.NotAfter.UTC().Format(time.RFC3339)),
				"renew the signer's CA and restart the signer; certificates it issued before stop working too")}
		case in.Now.Before(ca.NotBefore):
			return []Finding{problem(statusSubject, fmt.Sprintf("%s: the signer's CA (%s, %s) is not valid until %s",
				approved, in.SignerCASource, ca.Subject, ca.NotBefore.UTC().Format(time.RFC3339)),
				"check the clock of the signer's host")}
		}
	}
	if in.Profiles != nil && !isBuiltIn(signerName) && in.Profiles[signerName] == nil {
		return []Finding{problem(statusSubject, fmt.Sprintf("%s: the signer configuration declares no signer %q", approved, signerName),
			fmt.Sprintf("declare signer %q in kcsr server's --signer-config, or create a new CSR with a signerName that is served", signerName))}
	}
	if csr.IsKubernetesSignerName(signerName) && !isBuiltIn(signerName) {
		// The spec.signerName finding names it: nothing serves that name.
		return nil
	}
	if since > 0 && since < recently {
		return []Finding{warning(statusSubject, approved+" yet", "the signer may still be at work: run "+cli.Self+" doctor again in a minute")}
	}
	switch {
	case in.Kcsr:
		return []Finding{problem(statusSubject, approved+", and kcsr's signer left no SignerUnavailable condition",
			fmt.Sprintf("if another signer serves %q, check it; otherwise look for this CSR in kcsr server's log", signerName))}
	case isBuiltIn(signerName):
		return []Finding{problem(statusSubject, fmt.Sprintf(
			"%s: kube-controller-manager signs %s only when it runs with --cluster-signing-cert-file and --cluster-signing-key-file (or the per-signer flags) and its CA has not expired", approved, signerName),
			`check kube-controller-manager's flags and its log ("Skipping CSR signer controller", "the signer has expired")`)}
	default:
		return []Finding{problem(statusSubject, fmt.Sprintf(
			"%s: no built-in Kubernetes signer serves %q; only its own signer (cert-manager, an external CA controller) can issue it", approved, signerName),
			fmt.Sprintf("check that a signer for %q runs and watches CSRs, or create a new CSR with a correctly spelled signerName", signerName))}
	}
}

// reasonMessage is " (Reason): message" of a condition, leaving out what is empty.
func reasonMessage(c *certificatesv1.CertificateSigningRequestCondition) string {
	s := ""
	if c.Reason != "" {
		s += " (" + c.Reason + ")"
	}
	if c.Message != "" {
		s += ": " + c.Message
	}
	return s
}

func requester(obj *certificatesv1.CertificateSigningRequest) string {
	if obj.Spec.Username == "" {
		return "the requester"
	}
	return obj.Spec.Username
}

func age(t, now time.Time) string {
	if t.IsZero() {
		return "an unknown time"
	}
	return duration.HumanDuration(now.Sub(t))
}

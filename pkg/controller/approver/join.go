package approver

import (
	"context"
	"crypto/x509"
	"fmt"
	"slices"
	"strings"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/csr"
)

var everything = labels.Everything()

type reqInfo = *x509.CertificateRequest

func joinTokenID(username string) (string, bool) {
	return strings.CutPrefix(username, kcsrv1alpha1.JoinUserPrefix)
}

// handleJoin approves a CSR made with a join token when it matches the token exactly, and
// spends the token first: the spend is an optimistic-concurrency write of the token's
// status, so of two CSRs racing for one token only one wins; the other is denied.
func (c *Controller) handleJoin(ctx context.Context, obj *certificatesv1.CertificateSigningRequest, id string) error {
	tokens := c.Kcsr.KcsrV1alpha1().JoinTokens()
	jt, err := tokens.Get(ctx, id, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return c.decide(ctx, obj, certificatesv1.CertificateDenied, ReasonJoinTokenUnknown,
			fmt.Sprintf("join token %s no longer exists; ask an administrator for a new one", id))
	}
	if err != nil {
		return err
	}
	if used := jt.Status.UsedBy; used != nil && used.CSRUID != string(obj.UID) {
		return c.decide(ctx, obj, certificatesv1.CertificateDenied, ReasonJoinTokenSpent,
			fmt.Sprintf("join token %s was already used for CSR %q at %s; a join token gets one certificate: ask an administrator for a new one", id, used.CSRName, used.Time.UTC().Format(time.RFC3339)))
	}
	now := c.Clock.Now()
	if jt.Status.UsedBy == nil && !now.Before(jt.Spec.Expiration.Time) {
		return c.decide(ctx, obj, certificatesv1.CertificateDenied, ReasonJoinTokenExpired,
			fmt.Sprintf("join token %s expired at %s; ask an administrator for a new one", id, jt.Spec.Expiration.UTC().Format(time.RFC3339)))
	}
	if msg := joinMismatch(jt, obj); msg != "" {
		return c.decide(ctx, obj, certificatesv1.CertificateDenied, ReasonJoinTokenMismatch, msg)
	}
	if c.opts.GuardRails != nil {
		d, err := c.opts.GuardRails(ctx, obj)
		if err != nil {
			return err
		}
		if d.Deny {
			return c.decide(ctx, obj, certificatesv1.CertificateDenied, d.Reason, d.Message)
		}
		if !d.Approve && d.Message != "" {
			// A protected group: a person decides, join token or not.
			return c.explain(ctx, obj, d.Message)
		}
	}
	if jt.Status.UsedBy == nil {
		jt.Status.UsedBy = &kcsrv1alpha1.TokenUse{CSRName: obj.Name, CSRUID: string(obj.UID), Time: metav1.NewTime(now)}
		if _, err := tokens.UpdateStatus(ctx, jt, metav1.UpdateOptions{}); err != nil {
			// A conflict means another CSR may have spent it: retry and re-read.
			return fmt.Errorf("spend join token %s: %w", id, err)
		}
	}
	return c.decide(ctx, obj, certificatesv1.CertificateApproved, ReasonJoinToken,
		fmt.Sprintf("approved with join token %s issued for %s", id, describeIdentity(jt.Spec.Username, jt.Spec.Groups)))
}

// joinMismatch says how the CSR differs from what the token allows, or "".
func joinMismatch(jt *kcsrv1alpha1.JoinToken, obj *certificatesv1.CertificateSigningRequest) string {
	if obj.Spec.SignerName != jt.Spec.SignerName {
		return fmt.Sprintf("join token %s is for signer %s, not %s; create the CSR with signerName %s", jt.Name, jt.Spec.SignerName, obj.Spec.SignerName, jt.Spec.SignerName)
	}
	req, err := csr.DecodeRequest(obj.Spec.Request)
	if err != nil {
		return "the request does not parse: " + err.Error()
	}
	if req.Subject.CommonName != jt.Spec.Username {
		return fmt.Sprintf("join token %s is for user %q but the request's subject CN is %q; make the request with CN=%s", jt.Name, jt.Spec.Username, req.Subject.CommonName, jt.Spec.Username)
	}
	got := slices.Clone(req.Subject.Organization)
	want := slices.Clone(jt.Spec.Groups)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		return fmt.Sprintf("join token %s is for groups %v but the request's subject O is %v; make the request with exactly those groups", jt.Name, jt.Spec.Groups, req.Subject.Organization)
	}
	if msg := unlistedNames(jt, req); msg != "" {
		return msg
	}
	if max := jt.Spec.MaxExpirationSeconds; max > 0 && (obj.Spec.ExpirationSeconds == nil || *obj.Spec.ExpirationSeconds > max) {
		return fmt.Sprintf("join token %s allows at most expirationSeconds %d; set spec.expirationSeconds to %d or less", jt.Name, max, max)
	}
	return ""
}

// unlistedNames says which subject alternative names of the request the token does not
// list, or "": a join token grants exactly the names it lists, and none when it lists none.
func unlistedNames(jt *kcsrv1alpha1.JoinToken, req reqInfo) string {
	var uris []string
	for _, u := range req.URIs {
		uris = append(uris, u.String())
	}
	var ips []string
	for _, ip := range req.IPAddresses {
		ips = append(ips, ip.String())
	}
	kinds := []struct {
		kind           string
		requested, may []string
		fold           bool // DNS names and e-mail addresses compare case-insensitively
	}{
		{"DNS name", req.DNSNames, jt.Spec.DNSNames, true},
		{"IP address", ips, jt.Spec.IPAddresses, false},
		{"URI", uris, jt.Spec.URIs, false},
		{"e-mail address", req.EmailAddresses, jt.Spec.EmailAddresses, true},
	}
	var problems []string
	for _, k := range kinds {
		for _, n := range k.requested {
			if !slices.ContainsFunc(k.may, func(m string) bool { return m == n || k.fold && strings.EqualFold(m, n) }) {
				problems = append(problems, fmt.Sprintf("%s %q", k.kind, n))
			}
		}
	}
	if len(problems) == 0 {
		return ""
	}
	return fmt.Sprintf("join token %s does not allow the request's %s; a join token grants exactly the names it lists: make the request without them, or ask for a token that lists them (kcsr token create --dns-name, --ip-address, --uri, --email)", jt.Name, strings.Join(problems, ", "))
}

func describeIdentity(user string, groups []string) string {
	if len(groups) == 0 {
		return fmt.Sprintf("CN=%s", user)
	}
	return fmt.Sprintf("CN=%s O=%s", user, strings.Join(groups, ","))
}

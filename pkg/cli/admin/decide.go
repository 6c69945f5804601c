package admin

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/clock"

	"kcsr.dev/kcsr/pkg/cli"
	"kcsr.dev/kcsr/pkg/csr"
)

// decision is one `kcsr approve` or `kcsr deny`.
type decision struct {
	t               certificatesv1.RequestConditionType
	reason, message string
	force           bool
	clock           clock.PassiveClock
}

// NewDecisionCommand returns `kcsr approve` (t = Approved) or `kcsr deny` (t = Denied).
func NewDecisionCommand(out io.Writer, t certificatesv1.RequestConditionType) *cobra.Command {
	var conn cli.Connection
	d := decision{t: t, clock: clock.RealClock{}}
	verb, doing, done, defaultReason := "approve", "approving", "approved", "KcsrApprove"
	if t == certificatesv1.CertificateDenied {
		verb, doing, done, defaultReason = "deny", "denying", "denied", "KcsrDeny"
	}
	long := `Shows each CSR decoded (subject CN and O, SANs, signer, usages, duration, requester, key),
then writes the ` + string(t) + ` condition through the /approval subresource, as kubectl
certificate ` + verb + ` does: a decision is final, so ` + doing + ` a CSR that is already ` + map[bool]string{true: "Denied", false: "Approved"}[t == certificatesv1.CertificateApproved] + `
is refused, and one already ` + strings.ToLower(string(t)) + ` is left alone unless --force is given.
A conflict with a concurrent writer is retried.`
	if t == certificatesv1.CertificateApproved {
		long += `

Refused without --force: a CSR whose subject asks for group system:masters
(O=system:masters), since that group bypasses every authorization check and RBAC cannot
restrict or revoke it; and a CSR its built-in signer's rules refuse (usages or names they
forbid), since it would only end Failed.`
	}
	cmd := &cobra.Command{
		Use:     verb + " NAME...",
		Short:   strings.ToUpper(verb[:1]) + verb[1:] + " CSRs, showing what is being " + done,
		Long:    long,
		Example: "  kcsr " + verb + " rahul --message \"checked with rahul's manager\"",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, names []string) error {
			client, err := clientset(&conn)
			if err != nil {
				return err
			}
			var errs []error
			for _, name := range names {
				if err := d.apply(cmd.Context(), out, client, name); err != nil {
					errs = append(errs, err)
				}
			}
			return errors.Join(errs...)
		},
	}
	conn.AddFlags(cmd.Flags())
	cmd.Flags().StringVar(&d.reason, "reason", defaultReason, "The condition's reason.")
	cmd.Flags().StringVar(&d.message, "message", "This CSR was "+done+" by kcsr "+verb+".", "The condition's message.")
	forceHelp := "Update the CSR even if it is already " + strings.ToLower(string(t)) + "."
	if t == certificatesv1.CertificateApproved {
		forceHelp += " Approve a CSR asking for group system:masters, or one its signer will refuse."
	}
	cmd.Flags().BoolVar(&d.force, "force", false, forceHelp)
	return cmd
}

// apply writes the decision on one CSR, printing what is being decided first.
func (d decision) apply(ctx context.Context, out io.Writer, client kubernetes.Interface, name string) error {
	csrs := client.CertificatesV1().CertificateSigningRequests()
	shown := false
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		obj, err := csrs.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		dec := decode(obj)
		if !shown {
			fmt.Fprintln(out, summary(dec))
			shown = true
		}
		other := certificatesv1.CertificateDenied
		if d.t == certificatesv1.CertificateDenied {
			other = certificatesv1.CertificateApproved
		}
		if csr.HasCondition(obj, other) {
			return fmt.Errorf("certificate signing request %q is already %s", name, other)
		}
		already := csr.HasCondition(obj, d.t)
		if already && !d.force {
			fmt.Fprintf(out, "certificatesigningrequest.certificates.k8s.io/%s already %s\n", cli.Printable(name), strings.ToLower(string(d.t)))
			return nil
		}
		if d.t == certificatesv1.CertificateApproved && !d.force {
			if err := refuseSystemMasters(obj, dec.req); err != nil {
				return err
			}
			if err := refuseDoomed(obj, dec.req); err != nil {
				return err
			}
		}
		if !already {
			csr.SetCondition(obj, certificatesv1.CertificateSigningRequestCondition{
				Type: d.t, Status: corev1.ConditionTrue, Reason: d.reason, Message: d.message,
			}, d.clock.Now())
		}
		if _, err := csrs.UpdateApproval(ctx, name, obj, metav1.UpdateOptions{}); err != nil {
			return err
		}
		fmt.Fprintf(out, "certificatesigningrequest.certificates.k8s.io/%s %s\n", cli.Printable(name), strings.ToLower(string(d.t)))
		return nil
	})
}

// summary is the line shown before a decision: what the certificate would say and who
// asked for it, escaped (cli.Printable).
func summary(d decoded) string {
	obj := d.obj
	return fmt.Sprintf("%s: CN=%s O=%s SANs=%s signer=%s usages=[%s] duration=%s requester=%s key=%s",
		cli.Printable(obj.Name), d.cn(), d.groups(), d.sans(false), cli.Printable(obj.Spec.SignerName), joinUsages(obj.Spec.Usages), requested(obj), cli.Printable(obj.Spec.Username), d.key())
}

// refuseDoomed returns why a CSR must not be approved without --force: its built-in
// signer's rules refuse it, so it would end Failed (what kcsr doctor reports).
func refuseDoomed(obj *certificatesv1.CertificateSigningRequest, req *x509.CertificateRequest) error {
	rules := csr.SignerRules(obj.Spec.SignerName)
	if req == nil || rules == nil {
		return nil
	}
	if err := rules(req, obj.Spec.Usages); err != nil {
		return fmt.Errorf("refusing to approve %s: its signer %s would refuse it after approval (%v), and it would end Failed; deny it and ask for a corrected request, or pass --force to approve it anyway",
			cli.Printable(obj.Name), obj.Spec.SignerName, err)
	}
	return nil
}

// refuseSystemMasters returns why a CSR must not be approved without --force: its subject
// asks for group system:masters, whose members bypass every authorization check.
func refuseSystemMasters(obj *certificatesv1.CertificateSigningRequest, req *x509.CertificateRequest) error {
	if req == nil || !slices.Contains(req.Subject.Organization, user.SystemPrivilegedGroup) {
		return nil
	}
	why := "a certificate from any CA the API server trusts for clients would make its holder a member of system:masters"
	if obj.Spec.SignerName == csr.KubeAPIServerClientSignerName {
		why = "the API server would authenticate its holder as a member of system:masters"
	}
	return fmt.Errorf("refusing to approve %s: it asks for group system:masters (O=system:masters), and %s, a superuser that bypasses every authorization check and that RBAC cannot restrict or revoke; grant permissions with RBAC instead, or pass --force if this is really intended",
		obj.Name, why)
}

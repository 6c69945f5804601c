package admin

import (
	"bufio"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/spf13/cobra"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/clock"

	"kcsr.dev/kcsr/pkg/announce"
	"kcsr.dev/kcsr/pkg/cli"
	"kcsr.dev/kcsr/pkg/cli/doctor"
	"kcsr.dev/kcsr/pkg/csr"
)

// decision is one `kcsr approve` or `kcsr deny`.
type decision struct {
	t               certificatesv1.RequestConditionType
	reason, message string
	force, dryRun   bool
	// yes approves without asking a CSR that kcsr approve would refuse (force does too).
	yes   bool
	clock clock.PassiveClock
	// in is where the answer to "approve it anyway?" is read, nil to never ask; warnings
	// go to errOut.
	in     *bufio.Reader
	errOut io.Writer
	// uid, when set, is the CSR reviewed: a CSR of the same name with another uid (deleted
	// and created again since) is not decided.
	uid types.UID
	// served reads which signers are announced (package announce), once per command:
	// nil when they cannot be read.
	served func(ctx context.Context) *announce.Announcements
}

// selection is --all and its filters: which CSRs a decision applies to when none is named.
type selection struct {
	all, pending              bool
	signer, requester, labels string
}

// names lists the CSRs the selection picks, by name, a page at a time.
func (sel selection) names(ctx context.Context, client kubernetes.Interface) ([]string, error) {
	opts := metav1.ListOptions{LabelSelector: sel.labels, Limit: 500}
	if sel.signer != "" {
		opts.FieldSelector = "spec.signerName=" + sel.signer
	}
	var names []string
	for {
		list, err := client.CertificatesV1().CertificateSigningRequests().List(ctx, opts)
		if err != nil {
			return nil, err
		}
		for i := range list.Items {
			obj := &list.Items[i]
			if sel.requester != "" && obj.Spec.Username != sel.requester || sel.signer != "" && obj.Spec.SignerName != sel.signer {
				continue
			}
			if sel.pending && csr.StateOf(obj) != csr.Pending {
				continue
			}
			names = append(names, obj.Name)
		}
		if list.Continue == "" {
			return names, nil
		}
		opts.Continue = list.Continue
	}
}

// validate checks that names and the selection do not contradict each other.
func (sel selection) validate(names []string) error {
	filters := sel.signer != "" || sel.requester != "" || sel.labels != ""
	switch {
	case sel.all && len(names) > 0:
		return errors.New("give CSR names or --all, not both")
	case !sel.all && len(names) == 0:
		return errors.New("name the CSRs to decide, or give --all (with --signer, --requester, -l to narrow it)")
	case !sel.all && filters:
		return errors.New("--signer, --requester and -l narrow --all; give --all, or name the CSRs")
	}
	return nil
}

// NewDecisionCommand returns `kcsr approve` (t = Approved) or `kcsr deny` (t = Denied).
func NewDecisionCommand(out io.Writer, t certificatesv1.RequestConditionType) *cobra.Command {
	var conn cli.Connection
	var sel selection
	d := decision{t: t, clock: clock.RealClock{}, errOut: io.Discard}
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

Asked about first (approved only on "yes", or with --yes): a CSR whose subject asks for
group system:masters (O=system:masters), since that group bypasses every authorization
check and RBAC cannot restrict or revoke it; a CSR its built-in signer's rules refuse
(usages or names they forbid), since it would only end Failed; and a CSR for a signerName
no running kcsr signer announces (kcsr server and kcsr controller announce theirs in
Leases in kube-system), since it would never be issued: a misspelled name, or a signer
whose controller is down. With no announcement at all (a cluster whose signers are not
kcsr's) the last check is skipped.`
	}
	cmd := &cobra.Command{
		Use:   verb + " (NAME... | --all [--signer S] [--requester U] [-l SELECTOR])",
		Short: strings.ToUpper(verb[:1]) + verb[1:] + " CSRs, showing what is being " + done,
		Long:  long,
		Example: "  kcsr " + verb + " rahul --message \"checked with rahul's manager\"\n\n" +
			"  # Every pending CSR of one requester and signer: see first, then decide\n" +
			"  kcsr " + verb + " --all --requester system:serviceaccount:ci:builder --signer example.com/ci --dry-run\n" +
			"  kcsr " + verb + " --all --requester system:serviceaccount:ci:builder --signer example.com/ci",
		RunE: func(cmd *cobra.Command, names []string) error {
			if err := sel.validate(names); err != nil {
				return err
			}
			client, err := clientset(&conn)
			if err != nil {
				return err
			}
			d.in, d.errOut = bufio.NewReader(cmd.InOrStdin()), cmd.ErrOrStderr()
			d.served = servedOnce(client, d.clock)
			if sel.all {
				if names, err = sel.names(cmd.Context(), client); err != nil {
					return fmt.Errorf("list CSRs: %w", err)
				}
				if len(names) == 0 {
					fmt.Fprintln(out, "no CSR matches")
					return nil
				}
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
	cmd.ValidArgsFunction = cli.CompleteCSRNames(&conn, 0)
	cmd.Flags().StringVar(&d.reason, "reason", defaultReason, "The condition's reason.")
	cmd.Flags().StringVar(&d.message, "message", "This CSR was "+done+" by kcsr "+verb+".", "The condition's message.")
	forceHelp := "Update the CSR even if it is already " + strings.ToLower(string(t)) + "."
	if t == certificatesv1.CertificateApproved {
		forceHelp += " Implies --yes."
		cmd.Flags().BoolVarP(&d.yes, "yes", "y", false, "Approve without asking a CSR asking for group system:masters, one its signer will refuse, or one no running signer serves (a warning is printed).")
	}
	cmd.Flags().BoolVar(&d.force, "force", false, forceHelp)
	cmd.Flags().BoolVar(&d.dryRun, "dry-run", false, "Show each CSR and what would be decided, and write nothing.")
	cmd.Flags().BoolVar(&sel.all, "all", false, "Decide every CSR the filters pick (by default the pending ones) instead of named ones.")
	cmd.Flags().BoolVar(&sel.pending, "pending", true, "With --all: only CSRs neither approved, denied nor failed; --pending=false takes them all.")
	cmd.Flags().StringVar(&sel.signer, "signer", "", "With --all: only CSRs of this signerName.")
	cmd.Flags().StringVar(&sel.requester, "requester", "", "With --all: only CSRs created by this user (spec.username).")
	cmd.Flags().StringVarP(&sel.labels, "selector", "l", "", "With --all: only CSRs with these labels (a label selector, as kubectl's -l).")
	return cmd
}

// apply writes the decision on one CSR, printing what is being decided first.
func (d decision) apply(ctx context.Context, out io.Writer, client kubernetes.Interface, name string) error {
	csrs := client.CertificatesV1().CertificateSigningRequests()
	shown, confirmed := false, false
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		obj, err := csrs.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if d.uid != "" && obj.UID != d.uid {
			return fmt.Errorf("certificate signing request %q is not the one reviewed: it was deleted and created again (uid %s, reviewed %s); review it again", name, obj.UID, d.uid)
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
			return &DecidedError{Name: name, State: other}
		}
		already := csr.HasCondition(obj, d.t)
		if already && !d.force {
			fmt.Fprintf(out, "certificatesigningrequest.certificates.k8s.io/%s already %s\n", cli.Printable(name), strings.ToLower(string(d.t)))
			return nil
		}
		if d.t == certificatesv1.CertificateApproved && !confirmed {
			if err := d.confirm(out, obj.Name, errors.Join(refuseSystemMasters(obj, dec.req), refuseDoomed(obj, dec.req), refuseUnserved(obj, d.announced(ctx)))); err != nil {
				return err
			}
			confirmed = true
		}
		if d.dryRun {
			fmt.Fprintf(out, "certificatesigningrequest.certificates.k8s.io/%s %s (dry run)\n", cli.Printable(name), strings.ToLower(string(d.t)))
			return nil
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

// confirm lets an approval refused for why (nil: not refused) go on: with --yes or
// --force after a warning, else on a "yes" read from d.in. A dry run never asks.
func (d decision) confirm(out io.Writer, name string, why error) error {
	if why == nil {
		return nil
	}
	if d.yes || d.force {
		if d.errOut != nil {
			for _, line := range strings.Split(why.Error(), "\n") {
				fmt.Fprintf(d.errOut, "warning: %s\n", strings.Replace(line, "refusing to approve", "approving anyway", 1))
			}
		}
		return nil
	}
	if d.dryRun || d.in == nil {
		return why
	}
	fmt.Fprintf(out, "%v\napprove %s anyway? [y/N] ", why, cli.Printable(name))
	answer, _ := d.in.ReadString('\n')
	if a := strings.ToLower(strings.TrimSpace(answer)); a == "y" || a == "yes" {
		return nil
	}
	fmt.Fprintln(out)
	return why
}

// announced is what the running signers announce, nil when unknown.
func (d decision) announced(ctx context.Context) *announce.Announcements {
	if d.served == nil {
		return nil
	}
	return d.served(ctx)
}

// servedOnce reads the announcements the first time it is called, for every CSR of
// the command.
func servedOnce(client kubernetes.Interface, c clock.PassiveClock) func(context.Context) *announce.Announcements {
	var (
		once sync.Once
		a    *announce.Announcements
	)
	return func(ctx context.Context) *announce.Announcements {
		once.Do(func() {
			var err error
			if a, err = announce.Served(ctx, client, c.Now()); err != nil {
				a = nil // not allowed to read them, or an API without Leases: say nothing
			}
		})
		return a
	}
}

// refuseUnserved returns why a CSR must not be approved without --yes: its signerName is
// announced by no running kcsr signer while others are (doctor.CheckServed).
func refuseUnserved(obj *certificatesv1.CertificateSigningRequest, a *announce.Announcements) error {
	for _, f := range doctor.CheckServed(obj.Spec.SignerName, a) {
		if f.Severity != doctor.OK {
			return &Refusal{CSR: cli.Printable(obj.Name), Why: cli.PrintableText(f.Cause) + "; " + cli.PrintableText(f.Fix), hint: "; or pass --yes to approve it anyway"}
		}
	}
	return nil
}

// refuseDoomed returns why a CSR must not be approved without --yes: what kcsr doctor
// finds wrong with its signer, so that it would never be issued: the built-in signer's
// rules refuse it (it would end Failed), or its signerName is a kubernetes.io/ name no
// signer serves (misspelled: it would stay Approved and never be issued).
func refuseDoomed(obj *certificatesv1.CertificateSigningRequest, req *x509.CertificateRequest) error {
	if req == nil {
		return nil
	}
	if rules := csr.SignerRules(obj.Spec.SignerName); rules != nil {
		if err := rules(req, obj.Spec.Usages); err != nil {
			return &Refusal{CSR: cli.Printable(obj.Name),
				Why:  fmt.Sprintf("its signer %s would refuse it after approval (%v), and it would end Failed; deny it and ask for a corrected request", obj.Spec.SignerName, err),
				hint: ", or pass --yes to approve it anyway"}
		}
		return nil
	}
	for _, f := range doctor.CheckSignerRules(obj.Spec.SignerName, req, obj.Spec.Usages, nil) {
		if f.Severity == doctor.Problem {
			return &Refusal{CSR: cli.Printable(obj.Name), Why: cli.PrintableText(f.Cause) + ": " + cli.PrintableText(f.Fix) + "; deny it", hint: ", or pass --yes to approve it anyway"}
		}
	}
	return nil
}

// refuseSystemMasters returns why a CSR must not be approved without --yes: its subject
// asks for group system:masters, whose members bypass every authorization check.
func refuseSystemMasters(obj *certificatesv1.CertificateSigningRequest, req *x509.CertificateRequest) error {
	if req == nil || !slices.Contains(req.Subject.Organization, user.SystemPrivilegedGroup) {
		return nil
	}
	why := "a certificate from any CA the API server trusts for clients would make its holder a member of system:masters"
	if obj.Spec.SignerName == csr.KubeAPIServerClientSignerName {
		why = "the API server would authenticate its holder as a member of system:masters"
	}
	return &Refusal{CSR: cli.Printable(obj.Name),
		Why:  "it asks for group system:masters (O=system:masters), and " + why + ", a superuser that bypasses every authorization check and that RBAC cannot restrict or revoke; grant permissions with RBAC instead",
		hint: ", or pass --yes if this is really intended"}
}

// Refusal is why kcsr approve asks before approving a CSR: Why names the danger and the
// fix; the error adds how to go on from the command line.
type Refusal struct {
	CSR, Why string
	hint     string
}

func (r *Refusal) Error() string { return "refusing to approve " + r.CSR + ": " + r.Why + r.hint }

// ApprovalWarnings are the reasons kcsr approve would ask before approving obj (nil: it
// would not ask), given a, the announced signers (nil when unknown): the subject asks for
// system:masters, the signer's rules refuse the request, or no running signer serves it.
func ApprovalWarnings(obj *certificatesv1.CertificateSigningRequest, a *announce.Announcements) []string {
	req, _ := csr.ParseRequest(obj.Spec.Request)
	var warnings []string
	for _, err := range []error{refuseSystemMasters(obj, req), refuseDoomed(obj, req), refuseUnserved(obj, a)} {
		var r *Refusal
		if errors.As(err, &r) {
			warnings = append(warnings, r.Why)
		}
	}
	return warnings
}

// RefusalReasons returns the Why of every *Refusal in err (a Decide error).
func RefusalReasons(err error) []string {
	var out []string
	var walk func(error)
	walk = func(err error) {
		var r *Refusal
		switch e := err.(type) {
		case nil:
		case interface{ Unwrap() []error }:
			for _, inner := range e.Unwrap() {
				walk(inner)
			}
		default:
			if errors.As(err, &r) {
				out = append(out, r.Why)
			}
		}
	}
	walk(err)
	return out
}

// Decision is an approval or a denial made by a program (kcsr console) rather than a
// command line.
type Decision struct {
	Type            certificatesv1.RequestConditionType
	Reason, Message string
	// Confirmed approves a CSR ApprovalWarnings warns about; without it, such an
	// approval is refused with a *Refusal error (errors.Join of them).
	Confirmed bool
	// UID is the CSR reviewed (optional): one recreated under the same name since is
	// not decided.
	UID types.UID
}

// DecidedError is a decision refused because the CSR is already decided the other way:
// a decision is final.
type DecidedError struct {
	Name  string
	State certificatesv1.RequestConditionType
}

func (e *DecidedError) Error() string {
	return fmt.Sprintf("certificate signing request %q is already %s", e.Name, e.State)
}

// Decide writes d on the CSR name as kcsr approve and kcsr deny do: through the /approval
// subresource, refusing to deny an approved CSR or approve a denied one, leaving one
// already decided the same way alone, and retrying a conflict.
func Decide(ctx context.Context, client kubernetes.Interface, name string, d Decision, c clock.PassiveClock) error {
	dec := decision{t: d.Type, reason: d.Reason, message: d.Message, yes: d.Confirmed, uid: d.UID, clock: c, served: servedOnce(client, c)}
	return dec.apply(ctx, io.Discard, client, name)
}

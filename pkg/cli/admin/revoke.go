package admin

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/cli"
	kcsrclient "kcsr.dev/kcsr/pkg/generated/clientset/versioned"
)

// certificateSelector finds inventory records by serial, CSR name or fingerprint.
type certificateSelector struct {
	csrName, fingerprint string
}

func (s *certificateSelector) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&s.csrName, "csr", "", "Select the certificate issued for this CSR name.")
	cmd.Flags().StringVar(&s.fingerprint, "fingerprint", "", "Select the certificate by SHA-256 fingerprint (hex, colons allowed, or the whole line openssl x509 -noout -fingerprint -sha256 prints).")
}

// find returns the records of the one certificate selected by args (a serial) or the
// flags: one record, or several of the same certificate (recorded twice: a revocation
// must reach every record, as the login check refuses a certificate any of whose records
// is revoked).
func (s *certificateSelector) find(cmd *cobra.Command, kcsr kcsrclient.Interface, args []string) ([]kcsrv1alpha1.IssuedCertificate, error) {
	var selector, what string
	switch {
	case len(args) == 1 && s.csrName == "" && s.fingerprint == "":
		serial, err := NormalizeSerial(args[0])
		if err != nil {
			return nil, err
		}
		selector, what = "spec.serialNumber="+serial, "serial "+serial
	case len(args) == 0 && s.csrName != "" && s.fingerprint == "":
		selector, what = fields.OneTermEqualSelector("spec.csrName", s.csrName).String(), "CSR "+s.csrName
	case len(args) == 0 && s.csrName == "" && s.fingerprint != "":
		// As openssl prints it too: "sha256 Fingerprint=AB:CD:…".
		fp := s.fingerprint
		if _, value, ok := strings.Cut(fp, "="); ok {
			fp = value
		}
		fp = strings.ToLower(strings.ReplaceAll(strings.TrimSpace(fp), ":", ""))
		selector, what = "spec.sha256Fingerprint="+fp, "fingerprint "+fp
	default:
		return nil, errors.New("name the certificate one way: SERIAL, --csr NAME or --fingerprint SHA256")
	}
	records, err := cli.IssuedCertificates(cmd.Context(), kcsr, selector)
	if err != nil {
		return nil, fmt.Errorf("look up %s: %w", what, err)
	}
	if len(records) == 0 {
		return nil, fmt.Errorf("no issued certificate with %s; list them with kubectl get issuedcertificates", what)
	}
	certs := map[string]bool{}
	var described []string
	for _, ic := range records {
		if fp := strings.ToLower(ic.Spec.SHA256Fingerprint); !certs[fp] {
			certs[fp] = true
			described = append(described, describeRecord(&ic)+", fingerprint "+fp)
		}
	}
	if len(certs) > 1 {
		return nil, fmt.Errorf("%s matches %d certificates: %s; name one with --fingerprint", what, len(certs), strings.Join(described, "; "))
	}
	return records, nil
}

// NormalizeSerial accepts hex with or without colons or 0x, or decimal with a "d:" prefix.
func NormalizeSerial(s string) (string, error) {
	if dec, ok := strings.CutPrefix(s, "d:"); ok {
		n, ok := new(big.Int).SetString(dec, 10)
		if !ok {
			return "", fmt.Errorf("serial %q is not a decimal number", s)
		}
		return n.Text(16), nil
	}
	h := strings.TrimPrefix(strings.ToLower(strings.ReplaceAll(s, ":", "")), "0x")
	n, ok := new(big.Int).SetString(h, 16)
	if !ok || n.Sign() <= 0 {
		return "", fmt.Errorf("serial %q is not a hexadecimal serial number (give decimal as d:123)", s)
	}
	return n.Text(16), nil
}

// connectAndFind connects with conn and returns the client and the records of the one
// certificate the
// arguments and flags name.
func (s *certificateSelector) connectAndFind(cmd *cobra.Command, conn *cli.Connection, args []string) (kcsrclient.Interface, []kcsrv1alpha1.IssuedCertificate, error) {
	_, kcsr, _, err := conn.Clients()
	if err != nil {
		return nil, nil, err
	}
	records, err := s.find(cmd, kcsr, args)
	return kcsr, records, err
}

// NewRevokeCommand returns `kcsr revoke`.
func NewRevokeCommand(out io.Writer) *cobra.Command {
	var (
		conn            cli.Connection
		sel             certificateSelector
		reason, message string
		off             offboarding
	)
	cmd := &cobra.Command{
		Use:   "revoke (SERIAL | --csr NAME | --fingerprint SHA256 | --user CN [--group O ...])",
		Short: "Revoke an issued certificate: it stops authenticating at once and is listed in the CRL and OCSP",
		Long: `Revokes a certificate of the inventory. kcsr server refuses it at login within a second,
lists it in its CA's CRL and answers "revoked" over OCSP. A revocation is final, except
for reason certificateHold, which kcsr unrevoke lifts.

It needs the verb "revoke" on issuedcertificates.kcsr.dev (the kcsr:revoker ClusterRole),
which no user has by default.

Reasons: ` + strings.Join(kcsrv1alpha1.RevocationReasons, ", "),
		Example: `  kcsr revoke 3f9a0c… --reason keyCompromise
  kcsr revoke --csr rahul --reason affiliationChanged --message "left the team"
  kcsr revoke --fingerprint AB:CD:… --reason certificateHold

  # Offboarding: every valid certificate of rahul, listed first, then revoked on "yes"
  kcsr revoke --user rahul --reason affiliationChanged

  # The server's own admin certificate (it is in the inventory too, signer kcsr.dev/pki)
  kcsr revoke --fingerprint "$(openssl x509 -in DATA/pki/admin.crt -noout -fingerprint -sha256)" --reason superseded`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !slices.Contains(kcsrv1alpha1.RevocationReasons, reason) {
				return fmt.Errorf("--reason %q is not a revocation reason; use one of %s", reason, strings.Join(kcsrv1alpha1.RevocationReasons, ", "))
			}
			if off.user != "" || len(off.groups) > 0 {
				if len(args) > 0 || sel.csrName != "" || sel.fingerprint != "" {
					return errors.New("name the certificates one way: SERIAL, --csr NAME, --fingerprint SHA256, or --user CN (with --group)")
				}
				return off.run(cmd, out, &conn, reason, message)
			}
			kcsr, records, err := sel.connectAndFind(cmd, &conn, args)
			if err != nil {
				return err
			}
			var due []*kcsrv1alpha1.IssuedCertificate
			for i := range records {
				if r := records[i].Status.Revocation; r == nil || r.Reason == kcsrv1alpha1.ReasonCertificateHold {
					due = append(due, &records[i])
				}
			}
			if len(due) == 0 {
				r := records[0].Status.Revocation
				return fmt.Errorf("certificate %s is already revoked (%s, by %s)", records[0].Spec.SerialNumber, r.Reason, r.RevokedBy)
			}
			var errs []error
			for _, ic := range due {
				if err := revokeOne(cmd, out, kcsr, ic, reason, message); err != nil {
					errs = append(errs, err)
				}
			}
			return errors.Join(errs...)
		},
	}
	conn.AddFlags(cmd.Flags())
	sel.addFlags(cmd)
	off.addFlags(cmd)
	cmd.Flags().StringVar(&reason, "reason", "unspecified", "RFC 5280 revocation reason: "+strings.Join(kcsrv1alpha1.RevocationReasons, ", ")+".")
	_ = cmd.RegisterFlagCompletionFunc("reason", cobra.FixedCompletions(kcsrv1alpha1.RevocationReasons, cobra.ShellCompDirectiveNoFileComp))
	cmd.Flags().StringVar(&message, "message", "", "Why, for people reading the inventory.")
	return cmd
}

// revokeOne revokes ic and says so.
func revokeOne(cmd *cobra.Command, out io.Writer, kcsr kcsrclient.Interface, ic *kcsrv1alpha1.IssuedCertificate, reason, message string) error {
	out2, err := RevokeRecord(cmd.Context(), kcsr, ic.Name, reason, message)
	if apierrors.IsForbidden(err) {
		return fmt.Errorf("revoke %s: %w; revoking needs the verb revoke on issuedcertificates.kcsr.dev, which the kcsr:revoker ClusterRole grants (an administrator runs: kubectl create clusterrolebinding NAME --clusterrole kcsr:revoker --user YOU)", ic.Spec.SerialNumber, err)
	}
	if err != nil {
		return fmt.Errorf("revoke %s: %w", ic.Spec.SerialNumber, err)
	}
	fmt.Fprintf(out, "revoked certificate %s: %s\n", describeRecord(out2), reason)
	if up := out2.Annotations[kcsrv1alpha1.UpstreamAnnotation]; up != "" && reason != kcsrv1alpha1.ReasonCertificateHold {
		return reportUpstream(cmd.Context(), out, kcsr, out2.Name, up, upstreamWait)
	}
	return nil
}

// upstreamWait is how long kcsr revoke waits for the upstream's answer.
const upstreamWait = 20 * time.Second

// reportUpstream waits up to wait for the upstream's answer to a revocation (the server
// asks it, and writes the answer on the record) and prints it; an answer that is not a
// revocation is an error, so that a script sees it.
func reportUpstream(ctx context.Context, out io.Writer, kcsr kcsrclient.Interface, name, up string, timeout time.Duration) error {
	var answer string
	_ = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		ic, err := kcsr.KcsrV1alpha1().IssuedCertificates().Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			answer = ic.Annotations[kcsrv1alpha1.UpstreamRevocationAnnotation]
		}
		return strings.HasPrefix(answer, "revoked at ") || strings.HasPrefix(answer, "refused: "), nil
	})
	switch {
	case strings.HasPrefix(answer, "revoked at "):
		fmt.Fprintf(out, "%s\n", cli.Printable(answer))
		return nil
	case strings.HasPrefix(answer, "refused: "):
		return fmt.Errorf("kcsr did not ask %s to revoke the certificate, %s; kcsr refuses it at login already", cli.Printable(up), cli.Printable(answer))
	case answer != "":
		return fmt.Errorf("the certificate was issued by %s, which has %s; kcsr refuses it at login already", cli.Printable(up), cli.Printable(answer))
	default:
		return fmt.Errorf("the certificate was issued by %s, which has not answered within %s; kcsr refuses it at login already, and the server keeps asking (see the record's %s annotation)", cli.Printable(up), timeout, kcsrv1alpha1.UpstreamRevocationAnnotation)
	}
}

// RevokeRecord revokes the IssuedCertificate name with reason and message, at this
// machine's time, retrying a conflict; the server records who revoked it.
func RevokeRecord(ctx context.Context, kcsr kcsrclient.Interface, name, reason, message string) (*kcsrv1alpha1.IssuedCertificate, error) {
	var ic *kcsrv1alpha1.IssuedCertificate
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := kcsr.KcsrV1alpha1().IssuedCertificates().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		// The time is set here: kcsr server would stamp it, but a real cluster's
		// IssuedCertificate CRD (kcsr controller) requires it from the client.
		cur.Status.Revocation = &kcsrv1alpha1.Revocation{Reason: reason, Message: message, Time: metav1.Now()}
		ic, err = kcsr.KcsrV1alpha1().IssuedCertificates().UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	return ic, err
}

// describeRecord is one line about a record: serial, subject, signer, origin.
func describeRecord(ic *kcsrv1alpha1.IssuedCertificate) string {
	origin := "CSR " + cli.Printable(ic.Spec.CSRName)
	if ic.Spec.SignerName == kcsrv1alpha1.PKISignerName {
		origin = "issued by the server's PKI"
	}
	subject := "CN=" + cli.Printable(ic.Spec.CommonName)
	if len(ic.Spec.Organizations) > 0 {
		subject += " O=" + cli.Printable(strings.Join(ic.Spec.Organizations, ","))
	}
	return fmt.Sprintf("%s (%s, signer %s, %s)", cli.Printable(ic.Spec.SerialNumber), subject, cli.Printable(ic.Spec.SignerName), origin)
}

// offboarding revokes every valid certificate of an identity: its user (CN), and with
// groups only those carrying every one of them (O).
type offboarding struct {
	user   string
	groups []string
	yes    bool
}

func (f *offboarding) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.user, "user", "", "Revoke every valid certificate of this user (subject CN), listing them first.")
	cmd.Flags().StringSliceVar(&f.groups, "group", nil, "With --user: only the certificates carrying this group (subject O; repeatable, all must match).")
	cmd.Flags().BoolVar(&f.yes, "yes", false, "With --user: revoke without asking.")
}

func (f *offboarding) run(cmd *cobra.Command, out io.Writer, conn *cli.Connection, reason, message string) error {
	if f.user == "" {
		return errors.New("--group selects among the certificates of --user: give --user too")
	}
	_, kcsr, _, err := conn.Clients()
	if err != nil {
		return err
	}
	records, err := cli.IssuedCertificates(cmd.Context(), kcsr, "spec.commonName="+f.user)
	if err != nil {
		return fmt.Errorf("look up the certificates of %s: %w", f.user, err)
	}
	now := time.Now()
	var due []*kcsrv1alpha1.IssuedCertificate
	for i := range records {
		ic := &records[i]
		revoked := ic.Status.Revocation != nil && ic.Status.Revocation.Reason != kcsrv1alpha1.ReasonCertificateHold
		if revoked || !now.Before(ic.Spec.NotAfter.Time) || !containsAll(ic.Spec.Organizations, f.groups) {
			continue
		}
		due = append(due, ic)
	}
	who := "user " + cli.Printable(f.user)
	if len(f.groups) > 0 {
		who += " in " + cli.Printable(strings.Join(f.groups, ", "))
	}
	if len(due) == 0 {
		return fmt.Errorf("no valid certificate of %s to revoke ("+cli.Self+" get, kubectl get issuedcertificates --field-selector spec.commonName=%s)", who, cli.Printable(f.user))
	}
	fmt.Fprintf(out, "valid certificates of %s:\n", who)
	for _, ic := range due {
		fmt.Fprintf(out, "  %s, valid until %s\n", describeRecord(ic), ic.Spec.NotAfter.UTC().Format(time.RFC3339))
	}
	if !f.yes {
		what := fmt.Sprintf("these %d certificates", len(due))
		if len(due) == 1 {
			what = "this certificate"
		}
		fmt.Fprintf(out, "revoke %s (reason %s)? [y/N] ", what, reason)
		answer, _ := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
			return errors.New("nothing revoked (answer yes, or give --yes)")
		}
	}
	var errs []error
	for _, ic := range due {
		if err := revokeOne(cmd, out, kcsr, ic, reason, message); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// containsAll reports whether have holds every one of want.
func containsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// NewUnrevokeCommand returns `kcsr unrevoke`.
func NewUnrevokeCommand(out io.Writer) *cobra.Command {
	var (
		conn cli.Connection
		sel  certificateSelector
	)
	cmd := &cobra.Command{
		Use:   "unrevoke (SERIAL | --csr NAME | --fingerprint SHA256)",
		Short: "Lift a certificateHold revocation",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			kcsr, records, err := sel.connectAndFind(cmd, &conn, args)
			if err != nil {
				return err
			}
			// Every record of the certificate: a hold lifted from one record only would
			// leave the certificate refused.
			var held []*kcsrv1alpha1.IssuedCertificate
			for i := range records {
				switch r := records[i].Status.Revocation; {
				case r == nil:
				case r.Reason != kcsrv1alpha1.ReasonCertificateHold:
					return fmt.Errorf("certificate %s was revoked for %s; only a certificateHold can be lifted: issue a new certificate instead", records[i].Spec.SerialNumber, r.Reason)
				default:
					held = append(held, &records[i])
				}
			}
			if len(held) == 0 {
				return fmt.Errorf("certificate %s is not revoked", records[0].Spec.SerialNumber)
			}
			for _, ic := range held {
				ic.Status.Revocation = nil
				if _, err := kcsr.KcsrV1alpha1().IssuedCertificates().UpdateStatus(cmd.Context(), ic, metav1.UpdateOptions{}); err != nil {
					return fmt.Errorf("unrevoke %s: %w", ic.Spec.SerialNumber, err)
				}
			}
			fmt.Fprintf(out, "certificate %s is valid again (certificateHold lifted)\n", records[0].Spec.SerialNumber)
			return nil
		},
	}
	conn.AddFlags(cmd.Flags())
	sel.addFlags(cmd)
	return cmd
}

// Package admin is the administrator half of the kcsr CLI: `kcsr get`, `kcsr describe`,
// `kcsr approve` and `kcsr deny`. They show CSRs decoded (subject, SANs, key), and write
// decisions through the /approval subresource with kubectl's semantics, refusing to
// approve a system:masters certificate unless forced.
package admin

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"kcsr.dev/kcsr/pkg/cli"
	"kcsr.dev/kcsr/pkg/csr"
	"kcsr.dev/kcsr/pkg/pki"
	"kcsr.dev/kcsr/pkg/registry/certificates/certificatesigningrequest"
)

// decoded is a CSR with its request parsed.
type decoded struct {
	obj *certificatesv1.CertificateSigningRequest
	req *x509.CertificateRequest
	err error
}

func decode(obj *certificatesv1.CertificateSigningRequest) decoded {
	req, err := csr.ParseRequest(obj.Spec.Request)
	return decoded{obj: obj, req: req, err: err}
}

func (d decoded) cn() string {
	if d.req == nil {
		return "<unreadable>"
	}
	return d.req.Subject.CommonName
}

func (d decoded) groups() string {
	if d.req == nil || len(d.req.Subject.Organization) == 0 {
		return "<none>"
	}
	return strings.Join(d.req.Subject.Organization, ",")
}

func (d decoded) sans() string {
	if d.req == nil {
		return "<none>"
	}
	var s []string
	s = append(s, d.req.DNSNames...)
	for _, ip := range d.req.IPAddresses {
		s = append(s, ip.String())
	}
	for _, u := range d.req.URIs {
		s = append(s, u.String())
	}
	s = append(s, d.req.EmailAddresses...)
	if len(s) == 0 {
		return "<none>"
	}
	return strings.Join(s, ",")
}

func (d decoded) key() string {
	if d.req == nil {
		return "<unreadable>"
	}
	return csr.KeyAlgorithm(d.req.PublicKey)
}

func requested(obj *certificatesv1.CertificateSigningRequest) string {
	if obj.Spec.ExpirationSeconds == nil {
		return "<none>"
	}
	return duration.HumanDuration(time.Duration(*obj.Spec.ExpirationSeconds) * time.Second)
}

// NewGetCommand returns `kcsr get`.
func NewGetCommand(out io.Writer) *cobra.Command {
	var conn cli.Connection
	cmd := &cobra.Command{
		Use:     "get [NAME...]",
		Short:   "List CSRs with kubectl's columns plus the decoded subject, SANs and key",
		Example: "  kcsr get\n  kcsr get rahul",
		RunE: func(cmd *cobra.Command, names []string) error {
			client, err := clientset(&conn)
			if err != nil {
				return err
			}
			var items []certificatesv1.CertificateSigningRequest
			if len(names) == 0 {
				list, err := client.CertificatesV1().CertificateSigningRequests().List(cmd.Context(), metav1.ListOptions{})
				if err != nil {
					return err
				}
				items = list.Items
			}
			for _, n := range names {
				obj, err := client.CertificatesV1().CertificateSigningRequests().Get(cmd.Context(), n, metav1.GetOptions{})
				if err != nil {
					return err
				}
				items = append(items, *obj)
			}
			w := tabwriter.NewWriter(out, 0, 4, 3, ' ', 0)
			fmt.Fprintln(w, "NAME\tAGE\tSIGNERNAME\tREQUESTOR\tREQUESTEDDURATION\tCONDITION\tCN\tGROUPS\tSANS\tKEY")
			for i := range items {
				obj := &items[i]
				d := decode(obj)
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", obj.Name, duration.HumanDuration(time.Since(obj.CreationTimestamp.Time)), obj.Spec.SignerName, obj.Spec.Username, requested(obj), certificatesigningrequest.ConditionString(obj), d.cn(), d.groups(), d.sans(), d.key())
			}
			return w.Flush()
		},
	}
	conn.AddFlags(cmd.Flags())
	return cmd
}

// NewDescribeCommand returns `kcsr describe`.
func NewDescribeCommand(out io.Writer) *cobra.Command {
	var conn cli.Connection
	cmd := &cobra.Command{
		Use:     "describe NAME",
		Short:   "Show a CSR decoded: requester, subject, SANs, key, conditions, verdicts, certificate",
		Example: "  kcsr describe rahul",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			client, err := clientset(&conn)
			if err != nil {
				return err
			}
			obj, err := client.CertificatesV1().CertificateSigningRequests().Get(cmd.Context(), args[0], metav1.GetOptions{})
			if err != nil {
				return err
			}
			describe(out, obj)
			return nil
		},
	}
	conn.AddFlags(cmd.Flags())
	return cmd
}

func describe(out io.Writer, obj *certificatesv1.CertificateSigningRequest) {
	d := decode(obj)
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	p := func(k, v string) { fmt.Fprintf(w, "%s:\t%s\n", k, v) }
	p("Name", obj.Name)
	p("Created", obj.CreationTimestamp.UTC().Format(time.RFC3339))
	p("Status", certificatesigningrequest.ConditionString(obj))
	p("Signer", obj.Spec.SignerName)
	p("Requested duration", requested(obj))
	p("Usages", joinUsages(obj.Spec.Usages))
	p("Requester", fmt.Sprintf("%s (groups %s)", obj.Spec.Username, strings.Join(obj.Spec.Groups, ", ")))
	if ids := obj.Spec.Extra["authentication.kubernetes.io/credential-id"]; len(ids) > 0 {
		p("Requester credential", strings.Join(ids, ", "))
	}
	if d.err != nil {
		p("Request", "unreadable: "+d.err.Error())
	} else {
		p("Subject CN", d.cn())
		p("Subject O", d.groups())
		if len(d.req.Subject.OrganizationalUnit) > 0 {
			p("Subject OU", strings.Join(d.req.Subject.OrganizationalUnit, ","))
		}
		p("SANs", d.sans())
		p("Key", d.key())
		p("Request signature", d.req.SignatureAlgorithm.String())
	}
	for _, c := range obj.Status.Conditions {
		p("Condition "+string(c.Type), fmt.Sprintf("%s: %s (%s)", c.Reason, c.Message, c.LastUpdateTime.UTC().Format(time.RFC3339)))
	}
	if v := obj.Annotations["kcsr.dev/approval-verdict"]; v != "" {
		p("Approval verdict", v)
	}
	if len(obj.Status.Certificate) > 0 {
		if cert, err := pki.ParseCert(obj.Status.Certificate); err == nil {
			p("Certificate serial", cert.SerialNumber.Text(16))
			p("Certificate issuer", cert.Issuer.String())
			left := time.Until(cert.NotAfter)
			state := duration.HumanDuration(left) + " left"
			if left < 0 {
				state = "EXPIRED"
			}
			p("Certificate validity", fmt.Sprintf("%s to %s (%s)", cert.NotBefore.UTC().Format(time.RFC3339), cert.NotAfter.UTC().Format(time.RFC3339), state))
		}
	}
	w.Flush()
}

func joinUsages(us []certificatesv1.KeyUsage) string {
	s := make([]string, len(us))
	for i, u := range us {
		s[i] = string(u)
	}
	return strings.Join(s, ", ")
}

func clientset(conn *cli.Connection) (kubernetes.Interface, error) {
	k, _, _, err := conn.Clients()
	return k, err
}

// NewDecisionCommand returns `kcsr approve` or `kcsr deny`.
func NewDecisionCommand(out io.Writer, t certificatesv1.RequestConditionType) *cobra.Command {
	var (
		conn            cli.Connection
		reason, message string
		force           bool
	)
	verb, defaultReason := "approve", "KcsrApprove"
	if t == certificatesv1.CertificateDenied {
		verb, defaultReason = "deny", "KcsrDeny"
	}
	cmd := &cobra.Command{
		Use:   verb + " NAME...",
		Short: strings.ToUpper(verb[:1]) + verb[1:] + " CSRs, showing what is being " + verb + "d",
		Long: `Shows each CSR decoded (subject, SANs, signer, usages, duration, requester), then writes
the decision through the /approval subresource, as kubectl certificate ` + verb + ` does.
A decision is final: approving a Denied CSR (or the reverse) is refused.` + map[bool]string{true: `
A CSR asking for group system:masters is refused without --force: that group bypasses
every authorization check.`, false: ""}[t == certificatesv1.CertificateApproved],
		Example: "  kcsr " + verb + " rahul --message \"checked with rahul's manager\"",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, names []string) error {
			client, err := clientset(&conn)
			if err != nil {
				return err
			}
			var errs []error
			for _, name := range names {
				if err := decide(cmd.Context(), out, client, name, t, reason, message, force); err != nil {
					errs = append(errs, err)
				}
			}
			return errors.Join(errs...)
		},
	}
	conn.AddFlags(cmd.Flags())
	cmd.Flags().StringVar(&reason, "reason", defaultReason, "The condition's reason.")
	cmd.Flags().StringVar(&message, "message", "This CSR was "+verb+"d by kcsr "+verb+".", "The condition's message.")
	cmd.Flags().BoolVar(&force, "force", false, "Write even if already decided the same way; approve a system:masters request.")
	return cmd
}

func decide(ctx context.Context, out io.Writer, client kubernetes.Interface, name string, t certificatesv1.RequestConditionType, reason, message string, force bool) error {
	csrs := client.CertificatesV1().CertificateSigningRequests()
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		obj, err := csrs.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		d := decode(obj)
		fmt.Fprintf(out, "%s: CN=%s O=%s SANs=%s signer=%s usages=[%s] duration=%s requester=%s key=%s\n",
			name, d.cn(), d.groups(), d.sans(), obj.Spec.SignerName, joinUsages(obj.Spec.Usages), requested(obj), obj.Spec.Username, d.key())
		other := certificatesv1.CertificateDenied
		if t == certificatesv1.CertificateDenied {
			other = certificatesv1.CertificateApproved
		}
		for _, c := range obj.Status.Conditions {
			if c.Type == other {
				return fmt.Errorf("certificate signing request %q is already %s", name, other)
			}
		}
		already := slices.ContainsFunc(obj.Status.Conditions, func(c certificatesv1.CertificateSigningRequestCondition) bool { return c.Type == t })
		if already && !force {
			fmt.Fprintf(out, "certificatesigningrequest.certificates.k8s.io/%s already %s\n", name, strings.ToLower(string(t)))
			return nil
		}
		if t == certificatesv1.CertificateApproved && !force && d.req != nil && slices.Contains(d.req.Subject.Organization, "system:masters") {
			return fmt.Errorf("refusing to approve %s: it asks for group system:masters, which bypasses every authorization check; use --force if that is really intended", name)
		}
		if !already {
			obj.Status.Conditions = append(obj.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
				Type: t, Status: "True", Reason: reason, Message: message, LastUpdateTime: metav1.Now(),
			})
		}
		if _, err := csrs.UpdateApproval(ctx, name, obj, metav1.UpdateOptions{}); err != nil {
			return err
		}
		fmt.Fprintf(out, "certificatesigningrequest.certificates.k8s.io/%s %s\n", name, strings.ToLower(string(t)))
		return nil
	})
}

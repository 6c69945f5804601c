package admin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/cli"
	"kcsr.dev/kcsr/pkg/csr"
	kcsrclient "kcsr.dev/kcsr/pkg/generated/clientset/versioned"
	"kcsr.dev/kcsr/pkg/pemutil"
)

// credentialIDKey is the user extra in which Kubernetes records the credential a request
// was made with (X509SHA256=<fingerprint> for a client certificate).
const credentialIDKey = "authentication.kubernetes.io/credential-id"

// NewDescribeCommand returns `kcsr describe`.
func NewDescribeCommand(out io.Writer) *cobra.Command {
	var conn cli.Connection
	cmd := &cobra.Command{
		Use:   "describe NAME",
		Short: "Show a CSR decoded: requester, subject, SANs, key, conditions, verdicts, certificate",
		Long: `Shows everything a CSR holds, decoded: who requested it (user, groups, uid, the credential
used), the signer, the requested duration and usages, the request's subject, SANs, key and
signature, every condition with its reason and message, the approver's verdict (why kcsr's
approver left it to a person), and for an issued CSR the certificate's serial, issuer,
validity and time left, and its IssuedCertificate inventory record.`,
		Example: "  kcsr describe rahul",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			client, kcsr, _, err := conn.Clients()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			obj, err := client.CertificatesV1().CertificateSigningRequests().Get(ctx, args[0], metav1.GetOptions{})
			if err != nil {
				return err
			}
			describe(out, obj, FetchDescribeExtras(ctx, client, kcsr, obj), clock.RealClock{}.Now())
			return nil
		},
	}
	conn.AddFlags(cmd.Flags())
	cmd.ValidArgsFunction = cli.CompleteCSRNames(&conn, 1)
	return cmd
}

// keyWidth is the width of describe's first column: the longest key and two spaces.
const keyWidth = len("Certificate validity:") + 2

// describeExtras is what describe shows besides the CSR itself.
type describeExtras struct {
	// records are the IssuedCertificates of the CSR; inventory, when set, says why there
	// are none to look at.
	records   []kcsrv1alpha1.IssuedCertificate
	inventory string
	events    []corev1.Event
}

// Field is one line of a description: a key and its value, as text (never markup).
type Field struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// EventLine is one event of a described CSR.
type EventLine struct {
	Type    string `json:"type"`
	Reason  string `json:"reason"`
	Age     string `json:"age"`
	Message string `json:"message"`
}

// Description is what kcsr describe shows of a CSR: its fields, then its events, oldest
// first. Every server-controlled value is escaped (cli.Printable).
type Description struct {
	Fields []Field     `json:"fields"`
	Events []EventLine `json:"events"`
}

// describe prints obj.
func describe(out io.Writer, obj *certificatesv1.CertificateSigningRequest, extras describeExtras, now time.Time) {
	d := Describe(obj, extras, now)
	for _, f := range d.Fields {
		fmt.Fprintf(out, "%-*s%s\n", keyWidth, f.Key+":", f.Value)
	}
	if len(d.Events) > 0 {
		fmt.Fprintln(out, "Events:")
		ew := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(ew, "  TYPE\tREASON\tAGE\tMESSAGE")
		for _, e := range d.Events {
			fmt.Fprintf(ew, "  %s\t%s\t%s\t%s\n", e.Type, e.Reason, e.Age, e.Message)
		}
		ew.Flush()
	}
}

// FetchDescribeExtras reads what a description of obj shows besides obj: the inventory
// records of its certificate and its events. What cannot be read is left out (the
// description says why for the inventory).
func FetchDescribeExtras(ctx context.Context, client kubernetes.Interface, kcsr kcsrclient.Interface, obj *certificatesv1.CertificateSigningRequest) DescribeExtras {
	var extras describeExtras
	if len(obj.Status.Certificate) > 0 {
		records, err := cli.IssuedCertificates(ctx, kcsr, fields.OneTermEqualSelector("spec.csrName", obj.Name).String())
		switch {
		case apierrors.IsNotFound(err):
			extras.inventory = "not served (this API server keeps no IssuedCertificate inventory)"
		case err != nil:
			extras.inventory = fmt.Sprintf("cannot be read (%v)", err)
		default:
			extras.records = records
		}
	}
	events, err := client.CoreV1().Events(metav1.NamespaceAll).List(ctx, metav1.ListOptions{
		FieldSelector: fields.AndSelectors(fields.OneTermEqualSelector("involvedObject.kind", "CertificateSigningRequest"), fields.OneTermEqualSelector("involvedObject.name", obj.Name)).String(),
	})
	if err == nil {
		extras.events = events.Items
	}
	return extras
}

// DescribeExtras is what a description shows besides the CSR itself.
type DescribeExtras = describeExtras

// Describe is the description of obj. Every server-controlled value is escaped
// (cli.Printable) where it is added, as a whole when it is one text, element by element
// when it is a list.
func Describe(obj *certificatesv1.CertificateSigningRequest, extras DescribeExtras, now time.Time) Description {
	var desc Description
	d := decode(obj)
	esc, escAll := cli.Printable, cli.PrintableAll
	p := func(k, v string) { desc.Fields = append(desc.Fields, Field{Key: k, Value: v}) }
	orNone := func(s string) string {
		if s == "" {
			return "<none>"
		}
		return s
	}

	p("Name", esc(obj.Name))
	p("UID", orNone(esc(string(obj.UID))))
	p("Created", fmt.Sprintf("%s (%s ago)", obj.CreationTimestamp.UTC().Format(time.RFC3339), duration.HumanDuration(now.Sub(obj.CreationTimestamp.Time))))
	p("Status", esc(csr.ConditionString(obj)))

	p("Requester", orNone(esc(obj.Spec.Username)))
	p("Requester groups", orNone(strings.Join(escAll(obj.Spec.Groups), ", ")))
	p("Requester UID", orNone(esc(obj.Spec.UID)))
	if ids := obj.Spec.Extra[credentialIDKey]; len(ids) > 0 {
		p("Requester credential", strings.Join(escAll(ids), ", "))
	}
	keys := make([]string, 0, len(obj.Spec.Extra))
	for k := range obj.Spec.Extra {
		if k != credentialIDKey {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		p("Requester extra", esc(k)+"="+strings.Join(escAll(obj.Spec.Extra[k]), ","))
	}

	p("Signer", orNone(esc(obj.Spec.SignerName)))
	p("Requested duration", requested(obj))
	p("Usages", orNone(joinUsages(obj.Spec.Usages)))

	if d.err != nil {
		p("Request", "unreadable: "+esc(d.err.Error()))
	} else {
		p("Subject", orNone(esc(d.req.Subject.String())))
		p("Subject CN", d.cn())
		p("Subject O", d.groups())
		if ou := d.req.Subject.OrganizationalUnit; len(ou) > 0 {
			p("Subject OU", strings.Join(escAll(ou), ","))
		}
		p("SANs", d.sans(true))
		p("Key", d.key())
		p("Request signature", d.req.SignatureAlgorithm.String()+", verifies")
	}

	if len(obj.Status.Conditions) == 0 {
		p("Conditions", "<none>: Pending, nobody has approved or denied it")
	}
	for _, c := range obj.Status.Conditions {
		v := string(c.Status)
		if c.Reason != "" {
			v += ", " + c.Reason
		}
		if c.Message != "" {
			v += ": " + c.Message
		}
		if !c.LastUpdateTime.IsZero() {
			v += fmt.Sprintf(" (%s)", c.LastUpdateTime.UTC().Format(time.RFC3339))
		}
		p("Condition "+esc(string(c.Type)), esc(v))
	}
	if v := obj.Annotations[kcsrv1alpha1.VerdictAnnotation]; v != "" {
		p("Approval verdict", esc(v))
		meaning := fmt.Sprintf("kcsr's approver could not decide this CSR (no approval policy approved or denied it), so it waits for a person: "+cli.Self+" approve %s or "+cli.Self+" deny %s", esc(obj.Name), esc(obj.Name))
		if csr.StateOf(obj) != csr.Pending {
			meaning = "kcsr's approver could not decide this CSR; it was decided afterwards (see the conditions)"
		}
		p("Verdict meaning", meaning)
	}

	if len(obj.Status.Certificate) > 0 {
		describeCertificate(p, obj, extras, now)
	}

	events := slices.Clone(extras.events)
	sort.SliceStable(events, func(i, j int) bool { return eventTime(events[i]).Before(eventTime(events[j])) })
	for _, e := range events {
		desc.Events = append(desc.Events, EventLine{Type: esc(e.Type), Reason: esc(e.Reason), Age: duration.HumanDuration(now.Sub(eventTime(e))), Message: esc(e.Message)})
	}
	return desc
}

func describeCertificate(p func(k, v string), obj *certificatesv1.CertificateSigningRequest, extras describeExtras, now time.Time) {
	cert, err := pemutil.FirstCertificate(obj.Status.Certificate)
	if err != nil {
		p("Certificate", "unreadable: "+err.Error())
		return
	}
	serial := cert.SerialNumber.Text(16)
	sum := sha256.Sum256(cert.Raw)
	p("Certificate serial", serial)
	p("Certificate subject", cli.Printable(cert.Subject.String()))
	p("Certificate issuer", cli.Printable(cert.Issuer.String()))
	p("Certificate validity", fmt.Sprintf("%s to %s (%s)", cert.NotBefore.UTC().Format(time.RFC3339), cert.NotAfter.UTC().Format(time.RFC3339), timeLeft(cert.NotAfter, now)))
	p("Certificate SHA-256", hex.EncodeToString(sum[:]))
	if extras.inventory != "" {
		p("Inventory", cli.Printable(extras.inventory))
		return
	}
	for _, r := range extras.records {
		if r.Spec.SerialNumber != serial {
			continue
		}
		state := "valid"
		if rev := r.Status.Revocation; rev != nil {
			state = fmt.Sprintf("REVOKED at %s (%s)", rev.Time.UTC().Format(time.RFC3339), cli.Printable(string(rev.Reason)))
			if rev.Message != "" {
				state += ": " + cli.Printable(rev.Message)
			}
		}
		p("Inventory", fmt.Sprintf("IssuedCertificate %s, %s", cli.Printable(r.Name), state))
		return
	}
	p("Inventory", "not recorded: no IssuedCertificate has serial "+serial)
}

func eventTime(e corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	default:
		return e.CreationTimestamp.Time
	}
}

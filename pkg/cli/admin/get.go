package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	certificatesv1 "k8s.io/api/certificates/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"
	"sigs.k8s.io/yaml"

	"kcsr.dev/kcsr/pkg/cli"
	"kcsr.dev/kcsr/pkg/csr"
	"kcsr.dev/kcsr/pkg/pemutil"
)

// Output formats of kcsr get.
const (
	outputTable = ""
	outputWide  = "wide"
	outputYAML  = "yaml"
	outputJSON  = "json"
	outputName  = "name"
)

// NewGetCommand returns `kcsr get`.
func NewGetCommand(out, errOut io.Writer) *cobra.Command {
	var (
		conn   cli.Connection
		output string
	)
	cmd := &cobra.Command{
		Use:   "get [NAME...]",
		Short: "List CSRs with kubectl's columns plus the decoded subject, SANs and key",
		Long: `Lists CSRs with kubectl's columns (NAME AGE SIGNERNAME REQUESTOR REQUESTEDDURATION
CONDITION) and what the request says: the common name (the user), the organizations (the
groups), the subject alternative names and the key. -o wide adds the usages and the issued
certificate's expiry; -o yaml, -o json and -o name print the objects as kubectl does.`,
		Example: "  kcsr get\n  kcsr get rahul -o wide\n  kcsr get rahul -o yaml",
		RunE: func(cmd *cobra.Command, names []string) error {
			if !slices.Contains([]string{outputTable, outputWide, outputYAML, outputJSON, outputName}, output) {
				return fmt.Errorf("--output %q is not supported; use wide, yaml, json or name", output)
			}
			client, err := clientset(&conn)
			if err != nil {
				return err
			}
			items, missing, err := getCSRs(cmd, client, names)
			if err != nil {
				return err
			}
			if len(items) == 0 && len(names) == 0 && (output == outputTable || output == outputWide) {
				fmt.Fprintln(errOut, "No resources found")
				return nil
			}
			// As kubectl get: the CSRs found are printed, then the names not found.
			if len(items) > 0 {
				if err := printCSRs(out, items, output, len(names) == 1, clock.RealClock{}.Now()); err != nil {
					return err
				}
			}
			return missing
		},
	}
	conn.AddFlags(cmd.Flags())
	cmd.Flags().StringVarP(&output, "output", "o", "", "Output format: wide, yaml, json or name.")
	return cmd
}

// getCSRs returns the CSRs named (every CSR without names), and the names not found as
// one error.
func getCSRs(cmd *cobra.Command, client kubernetes.Interface, names []string) ([]certificatesv1.CertificateSigningRequest, error, error) {
	csrs := client.CertificatesV1().CertificateSigningRequests()
	if len(names) == 0 {
		list, err := csrs.List(cmd.Context(), metav1.ListOptions{})
		if err != nil {
			return nil, nil, err
		}
		slices.SortFunc(list.Items, func(a, b certificatesv1.CertificateSigningRequest) int { return strings.Compare(a.Name, b.Name) })
		return list.Items, nil, nil
	}
	var items []certificatesv1.CertificateSigningRequest
	var missing []error
	for _, n := range names {
		obj, err := csrs.Get(cmd.Context(), n, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			missing = append(missing, err)
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		items = append(items, *obj)
	}
	return items, errors.Join(missing...), nil
}

// printCSRs prints CSRs in one of the output formats; single prints one object rather
// than a List for yaml and json, as kubectl get NAME does.
func printCSRs(out io.Writer, items []certificatesv1.CertificateSigningRequest, output string, single bool, now time.Time) error {
	switch output {
	case outputName:
		for _, obj := range items {
			fmt.Fprintf(out, "certificatesigningrequest.certificates.k8s.io/%s\n", cli.Printable(obj.Name))
		}
		return nil
	case outputYAML, outputJSON:
		var v any
		for i := range items {
			items[i].APIVersion, items[i].Kind = "certificates.k8s.io/v1", "CertificateSigningRequest"
			items[i].ManagedFields = nil
		}
		if single && len(items) == 1 {
			v = &items[0]
		} else {
			v = map[string]any{"apiVersion": "v1", "kind": "List", "metadata": map[string]any{"resourceVersion": ""}, "items": items}
		}
		if output == outputJSON {
			b, err := json.MarshalIndent(v, "", "    ")
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(out, "%s\n", b)
			return err
		}
		b, err := yaml.Marshal(v)
		if err != nil {
			return err
		}
		_, err = out.Write(b)
		return err
	}
	return printTable(out, items, output == outputWide, now)
}

// printTable prints kubectl's columns and the decoded request's, every server-controlled
// value escaped (cli.Printable), so that none can add a row or reach the terminal as an
// escape sequence.
func printTable(out io.Writer, items []certificatesv1.CertificateSigningRequest, wide bool, now time.Time) error {
	w := tabwriter.NewWriter(out, 0, 4, 3, ' ', 0)
	header := "NAME\tAGE\tSIGNERNAME\tREQUESTOR\tREQUESTEDDURATION\tCONDITION\tCN\tGROUPS\tSANS\tKEY"
	if wide {
		header += "\tUSAGES\tEXPIRESIN"
	}
	fmt.Fprintln(w, header)
	for i := range items {
		obj := &items[i]
		d := decode(obj)
		signerName := obj.Spec.SignerName
		if signerName == "" {
			signerName = "<none>"
		}
		row := []string{cli.Printable(obj.Name), duration.HumanDuration(now.Sub(obj.CreationTimestamp.Time)), cli.Printable(signerName), cli.Printable(obj.Spec.Username),
			requested(obj), cli.Printable(csr.ConditionString(obj)), d.cn(), d.groups(), d.sans(false), d.key()}
		if wide {
			row = append(row, strings.ReplaceAll(joinUsages(obj.Spec.Usages), ", ", ","), certificateColumn(obj, now))
		}
		fmt.Fprintln(w, strings.Join(row, "\t"))
	}
	return w.Flush()
}

// certificateColumn is how long the issued certificate has left, "Expired", or <none>.
func certificateColumn(obj *certificatesv1.CertificateSigningRequest, now time.Time) string {
	if len(obj.Status.Certificate) == 0 {
		return "<none>"
	}
	cert, err := pemutil.FirstCertificate(obj.Status.Certificate)
	if err != nil {
		return "<unreadable>"
	}
	if left := cert.NotAfter.Sub(now); left > 0 {
		return duration.HumanDuration(left)
	}
	return "Expired"
}

func clientset(conn *cli.Connection) (kubernetes.Interface, error) {
	k, _, _, err := conn.Clients()
	return k, err
}

package admin

import (
	"context"
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

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/cli"
	"kcsr.dev/kcsr/pkg/csr"
	kcsrclient "kcsr.dev/kcsr/pkg/generated/clientset/versioned"
	"kcsr.dev/kcsr/pkg/pemutil"
)

// Output formats of kcsr get.
const (
	outputTable = ""
	outputWide  = "wide"
	outputYAML  = "yaml"
	outputJSON  = "json"
	outputName  = "name"
	outputCert  = "cert"
	// With a template after "=".
	outputJSONPath      = "jsonpath"
	outputCustomColumns = "custom-columns"
)

// getOptions are kcsr get's flags.
type getOptions struct {
	output, selector, sortBy string
	noHeaders, watch         bool
	// template is the jsonpath or custom-columns template of output.
	template string
}

// validate checks the flags together, and splits -o FORMAT=TEMPLATE.
func (g *getOptions) validate(names []string) error {
	if format, template, ok := strings.Cut(g.output, "="); ok && (format == outputJSONPath || format == outputCustomColumns) {
		if template == "" {
			return fmt.Errorf("--output %s= needs a template, e.g. -o %s", format, map[string]string{outputJSONPath: "jsonpath='{.items[*].metadata.name}'", outputCustomColumns: "custom-columns=NAME:.metadata.name,SIGNER:.spec.signerName"}[format])
		}
		g.output, g.template = format, template
	}
	if !slices.Contains([]string{outputTable, outputWide, outputYAML, outputJSON, outputName, outputCert, outputJSONPath, outputCustomColumns}, g.output) {
		return fmt.Errorf("--output %q is not supported; use wide, yaml, json, name, cert, jsonpath=TEMPLATE or custom-columns=SPEC", g.output)
	}
	switch {
	case g.output == outputCert && len(names) != 1:
		return errors.New("-o cert writes one CSR's certificate: name exactly one CSR")
	case g.output == outputCert && g.watch:
		return errors.New("-o cert writes a certificate once; it does not go with --watch")
	case g.selector != "" && len(names) > 0:
		return errors.New("-l selects among all CSRs; it does not go with names")
	}
	if g.sortBy != "" {
		if _, err := parseJSONPath(g.sortBy); err != nil {
			return fmt.Errorf("--sort-by %q: %w", g.sortBy, err)
		}
	}
	return nil
}

// NewGetCommand returns `kcsr get`.
func NewGetCommand(out, errOut io.Writer) *cobra.Command {
	var (
		conn cli.Connection
		g    getOptions
	)
	cmd := &cobra.Command{
		Use:   "get [NAME...]",
		Short: "List CSRs with kubectl's columns plus the decoded subject, SANs and key",
		Long: `Lists CSRs with kubectl's columns (NAME AGE SIGNERNAME REQUESTOR REQUESTEDDURATION
CONDITION) and what the request says: the common name (the user), the organizations (the
groups), the subject alternative names and the key. -o wide adds the usages and the issued
certificate's expiry, or Revoked when kcsr's inventory says so; -o yaml, -o json, -o name,
-o jsonpath=… and -o custom-columns=… print as kubectl does; -o cert writes one CSR's
certificate (PEM). -l, --sort-by, --no-headers and -w (--watch) work as kubectl's.`,
		Example: `  kcsr get
  kcsr get rahul priya -o wide
  kcsr get -l team=payments --sort-by .metadata.creationTimestamp
  kcsr get -o jsonpath='{.items[*].metadata.name}'
  kcsr get -o custom-columns=NAME:.metadata.name,USER:.spec.username --no-headers
  kcsr get rahul -o cert > rahul.crt
  kcsr get -w`,
		RunE: func(cmd *cobra.Command, names []string) error {
			if err := g.validate(names); err != nil {
				return err
			}
			client, kcsr, _, err := conn.Clients()
			if err != nil {
				return err
			}
			items, rv, missing, err := getCSRs(cmd, client, names, g.selector)
			if err != nil {
				return err
			}
			if g.sortBy != "" {
				if err := sortBy(items, g.sortBy); err != nil {
					return err
				}
			}
			p := &csrPrinter{out: out, getOptions: g, single: len(names) == 1, now: clock.RealClock{}.Now}
			if g.output == outputWide {
				p.revoked = revokedLookup(cmd.Context(), kcsr)
			}
			if len(items) == 0 && len(names) == 0 && !g.watch && (g.output == outputTable || g.output == outputWide) {
				fmt.Fprintln(errOut, "No resources found")
				return nil
			}
			// As kubectl get: the CSRs found are printed, then the names not found.
			if len(items) > 0 || g.output == outputJSONPath || g.output == outputCustomColumns {
				if err := p.print(items); err != nil {
					return err
				}
			}
			if missing != nil || !g.watch {
				return missing
			}
			return watchCSRs(cmd.Context(), client, names, g.selector, rv, p)
		},
	}
	conn.AddFlags(cmd.Flags())
	cmd.ValidArgsFunction = cli.CompleteCSRNames(&conn, 0)
	f := cmd.Flags()
	f.StringVarP(&g.output, "output", "o", "", "Output format: wide, yaml, json, name, cert, jsonpath=TEMPLATE or custom-columns=HEADER:.path,....")
	f.StringVarP(&g.selector, "selector", "l", "", "Only CSRs with these labels (a label selector, as kubectl's -l).")
	f.StringVar(&g.sortBy, "sort-by", "", "Sort by this field (a JSONPath, e.g. .metadata.creationTimestamp or .spec.username).")
	f.BoolVar(&g.noHeaders, "no-headers", false, "Print no header row (the table and custom-columns outputs).")
	f.BoolVarP(&g.watch, "watch", "w", false, "After the list, print each change as it happens, until interrupted.")
	return cmd
}

// getCSRs returns the CSRs named (without names, every CSR the selector picks, a page at
// a time, by name), the list's resourceVersion to watch from, and the names not found as
// one error.
func getCSRs(cmd *cobra.Command, client kubernetes.Interface, names []string, selector string) ([]certificatesv1.CertificateSigningRequest, string, error, error) {
	csrs := client.CertificatesV1().CertificateSigningRequests()
	if len(names) == 0 {
		var items []certificatesv1.CertificateSigningRequest
		opts := metav1.ListOptions{LabelSelector: selector, Limit: 500}
		for {
			list, err := csrs.List(cmd.Context(), opts)
			if err != nil {
				return nil, "", nil, err
			}
			items = append(items, list.Items...)
			if list.Continue == "" {
				slices.SortFunc(items, func(a, b certificatesv1.CertificateSigningRequest) int { return strings.Compare(a.Name, b.Name) })
				return items, list.ResourceVersion, nil, nil
			}
			opts.Continue = list.Continue
		}
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
			return nil, "", nil, err
		}
		items = append(items, *obj)
	}
	return items, "", errors.Join(missing...), nil
}

// revokedLookup returns the revocation of the certificate issued for a CSR, from kcsr's
// inventory (its record is named after the CSR's UID); nil without an inventory.
func revokedLookup(ctx context.Context, kcsr kcsrclient.Interface) func(*certificatesv1.CertificateSigningRequest) *kcsrv1alpha1.Revocation {
	return func(obj *certificatesv1.CertificateSigningRequest) *kcsrv1alpha1.Revocation {
		if len(obj.Status.Certificate) == 0 {
			return nil
		}
		ic, err := kcsr.KcsrV1alpha1().IssuedCertificates().Get(ctx, string(obj.UID), metav1.GetOptions{})
		if err != nil {
			return nil
		}
		return ic.Status.Revocation
	}
}

// csrPrinter prints CSRs in one of kcsr get's formats.
type csrPrinter struct {
	getOptions
	out    io.Writer
	single bool
	now    func() time.Time
	// revoked, when set (-o wide), says whether a CSR's certificate was revoked.
	revoked func(*certificatesv1.CertificateSigningRequest) *kcsrv1alpha1.Revocation
	// headed is set once a table's header is printed (a watch prints it once).
	headed bool
}

// print prints items; single prints one object rather than a List for yaml, json and
// jsonpath, as kubectl get NAME does.
func (p *csrPrinter) print(items []certificatesv1.CertificateSigningRequest) error {
	for i := range items {
		items[i].APIVersion, items[i].Kind = "certificates.k8s.io/v1", "CertificateSigningRequest"
		items[i].ManagedFields = nil
	}
	var v any
	if p.single && len(items) == 1 {
		v = &items[0]
	} else {
		v = map[string]any{"apiVersion": "v1", "kind": "List", "metadata": map[string]any{"resourceVersion": ""}, "items": items}
	}
	switch p.output {
	case outputName:
		for _, obj := range items {
			fmt.Fprintf(p.out, "certificatesigningrequest.certificates.k8s.io/%s\n", cli.Printable(obj.Name))
		}
		return nil
	case outputCert:
		if len(items[0].Status.Certificate) == 0 {
			return fmt.Errorf("CSR %s has no certificate yet (%s); "+cli.Self+" fetch %s waits for it", cli.Printable(items[0].Name), csr.ConditionString(&items[0]), cli.Printable(items[0].Name))
		}
		_, err := p.out.Write(items[0].Status.Certificate)
		return err
	case outputJSON:
		b, err := json.MarshalIndent(v, "", "    ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(p.out, "%s\n", b)
		return err
	case outputYAML:
		b, err := yaml.Marshal(v)
		if err != nil {
			return err
		}
		_, err = p.out.Write(b)
		return err
	case outputJSONPath:
		return printJSONPath(p.out, p.template, v)
	case outputCustomColumns:
		return p.printColumns(items)
	}
	return p.printTable(items)
}

// printTable prints kubectl's columns and the decoded request's, every server-controlled
// value escaped (cli.Printable), so that none can add a row or reach the terminal as an
// escape sequence.
func (p *csrPrinter) printTable(items []certificatesv1.CertificateSigningRequest) error {
	w := tabwriter.NewWriter(p.out, 0, 4, 3, ' ', 0)
	wide := p.output == outputWide
	if !p.noHeaders && !p.headed {
		header := "NAME\tAGE\tSIGNERNAME\tREQUESTOR\tREQUESTEDDURATION\tCONDITION\tCN\tGROUPS\tSANS\tKEY"
		if wide {
			header += "\tUSAGES\tEXPIRESIN"
		}
		fmt.Fprintln(w, header)
		p.headed = true
	}
	now := p.now()
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
			expiry := certificateColumn(obj, now)
			if p.revoked != nil {
				if r := p.revoked(obj); r != nil {
					expiry = "Revoked (" + cli.Printable(r.Reason) + ")"
				}
			}
			row = append(row, strings.ReplaceAll(joinUsages(obj.Spec.Usages), ", ", ","), expiry)
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

// watchCSRs prints every change to the CSRs named (or the selector picks) from
// resourceVersion rv on, until ctx is done or the server ends the watch.
func watchCSRs(ctx context.Context, client kubernetes.Interface, names []string, selector, rv string, p *csrPrinter) error {
	opts := metav1.ListOptions{LabelSelector: selector, ResourceVersion: rv}
	if len(names) == 1 {
		opts.FieldSelector = "metadata.name=" + names[0]
	}
	w, err := client.CertificatesV1().CertificateSigningRequests().Watch(ctx, opts)
	if err != nil {
		return err
	}
	defer w.Stop()
	p.single = true
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.ResultChan():
			if !ok {
				return nil
			}
			obj, ok := ev.Object.(*certificatesv1.CertificateSigningRequest)
			if !ok {
				if status, isStatus := ev.Object.(*metav1.Status); isStatus {
					return fmt.Errorf("the watch ended: %s", status.Message)
				}
				continue
			}
			if len(names) > 1 && !slices.Contains(names, obj.Name) {
				continue
			}
			if err := p.print([]certificatesv1.CertificateSigningRequest{*obj}); err != nil {
				return err
			}
		}
	}
}

func clientset(conn *cli.Connection) (kubernetes.Interface, error) {
	k, _, _, err := conn.Clients()
	return k, err
}

package admin

import (
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"
	authenticationv1 "k8s.io/api/authentication/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	"sigs.k8s.io/yaml"

	"kcsr.dev/kcsr/pkg/cli"
	"kcsr.dev/kcsr/pkg/policy"
)

// NewPolicyCommand returns `kcsr policy`.
func NewPolicyCommand(out io.Writer) *cobra.Command {
	var conn cli.Connection
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Work with approval policies",
	}
	conn.AddFlags(cmd.PersistentFlags())
	cmd.AddCommand(newPolicyTest(&conn, out))
	return cmd
}

func newPolicyTest(conn *cli.Connection, out io.Writer) *cobra.Command {
	var (
		file, as, output string
		asGroups         []string
	)
	cmd := &cobra.Command{
		Use:   "test -f CSR.yaml",
		Short: "Show what every approval policy says about a CSR before it is submitted",
		Long: `Evaluates the server's ApprovalPolicies on a CSR manifest that is not submitted yet,
and prints each policy's verdict with the rule that decided, then the final verdict
(guard rails first, Deny over Approve), exactly as the approver would decide.

The requester is you (as the server authenticates you), or --as/--as-group.
Guard rails are kcsr server's defaults (system:masters protected, RSA ≥ 2048,
P-256/P-384/P-521, no SHA-1); a server started with other guard rails may differ.

Exit codes: 0 Approve, 2 Deny, 3 NoOpinion (left to a person), 1 error.`,
		Example: `  kcsr policy test -f csr.yaml
  kcsr policy test -f csr.yaml --as rahul --as-group developers`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cli.CheckOutput(output); err != nil {
				return err
			}
			if file == "" {
				return errors.New("-f CSR.yaml is required")
			}
			data, err := os.ReadFile(file)
			if err != nil {
				return err
			}
			var obj certificatesv1.CertificateSigningRequest
			if err := yaml.UnmarshalStrict(data, &obj); err != nil {
				return fmt.Errorf("%s: %w ("+cli.Self+" doctor -f %s explains malformed manifests)", file, err, file)
			}
			if obj.Kind != "CertificateSigningRequest" {
				return fmt.Errorf("%s: kind is %q, want CertificateSigningRequest", file, obj.Kind)
			}
			k, kcsr, cfg, err := conn.Clients()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if as != "" {
				obj.Spec.Username = as
				obj.Spec.Groups = append(append([]string{}, asGroups...), user.AllAuthenticated)
			} else {
				review, err := k.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
				if err != nil {
					return fmt.Errorf("find out who you are at %s: %w (or pass --as)", cfg.Host, err)
				}
				obj.Spec.Username = review.Status.UserInfo.Username
				obj.Spec.UID = review.Status.UserInfo.UID
				obj.Spec.Groups = review.Status.UserInfo.Groups
			}
			req, err := policy.NewRequest(&obj)
			if err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			list, err := kcsr.KcsrV1alpha1().ApprovalPolicies().List(ctx, metav1.ListOptions{})
			if err != nil {
				return fmt.Errorf("list approval policies: %w", err)
			}
			var compiled []*policy.Policy
			ignored := []ignoredPolicy{}
			for _, p := range list.Items {
				c, err := policy.Compile(p.Name, p.Spec)
				if err != nil {
					ignored = append(ignored, ignoredPolicy{Policy: p.Name, Error: err.Error()})
					if output != cli.OutputJSON {
						fmt.Fprintf(out, "policy %s does not compile and is ignored: %s\n", cli.Printable(p.Name), cli.PrintableText(err.Error()))
					}
					continue
				}
				compiled = append(compiled, c)
			}
			final, all := policy.Decide(ctx, compiled, policy.DefaultGuardRails(), req)
			if output == cli.OutputJSON {
				if all == nil {
					all = []policy.Verdict{}
				}
				if err := cli.PrintJSON(out, policyTestResult{CSR: obj.Name, Requester: obj.Spec.Username, Verdicts: all, Final: final, Ignored: ignored}); err != nil {
					return err
				}
				return verdictExit(final)
			}
			w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "POLICY\tVERDICT\tRULE\tWHY")
			for _, v := range all {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", cli.Printable(v.Policy), v.Decision, cli.Printable(dash(v.Rule)), cli.PrintableText(v.Message))
			}
			w.Flush()
			by := final.Policy
			if by == "" && final.Rule != "" {
				by = final.Rule
			}
			if by != "" {
				by = " (" + cli.Printable(by) + ")"
			}
			fmt.Fprintf(out, "\nfinal verdict for %s as %s: %s%s: %s\n", cli.Printable(obj.Name), cli.Printable(obj.Spec.Username), final.Decision, by, cli.PrintableText(final.Message))
			return verdictExit(final)
		},
	}
	cmd.Flags().StringVarP(&file, "filename", "f", "", "The CSR manifest to test.")
	cmd.Flags().StringVar(&as, "as", "", "Evaluate as this requester instead of yourself.")
	cmd.Flags().StringSliceVar(&asGroups, "as-group", nil, "A group of the --as requester (repeatable).")
	cmd.Flags().StringVarP(&output, "output", "o", "", "json: {csr, requester, verdicts, final, ignored}; the exit code is the same.")
	return cmd
}

// policyTestResult is kcsr policy test -o json.
type policyTestResult struct {
	CSR       string           `json:"csr"`
	Requester string           `json:"requester"`
	Verdicts  []policy.Verdict `json:"verdicts"`
	Final     policy.Verdict   `json:"final"`
	// Ignored are the policies that do not compile, which the approver ignores too.
	Ignored []ignoredPolicy `json:"ignored"`
}

type ignoredPolicy struct {
	Policy string `json:"policy"`
	Error  string `json:"error"`
}

// verdictExit is kcsr policy test's exit: 0 Approve, 2 Deny, 3 NoOpinion.
func verdictExit(final policy.Verdict) error {
	switch final.Decision {
	case policy.Approve:
		return nil
	case policy.Deny:
		return &cli.ExitError{Code: 2, Message: "denied"}
	default:
		return &cli.ExitError{Code: 3, Message: "no policy decides: a person must approve or deny"}
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

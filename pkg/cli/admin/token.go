package admin

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	certificatesv1 "k8s.io/api/certificates/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	certvalidation "kcsr.dev/kcsr/pkg/apis/certificates/validation"
	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/cli"
	"kcsr.dev/kcsr/pkg/pemutil"
	"kcsr.dev/kcsr/pkg/pki"
)

// joinCommand is the kcsr join command of a join token: the server and the pin of the CA
// this connection trusts, the token, and the identity it was made for. Without a CA to
// pin, the command lacks --ca-hash, and the error says so.
func joinCommand(cfg *rest.Config, token, user string, groups []string, signer string) (string, error) {
	args := []string{"kcsr", "join", cfg.Host, "--token", token}
	var err error
	caPEM := cfg.CAData
	if len(caPEM) == 0 && cfg.CAFile != "" {
		caPEM, err = os.ReadFile(cfg.CAFile)
	}
	var ca *x509.Certificate
	if err == nil {
		certs, perr := pemutil.ParseCertificates(caPEM)
		for _, c := range certs {
			if c.IsCA {
				ca = c
				break
			}
		}
		if ca == nil {
			err = fmt.Errorf("no CA certificate in this kubeconfig's certificate-authority (%v)", perr)
		}
	}
	if err != nil {
		args = append(args, "--ca-hash", "sha256:<the SHA-256 of the cluster CA's public key>")
		err = fmt.Errorf("the join command lacks the CA's pin: %w; give the joining user the CA certificate instead ("+cli.Self+" request --certificate-authority)", err)
	} else {
		args = append(args, "--ca-hash", pki.CAPin(ca))
	}
	args = append(args, "--user", shellQuote(user))
	for _, g := range groups {
		args = append(args, "--group", shellQuote(g))
	}
	if signer != certificatesv1.KubeAPIServerClientSignerName {
		args = append(args, "--signer", signer)
	}
	return strings.Join(args, " "), err
}

// shellQuote quotes s for a POSIX shell when it holds anything but plain characters.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.:/@=+,", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// NewTokenCommand returns `kcsr token`.
func NewTokenCommand(out, errOut io.Writer) *cobra.Command {
	var conn cli.Connection
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Create, list and delete join tokens and kubelet bootstrap tokens",
		Long: `Join tokens let one person or service get one certificate without an administrator
handling files: a CSR created with the token whose subject is exactly the token's user
and groups is approved automatically, once.

Bootstrap tokens are Kubernetes' kubelet TLS bootstrap tokens (<id>.<secret>): a node
authenticates with one as system:bootstrap:<id> and its client CSR is approved after
the nodeclient SubjectAccessReview.

The server stores only the SHA-256 of a token's secret: the token is printed once.`,
	}
	conn.AddFlags(cmd.PersistentFlags())
	cmd.AddCommand(newTokenCreate(&conn, out, errOut), newTokenList(&conn, out), newTokenDelete(&conn, out))
	return cmd
}

func newTokenCreate(conn *cli.Connection, out, errOut io.Writer) *cobra.Command {
	var (
		user, signer, description string
		groups                    []string
		dnsNames, ips, uris       []string
		emails                    []string
		ttl, maxDuration          time.Duration
		bootstrap, printJoin      bool
	)
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a token and print it",
		Example: `  # A join token: rahul gets one client certificate for CN=rahul, O=developers
  kcsr token create --user rahul --group developers --ttl 24h

  # A kubelet bootstrap token
  kcsr token create --bootstrap --ttl 1h --description "node pool a"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if ttl <= 0 {
				return fmt.Errorf("--ttl must be positive, got %s", ttl)
			}
			if !bootstrap && user == "" {
				return errors.New("--user is required for a join token (the CN the certificate will carry); use --bootstrap for a kubelet bootstrap token")
			}
			if bootstrap && user != "" {
				return errors.New("--user does not apply to --bootstrap tokens (the kubelet names itself system:node:<name>)")
			}
			if bootstrap && len(dnsNames)+len(ips)+len(uris)+len(emails) > 0 {
				return errors.New("--dns-name, --ip-address, --uri and --email do not apply to --bootstrap tokens (a kubelet client certificate carries no names)")
			}
			if !bootstrap {
				if errs := certvalidation.ValidateSignerName(nil, signer); len(errs) > 0 {
					return fmt.Errorf("--signer: %s", errs.ToAggregate())
				}
				if maxDuration != 0 && maxDuration < 10*time.Minute {
					return fmt.Errorf("--max-duration %s is below the 10m minimum", maxDuration)
				}
			}
			if bootstrap && printJoin {
				return errors.New("--print-join-command is for join tokens; a kubelet takes a bootstrap token in its bootstrap kubeconfig")
			}
			_, kcsr, cfg, err := conn.Clients()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			id, secret, err := newToken()
			if err != nil {
				return err
			}
			sum := sha256.Sum256([]byte(secret))
			expiration := metav1.NewTime(time.Now().Add(ttl).Truncate(time.Second))
			if bootstrap {
				_, err = kcsr.KcsrV1alpha1().BootstrapTokens().Create(ctx, &kcsrv1alpha1.BootstrapToken{
					ObjectMeta: metav1.ObjectMeta{Name: id},
					Spec: kcsrv1alpha1.BootstrapTokenSpec{
						SecretSHA256: hex.EncodeToString(sum[:]),
						Expiration:   expiration,
						Usages:       []string{"authentication", "signing"},
						ExtraGroups:  groups,
						Description:  description,
					},
				}, metav1.CreateOptions{})
			} else {
				spec := kcsrv1alpha1.JoinTokenSpec{
					SecretSHA256:   hex.EncodeToString(sum[:]),
					Expiration:     expiration,
					Username:       user,
					Groups:         groups,
					SignerName:     signer,
					DNSNames:       dnsNames,
					IPAddresses:    ips,
					URIs:           uris,
					EmailAddresses: emails,
				}
				if maxDuration > 0 {
					spec.MaxExpirationSeconds = int32(maxDuration / time.Second)
				}
				_, err = kcsr.KcsrV1alpha1().JoinTokens().Create(ctx, &kcsrv1alpha1.JoinToken{ObjectMeta: metav1.ObjectMeta{Name: id}, Spec: spec}, metav1.CreateOptions{})
			}
			if err != nil {
				return fmt.Errorf("create token: %w", err)
			}
			token := id + "." + secret
			if bootstrap {
				fmt.Fprintln(out, token)
				fmt.Fprintf(errOut, "bootstrap token %s expires %s; a kubelet authenticates with it as %s%s\n", id, expiration.UTC().Format(time.RFC3339), kcsrv1alpha1.BootstrapUserPrefix, id)
				return nil
			}
			join, err := joinCommand(cfg, token, user, groups, signer)
			if err != nil {
				fmt.Fprintf(errOut, "warning: %v\n", err)
			}
			if printJoin {
				fmt.Fprintln(out, join)
			} else {
				fmt.Fprintln(out, token)
			}
			fmt.Fprintf(errOut, "join token %s for %s expires %s; it is printed once: hand %s this command over a trusted channel:\n  %s\n", id, describeIdentity(user, groups), expiration.UTC().Format(time.RFC3339), user, join)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&user, "user", "", "Join token: the subject CN (the user name) the certificate will carry.")
	f.StringSliceVar(&groups, "group", nil, "Join token: a subject O (group) the certificate will carry (repeatable); bootstrap token: an extra group system:bootstrappers:… .")
	f.StringVar(&signer, "signer", certificatesv1.KubeAPIServerClientSignerName, "Join token: the signerName the CSR must use.")
	f.StringSliceVar(&dnsNames, "dns-name", nil, "Join token: a DNS name the certificate may carry (repeatable); without it the request may carry none.")
	f.StringSliceVar(&ips, "ip-address", nil, "Join token: an IP address the certificate may carry (repeatable).")
	f.StringSliceVar(&uris, "uri", nil, "Join token: a URI (e.g. a SPIFFE ID) the certificate may carry (repeatable).")
	f.StringSliceVar(&emails, "email", nil, "Join token: an e-mail address the certificate may carry (repeatable).")
	f.DurationVar(&ttl, "ttl", 24*time.Hour, "How long the token stays usable.")
	f.DurationVar(&maxDuration, "max-duration", 0, "Join token: the longest certificate lifetime the CSR may request (0: the signer's maximum).")
	f.BoolVar(&bootstrap, "bootstrap", false, "Create a kubelet bootstrap token instead of a join token.")
	f.StringVar(&description, "description", "", "Bootstrap token: a description.")
	f.BoolVar(&printJoin, "print-join-command", false, "Join token: print the whole "+cli.Self+" join command (server, token, CA pin, identity) instead of the bare token.")
	return cmd
}

// tokenRow is one token of kcsr token list -o json.
type tokenRow struct {
	ID         string    `json:"id"`
	Kind       string    `json:"kind"`
	Username   string    `json:"username"`
	Groups     []string  `json:"groups,omitempty"`
	SignerName string    `json:"signerName"`
	Expiration time.Time `json:"expiration"`
	State      string    `json:"state"`
	// SpentOn is the CSR a spent join token was used for.
	SpentOn string `json:"spentOn,omitempty"`
}

func newTokenList(conn *cli.Connection, out io.Writer) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List join and bootstrap tokens (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cli.CheckOutput(output); err != nil {
				return err
			}
			_, kcsr, _, err := conn.Clients()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			joins, err := kcsr.KcsrV1alpha1().JoinTokens().List(ctx, metav1.ListOptions{})
			if err != nil {
				return err
			}
			boots, err := kcsr.KcsrV1alpha1().BootstrapTokens().List(ctx, metav1.ListOptions{})
			if err != nil {
				return err
			}
			rows := []tokenRow{}
			now := time.Now()
			for _, t := range joins.Items {
				r := tokenRow{ID: t.Name, Kind: "join", Username: t.Spec.Username, Groups: t.Spec.Groups, SignerName: t.Spec.SignerName, Expiration: t.Spec.Expiration.UTC(), State: "unused"}
				switch {
				case t.Status.UsedBy != nil:
					r.State, r.SpentOn = "spent", t.Status.UsedBy.CSRName
				case now.After(t.Spec.Expiration.Time):
					r.State = "expired"
				}
				rows = append(rows, r)
			}
			for _, t := range boots.Items {
				r := tokenRow{ID: t.Name, Kind: "bootstrap", Username: kcsrv1alpha1.BootstrapUserPrefix + t.Name, Groups: t.Spec.ExtraGroups, SignerName: certificatesv1.KubeAPIServerClientKubeletSignerName, Expiration: t.Spec.Expiration.UTC(), State: "valid"}
				if now.After(t.Spec.Expiration.Time) {
					r.State = "expired"
				}
				rows = append(rows, r)
			}
			if output == cli.OutputJSON {
				return cli.PrintJSON(out, rows)
			}
			w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tKIND\tIDENTITY\tSIGNER\tEXPIRES\tSTATE")
			for _, r := range rows {
				identity, state := describeIdentity(r.Username, r.Groups), r.State
				if r.Kind == "bootstrap" {
					identity = cli.Printable(r.Username)
				}
				if r.SpentOn != "" {
					state = "spent on " + cli.Printable(r.SpentOn)
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", cli.Printable(r.ID), r.Kind, identity, cli.Printable(r.SignerName), r.Expiration.Format(time.RFC3339), state)
			}
			return w.Flush()
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "json: the tokens as a JSON array (never their secrets).")
	return cmd
}

func newTokenDelete(conn *cli.Connection, out io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "delete ID...",
		Short: "Delete tokens; they stop authenticating at once",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, ids []string) error {
			_, kcsr, _, err := conn.Clients()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			var errs []error
			for _, arg := range ids {
				id, _, _ := strings.Cut(arg, ".") // accept a whole token too
				errJoin := kcsr.KcsrV1alpha1().JoinTokens().Delete(ctx, id, metav1.DeleteOptions{})
				errBoot := kcsr.KcsrV1alpha1().BootstrapTokens().Delete(ctx, id, metav1.DeleteOptions{})
				switch {
				case errJoin == nil || errBoot == nil:
					fmt.Fprintf(out, "token %s deleted\n", id)
				case apierrors.IsNotFound(errJoin) && apierrors.IsNotFound(errBoot):
					errs = append(errs, fmt.Errorf("token %s not found; see "+cli.Self+" token list", id))
				default:
					errs = append(errs, fmt.Errorf("delete token %s: %v", id, errors.Join(errJoin, errBoot)))
				}
			}
			return errors.Join(errs...)
		},
	}
}

const tokenAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// newToken returns a random id ([a-z0-9]{6}) and secret ([a-z0-9]{16}).
func newToken() (string, string, error) {
	s, err := randomString(22)
	if err != nil {
		return "", "", err
	}
	return s[:6], s[6:], nil
}

func randomString(n int) (string, error) {
	b := make([]byte, n)
	max := big.NewInt(int64(len(tokenAlphabet)))
	for i := range b {
		v, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", err
		}
		b[i] = tokenAlphabet[v.Int64()]
	}
	return string(b), nil
}

func describeIdentity(user string, groups []string) string {
	if len(groups) == 0 {
		return "CN=" + cli.Printable(user)
	}
	return "CN=" + cli.Printable(user) + " O=" + strings.Join(cli.PrintableAll(groups), ",")
}

package request

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/validation/path"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"kcsr.dev/kcsr/pkg/cli"
	"kcsr.dev/kcsr/pkg/pki"
)

// FetchOptions are the flags of `kcsr fetch` and what it needs to run.
type FetchOptions struct {
	Conn                 cli.Connection
	CertificateAuthority string
	Name                 string
	KeyFile              string
	OutDir               string
	Wait                 time.Duration

	Deps
}

// NewFetchCommand returns `kcsr fetch`.
func NewFetchCommand(out, errOut io.Writer) *cobra.Command {
	o := &FetchOptions{OutDir: ".", Wait: DefaultWait, Deps: Deps{Out: out, ErrOut: errOut}}
	cmd := &cobra.Command{
		Use:   "fetch NAME [--key FILE] [--out-dir DIR]",
		Short: "Collect the certificate of a CSR submitted earlier (" + cli.Self + " request --no-wait, or a request that timed out)",
		Long: `Waits for CSR NAME to be approved and issued (or collects it at once if it is), checks
that the certificate is for the key (NAME.key, or --key), names what the CSR asked for and
chains to the CA the kubeconfig trusts, and writes NAME.crt and NAME.kubeconfig (0600)
beside the key. Existing files are never overwritten; a denial, a failure or a timeout
writes nothing, and the CSR stays.

Exit codes: 0 issued, 1 bad input, 2 denied, 3 failed (or deleted, or a certificate that
does not check out), 4 timed out or interrupted, 5 server or connection error.`,
		Example: `  # After kcsr request --user rahul --group developers --no-wait
  kcsr fetch rahul
  kubectl --kubeconfig rahul.kubeconfig auth whoami`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			return o.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	o.Conn.AddFlags(f)
	cmd.ValidArgsFunction = cli.CompleteCSRNames(&o.Conn, 1)
	f.StringVar(&o.CertificateAuthority, "certificate-authority", "", "The cluster CA certificate (PEM) to trust and to put in NAME.kubeconfig, instead of the kubeconfig's.")
	f.StringVar(&o.KeyFile, "key", "", "The private key the CSR was made with (default: NAME.key in --out-dir).")
	f.StringVar(&o.OutDir, "out-dir", o.OutDir, "Directory for NAME.crt and NAME.kubeconfig (and of NAME.key by default).")
	f.DurationVar(&o.Wait, "wait", o.Wait, "How long to wait for approval and issuance.")
	return cmd
}

// Run collects the certificate and writes the files.
func (o *FetchOptions) Run(ctx context.Context) error {
	o.complete()
	if msgs := path.IsValidPathSegmentName(o.Name); len(msgs) > 0 || o.Name == "" {
		return exitf(ExitUsage, "%q is not a CSR name: %v", o.Name, msgs)
	}
	if err := checkWritableDir("--out-dir", o.OutDir); err != nil {
		return exitf(ExitUsage, "%v", err)
	}
	base := filepath.Join(o.OutDir, o.Name)
	keyFile := o.KeyFile
	if keyFile == "" {
		keyFile = base + ".key"
	}
	key, keyPEM, err := readKey("--key", keyFile)
	if err != nil {
		return exitf(ExitUsage, "%v (the key "+cli.Self+" request wrote for this CSR; give it with --key if it is elsewhere)", err)
	}
	if err := checkNew(base+".crt", base+".kubeconfig"); err != nil {
		return exitf(ExitUsage, "%v", err)
	}
	cfg, roots, client, err := connect(&o.Conn, o.CertificateAuthority, &o.Deps, o.Name)
	if err != nil {
		return err
	}
	obtainer := o.obtainer(client, roots, o.Wait)
	issued, err := obtainer.Resume(ctx, o.Name, key)
	if err != nil {
		return err
	}
	files := []outputFile{
		dataFile(base+".crt", issued.CertPEM, 0o644),
		{path: base + ".kubeconfig", write: func() error {
			return pki.WriteKubeconfig(base+".kubeconfig", cfg.Host, issued.Cert.Subject.CommonName, roots, issued.CertPEM, keyPEM)
		}},
	}
	if err := writeSet(files); err != nil {
		return err
	}
	obtainer.Progress.Printf("wrote %s.crt, %s.kubeconfig", base, base)
	obtainer.Progress.Printf("log in with: kubectl --kubeconfig %s.kubeconfig auth whoami", base)
	return nil
}

// connect returns the client configuration of conn (trusting caFile instead of its CA
// when given), the CA bundle it trusts, and the API client; name is the CSR the files
// are named after, for the warning about a connection that verifies no CA.
func connect(conn *cli.Connection, caFile string, d *Deps, name string) (*rest.Config, []byte, kubernetes.Interface, error) {
	cfg, err := conn.RESTConfig()
	if err != nil {
		return nil, nil, nil, err
	}
	if caFile != "" {
		cfg.CAFile, cfg.CAData = caFile, nil
	}
	roots, err := CAData(cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	if cfg.Insecure {
		fmt.Fprintf(d.ErrOut, "warning: the connection skips TLS verification; %s.kubeconfig will name no CA: give one with --certificate-authority\n", name)
	}
	client, err := d.NewClient(cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	return cfg, roots, client, nil
}

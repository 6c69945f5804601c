package request

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/utils/clock"

	"kcsr.dev/kcsr/pkg/cli"
	"kcsr.dev/kcsr/pkg/pemutil"
	"kcsr.dev/kcsr/pkg/pki"
)

// KubeconfigOptions are the flags of `kcsr kubeconfig`.
type KubeconfigOptions struct {
	// Conn gives the server and CA when --server or --ca is missing (its --token is unused).
	Conn     cli.Connection
	KeyFile  string
	CertFile string
	CAFile   string
	User     string
	OutFile  string
	Force    bool

	Out, ErrOut io.Writer
	Clock       clock.PassiveClock
}

// NewKubeconfigCommand returns `kcsr kubeconfig`.
func NewKubeconfigCommand(out, errOut io.Writer) *cobra.Command {
	o := &KubeconfigOptions{Out: out, ErrOut: errOut}
	cmd := &cobra.Command{
		Use:   "kubeconfig --key KEY --cert CERT [--ca CA --server URL | --kubeconfig K]",
		Short: "Assemble a kubeconfig from a key, its certificate and the cluster's CA",
		Long: `Writes a kubeconfig (0600, atomically) that logs in with CERT and KEY, both embedded,
the user named after the certificate's CN. The server URL and the CA come from --server
and --ca, or else from a kubeconfig (--kubeconfig, $KUBECONFIG, ~/.kube/config, with
--context).

A key that does not belong to the certificate is refused. A certificate that has
expired, does not chain to the CA or is not for client auth gives a warning. An
existing file is not overwritten without --force.`,
		Example: `  # rahul.kubeconfig next to rahul.crt, server and CA from the admin's kubeconfig
  kcsr kubeconfig --key rahul.key --cert rahul.crt --kubeconfig admin.kubeconfig

  # Everything from files
  kcsr kubeconfig --key rahul.key --cert rahul.crt --ca ca.crt --server https://kcsr.example:6443 --out ~/.kube/config-rahul`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.Run() },
	}
	f := cmd.Flags()
	f.StringVar(&o.KeyFile, "key", "", "The private key (PEM). Required.")
	f.StringVar(&o.CertFile, "cert", "", "The certificate (PEM). Required.")
	f.StringVar(&o.CAFile, "ca", "", "The cluster CA certificate (PEM), instead of the one of the kubeconfig.")
	f.StringVar(&o.Conn.Server, "server", "", "The API server URL, instead of the one of the kubeconfig.")
	f.StringVar(&o.Conn.Kubeconfig, "kubeconfig", "", "A kubeconfig to take the server and CA from (default: $KUBECONFIG, then ~/.kube/config).")
	f.StringVar(&o.Conn.Context, "context", "", "The context of --kubeconfig to take the server and CA from.")
	f.StringVar(&o.User, "user", "", "The kubeconfig's user name (default: the certificate's CN).")
	f.StringVar(&o.OutFile, "out", "", "Where to write the kubeconfig (default: next to CERT, NAME.kubeconfig for NAME.crt).")
	f.BoolVar(&o.Force, "force", false, "Overwrite --out if it exists.")
	return cmd
}

// Run checks the files and writes the kubeconfig.
func (o *KubeconfigOptions) Run() error {
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.KeyFile == "" || o.CertFile == "" {
		return errors.New("--key and --cert are required: the private key and the certificate to log in with")
	}
	certPEM, err := os.ReadFile(o.CertFile)
	if err != nil {
		return fmt.Errorf("--cert: %w", err)
	}
	cert, err := pemutil.FirstCertificate(certPEM)
	if err != nil {
		return fmt.Errorf("--cert %s: %w", o.CertFile, err)
	}
	key, keyPEM, err := readKey("--key", o.KeyFile)
	if err != nil {
		return err
	}
	if !publicKeysEqual(cert.PublicKey, key.Public()) {
		return fmt.Errorf("--key %s does not match --cert %s: the certificate is for another key; use the key the certificate was requested with", o.KeyFile, o.CertFile)
	}
	out := o.OutFile
	if out == "" {
		base := filepath.Base(o.CertFile)
		out = filepath.Join(filepath.Dir(o.CertFile), strings.TrimSuffix(base, filepath.Ext(base))+".kubeconfig")
	}
	if !o.Force {
		if err := checkNew(out); err != nil {
			return fmt.Errorf("%s already exists; give --force to overwrite it, or --out FILE", out)
		}
	}

	server := o.Conn.Server
	var caPEM []byte
	if o.CAFile != "" {
		if caPEM, err = os.ReadFile(o.CAFile); err != nil {
			return fmt.Errorf("--ca: %w", err)
		}
		if _, err := pemutil.FirstCertificate(caPEM); err != nil {
			return fmt.Errorf("--ca %s: %w", o.CAFile, err)
		}
	}
	if server == "" || caPEM == nil {
		cfg, err := o.Conn.RESTConfig()
		if err != nil {
			return fmt.Errorf("no server and CA to put in the kubeconfig: give --server and --ca, or --kubeconfig to take them from (%w)", err)
		}
		if server == "" {
			server = cfg.Host
		}
		if caPEM == nil {
			if caPEM, err = CAData(cfg); err != nil {
				return err
			}
		}
	}
	for _, w := range certificateWarnings(cert, caPEM, o.Clock.Now()) {
		fmt.Fprintf(o.ErrOut, "warning: %s %s\n", o.CertFile, w)
	}
	user := o.User
	if user == "" {
		user = cert.Subject.CommonName
	}
	if user == "" {
		return fmt.Errorf("--cert %s has no CN; name the kubeconfig's user with --user", o.CertFile)
	}
	if err := pki.WriteKubeconfig(out, server, user, caPEM, certPEM, keyPEM); err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "wrote %s: user %s (%s), server %s\n", out, user, IdentityOf(cert), server)
	return nil
}

// certificateWarnings lists what will keep cert from logging in.
func certificateWarnings(cert *x509.Certificate, caPEM []byte, now time.Time) []string {
	var warnings []string
	switch {
	case now.After(cert.NotAfter):
		warnings = append(warnings, "expired on "+cert.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(cert.NotBefore):
		warnings = append(warnings, "is not valid before "+cert.NotBefore.UTC().Format(time.RFC3339))
	}
	if len(cert.ExtKeyUsage) > 0 && !slices.Contains(cert.ExtKeyUsage, x509.ExtKeyUsageClientAuth) && !slices.Contains(cert.ExtKeyUsage, x509.ExtKeyUsageAny) {
		warnings = append(warnings, "is not for client auth: the server will not accept it for logging in")
	}
	if len(caPEM) > 0 {
		pool := x509.NewCertPool()
		if pool.AppendCertsFromPEM(caPEM) {
			if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: cert.NotBefore.Add(time.Second), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
				warnings = append(warnings, fmt.Sprintf("does not chain to the cluster CA (%v): the server may not accept it", err))
			}
		}
	}
	return warnings
}

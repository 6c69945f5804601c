package request

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"kcsr.dev/kcsr/pkg/cli"
	"kcsr.dev/kcsr/pkg/pki"
)

// NewKubeconfigCommand returns `kcsr kubeconfig`.
func NewKubeconfigCommand(out io.Writer) *cobra.Command {
	var (
		conn                  cli.Connection
		keyFile, certFile, ca string
		outFile               string
	)
	cmd := &cobra.Command{
		Use:   "kubeconfig --key KEY --cert CERT [--kubeconfig K | --server URL --ca CA]",
		Short: "Assemble a kubeconfig from a key, its certificate and the cluster's CA",
		Long: `Writes a kubeconfig (0600, atomically) that logs in with CERT and KEY, the user named
after the certificate's CN. The server URL and CA come from --server/--ca or from
another kubeconfig (--kubeconfig, $KUBECONFIG). A key that does not match the
certificate is refused.`,
		Example: `  kcsr kubeconfig --key rahul.key --cert rahul.crt --kubeconfig admin.kubeconfig --out rahul.kubeconfig`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if keyFile == "" || certFile == "" {
				return errors.New("--key and --cert are required")
			}
			certPEM, err := os.ReadFile(certFile)
			if err != nil {
				return err
			}
			keyPEM, err := os.ReadFile(keyFile)
			if err != nil {
				return err
			}
			cert, _, err := pki.ParseCertAndKey(certPEM, keyPEM)
			if err != nil {
				return fmt.Errorf("%s and %s: %w", keyFile, certFile, err)
			}
			server, caPEM := conn.Server, []byte(nil)
			if ca != "" {
				if caPEM, err = os.ReadFile(ca); err != nil {
					return err
				}
			}
			if server == "" || caPEM == nil {
				cfg, err := conn.RESTConfig()
				if err != nil {
					return fmt.Errorf("no server or CA: give --server and --ca, or a kubeconfig to take them from: %w", err)
				}
				if server == "" {
					server = cfg.Host
				}
				if caPEM == nil {
					caPEM = CAData(cfg)
				}
			}
			if outFile == "" {
				outFile = strings.TrimSuffix(certFile, ".crt") + ".kubeconfig"
			}
			if err := pki.WriteKubeconfig(outFile, server, cert.Subject.CommonName, caPEM, certPEM, keyPEM); err != nil {
				return err
			}
			fmt.Fprintf(out, "wrote %s (user %s, server %s)\n", outFile, cert.Subject.CommonName, server)
			return nil
		},
	}
	conn.AddFlags(cmd.Flags())
	cmd.Flags().StringVar(&keyFile, "key", "", "The private key (PEM).")
	cmd.Flags().StringVar(&certFile, "cert", "", "The certificate (PEM).")
	cmd.Flags().StringVar(&ca, "ca", "", "The cluster CA certificate (PEM), instead of the one of --kubeconfig.")
	cmd.Flags().StringVar(&outFile, "out", "", "Where to write the kubeconfig (default: CERT with .kubeconfig).")
	return cmd
}

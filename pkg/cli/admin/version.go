package admin

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"kcsr.dev/kcsr/pkg/cli"
	"kcsr.dev/kcsr/pkg/version"
)

// versionCommand is `kcsr version`'s flags.
type versionCommand struct {
	conn       cli.Connection
	clientOnly bool
}

// NewVersionCommand returns `kcsr version`: this binary's version and, unless --client,
// the server's, as kubectl version prints them.
func NewVersionCommand(out io.Writer) *cobra.Command {
	v := &versionCommand{}
	cmd := &cobra.Command{
		Use:   "version [--client]",
		Short: "Print the client's version and the server's",
		Long: `Prints this kcsr binary's version and, unless --client, the version the server reports on
/version: kcsr server says "v1.37.2+kcsr.<version>" (the Kubernetes API level it serves,
with kcsr's own version as build metadata); a Kubernetes API server says its own.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return v.run(out) },
	}
	v.conn.AddFlags(cmd.Flags())
	cmd.Flags().BoolVar(&v.clientOnly, "client", false, "Print the client's version only; contact no server.")
	return cmd
}

func (v *versionCommand) run(out io.Writer) error {
	fmt.Fprintf(out, "Client Version: %s\n", version.GitVersion())
	if v.clientOnly {
		return nil
	}
	client, _, cfg, err := v.conn.Clients()
	if err != nil {
		return err
	}
	info, err := client.Discovery().ServerVersion()
	if err != nil {
		return fmt.Errorf("the server at %s did not say its version: %w", cfg.Host, err)
	}
	kind := "a Kubernetes API server"
	if strings.Contains(info.GitVersion, "+kcsr.") {
		kind = "kcsr server"
	}
	fmt.Fprintf(out, "Server Version: %s (%s at %s)\n", cli.Printable(info.GitVersion), kind, cli.Printable(cfg.Host))
	return nil
}

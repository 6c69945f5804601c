// Command kcsr is the kcsr binary: the control plane (`kcsr server`) and, later, the
// controllers and CLI verbs. main only wires cobra commands to their packages.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/klog/v2"

	"kcsr.dev/kcsr/pkg/cli"
	"kcsr.dev/kcsr/pkg/version"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// Installed or linked as kubectl_complete-csr, kcsr completes `kubectl csr …`: kubectl
	// runs it with the words typed so far, and expects cobra's __complete answer.
	switch filepath.Base(os.Args[0]) {
	case "kubectl_complete-csr":
		os.Args = append([]string{os.Args[0], cobra.ShellCompRequestCmd}, os.Args[1:]...)
		cli.Self = "kubectl csr"
	case "kubectl-csr":
		// The commands its messages suggest are the plugin's too.
		cli.Self = "kubectl csr"
	}
	if err := newRootCommand().ExecuteContext(ctx); err != nil {
		var exit *cli.ExitError
		if errors.As(err, &exit) {
			fmt.Fprintln(os.Stderr, exit.Message)
			os.Exit(exit.Code)
		}
		if apierrors.IsUnauthorized(err) {
			err = fmt.Errorf("%w; the server did not accept these credentials: a token may be mistyped, expired or spent (ask for a new one), a client certificate expired, revoked or issued by another CA (kcsr doctor --kubeconfig FILE says which)", err)
		}
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "kcsr",
		Short:         "kcsr: Kubernetes certificate signing requests, production grade",
		Version:       version.GitVersion(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	// Installed or linked as kubectl-csr, kcsr is a kubectl plugin: `kubectl csr request …`.
	if filepath.Base(os.Args[0]) == "kubectl-csr" {
		root.Annotations = map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl csr"}
	}
	klogFlags := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(klogFlags)
	root.PersistentFlags().AddGoFlag(klogFlags.Lookup("v"))
	for _, newCommand := range commands {
		root.AddCommand(newCommand())
	}
	return root
}

// commands are kcsr's subcommands; each file of this package registers its own.
var commands []func() *cobra.Command

func register(newCommand func() *cobra.Command) { commands = append(commands, newCommand) }

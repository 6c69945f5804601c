package main

import (
	"os"

	"github.com/spf13/cobra"

	"kcsr.dev/kcsr/pkg/cli"
)

func init() {
	register(func() *cobra.Command { return cli.NewPolicyCommand(os.Stdout) })
}

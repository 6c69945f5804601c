package main

import (
	"os"

	"github.com/spf13/cobra"

	"kcsr.dev/kcsr/pkg/cli"
)

func init() {
	register(func() *cobra.Command { return cli.NewRevokeCommand(os.Stdout) })
	register(func() *cobra.Command { return cli.NewUnrevokeCommand(os.Stdout) })
}

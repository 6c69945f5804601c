package main

import (
	"os"

	"github.com/spf13/cobra"

	"kcsr.dev/kcsr/pkg/cli/console"
)

func init() {
	register(func() *cobra.Command { return console.NewCommand(os.Stdout) })
}

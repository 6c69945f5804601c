package main

import (
	"os"

	"github.com/spf13/cobra"

	"kcsr.dev/kcsr/pkg/cmd/server"
)

func init() {
	register(func() *cobra.Command { return server.NewCommand(os.Stdout) })
}

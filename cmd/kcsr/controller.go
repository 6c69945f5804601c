package main

import (
	"os"

	"github.com/spf13/cobra"

	"kcsr.dev/kcsr/pkg/cmd/controller"
)

func init() {
	register(func() *cobra.Command { return controller.NewCommand(os.Stdout) })
}

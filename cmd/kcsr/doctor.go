package main

import (
	"os"

	"github.com/spf13/cobra"

	"kcsr.dev/kcsr/pkg/cli/doctor"
)

func init() {
	register(func() *cobra.Command { return doctor.NewCommand(os.Stdin, os.Stdout) })
}

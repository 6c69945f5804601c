package main

import (
	"os"

	"github.com/spf13/cobra"

	"kcsr.dev/kcsr/pkg/cli/admin"
)

func init() {
	register(func() *cobra.Command { return admin.NewRevokeCommand(os.Stdout) })
	register(func() *cobra.Command { return admin.NewUnrevokeCommand(os.Stdout) })
}

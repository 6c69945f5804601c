package main

import (
	"os"

	"github.com/spf13/cobra"

	"kcsr.dev/kcsr/pkg/cli/request"
)

func init() {
	register(func() *cobra.Command { return request.NewCommand(os.Stdout, os.Stderr) })
	register(func() *cobra.Command { return request.NewFetchCommand(os.Stdout, os.Stderr) })
	register(func() *cobra.Command { return request.NewJoinCommand(os.Stdout, os.Stderr) })
	register(func() *cobra.Command { return request.NewRenewCommand(os.Stdout, os.Stderr) })
	register(func() *cobra.Command { return request.NewKubeconfigCommand(os.Stdout, os.Stderr) })
}

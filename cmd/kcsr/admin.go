package main

import (
	"os"

	"github.com/spf13/cobra"
	certificatesv1 "k8s.io/api/certificates/v1"

	"kcsr.dev/kcsr/pkg/cli/admin"
)

func init() {
	register(func() *cobra.Command { return admin.NewGetCommand(os.Stdout, os.Stderr) })
	register(func() *cobra.Command { return admin.NewDescribeCommand(os.Stdout) })
	register(func() *cobra.Command { return admin.NewDecisionCommand(os.Stdout, certificatesv1.CertificateApproved) })
	register(func() *cobra.Command { return admin.NewDecisionCommand(os.Stdout, certificatesv1.CertificateDenied) })
	register(func() *cobra.Command { return admin.NewVersionCommand(os.Stdout) })
}

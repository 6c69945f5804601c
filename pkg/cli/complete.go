package cli

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// CompleteCSRNames completes CSR names from the server conn reaches, for commands that
// take names (get, describe, approve, deny, fetch, doctor); names already given are not
// offered again. Nothing is offered when the server cannot be reached in two seconds.
func CompleteCSRNames(conn *Connection, maxArgs int) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if maxArgs > 0 && len(args) >= maxArgs {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		cfg, err := conn.RESTConfig()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		cfg.Timeout = 2 * time.Second
		k, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Second)
		defer cancel()
		list, err := k.CertificatesV1().CertificateSigningRequests().List(ctx, metav1.ListOptions{Limit: 500})
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var names []cobra.Completion
		for _, obj := range list.Items {
			if strings.HasPrefix(obj.Name, toComplete) && !slices.Contains(args, obj.Name) {
				names = append(names, obj.Name)
			}
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}

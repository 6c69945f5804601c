// Package cli holds the kcsr CLI verbs. They talk to any Kubernetes-compatible API through
// client-go (kcsr server or a real cluster) and find it the way kubectl does: --kubeconfig,
// then $KUBECONFIG, then ~/.kube/config, with --context and --server/--token overrides.
package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/pflag"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	kcsrclient "kcsr.dev/kcsr/pkg/generated/clientset/versioned"
)

// Connection is the kubectl-style connection flags.
type Connection struct {
	Kubeconfig string
	Context    string
	Server     string
	Token      string
}

// AddFlags registers --kubeconfig, --context, --server and --token.
func (c *Connection) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.Kubeconfig, "kubeconfig", "", "Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).")
	fs.StringVar(&c.Context, "context", "", "The kubeconfig context to use.")
	fs.StringVar(&c.Server, "server", "", "The API server URL, overriding the kubeconfig's.")
	fs.StringVar(&c.Token, "token", "", "A bearer token, overriding the kubeconfig's credentials.")
}

// ClientConfig returns the loaded client configuration.
func (c *Connection) ClientConfig() clientcmd.ClientConfig {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = c.Kubeconfig
	overrides := &clientcmd.ConfigOverrides{CurrentContext: c.Context}
	overrides.ClusterInfo.Server = c.Server
	overrides.AuthInfo.Token = c.Token
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
}

// RESTConfig returns the REST configuration, with an error that says what to do.
func (c *Connection) RESTConfig() (*rest.Config, error) {
	cfg, err := c.ClientConfig().ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("%w; pass --kubeconfig FILE (kcsr server writes DATA_DIR/admin.kubeconfig) or --server URL --token TOKEN", err)
	}
	if host, ok := strings.CutPrefix(cfg.Host, "http://"); ok {
		from := "the kubeconfig's server"
		if c.Server != "" {
			from = "--server"
		}
		return nil, fmt.Errorf("%s %s is plain HTTP; the API is served over HTTPS only (kcsr server, as kube-apiserver): use https://%s", from, cfg.Host, host)
	}
	if c.Token != "" {
		// --token replaces the kubeconfig's credentials; a client certificate would
		// otherwise still be presented, and win.
		cfg.CertData, cfg.KeyData, cfg.CertFile, cfg.KeyFile = nil, nil, "", ""
		cfg.Username, cfg.Password, cfg.ExecProvider, cfg.AuthProvider = "", "", nil, nil
	}
	return cfg, nil
}

// Clients returns the Kubernetes and kcsr clientsets.
func (c *Connection) Clients() (kubernetes.Interface, kcsrclient.Interface, *rest.Config, error) {
	cfg, err := c.RESTConfig()
	if err != nil {
		return nil, nil, nil, err
	}
	k, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	kc, err := kcsrclient.NewForConfig(cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	return k, kc, cfg, nil
}

// Self is how the user runs this CLI, for the commands its messages suggest: "kcsr", or
// "kubectl csr" when it runs as the kubectl plugin (main sets it).
var Self = "kcsr"

// Package controller is the `kcsr controller` command: kcsr's signer, approver and
// revocation publisher run against a real Kubernetes cluster, for the signerNames it is
// configured to serve, beside (not instead of) kube-controller-manager.
//
// On a cluster, kcsr's own resources live in CustomResourceDefinitions (pkg/crd): the
// inventory of issued certificates (always: it is what makes issuance exactly-once across
// restarts and replicas) and, with --approve, the approval policies. The controllers that
// write (signer, approver) run on one replica at a time under a coordination.k8s.io Lease;
// the publisher (CRL, OCSP, the revocation webhook) serves on every replica.
package controller

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/component-base/metrics/legacyregistry"
	"k8s.io/klog/v2"

	"kcsr.dev/kcsr/pkg/controller/manager"
	"kcsr.dev/kcsr/pkg/crd"
	kcsrclient "kcsr.dev/kcsr/pkg/generated/clientset/versioned"
	kcsrinformers "kcsr.dev/kcsr/pkg/generated/informers/externalversions"
	"kcsr.dev/kcsr/pkg/inventory"
	"kcsr.dev/kcsr/pkg/leaderelection"
	"kcsr.dev/kcsr/pkg/metrics"
	"kcsr.dev/kcsr/pkg/signer"
	"kcsr.dev/kcsr/pkg/version"
)

// Options are the flags of `kcsr controller`.
type Options struct {
	Kubeconfig string
	// Signers limits the signerNames served; empty means every signer that has a CA.
	Signers []string
	// ClusterSigningCertFile/KeyFile (or Controllers.ClusterCAPKCS11URI for the key) give
	// the built-in kubernetes.io signers a CA; without them the built-in signers are left
	// to kube-controller-manager.
	ClusterSigningCertFile string
	ClusterSigningKeyFile  string
	// ClientCAFile is kube-apiserver's --client-ca-file: signers whose CA is in it, or
	// issued by one in it, are login signers (loginCAs says what counts without it).
	ClientCAFile string

	// Controllers are the signer's, approver's and publisher's settings, shared with
	// `kcsr server`.
	Controllers *manager.Options

	InstallCRDs bool

	// MetricsBindAddress serves /metrics (Prometheus) and /healthz when set.
	MetricsBindAddress string
}

// NewOptions returns the defaults.
func NewOptions() *Options {
	return &Options{
		Controllers: manager.NewOptions(),
		InstallCRDs: true,
	}
}

// AddFlags registers the flags.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Kubeconfig, "kubeconfig", o.Kubeconfig, "The cluster to serve (default: $KUBECONFIG, then ~/.kube/config, then in-cluster).")
	fs.StringSliceVar(&o.Signers, "signers", o.Signers, "signerNames to serve (comma-separated); default: every signer that has a CA.")
	fs.StringVar(&o.ClusterSigningCertFile, "cluster-signing-cert-file", o.ClusterSigningCertFile, "CA certificate for the built-in kubernetes.io signers; only when kube-controller-manager does not sign them.")
	fs.StringVar(&o.ClusterSigningKeyFile, "cluster-signing-key-file", o.ClusterSigningKeyFile, "The key of --cluster-signing-cert-file.")
	fs.StringVar(&o.ClientCAFile, "client-ca-file", o.ClientCAFile, "kube-apiserver's --client-ca-file. A signer whose CA is in it or issued by one in it is a login signer: it never issues system:masters, and its protected groups are left to a person. Default: the client-ca-file of the kube-system/extension-apiserver-authentication ConfigMap; if it cannot be read, only the CA of --cluster-signing-cert-file.")
	fs.BoolVar(&o.Controllers.Approve, "approve", o.Controllers.Approve, "Also run the policy approver (ApprovalPolicies, guard rails) for the served signerNames.")
	o.Controllers.AddFlags(fs)
	fs.Lookup("cluster-ca-pkcs11-uri").Usage += " Its certificate is --cluster-signing-cert-file."
	fs.Lookup("public-bind-address").Usage += " Default: 127.0.0.1."
	fs.BoolVar(&o.InstallCRDs, "install-crds", o.InstallCRDs, "Create or update kcsr's CustomResourceDefinitions at start (needs the right to; otherwise apply `kcsr controller crds` yourself).")
	fs.StringVar(&o.MetricsBindAddress, "metrics-bind-address", o.MetricsBindAddress, "Serve /metrics and /healthz over plain HTTP on this host:port (e.g. 127.0.0.1:10290); empty turns it off. Keep it on loopback or a private network.")
}

// Complete fills in derived values: the public listener binds loopback unless told
// otherwise.
func (o *Options) Complete() {
	o.Controllers.Complete(net.IPv4(127, 0, 0, 1))
}

// Validate reports every problem with the flags at once. It reads no file.
func (o *Options) Validate() error {
	var errs []error
	if (o.ClusterSigningCertFile == "") != (o.ClusterSigningKeyFile == "" && o.Controllers.ClusterCAPKCS11URI == "") {
		errs = append(errs, errors.New("--cluster-signing-cert-file needs --cluster-signing-key-file or --cluster-ca-pkcs11-uri, and they need it"))
	}
	if o.ClusterSigningKeyFile != "" && o.Controllers.ClusterCAPKCS11URI != "" {
		errs = append(errs, errors.New("--cluster-signing-key-file and --cluster-ca-pkcs11-uri both name the CA key: give one"))
	}
	if o.Controllers.SignerConfig == "" && o.ClusterSigningCertFile == "" {
		errs = append(errs, errors.New("nothing to sign with: give --signer-config (custom signers and their CAs) or --cluster-signing-cert-file"))
	}
	errs = append(errs, o.Controllers.Validate()...)
	return utilerrors.NewAggregate(errs)
}

// NewCommand is `kcsr controller` and its `crds` subcommand.
func NewCommand(out io.Writer) *cobra.Command {
	o := NewOptions()
	cmd := &cobra.Command{
		Use:   "controller",
		Short: "Run kcsr's signer, approver and revocation publisher against a Kubernetes cluster",
		Long: `Run kcsr's controllers against a real Kubernetes cluster: the signer for the
signerNames of --signer-config (CA key in a file or a PKCS#11 HSM), optionally the policy
approver (--approve), and the CRL/OCSP publisher and revocation webhook (--public-port).

kube-controller-manager keeps signing the built-in kubernetes.io signers unless you turn
its csrsigning controller off and give kcsr --cluster-signing-cert-file. Run two or more
replicas: only the holder of the Lease signs and approves.`,
		Example: `  kcsr controller --kubeconfig admin.kubeconfig --signer-config signers.yaml --public-port 8080
  kcsr controller crds | kubectl apply -f -`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Complete()
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context(), out)
		},
	}
	o.AddFlags(cmd.Flags())
	cmd.AddCommand(&cobra.Command{
		Use:   "crds",
		Short: "Print the CustomResourceDefinitions kcsr controller needs, as YAML",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			data, err := crd.YAML(crd.IssuedCertificates, crd.ApprovalPolicies)
			if err != nil {
				return err
			}
			_, err = out.Write(data)
			return err
		},
	})
	return cmd
}

// refuseUpstreamLogin refuses upstream.login, which only kcsr server can honour: it lets
// an upstream's certificates log in when kcsr's inventory records them, where
// kube-apiserver trusts a client CA for everything it signs.
func refuseUpstreamLogin(c *signer.Configuration) error {
	if c == nil {
		return nil
	}
	for _, s := range c.Signers {
		if s.Upstream != nil && s.Upstream.Login {
			return fmt.Errorf("--signer-config: signer %s: upstream.login is for kcsr server, which admits only the certificates it recorded; kube-apiserver cannot gate its client CAs that way. Remove login (to log in to kube-apiserver, add the upstream's CA to its --client-ca-file, which trusts everything that CA signs)", s.SignerName)
		}
	}
	return nil
}

// Run serves until ctx is done. It does not change o.
func (o *Options) Run(ctx context.Context, out io.Writer) error {
	signerConfig, err := o.Controllers.LoadSignerConfig(ctx)
	if err != nil {
		return err
	}
	if err := refuseUpstreamLogin(signerConfig); err != nil {
		return err
	}
	metrics.Register()
	config, err := o.restConfig()
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return err
	}
	kcsr, err := kcsrclient.NewForConfig(config)
	if err != nil {
		return err
	}
	signers, err := o.openSigners(ctx, signerConfig, client)
	if err != nil {
		return err
	}
	defer signers.Close()
	// Only now that the configuration is known to be good does anything change on the
	// cluster.
	if o.InstallCRDs {
		dyn, err := dynamic.NewForConfig(config)
		if err != nil {
			return err
		}
		resources := []crd.Resource{crd.IssuedCertificates}
		if o.Controllers.Approve {
			resources = append(resources, crd.ApprovalPolicies)
		}
		if err := crd.Install(ctx, dyn, resources...); err != nil {
			return fmt.Errorf("%w (run with --install-crds=false after applying `kcsr controller crds` with enough rights)", err)
		}
	}

	kcsrFactory := kcsrinformers.NewSharedInformerFactory(kcsr, 0)
	inv := inventory.NewIndex()
	pub, err := o.Controllers.StartPublisher(ctx, signers, inv)
	if err != nil {
		return err
	}
	go inv.Run(ctx, kcsr.KcsrV1alpha1().IssuedCertificates())
	if o.MetricsBindAddress != "" {
		mux := http.NewServeMux()
		mux.Handle("/metrics", legacyregistry.Handler())
		mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
		if err := manager.Serve(ctx, "--metrics-bind-address", o.MetricsBindAddress, mux); err != nil {
			return err
		}
	}
	kcsrFactory.Start(ctx.Done())

	identity, err := leaderelection.NewIdentity()
	if err != nil {
		return err
	}
	factory := informers.NewSharedInformerFactory(client, 0)
	mc := manager.Config{
		Identity: identity,
		Client:   client,
		Kcsr:     kcsr,
		CSRs:     factory.Certificates().V1().CertificateSigningRequests(),
		StartInformers: func(stop <-chan struct{}) {
			factory.Start(stop)
			kcsrFactory.Start(stop)
		},
		// The index's records feed the upstream revoker (the inventory cleaner runs only
		// with Clean, which kcsr controller leaves off).
		Inventory: inv,
		Signers:   signers,
		Publisher: pub,
		Component: "kcsr-controller",
	}
	if o.Controllers.Approve {
		mc.Policies = kcsrFactory.Kcsr().V1alpha1().ApprovalPolicies()
	}
	wait, err := o.Controllers.Run(ctx, ctx, mc)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "kcsr controller %s serving %s on %s as %s\n", version.GitVersion(), strings.Join(signers.Names(), ", "), config.Host, identity)
	wait()
	return nil
}

// openSigners opens the CA of the built-in signers (--cluster-signing-cert-file) and the
// signers of signerConfig, limited to --signers, and marks the login signers: those on a
// CA the cluster accepts client certificates from (loginCAs).
func (o *Options) openSigners(ctx context.Context, signerConfig *signer.Configuration, client kubernetes.Interface) (*manager.Signers, error) {
	clusterCA, err := o.Controllers.OpenClusterCA(ctx, o.ClusterSigningCertFile, o.ClusterSigningKeyFile, "--cluster-signing-cert-file, --cluster-signing-key-file")
	if err != nil {
		return nil, err
	}
	trusted, source, err := o.loginCAs(ctx, client, clusterCA)
	if err != nil {
		if clusterCA != nil {
			clusterCA.Close()
		}
		return nil, err
	}
	klog.InfoS("Client CAs of the cluster, for the login signers", "source", source)
	return o.Controllers.OpenSigners(ctx, signerConfig, clusterCA, o.Signers, trusted)
}

func (o *Options) restConfig() (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if o.Kubeconfig != "" {
		rules.ExplicitPath = o.Kubeconfig
	}
	config, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig: %w", err)
	}
	// The controllers' own pace is set by their work queues.
	config.QPS, config.Burst = 200, 400
	config.UserAgent = "kcsr-controller"
	return config, nil
}

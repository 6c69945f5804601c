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
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/record"
	"k8s.io/component-base/metrics/legacyregistry"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"kcsr.dev/kcsr/pkg/ca"
	cafile "kcsr.dev/kcsr/pkg/ca/file"
	capkcs11 "kcsr.dev/kcsr/pkg/ca/pkcs11"
	"kcsr.dev/kcsr/pkg/controller/approver"
	"kcsr.dev/kcsr/pkg/controller/csrsigning"
	"kcsr.dev/kcsr/pkg/controller/publisher"
	"kcsr.dev/kcsr/pkg/crd"
	kcsrclient "kcsr.dev/kcsr/pkg/generated/clientset/versioned"
	kcsrinformers "kcsr.dev/kcsr/pkg/generated/informers/externalversions"
	"kcsr.dev/kcsr/pkg/leaderelection"
	"kcsr.dev/kcsr/pkg/metrics"
	"kcsr.dev/kcsr/pkg/policy"
	"kcsr.dev/kcsr/pkg/signer"
	"kcsr.dev/kcsr/pkg/version"
)

// Options are the flags of `kcsr controller`.
type Options struct {
	Kubeconfig string
	// Signers limits the signerNames served; empty means every signer that has a CA.
	Signers      []string
	SignerConfig string
	// ClusterSigningCertFile/KeyFile or ClusterCAPKCS11URI give the built-in
	// kubernetes.io signers a CA; without them the built-in signers are left to
	// kube-controller-manager.
	ClusterSigningCertFile string
	ClusterSigningKeyFile  string
	ClusterCAPKCS11URI     string
	PKCS11Module           string
	ClusterSigningDuration time.Duration
	// ClientCAFile is kube-apiserver's --client-ca-file: signers whose CA is in it, or
	// issued by one in it, are login signers (loginCAs says what counts without it).
	ClientCAFile string

	Approve    bool
	GuardRails policy.GuardRails
	Workers    int

	InstallCRDs bool

	LeaderElection *leaderelection.Options

	PublicPort        int
	PublicBindAddress net.IP
	PublicURL         string

	// MetricsBindAddress serves /metrics (Prometheus) and /healthz when set.
	MetricsBindAddress string
}

// NewOptions returns the defaults.
func NewOptions() *Options {
	return &Options{
		ClusterSigningDuration: 365 * 24 * time.Hour,
		GuardRails:             policy.DefaultGuardRails(),
		Workers:                16,
		InstallCRDs:            true,
		LeaderElection:         leaderelection.NewOptions(),
		PublicBindAddress:      net.IPv4(127, 0, 0, 1),
	}
}

// AddFlags registers the flags.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Kubeconfig, "kubeconfig", o.Kubeconfig, "The cluster to serve (default: $KUBECONFIG, then ~/.kube/config, then in-cluster).")
	fs.StringSliceVar(&o.Signers, "signers", o.Signers, "signerNames to serve (comma-separated); default: every signer that has a CA.")
	fs.StringVar(&o.SignerConfig, "signer-config", o.SignerConfig, "SignerConfiguration file declaring the signers, their CAs (files or PKCS#11) and rules (docs/signers.md).")
	fs.StringVar(&o.ClusterSigningCertFile, "cluster-signing-cert-file", o.ClusterSigningCertFile, "CA certificate for the built-in kubernetes.io signers; only when kube-controller-manager does not sign them.")
	fs.StringVar(&o.ClusterSigningKeyFile, "cluster-signing-key-file", o.ClusterSigningKeyFile, "The key of --cluster-signing-cert-file.")
	fs.StringVar(&o.ClusterCAPKCS11URI, "cluster-ca-pkcs11-uri", o.ClusterCAPKCS11URI, "PKCS#11 URI of the built-in signers' CA key (with --cluster-signing-cert-file for its certificate).")
	fs.StringVar(&o.PKCS11Module, "pkcs11-module", o.PKCS11Module, "PKCS#11 module for --cluster-ca-pkcs11-uri.")
	fs.DurationVar(&o.ClusterSigningDuration, "cluster-signing-duration", o.ClusterSigningDuration, "Longest lifetime a signer issues unless its configuration says otherwise.")
	fs.StringVar(&o.ClientCAFile, "client-ca-file", o.ClientCAFile, "kube-apiserver's --client-ca-file. A signer whose CA is in it or issued by one in it is a login signer: it never issues system:masters, and its protected groups are left to a person. Default: the client-ca-file of the kube-system/extension-apiserver-authentication ConfigMap; if it cannot be read, only the CA of --cluster-signing-cert-file.")
	fs.BoolVar(&o.Approve, "approve", o.Approve, "Also run the policy approver (ApprovalPolicies, guard rails) for the served signerNames.")
	fs.IntVar(&o.Workers, "workers", o.Workers, "Concurrent CSRs per controller.")
	fs.BoolVar(&o.InstallCRDs, "install-crds", o.InstallCRDs, "Create or update kcsr's CustomResourceDefinitions at start (needs the right to; otherwise apply `kcsr controller crds` yourself).")
	o.LeaderElection.AddFlags(fs)
	fs.IntVar(&o.PublicPort, "public-port", o.PublicPort, "Serve CRLs, OCSP and the revocation authorization webhook over plain HTTP on this port; 0 turns it off.")
	fs.IPVar(&o.PublicBindAddress, "public-bind-address", o.PublicBindAddress, "Address of the public listener.")
	fs.StringVar(&o.PublicURL, "public-url", o.PublicURL, "Base URL of the public listener as clients reach it, written into issued certificates (default http://<bind>:<port>).")
	fs.StringVar(&o.MetricsBindAddress, "metrics-bind-address", o.MetricsBindAddress, "Serve /metrics and /healthz over plain HTTP on this host:port (e.g. 127.0.0.1:10290); empty turns it off. Keep it on loopback or a private network.")
	fs.StringSliceVar(&o.GuardRails.ProtectedGroups, "protected-groups", o.GuardRails.ProtectedGroups, "Groups no policy may approve (with --approve).")
}

// Validate reports every problem with the flags at once.
func (o *Options) Validate() error {
	var errs []error
	if (o.ClusterSigningCertFile == "") != (o.ClusterSigningKeyFile == "" && o.ClusterCAPKCS11URI == "") {
		errs = append(errs, errors.New("--cluster-signing-cert-file needs --cluster-signing-key-file or --cluster-ca-pkcs11-uri, and they need it"))
	}
	if o.ClusterSigningKeyFile != "" && o.ClusterCAPKCS11URI != "" {
		errs = append(errs, errors.New("--cluster-signing-key-file and --cluster-ca-pkcs11-uri both name the CA key: give one"))
	}
	if o.SignerConfig == "" && o.ClusterSigningCertFile == "" {
		errs = append(errs, errors.New("nothing to sign with: give --signer-config (custom signers and their CAs) or --cluster-signing-cert-file"))
	}
	if o.Workers < 1 {
		errs = append(errs, fmt.Errorf("--workers must be at least 1, not %d", o.Workers))
	}
	if o.PublicPort < 0 || o.PublicPort > 65535 {
		errs = append(errs, fmt.Errorf("--public-port %d is not a port number", o.PublicPort))
	}
	errs = append(errs, o.LeaderElection.Validate()...)
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

// Run serves until ctx is done.
func (o *Options) Run(ctx context.Context, out io.Writer) error {
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
	profiles, clusterCA, err := o.profiles(ctx)
	if err != nil {
		return err
	}
	if err := o.markLoginSigners(ctx, client, profiles, clusterCA); err != nil {
		return err
	}
	// Only now that the configuration is known to be good does anything change on the
	// cluster.
	if o.InstallCRDs {
		dyn, err := dynamic.NewForConfig(config)
		if err != nil {
			return err
		}
		resources := []crd.Resource{crd.IssuedCertificates}
		if o.Approve {
			resources = append(resources, crd.ApprovalPolicies)
		}
		if err := crd.Install(ctx, dyn, resources...); err != nil {
			return fmt.Errorf("%w (run with --install-crds=false after applying `kcsr controller crds` with enough rights)", err)
		}
	}

	defer func() {
		closed := map[ca.Backend]bool{}
		for _, p := range profiles {
			if !closed[p.CA] {
				closed[p.CA] = true
				p.CA.Close()
			}
		}
	}()
	names := make([]string, 0, len(profiles))
	for name := range profiles {
		names = append(names, name)
	}
	sort.Strings(names)

	kcsrFactory := kcsrinformers.NewSharedInformerFactory(kcsr, 0)
	issued := kcsrFactory.Kcsr().V1alpha1().IssuedCertificates().Informer()
	if err := issued.AddIndexers(cache.Indexers{publisher.SerialIndex: publisher.IndexSerial, publisher.FingerprintIndex: publisher.IndexFingerprint}); err != nil {
		return err
	}
	cas, err := publisher.CAsFor(ctx, profiles, clusterCA)
	if err != nil {
		return err
	}
	pub, err := publisher.New(cas, issued, clock.RealClock{})
	if err != nil {
		return err
	}
	if err := o.servePublic(ctx, pub); err != nil {
		return err
	}
	if o.MetricsBindAddress != "" {
		mux := http.NewServeMux()
		mux.Handle("/metrics", legacyregistry.Handler())
		mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
		if err := serve(ctx, "--metrics-bind-address", o.MetricsBindAddress, mux); err != nil {
			return err
		}
	}
	kcsrFactory.Start(ctx.Done())
	go pub.Run(ctx)

	identity, err := leaderelection.NewIdentity()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "kcsr controller %s serving %s on %s as %s\n", version.GitVersion(), strings.Join(names, ", "), config.Host, identity)
	run := func(ctx context.Context) {
		if err := o.runControllers(ctx, client, kcsr, kcsrFactory, profiles, pub); err != nil {
			klog.ErrorS(err, "controllers stopped")
		}
	}
	if !o.LeaderElection.Enabled {
		run(ctx)
		return nil
	}
	return leaderelection.Run(ctx, o.LeaderElection.Config(client, identity), run)
}

// runControllers runs the signer (and approver) until ctx ends; it blocks.
func (o *Options) runControllers(ctx context.Context, client kubernetes.Interface, kcsr kcsrclient.Interface, kcsrFactory kcsrinformers.SharedInformerFactory, profiles map[string]*signer.Profile, pub *publisher.Publisher) error {
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	recorder := broadcaster.NewRecorder(clientgoscheme.Scheme, corev1.EventSource{Component: "kcsr-controller"})

	factory := informers.NewSharedInformerFactory(client, 0)
	csrs := factory.Certificates().V1().CertificateSigningRequests()
	crlURLs, ocspURLs := pub.URLFuncs(o.PublicURL)
	signerController, err := csrsigning.New(client, kcsr, csrs, csrsigning.Options{
		Profiles: profiles,
		// Other signers (kube-controller-manager, cert-manager…) share the cluster: an
		// unserved signerName is someone else's, not an error.
		ReportUnserved:        false,
		Recorder:              recorder,
		CRLDistributionPoints: crlURLs,
		OCSPServers:           ocspURLs,
	})
	if err != nil {
		return err
	}
	if o.Approve {
		policyInformer := kcsrFactory.Kcsr().V1alpha1().ApprovalPolicies()
		engine := &approver.PolicyEngine{Lister: policyInformer.Lister(), GuardRails: o.GuardRails}
		served := make([]string, 0, len(profiles))
		for name := range profiles {
			served = append(served, name)
		}
		approverController, err := approver.New(client, kcsr, csrs, approver.Options{
			Policies:   engine.Decide,
			GuardRails: engine.GuardRailVerdict,
			Recorder:   recorder,
			// kube-controller-manager's csrapproving decides the kubelet's CSRs; kcsr
			// decides only what it signs.
			SignerNames: served,
		})
		if err != nil {
			return err
		}
		kcsrFactory.Start(ctx.Done())
		go approverController.Run(ctx, o.Workers)
	}
	factory.Start(ctx.Done())
	signerController.Run(ctx, o.Workers)
	return nil
}

// profiles builds the served signers: --signer-config's, plus the built-in ones when a
// cluster CA is given, limited to --signers.
func (o *Options) profiles(ctx context.Context) (map[string]*signer.Profile, ca.Backend, error) {
	now := time.Now()
	var clusterCA ca.Backend
	switch {
	case o.ClusterCAPKCS11URI != "":
		b, err := capkcs11.New(ctx, capkcs11.Config{ModulePath: o.PKCS11Module, URI: o.ClusterCAPKCS11URI, CertFile: o.ClusterSigningCertFile}, now)
		if err != nil {
			return nil, nil, fmt.Errorf("--cluster-ca-pkcs11-uri: %w", err)
		}
		clusterCA = b
	case o.ClusterSigningCertFile != "":
		b, err := cafile.Load(ctx, o.ClusterSigningCertFile, o.ClusterSigningKeyFile, now)
		if err != nil {
			return nil, nil, fmt.Errorf("--cluster-signing-cert-file, --cluster-signing-key-file: %w", err)
		}
		clusterCA = b
	}
	var cfg *signer.Configuration
	if o.SignerConfig != "" {
		var err error
		if cfg, err = signer.LoadConfiguration(o.SignerConfig); err != nil {
			return nil, nil, err
		}
	}
	all, err := signer.Build(ctx, cfg, clusterCA, o.ClusterSigningDuration, now)
	if err != nil {
		return nil, nil, err
	}
	profiles := map[string]*signer.Profile{}
	for name, p := range all {
		if p.CA == nil {
			continue
		}
		if len(o.Signers) > 0 && !slices.Contains(o.Signers, name) {
			continue
		}
		profiles[name] = p
	}
	for _, want := range o.Signers {
		if profiles[want] == nil {
			return nil, nil, fmt.Errorf("--signers names %q, but no CA is configured for it: declare it in --signer-config, or give --cluster-signing-cert-file for a kubernetes.io signer", want)
		}
	}
	if len(profiles) == 0 {
		return nil, nil, errors.New("no signer has a CA: nothing to serve")
	}
	return profiles, clusterCA, nil
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

// servePublic serves CRLs, OCSP and the revocation webhook with --public-port.
func (o *Options) servePublic(ctx context.Context, pub *publisher.Publisher) error {
	if o.PublicPort == 0 {
		return nil
	}
	if o.PublicURL == "" {
		host := o.PublicBindAddress.String()
		if o.PublicBindAddress.IsUnspecified() {
			host = "127.0.0.1"
		}
		o.PublicURL = "http://" + net.JoinHostPort(host, strconv.Itoa(o.PublicPort))
	}
	if err := serve(ctx, "--public-port", net.JoinHostPort(o.PublicBindAddress.String(), strconv.Itoa(o.PublicPort)), pub.Handler()); err != nil {
		return err
	}
	klog.InfoS("Serving CRLs, OCSP and the revocation webhook", "url", o.PublicURL)
	return nil
}

// serve serves handler on addr until ctx is done; flag names the setting in errors.
func serve(ctx context.Context, flag, addr string, handler http.Handler) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s: %w", flag, err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(l); err != nil && err != http.ErrServerClosed {
			klog.ErrorS(err, "listener failed", "address", addr)
		}
	}()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	return nil
}

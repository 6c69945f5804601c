package server

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	certificatesv1 "k8s.io/api/certificates/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizerfactory"
	authorizerunion "k8s.io/apiserver/pkg/authorization/union"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/server/dynamiccertificates"
	"k8s.io/apiserver/pkg/server/healthz"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"kcsr.dev/kcsr/pkg/admission/certificates/approval"
	"kcsr.dev/kcsr/pkg/admission/certificates/signing"
	"kcsr.dev/kcsr/pkg/admission/certificates/subjectrestriction"
	"kcsr.dev/kcsr/pkg/admission/issuance"
	"kcsr.dev/kcsr/pkg/admission/jointoken"
	revocationadmission "kcsr.dev/kcsr/pkg/admission/revocation"
	"kcsr.dev/kcsr/pkg/apiserver"
	"kcsr.dev/kcsr/pkg/authn"
	"kcsr.dev/kcsr/pkg/authz/bootstrap"
	authzrbac "kcsr.dev/kcsr/pkg/authz/rbac"
	"kcsr.dev/kcsr/pkg/controller/publisher"
	"kcsr.dev/kcsr/pkg/datadir"
	"kcsr.dev/kcsr/pkg/embeddedetcd"
	kcsrclient "kcsr.dev/kcsr/pkg/generated/clientset/versioned"
	kcsrinformers "kcsr.dev/kcsr/pkg/generated/informers/externalversions"
	"kcsr.dev/kcsr/pkg/metrics"
	"kcsr.dev/kcsr/pkg/pki"
)

// AdminKubeconfig is the file name of the administrator's kubeconfig in the data directory.
const AdminKubeconfig = "admin.kubeconfig"

// NewCommand returns `kcsr server`.
func NewCommand(out io.Writer) *cobra.Command {
	o := NewOptions()
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the kcsr control plane: a Kubernetes-compatible CSR API over etcd",
		Long: `Run the kcsr control plane: the certificates.k8s.io/v1 CertificateSigningRequest API,
RBAC, authentication by client certificate, admission and audit, as kube-apiserver
serves them, over an embedded etcd (or an external cluster with --etcd-servers).

The first start creates, in --data-dir, a cluster CA, a serving certificate, an
administrator certificate (CN=kcsr-admin, O=system:masters) and admin.kubeconfig.
Later starts reuse them and every stored object.`,
		Example: `  # Start on https://127.0.0.1:6443 with data in ./kcsr-data
  kcsr server

  # Then, in another shell
  kubectl --kubeconfig kcsr-data/admin.kubeconfig get csr`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Complete(); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context(), out)
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

// Run starts everything and serves until ctx is done.
func (o *Options) Run(ctx context.Context, out io.Writer) error {
	// One server per data directory, taken before anything in it is read or written: a
	// second one would start a second etcd on the same files and take its socket.
	lock, err := datadir.Acquire(o.DataDir)
	if err != nil {
		return err
	}
	defer lock.Release()
	metrics.Register()
	pkiOpts := pki.Options{Dir: filepath.Join(o.DataDir, "pki"), SANs: o.TLSSANs}
	clusterCA, err := o.openClusterHSM(ctx, pkiOpts.Dir)
	if err != nil {
		return err
	}
	if clusterCA != nil {
		defer clusterCA.Close()
		if pkiOpts.CASigner, err = clusterCA.Signer(ctx); err != nil {
			return err
		}
	}
	p, err := pki.Ensure(pkiOpts)
	if err != nil {
		return err
	}
	for _, e := range p.Events {
		klog.InfoS("PKI", "action", e)
	}

	if len(o.Etcd.StorageConfig.Transport.ServerList) == 0 {
		// Only this process can use the embedded store: there is no replica to take turns
		// with, and a restart after a crash should not wait out a lease.
		o.LeaderElection.Enabled = false
		etcd, err := embeddedetcd.Start(ctx, embeddedetcd.Config{Dir: filepath.Join(o.DataDir, "etcd")})
		if err != nil {
			return err
		}
		defer etcd.Close()
		o.Etcd.StorageConfig.Transport.ServerList = []string{etcd.ClientURL()}
		go func() {
			if err, ok := <-etcd.Err(); ok && err != nil {
				klog.ErrorS(err, "embedded etcd failed")
			}
		}()
	}

	if err := claimClusterCA(ctx, o.Etcd.StorageConfig, p.CA.Raw); err != nil {
		return err
	}
	// Before Config: admission and the guard rails need the login signers.
	profiles, clusterBackend, err := o.signerProfiles(ctx, p, clusterCA)
	if err != nil {
		return err
	}
	config, serverURL, err := o.Config(p)
	if err != nil {
		return err
	}
	server, err := config.Complete().New()
	if err != nil {
		return err
	}

	kubeconfig := filepath.Join(o.DataDir, AdminKubeconfig)
	if err := p.WriteAdminKubeconfig(kubeconfig, serverURL); err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(config.GenericConfig.LoopbackClientConfig)
	if err != nil {
		return err
	}
	if err := server.GenericAPIServer.AddPostStartHook("kcsr-bootstrap-rbac", func(hc genericapiserver.PostStartHookContext) error {
		return ensureBootstrapPolicy(hc, client)
	}); err != nil {
		return err
	}
	// The admin and serving certificates are in the inventory, revocable, before the
	// server is ready.
	leaves, err := p.Leaves()
	if err != nil {
		return err
	}
	records, err := kcsrclient.NewForConfig(config.GenericConfig.LoopbackClientConfig)
	if err != nil {
		return err
	}
	if err := server.GenericAPIServer.AddPostStartHook("kcsr-pki-inventory", func(hc genericapiserver.PostStartHookContext) error {
		return recordPKI(hc, records, leaves)
	}); err != nil {
		return err
	}
	pub, err := o.startPublisher(ctx, profiles, clusterBackend)
	if err != nil {
		return err
	}
	// The approver, signer and cleaner (under the Lease with --leader-elect) stop when ctx
	// is done; the pre-shutdown hook waits for them, and so for the Lease to be released,
	// before the server stops taking requests: a follower takes over at once.
	var waitControllers atomic.Pointer[func()]
	if err := server.GenericAPIServer.AddPostStartHook("kcsr-controllers", func(hc genericapiserver.PostStartHookContext) error {
		wait, err := o.runControllers(ctx, hc, config.GenericConfig.LoopbackClientConfig, profiles, pub)
		if err != nil {
			return err
		}
		waitControllers.Store(&wait)
		return nil
	}); err != nil {
		return err
	}
	if err := server.GenericAPIServer.AddPreShutdownHook("kcsr-controllers", func() error {
		wait := waitControllers.Load()
		if wait == nil {
			return nil
		}
		stopped := make(chan struct{})
		go func() { (*wait)(); close(stopped) }()
		select {
		case <-stopped:
		case <-time.After(o.LeaderElection.RenewDeadline + 5*time.Second):
			klog.InfoS("Controllers still stopping; shutting down anyway")
		}
		return nil
	}); err != nil {
		return err
	}
	go announceWhenReady(ctx, client, out, serverURL, kubeconfig, o.DataDir)

	return server.Run(ctx)
}

// Config builds the API server configuration. It returns the URL clients should use.
func (o *Options) Config(p *pki.PKI) (*apiserver.Config, string, error) {
	generic := genericapiserver.NewRecommendedConfig(apiserver.Codecs)
	apiserver.ApplyVersion(&generic.Config)
	apiserver.ApplyOpenAPI(&generic.Config)

	if o.SecureServing.ServerCert.CertKey.CertFile == "" {
		o.SecureServing.ServerCert.CertKey.CertFile = p.Path(pki.ServingCertFile)
		o.SecureServing.ServerCert.CertKey.KeyFile = p.Path(pki.ServingKeyFile)
	}
	if err := o.SecureServing.ApplyTo(&generic.SecureServing, &generic.LoopbackClientConfig); err != nil {
		return nil, "", err
	}
	// The in-process controllers use the loopback client; they must not be throttled by
	// client-side rate limits meant for remote clients.
	generic.LoopbackClientConfig.QPS = -1
	// End open watches (kubectl get -w, informers) as soon as shutdown starts; with
	// k8s.io/apiserver's default of 0, SIGTERM waits for them until the 60s shutdown
	// timeout.
	generic.ShutdownWatchTerminationGracePeriod = 5 * time.Second

	clientCA, err := dynamiccertificates.NewDynamicCAContentFromFile("client-ca", p.Path(pki.CACertFile))
	if err != nil {
		return nil, "", err
	}
	kcsrClient, err := kcsrclient.NewForConfig(generic.LoopbackClientConfig)
	if err != nil {
		return nil, "", err
	}
	kcsrFactory := kcsrinformers.NewSharedInformerFactoryWithOptions(kcsrClient, 10*time.Minute, kcsrinformers.WithTransform(dropManagedFields))
	tokens := &authn.TokenAuthenticator{
		Bootstrap: kcsrFactory.Kcsr().V1alpha1().BootstrapTokens().Lister(),
		Join:      kcsrFactory.Kcsr().V1alpha1().JoinTokens().Lister(),
		Clock:     clock.RealClock{},
	}
	issued := kcsrFactory.Kcsr().V1alpha1().IssuedCertificates().Informer()
	o.kcsrInformers = kcsrFactory
	if err := issued.AddIndexers(cache.Indexers{authn.RevokedFingerprintIndex: authn.IndexRevoked, publisher.SerialIndex: publisher.IndexSerial, publisher.FingerprintIndex: publisher.IndexFingerprint}); err != nil {
		return nil, "", err
	}
	revocation := &authn.RevocationChecker{Indexer: issued.GetIndexer(), Synced: issued.HasSynced}
	if err := generic.AddPostStartHook("kcsr-informers", func(hc genericapiserver.PostStartHookContext) error {
		kcsrFactory.Start(hc.Done())
		return nil
	}); err != nil {
		return nil, "", err
	}
	// Not ready until tokens and revocations are loaded: authentication depends on them.
	synced := []cache.InformerSynced{
		issued.HasSynced,
		kcsrFactory.Kcsr().V1alpha1().BootstrapTokens().Informer().HasSynced,
		kcsrFactory.Kcsr().V1alpha1().JoinTokens().Informer().HasSynced,
	}
	generic.AddReadyzChecks(healthz.NamedCheck("kcsr-informers", func(*http.Request) error {
		for _, s := range synced {
			if !s() {
				return fmt.Errorf("tokens and revocations are not loaded yet")
			}
		}
		return nil
	}))
	authenticator, err := authn.New(authn.Options{ClientCA: clientCA, TokenAuthFile: o.TokenAuthFile, Tokens: tokens, Revocation: revocation})
	if err != nil {
		return nil, "", err
	}
	generic.Authentication.Authenticator = authenticator
	if err := generic.Authentication.ApplyClientCert(clientCA, generic.SecureServing); err != nil {
		return nil, "", err
	}

	client, err := kubernetes.NewForConfig(generic.LoopbackClientConfig)
	if err != nil {
		return nil, "", err
	}
	factory := informers.NewSharedInformerFactoryWithOptions(client, 10*time.Minute, informers.WithTransform(dropManagedFields))
	generic.SharedInformerFactory = factory
	o.kubeInformers = factory
	// kcsr_csrs: the stored CSRs by state, the same on every replica.
	// Informer() registers it with the factory now, before the factory starts.
	csrInformer := factory.Certificates().V1().CertificateSigningRequests()
	if err := csrInformer.Informer().AddIndexers(cache.Indexers{jointoken.RequesterIndex: jointoken.IndexJoinRequester}); err != nil {
		return nil, "", err
	}
	csrSynced, csrLister := csrInformer.Informer().HasSynced, csrInformer.Lister()
	metrics.SetCSRSource(func() ([]*certificatesv1.CertificateSigningRequest, bool) {
		if !csrSynced() {
			return nil, false
		}
		list, err := csrLister.List(labels.Everything())
		return list, err == nil
	})
	roles, bindings := authzrbac.NewListerGetters(
		factory.Rbac().V1().ClusterRoles().Lister(),
		factory.Rbac().V1().ClusterRoleBindings().Lister(),
	)
	rbac := authzrbac.New(roles, bindings)
	authz, err := authorizerunion.New(
		authorizerunion.NamedAuthorizer{AuthorizerName: "system:masters", Authorizer: authorizerfactory.NewPrivilegedGroups(user.SystemPrivilegedGroup)},
		authorizerunion.NamedAuthorizer{AuthorizerName: "rbac", Authorizer: rbac},
	)
	if err != nil {
		return nil, "", err
	}
	generic.Authorization.Authorizer = authz
	generic.RuleResolver = rbac

	generic.AdmissionControl = admission.NewChainHandler(
		approval.New(authz),
		signing.New(authz),
		subjectrestriction.New(o.GuardRails.LoginSigners...),
		revocationadmission.New(authz),
		issuance.New(authz, o.GuardRails),
		jointoken.New(kcsrFactory.Kcsr().V1alpha1().JoinTokens().Lister(), csrInformer.Informer().GetIndexer(), clock.RealClock{}),
	)

	if err := o.Audit.ApplyTo(&generic.Config); err != nil {
		return nil, "", err
	}
	o.Etcd.StorageConfig.StorageObjectCountTracker = generic.StorageObjectCountTracker
	if err := o.Etcd.ApplyWithStorageFactoryTo(apiserver.NewStorageFactory(o.Etcd.StorageConfig), &generic.Config); err != nil {
		return nil, "", err
	}

	return &apiserver.Config{
		GenericConfig: generic,
		ExtraConfig: apiserver.ExtraConfig{
			Authorizer:   authz,
			RuleResolver: rbac,
			Escalation:   authzrbac.NewEscalationChecker(authz, rbac, roles),
		},
	}, serverURL(generic.SecureServing), nil
}

// serverURL is the URL a local client uses: the bind address, or loopback when the server
// binds every interface.
func serverURL(s *genericapiserver.SecureServingInfo) string {
	host, port, err := net.SplitHostPort(s.Listener.Addr().String())
	if err != nil {
		return "https://" + s.Listener.Addr().String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "https://" + net.JoinHostPort(host, port)
}

// ensureBootstrapPolicy creates the default ClusterRoles and ClusterRoleBindings that are
// missing. Existing ones are left alone: an administrator may have changed them.
func ensureBootstrapPolicy(ctx context.Context, client kubernetes.Interface) error {
	return wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		for _, role := range bootstrap.ClusterRoles() {
			if _, err := client.RbacV1().ClusterRoles().Create(ctx, &role, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
				klog.V(2).InfoS("waiting to create bootstrap ClusterRole", "name", role.Name, "err", err)
				return false, nil
			}
		}
		for _, binding := range bootstrap.ClusterRoleBindings() {
			if _, err := client.RbacV1().ClusterRoleBindings().Create(ctx, &binding, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
				klog.V(2).InfoS("waiting to create bootstrap ClusterRoleBinding", "name", binding.Name, "err", err)
				return false, nil
			}
		}
		return true, nil
	})
}

// announceWhenReady prints how to use the server once /readyz says so.
func announceWhenReady(ctx context.Context, client kubernetes.Interface, out io.Writer, url, kubeconfig, dataDir string) {
	err := wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		body, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err == nil && string(body) == "ok", nil
	})
	if err != nil {
		return
	}
	fmt.Fprintf(out, `kcsr server is ready at %s (data in %s)

Use it with kubectl:
  export KUBECONFIG=%s
  kubectl get csr

Stop it with Ctrl-C; a restart keeps every object.
`, url, dataDir, kubeconfig)
}

// dropManagedFields trims server-side apply bookkeeping from objects before the informers
// cache them, as kube-controller-manager does: nothing in kcsr reads it, and with a few
// field managers per CSR it is a good part of each cached object. An update sent with no
// managedFields leaves the stored ones unchanged.
func dropManagedFields(obj any) (any, error) {
	if accessor, err := meta.Accessor(obj); err == nil && accessor.GetManagedFields() != nil {
		accessor.SetManagedFields(nil)
	}
	return obj, nil
}

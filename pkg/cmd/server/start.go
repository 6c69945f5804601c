package server

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"runtime/debug"
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
	genericoptions "k8s.io/apiserver/pkg/server/options"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"kcsr.dev/kcsr/pkg/admission/certificates/approval"
	"kcsr.dev/kcsr/pkg/admission/certificates/signing"
	"kcsr.dev/kcsr/pkg/admission/certificates/subjectrestriction"
	issuanceadmission "kcsr.dev/kcsr/pkg/admission/issuance"
	"kcsr.dev/kcsr/pkg/admission/jointoken"
	"kcsr.dev/kcsr/pkg/admission/owncsr"
	revocationadmission "kcsr.dev/kcsr/pkg/admission/revocation"
	"kcsr.dev/kcsr/pkg/apiserver"
	"kcsr.dev/kcsr/pkg/authn"
	"kcsr.dev/kcsr/pkg/authz/bootstrap"
	"kcsr.dev/kcsr/pkg/authz/own"
	authzrbac "kcsr.dev/kcsr/pkg/authz/rbac"
	"kcsr.dev/kcsr/pkg/ca"
	"kcsr.dev/kcsr/pkg/controller/manager"
	"kcsr.dev/kcsr/pkg/datadir"
	"kcsr.dev/kcsr/pkg/embeddedetcd"
	"kcsr.dev/kcsr/pkg/events"
	kcsrclient "kcsr.dev/kcsr/pkg/generated/clientset/versioned"
	kcsrinformers "kcsr.dev/kcsr/pkg/generated/informers/externalversions"
	"kcsr.dev/kcsr/pkg/inventory"
	"kcsr.dev/kcsr/pkg/issuance"
	"kcsr.dev/kcsr/pkg/metrics"
	"kcsr.dev/kcsr/pkg/pemutil"
	"kcsr.dev/kcsr/pkg/pki"
	"kcsr.dev/kcsr/pkg/policy"
	"kcsr.dev/kcsr/pkg/signer"
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

// Run starts everything and serves until ctx is done. It does not change o.
func (o *Options) Run(ctx context.Context, out io.Writer) error {
	signerConfig, err := o.loadFiles(ctx)
	if err != nil {
		return err
	}
	// One server per data directory, taken before anything in it is read or written: a
	// second one would start a second etcd on the same files and take its socket.
	lock, err := datadir.Acquire(o.DataDir)
	if err != nil {
		return err
	}
	defer lock.Release()
	metrics.Register()
	p, signers, err := o.openPKI(ctx, signerConfig)
	if err != nil {
		return err
	}
	defer signers.Close()
	for _, e := range p.Events {
		klog.InfoS("PKI", "action", e)
	}

	etcdOptions := *o.Etcd
	if o.embeddedEtcd() {
		etcd, err := embeddedetcd.Start(ctx, embeddedetcd.Config{Dir: filepath.Join(o.DataDir, "etcd")})
		if err != nil {
			return err
		}
		defer etcd.Close()
		etcdOptions.StorageConfig.Transport.ServerList = []string{etcd.ClientURL()}
		go func() {
			if err, ok := <-etcd.Err(); ok && err != nil {
				klog.ErrorS(err, "embedded etcd failed")
			}
		}()
		go etcd.Maintain(ctx, embeddedetcd.Maintenance{
			Stats: func(st embeddedetcd.Stats) {
				metrics.EtcdDBSize.Set(float64(st.Size))
				metrics.EtcdDBInUse.Set(float64(st.InUse))
				metrics.EtcdQuota.Set(float64(st.Quota))
			},
			Defragmented: func(before, after embeddedetcd.Stats, took time.Duration, err error) {
				if err != nil {
					metrics.EtcdDefrags.WithLabelValues("error").Inc()
					klog.ErrorS(err, "Failed to defragment the embedded etcd")
					return
				}
				metrics.EtcdDefrags.WithLabelValues("success").Inc()
				klog.InfoS("Defragmented the embedded etcd", "beforeBytes", before.Size, "afterBytes", after.Size, "duration", took)
			},
		})
	}

	if err := claimClusterCA(ctx, etcdOptions.StorageConfig, p.CA.Raw); err != nil {
		return err
	}
	var upstreams []authn.UpstreamSigner
	for _, name := range signers.UpstreamLogins() {
		upstreams = append(upstreams, authn.UpstreamSigner{SignerName: name, Roots: signers.Profiles[name].Upstream.Roots()})
	}
	c, err := o.Config(p, signers.GuardRails, upstreams, &etcdOptions)
	if err != nil {
		return err
	}
	loopback := c.api.GenericConfig.LoopbackClientConfig
	client, err := kubernetes.NewForConfig(loopback)
	if err != nil {
		return err
	}
	pub, err := o.Controllers.StartPublisher(ctx, signers, c.inventory)
	if err != nil {
		return err
	}
	// Rule-approved CSRs are decided and signed in their create, a person's approval is
	// signed in its write; the controllers do what the request could not finish.
	recorder := events.NewRecorder(client.CoreV1(), "kcsr")
	go recorder.Run(ctx)
	policies := c.kcsrInformers.Kcsr().V1alpha1().ApprovalPolicies()
	engine := &issuance.PolicyEngine{Lister: policies.Lister(), GuardRails: signers.GuardRails}
	c.api.ExtraConfig.InRequest = &apiserver.InRequest{
		Decide:   o.Controllers.Approve,
		Policies: engine.Decide,
		Ready:    policies.Informer().HasSynced,
		Issuer:   o.Controllers.Issuer(signers, pub),
		Recorder: recorder,
	}
	server, err := c.api.Complete().New()
	if err != nil {
		return err
	}

	// Pages of 10,000 from the storage: each page of a list from etcd costs a count of the
	// keys after it, so a million records in pages of 500 cost a billion key visits (and
	// over five minutes, past the compaction of the list's revision); in pages of 10,000,
	// twenty times fewer. A page is ~60 MB decoded, for a moment.
	c.inventory.PageSize = 10_000
	// The load decodes every record, a page at a time, and keeps ~250 bytes of each: give
	// the rest back to the system now, not over the minutes of the runtime's scavenger.
	c.inventory.OnLoaded = debug.FreeOSMemory
	if err := server.GenericAPIServer.AddPostStartHook("kcsr-inventory", func(hc genericapiserver.PostStartHookContext) error {
		go c.inventory.Run(hc, server.Inventory)
		return nil
	}); err != nil {
		return err
	}

	kubeconfig := filepath.Join(o.DataDir, AdminKubeconfig)
	if err := p.WriteAdminKubeconfig(kubeconfig, c.url); err != nil {
		return err
	}
	kcsr, err := kcsrclient.NewForConfig(loopback)
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
	if err := server.GenericAPIServer.AddPostStartHook("kcsr-pki-inventory", func(hc genericapiserver.PostStartHookContext) error {
		return recordPKI(hc, kcsr, leaves)
	}); err != nil {
		return err
	}
	// The approver, signer and cleaner (under the Lease with --leader-elect) stop when ctx
	// is done; the pre-shutdown hook waits for them, and so for the Lease to be released,
	// before the server stops taking requests: a follower takes over at once.
	var waitControllers atomic.Pointer[func()]
	if err := server.GenericAPIServer.AddPostStartHook("kcsr-controllers", func(hc genericapiserver.PostStartHookContext) error {
		wait, err := o.Controllers.Run(ctx, hc, manager.Config{
			Client:   client,
			Kcsr:     kcsr,
			CSRs:     c.kubeInformers.Certificates().V1().CertificateSigningRequests(),
			Policies: c.kcsrInformers.Kcsr().V1alpha1().ApprovalPolicies(),
			StartInformers: func(stop <-chan struct{}) {
				c.kubeInformers.Start(stop)
				c.kcsrInformers.Start(stop)
			},
			Inventory:  c.inventory,
			Signers:    signers,
			Publisher:  pub,
			Standalone: true,
			Component:  "kcsr",
		})
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
		case <-time.After(o.Controllers.LeaderElection.RenewDeadline + 5*time.Second):
			klog.InfoS("Controllers still stopping; shutting down anyway")
		}
		return nil
	}); err != nil {
		return err
	}
	go announceWhenReady(ctx, client, out, c.url, kubeconfig, o.DataDir)

	return server.Run(ctx)
}

// openPKI creates or checks the cluster PKI in the data directory and opens the signers:
// the cluster CA (its key in the HSM of --cluster-ca-pkcs11-uri, which also signs the
// server's own certificates, or in DATA_DIR/pki/ca.key) is the default CA of the built-in
// signers and the CA this server accepts client certificates from, so the signers on it,
// or on a CA it issued, are the login signers.
func (o *Options) openPKI(ctx context.Context, signerConfig *signer.Configuration) (_ *pki.PKI, _ *manager.Signers, err error) {
	pkiOpts := pki.Options{Dir: o.pkiDir(), SANs: o.TLSSANs}
	certFile, keyFile := filepath.Join(o.pkiDir(), pki.CACertFile), filepath.Join(o.pkiDir(), pki.CAKeyFile)
	var clusterCA ca.Backend
	if o.Controllers.ClusterCAPKCS11URI != "" {
		// The HSM's CA signs the serving and admin certificates of a first start.
		if clusterCA, err = o.Controllers.OpenClusterCA(ctx, certFile, "", ""); err != nil {
			return nil, nil, err
		}
		defer func() {
			if err != nil {
				clusterCA.Close()
			}
		}()
		if pkiOpts.CASigner, err = clusterCA.Signer(ctx); err != nil {
			return nil, nil, err
		}
	}
	p, err := pki.Ensure(pkiOpts)
	if err != nil {
		return nil, nil, err
	}
	if clusterCA == nil {
		if clusterCA, err = o.Controllers.OpenClusterCA(ctx, certFile, keyFile, "cluster CA"); err != nil {
			return nil, nil, err
		}
	}
	// OpenSigners owns clusterCA from here, and closes it on error.
	signers, err := o.Controllers.OpenSigners(ctx, signerConfig, clusterCA, nil, []*x509.Certificate{p.CA})
	clusterCA = nil
	if err != nil {
		return nil, nil, err
	}
	return p, signers, nil
}

// config is the server's configuration, built by Config from the options.
type config struct {
	api *apiserver.Config
	// url is the URL clients should use.
	url string
	// kcsrInformers is the one informer factory of kcsr's API group (tokens, policies),
	// shared by the authenticator and the controllers.
	kcsrInformers kcsrinformers.SharedInformerFactory
	// inventory is the one index of the IssuedCertificates, shared by the authenticator,
	// the publisher and the inventory cleaner; it reads the storage (Server.Inventory)
	// from the kcsr-inventory hook.
	inventory *inventory.Index
	// kubeInformers is the generic server's informer factory over the loopback client
	// (RBAC, the kcsr_csrs gauges, and the controllers' CSR informer: one copy of every
	// CSR, shared, whichever replica leads).
	kubeInformers informers.SharedInformerFactory
}

// Config builds the API server configuration over the storage of etcd, with admission
// and the guard rails naming the login signers of guardRails, and logins with the
// recorded certificates of the upstream login signers. It changes o only as
// k8s.io/apiserver's serving options do (they keep the listener they open).
func (o *Options) Config(p *pki.PKI, guardRails policy.GuardRails, upstreams []authn.UpstreamSigner, etcd *genericoptions.EtcdOptions) (*config, error) {
	generic := genericapiserver.NewRecommendedConfig(apiserver.Codecs)
	apiserver.ApplyVersion(&generic.Config)
	apiserver.ApplyOpenAPI(&generic.Config)

	if o.SecureServing.BindPort == 0 && o.SecureServing.Listener == nil {
		// --secure-port 0 asks for a free port; k8s.io/apiserver reads 0 as "serve nothing",
		// so the listener is opened here, and the port it got is printed when ready.
		l, port, err := genericoptions.CreateListener("tcp", net.JoinHostPort(o.SecureServing.BindAddress.String(), "0"), net.ListenConfig{})
		if err != nil {
			return nil, fmt.Errorf("--secure-port 0: %w", err)
		}
		o.SecureServing.Listener, o.SecureServing.BindPort = l, port
	}
	if err := o.SecureServing.ApplyTo(&generic.SecureServing, &generic.LoopbackClientConfig); err != nil {
		return nil, err
	}
	generic.SecureServing.Cert = withCAChain(generic.SecureServing.Cert, p.CA)
	// The in-process controllers use the loopback client; they must not be throttled by
	// client-side rate limits meant for remote clients.
	generic.LoopbackClientConfig.QPS = -1
	// End open watches (kubectl get -w, informers) as soon as shutdown starts; with
	// k8s.io/apiserver's default of 0, SIGTERM waits for them until the 60s shutdown
	// timeout.
	generic.ShutdownWatchTerminationGracePeriod = 5 * time.Second

	clientCA, err := dynamiccertificates.NewDynamicCAContentFromFile("client-ca", p.Path(pki.CACertFile))
	if err != nil {
		return nil, err
	}
	kcsrClient, err := kcsrclient.NewForConfig(generic.LoopbackClientConfig)
	if err != nil {
		return nil, err
	}
	kcsrFactory := kcsrinformers.NewSharedInformerFactoryWithOptions(kcsrClient, 10*time.Minute, kcsrinformers.WithTransform(dropManagedFields))
	tokens := &authn.TokenAuthenticator{
		Bootstrap: kcsrFactory.Kcsr().V1alpha1().BootstrapTokens().Lister(),
		Join:      kcsrFactory.Kcsr().V1alpha1().JoinTokens().Lister(),
		Clock:     clock.RealClock{},
	}
	revocation := inventory.NewIndex()
	if len(upstreams) > 0 {
		revocation.FingerprintSigners = map[string]bool{}
		for _, u := range upstreams {
			revocation.FingerprintSigners[u.SignerName] = true
		}
	}
	if err := generic.AddPostStartHook("kcsr-informers", func(hc genericapiserver.PostStartHookContext) error {
		kcsrFactory.Start(hc.Done())
		return nil
	}); err != nil {
		return nil, err
	}
	// Not ready until tokens and revocations are loaded: authentication depends on them;
	// with upstream login signers, until the whole inventory is (their logins need it).
	synced := []cache.InformerSynced{
		revocation.RevocationsLoaded,
		kcsrFactory.Kcsr().V1alpha1().BootstrapTokens().Informer().HasSynced,
		kcsrFactory.Kcsr().V1alpha1().JoinTokens().Informer().HasSynced,
	}
	if len(upstreams) > 0 {
		synced = append(synced, revocation.Synced)
	}
	generic.AddReadyzChecks(healthz.NamedCheck("kcsr-informers", func(*http.Request) error {
		for _, s := range synced {
			if !s() {
				return fmt.Errorf("tokens and revocations are not loaded yet")
			}
		}
		return nil
	}))
	authenticator, err := authn.New(authn.Options{ClientCA: clientCA, TokenAuthFile: o.TokenAuthFile, Tokens: tokens, Revocation: revocation, Upstreams: upstreams})
	if err != nil {
		return nil, err
	}
	generic.Authentication.Authenticator = authenticator
	if err := generic.Authentication.ApplyClientCert(clientCA, generic.SecureServing); err != nil {
		return nil, err
	}
	// The TLS handshake names the upstreams' roots too, among the CAs whose certificates
	// a client may present (a client that picks its certificate by them, as curl and
	// Go's tls.Config.Certificates do, would send none); the authenticator decides.
	for _, u := range upstreams {
		roots, err := dynamiccertificates.NewStaticCAContent("upstream "+u.SignerName, pemutil.EncodeCertificates(u.Roots))
		if err != nil {
			return nil, fmt.Errorf("signer %s: upstream roots: %w", u.SignerName, err)
		}
		if err := generic.Authentication.ApplyClientCert(roots, generic.SecureServing); err != nil {
			return nil, err
		}
	}

	client, err := kubernetes.NewForConfig(generic.LoopbackClientConfig)
	if err != nil {
		return nil, err
	}
	factory := informers.NewSharedInformerFactoryWithOptions(client, 10*time.Minute, informers.WithTransform(dropManagedFields))
	generic.SharedInformerFactory = factory
	// kcsr_csrs: the stored CSRs by state, the same on every replica.
	// Informer() registers it with the factory now, before the factory starts.
	csrInformer := factory.Certificates().V1().CertificateSigningRequests()
	if err := csrInformer.Informer().AddIndexers(cache.Indexers{jointoken.RequesterIndex: jointoken.IndexJoinRequester}); err != nil {
		return nil, err
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
	privileged := authorizerunion.NamedAuthorizer{AuthorizerName: user.SystemPrivilegedGroup, Authorizer: authorizerfactory.NewPrivilegedGroups(user.SystemPrivilegedGroup)}
	direct, err := authorizerunion.New(privileged, authorizerunion.NamedAuthorizer{AuthorizerName: "rbac", Authorizer: rbac})
	if err != nil {
		return nil, err
	}
	// certificatesigningrequests/own grants the same verbs on the user's own CSRs only.
	ownCSRs := own.Authorizer{Direct: direct}
	authz, err := authorizerunion.New(
		privileged,
		authorizerunion.NamedAuthorizer{AuthorizerName: "rbac", Authorizer: rbac},
		authorizerunion.NamedAuthorizer{AuthorizerName: "own-csrs", Authorizer: ownCSRs},
	)
	if err != nil {
		return nil, err
	}
	generic.Authorization.Authorizer = authz
	generic.RuleResolver = rbac

	generic.AdmissionControl = admission.NewChainHandler(
		approval.New(authz),
		signing.New(authz),
		subjectrestriction.New(guardRails.LoginSigners...),
		revocationadmission.New(authz),
		issuanceadmission.New(authz, guardRails),
		jointoken.New(kcsrFactory.Kcsr().V1alpha1().JoinTokens().Lister(), csrInformer.Informer().GetIndexer(), clock.RealClock{}),
		owncsr.New(ownCSRs),
	)

	if err := o.Audit.ApplyTo(&generic.Config); err != nil {
		return nil, err
	}
	etcd.StorageConfig.StorageObjectCountTracker = generic.StorageObjectCountTracker
	if err := etcd.ApplyWithStorageFactoryTo(apiserver.NewStorageFactory(etcd.StorageConfig), &generic.Config); err != nil {
		return nil, err
	}

	api := &apiserver.Config{
		GenericConfig: generic,
		ExtraConfig: apiserver.ExtraConfig{
			Authorizer:   authz,
			RuleResolver: rbac,
			Escalation:   authzrbac.NewEscalationChecker(authz, rbac, roles),
			// Field-selector lookups of the inventory from the index, not a scan of it.
			InventoryLookup: revocation.Lookup,
			OwnCSRs:         ownCSRs.Scoped,
		},
	}
	return &config{api: api, url: serverURL(generic.SecureServing), kcsrInformers: kcsrFactory, inventory: revocation, kubeInformers: factory}, nil
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

Review and approve requests in a browser (prints a one-time login link):
  kcsr console --kubeconfig %s

Stop it with Ctrl-C; a restart keeps every object.
`, url, dataDir, kubeconfig, kubeconfig)
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

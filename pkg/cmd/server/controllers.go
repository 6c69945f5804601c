package server

import (
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"kcsr.dev/kcsr/pkg/ca"
	cafile "kcsr.dev/kcsr/pkg/ca/file"
	capkcs11 "kcsr.dev/kcsr/pkg/ca/pkcs11"
	"kcsr.dev/kcsr/pkg/controller/approver"
	"kcsr.dev/kcsr/pkg/controller/cleaner"
	"kcsr.dev/kcsr/pkg/controller/csrsigning"
	"kcsr.dev/kcsr/pkg/controller/publisher"
	kcsrclient "kcsr.dev/kcsr/pkg/generated/clientset/versioned"
	"kcsr.dev/kcsr/pkg/leaderelection"
	"kcsr.dev/kcsr/pkg/pki"
	"kcsr.dev/kcsr/pkg/signer"
)

// openClusterHSM opens the cluster CA key in an HSM when --cluster-ca-pkcs11-uri is set;
// nil otherwise.
func (o *Options) openClusterHSM(ctx context.Context, pkiDir string) (ca.Backend, error) {
	if o.ClusterCAPKCS11URI == "" {
		return nil, nil
	}
	b, err := capkcs11.New(ctx, capkcs11.Config{ModulePath: o.PKCS11Module, URI: o.ClusterCAPKCS11URI, CertFile: filepath.Join(pkiDir, pki.CACertFile)}, time.Now())
	if err != nil {
		return nil, fmt.Errorf("cluster CA in the HSM: %w", err)
	}
	return b, nil
}

// signerProfiles loads the cluster CA (the default CA of the built-in signers; hsm when the
// key is in an HSM) and the signer configuration, and marks the login signers: those whose
// CA is the cluster CA or issued by it, the CA this server accepts client certificates
// from. They refuse system:masters when signing, and o.GuardRails.LoginSigners lists them
// for admission and the protected-groups guard rail.
func (o *Options) signerProfiles(ctx context.Context, p *pki.PKI, hsm ca.Backend) (map[string]*signer.Profile, ca.Backend, error) {
	now := time.Now()
	clusterCA := hsm
	if clusterCA == nil {
		fileCA, err := cafile.Load(ctx, p.Path(pki.CACertFile), p.Path(pki.CAKeyFile), now)
		if err != nil {
			return nil, nil, fmt.Errorf("cluster CA: %w", err)
		}
		clusterCA = fileCA
	}
	var err error
	var cfg *signer.Configuration
	if o.SignerConfig != "" {
		if cfg, err = signer.LoadConfiguration(o.SignerConfig); err != nil {
			return nil, nil, err
		}
	}
	profiles, err := signer.Build(ctx, cfg, clusterCA, o.ClusterSigningDuration, now)
	if err != nil {
		return nil, nil, err
	}
	login, err := signer.MarkLoginSigners(ctx, profiles, []*x509.Certificate{p.CA})
	if err != nil {
		return nil, nil, err
	}
	o.GuardRails.LoginSigners = login
	klog.InfoS("Login signers: their certificates log in to this server, so system:masters is refused and the protected groups are left to a person", "signers", login)
	return profiles, clusterCA, nil
}

// startPublisher publishes the revocations of every signing CA and, with --public-port,
// serves them over plain HTTP. Every replica publishes: CRL and OCSP are read-only views
// of the inventory.
func (o *Options) startPublisher(ctx context.Context, profiles map[string]*signer.Profile, clusterCA ca.Backend) (*publisher.Publisher, error) {
	cas, err := publisher.CAsFor(ctx, profiles, clusterCA)
	if err != nil {
		return nil, err
	}
	pub, err := publisher.New(cas, o.kcsrInformers.Kcsr().V1alpha1().IssuedCertificates().Informer(), clock.RealClock{})
	if err != nil {
		return nil, err
	}
	go pub.Run(ctx)
	if o.PublicPort == 0 {
		return pub, nil
	}
	bind := o.PublicBindAddress
	if bind == nil {
		bind = o.SecureServing.BindAddress
	}
	addr := net.JoinHostPort(bind.String(), strconv.Itoa(o.PublicPort))
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--public-port: %w", err)
	}
	if o.PublicURL == "" {
		host := bind.String()
		if bind.IsUnspecified() {
			host = "127.0.0.1"
		}
		o.PublicURL = "http://" + net.JoinHostPort(host, strconv.Itoa(o.PublicPort))
	}
	srv := &http.Server{Handler: pub.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(l); err != nil && err != http.ErrServerClosed {
			klog.ErrorS(err, "public listener failed")
		}
	}()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	klog.InfoS("Serving CRLs and OCSP", "url", o.PublicURL)
	return pub, nil
}

// runControllers runs the approver, signer and cleaner over the loopback client until ctx
// is done; with --leader-elect only while this replica holds the Lease (the revocation
// publisher and authentication run on every replica and are not started here). shared is
// the server's lifetime: kcsr's shared informers are started on it, since they outlive a
// term of leadership. The controllers are built once before returning, so that a
// configuration error fails the start; they are built again for each later term.
func (o *Options) runControllers(ctx, shared context.Context, loopback *rest.Config, profiles map[string]*signer.Profile, pub *publisher.Publisher) (wait func(), err error) {
	first, err := o.newControllers(shared, loopback, profiles, pub)
	if err != nil {
		return nil, err
	}
	done := make(chan struct{})
	if !o.LeaderElection.Enabled {
		go func() { defer close(done); first(ctx) }()
		return func() { <-done }, nil
	}
	client, err := kubernetes.NewForConfig(loopback)
	if err != nil {
		return nil, err
	}
	identity, err := leaderelection.NewIdentity()
	if err != nil {
		return nil, err
	}
	cfg := o.LeaderElection.Config(client, identity)
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	go func() {
		defer close(done)
		err := leaderelection.Run(ctx, cfg, func(ctx context.Context) {
			run := first
			first = nil
			if run == nil {
				var err error
				if run, err = o.newControllers(shared, loopback, profiles, pub); err != nil {
					klog.FromContext(ctx).Error(err, "Cannot start the controllers")
					<-ctx.Done()
					return
				}
			}
			run(ctx)
		})
		if err != nil {
			klog.ErrorS(err, "Leader election")
		}
	}()
	return func() { <-done }, nil
}

// newControllers builds the approver, signer and cleaner on the shared CSR informer and
// returns the function that runs them until its context is done.
func (o *Options) newControllers(shared context.Context, loopback *rest.Config, profiles map[string]*signer.Profile, pub *publisher.Publisher) (_ func(ctx context.Context), err error) {
	client, err := kubernetes.NewForConfig(loopback)
	if err != nil {
		return nil, err
	}
	kcsr, err := kcsrclient.NewForConfig(loopback)
	if err != nil {
		return nil, err
	}
	broadcaster := record.NewBroadcaster(record.WithContext(shared))
	defer func() {
		if err != nil {
			broadcaster.Shutdown()
		}
	}()
	recorder := broadcaster.NewRecorder(clientgoscheme.Scheme, corev1.EventSource{Component: "kcsr"})

	csrs := o.kubeInformers.Certificates().V1().CertificateSigningRequests()
	crlURLs, ocspURLs := pub.URLFuncs(o.PublicURL)
	signerController, err := csrsigning.New(client, kcsr, csrs, csrsigning.Options{
		Profiles:              profiles,
		ReportUnserved:        true,
		Recorder:              recorder,
		CRLDistributionPoints: crlURLs,
		OCSPServers:           ocspURLs,
	})
	if err != nil {
		return nil, err
	}
	kcsrFactory := o.kcsrInformers
	policyInformer := kcsrFactory.Kcsr().V1alpha1().ApprovalPolicies()
	engine := &approver.PolicyEngine{Lister: policyInformer.Lister(), GuardRails: o.GuardRails}
	approverController, err := approver.New(client, kcsr, csrs, approver.Options{
		Policies:   engine.Decide,
		GuardRails: engine.GuardRailVerdict,
		Recorder:   recorder,
	})
	if err != nil {
		return nil, err
	}
	cleanerController := cleaner.New(client, csrs, o.Cleaner)

	return func(ctx context.Context) {
		broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
		defer broadcaster.Shutdown()
		// A new or changed policy may decide CSRs that were left to a person.
		reconsider := func(any) { approverController.EnqueueAll() }
		registration, err := policyInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    reconsider,
			UpdateFunc: func(_, obj any) { reconsider(obj) },
			DeleteFunc: reconsider,
		})
		if err != nil {
			klog.FromContext(ctx).Error(err, "Cannot watch approval policies")
		} else {
			defer func() { _ = policyInformer.Informer().RemoveEventHandler(registration) }()
		}
		o.kubeInformers.Start(shared.Done())
		kcsrFactory.Start(shared.Done())

		var wg sync.WaitGroup
		wg.Go(func() { approverController.Run(ctx, o.Workers) })
		wg.Go(func() { signerController.Run(ctx, o.Workers) })
		wg.Go(func() { cleanerController.Run(ctx) })
		wg.Wait()
	}, nil
}

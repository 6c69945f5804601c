package server

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
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
	"kcsr.dev/kcsr/pkg/controller/publisher"
	signercontroller "kcsr.dev/kcsr/pkg/controller/signer"
	kcsrclient "kcsr.dev/kcsr/pkg/generated/clientset/versioned"
	"kcsr.dev/kcsr/pkg/pki"
	"kcsr.dev/kcsr/pkg/revocation"
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
// key is in an HSM) and the signer configuration.
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
	return profiles, clusterCA, err
}

// startPublisher publishes the revocations of every signing CA and, with --public-port,
// serves them over plain HTTP. Every replica publishes: CRL and OCSP are read-only views
// of the inventory.
func (o *Options) startPublisher(ctx context.Context, profiles map[string]*signer.Profile, clusterCA ca.Backend) (*publisher.Publisher, error) {
	byBackend := map[ca.Backend]*publisher.CA{}
	names := make([]string, 0, len(profiles))
	for name := range profiles {
		names = append(names, name)
	}
	sort.Strings(names)
	var cas []*publisher.CA
	for _, name := range names {
		prof := profiles[name]
		if prof.CA == nil {
			continue
		}
		c := byBackend[prof.CA]
		if c == nil {
			id := publisher.IDFor(name)
			if prof.CA == clusterCA {
				id = publisher.ClusterCAID
			}
			c = &publisher.CA{ID: id, Authority: &revocation.Authority{Backend: prof.CA}}
			byBackend[prof.CA] = c
			cas = append(cas, c)
		}
		c.SignerNames = append(c.SignerNames, name)
	}
	list := make([]publisher.CA, len(cas))
	for i, c := range cas {
		list[i] = *c
	}
	pub, err := publisher.New(list, o.kcsrInformers.Kcsr().V1alpha1().IssuedCertificates().Informer(), clock.RealClock{})
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

// startControllers runs the in-process controllers over the loopback client until ctx is
// done. They use client-go exactly as they would against a remote kube-apiserver.
func (o *Options) startControllers(ctx context.Context, loopback *rest.Config, profiles map[string]*signer.Profile, pub *publisher.Publisher) error {
	client, err := kubernetes.NewForConfig(loopback)
	if err != nil {
		return err
	}
	kcsr, err := kcsrclient.NewForConfig(loopback)
	if err != nil {
		return err
	}
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	go func() { <-ctx.Done(); broadcaster.Shutdown() }()
	recorder := broadcaster.NewRecorder(clientgoscheme.Scheme, corev1.EventSource{Component: "kcsr"})

	factory := informers.NewSharedInformerFactory(client, 0)
	csrs := factory.Certificates().V1().CertificateSigningRequests()
	signerController, err := signercontroller.New(client, kcsr, csrs, signercontroller.Options{
		Profiles:       profiles,
		ReportUnserved: true,
		Recorder:       recorder,
		CRLDistributionPoints: func(signerName string) []string {
			crl, _ := pub.URLs(o.PublicURL, signerName)
			return crl
		},
		OCSPServers: func(signerName string) []string {
			_, ocsp := pub.URLs(o.PublicURL, signerName)
			return ocsp
		},
	})
	if err != nil {
		return err
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
		return err
	}
	// A new or changed policy may decide CSRs that were left to a person.
	reconsider := func(any) { approverController.EnqueueAll() }
	if _, err := policyInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    reconsider,
		UpdateFunc: func(_, obj any) { reconsider(obj) },
		DeleteFunc: reconsider,
	}); err != nil {
		return err
	}
	cleanerController := cleaner.New(client, csrs, o.Cleaner)
	factory.Start(ctx.Done())
	kcsrFactory.Start(ctx.Done())
	go approverController.Run(ctx, 5)
	go signerController.Run(ctx, 5)
	go cleanerController.Run(ctx)
	return nil
}

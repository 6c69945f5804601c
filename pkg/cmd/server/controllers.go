package server

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"kcsr.dev/kcsr/pkg/ca"
	cafile "kcsr.dev/kcsr/pkg/ca/file"
	capkcs11 "kcsr.dev/kcsr/pkg/ca/pkcs11"
	"kcsr.dev/kcsr/pkg/controller/approver"
	"kcsr.dev/kcsr/pkg/controller/cleaner"
	signercontroller "kcsr.dev/kcsr/pkg/controller/signer"
	kcsrclient "kcsr.dev/kcsr/pkg/generated/clientset/versioned"
	kcsrinformers "kcsr.dev/kcsr/pkg/generated/informers/externalversions"
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
// key is in an HSM) and the signer configuration.
func (o *Options) signerProfiles(ctx context.Context, p *pki.PKI, hsm ca.Backend) (map[string]*signer.Profile, error) {
	now := time.Now()
	clusterCA := hsm
	if clusterCA == nil {
		fileCA, err := cafile.Load(ctx, p.Path(pki.CACertFile), p.Path(pki.CAKeyFile), now)
		if err != nil {
			return nil, fmt.Errorf("cluster CA: %w", err)
		}
		clusterCA = fileCA
	}
	var err error
	var cfg *signer.Configuration
	if o.SignerConfig != "" {
		if cfg, err = signer.LoadConfiguration(o.SignerConfig); err != nil {
			return nil, err
		}
	}
	return signer.Build(ctx, cfg, clusterCA, o.ClusterSigningDuration, now)
}

// startControllers runs the in-process controllers over the loopback client until ctx is
// done. They use client-go exactly as they would against a remote kube-apiserver.
func (o *Options) startControllers(ctx context.Context, loopback *rest.Config, profiles map[string]*signer.Profile) error {
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
	})
	if err != nil {
		return err
	}
	kcsrFactory := kcsrinformers.NewSharedInformerFactory(kcsr, 0)
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

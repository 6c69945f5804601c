package manager

import (
	"context"
	"errors"
	"sync"

	certificatesinformers "k8s.io/client-go/informers/certificates/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	"kcsr.dev/kcsr/pkg/announce"
	"kcsr.dev/kcsr/pkg/controller/approver"
	"kcsr.dev/kcsr/pkg/controller/cleaner"
	"kcsr.dev/kcsr/pkg/controller/csrsigning"
	"kcsr.dev/kcsr/pkg/controller/publisher"
	"kcsr.dev/kcsr/pkg/controller/upstreamrevoke"
	"kcsr.dev/kcsr/pkg/controller/worker"
	"kcsr.dev/kcsr/pkg/events"
	kcsrclient "kcsr.dev/kcsr/pkg/generated/clientset/versioned"
	kcsrv1alpha1informers "kcsr.dev/kcsr/pkg/generated/informers/externalversions/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/inventory"
	"kcsr.dev/kcsr/pkg/issuance"
	"kcsr.dev/kcsr/pkg/leaderelection"
)

// Config is what Run needs besides the options: the clients, the shared informers and
// the signers.
type Config struct {
	Client kubernetes.Interface
	Kcsr   kcsrclient.Interface
	// CSRs is the shared CSR informer; Policies the ApprovalPolicy informer (needed with
	// Approve). Their factories are started by StartInformers, on the process's lifetime:
	// a follower keeps its caches warm and takes over at once.
	CSRs           certificatesinformers.CertificateSigningRequestInformer
	Policies       kcsrv1alpha1informers.ApprovalPolicyInformer
	StartInformers func(stop <-chan struct{})
	// Inventory is the inventory index (run by the caller), for the inventory's retention
	// (with Clean) and the upstream revoker; nil: records are kept, and revocations are
	// not carried to upstream CAs.
	Inventory *inventory.Index

	Signers   *Signers
	Publisher *publisher.Publisher
	// Standalone is kcsr server: the only signer and approver of its store. Its signer
	// reports an Approved CSR whose signerName nothing serves, and its approver decides
	// every signerName. Beside kube-controller-manager (kcsr controller), an unserved
	// signerName is someone else's, and the approver decides only the served ones.
	Standalone bool
	// Component names the controllers as the source of their events.
	Component string
	// Identity is this process's in the Lease; leaderelection.NewIdentity's when empty.
	Identity string
}

// Run runs the approver (with Approve), the signer and the cleaner (with Clean) until ctx
// is done; with leader election only while this process holds the Lease, and again on
// each later term. The controllers are built once before Run returns, so that a
// configuration error fails the start; shared is the process's lifetime, on which the
// informers are started. The returned function waits for the controllers to stop (and
// so for the Lease to be released).
func (o *Options) Run(ctx, shared context.Context, c Config) (wait func(), err error) {
	if o.Approve && c.Policies == nil {
		return nil, errors.New("the approver needs the ApprovalPolicy informer")
	}
	// The upstream revoker follows the inventory from its first load on, leader or not;
	// whichever replica leads carries the revocations.
	var revoker *upstreamrevoke.Controller
	if ups := c.Signers.Upstreams(); len(ups) > 0 && c.Inventory != nil {
		revoker = upstreamrevoke.New(c.Kcsr, c.Inventory, ups)
	}
	first, err := o.newControllers(shared, c, revoker)
	if err != nil {
		return nil, err
	}
	identity := c.Identity
	if identity == "" {
		if identity, err = leaderelection.NewIdentity(); err != nil {
			return nil, err
		}
	}
	// Every replica says which signers it serves, leader or not: whichever leads signs
	// them (package announce).
	go (&announce.Announcer{Client: c.Client, Identity: identity, Signers: c.Signers.Names()}).Run(shared)
	done := make(chan struct{})
	if !o.LeaderElection.Enabled {
		go func() { defer close(done); first(ctx) }()
		return func() { <-done }, nil
	}
	cfg := o.LeaderElection.Config(c.Client, identity)
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	klog.InfoS("Running the controllers while holding the Lease", "lease", cfg.Lease(), "identity", identity)
	go func() {
		defer close(done)
		err := leaderelection.Run(ctx, cfg, func(ctx context.Context) {
			run := first
			first = nil
			if run == nil {
				var err error
				if run, err = o.newControllers(shared, c, revoker); err != nil {
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

// Issuer signs with the CAs of s and puts pub's CRL and OCSP URLs (under --public-url)
// in the certificates. The signer controller and the server's in-request signing both
// use one, so a certificate is the same whichever path issues it.
func (o *Options) Issuer(s *Signers, pub *publisher.Publisher) *issuance.Issuer {
	crl, ocsp := pub.URLFuncs(o.PublicURL)
	return &issuance.Issuer{Profiles: s.Profiles, CRLDistributionPoints: crl, OCSPServers: ocsp}
}

// newControllers builds the controllers on the shared informers and returns the function
// that runs them until its context is done.
func (o *Options) newControllers(shared context.Context, c Config, revoker *upstreamrevoke.Controller) (_ func(ctx context.Context), err error) {
	recorder := events.NewRecorder(c.Client.CoreV1(), c.Component)

	deps := worker.CSRDeps{Client: c.Client, Kcsr: c.Kcsr, CSRs: c.CSRs, Recorder: recorder}
	signing, err := csrsigning.New(deps, csrsigning.Options{
		Issuer:         o.Issuer(c.Signers, c.Publisher),
		ReportUnserved: c.Standalone,
	})
	if err != nil {
		return nil, err
	}
	var approving *approver.Controller
	if o.Approve {
		engine := &issuance.PolicyEngine{Lister: c.Policies.Lister(), GuardRails: c.Signers.GuardRails}
		var only []string
		if !c.Standalone {
			// kube-controller-manager's csrapproving decides the kubelet's CSRs; kcsr
			// decides only what it signs.
			only = c.Signers.Names()
		}
		approving, err = approver.New(deps, approver.Options{
			Policies:    engine.Decide,
			GuardRails:  engine.GuardRailVerdict,
			SignerNames: only,
		})
		if err != nil {
			return nil, err
		}
	}
	var cleaning *cleaner.Controller
	var retention *cleaner.InventoryCleaner
	if o.Clean {
		cleaning = cleaner.New(c.Client, c.CSRs, o.Cleaner)
		if c.Inventory != nil && o.Cleaner.InventoryRetention > 0 {
			retention = cleaner.NewInventoryCleaner(c.Kcsr, c.Inventory, o.Cleaner)
		}
	}

	return func(ctx context.Context) {
		var wg sync.WaitGroup
		wg.Go(func() { recorder.Run(ctx) })
		if approving != nil {
			// A new or changed policy may decide CSRs that were left to a person.
			reconsider := func(any) { approving.EnqueueAll() }
			registration, err := c.Policies.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
				AddFunc:    reconsider,
				UpdateFunc: func(_, obj any) { reconsider(obj) },
				DeleteFunc: reconsider,
			})
			if err != nil {
				klog.FromContext(ctx).Error(err, "Cannot watch approval policies")
			} else {
				defer func() { _ = c.Policies.Informer().RemoveEventHandler(registration) }()
			}
			wg.Go(func() { approving.Run(ctx, o.Workers) })
		}
		c.StartInformers(shared.Done())
		wg.Go(func() { signing.Run(ctx, o.Workers) })
		if cleaning != nil {
			wg.Go(func() { cleaning.Run(ctx) })
		}
		if retention != nil {
			wg.Go(func() { retention.Run(ctx) })
		}
		if revoker != nil {
			wg.Go(func() { revoker.Run(ctx) })
		}
		wg.Wait()
	}, nil
}

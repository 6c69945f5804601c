// Package upstreamrevoke carries kcsr's revocations to the upstream CAs that issued the
// certificates (package upstream): when an inventory record of an upstream signer is
// revoked, the upstream is asked to revoke the certificate too, so that its own CRL and
// OCSP say so, and the record's kcsr.dev/upstream-revocation annotation gets the answer.
// A refusal or an unreachable upstream is retried with backoff. kcsr refuses the
// certificate at login from the record alone, whatever the upstream answers.
//
// certificateHold is not carried: kcsr can lift it (kcsr unrevoke), an upstream's
// revocation is final (step-ca's is).
package upstreamrevoke

import (
	"context"
	"crypto/x509"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	kcsrclient "kcsr.dev/kcsr/pkg/generated/clientset/versioned"
	"kcsr.dev/kcsr/pkg/inventory"
	"kcsr.dev/kcsr/pkg/pemutil"
	"kcsr.dev/kcsr/pkg/revocation"
	"kcsr.dev/kcsr/pkg/upstream"
)

// Controller revokes at the upstreams.
type Controller struct {
	kcsr      kcsrclient.Interface
	index     *inventory.Index
	upstreams map[string]upstream.Signer

	mu sync.Mutex
	// queue is Run's, nil while Run is not running (a replica that does not lead).
	queue workqueue.TypedRateLimitingInterface[string]
}

// New returns the controller of upstreams (by signerName), registered on index: it is
// told of every revoked record from the first load on. Run works the queue.
func New(kcsr kcsrclient.Interface, index *inventory.Index, upstreams map[string]upstream.Signer) *Controller {
	c := &Controller{kcsr: kcsr, index: index, upstreams: upstreams}
	index.AddHandler(c)
	return c
}

func (c *Controller) due(r *inventory.Record) bool {
	return r != nil && r.Revocation != nil && c.upstreams[r.SignerName] != nil
}

// OnAdd, OnUpdate and OnDelete are inventory.Handler's.
func (c *Controller) OnAdd(r *inventory.Record, _ bool) {
	if !c.due(r) {
		return
	}
	c.mu.Lock()
	q := c.queue
	c.mu.Unlock()
	if q != nil {
		q.Add(r.Name)
	}
}
func (c *Controller) OnUpdate(_, r *inventory.Record) { c.OnAdd(r, false) }
func (c *Controller) OnDelete(*inventory.Record)      {}

// Run carries every revoked record of an upstream signer, then every revocation from now
// on, until ctx is done; a leader runs it (again after a new election).
func (c *Controller) Run(ctx context.Context) {
	q := workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.NewTypedItemExponentialFailureRateLimiter[string](time.Second, 5*time.Minute),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "upstreamrevoke"})
	c.mu.Lock()
	c.queue = q
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.queue = nil
		c.mu.Unlock()
	}()
	go func() { <-ctx.Done(); q.ShutDown() }()
	c.index.RangeRevoked(func(r *inventory.Record) {
		if c.due(r) {
			q.Add(r.Name)
		}
	})
	for {
		name, shutdown := q.Get()
		if shutdown {
			return
		}
		if err := c.sync(ctx, name); err != nil {
			klog.FromContext(ctx).Error(err, "Cannot revoke at the upstream; will retry", "issuedCertificate", name)
			q.AddRateLimited(name)
		} else {
			q.Forget(name)
		}
		q.Done(name)
	}
}

// answered is the annotation value that says the upstream revoked the certificate.
func answered(up upstream.Signer) string { return "revoked at " + up.Name() }

func (c *Controller) sync(ctx context.Context, name string) error {
	records := c.kcsr.KcsrV1alpha1().IssuedCertificates()
	ic, err := records.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	rev := ic.Status.Revocation
	up := c.upstreams[ic.Spec.SignerName]
	if rev == nil || up == nil || rev.Reason == kcsrv1alpha1.ReasonCertificateHold {
		return nil
	}
	done := answered(up)
	if ic.Annotations[kcsrv1alpha1.UpstreamRevocationAnnotation] == done {
		return nil
	}
	serial, err := issuedBy(ic, up)
	if err != nil {
		// Not the upstream's certificate: never revoke a serial kcsr cannot show the
		// upstream issued (on a real cluster the record is a CRD that nothing validates).
		klog.FromContext(ctx).Error(err, "Not revoking at the upstream", "issuedCertificate", name, "upstream", up.Name())
		return c.annotate(ctx, name, "refused: "+err.Error())
	}
	reason, err := revocation.ParseReason(rev.Reason)
	if err != nil {
		return nil
	}
	result := done
	rerr := up.Revoke(ctx, serial, int(reason), rev.Reason)
	if rerr != nil {
		result = fmt.Sprintf("not yet: %v (retried)", rerr)
	}
	if err := c.annotate(ctx, name, result); err != nil {
		return err
	}
	if rerr == nil {
		klog.FromContext(ctx).Info("Revoked at the upstream", "issuedCertificate", name, "upstream", up.Name(), "serial", ic.Spec.SerialNumber)
	}
	return rerr
}

// issuedBy returns the serial of ic's certificate after checking that the certificate
// carries the record's serial and chains to up's roots (through the record's
// intermediates).
func issuedBy(ic *kcsrv1alpha1.IssuedCertificate, up upstream.Signer) (*big.Int, error) {
	cert, err := pemutil.FirstCertificate(ic.Spec.Certificate)
	if err != nil {
		return nil, fmt.Errorf("spec.certificate: %w", err)
	}
	if cert.SerialNumber.Text(16) != strings.ToLower(ic.Spec.SerialNumber) {
		return nil, fmt.Errorf("spec.serialNumber %s is not the certificate's (%s)", ic.Spec.SerialNumber, cert.SerialNumber.Text(16))
	}
	roots, intermediates := x509.NewCertPool(), x509.NewCertPool()
	for _, r := range up.Roots() {
		roots.AddCert(r)
	}
	if len(ic.Spec.Intermediates) > 0 {
		chain, err := pemutil.ParseCertificates(ic.Spec.Intermediates)
		if err != nil {
			return nil, fmt.Errorf("spec.intermediates: %w", err)
		}
		for _, c := range chain {
			intermediates.AddCert(c)
		}
	}
	// Checked in the middle of the certificate's life: an expired certificate may be
	// revoked all the same.
	mid := cert.NotBefore.Add(cert.NotAfter.Sub(cert.NotBefore) / 2)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: intermediates, CurrentTime: mid, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return nil, fmt.Errorf("the certificate does not chain to %s's roots: %w", up.Name(), err)
	}
	return cert.SerialNumber, nil
}

// annotate records the upstream's answer on the record.
func (c *Controller) annotate(ctx context.Context, name, value string) error {
	records := c.kcsr.KcsrV1alpha1().IssuedCertificates()
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		ic, err := records.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if ic.Annotations[kcsrv1alpha1.UpstreamRevocationAnnotation] == value {
			return nil
		}
		if ic.Annotations == nil {
			ic.Annotations = map[string]string{}
		}
		ic.Annotations[kcsrv1alpha1.UpstreamRevocationAnnotation] = value
		_, err = records.Update(ctx, ic, metav1.UpdateOptions{})
		return err
	})
}

package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
	"k8s.io/utils/ptr"

	"kcsr.dev/kcsr/pkg/csr"
)

// workload is the kind of CSR a phase creates.
type workload string

const (
	// nodeClient: a kubelet's bootstrap request (kubernetes.io/kube-apiserver-client-kubelet,
	// CN=system:node:<name>, O=system:nodes) made with a bootstrap identity, auto-approved by
	// the nodeclient SubjectAccessReview as kube-controller-manager's csrapproving does.
	nodeClient workload = "node-client"
	// policyClient: a client certificate (kubernetes.io/kube-apiserver-client) for the
	// requester itself, approved by kcsr's ApprovalPolicy "kcsr-bench". kcsr only.
	policyClient workload = "policy-client"
	// manualClient: a client certificate (kubernetes.io/kube-apiserver-client) for
	// bench-manual-<i>, created by the administrator and left Pending (no rule approves
	// it), then approved through /approval as `kubectl certificate approve` does. The CSRs
	// are created before the timed window; what is timed is approval → certificate.
	manualClient workload = "manual-client"
)

// benchLabel marks every CSR of a phase, so the phase's watch sees only its own.
const benchLabel = "kcsr.dev/bench-phase"

var clientUsages = []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth}

// generate makes n CSR objects named <prefix>-<i>, each with its own new P-256 key, on
// every core. This is done before the timed window.
func generate(w workload, prefix string, n int) ([]*certificatesv1.CertificateSigningRequest, error) {
	out := make([]*certificatesv1.CertificateSigningRequest, n)
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				obj, err := newCSR(w, fmt.Sprintf("%s-%d", prefix, i), i, prefix)
				if err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				out[i] = obj
			}
		})
	}
	wg.Wait()
	return out, firstErr
}

func newCSR(w workload, name string, i int, phase string) (*certificatesv1.CertificateSigningRequest, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	obj := &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{benchLabel: phase}},
		Spec:       certificatesv1.CertificateSigningRequestSpec{Usages: clientUsages},
	}
	var subject pkix.Name
	switch w {
	case nodeClient:
		subject = pkix.Name{CommonName: fmt.Sprintf("system:node:bench-%s-%d", phase, i), Organization: []string{"system:nodes"}}
		obj.Spec.SignerName = certificatesv1.KubeAPIServerClientKubeletSignerName
	case manualClient:
		subject = pkix.Name{CommonName: fmt.Sprintf("bench-manual-%s-%d", phase, i)}
		obj.Spec.SignerName = certificatesv1.KubeAPIServerClientSignerName
		obj.Spec.ExpirationSeconds = ptr.To[int32](3600)
	case policyClient:
		subject = pkix.Name{CommonName: policyUser, Organization: []string{policyGroup}}
		obj.Spec.SignerName = certificatesv1.KubeAPIServerClientSignerName
		obj.Spec.ExpirationSeconds = ptr.To[int32](3600)
	default:
		return nil, fmt.Errorf("unknown workload %q", w)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: subject}, key)
	if err != nil {
		return nil, err
	}
	obj.Spec.Request = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
	return obj, nil
}

// load says how CSRs are sent: closed loop (workers, each creating its next CSR as soon as
// the previous create returned) or open loop (rate CSRs per second, whatever the server
// does, latency measured from the scheduled time so a slow server cannot hide its queue).
type load struct {
	Workers int     `json:"workers,omitempty"`
	Rate    float64 `json:"rate,omitempty"`
}

func (l load) String() string {
	if l.Rate > 0 {
		return fmt.Sprintf("open loop %.0f/s", l.Rate)
	}
	return fmt.Sprintf("closed loop c=%d", l.Workers)
}

// observation is what one phase saw from the client side.
type observation struct {
	created      []time.Time // when the create was sent (open loop: scheduled)
	createTook   []time.Duration
	issued       []time.Time // zero until the watch saw the certificate
	failed       []bool      // Denied or Failed
	createErrors int
	firstError   error
	start, end   time.Time // first create sent; last CSR settled (or the stall timeout)
	stalled      bool
}

// settled counts CSRs issued, failed, or never created.
func (o *observation) counts() (issued, failed int) {
	for i := range o.issued {
		if !o.issued[i].IsZero() {
			issued++
		} else if o.failed[i] {
			failed++
		}
	}
	return issued, failed
}

// run creates csrs against the system as the given client and waits, on a watch, until
// each is issued, failed, or nothing progressed for stall. The admin client watches.
// With approve, the CSRs are created first, untimed, and the timed request is their
// approval.
func run(ctx context.Context, creator, watcher kubernetes.Interface, phase string, csrs []*certificatesv1.CertificateSigningRequest, l load, stall time.Duration, approve bool) (*observation, error) {
	n := len(csrs)
	o := &observation{
		created:    make([]time.Time, n),
		createTook: make([]time.Duration, n),
		issued:     make([]time.Time, n),
		failed:     make([]bool, n),
	}
	index := make(map[string]int, n)
	for i, c := range csrs {
		index[c.Name] = i
	}
	selector := benchLabel + "=" + phase
	api := watcher.CertificatesV1().CertificateSigningRequests()
	list, err := api.List(ctx, metav1.ListOptions{LabelSelector: selector, Limit: 1})
	if err != nil {
		return nil, fmt.Errorf("list before the watch: %w", err)
	}
	w, err := watchtools.NewRetryWatcherWithContext(ctx, list.ResourceVersion, &cache.ListWatch{
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			opts.LabelSelector = selector
			return api.Watch(ctx, opts)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("watch: %w", err)
	}
	consumed := make(chan struct{})
	defer func() {
		// Nothing may write o once it is returned.
		w.Stop()
		<-consumed
	}()

	var mu sync.Mutex // guards o.issued, o.failed, settled, o.createErrors
	settled := 0
	progress := make(chan struct{}, 1)
	notify := func() {
		select {
		case progress <- struct{}{}:
		default:
		}
	}
	go func() {
		defer close(consumed)
		for ev := range w.ResultChan() {
			obj, ok := ev.Object.(*certificatesv1.CertificateSigningRequest)
			if !ok {
				continue
			}
			now := time.Now()
			i, ok := index[obj.Name]
			if !ok {
				continue
			}
			mu.Lock()
			if o.issued[i].IsZero() && !o.failed[i] {
				switch csr.StateOf(obj) {
				case csr.Issued:
					o.issued[i] = now
					settled++
				case csr.Denied, csr.Failed:
					o.failed[i] = true
					settled++
				}
			}
			mu.Unlock()
			notify()
		}
	}()

	// act is the timed request: the create, or for manual approval the /approval update
	// of the CSR created before the window, as `kubectl certificate approve` sends it.
	act := func(i int) error {
		_, err := creator.CertificatesV1().CertificateSigningRequests().Create(ctx, csrs[i], metav1.CreateOptions{})
		return err
	}
	if approve {
		created := make([]*certificatesv1.CertificateSigningRequest, n)
		for i := range n {
			if created[i], err = creator.CertificatesV1().CertificateSigningRequests().Create(ctx, csrs[i], metav1.CreateOptions{}); err != nil {
				return nil, fmt.Errorf("create %s before the window: %w", csrs[i].Name, err)
			}
		}
		act = func(i int) error {
			obj := created[i].DeepCopy()
			obj.Status.Conditions = append(obj.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
				Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue,
				Reason: "KubectlApprove", Message: "This CSR was approved by kubectl certificate approve.",
			})
			_, err := creator.CertificatesV1().CertificateSigningRequests().UpdateApproval(ctx, obj.Name, obj, metav1.UpdateOptions{})
			return err
		}
	}
	create := func(i int, sent time.Time) {
		err := act(i)
		took := time.Since(sent)
		mu.Lock()
		o.created[i], o.createTook[i] = sent, took
		if err != nil {
			o.createErrors++
			settled++
			if o.firstError == nil {
				o.firstError = fmt.Errorf("create %s: %w", csrs[i].Name, err)
			}
		}
		mu.Unlock()
		if err != nil {
			notify()
		}
	}

	o.start = time.Now()
	var wg sync.WaitGroup
	if l.Rate > 0 {
		interval := float64(time.Second) / l.Rate
		for i := range n {
			at := o.start.Add(time.Duration(float64(i) * interval))
			if d := time.Until(at); d > 0 {
				time.Sleep(d)
			}
			if ctx.Err() != nil {
				break
			}
			wg.Go(func() { create(i, at) })
		}
	} else {
		next := make(chan int, n)
		for i := range n {
			next <- i
		}
		close(next)
		for range l.Workers {
			wg.Go(func() {
				for i := range next {
					if ctx.Err() != nil {
						return
					}
					create(i, time.Now())
				}
			})
		}
	}
	wg.Wait()

	timer := time.NewTimer(stall)
	defer timer.Stop()
	for {
		mu.Lock()
		done := settled >= n
		mu.Unlock()
		if done {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-progress:
			if !timer.Stop() {
				<-timer.C
			}
			timer.Reset(stall)
			continue
		case <-timer.C:
			o.stalled = true
		}
		break
	}
	mu.Lock()
	defer mu.Unlock() // runs before the watch is stopped: the consumer may be waiting for mu
	o.end = time.Now()
	// The end of the phase is the last CSR issued (not when the loop noticed it).
	if !o.stalled {
		var last time.Time
		for _, t := range o.issued {
			if t.After(last) {
				last = t
			}
		}
		if !last.IsZero() {
			o.end = last
		}
	}
	return o, nil
}

// latencies are create→Issued and the create call alone, for the CSRs issued.
func (o *observation) latencies() (toIssued, create []time.Duration) {
	for i := range o.issued {
		if o.issued[i].IsZero() {
			continue
		}
		toIssued = append(toIssued, o.issued[i].Sub(o.created[i]))
		create = append(create, o.createTook[i])
	}
	return toIssued, create
}

// warmUp issues a few CSRs of each workload before anything is timed: the controllers'
// informers, the RBAC and policy caches and the connections are then warm. Creates are
// retried while RBAC bindings made at set-up reach the authorizer.
func warmUp(ctx context.Context, s *system, workloads []workload, n int) error {
	watcher, err := s.adminClient()
	if err != nil {
		return err
	}
	for _, w := range workloads {
		creator, err := kubernetes.NewForConfig(s.tokenConfig(s.tokenFor(w)))
		if err != nil {
			return err
		}
		phase := "warmup-" + string(w) + "-" + runID
		csrs, err := generate(w, phase, n)
		if err != nil {
			return err
		}
		deadline := time.Now().Add(2 * time.Minute)
		for {
			_, err := creator.CertificatesV1().CertificateSigningRequests().Create(ctx, csrs[0], metav1.CreateOptions{})
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s: warm-up create as %s: %w", s.name, w, err)
			}
			time.Sleep(250 * time.Millisecond)
		}
		o, err := run(ctx, creator, watcher, phase, csrs[1:], load{Workers: 4}, 2*time.Minute, false)
		if err != nil {
			return err
		}
		if issued, _ := o.counts(); issued != n-1 {
			return errors.Join(fmt.Errorf("%s: warm-up %s: %d of %d issued (%d create errors)", s.name, w, issued, n-1, o.createErrors), o.firstError)
		}
	}
	return nil
}

func (s *system) tokenFor(w workload) string {
	if w == policyClient {
		return s.tokens.Policy
	}
	return s.tokens.Bootstrap
}

package testkit

import (
	"context"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	certificatesinformers "k8s.io/client-go/informers/certificates/v1"
	"k8s.io/client-go/kubernetes/fake"
	clocktesting "k8s.io/utils/clock/testing"

	kcsrfake "kcsr.dev/kcsr/pkg/generated/clientset/versioned/fake"
)

// Controller is the world a CSR controller runs in under unit test: fake Kubernetes and
// kcsr.dev clientsets, a shared CSR informer over the first, a fake clock at Epoch and an
// event Recorder. Build the controller from its fields, then Start.
type Controller struct {
	Client    *fake.Clientset
	Kcsr      *kcsrfake.Clientset
	Informers informers.SharedInformerFactory
	Clock     *clocktesting.FakeClock
	Recorder  *Recorder
}

// NewController returns the fixture holding objs (Kubernetes objects, CSRs among them)
// and kcsrObjs (kcsr.dev objects).
func NewController(objs, kcsrObjs []runtime.Object) *Controller {
	client := fake.NewSimpleClientset(objs...)
	return &Controller{
		Client:    client,
		Kcsr:      kcsrfake.NewSimpleClientset(kcsrObjs...),
		Informers: informers.NewSharedInformerFactory(client, 0),
		Clock:     clocktesting.NewFakeClock(Epoch),
		Recorder:  &Recorder{},
	}
}

// CSRs is the shared CSR informer to build a controller on.
func (f *Controller) CSRs() certificatesinformers.CertificateSigningRequestInformer {
	return f.Informers.Certificates().V1().CertificateSigningRequests()
}

// Start starts the informers asked for so far and waits for their caches; they stop
// when the test ends.
func (f *Controller) Start(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	f.Informers.Start(ctx.Done())
	for typ, ok := range f.Informers.WaitForCacheSync(ctx.Done()) {
		if !ok {
			t.Fatalf("testkit: informer for %v did not sync", typ)
		}
	}
}

// CSR returns the stored CSR name.
func (f *Controller) CSR(t testing.TB, name string) *certificatesv1.CertificateSigningRequest {
	t.Helper()
	obj, err := f.Client.CertificatesV1().CertificateSigningRequests().Get(context.Background(), name, metav1.GetOptions{})
	NoError(t, err, "get CSR "+name)
	return obj
}

// LastCondition returns the stored CSR name's last condition, or nil when it has none.
func (f *Controller) LastCondition(t testing.TB, name string) *certificatesv1.CertificateSigningRequestCondition {
	t.Helper()
	conds := f.CSR(t, name).Status.Conditions
	if len(conds) == 0 {
		return nil
	}
	return &conds[len(conds)-1]
}

// CSREvent is the event a controller records about the CSR name.
func CSREvent(name, eventType, reason, message string) Event {
	return Event{Kind: "CertificateSigningRequest", Name: name, Type: eventType, Reason: reason, Message: message}
}

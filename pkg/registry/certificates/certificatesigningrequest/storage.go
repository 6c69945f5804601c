package certificatesigningrequest

import (
	"context"
	"fmt"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"

	"kcsr.dev/kcsr/pkg/csr"
	"kcsr.dev/kcsr/pkg/metrics"
	"kcsr.dev/kcsr/pkg/registry"
	"kcsr.dev/kcsr/pkg/registry/subresource"
	"kcsr.dev/kcsr/pkg/registry/table"
)

// REST is the main resource.
type REST struct{ *genericregistry.Store }

var (
	_ rest.ShortNamesProvider = &REST{}
	_ rest.CategoriesProvider = &REST{}
)

// ShortNames lets `kubectl get csr` work.
func (*REST) ShortNames() []string { return []string{"csr"} }

// Categories: CSRs are not part of "all", as in Kubernetes.
func (*REST) Categories() []string { return nil }

// Storage holds the three endpoints of the resource.
type Storage struct {
	CSR      *REST
	Status   *subresource.REST
	Approval *subresource.REST
}

// NewStorage returns the REST storage of the resource over optsGetter's storage backend.
func NewStorage(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter) (*Storage, error) {
	strategy := NewStrategy(scheme)
	store, err := registry.NewStore(optsGetter, registry.StoreSpec{
		Resource: certificatesv1.Resource("certificatesigningrequests"),
		Singular: "certificatesigningrequest",
		New:      func() runtime.Object { return &certificatesv1.CertificateSigningRequest{} },
		NewList:  func() runtime.Object { return &certificatesv1.CertificateSigningRequestList{} },
		Strategy: strategy,
		AttrFunc: GetAttrs,

		Table: TableConvertor(),
		Customize: func(store *genericregistry.Store) {
			store.AfterCreate = func(obj runtime.Object, options *metav1.CreateOptions) {
				if len(options.DryRun) > 0 {
					return // nothing was stored
				}
				metrics.CSRs.WithLabelValues(obj.(*certificatesv1.CertificateSigningRequest).Spec.SignerName, "created").Inc()
			}
		},
	})
	if err != nil {
		return nil, err
	}

	statusStore := *store
	statusStrategy := NewStatusStrategy(strategy)
	statusStore.UpdateStrategy = statusStrategy
	statusStore.ResetFieldsStrategy = statusStrategy
	statusStore.BeginUpdate = countTransitions

	approvalStore := *store
	approvalStrategy := NewApprovalStrategy(strategy)
	approvalStore.UpdateStrategy = approvalStrategy
	approvalStore.ResetFieldsStrategy = approvalStrategy
	approvalStore.BeginUpdate = countTransitions

	return &Storage{
		CSR:      &REST{store},
		Status:   subresource.New(&statusStore),
		Approval: subresource.New(&approvalStore),
	}, nil
}

// countTransitions counts, once an update through /approval or /status succeeds, the
// decisions and outcomes it made: approved, denied, failed, issued. Counting here sees
// every approver and signer, people and controllers alike. A dry run changes nothing and
// counts nothing.
func countTransitions(_ context.Context, obj, old runtime.Object, options *metav1.UpdateOptions) (genericregistry.FinishFunc, error) {
	if len(options.DryRun) > 0 {
		return func(context.Context, bool) {}, nil
	}
	newCSR, oldCSR := obj.(*certificatesv1.CertificateSigningRequest), old.(*certificatesv1.CertificateSigningRequest)
	signer := oldCSR.Spec.SignerName
	var events []string
	for _, t := range []struct {
		condition certificatesv1.RequestConditionType
		event     string
	}{
		{certificatesv1.CertificateApproved, "approved"},
		{certificatesv1.CertificateDenied, "denied"},
		{certificatesv1.CertificateFailed, "failed"},
	} {
		if csr.HasCondition(newCSR, t.condition) && !csr.HasCondition(oldCSR, t.condition) {
			events = append(events, t.event)
		}
	}
	issued := csr.IsIssued(newCSR) && !csr.IsIssued(oldCSR)
	created := oldCSR.CreationTimestamp.Time
	return func(_ context.Context, success bool) {
		if !success {
			return
		}
		now := time.Now()
		for _, e := range events {
			metrics.CSRs.WithLabelValues(signer, e).Inc()
			if e == "approved" || e == "denied" {
				metrics.TimeToDecision.WithLabelValues(signer, e).Observe(metrics.Since(created, now))
			}
		}
		if issued {
			metrics.CSRs.WithLabelValues(signer, "issued").Inc()
			metrics.TimeToIssue.WithLabelValues(signer).Observe(metrics.Since(created, now))
		}
	}, nil
}

// TableConvertor renders CSRs with kubectl's columns: NAME, AGE, SIGNERNAME, REQUESTOR,
// REQUESTEDDURATION, CONDITION.
func TableConvertor() table.Convertor {
	spec := certificatesv1.CertificateSigningRequestSpec{}.SwaggerDoc()
	status := certificatesv1.CertificateSigningRequestStatus{}.SwaggerDoc()
	return table.Convertor{
		Columns: []metav1.TableColumnDefinition{
			table.NameColumn,
			table.AgeColumn,
			{Name: "SignerName", Type: "string", Description: spec["signerName"]},
			{Name: "Requestor", Type: "string", Description: spec["username"]},
			{Name: "RequestedDuration", Type: "string", Description: spec["expirationSeconds"]},
			{Name: "Condition", Type: "string", Description: status["conditions"]},
		},
		Cells: func(obj runtime.Object) ([]any, error) {
			req, ok := obj.(*certificatesv1.CertificateSigningRequest)
			if !ok {
				return nil, errNotCSR(obj)
			}
			signer := "<none>"
			if req.Spec.SignerName != "" {
				signer = req.Spec.SignerName
			}
			requested := "<none>"
			if req.Spec.ExpirationSeconds != nil {
				requested = duration.HumanDuration(time.Duration(*req.Spec.ExpirationSeconds) * time.Second)
			}
			return []any{
				req.Name,
				table.Age(req.CreationTimestamp, time.Now()),
				signer,
				req.Spec.Username,
				requested,
				csr.ConditionString(req),
			}, nil
		},
	}
}

func errNotCSR(obj runtime.Object) error {
	return fmt.Errorf("expected a CertificateSigningRequest, got %T", obj)
}

package certificatesigningrequest

import (
	"context"
	"errors"
	"fmt"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/apiserver/pkg/authentication/user"
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
type REST struct {
	*genericregistry.Store
	in *InRequest
	// own says whether a user may take a verb on CSRs only on their own (pkg/authz/own).
	own OwnScope
}

// OwnScope reports whether u may take verb on CSRs only on their own: its reads are then
// limited to the CSRs whose spec.username is u's (pkg/authz/own.Authorizer.Scoped).
type OwnScope func(ctx context.Context, u user.Info, verb string) bool

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
	Approval *ApprovalREST
}

// NewStorage returns the REST storage of the resource over optsGetter's storage backend.
// With in, CSRs are decided and signed in the requests that create and approve them.
func NewStorage(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter, in *InRequest, own OwnScope) (*Storage, error) {
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
				created := obj.(*certificatesv1.CertificateSigningRequest)
				metrics.CSRs.WithLabelValues(created.Spec.SignerName, "created").Inc()
				// Decided and issued in the create: as a /approval and /status update.
				countChanges(created, &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: created.CreationTimestamp}, Spec: created.Spec}, time.Now())
			}
			if in != nil {
				store.BeginCreate = in.beginCreate
			}
		},
	})
	if err != nil {
		return nil, err
	}
	if in != nil {
		// A CSR decided and signed in its create is stored with its inventory record.
		if in.RecordStorage == nil || in.RecordStorage.Strategy == nil || in.RecordStorage.Key == nil {
			return nil, errors.New("certificatesigningrequests: signing in the request needs the inventory's storage")
		}
		opts, err := optsGetter.GetRESTOptions(store.DefaultQualifiedResource, store.NewFunc())
		if err != nil {
			return nil, err
		}
		joint, err := newJointStorage(store.Storage.Storage, opts, in.RecordStorage, store.NewFunc)
		if err != nil {
			return nil, err
		}
		store.Storage.Storage = joint
		destroy := store.DestroyFunc
		store.DestroyFunc = func() {
			if destroy != nil {
				destroy()
			}
			_ = joint.close()
		}
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
	if in != nil {
		approvalStore.BeginUpdate = in.beginApproval
	}

	return &Storage{
		CSR:      &REST{Store: store, in: in, own: own},
		Status:   subresource.New(&statusStore),
		Approval: &ApprovalREST{REST: subresource.New(&approvalStore), in: in},
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
	return func(_ context.Context, success bool) {
		// Read at the end: the update's signing in the request adds the certificate.
		if success {
			countChanges(newCSR, oldCSR, time.Now())
		}
	}, nil
}

// countChanges counts the decisions and outcomes newCSR has that oldCSR had not.
func countChanges(newCSR, oldCSR *certificatesv1.CertificateSigningRequest, now time.Time) {
	signer := oldCSR.Spec.SignerName
	created := oldCSR.CreationTimestamp.Time
	for _, t := range []struct {
		condition certificatesv1.RequestConditionType
		event     string
	}{
		{certificatesv1.CertificateApproved, "approved"},
		{certificatesv1.CertificateDenied, "denied"},
		{certificatesv1.CertificateFailed, "failed"},
	} {
		if csr.HasCondition(newCSR, t.condition) && !csr.HasCondition(oldCSR, t.condition) {
			metrics.CSRs.WithLabelValues(signer, t.event).Inc()
			if t.event == "approved" || t.event == "denied" {
				metrics.TimeToDecision.WithLabelValues(signer, t.event).Observe(metrics.Since(created, now))
			}
		}
	}
	if csr.IsIssued(newCSR) && !csr.IsIssued(oldCSR) {
		metrics.CSRs.WithLabelValues(signer, "issued").Inc()
		metrics.TimeToIssue.WithLabelValues(signer).Observe(metrics.Since(created, now))
	}
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

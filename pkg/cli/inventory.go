package cli

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	kcsrclient "kcsr.dev/kcsr/pkg/generated/clientset/versioned"
)

// inventoryPage is how many records one list request of the CLI asks for, as kubectl's
// default --chunk-size.
const inventoryPage = 500

// IssuedCertificates lists the inventory records a field selector matches, a page at a
// time: an unpaged list would make the server read a million records at once (kcsr keeps
// no watch cache of the inventory).
func IssuedCertificates(ctx context.Context, kcsr kcsrclient.Interface, fieldSelector string) ([]kcsrv1alpha1.IssuedCertificate, error) {
	var out []kcsrv1alpha1.IssuedCertificate
	opts := metav1.ListOptions{FieldSelector: fieldSelector, Limit: inventoryPage}
	for {
		list, err := kcsr.KcsrV1alpha1().IssuedCertificates().List(ctx, opts)
		if err != nil {
			return nil, err
		}
		out = append(out, list.Items...)
		if list.Continue == "" {
			return out, nil
		}
		opts.Continue = list.Continue
	}
}

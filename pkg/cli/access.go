package cli

import (
	"context"

	authorizationv1 "k8s.io/api/authorization/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// May is what the server says about the user doing attrs (a SelfSubjectAccessReview);
// false when it cannot say.
func May(ctx context.Context, client kubernetes.Interface, attrs authorizationv1.ResourceAttributes) bool {
	review, err := client.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
		Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &attrs},
	}, metav1.CreateOptions{})
	return err == nil && review.Status.Allowed
}

// MayApprove says whether the user may approve or deny the CSR csrName of signerName:
// the verb approve on the signer, and update on certificatesigningrequests/approval,
// the two checks the API server makes. csrName "" asks about every CSR.
func MayApprove(ctx context.Context, client kubernetes.Interface, signerName, csrName string) bool {
	return May(ctx, client, authorizationv1.ResourceAttributes{Group: certificatesv1.GroupName, Resource: "signers", Verb: "approve", Name: signerName}) &&
		May(ctx, client, authorizationv1.ResourceAttributes{Group: certificatesv1.GroupName, Resource: "certificatesigningrequests", Subresource: "approval", Verb: "update", Name: csrName})
}

package testkit

import (
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
)

// JoinToken returns the join token name for username, expiring at expires, for the
// kube-apiserver-client signer; each mutate function may change it.
func JoinToken(name, username string, expires time.Time, mutate ...func(*kcsrv1alpha1.JoinToken)) *kcsrv1alpha1.JoinToken {
	jt := &kcsrv1alpha1.JoinToken{
		ObjectMeta: metav1.ObjectMeta{Name: name, ResourceVersion: "1"},
		Spec: kcsrv1alpha1.JoinTokenSpec{
			Username: username, SignerName: certificatesv1.KubeAPIServerClientSignerName, Expiration: metav1.NewTime(expires),
		},
	}
	for _, m := range mutate {
		m(jt)
	}
	return jt
}

// SpentOn marks a join token spent on the CSR csrName (UID "uid-"+csrName) at at.
func SpentOn(csrName string, at time.Time) func(*kcsrv1alpha1.JoinToken) {
	return func(jt *kcsrv1alpha1.JoinToken) {
		jt.Status.UsedBy = &kcsrv1alpha1.TokenUse{CSRName: csrName, CSRUID: "uid-" + csrName, Time: metav1.NewTime(at)}
	}
}

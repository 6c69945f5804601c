package server

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/klog/v2"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	kcsrclient "kcsr.dev/kcsr/pkg/generated/clientset/versioned"
	"kcsr.dev/kcsr/pkg/inventory"
	"kcsr.dev/kcsr/pkg/pki"
)

// recordPKI puts the certificates the server's own PKI issued (the admin client
// certificate, the serving certificate) in the inventory, as the signer records what it
// issues, so that they can be revoked like any other. It runs at every start, before the
// server is ready: a record is named after its certificate's fingerprint, so a restart or
// another replica with the same certificates finds it (AlreadyExists) and each certificate
// has exactly one record; a certificate Ensure renewed or re-issued gets its own.
//
// It warns when the admin certificate in use is revoked: the administrator then replaces it
// by deleting admin.crt and admin.key and restarting (docs/revocation.md).
func recordPKI(ctx context.Context, client kcsrclient.Interface, leaves []pki.Leaf) error {
	records := client.KcsrV1alpha1().IssuedCertificates()
	for _, leaf := range leaves {
		want := inventory.NewPKIRecord(leaf)
		var got *kcsrv1alpha1.IssuedCertificate
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
			created, err := records.Create(ctx, want, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				created, err = records.Get(ctx, want.Name, metav1.GetOptions{})
			}
			if err != nil {
				if apierrors.IsInvalid(err) || apierrors.IsForbidden(err) {
					return false, err
				}
				klog.V(2).InfoS("Waiting to record a PKI certificate", "record", want.Name, "err", err)
				return false, nil
			}
			got = created
			return true, nil
		})
		if err != nil {
			return fmt.Errorf("record the %s certificate %s (serial %s) in the inventory: %w", leaf.Role, leaf.File, want.Spec.SerialNumber, err)
		}
		if got.Spec.SHA256Fingerprint != want.Spec.SHA256Fingerprint {
			return fmt.Errorf("inventory record %s holds another certificate (SHA-256 %s) than %s (SHA-256 %s)", got.Name, got.Spec.SHA256Fingerprint, leaf.File, want.Spec.SHA256Fingerprint)
		}
		klog.InfoS("PKI certificate in the inventory", "role", leaf.Role, "record", got.Name, "serial", got.Spec.SerialNumber, "notAfter", got.Spec.NotAfter.UTC())
		if r := got.Status.Revocation; r != nil {
			klog.InfoS("WARNING: a certificate of the server's PKI is revoked; delete it and its key and restart the server to issue a new one",
				"role", leaf.Role, "certificate", leaf.File, "serial", got.Spec.SerialNumber, "reason", r.Reason, "revokedBy", r.RevokedBy)
		}
	}
	return nil
}

package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	kcsrclient "kcsr.dev/kcsr/pkg/generated/clientset/versioned"
)

// revocationLatency issues a client certificate as the administrator, checks that it
// logs in, revokes it (the status update `kcsr revoke` makes) and polls until the server
// refuses it: the time from the revocation's write returning to the first refused login.
func revocationLatency(ctx context.Context, s *system, admin kubernetes.Interface, kc kcsrclient.Interface) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return 0, err
	}
	name := fmt.Sprintf("bench-revoke-%d", time.Now().UnixNano())
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: name}}, key)
	if err != nil {
		return 0, err
	}
	obj, err := admin.CertificatesV1().CertificateSigningRequests().Create(ctx, &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request:           pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}),
			SignerName:        certificatesv1.KubeAPIServerClientSignerName,
			Usages:            []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth},
			ExpirationSeconds: ptr.To[int32](3600),
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return 0, err
	}
	obj.Status.Conditions = append(obj.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
		Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "Bench", Message: "revocation latency",
	})
	if _, err := admin.CertificatesV1().CertificateSigningRequests().UpdateApproval(ctx, name, obj, metav1.UpdateOptions{}); err != nil {
		return 0, err
	}
	var certPEM []byte
	for len(certPEM) == 0 {
		got, err := admin.CertificatesV1().CertificateSigningRequests().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return 0, err
		}
		certPEM = got.Status.Certificate
		if len(certPEM) == 0 {
			if err := pause(ctx, 20*time.Millisecond); err != nil {
				return 0, fmt.Errorf("%s was not issued: %w", name, err)
			}
		}
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return 0, err
	}
	user, err := kubernetes.NewForConfig(&rest.Config{Host: s.url, QPS: -1, TLSClientConfig: rest.TLSClientConfig{
		CAFile: s.caFile, CertData: certPEM, KeyData: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	}})
	if err != nil {
		return 0, err
	}
	// Authenticated, with no rights: Forbidden. Refused at login: Unauthorized.
	login := func() (bool, error) {
		_, err := user.CertificatesV1().CertificateSigningRequests().Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsUnauthorized(err):
			return false, nil
		case err == nil || apierrors.IsForbidden(err):
			return true, nil
		default:
			return false, err
		}
	}
	if ok, err := login(); !ok || err != nil {
		return 0, fmt.Errorf("the new certificate of %s does not log in (%v)", name, err)
	}
	ic, err := kc.KcsrV1alpha1().IssuedCertificates().Get(ctx, string(obj.UID), metav1.GetOptions{})
	if err != nil {
		return 0, err
	}
	ic.Status.Revocation = &kcsrv1alpha1.Revocation{Time: metav1.Now(), Reason: "keyCompromise", Message: "bench: revocation latency"}
	if _, err := kc.KcsrV1alpha1().IssuedCertificates().UpdateStatus(ctx, ic, metav1.UpdateOptions{}); err != nil {
		return 0, err
	}
	revoked := time.Now()
	for {
		ok, err := login()
		if err != nil {
			return 0, err
		}
		if !ok {
			return time.Since(revoked), nil
		}
		if err := pause(ctx, 5*time.Millisecond); err != nil {
			return 0, fmt.Errorf("the revoked certificate of %s still logs in after %s", name, time.Since(revoked))
		}
	}
}

func pause(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

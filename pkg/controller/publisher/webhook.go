package publisher

import (
	"encoding/json"
	"net/http"
	"strings"

	authorizationv1 "k8s.io/api/authorization/v1"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
)

// CredentialIDKey is the user.extra key kube-apiserver (≥ 1.32) sets to
// "X509SHA256=<fingerprint>" for a request authenticated with a client certificate.
const CredentialIDKey = "authentication.kubernetes.io/credential-id"

// FingerprintIndex indexes IssuedCertificates by SHA-256 fingerprint.
const FingerprintIndex = "kcsr.dev/fingerprint"

// IndexFingerprint is the informer indexer of FingerprintIndex.
func IndexFingerprint(obj any) ([]string, error) {
	if ic, ok := obj.(*kcsrv1alpha1.IssuedCertificate); ok {
		return []string{ic.Spec.SHA256Fingerprint}, nil
	}
	return nil, nil
}

// AuthorizationWebhook is a kube-apiserver authorization webhook (SubjectAccessReview v1,
// installed first in --authorization-config) that denies every request made with a
// revoked certificate (and, until the inventory is loaded, every request made with a
// certificate) and has no opinion on anything else, so revocation bites on a real cluster
// too. It can only deny, never allow: a caller cannot gain anything from it.
func (p *Publisher) AuthorizationWebhook() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST a SubjectAccessReview", http.StatusMethodNotAllowed)
			return
		}
		var sar authorizationv1.SubjectAccessReview
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&sar); err != nil {
			http.Error(w, "malformed SubjectAccessReview: "+err.Error(), http.StatusBadRequest)
			return
		}
		sar.Status = p.Review(sar.Spec)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(&authorizationv1.SubjectAccessReview{
			TypeMeta: sar.TypeMeta,
			Status:   sar.Status,
		})
	})
}

// notLoaded is the answer to a request made with a certificate before the inventory is
// loaded.
const notLoaded = "kcsr: the revocation inventory is not loaded yet; retry in a moment"

// Review decides one request: Denied when it was authenticated with a revoked
// certificate, no opinion otherwise. Until the informer has synced it cannot tell a
// revoked certificate from a good one, and denies every request made with a certificate,
// as kcsr server's authenticator refuses them: an error or a non-200 answer would not do,
// as kube-apiserver applies the webhook's failurePolicy to those, and docs/revocation.md
// configures NoOpinion (so that an unreachable kcsr does not lock everyone out).
func (p *Publisher) Review(spec authorizationv1.SubjectAccessReviewSpec) authorizationv1.SubjectAccessReviewStatus {
	for _, id := range spec.Extra[CredentialIDKey] {
		fp, ok := strings.CutPrefix(id, "X509SHA256=")
		if !ok {
			continue
		}
		if !p.synced() {
			return authorizationv1.SubjectAccessReviewStatus{Denied: true, Reason: notLoaded}
		}
		objs, err := p.indexer.ByIndex(FingerprintIndex, strings.ToLower(fp))
		if err != nil {
			// Without the inventory kcsr cannot tell; fail closed for certificates.
			return authorizationv1.SubjectAccessReviewStatus{Denied: true, Reason: "kcsr: the revocation inventory is unavailable", EvaluationError: err.Error()}
		}
		for _, obj := range objs {
			ic := obj.(*kcsrv1alpha1.IssuedCertificate)
			if r := ic.Status.Revocation; r != nil {
				return authorizationv1.SubjectAccessReviewStatus{
					Denied: true,
					Reason: "kcsr: the client certificate " + ic.Spec.SerialNumber + " was revoked (" + r.Reason + ")",
				}
			}
		}
	}
	return authorizationv1.SubjectAccessReviewStatus{}
}

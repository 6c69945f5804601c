// Package webhook is kcsr controller's revocation authorization webhook for a real
// cluster: kube-apiserver, with the webhook installed first in its
// --authorization-config, asks it about every request, and it denies those made with a
// client certificate revoked in kcsr's inventory, so revocation bites on a real cluster as
// it does at kcsr server's own login. It has no opinion on anything else and can only deny,
// never allow: a caller cannot gain anything from it.
package webhook

import (
	"encoding/json"
	"errors"
	"net/http"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apiserver/pkg/authentication/user"

	"kcsr.dev/kcsr/pkg/inventory"
)

// Path is where the webhook is served on the public listener.
const Path = "/authorize"

// Handler serves SubjectAccessReview v1 requests, answering each with Review.
func Handler(revocations *inventory.Index) http.Handler {
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
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(&authorizationv1.SubjectAccessReview{
			TypeMeta: sar.TypeMeta,
			Status:   Review(revocations, sar.Spec),
		})
	})
}

// Review decides one request: Denied when it was authenticated with a revoked
// certificate, no opinion otherwise. Until the inventory is loaded it cannot tell a
// revoked certificate from a good one, and denies every request made with a certificate,
// as kcsr server's authenticator refuses them: an error or a non-200 answer would not do,
// as kube-apiserver applies the webhook's failurePolicy to those, and docs/revocation.md
// configures NoOpinion (so that an unreachable kcsr does not lock everyone out).
func Review(revocations *inventory.Index, spec authorizationv1.SubjectAccessReviewSpec) authorizationv1.SubjectAccessReviewStatus {
	for _, id := range spec.Extra[user.CredentialIDKey] {
		fp, ok := inventory.CredentialFingerprint(id)
		if !ok {
			continue
		}
		revoked, err := revocations.Revoked(fp)
		switch {
		case errors.Is(err, inventory.ErrNotLoaded):
			return authorizationv1.SubjectAccessReviewStatus{Denied: true, Reason: "kcsr: " + err.Error()}
		case err != nil:
			// Without the inventory kcsr cannot tell; fail closed for certificates.
			return authorizationv1.SubjectAccessReviewStatus{Denied: true, Reason: "kcsr: the revocation inventory is unavailable", EvaluationError: err.Error()}
		case revoked != nil:
			return authorizationv1.SubjectAccessReviewStatus{
				Denied: true,
				Reason: "kcsr: the client certificate " + revoked.Serial + " was revoked (" + revoked.Revocation.Reason + ")",
			}
		}
	}
	return authorizationv1.SubjectAccessReviewStatus{}
}

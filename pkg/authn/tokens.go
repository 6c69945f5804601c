package authn

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	kcsrlisters "kcsr.dev/kcsr/pkg/generated/listers/kcsr/v1alpha1"
)

// TokenAuthenticator authenticates bootstrap and join tokens against their stored SHA-256.
// As Kubernetes' bootstrap authenticator, it never returns an error for a bad token: the
// token simply does not authenticate (and the reason is logged at V(3)).
type TokenAuthenticator struct {
	Bootstrap kcsrlisters.BootstrapTokenLister
	Join      kcsrlisters.JoinTokenLister
	Clock     clock.PassiveClock
}

var _ authenticator.Token = &TokenAuthenticator{}

// AuthenticateToken implements authenticator.Token.
func (a *TokenAuthenticator) AuthenticateToken(_ context.Context, token string) (*authenticator.Response, bool, error) {
	m := kcsrv1alpha1.TokenRE.FindStringSubmatch(token)
	if m == nil {
		return nil, false, nil
	}
	id, secret := m[1], m[2]
	sum := sha256.Sum256([]byte(secret))
	now := a.Clock.Now()

	if bt, err := a.Bootstrap.Get(id); err == nil {
		switch {
		case bt.DeletionTimestamp != nil:
			klog.V(3).InfoS("bootstrap token is being deleted", "id", id)
		case !hashEqual(bt.Spec.SecretSHA256, sum[:]):
			klog.V(3).InfoS("bootstrap token secret does not match", "id", id)
		case !now.Before(bt.Spec.Expiration.Time):
			klog.V(3).InfoS("bootstrap token expired", "id", id, "expiration", bt.Spec.Expiration.UTC().Format(time.RFC3339))
		case !slices.Contains(bt.Spec.Usages, "authentication"):
			klog.V(3).InfoS("bootstrap token not usable for authentication", "id", id)
		default:
			return &authenticator.Response{User: &user.DefaultInfo{
				Name:   kcsrv1alpha1.BootstrapUserPrefix + id,
				Groups: append([]string{kcsrv1alpha1.BootstrapGroup}, bt.Spec.ExtraGroups...),
			}}, true, nil
		}
		return nil, false, nil
	} else if !apierrors.IsNotFound(err) {
		return nil, false, nil
	}

	if jt, err := a.Join.Get(id); err == nil {
		switch {
		case jt.DeletionTimestamp != nil:
		case !hashEqual(jt.Spec.SecretSHA256, sum[:]):
			klog.V(3).InfoS("join token secret does not match", "id", id)
		case !now.Before(jt.Spec.Expiration.Time):
			klog.V(3).InfoS("join token expired", "id", id)
		case jt.Status.UsedBy != nil && !now.Before(jt.Status.UsedBy.Time.Add(kcsrv1alpha1.JoinTokenSpentGracePeriod)):
			klog.V(3).InfoS("join token spent", "id", id, "csr", jt.Status.UsedBy.CSRName)
		default:
			// A spent token authenticates for a grace period, so its holder can collect the
			// certificate; admission refuses it another CSR, and the registry shows it only
			// its own.
			return &authenticator.Response{User: &user.DefaultInfo{
				Name:   kcsrv1alpha1.JoinUserPrefix + id,
				Groups: []string{kcsrv1alpha1.JoinGroup},
			}}, true, nil
		}
	}
	return nil, false, nil
}

func hashEqual(storedHex string, sum []byte) bool {
	stored, err := hex.DecodeString(storedHex)
	return err == nil && subtle.ConstantTimeCompare(stored, sum) == 1
}

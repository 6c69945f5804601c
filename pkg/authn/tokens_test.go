package authn

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"k8s.io/client-go/tools/cache"
	clocktesting "k8s.io/utils/clock/testing"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	kcsrlisters "kcsr.dev/kcsr/pkg/generated/listers/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/testkit"
)

func TestJoinTokenAuthentication(t *testing.T) {
	now := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	const secret = "0123456789abcdef"
	sum := sha256.Sum256([]byte(secret))
	token := func(name string, expires time.Time, spentAgo time.Duration) *kcsrv1alpha1.JoinToken {
		jt := testkit.JoinToken(name, "erin", expires, func(jt *kcsrv1alpha1.JoinToken) { jt.Spec.SecretSHA256 = hex.EncodeToString(sum[:]) })
		if spentAgo > 0 {
			testkit.SpentOn("erin", now.Add(-spentAgo))(jt)
		}
		return jt
	}
	joins := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	for _, jt := range []*kcsrv1alpha1.JoinToken{
		token("unused", now.Add(time.Hour), 0),
		token("justsp", now.Add(time.Hour), time.Minute),
		token("longsp", now.Add(time.Hour), kcsrv1alpha1.JoinTokenSpentGracePeriod),
		token("expird", now, 0),
	} {
		if err := joins.Add(jt); err != nil {
			t.Fatal(err)
		}
	}
	a := &TokenAuthenticator{
		Bootstrap: kcsrlisters.NewBootstrapTokenLister(cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})),
		Join:      kcsrlisters.NewJoinTokenLister(joins),
		Clock:     clocktesting.NewFakePassiveClock(now),
	}
	cases := []struct {
		token, wantUser string
	}{
		{"unused." + secret, "system:join:unused"},
		{"justsp." + secret, "system:join:justsp"}, // spent a minute ago: may still collect
		{"longsp." + secret, ""},                   // spent a grace period ago
		{"expird." + secret, ""},
		{"unused.fedcba9876543210", ""}, // wrong secret
		{"nosuch." + secret, ""},
	}
	for _, tc := range cases {
		resp, ok, err := a.AuthenticateToken(context.Background(), tc.token)
		if err != nil {
			t.Fatalf("%s: %v", tc.token, err)
		}
		got := ""
		if ok {
			got = resp.User.GetName()
		}
		if got != tc.wantUser {
			t.Errorf("%s authenticates as %q, want %q", tc.token, got, tc.wantUser)
		}
	}
}

package admin

import "testing"

// TestTokenIdentityEscapes: kcsr token list shows a token's subject escaped.
func TestTokenIdentityEscapes(t *testing.T) {
	for _, tc := range []struct {
		user   string
		groups []string
		want   string
	}{
		{"erin", []string{"dev", "ops"}, "CN=erin O=dev,ops"},
		{"erin\x1b[31m", []string{"dev", "ops\nroot"}, `CN="erin\x1b[31m" O=dev,"ops\nroot"`},
	} {
		if got := describeIdentity(tc.user, tc.groups); got != tc.want {
			t.Errorf("describeIdentity(%q, %q) = %s, want %s", tc.user, tc.groups, got, tc.want)
		}
	}
}

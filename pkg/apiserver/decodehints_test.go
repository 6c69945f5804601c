package apiserver

import (
	"strings"
	"testing"
)

func TestBase64Hint(t *testing.T) {
	cases := []struct {
		name string
		body string
		want []string // substrings; empty means no hint
	}{
		{"folded lines", `{"spec":{"request":"LS0tLS1CRUdJTi BDRVJU"}}`, []string{"spec.request: Invalid value:", "spaces or line breaks", "base64 -w0"}},
		{"raw pem", `{"spec":{"request":"-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n"}}`, []string{"spec.request", "raw PEM"}},
		{"bad certificate", `{"status":{"certificate":"@@@@"}}`, []string{"status.certificate", "standard base64"}},
		{"yaml body", "spec:\n  request: abc def\n", []string{"spec.request", "spaces"}},
		{"valid", `{"spec":{"request":"aGVsbG8="}}`, nil},
		{"not a document", `[`, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := base64Hint([]byte(tc.body))
			if len(tc.want) == 0 {
				if got != "" {
					t.Fatalf("hint = %q, want none", got)
				}
				return
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("hint %q lacks %q", got, w)
				}
			}
		})
	}
}

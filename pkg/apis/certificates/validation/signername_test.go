package validation

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

const (
	labelRegexError     = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
	subdomainRegexError = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)

func TestValidateSignerName(t *testing.T) {
	label63 := strings.Repeat("a", 63)
	domain253 := strings.Join([]string{label63, label63, label63, strings.Repeat("a", 61)}, ".")
	path318 := strings.Repeat("b", 253) + "." + strings.Repeat("c", 64)

	cases := []struct {
		name       string
		signerName string
		want       []string
	}{
		{name: "simple", signerName: "example.com/signer"},
		{name: "built-in", signerName: "kubernetes.io/kube-apiserver-client-kubelet"},
		{name: "namespace and name", signerName: "example.com/my-namespace.my-signer"},
		{name: "longest", signerName: domain253 + "/" + strings.Repeat("b", 253) + "." + strings.Repeat("c", 63)},
		{name: "empty", signerName: "", want: []string{"x: Required value"}},
		{name: "no slash", signerName: "example.com", want: []string{`x: Invalid value: "example.com": must be a fully qualified domain and path of the form 'example.com/signer-name'`}},
		{name: "two slashes", signerName: "example.com/a/b", want: []string{`x: Invalid value: "example.com/a/b": must be a fully qualified domain and path of the form 'example.com/signer-name'`}},
		{name: "single-label domain", signerName: "example/signer", want: []string{`x: Invalid value: "example": should be a domain with at least two segments separated by dots`}},
		{
			name:       "bad domain label, only the first reported",
			signerName: "Example.COM/signer",
			want:       []string{`x: Invalid value: "Example.COM": validating label "Example": ` + labelRegexError},
		},
		{
			name:       "empty domain",
			signerName: "/signer",
			want: []string{
				`x: Invalid value: "": validating label "": ` + labelRegexError,
				`x: Invalid value: "": should be a domain with at least two segments separated by dots`,
			},
		},
		{
			name:       "domain label too long",
			signerName: strings.Repeat("a", 64) + ".com/signer",
			want:       []string{`x: Invalid value: "` + strings.Repeat("a", 64) + `.com": validating label "` + strings.Repeat("a", 64) + `": must be no more than 63 characters`},
		},
		{
			name:       "domain too long",
			signerName: domain253 + "a.b/signer",
			want:       []string{"x: Too long: may not be more than 253 bytes"},
		},
		{
			name:       "bad path piece",
			signerName: "example.com/ns.Signer",
			want:       []string{`x: Invalid value: "ns.Signer": validating label "Signer": ` + subdomainRegexError},
		},
		{
			name:       "empty path",
			signerName: "example.com/",
			want:       []string{`x: Invalid value: "": validating label "": ` + subdomainRegexError},
		},
		{
			name:       "path piece too long",
			signerName: "example.com/" + strings.Repeat("b", 254),
			want:       []string{`x: Invalid value: "` + strings.Repeat("b", 254) + `": validating label "` + strings.Repeat("b", 254) + `": must be no more than 253 characters`},
		},
		{
			name:       "too long",
			signerName: domain253 + "/" + path318,
			want:       []string{"x: Too long: may not be more than 571 bytes"},
		},
		{
			name:       "every problem at once",
			signerName: "-" + domain253 + "/" + path318 + ".-",
			want: []string{
				"x: Too long: may not be more than 253 bytes",
				`x: Invalid value: "-` + domain253 + `": validating label "-` + label63 + `": must be no more than 63 characters`,
				`x: Invalid value: "-` + domain253 + `": validating label "-` + label63 + `": ` + labelRegexError,
				`x: Invalid value: "` + path318 + `.-": validating label "-": ` + subdomainRegexError,
				"x: Too long: may not be more than 571 bytes",
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := ValidateSignerName(field.NewPath("x"), tc.signerName)
			if diff := cmp.Diff(tc.want, errorStrings(got)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

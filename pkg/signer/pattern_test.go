package signer

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func TestGlob(t *testing.T) {
	cases := []struct {
		pattern, s string
		want       bool
	}{
		{"", "", true},
		{"", "a", false},
		{"*", "", true},
		{"*", "anything: at all.", true},
		{"a*", "a", true},
		{"a*b", "axxb", true},
		{"a*b", "axxbc", false},
		{"a*b*c", "abxbxc", true},
		{"a*b*c", "acb", false},
		{"**", "x", true},
		{"?", "", false},
		{"?", "ü", true},
		{"?", "ab", false},
		{"a?c", "abc", true},
		{"*?", "", false},
		{"[ab]", "a", false},
		{"[ab]", "[ab]", true},
		{`\*`, "*", false},
		{"system:node:*", "system:node:a.b.c", true},
	}
	for _, tc := range cases {
		if got := glob(tc.pattern, tc.s); got != tc.want {
			t.Errorf("glob(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}

func TestDNSLabels(t *testing.T) {
	cases := []struct {
		name        string
		wantLabels  []string
		wantProblem string
	}{
		{name: "Kubernetes.Default.SVC", wantLabels: []string{"kubernetes", "default", "svc"}},
		{name: "bücher.example", wantLabels: []string{"xn--bcher-kva", "example"}},
		{name: "XN--BCHER-KVA.example", wantLabels: []string{"xn--bcher-kva", "example"}},
		{name: "_sip._tcp.example.com", wantLabels: []string{"_sip", "_tcp", "example", "com"}},
		{name: "*.example.com", wantLabels: []string{"*", "example", "com"}},
		{name: "", wantProblem: "it is empty"},
		{name: "a.", wantProblem: "it ends with a dot; use the name without it"},
		{name: ".", wantProblem: "it ends with a dot; use the name without it"},
		{name: "a..b", wantProblem: "it has an empty label (two dots in a row, or a leading dot)"},
		{name: "a b", wantProblem: `label "a b" holds ' '; a DNS name has letters, digits, '-' and '_'`},
		{name: "a?.b", wantProblem: `label "a?" holds '?'; a DNS name has letters, digits, '-' and '_'`},
		{name: strings.Repeat("a", 64) + ".b", wantProblem: `label "` + strings.Repeat("a", 64) + `" is 64 characters long; a label has at most 63`},
		{name: strings.Repeat("abcdefgh.", 28) + "ab", wantProblem: "it is 254 characters long; a DNS name has at most 253"},
	}
	for _, tc := range cases {
		labels, problem := dnsLabels(tc.name)
		if diff := cmp.Diff(tc.wantLabels, labels); diff != "" {
			t.Errorf("dnsLabels(%q) labels (-want +got):\n%s", tc.name, diff)
		}
		if problem != tc.wantProblem {
			t.Errorf("dnsLabels(%q) problem = %q, want %q", tc.name, problem, tc.wantProblem)
		}
	}
}

// FuzzGlob checks glob against the same pattern as an anchored regular expression.
func FuzzGlob(f *testing.F) {
	for _, seed := range [][2]string{{"*.svc", "a.svc"}, {"a*b*c", "abxbxc"}, {"?ü*", "xü"}, {"*?*?*", "ab"}, {"", ""}} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, pattern, s string) {
		if !utf8.ValidString(pattern) || !utf8.ValidString(s) {
			return
		}
		var re strings.Builder
		re.WriteString(`^(?s:`)
		for _, r := range pattern {
			switch r {
			case '*':
				re.WriteString(".*")
			case '?':
				re.WriteString(".")
			default:
				re.WriteString(regexp.QuoteMeta(string(r)))
			}
		}
		re.WriteString(`)$`)
		if want := regexp.MustCompile(re.String()).MatchString(s); glob(pattern, s) != want {
			t.Fatalf("glob(%q, %q) = %v, want %v", pattern, s, !want, want)
		}
	})
}

// FuzzDNSLabels: a name is either refused with a reason or turned into lower-case ASCII
// labels that a pattern of the same text matches.
func FuzzDNSLabels(f *testing.F) {
	for _, seed := range []string{"kubernetes.default.svc", "bücher.example", "a..b", "x.svc.", "*.svc", "_a._b"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, name string) {
		labels, problem := dnsLabels(name)
		if problem != "" {
			if labels != nil {
				t.Fatalf("labels %q with problem %q", labels, problem)
			}
			return
		}
		for _, l := range labels {
			if l == "" || l != strings.ToLower(l) || !isASCII(l) {
				t.Fatalf("dnsLabels(%q) = %q", name, labels)
			}
		}
		if !strings.Contains(name, "*") && !matchDNSName([]string{name}, labels) {
			t.Fatalf("%q does not match itself", name)
		}
	})
}

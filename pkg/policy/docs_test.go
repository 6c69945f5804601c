package policy

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestDocumentedPolicies: every policy in docs/policies.md compiles, so that an example a
// policy author copies works.
func TestDocumentedPolicies(t *testing.T) {
	doc, err := os.ReadFile("../../docs/policies.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(doc), -1)
	n := 0
	for _, block := range blocks {
		for _, part := range strings.Split(block[1], "\n---\n") {
			var obj struct {
				APIVersion string         `json:"apiVersion"`
				Kind       string         `json:"kind"`
				Metadata   map[string]any `json:"metadata"`
				Spec       PolicySpec     `json:"spec"`
			}
			if err := yaml.UnmarshalStrict([]byte(part), &obj); err != nil {
				t.Errorf("a policy in docs/policies.md does not parse: %v\n%s", err, part)
				continue
			}
			if _, err := Compile("docs", obj.Spec); err != nil {
				t.Errorf("a policy in docs/policies.md does not compile: %v\n%s", err, part)
			}
			n++
		}
	}
	if n < 3 {
		t.Errorf("found %d policies in docs/policies.md; want its three examples", n)
	}
}

package crd

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestDefinitionsAreStructural checks what apiextensions-apiserver requires of a v1 CRD
// schema (the e2e test against a real kube-apiserver is the final word): no $ref, a type on
// every node, metadata left to the server, and the fields kcsr's code reads present.
func TestDefinitionsAreStructural(t *testing.T) {
	for _, r := range []Resource{IssuedCertificates, ApprovalPolicies} {
		t.Run(r.Kind, func(t *testing.T) {
			def, err := Definition(r)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := def.GetName(), r.Plural+".kcsr.dev"; got != want {
				t.Errorf("name = %q, want %q", got, want)
			}
			versions, _, _ := unstructured.NestedSlice(def.Object, "spec", "versions")
			if len(versions) != 1 {
				t.Fatalf("versions = %v", versions)
			}
			v := versions[0].(map[string]any)
			root, _, _ := unstructured.NestedMap(v, "schema", "openAPIV3Schema")
			walk(t, "", root)
			if meta, _, _ := unstructured.NestedMap(root, "properties", "metadata"); len(meta) != 1 || meta["type"] != "object" {
				t.Errorf("metadata schema = %v, want just type: object", meta)
			}
			if _, hasStatus, _ := unstructured.NestedMap(v, "subresources", "status"); hasStatus != r.Status {
				t.Errorf("status subresource = %v, want %v", hasStatus, r.Status)
			}
		})
	}
	def, _ := Definition(IssuedCertificates)
	for _, path := range [][]string{
		{"spec", "serialNumber"}, {"spec", "certificate"}, {"spec", "notAfter"}, {"spec", "requester", "groups"}, {"status", "revocation", "reason"},
	} {
		versions, _, _ := unstructured.NestedSlice(def.Object, "spec", "versions")
		node, _, _ := unstructured.NestedMap(versions[0].(map[string]any), "schema", "openAPIV3Schema")
		for _, p := range path {
			next, ok, _ := unstructured.NestedMap(node, "properties", p)
			if !ok {
				t.Fatalf("IssuedCertificate schema lacks %s", strings.Join(path, "."))
			}
			node = next
		}
	}
}

func walk(t *testing.T, path string, node map[string]any) {
	t.Helper()
	for _, forbidden := range []string{"$ref", "allOf", "default", "x-kubernetes-patch-strategy"} {
		if _, ok := node[forbidden]; ok {
			t.Errorf("%s: has %s", path, forbidden)
		}
	}
	if _, ok := node["type"]; !ok && node["x-kubernetes-int-or-string"] == nil && node["x-kubernetes-preserve-unknown-fields"] == nil {
		t.Errorf("%s: no type", path)
	}
	props, _ := node["properties"].(map[string]any)
	for name, p := range props {
		walk(t, path+"."+name, p.(map[string]any))
	}
	if items, ok := node["items"].(map[string]any); ok {
		walk(t, path+"[]", items)
	}
	if ap, ok := node["additionalProperties"].(map[string]any); ok {
		walk(t, path+"{}", ap)
	}
}

// Package crd describes kcsr's own resources as CustomResourceDefinitions, so that `kcsr
// controller` can keep the issued-certificate inventory and the approval policies in a real
// Kubernetes cluster, where kcsr server's registry does not run.
//
// The schemas are not written by hand: they are derived from the same generated OpenAPI
// definitions kcsr server publishes (pkg/generated/openapi), with references inlined and
// the fields a structural CRD schema may not carry dropped. So a field added to
// pkg/apis/kcsr/v1alpha1 reaches both servers through `hack/update-codegen.sh`.
package crd

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/kube-openapi/pkg/common"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"sigs.k8s.io/yaml"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/generated/openapi"
)

// GVR is the resource of CustomResourceDefinitions.
var GVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// Resource is one of kcsr's resources as a CRD.
type Resource struct {
	Kind, ListKind, Plural, Singular string
	ShortNames                       []string
	Status                           bool // has a status subresource
	// Columns are the `kubectl get` columns (JSONPath into the object).
	Columns []Column
	// SelectableFields can be used as field selectors, as on kcsr server.
	SelectableFields []string
}

// Column is an additional printer column.
type Column struct {
	Name, Type, JSONPath, Description string
	Priority                          int
}

// IssuedCertificates is the inventory; ApprovalPolicies the approver's policies.
var (
	IssuedCertificates = Resource{
		Kind: "IssuedCertificate", ListKind: "IssuedCertificateList", Plural: "issuedcertificates", Singular: "issuedcertificate",
		Status: true,
		Columns: []Column{
			{Name: "Serial", Type: "string", JSONPath: ".spec.serialNumber", Description: "Serial number (hex)."},
			{Name: "CommonName", Type: "string", JSONPath: ".spec.commonName", Description: "Subject common name (the user)."},
			{Name: "Signer", Type: "string", JSONPath: ".spec.signerName", Description: "Signer name."},
			{Name: "NotAfter", Type: "date", JSONPath: ".spec.notAfter", Description: "End of validity."},
			{Name: "Revoked", Type: "string", JSONPath: ".status.revocation.reason", Description: "Revocation reason, if revoked."},
			{Name: "CSR", Type: "string", JSONPath: ".spec.csrName", Priority: 1, Description: "The CSR answered."},
		},
		SelectableFields: []string{".spec.serialNumber", ".spec.signerName", ".spec.csrName"},
	}
	ApprovalPolicies = Resource{
		Kind: "ApprovalPolicy", ListKind: "ApprovalPolicyList", Plural: "approvalpolicies", Singular: "approvalpolicy",
		Columns: []Column{
			{Name: "Action", Type: "string", JSONPath: ".spec.action"},
			{Name: "OnFailure", Type: "string", JSONPath: ".spec.onFailure"},
		},
	}
)

// Definition returns r as an apiextensions.k8s.io/v1 CustomResourceDefinition.
func Definition(r Resource) (*unstructured.Unstructured, error) {
	defs := openapi.GetOpenAPIDefinitions(func(path string) spec.Ref { return spec.MustCreateRef(path) })
	typeName := "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1." + r.Kind
	if _, ok := defs[typeName]; !ok {
		return nil, fmt.Errorf("no OpenAPI definition for %s", typeName)
	}
	root, err := inline(defs, typeName, 0)
	if err != nil {
		return nil, err
	}
	props, _ := root["properties"].(map[string]any)
	if props != nil {
		// The API server owns metadata's schema in a CRD.
		props["metadata"] = map[string]any{"type": "object"}
	}
	version := map[string]any{
		"name": kcsrv1alpha1.SchemeGroupVersion.Version, "served": true, "storage": true,
		"schema": map[string]any{"openAPIV3Schema": root},
	}
	if r.Status {
		version["subresources"] = map[string]any{"status": map[string]any{}}
	}
	var columns []any
	for _, c := range r.Columns {
		col := map[string]any{"name": c.Name, "type": c.Type, "jsonPath": c.JSONPath}
		if c.Description != "" {
			col["description"] = c.Description
		}
		if c.Priority != 0 {
			col["priority"] = int64(c.Priority)
		}
		columns = append(columns, col)
	}
	columns = append(columns, map[string]any{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"})
	version["additionalPrinterColumns"] = columns
	var selectable []any
	for _, f := range r.SelectableFields {
		selectable = append(selectable, map[string]any{"jsonPath": f})
	}
	if selectable != nil {
		version["selectableFields"] = selectable
	}
	names := map[string]any{"kind": r.Kind, "listKind": r.ListKind, "plural": r.Plural, "singular": r.Singular, "categories": []any{"kcsr"}}
	if len(r.ShortNames) > 0 {
		names["shortNames"] = toAny(r.ShortNames)
	}
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1",
		"kind":       "CustomResourceDefinition",
		"metadata": map[string]any{
			"name":   r.Plural + "." + kcsrv1alpha1.GroupName,
			"labels": map[string]any{"app.kubernetes.io/managed-by": "kcsr"},
		},
		"spec": map[string]any{
			"group":    kcsrv1alpha1.GroupName,
			"scope":    "Cluster",
			"names":    names,
			"versions": []any{version},
		},
	}}
	return obj, nil
}

// inline returns the schema of typeName as plain JSON values, with every $ref replaced by
// the schema it names, and the OpenAPI extensions a CRD schema does not accept removed.
func inline(defs map[string]common.OpenAPIDefinition, typeName string, depth int) (map[string]any, error) {
	if depth > 20 {
		return nil, fmt.Errorf("%s: schema nests too deep (a recursive type cannot be a CRD schema)", typeName)
	}
	def, ok := defs[typeName]
	if !ok {
		return nil, fmt.Errorf("no OpenAPI definition for %s", typeName)
	}
	data, err := json.Marshal(def.Schema)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	return clean(defs, m, depth)
}

func clean(defs map[string]common.OpenAPIDefinition, m map[string]any, depth int) (map[string]any, error) {
	// allOf: [{$ref}] is how the generator attaches a default to a referenced type.
	if all, ok := m["allOf"].([]any); ok && len(all) == 1 {
		if one, ok := all[0].(map[string]any); ok {
			if _, ok := one["$ref"]; ok {
				delete(m, "allOf")
				m["$ref"] = one["$ref"]
			}
		}
	}
	if ref, ok := m["$ref"].(string); ok {
		desc, _ := m["description"].(string)
		target, err := inline(defs, strings.TrimPrefix(ref, "#/definitions/"), depth+1)
		if err != nil {
			return nil, err
		}
		if desc != "" {
			target["description"] = desc
		}
		return target, nil
	}
	for k := range m {
		switch {
		case k == "default", k == "x-kubernetes-patch-strategy", k == "x-kubernetes-patch-merge-key", k == "x-kubernetes-group-version-kind", k == "x-kubernetes-unions":
			delete(m, k)
		}
	}
	if props, ok := m["properties"].(map[string]any); ok {
		for name, p := range props {
			pm, ok := p.(map[string]any)
			if !ok {
				continue
			}
			c, err := clean(defs, pm, depth)
			if err != nil {
				return nil, err
			}
			props[name] = c
		}
	}
	for _, key := range []string{"items", "additionalProperties"} {
		if sub, ok := m[key].(map[string]any); ok {
			if s, ok := sub["Schema"].(map[string]any); ok { // spec.SchemaOrArray / SchemaOrBool shapes
				sub = s
			}
			c, err := clean(defs, sub, depth)
			if err != nil {
				return nil, err
			}
			m[key] = c
		}
	}
	return m, nil
}

// YAML renders the definitions as one multi-document YAML stream, for operators who apply
// them themselves (`kcsr controller crds | kubectl apply -f -`).
func YAML(resources ...Resource) ([]byte, error) {
	var out []byte
	for i, r := range resources {
		def, err := Definition(r)
		if err != nil {
			return nil, err
		}
		data, err := yaml.Marshal(def.Object)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			out = append(out, "---\n"...)
		}
		out = append(out, data...)
	}
	return out, nil
}

// Install creates or updates (server-side apply) the CRDs of resources and waits until each is Established.
func Install(ctx context.Context, client dynamic.Interface, resources ...Resource) error {
	crds := client.Resource(GVR)
	for _, r := range resources {
		def, err := Definition(r)
		if err != nil {
			return err
		}
		// Server-side apply: idempotent, and replicas starting together do not conflict.
		if _, err := crds.Apply(ctx, def.GetName(), def, metav1.ApplyOptions{FieldManager: "kcsr", Force: true}); err != nil {
			return fmt.Errorf("apply CustomResourceDefinition %s: %w", def.GetName(), err)
		}
		if err := waitEstablished(ctx, crds, def.GetName()); err != nil {
			return err
		}
	}
	return nil
}

func waitEstablished(ctx context.Context, crds dynamic.NamespaceableResourceInterface, name string) error {
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		obj, err := crds.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
		for _, c := range conds {
			cm, _ := c.(map[string]any)
			if cm["type"] == "Established" && cm["status"] == "True" {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("CustomResourceDefinition %s not established: %w", name, err)
	}
	return nil
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

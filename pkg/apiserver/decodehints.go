package apiserver

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"
)

// byteFields are the base64 ([]byte) fields of the served types, by JSON path.
var byteFields = [][]string{
	{"spec", "request"},
	{"status", "certificate"},
}

// hintingSerializer wraps a NegotiatedSerializer so that a request body whose base64 field
// does not decode is refused with an error that names the field and says how to fix it.
// Kubernetes answers "illegal base64 data at input byte 76", which names neither the field
// nor the cause (a wrapped base64 value folded into spaces by YAML: the seed's classic
// mistake). The request is refused with 400 either way; only the message differs.
type hintingSerializer struct {
	runtime.NegotiatedSerializer
}

// SupportedMediaTypes returns the wrapped media types with hinting decoders.
func (h hintingSerializer) SupportedMediaTypes() []runtime.SerializerInfo {
	infos := h.NegotiatedSerializer.SupportedMediaTypes()
	out := make([]runtime.SerializerInfo, len(infos))
	for i, info := range infos {
		out[i] = info
		if info.Serializer != nil {
			out[i].Serializer = hintingDecoder{info.Serializer}
		}
		if info.StrictSerializer != nil {
			out[i].StrictSerializer = hintingDecoder{info.StrictSerializer}
		}
	}
	return out
}

type hintingDecoder struct{ runtime.Serializer }

func (d hintingDecoder) Decode(data []byte, gvk *schema.GroupVersionKind, into runtime.Object) (runtime.Object, *schema.GroupVersionKind, error) {
	obj, kind, err := d.Serializer.Decode(data, gvk, into)
	var corrupt base64.CorruptInputError
	if err != nil && errors.As(err, &corrupt) {
		if hint := base64Hint(data); hint != "" {
			err = errors.New(hint)
		}
	}
	return obj, kind, err
}

// base64Hint finds the first byte field of the document that is not valid base64 and
// explains it; "" when none is found (the error is then left as it was).
func base64Hint(data []byte) string {
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		if err := yaml.Unmarshal(data, &doc); err != nil {
			return ""
		}
	}
	for _, path := range byteFields {
		v, ok := lookup(doc, path)
		if !ok {
			continue
		}
		s, ok := v.(string)
		if !ok {
			continue
		}
		if _, err := base64.StdEncoding.DecodeString(s); err == nil {
			continue
		} else {
			return fmt.Sprintf("%s: Invalid value: %s; %s", strings.Join(path, "."), err, base64Advice(s))
		}
	}
	return ""
}

func base64Advice(s string) string {
	switch {
	case strings.HasPrefix(strings.TrimSpace(s), "-----BEGIN"):
		return "the value is raw PEM; it must be the PEM file encoded as base64 on one line (base64 -w0 FILE)"
	case strings.ContainsAny(s, " \n\t\r"):
		return "the value contains spaces or line breaks, as when base64 output wrapped at 76 columns is pasted into YAML; encode it on one line with base64 -w0 FILE (or base64 < FILE | tr -d '\\n')"
	default:
		return "the value must be standard base64 on one line (base64 -w0 FILE)"
	}
}

func lookup(doc map[string]any, path []string) (any, bool) {
	var cur any = doc
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[p]; !ok {
			return nil, false
		}
	}
	return cur, true
}

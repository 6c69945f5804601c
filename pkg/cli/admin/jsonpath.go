package admin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/client-go/util/jsonpath"

	"kcsr.dev/kcsr/pkg/cli"
)

// parseJSONPath parses a kubectl-style JSONPath: "{.spec.username}", or the same without
// the braces.
func parseJSONPath(expr string) (*jsonpath.JSONPath, error) {
	if !strings.Contains(expr, "{") {
		expr = "{" + expr + "}"
	}
	j := jsonpath.New("kcsr").AllowMissingKeys(true)
	if err := j.Parse(expr); err != nil {
		return nil, err
	}
	return j, nil
}

// generic is v as JSON sees it (maps, slices, strings, numbers), for JSONPath, with every
// string escaped (cli.Printable): a template prints what the server stored, and a name or
// a message holding a control character must not reach the terminal as one. The
// template's own text ({"\n"}) is not touched.
func generic(v any) (any, error) {
	out, err := unescaped(v)
	if err != nil {
		return nil, err
	}
	return escapeStrings(out), nil
}

// unescaped is v as JSON sees it, its strings as stored: to sort by, not to print.
func unescaped(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	return out, json.Unmarshal(b, &out)
}

func escapeStrings(v any) any {
	switch x := v.(type) {
	case string:
		return cli.Printable(x)
	case map[string]any:
		for k, e := range x {
			x[k] = escapeStrings(e)
		}
	case []any:
		for i, e := range x {
			x[i] = escapeStrings(e)
		}
	}
	return v
}

// printJSONPath prints -o jsonpath=TEMPLATE over v, as kubectl does.
func printJSONPath(out io.Writer, template string, v any) error {
	j := jsonpath.New("kcsr").AllowMissingKeys(true)
	if err := j.Parse(template); err != nil {
		return fmt.Errorf("-o jsonpath=%s: %w", template, err)
	}
	data, err := generic(v)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := j.Execute(&b, data); err != nil {
		return fmt.Errorf("-o jsonpath=%s: %w", template, err)
	}
	_, err = out.Write(b.Bytes())
	return err
}

// column is one column of -o custom-columns.
type column struct {
	header string
	path   *jsonpath.JSONPath
}

// parseColumns parses HEADER:.path,HEADER2:.path2.
func parseColumns(spec string) ([]column, error) {
	var cols []column
	for _, part := range strings.Split(spec, ",") {
		header, expr, ok := strings.Cut(part, ":")
		if !ok || header == "" || expr == "" {
			return nil, fmt.Errorf("-o custom-columns=%s: %q is not HEADER:.path (e.g. NAME:.metadata.name)", spec, part)
		}
		j, err := parseJSONPath(expr)
		if err != nil {
			return nil, fmt.Errorf("-o custom-columns=%s: %s: %w", spec, header, err)
		}
		cols = append(cols, column{header: header, path: j})
	}
	return cols, nil
}

// printColumns prints -o custom-columns=SPEC: one row per CSR, "<none>" for a path that
// finds nothing, several results joined with commas.
func (p *csrPrinter) printColumns(items []certificatesv1.CertificateSigningRequest) error {
	cols, err := parseColumns(p.template)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(p.out, 0, 4, 3, ' ', 0)
	if !p.noHeaders && !p.headed {
		headers := make([]string, len(cols))
		for i, c := range cols {
			headers[i] = c.header
		}
		fmt.Fprintln(w, strings.Join(headers, "\t"))
		p.headed = true
	}
	for i := range items {
		data, err := generic(&items[i])
		if err != nil {
			return err
		}
		row := make([]string, len(cols))
		for j, c := range cols {
			row[j] = "<none>"
			if vals := values(c.path, data); len(vals) > 0 {
				row[j] = strings.Join(vals, ",")
			}
		}
		fmt.Fprintln(w, strings.Join(row, "\t"))
	}
	return w.Flush()
}

// values are what j finds in data, as text.
func values(j *jsonpath.JSONPath, data any) []string {
	results, err := j.FindResults(data)
	if err != nil {
		return nil
	}
	var out []string
	for _, rs := range results {
		for _, r := range rs {
			if !r.IsValid() || (r.Kind() == reflect.Interface || r.Kind() == reflect.Pointer) && r.IsNil() {
				continue
			}
			switch v := r.Interface().(type) {
			case string:
				out = append(out, v)
			default:
				b, err := json.Marshal(v)
				if err != nil {
					continue
				}
				out = append(out, string(b))
			}
		}
	}
	return out
}

// sortBy sorts items by what the JSONPath expr finds in each: as numbers when both are,
// as text otherwise (RFC 3339 times sort as text); a CSR where it finds nothing first.
func sortBy(items []certificatesv1.CertificateSigningRequest, expr string) error {
	j, err := parseJSONPath(expr)
	if err != nil {
		return fmt.Errorf("--sort-by %q: %w", expr, err)
	}
	keys := make([]string, len(items))
	for i := range items {
		data, err := unescaped(&items[i])
		if err != nil {
			return err
		}
		keys[i] = strings.Join(values(j, data), ",")
	}
	idx := make([]int, len(items))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		ka, kb := keys[idx[a]], keys[idx[b]]
		fa, errA := strconv.ParseFloat(ka, 64)
		fb, errB := strconv.ParseFloat(kb, 64)
		if errA == nil && errB == nil {
			return fa < fb
		}
		return ka < kb
	})
	sorted := make([]certificatesv1.CertificateSigningRequest, len(items))
	for i, k := range idx {
		sorted[i] = items[k]
	}
	copy(items, sorted)
	return nil
}

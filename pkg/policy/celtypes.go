package policy

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
)

// CEL sees Request as the object type kcsr.Request, with kcsr.Subject, kcsr.Key and
// kcsr.Requester inside it, whose fields are Request's JSON names. The type checker thus
// knows every field and its type, and rejects `request.subject.commonNme` or
// `request.key.size == '2048'` with a position. At evaluation, a request is converted
// once into CEL values (celObject), so that reading a field is an index, not reflection.
//
// The schema is derived from the Go structs, so that it cannot drift from them.

// celTypePrefix is the CEL namespace of the request types.
const celTypePrefix = "kcsr."

// objectSchema is a Go struct seen as a CEL object type.
type objectSchema struct {
	typ    *types.Type
	names  []string                    // CEL field names, in Go field order
	index  map[string]int              // field index by CEL name
	fields map[string]*types.FieldType // by CEL name
}

// requestSchemas are the object types of Request and the structs inside it, by CEL name.
type requestSchemas map[string]*objectSchema

// newRequestSchemas derives the CEL object types from Request.
func newRequestSchemas() (requestSchemas, error) {
	schemas := requestSchemas{}
	if _, err := schemas.add(reflect.TypeFor[Request]()); err != nil {
		return nil, err
	}
	return schemas, nil
}

// add declares struct type t, and the structs it holds, returning its CEL type.
func (s requestSchemas) add(t reflect.Type) (*types.Type, error) {
	name := celTypePrefix + t.Name()
	if schema, ok := s[name]; ok {
		return schema.typ, nil
	}
	schema := &objectSchema{typ: types.NewObjectType(name), index: map[string]int{}, fields: map[string]*types.FieldType{}}
	s[name] = schema
	for i := range t.NumField() {
		f := t.Field(i)
		fieldName, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if fieldName == "" || fieldName == "-" {
			return nil, fmt.Errorf("%s.%s has no JSON name for CEL", t.Name(), f.Name)
		}
		celType, err := s.celType(f.Type)
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %w", t.Name(), f.Name, err)
		}
		schema.names = append(schema.names, fieldName)
		schema.index[fieldName] = i
		schema.fields[fieldName] = &types.FieldType{
			Type: celType,
			IsSet: func(obj any) bool {
				o, ok := obj.(*celObject)
				return ok && o.IsSet(types.String(fieldName)) == types.True
			},
			GetFrom: func(obj any) (any, error) {
				o, ok := obj.(*celObject)
				if !ok {
					return nil, fmt.Errorf("field %q of %T, not of a %s", fieldName, obj, name)
				}
				return o.fields[i], nil
			},
		}
	}
	return schema.typ, nil
}

// celType maps the Go types Request uses to CEL types.
func (s requestSchemas) celType(t reflect.Type) (*types.Type, error) {
	switch {
	case t.Kind() == reflect.String:
		return types.StringType, nil
	case t.Kind() == reflect.Int64:
		return types.IntType, nil
	case t == reflect.TypeFor[[]string]():
		return types.NewListType(types.StringType), nil
	case t == reflect.TypeFor[map[string][]string]():
		return types.NewMapType(types.StringType, types.NewListType(types.StringType)), nil
	case t.Kind() == reflect.Struct:
		return s.add(t)
	default:
		return nil, fmt.Errorf("no CEL type for %s", t)
	}
}

// toCEL converts struct value v (a Request or a struct inside it) to a CEL object.
func (s requestSchemas) toCEL(v reflect.Value) ref.Val {
	schema := s[celTypePrefix+v.Type().Name()]
	o := &celObject{schema: schema, fields: make([]ref.Val, v.NumField())}
	for i := range v.NumField() {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.String:
			o.fields[i] = types.String(f.String())
		case reflect.Int64:
			o.fields[i] = types.Int(f.Int())
		case reflect.Slice:
			o.fields[i] = types.NewStringList(types.DefaultTypeAdapter, f.Interface().([]string))
		case reflect.Map:
			m := make(map[ref.Val]ref.Val, f.Len())
			for k, vs := range f.Interface().(map[string][]string) {
				m[types.String(k)] = types.NewStringList(types.DefaultTypeAdapter, vs)
			}
			o.fields[i] = types.NewRefValMap(types.DefaultTypeAdapter, m)
		case reflect.Struct:
			o.fields[i] = s.toCEL(f)
		}
	}
	return o
}

// celObject is a request, or a struct inside it, as a CEL value.
type celObject struct {
	schema *objectSchema
	fields []ref.Val
}

// ConvertToNative is not supported: policies only read requests.
func (o *celObject) ConvertToNative(t reflect.Type) (any, error) {
	return nil, fmt.Errorf("%s cannot be converted to %s", o.schema.typ.TypeName(), t)
}

// ConvertToType supports only type(request…).
func (o *celObject) ConvertToType(t ref.Type) ref.Val {
	switch t {
	case types.TypeType:
		return o.schema.typ
	case o.schema.typ:
		return o
	}
	return types.NewErr("type conversion error from %s to %s", o.schema.typ.TypeName(), t.TypeName())
}

// Equal compares field by field.
func (o *celObject) Equal(other ref.Val) ref.Val {
	p, ok := other.(*celObject)
	if !ok || p.schema != o.schema {
		return types.False
	}
	for i := range o.fields {
		if o.fields[i].Equal(p.fields[i]) != types.True {
			return types.False
		}
	}
	return types.True
}

func (o *celObject) Type() ref.Type { return o.schema.typ }

// Get reads a field by name, for dynamic and optional access (request.?subject).
func (o *celObject) Get(field ref.Val) ref.Val {
	i, ok := o.fieldIndex(field)
	if !ok {
		return types.NewErr("no such field: %v", field)
	}
	return o.fields[i]
}

// IsSet says whether a field holds a value other than its zero value, as has() does for
// proto3 scalars.
func (o *celObject) IsSet(field ref.Val) ref.Val {
	i, ok := o.fieldIndex(field)
	if !ok {
		return types.NewErr("no such field: %v", field)
	}
	z, ok := o.fields[i].(traits.Zeroer)
	return types.Bool(!ok || !z.IsZeroValue())
}

func (o *celObject) fieldIndex(field ref.Val) (int, bool) {
	name, ok := field.(types.String)
	if !ok {
		return 0, false
	}
	i, ok := o.schema.index[string(name)]
	return i, ok
}

func (o *celObject) Value() any { return o }

// requestTypes is the CEL type provider of the request types, over the environment's.
type requestTypes struct {
	types.Provider
	schemas requestSchemas
}

// withRequestTypes declares the request types. It comes after the libraries, which need
// the default provider to register their own types.
func withRequestTypes(schemas requestSchemas) cel.EnvOption {
	return func(e *cel.Env) (*cel.Env, error) {
		return cel.CustomTypeProvider(&requestTypes{Provider: e.CELTypeProvider(), schemas: schemas})(e)
	}
}

func (p *requestTypes) FindIdent(name string) (ref.Val, bool) {
	if s, ok := p.schemas[name]; ok {
		return s.typ, true
	}
	return p.Provider.FindIdent(name)
}

func (p *requestTypes) FindStructType(name string) (*types.Type, bool) {
	if s, ok := p.schemas[name]; ok {
		return types.NewTypeTypeWithParam(s.typ), true
	}
	return p.Provider.FindStructType(name)
}

func (p *requestTypes) FindStructFieldNames(name string) ([]string, bool) {
	if s, ok := p.schemas[name]; ok {
		return s.names, true
	}
	return p.Provider.FindStructFieldNames(name)
}

func (p *requestTypes) FindStructFieldType(name, field string) (*types.FieldType, bool) {
	if s, ok := p.schemas[name]; ok {
		f, ok := s.fields[field]
		return f, ok
	}
	return p.Provider.FindStructFieldType(name, field)
}

// NewValue refuses to build request objects: expressions read the request, they do not
// make new ones.
func (p *requestTypes) NewValue(name string, fields map[string]ref.Val) ref.Val {
	if _, ok := p.schemas[name]; ok {
		return types.NewErr("%s objects cannot be created in an expression", name)
	}
	return p.Provider.NewValue(name, fields)
}

// declared spells the one variable and its fields, in Go field order, nested objects in
// braces: what a policy can read, for a compile error about a name that is not there.
func (s requestSchemas) declared() string {
	var spell func(schema *objectSchema) string
	spell = func(schema *objectSchema) string {
		parts := make([]string, len(schema.names))
		for i, name := range schema.names {
			parts[i] = name
			if nested, ok := s[schema.fields[name].Type.TypeName()]; ok {
				parts[i] += "{" + spell(nested) + "}"
			}
		}
		return strings.Join(parts, ", ")
	}
	return requestVar + "{" + spell(s[celTypePrefix+"Request"]) + "}"
}

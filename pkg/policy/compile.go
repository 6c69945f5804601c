package policy

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/google/cel-go/cel"
	celast "github.com/google/cel-go/common/ast"
)

// Policy is a compiled approval policy, safe for concurrent use.
type Policy struct {
	name      string
	spec      PolicySpec
	exact     map[string]bool // signer names covered exactly
	domains   []string        // "domain/" prefixes covered by "domain/*"
	match     *expression     // nil when spec.Match is empty
	rules     []*expression
	action    Action
	onFailure Action
}

// Name returns the policy's name.
func (p *Policy) Name() string { return p.name }

// Spec returns a copy of the spec the policy was compiled from.
func (p *Policy) Spec() PolicySpec { return *p.spec.DeepCopy() }

// Covers reports whether the policy covers signerName, exactly or through "domain/*".
func (p *Policy) Covers(signerName string) bool {
	if p.exact[signerName] {
		return true
	}
	for _, prefix := range p.domains {
		if strings.HasPrefix(signerName, prefix) {
			return true
		}
	}
	return false
}

// expression is one compiled CEL expression of a policy.
type expression struct {
	name    string // the rule's name; "" for match
	source  string
	message string
	program cel.Program
	// reads are the request fields the expression reads, in the order they appear, so that
	// a verdict can show their values.
	reads []fieldPath
}

// FieldError is one problem of a policy spec.
type FieldError struct {
	// Field is the path of the field below spec: "signerNames[0]", "match",
	// "rules[1].expression", "action"…
	Field string
	// Rule is the name of the rule the error is about, if any.
	Rule string
	// Detail says what is wrong and what to change; for a CEL error, it is CEL's text with
	// the position of the error.
	Detail string
}

func (e FieldError) Error() string {
	if e.Rule != "" {
		return fmt.Sprintf("%s %q: %s", e.Field, e.Rule, e.Detail)
	}
	return e.Field + ": " + e.Detail
}

// CompileError is every problem Compile found in a policy.
type CompileError struct {
	Policy string
	Errors []FieldError
}

func (e *CompileError) Error() string {
	lines := make([]string, len(e.Errors))
	for i, fe := range e.Errors {
		lines[i] = fmt.Sprintf("policy %q: %s", e.Policy, fe.Error())
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the field errors, for errors.As.
func (e *CompileError) Unwrap() []error {
	errs := make([]error, len(e.Errors))
	for i, fe := range e.Errors {
		errs[i] = fe
	}
	return errs
}

// Compile checks spec and compiles its expressions. It reports every problem at once, as a
// *CompileError: signer names that are not "<domain>/<name>" or "<domain>/*", rules
// without a name or with the name of another rule, actions other than the allowed ones,
// and CEL errors, with CEL's text and position, for expressions that do not compile or do
// not evaluate to a bool.
func Compile(name string, spec PolicySpec) (*Policy, error) {
	env, err := celEnv()
	if err != nil {
		return nil, fmt.Errorf("building the CEL environment: %w", err)
	}
	p := &Policy{
		name:      name,
		spec:      *spec.DeepCopy(),
		exact:     map[string]bool{},
		action:    spec.Action,
		onFailure: spec.OnFailure,
	}
	if p.onFailure == "" {
		p.onFailure = NoOpinion
	}
	var errs []FieldError
	fail := func(field, rule, format string, args ...any) {
		errs = append(errs, FieldError{Field: field, Rule: rule, Detail: fmt.Sprintf(format, args...)})
	}

	if name == "" {
		fail("metadata.name", "", "a policy needs a name")
	}

	if len(spec.SignerNames) == 0 {
		fail("signerNames", "", `list at least one signer name, such as "example.com/my-signer", or "example.com/*" for every signer of a domain`)
	}
	seen := map[string]int{}
	for i, s := range spec.SignerNames {
		field := fmt.Sprintf("signerNames[%d]", i)
		if j, dup := seen[s]; dup {
			fail(field, "", "%q is already listed as signerNames[%d]", s, j)
			continue
		}
		seen[s] = i
		if detail := checkSignerName(s); detail != "" {
			fail(field, "", "%s", detail)
			continue
		}
		if domain, ok := strings.CutSuffix(s, "/*"); ok {
			p.domains = append(p.domains, domain+"/")
		} else {
			p.exact[s] = true
		}
	}

	if spec.Match != "" {
		expr, detail := compileExpression(env, spec.Match)
		if detail != "" {
			fail("match", "", "%s", detail)
		} else {
			p.match = expr
		}
	}

	if len(spec.Rules) == 0 {
		fail("rules", "", `add at least one rule; a rule with expression "true" decides every request the policy matches`)
	}
	ruleIndex := map[string]int{}
	for i, r := range spec.Rules {
		switch j, dup := ruleIndex[r.Name]; {
		case r.Name == "":
			fail(fmt.Sprintf("rules[%d].name", i), "", "a rule needs a name, which verdicts show")
		case dup:
			fail(fmt.Sprintf("rules[%d].name", i), r.Name, "is already the name of rules[%d]; rule names must be unique", j)
		default:
			ruleIndex[r.Name] = i
		}
		field := fmt.Sprintf("rules[%d].expression", i)
		if strings.TrimSpace(r.Expression) == "" {
			fail(field, r.Name, "an expression is required, such as request.subject.commonName == request.requester.username")
			continue
		}
		expr, detail := compileExpression(env, r.Expression)
		if detail != "" {
			fail(field, r.Name, "%s", detail)
			continue
		}
		expr.name, expr.message = r.Name, r.Message
		p.rules = append(p.rules, expr)
	}

	switch spec.Action {
	case Approve, Deny:
	case "":
		fail("action", "", "an action is required: Approve or Deny, taken when every rule holds")
	default:
		fail("action", "", "%q is not an action; use Approve or Deny, taken when every rule holds", spec.Action)
	}
	switch spec.OnFailure {
	case "", NoOpinion, Deny:
	default:
		fail("onFailure", "", "%q is not allowed; use NoOpinion (a person decides) or Deny, taken when a rule is false", spec.OnFailure)
	}

	if len(errs) > 0 {
		return nil, &CompileError{Policy: name, Errors: errs}
	}
	return p, nil
}

// compileExpression compiles a boolean CEL expression, or returns CEL's error text.
func compileExpression(env *cel.Env, source string) (*expression, string) {
	ast, iss := env.Compile(source)
	if iss.Err() != nil {
		// Every identifier lives in the root container; CEL saying so only confuses.
		msg := strings.ReplaceAll(iss.Err().Error(), " (in container '')", "")
		if strings.Contains(msg, "undeclared reference") || strings.Contains(msg, "undefined field") {
			if schemas, err := celSchemas(); err == nil {
				msg += "\n the names a policy can read: " + schemas.declared()
			}
		}
		return nil, msg
	}
	if t := ast.OutputType(); !t.IsExactType(cel.BoolType) && !t.IsExactType(cel.DynType) {
		return nil, fmt.Sprintf("the expression must evaluate to a bool, not %s", t)
	}
	prg, err := env.Program(ast, programOptions...)
	if err != nil {
		return nil, err.Error()
	}
	return &expression{source: source, program: prg, reads: requestReads(ast.NativeRep())}, ""
}

// signerNameRE is a DNS subdomain (RFC 1123), the form of both parts of a signer name.
var signerNameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

// maxSignerNameLength is the longest signer name Kubernetes accepts: a DNS subdomain, "/",
// a DNS label, "." and a DNS subdomain.
const maxSignerNameLength = 253 + 1 + 63 + 1 + 253

// checkSignerName returns what is wrong with a signerNames entry, or "".
func checkSignerName(s string) string {
	const form = `use "<domain>/<name>", such as "example.com/my-signer", or "<domain>/*" for every signer of a domain`
	domain, path, found := strings.Cut(s, "/")
	switch {
	case s == "":
		return "a signer name is required; " + form
	case s == "*" || s == "*/*":
		return fmt.Sprintf("%q would cover every signer; %s", s, form)
	case !found || strings.Contains(path, "/"):
		return fmt.Sprintf("%q is not a signer name; %s", s, form)
	case len(s) > maxSignerNameLength:
		return fmt.Sprintf("%q is longer than %d characters", s, maxSignerNameLength)
	case !signerNameRE.MatchString(domain) || !strings.Contains(domain, "."):
		return fmt.Sprintf("%q: the domain %q must be a lower-case DNS name with at least one dot, such as example.com", s, domain)
	case path == "*":
		return ""
	case strings.Contains(path, "*"):
		return fmt.Sprintf("%q: only a whole name can be a wildcard; %s", s, form)
	case !signerNameRE.MatchString(path):
		return fmt.Sprintf("%q: the name %q must be lower-case letters, digits, '-' and '.'", s, path)
	}
	return ""
}

// fieldPath is a field of Request that an expression reads: its CEL name and its index for
// reflect.
type fieldPath struct {
	name  string // "request.subject.commonName"
	index []int
}

// requestReads returns the leaf fields of `request` that an expression reads, in the
// order of first appearance.
func requestReads(ast *celast.AST) []fieldPath {
	var reads []fieldPath
	seen := map[string]bool{}
	celast.PreOrderVisit(ast.Expr(), celast.NewExprVisitor(func(e celast.Expr) {
		if e.Kind() != celast.SelectKind {
			return
		}
		var names []string
		for cur := e; ; {
			switch cur.Kind() {
			case celast.SelectKind:
				names = append(names, cur.AsSelect().FieldName())
				cur = cur.AsSelect().Operand()
				continue
			case celast.IdentKind:
				if cur.AsIdent() != requestVar {
					return
				}
			default:
				return
			}
			break
		}
		slices.Reverse(names)
		name := requestVar + "." + strings.Join(names, ".")
		if seen[name] {
			return
		}
		if index, ok := leafIndex(names); ok {
			seen[name] = true
			reads = append(reads, fieldPath{name: name, index: index})
		}
	}))
	return reads
}

// leafIndex returns the reflect index of the Request field at a path of JSON names, if that
// field is a value rather than a struct.
func leafIndex(names []string) ([]int, bool) {
	t := reflect.TypeFor[Request]()
	var index []int
	for _, n := range names {
		if t.Kind() != reflect.Struct {
			return nil, false
		}
		i := jsonFieldIndex(t, n)
		if i < 0 {
			return nil, false
		}
		index = append(index, i)
		t = t.Field(i).Type
	}
	return index, t.Kind() != reflect.Struct
}

// jsonFieldIndex returns the index of the field of struct type t whose JSON name is name,
// or -1.
func jsonFieldIndex(t reflect.Type, name string) int {
	for i := range t.NumField() {
		if n, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); n == name {
			return i
		}
	}
	return -1
}

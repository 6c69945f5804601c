package policy

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/interpreter"
)

// Verdict is what a policy, a guard rail or Decide says about a request, and why.
type Verdict struct {
	// Decision is Approve, Deny or NoOpinion.
	Decision Action `json:"decision"`
	// Policy is the name of the policy that decided; "" for a guard rail, or when nothing
	// decided.
	Policy string `json:"policy,omitempty"`
	// Rule is the rule that decided: the false rule, the rule that could not be evaluated,
	// or the guard rail (GuardRail…); "" when every rule held or nothing decided.
	Rule string `json:"rule,omitempty"`
	// Message says why, in one sentence a person understands.
	Message string `json:"message"`
}

// Evaluate returns the policy's verdict on r: NoOpinion if the policy does not cover r's
// signer or its match expression is false; otherwise the first false rule decides
// (OnFailure), and if every rule holds, Action does. An expression that fails to evaluate
// (runtime error, CostLimit, cancelled ctx) makes the verdict NoOpinion, never Approve.
// Guard rails are not applied: Decide applies them.
func (p *Policy) Evaluate(ctx context.Context, r *Request) Verdict {
	if r == nil {
		return p.verdict(NoOpinion, "", "there is no request to evaluate")
	}
	if !p.Covers(r.SignerName) {
		return p.verdict(NoOpinion, "", fmt.Sprintf("it does not cover signer %q", r.SignerName))
	}
	act, err := newActivation(r)
	if err != nil {
		return p.verdict(NoOpinion, "", "the request could not be given to CEL: "+err.Error())
	}
	return p.evaluate(ctx, act, r)
}

// evaluate is Evaluate for a request the policy covers, with its activation.
func (p *Policy) evaluate(ctx context.Context, act interpreter.Activation, r *Request) Verdict {
	ctx, cancel := context.WithTimeoutCause(ctx, EvalTimeout, errTimeout)
	defer cancel()
	if p.match != nil {
		holds, err := p.match.eval(ctx, act)
		if err != nil {
			return p.verdict(NoOpinion, "", "its match expression could not be evaluated: "+err.Error())
		}
		if !holds {
			return p.verdict(NoOpinion, "", "its match expression is false"+describeReads(p.match.reads, r))
		}
	}
	for _, rule := range p.rules {
		holds, err := rule.eval(ctx, act)
		if err != nil {
			return p.verdict(NoOpinion, rule.name, fmt.Sprintf("rule %q could not be evaluated: %v", rule.name, err))
		}
		if !holds {
			why := rule.message
			if why == "" {
				why = strings.Join(strings.Fields(rule.source), " ")
			}
			return p.verdict(p.onFailure, rule.name, fmt.Sprintf("rule %q is false: %s%s", rule.name, why, describeReads(rule.reads, r)))
		}
	}
	if p.action == Deny {
		held := make([]string, len(p.rules))
		for i, rule := range p.rules {
			held[i] = fmt.Sprintf("rule %q%s", rule.name, describeReads(rule.reads, r))
		}
		return p.verdict(Deny, "", "every rule holds: "+strings.Join(held, ", "))
	}
	return p.verdict(p.action, "", "every rule holds")
}

// verdict builds a verdict of the policy whose message starts by naming it.
func (p *Policy) verdict(d Action, rule, why string) Verdict {
	return Verdict{Decision: d, Policy: p.name, Rule: rule, Message: fmt.Sprintf("policy %q %s: %s", p.name, verb(d), why)}
}

// verb is how a message says a decision.
func verb(d Action) string {
	switch d {
	case Approve:
		return "approves"
	case Deny:
		return "denies"
	default:
		return "has no opinion"
	}
}

// errCostLimit and errTimeout are how an evaluation stopped by CostLimit or EvalTimeout
// is reported.
var (
	errCostLimit = fmt.Errorf("it exceeded the cost limit of %d per expression; make the expression do less work", CostLimit)
	errTimeout   = fmt.Errorf("the policy took longer than %s to evaluate; make its expressions do less work", EvalTimeout)
)

// eval evaluates a boolean expression.
func (e *expression) eval(ctx context.Context, act interpreter.Activation) (bool, error) {
	out, _, err := e.program.ContextEval(ctx, act)
	if err != nil {
		var cancelled interpreter.EvalCancelledError
		switch {
		case errors.As(err, &cancelled) && cancelled.Cause == interpreter.CostLimitExceeded:
			return false, errCostLimit
		case errors.Is(err, errTimeout):
			return false, errTimeout
		}
		return false, err
	}
	holds, ok := out.Value().(bool)
	if !ok {
		return false, fmt.Errorf("it returned %s, not a bool", out.Type().TypeName())
	}
	return holds, nil
}

// activation binds `request` to a request converted once, so that the policies evaluated
// for one request share the conversion.
type activation struct {
	request ref.Val
}

func newActivation(r *Request) (*activation, error) {
	schemas, err := celSchemas()
	if err != nil {
		return nil, err
	}
	return &activation{request: schemas.toCEL(reflect.ValueOf(r).Elem())}, nil
}

func (a *activation) ResolveName(name string) (any, bool) {
	if name == requestVar {
		return a.request, true
	}
	return nil, false
}

func (a *activation) Parent() interpreter.Activation { return nil }

var _ cel.Activation = (*activation)(nil)

// maxListedValues is how many entries of a list or map a message shows.
const maxListedValues = 10

// describeReads returns " (request.a="x", request.b=["y"])": the values of the fields an
// expression reads, or "" when it reads none.
func describeReads(reads []fieldPath, r *Request) string {
	if len(reads) == 0 {
		return ""
	}
	v := reflect.ValueOf(r).Elem()
	parts := make([]string, len(reads))
	for i, f := range reads {
		parts[i] = f.name + "=" + formatValue(v.FieldByIndex(f.index))
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// formatValue writes a request field the way CEL literals look.
func formatValue(v reflect.Value) string {
	switch v.Kind() {
	case reflect.String:
		return strconv.Quote(v.String())
	case reflect.Int, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Slice:
		items := make([]string, 0, min(v.Len(), maxListedValues))
		for i := range min(v.Len(), maxListedValues) {
			items = append(items, formatValue(v.Index(i)))
		}
		return "[" + strings.Join(items, ", ") + more(v.Len()) + "]"
	case reflect.Map:
		keys := make([]string, 0, v.Len())
		for _, k := range v.MapKeys() {
			keys = append(keys, k.String())
		}
		slices.Sort(keys)
		items := make([]string, 0, min(len(keys), maxListedValues))
		for _, k := range keys[:min(len(keys), maxListedValues)] {
			items = append(items, strconv.Quote(k)+": "+formatValue(v.MapIndex(reflect.ValueOf(k))))
		}
		return "{" + strings.Join(items, ", ") + more(len(keys)) + "}"
	default:
		return fmt.Sprint(v.Interface())
	}
}

// more says how many entries a shortened list leaves out.
func more(n int) string {
	if n <= maxListedValues {
		return ""
	}
	return fmt.Sprintf(", … %d more", n-maxListedValues)
}

package policy

import (
	"sync"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/ext"
)

// CostLimit is the most one expression may cost in one evaluation, in CEL cost units
// (roughly, operations). A real policy over one request costs a few hundred; the limit is
// ten times below Kubernetes' per-expression limit for validation rules because cel-go's
// cost tracking slows down quadratically in long loops, so that a hostile expression is
// stopped in tens of milliseconds rather than seconds.
const CostLimit = 100_000

// EvalTimeout bounds the time one policy's evaluation may take, as a backstop to
// CostLimit: a request with thousands of names can make a cheap loop slow without making it
// costly. A policy that exceeds it has no opinion. Real policies take microseconds.
const EvalTimeout = 100 * time.Millisecond

// maxRangeSize bounds lists.range(n), which would otherwise allocate before the cost
// limit could stop it.
const maxRangeSize = 1_000

// requestVar is the name of the one CEL variable.
const requestVar = "request"

// celEnv is the CEL environment every policy is compiled in, and celSchemas the request
// types declared in it; both are built once.
var (
	celSchemas = sync.OnceValues(newRequestSchemas)
	celEnv     = sync.OnceValues(newEnv)
)

// newEnv declares `request` as the typed object kcsr.Request (see celtypes.go), so that a
// misspelt field or a type mismatch is a compile error with a position, and adds the
// libraries Kubernetes enables for validation rules.
func newEnv() (*cel.Env, error) {
	schemas, err := celSchemas()
	if err != nil {
		return nil, err
	}
	return cel.NewEnv(
		cel.OptionalTypes(),
		cel.DefaultUTCTimeZone(true),
		cel.CrossTypeNumericComparisons(true),
		ext.Strings(),
		ext.Lists(ext.ListsMaxRangeSize(maxRangeSize)),
		ext.Sets(),
		ext.Network(), // ip('…'), cidr('10.0.0.0/8').containsIP(ip), as Kubernetes' library
		ext.Regex(),
		ext.Bindings(),
		ext.TwoVarComprehensions(),
		ext.Math(),
		withRequestTypes(schemas),
		cel.Variable(requestVar, cel.ObjectType(celTypePrefix+"Request")),
		cel.ASTValidators(
			cel.ValidateRegexLiterals(),
			cel.ValidateDurationLiterals(),
			cel.ValidateTimestampLiterals(),
		),
	)
}

// programOptions are the options of every compiled expression: constant folding and
// precompiled regular expressions, a cost limit, and checks of the context's cancellation
// inside loops.
var programOptions = []cel.ProgramOption{
	cel.EvalOptions(cel.OptOptimize),
	cel.CostLimit(CostLimit),
	cel.InterruptCheckFrequency(100),
}

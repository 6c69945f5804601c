package request

import (
	"context"
	"errors"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"kcsr.dev/kcsr/pkg/cli"
)

// Exit codes of `kcsr request`, `kcsr renew` and `kcsr kubeconfig` (docs/cli.md). Bad input
// (flags, files named on the command line, a kubeconfig that cannot be loaded) is an
// ordinary error, which the kcsr binary reports with exit code 1.
const (
	ExitOK          = 0
	ExitUsage       = 1
	ExitDenied      = 2
	ExitFailed      = 3
	ExitTimeout     = 4
	ExitServerError = 5
)

// exitf returns an error that makes the kcsr binary print one line and exit with code.
func exitf(code int, format string, args ...any) error {
	return &cli.ExitError{Code: code, Message: "error: " + fmt.Sprintf(format, args...)}
}

// KeptError is a wait that ended (timed out, interrupted) without a certificate, its CSR
// kept so that kcsr fetch can collect the certificate later.
type KeptError struct {
	Exit *cli.ExitError
	CSR  string
}

func (e *KeptError) Error() string { return e.Exit.Error() }
func (e *KeptError) Unwrap() error { return e.Exit }

// ExitCode is the exit code err leads to: 0 for nil, the code of a *cli.ExitError, 1
// otherwise.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var e *cli.ExitError
	if errors.As(err, &e) {
		return e.Code
	}
	return ExitUsage
}

// errorText is an error's message without the "error: " that exit errors start with.
func errorText(err error) string {
	return strings.TrimPrefix(err.Error(), "error: ")
}

// apiError turns an error of a call to the API server into an exit error that says what
// to do. The server refusing the request's content is bad input (1); anything else is a
// server or connection error (5).
func apiError(what string, err error) error {
	switch {
	case apierrors.IsInvalid(err), apierrors.IsBadRequest(err):
		return exitf(ExitUsage, "%s: the server refused the request: %v", what, err)
	case apierrors.IsUnauthorized(err):
		return exitf(ExitServerError, "%s: the server did not accept the credentials (%v); check --kubeconfig/--context, or that the certificate has not expired or been revoked", what, err)
	case apierrors.IsForbidden(err):
		return exitf(ExitServerError, "%s: %v; ask an administrator for this permission", what, err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return exitf(ExitTimeout, "%s: interrupted", what)
	default:
		return exitf(ExitServerError, "%s: %v", what, err)
	}
}

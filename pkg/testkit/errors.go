package testkit

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// ErrString returns err's text, or "" for nil, so that table cases can compare exact
// texts with cmp.Diff.
func ErrString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// NoError stops the test when err is not nil, saying what failed.
func NoError(t testing.TB, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: unexpected error: %v", what, err)
	}
}

// ErrorContains reports, without stopping the test, whether err is as wanted: nil when
// want is "", else an error whose text contains want. It says which when it is not.
func ErrorContains(t testing.TB, err error, want string) bool {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("unexpected error: %v", err)
		return false
	case want != "" && err == nil:
		t.Errorf("no error; want one containing %q", want)
		return false
	case want != "" && !strings.Contains(err.Error(), want):
		t.Errorf("error = %q; want it to contain %q", err, want)
		return false
	}
	return true
}

// ExpectError reports, without stopping the test, unless err's text is exactly want (""
// for no error), with a diff.
func ExpectError(t testing.TB, err error, want string) bool {
	t.Helper()
	if diff := cmp.Diff(want, ErrString(err)); diff != "" {
		t.Errorf("error (-want +got):\n%s", diff)
		return false
	}
	return true
}

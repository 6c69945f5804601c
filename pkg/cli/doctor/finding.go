package doctor

import (
	"encoding/json"
	"fmt"
	"io"

	"kcsr.dev/kcsr/pkg/cli"
)

// Severity says whether a finding is a problem.
type Severity int

// Severities, from best to worst.
const (
	// OK: checked and fine.
	OK Severity = iota
	// Warning: works now, but will not for long, or is waiting for someone.
	Warning
	// Problem: does not work; the finding says why and what to do.
	Problem
)

// Mark is the sign that starts a finding's line.
func (s Severity) Mark() string {
	switch s {
	case Problem:
		return "✗"
	case Warning:
		return "⚠"
	default:
		return "✓"
	}
}

// Finding is one line of the report: what was looked at, what is the matter, what to do.
type Finding struct {
	Severity Severity
	// Subject is what the finding is about: a field ("spec.request"), "certificate",
	// `cluster "kcsr"`, ...
	Subject string
	// Cause says what was found; Fix, empty for OK findings, what to do about it.
	Cause, Fix string
}

// String is the finding's line: "✗ spec.request: cause: fix". Findings quote what the
// server and the files hold (names, subjects, messages), so each part is escaped
// (cli.PrintableText): a control character or escape sequence is shown, never sent to the
// terminal, and a finding is always one line.
func (f Finding) String() string {
	s := f.Severity.Mark() + " " + cli.PrintableText(f.Subject) + ": " + cli.PrintableText(f.Cause)
	if f.Fix != "" {
		s += ": " + cli.PrintableText(f.Fix)
	}
	return s
}

func problem(subject, cause, fix string) Finding {
	return Finding{Severity: Problem, Subject: subject, Cause: cause, Fix: fix}
}

func warning(subject, cause, fix string) Finding {
	return Finding{Severity: Warning, Subject: subject, Cause: cause, Fix: fix}
}

func ok(subject, cause string) Finding {
	return Finding{Severity: OK, Subject: subject, Cause: cause}
}

// Exit codes of kcsr doctor (docs/doctor.md).
const (
	// ExitHealthy: every check passed.
	ExitHealthy = 0
	// ExitError: doctor could not run its checks (bad flags, a file it cannot read, a CSR
	// that does not exist, an API error it cannot explain).
	ExitError = 1
	// ExitProblem: at least one ✗ finding.
	ExitProblem = 2
	// ExitWarning: no ✗ finding, but at least one ⚠ (e.g. a certificate that expires
	// soon, a CSR waiting for a person).
	ExitWarning = 3
)

// Report is every finding of a run, in the order found.
type Report []Finding

// Worst is the highest severity in the report (OK when empty).
func (r Report) Worst() Severity {
	worst := OK
	for _, f := range r {
		worst = max(worst, f.Severity)
	}
	return worst
}

// ExitCode is the exit code the report leads to.
func (r Report) ExitCode() int {
	switch r.Worst() {
	case Problem:
		return ExitProblem
	case Warning:
		return ExitWarning
	default:
		return ExitHealthy
	}
}

// Count returns how many findings have severity s.
func (r Report) Count(s Severity) int {
	n := 0
	for _, f := range r {
		if f.Severity == s {
			n++
		}
	}
	return n
}

// Print writes one line per finding.
// MarshalJSON writes a finding for -o json: its severity as a word.
func (f Finding) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Severity string `json:"severity"`
		Subject  string `json:"subject"`
		Cause    string `json:"cause"`
		Fix      string `json:"fix,omitempty"`
	}{f.Severity.String(), f.Subject, f.Cause, f.Fix})
}

// String is the severity as -o json writes it: ok, warning or problem.
func (s Severity) String() string {
	switch s {
	case Problem:
		return "problem"
	case Warning:
		return "warning"
	default:
		return "ok"
	}
}

func (r Report) Print(w io.Writer) {
	for _, f := range r {
		fmt.Fprintln(w, f.String())
	}
}

// Lines returns the findings' lines, for tests.
func (r Report) Lines() []string {
	out := make([]string, len(r))
	for i, f := range r {
		out[i] = f.String()
	}
	return out
}

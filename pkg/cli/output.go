package cli

import (
	"encoding/json"
	"fmt"
	"io"
)

// OutputJSON is the -o value that asks a command for JSON instead of its text.
const OutputJSON = "json"

// CheckOutput checks an -o value of a command whose only other output is its text.
func CheckOutput(output string) error {
	if output != "" && output != OutputJSON {
		return fmt.Errorf("--output %q is not supported; use json, or nothing for text", output)
	}
	return nil
}

// PrintJSON writes v as indented JSON, as kubectl -o json does. JSON escapes control
// characters itself: what the server stored is printed as data, never as terminal codes.
func PrintJSON(out io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "    ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "%s\n", b)
	return err
}

package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"kcsr.dev/kcsr/test/e2e/framework"
)

// TestDocumentedCommands: every kcsr command line in the shell examples of README.md and
// docs/*.md (and the kcsr lines shown as comments there, like the join command token
// create prints) names a command and flags the binary has: each is run with --help
// appended, which parses every flag and fails on one that is not there. What each
// command does is the e2e test of that command's; this test fails when a document still
// shows a command or a flag that was renamed or removed.
func TestDocumentedCommands(t *testing.T) {
	block := regexp.MustCompile("(?s)```sh\n(.*?)```")
	n := 0
	docs, err := filepath.Glob("../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range append(docs, "../../README.md") {
		data, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range block.FindAllStringSubmatch(string(data), -1) {
			for _, line := range commandLines(m[1]) {
				args := shellWords(line)
				switch {
				case len(args) > 1 && args[0] == "kubectl" && args[1] == "csr":
					args = args[2:]
				case len(args) > 0 && args[0] == "kcsr":
					args = args[1:]
				default:
					continue
				}
				n++
				r := framework.Run(t, "", framework.Binary(t), append(args, "--help")...)
				if r.ExitCode != 0 {
					t.Errorf("%s: %q does not parse: exit %d\n%s", doc, line, r.ExitCode, r.Stderr)
				}
			}
		}
	}
	t.Logf("%d documented kcsr commands parse", n)
	if n < 15 {
		t.Errorf("checked %d documented kcsr commands; the documents hold more", n)
	}
}

// commandLines are the commands of a shell example: continuation lines joined, comments
// dropped (a commented line that is a kcsr command is kept, as an example of one), and
// each command cut at a pipe, a redirection or a separator.
func commandLines(script string) []string {
	var out []string
	var cur strings.Builder
	for _, raw := range strings.Split(script, "\n") {
		line := strings.TrimSpace(raw)
		if rest, ok := strings.CutPrefix(line, "#"); ok {
			line = strings.TrimSpace(rest)
			if cur.Len() == 0 && !strings.HasPrefix(line, "kcsr ") {
				continue
			}
		}
		if i := strings.Index(line, "  #"); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		if strings.HasSuffix(line, `\`) {
			cur.WriteString(strings.TrimSuffix(line, `\`) + " ")
			continue
		}
		cur.WriteString(line)
		cmd := cur.String()
		cur.Reset()
		for _, sep := range []string{" | ", " > ", " && ", "; "} {
			if i := strings.Index(cmd, sep); i >= 0 {
				cmd = cmd[:i]
			}
		}
		if cmd = strings.TrimSpace(cmd); cmd != "" {
			out = append(out, cmd)
		}
	}
	return out
}

// shellWords splits a command line as a POSIX shell would, for the quoting the documents
// use: single and double quotes, no expansion.
func shellWords(line string) []string {
	var words []string
	var w strings.Builder
	inWord := false
	var quote rune
	for _, r := range line {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			w.WriteRune(r)
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		default:
			w.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words
}

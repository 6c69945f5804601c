package cli

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Printable returns s as a terminal may show it. Names, subjects, SANs, condition
// messages and every other string the CLI prints comes from the server, that is from
// whoever wrote the object: a CSR named "x\nforged-row   Approved" would add a row to a
// table, and "\x1b[31m" or "\x1b]8;;…" would colour, hide or link text. So a string that
// holds any character that is not printable (control characters, escape sequences, C1
// controls, bidirectional overrides and other format characters, invalid UTF-8) is shown
// Go-quoted instead: "x\nforged-row   Approved", "\x1b[31m". A string that starts with a
// double quote is quoted too, so that a quoted value always means an escaped one.
func Printable(s string) string {
	if strings.HasPrefix(s, `"`) || !isPrintable(s) {
		return strconv.Quote(s)
	}
	return s
}

// PrintableText is Printable for a sentence that quotes values itself ("… %q …"): it is
// Go-quoted only when it holds a character that is not printable.
func PrintableText(s string) string {
	if !isPrintable(s) {
		return strconv.Quote(s)
	}
	return s
}

func isPrintable(s string) bool {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return false
			}
		}
		if !strconv.IsPrint(r) {
			return false
		}
	}
	return true
}

// PrintableAll applies Printable to each of values.
func PrintableAll(values []string) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = Printable(v)
	}
	return out
}

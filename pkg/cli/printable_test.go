package cli

import (
	"strings"
	"testing"
)

func TestPrintable(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"plain", "rahul", "rahul"},
		{"empty", "", ""},
		{"spaces and punctuation", "Jane Doe, O=dev+ops (x) \\ 'y'", "Jane Doe, O=dev+ops (x) \\ 'y'"},
		{"unicode letters", "Jürgen Müller 日本", "Jürgen Müller 日本"},
		{"newline forges a row", "evil\nforged-row   Approved", `"evil\nforged-row   Approved"`},
		{"carriage return", "ok\rEVIL", `"ok\rEVIL"`},
		{"tab shifts columns", "a\tb", `"a\tb"`},
		{"colour escape", "\x1b[31mred\x1b[0m", `"\x1b[31mred\x1b[0m"`},
		{"OSC 8 hyperlink", "\x1b]8;;https://evil/\x1b\\click\x1b]8;;\x1b\\", `"\x1b]8;;https://evil/\x1b\\click\x1b]8;;\x1b\\"`},
		{"C1 CSI", "\u009b31m", `"\u009b31m"`},
		{"bell and NUL", "a\x07\x00", `"a\a\x00"`},
		{"DEL", "a\x7f", `"a\x7f"`},
		{"bidi override", "admin\u202egnp.exe", `"admin\u202egnp.exe"`},
		{"zero-width joiner", "ad\u200dmin", `"ad\u200dmin"`},
		{"non-breaking space", "a\u00a0b", `"a\u00a0b"`},
		{"invalid UTF-8", "a\xffb", `"a\xffb"`},
		{"a real U+FFFD is printable", "a\ufffdb", "a\ufffdb"},
		{"a leading quote is quoted", `"x\ny"`, `"\"x\\ny\""`},
	}
	for _, tc := range []struct{ in, want string }{
		{`"x" is not a signer`, `"x" is not a signer`},
		{"message: \x1b[2J", `"message: \x1b[2J"`},
	} {
		if got := PrintableText(tc.in); got != tc.want {
			t.Errorf("PrintableText(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Printable(tc.in)
			if got != tc.want {
				t.Errorf("Printable(%q) = %s, want %s", tc.in, got, tc.want)
			}
			if strings.ContainsAny(got, "\n\r\t\x1b\x00\x07\x7f\u009b\u202e") {
				t.Errorf("Printable(%q) = %q still holds a control character", tc.in, got)
			}
		})
	}
}

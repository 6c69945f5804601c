package signer

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// Name patterns of a custom signer's rules (docs/signers.md, "Patterns"). Each field has
// its own meaning, because each holds a different kind of name; everywhere `*` matches any
// run of characters (none included) and `?` one character, within the part named below,
// and nothing else is special.
//
//   - commonNames, organizations: the whole value, case-sensitive; they are Kubernetes user
//     and group names, in which "." and ":" are ordinary characters.
//   - dnsNames: label by label (a pattern matches names with as many labels as it has), so
//     `*` never crosses a "."; a label that is only `*` matches exactly one label, and `*`
//     alone matches only single-label names. Compared case-insensitively and in ASCII: a
//     Unicode label of a pattern or a name is compared as its IDNA (xn--) form. A name with
//     an empty label, a trailing dot, a label over 63 characters or characters other than
//     letters, digits, "-" and "_" matches nothing. A requested wildcard (a name label with
//     `*`, as in *.example.com) matches only the very same label in the pattern.
//   - emailAddresses: local@domain; the local part is a pattern of its own (case-
//     insensitive, `*` stays in the local part), the domain a dnsNames pattern.
//   - uris: scheme, user, port, query and fragment exactly (the scheme case-insensitively);
//     the host as a dnsNames pattern, or exactly when it is an IP address; the path segment
//     by segment, `*` never crossing a "/"; an opaque URI (urn:…) as a whole.

// maxDNSLength and maxLabelLength are the longest DNS name and label (RFC 1035).
const (
	maxDNSLength   = 253
	maxLabelLength = 63
)

// glob reports whether s matches pattern, where `*` matches any run of characters and `?`
// one character (a rune); every other character matches itself.
func glob(pattern, s string) bool {
	// Iterative matching with one backtrack point: linear in practice, never exponential.
	p, n := 0, 0
	starP, starN := -1, 0
	for n < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			starP, starN = p, n
			p++
		case p < len(pattern) && pattern[p] == '?':
			_, size := utf8.DecodeRuneInString(s[n:])
			p, n = p+1, n+size
		case p < len(pattern) && pattern[p] == s[n]:
			p, n = p+1, n+1
		case starP >= 0:
			_, size := utf8.DecodeRuneInString(s[starN:])
			starN += size
			p, n = starP+1, starN
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// matchText matches a subject value (CN, O) against patterns, as a whole.
func matchText(patterns []string, value string) bool {
	for _, p := range patterns {
		if glob(p, value) {
			return true
		}
	}
	return false
}

// dnsLabels returns a requested DNS name as lower-case ASCII labels, or why it is not a DNS
// name a certificate may carry (written to follow "it …" or stand after a colon).
func dnsLabels(name string) ([]string, string) {
	switch {
	case name == "":
		return nil, "it is empty"
	case strings.HasSuffix(name, "."):
		return nil, "it ends with a dot; use the name without it"
	}
	labels := strings.Split(name, ".")
	for i, l := range labels {
		ascii, problem := asciiLabel(l)
		if problem != "" {
			return nil, problem
		}
		for _, r := range ascii {
			if !isLabelChar(r) && r != '*' {
				return nil, fmt.Sprintf("label %q holds %q; a DNS name has letters, digits, '-' and '_'", l, r)
			}
		}
		labels[i] = ascii
	}
	if n := len(strings.Join(labels, ".")); n > maxDNSLength {
		return nil, fmt.Sprintf("it is %d characters long; a DNS name has at most %d", n, maxDNSLength)
	}
	return labels, ""
}

// dnsPatternLabels compiles a dnsNames pattern into lower-case ASCII labels, or says what is
// wrong with it.
func dnsPatternLabels(pattern string) ([]string, string) {
	switch {
	case pattern == "":
		return nil, "it is empty"
	case strings.HasSuffix(pattern, "."):
		return nil, "it ends with a dot; remove it (names in certificates have none)"
	}
	labels := strings.Split(pattern, ".")
	for i, l := range labels {
		if strings.ContainsAny(l, "*?") {
			// Wildcards stay ASCII: only whole labels go through IDNA.
			l = strings.ToLower(l)
			for _, r := range l {
				if !isLabelChar(r) && r != '*' && r != '?' {
					return nil, fmt.Sprintf("label %q holds %q; use letters, digits, '-', '_' and the wildcards * and ?", labels[i], r)
				}
			}
			labels[i] = l
			continue
		}
		ascii, problem := asciiLabel(l)
		if problem != "" {
			return nil, problem
		}
		for _, r := range ascii {
			if !isLabelChar(r) {
				return nil, fmt.Sprintf("label %q holds %q; use letters, digits, '-', '_' and the wildcards * and ?", l, r)
			}
		}
		labels[i] = ascii
	}
	return labels, ""
}

// asciiLabel returns one label in lower-case ASCII, a Unicode label in its IDNA (xn--)
// form.
func asciiLabel(l string) (string, string) {
	if l == "" {
		return "", "it has an empty label (two dots in a row, or a leading dot)"
	}
	ascii := strings.ToLower(l)
	if !isASCII(l) {
		a, err := idna.Lookup.ToASCII(l)
		if err != nil {
			return "", fmt.Sprintf("label %q is not a valid internationalized label (%v)", l, err)
		}
		ascii = a
	}
	if len(ascii) > maxLabelLength {
		return "", fmt.Sprintf("label %q is %d characters long; a label has at most %d", l, len(ascii), maxLabelLength)
	}
	return ascii, ""
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func isLabelChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_'
}

// matchDNSLabels reports whether a name's labels match a pattern's, label by label.
func matchDNSLabels(pattern, name []string) bool {
	if len(pattern) != len(name) {
		return false
	}
	for i := range name {
		if strings.Contains(name[i], "*") {
			// A wildcard certificate covers every name the label matches: allowed only
			// where the rule allows that very label.
			if pattern[i] != name[i] {
				return false
			}
			continue
		}
		if !glob(pattern[i], name[i]) {
			return false
		}
	}
	return true
}

// matchDNSName matches a requested DNS name against dnsNames patterns. The name must be
// valid (dnsLabels); invalid patterns match nothing (Configuration.Validate refuses them).
func matchDNSName(patterns []string, labels []string) bool {
	for _, p := range patterns {
		if pl, problem := dnsPatternLabels(p); problem == "" && matchDNSLabels(pl, labels) {
			return true
		}
	}
	return false
}

// emailParts splits an address at its one "@", or says what is wrong.
func emailParts(address string) (local, domain string, problem string) {
	local, domain, found := strings.Cut(address, "@")
	switch {
	case !found:
		return "", "", `it has no "@"`
	case strings.Contains(domain, "@"):
		return "", "", `it has more than one "@"`
	case local == "":
		return "", "", `it has nothing before the "@"`
	}
	return local, domain, ""
}

// emailProblem says why a requested email address matches nothing, or "".
func emailProblem(address string) string {
	_, domain, problem := emailParts(address)
	if problem != "" {
		return problem
	}
	if _, problem := dnsLabels(domain); problem != "" {
		return "its domain is not a DNS name: " + problem
	}
	return ""
}

// emailPatternProblem says what is wrong with an emailAddresses pattern, or "".
func emailPatternProblem(pattern string) string {
	_, domain, problem := emailParts(pattern)
	if problem != "" {
		return problem
	}
	if _, problem := dnsPatternLabels(domain); problem != "" {
		return "its domain: " + problem
	}
	return ""
}

// matchEmail matches a valid requested email address (emailProblem) against patterns.
func matchEmail(patterns []string, address string) bool {
	local, domain, _ := emailParts(address)
	labels, _ := dnsLabels(domain)
	local = strings.ToLower(local)
	for _, p := range patterns {
		pLocal, pDomain, problem := emailParts(p)
		if problem != "" {
			continue
		}
		pLabels, problem := dnsPatternLabels(pDomain)
		if problem == "" && glob(strings.ToLower(pLocal), local) && matchDNSLabels(pLabels, labels) {
			return true
		}
	}
	return false
}

// uriPatternProblem says what is wrong with a uris pattern, or "".
func uriPatternProblem(pattern string) string {
	u, err := url.Parse(pattern)
	switch {
	case err != nil:
		return fmt.Sprintf("it is not a URI (%v)", err)
	case u.Scheme == "":
		return "it has no scheme; write it whole, such as spiffe://cluster.local/ns/*/sa/*"
	case strings.ContainsAny(u.Scheme, "*?"):
		return "its scheme has a wildcard; the scheme is compared exactly"
	case u.Opaque == "" && u.Host != "" && net.ParseIP(u.Hostname()) == nil:
		if _, problem := dnsPatternLabels(u.Hostname()); problem != "" {
			return "its host: " + problem
		}
	}
	return ""
}

// matchURI matches a requested URI against patterns.
func matchURI(patterns []string, name *url.URL) bool {
	for _, p := range patterns {
		if pu, err := url.Parse(p); err == nil && uriPatternProblem(p) == "" && matchURIParts(pu, name) {
			return true
		}
	}
	return false
}

func matchURIParts(p, u *url.URL) bool {
	if !strings.EqualFold(p.Scheme, u.Scheme) || p.User.String() != u.User.String() ||
		p.Port() != u.Port() || p.RawQuery != u.RawQuery || p.ForceQuery != u.ForceQuery || p.Fragment != u.Fragment {
		return false
	}
	if p.Opaque != "" || u.Opaque != "" {
		return p.Opaque != "" && u.Opaque != "" && glob(p.Opaque, u.Opaque)
	}
	if !matchURIHost(p.Hostname(), u.Hostname()) {
		return false
	}
	pSegments, uSegments := strings.Split(p.EscapedPath(), "/"), strings.Split(u.EscapedPath(), "/")
	if len(pSegments) != len(uSegments) {
		return false
	}
	for i := range uSegments {
		if !glob(pSegments[i], uSegments[i]) {
			return false
		}
	}
	return true
}

func matchURIHost(pattern, host string) bool {
	if pattern == "" || host == "" || net.ParseIP(pattern) != nil || net.ParseIP(host) != nil {
		return pattern == host
	}
	pLabels, problem := dnsPatternLabels(pattern)
	if problem != "" {
		return false
	}
	labels, problem := dnsLabels(host)
	return problem == "" && matchDNSLabels(pLabels, labels)
}

package signer

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"net/url"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"

	"kcsr.dev/kcsr/pkg/testkit"
)

const testSigner = "example.com/s"

// request is a builder for the parsed requests Rules.check sees.
func request(opts ...func(*x509.CertificateRequest)) *x509.CertificateRequest {
	req := &x509.CertificateRequest{}
	for _, o := range opts {
		o(req)
	}
	return req
}

func cn(name string) func(*x509.CertificateRequest) {
	return func(r *x509.CertificateRequest) {
		r.Subject = pkix.Name{CommonName: name, Organization: r.Subject.Organization}
	}
}

func orgs(o ...string) func(*x509.CertificateRequest) {
	return func(r *x509.CertificateRequest) { r.Subject.Organization = o }
}

func dns(names ...string) func(*x509.CertificateRequest) {
	return func(r *x509.CertificateRequest) { r.DNSNames = names }
}

func emails(addrs ...string) func(*x509.CertificateRequest) {
	return func(r *x509.CertificateRequest) { r.EmailAddresses = addrs }
}

func uris(t *testing.T, raw ...string) func(*x509.CertificateRequest) {
	return func(r *x509.CertificateRequest) {
		for _, s := range raw {
			u, err := url.Parse(s)
			if err != nil {
				t.Fatal(err)
			}
			r.URIs = append(r.URIs, u)
		}
	}
}

// TestRulesPatterns: each field's patterns mean what docs/signers.md says (issue 13
// item 8): for DNS names `*` is one label, case and IDNA forms do not matter, and a name
// that is not a DNS name matches nothing.
func TestRulesPatterns(t *testing.T) {
	notAllowed := func(kind, name, allowed string) string {
		return kind + ` subjectAltName "` + name + `" is not allowed for signer example.com/s; allowed: ` + allowed
	}
	invalid := func(kind, name, why string) string {
		return kind + ` subjectAltName "` + name + `" is not allowed for signer example.com/s: ` + why
	}
	cases := []struct {
		name  string
		rules Rules
		req   *x509.CertificateRequest
		want  string
	}{
		// dnsNames: `*` matches exactly one label.
		{name: "*.svc allows x.svc", rules: Rules{DNSNames: []string{"*.svc"}}, req: request(dns("x.svc"))},
		{name: "*.svc refuses kubernetes.default.svc", rules: Rules{DNSNames: []string{"*.svc"}}, req: request(dns("kubernetes.default.svc")),
			want: notAllowed("DNS", "kubernetes.default.svc", "*.svc")},
		{name: "*.svc refuses a.b.svc", rules: Rules{DNSNames: []string{"*.svc"}}, req: request(dns("x.svc", "a.b.svc")),
			want: notAllowed("DNS", "a.b.svc", "*.svc")},
		{name: "*.svc refuses svc itself", rules: Rules{DNSNames: []string{"*.svc"}}, req: request(dns("svc")), want: notAllowed("DNS", "svc", "*.svc")},
		{name: "two patterns for two depths", rules: Rules{DNSNames: []string{"*.svc", "*.*.svc"}}, req: request(dns("x.svc", "kubernetes.default.svc"))},
		{name: "* alone allows a single label", rules: Rules{DNSNames: []string{"*"}}, req: request(dns("localhost"))},
		{name: "* alone refuses two labels", rules: Rules{DNSNames: []string{"*"}}, req: request(dns("example.com")), want: notAllowed("DNS", "example.com", "*")},
		{name: "* within a label", rules: Rules{DNSNames: []string{"web-*.example.com"}}, req: request(dns("web-1.example.com", "web-east.example.com"))},
		{name: "* within a label stays in it", rules: Rules{DNSNames: []string{"web-*.example.com"}}, req: request(dns("web-1.evil.example.com")),
			want: notAllowed("DNS", "web-1.evil.example.com", "web-*.example.com")},
		{name: "? is one character", rules: Rules{DNSNames: []string{"node-?.example.com"}}, req: request(dns("node-a.example.com"))},
		{name: "? does not match a dot", rules: Rules{DNSNames: []string{"a?b.example.com"}}, req: request(dns("a.b.example.com")),
			want: notAllowed("DNS", "a.b.example.com", "a?b.example.com")},
		{name: "names are compared case-insensitively", rules: Rules{DNSNames: []string{"*.Example.COM"}}, req: request(dns("WWW.example.com", "api.EXAMPLE.com"))},
		{name: "exact name", rules: Rules{DNSNames: []string{"hook.default.svc"}}, req: request(dns("HOOK.default.svc"))},
		{name: "IDNA: a Unicode pattern matches the xn-- name", rules: Rules{DNSNames: []string{"*.bücher.example"}}, req: request(dns("shop.xn--bcher-kva.example", "SHOP.XN--BCHER-KVA.EXAMPLE"))},
		{name: "IDNA: an xn-- pattern matches the Unicode name", rules: Rules{DNSNames: []string{"*.xn--bcher-kva.example"}}, req: request(dns("shop.BÜCHER.example"))},
		{name: "IDNA: another name is still another name", rules: Rules{DNSNames: []string{"*.bücher.example"}}, req: request(dns("shop.bucher.example")),
			want: notAllowed("DNS", "shop.bucher.example", "*.bücher.example")},
		{name: "a trailing dot is not a certificate name", rules: Rules{DNSNames: []string{"*.svc"}}, req: request(dns("x.svc.")),
			want: invalid("DNS", "x.svc.", "it ends with a dot; use the name without it")},
		{name: "an empty label matches nothing", rules: Rules{DNSNames: []string{"*.*.svc"}}, req: request(dns("a..svc")),
			want: invalid("DNS", "a..svc", "it has an empty label (two dots in a row, or a leading dot)")},
		{name: "a leading dot matches nothing", rules: Rules{DNSNames: []string{"*.svc", "*.*"}}, req: request(dns(".svc")),
			want: invalid("DNS", ".svc", "it has an empty label (two dots in a row, or a leading dot)")},
		{name: "a name with other characters matches nothing", rules: Rules{DNSNames: []string{"*.svc"}}, req: request(dns("a/b.svc")),
			want: invalid("DNS", "a/b.svc", `label "a/b" holds '/'; a DNS name has letters, digits, '-' and '_'`)},
		{name: "a wildcard certificate needs the same label in the rule", rules: Rules{DNSNames: []string{"*.svc"}}, req: request(dns("*.svc"))},
		{name: "? does not allow a wildcard certificate", rules: Rules{DNSNames: []string{"?.svc"}}, req: request(dns("*.svc")), want: notAllowed("DNS", "*.svc", "?.svc")},
		{name: "a partial wildcard certificate is not one label", rules: Rules{DNSNames: []string{"*.svc"}}, req: request(dns("w*.svc")), want: notAllowed("DNS", "w*.svc", "*.svc")},
		{name: "brackets are ordinary characters", rules: Rules{DNSNames: []string{"[ab].svc"}}, req: request(dns("a.svc")), want: notAllowed("DNS", "a.svc", "[ab].svc")},
		{name: "no dnsNames allows none", rules: Rules{}, req: request(dns("x.svc")), want: `DNS subjectAltName "x.svc" is not allowed for signer example.com/s (it allows none)`},

		// emailAddresses: the local part as a whole, the domain as a DNS name.
		{name: "*@example.com allows dotted local parts", rules: Rules{EmailAddresses: []string{"*@example.com"}}, req: request(emails("jane@example.com", "first.last@EXAMPLE.com"))},
		{name: "*@example.com refuses a subdomain", rules: Rules{EmailAddresses: []string{"*@example.com"}}, req: request(emails("jane@mail.example.com")),
			want: notAllowed("email", "jane@mail.example.com", "*@example.com")},
		{name: "*@*.example.com is one subdomain label", rules: Rules{EmailAddresses: []string{"*@*.example.com"}}, req: request(emails("a@mail.example.com", "b@x.y.example.com")),
			want: notAllowed("email", "b@x.y.example.com", "*@*.example.com")},
		{name: "email addresses are compared case-insensitively", rules: Rules{EmailAddresses: []string{"Jane@example.com"}}, req: request(emails("jane@Example.Com"))},
		{name: "an email domain with a trailing dot matches nothing", rules: Rules{EmailAddresses: []string{"*@example.com"}}, req: request(emails("jane@example.com.")),
			want: invalid("email", "jane@example.com.", "its domain is not a DNS name: it ends with a dot; use the name without it")},
		{name: "IDNA in an email domain", rules: Rules{EmailAddresses: []string{"*@bücher.example"}}, req: request(emails("jane@xn--bcher-kva.example"))},

		// uris: scheme and host exactly (host as a DNS name), the path by segment.
		{name: "SPIFFE IDs", rules: Rules{URIs: []string{"spiffe://cluster.local/ns/*/sa/*"}}, req: request(uris(t, "spiffe://cluster.local/ns/default/sa/web", "SPIFFE://Cluster.Local/ns/a.b/sa/c"))},
		{name: "* stays in one path segment", rules: Rules{URIs: []string{"spiffe://cluster.local/ns/*/sa/*"}}, req: request(uris(t, "spiffe://cluster.local/ns/a/sa/b/c")),
			want: notAllowed("URI", "spiffe://cluster.local/ns/a/sa/b/c", "spiffe://cluster.local/ns/*/sa/*")},
		{name: "another trust domain", rules: Rules{URIs: []string{"spiffe://cluster.local/ns/*/sa/*"}}, req: request(uris(t, "spiffe://cluster.local.evil/ns/a/sa/b")),
			want: notAllowed("URI", "spiffe://cluster.local.evil/ns/a/sa/b", "spiffe://cluster.local/ns/*/sa/*")},
		{name: "a query is compared exactly", rules: Rules{URIs: []string{"spiffe://cluster.local/ns/*/sa/*"}}, req: request(uris(t, "spiffe://cluster.local/ns/a/sa/b?x=1")),
			want: notAllowed("URI", "spiffe://cluster.local/ns/a/sa/b?x=1", "spiffe://cluster.local/ns/*/sa/*")},
		{name: "a host wildcard is one label", rules: Rules{URIs: []string{"https://*.example.com/*"}}, req: request(uris(t, "https://a.example.com/x", "https://a.b.example.com/x")),
			want: notAllowed("URI", "https://a.b.example.com/x", "https://*.example.com/*")},
		{name: "a port is compared exactly", rules: Rules{URIs: []string{"https://*.example.com/*"}}, req: request(uris(t, "https://a.example.com:8443/x")),
			want: notAllowed("URI", "https://a.example.com:8443/x", "https://*.example.com/*")},
		{name: "opaque URIs as a whole", rules: Rules{URIs: []string{"urn:uuid:*"}}, req: request(uris(t, "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66"))},

		// commonNames and organizations: the whole value, case-sensitive.
		{name: "a CN pattern crosses dots and slashes", rules: Rules{CommonNames: []string{"system:node:*"}}, req: request(cn("system:node:ip-10-0-0-1.ec2.internal"))},
		{name: "CN is case-sensitive", rules: Rules{CommonNames: []string{"jane"}}, req: request(cn("Jane")),
			want: `subject common name "Jane" is not allowed for signer example.com/s; it must match one of jane`},
		{name: "O * allows any group", rules: Rules{Organizations: []string{"*"}}, req: request(orgs("system:masters", "example.com/team"))},
		{name: "O patterns", rules: Rules{Organizations: []string{"team-*"}}, req: request(orgs("team-a", "ops")),
			want: `subject organization "ops" is not allowed for signer example.com/s; allowed: team-*`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.rules.check(testSigner, tc.req, []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature})
			testkit.ExpectError(t, err, tc.want)
		})
	}
}

// TestValidatePatterns: a pattern that can match nothing, or that means something else
// than it seems, is refused at start with what to change.
func TestValidatePatterns(t *testing.T) {
	config := func(r Rules) *Configuration {
		return &Configuration{Signers: []SignerSpec{{SignerName: testSigner, CA: &CASpec{CertFile: "ca.crt", KeyFile: "ca.key"}, Rules: &r}}}
	}
	cases := []struct {
		name  string
		rules Rules
		want  string
	}{
		{name: "valid", rules: Rules{
			CommonNames: []string{"system:node:*", "*"}, Organizations: []string{"*"},
			DNSNames:       []string{"*", "*.svc", "web-*.Example.com", "*.bücher.example", "_sip._tcp.example.com"},
			EmailAddresses: []string{"*@example.com", "*@*.bücher.example"},
			URIs:           []string{"spiffe://cluster.local/ns/*/sa/*", "https://*.example.com/*", "https://10.0.0.1/x", "urn:uuid:*"},
		}},
		{name: "dnsNames", rules: Rules{DNSNames: []string{"", "a..svc", "*.svc.", ".svc", "a b.svc", "a/*.svc", "[ab].svc", "ünï\u200d.example"}},
			want: `[signers[0].rules.dnsNames[0]: bad pattern "": it is empty, ` +
				`signers[0].rules.dnsNames[1]: bad pattern "a..svc": it has an empty label (two dots in a row, or a leading dot), ` +
				`signers[0].rules.dnsNames[2]: bad pattern "*.svc.": it ends with a dot; remove it (names in certificates have none), ` +
				`signers[0].rules.dnsNames[3]: bad pattern ".svc": it has an empty label (two dots in a row, or a leading dot), ` +
				`signers[0].rules.dnsNames[4]: bad pattern "a b.svc": label "a b" holds ' '; use letters, digits, '-', '_' and the wildcards * and ?, ` +
				`signers[0].rules.dnsNames[5]: bad pattern "a/*.svc": label "a/*" holds '/'; use letters, digits, '-', '_' and the wildcards * and ?, ` +
				`signers[0].rules.dnsNames[6]: bad pattern "[ab].svc": label "[ab]" holds '['; use letters, digits, '-', '_' and the wildcards * and ?, ` +
				`signers[0].rules.dnsNames[7]: bad pattern "ünï\u200d.example": label "ünï\u200d" is not a valid internationalized label (idna: invalid label "ünï\u200d")]`},
		{name: "emailAddresses", rules: Rules{EmailAddresses: []string{"example.com", "a@b@example.com", "@example.com", "*@example..com"}},
			want: `[signers[0].rules.emailAddresses[0]: bad pattern "example.com": it has no "@", ` +
				`signers[0].rules.emailAddresses[1]: bad pattern "a@b@example.com": it has more than one "@", ` +
				`signers[0].rules.emailAddresses[2]: bad pattern "@example.com": it has nothing before the "@", ` +
				`signers[0].rules.emailAddresses[3]: bad pattern "*@example..com": its domain: it has an empty label (two dots in a row, or a leading dot)]`},
		{name: "uris", rules: Rules{URIs: []string{"cluster.local/ns/*", "*://cluster.local/x", "spiffe://cluster..local/x", "%zz"}},
			want: `[signers[0].rules.uris[0]: bad pattern "cluster.local/ns/*": it has no scheme; write it whole, such as spiffe://cluster.local/ns/*/sa/*, ` +
				`signers[0].rules.uris[1]: bad pattern "*://cluster.local/x": it is not a URI (parse "*://cluster.local/x": first path segment in URL cannot contain colon), ` +
				`signers[0].rules.uris[2]: bad pattern "spiffe://cluster..local/x": its host: it has an empty label (two dots in a row, or a leading dot), ` +
				`signers[0].rules.uris[3]: bad pattern "%zz": it is not a URI (parse "%zz": invalid URL escape "%zz")]`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			testkit.ExpectError(t, config(tc.rules).Validate(), tc.want)
		})
	}
}

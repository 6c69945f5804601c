package admin

import (
	"crypto/x509"
	"fmt"
	"strings"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apimachinery/pkg/util/duration"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/cli"
	"kcsr.dev/kcsr/pkg/csr"
)

// decoded is a CSR with its request parsed. Its methods return text for the terminal:
// every value from the request is escaped (cli.Printable).
type decoded struct {
	obj *certificatesv1.CertificateSigningRequest
	req *x509.CertificateRequest
	err error
}

func decode(obj *certificatesv1.CertificateSigningRequest) decoded {
	req, err := csr.ParseRequest(obj.Spec.Request)
	return decoded{obj: obj, req: req, err: err}
}

func (d decoded) cn() string {
	if d.req == nil {
		return "<unreadable>"
	}
	if d.req.Subject.CommonName == "" {
		return "<none>"
	}
	return cli.Printable(d.req.Subject.CommonName)
}

func (d decoded) groups() string {
	if d.req == nil || len(d.req.Subject.Organization) == 0 {
		return "<none>"
	}
	return strings.Join(cli.PrintableAll(d.req.Subject.Organization), ",")
}

// sans lists the subject alternative names; typed prefixes them with their kind
// ("DNS:", "IP:", "URI:", "email:") as openssl does.
func (d decoded) sans(typed bool) string {
	if d.req == nil {
		return "<none>"
	}
	var s []string
	add := func(kind, v string) {
		if typed {
			v = kind + ":" + v
		}
		s = append(s, cli.Printable(v))
	}
	for _, n := range d.req.DNSNames {
		add("DNS", n)
	}
	for _, ip := range d.req.IPAddresses {
		add("IP", ip.String())
	}
	for _, u := range d.req.URIs {
		add("URI", u.String())
	}
	for _, e := range d.req.EmailAddresses {
		add("email", e)
	}
	if len(s) == 0 {
		return "<none>"
	}
	sep := ","
	if typed {
		sep = ", "
	}
	return strings.Join(s, sep)
}

func (d decoded) key() string {
	if d.req == nil {
		return "<unreadable>"
	}
	return csr.KeyAlgorithm(d.req.PublicKey)
}

// requested is spec.expirationSeconds as kubectl shows it.
func requested(obj *certificatesv1.CertificateSigningRequest) string {
	if obj.Spec.ExpirationSeconds == nil {
		return "<none>"
	}
	return duration.HumanDuration(time.Duration(*obj.Spec.ExpirationSeconds) * time.Second)
}

func joinUsages(us []certificatesv1.KeyUsage) string {
	s := make([]string, len(us))
	for i, u := range us {
		s[i] = cli.Printable(string(u))
	}
	return strings.Join(s, ", ")
}

// timeLeft is "23h left" or "EXPIRED 5m ago".
func timeLeft(notAfter, now time.Time) string {
	if left := notAfter.Sub(now); left > 0 {
		return duration.HumanDuration(left) + " left"
	}
	return fmt.Sprintf("EXPIRED %s ago", duration.HumanDuration(now.Sub(notAfter)))
}

// Summary is a CSR decoded for a list (kcsr console's queue): what the certificate would
// say and who asked for it. Every value from the CSR is escaped (cli.Printable).
type Summary struct {
	// ID is the name as stored, to address the CSR (JSON escapes it); Name is the name
	// as shown.
	ID              string   `json:"id"`
	Name            string   `json:"name"`
	UID             string   `json:"uid"`
	Created         string   `json:"created"`
	State           string   `json:"state"`
	Condition       string   `json:"condition"`
	Signer          string   `json:"signer"`
	Requester       string   `json:"requester"`
	RequesterGroups []string `json:"requesterGroups"`
	CN              string   `json:"cn"`
	O               string   `json:"o"`
	SANs            string   `json:"sans"`
	Key             string   `json:"key"`
	Usages          string   `json:"usages"`
	Duration        string   `json:"duration"`
	Verdict         string   `json:"verdict"`
}

// Summarize returns obj's Summary.
func Summarize(obj *certificatesv1.CertificateSigningRequest) Summary {
	d := decode(obj)
	return Summary{
		ID:              obj.Name,
		Name:            cli.Printable(obj.Name),
		UID:             cli.Printable(string(obj.UID)),
		Created:         obj.CreationTimestamp.UTC().Format(time.RFC3339),
		State:           string(csr.StateOf(obj)),
		Condition:       cli.Printable(csr.ConditionString(obj)),
		Signer:          cli.Printable(obj.Spec.SignerName),
		Requester:       cli.Printable(obj.Spec.Username),
		RequesterGroups: cli.PrintableAll(obj.Spec.Groups),
		CN:              d.cn(),
		O:               d.groups(),
		SANs:            d.sans(true),
		Key:             d.key(),
		Usages:          joinUsages(obj.Spec.Usages),
		Duration:        requested(obj),
		Verdict:         cli.Printable(obj.Annotations[kcsrv1alpha1.VerdictAnnotation]),
	}
}

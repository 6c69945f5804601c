package validation

import (
	"bytes"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"kcsr.dev/kcsr/pkg/testkit"
)

const supportedUsagesText = `supported values: "any", "cert sign", "client auth", "code signing", "content commitment", "crl sign", "data encipherment", "decipher only", "digital signature", "email protection", "encipher only", "ipsec end system", "ipsec tunnel", "ipsec user", "key agreement", "key encipherment", "microsoft sgc", "netscape sgc", "ocsp signing", "s/mime", "server auth", "signing", "timestamping"`

// requestError is the text of a spec.request error: the value is the request as JSON, that
// is the base64 text a client sends.
func requestError(request []byte, msg string) string {
	return fmt.Sprintf("spec.request: Invalid value: %q: %s", base64.StdEncoding.EncodeToString(request), msg)
}

// encodingError is the text of a spec.request error for a value that is not exactly one
// CERTIFICATE REQUEST block: the value is never shown.
func encodingError(found string) string {
	return "spec.request: Invalid value: must be exactly one PEM block of type CERTIFICATE REQUEST: found " + found +
		"; send only the certificate request (base64 -w0 < user.csr), never the private key"
}

func certificateError(msg string) string {
	return `status.certificate: Invalid value: "<certificate data>": ` + msg
}

func TestValidateCertificateSigningRequestCreate(t *testing.T) {
	pki := newTestPKI(t)
	block := func(typ string, b []byte, headers map[string]string) []byte {
		return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b, Headers: headers})
	}
	certBlock := block("CERTIFICATE", pki.certDER, nil)
	bundle := []byte("leaf\n" + string(pki.cert) + "intermediate\n" + string(pki.cert2) + "trailer\n")
	wrongTypeRequest := block("CERTIFICATE", []byte("x"), nil)
	truncatedCert := pki.certDER[:len(pki.certDER)-1]

	cases := []struct {
		name string
		csr  *certificatesv1.CertificateSigningRequest
		want []string
	}{
		{name: "valid", csr: newCSR(pki)},
		{
			name: "valid with every optional field",
			csr: newCSR(pki, testkit.SetExpirationSeconds(600), withFinalizers("kubernetes", "orphan", "example.com/x"),
				testkit.SetSignerName("kubernetes.io/kube-apiserver-client"), withConditions(condition("Custom", corev1.ConditionUnknown))),
		},
		{name: "any name is accepted", csr: newCSR(pki, withName("Not a DNS name: 100%/..")), want: nil},
		{name: "generateName is accepted", csr: newCSR(pki, withGenerateName("csr-")), want: nil},
		{name: "standard finalizers", csr: newCSR(pki, withFinalizers("foregroundDeletion", "kubernetes"))},

		// metadata
		{name: "missing name", csr: newCSR(pki, withName("")), want: []string{"metadata.name: Required value: name or generateName is required"}},
		{name: "namespace", csr: newCSR(pki, withNamespace("default")), want: []string{"metadata.namespace: Forbidden: not allowed on this type"}},
		{
			name: "bad label",
			csr:  newCSR(pki, withLabels(map[string]string{"a": "-"})),
			want: []string{`metadata.labels: Invalid value: "-": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`},
		},
		{
			name: "unqualified finalizer",
			csr:  newCSR(pki, withFinalizers("kubernetes", "mine")),
			want: []string{`metadata.finalizers[1]: Invalid value: "mine": name is neither a standard finalizer name nor is it fully qualified`},
		},

		// spec.request
		{name: "no request", csr: newCSR(pki, testkit.SetRequest(nil)), want: []string{encodingError("nothing")}},
		{name: "request not PEM", csr: newCSR(pki, testkit.SetRequest([]byte("hello"))), want: []string{encodingError("no PEM block")}},
		{name: "request of the wrong block type", csr: newCSR(pki, testkit.SetRequest(wrongTypeRequest)), want: []string{encodingError(`a PEM block of type "CERTIFICATE"`)}},
		{
			name: "request that does not parse",
			csr:  newCSR(pki, testkit.SetRequest(block("CERTIFICATE REQUEST", nil, nil))),
			want: []string{"spec.request: Invalid value: asn1: syntax error: sequence truncated"},
		},
		{
			name: "request whose signature does not verify: echoed, as kube-apiserver does",
			csr:  newCSR(pki, testkit.SetRequest(pki.tamperedRequest)),
			want: []string{requestError(pki.tamperedRequest, "x509: ECDSA verification failure")},
		},

		// spec.usages
		{name: "no usages", csr: newCSR(pki, testkit.SetUsages()), want: []string{"spec.usages: Required value"}},
		{
			name: "unknown usages",
			csr:  newCSR(pki, testkit.SetUsages("client auth", "server-auth", "Any")),
			want: []string{
				`spec.usages[1]: Unsupported value: "server-auth": ` + supportedUsagesText,
				`spec.usages[2]: Unsupported value: "Any": ` + supportedUsagesText,
			},
		},
		{
			name: "duplicate usages",
			csr:  newCSR(pki, testkit.SetUsages("client auth", "digital signature", "client auth", "client auth")),
			want: []string{`spec.usages[2]: Duplicate value: "client auth"`, `spec.usages[3]: Duplicate value: "client auth"`},
		},
		{
			name: "unknown duplicate usage",
			csr:  newCSR(pki, testkit.SetUsages("foo", "foo")),
			want: []string{`spec.usages[0]: Unsupported value: "foo": ` + supportedUsagesText, `spec.usages[1]: Unsupported value: "foo": ` + supportedUsagesText, `spec.usages[1]: Duplicate value: "foo"`},
		},

		// spec.signerName
		{name: "no signer name", csr: newCSR(pki, testkit.SetSignerName("")), want: []string{"spec.signerName: Required value"}},
		{
			name: "legacy signer name",
			csr:  newCSR(pki, testkit.SetSignerName("kubernetes.io/legacy-unknown")),
			want: []string{`spec.signerName: Invalid value: "kubernetes.io/legacy-unknown": the legacy signerName is not allowed via this API version`},
		},
		{
			name: "signer name without a path",
			csr:  newCSR(pki, testkit.SetSignerName("example.com")),
			want: []string{`spec.signerName: Invalid value: "example.com": must be a fully qualified domain and path of the form 'example.com/signer-name'`},
		},

		// spec.expirationSeconds
		{name: "expirationSeconds 600", csr: newCSR(pki, testkit.SetExpirationSeconds(600))},
		{
			name: "expirationSeconds 599",
			csr:  newCSR(pki, testkit.SetExpirationSeconds(599)),
			want: []string{"spec.expirationSeconds: Invalid value: 599: may not specify a duration less than 600 seconds (10 minutes)"},
		},
		{
			name: "negative expirationSeconds",
			csr:  newCSR(pki, testkit.SetExpirationSeconds(-1)),
			want: []string{"spec.expirationSeconds: Invalid value: -1: may not specify a duration less than 600 seconds (10 minutes)"},
		},

		// status.conditions
		{
			name: "condition without type",
			csr:  newCSR(pki, withConditions(condition("", corev1.ConditionTrue))),
			want: []string{"status.conditions[0].type: Required value"},
		},
		{
			name: "condition without status",
			csr:  newCSR(pki, withConditions(condition(certificatesv1.CertificateApproved, ""), condition("Custom", ""))),
			want: []string{"status.conditions[0].status: Required value", "status.conditions[1].status: Required value"},
		},
		{
			name: "Approved, Denied and Failed may only be True",
			csr: newCSR(pki, withConditions(
				condition(certificatesv1.CertificateApproved, corev1.ConditionFalse),
				condition(certificatesv1.CertificateFailed, corev1.ConditionUnknown),
			)),
			want: []string{
				`status.conditions[0].status: Unsupported value: "False": supported values: "True"`,
				`status.conditions[1].status: Unsupported value: "Unknown": supported values: "True"`,
			},
		},
		{
			name: "other conditions may be True, False or Unknown",
			csr: newCSR(pki, withConditions(
				condition("A", corev1.ConditionTrue), condition("B", corev1.ConditionFalse), condition("C", corev1.ConditionUnknown), condition("D", "Maybe"),
			)),
			want: []string{`status.conditions[3].status: Unsupported value: "Maybe": supported values: "False", "True", "Unknown"`},
		},
		{
			name: "duplicate condition types",
			csr:  newCSR(pki, withConditions(failed(), condition("Custom", corev1.ConditionTrue), failed(), condition("Custom", corev1.ConditionFalse))),
			want: []string{`status.conditions[2].type: Duplicate value: "Failed"`, `status.conditions[3].type: Duplicate value: "Custom"`},
		},
		{
			name: "Approved and Denied",
			csr:  newCSR(pki, withConditions(approved(), failed(), denied())),
			want: []string{`status.conditions[2].type: Invalid value: "Denied": Approved and Denied conditions are mutually exclusive`},
		},
		{
			name: "Denied, Approved and Approved again",
			csr:  newCSR(pki, withConditions(denied(), approved(), approved())),
			want: []string{
				`status.conditions[1].type: Invalid value: "Approved": Approved and Denied conditions are mutually exclusive`,
				`status.conditions[2].type: Invalid value: "Approved": Approved and Denied conditions are mutually exclusive`,
				`status.conditions[2].type: Duplicate value: "Approved"`,
			},
		},

		// status.certificate
		{name: "certificate", csr: newCSR(pki, testkit.SetCertificate(pki.cert))},
		{name: "certificate chain with text around it", csr: newCSR(pki, testkit.SetCertificate(bundle))},
		{name: "certificate that is not PEM", csr: newCSR(pki, testkit.SetCertificate(pki.certDER)), want: []string{certificateError("must contain at least one CERTIFICATE PEM block")}},
		{
			name: "certificate of the wrong block type",
			csr:  newCSR(pki, testkit.SetCertificate(append(certBlock, pki.request...))),
			want: []string{certificateError(`only CERTIFICATE PEM blocks are allowed, found "CERTIFICATE REQUEST"`)},
		},
		{
			name: "certificate with PEM headers",
			csr:  newCSR(pki, testkit.SetCertificate(block("CERTIFICATE", pki.certDER, map[string]string{"Proc-Type": "4,ENCRYPTED"}))),
			want: []string{certificateError("no PEM block headers are permitted")},
		},
		{
			name: "empty certificate block",
			csr:  newCSR(pki, testkit.SetCertificate(block("CERTIFICATE", nil, nil))),
			want: []string{certificateError("found CERTIFICATE PEM block containing 0 certificates")},
		},
		{
			name: "certificate that does not parse",
			csr:  newCSR(pki, testkit.SetCertificate(block("CERTIFICATE", truncatedCert, nil))),
			want: []string{certificateError("x509: malformed certificate")},
		},

		{
			name: "errors come in field order",
			csr: newCSR(pki, withNamespace("ns"), testkit.SetRequest([]byte("hello")), testkit.SetUsages("foo"), testkit.SetSignerName("x"), testkit.SetExpirationSeconds(1),
				withConditions(approved(), denied()), testkit.SetCertificate([]byte("junk"))),
			want: []string{
				"metadata.namespace: Forbidden: not allowed on this type",
				encodingError("no PEM block"),
				`spec.usages[0]: Unsupported value: "foo": ` + supportedUsagesText,
				`spec.signerName: Invalid value: "x": must be a fully qualified domain and path of the form 'example.com/signer-name'`,
				"spec.expirationSeconds: Invalid value: 1: may not specify a duration less than 600 seconds (10 minutes)",
				`status.conditions[1].type: Invalid value: "Denied": Approved and Denied conditions are mutually exclusive`,
				certificateError("must contain at least one CERTIFICATE PEM block"),
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := ValidateCertificateSigningRequestCreate(tc.csr)
			if diff := cmp.Diff(tc.want, errorStrings(got)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

// updateCase is one update through one write path.
type updateCase struct {
	name     string
	old, new *certificatesv1.CertificateSigningRequest
	want     []string
}

func runUpdateCases(t *testing.T, validate func(newCSR, oldCSR *certificatesv1.CertificateSigningRequest) field.ErrorList, cases []updateCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := validate(tc.new, tc.old)
			if diff := cmp.Diff(tc.want, errorStrings(got)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

// modifyError is the text of the error for a changed Approved or Denied condition: the
// message carries the diff of the old and new conditions of that type.
func modifyError(t certificatesv1.RequestConditionType, oldConditions, newConditions []certificatesv1.CertificateSigningRequestCondition) string {
	return fmt.Sprintf("status.conditions: Forbidden: updates may not modify a condition of type %q\n%v", t, cmp.Diff(oldConditions, newConditions))
}

func TestValidateCertificateSigningRequestUpdate(t *testing.T) {
	pki := newTestPKI(t)
	approvedByAlice, approvedByBob := withMessage(approved(), "alice"), withMessage(approved(), "bob")

	runUpdateCases(t, ValidateCertificateSigningRequestUpdate, []updateCase{
		{name: "no change", old: newCSR(pki), new: newCSR(pki)},
		{name: "metadata change", old: newCSR(pki), new: newCSR(pki, withLabels(map[string]string{"team": "a"}), withFinalizers("example.com/f"))},
		{name: "no resourceVersion", old: newCSR(pki), new: newCSR(pki, withResourceVersion("")), want: []string{`metadata.resourceVersion: Invalid value: "": must be specified for an update`}},
		{name: "rename", old: newCSR(pki), new: newCSR(pki, withName("csr-2")), want: []string{`metadata.name: Invalid value: "csr-2": field is immutable`}},
		{
			name: "an unqualified finalizer is reported by both metadata checks",
			old:  newCSR(pki),
			new:  newCSR(pki, withFinalizers("mine")),
			want: []string{
				`metadata.finalizers[0]: Invalid value: "mine": name is neither a standard finalizer name nor is it fully qualified`,
				`metadata.finalizers[0]: Invalid value: "mine": name is neither a standard finalizer name nor is it fully qualified`,
			},
		},

		// spec is validated again on every update
		{
			name: "a stored bad request is not tolerated",
			old:  newCSR(pki, testkit.SetRequest([]byte("hello"))),
			new:  newCSR(pki, testkit.SetRequest([]byte("hello"))),
			want: []string{"spec.request: Invalid value: PEM block type must be CERTIFICATE REQUEST"},
		},
		{
			name: "a stored request with a key after it predates the one-block rule: tolerated",
			old:  newCSR(pki, testkit.SetRequest(append(bytes.Clone(pki.request), pki.keyPEM...))),
			new:  newCSR(pki, testkit.SetRequest(append(bytes.Clone(pki.request), pki.keyPEM...))),
		},
		{
			// kube-apiserver verifies the signature again on every update; kcsr verified it
			// when the request was stored, and spec is immutable (docs/compatibility.md).
			name: "a stored request's signature is not verified again",
			old:  newCSR(pki, testkit.SetRequest(append([]byte("text\n"), pki.tamperedRequest...))),
			new:  newCSR(pki, testkit.SetRequest(append([]byte("text\n"), pki.tamperedRequest...))),
		},
		{
			name: "a new request is held to the rule even when the stored one was not",
			old:  newCSR(pki, testkit.SetRequest(append(bytes.Clone(pki.request), pki.keyPEM...))),
			new:  newCSR(pki, testkit.SetRequest(append(bytes.Clone(pki.request), []byte("text\n")...))),
			want: []string{encodingError("text after the PEM block")},
		},
		{
			name: "a stored short expirationSeconds is not tolerated",
			old:  newCSR(pki, testkit.SetExpirationSeconds(60)),
			new:  newCSR(pki, testkit.SetExpirationSeconds(60)),
			want: []string{"spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 600 seconds (10 minutes)"},
		},
		{name: "stored unknown usages are tolerated", old: newCSR(pki, testkit.SetUsages("foo")), new: newCSR(pki, testkit.SetUsages("foo", "bar"))},
		{
			name: "new unknown usages are not",
			old:  newCSR(pki),
			new:  newCSR(pki, testkit.SetUsages("client auth", "foo")),
			want: []string{`spec.usages[1]: Unsupported value: "foo": ` + supportedUsagesText},
		},
		{name: "stored duplicate usages are tolerated", old: newCSR(pki, testkit.SetUsages("client auth", "client auth")), new: newCSR(pki, testkit.SetUsages("client auth", "client auth"))},
		{
			name: "new duplicate usages are not",
			old:  newCSR(pki),
			new:  newCSR(pki, testkit.SetUsages("client auth", "client auth")),
			want: []string{`spec.usages[1]: Duplicate value: "client auth"`},
		},
		{
			name: "stored duplicate usages do not excuse unknown ones",
			old:  newCSR(pki, testkit.SetUsages("client auth", "client auth")),
			new:  newCSR(pki, testkit.SetUsages("client auth", "client auth", "foo")),
			want: []string{`spec.usages[2]: Unsupported value: "foo": ` + supportedUsagesText},
		},
		{name: "a stored legacy signer name is tolerated", old: newCSR(pki, testkit.SetSignerName("kubernetes.io/legacy-unknown")), new: newCSR(pki, testkit.SetSignerName("kubernetes.io/legacy-unknown"))},
		{
			name: "a new legacy signer name is not",
			old:  newCSR(pki),
			new:  newCSR(pki, testkit.SetSignerName("kubernetes.io/legacy-unknown")),
			want: []string{`spec.signerName: Invalid value: "kubernetes.io/legacy-unknown": the legacy signerName is not allowed via this API version`},
		},

		// conditions
		{name: "a stored empty condition type is tolerated", old: newCSR(pki, withConditions(condition("", "True"))), new: newCSR(pki, withConditions(condition("", "False"), failed()))},
		{
			name: "a new empty condition type is not",
			old:  newCSR(pki),
			new:  newCSR(pki, withConditions(condition("", "True"))),
			want: []string{"status.conditions[0].type: Required value"},
		},
		{name: "stored duplicate condition types are tolerated", old: newCSR(pki, withConditions(failed(), failed())), new: newCSR(pki, withConditions(failed(), failed(), failed()))},
		{
			name: "new duplicate condition types are not",
			old:  newCSR(pki, withConditions(failed())),
			new:  newCSR(pki, withConditions(failed(), failed())),
			want: []string{`status.conditions[1].type: Duplicate value: "Failed"`},
		},
		{name: "stored Approved and Denied are tolerated", old: newCSR(pki, withConditions(approved(), denied())), new: newCSR(pki, withConditions(approved(), denied()))},
		{name: "adding Failed", old: newCSR(pki, withConditions(approved())), new: newCSR(pki, withConditions(approved(), failed()))},
		{
			name: "adding Approved",
			old:  newCSR(pki),
			new:  newCSR(pki, withConditions(approved())),
			want: []string{`status.conditions: Forbidden: updates may not add a condition of type "Approved"`},
		},
		{
			name: "adding Denied",
			old:  newCSR(pki, withConditions(failed())),
			new:  newCSR(pki, withConditions(failed(), denied())),
			want: []string{`status.conditions: Forbidden: updates may not add a condition of type "Denied"`},
		},
		{
			name: "modifying Approved",
			old:  newCSR(pki, withConditions(approvedByAlice)),
			new:  newCSR(pki, withConditions(approvedByBob)),
			want: []string{modifyError("Approved",
				[]certificatesv1.CertificateSigningRequestCondition{approvedByAlice},
				[]certificatesv1.CertificateSigningRequestCondition{approvedByBob})},
		},
		{name: "reordering conditions", old: newCSR(pki, withConditions(approved(), failed())), new: newCSR(pki, withConditions(failed(), approved()))},
		{
			name: "removing Approved",
			old:  newCSR(pki, withConditions(approved())),
			new:  newCSR(pki),
			want: []string{`status.conditions: Forbidden: updates may not remove a condition of type "Approved"`},
		},
		{
			name: "replacing Approved with Denied",
			old:  newCSR(pki, withConditions(approved())),
			new:  newCSR(pki, withConditions(denied())),
			want: []string{
				`status.conditions: Forbidden: updates may not remove a condition of type "Approved"`,
				`status.conditions: Forbidden: updates may not add a condition of type "Denied"`,
			},
		},
		{
			name: "removing Failed",
			old:  newCSR(pki, withConditions(failed())),
			new:  newCSR(pki),
			want: []string{`status.conditions: Forbidden: updates may not remove a condition of type "Failed"`},
		},
		{name: "removing other conditions", old: newCSR(pki, withConditions(condition("Custom", "True"))), new: newCSR(pki)},

		// certificate
		{
			name: "setting the certificate",
			old:  newCSR(pki, withConditions(approved())),
			new:  newCSR(pki, withConditions(approved()), testkit.SetCertificate(pki.cert)),
			want: []string{"status.certificate: Forbidden: updates may not set certificate content"},
		},
		{
			name: "setting a bad certificate",
			old:  newCSR(pki),
			new:  newCSR(pki, testkit.SetCertificate([]byte("junk"))),
			want: []string{certificateError("must contain at least one CERTIFICATE PEM block"), "status.certificate: Forbidden: updates may not set certificate content"},
		},
		{name: "a stored bad certificate is tolerated", old: newCSR(pki, testkit.SetCertificate([]byte("junk"))), new: newCSR(pki, testkit.SetCertificate([]byte("junk")))},

		{
			name: "errors come in order: object, conditions, certificate, metadata update",
			old:  newCSR(pki, withConditions(approved())),
			new:  newCSR(pki, withName("csr-2"), testkit.SetUsages("foo"), withConditions(denied()), testkit.SetCertificate(pki.cert)),
			want: []string{
				`spec.usages[0]: Unsupported value: "foo": ` + supportedUsagesText,
				`status.conditions: Forbidden: updates may not remove a condition of type "Approved"`,
				`status.conditions: Forbidden: updates may not add a condition of type "Denied"`,
				"status.certificate: Forbidden: updates may not set certificate content",
				`metadata.name: Invalid value: "csr-2": field is immutable`,
			},
		},
	})
}

func TestValidateCertificateSigningRequestStatusUpdate(t *testing.T) {
	pki := newTestPKI(t)
	deniedByAlice, deniedByBob := withMessage(denied(), "alice"), withMessage(denied(), "bob")

	runUpdateCases(t, ValidateCertificateSigningRequestStatusUpdate, []updateCase{
		{name: "issuing", old: newCSR(pki, withConditions(approved())), new: newCSR(pki, withConditions(approved()), testkit.SetCertificate(pki.cert))},
		{name: "issuing a chain", old: newCSR(pki, withConditions(approved())), new: newCSR(pki, withConditions(approved()), testkit.SetCertificate(append(pki.cert, pki.cert2...)))},
		{
			name: "issuing a bad certificate",
			old:  newCSR(pki, withConditions(approved())),
			new:  newCSR(pki, withConditions(approved()), testkit.SetCertificate(pki.request)),
			want: []string{certificateError(`only CERTIFICATE PEM blocks are allowed, found "CERTIFICATE REQUEST"`)},
		},
		{
			name: "replacing the certificate",
			old:  newCSR(pki, withConditions(approved()), testkit.SetCertificate(pki.cert)),
			new:  newCSR(pki, withConditions(approved()), testkit.SetCertificate(pki.cert2)),
			want: []string{"status.certificate: Forbidden: updates may not modify existing certificate content"},
		},
		{
			name: "clearing the certificate",
			old:  newCSR(pki, withConditions(approved()), testkit.SetCertificate(pki.cert)),
			new:  newCSR(pki, withConditions(approved())),
			want: []string{"status.certificate: Forbidden: updates may not modify existing certificate content"},
		},
		{
			name: "replacing a stored bad certificate with a bad one",
			old:  newCSR(pki, testkit.SetCertificate([]byte("junk"))),
			new:  newCSR(pki, testkit.SetCertificate([]byte("more junk"))),
			want: []string{"status.certificate: Forbidden: updates may not modify existing certificate content"},
		},
		{name: "a stored bad certificate is tolerated", old: newCSR(pki, testkit.SetCertificate([]byte("junk"))), new: newCSR(pki, testkit.SetCertificate([]byte("junk")), withConditions(failed()))},
		{name: "failing", old: newCSR(pki, withConditions(approved())), new: newCSR(pki, withConditions(approved(), withMessage(failed(), "signer refused")))},
		{
			name: "failing with status False",
			old:  newCSR(pki, withConditions(approved())),
			new:  newCSR(pki, withConditions(approved(), condition(certificatesv1.CertificateFailed, corev1.ConditionFalse))),
			want: []string{`status.conditions[1].status: Unsupported value: "False": supported values: "True"`},
		},
		{
			name: "removing Failed",
			old:  newCSR(pki, withConditions(approved(), failed())),
			new:  newCSR(pki, withConditions(approved())),
			want: []string{`status.conditions: Forbidden: updates may not remove a condition of type "Failed"`},
		},
		{
			name: "approving",
			old:  newCSR(pki),
			new:  newCSR(pki, withConditions(approved())),
			want: []string{`status.conditions: Forbidden: updates may not add a condition of type "Approved"`},
		},
		{
			name: "modifying Denied",
			old:  newCSR(pki, withConditions(deniedByAlice)),
			new:  newCSR(pki, withConditions(deniedByBob)),
			want: []string{modifyError("Denied",
				[]certificatesv1.CertificateSigningRequestCondition{deniedByAlice},
				[]certificatesv1.CertificateSigningRequestCondition{deniedByBob})},
		},
		{
			name: "issuing on a stored legacy signer with unknown usages",
			old:  newCSR(pki, testkit.SetSignerName("kubernetes.io/legacy-unknown"), testkit.SetUsages("foo", "foo"), withConditions(approved())),
			new:  newCSR(pki, testkit.SetSignerName("kubernetes.io/legacy-unknown"), testkit.SetUsages("foo", "foo"), withConditions(approved()), testkit.SetCertificate(pki.cert)),
		},
	})
}

func TestValidateCertificateSigningRequestApprovalUpdate(t *testing.T) {
	pki := newTestPKI(t)
	approvedByAlice, approvedByBob := withMessage(approved(), "alice"), withMessage(approved(), "bob")

	runUpdateCases(t, ValidateCertificateSigningRequestApprovalUpdate, []updateCase{
		{name: "approving", old: newCSR(pki), new: newCSR(pki, withConditions(approved()))},
		{name: "denying", old: newCSR(pki), new: newCSR(pki, withConditions(denied()))},
		{name: "changing the approval message", old: newCSR(pki, withConditions(approvedByAlice)), new: newCSR(pki, withConditions(approvedByBob))},
		{
			name: "denying an approved request",
			old:  newCSR(pki, withConditions(approved())),
			new:  newCSR(pki, withConditions(approved(), denied())),
			want: []string{`status.conditions[1].type: Invalid value: "Denied": Approved and Denied conditions are mutually exclusive`},
		},
		{
			name: "replacing Approved with Denied",
			old:  newCSR(pki, withConditions(approved())),
			new:  newCSR(pki, withConditions(denied())),
			want: []string{`status.conditions: Forbidden: updates may not remove a condition of type "Approved"`},
		},
		{
			name: "removing Denied",
			old:  newCSR(pki, withConditions(denied())),
			new:  newCSR(pki),
			want: []string{`status.conditions: Forbidden: updates may not remove a condition of type "Denied"`},
		},
		{name: "stored Approved and Denied are tolerated", old: newCSR(pki, withConditions(approved(), denied())), new: newCSR(pki, withConditions(approved(), denied(), failed()))},
		{
			name: "approving twice",
			old:  newCSR(pki, withConditions(approved())),
			new:  newCSR(pki, withConditions(approved(), approved())),
			want: []string{`status.conditions[1].type: Duplicate value: "Approved"`},
		},
		{
			name: "approving with status False",
			old:  newCSR(pki),
			new:  newCSR(pki, withConditions(condition(certificatesv1.CertificateApproved, corev1.ConditionFalse))),
			want: []string{`status.conditions[0].status: Unsupported value: "False": supported values: "True"`},
		},
		{
			name: "approving without status",
			old:  newCSR(pki),
			new:  newCSR(pki, withConditions(condition(certificatesv1.CertificateApproved, ""))),
			want: []string{"status.conditions[0].status: Required value"},
		},
		{
			name: "setting the certificate",
			old:  newCSR(pki, withConditions(approved())),
			new:  newCSR(pki, withConditions(approved()), testkit.SetCertificate(pki.cert)),
			want: []string{"status.certificate: Forbidden: updates may not set certificate content"},
		},
	})
}

// TestParsedRequest: the create and /approval validations hand back the request they
// parsed, so that a caller deciding and signing in the same request parses it once; none
// when it does not parse.
func TestParsedRequest(t *testing.T) {
	pki := newTestPKI(t)
	good := newCSR(pki)
	errs, req := ValidateCertificateSigningRequestCreateParsed(good)
	if len(errs) != 0 || req == nil || !bytes.Equal(req.Raw, mustDER(t, good.Spec.Request)) {
		t.Errorf("create: errors %v, request %v; want the parsed request", errs, req != nil)
	}
	bad := newCSR(pki)
	bad.Spec.Request = []byte("not a request")
	if _, req := ValidateCertificateSigningRequestCreateParsed(bad); req != nil {
		t.Errorf("create of a request that does not parse handed back a request")
	}
	errs, req = ValidateCertificateSigningRequestApprovalUpdateParsed(newCSR(pki, withConditions(approved())), good)
	if len(errs) != 0 || req == nil || !bytes.Equal(req.Raw, mustDER(t, good.Spec.Request)) {
		t.Errorf("approval: errors %v, request %v; want the parsed request", errs, req != nil)
	}
}

func mustDER(t *testing.T, request []byte) []byte {
	t.Helper()
	block, _ := pem.Decode(request)
	if block == nil {
		t.Fatal("no PEM block")
	}
	return block.Bytes
}

package doctor

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"kcsr.dev/kcsr/pkg/apis/certificates/validation"
	"kcsr.dev/kcsr/pkg/cli"
	"kcsr.dev/kcsr/pkg/signer"
)

// Manifest is what CheckManifest learnt from a file.
type Manifest struct {
	// Request is the parsed request, nil when it cannot be parsed.
	Request *x509.CertificateRequest
	// Findings are the findings, in the order of the fields.
	Findings []Finding
}

// CheckManifest checks a CertificateSigningRequest manifest the way the API server would
// read it, and a little more, from its raw bytes: the YAML is parsed into plain values,
// not through the typed API, so that the spaces YAML folded into spec.request and the raw
// text of every field are still visible. A file holding a bare PEM request (user.csr) is
// checked as such. name names the file in findings. profiles are the custom signers of a
// kcsr signer configuration (nil when unknown).
func CheckManifest(name string, data []byte, profiles map[string]*signer.Profile) Manifest {
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("-----BEGIN")) {
		req, findings := CheckRequestPEM(data)
		return Manifest{Request: req, Findings: findings}
	}
	var obj map[string]any
	if err := yaml.Unmarshal(data, &obj); err != nil {
		return Manifest{Findings: []Finding{problem(name,
			fmt.Sprintf("is not valid YAML (%v)", strings.TrimPrefix(err.Error(), "error converting YAML to JSON: ")),
			"if spec.request was pasted over several lines, "+fixEncodeOneLine)}}
	}
	if obj == nil {
		return Manifest{Findings: []Finding{problem(name, "is empty", "write a CertificateSigningRequest manifest, or use "+cli.Self+" request")}}
	}

	var findings []Finding
	switch apiVersion, _ := obj["apiVersion"].(string); apiVersion {
	case "certificates.k8s.io/v1":
	case "certificates.k8s.io/v1beta1":
		findings = append(findings, problem("apiVersion", "certificates.k8s.io/v1beta1 is no longer served (removed in Kubernetes 1.22)",
			"use apiVersion: certificates.k8s.io/v1, where spec.signerName and spec.usages are required"))
	default:
		findings = append(findings, problem("apiVersion", fmt.Sprintf("is %q", apiVersion), "use apiVersion: certificates.k8s.io/v1"))
	}
	if kind, _ := obj["kind"].(string); kind != "CertificateSigningRequest" {
		findings = append(findings, problem("kind", fmt.Sprintf("is %q", kind), "use kind: CertificateSigningRequest"))
	}
	spec, isMap := obj["spec"].(map[string]any)
	if !isMap {
		return Manifest{Findings: append(findings, problem("spec", "is missing", "add spec with request, signerName and usages"))}
	}

	data, requestFindings := CheckRequestText(spec["request"])
	findings = append(findings, requestFindings...)
	var req *x509.CertificateRequest
	if data != nil {
		var pemFindings []Finding
		req, pemFindings = CheckRequestPEM(data)
		findings = append(findings, pemFindings...)
	}

	// The rest of the object, typed, through Kubernetes' validation; spec.request was
	// checked above, with the raw text at hand.
	if data != nil {
		spec["request"] = base64.StdEncoding.EncodeToString(data)
	} else {
		delete(spec, "request")
	}
	typed, unknown := decodeCSR(obj)
	if unknown != "" {
		findings = append(findings, problem(name, unknown, "check the field's spelling: the API server refuses unknown fields"))
	}
	for _, e := range validation.ValidateCertificateSigningRequestCreate(typed) {
		if e.Field == requestField {
			continue
		}
		findings = append(findings, validationFinding(e))
	}
	findings = append(findings, CheckSignerRules(typed.Spec.SignerName, req, typed.Spec.Usages, profiles)...)
	return Manifest{Request: req, Findings: findings}
}

// decodeCSR decodes obj into the typed object, and names the first unknown field.
func decodeCSR(obj map[string]any) (*certificatesv1.CertificateSigningRequest, string) {
	raw, err := json.Marshal(obj)
	if err != nil {
		return &certificatesv1.CertificateSigningRequest{}, err.Error()
	}
	typed := &certificatesv1.CertificateSigningRequest{}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	unknown := ""
	if err := dec.Decode(typed); err != nil {
		unknown = strings.TrimPrefix(err.Error(), "json: ")
		typed = &certificatesv1.CertificateSigningRequest{}
		if err := json.Unmarshal(raw, typed); err != nil {
			return &certificatesv1.CertificateSigningRequest{}, strings.TrimPrefix(err.Error(), "json: ")
		}
	}
	return typed, unknown
}

// validationFinding turns a refusal of Kubernetes' validation into a finding with a fix.
func validationFinding(e *field.Error) Finding {
	fix := "the API server refuses the CSR at create"
	switch {
	case e.Field == signerNameField && e.Type == field.ErrorTypeRequired:
		fix = "add signerName: kubernetes.io/kube-apiserver-client for a user's client certificate"
	case e.Field == signerNameField && strings.Contains(e.Detail, "legacy"):
		fix = "use kubernetes.io/kube-apiserver-client for a user's client certificate"
	case e.Field == usagesField && e.Type == field.ErrorTypeRequired:
		fix = "add usages: [client auth] for a user's client certificate"
	case strings.HasPrefix(e.Field, usagesField) && e.Type == field.ErrorTypeNotSupported:
		fix = "use the names Kubernetes knows, e.g. client auth, server auth, digital signature, key encipherment"
	case e.Field == "spec.expirationSeconds":
		fix = "ask for 600 seconds or more (86400 is one day)"
	case e.Field == "metadata.name":
		fix = "give the CSR a name (metadata.name), e.g. the user's name"
	}
	cause := e.ErrorBody()
	return problem(e.Field, cause, fix)
}

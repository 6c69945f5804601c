package validation

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/go-cmp/cmp"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"kcsr.dev/kcsr/pkg/csr"
	"kcsr.dev/kcsr/pkg/pemutil"
)

const certificateBlockType = pemutil.CertificateBlockType

var (
	metadataPath       = field.NewPath("metadata")
	specPath           = field.NewPath("spec")
	requestPath        = specPath.Child("request")
	conditionsPath     = field.NewPath("status", "conditions")
	certificatePath    = field.NewPath("status", "certificate")
	supportedUsages    = csr.SupportedUsages()
	trueOnly           = []corev1.ConditionStatus{corev1.ConditionTrue}
	anyConditionStatus = []corev1.ConditionStatus{corev1.ConditionFalse, corev1.ConditionTrue, corev1.ConditionUnknown}
	decisionTypes      = []certificatesv1.RequestConditionType{certificatesv1.CertificateApproved, certificatesv1.CertificateDenied}
	permanentTypes     = []certificatesv1.RequestConditionType{certificatesv1.CertificateApproved, certificatesv1.CertificateDenied, certificatesv1.CertificateFailed}
	standardFinalizers = []string{string(corev1.FinalizerKubernetes), metav1.FinalizerOrphanDependents, metav1.FinalizerDeleteDependents}
)

// options says what a write may do. The first two depend on the write path; the others
// tolerate problems that the stored object already has, so that old data stays writable.
type options struct {
	// allowSettingApprovalConditions lets the write add or change Approved and Denied
	// conditions (/approval).
	allowSettingApprovalConditions bool
	// allowSettingCertificate lets the write set status.certificate (/status).
	allowSettingCertificate bool

	// requestStored reads spec.request as the stored one it is (spec is immutable): as
	// Kubernetes reads it (first block only, so one that predates the exactly-one-block rule
	// stays writable), without verifying its signature again (it was verified when stored).
	requestStored                bool
	allowBothApprovedAndDenied   bool
	allowLegacySignerName        bool
	allowDuplicateConditionTypes bool
	allowEmptyConditionType      bool
	allowArbitraryCertificate    bool
	allowUnknownUsages           bool
	allowDuplicateUsages         bool

	// parsed, when set, receives the request as validation parsed it, so that the
	// caller need not parse it again.
	parsed **x509.CertificateRequest
}

// toleratedProblems returns the options derived from the stored object oldCSR (nil on
// create); the write-path options are left false.
func toleratedProblems(newCSR, oldCSR *certificatesv1.CertificateSigningRequest) options {
	if oldCSR == nil {
		return options{}
	}
	return options{
		requestStored:                bytes.Equal(newCSR.Spec.Request, oldCSR.Spec.Request),
		allowBothApprovedAndDenied:   csr.HasCondition(oldCSR, certificatesv1.CertificateApproved) && csr.HasCondition(oldCSR, certificatesv1.CertificateDenied),
		allowLegacySignerName:        oldCSR.Spec.SignerName == csr.LegacyUnknownSignerName,
		allowDuplicateConditionTypes: hasDuplicateConditionTypes(oldCSR.Status.Conditions),
		allowEmptyConditionType:      slices.ContainsFunc(oldCSR.Status.Conditions, func(c certificatesv1.CertificateSigningRequestCondition) bool { return c.Type == "" }),
		// A write that leaves the certificate alone, or whose stored certificate is
		// already invalid, is not held to the certificate content rules.
		allowArbitraryCertificate: bytes.Equal(newCSR.Status.Certificate, oldCSR.Status.Certificate) || validateCertificate(oldCSR.Status.Certificate) != nil,
		allowUnknownUsages:        slices.ContainsFunc(oldCSR.Spec.Usages, func(u certificatesv1.KeyUsage) bool { return !csr.KnownUsage(u) }),
		allowDuplicateUsages:      hasDuplicates(oldCSR.Spec.Usages),
	}
}

// ValidateCertificateRequestName is the name validator of CertificateSigningRequests: any
// name is acceptable, so it reports nothing.
func ValidateCertificateRequestName(name string, prefix bool) []string {
	return nil
}

// ValidateCertificateSigningRequestCreate validates a CertificateSigningRequest to be created.
func ValidateCertificateSigningRequestCreate(newCSR *certificatesv1.CertificateSigningRequest) field.ErrorList {
	errs, _ := ValidateCertificateSigningRequestCreateParsed(newCSR)
	return errs
}

// ValidateCertificateSigningRequestCreateParsed is ValidateCertificateSigningRequestCreate,
// and returns the request it parsed and verified (nil when it did not).
func ValidateCertificateSigningRequestCreateParsed(newCSR *certificatesv1.CertificateSigningRequest) (field.ErrorList, *x509.CertificateRequest) {
	var req *x509.CertificateRequest
	opts := toleratedProblems(newCSR, nil)
	opts.parsed = &req
	return validateCertificateSigningRequest(newCSR, opts), req
}

// ValidateCertificateSigningRequestUpdate validates an update of the main resource, where
// neither Approved/Denied conditions nor the certificate may change.
func ValidateCertificateSigningRequestUpdate(newCSR, oldCSR *certificatesv1.CertificateSigningRequest) field.ErrorList {
	return validateCertificateSigningRequestUpdate(newCSR, oldCSR, toleratedProblems(newCSR, oldCSR))
}

// ValidateCertificateSigningRequestStatusUpdate validates an update through /status, where
// the certificate may be set once.
func ValidateCertificateSigningRequestStatusUpdate(newCSR, oldCSR *certificatesv1.CertificateSigningRequest) field.ErrorList {
	opts := toleratedProblems(newCSR, oldCSR)
	opts.allowSettingCertificate = true
	return validateCertificateSigningRequestUpdate(newCSR, oldCSR, opts)
}

// ValidateCertificateSigningRequestApprovalUpdate validates an update through /approval,
// where Approved and Denied conditions may be added or changed.
func ValidateCertificateSigningRequestApprovalUpdate(newCSR, oldCSR *certificatesv1.CertificateSigningRequest) field.ErrorList {
	errs, _ := ValidateCertificateSigningRequestApprovalUpdateParsed(newCSR, oldCSR)
	return errs
}

// ValidateCertificateSigningRequestApprovalUpdateParsed is
// ValidateCertificateSigningRequestApprovalUpdate, and returns the request it parsed (nil
// when it did not).
func ValidateCertificateSigningRequestApprovalUpdateParsed(newCSR, oldCSR *certificatesv1.CertificateSigningRequest) (field.ErrorList, *x509.CertificateRequest) {
	var req *x509.CertificateRequest
	opts := toleratedProblems(newCSR, oldCSR)
	opts.allowSettingApprovalConditions = true
	opts.parsed = &req
	return validateCertificateSigningRequestUpdate(newCSR, oldCSR, opts), req
}

func validateCertificateSigningRequest(obj *certificatesv1.CertificateSigningRequest, opts options) field.ErrorList {
	errs := validateObjectMeta(&obj.ObjectMeta)
	errs = append(errs, validateSpec(&obj.Spec, opts)...)
	errs = append(errs, validateConditions(obj.Status.Conditions, opts)...)
	if !opts.allowArbitraryCertificate {
		if err := validateCertificate(obj.Status.Certificate); err != nil {
			errs = append(errs, field.Invalid(certificatePath, "<certificate data>", err.Error()))
		}
	}
	return errs
}

// validateObjectMeta is the metadata validation of a cluster-scoped Kubernetes object,
// including kube-apiserver's rule that a finalizer name without a "/" must be a standard one.
func validateObjectMeta(meta *metav1.ObjectMeta) field.ErrorList {
	errs := apimachineryvalidation.ValidateObjectMeta(meta, false, ValidateCertificateRequestName, metadataPath)
	return append(errs, validateFinalizerNames(meta.Finalizers)...)
}

func validateObjectMetaUpdate(newMeta, oldMeta *metav1.ObjectMeta) field.ErrorList {
	errs := apimachineryvalidation.ValidateObjectMetaUpdate(newMeta, oldMeta, metadataPath)
	return append(errs, validateFinalizerNames(newMeta.Finalizers)...)
}

func validateFinalizerNames(finalizers []string) field.ErrorList {
	var errs field.ErrorList
	for i, f := range finalizers {
		if !strings.Contains(f, "/") && !slices.Contains(standardFinalizers, f) {
			errs = append(errs, field.Invalid(metadataPath.Child("finalizers").Index(i), f, "name is neither a standard finalizer name nor is it fully qualified"))
		}
	}
	return errs
}

func validateSpec(spec *certificatesv1.CertificateSigningRequestSpec, opts options) field.ErrorList {
	var errs field.ErrorList
	if err := validateRequest(spec.Request, opts); err != nil {
		errs = append(errs, err)
	}

	usagesPath := specPath.Child("usages")
	if len(spec.Usages) == 0 {
		errs = append(errs, field.Required(usagesPath, ""))
	}
	if !opts.allowUnknownUsages {
		for i, u := range spec.Usages {
			if !csr.KnownUsage(u) {
				errs = append(errs, field.NotSupported(usagesPath.Index(i), u, supportedUsages))
			}
		}
	}
	if !opts.allowDuplicateUsages {
		seen := make(map[certificatesv1.KeyUsage]bool, len(spec.Usages))
		for i, u := range spec.Usages {
			if seen[u] {
				errs = append(errs, field.Duplicate(usagesPath.Index(i), u))
			}
			seen[u] = true
		}
	}

	signerNamePath := specPath.Child("signerName")
	if spec.SignerName == csr.LegacyUnknownSignerName && !opts.allowLegacySignerName {
		errs = append(errs, field.Invalid(signerNamePath, spec.SignerName, "the legacy signerName is not allowed via this API version"))
	} else {
		errs = append(errs, ValidateSignerName(signerNamePath, spec.SignerName)...)
	}

	if spec.ExpirationSeconds != nil && *spec.ExpirationSeconds < 600 {
		errs = append(errs, field.Invalid(specPath.Child("expirationSeconds"), *spec.ExpirationSeconds, "may not specify a duration less than 600 seconds (10 minutes)"))
	}
	return errs
}

// validateRequest checks spec.request. A new request must be exactly one CERTIFICATE
// REQUEST PEM block (csr.ParseStrictRequest): Kubernetes reads only the first block and
// stores the rest, which is how private keys sent along with the request end up readable
// by everyone who may read CSRs (docs/compatibility.md). A stored request that predates the
// rule is read as Kubernetes reads it, so that old objects stay writable.
//
// kube-apiserver echoes the value in every error. kcsr echoes it only for a request refused
// for its signature, which is one well-formed request and holds nothing secret; anything
// else may be or hold a private key, which would go to the client's terminal and the audit
// log.
func validateRequest(request []byte, opts options) *field.Error {
	var req *x509.CertificateRequest
	var err error
	if opts.requestStored {
		req, err = csr.DecodeRequest(request)
	} else {
		req, err = csr.ParseStrictRequest(request)
	}
	if err == nil {
		if opts.parsed != nil {
			*opts.parsed = req
		}
		return nil
	}
	var encodingErr *csr.EncodingError
	var signatureErr *csr.SignatureError
	switch {
	case errors.As(err, &encodingErr) && encodingErr.PrivateKey || csr.HoldsPrivateKey(request):
		return field.Invalid(requestPath, "<private key omitted>", err.Error()+"; never send a private key, and make a new one if this one was shared: send only the certificate request made from it (openssl req -new -key user.key -out user.csr), encoded with base64 -w0 < user.csr")
	case errors.As(err, &encodingErr):
		return field.Invalid(requestPath, field.OmitValueType{}, err.Error()+"; send only the certificate request (base64 -w0 < user.csr), never the private key")
	case errors.As(err, &signatureErr):
		return field.Invalid(requestPath, request, err.Error())
	default:
		return field.Invalid(requestPath, field.OmitValueType{}, err.Error())
	}
}

func validateConditions(conditions []certificatesv1.CertificateSigningRequestCondition, opts options) field.ErrorList {
	var errs field.ErrorList
	seen := make(map[certificatesv1.RequestConditionType]bool, len(conditions))
	hasApproved, hasDenied := false, false
	for i, c := range conditions {
		typePath := conditionsPath.Index(i).Child("type")
		if c.Type == "" && !opts.allowEmptyConditionType {
			errs = append(errs, field.Required(typePath, ""))
		}

		allowed := anyConditionStatus
		if slices.Contains(permanentTypes, c.Type) {
			allowed = trueOnly
		}
		switch statusPath := conditionsPath.Index(i).Child("status"); {
		case c.Status == "":
			errs = append(errs, field.Required(statusPath, ""))
		case !slices.Contains(allowed, c.Status):
			errs = append(errs, field.NotSupported(statusPath, c.Status, allowed))
		}

		if !opts.allowBothApprovedAndDenied {
			switch c.Type {
			case certificatesv1.CertificateApproved:
				hasApproved = true
			case certificatesv1.CertificateDenied:
				hasDenied = true
			}
			if hasApproved && hasDenied && slices.Contains(decisionTypes, c.Type) {
				errs = append(errs, field.Invalid(typePath, c.Type, "Approved and Denied conditions are mutually exclusive"))
			}
		}

		if !opts.allowDuplicateConditionTypes {
			if seen[c.Type] {
				errs = append(errs, field.Duplicate(typePath, c.Type))
			}
			seen[c.Type] = true
		}
	}
	return errs
}

// validateCertificate checks status.certificate: empty, or one or more CERTIFICATE PEM blocks
// without headers, each holding certificates. Text around the blocks is not checked.
func validateCertificate(pemData []byte) error {
	if len(pemData) == 0 {
		return nil
	}
	blocks := 0
	for block := range pemutil.Blocks(pemData) {
		if block.Type != certificateBlockType {
			return fmt.Errorf("only %s PEM blocks are allowed, found %q", certificateBlockType, block.Type)
		}
		if len(block.Headers) != 0 {
			return errors.New("no PEM block headers are permitted")
		}
		blocks++
		certs, err := x509.ParseCertificates(block.Bytes)
		if err != nil {
			return err
		}
		if len(certs) == 0 {
			return fmt.Errorf("found %s PEM block containing 0 certificates", certificateBlockType)
		}
	}
	if blocks == 0 {
		return fmt.Errorf("must contain at least one %s PEM block", certificateBlockType)
	}
	return nil
}

func validateCertificateSigningRequestUpdate(newCSR, oldCSR *certificatesv1.CertificateSigningRequest, opts options) field.ErrorList {
	errs := validateCertificateSigningRequest(newCSR, opts)

	// Approved, Denied and Failed are final: no write may remove one.
	for _, t := range permanentTypes {
		if len(conditionsOfType(newCSR, t)) < len(conditionsOfType(oldCSR, t)) {
			errs = append(errs, field.Forbidden(conditionsPath, fmt.Sprintf("updates may not remove a condition of type %q", t)))
		}
	}

	// Only /approval may add or change Approved and Denied.
	if !opts.allowSettingApprovalConditions {
		for _, t := range decisionTypes {
			oldConditions, newConditions := conditionsOfType(oldCSR, t), conditionsOfType(newCSR, t)
			switch {
			case len(newConditions) < len(oldConditions):
				// reported above
			case len(newConditions) > len(oldConditions):
				errs = append(errs, field.Forbidden(conditionsPath, fmt.Sprintf("updates may not add a condition of type %q", t)))
			case !apiequality.Semantic.DeepEqual(oldConditions, newConditions):
				errs = append(errs, field.Forbidden(conditionsPath, fmt.Sprintf("updates may not modify a condition of type %q\n%v", t, cmp.Diff(oldConditions, newConditions))))
			}
		}
	}

	// Only /status may set the certificate, and only once.
	if !bytes.Equal(newCSR.Status.Certificate, oldCSR.Status.Certificate) {
		switch {
		case !opts.allowSettingCertificate:
			errs = append(errs, field.Forbidden(certificatePath, "updates may not set certificate content"))
		case len(oldCSR.Status.Certificate) > 0:
			errs = append(errs, field.Forbidden(certificatePath, "updates may not modify existing certificate content"))
		}
	}

	return append(errs, validateObjectMetaUpdate(&newCSR.ObjectMeta, &oldCSR.ObjectMeta)...)
}

// conditionsOfType returns obj's conditions of type t, in order.
func conditionsOfType(obj *certificatesv1.CertificateSigningRequest, t certificatesv1.RequestConditionType) []certificatesv1.CertificateSigningRequestCondition {
	var found []certificatesv1.CertificateSigningRequestCondition
	for _, c := range obj.Status.Conditions {
		if c.Type == t {
			found = append(found, c)
		}
	}
	return found
}

func hasDuplicateConditionTypes(conditions []certificatesv1.CertificateSigningRequestCondition) bool {
	types := make([]certificatesv1.RequestConditionType, len(conditions))
	for i, c := range conditions {
		types[i] = c.Type
	}
	return hasDuplicates(types)
}

func hasDuplicates[T comparable](values []T) bool {
	seen := make(map[T]bool, len(values))
	for _, v := range values {
		if seen[v] {
			return true
		}
		seen[v] = true
	}
	return false
}

// Package token is the REST storage of kcsr.dev/v1alpha1 BootstrapToken and JoinToken.
// Both are named after the token id and store only the SHA-256 of the secret. A join token's
// use (status.usedBy) is written once, through /status with a resourceVersion, so two CSRs
// racing for one token cannot both spend it.
package token

import (
	"context"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"time"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	certvalidation "kcsr.dev/kcsr/pkg/apis/certificates/validation"
	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/registry"
	"kcsr.dev/kcsr/pkg/registry/subresource"
	"kcsr.dev/kcsr/pkg/registry/table"
)

var (
	tokenIDRE    = regexp.MustCompile(`^[a-z0-9]{6}$`)
	sha256RE     = regexp.MustCompile(`^[0-9a-f]{64}$`)
	extraGroupRE = regexp.MustCompile(`^system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]$`)
)

func validateID(name string, _ bool) []string {
	if !tokenIDRE.MatchString(name) {
		return []string{"must be the token id: 6 characters of [a-z0-9]"}
	}
	return nil
}

func validateSecret(p *field.Path, s string) field.ErrorList {
	if !sha256RE.MatchString(s) {
		return field.ErrorList{field.Invalid(p, s, "must be the lower-case hex SHA-256 of the token secret (never the secret itself)")}
	}
	return nil
}

// strategy is shared by both kinds; validate and hasStatus differ.
type strategy struct {
	registry.Strategy
	validate func(obj runtime.Object) field.ErrorList
}

func (strategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return registry.ResetFields("kcsr.dev/v1alpha1", []any{"status"})
}

func (strategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	if jt, ok := obj.(*kcsrv1alpha1.JoinToken); ok {
		jt.Status = kcsrv1alpha1.JoinTokenStatus{}
	}
}

func (strategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	if jt, ok := obj.(*kcsrv1alpha1.JoinToken); ok {
		jt.Status = old.(*kcsrv1alpha1.JoinToken).Status
	}
}

func (s strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return s.validate(obj)
}

func (s strategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	errs := s.validate(obj)
	on, _ := obj.(metav1.Object)
	oo, _ := old.(metav1.Object)
	if on != nil && oo != nil {
		errs = append(errs, apivalidation.ValidateObjectMetaAccessorUpdate(on, oo, field.NewPath("metadata"))...)
	}
	return errs
}

func validateBootstrapToken(obj runtime.Object) field.ErrorList {
	t := obj.(*kcsrv1alpha1.BootstrapToken)
	errs := apivalidation.ValidateObjectMeta(&t.ObjectMeta, false, validateID, field.NewPath("metadata"))
	spec := field.NewPath("spec")
	errs = append(errs, validateSecret(spec.Child("secretSHA256"), t.Spec.SecretSHA256)...)
	if t.Spec.Expiration.IsZero() {
		errs = append(errs, field.Required(spec.Child("expiration"), "a bootstrap token must expire"))
	}
	if len(t.Spec.Usages) == 0 {
		errs = append(errs, field.Required(spec.Child("usages"), `at least "authentication"`))
	}
	for i, u := range t.Spec.Usages {
		if u != "authentication" && u != "signing" {
			errs = append(errs, field.NotSupported(spec.Child("usages").Index(i), u, []string{"authentication", "signing"}))
		}
	}
	for i, g := range t.Spec.ExtraGroups {
		if !extraGroupRE.MatchString(g) {
			errs = append(errs, field.Invalid(spec.Child("extraGroups").Index(i), g, "must match system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]"))
		}
	}
	return errs
}

func validateJoinToken(obj runtime.Object) field.ErrorList {
	t := obj.(*kcsrv1alpha1.JoinToken)
	errs := apivalidation.ValidateObjectMeta(&t.ObjectMeta, false, validateID, field.NewPath("metadata"))
	spec := field.NewPath("spec")
	errs = append(errs, validateSecret(spec.Child("secretSHA256"), t.Spec.SecretSHA256)...)
	if t.Spec.Expiration.IsZero() {
		errs = append(errs, field.Required(spec.Child("expiration"), "a join token must expire"))
	}
	if strings.TrimSpace(t.Spec.Username) == "" {
		errs = append(errs, field.Required(spec.Child("username"), "the subject common name the CSR must carry"))
	}
	errs = append(errs, certvalidation.ValidateSignerName(spec.Child("signerName"), t.Spec.SignerName)...)
	seen := map[string]bool{}
	for i, g := range t.Spec.Groups {
		if g == "" || seen[g] {
			errs = append(errs, field.Invalid(spec.Child("groups").Index(i), g, "groups must be non-empty and unique"))
		}
		seen[g] = true
	}
	errs = append(errs, validateNames(spec.Child("dnsNames"), t.Spec.DNSNames, func(n string) string {
		if msgs := utilvalidation.IsDNS1123Subdomain(n); len(msgs) > 0 {
			return "must be a lower-case DNS name, such as app.example.com: " + strings.Join(msgs, "; ")
		}
		return ""
	})...)
	errs = append(errs, validateNames(spec.Child("ipAddresses"), t.Spec.IPAddresses, func(n string) string {
		if ip := net.ParseIP(n); ip == nil || ip.String() != n {
			return "must be an IP address in canonical form, such as 10.0.0.1 or fd00::1"
		}
		return ""
	})...)
	errs = append(errs, validateNames(spec.Child("uris"), t.Spec.URIs, func(n string) string {
		if u, err := url.Parse(n); err != nil || u.Scheme == "" || u.String() != n {
			return "must be an absolute URI, such as spiffe://example.com/ns/app/sa/app"
		}
		return ""
	})...)
	errs = append(errs, validateNames(spec.Child("emailAddresses"), t.Spec.EmailAddresses, func(n string) string {
		if a, err := mail.ParseAddress(n); err != nil || a.Address != n {
			return "must be a bare e-mail address, such as rahul@example.com"
		}
		return ""
	})...)
	if t.Spec.MaxExpirationSeconds != 0 && t.Spec.MaxExpirationSeconds < 600 {
		errs = append(errs, field.Invalid(spec.Child("maxExpirationSeconds"), t.Spec.MaxExpirationSeconds, "may not be less than 600 seconds (10 minutes)"))
	}
	return errs
}

// validateNames checks a list of subject alternative names: each valid (check returns what
// is wrong, or "") and listed once.
func validateNames(p *field.Path, names []string, check func(string) string) field.ErrorList {
	var errs field.ErrorList
	seen := map[string]bool{}
	for i, n := range names {
		switch msg := check(n); {
		case msg != "":
			errs = append(errs, field.Invalid(p.Index(i), n, msg))
		case seen[n]:
			errs = append(errs, field.Duplicate(p.Index(i), n))
		}
		seen[n] = true
	}
	return errs
}

// joinStatusStrategy writes status.usedBy once.
type joinStatusStrategy struct{ strategy }

func (joinStatusStrategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return registry.ResetFields("kcsr.dev/v1alpha1", []any{"spec"})
}

func (joinStatusStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	obj.(*kcsrv1alpha1.JoinToken).Spec = old.(*kcsrv1alpha1.JoinToken).Spec
}

func (joinStatusStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	n, o := obj.(*kcsrv1alpha1.JoinToken), old.(*kcsrv1alpha1.JoinToken)
	errs := apivalidation.ValidateObjectMetaUpdate(&n.ObjectMeta, &o.ObjectMeta, field.NewPath("metadata"))
	if o.Status.UsedBy != nil && !apiequality.Semantic.DeepEqual(n.Status.UsedBy, o.Status.UsedBy) {
		errs = append(errs, field.Forbidden(field.NewPath("status", "usedBy"), fmt.Sprintf("join token %s was already spent on CSR %q; create a new token", o.Name, o.Status.UsedBy.CSRName)))
	}
	return errs
}

// BootstrapTokenREST is the BootstrapToken storage.
type BootstrapTokenREST struct{ *genericregistry.Store }

// JoinTokenREST is the JoinToken storage.
type JoinTokenREST struct{ *genericregistry.Store }

// Categories puts tokens in `kubectl get kcsr`.
func (*BootstrapTokenREST) Categories() []string { return []string{"kcsr"} }

// Categories puts tokens in `kubectl get kcsr`.
func (*JoinTokenREST) Categories() []string { return []string{"kcsr"} }

// NewBootstrapTokenStorage returns the BootstrapToken storage.
func NewBootstrapTokenStorage(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter) (*BootstrapTokenREST, error) {
	s := strategy{registry.NewStrategy(scheme), validateBootstrapToken}
	store, err := registry.NewStore(optsGetter, registry.StoreSpec{
		Resource: kcsrv1alpha1.Resource("bootstraptokens"),
		Singular: "bootstraptoken",
		New:      func() runtime.Object { return &kcsrv1alpha1.BootstrapToken{} },
		NewList:  func() runtime.Object { return &kcsrv1alpha1.BootstrapTokenList{} },
		Strategy: s,
		Table: table.Convertor{
			Columns: []metav1.TableColumnDefinition{
				table.NameColumn,
				{Name: "Expires", Type: "string", Format: "date-time"},
				{Name: "Usages", Type: "string"},
				{Name: "Extra Groups", Type: "string"},
				{Name: "Description", Type: "string"},
			},
			Cells: func(obj runtime.Object) ([]any, error) {
				t := obj.(*kcsrv1alpha1.BootstrapToken)
				return []any{t.Name, t.Spec.Expiration.UTC().Format(time.RFC3339), strings.Join(t.Spec.Usages, ","), strings.Join(t.Spec.ExtraGroups, ","), t.Spec.Description}, nil
			},
		},
	})
	if err != nil {
		return nil, err
	}
	return &BootstrapTokenREST{store}, nil
}

// NewJoinTokenStorage returns the JoinToken storage and its /status.
func NewJoinTokenStorage(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter) (*JoinTokenREST, *subresource.REST, error) {
	s := strategy{registry.NewStrategy(scheme), validateJoinToken}
	store, err := registry.NewStore(optsGetter, registry.StoreSpec{
		Resource: kcsrv1alpha1.Resource("jointokens"),
		Singular: "jointoken",
		New:      func() runtime.Object { return &kcsrv1alpha1.JoinToken{} },
		NewList:  func() runtime.Object { return &kcsrv1alpha1.JoinTokenList{} },
		Strategy: s,
		Table: table.Convertor{
			Columns: []metav1.TableColumnDefinition{
				table.NameColumn,
				{Name: "User", Type: "string"},
				{Name: "Groups", Type: "string"},
				{Name: "Signer", Type: "string"},
				{Name: "Expires", Type: "string", Format: "date-time"},
				{Name: "State", Type: "string"},
			},
			Cells: func(obj runtime.Object) ([]any, error) {
				t := obj.(*kcsrv1alpha1.JoinToken)
				state := "Unused"
				switch {
				case t.Status.UsedBy != nil:
					state = "Spent:" + t.Status.UsedBy.CSRName
				case time.Now().After(t.Spec.Expiration.Time):
					state = "Expired"
				}
				return []any{t.Name, t.Spec.Username, strings.Join(t.Spec.Groups, ","), t.Spec.SignerName, t.Spec.Expiration.UTC().Format(time.RFC3339), state}, nil
			},
		},
	})
	if err != nil {
		return nil, nil, err
	}
	statusStore := *store
	statusStore.UpdateStrategy = joinStatusStrategy{s}
	statusStore.ResetFieldsStrategy = joinStatusStrategy{s}
	return &JoinTokenREST{store}, subresource.New(&statusStore), nil
}

package apiserver

import (
	"fmt"
	"reflect"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/sets"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/registry/core/event"
)

// Scheme holds every type kcsr serves. kcsr has no internal API types: each served
// versioned type is registered a second time under runtime.APIVersionInternal, so the generic
// registry's "convert to the internal version" is a no-op copy (the same Go type is both).
var Scheme = runtime.NewScheme()

// Codecs serializes the types in Scheme.
var Codecs = serializer.NewCodecFactory(Scheme)

// servedGroupVersions are the API versions kcsr serves, in discovery order.
var servedGroupVersions = []schema.GroupVersion{
	certificatesv1.SchemeGroupVersion,
	rbacv1.SchemeGroupVersion,
	authorizationv1.SchemeGroupVersion,
	authenticationv1.SchemeGroupVersion,
	coordinationv1.SchemeGroupVersion,
	kcsrv1alpha1.SchemeGroupVersion,
}

var versionedSchemeBuilder = runtime.NewSchemeBuilder(
	certificatesv1.AddToScheme,
	rbacv1.AddToScheme,
	authorizationv1.AddToScheme,
	authenticationv1.AddToScheme,
	coordinationv1.AddToScheme,
	kcsrv1alpha1.AddToScheme,
)

func init() {
	if err := addToScheme(Scheme); err != nil {
		// The scheme is built from static type lists; failing here is a programming error.
		panic(err)
	}
}

// addToScheme registers the versioned types, their internal aliases, the unversioned meta
// types and the field label conversions.
func addToScheme(scheme *runtime.Scheme) error {
	if err := versionedSchemeBuilder.AddToScheme(scheme); err != nil {
		return err
	}
	for _, gv := range servedGroupVersions {
		internal := schema.GroupVersion{Group: gv.Group, Version: runtime.APIVersionInternal}
		for kind, typ := range scheme.KnownTypes(gv) {
			if kind == "WatchEvent" || typ.PkgPath() == "k8s.io/apimachinery/pkg/apis/meta/v1" {
				continue
			}
			scheme.AddKnownTypeWithName(internal.WithKind(kind), reflectNew(typ))
		}
	}
	metav1.AddToGroupVersion(scheme, schema.GroupVersion{Version: "v1"})
	unversioned := schema.GroupVersion{Group: "", Version: "v1"}
	scheme.AddUnversionedTypes(unversioned,
		&metav1.Status{},
		&metav1.APIVersions{},
		&metav1.APIGroupList{},
		&metav1.APIGroup{},
		&metav1.APIResourceList{},
	)
	// Of the core group kcsr serves only Event.
	scheme.AddKnownTypes(corev1.SchemeGroupVersion, &corev1.Event{}, &corev1.EventList{})
	scheme.AddKnownTypes(schema.GroupVersion{Version: runtime.APIVersionInternal}, &corev1.Event{}, &corev1.EventList{})
	eventFields := sets.New(event.FieldLabels...)
	if err := scheme.AddFieldLabelConversionFunc(corev1.SchemeGroupVersion.WithKind("Event"), func(label, value string) (string, string, error) {
		if eventFields.Has(label) {
			return label, value, nil
		}
		return "", "", fmt.Errorf("field label not supported: %s", label)
	}); err != nil {
		return err
	}
	if err := scheme.AddFieldLabelConversionFunc(
		kcsrv1alpha1.SchemeGroupVersion.WithKind("IssuedCertificate"),
		func(label, value string) (string, string, error) {
			switch label {
			case "metadata.name", "spec.serialNumber", "spec.sha256Fingerprint", "spec.signerName", "spec.csrName", "spec.commonName":
				return label, value, nil
			}
			return "", "", fmt.Errorf("field label not supported: %s", label)
		},
	); err != nil {
		return err
	}
	return scheme.AddFieldLabelConversionFunc(
		certificatesv1.SchemeGroupVersion.WithKind("CertificateSigningRequest"),
		func(label, value string) (string, string, error) {
			switch label {
			case "metadata.name", "spec.signerName":
				return label, value, nil
			}
			return "", "", fmt.Errorf("field label not supported: %s", label)
		},
	)
}

func reflectNew(t reflect.Type) runtime.Object {
	return reflect.New(t).Interface().(runtime.Object)
}

package apiserver

import (
	"fmt"

	apimachineryversion "k8s.io/apimachinery/pkg/version"
	openapinamer "k8s.io/apiserver/pkg/endpoints/openapi"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/storage/storagebackend"
	basecompatibility "k8s.io/component-base/compatibility"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/generated/openapi"
	"kcsr.dev/kcsr/pkg/version"
)

// effectiveVersion reports kcsr's /version document while keeping Kubernetes' feature
// and API enablement logic at the level kcsr is built on.
type effectiveVersion struct {
	basecompatibility.EffectiveVersion
}

func (effectiveVersion) Info() *apimachineryversion.Info { return version.Info() }

// ApplyVersion sets the API level and the /version document.
func ApplyVersion(c *genericapiserver.Config) {
	level := basecompatibility.NewEffectiveVersionFromString(
		fmt.Sprintf("%d.%d.%d", version.KubeMajor, version.KubeMinor, version.KubePatch), "", "")
	c.EffectiveVersion = effectiveVersion{level}
}

// ApplyOpenAPI sets the OpenAPI v2 and v3 documents from the generated definitions.
func ApplyOpenAPI(c *genericapiserver.Config) {
	namer := openapinamer.NewDefinitionNamer(namerScheme())
	c.OpenAPIConfig = genericapiserver.DefaultOpenAPIConfig(openapi.GetOpenAPIDefinitions, namer)
	c.OpenAPIConfig.Info.Title = "kcsr"
	c.OpenAPIConfig.Info.Version = version.GitVersion()
	c.OpenAPIV3Config = genericapiserver.DefaultOpenAPIV3Config(openapi.GetOpenAPIDefinitions, namer)
	c.OpenAPIV3Config.Info.Title = "kcsr"
	c.OpenAPIV3Config.Info.Version = version.GitVersion()
}

// NewStorageFactory returns the storage factory for base (etcd servers and TLS).
func NewStorageFactory(base storagebackend.Config) *storageFactory {
	return &storageFactory{
		base:   base,
		scheme: Scheme,
		codecs: StorageCodecs,
		// kcsr's own types have no protobuf encoding.
		cborGroups: map[string]bool{kcsrv1alpha1.GroupName: true},
	}
}

package apiserver

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/runtime/serializer/cbor"
	serverstorage "k8s.io/apiserver/pkg/server/storage"
	"k8s.io/apiserver/pkg/storage/storagebackend"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
)

// storageFactory stores every resource under /registry/<group>/<resource>, encoded as
// protobuf in its group's served version (Kubernetes' own types all have protobuf
// encodings), or as CBOR (RFC 8949) for the groups whose types have none: a binary
// encoding too, which keeps byte strings (a certificate) as bytes where JSON makes them
// base64, and decodes several times faster than JSON. Whatever the encoding written,
// every encoding is read: data written as JSON by an older kcsr stays readable, and is
// rewritten as CBOR at its next update.
type storageFactory struct {
	base   storagebackend.Config
	scheme *runtime.Scheme
	codecs runtime.StorageSerializer
	// cborGroups are stored as CBOR because their types have no protobuf encoding.
	cborGroups map[string]bool
}

// StorageCodecs are the codecs of stored objects: Codecs and CBOR, which kcsr serves to
// no client (kube-apiserver serves CBOR only behind a feature gate) but stores.
var StorageCodecs = serializer.NewCodecFactory(Scheme, serializer.WithSerializer(cbor.NewSerializerInfo))

var _ serverstorage.StorageFactory = &storageFactory{}

func (f *storageFactory) NewConfig(gr schema.GroupResource, _ runtime.Object) (*storagebackend.ConfigForResource, error) {
	versions := f.scheme.PrioritizedVersionsForGroup(gr.Group)
	if len(versions) == 0 {
		return nil, fmt.Errorf("no served version for group %q", gr.Group)
	}
	mediaType := runtime.ContentTypeProtobuf
	if f.cborGroups[gr.Group] {
		mediaType = runtime.ContentTypeCBOR
	}
	cfg := f.base
	codec, versioner, err := serverstorage.NewStorageCodec(serverstorage.StorageCodecConfig{
		StorageMediaType:  mediaType,
		StorageSerializer: f.codecs,
		StorageVersion:    versions[0],
		MemoryVersion:     schema.GroupVersion{Group: gr.Group, Version: runtime.APIVersionInternal},
		Config:            cfg,
	})
	if err != nil {
		return nil, fmt.Errorf("storage codec for %s: %w", gr, err)
	}
	if gr == kcsrv1alpha1.Resource("issuedcertificates") {
		codec = certificateDER{codec}
	}
	cfg.Codec = codec
	cfg.EncodeVersioner = versioner
	return cfg.ForResource(gr), nil
}

func (f *storageFactory) ResourcePrefix(gr schema.GroupResource) string {
	if gr.Group == "" {
		return gr.Resource
	}
	return gr.Group + "/" + gr.Resource
}

func (f *storageFactory) Configs() []storagebackend.Config {
	return serverstorage.Configs(f.base)
}

func (f *storageFactory) Backends() []serverstorage.Backend {
	return serverstorage.Backends(f.base)
}

package apiserver

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	serverstorage "k8s.io/apiserver/pkg/server/storage"
	"k8s.io/apiserver/pkg/storage/storagebackend"
)

// storageFactory stores every resource under /registry/<group>/<resource>, encoded as
// protobuf in its group's served version (Kubernetes' own types all have protobuf
// encodings; JSON is used for any group that does not).
type storageFactory struct {
	base   storagebackend.Config
	scheme *runtime.Scheme
	codecs runtime.StorageSerializer
	// jsonGroups are stored as JSON because their types have no protobuf encoding.
	jsonGroups map[string]bool
}

var _ serverstorage.StorageFactory = &storageFactory{}

func (f *storageFactory) NewConfig(gr schema.GroupResource, _ runtime.Object) (*storagebackend.ConfigForResource, error) {
	versions := f.scheme.PrioritizedVersionsForGroup(gr.Group)
	if len(versions) == 0 {
		return nil, fmt.Errorf("no served version for group %q", gr.Group)
	}
	mediaType := runtime.ContentTypeProtobuf
	if f.jsonGroups[gr.Group] {
		mediaType = runtime.ContentTypeJSON
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

// Package etcdtxn writes API objects to etcd as k8s.io/apiserver's etcd3 store does (the
// same keys under the storage prefix, codec, transformer and resourceVersion), but lets a
// write carry more keys in the same etcd transaction: a CSR with the inventory record of
// the certificate issued in its request (registry/certificates/certificatesigningrequest),
// an inventory record with the mirror of its revocation (registry/kcsr/issuedcertificate).
// Both or neither: one raft entry, one WAL fsync.
//
// It is the one home of the read–try–write loop those storages share: read the object
// from etcd (or the cached copy the generic store passes first), check the preconditions,
// run the store's tryUpdate (admission, validation), write if the object's revision still
// holds, else read again and retry.
package etcdtxn

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"strings"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/storage"
	etcd3metrics "k8s.io/apiserver/pkg/storage/etcd3/metrics"
	"k8s.io/apiserver/pkg/storage/value"
)

// Resource is how one resource's objects are stored in etcd.
type Resource struct {
	GroupResource schema.GroupResource
	pathPrefix    string // ends in "/"
	codec         runtime.Codec
	transformer   value.Transformer
}

// NewResource is the storage of the resource opts configures.
func NewResource(opts generic.RESTOptions) Resource {
	cfg := opts.StorageConfig
	prefix := path.Join("/", cfg.Prefix)
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	transformer := cfg.Transformer
	if transformer == nil {
		transformer = identity{}
	}
	return Resource{GroupResource: cfg.GroupResource, pathPrefix: prefix, codec: cfg.Codec, transformer: transformer}
}

// identity stores the data as it is (no encryption at rest configured).
type identity struct{}

func (identity) TransformFromStorage(_ context.Context, data []byte, _ value.Context) ([]byte, bool, error) {
	return data, false, nil
}

func (identity) TransformToStorage(_ context.Context, data []byte, _ value.Context) ([]byte, error) {
	return data, nil
}

// NewClient is an etcd client to the servers opts stores in, with its TLS settings.
func NewClient(opts generic.RESTOptions) (*clientv3.Client, error) {
	t := opts.StorageConfig.Transport
	cfg := clientv3.Config{Endpoints: t.ServerList, DialTimeout: 20 * time.Second}
	if t.CertFile != "" || t.KeyFile != "" || t.TrustedCAFile != "" {
		tlsInfo := transport.TLSInfo{CertFile: t.CertFile, KeyFile: t.KeyFile, TrustedCAFile: t.TrustedCAFile}
		tlsConfig, err := tlsInfo.ClientConfig()
		if err != nil {
			return nil, err
		}
		cfg.TLS = tlsConfig
	}
	return clientv3.New(cfg)
}

// SameEtcd reports whether a and b are stored in the same etcd, so that one transaction
// can write both.
func SameEtcd(a, b generic.RESTOptions) bool {
	ta, tb := a.StorageConfig.Transport, b.StorageConfig.Transport
	return ta.CertFile == tb.CertFile && strings.Join(ta.ServerList, ",") == strings.Join(tb.ServerList, ",")
}

var versioner = storage.APIObjectVersioner{}

// Path is the etcd key of a storage key.
func (r Resource) Path(key string) string {
	return r.pathPrefix + strings.TrimPrefix(key, "/")
}

// Prefix is the etcd key every object of the resource starts with (storage keys are
// relative to the storage prefix, which it includes).
func (r Resource) Prefix() string { return r.pathPrefix }

// EncodeNew returns the etcd path of key and obj, a new object, as stored there.
func (r Resource) EncodeNew(ctx context.Context, key string, obj runtime.Object) (string, []byte, error) {
	if v, err := versioner.ObjectResourceVersion(obj); err == nil && v != 0 {
		return "", nil, storage.ErrResourceVersionSetOnCreate
	}
	p := r.Path(key)
	data, err := r.Encode(ctx, p, obj)
	return p, data, err
}

// Encode returns obj as stored at path p.
func (r Resource) Encode(ctx context.Context, p string, obj runtime.Object) ([]byte, error) {
	if err := versioner.PrepareObjectForStorage(obj); err != nil {
		return nil, fmt.Errorf("PrepareObjectForStorage failed: %w", err)
	}
	data, err := runtime.Encode(r.codec, obj)
	if err != nil {
		return nil, err
	}
	stored, err := r.transformer.TransformToStorage(ctx, data, value.DefaultContext(p))
	if err != nil {
		return nil, storage.NewInternalError(err)
	}
	return stored, nil
}

// Decode fills out from what was stored at p, at revision rev.
func (r Resource) Decode(ctx context.Context, p string, stored []byte, out runtime.Object, rev int64) error {
	data, _, err := r.transformer.TransformFromStorage(ctx, stored, value.DefaultContext(p))
	if err != nil {
		return storage.NewInternalError(err)
	}
	if _, _, err := r.codec.Decode(data, nil, out); err != nil {
		return err
	}
	return versioner.UpdateObject(out, uint64(rev))
}

// Joint is what a write adds to its object's transaction.
type Joint struct {
	// If are more conditions; Then more operations, run when every condition holds.
	If   []clientv3.Cmp
	Then []clientv3.Op
	// Else are read when a condition fails, for Conflict.
	Else []clientv3.Op
}

// Writer writes one resource's objects with joint keys.
type Writer struct {
	Client   *clientv3.Client
	Resource Resource
	// New returns an empty object of the resource.
	New func() runtime.Object
}

// Update is storage.Interface.GuaranteedUpdate for an object that must exist, with also:
// given the object as read and as tryUpdate returned it, what to write with it (nil
// writes it alone). conflict, when not nil, is given the responses of Joint.Else when the
// transaction fails, before the object is read again and tryUpdate retried. An update that
// changes nothing (the same bytes, and no joint operation) writes nothing.
func (w Writer) Update(ctx context.Context, key string, destination runtime.Object, preconditions *storage.Preconditions, tryUpdate storage.UpdateFunc, cachedExistingObject runtime.Object,
	also func(ctx context.Context, existing, updated runtime.Object) (*Joint, error),
	conflict func(resp *clientv3.TxnResponse) error) error {
	p := w.Resource.Path(key)
	var existing runtime.Object
	var existingData []byte
	var rev int64
	if cachedExistingObject != nil {
		existing = cachedExistingObject.DeepCopyObject()
		v, err := versioner.ObjectResourceVersion(existing)
		if err != nil {
			return err
		}
		rev = int64(v)
	}
	for {
		if existing == nil {
			resp, err := w.Client.Get(ctx, p)
			if err != nil {
				return err
			}
			if len(resp.Kvs) == 0 {
				return storage.NewKeyNotFoundError(p, 0)
			}
			existing = w.New()
			if err := w.Resource.Decode(ctx, p, resp.Kvs[0].Value, existing, resp.Kvs[0].ModRevision); err != nil {
				return err
			}
			rev, existingData = resp.Kvs[0].ModRevision, resp.Kvs[0].Value
		}
		if err := preconditions.Check(p, existing); err != nil {
			return err
		}
		ret, _, err := tryUpdate(existing.DeepCopyObject(), storage.ResponseMeta{ResourceVersion: uint64(rev)})
		if err != nil {
			return err
		}
		stored, err := w.Resource.Encode(ctx, p, ret)
		if err != nil {
			return err
		}
		var joint *Joint
		if also != nil {
			if joint, err = also(ctx, existing, ret); err != nil {
				return err
			}
		}
		if joint == nil && existingData != nil && bytes.Equal(stored, existingData) {
			return w.Resource.Decode(ctx, p, stored, destination, rev)
		}
		if joint == nil {
			joint = &Joint{}
		}
		cmps := append([]clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(p), "=", rev)}, joint.If...)
		ops := append([]clientv3.Op{clientv3.OpPut(p, string(stored))}, joint.Then...)
		start := time.Now()
		resp, err := w.Client.Txn(ctx).If(cmps...).Then(ops...).Else(joint.Else...).Commit()
		etcd3metrics.RecordEtcdRequest("update", w.Resource.GroupResource, err, start)
		if err != nil {
			return err
		}
		if resp.Succeeded {
			return w.Resource.Decode(ctx, p, stored, destination, resp.Header.Revision)
		}
		if conflict != nil {
			if err := conflict(resp); err != nil {
				return err
			}
		}
		existing, existingData = nil, nil
	}
}

// Delete is storage.Interface.Delete, reading the object from etcd, with also: given the
// object as read, what to delete or write with it.
func (w Writer) Delete(ctx context.Context, key string, out runtime.Object, preconditions *storage.Preconditions, validateDeletion storage.ValidateObjectFunc,
	also func(ctx context.Context, existing runtime.Object) (*Joint, error)) error {
	p := w.Resource.Path(key)
	for {
		resp, err := w.Client.Get(ctx, p)
		if err != nil {
			return err
		}
		if len(resp.Kvs) == 0 {
			return storage.NewKeyNotFoundError(p, 0)
		}
		existing := w.New()
		rev := resp.Kvs[0].ModRevision
		if err := w.Resource.Decode(ctx, p, resp.Kvs[0].Value, existing, rev); err != nil {
			return err
		}
		if preconditions != nil {
			if err := preconditions.Check(p, existing); err != nil {
				return err
			}
		}
		if err := validateDeletion(ctx, existing); err != nil {
			return err
		}
		joint := &Joint{}
		if also != nil {
			if joint, err = also(ctx, existing); err != nil {
				return err
			}
		}
		cmps := append([]clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(p), "=", rev)}, joint.If...)
		ops := append([]clientv3.Op{clientv3.OpDelete(p)}, joint.Then...)
		start := time.Now()
		txn, err := w.Client.Txn(ctx).If(cmps...).Then(ops...).Commit()
		etcd3metrics.RecordEtcdRequest("delete", w.Resource.GroupResource, err, start)
		if err != nil {
			return err
		}
		if txn.Succeeded {
			// As the etcd3 store: the deleted object, at the revision of its deletion.
			return w.Resource.Decode(ctx, p, resp.Kvs[0].Value, out, txn.Header.Revision)
		}
	}
}

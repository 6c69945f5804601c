package certificatesigningrequest

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage"
	etcd3metrics "k8s.io/apiserver/pkg/storage/etcd3/metrics"
	"k8s.io/apiserver/pkg/storage/value"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
)

// RecordStorage says where the inventory records are stored, so that the CSR storage can
// write a new CSR and its record in one etcd transaction: the IssuedCertificate storage's
// options and its key function.
type RecordStorage struct {
	Options generic.RESTOptions
	Key     func(ctx context.Context, name string) (string, error)
	// Strategy is the IssuedCertificate storage's: a record written with its CSR gets
	// the system fields, defaulting and validation of any other create.
	Strategy rest.RESTCreateStrategy
}

// jointStorage is the CSR storage.Interface, but a create or an /approval update whose
// request carries an inventory record (a CSR signed in that request) writes the CSR and
// the record in one etcd transaction: both or neither, one raft entry, one WAL fsync. The record's
// name is the new CSR's UID, so neither key can exist already but by a name conflict of
// the CSR, which fails the transaction and stores nothing. Everything else goes to the
// storage it wraps (the watch cache over etcd); the watch caches of both resources see
// the two objects through their etcd watches, as for any write.
//
// It writes as k8s.io/apiserver's etcd3 store does (storage/etcd3/store.go Create): the
// same codec and transformer per resource, the same keys under the storage prefix, the
// same checks and resourceVersion.
type jointStorage struct {
	storage.Interface
	client       *clientv3.Client
	csr, record  resourceStorage
	recordKeyFor func(ctx context.Context, name string) (string, error)
	recordCreate rest.RESTCreateStrategy
	// newFunc returns an empty CSR.
	newFunc func() runtime.Object
}

// resourceStorage is how one resource's objects are stored in etcd.
type resourceStorage struct {
	resource    schema.GroupResource
	pathPrefix  string // ends in "/"
	codec       runtime.Codec
	transformer value.Transformer
}

func newResourceStorage(opts generic.RESTOptions) resourceStorage {
	cfg := opts.StorageConfig
	prefix := path.Join("/", cfg.Prefix)
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	transformer := cfg.Transformer
	if transformer == nil {
		transformer = identity{}
	}
	return resourceStorage{resource: cfg.GroupResource, pathPrefix: prefix, codec: cfg.Codec, transformer: transformer}
}

// identity stores the data as it is (no encryption at rest configured).
type identity struct{}

func (identity) TransformFromStorage(_ context.Context, data []byte, _ value.Context) ([]byte, bool, error) {
	return data, false, nil
}

func (identity) TransformToStorage(_ context.Context, data []byte, _ value.Context) ([]byte, error) {
	return data, nil
}

// newJointStorage wraps s, the CSR storage made from csrOpts.
func newJointStorage(s storage.Interface, csrOpts generic.RESTOptions, records *RecordStorage) (*jointStorage, error) {
	t := csrOpts.StorageConfig.Transport
	if t.CertFile != records.Options.StorageConfig.Transport.CertFile || strings.Join(t.ServerList, ",") != strings.Join(records.Options.StorageConfig.Transport.ServerList, ",") {
		return nil, errors.New("CSRs and IssuedCertificates must be stored in the same etcd, to be written together")
	}
	var tlsInfo *transport.TLSInfo
	if t.CertFile != "" || t.KeyFile != "" || t.TrustedCAFile != "" {
		tlsInfo = &transport.TLSInfo{CertFile: t.CertFile, KeyFile: t.KeyFile, TrustedCAFile: t.TrustedCAFile}
	}
	cfg := clientv3.Config{Endpoints: t.ServerList, DialTimeout: 20 * time.Second}
	if tlsInfo != nil {
		tlsConfig, err := tlsInfo.ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("etcd client for CSRs with their records: %w", err)
		}
		cfg.TLS = tlsConfig
	}
	client, err := clientv3.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("etcd client for CSRs with their records: %w", err)
	}
	return &jointStorage{
		Interface:    s,
		client:       client,
		csr:          newResourceStorage(csrOpts),
		record:       newResourceStorage(records.Options),
		recordKeyFor: records.Key,
		recordCreate: records.Strategy,
	}, nil
}

// Create creates obj at key, with the inventory record of its request when it has one.
func (s *jointStorage) Create(ctx context.Context, key string, obj, out runtime.Object, ttl uint64) error {
	w := writeFrom(ctx)
	if w == nil || w.joint == nil || ttl != 0 {
		return s.Interface.Create(ctx, key, obj, out, ttl)
	}
	recordKey, err := s.recordKeyFor(ctx, w.joint.Name)
	if err != nil {
		return err
	}
	csrPath, csrData, err := s.csr.encode(ctx, key, obj)
	if err != nil {
		return err
	}
	record, err := s.prepareRecord(ctx, w)
	if err != nil {
		return err
	}
	recordPath, recordData, err := s.record.encode(ctx, recordKey, record)
	if err != nil {
		return err
	}
	start := time.Now()
	resp, err := s.client.Txn(ctx).If(
		clientv3.Compare(clientv3.ModRevision(csrPath), "=", 0),
		clientv3.Compare(clientv3.ModRevision(recordPath), "=", 0),
	).Then(
		clientv3.OpPut(csrPath, string(csrData)),
		clientv3.OpPut(recordPath, string(recordData)),
	).Else(
		clientv3.OpGet(csrPath, clientv3.WithCountOnly()),
	).Commit()
	etcd3metrics.RecordEtcdRequest("create", s.csr.resource, err, start)
	if err != nil {
		return err
	}
	if !resp.Succeeded {
		if resp.Responses[0].GetResponseRange().GetCount() > 0 {
			return storage.NewKeyExistsError(csrPath, 0)
		}
		// The record exists and the CSR does not: a record named after a UID not yet
		// given out. Refuse rather than hand out a second certificate for it.
		return storage.NewInternalError(fmt.Errorf("inventory record %s exists already", recordPath))
	}
	if out == nil {
		return nil
	}
	return s.csr.decode(ctx, csrPath, csrData, out, resp.Header.Revision)
}

// prepareRecord is the write's record as the IssuedCertificate storage would create it:
// a UID and creation time, then its strategy's preparation and validation.
func (s *jointStorage) prepareRecord(ctx context.Context, w *write) (*kcsrv1alpha1.IssuedCertificate, error) {
	record := w.joint.DeepCopy()
	rest.FillObjectMetaSystemFields(record)
	if err := rest.BeforeCreate(s.recordCreate, ctx, record); err != nil {
		return nil, err
	}
	return record, nil
}

// close closes the etcd client; the wrapped storage is the store's to destroy.
func (s *jointStorage) close() error { return s.client.Close() }

var versioner = storage.APIObjectVersioner{}

// encode returns the etcd path of key and obj as it is stored there.
func (r resourceStorage) encode(ctx context.Context, key string, obj runtime.Object) (string, []byte, error) {
	if v, err := versioner.ObjectResourceVersion(obj); err == nil && v != 0 {
		return "", nil, storage.ErrResourceVersionSetOnCreate
	}
	if err := versioner.PrepareObjectForStorage(obj); err != nil {
		return "", nil, fmt.Errorf("PrepareObjectForStorage failed: %w", err)
	}
	data, err := runtime.Encode(r.codec, obj)
	if err != nil {
		return "", nil, err
	}
	p := r.path(key)
	stored, err := r.transformer.TransformToStorage(ctx, data, value.DefaultContext(p))
	if err != nil {
		return "", nil, storage.NewInternalError(err)
	}
	return p, stored, nil
}

// decode fills out from what was stored at p, at revision rev.
func (r resourceStorage) decode(ctx context.Context, p string, stored []byte, out runtime.Object, rev int64) error {
	data, _, err := r.transformer.TransformFromStorage(ctx, stored, value.DefaultContext(p))
	if err != nil {
		return storage.NewInternalError(err)
	}
	if _, _, err := r.codec.Decode(data, nil, out); err != nil {
		return err
	}
	return versioner.UpdateObject(out, uint64(rev))
}

// GuaranteedUpdate updates the object at key. An /approval update that issues (its request
// carries a record) writes the CSR and the record in one transaction, conditional on the
// CSR being unchanged since it was read and the record not existing; every other update
// is the wrapped storage's. It follows the etcd3 store's loop in what an approval needs:
// read (the cached object first, etcd after a conflict), check the preconditions, run
// tryUpdate (admission, validation and the signing in the request), write if the
// revision still holds, else read again and retry.
func (s *jointStorage) GuaranteedUpdate(ctx context.Context, key string, destination runtime.Object, ignoreNotFound bool, preconditions *storage.Preconditions, tryUpdate storage.UpdateFunc, cachedExistingObject runtime.Object) error {
	w := writeFrom(ctx)
	if w == nil {
		return s.Interface.GuaranteedUpdate(ctx, key, destination, ignoreNotFound, preconditions, tryUpdate, cachedExistingObject)
	}
	csrPath := s.csr.path(key)
	var existing runtime.Object
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
			resp, err := s.client.Get(ctx, csrPath)
			if err != nil {
				return err
			}
			if len(resp.Kvs) == 0 {
				return storage.NewKeyNotFoundError(csrPath, 0)
			}
			existing = s.newFunc()
			if err := s.csr.decode(ctx, csrPath, resp.Kvs[0].Value, existing, resp.Kvs[0].ModRevision); err != nil {
				return err
			}
			rev = resp.Kvs[0].ModRevision
		}
		if err := preconditions.Check(csrPath, existing); err != nil {
			return err
		}
		ret, _, err := tryUpdate(existing, storage.ResponseMeta{ResourceVersion: uint64(rev)})
		if err != nil {
			return err
		}
		if err := versioner.PrepareObjectForStorage(ret); err != nil {
			return fmt.Errorf("PrepareObjectForStorage failed: %w", err)
		}
		data, err := runtime.Encode(s.csr.codec, ret)
		if err != nil {
			return err
		}
		stored, err := s.csr.transformer.TransformToStorage(ctx, data, value.DefaultContext(csrPath))
		if err != nil {
			return storage.NewInternalError(err)
		}
		cmps := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(csrPath), "=", rev)}
		ops := []clientv3.Op{clientv3.OpPut(csrPath, string(stored))}
		var recordPath string
		if w.joint != nil {
			recordKey, err := s.recordKeyFor(ctx, w.joint.Name)
			if err != nil {
				return err
			}
			record, err := s.prepareRecord(ctx, w)
			if err != nil {
				return err
			}
			var recordData []byte
			if recordPath, recordData, err = s.record.encode(ctx, recordKey, record); err != nil {
				return err
			}
			cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(recordPath), "=", 0))
			ops = append(ops, clientv3.OpPut(recordPath, string(recordData)))
		}
		start := time.Now()
		txn := s.client.Txn(ctx).If(cmps...).Then(ops...)
		if recordPath != "" {
			txn = txn.Else(clientv3.OpGet(recordPath))
		}
		resp, err := txn.Commit()
		etcd3metrics.RecordEtcdRequest("update", s.csr.resource, err, start)
		if err != nil {
			return err
		}
		if resp.Succeeded {
			return s.csr.decode(ctx, csrPath, stored, destination, resp.Header.Revision)
		}
		// A conflict: the CSR changed, or a record of this CSR exists already (another
		// replica, or the signer controller, recorded first). That record's certificate
		// is the one: the next attempt hands it out instead of signing again.
		if recordPath != "" {
			if kvs := resp.Responses[0].GetResponseRange().GetKvs(); len(kvs) > 0 {
				recorded := &kcsrv1alpha1.IssuedCertificate{}
				if err := s.record.decode(ctx, recordPath, kvs[0].Value, recorded, kvs[0].ModRevision); err != nil {
					return err
				}
				w.recorded = recorded
			}
		}
		existing = nil
	}
}

// path is the etcd key of a storage key.
func (r resourceStorage) path(key string) string {
	return r.pathPrefix + strings.TrimPrefix(key, "/")
}

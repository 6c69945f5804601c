package certificatesigningrequest

import (
	"context"
	"errors"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage"
	etcd3metrics "k8s.io/apiserver/pkg/storage/etcd3/metrics"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/registry/etcdtxn"
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
// the record in one etcd transaction (package etcdtxn): both or neither, one raft entry,
// one WAL fsync. The record's name is the new CSR's UID, so neither key can exist already
// but by a name conflict of the CSR, which fails the transaction and stores nothing.
// Everything else goes to the storage it wraps (the watch cache over etcd); the watch
// caches of both resources see the two objects through their etcd watches, as for any
// write.
type jointStorage struct {
	storage.Interface
	csr          etcdtxn.Writer
	record       etcdtxn.Resource
	recordKeyFor func(ctx context.Context, name string) (string, error)
	recordCreate rest.RESTCreateStrategy
}

// newJointStorage wraps s, the CSR storage made from csrOpts; newFunc returns an empty CSR.
func newJointStorage(s storage.Interface, csrOpts generic.RESTOptions, records *RecordStorage, newFunc func() runtime.Object) (*jointStorage, error) {
	if !etcdtxn.SameEtcd(csrOpts, records.Options) {
		return nil, errors.New("CSRs and IssuedCertificates must be stored in the same etcd, to be written together")
	}
	client, err := etcdtxn.NewClient(csrOpts)
	if err != nil {
		return nil, fmt.Errorf("etcd client for CSRs with their records: %w", err)
	}
	return &jointStorage{
		Interface:    s,
		csr:          etcdtxn.Writer{Client: client, Resource: etcdtxn.NewResource(csrOpts), New: newFunc},
		record:       etcdtxn.NewResource(records.Options),
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
	csrPath, csrData, err := s.csr.Resource.EncodeNew(ctx, key, obj)
	if err != nil {
		return err
	}
	record, err := s.prepareRecord(ctx, w)
	if err != nil {
		return err
	}
	recordPath, recordData, err := s.record.EncodeNew(ctx, recordKey, record)
	if err != nil {
		return err
	}
	start := time.Now()
	resp, err := s.csr.Client.Txn(ctx).If(
		clientv3.Compare(clientv3.ModRevision(csrPath), "=", 0),
		clientv3.Compare(clientv3.ModRevision(recordPath), "=", 0),
	).Then(
		clientv3.OpPut(csrPath, string(csrData)),
		clientv3.OpPut(recordPath, string(recordData)),
	).Else(
		clientv3.OpGet(csrPath, clientv3.WithCountOnly()),
	).Commit()
	etcd3metrics.RecordEtcdRequest("create", s.csr.Resource.GroupResource, err, start)
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
	return s.csr.Resource.Decode(ctx, csrPath, csrData, out, resp.Header.Revision)
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
func (s *jointStorage) close() error { return s.csr.Client.Close() }

// GuaranteedUpdate updates the object at key. An /approval update that issues (its request
// carries a record) writes the CSR and the record in one transaction, conditional on the
// CSR being unchanged since it was read and the record not existing; every other update
// is the wrapped storage's.
func (s *jointStorage) GuaranteedUpdate(ctx context.Context, key string, destination runtime.Object, ignoreNotFound bool, preconditions *storage.Preconditions, tryUpdate storage.UpdateFunc, cachedExistingObject runtime.Object) error {
	w := writeFrom(ctx)
	if w == nil {
		return s.Interface.GuaranteedUpdate(ctx, key, destination, ignoreNotFound, preconditions, tryUpdate, cachedExistingObject)
	}
	var recordPath string
	withRecord := func(ctx context.Context, _, _ runtime.Object) (*etcdtxn.Joint, error) {
		recordPath = ""
		if w.joint == nil {
			return nil, nil
		}
		recordKey, err := s.recordKeyFor(ctx, w.joint.Name)
		if err != nil {
			return nil, err
		}
		record, err := s.prepareRecord(ctx, w)
		if err != nil {
			return nil, err
		}
		var recordData []byte
		if recordPath, recordData, err = s.record.EncodeNew(ctx, recordKey, record); err != nil {
			return nil, err
		}
		return &etcdtxn.Joint{
			If:   []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(recordPath), "=", 0)},
			Then: []clientv3.Op{clientv3.OpPut(recordPath, string(recordData))},
			Else: []clientv3.Op{clientv3.OpGet(recordPath)},
		}, nil
	}
	// A conflict: the CSR changed, or a record of this CSR exists already (another
	// replica, or the signer controller, recorded first). That record's certificate is
	// the one: the next attempt hands it out instead of signing again.
	recorded := func(resp *clientv3.TxnResponse) error {
		if recordPath == "" {
			return nil
		}
		if kvs := resp.Responses[0].GetResponseRange().GetKvs(); len(kvs) > 0 {
			ic := &kcsrv1alpha1.IssuedCertificate{}
			if err := s.record.Decode(ctx, recordPath, kvs[0].Value, ic, kvs[0].ModRevision); err != nil {
				return err
			}
			w.recorded = ic
		}
		return nil
	}
	return s.csr.Update(ctx, key, destination, preconditions, tryUpdate, cachedExistingObject, withRecord, recorded)
}

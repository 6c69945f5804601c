package issuedcertificate

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/storage"
	"k8s.io/klog/v2"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/inventory"
	"kcsr.dev/kcsr/pkg/registry/etcdtxn"
)

// The revoked records, apart: at start the server must know every revoked certificate
// before it serves a login (a revoked one must be refused), and they are a few among a
// million records that etcd cannot find without reading them all. So every record that is
// revoked has a copy (its mirror) under <prefix>/kcsr.dev/revocations/<name>, written in
// the same etcd transaction as the record (package etcdtxn): both or neither. The server's
// inventory index lists that prefix first and follows it (inventory.RevocationSource),
// and serves logins before the rest of the inventory is loaded
// (docs/design/revoked-first.md).
//
// A mirror is written with every update of a record that is or was revoked (a hold lifted
// keeps its mirror, unrevoked: a record's mirror is its current state), and deleted with
// the record. Records never revoked have none.
//
// A store written by a kcsr without mirrors has revoked records without one: until the
// key <prefix>/kcsr.dev/revocations (the marker) exists, the first listing scans every
// record, writes the missing mirrors (each only if its record did not change since it was
// read), then writes the marker. That is a one-time cost; every later start reads only
// the mirrors.

// revocationStorage is the IssuedCertificate storage.Interface, updating and deleting
// records with their mirrors in one transaction. Creates, reads and watches are the
// wrapped storage's: a new record has no status.
type revocationStorage struct {
	storage.Interface
	w etcdtxn.Writer
	// marker is the marker key; mirrors holds the mirrors under marker + "/".
	marker, mirrors string
	// records is the etcd prefix of the records.
	records string
}

// newRevocationStorage wraps s, the storage of the records stored as opts says under
// keyRoot (the store's KeyRootFunc).
func newRevocationStorage(s storage.Interface, opts generic.RESTOptions, keyRoot string) (*revocationStorage, error) {
	client, err := etcdtxn.NewClient(opts)
	if err != nil {
		return nil, fmt.Errorf("etcd client for the revoked records: %w", err)
	}
	res := etcdtxn.NewResource(opts)
	records := strings.TrimSuffix(res.Path(keyRoot), "/")
	marker := path.Join(path.Dir(records), "revocations")
	return &revocationStorage{
		Interface: s,
		w:         etcdtxn.Writer{Client: client, Resource: res, New: func() runtime.Object { return &kcsrv1alpha1.IssuedCertificate{} }},
		marker:    marker,
		mirrors:   marker + "/",
		records:   records + "/",
	}, nil
}

func (s *revocationStorage) close() error { return s.w.Client.Close() }

// mirrorOf is the etcd key of the mirror of the record at etcd key recordPath.
func (s *revocationStorage) mirrorOf(recordPath string) string {
	return s.mirrors + strings.TrimPrefix(recordPath, s.records)
}

// GuaranteedUpdate updates the record at key, and its mirror when the record is or was
// revoked.
func (s *revocationStorage) GuaranteedUpdate(ctx context.Context, key string, destination runtime.Object, ignoreNotFound bool, preconditions *storage.Preconditions, tryUpdate storage.UpdateFunc, cachedExistingObject runtime.Object) error {
	if ignoreNotFound {
		// A create by update: a new record has no status, hence no mirror.
		return s.Interface.GuaranteedUpdate(ctx, key, destination, ignoreNotFound, preconditions, tryUpdate, cachedExistingObject)
	}
	recordPath := s.w.Resource.Path(key)
	mirror := s.mirrorOf(recordPath)
	withMirror := func(ctx context.Context, existing, updated runtime.Object) (*etcdtxn.Joint, error) {
		o, n := existing.(*kcsrv1alpha1.IssuedCertificate), updated.(*kcsrv1alpha1.IssuedCertificate)
		if o.Status.Revocation == nil && n.Status.Revocation == nil {
			return nil, nil
		}
		same := o.DeepCopy()
		same.ResourceVersion = n.ResourceVersion // cleared in n by its encoding
		if apiequality.Semantic.DeepEqual(same, n) {
			return nil, nil // nothing changes: nothing is written
		}
		data, err := s.w.Resource.Encode(ctx, mirror, n.DeepCopy())
		if err != nil {
			return nil, err
		}
		return &etcdtxn.Joint{Then: []clientv3.Op{clientv3.OpPut(mirror, string(data))}}, nil
	}
	return s.w.Update(ctx, key, destination, preconditions, tryUpdate, cachedExistingObject, withMirror, nil)
}

// Delete deletes the record at key and its mirror.
func (s *revocationStorage) Delete(ctx context.Context, key string, out runtime.Object, preconditions *storage.Preconditions, validateDeletion storage.ValidateObjectFunc, _ runtime.Object, _ storage.DeleteOptions) error {
	mirror := s.mirrorOf(s.w.Resource.Path(key))
	return s.w.Delete(ctx, key, out, preconditions, validateDeletion, func(context.Context, runtime.Object) (*etcdtxn.Joint, error) {
		return &etcdtxn.Joint{Then: []clientv3.Op{clientv3.OpDelete(mirror)}}, nil
	})
}

// revocations lists the mirrors (inventory.RevocationSource), writing them first if the
// store has none yet.
func (s *revocationStorage) revocations(ctx context.Context) ([]*kcsrv1alpha1.IssuedCertificate, int64, error) {
	resp, err := s.w.Client.Get(ctx, s.marker, clientv3.WithCountOnly())
	if err != nil {
		return nil, 0, err
	}
	if resp.Count == 0 {
		if err := s.writeMirrors(ctx); err != nil {
			return nil, 0, fmt.Errorf("writing the mirrors of the revoked records: %w", err)
		}
	}
	var out []*kcsrv1alpha1.IssuedCertificate
	var rev int64
	from := s.mirrors
	end := clientv3.GetPrefixRangeEnd(s.mirrors)
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(1000)}
		if rev != 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		resp, err := s.w.Client.Get(ctx, from, opts...)
		if err != nil {
			return nil, 0, err
		}
		rev = resp.Header.Revision
		for _, kv := range resp.Kvs {
			ic := &kcsrv1alpha1.IssuedCertificate{}
			if err := s.w.Resource.Decode(ctx, string(kv.Key), kv.Value, ic, kv.ModRevision); err != nil {
				return nil, 0, fmt.Errorf("%s: %w", kv.Key, err)
			}
			out = append(out, ic)
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return out, rev, nil
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

// writeMirrors writes the mirror of every revoked record that has none, then the marker.
// A record that changes meanwhile is read again: its update wrote its mirror if it needed
// one, so a hold lifted meanwhile is not undone.
func (s *revocationStorage) writeMirrors(ctx context.Context) error {
	logger := klog.FromContext(ctx)
	from, end := s.records, clientv3.GetPrefixRangeEnd(s.records)
	written, scanned := 0, 0
	for {
		resp, err := s.w.Client.Get(ctx, from, clientv3.WithRange(end), clientv3.WithLimit(1000))
		if err != nil {
			return err
		}
		for _, kv := range resp.Kvs {
			scanned++
			ic := &kcsrv1alpha1.IssuedCertificate{}
			if err := s.w.Resource.Decode(ctx, string(kv.Key), kv.Value, ic, kv.ModRevision); err != nil {
				return fmt.Errorf("%s: %w", kv.Key, err)
			}
			if ic.Status.Revocation == nil {
				continue
			}
			mirror := s.mirrorOf(string(kv.Key))
			data, err := s.w.Resource.Encode(ctx, mirror, ic)
			if err != nil {
				return err
			}
			txn, err := s.w.Client.Txn(ctx).If(
				clientv3.Compare(clientv3.ModRevision(string(kv.Key)), "=", kv.ModRevision),
				clientv3.Compare(clientv3.ModRevision(mirror), "=", 0),
			).Then(clientv3.OpPut(mirror, string(data))).Commit()
			if err != nil {
				return err
			}
			if txn.Succeeded {
				written++
			}
			// Else the record changed (its update wrote the mirror if it is revoked) or
			// has a mirror already.
		}
		if !resp.More || len(resp.Kvs) == 0 {
			break
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
	if _, err := s.w.Client.Put(ctx, s.marker, "complete"); err != nil {
		return err
	}
	logger.Info("Wrote the mirrors of the revoked records", "records", scanned, "revoked", written)
	return nil
}

// watchRevocations sends the changes of the mirrors after rev (inventory.RevocationSource).
func (s *revocationStorage) watchRevocations(ctx context.Context, rev int64) <-chan inventory.RevocationEvent {
	out := make(chan inventory.RevocationEvent)
	go func() {
		defer close(out)
		ctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		defer cancel()
		send := func(ev inventory.RevocationEvent) bool {
			select {
			case out <- ev:
				return true
			case <-ctx.Done():
				return false
			}
		}
		for resp := range s.w.Client.Watch(ctx, s.mirrors, clientv3.WithPrefix(), clientv3.WithRev(rev+1)) {
			if err := resp.Err(); err != nil {
				send(inventory.RevocationEvent{Err: err})
				return
			}
			for _, ev := range resp.Events {
				e := inventory.RevocationEvent{Rev: ev.Kv.ModRevision}
				if ev.Type == clientv3.EventTypeDelete {
					e.Deleted = strings.TrimPrefix(string(ev.Kv.Key), s.mirrors)
				} else {
					ic := &kcsrv1alpha1.IssuedCertificate{}
					if err := s.w.Resource.Decode(ctx, string(ev.Kv.Key), ev.Kv.Value, ic, ev.Kv.ModRevision); err != nil {
						send(inventory.RevocationEvent{Err: fmt.Errorf("%s: %w", ev.Kv.Key, err)})
						return
					}
					e.Record = ic
				}
				if !send(e) {
					return
				}
			}
		}
		if ctx.Err() == nil {
			send(inventory.RevocationEvent{Err: errors.New("the etcd watch of the revoked records ended")})
		}
	}()
	return out
}

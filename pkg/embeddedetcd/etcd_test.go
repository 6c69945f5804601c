package embeddedetcd

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestMaintainDefragments: once compacted history leaves free pages in the database file,
// Maintain gives them back to the file system, and tells the sizes and the outcome.
func TestMaintainDefragments(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := Start(ctx, Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{s.ClientURL()}, DialTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	value := strings.Repeat("x", 16<<10)
	for i := range 1000 { // 16 MB, then deleted and compacted away
		if _, err := c.Put(ctx, fmt.Sprintf("/registry/k%d", i), value); err != nil {
			t.Fatal(err)
		}
	}
	del, err := c.Delete(ctx, "/registry/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Compact(ctx, del.Header.Revision, clientv3.WithCompactPhysical()); err != nil {
		t.Fatal(err)
	}
	before := s.Stats()
	if before.Quota != 8<<30 || before.Size-before.InUse < 8<<20 {
		t.Fatalf("before: %+v; want the 8 GiB quota and 8 MB or more free", before)
	}

	type outcome struct {
		before, after Stats
		err           error
	}
	done := make(chan outcome, 1)
	told := make(chan Stats, 10)
	go s.Maintain(ctx, Maintenance{
		Interval: 10 * time.Millisecond, MinFree: 1 << 20, MinFreeRatio: 0.3,
		Stats: func(st Stats) {
			select {
			case told <- st:
			default:
			}
		},
		Defragmented: func(before, after Stats, _ time.Duration, err error) { done <- outcome{before, after, err} },
	})
	if st := <-told; st.Size != before.Size {
		t.Errorf("first sizes told: %+v; want %+v", st, before)
	}
	select {
	case o := <-done:
		if o.err != nil {
			t.Fatal(o.err)
		}
		if o.after.Size >= o.before.Size-(8<<20) {
			t.Errorf("defragmented from %d to %d bytes; want 8 MB or more given back", o.before.Size, o.after.Size)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no defragmentation")
	}
}

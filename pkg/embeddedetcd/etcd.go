// Package embeddedetcd runs the single-member etcd that `kcsr server` stores its objects in
// by default. The member listens for clients on a unix socket inside the data directory
// (mode 0700), so only the server's own user can reach it; its peer listener, which a
// single-member cluster must still open, is on a free loopback port. Every write is fsynced:
// a crash never loses an acknowledged write.
package embeddedetcd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"k8s.io/klog/v2"
)

// Config describes the embedded member.
type Config struct {
	// Dir is the member's data directory; it is created with mode 0700.
	Dir string
	// QuotaBackendBytes caps the database size; 0 means 8 GiB.
	QuotaBackendBytes int64
	// StartTimeout bounds how long Start waits for the member to be ready; 0 means 60s.
	StartTimeout time.Duration
	// LogLevel is etcd's zap log level; empty means "error".
	LogLevel string
}

// Server is a running embedded member.
type Server struct {
	etcd      *embed.Etcd
	clientURL string
	quota     int64
}

// maxUnixPath is the longest socket path the kernel accepts (sun_path is 108 bytes).
const maxUnixPath = 104

// Start starts the member and waits until it serves clients.
func Start(ctx context.Context, c Config) (*Server, error) {
	if c.QuotaBackendBytes == 0 {
		c.QuotaBackendBytes = 8 << 30
	}
	if c.StartTimeout == 0 {
		c.StartTimeout = 60 * time.Second
	}
	if c.LogLevel == "" {
		c.LogLevel = "error"
	}
	dir, err := filepath.Abs(c.Dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create etcd data directory: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, err
	}

	cfg := embed.NewConfig()
	cfg.Name = "kcsr"
	cfg.Dir = dir
	cfg.Logger = "zap"
	cfg.LogLevel = c.LogLevel
	cfg.LogOutputs = []string{"stderr"}
	logger, err := newLogger(c.LogLevel)
	if err != nil {
		return nil, fmt.Errorf("etcd logger: %w", err)
	}
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(logger)
	cfg.QuotaBackendBytes = c.QuotaBackendBytes
	// kube-apiserver's storage layer compacts history itself (every 5 minutes).
	cfg.AutoCompactionRetention = "0"

	clientURL, err := clientListenURL(dir)
	if err != nil {
		return nil, err
	}
	peerPort, err := freeLoopbackPort()
	if err != nil {
		return nil, err
	}
	peerURL := url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", fmt.Sprint(peerPort))}
	cfg.ListenClientUrls = []url.URL{clientURL}
	cfg.AdvertiseClientUrls = []url.URL{clientURL}
	cfg.ListenPeerUrls = []url.URL{peerURL}
	cfg.AdvertisePeerUrls = []url.URL{peerURL}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.ListenMetricsUrls = nil
	// The socket path is fixed; a previous run killed with -9 leaves the file behind.
	if clientURL.Scheme == "unix" {
		_ = os.Remove(clientURL.Host + clientURL.Path)
	}

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("start embedded etcd in %s: %w", dir, err)
	}
	timer := time.NewTimer(c.StartTimeout)
	defer timer.Stop()
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("embedded etcd failed: %w", err)
	case <-timer.C:
		e.Close()
		return nil, fmt.Errorf("embedded etcd in %s was not ready after %s", dir, c.StartTimeout)
	case <-ctx.Done():
		e.Close()
		return nil, ctx.Err()
	}
	if clientURL.Scheme == "unix" {
		if err := os.Chmod(clientURL.Path, 0o600); err != nil {
			e.Close()
			return nil, fmt.Errorf("restrict etcd socket: %w", err)
		}
	}
	return &Server{etcd: e, clientURL: clientURL.String(), quota: c.QuotaBackendBytes}, nil
}

// ClientURL is the URL the API server's storage layer connects to.
func (s *Server) ClientURL() string { return s.clientURL }

// Err reports a fatal error of the running member.
func (s *Server) Err() <-chan error { return s.etcd.Err() }

// Close stops the member, letting in-flight requests finish. It is safe to call twice.
func (s *Server) Close() {
	s.etcd.Close()
}

// clientListenURL is a unix socket in dir when the path is short enough, otherwise a free
// loopback port.
func clientListenURL(dir string) (url.URL, error) {
	sock := filepath.Join(dir, "etcd.sock")
	if len(sock) <= maxUnixPath {
		return url.URL{Scheme: "unix", Path: sock}, nil
	}
	port, err := freeLoopbackPort()
	if err != nil {
		return url.URL{}, err
	}
	return url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", fmt.Sprint(port))}, nil
}

func freeLoopbackPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free loopback port: %w", err)
	}
	defer l.Close()
	addr, ok := l.Addr().(*net.TCPAddr)
	if !ok {
		return 0, errors.New("find a free loopback port: unexpected address type")
	}
	return addr.Port, nil
}

// Stats is the member's database: the file's size, the part of it in use (the rest is
// free pages left by compacted history, which only a defragmentation gives back to the
// file system) and the quota, the size at which etcd refuses every write.
type Stats struct {
	Size, InUse, Quota int64
}

// Stats reads the member's database sizes.
func (s *Server) Stats() Stats {
	b := s.etcd.Server.Backend()
	return Stats{Size: b.Size(), InUse: b.SizeInUse(), Quota: s.quota}
}

// Defragment rewrites the database without its free pages. Reads and writes wait while
// it runs: about a second per 100 MB in use.
func (s *Server) Defragment() error { return s.etcd.Server.Backend().Defrag() }

// Maintenance is when the database is defragmented, and what is told of it.
type Maintenance struct {
	// Interval is how often the sizes are read (and Stats told); 0 means a minute.
	Interval time.Duration
	// MinDefragInterval is the least time between two defragmentations; 0 means 10
	// minutes.
	MinDefragInterval time.Duration
	// MinFree and MinFreeRatio are how much of the file must be free pages, in bytes and
	// as a part of the file, for a defragmentation; 0 means 100 MiB and 0.3.
	MinFree      int64
	MinFreeRatio float64
	// Stats, when set, is told the sizes at every Interval; Defragmented, when set, the
	// outcome of every defragmentation.
	Stats        func(Stats)
	Defragmented func(before, after Stats, took time.Duration, err error)
}

// needsDefrag reports whether st has enough free pages to be worth a defragmentation.
func (m Maintenance) needsDefrag(st Stats) bool {
	free := st.Size - st.InUse
	return free >= m.MinFree && float64(free) >= m.MinFreeRatio*float64(st.Size)
}

// Maintain reads the sizes every m.Interval and defragments the database when enough of
// it is free pages (by default 30% and 100 MiB), until ctx is done: the API server
// compacts etcd's history every 5 minutes, but bbolt keeps the freed pages in its file,
// and the file is memory-mapped: a file twice the live data is twice the memory once read.
// It warns when the database passes 80% of its quota.
func (s *Server) Maintain(ctx context.Context, m Maintenance) {
	if m.Interval <= 0 {
		m.Interval = time.Minute
	}
	if m.MinDefragInterval <= 0 {
		m.MinDefragInterval = 10 * time.Minute
	}
	if m.MinFree <= 0 {
		m.MinFree = 100 << 20
	}
	if m.MinFreeRatio <= 0 {
		m.MinFreeRatio = 0.3
	}
	tick := time.NewTicker(m.Interval)
	defer tick.Stop()
	var lastDefrag time.Time
	for {
		st := s.Stats()
		if m.Stats != nil {
			m.Stats(st)
		}
		if st.Quota > 0 && float64(st.Size) >= 0.8*float64(st.Quota) {
			klog.ErrorS(nil, "The embedded etcd's database is above 80% of its quota; at the quota every write fails: lower --inventory-retention, or move to an external etcd with a larger quota",
				"sizeBytes", st.Size, "inUseBytes", st.InUse, "quotaBytes", st.Quota)
		}
		if m.needsDefrag(st) && (lastDefrag.IsZero() || time.Since(lastDefrag) >= m.MinDefragInterval) {
			start := time.Now()
			err := s.Defragment()
			lastDefrag = time.Now()
			if m.Defragmented != nil {
				m.Defragmented(st, s.Stats(), lastDefrag.Sub(start), err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

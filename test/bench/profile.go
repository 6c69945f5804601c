package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"k8s.io/client-go/rest"
)

// fetchProfile GETs /debug/pprof/<kind>?seconds=<d> from the server as the administrator
// (kcsr server, like kube-apiserver, serves net/http/pprof when profiling is on, the
// default) and writes it to path. kind is "profile" (CPU) or "allocs" (a delta of the
// allocations made during d).
func fetchProfile(ctx context.Context, s *system, kind string, d time.Duration, path string) error {
	cfg, err := s.adminConfig(true)
	if err != nil {
		return err
	}
	transport, err := rest.TransportFor(cfg)
	if err != nil {
		return err
	}
	url := fmt.Sprintf("%s/debug/pprof/%s?seconds=%d", s.url, kind, int(d.Seconds()))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: transport, Timeout: d + time.Minute}).Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("GET %s: %s: %s (is profiling on in %s?)", url, resp.Status, body, s.name)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

package manager

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"kcsr.dev/kcsr/pkg/controller/publisher"
	"kcsr.dev/kcsr/pkg/inventory"
	"kcsr.dev/kcsr/pkg/revocation/webhook"
)

// StartPublisher publishes the revocations of every signing CA of s from the inventory
// index inv (which the caller runs) and, with --public-port, serves
// CRLs, OCSP and the revocation authorization webhook over plain HTTP until ctx is done. Every
// replica publishes: CRL and OCSP are read-only views of the inventory.
func (o *Options) StartPublisher(ctx context.Context, s *Signers, inv *inventory.Index) (*publisher.Publisher, error) {
	cas, err := publisher.CAsFor(ctx, s.Profiles, s.ClusterCA)
	if err != nil {
		return nil, err
	}
	pub, err := publisher.New(cas, inv, clock.RealClock{})
	if err != nil {
		return nil, err
	}
	if o.PublicPort != 0 {
		mux := http.NewServeMux()
		mux.Handle("/", pub.Handler())
		mux.Handle(webhook.Path, webhook.Handler(inv))
		if err := Serve(ctx, "--public-port", o.PublicAddress(), mux); err != nil {
			return nil, err
		}
		klog.InfoS("Serving CRLs, OCSP and the revocation webhook", "url", o.PublicURL)
	}
	go pub.Run(ctx)
	return pub, nil
}

// Serve serves handler over plain HTTP on addr until ctx is done; flag names the setting
// in errors. It returns once the address is bound, so that a port in use fails the start.
func Serve(ctx context.Context, flag, addr string, handler http.Handler) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s: %w", flag, err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(l); err != nil && err != http.ErrServerClosed {
			klog.ErrorS(err, "Listener failed", "address", addr)
		}
	}()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	return nil
}

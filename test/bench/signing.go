package main

import (
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"kcsr.dev/kcsr/pkg/certificate"
	"kcsr.dev/kcsr/pkg/csr"
	"kcsr.dev/kcsr/pkg/pemutil"
	"kcsr.dev/kcsr/pkg/pki"
)

// signingRate is the bare x509.CreateCertificate rate on this machine: a cluster CA made
// the way kcsr server makes it (pkg/pki: ECDSA P-256), the template kcsr's signer builds
// for a node client certificate (pkg/certificate), prepared once, signed over and over by
// `goroutines` goroutines for d. No API, no storage: the ceiling of any CSR server here.
func signingRate(dir string, goroutines int, d time.Duration) (float64, error) {
	p, err := pki.Ensure(pki.Options{Dir: filepath.Join(dir, "signing-pki")})
	if err != nil {
		return 0, err
	}
	certPEM, err := os.ReadFile(p.Path(pki.CACertFile))
	if err != nil {
		return 0, err
	}
	keyPEM, err := os.ReadFile(p.Path(pki.CAKeyFile))
	if err != nil {
		return 0, err
	}
	caCert, caKey, err := pemutil.ParseCertAndKey(certPEM, keyPEM)
	if err != nil {
		return 0, err
	}
	obj, err := newCSR(nodeClient, "signing", 0, "signing")
	if err != nil {
		return 0, err
	}
	req, err := csr.ParseRequest(obj.Spec.Request)
	if err != nil {
		return 0, err
	}
	tmpl, err := certificate.Template(req, clientUsages, caCert, certificate.Options{Now: time.Now(), TTL: 365 * 24 * time.Hour, Backdate: certificate.DefaultBackdate})
	if err != nil {
		return 0, err
	}
	var count atomic.Int64
	var firstErr error
	var once sync.Once
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				if _, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, req.PublicKey, caKey); err != nil {
					once.Do(func() { firstErr = fmt.Errorf("x509.CreateCertificate: %w", err) })
					return
				}
				count.Add(1)
			}
		})
	}
	wg.Wait()
	return perSecond(int(count.Load()), time.Since(start)), firstErr
}

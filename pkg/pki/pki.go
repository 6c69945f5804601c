// Package pki creates and reuses the cluster PKI that `kcsr server` keeps in its data
// directory: the cluster CA, the API server's serving certificate, the admin client
// certificate and the admin kubeconfig. It owns those files and nothing else; signing CSRs
// is the job of the CA backends (pkg/ca), which load the same CA. The certificates it
// issues are recorded in the inventory like any other (Leaves; kcsr server does it at
// every start), so that they can be revoked; a missing one is issued anew by Ensure, which
// is how an administrator replaces a revoked admin certificate.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/clock"

	"kcsr.dev/kcsr/pkg/atomicfile"
	"kcsr.dev/kcsr/pkg/pemutil"
)

// File names inside the PKI directory.
const (
	CACertFile      = "ca.crt"
	CAKeyFile       = "ca.key"
	ServingCertFile = "serving.crt"
	ServingKeyFile  = "serving.key"
	AdminCertFile   = "admin.crt"
	AdminKeyFile    = "admin.key"
)

// Identity of the bootstrap administrator.
const (
	AdminUser  = "kcsr-admin"
	AdminGroup = user.SystemPrivilegedGroup
)

const (
	caLifetime      = 10 * 365 * 24 * time.Hour
	leafLifetime    = 365 * 24 * time.Hour
	renewBefore     = 30 * 24 * time.Hour
	backdate        = 5 * time.Minute
	caCommonName    = "kcsr-ca"
	servingCommonNm = "kcsr-apiserver"
)

// Options says where the PKI lives and what the serving certificate must cover.
type Options struct {
	// Dir holds the PKI files; it is created with mode 0700 if missing.
	Dir string
	// SANs are the host names and IP addresses the serving certificate must be valid for,
	// on top of localhost, 127.0.0.1 and ::1.
	SANs []string
	// CASigner, when set, is the cluster CA key held elsewhere (an HSM): ca.crt must be
	// in Dir already, and no ca.key may be there.
	CASigner crypto.Signer
	// Clock and Rand default to the real clock and crypto/rand.
	Clock clock.PassiveClock
	Rand  io.Reader
}

// PKI is the loaded cluster PKI.
type PKI struct {
	Dir    string
	CA     *x509.Certificate
	CAKey  crypto.Signer
	CAPEM  []byte
	Events []string // what Ensure created or renewed, for the start-up log
}

// Path returns the full path of a file of the PKI.
func (p *PKI) Path(name string) string { return filepath.Join(p.Dir, name) }

// Ensure loads the PKI from opts.Dir, creating whatever is missing: the CA on first start,
// and the serving and admin certificates whenever they are missing, expire within 30 days,
// were issued by another CA, or (serving) do not cover every requested SAN.
func Ensure(opts Options) (*PKI, error) {
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.Rand == nil {
		opts.Rand = randReader
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create PKI directory: %w", err)
	}
	p := &PKI{Dir: opts.Dir}
	if err := p.ensureCA(opts); err != nil {
		return nil, err
	}
	dnsNames, ips := splitSANs(append([]string{"localhost", "127.0.0.1", "::1"}, opts.SANs...))
	if err := p.ensureLeaf(opts, ServingCertFile, ServingKeyFile, &x509.Certificate{
		Subject:     pkix.Name{CommonName: servingCommonNm},
		DNSNames:    dnsNames,
		IPAddresses: ips,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}); err != nil {
		return nil, err
	}
	if err := p.ensureLeaf(opts, AdminCertFile, AdminKeyFile, &x509.Certificate{
		Subject:     pkix.Name{CommonName: AdminUser, Organization: []string{AdminGroup}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *PKI) ensureCA(opts Options) error {
	certPath, keyPath := p.Path(CACertFile), p.Path(CAKeyFile)
	if opts.CASigner != nil {
		return p.useExternalCA(opts, certPath, keyPath)
	}
	certPEM, certErr := os.ReadFile(certPath)
	keyPEM, keyErr := os.ReadFile(keyPath)
	switch {
	case certErr == nil && keyErr == nil:
		cert, key, err := pemutil.ParseCertAndKey(certPEM, keyPEM)
		if err != nil {
			return fmt.Errorf("cluster CA in %s: %w", p.Dir, err)
		}
		if now := opts.Clock.Now(); now.After(cert.NotAfter) {
			return fmt.Errorf("cluster CA %s expired on %s; replace %s and %s with a valid CA", certPath, cert.NotAfter.Format(time.RFC3339), CACertFile, CAKeyFile)
		}
		p.CA, p.CAKey, p.CAPEM = cert, key, certPEM
		return checkKeyMode(keyPath)
	case errors.Is(certErr, fs.ErrNotExist) && errors.Is(keyErr, fs.ErrNotExist):
		// First start: create the CA.
	case certErr != nil && !errors.Is(certErr, fs.ErrNotExist):
		return fmt.Errorf("read cluster CA: %w", certErr)
	case keyErr != nil && !errors.Is(keyErr, fs.ErrNotExist):
		return fmt.Errorf("read cluster CA key: %w", keyErr)
	default:
		return fmt.Errorf("%s has only one of %s and %s; restore the missing file or remove both to create a new CA", p.Dir, CACertFile, CAKeyFile)
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), opts.Rand)
	if err != nil {
		return fmt.Errorf("generate CA key: %w", err)
	}
	now := opts.Clock.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          mustSerial(opts.Rand),
		Subject:               pkix.Name{CommonName: caCommonName},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(caLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		SubjectKeyId:          subjectKeyID(key.Public()),
	}
	der, err := x509.CreateCertificate(opts.Rand, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return fmt.Errorf("create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return err
	}
	keyPEM, err = pemutil.EncodeKey(key)
	if err != nil {
		return err
	}
	certPEM = pemutil.EncodeCertificate(der)
	// Key first: a CA certificate without its key is useless, a key without certificate is
	// detected above and reported.
	if err := atomicfile.WriteFile(keyPath, keyPEM, 0o600); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(certPath, certPEM, 0o644); err != nil {
		return err
	}
	p.CA, p.CAKey, p.CAPEM = cert, key, certPEM
	p.Events = append(p.Events, "created cluster CA "+certPath)
	return nil
}

// useExternalCA adopts a CA whose key is held outside the data directory.
func (p *PKI) useExternalCA(opts Options, certPath, keyPath string) error {
	if _, err := os.Stat(keyPath); err == nil {
		return fmt.Errorf("the cluster CA key is in the HSM, but %s exists too; remove it (keep a backup offline) so the key lives in one place", keyPath)
	}
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return fmt.Errorf("the cluster CA key is in the HSM: put its certificate in %s (%w)", certPath, err)
	}
	cert, err := pemutil.FirstCertificate(certPEM)
	if err != nil {
		return fmt.Errorf("cluster CA certificate %s: %w", certPath, err)
	}
	if !publicKeysEqual(cert.PublicKey, opts.CASigner.Public()) {
		return fmt.Errorf("cluster CA certificate %s does not belong to the HSM key", certPath)
	}
	if now := opts.Clock.Now(); now.After(cert.NotAfter) {
		return fmt.Errorf("cluster CA %s expired on %s", certPath, cert.NotAfter.Format(time.RFC3339))
	}
	p.CA, p.CAKey, p.CAPEM = cert, opts.CASigner, certPEM
	return nil
}

// ensureLeaf reuses certFile/keyFile if they are still good for tmpl, otherwise issues a
// new certificate (with a new key) from the cluster CA.
func (p *PKI) ensureLeaf(opts Options, certFile, keyFile string, tmpl *x509.Certificate) error {
	certPath, keyPath := p.Path(certFile), p.Path(keyFile)
	if certPEM, err := os.ReadFile(certPath); err == nil {
		if keyPEM, err := os.ReadFile(keyPath); err == nil {
			cert, _, err := pemutil.ParseCertAndKey(certPEM, keyPEM)
			if err == nil && p.leafStillGood(opts.Clock.Now(), cert, tmpl) {
				return checkKeyMode(keyPath)
			}
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), opts.Rand)
	if err != nil {
		return fmt.Errorf("generate key for %s: %w", certFile, err)
	}
	now := opts.Clock.Now()
	t := *tmpl
	t.SerialNumber = mustSerial(opts.Rand)
	t.NotBefore = now.Add(-backdate)
	t.NotAfter = now.Add(leafLifetime)
	if t.NotAfter.After(p.CA.NotAfter) {
		t.NotAfter = p.CA.NotAfter
	}
	t.KeyUsage = x509.KeyUsageDigitalSignature
	t.BasicConstraintsValid = true
	t.SubjectKeyId = subjectKeyID(key.Public())
	der, err := x509.CreateCertificate(opts.Rand, &t, p.CA, key.Public(), p.CAKey)
	if err != nil {
		return fmt.Errorf("issue %s: %w", certFile, err)
	}
	keyPEM, err := pemutil.EncodeKey(key)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(keyPath, keyPEM, 0o600); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(certPath, pemutil.EncodeCertificate(der), 0o644); err != nil {
		return err
	}
	p.Events = append(p.Events, "issued "+certPath)
	return nil
}

func (p *PKI) leafStillGood(now time.Time, cert *x509.Certificate, want *x509.Certificate) bool {
	if cert.CheckSignatureFrom(p.CA) != nil {
		return false
	}
	if now.Add(renewBefore).After(cert.NotAfter) && p.CA.NotAfter.After(cert.NotAfter) {
		return false
	}
	if cert.Subject.CommonName != want.Subject.CommonName || !slices.Equal(cert.Subject.Organization, want.Subject.Organization) {
		return false
	}
	for _, name := range want.DNSNames {
		if !slices.Contains(cert.DNSNames, name) {
			return false
		}
	}
	for _, ip := range want.IPAddresses {
		if !slices.ContainsFunc(cert.IPAddresses, ip.Equal) {
			return false
		}
	}
	return true
}

// checkKeyMode refuses a private key file that group or others can read.
func checkKeyMode(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	return CheckSecretFileMode("private key", path, fi.Mode())
}

// Leaf is a certificate the PKI issued itself from the cluster CA, as found in its
// directory: the serving certificate or the admin client certificate.
type Leaf struct {
	// Role is "serving" or "admin"; File is its certificate file.
	Role, File string
	// Cert is the parsed certificate and PEM its file's CERTIFICATE block alone.
	Cert *x509.Certificate
	PEM  []byte
	// Usages are what it was issued for, in the terms of certificates.k8s.io/v1 (read from
	// the certificate).
	Usages []certificatesv1.KeyUsage
}

// Leaves returns the serving and admin certificates in p.Dir, the ones Ensure issued or
// kept, for the inventory: kcsr records every certificate it issues, its own included, so
// that each can be revoked.
func (p *PKI) Leaves() ([]Leaf, error) {
	var leaves []Leaf
	for _, l := range []struct{ role, file string }{{"serving", ServingCertFile}, {"admin", AdminCertFile}} {
		data, err := os.ReadFile(p.Path(l.file))
		if err != nil {
			return nil, err
		}
		cert, err := pemutil.FirstCertificate(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.Path(l.file), err)
		}
		leaves = append(leaves, Leaf{Role: l.role, File: p.Path(l.file), Cert: cert, PEM: pemutil.EncodeCertificate(cert.Raw), Usages: usagesOf(cert)})
	}
	return leaves, nil
}

// usagesOf names the usages ensureLeaf gives its certificates.
func usagesOf(cert *x509.Certificate) []certificatesv1.KeyUsage {
	var usages []certificatesv1.KeyUsage
	if cert.KeyUsage&x509.KeyUsageDigitalSignature != 0 {
		usages = append(usages, certificatesv1.UsageDigitalSignature)
	}
	for _, eku := range cert.ExtKeyUsage {
		switch eku {
		case x509.ExtKeyUsageServerAuth:
			usages = append(usages, certificatesv1.UsageServerAuth)
		case x509.ExtKeyUsageClientAuth:
			usages = append(usages, certificatesv1.UsageClientAuth)
		}
	}
	return usages
}

// WriteKubeconfig writes a kubeconfig at path (mode 0600, atomically) for server, trusting
// caPEM and authenticating with the given client certificate and key files (embedded).
func WriteKubeconfig(path, server, userName string, caPEM, certPEM, keyPEM []byte) error {
	const contextName = "kcsr"
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[contextName] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caPEM}
	cfg.AuthInfos[userName] = &clientcmdapi.AuthInfo{ClientCertificateData: certPEM, ClientKeyData: keyPEM}
	cfg.Contexts[contextName] = &clientcmdapi.Context{Cluster: contextName, AuthInfo: userName}
	cfg.CurrentContext = contextName
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return fmt.Errorf("encode kubeconfig: %w", err)
	}
	return atomicfile.WriteFile(path, data, 0o600)
}

// WriteAdminKubeconfig writes the bootstrap administrator's kubeconfig for server.
func (p *PKI) WriteAdminKubeconfig(path, server string) error {
	certPEM, err := os.ReadFile(p.Path(AdminCertFile))
	if err != nil {
		return err
	}
	keyPEM, err := os.ReadFile(p.Path(AdminKeyFile))
	if err != nil {
		return err
	}
	return WriteKubeconfig(path, server, AdminUser, p.CAPEM, certPEM, keyPEM)
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	ea, ok := a.(equaler)
	return ok && ea.Equal(b)
}

// subjectKeyID computes the RFC 5280 §4.2.1.2 method 1 key identifier.
func subjectKeyID(pub crypto.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil
	}
	// The identifier is the SHA-1 of the subjectPublicKey BIT STRING; hashing the whole
	// SubjectPublicKeyInfo is the common, also unique, variant.
	sum := sha1.Sum(der)
	return sum[:]
}

func mustSerial(r io.Reader) *big.Int {
	limit := new(big.Int).Lsh(big.NewInt(1), 128)
	n, err := randInt(r, limit)
	if err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err))
	}
	return n
}

func splitSANs(sans []string) (dns []string, ips []net.IP) {
	for _, s := range sans {
		if ip := net.ParseIP(s); ip != nil {
			if !slices.ContainsFunc(ips, ip.Equal) {
				ips = append(ips, ip)
			}
			continue
		}
		if s != "" && !slices.Contains(dns, s) {
			dns = append(dns, s)
		}
	}
	return dns, ips
}

package publisher

import (
	"context"
	"crypto/x509"
	"fmt"
	"sort"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/ca"
	"kcsr.dev/kcsr/pkg/revocation"
	"kcsr.dev/kcsr/pkg/signer"
)

// CAsFor groups the signer profiles by CA: one published CA (one CRL, one OCSP responder)
// per distinct CA certificate subject and key (ca.Identity), whichever backend opened it,
// so that a custom signer declared with the cluster CA's files shares the cluster CA's CRL
// and OCSP. The CA of clusterCA is named ClusterCAID and signs with clusterCA; any other
// is named after its first signerName and signs with that signer's backend. Profiles
// without a CA are skipped. The cluster CA is always published, under the pseudo-signer
// kcsrv1alpha1.PKISignerName besides its signers: it issued the server's own certificates
// (the admin client certificate, the serving certificate), whose revocations its CRL and
// OCSP must carry even when no signer issues with it.
func CAsFor(ctx context.Context, profiles map[string]*signer.Profile, clusterCA ca.Backend) ([]CA, error) {
	names := make([]string, 0, len(profiles))
	for name := range profiles {
		names = append(names, name)
	}
	sort.Strings(names)
	var (
		clusterID   ca.Identity
		clusterCert *x509.Certificate
	)
	if clusterCA != nil {
		chain, err := clusterCA.Chain(ctx)
		if err != nil {
			return nil, fmt.Errorf("cluster CA: read the CA certificate: %w", err)
		}
		if len(chain) == 0 {
			return nil, fmt.Errorf("cluster CA: %w", ca.ErrNoCertificate)
		}
		clusterID, clusterCert = ca.IdentityOf(chain[0]), chain[0]
	}
	byIdentity := map[ca.Identity]int{}
	var cas []CA
	for _, name := range names {
		prof := profiles[name]
		if prof.CA == nil {
			continue
		}
		chain, err := prof.CA.Chain(ctx)
		if err != nil {
			return nil, fmt.Errorf("signer %s: read the CA certificate: %w", name, err)
		}
		if len(chain) == 0 {
			return nil, fmt.Errorf("signer %s: %w", name, ca.ErrNoCertificate)
		}
		identity := ca.IdentityOf(chain[0])
		i, ok := byIdentity[identity]
		if !ok {
			id, backend := IDFor(name), prof.CA
			if clusterCA != nil && identity == clusterID {
				id, backend = ClusterCAID, clusterCA
			}
			i = len(cas)
			byIdentity[identity] = i
			cas = append(cas, CA{ID: id, Authority: &revocation.Authority{Backend: backend}, Certificate: chain[0]})
		}
		cas[i].SignerNames = append(cas[i].SignerNames, name)
	}
	if clusterCA != nil {
		i, ok := byIdentity[clusterID]
		if !ok {
			i = len(cas)
			cas = append(cas, CA{ID: ClusterCAID, Authority: &revocation.Authority{Backend: clusterCA}, Certificate: clusterCert})
		}
		cas[i].SignerNames = append(cas[i].SignerNames, kcsrv1alpha1.PKISignerName)
	}
	return cas, nil
}

// URLFuncs returns, for the signer controller's options, the functions that give a
// signer's CRL distribution point and OCSP responder under base (none when base is empty
// or the signer's CA is not published).
func (p *Publisher) URLFuncs(base string) (crl, ocsp func(signerName string) []string) {
	crl = func(signerName string) []string {
		c, _ := p.URLs(base, signerName)
		return c
	}
	ocsp = func(signerName string) []string {
		_, o := p.URLs(base, signerName)
		return o
	}
	return crl, ocsp
}

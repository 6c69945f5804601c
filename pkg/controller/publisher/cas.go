package publisher

import (
	"sort"

	"kcsr.dev/kcsr/pkg/ca"
	"kcsr.dev/kcsr/pkg/revocation"
	"kcsr.dev/kcsr/pkg/signer"
)

// CAsFor groups the signer profiles by CA: one published CA (one CRL, one OCSP responder)
// per distinct backend, named ClusterCAID for clusterCA and after its first signerName
// otherwise. Profiles without a CA are skipped.
func CAsFor(profiles map[string]*signer.Profile, clusterCA ca.Backend) []CA {
	names := make([]string, 0, len(profiles))
	for name := range profiles {
		names = append(names, name)
	}
	sort.Strings(names)
	byBackend := map[ca.Backend]int{}
	var cas []CA
	for _, name := range names {
		prof := profiles[name]
		if prof.CA == nil {
			continue
		}
		i, ok := byBackend[prof.CA]
		if !ok {
			id := IDFor(name)
			if clusterCA != nil && prof.CA == clusterCA {
				id = ClusterCAID
			}
			i = len(cas)
			byBackend[prof.CA] = i
			cas = append(cas, CA{ID: id, Authority: &revocation.Authority{Backend: prof.CA}})
		}
		cas[i].SignerNames = append(cas[i].SignerNames, name)
	}
	return cas
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

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

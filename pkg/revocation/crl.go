package revocation

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// CRL returns a complete CRL (RFC 5280 §5, DER) of the CA listing entries, signed with
// the CA key: CRL number number, thisUpdate now (to the second), nextUpdate
// thisUpdate+CRLValidity, the authorityKeyIdentifier of the CA, and per entry its
// revocation time and reason code (left out for Unspecified). Entries whose certificate
// has expired at now (NotAfter before now) are dropped; the others keep the order given
// (Set.Snapshot orders them by serial).
//
// The caller keeps number increasing from one CRL to the next, and durable, and publishes
// a new CRL on every change and well before nextUpdate.
func (a *Authority) CRL(ctx context.Context, entries []Entry, number *big.Int, now time.Time) ([]byte, error) {
	if err := a.checkValidities(); err != nil {
		return nil, err
	}
	switch {
	case number == nil:
		return nil, errors.New("CRL number: missing; give a number that grows with each CRL")
	case number.Sign() < 0:
		return nil, fmt.Errorf("CRL number: %s is negative; give a number that grows with each CRL, from 0", number)
	case number.BitLen() > 159:
		return nil, fmt.Errorf("CRL number: %s is longer than 20 octets (RFC 5280 §5.2.3)", number)
	}
	issuer, signer, err := a.caKey(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkCRLIssuer(issuer); err != nil {
		return nil, err
	}
	thisUpdate := now.UTC().Truncate(time.Second)
	listed := make([]x509.RevocationListEntry, 0, len(entries))
	for i, e := range entries {
		if err := e.Validate(); err != nil {
			return nil, fmt.Errorf("entry %d: %w", i, err)
		}
		if e.expired(now) {
			continue
		}
		listed = append(listed, x509.RevocationListEntry{
			SerialNumber:   e.Serial,
			RevocationTime: e.RevokedAt.UTC(),
			ReasonCode:     int(e.Reason), // x509 leaves the extension out for 0, unspecified
		})
	}
	der, err := x509.CreateRevocationList(a.rand(), &x509.RevocationList{
		RevokedCertificateEntries: listed,
		Number:                    number,
		ThisUpdate:                thisUpdate,
		NextUpdate:                thisUpdate.Add(a.crlValidity()),
	}, issuer, signer)
	if err != nil {
		return nil, fmt.Errorf("sign the CRL of %q: %w", issuer.Subject, err)
	}
	return der, nil
}

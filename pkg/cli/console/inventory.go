package console

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/cli"
	"kcsr.dev/kcsr/pkg/cli/admin"
	kcsrclient "kcsr.dev/kcsr/pkg/generated/clientset/versioned"
)

// Certificate states, as the inventory view shows and filters them.
const (
	stateValid    = "valid"
	stateExpiring = "expiring"
	stateExpired  = "expired"
	stateRevoked  = "revoked"
)

// expiringWithin is how close to its end a certificate is "expiring": under 30 % of its
// lifetime left (past where kcsr renew and the kubelet renew it), and at most 30 days.
func expiringWithin(notBefore, notAfter time.Time) time.Duration {
	return min(notAfter.Sub(notBefore)*3/10, 30*24*time.Hour)
}

// certificateState is ic's state at now.
func certificateState(ic *kcsrv1alpha1.IssuedCertificate, now time.Time) string {
	notBefore, notAfter := ic.Spec.NotBefore.Time, ic.Spec.NotAfter.Time
	switch {
	case ic.Status.Revocation != nil:
		return stateRevoked
	case !now.Before(notAfter):
		return stateExpired
	case notAfter.Sub(now) < expiringWithin(notBefore, notAfter):
		return stateExpiring
	default:
		return stateValid
	}
}

// certificate is an inventory record as the page shows it. Every value from the record
// is escaped (cli.Printable).
type certificate struct {
	// ID is the record's name as stored, to address it; Name is the name as shown.
	ID          string      `json:"id"`
	Name        string      `json:"name"`
	Serial      string      `json:"serial"`
	CN          string      `json:"cn"`
	O           string      `json:"o"`
	Signer      string      `json:"signer"`
	CSR         string      `json:"csr"`
	Requester   string      `json:"requester"`
	NotBefore   string      `json:"notBefore"`
	NotAfter    string      `json:"notAfter"`
	Fingerprint string      `json:"fingerprint"`
	State       string      `json:"state"`
	Revocation  *revocation `json:"revocation,omitempty"`
	// Upstream names the upstream CA that issued it; UpstreamRevocation is its answer to
	// kcsr's revocation.
	Upstream           string `json:"upstream,omitempty"`
	UpstreamRevocation string `json:"upstreamRevocation,omitempty"`
}

type revocation struct {
	Reason  string `json:"reason"`
	Message string `json:"message"`
	Time    string `json:"time"`
	By      string `json:"by"`
}

func toCertificate(ic *kcsrv1alpha1.IssuedCertificate, now time.Time) certificate {
	c := certificate{
		ID:                 ic.Name,
		Name:               cli.Printable(ic.Name),
		Serial:             cli.Printable(ic.Spec.SerialNumber),
		CN:                 cli.Printable(ic.Spec.CommonName),
		O:                  strings.Join(cli.PrintableAll(ic.Spec.Organizations), ","),
		Signer:             cli.Printable(ic.Spec.SignerName),
		CSR:                cli.Printable(ic.Spec.CSRName),
		Requester:          cli.Printable(ic.Spec.Requester.Username),
		NotBefore:          ic.Spec.NotBefore.UTC().Format(time.RFC3339),
		NotAfter:           ic.Spec.NotAfter.UTC().Format(time.RFC3339),
		Fingerprint:        cli.Printable(ic.Spec.SHA256Fingerprint),
		State:              certificateState(ic, now),
		Upstream:           cli.Printable(ic.Annotations[kcsrv1alpha1.UpstreamAnnotation]),
		UpstreamRevocation: cli.Printable(ic.Annotations[kcsrv1alpha1.UpstreamRevocationAnnotation]),
	}
	if r := ic.Status.Revocation; r != nil {
		c.Revocation = &revocation{Reason: cli.Printable(r.Reason), Message: cli.Printable(r.Message), Time: r.Time.UTC().Format(time.RFC3339), By: cli.Printable(r.RevokedBy)}
	}
	return c
}

// searchFields are the inventory's indexed fields the search may name.
var searchFields = map[string]string{
	"cn":          "spec.commonName",
	"serial":      "spec.serialNumber",
	"csr":         "spec.csrName",
	"signer":      "spec.signerName",
	"fingerprint": "spec.sha256Fingerprint",
}

// search is one inventory query: an optional field and value, an optional state, and
// where the last page ended.
type search struct {
	By, Q, State, Continue string
}

// selector returns the field selector of s, or an error that says what to change.
func (s search) selector() (string, error) {
	if s.Q == "" {
		return "", nil
	}
	field, ok := searchFields[s.By]
	if !ok {
		return "", fmt.Errorf("search by %q is not supported: use cn, serial, csr, signer or fingerprint", s.By)
	}
	q := strings.TrimSpace(s.Q)
	switch s.By {
	case "serial":
		n, err := admin.NormalizeSerial(q)
		if err != nil {
			return "", err
		}
		q = n
	case "fingerprint":
		q = strings.ToLower(strings.ReplaceAll(q, ":", ""))
	}
	return fields.OneTermEqualSelector(field, q).String(), nil
}

// Bounds of one search: the page holds up to pageSize matches, and reads at most
// scanLimit records to find them (a state filter on a large inventory).
const (
	pageSize  = 100
	scanLimit = 5000
)

// searchResult is one page of a search.
type searchResult struct {
	Items    []certificate `json:"items"`
	Continue string        `json:"continue,omitempty"`
	Scanned  int           `json:"scanned"`
}

func (s search) run(ctx context.Context, kcsr kcsrclient.Interface, now time.Time) (searchResult, error) {
	selector, err := s.selector()
	if err != nil {
		return searchResult{}, &badRequest{err}
	}
	switch s.State {
	case "", stateValid, stateExpiring, stateExpired, stateRevoked:
	default:
		return searchResult{}, &badRequest{fmt.Errorf("state %q is not one of valid, expiring, expired, revoked", s.State)}
	}
	res := searchResult{Items: []certificate{}}
	opts := metav1.ListOptions{FieldSelector: selector, Limit: pageSize, Continue: s.Continue}
	for {
		list, err := kcsr.KcsrV1alpha1().IssuedCertificates().List(ctx, opts)
		if err != nil {
			return searchResult{}, err
		}
		res.Scanned += len(list.Items)
		for i := range list.Items {
			c := toCertificate(&list.Items[i], now)
			if s.State == "" || c.State == s.State {
				res.Items = append(res.Items, c)
			}
		}
		res.Continue = list.Continue
		if res.Continue == "" || len(res.Items) >= pageSize || res.Scanned >= scanLimit {
			return res, nil
		}
		opts.Continue = res.Continue
	}
}

// Chart figures: expiries per day over the next chartDays days, per signer, and
// issuance and denials per hour over the last 24 hours.
const (
	chartDays = 90
	// chartScanLimit bounds the records read for the charts; beyond it they say so.
	chartScanLimit = 200000
	// chartTTL is how long the figures are reused before the inventory is read again.
	chartTTL = 15 * time.Second
)

// charts is what the charts draw.
type charts struct {
	// Days are the next chartDays dates (UTC, YYYY-MM-DD); Expiring[signer][i] is how
	// many valid certificates of signer expire on Days[i].
	Days     []string         `json:"days"`
	Expiring map[string][]int `json:"expiring"`
	// Hours are the starts of the last 24 hours (RFC 3339); Issued[i] and Denied[i]
	// count the certificates recorded and the CSRs denied in each.
	Hours  []string `json:"hours"`
	Issued []int    `json:"issued"`
	Denied []int    `json:"denied"`
	// Scanned is how many records were read; Truncated is set when the inventory holds
	// more than were read.
	Scanned   int    `json:"scanned"`
	Truncated bool   `json:"truncated"`
	AsOf      string `json:"asOf"`
	// Inventory is false when the API serves no inventory (a plain kube-apiserver).
	Inventory bool `json:"inventory"`
}

// chartCache keeps the last figures for chartTTL.
type chartCache struct {
	mu   sync.Mutex
	at   time.Time
	last *charts
}

func (cc *chartCache) get(ctx context.Context, kcsr kcsrclient.Interface, served bool, q *queue, now time.Time) (*charts, error) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.last != nil && now.Sub(cc.at) < chartTTL {
		return cc.last, nil
	}
	c, err := computeCharts(ctx, kcsr, served, q, now)
	if err != nil {
		return nil, err
	}
	cc.at, cc.last = now, c
	return c, nil
}

func computeCharts(ctx context.Context, kcsr kcsrclient.Interface, served bool, q *queue, now time.Time) (*charts, error) {
	c := &charts{Expiring: map[string][]int{}, Issued: make([]int, 24), Denied: make([]int, 24), AsOf: now.UTC().Format(time.RFC3339), Inventory: served}
	today := now.UTC().Truncate(24 * time.Hour)
	for i := range chartDays {
		c.Days = append(c.Days, today.Add(time.Duration(i)*24*time.Hour).Format("2006-01-02"))
	}
	hourStart := now.UTC().Truncate(time.Hour).Add(-23 * time.Hour)
	for i := range 24 {
		c.Hours = append(c.Hours, hourStart.Add(time.Duration(i)*time.Hour).Format(time.RFC3339))
	}
	hourOf := func(t time.Time) int {
		if t.Before(hourStart) {
			return -1
		}
		return min(int(t.Sub(hourStart)/time.Hour), 23)
	}
	if q != nil {
		for _, at := range q.deniedSince(hourStart) {
			if h := hourOf(at); h >= 0 {
				c.Denied[h]++
			}
		}
	}
	if !served {
		return c, nil
	}
	opts := metav1.ListOptions{Limit: 500}
	for {
		list, err := kcsr.KcsrV1alpha1().IssuedCertificates().List(ctx, opts)
		if err != nil {
			return nil, err
		}
		for i := range list.Items {
			ic := &list.Items[i]
			if h := hourOf(ic.CreationTimestamp.Time); h >= 0 {
				c.Issued[h]++
			}
			if ic.Status.Revocation != nil || !ic.Spec.NotAfter.After(now) {
				continue
			}
			day := int(ic.Spec.NotAfter.UTC().Sub(today) / (24 * time.Hour))
			if day >= chartDays {
				continue
			}
			signer := cli.Printable(ic.Spec.SignerName)
			if c.Expiring[signer] == nil {
				c.Expiring[signer] = make([]int, chartDays)
			}
			c.Expiring[signer][day]++
		}
		c.Scanned += len(list.Items)
		if list.Continue == "" {
			break
		}
		if c.Scanned >= chartScanLimit {
			c.Truncated = true
			break
		}
		opts.Continue = list.Continue
	}
	return c, nil
}

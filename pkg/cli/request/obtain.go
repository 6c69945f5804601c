package request

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	certificatesclient "k8s.io/client-go/kubernetes/typed/certificates/v1"
	"k8s.io/utils/clock"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/cli"
	"kcsr.dev/kcsr/pkg/csr"
)

const (
	// abandonTimeout bounds the deletion of a CSR left behind by an interrupt or a timeout.
	abandonTimeout = 10 * time.Second
	// firstRetryDelay doubles after each failed call to the server, up to maxRetryDelay.
	firstRetryDelay = 500 * time.Millisecond
	maxRetryDelay   = 10 * time.Second
	// shortenedTolerance: a certificate that lives this much less than requested gets a
	// note (signers clamp lifetimes silently).
	shortenedTolerance = 10 * time.Minute

	noFilesWritten = "no files were written"
	pendingHint    = "waiting for approval: an administrator runs kubectl certificate approve %s, or an approval policy decides"
	// joinPendingHint is for a join: the token approves its request.
	joinPendingHint = "waiting for the join token to approve %s: the server approves it at once when it asks for exactly the user, groups and names the token was made for"
)

var errWaitTimeout = errors.New("--wait elapsed")

// Request is one certificate to obtain.
type Request struct {
	// Name of the CSR; when empty, GenerateName is its prefix.
	Name, GenerateName string
	Signer             string
	Usages             []certificatesv1.KeyUsage
	// Duration is spec.expirationSeconds; 0 leaves the lifetime to the signer.
	Duration time.Duration
	Identity Identity
	Key      crypto.Signer
	// KeyKept means the key outlives this run (--key FILE): an existing CSR of the same
	// name for the same key is waited for instead of refused, and a CSR left Pending by a
	// timeout or an interrupt is kept for the next run. Otherwise such a CSR is deleted,
	// since nobody holds its key any more.
	KeyKept bool
}

// Issued is an issued and verified certificate.
type Issued struct {
	CSRName string
	CertPEM []byte
	Cert    *x509.Certificate
}

// Obtainer submits requests and waits for their certificates.
type Obtainer struct {
	CSRs certificatesclient.CertificateSigningRequestInterface
	// Roots is the CA bundle (PEM) the client trusts for the API server, nil if none (the
	// system's CAs). A certificate for logging in must chain to it.
	Roots []byte
	// Wait bounds the wait for approval and issuance.
	Wait     time.Duration
	Clock    clock.WithTicker
	Rand     io.Reader
	Progress *Progress
	// ErrOut receives warnings.
	ErrOut io.Writer
	// AfterCreate, when set, is called with the CSR this Obtainer created, before the
	// wait (kcsr request's self-approval).
	AfterCreate func(ctx context.Context, created *certificatesv1.CertificateSigningRequest)
	// PendingHint, when set, replaces what is printed of a Pending CSR (a format with the
	// CSR's name): who is expected to approve it.
	PendingHint string
}

// Obtain creates the CSR for r (or, with r.KeyKept, resumes the one of the same name and
// key), waits until it is issued, denied, failed or deleted, or until o.Wait passes or ctx
// ends, and verifies the certificate. Errors are *cli.ExitError with the exit codes of
// this package.
func (o *Obtainer) Obtain(ctx context.Context, r Request) (*Issued, error) {
	// --wait bounds everything from here: the create, the wait, the reads.
	waitCtx, timedOut, stop := o.deadline(ctx)
	defer stop()
	created, err := o.submit(waitCtx, timedOut, r)
	if err != nil {
		return nil, err
	}
	return o.collect(ctx, waitCtx, timedOut, created, r)
}

// Submit creates the CSR for r (or, with r.KeyKept, finds the one of the same name and
// key) and returns it without waiting: approval that comes later.
func (o *Obtainer) Submit(ctx context.Context, r Request) (*certificatesv1.CertificateSigningRequest, error) {
	waitCtx, timedOut, stop := o.deadline(ctx)
	defer stop()
	return o.submit(waitCtx, timedOut, r)
}

func (o *Obtainer) submit(waitCtx context.Context, timedOut func() bool, r Request) (*certificatesv1.CertificateSigningRequest, error) {
	requestPEM, err := r.Identity.CSR(r.Key, o.Rand)
	if err != nil {
		return nil, err
	}
	obj := &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: r.Name, GenerateName: r.GenerateName},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request:    requestPEM,
			SignerName: r.Signer,
			Usages:     r.Usages,
		},
	}
	if r.Duration > 0 {
		s := int32(r.Duration / time.Second)
		obj.Spec.ExpirationSeconds = &s
	}
	if objection := signerObjection(r.Signer, r.Identity, r.Usages); objection != "" {
		fmt.Fprintf(o.ErrOut, "warning: signer %s will refuse this request after approval (%s); submitting it anyway\n", r.Signer, objection)
	}

	created, err := o.CSRs.Create(waitCtx, obj, metav1.CreateOptions{})
	switch {
	case err == nil:
		lifetime := "the signer's default lifetime"
		if r.Duration > 0 {
			lifetime = "lifetime " + r.Duration.String()
		}
		o.Progress.Printf("created CSR %s: %s, signer %s, %s key, %s", created.Name, r.Identity, r.Signer, csr.KeyAlgorithm(r.Key.Public()), lifetime)
		if o.AfterCreate != nil {
			o.AfterCreate(waitCtx, created)
		}
	case apierrors.IsAlreadyExists(err) && r.Name != "":
		created, err = o.existing(waitCtx, r)
		if err != nil {
			return nil, err
		}
	case timedOut():
		return nil, exitf(ExitTimeout, "timed out after %s before the CSR was created; %s", o.Wait, noFilesWritten)
	case waitCtx.Err() != nil:
		return nil, exitf(ExitTimeout, "interrupted before the CSR was created; %s", noFilesWritten)
	case apierrors.IsForbidden(err):
		return nil, exitf(ExitServerError, "create the CSR: %v; an administrator can allow it, e.g. kubectl create clusterrolebinding %s-self-renewal --clusterrole kcsr:self-renewal --user %s (CSRs for %s only, on kcsr server)", err, r.Identity.CommonName, r.Identity.CommonName, r.Identity.CommonName)
	default:
		return nil, apiError("create the CSR", err)
	}

	return created, nil
}

// deadline returns ctx bounded by o.Wait, whether that bound is what ended it, and the
// function that releases it.
func (o *Obtainer) deadline(ctx context.Context) (context.Context, func() bool, func()) {
	waitCtx, cancel := context.WithCancelCause(ctx)
	timer := o.Clock.NewTimer(o.Wait)
	go func() {
		select {
		case <-timer.C():
			cancel(errWaitTimeout)
		case <-waitCtx.Done():
		}
	}()
	timedOut := func() bool { return errors.Is(context.Cause(waitCtx), errWaitTimeout) }
	return waitCtx, timedOut, func() { timer.Stop(); cancel(nil) }
}

// Resume waits for the certificate of the existing CSR name, which must request one for
// key, and verifies it against the identity the CSR asks for (approval that comes later:
// `kcsr request --no-wait`, then `kcsr fetch`). A timeout or an interrupt keeps the CSR.
func (o *Obtainer) Resume(ctx context.Context, name string, key crypto.Signer) (*Issued, error) {
	waitCtx, timedOut, stop := o.deadline(ctx)
	defer stop()
	cur, err := o.CSRs.Get(waitCtx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, exitf(ExitFailed, "CSR %s does not exist (never created, or deleted: an unissued CSR is cleaned up after 24h, an issued one 1h after its approval); request a new certificate with "+cli.Self+" request; %s", name, noFilesWritten)
	}
	if err != nil {
		return nil, apiError("read CSR "+name, err)
	}
	req, err := csr.DecodeRequest(cur.Spec.Request)
	if err != nil {
		return nil, exitf(ExitFailed, "CSR %s holds no request that parses: %v", name, err)
	}
	if !publicKeysEqual(req.PublicKey, key.Public()) {
		return nil, exitf(ExitUsage, "CSR %s requests a certificate for another key than the one given; give the key it was made with (--key)", name)
	}
	r := Request{
		Name:     name,
		Signer:   cur.Spec.SignerName,
		Usages:   cur.Spec.Usages,
		Identity: Identity{CommonName: req.Subject.CommonName, Organizations: req.Subject.Organization, DNSNames: req.DNSNames, IPAddresses: req.IPAddresses, EmailAddresses: req.EmailAddresses, URIs: req.URIs},
		Key:      key,
		KeyKept:  true,
	}
	if cur.Spec.ExpirationSeconds != nil {
		r.Duration = time.Duration(*cur.Spec.ExpirationSeconds) * time.Second
	}
	return o.collect(ctx, waitCtx, timedOut, cur, r)
}

// collect waits, within waitCtx, until created is issued, denied, failed or deleted, and
// verifies the certificate.
func (o *Obtainer) collect(ctx, waitCtx context.Context, timedOut func() bool, created *certificatesv1.CertificateSigningRequest, r Request) (*Issued, error) {
	final, state, err := o.wait(waitCtx, created)
	o.Progress.Stop()
	if err != nil {
		if waitCtx.Err() == nil {
			return nil, err
		}
		why := fmt.Sprintf("interrupted while CSR %s was %s", created.Name, state)
		if timedOut() {
			why = fmt.Sprintf("timed out after %s while CSR %s was %s", o.Wait, created.Name, state)
		}
		return nil, o.abandon(ctx, created, r.KeyKept, why)
	}

	requireChain := r.Signer == certificatesv1.KubeAPIServerClientSignerName || r.Signer == certificatesv1.KubeAPIServerClientKubeletSignerName
	cert, warnings, err := Verify(final.Status.Certificate, r.Key.Public(), r.Identity, o.Roots, requireChain, o.Clock.Now())
	if err != nil {
		return nil, exitf(ExitFailed, "CSR %s was issued, but the certificate does not check out: %v; %s", final.Name, err, noFilesWritten)
	}
	for _, w := range warnings {
		fmt.Fprintln(o.ErrOut, w)
	}
	if lifetime := cert.NotAfter.Sub(cert.NotBefore); r.Duration > 0 && lifetime+shortenedTolerance < r.Duration {
		fmt.Fprintf(o.ErrOut, "note: the signer shortened the lifetime to %s (requested %s)\n", lifetime.Round(time.Minute), r.Duration)
	}
	o.Progress.Printf("Issued: serial %s, valid from %s until %s", cert.SerialNumber.Text(16), cert.NotBefore.UTC().Format(time.RFC3339), cert.NotAfter.UTC().Format(time.RFC3339))
	return &Issued{CSRName: final.Name, CertPEM: final.Status.Certificate, Cert: cert}, nil
}

// existing handles a CSR name that is taken: it is ours when it requests a certificate for
// the same (kept) key from the same signer, anyone else's otherwise.
func (o *Obtainer) existing(ctx context.Context, r Request) (*certificatesv1.CertificateSigningRequest, error) {
	cur, err := o.CSRs.Get(ctx, r.Name, metav1.GetOptions{})
	if err != nil {
		return nil, apiError("read the existing CSR "+r.Name, err)
	}
	requester := cur.Spec.Username
	if requester == "" {
		requester = "an unknown user"
	}
	if r.KeyKept && cur.Spec.SignerName == r.Signer {
		if req, err := csr.ParseRequest(cur.Spec.Request); err == nil && publicKeysEqual(req.PublicKey, r.Key.Public()) {
			o.Progress.Printf("CSR %s already exists for this key (requested by %s); waiting for it", cur.Name, requester)
			return cur, nil
		}
	}
	return nil, exitf(ExitUsage, "a CSR named %q already exists (requested by %s); choose another --name, or delete it: kubectl delete csr %s", r.Name, requester, r.Name)
}

// abandon ends a wait cut short. A CSR whose key is gone is deleted (best effort: the
// requester may not be allowed to); one whose key was kept stays for the next run.
func (o *Obtainer) abandon(ctx context.Context, obj *certificatesv1.CertificateSigningRequest, keyKept bool, why string) error {
	if keyKept {
		return &KeptError{Exit: exitf(ExitTimeout, "%s; CSR %s stays", why, obj.Name).(*cli.ExitError), CSR: obj.Name}
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abandonTimeout)
	defer cancel()
	uid := obj.UID
	err := o.CSRs.Delete(ctx, obj.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if err == nil || apierrors.IsNotFound(err) {
		return exitf(ExitTimeout, "%s; %s; deleted CSR %s, whose key was not kept", why, noFilesWritten, obj.Name)
	}
	return exitf(ExitTimeout, "%s; %s; CSR %s stays, useless without its key, which was not kept: delete it (kubectl delete csr %s)", why, noFilesWritten, obj.Name, obj.Name)
}

// waitState follows one CSR and prints each state change once.
type waitState struct {
	p                   *Progress
	name                string
	uid                 types.UID
	approved            bool
	verdict, signerNote string
}

// state is the CSR's state in kubectl's words.
func (s *waitState) state() string {
	if s.approved {
		return "Approved"
	}
	return "Pending"
}

// observe prints what changed and reports whether the wait is over: issued (nil error),
// denied or failed (an exit error).
func (s *waitState) observe(obj *certificatesv1.CertificateSigningRequest) (bool, error) {
	if !s.approved && csr.IsApproved(obj) {
		s.printApproved(obj)
	}
	switch csr.StateOf(obj) {
	case csr.Denied:
		return true, exitf(ExitDenied, "CSR %s was denied: %s; %s", s.name, reasonMessage(csr.Condition(obj, certificatesv1.CertificateDenied)), noFilesWritten)
	case csr.Failed:
		return true, exitf(ExitFailed, "CSR %s failed: %s; a Failed CSR is never retried: fix the request and create a new one; %s", s.name, reasonMessage(csr.Condition(obj, certificatesv1.CertificateFailed)), noFilesWritten)
	case csr.Issued:
		return true, nil
	}
	if !s.approved {
		if v := obj.Annotations[kcsrv1alpha1.VerdictAnnotation]; v != "" && v != s.verdict {
			s.verdict = v
			s.p.Printf("Pending: %s", v)
		}
		s.p.Status("Pending: waiting for approval")
		return false, nil
	}
	if c := csr.Condition(obj, kcsrv1alpha1.ConditionSignerUnavailable); c != nil && c.Message != s.signerNote {
		s.signerNote = c.Message
		s.p.Printf("Approved, not issued yet: %s", reasonMessage(c))
	}
	s.p.Status("Approved: waiting for the signer")
	return false, nil
}

func (s *waitState) printApproved(obj *certificatesv1.CertificateSigningRequest) {
	s.approved = true
	s.p.Printf("Approved: %s", reasonMessage(csr.Condition(obj, certificatesv1.CertificateApproved)))
}

func reasonMessage(c *certificatesv1.CertificateSigningRequestCondition) string {
	message := strings.TrimSuffix(strings.TrimSpace(c.Message), ".")
	switch {
	case c.Reason != "" && message != "":
		return c.Reason + ": " + message
	case c.Reason != "":
		return c.Reason
	case message != "":
		return message
	}
	return "no reason given"
}

// wait follows obj until the wait is over. It watches the one CSR (a field selector on its
// name), resuming from the last resource version when a watch ends and reading the CSR
// again after a watch error; connection problems are retried with backoff until ctx ends.
// It returns the final object, or the error, and the last state seen.
func (o *Obtainer) wait(ctx context.Context, obj *certificatesv1.CertificateSigningRequest) (*certificatesv1.CertificateSigningRequest, string, error) {
	s := &waitState{p: o.Progress, name: obj.Name, uid: obj.UID}
	if !csr.HasCondition(obj, certificatesv1.CertificateApproved) {
		hint := pendingHint
		if o.PendingHint != "" {
			hint = o.PendingHint
		}
		s.p.Printf("Pending: "+hint, obj.Name)
	}
	if done, err := s.observe(obj); done {
		return obj, s.state(), err
	}
	deleted := func() error {
		return exitf(ExitFailed, "CSR %s was deleted before a certificate was issued; %s", s.name, noFilesWritten)
	}
	selector := fields.OneTermEqualSelector("metadata.name", obj.Name).String()
	rv := obj.ResourceVersion
	failures := 0
	reread := false
	for {
		if ctx.Err() != nil {
			return nil, s.state(), ctx.Err()
		}
		if reread {
			cur, err := o.CSRs.Get(ctx, s.name, metav1.GetOptions{})
			switch {
			case err == nil:
				if cur.UID != s.uid {
					return nil, s.state(), deleted()
				}
				failures, reread, rv = 0, false, cur.ResourceVersion
				if done, err := s.observe(cur); done {
					return cur, s.state(), err
				}
			case apierrors.IsNotFound(err):
				return nil, s.state(), deleted()
			default:
				if err := o.pause(ctx, s, &failures, err); err != nil {
					return nil, s.state(), err
				}
				continue
			}
		}
		w, err := o.CSRs.Watch(ctx, metav1.ListOptions{FieldSelector: selector, ResourceVersion: rv, AllowWatchBookmarks: true})
		if err != nil {
			if err := o.pause(ctx, s, &failures, err); err != nil {
				return nil, s.state(), err
			}
			reread = true
			continue
		}
		events := 0
	events:
		for {
			var ev watch.Event
			select {
			case <-ctx.Done():
				break events
			case e, open := <-w.ResultChan():
				if !open {
					break events
				}
				ev = e
			}
			events++
			switch ev.Type {
			case watch.Added, watch.Modified:
				cur, ok := ev.Object.(*certificatesv1.CertificateSigningRequest)
				if !ok || cur.Name != s.name {
					continue
				}
				if cur.UID != s.uid {
					w.Stop()
					return nil, s.state(), deleted()
				}
				failures, rv = 0, cur.ResourceVersion
				if done, err := s.observe(cur); done {
					w.Stop()
					return cur, s.state(), err
				}
			case watch.Deleted:
				w.Stop()
				return nil, s.state(), deleted()
			case watch.Bookmark:
				if m, err := meta.Accessor(ev.Object); err == nil {
					rv = m.GetResourceVersion()
				}
			case watch.Error:
				// Most often 410 Gone: the resource version is too old. Read again.
				reread = true
				break events
			}
		}
		w.Stop()
		if ctx.Err() != nil {
			return nil, s.state(), ctx.Err()
		}
		if events == 0 || reread {
			// A watch that ends at once must not turn into a busy loop.
			if err := o.pause(ctx, s, &failures, nil); err != nil {
				return nil, s.state(), err
			}
		}
	}
}

// pause waits before the next attempt after a failed call: 0.5 s, doubling up to 10 s. It
// returns an exit error for problems that waiting does not solve (permissions,
// credentials), and ctx's error when ctx ends first.
func (o *Obtainer) pause(ctx context.Context, s *waitState, failures *int, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		switch {
		case apierrors.IsForbidden(err), apierrors.IsUnauthorized(err), apierrors.IsInvalid(err), apierrors.IsBadRequest(err), apierrors.IsMethodNotSupported(err):
			return apiError("watch CSR "+s.name, err)
		}
		if *failures == 0 {
			s.p.Printf("lost contact with the server (%v); retrying", err)
		}
	}
	delay := firstRetryDelay << min(*failures, 5)
	*failures++
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-o.Clock.After(min(delay, maxRetryDelay)):
		return nil
	}
}

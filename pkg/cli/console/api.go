package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"slices"
	"strings"

	authorizationv1 "k8s.io/api/authorization/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"kcsr.dev/kcsr/pkg/announce"
	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/cli"
	"kcsr.dev/kcsr/pkg/cli/admin"
	"kcsr.dev/kcsr/pkg/cli/doctor"
	"kcsr.dev/kcsr/pkg/csr"
)

// maxBody bounds a POST's JSON body.
const maxBody = 64 << 10

// badRequest is an error in what the page sent.
type badRequest struct{ error }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// apiError is the body of every error the API returns.
type apiError struct {
	Error string `json:"error"`
	// Warnings are why an approval needs confirming (status 409).
	Warnings []string `json:"warnings,omitempty"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, apiError{Error: msg})
}

// writeAPIError writes err from the API (or a badRequest) with its status.
func writeAPIError(w http.ResponseWriter, err error, forbidden string) {
	var bad *badRequest
	var status apierrors.APIStatus
	switch {
	case errors.As(err, &bad):
		writeError(w, http.StatusBadRequest, err.Error())
	case apierrors.IsForbidden(err) && forbidden != "":
		writeError(w, http.StatusForbidden, forbidden+" ("+err.Error()+")")
	case errors.As(err, &status) && status.Status().Code >= 400:
		writeError(w, int(status.Status().Code), err.Error())
	default:
		writeError(w, http.StatusBadGateway, err.Error())
	}
}

func readBody(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &badRequest{fmt.Errorf("the request body is not the JSON expected: %w", err)}
	}
	return nil
}

// routes returns the console's handler, behind the guard.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", s.guard.login)
	mux.Handle("GET /assets/", http.FileServerFS(assets))
	mux.HandleFunc("GET /{$}", s.index)
	mux.HandleFunc("GET /api/session", s.session)
	mux.HandleFunc("GET /api/events", s.events)
	mux.HandleFunc("GET /api/csrs/{name}", s.csrDetail)
	mux.HandleFunc("POST /api/csrs/{name}/approve", s.decide(certificatesv1.CertificateApproved))
	mux.HandleFunc("POST /api/csrs/{name}/deny", s.decide(certificatesv1.CertificateDenied))
	mux.HandleFunc("GET /api/certificates", s.certificates)
	mux.HandleFunc("POST /api/certificates/{name}/revoke", s.revoke)
	mux.HandleFunc("GET /api/charts", s.charts)
	return s.guard.wrap(mux)
}

var indexTemplate = template.Must(template.ParseFS(assets, "assets/index.html"))

// index is the page: a static template; everything from the API comes as JSON.
func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = indexTemplate.Execute(w, struct{ User string }{s.identity.User})
}

// sessionInfo is what the page needs to know first: who it acts as and what it may do.
type sessionInfo struct {
	User   string   `json:"user"`
	Groups []string `json:"groups"`
	// Queue says whether the user may list and watch CSRs; QueueError why not.
	Queue      bool   `json:"queue"`
	QueueError string `json:"queueError,omitempty"`
	// Inventory says whether the API serves the IssuedCertificate inventory (kcsr
	// server, or kcsr controller's CRDs); Revoke whether the user holds the verb revoke.
	Inventory bool `json:"inventory"`
	Revoke    bool `json:"revoke"`
	// ReasonCodes are the revocation reasons.
	ReasonCodes []string `json:"reasonCodes"`
}

func (s *Server) session(w http.ResponseWriter, r *http.Request) {
	info := sessionInfo{User: s.identity.User, Groups: s.identity.Groups, Queue: s.queue != nil, QueueError: s.queueError,
		Inventory: s.inventory, ReasonCodes: kcsrv1alpha1.RevocationReasons}
	if s.inventory {
		info.Revoke = cli.May(r.Context(), s.client, authorizationv1.ResourceAttributes{Group: kcsrv1alpha1.GroupName, Resource: "issuedcertificates", Verb: "revoke"})
	}
	writeJSON(w, http.StatusOK, info)
}

func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	if s.queue == nil {
		writeError(w, http.StatusForbidden, s.queueError)
		return
	}
	s.queue.stream(w, r)
}

// detail is a CSR as its page shows it.
type detail struct {
	Summary     admin.Summary     `json:"summary"`
	Description admin.Description `json:"description"`
	Findings    doctor.Report     `json:"findings"`
	// Warnings are why an approval must be confirmed; MayDecide whether the user may
	// approve or deny it (and it is still Pending).
	Warnings  []string `json:"warnings"`
	MayDecide bool     `json:"mayDecide"`
}

func (s *Server) csrDetail(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	obj, err := s.client.CertificatesV1().CertificateSigningRequests().Get(ctx, r.PathValue("name"), metav1.GetOptions{})
	if err != nil {
		writeAPIError(w, err, "you may not read this CSR")
		return
	}
	now := s.clock.Now()
	d := detail{
		Summary:     admin.Summarize(obj),
		Description: admin.Describe(obj, admin.FetchDescribeExtras(ctx, s.client, s.kcsr, obj), now),
		Findings:    (&doctor.Options{Clock: s.clock}).DiagnoseCSR(ctx, s.config, s.client, s.kcsr, obj),
		Warnings:    []string{},
	}
	// Findings quote the CSR (its CN, its name, condition messages): shown escaped, as
	// kcsr doctor prints them.
	for i, f := range d.Findings {
		d.Findings[i].Subject, d.Findings[i].Cause, d.Findings[i].Fix = cli.PrintableText(f.Subject), cli.PrintableText(f.Cause), cli.PrintableText(f.Fix)
	}
	if d.Findings == nil {
		d.Findings = doctor.Report{}
	}
	if csr.StateOf(obj) == csr.Pending {
		d.MayDecide = cli.MayApprove(ctx, s.client, obj.Spec.SignerName, obj.Name)
		a, err := announce.Served(ctx, s.client, now)
		if err != nil {
			a = nil
		}
		if w := admin.ApprovalWarnings(obj, a); w != nil {
			d.Warnings = w
		}
	}
	writeJSON(w, http.StatusOK, d)
}

// decisionBody is the body of an approve or deny.
type decisionBody struct {
	// UID is the CSR reviewed: one deleted and created again under its name since is
	// not decided.
	UID     string `json:"uid"`
	Message string `json:"message"`
	// Confirm approves a CSR the console warned about.
	Confirm bool `json:"confirm"`
}

func (s *Server) decide(t certificatesv1.RequestConditionType) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body decisionBody
		if err := readBody(r, &body); err != nil {
			writeAPIError(w, err, "")
			return
		}
		body.Message = strings.TrimSpace(body.Message)
		if body.UID == "" {
			writeError(w, http.StatusBadRequest, "the request does not say which CSR was reviewed (uid)")
			return
		}
		d := admin.Decision{Type: t, Reason: "KcsrConsoleApprove", Message: body.Message, Confirmed: body.Confirm, UID: types.UID(body.UID)}
		if d.Message == "" {
			d.Message = "This CSR was approved in kcsr console by " + s.identity.User + "."
		}
		if t == certificatesv1.CertificateDenied {
			if body.Message == "" {
				writeError(w, http.StatusBadRequest, "say why the CSR is denied: the reason is the message its requester reads")
				return
			}
			d.Reason = "KcsrConsoleDeny"
		}
		name := r.PathValue("name")
		err := admin.Decide(r.Context(), s.client, name, d, s.clock)
		if reasons := admin.RefusalReasons(err); len(reasons) > 0 {
			writeJSON(w, http.StatusConflict, apiError{Error: "approving " + cli.Printable(name) + " needs confirming", Warnings: reasons})
			return
		}
		var decided *admin.DecidedError
		if errors.As(err, &decided) {
			writeError(w, http.StatusConflict, err.Error()+": a decision is final")
			return
		}
		if err != nil {
			writeAPIError(w, err, "you may not "+strings.ToLower(verbOf(t))+" CSRs of this signer: it needs the verb approve on signers and update on certificatesigningrequests/approval")
			return
		}
		obj, err := s.client.CertificatesV1().CertificateSigningRequests().Get(r.Context(), name, metav1.GetOptions{})
		if err != nil {
			writeAPIError(w, err, "")
			return
		}
		writeJSON(w, http.StatusOK, admin.Summarize(obj))
	}
}

func verbOf(t certificatesv1.RequestConditionType) string {
	if t == certificatesv1.CertificateDenied {
		return "deny"
	}
	return "approve"
}

func (s *Server) certificates(w http.ResponseWriter, r *http.Request) {
	if !s.inventory {
		writeError(w, http.StatusNotFound, "this API server keeps no IssuedCertificate inventory")
		return
	}
	q := r.URL.Query()
	res, err := search{By: q.Get("by"), Q: q.Get("q"), State: q.Get("state"), Continue: q.Get("continue")}.run(r.Context(), s.kcsr, s.clock.Now())
	if err != nil {
		writeAPIError(w, err, "you may not list the inventory")
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// revokeBody is the body of a revoke.
type revokeBody struct {
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// revoke revokes a certificate: every record of it (a certificate recorded twice is
// refused at login while any of its records is revoked), as kcsr revoke does.
func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	if !s.inventory {
		writeError(w, http.StatusNotFound, "this API server keeps no IssuedCertificate inventory")
		return
	}
	var body revokeBody
	if err := readBody(r, &body); err != nil {
		writeAPIError(w, err, "")
		return
	}
	if !slices.Contains(kcsrv1alpha1.RevocationReasons, body.Reason) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("%q is not a revocation reason; use one of %s", body.Reason, strings.Join(kcsrv1alpha1.RevocationReasons, ", ")))
		return
	}
	ctx := r.Context()
	const forbidden = "you may not revoke certificates: it needs the verb revoke on issuedcertificates.kcsr.dev (the kcsr:revoker ClusterRole)"
	ic, err := s.kcsr.KcsrV1alpha1().IssuedCertificates().Get(ctx, r.PathValue("name"), metav1.GetOptions{})
	if err != nil {
		writeAPIError(w, err, forbidden)
		return
	}
	records, err := cli.IssuedCertificates(ctx, s.kcsr, "spec.sha256Fingerprint="+ic.Spec.SHA256Fingerprint)
	if err != nil {
		writeAPIError(w, err, forbidden)
		return
	}
	if !slices.ContainsFunc(records, func(x kcsrv1alpha1.IssuedCertificate) bool { return x.Name == ic.Name }) {
		records = append(records, *ic)
	}
	if rev := ic.Status.Revocation; rev != nil && rev.Reason != kcsrv1alpha1.ReasonCertificateHold {
		writeError(w, http.StatusConflict, fmt.Sprintf("certificate %s is already revoked (%s, by %s)", cli.Printable(ic.Spec.SerialNumber), cli.Printable(rev.Reason), cli.Printable(rev.RevokedBy)))
		return
	}
	var revoked *kcsrv1alpha1.IssuedCertificate
	done := 0
	for _, rec := range records {
		if rev := rec.Status.Revocation; rev != nil && rev.Reason != kcsrv1alpha1.ReasonCertificateHold {
			continue
		}
		out, err := admin.RevokeRecord(ctx, s.kcsr, rec.Name, body.Reason, strings.TrimSpace(body.Message))
		if err != nil {
			if done > 0 {
				err = fmt.Errorf("revoked %d of the certificate's %d records, then: %w; revoke again to reach the others", done, len(records), err)
			}
			writeAPIError(w, err, forbidden)
			return
		}
		done++
		if out.Name == ic.Name {
			revoked = out
		}
	}
	if revoked == nil {
		revoked = ic
	}
	writeJSON(w, http.StatusOK, toCertificate(revoked, s.clock.Now()))
}

func (s *Server) charts(w http.ResponseWriter, r *http.Request) {
	c, err := s.chartCache.get(r.Context(), s.kcsr, s.inventory, s.queue, s.clock.Now())
	if err != nil {
		writeAPIError(w, err, "you may not list the inventory")
		return
	}
	writeJSON(w, http.StatusOK, c)
}

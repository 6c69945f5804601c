package revocation_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/revocation"
)

const validReasons = "unspecified, keyCompromise, cACompromise, affiliationChanged, superseded, cessationOfOperation, certificateHold, privilegeWithdrawn, aACompromise"

func TestParseReason(t *testing.T) {
	tests := []struct {
		in      string
		want    revocation.Reason
		wantErr string
	}{
		{in: "unspecified", want: revocation.Unspecified},
		{in: "keyCompromise", want: revocation.KeyCompromise},
		{in: "cACompromise", want: revocation.CACompromise},
		{in: "caCompromise", want: revocation.CACompromise},
		{in: "affiliationChanged", want: revocation.AffiliationChanged},
		{in: "superseded", want: revocation.Superseded},
		{in: "cessationOfOperation", want: revocation.CessationOfOperation},
		{in: "certificateHold", want: revocation.CertificateHold},
		{in: "privilegeWithdrawn", want: revocation.PrivilegeWithdrawn},
		{in: "aACompromise", want: revocation.AACompromise},
		{in: "KEYCOMPROMISE", want: revocation.KeyCompromise},
		{in: "", wantErr: `unknown revocation reason ""; use one of ` + validReasons},
		{in: "stolen", wantErr: `unknown revocation reason "stolen"; use one of ` + validReasons},
		{in: "1", wantErr: `unknown revocation reason "1"; use one of ` + validReasons},
		{in: " keyCompromise", wantErr: `unknown revocation reason " keyCompromise"; use one of ` + validReasons},
		{in: "removeFromCRL", wantErr: `unknown revocation reason "removeFromCRL": removeFromCRL only appears in delta CRLs; to release a certificateHold, unrevoke the certificate`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := revocation.ParseReason(tt.in)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("ParseReason(%q) = %v, want error %q", tt.in, got, tt.wantErr)
				}
				if diff := cmp.Diff(tt.wantErr, err.Error()); diff != "" {
					t.Errorf("error (-want +got):\n%s", diff)
				}
				if !errors.Is(err, revocation.ErrUnknownReason) {
					t.Errorf("error %v is not ErrUnknownReason", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ParseReason(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestReasonString(t *testing.T) {
	tests := []struct {
		reason    revocation.Reason
		want      string
		roundTrip bool // ParseReason(want) gives reason back
	}{
		{revocation.Unspecified, "unspecified", true},
		{revocation.KeyCompromise, "keyCompromise", true},
		{revocation.CACompromise, "cACompromise", true},
		{revocation.AffiliationChanged, "affiliationChanged", true},
		{revocation.Superseded, "superseded", true},
		{revocation.CessationOfOperation, "cessationOfOperation", true},
		{revocation.CertificateHold, "certificateHold", true},
		{revocation.RemoveFromCRL, "removeFromCRL", false},
		{revocation.PrivilegeWithdrawn, "privilegeWithdrawn", true},
		{revocation.AACompromise, "aACompromise", true},
		{7, "Reason(7)", false},
		{11, "Reason(11)", false},
		{-1, "Reason(-1)", false},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.reason.String(); got != tt.want {
				t.Errorf("Reason(%d).String() = %q, want %q", int(tt.reason), got, tt.want)
			}
			got, err := revocation.ParseReason(tt.reason.String())
			if tt.roundTrip && (err != nil || got != tt.reason) {
				t.Errorf("ParseReason(%q) = %v, %v; want %v", tt.reason.String(), got, err, tt.reason)
			}
			if !tt.roundTrip && err == nil {
				t.Errorf("ParseReason(%q) = %v, want an error", tt.reason.String(), got)
			}
		})
	}
}

// The API validates revocation reasons by name; ParseReason must accept each of them as it
// is spelled there, and nothing else.
func TestReasonsMatchTheAPI(t *testing.T) {
	var names []string
	for _, name := range kcsrv1alpha1.RevocationReasons {
		r, err := revocation.ParseReason(name)
		if err != nil {
			t.Errorf("ParseReason(%q): %v", name, err)
			continue
		}
		names = append(names, r.String())
	}
	if diff := cmp.Diff(kcsrv1alpha1.RevocationReasons, names); diff != "" {
		t.Errorf("Reason.String of the API's reasons (-API +String):\n%s", diff)
	}
	if got, want := strings.Join(names, ", "), validReasons; got != want {
		t.Errorf("the API's reasons are %s; ParseReason accepts %s", got, want)
	}
	var listed []string
	for _, r := range revocation.RevocationReasons() {
		listed = append(listed, r.String())
	}
	if diff := cmp.Diff(kcsrv1alpha1.RevocationReasons, listed); diff != "" {
		t.Errorf("RevocationReasons (-API +RevocationReasons):\n%s", diff)
	}
}

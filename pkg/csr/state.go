package csr

import certificatesv1 "k8s.io/api/certificates/v1"

// ConditionString is kubectl's CONDITION column: Denied wins over Approved, else Pending;
// then ",Failed" and ",Issued" when they apply.
func ConditionString(obj *certificatesv1.CertificateSigningRequest) string {
	approved, denied, failed := Decisions(obj)
	s := "Pending"
	switch {
	case denied:
		s = "Denied"
	case approved:
		s = "Approved"
	}
	if failed {
		s += ",Failed"
	}
	if len(obj.Status.Certificate) > 0 {
		s += ",Issued"
	}
	return s
}

// Decisions reports which of the conditions Approved, Denied and Failed obj carries.
func Decisions(obj *certificatesv1.CertificateSigningRequest) (approved, denied, failed bool) {
	for _, c := range obj.Status.Conditions {
		switch c.Type {
		case certificatesv1.CertificateApproved:
			approved = true
		case certificatesv1.CertificateDenied:
			denied = true
		case certificatesv1.CertificateFailed:
			failed = true
		}
	}
	return approved, denied, failed
}

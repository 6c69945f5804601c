package doctor

import (
	"crypto/x509"
	"errors"
	"fmt"
	"kcsr.dev/kcsr/pkg/cli"
	"net"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// TLSResult is what connecting to the API server with a kubeconfig's trust showed.
type TLSResult struct {
	// Cluster is the kubeconfig's cluster name; Server its URL.
	Cluster, Server string
	// CA are the certificates of certificate-authority(-data); none: the system's roots.
	CA []*x509.Certificate
	// Insecure is insecure-skip-tls-verify.
	Insecure bool
	// Err is the error of the connection or handshake, nil when the server verified.
	Err error
	// Chain is the server's certificate chain, as it sent it (fetched without verification
	// when verification failed).
	Chain []*x509.Certificate
}

// CheckServerTLS names why a client with the kubeconfig cannot trust the API server, the
// "x509: certificate signed by unknown authority" case first.
func CheckServerTLS(r TLSResult) []Finding {
	subject := fmt.Sprintf("cluster %q (%s)", r.Cluster, r.Server)
	var leaf *x509.Certificate
	if len(r.Chain) > 0 {
		leaf = r.Chain[0]
	}
	fixCA := fmt.Sprintf("put the cluster CA's certificate in the kubeconfig's certificate-authority-data: kubectl config set-cluster %s --certificate-authority=ca.crt --embed-certs (the CA is /etc/kubernetes/pki/ca.crt on a kubeadm control plane, DATA_DIR/pki/ca.crt for kcsr server)", r.Cluster)

	if r.Err == nil {
		issuer := ""
		if leaf != nil {
			issuer = fmt.Sprintf(" (issued by %s)", leaf.Issuer)
		}
		if r.Insecure {
			return []Finding{warning(subject, "insecure-skip-tls-verify is set, so the server's identity is not checked"+issuer,
				strings.Replace(fixCA, "certificate-authority-data", "certificate-authority-data and remove insecure-skip-tls-verify", 1))}
		}
		return []Finding{ok(subject, "the server's certificate"+issuer+" verifies with "+trusted(r.CA))}
	}

	var unknown x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var opErr *net.OpError
	switch {
	case errors.As(r.Err, &unknown):
		cause := "x509: certificate signed by unknown authority"
		if leaf != nil {
			cause += fmt.Sprintf(": the server's certificate is issued by %q, but the kubeconfig trusts %s", leaf.Issuer.String(), trusted(r.CA))
		}
		return []Finding{problem(subject, cause, fixCA)}
	case errors.As(r.Err, &hostname):
		names := ""
		if hostname.Certificate != nil {
			names = strings.Join(append(append([]string{}, hostname.Certificate.DNSNames...), ipStrings(hostname.Certificate.IPAddresses)...), ", ")
		}
		return []Finding{problem(subject, fmt.Sprintf("the server's certificate is not valid for %s (it names: %s)", hostname.Host, names),
			"use a server URL the certificate names (kubectl config set-cluster "+r.Cluster+" --server=https://NAME:PORT), or reissue the serving certificate with that name")}
	case errors.As(r.Err, &invalid) && invalid.Reason == x509.Expired:
		return []Finding{problem(subject, fmt.Sprintf("the server's certificate (or its CA) expired or is not yet valid (%v)", invalid),
			"renew the API server's serving certificate (kubeadm certs renew apiserver; kcsr server renews its own on restart), or fix the clock")}
	case errors.As(r.Err, &invalid):
		return []Finding{problem(subject, fmt.Sprintf("the server's certificate is not acceptable (%v)", invalid), fixCA)}
	case errors.As(r.Err, &opErr) && opErr.Op == "dial":
		return []Finding{problem(subject, fmt.Sprintf("cannot connect (%v)", r.Err),
			"check that the API server runs and that the server URL (host and port) is right")}
	default:
		return []Finding{problem(subject, fmt.Sprintf("TLS with the server fails (%v)", r.Err),
			"check the server URL and that it speaks HTTPS; "+fixCA)}
	}
}

// trusted describes the CAs a kubeconfig trusts.
func trusted(cas []*x509.Certificate) string {
	if len(cas) == 0 {
		return "only the system's CAs (it has no certificate-authority-data)"
	}
	names := make([]string, len(cas))
	for i, c := range cas {
		names[i] = fmt.Sprintf("%q", c.Subject.String())
	}
	return "the certificate-authority-data " + strings.Join(names, ", ")
}

func ipStrings(ips []net.IP) []string {
	out := make([]string, len(ips))
	for i, ip := range ips {
		out[i] = ip.String()
	}
	return out
}

// CheckAuthentication names who the API server takes the kubeconfig's credentials for,
// from a SelfSubjectReview (user) or its error.
func CheckAuthentication(user *authenticationv1.UserInfo, err error) []Finding {
	const subject = "credentials"
	switch {
	case err == nil && user != nil && user.Username == "system:anonymous":
		return []Finding{problem(subject, "the server takes this kubeconfig for system:anonymous: it sends no credentials the server accepts",
			"add a client certificate and key ("+cli.Self+" request writes a complete kubeconfig) or a token")}
	case err == nil && user != nil:
		cause := fmt.Sprintf("the server authenticates them as user %q", user.Username)
		if len(user.Groups) > 0 {
			cause += " in groups " + strings.Join(user.Groups, ", ")
		}
		return []Finding{ok(subject, cause)}
	case apierrors.IsUnauthorized(err):
		return []Finding{problem(subject, "the server does not accept them (401 Unauthorized): the client certificate expired, was revoked or is not signed by a CA the server trusts for clients, or the token is wrong",
			"a certificate the server refuses cannot authenticate its own renewal: "+NewCertificate()+"; a wrong token: ask for a new one")}
	case apierrors.IsNotFound(err), apierrors.IsForbidden(err), err == nil:
		// The server does not serve SelfSubjectReview, or does not let this user ask.
		return nil
	default:
		return []Finding{warning(subject, fmt.Sprintf("cannot ask the server who they authenticate (%v)", err), "run "+cli.Self+" doctor again; check the server's health")}
	}
}

package request

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"kcsr.dev/kcsr/pkg/cli"
	"kcsr.dev/kcsr/pkg/pemutil"
	"kcsr.dev/kcsr/pkg/pki"
)

// JoinOptions are the flags of `kcsr join`: a join token, the pin of the CA, and the
// identity the token was made for.
type JoinOptions struct {
	Request *Options
	Server  string
	CAHash  string
}

// NewJoinCommand returns `kcsr join`.
func NewJoinCommand(out, errOut io.Writer) *cobra.Command {
	j := &JoinOptions{Request: NewOptions(out, errOut)}
	o := j.Request
	cmd := &cobra.Command{
		Use:   "join SERVER --token TOKEN --ca-hash sha256:HASH --user CN [--group O ...]",
		Short: "Get a certificate with a join token: find the CA by its pin, then request",
		Long: `Joins with the command an administrator's kcsr token create printed: reads the
server's CA from its TLS handshake, without trusting it yet, and keeps it only if it
matches --ca-hash (the SHA-256 of the CA's public key, as kubeadm join's
--discovery-token-ca-cert-hash); a server that shows another CA (a mistyped address, or
someone in between) is refused before the token is sent. It then does what kcsr request
does with the token: a key made here, the CSR, the wait for approval, and NAME.key,
NAME.crt and NAME.kubeconfig (the server, the pinned CA, the certificate).

The CSR is named after the user and a random suffix, so a join whose CSR was denied
(a group the token does not allow, say) can be run again as it is. A token gets one
certificate.`,
		Example: `  # What kcsr token create printed for rahul
  kcsr join https://kcsr.example:6443 --token abcdef.0123456789abcdef \
    --ca-hash sha256:8d3b…e1 --user rahul --group developers
  kubectl --kubeconfig rahul-x7k2p.kubeconfig auth whoami`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return errors.New("give the server's URL, e.g. " + cli.Self + " join https://kcsr.example:6443 --token … --ca-hash sha256:… --user NAME")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			j.Server = args[0]
			o.KeyTypeSet = cmd.Flags().Changed("key-type")
			return j.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Conn.Token, "token", "", "The join token (ID.SECRET) "+cli.Self+" token create printed. Required.")
	f.StringVar(&j.CAHash, "ca-hash", "", "The pin of the cluster CA, sha256:<hex>, as "+cli.Self+" token create printed it. Required.")
	f.StringVar(&o.Name, "name", "", "Name of the CSR and of the files written (default: the --user value and a random suffix).")
	f.StringVar(&o.User, "user", "", "The subject common name (CN) the token was made for. Required.")
	f.StringSliceVar(&o.Groups, "group", nil, "A subject organization (O) the token was made for (repeatable).")
	f.StringVar(&o.Signer, "signer", o.Signer, "The signerName the token was made for.")
	f.DurationVar(&o.Duration, "duration", o.Duration, "Requested lifetime (spec.expirationSeconds), at least 10m; 0 leaves it to the signer.")
	f.StringVar(&o.KeyType, "key-type", o.KeyType, "Key to generate: "+strings.Join(KeyTypes, ", ")+".")
	f.StringVar(&o.OutDir, "out-dir", o.OutDir, "Directory for NAME.key, NAME.crt and NAME.kubeconfig.")
	f.DurationVar(&o.Wait, "wait", o.Wait, "How long to wait for approval and issuance; the CSR and NAME.key are kept after it for "+cli.Self+" fetch.")
	completeFlags(cmd)
	return cmd
}

// Run checks the flags, finds the CA by its pin, then requests as kcsr request does.
func (j *JoinOptions) Run(ctx context.Context) error {
	o := j.Request
	var errs []string
	u, err := url.Parse(j.Server)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		errs = append(errs, fmt.Sprintf("SERVER %q: want the server's https:// URL, e.g. https://kcsr.example:6443", j.Server))
	}
	pin, err := pki.ParseCAPin("--ca-hash", j.CAHash)
	if err != nil {
		errs = append(errs, err.Error())
	}
	if o.Conn.Token == "" {
		errs = append(errs, "--token is required: the join token "+cli.Self+" token create printed")
	}
	if o.User == "" {
		errs = append(errs, "--user is required: the user name the token was made for")
	}
	if len(errs) > 0 {
		return exitf(ExitUsage, "%s", strings.Join(errs, "; "))
	}
	o.Deps.complete()
	if o.Name == "" {
		suffix, err := randomSuffix(o.Rand)
		if err != nil {
			return err
		}
		o.Name = o.User + "-" + suffix
	}

	ca, err := DiscoverCA(ctx, u, pin)
	if err != nil {
		return exitf(ExitServerError, "%v", err)
	}
	fmt.Fprintf(o.ErrOut, "the server's CA %q matches %s\n", ca.Subject.String(), pin)
	caFile, err := os.CreateTemp("", "kcsr-join-ca-*.crt")
	if err != nil {
		return err
	}
	defer os.Remove(caFile.Name())
	if _, err := caFile.Write(pemutil.EncodeCertificate(ca.Raw)); err != nil {
		caFile.Close()
		return err
	}
	if err := caFile.Close(); err != nil {
		return err
	}
	o.Conn.Server = u.String()
	o.CertificateAuthority = caFile.Name()
	o.joining = true
	return o.Run(ctx)
}

// randomSuffix is five lower-case letters and digits, as the names Kubernetes generates.
func randomSuffix(r io.Reader) (string, error) {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	out := make([]byte, 5)
	for i := range out {
		n, err := randInt(r, len(alphabet))
		if err != nil {
			return "", err
		}
		out[i] = alphabet[n]
	}
	return string(out), nil
}

func randInt(r io.Reader, n int) (int, error) {
	v, err := rand.Int(r, big.NewInt(int64(n)))
	if err != nil {
		return 0, err
	}
	return int(v.Int64()), nil
}

// DiscoverCA reads the certificates the server at u shows in its TLS handshake, trusting
// none of them, and returns the CA whose public key has the pin, once the server's own
// certificate is verified against it for u's host. Nothing is sent to the server before
// the handshake is checked.
func DiscoverCA(ctx context.Context, u *url.URL, pin string) (*x509.Certificate, error) {
	host := u.Hostname()
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(host, "443")
	}
	d := tls.Dialer{
		NetDialer: &net.Dialer{Timeout: 10 * time.Second},
		// The handshake's certificates are checked below, against the pin.
		Config: &tls.Config{InsecureSkipVerify: true, ServerName: host, MinVersion: tls.VersionTLS12}, //nolint:gosec
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("read the CA of %s: %w", u, err)
	}
	defer conn.Close()
	certs := conn.(*tls.Conn).ConnectionState().PeerCertificates
	var ca *x509.Certificate
	var shown []string
	for _, c := range certs {
		p := pki.CAPin(c)
		if p == pin && c.IsCA {
			ca = c
		}
		shown = append(shown, fmt.Sprintf("%q (%s)", c.Subject.String(), p))
	}
	if ca == nil {
		return nil, fmt.Errorf("%s does not show a CA with the pin %s: it shows %s; check the server's address and the --ca-hash you were given (a server that shows another CA may not be the one the token is for); nothing was sent to it",
			u, pin, strings.Join(shown, ", "))
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	intermediates := x509.NewCertPool()
	for _, c := range certs[1:] {
		intermediates.AddCert(c)
	}
	if _, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: intermediates, DNSName: host, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		return nil, fmt.Errorf("%s shows the CA with the pin %s, but its own certificate does not check out against it (%v); nothing was sent to it", u, pin, err)
	}
	return ca, nil
}

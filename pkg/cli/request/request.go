package request

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"kcsr.dev/kcsr/pkg/cli"
	"kcsr.dev/kcsr/pkg/csr"
	"kcsr.dev/kcsr/pkg/pemutil"
	"kcsr.dev/kcsr/pkg/pki"
)

const (
	// DefaultWait is how long request, renew and fetch wait for approval and issuance.
	DefaultWait = 10 * time.Minute
	// minDuration is the API's minimum spec.expirationSeconds.
	minDuration = 10 * time.Minute
	// maxDuration is the largest spec.expirationSeconds (an int32).
	maxDuration = time.Duration(1<<31-1) * time.Second
)

// Options are the flags of `kcsr request` and what it needs to run.
type Options struct {
	// joining is kcsr join's request: a join token approves it.
	joining bool

	Conn                 cli.Connection
	CertificateAuthority string
	Name                 string
	User                 string
	Groups               []string
	Signer               string
	Usages               []string
	DNSNames             []string
	IPAddresses          []string
	Duration             time.Duration
	KeyType              string
	// KeyTypeSet is whether --key-type was given (it must then match --key).
	KeyTypeSet bool
	KeyFile    string
	OutDir     string
	Wait       time.Duration
	// NoWait submits the CSR, keeps the key in NAME.key and returns: the certificate is
	// collected later with kcsr fetch. Cleanup deletes a CSR the wait gave up on (and
	// writes no key) instead of keeping both for kcsr fetch.
	NoWait, Cleanup bool
	// Force submits a request its built-in signer will refuse (it ends Failed).
	Force bool
	// Approve approves the CSR right after creating it when the caller may (approve on its
	// signer); without it, a caller who may is told so.
	Approve bool

	Deps

	// Filled in by Complete and Validate.
	usages []certificatesv1.KeyUsage
	ips    []net.IP
	key    crypto.Signer
	keyPEM []byte
}

// NewOptions returns the defaults of the flags.
func NewOptions(out, errOut io.Writer) *Options {
	return &Options{
		Signer:   certificatesv1.KubeAPIServerClientSignerName,
		KeyType:  DefaultKeyType,
		OutDir:   ".",
		Wait:     DefaultWait,
		Duration: 24 * time.Hour,
		Deps:     Deps{Out: out, ErrOut: errOut},
	}
}

// NewCommand returns `kcsr request`.
func NewCommand(out, errOut io.Writer) *cobra.Command {
	o := NewOptions(out, errOut)
	cmd := &cobra.Command{
		Use:   "request --user CN [--group O ...] [--name NAME]",
		Short: "Get a certificate in one command: key, request, CSR, wait, verify, kubeconfig",
		Long: `Generates a private key on this machine (it is never sent), builds the PKCS#10 request,
submits it as a CertificateSigningRequest and waits for an approver and the signer,
showing each state change. It then checks that the certificate is for the key, names
the requested user and groups and chains to the CA the kubeconfig trusts, and writes
NAME.key (0600), NAME.crt and NAME.kubeconfig (0600: the cluster's server and CA, the
user named after the CN).

Approval may come later. With --no-wait it writes NAME.key and returns once the CSR is
submitted; a timeout (--wait) or Ctrl-C keeps the CSR and writes NAME.key too, unless
--cleanup. Either way, kcsr fetch NAME collects the certificate once it is issued and
writes the rest. A denial or a failure leaves no files behind. Existing files are never
overwritten. The usages default to what the signer allows; a custom signer needs
--usage.

Exit codes: 0 issued, 1 bad input, 2 denied, 3 failed (or deleted, or a certificate that
does not check out), 4 timed out or interrupted, 5 server or connection error.`,
		Example: `  # A client certificate for rahul, approved by an administrator or a policy
  kcsr request --kubeconfig admin.kubeconfig --user rahul --group developers
  kubectl --kubeconfig rahul.kubeconfig auth whoami

  # With a join token: no kubeconfig, just the server, its CA and the token
  kcsr request --server https://kcsr.example:6443 --certificate-authority ca.crt \
    --token abcdef.0123456789abcdef --user rahul --group developers --duration 720h

  # Submit now, collect after the approver has been by (kcsr fetch waits if need be)
  kcsr request --user rahul --group developers --no-wait
  kcsr fetch rahul

  # A kubelet serving certificate with SANs and an RSA key
  kcsr request --name node-1-serving --user system:node:node-1 --group system:nodes \
    --signer kubernetes.io/kubelet-serving --dns-name node-1.example --ip-address 10.0.0.7 \
    --key-type rsa-2048

  # As a kubectl plugin (the binary installed as kubectl-csr)
  kubectl csr request --user rahul --group developers`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.KeyTypeSet = cmd.Flags().Changed("key-type")
			return o.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	o.Conn.AddFlags(f)
	f.StringVar(&o.CertificateAuthority, "certificate-authority", "", "The cluster CA certificate (PEM) to trust and to put in NAME.kubeconfig, instead of the kubeconfig's.")
	f.StringVar(&o.Name, "name", "", "Name of the CSR and of the files written: NAME.key, NAME.crt, NAME.kubeconfig (default: the --user value).")
	f.StringVar(&o.User, "user", "", "The subject common name (CN): the user name the certificate logs in as. Required.")
	f.StringSliceVar(&o.Groups, "group", nil, "A subject organization (O): a group the certificate logs in with (repeatable).")
	f.StringVar(&o.Signer, "signer", o.Signer, "The signerName.")
	f.StringSliceVar(&o.Usages, "usage", nil, `A key usage, e.g. "client auth" (repeatable; default: what the signer allows).`)
	f.StringSliceVar(&o.DNSNames, "dns-name", nil, "A DNS subject alternative name (repeatable).")
	f.StringSliceVar(&o.IPAddresses, "ip-address", nil, "An IP subject alternative name (repeatable).")
	f.DurationVar(&o.Duration, "duration", o.Duration, "Requested lifetime (spec.expirationSeconds), at least 10m; 0 leaves it to the signer.")
	f.StringVar(&o.KeyType, "key-type", o.KeyType, "Key to generate: "+strings.Join(KeyTypes, ", ")+".")
	f.StringVar(&o.KeyFile, "key", "", "Use this private key (PEM) instead of generating one; it is never rewritten, and NAME.key is not written.")
	f.StringVar(&o.OutDir, "out-dir", o.OutDir, "Directory for NAME.key, NAME.crt and NAME.kubeconfig.")
	f.DurationVar(&o.Wait, "wait", o.Wait, "How long to wait for approval and issuance; the CSR and NAME.key are kept after it for "+cli.Self+" fetch (unless --cleanup).")
	f.BoolVar(&o.NoWait, "no-wait", false, "Submit the CSR, write NAME.key and return; collect the certificate later with "+cli.Self+" fetch NAME.")
	f.BoolVar(&o.Cleanup, "cleanup", false, "When the wait ends without a certificate, delete the CSR and write no key (the key is then lost).")
	f.BoolVar(&o.Force, "force", false, "Submit a request that its built-in signer will refuse after approval (usages or names its rules forbid); without it such a request is refused at once.")
	f.BoolVar(&o.Approve, "approve", false, "Approve the CSR in the same step, when you may approve requests of its signer (RBAC: approve on signers, update on certificatesigningrequests/approval).")
	completeFlags(cmd)
	return cmd
}

// Complete fills in the defaults that depend on other flags and the dependencies.
func (o *Options) Complete() {
	if o.Name == "" {
		o.Name = o.User
	}
	o.Deps.complete()
}

// Validate checks every flag and the files they name, changing nothing, and loads --key.
// It reports every problem found, on one line.
func (o *Options) Validate() error {
	var errs []string
	add := func(err error) {
		if err != nil {
			errs = append(errs, err.Error())
		}
	}
	if o.NoWait && o.Cleanup {
		add(errors.New("--cleanup decides what a wait that ends leaves behind; there is no wait with --no-wait: give one of them"))
	}
	switch {
	case o.User == "":
		add(errors.New("--user is required: the CN, the user name the certificate logs in as"))
	case o.Name == "":
		add(errors.New("--name is required"))
	default:
		if problems := path.IsValidPathSegmentName(o.Name); len(problems) > 0 || strings.Contains(o.Name, `\`) {
			add(fmt.Errorf("--name %q cannot name a CSR and files (%s); choose a name without / \\ %% and other than . and ..", o.Name, strings.Join(problems, ", ")))
		}
	}
	for _, g := range o.Groups {
		if g == "" {
			add(errors.New("--group must not be empty"))
		}
	}
	switch {
	case o.Signer == csr.LegacyUnknownSignerName:
		add(fmt.Errorf("--signer %s is not allowed via the certificates.k8s.io/v1 API; use another signer", o.Signer))
	default:
		add(validateSigner(o.Signer))
	}
	if o.Signer == certificatesv1.KubeAPIServerClientSignerName && slices.Contains(o.Groups, user.SystemPrivilegedGroup) {
		add(fmt.Errorf("--group %s: the %s signer never issues certificates for %s (Kubernetes refuses such CSRs); grant the user RBAC permissions instead", user.SystemPrivilegedGroup, o.Signer, user.SystemPrivilegedGroup))
	}
	usages, err := parseUsages(o.Usages)
	add(err)
	o.usages = usages
	for _, d := range o.DNSNames {
		switch {
		case net.ParseIP(d) != nil:
			add(fmt.Errorf("--dns-name %q is an IP address; use --ip-address", d))
		case d == "" || strings.ContainsAny(d, " \t/:@"):
			add(fmt.Errorf("--dns-name %q is not a DNS name", d))
		}
	}
	o.ips = nil
	for _, s := range o.IPAddresses {
		ip := net.ParseIP(s)
		if ip == nil {
			add(fmt.Errorf("--ip-address %q is not an IP address", s))
			continue
		}
		o.ips = append(o.ips, ip)
	}
	switch {
	case o.Duration < 0, o.Duration > 0 && o.Duration < minDuration:
		add(fmt.Errorf("--duration %s is below the API's minimum of 10m", o.Duration))
	case o.Duration > maxDuration:
		add(fmt.Errorf("--duration %s is too long; the API takes at most %s", o.Duration, maxDuration))
	}
	if (o.KeyFile == "" || o.KeyTypeSet) && !slices.Contains(KeyTypes, o.KeyType) {
		add(fmt.Errorf("--key-type %q is not one of %s", o.KeyType, strings.Join(KeyTypes, ", ")))
	}
	if o.Wait <= 0 {
		add(fmt.Errorf("--wait %s must be positive", o.Wait))
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}

	// The files: --key, --certificate-authority, the output directory.
	if o.KeyFile != "" {
		key, keyPEM, err := readKey("--key", o.KeyFile)
		if err != nil {
			return err
		}
		if got := KeyTypeOf(key.Public()); o.KeyTypeSet && got != o.KeyType {
			return fmt.Errorf("--key %s holds a %s key, not %s; drop --key-type or use another key", o.KeyFile, csr.KeyAlgorithm(key.Public()), o.KeyType)
		}
		if fi, err := os.Stat(o.KeyFile); err == nil && fi.Mode().Perm()&0o077 != 0 {
			fmt.Fprintf(o.ErrOut, "warning: --key %s has mode %#o, readable by others; run chmod 600 %s\n", o.KeyFile, fi.Mode().Perm(), o.KeyFile)
		}
		o.key, o.keyPEM = key, keyPEM
	}
	if o.CertificateAuthority != "" {
		data, err := os.ReadFile(o.CertificateAuthority)
		if err != nil {
			return fmt.Errorf("--certificate-authority: %w", err)
		}
		if _, err := pemutil.FirstCertificate(data); err != nil {
			return fmt.Errorf("--certificate-authority %s: %w", o.CertificateAuthority, err)
		}
	}
	if len(o.usages) == 0 {
		rsaKey := strings.HasPrefix(o.KeyType, "rsa-")
		if o.key != nil {
			rsaKey = isRSA(o.key.Public())
		}
		if o.usages, err = DefaultUsages(o.Signer, rsaKey); err != nil {
			return err
		}
	}
	// What the built-in signer will refuse after approval is refused now (doctor's rules).
	id := Identity{CommonName: o.User, Organizations: o.Groups, DNSNames: o.DNSNames, IPAddresses: o.ips}
	if objection := signerObjection(o.Signer, id, o.usages); objection != "" && !o.Force {
		return fmt.Errorf("signer %s would refuse this request after approval (%s); change the request, or give --force to submit it anyway", o.Signer, objection)
	}
	if err := checkWritableDir("--out-dir", o.OutDir); err != nil {
		return err
	}
	base := filepath.Join(o.OutDir, o.Name)
	targets := []string{base + ".crt", base + ".kubeconfig"}
	if o.KeyFile == "" {
		targets = append([]string{base + ".key"}, targets...)
	}
	return checkNew(targets...)
}

// Run validates the options, then obtains the certificate and writes the files.
func (o *Options) Run(ctx context.Context) error {
	o.Complete()
	if err := o.Validate(); err != nil {
		return err
	}
	cfg, roots, client, err := connect(&o.Conn, o.CertificateAuthority, &o.Deps, o.Name)
	if err != nil {
		return err
	}

	key, keyPEM := o.key, o.keyPEM
	if key == nil {
		if key, err = GenerateKey(o.KeyType, o.Rand); err != nil {
			return err
		}
		if keyPEM, err = pemutil.EncodeKey(key); err != nil {
			return err
		}
	}
	id := Identity{CommonName: o.User, Organizations: o.Groups, DNSNames: o.DNSNames, IPAddresses: o.ips}
	obtainer := o.obtainer(client, roots, o.Wait)
	obtainer.AfterCreate = func(ctx context.Context, created *certificatesv1.CertificateSigningRequest) {
		selfApprove(ctx, client, obtainer, created, o.Approve)
	}
	if o.joining {
		obtainer.PendingHint = joinPendingHint
	}
	r := Request{
		Name:     o.Name,
		Signer:   o.Signer,
		Usages:   o.usages,
		Duration: o.Duration,
		Identity: id,
		Key:      key,
		KeyKept:  o.KeyFile != "" || !o.Cleanup,
	}
	base := filepath.Join(o.OutDir, o.Name)
	fetch := cli.Self + " fetch " + o.Name + o.fetchFlags()
	if o.NoWait {
		// The key first: a CSR is useless without it.
		if o.KeyFile == "" {
			if err := writeSet([]outputFile{dataFile(base+".key", keyPEM, 0o600)}); err != nil {
				return err
			}
		}
		created, err := obtainer.Submit(ctx, r)
		if err != nil {
			if o.KeyFile == "" {
				os.Remove(base + ".key")
			}
			return err
		}
		obtainer.Progress.Printf("submitted CSR %s; once it is approved and issued, collect the certificate with: %s", created.Name, fetch)
		return nil
	}
	issued, err := obtainer.Obtain(ctx, r)
	var kept *KeptError
	if errors.As(err, &kept) {
		// The CSR stays for kcsr fetch; so must its key.
		msg := strings.TrimPrefix(kept.Exit.Message, "error: ")
		if o.KeyFile == "" {
			if werr := writeSet([]outputFile{dataFile(base+".key", keyPEM, 0o600)}); werr != nil {
				return exitf(ExitTimeout, "%s, but its key could not be kept (%v): the CSR is useless without it, delete it (kubectl delete csr %s)", msg, werr, kept.CSR)
			}
			msg += fmt.Sprintf(" and its key is in %s.key", base)
		}
		return exitf(ExitTimeout, "%s; collect the certificate once it is issued: %s", msg, fetch)
	}
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return exitf(ExitTimeout, "interrupted after CSR %s was issued; %s (collect it with %s)", issued.CSRName, noFilesWritten, fetch)
	}

	var files []outputFile
	if o.KeyFile == "" {
		files = append(files, dataFile(base+".key", keyPEM, 0o600))
	}
	files = append(files,
		dataFile(base+".crt", issued.CertPEM, 0o644),
		outputFile{path: base + ".kubeconfig", write: func() error {
			return pki.WriteKubeconfig(base+".kubeconfig", cfg.Host, o.User, roots, issued.CertPEM, keyPEM)
		}},
	)
	if err := writeSet(files); err != nil {
		return err
	}
	written := make([]string, len(files))
	for i, f := range files {
		written[i] = f.path
	}
	obtainer.Progress.Printf("wrote %s", strings.Join(written, ", "))
	obtainer.Progress.Printf("log in with: kubectl --kubeconfig %s.kubeconfig auth whoami", base)
	return nil
}

// fetchFlags are the flags kcsr fetch needs besides the name to find what this run used.
func (o *Options) fetchFlags() string {
	var flags string
	if o.KeyFile != "" {
		flags += " --key " + o.KeyFile
	}
	if o.OutDir != "." {
		flags += " --out-dir " + o.OutDir
	}
	return flags
}

// CAData is the CA bundle the client configuration trusts, from data or file; nil when it
// names none.
func CAData(cfg *rest.Config) ([]byte, error) {
	if len(cfg.CAData) > 0 {
		return cfg.CAData, nil
	}
	if cfg.CAFile != "" {
		data, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("the cluster CA: %w", err)
		}
		return data, nil
	}
	return nil, nil
}

// selfApprove tells a requester who may approve their own CSR that they may, and with
// approve does it: the Approved condition through /approval, as kcsr approve writes it.
// Whether they may is what the server says (SelfSubjectAccessReviews: approve on the
// signer, update on certificatesigningrequests/approval); when they may not, the CSR
// waits for an approver as any other.
func selfApprove(ctx context.Context, client kubernetes.Interface, o *Obtainer, created *certificatesv1.CertificateSigningRequest, approve bool) {
	allowed := cli.MayApprove(ctx, client, created.Spec.SignerName, created.Name)
	switch {
	case !allowed && approve:
		fmt.Fprintf(o.ErrOut, "warning: you may not approve requests of signer %s (approve on signers, update on certificatesigningrequests/approval); CSR %s waits for an approver\n", created.Spec.SignerName, created.Name)
	case !allowed:
	case !approve:
		o.Progress.Printf("you may approve it yourself: "+cli.Self+" approve %s (or request with --approve)", created.Name)
	default:
		obj := created.DeepCopy()
		csr.SetCondition(obj, certificatesv1.CertificateSigningRequestCondition{
			Type:    certificatesv1.CertificateApproved,
			Status:  corev1.ConditionTrue,
			Reason:  "KcsrApprove",
			Message: "This CSR was approved by its requester with " + cli.Self + " request --approve.",
		}, o.Clock.Now())
		if _, err := client.CertificatesV1().CertificateSigningRequests().UpdateApproval(ctx, obj.Name, obj, metav1.UpdateOptions{}); err != nil {
			fmt.Fprintf(o.ErrOut, "warning: approving CSR %s: %v; it waits for an approver\n", created.Name, err)
		}
	}
}

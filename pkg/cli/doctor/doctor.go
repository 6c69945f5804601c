package doctor

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	authenticationv1 "k8s.io/api/authentication/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/clock"

	"kcsr.dev/kcsr/pkg/announce"
	"kcsr.dev/kcsr/pkg/cli"
	"kcsr.dev/kcsr/pkg/csr"
	kcsrclient "kcsr.dev/kcsr/pkg/generated/clientset/versioned"
	"kcsr.dev/kcsr/pkg/pemutil"
	"kcsr.dev/kcsr/pkg/signer"
)

const example = `  # Why is my CSR not issued?
  kcsr doctor rahul

  # Check a manifest before applying it (the YAML is read raw, as written)
  kcsr doctor -f csr.yaml

  # Check a kubeconfig: the cluster CA against the server, the client certificate and key
  kcsr doctor --kubeconfig rahul.kubeconfig

  # Check a certificate and its key
  kcsr doctor --cert rahul.crt --key rahul.key

  # In a script: exit code 0 healthy, 2 a problem, 3 a warning (e.g. expires soon)
  kcsr doctor --kubeconfig rahul.kubeconfig >/dev/null || kcsr renew --kubeconfig rahul.kubeconfig`

// Options are kcsr doctor's flags and arguments.
type Options struct {
	Conn cli.Connection
	// Name is the CSR to diagnose on the server.
	Name string
	// File is a manifest (or a PEM request) to check without a server; "-" is stdin.
	File string
	// CertFile and KeyFile are a certificate and its key to check, on their own or in
	// place of a kubeconfig's; with NAME or -f, KeyFile is checked against the request.
	CertFile, KeyFile string
	// SignerConfig is kcsr server's --signer-config, for the rules and CAs of its
	// custom signers.
	SignerConfig string
	// Output is "" for the findings as lines, "json" for a JSON array.
	Output string

	Clock clock.PassiveClock
	In    io.Reader
	Out   io.Writer

	profiles map[string]*signer.Profile
	config   *signer.Configuration
}

// NewCommand returns `kcsr doctor`.
func NewCommand(in io.Reader, out io.Writer) *cobra.Command {
	o := &Options{In: in, Out: out}
	cmd := &cobra.Command{
		Use:   "doctor [NAME | -f FILE | --kubeconfig FILE [--cert C --key K]]",
		Short: "Name the cause and the fix of a broken CSR, manifest, certificate or kubeconfig",
		Long: `kcsr doctor names the cause and the fix of what keeps a CSR, a manifest, a certificate or
a kubeconfig from working, one finding per line (✓ fine, ⚠ warning, ✗ problem):

  NAME                 a CSR on the server: its request, its signer's rules, why it is still
                       Pending (policies, who may approve), why it is Approved but not
                       Issued, its certificate's validity
  -f FILE              a CSR manifest (or a PEM request), read raw, without a server: line
                       breaks and bad base64, a private key or certificate where the request
                       belongs, a signature that does not verify, usages the signer refuses
  --kubeconfig FILE    the kubeconfig (the default: $KUBECONFIG, ~/.kube/config): its CA
                       against the server, its client certificate's validity and key
  --cert C --key K     a certificate and its key, without a server

Exit codes: 0 healthy, 1 doctor could not check (bad flags, unreadable file, unknown CSR),
2 at least one problem (✗), 3 warnings only (⚠). See docs/doctor.md.`,
		Example: example,
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			report, err := o.Run(cmd.Context())
			if err != nil {
				return err
			}
			if o.Output == cli.OutputJSON {
				if report == nil {
					report = Report{}
				}
				if err := cli.PrintJSON(o.Out, report); err != nil {
					return err
				}
			} else {
				report.Print(o.Out)
			}
			if code := report.ExitCode(); code != ExitHealthy {
				return &cli.ExitError{Code: code, Message: summary(report)}
			}
			return nil
		},
	}
	o.Conn.AddFlags(cmd.Flags())
	cmd.ValidArgsFunction = cli.CompleteCSRNames(&o.Conn, 1)
	cmd.Flags().StringVarP(&o.File, "filename", "f", "", "A CSR manifest or PEM request to check without a server (- for stdin).")
	cmd.Flags().StringVar(&o.CertFile, "cert", "", "A certificate to check (with --kubeconfig: instead of the kubeconfig's client certificate).")
	cmd.Flags().StringVar(&o.KeyFile, "key", "", "A private key to check against the certificate, or against the request of NAME or -f.")
	cmd.Flags().StringVar(&o.SignerConfig, "signer-config", "", "kcsr server's signer configuration, to check custom signers' rules and CAs.")
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "json: the findings as a JSON array of {severity, subject, cause, fix}; the exit code is the same.")
	return cmd
}

// summary is the line on stderr when doctor found something.
func summary(r Report) string {
	plural := func(n int, word string) string {
		if n == 1 {
			return fmt.Sprintf("%d %s", n, word)
		}
		return fmt.Sprintf("%d %ss", n, word)
	}
	return fmt.Sprintf(cli.Self+" doctor: %s, %s", plural(r.Count(Problem), "problem"), plural(r.Count(Warning), "warning"))
}

// Complete fills in defaults.
func (o *Options) Complete(args []string) error {
	if len(args) == 1 {
		o.Name = args[0]
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.In == nil {
		o.In = os.Stdin
	}
	if o.SignerConfig != "" {
		c, err := signer.LoadConfiguration(o.SignerConfig)
		if err != nil {
			return err
		}
		o.config = c
		o.profiles, err = signerProfiles(c)
		if err != nil {
			return err
		}
	}
	return nil
}

// Validate checks that the flags name one thing to check.
func (o *Options) Validate() error {
	if err := cli.CheckOutput(o.Output); err != nil {
		return err
	}
	switch {
	case o.Name != "" && o.File != "":
		return errors.New("give either a CSR NAME or -f FILE, not both")
	case o.File != "" && o.CertFile != "":
		return errors.New("--cert does not go with -f: check the certificate on its own (" + cli.Self + " doctor --cert C --key K)")
	case o.Name != "" && o.CertFile != "":
		return errors.New("--cert does not go with a CSR NAME: doctor checks the CSR's own certificate; pass --key to check your key against it")
	case o.Name == "" && o.File == "" && o.KeyFile != "" && o.CertFile == "" && o.Conn.Kubeconfig == "":
		return errors.New("--key needs something to check it against: --cert C, a CSR NAME, -f FILE or --kubeconfig FILE")
	}
	return nil
}

// Run checks what the options name and returns the findings. An error means the checks
// could not run.
func (o *Options) Run(ctx context.Context) (Report, error) {
	switch {
	case o.File != "":
		return o.runManifest()
	case o.Name != "":
		return o.runCSR(ctx)
	case (o.CertFile != "" || o.KeyFile != "") && o.Conn.Kubeconfig == "" && o.Conn.Server == "":
		return o.runFiles()
	default:
		return o.runKubeconfig(ctx)
	}
}

// runManifest checks a manifest file, offline.
func (o *Options) runManifest() (Report, error) {
	var (
		data []byte
		err  error
	)
	name := filepath.Base(o.File)
	if o.File == "-" {
		name = "stdin"
		data, err = io.ReadAll(o.In)
	} else {
		data, err = os.ReadFile(o.File)
	}
	if err != nil {
		return nil, err
	}
	m := CheckManifest(name, data, o.profiles)
	report := Report(m.Findings)
	if o.KeyFile != "" && m.Request != nil {
		keyPEM, err := os.ReadFile(o.KeyFile)
		if err != nil {
			return nil, err
		}
		report = append(report, CheckKeyMatch("key "+o.KeyFile, keyPEM, m.Request.PublicKey, "the request"))
	}
	return report, nil
}

// runFiles checks a certificate and its key, offline.
func (o *Options) runFiles() (Report, error) {
	if o.CertFile == "" {
		return nil, errors.New("--key needs --cert (or a CSR NAME, -f FILE or --kubeconfig FILE) to check it against")
	}
	certPEM, err := os.ReadFile(o.CertFile)
	if err != nil {
		return nil, err
	}
	var keyPEM []byte
	if o.KeyFile != "" {
		if keyPEM, err = os.ReadFile(o.KeyFile); err != nil {
			return nil, err
		}
	}
	report, _ := o.checkCertAndKey("certificate "+o.CertFile, certPEM, "key "+o.KeyFile, keyPEM, false)
	return report, nil
}

// checkCertAndKey checks a certificate's validity and that the key belongs to it; usable
// is false when the pair cannot be used at all (unreadable, or a key of another
// certificate).
func (o *Options) checkCertAndKey(certSubject string, certPEM []byte, keySubject string, keyPEM []byte, client bool) (report Report, usable bool) {
	cert, err := pemutil.FirstCertificate(certPEM)
	if err != nil {
		f := problem(certSubject, fmt.Sprintf("is not a PEM certificate (%v)", err), "pass the .crt file (BEGIN CERTIFICATE)")
		if csr.HoldsPrivateKey(certPEM) {
			f.Cause = "holds a private key, not a certificate"
		}
		return Report{f}, false
	}
	renew := "request a new certificate (" + cli.Self + " request)"
	if client {
		renew = "renew it before it expires: " + cli.Self + " renew --kubeconfig FILE"
	}
	report = Report{CheckValidity(fmt.Sprintf("%s (CN=%s)", certSubject, cert.Subject.CommonName), cert, o.Clock.Now(), renew, NewCertificate())}
	if client {
		report = append(report, CheckClientAuth(certSubject, cert)...)
	}
	usable = true
	if keyPEM != nil {
		match := CheckKeyMatch(keySubject, keyPEM, cert.PublicKey, "the certificate")
		report = append(report, match)
		usable = match.Severity == OK
	}
	return report, usable
}

// runKubeconfig checks a kubeconfig: its CA, its client certificate and key, the TLS
// connection to its server, and who the server takes its credentials for.
func (o *Options) runKubeconfig(ctx context.Context) (Report, error) {
	raw, err := o.Conn.ClientConfig().RawConfig()
	if err != nil {
		return Report{problem("kubeconfig", fmt.Sprintf("cannot be loaded (%v)", err), "pass a kubeconfig file with --kubeconfig")}, nil
	}
	cfg, err := o.Conn.RESTConfig()
	if err != nil {
		return Report{problem("kubeconfig", fmt.Sprintf("cannot be used (%v)", err), "it needs a current context naming a cluster (server URL) and a user")}, nil
	}
	cluster := o.clusterName(raw)

	var report Report
	now := o.Clock.Now()
	caPEM, caErr := caData(cfg)
	if caErr != nil {
		report = append(report, problem(fmt.Sprintf("cluster %q", cluster), fmt.Sprintf("certificate-authority cannot be read (%v)", caErr), "fix the path, or embed the CA: kubectl config set-cluster "+cluster+" --certificate-authority=ca.crt --embed-certs"))
	}
	cas := pemutil.TrustedCertificates(caPEM)
	if len(caPEM) > 0 && len(cas) == 0 {
		report = append(report, problem(fmt.Sprintf("cluster %q", cluster), "certificate-authority-data holds no PEM certificate", "embed the cluster CA: kubectl config set-cluster "+cluster+" --certificate-authority=ca.crt --embed-certs"))
	}
	for _, ca := range cas {
		report = append(report, CheckValidity(fmt.Sprintf("cluster CA %q", ca.Subject.String()), ca, now, "the cluster's CA must be renewed by its administrator, then put in certificate-authority-data", "the cluster's CA must be renewed by its administrator, then put in certificate-authority-data"))
	}

	if o.CertFile != "" {
		if cfg.CertData, err = os.ReadFile(o.CertFile); err != nil {
			return nil, err
		}
		cfg.CertFile = ""
	}
	if o.KeyFile != "" {
		if cfg.KeyData, err = os.ReadFile(o.KeyFile); err != nil {
			return nil, err
		}
		cfg.KeyFile = ""
	}
	certPEM, keyPEM, credErr := clientCredentials(cfg)
	usable := credErr == nil
	switch {
	case credErr != nil:
		report = append(report, problem("client certificate", fmt.Sprintf("cannot be read (%v)", credErr), "fix the client-certificate/client-key paths, or embed them: kubectl config set-credentials USER --client-certificate=user.crt --client-key=user.key --embed-certs"))
	case len(certPEM) > 0:
		var certFindings Report
		certFindings, usable = o.checkCertAndKey("client certificate", certPEM, "client key", keyPEM, true)
		report = append(report, certFindings...)
	}

	tlsFindings := CheckServerTLS(probeTLS(ctx, cfg, cluster))
	report = append(report, tlsFindings...)
	if Report(tlsFindings).Worst() == Problem || !usable {
		// Without trust in the server, or with credentials no client can load, there
		// is nobody to ask who they are.
		return report, nil
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	review, err := client.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	var user *authenticationv1.UserInfo
	if err == nil {
		user = &review.Status.UserInfo
	}
	return append(report, CheckAuthentication(user, err)...), nil
}

// clusterName is the name of the cluster the kubeconfig's (or --context's) context uses.
func (o *Options) clusterName(raw clientcmdapi.Config) string {
	name := o.Conn.Context
	if name == "" {
		name = raw.CurrentContext
	}
	if c := raw.Contexts[name]; c != nil {
		return c.Cluster
	}
	return ""
}

// runCSR diagnoses a CSR on the server.
func (o *Options) runCSR(ctx context.Context) (Report, error) {
	cfg, err := o.Conn.RESTConfig()
	if err != nil {
		return nil, err
	}
	raw, _ := o.Conn.ClientConfig().RawConfig()
	report := Report(CheckServerTLS(probeTLS(ctx, cfg, o.clusterName(raw))))
	if report.Worst() == Problem {
		return report, nil
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	kcsr, err := kcsrclient.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	obj, err := client.CertificatesV1().CertificateSigningRequests().Get(ctx, o.Name, metav1.GetOptions{})
	if apierrors.IsUnauthorized(err) {
		return append(report, CheckAuthentication(nil, err)...), nil
	}
	if err != nil {
		return nil, err
	}
	report = append(report, o.DiagnoseCSR(ctx, cfg, client, kcsr, obj)...)
	if o.KeyFile == "" {
		return report, nil
	}
	// The key is checked against the certificate once there is one, else the request.
	var pub crypto.PublicKey
	against := "the request"
	if cert, err := pemutil.FirstCertificate(obj.Status.Certificate); err == nil && csr.StateOf(obj) == csr.Issued {
		pub, against = cert.PublicKey, "the certificate"
	} else if req, err := csr.ParseRequest(obj.Spec.Request); err == nil {
		pub = req.PublicKey
	}
	if pub == nil {
		return report, nil
	}
	keyPEM, err := os.ReadFile(o.KeyFile)
	if err != nil {
		return nil, err
	}
	return append(report, CheckKeyMatch("key "+o.KeyFile, keyPEM, pub, against)), nil
}

// DiagnoseCSR is what kcsr doctor NAME finds about obj, read with cfg's credentials, after
// its check of the connection: the request, the signer's rules, and why it is still
// Pending, why it is Approved but not Issued, or its certificate's validity. o's Clock
// and signer configuration are used; a key file is not checked.
func (o *Options) DiagnoseCSR(ctx context.Context, cfg *rest.Config, client kubernetes.Interface, kcsr kcsrclient.Interface, obj *certificatesv1.CertificateSigningRequest) Report {
	var report Report
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	now := o.Clock.Now()
	kcsrServed := servesKcsr(client)

	req, requestFindings := CheckRequestPEM(obj.Spec.Request)
	report = append(report, requestFindings...)
	if !csr.IsFailed(obj) {
		report = append(report, CheckSignerRules(obj.Spec.SignerName, req, obj.Spec.Usages, o.profiles)...)
	}
	if st := csr.StateOf(obj); st == csr.Pending || st == csr.Approved {
		if a, err := announce.Served(ctx, client, now); err == nil {
			report = append(report, CheckServed(obj.Spec.SignerName, a)...)
		}
	}

	switch csr.StateOf(obj) {
	case csr.Denied, csr.Failed:
		report = append(report, CheckDecided(obj)...)
	case csr.Pending:
		in := PendingInput{CSR: obj, Now: now, Kcsr: kcsrServed, KubeletClient: req != nil && csr.IsKubeletClientCSR(req, obj.Spec.Usages)}
		if kcsrServed {
			in.Policies, in.PoliciesErr = coveringPolicies(ctx, kcsr, obj.Spec.SignerName)
		}
		in.Approvers, in.ApproversErr = findApprovers(ctx, client, obj.Spec.SignerName)
		report = append(report, CheckPending(in)...)
	case csr.Approved:
		in := NotIssuedInput{CSR: obj, Now: now, Kcsr: kcsrServed, Profiles: o.profiles}
		in.SignerCA, in.SignerCASource = o.signerCA(cfg, obj.Spec.SignerName)
		report = append(report, CheckNotIssued(in)...)
	case csr.Issued:
		report = append(report, ok(statusSubject, csr.ConditionString(obj)))
		cert, err := pemutil.FirstCertificate(obj.Status.Certificate)
		if err != nil {
			report = append(report, problem("status.certificate", fmt.Sprintf("is not a PEM certificate (%v)", err), "the signer wrote a broken certificate: create a new CSR"))
		} else {
			report = append(report, CheckValidity(fmt.Sprintf("certificate (serial %s)", cert.SerialNumber.Text(16)), cert, now,
				"renew it before it expires: "+cli.Self+" renew --kubeconfig FILE", NewCertificate()))
			if kcsrServed {
				records, err := cli.IssuedCertificates(ctx, kcsr, fields.OneTermEqualSelector("spec.csrName", obj.Name).String())
				report = append(report, CheckInventory(cert, records, err))
			}
		}
	}
	return report
}

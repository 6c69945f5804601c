package request

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"kcsr.dev/kcsr/pkg/atomicfile"
	"kcsr.dev/kcsr/pkg/cli"
	"kcsr.dev/kcsr/pkg/csr"
	"kcsr.dev/kcsr/pkg/pemutil"
)

// Kubernetes' signers backdate NotBefore by 5 minutes and, below 8 hours, add those 5
// minutes to the lifetime (pkg/certificate.Validity): a renewal asks for the lifetime
// without them.
const (
	signerBackdate      = 5 * time.Minute
	signerShortLifetime = 8 * time.Hour
)

// RenewOptions are the flags of `kcsr renew` and what it needs to run.
type RenewOptions struct {
	Kubeconfig string
	Context    string
	Signer     string
	Usages     []string
	// Duration is the lifetime to request; 0 is the current certificate's.
	Duration time.Duration
	// KeyType of the new key; "" is the current key's type.
	KeyType string
	NewKey  bool
	Wait    time.Duration
	Watch   bool
	// RenewWindow is the --watch window as [min, max] fractions of the lifetime; only tests
	// change it (the hidden --renew-window flag).
	RenewWindow []float64

	Deps
	// Float is the randomness of the renewal deadline and backoff: uniform in [0, 1).
	Float func() float64

	usages []certificatesv1.KeyUsage
}

// NewRenewOptions returns the defaults of the flags.
func NewRenewOptions(out, errOut io.Writer) *RenewOptions {
	return &RenewOptions{
		Signer:      certificatesv1.KubeAPIServerClientSignerName,
		NewKey:      true,
		Wait:        DefaultWait,
		RenewWindow: []float64{KubeletWindow.Min, KubeletWindow.Max},
		Deps:        Deps{Out: out, ErrOut: errOut},
	}
}

// NewRenewCommand returns `kcsr renew`.
func NewRenewCommand(out, errOut io.Writer) *cobra.Command {
	o := NewRenewOptions(out, errOut)
	cmd := &cobra.Command{
		Use:   "renew [--kubeconfig FILE] [--watch]",
		Short: "Renew the client certificate of a kubeconfig, once or whenever it is due",
		Long: `Requests a new certificate for the identity of the kubeconfig's client certificate (the
same CN, groups and SANs), with a new key unless --new-key=false, authenticating with
the current certificate. Once it is approved and issued, and checked against the key
and the cluster CA, the kubeconfig is rewritten atomically: the same file, contexts and
clusters, the new certificate and key embedded. Nothing changes if anything fails.

The user must be allowed to create, get and watch CSRs (e.g. the system:node-bootstrapper
ClusterRole), and someone, or an approval policy, must approve the renewal.

With --watch it keeps running and renews each certificate at a random point between
70 % and 90 % of its lifetime, retrying failures with exponential backoff (2s doubling
to 32s), as the kubelet rotates its certificates; it stops on SIGINT or SIGTERM.

Exit codes: 0 renewed (or --watch stopped), 1 bad input, 2 denied, 3 failed, 4 timed out
or interrupted, 5 server or connection error (also: the certificate has expired and
cannot authenticate its renewal).`,
		Example: `  # Renew now
  kcsr renew --kubeconfig rahul.kubeconfig

  # Keep the kubeconfig's certificate fresh, as the kubelet does
  kcsr renew --kubeconfig rahul.kubeconfig --watch

  # Renew the certificate of a context of ~/.kube/config, with an RSA key
  kcsr renew --context rahul@prod --key-type rsa-3072`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.Run(cmd.Context()) },
	}
	f := cmd.Flags()
	f.StringVar(&o.Kubeconfig, "kubeconfig", "", "The kubeconfig to renew and rewrite (default: $KUBECONFIG if it names one file, then ~/.kube/config).")
	f.StringVar(&o.Context, "context", "", "The context whose user's certificate to renew (default: the current context).")
	f.StringVar(&o.Signer, "signer", o.Signer, "The signerName of the renewal.")
	f.StringSliceVar(&o.Usages, "usage", nil, "A key usage (repeatable; default: what the signer allows).")
	f.DurationVar(&o.Duration, "duration", 0, "Requested lifetime, at least 10m (default: the current certificate's).")
	f.StringVar(&o.KeyType, "key-type", "", "Type of the new key: "+strings.Join(KeyTypes, ", ")+" (default: the current key's).")
	f.BoolVar(&o.NewKey, "new-key", o.NewKey, "Generate a new key; --new-key=false keeps the current one.")
	f.DurationVar(&o.Wait, "wait", o.Wait, "How long to wait for approval and issuance, each time.")
	f.BoolVar(&o.Watch, "watch", false, "Keep running and renew whenever 70-90 % of the lifetime has passed.")
	f.Float64SliceVar(&o.RenewWindow, "renew-window", o.RenewWindow, "For tests only: the --watch window as two fractions of the lifetime.")
	_ = f.MarkHidden("renew-window")
	completeFlags(cmd)
	return cmd
}

// Complete fills in the dependencies.
func (o *RenewOptions) Complete() {
	o.Deps.complete()
	if o.Float == nil {
		o.Float = mathrand.Float64
	}
}

// Validate checks the flags, changing nothing.
func (o *RenewOptions) Validate() error {
	var errs []string
	if err := validateSigner(o.Signer); err != nil {
		return err
	}
	usages, err := parseUsages(o.Usages)
	if err != nil {
		errs = append(errs, err.Error())
	}
	o.usages = usages
	if len(usages) == 0 && csr.SignerRules(o.Signer) == nil {
		errs = append(errs, fmt.Sprintf("--usage is required for signer %s", o.Signer))
	}
	switch {
	case o.Duration < 0, o.Duration > 0 && o.Duration < minDuration:
		errs = append(errs, fmt.Sprintf("--duration %s is below the API's minimum of 10m", o.Duration))
	case o.Duration > maxDuration:
		errs = append(errs, fmt.Sprintf("--duration %s is too long; the API takes at most %s", o.Duration, maxDuration))
	}
	if o.KeyType != "" {
		if !o.NewKey {
			errs = append(errs, "--key-type applies to a new key; drop it or --new-key=false")
		} else if !slices.Contains(KeyTypes, o.KeyType) {
			errs = append(errs, fmt.Sprintf("--key-type %q is not one of %s", o.KeyType, strings.Join(KeyTypes, ", ")))
		}
	}
	if o.Wait <= 0 {
		errs = append(errs, fmt.Sprintf("--wait %s must be positive", o.Wait))
	}
	if len(o.RenewWindow) != 2 {
		errs = append(errs, "--renew-window takes two fractions, e.g. 0.7,0.9")
	} else if err := (Window{o.RenewWindow[0], o.RenewWindow[1]}).Validate(); err != nil {
		errs = append(errs, err.Error())
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// Run renews once, or with --watch until ctx ends.
func (o *RenewOptions) Run(ctx context.Context) error {
	o.Complete()
	if err := o.Validate(); err != nil {
		return err
	}
	path, err := o.path()
	if err != nil {
		return err
	}
	current, err := loadCredentials(path, o.Context)
	if err != nil {
		return err
	}
	if !o.Watch {
		_, err := o.renewOnce(ctx, path, current.context)
		return err
	}
	progress := NewProgress(o.Out, o.Clock)
	s := &Scheduler{
		Clock:   o.Clock,
		Rand:    o.Float,
		Window:  Window{o.RenewWindow[0], o.RenewWindow[1]},
		Backoff: KubeletBackoff,
		Log: func(format string, args ...any) {
			progress.Printf("%s "+format, append([]any{o.Clock.Now().UTC().Format(time.RFC3339)}, args...)...)
		},
	}
	err = s.Run(ctx,
		func() (*x509.Certificate, error) {
			c, err := loadCredentials(path, current.context)
			if err != nil {
				return nil, err
			}
			return c.cert, nil
		},
		func(ctx context.Context) error {
			_, err := o.renewOnce(ctx, path, current.context)
			return err
		})
	if err == nil {
		progress.Printf("stopped watching %s", path)
	}
	return err
}

// path is the one kubeconfig file to renew, with symbolic links resolved so that the
// rewrite replaces the file, not the link.
func (o *RenewOptions) path() (string, error) {
	p := o.Kubeconfig
	if p == "" {
		files := clientcmd.NewDefaultClientConfigLoadingRules().GetLoadingPrecedence()
		if len(files) != 1 {
			return "", fmt.Errorf("--kubeconfig FILE is required: $KUBECONFIG names %d files and renew rewrites one", len(files))
		}
		p = files[0]
	}
	resolved, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", fmt.Errorf("--kubeconfig: %w", err)
	}
	return resolved, nil
}

// credentials is a kubeconfig file and the client certificate of one of its contexts.
type credentials struct {
	config   *clientcmdapi.Config
	context  string
	authInfo *clientcmdapi.AuthInfo
	certPEM  []byte
	cert     *x509.Certificate
	key      crypto.Signer
}

// loadCredentials reads path and the client certificate and key of contextName (the
// current context when empty), embedded or in files next to it.
func loadCredentials(path, contextName string) (*credentials, error) {
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("--kubeconfig %s: %w", path, err)
	}
	if contextName == "" {
		contextName = cfg.CurrentContext
	}
	if contextName == "" {
		return nil, fmt.Errorf("%s has no current-context; name one with --context", path)
	}
	kctx := cfg.Contexts[contextName]
	if kctx == nil {
		return nil, fmt.Errorf("%s has no context %q; see kubectl --kubeconfig %s config get-contexts", path, contextName, path)
	}
	auth := cfg.AuthInfos[kctx.AuthInfo]
	if auth == nil {
		return nil, fmt.Errorf("context %q of %s names user %q, which it does not define", contextName, path, kctx.AuthInfo)
	}
	read := func(data []byte, file string) ([]byte, error) {
		if len(data) > 0 || file == "" {
			return data, nil
		}
		if !filepath.IsAbs(file) {
			file = filepath.Join(filepath.Dir(path), file)
		}
		return os.ReadFile(file)
	}
	certPEM, err := read(auth.ClientCertificateData, auth.ClientCertificate)
	if err != nil {
		return nil, fmt.Errorf("the client certificate of user %q: %w", kctx.AuthInfo, err)
	}
	keyPEM, err := read(auth.ClientKeyData, auth.ClientKey)
	if err != nil {
		return nil, fmt.Errorf("the client key of user %q: %w", kctx.AuthInfo, err)
	}
	if len(certPEM) == 0 || len(keyPEM) == 0 {
		return nil, fmt.Errorf("user %q of context %q in %s does not log in with a client certificate and key; "+cli.Self+" renew renews client certificates", kctx.AuthInfo, contextName, path)
	}
	cert, key, err := pemutil.ParseCertAndKey(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("user %q of context %q in %s: %w", kctx.AuthInfo, contextName, path, err)
	}
	return &credentials{config: cfg, context: contextName, authInfo: auth, certPEM: certPEM, cert: cert, key: key}, nil
}

// renewOnce renews the certificate of contextName in path and rewrites the file.
func (o *RenewOptions) renewOnce(ctx context.Context, path, contextName string) (*Issued, error) {
	cur, err := loadCredentials(path, contextName)
	if err != nil {
		return nil, &PermanentError{Err: err}
	}
	if now := o.Clock.Now(); !now.Before(cur.cert.NotAfter) {
		return nil, &PermanentError{Err: exitf(ExitServerError, "the certificate in %s expired at %s and cannot authenticate its own renewal; get a new one with "+cli.Self+" request and an administrator's kubeconfig", path, cur.cert.NotAfter.UTC().Format(time.RFC3339))}
	}
	cfg, err := (&cli.Connection{Kubeconfig: path, Context: contextName}).RESTConfig()
	if err != nil {
		return nil, &PermanentError{Err: err}
	}
	roots, err := CAData(cfg)
	if err != nil {
		return nil, &PermanentError{Err: err}
	}
	client, err := o.NewClient(cfg)
	if err != nil {
		return nil, err
	}

	key, keyPEM := cur.key, []byte(nil)
	if o.NewKey {
		keyType := o.KeyType
		if keyType == "" {
			keyType = KeyTypeOf(cur.key.Public())
		}
		if keyType == "" {
			keyType = DefaultKeyType
		}
		if key, err = GenerateKey(keyType, o.Rand); err != nil {
			return nil, err
		}
	}
	if keyPEM, err = pemutil.EncodeKey(key); err != nil {
		return nil, err
	}
	usages := o.usages
	if len(usages) == 0 {
		if usages, err = DefaultUsages(o.Signer, isRSA(key.Public())); err != nil {
			return nil, err
		}
	}
	duration := o.Duration
	if duration == 0 {
		duration = renewalDuration(cur.cert)
	}
	id := IdentityOf(cur.cert)
	obtainer := o.obtainer(client, roots, o.Wait)
	issued, err := obtainer.Obtain(ctx, Request{
		GenerateName: renewalPrefix(id.CommonName),
		Signer:       o.Signer,
		Usages:       usages,
		Duration:     duration,
		Identity:     id,
		Key:          key,
	})
	if err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, exitf(ExitTimeout, "interrupted after CSR %s was issued; %s is unchanged", issued.CSRName, path)
	}

	// Rewrite what is on disk now, provided nobody renewed it meanwhile.
	fresh, err := loadCredentials(path, contextName)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(fresh.cert.Raw, cur.cert.Raw) {
		return nil, exitf(ExitFailed, "%s changed while renewing (another renewal?); left it alone", path)
	}
	fresh.authInfo.ClientCertificateData, fresh.authInfo.ClientKeyData = issued.CertPEM, keyPEM
	fresh.authInfo.ClientCertificate, fresh.authInfo.ClientKey = "", ""
	data, err := clientcmd.Write(*fresh.config)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", path, err)
	}
	if err := atomicfile.WriteFile(path, data, 0o600); err != nil {
		return nil, err
	}
	obtainer.Progress.Printf("renewed %s: serial %s replaced by %s, valid until %s", path, cur.cert.SerialNumber.Text(16), issued.Cert.SerialNumber.Text(16), issued.Cert.NotAfter.UTC().Format(time.RFC3339))
	return issued, nil
}

// renewalDuration is the lifetime to request when renewing cert: its own, less the backdate
// that Kubernetes' signers add to short lifetimes, and at least the API's minimum.
func renewalDuration(cert *x509.Certificate) time.Duration {
	life := cert.NotAfter.Sub(cert.NotBefore).Round(time.Second)
	if life-signerBackdate < signerShortLifetime {
		life -= signerBackdate
	}
	return max(life, minDuration)
}

// renewalPrefix is the generateName of a renewal CSR: the CN, made fit for a name.
func renewalPrefix(cn string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(cn) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	prefix := strings.Trim(b.String(), "-.")
	if len(prefix) > 40 {
		prefix = prefix[:40]
	}
	if prefix == "" {
		prefix = "kcsr"
	}
	return prefix + "-renew-"
}

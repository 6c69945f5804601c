package console

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/cli"
	kcsrclient "kcsr.dev/kcsr/pkg/generated/clientset/versioned"
)

//go:embed assets
var assets embed.FS

// DefaultAddress is where the console listens unless --address says otherwise.
const DefaultAddress = "127.0.0.1:8080"

// Options are kcsr console's flags.
type Options struct {
	Conn    cli.Connection
	Address string
	Out     io.Writer
	Clock   clock.PassiveClock
}

// NewCommand returns `kcsr console`.
func NewCommand(out io.Writer) *cobra.Command {
	o := &Options{Out: out}
	cmd := &cobra.Command{
		Use:   "console [--kubeconfig FILE] [--address 127.0.0.1:8080]",
		Short: "Serve the approver's review page on loopback, acting as the kubeconfig's user",
		Long: `Serves a web page on loopback for reviewing CSRs: the queue of pending requests, live, each
decoded (subject, SANs, key, usages, signer, lifetime, requester); a request's full
description with kcsr doctor's findings before the Approve and Deny buttons; the
inventory of issued certificates with search and Revoke; and charts of the expiries of
the next 90 days and of the last 24 hours' issuance and denials.

Every API call goes out with the kubeconfig user's credentials: RBAC decides what the page
shows and allows (no Approve without the approve verb, no Revoke without revoke). It
prints a URL carrying a one-time login secret: open it in a browser on this machine
(from another one, forward the port: ssh -L 8080:127.0.0.1:8080 HOST). See docs/console.md.`,
		Example: `  kcsr console --kubeconfig DATA_DIR/admin.kubeconfig
  kcsr console --address 127.0.0.1:9090`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := o.Start(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(o.Out, "kcsr console for %s is at:\n\n    %s\n\nThe link logs in one browser, once: open it here (or through ssh -L from another machine).\nUntil it is opened, anyone who has it can act as %s. Press Ctrl-C to stop.\n",
				s.identity.User, s.LoginURL(), s.identity.User)
			return s.Wait()
		},
	}
	o.Conn.AddFlags(cmd.Flags())
	cmd.Flags().StringVar(&o.Address, "address", DefaultAddress, "Where to serve the page: a loopback address and port (port 0 picks a free one).")
	return cmd
}

// identity is who the console acts as.
type identity struct {
	User   string
	Groups []string
}

// Server is a running console.
type Server struct {
	config *rest.Config
	client kubernetes.Interface
	kcsr   kcsrclient.Interface
	clock  clock.PassiveClock

	identity identity
	// inventory says whether the API serves IssuedCertificates.
	inventory bool
	// queue is nil when the user may not list and watch CSRs; queueError says why.
	queue      *queue
	queueError string
	chartCache chartCache

	guard    *guard
	url      string
	httpSrv  *http.Server
	serveErr chan error
	cancel   context.CancelFunc
}

// checkLoopback refuses an address that is not on loopback: the page acts with the
// user's credentials, and must not be reachable from the network.
func checkLoopback(address string) (host, port string, err error) {
	host, port, err = net.SplitHostPort(address)
	if err != nil {
		return "", "", fmt.Errorf("--address %q is not HOST:PORT: %w", address, err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return "", "", fmt.Errorf("--address %q: port %q is not a number from 0 to 65535", address, port)
	}
	ip := net.ParseIP(host)
	if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", "", fmt.Errorf("--address %q is not a loopback address: the console acts with your credentials and serves loopback only; use --address 127.0.0.1:%s and reach it from another machine through ssh -L %s:127.0.0.1:%s", address, port, port, port)
	}
	return host, port, nil
}

// Start checks the flags and the credentials, loads the queue, listens and serves.
func (o *Options) Start(ctx context.Context) (*Server, error) {
	if o.Address == "" {
		o.Address = DefaultAddress
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	host, _, err := checkLoopback(o.Address)
	if err != nil {
		return nil, err
	}
	client, kcsr, cfg, err := o.Conn.Clients()
	if err != nil {
		return nil, err
	}
	s := &Server{config: cfg, client: client, kcsr: kcsr, clock: o.Clock}
	if err := s.whoAmI(ctx); err != nil {
		return nil, err
	}
	s.inventory = servesInventory(client)

	ln, err := net.Listen("tcp", o.Address)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w; pick another port with --address 127.0.0.1:PORT", o.Address, err)
	}
	// The URL names the address bound, never "localhost": a browser may try ::1 first,
	// where another local user could listen on the same port and take the secret.
	bound := ln.Addr().(*net.TCPAddr)
	port := strconv.Itoa(bound.Port)
	hostPort := net.JoinHostPort(bound.IP.String(), port)
	hosts := []string{hostPort}
	if host == "localhost" {
		hosts = append(hosts, net.JoinHostPort("localhost", port))
	}
	s.guard = newGuard(hosts)
	s.url = "http://" + hostPort + "/login?secret=" + s.guard.loginSecret()

	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	if err := s.startQueue(runCtx); err != nil {
		cancel()
		ln.Close()
		return nil, err
	}
	s.httpSrv = &http.Server{Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second}
	s.serveErr = make(chan error, 1)
	go func() { s.serveErr <- s.httpSrv.Serve(ln) }()
	go func() {
		select {
		case <-ctx.Done():
			s.Close()
		case <-runCtx.Done():
		}
	}()
	return s, nil
}

// LoginURL is the URL with the one-time login secret.
func (s *Server) LoginURL() string { return s.url }

// Wait blocks until the console stops (Close, or the Start context ends).
func (s *Server) Wait() error {
	err := <-s.serveErr
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Close stops the console.
func (s *Server) Close() {
	s.cancel()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.httpSrv.Shutdown(shutdownCtx)
}

// whoAmI asks the server who the credentials authenticate (a SelfSubjectReview); a
// refusal of the credentials is an error that says so.
func (s *Server) whoAmI(ctx context.Context) error {
	review, err := s.client.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	switch {
	case apierrors.IsUnauthorized(err):
		return fmt.Errorf("the API server refuses the kubeconfig's credentials (%v); check them with: %s doctor --kubeconfig FILE", err, cli.Self)
	case err != nil && !isAPIStatus(err):
		return fmt.Errorf("cannot reach the API server at %s: %w; is it running? check the connection with: %s doctor --kubeconfig FILE", s.config.Host, err, cli.Self)
	case err != nil:
		// An API that does not serve SelfSubjectReview (older than 1.28): the page
		// works, without a name to show.
		s.identity = identity{User: "(the kubeconfig's user)"}
		return nil
	}
	s.identity = identity{User: cli.Printable(review.Status.UserInfo.Username), Groups: cli.PrintableAll(review.Status.UserInfo.Groups)}
	return nil
}

// isAPIStatus says whether err is an answer of the API server (a Status), not a failure
// to reach it.
func isAPIStatus(err error) bool {
	var status apierrors.APIStatus
	return errors.As(err, &status)
}

// servesInventory says whether the API serves kcsr's IssuedCertificates.
func servesInventory(client kubernetes.Interface) bool {
	resources, err := client.Discovery().ServerResourcesForGroupVersion(kcsrv1alpha1.SchemeGroupVersion.String())
	if err != nil {
		return false
	}
	return slices.ContainsFunc(resources.APIResources, func(r metav1.APIResource) bool { return r.Name == "issuedcertificates" })
}

// startQueue starts the informer over CSRs when the user may list and watch them, and
// waits for its first list.
func (s *Server) startQueue(ctx context.Context) error {
	for _, verb := range []string{"list", "watch"} {
		if !cli.May(ctx, s.client, authorizationv1.ResourceAttributes{Group: certificatesv1.GroupName, Resource: "certificatesigningrequests", Verb: verb}) {
			s.queueError = "you may not " + verb + " CertificateSigningRequests, so the page shows no queue: an administrator grants get, list and watch on certificatesigningrequests.certificates.k8s.io with a ClusterRole and a binding"
			return nil
		}
	}
	s.queue = newQueue(s.client, s.clock, ctx.Done())
	go s.queue.run(ctx)
	syncCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if !cache.WaitForCacheSync(syncCtx.Done(), s.queue.informer.HasSynced) {
		return errors.New("the CSR list did not load within a minute; check the server with: " + cli.Self + " doctor")
	}
	return nil
}

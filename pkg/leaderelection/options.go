package leaderelection

import (
	"fmt"
	"time"

	"github.com/spf13/pflag"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
)

// Default Lease of kcsr's controllers.
const (
	DefaultNamespace = "kube-system"
	DefaultName      = "kcsr-controllers"
)

// Options are the --leader-elect* flags, named as kube-controller-manager's, for every
// command that runs kcsr's controllers.
type Options struct {
	// Enabled runs the controllers only while holding the Lease.
	Enabled bool
	// Namespace and Name locate the Lease.
	Namespace, Name string
	// LeaseDuration, RenewDeadline and RetryPeriod are Config's timings.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
}

// NewOptions returns the defaults: enabled, kube-system/kcsr-controllers, 15s/10s/2s.
func NewOptions() *Options {
	return &Options{
		Enabled:       true,
		Namespace:     DefaultNamespace,
		Name:          DefaultName,
		LeaseDuration: DefaultLeaseDuration,
		RenewDeadline: DefaultRenewDeadline,
		RetryPeriod:   DefaultRetryPeriod,
	}
}

// AddFlags registers the flags.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&o.Enabled, "leader-elect", o.Enabled,
		"Run the approver, signer and cleaner only on the replica holding the leader election Lease, so that replicas sharing a store take turns. Off: they run unconditionally.")
	fs.DurationVar(&o.LeaseDuration, "leader-elect-lease-duration", o.LeaseDuration,
		"How long followers wait after the leader's last renewal before taking over (when the leader stops cleanly it releases the Lease and a follower takes over at once).")
	fs.DurationVar(&o.RenewDeadline, "leader-elect-renew-deadline", o.RenewDeadline,
		"How long the leader retries renewing the Lease before it stops its controllers; below --leader-elect-lease-duration.")
	fs.DurationVar(&o.RetryPeriod, "leader-elect-retry-period", o.RetryPeriod,
		"Interval between attempts to acquire or renew the Lease.")
	fs.StringVar(&o.Namespace, "leader-elect-resource-namespace", o.Namespace,
		"Namespace of the leader election Lease.")
	fs.StringVar(&o.Name, "leader-elect-resource-name", o.Name,
		"Name of the leader election Lease (coordination.k8s.io/v1).")
}

// Validate returns every problem with the flags, naming them.
func (o *Options) Validate() []error {
	if !o.Enabled {
		return nil
	}
	var errs []error
	for _, msg := range utilvalidation.IsDNS1123Label(o.Namespace) {
		errs = append(errs, fmt.Errorf("--leader-elect-resource-namespace %q: %s", o.Namespace, msg))
	}
	for _, msg := range utilvalidation.IsDNS1123Subdomain(o.Name) {
		errs = append(errs, fmt.Errorf("--leader-elect-resource-name %q: %s", o.Name, msg))
	}
	errs = append(errs, validateTimings(o.LeaseDuration, o.RenewDeadline, o.RetryPeriod,
		[3]string{"--leader-elect-lease-duration", "--leader-elect-renew-deadline", "--leader-elect-retry-period"})...)
	return errs
}

// Config returns the Config for client and identity.
func (o *Options) Config(client kubernetes.Interface, identity string) Config {
	return Config{
		Client:        client,
		Namespace:     o.Namespace,
		Name:          o.Name,
		Identity:      identity,
		LeaseDuration: o.LeaseDuration,
		RenewDeadline: o.RenewDeadline,
		RetryPeriod:   o.RetryPeriod,
	}
}

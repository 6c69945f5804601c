package leaderelection

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"
)

func TestOptions(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{name: "defaults"},
		{name: "off ignores the rest", args: []string{"--leader-elect=false", "--leader-elect-lease-duration=0s"}},
		{name: "fast", args: []string{"--leader-elect-lease-duration=3s", "--leader-elect-renew-deadline=2s", "--leader-elect-retry-period=500ms"}},
		{
			name: "bad names",
			args: []string{"--leader-elect-resource-namespace=Kube_System", "--leader-elect-resource-name=kcsr/controllers"},
			want: []string{
				`--leader-elect-resource-namespace "Kube_System": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`,
				`--leader-elect-resource-name "kcsr/controllers": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
			},
		},
		{
			name: "renew deadline above the lease duration",
			args: []string{"--leader-elect-renew-deadline=20s"},
			want: []string{"--leader-elect-lease-duration (15s) must be greater than --leader-elect-renew-deadline (20s)"},
		},
		{
			name: "retry period",
			args: []string{"--leader-elect-retry-period=0s"},
			want: []string{"--leader-elect-retry-period (0s) must be positive"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := NewOptions()
			fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
			o.AddFlags(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, err := range o.Validate() {
				got = append(got, err.Error())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Validate (-want +got):\n%s", diff)
			}
		})
	}

	cfg := NewOptions().Config(nil, "host-a_1")
	want := Config{Namespace: "kube-system", Name: "kcsr-controllers", Identity: "host-a_1", LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second}
	if diff := cmp.Diff(want, cfg); diff != "" {
		t.Errorf("Config (-want +got):\n%s", diff)
	}
}

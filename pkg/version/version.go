// Package version says which kcsr this is and which Kubernetes API level it serves.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"

	apimachineryversion "k8s.io/apimachinery/pkg/version"
)

// Version is kcsr's own version, set at build time with
// -ldflags "-X kcsr.dev/kcsr/pkg/version.Version=v0.1.0".
var Version = "v0.1.0-dev"

// Kubernetes API level kcsr's API matches (the k8s.io/apiserver it is built on).
const (
	KubeMajor = 1
	KubeMinor = 37
	KubePatch = 2
)

// GitVersion is what /version reports: the Kubernetes level, with kcsr's version as build
// metadata, so kubectl's version-skew logic sees a Kubernetes 1.37 server and people see
// kcsr ("v1.37.2+kcsr.v0.1.0-dev").
func GitVersion() string {
	return fmt.Sprintf("v%d.%d.%d+kcsr.%s", KubeMajor, KubeMinor, KubePatch, Version)
}

// Info is the /version document.
func Info() *apimachineryversion.Info {
	commit := ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				commit = s.Value
			}
		}
	}
	return &apimachineryversion.Info{
		Major:        fmt.Sprint(KubeMajor),
		Minor:        fmt.Sprint(KubeMinor),
		GitVersion:   GitVersion(),
		GitCommit:    commit,
		GitTreeState: "",
		GoVersion:    runtime.Version(),
		Compiler:     runtime.Compiler,
		Platform:     runtime.GOOS + "/" + runtime.GOARCH,
	}
}

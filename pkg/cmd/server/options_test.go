package server

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestValidateTokenAuthFile: the static tokens are passwords; a file group or others can
// read is refused at start, as a CA key is.
func TestValidateTokenAuthFile(t *testing.T) {
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens.csv")
	if err := os.WriteFile(tokens, []byte("ops-token,ops,2001,\"ops\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.csv")
	cases := []struct {
		name    string
		file    string
		mode    os.FileMode
		wantErr string
	}{
		{name: "owner only", file: tokens, mode: 0o600},
		{name: "owner read only", file: tokens, mode: 0o400},
		{name: "readable by all", file: tokens, mode: 0o644, wantErr: "--token-auth-file " + tokens + " is readable by group or others (mode 0644); run: chmod 600 " + tokens},
		{name: "readable by group", file: tokens, mode: 0o640, wantErr: "--token-auth-file " + tokens + " is readable by group or others (mode 0640); run: chmod 600 " + tokens},
		{name: "writable by others", file: tokens, mode: 0o602, wantErr: "--token-auth-file " + tokens + " is writable by group or others (mode 0602); run: chmod 600 " + tokens},
		{name: "missing", file: missing, wantErr: "--token-auth-file: stat " + missing + ": no such file or directory"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.mode != 0 {
				if err := os.Chmod(tc.file, tc.mode); err != nil {
					t.Fatal(err)
				}
			}
			o := NewOptions()
			o.TokenAuthFile = tc.file
			got := ""
			if _, err := o.loadFiles(context.Background()); err != nil {
				got = err.Error()
			}
			if got != tc.wantErr {
				t.Errorf("loadFiles() = %q; want %q", got, tc.wantErr)
			}
		})
	}
}

// TestCompleteWatchCacheSizes: events (as in kube-apiserver) and IssuedCertificates get
// no watch cache unless --watch-cache-sizes names them.
func TestCompleteWatchCacheSizes(t *testing.T) {
	for _, tc := range []struct {
		flag, want []string
	}{
		{nil, []string{"events#0", "issuedcertificates.kcsr.dev#0"}},
		{[]string{"certificatesigningrequests.certificates.k8s.io#100"}, []string{"certificatesigningrequests.certificates.k8s.io#100", "events#0", "issuedcertificates.kcsr.dev#0"}},
		{[]string{"events#100", "issuedcertificates.kcsr.dev#1000"}, []string{"events#100", "issuedcertificates.kcsr.dev#1000"}},
	} {
		o := NewOptions()
		o.DataDir = t.TempDir()
		o.Etcd.WatchCacheSizes = tc.flag
		if err := o.Complete(); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(o.Etcd.WatchCacheSizes, tc.want) {
			t.Errorf("--watch-cache-sizes %v: completed to %v, want %v", tc.flag, o.Etcd.WatchCacheSizes, tc.want)
		}
	}
}

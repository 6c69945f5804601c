package pki

import (
	"io/fs"
	"testing"

	"kcsr.dev/kcsr/pkg/testkit"
)

func TestCheckSecretFileMode(t *testing.T) {
	const path = "/etc/kcsr/tokens.csv"
	cases := []struct {
		mode    fs.FileMode
		wantErr string
	}{
		{mode: 0o600},
		{mode: 0o400},
		{mode: 0o700},
		{mode: 0o200},
		{mode: fs.ModeSymlink | 0o600},
		{mode: 0o644, wantErr: "--token-auth-file /etc/kcsr/tokens.csv is readable by group or others (mode 0644); run: chmod 600 /etc/kcsr/tokens.csv"},
		{mode: 0o640, wantErr: "--token-auth-file /etc/kcsr/tokens.csv is readable by group or others (mode 0640); run: chmod 600 /etc/kcsr/tokens.csv"},
		{mode: 0o604, wantErr: "--token-auth-file /etc/kcsr/tokens.csv is readable by group or others (mode 0604); run: chmod 600 /etc/kcsr/tokens.csv"},
		{mode: 0o666, wantErr: "--token-auth-file /etc/kcsr/tokens.csv is readable by group or others (mode 0666); run: chmod 600 /etc/kcsr/tokens.csv"},
		{mode: 0o620, wantErr: "--token-auth-file /etc/kcsr/tokens.csv is writable by group or others (mode 0620); run: chmod 600 /etc/kcsr/tokens.csv"},
		{mode: 0o602, wantErr: "--token-auth-file /etc/kcsr/tokens.csv is writable by group or others (mode 0602); run: chmod 600 /etc/kcsr/tokens.csv"},
		{mode: 0o610, wantErr: "--token-auth-file /etc/kcsr/tokens.csv is executable by group or others (mode 0610); run: chmod 600 /etc/kcsr/tokens.csv"},
		{mode: 0o601, wantErr: "--token-auth-file /etc/kcsr/tokens.csv is executable by group or others (mode 0601); run: chmod 600 /etc/kcsr/tokens.csv"},
	}
	for _, tc := range cases {
		t.Run(tc.mode.String(), func(t *testing.T) {
			err := CheckSecretFileMode("--token-auth-file", path, tc.mode)
			testkit.ExpectError(t, err, tc.wantErr)
		})
	}
}

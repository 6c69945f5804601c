package pki

import (
	"fmt"
	"io/fs"
)

// CheckSecretFileMode refuses a file holding a secret (a private key, an HSM PIN, bearer
// tokens) that group or others have any access to: it is kcsr's one check of such files,
// used wherever one is read. what names the file in the error, as the user knows it
// ("CA key file", "--token-auth-file"); mode is the file's, from a Stat of the file read
// (of the open file where the caller can, so that the file checked is the file read).
func CheckSecretFileMode(what, path string, mode fs.FileMode) error {
	perm := mode.Perm()
	if perm&0o077 == 0 {
		return nil
	}
	access := "readable"
	switch {
	case perm&0o044 != 0:
	case perm&0o022 != 0:
		access = "writable"
	default:
		access = "executable"
	}
	return fmt.Errorf("%s %s is %s by group or others (mode %#o); run: chmod 600 %s", what, path, access, perm, path)
}

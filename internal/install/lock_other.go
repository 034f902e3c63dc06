//go:build !unix

package install

import "os"

// tryLockDir has no lock to take here; installs are refused on these
// platforms before any directory is created, so it is never contended.
func tryLockDir(dir string) (*os.File, bool, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, false, err
	}
	return f, true, nil
}

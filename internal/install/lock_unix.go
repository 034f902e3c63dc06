//go:build unix

package install

import (
	"errors"
	"os"
	"syscall"
)

// tryLockDir takes a non-blocking exclusive flock on the directory dir. It
// returns the open directory (close it to unlock) or ok=false when another
// holder has the lock. flock locks belong to the open file description, so
// two installs in one process exclude each other just as two processes do,
// and a crashed process's locks vanish with it.
func tryLockDir(dir string) (f *os.File, ok bool, err error) {
	f, err = os.Open(dir)
	if err != nil {
		return nil, false, err
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, false, nil
		}
		return nil, false, err
	}
	return f, true, nil
}

package workspace

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/agentd-dev/agentd/internal/apierr"
)

// ChangeType is what happened to a path under a watched directory.
type ChangeType string

const (
	Created  ChangeType = "created"
	Modified ChangeType = "modified"
	Deleted  ChangeType = "deleted"
)

// ChangeTypes lists the values.
var ChangeTypes = []ChangeType{Created, Modified, Deleted}

// Change is one created, modified or deleted path.
type Change struct {
	Type      ChangeType
	Path      string // absolute
	EntryType EntryType
}

// Watch follows a directory tree by comparing snapshots: simple, bounded
// (at most MaxWatchEntries entries) and confined to the root like every
// other operation. A file is modified when its size, mtime, mode or inode
// changed; a directory's own mtime is not reported (its children are).
type Watch struct {
	f     *FS
	Dir   Path
	sub   *os.Root
	ino   uint64
	state map[string]snapshot
}

type snapshot struct {
	dir   bool
	size  int64
	mtime int64
	mode  fs.FileMode
	ino   uint64
}

// ErrWatchGone ends a watch whose directory was removed or replaced.
var ErrWatchGone = errors.New("the watched directory was removed")

// Watch starts watching the directory p: it takes the first snapshot,
// against which the first Poll compares.
func (f *FS) Watch(base, p string) (*Watch, error) {
	dp, err := f.Resolve(base, p)
	if err != nil {
		return nil, err
	}
	info, err := f.root.Stat(dp.Rel)
	if err != nil {
		return nil, f.ioError(dp, err)
	}
	if !info.IsDir() {
		return nil, apierr.New(apierr.InvalidRequest, "path is not a directory: %s", dp.Abs)
	}
	sub, err := f.root.OpenRoot(dp.Rel)
	if err != nil {
		return nil, f.ioError(dp, err)
	}
	w := &Watch{f: f, Dir: dp, sub: sub, ino: inode(info)}
	if w.state, err = w.scan(); err != nil {
		sub.Close()
		return nil, f.ioError(dp, err)
	}
	return w, nil
}

// Entries is how many entries the last snapshot held.
func (w *Watch) Entries() int { return len(w.state) }

// Close releases the directory.
func (w *Watch) Close() error { return w.sub.Close() }

// Poll takes a new snapshot and returns what changed since the last one,
// deletions first, then creations and modifications, each by path. When
// the directory itself is gone it returns the deletions and ErrWatchGone.
func (w *Watch) Poll() ([]Change, error) {
	gone := false
	if info, err := w.f.root.Stat(w.Dir.Rel); err != nil || !info.IsDir() || inode(info) != w.ino {
		gone = true
	}
	next := map[string]snapshot{}
	if !gone {
		var err error
		next, err = w.scan()
		switch {
		case errors.Is(err, fs.ErrNotExist): // removed after the Stat above
			gone, next = true, map[string]snapshot{}
		case err != nil:
			return nil, w.f.ioError(w.Dir, err)
		}
	}
	var deleted, other []Change
	for name, old := range w.state {
		now, ok := next[name]
		switch {
		case !ok:
			deleted = append(deleted, w.change(Deleted, name, old))
		case old.dir != now.dir:
			deleted = append(deleted, w.change(Deleted, name, old))
			other = append(other, w.change(Created, name, now))
		case !now.dir && (old.size != now.size || old.mtime != now.mtime || old.mode != now.mode || old.ino != now.ino):
			other = append(other, w.change(Modified, name, now))
		}
	}
	for name, now := range next {
		if _, ok := w.state[name]; !ok {
			other = append(other, w.change(Created, name, now))
		}
	}
	byPath := func(a, b Change) int { return strings.Compare(a.Path, b.Path) }
	slices.SortFunc(deleted, byPath)
	slices.SortFunc(other, byPath)
	w.state = next
	changes := append(deleted, other...)
	if gone {
		return changes, ErrWatchGone
	}
	return changes, nil
}

func (w *Watch) change(t ChangeType, name string, s snapshot) Change {
	et := TypeFile
	if s.dir {
		et = TypeDirectory
	}
	return Change{Type: t, Path: w.f.path(path.Join(w.Dir.Rel, name)).Abs, EntryType: et}
}

func (w *Watch) scan() (map[string]snapshot, error) {
	state := map[string]snapshot{}
	max := w.f.opts.MaxWatchEntries
	err := fs.WalkDir(w.sub.FS(), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			if name != "." && errors.Is(err, fs.ErrNotExist) {
				return nil // removed during the walk
			}
			return err
		}
		if name == "." {
			return nil
		}
		if strings.HasPrefix(d.Name(), tempPrefix) {
			return nil // our own write in progress: it shows as its final name once renamed
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		if len(state) >= max {
			return tooLarge("more than %d entries under the watched directory", max)
		}
		state[name] = snapshot{dir: info.IsDir(), size: info.Size(), mtime: info.ModTime().UnixNano(), mode: info.Mode(), ino: inode(info)}
		return nil
	})
	return state, err
}

func inode(info fs.FileInfo) uint64 {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}

// Interval is how often a watch should poll.
func (f *FS) WatchInterval() time.Duration { return f.opts.WatchInterval }

// Package workspace is agentd's view of the file system: every path a
// client names is resolved under one root directory and every operation
// goes through an os.Root anchored there, so neither "..", an absolute
// path elsewhere, a symlink pointing out nor an archive entry can reach
// outside it. Writes are atomic (a temporary file renamed into place) and
// uploads, writes, archives and watches are bounded by configurable caps.
package workspace

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/agentd-dev/agentd/internal/apierr"
)

// Defaults of Options; each is documented in the server's --help too.
const (
	DefaultMaxWriteBytes     int64 = 1 << 30 // 1 GiB per written file
	DefaultMaxUploadBytes    int64 = 1 << 30 // 1 GiB of extracted content per upload batch
	DefaultMaxUploadEntries        = 10_000  // entries per upload batch
	DefaultMaxArchiveBytes   int64 = 4 << 30 // 4 GiB of file content per archive download
	DefaultMaxArchiveEntries       = 100_000 // entries per archive download
	DefaultMaxWatchEntries         = 10_000  // entries under a watched directory
	DefaultWatchInterval           = 500 * time.Millisecond
	// MaxUploadPaths is how many extracted paths an upload reports (the
	// reference's limit); truncated says when there were more.
	MaxUploadPaths = 1024
)

// Options configure a workspace; zero values take the defaults above.
type Options struct {
	// Root is the directory every path is resolved in. It must exist.
	Root              string
	MaxWriteBytes     int64
	MaxUploadBytes    int64
	MaxUploadEntries  int
	MaxArchiveBytes   int64
	MaxArchiveEntries int
	MaxWatchEntries   int
	WatchInterval     time.Duration
}

func (o *Options) defaults() {
	if o.MaxWriteBytes <= 0 {
		o.MaxWriteBytes = DefaultMaxWriteBytes
	}
	if o.MaxUploadBytes <= 0 {
		o.MaxUploadBytes = DefaultMaxUploadBytes
	}
	if o.MaxUploadEntries <= 0 {
		o.MaxUploadEntries = DefaultMaxUploadEntries
	}
	if o.MaxArchiveBytes <= 0 {
		o.MaxArchiveBytes = DefaultMaxArchiveBytes
	}
	if o.MaxArchiveEntries <= 0 {
		o.MaxArchiveEntries = DefaultMaxArchiveEntries
	}
	if o.MaxWatchEntries <= 0 {
		o.MaxWatchEntries = DefaultMaxWatchEntries
	}
	if o.WatchInterval <= 0 {
		o.WatchInterval = DefaultWatchInterval
	}
}

// FS is the file system under one root.
type FS struct {
	root *os.Root
	// dir is the root as configured (absolute), real the same with
	// symlinks resolved; absolute paths under either are accepted.
	dir, real string
	opts      Options
	// escapes is os.Root's "path escapes from parent" error, which the
	// os package does not export; it is learnt from the root itself.
	escapes error
}

// New opens the workspace rooted at opts.Root.
func New(opts Options) (*FS, error) {
	opts.defaults()
	if opts.Root == "" {
		return nil, errors.New("workspace: no root directory")
	}
	dir, err := filepath.Abs(opts.Root)
	if err != nil {
		return nil, fmt.Errorf("workspace root: %w", err)
	}
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, fmt.Errorf("workspace root: %w", err)
	}
	root, err := os.OpenRoot(real)
	if err != nil {
		return nil, fmt.Errorf("workspace root: %w", err)
	}
	f := &FS{root: root, dir: dir, real: real, opts: opts}
	var pe *fs.PathError
	if _, err := root.Lstat(".."); errors.As(err, &pe) {
		f.escapes = pe.Err
	}
	return f, nil
}

// Close releases the root.
func (f *FS) Close() error { return f.root.Close() }

// Root is the root directory as configured, made absolute.
func (f *FS) Root() string { return f.dir }

// Options are the workspace's limits, defaults filled in.
func (f *FS) Options() Options { return f.opts }

// Path is a resolved path: Rel is relative to the root in slash form ("."
// for the root itself), Abs what responses report.
type Path struct {
	Rel, Abs string
}

func (f *FS) path(rel string) Path {
	if rel == "." {
		return Path{Rel: rel, Abs: f.dir}
	}
	return Path{Rel: rel, Abs: filepath.Join(f.dir, filepath.FromSlash(rel))}
}

// Base turns a directory relative paths are resolved against (a session's
// working directory) into a root-relative path. An empty dir is the root.
// It must lie inside the root.
func (f *FS) Base(dir string) (string, error) {
	if dir == "" {
		return ".", nil
	}
	p, err := f.Resolve(".", dir)
	if err != nil {
		return "", apierr.New(apierr.InvalidRequest, "working directory %s is not usable: %s", dir, strings.TrimPrefix(err.Error(), "invalid request: "))
	}
	return p.Rel, nil
}

// Resolve resolves p: an absolute path must lie inside the root; a
// relative one is taken relative to base (a root-relative directory from
// Base). ".." is refused anywhere, as are empty paths and NUL bytes.
// Resolve is lexical: symlinks are handled by os.Root when p is used.
func (f *FS) Resolve(base, p string) (Path, error) {
	if p == "" {
		return Path{}, apierr.New(apierr.InvalidRequest, "path is empty")
	}
	if strings.IndexByte(p, 0) >= 0 {
		return Path{}, apierr.New(apierr.InvalidRequest, "path contains a NUL byte")
	}
	slash := filepath.ToSlash(p)
	for _, c := range strings.Split(slash, "/") {
		if c == ".." {
			if filepath.IsAbs(p) {
				return Path{}, apierr.New(apierr.InvalidRequest, "path may not contain '..': %s", p)
			}
			return Path{}, apierr.New(apierr.InvalidRequest, "invalid relative path: %s", p)
		}
	}
	if filepath.IsAbs(p) {
		clean := filepath.Clean(p)
		for _, prefix := range []string{f.dir, f.real} {
			if clean == prefix {
				return f.path("."), nil
			}
			if rest, ok := strings.CutPrefix(clean, strings.TrimSuffix(prefix, string(filepath.Separator))+string(filepath.Separator)); ok {
				return f.path(filepath.ToSlash(rest)), nil
			}
		}
		return Path{}, apierr.New(apierr.InvalidRequest, "path %s is outside the root %s", p, f.dir)
	}
	return f.path(path.Join(base, path.Clean(slash))), nil
}

// ErrTooLarge marks errors that exceed a configured cap (HTTP 413).
var ErrTooLarge = errors.New("too large")

// LimitError says which cap was exceeded.
type LimitError struct{ Msg string }

func (e *LimitError) Error() string        { return e.Msg }
func (e *LimitError) Is(target error) bool { return target == ErrTooLarge }

func tooLarge(format string, args ...any) error {
	return &LimitError{Msg: fmt.Sprintf(format, args...)}
}

// ioError maps an error of an os.Root operation on p to a problem: a
// client error where the client can fix it, stream_error (as the
// reference) for the rest.
func (f *FS) ioError(p Path, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := apierr.As(err); ok || errors.Is(err, ErrTooLarge) {
		return err
	}
	switch {
	case f.escapes != nil && errors.Is(err, f.escapes):
		return apierr.New(apierr.InvalidRequest, "path escapes the root %s (through a symlink?): %s", f.dir, p.Abs)
	case errors.Is(err, fs.ErrNotExist):
		// The reference answers 400 here; kept for compatibility.
		return apierr.New(apierr.InvalidRequest, "path not found: %s", p.Abs)
	case errors.Is(err, syscall.ELOOP):
		return apierr.New(apierr.InvalidRequest, "too many levels of symbolic links: %s", p.Abs)
	case errors.Is(err, syscall.ENOTDIR):
		return apierr.New(apierr.InvalidRequest, "a component of the path is not a directory: %s", p.Abs)
	case errors.Is(err, syscall.ENOTEMPTY), errors.Is(err, syscall.EEXIST) && isRemove(err):
		return apierr.New(apierr.InvalidRequest, "directory not empty: %s", p.Abs)
	case errors.Is(err, fs.ErrExist):
		return apierr.New(apierr.InvalidRequest, "path already exists: %s", p.Abs)
	case errors.Is(err, syscall.EISDIR):
		return apierr.New(apierr.InvalidRequest, "path is a directory: %s", p.Abs)
	case errors.Is(err, syscall.EINVAL):
		return apierr.New(apierr.InvalidRequest, "invalid operation on %s: %v", p.Abs, unwrapPath(err))
	case errors.Is(err, fs.ErrPermission):
		e := apierr.New(apierr.PermissionDenied, "")
		e.Details = map[string]any{"message": fmt.Sprintf("%s: %v", p.Abs, unwrapPath(err))}
		return e
	}
	e := apierr.New(apierr.StreamError, "%s: %v", p.Abs, unwrapPath(err))
	e.Details = map[string]any{"message": unwrapPath(err).Error()}
	return e
}

func isRemove(err error) bool {
	var pe *fs.PathError
	return errors.As(err, &pe) && strings.HasPrefix(pe.Op, "remove")
}

// unwrapPath drops the PathError's own (root-relative) path.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}

// parent is a root-relative path's directory.
func parent(rel string) string { return path.Dir(rel) }

package workspace

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/agentd-dev/agentd/internal/apierr"
)

// EntryType is "file" or "directory", the reference's two kinds.
type EntryType string

const (
	TypeFile      EntryType = "file"
	TypeDirectory EntryType = "directory"
)

// EntryTypes lists the values in the reference's order.
var EntryTypes = []EntryType{TypeFile, TypeDirectory}

// Entry describes one file or directory.
type Entry struct {
	Name     string
	Path     string // absolute
	Type     EntryType
	Size     uint64
	Modified time.Time // zero when unknown
	Symlink  bool
}

func entryOf(name, abs string, info fs.FileInfo) Entry {
	e := Entry{Name: name, Path: abs, Type: TypeFile, Modified: info.ModTime(), Symlink: info.Mode()&fs.ModeSymlink != 0}
	if info.IsDir() {
		e.Type = TypeDirectory
	}
	if info.Size() > 0 {
		e.Size = uint64(info.Size())
	}
	return e
}

// FormatModified renders a modification time as the reference does:
// RFC 3339 in UTC with a "+00:00" offset and only the fraction needed.
func FormatModified(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.999999999") + "+00:00"
}

// List returns the children of the directory p, sorted by name. Symlinks
// are described by their own metadata (a symlink is a "file" with Symlink
// set), as in the reference.
func (f *FS) List(base, p string) ([]Entry, error) {
	dp, err := f.Resolve(base, p)
	if err != nil {
		return nil, err
	}
	dir, err := f.root.Open(dp.Rel)
	if err != nil {
		return nil, f.ioError(dp, err)
	}
	defer dir.Close()
	st, err := dir.Stat()
	if err != nil {
		return nil, f.ioError(dp, err)
	}
	if !st.IsDir() {
		return nil, apierr.New(apierr.InvalidRequest, "path is not a directory: %s", dp.Abs)
	}
	var out []Entry
	for {
		ents, err := dir.ReadDir(1024)
		for _, de := range ents {
			info, err := de.Info()
			if err != nil {
				continue // removed meanwhile
			}
			out = append(out, entryOf(de.Name(), f.path(path.Join(dp.Rel, de.Name())).Abs, info))
		}
		if errors.Is(err, io.EOF) || (err == nil && len(ents) == 0) {
			break
		}
		if err != nil {
			return nil, f.ioError(dp, err)
		}
	}
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Stat describes p, following symlinks (inside the root only).
func (f *FS) Stat(base, p string) (Entry, error) {
	rp, err := f.Resolve(base, p)
	if err != nil {
		return Entry{}, err
	}
	info, err := f.root.Stat(rp.Rel)
	if err != nil {
		return Entry{}, f.ioError(rp, err)
	}
	return entryOf(path.Base(rp.Abs), rp.Abs, info), nil
}

// Open opens the regular file p for reading; the caller closes it.
func (f *FS) Open(base, p string) (*os.File, fs.FileInfo, Path, error) {
	rp, err := f.Resolve(base, p)
	if err != nil {
		return nil, nil, rp, err
	}
	file, err := f.root.Open(rp.Rel)
	if err != nil {
		return nil, nil, rp, f.ioError(rp, err)
	}
	info, err := file.Stat()
	if err != nil {
		file.Close()
		return nil, nil, rp, f.ioError(rp, err)
	}
	if !info.Mode().IsRegular() {
		file.Close()
		return nil, nil, rp, apierr.New(apierr.InvalidRequest, "path is not a file: %s", rp.Abs)
	}
	return file, info, rp, nil
}

// Write replaces the file p with the content of r, creating missing parent
// directories. The content goes to a temporary file next to p that is
// renamed over p once complete, so readers see the old file or the new
// one, never a part; a failed or oversized write leaves nothing behind.
// size is the announced length (-1 when unknown), checked before reading.
func (f *FS) Write(base, p string, r io.Reader, size int64) (Path, int64, error) {
	rp, err := f.Resolve(base, p)
	if err != nil {
		return rp, 0, err
	}
	if rp.Rel == "." {
		return rp, 0, apierr.New(apierr.InvalidRequest, "path is a directory: %s", rp.Abs)
	}
	max := f.opts.MaxWriteBytes
	if size > max {
		return rp, 0, tooLarge("file of %d bytes is over the %d-byte limit", size, max)
	}
	n, err := f.writeAtomic(rp, r, max, 0o644, nil)
	if rf, ok := err.(*readFailure); ok {
		return rp, n, apierr.New(apierr.InvalidRequest, "reading the request body: %v", rf.err)
	}
	return rp, n, err
}

// writeAtomic writes r (at most max bytes) to rp through a temporary file.
// A new file gets perm; an existing one keeps its mode.
// made, when not nil, remembers the directories already created.
func (f *FS) writeAtomic(rp Path, r io.Reader, max int64, perm fs.FileMode, made map[string]bool) (int64, error) {
	rp, err := f.followLinks(rp)
	if err != nil {
		return 0, err
	}
	dir := parent(rp.Rel)
	if !made[dir] {
		if err := f.root.MkdirAll(dir, 0o755); err != nil {
			return 0, f.ioError(f.path(dir), err)
		}
		if made != nil {
			made[dir] = true
		}
	}
	if info, err := f.root.Lstat(rp.Rel); err == nil {
		if info.IsDir() {
			return 0, apierr.New(apierr.InvalidRequest, "path is a directory: %s", rp.Abs)
		}
		if info.Mode().IsRegular() {
			perm = info.Mode().Perm()
		}
	}
	tmpRel, tmp, err := f.createTemp(dir, perm)
	if err != nil {
		return 0, f.ioError(rp, err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			_ = f.root.Remove(tmpRel)
		}
	}()
	src := &sourceReader{r: io.LimitReader(r, max+1)}
	buf := copyBuffers.Get().(*[]byte)
	// Without ReadFrom, which for a request body would copy through 32 KiB.
	n, err := io.CopyBuffer(struct{ io.Writer }{tmp}, src, *buf)
	copyBuffers.Put(buf)
	if src.err != nil {
		if errors.Is(src.err, ErrTooLarge) {
			return n, src.err
		}
		return n, &readFailure{src.err}
	}
	if err != nil {
		return n, f.ioError(rp, err)
	}
	if n > max {
		return n, tooLarge("file is over the %d-byte limit", max)
	}
	if err := tmp.Chmod(perm); err != nil {
		return n, f.ioError(rp, err)
	}
	// No fsync: the rename makes the write atomic for every reader and for
	// a crash of agentd; only a crash of the machine could lose it, which
	// cp does not guard against either, and flushing would cost a disk
	// round trip per file in a sandbox that is thrown away.
	if err := tmp.Close(); err != nil {
		return n, f.ioError(rp, err)
	}
	done = true
	if err := f.root.Rename(tmpRel, rp.Rel); err != nil {
		_ = f.root.Remove(tmpRel)
		return n, f.ioError(rp, err)
	}
	return n, nil
}

// copyBuffers hold the buffers writes copy through. A request body is
// read from the socket: 1 MiB reads take what the loopback or network
// has buffered in one call where io.Copy's 32 KiB took dozens (figures in
// bench/README.md).
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

// followLinks resolves a chain of symlinks in the last component of rp, so
// that a write through a link replaces the file it points at (the
// reference writes through links too) rather than the link. A link that
// leads out of the root is refused. Links in earlier components are left
// to os.Root, which follows them only inside the root.
func (f *FS) followLinks(rp Path) (Path, error) {
	for range 40 {
		info, err := f.root.Lstat(rp.Rel)
		if err != nil || info.Mode()&fs.ModeSymlink == 0 {
			return rp, nil // not a link (or missing: the write creates it)
		}
		target, err := f.root.Readlink(rp.Rel)
		if err != nil {
			return rp, f.ioError(rp, err)
		}
		escape := apierr.New(apierr.InvalidRequest, "path escapes the root %s (through a symlink?): %s", f.dir, rp.Abs)
		if filepath.IsAbs(target) {
			next, err := f.Resolve(".", target)
			if err != nil {
				return rp, escape
			}
			rp = next
			continue
		}
		joined := path.Join(parent(rp.Rel), filepath.ToSlash(target))
		if joined == ".." || strings.HasPrefix(joined, "../") {
			return rp, escape
		}
		rp = f.path(joined)
	}
	return rp, apierr.New(apierr.InvalidRequest, "too many levels of symbolic links: %s", rp.Abs)
}

// tempPrefix starts the names of files being written; a crash may leave
// one behind, never a half-written file under the real name.
const tempPrefix = ".agentd-tmp-"

func (f *FS) createTemp(dir string, perm fs.FileMode) (string, *os.File, error) {
	for range 16 {
		var b [8]byte
		_, _ = rand.Read(b[:])
		rel := path.Join(dir, tempPrefix+hex.EncodeToString(b[:]))
		file, err := f.root.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm&0o777|0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return rel, file, err
	}
	return "", nil, errors.New("no free temporary file name")
}

// Delete removes the file p, or the directory p: only when empty unless
// recursive. The root itself cannot be deleted.
func (f *FS) Delete(base, p string, recursive bool) (Path, error) {
	rp, err := f.Resolve(base, p)
	if err != nil {
		return rp, err
	}
	if rp.Rel == "." {
		return rp, apierr.New(apierr.InvalidRequest, "refusing to delete the root directory %s", rp.Abs)
	}
	info, err := f.root.Lstat(rp.Rel)
	if err != nil {
		return rp, f.ioError(rp, err)
	}
	if info.IsDir() && recursive {
		return rp, f.ioError(rp, f.root.RemoveAll(rp.Rel))
	}
	err = f.root.Remove(rp.Rel)
	if info.IsDir() && (errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST)) {
		return rp, apierr.New(apierr.InvalidRequest, "directory not empty: %s (pass recursive=true)", rp.Abs)
	}
	return rp, f.ioError(rp, err)
}

// Mkdir creates the directory p and its parents; an existing directory
// is fine.
func (f *FS) Mkdir(base, p string) (Path, error) {
	rp, err := f.Resolve(base, p)
	if err != nil {
		return rp, err
	}
	if err := f.root.MkdirAll(rp.Rel, 0o755); err != nil {
		if info, serr := f.root.Lstat(rp.Rel); serr == nil && !info.IsDir() {
			return rp, apierr.New(apierr.InvalidRequest, "path exists and is not a directory: %s", rp.Abs)
		}
		return rp, f.ioError(rp, err)
	}
	return rp, nil
}

// Move renames from to to, creating to's parents. An existing to is an
// error unless overwrite, which removes it first (recursively).
func (f *FS) Move(base, from, to string, overwrite bool) (Path, Path, error) {
	src, err := f.Resolve(base, from)
	if err != nil {
		return src, Path{}, err
	}
	dst, err := f.Resolve(base, to)
	if err != nil {
		return src, dst, err
	}
	switch {
	case src.Rel == "." || dst.Rel == ".":
		return src, dst, apierr.New(apierr.InvalidRequest, "cannot move the root directory")
	case src.Rel == dst.Rel:
		return src, dst, apierr.New(apierr.InvalidRequest, "source and destination are the same: %s", src.Abs)
	case strings.HasPrefix(dst.Rel, src.Rel+"/"):
		return src, dst, apierr.New(apierr.InvalidRequest, "cannot move %s into itself", src.Abs)
	}
	if _, err := f.root.Lstat(src.Rel); err != nil {
		return src, dst, f.ioError(src, err)
	}
	if _, err := f.root.Lstat(dst.Rel); err == nil {
		if !overwrite {
			return src, dst, apierr.New(apierr.InvalidRequest, "destination already exists: %s", dst.Abs)
		}
		if err := f.root.RemoveAll(dst.Rel); err != nil {
			return src, dst, f.ioError(dst, err)
		}
	}
	if err := f.root.MkdirAll(parent(dst.Rel), 0o755); err != nil {
		return src, dst, f.ioError(f.path(parent(dst.Rel)), err)
	}
	if err := f.root.Rename(src.Rel, dst.Rel); err != nil {
		return src, dst, f.ioError(src, err)
	}
	return src, dst, nil
}

// sourceReader remembers a read error, to tell a broken upload (the
// client's fault) from a failed write (ours).
type sourceReader struct {
	r   io.Reader
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		s.err = err
	}
	return n, err
}

// readFailure is a failure to read the content being written.
type readFailure struct{ err error }

func (r *readFailure) Error() string { return r.err.Error() }

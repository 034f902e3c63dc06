package workspace

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"path"
	"strings"

	"github.com/agentd-dev/agentd/internal/apierr"
)

// UploadContentTypes are the media types Upload accepts: the reference's
// uncompressed tar, and (additive) gzip-compressed tar.
var UploadContentTypes = []string{"application/x-tar", "application/gzip", "application/x-gzip", "application/x-compressed-tar", "application/x-gtar"}

// UploadResult lists what an upload extracted.
type UploadResult struct {
	Paths     []string // absolute, directories included, at most MaxUploadPaths
	Truncated bool     // more entries were extracted than Paths holds
}

// Upload extracts a tar archive (gzip-compressed or not, told by its magic
// bytes) into the directory p, creating it. Entry by entry:
//
//   - names are relative paths below p: absolute names and ".." are
//     refused, "." is skipped;
//   - regular files are written atomically (see Write) with their
//     permission bits, set-id bits dropped;
//   - symlinks must be relative and point inside the root, hard links must
//     name another entry of the archive; device, fifo and unknown entries
//     are refused;
//   - the entry count and the total extracted size are capped (413).
//
// Entries extracted before a refused one stay, as in the reference; no
// file is ever left half written.
func (f *FS) Upload(base, p, contentType string, body io.Reader) (UploadResult, error) {
	var res UploadResult
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil || !accepted(mt) {
		return res, apierr.New(apierr.InvalidRequest, "content-type must be application/x-tar (or application/gzip for a tar.gz), got %q", contentType)
	}
	dest, err := f.Resolve(base, p)
	if err != nil {
		return res, err
	}
	if err := f.root.MkdirAll(dest.Rel, 0o755); err != nil {
		return res, f.ioError(dest, err)
	}
	br := bufio.NewReader(body)
	var in io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return res, apierr.New(apierr.InvalidRequest, "invalid gzip stream: %v", err)
		}
		defer zr.Close()
		in = zr
	}
	// Headers and padding are bounded too, whatever the compression ratio:
	// a tar of n entries needs at most a few blocks per entry over the
	// content (archive/tar caps PAX and long-name records at 1 MiB).
	budget := f.opts.MaxUploadBytes + int64(f.opts.MaxUploadEntries+2)*4096 + 4<<20
	lim := &limitReader{r: in, left: budget}
	tr := tar.NewReader(lim)
	var total int64
	entries := 0
	made := map[string]bool{}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return res, nil
		}
		if err != nil {
			if lim.hit {
				return res, tooLarge("archive stream is over the %d-byte limit", budget)
			}
			return res, apierr.New(apierr.InvalidRequest, "invalid tar archive: %v", err)
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		name, skip, err := entryName(hdr.Name)
		if err != nil {
			return res, err
		}
		if skip {
			continue
		}
		if entries++; entries > f.opts.MaxUploadEntries {
			return res, tooLarge("archive has more than %d entries", f.opts.MaxUploadEntries)
		}
		target := f.path(path.Join(dest.Rel, name))
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := f.root.MkdirAll(target.Rel, 0o755); err != nil {
				return res, f.ioError(target, err)
			}
		case tar.TypeReg, tar.TypeGNUSparse:
			if hdr.Size < 0 || total+hdr.Size > f.opts.MaxUploadBytes {
				return res, tooLarge("archive content is over the %d-byte limit (entry %s)", f.opts.MaxUploadBytes, hdr.Name)
			}
			// A symlink in the way is replaced, not written through.
			if info, err := f.root.Lstat(target.Rel); err == nil && info.Mode()&fs.ModeSymlink != 0 {
				if err := f.root.Remove(target.Rel); err != nil {
					return res, f.ioError(target, err)
				}
			}
			n, err := f.writeAtomic(target, tr, hdr.Size, fs.FileMode(hdr.Mode).Perm(), made)
			total += n
			if err != nil {
				if lim.hit {
					return res, tooLarge("archive stream is over the %d-byte limit", budget)
				}
				if rf, ok := err.(*readFailure); ok {
					return res, apierr.New(apierr.InvalidRequest, "invalid tar archive: entry %s: %v", hdr.Name, rf.err)
				}
				return res, err
			}
		case tar.TypeSymlink:
			if err := f.extractSymlink(dest.Rel, name, hdr.Linkname, target); err != nil {
				return res, err
			}
		case tar.TypeLink:
			if err := f.extractLink(dest.Rel, hdr.Linkname, target); err != nil {
				return res, err
			}
		case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
			return res, apierr.New(apierr.InvalidRequest, "refusing device or fifo entry %s", hdr.Name)
		default:
			return res, apierr.New(apierr.InvalidRequest, "unsupported tar entry type %q: %s", hdr.Typeflag, hdr.Name)
		}
		if !hdr.ModTime.IsZero() && hdr.Typeflag != tar.TypeSymlink && hdr.Typeflag != tar.TypeLink {
			_ = f.root.Chtimes(target.Rel, hdr.ModTime, hdr.ModTime)
		}
		if len(res.Paths) < MaxUploadPaths {
			res.Paths = append(res.Paths, target.Abs)
		} else {
			res.Truncated = true
		}
	}
}

func accepted(mt string) bool {
	for _, t := range UploadContentTypes {
		if mt == t {
			return true
		}
	}
	return false
}

// entryName normalises an archive member name like a relative path.
func entryName(name string) (string, bool, error) {
	if strings.IndexByte(name, 0) >= 0 {
		return "", false, apierr.New(apierr.InvalidRequest, "invalid relative path: %q", name)
	}
	if strings.HasPrefix(name, "/") || strings.Contains(name, "\\") && strings.HasPrefix(name, "\\") {
		return "", false, apierr.New(apierr.InvalidRequest, "invalid relative path: %s", name)
	}
	var parts []string
	for _, c := range strings.Split(name, "/") {
		switch c {
		case "", ".":
		case "..":
			return "", false, apierr.New(apierr.InvalidRequest, "invalid relative path: %s", name)
		default:
			parts = append(parts, c)
		}
	}
	if len(parts) == 0 {
		return "", true, nil
	}
	return strings.Join(parts, "/"), false, nil
}

// extractSymlink creates a symlink whose target, taken relative to the
// link's directory, stays inside the root.
func (f *FS) extractSymlink(dest, name, linkname string, target Path) error {
	if linkname == "" || strings.HasPrefix(linkname, "/") || strings.IndexByte(linkname, 0) >= 0 {
		return apierr.New(apierr.InvalidRequest, "symlink %s points outside the root: %q (only relative targets inside the root are allowed)", name, linkname)
	}
	resolved := path.Join(parent(target.Rel), linkname)
	if resolved == ".." || strings.HasPrefix(resolved, "../") {
		return apierr.New(apierr.InvalidRequest, "symlink %s points outside the root: %s", name, linkname)
	}
	if err := f.replaceable(target); err != nil {
		return err
	}
	if err := f.root.MkdirAll(parent(target.Rel), 0o755); err != nil {
		return f.ioError(target, err)
	}
	return f.ioError(target, f.root.Symlink(linkname, target.Rel))
}

// extractLink creates a hard link to an earlier entry of the archive.
func (f *FS) extractLink(dest, linkname string, target Path) error {
	old, skip, err := entryName(linkname)
	if err != nil || skip {
		return apierr.New(apierr.InvalidRequest, "hard link %s escapes the destination: %q", target.Abs, linkname)
	}
	oldPath := f.path(path.Join(dest, old))
	info, err := f.root.Lstat(oldPath.Rel)
	if err != nil {
		return apierr.New(apierr.InvalidRequest, "hard link %s: target %s is not in the archive", target.Abs, linkname)
	}
	if !info.Mode().IsRegular() {
		return apierr.New(apierr.InvalidRequest, "hard link %s: target %s is not a regular file", target.Abs, linkname)
	}
	if err := f.replaceable(target); err != nil {
		return err
	}
	if err := f.root.MkdirAll(parent(target.Rel), 0o755); err != nil {
		return f.ioError(target, err)
	}
	return f.ioError(target, f.root.Link(oldPath.Rel, target.Rel))
}

// replaceable removes a file or symlink in the way of a new entry, as tar
// does; a directory in the way is an error.
func (f *FS) replaceable(target Path) error {
	info, err := f.root.Lstat(target.Rel)
	if err != nil {
		return nil
	}
	if info.IsDir() {
		return apierr.New(apierr.InvalidRequest, "path is a directory: %s", target.Abs)
	}
	return f.ioError(target, f.root.Remove(target.Rel))
}

// limitReader reads at most left bytes and records whether it hit the end.
type limitReader struct {
	r    io.Reader
	left int64
	hit  bool
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		l.hit = true
		return 0, fmt.Errorf("upload stream limit: %w", ErrTooLarge)
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

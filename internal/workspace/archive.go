package workspace

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"

	"github.com/agentd-dev/agentd/internal/apierr"
)

// ArchiveFormat is how a directory download is packed.
type ArchiveFormat string

const (
	FormatTarGz ArchiveFormat = "tar.gz"
	FormatZip   ArchiveFormat = "zip"
)

// ArchiveFormats lists the formats, the default first.
var ArchiveFormats = []ArchiveFormat{FormatTarGz, FormatZip}

// Archive is a directory ready to be streamed as an archive: it was
// measured against the caps when prepared, so that an oversized request
// fails before any byte is sent.
type Archive struct {
	Dir     Path
	Format  ArchiveFormat
	Entries int
	Bytes   int64 // total size of the regular files
	sub     *os.Root
}

// ContentType is the archive's media type.
func (a *Archive) ContentType() string {
	if a.Format == FormatZip {
		return "application/zip"
	}
	return "application/gzip"
}

// Filename is a name for the download: the directory's name and the
// format's extension.
func (a *Archive) Filename() string {
	name := path.Base(a.Dir.Abs)
	if name == "/" || name == "." || name == "" {
		name = "root"
	}
	return name + "." + string(a.Format)
}

// Close releases the archive's directory handle.
func (a *Archive) Close() error { return a.sub.Close() }

// PrepareArchive opens the directory p and measures what an archive of it
// holds: regular files, directories and symlinks (stored as links, never
// followed); sockets and devices are skipped. Over the entry or byte cap
// it fails with a LimitError.
func (f *FS) PrepareArchive(base, p string, format ArchiveFormat) (*Archive, error) {
	if format == "" {
		format = FormatTarGz
	}
	if format != FormatTarGz && format != FormatZip {
		return nil, apierr.New(apierr.InvalidRequest, "unknown archive format %q (tar.gz or zip)", format)
	}
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
	a := &Archive{Dir: dp, Format: format, sub: sub}
	err = fs.WalkDir(sub.FS(), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if name == "." || !archivable(d.Type()) {
			return nil
		}
		if a.Entries++; a.Entries > f.opts.MaxArchiveEntries {
			return tooLarge("directory has more than %d entries", f.opts.MaxArchiveEntries)
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return nil // removed meanwhile
			}
			if a.Bytes += info.Size(); a.Bytes > f.opts.MaxArchiveBytes {
				return tooLarge("directory holds more than %d bytes", f.opts.MaxArchiveBytes)
			}
		}
		return nil
	})
	if err != nil {
		sub.Close()
		return nil, f.ioError(dp, err)
	}
	return a, nil
}

func archivable(t fs.FileMode) bool {
	return t.IsRegular() || t.IsDir() || t&fs.ModeSymlink != 0
}

// WriteTo streams the archive. An error after the first byte leaves the
// receiver with a truncated archive, which both formats detect.
func (a *Archive) WriteTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: w}
	var err error
	if a.Format == FormatZip {
		err = a.writeZip(cw)
	} else {
		err = a.writeTarGz(cw)
	}
	return cw.n, err
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// walk calls fn for every archivable entry below the directory, in
// lexical order, with its lstat info and (for symlinks) target.
func (a *Archive) walk(fn func(name string, info fs.FileInfo, link string) error) error {
	return fs.WalkDir(a.sub.FS(), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if name == "." || !archivable(d.Type()) {
			return nil
		}
		info, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		var link string
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = a.sub.Readlink(name); err != nil {
				return err
			}
		}
		return fn(name, info, link)
	})
}

func (a *Archive) writeTarGz(w io.Writer) error {
	zw := gzip.NewWriter(w)
	tw := tar.NewWriter(zw)
	err := a.walk(func(name string, info fs.FileInfo, link string) error {
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		hdr.Name = name
		if info.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uname, hdr.Gname = "", ""
		if !info.Mode().IsRegular() {
			return tw.WriteHeader(hdr)
		}
		file, err := a.sub.Open(name)
		if err != nil {
			return err
		}
		defer file.Close()
		// The size now, not at the walk: the file may have changed.
		st, err := file.Stat()
		if err != nil {
			return err
		}
		hdr.Size = st.Size()
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := io.CopyN(tw, file, hdr.Size); err != nil {
			return fmt.Errorf("%s changed while being archived: %w", name, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return zw.Close()
}

func (a *Archive) writeZip(w io.Writer) error {
	zw := zip.NewWriter(w)
	err := a.walk(func(name string, info fs.FileInfo, link string) error {
		hdr, err := zip.FileInfoHeader(info)
		if err != nil {
			return err
		}
		hdr.Name = name
		switch {
		case info.IsDir():
			hdr.Name += "/"
			hdr.Method = zip.Store
		case link != "":
			hdr.Method = zip.Store
		default:
			hdr.Method = zip.Deflate
		}
		out, err := zw.CreateHeader(hdr)
		if err != nil {
			return err
		}
		switch {
		case info.IsDir():
			return nil
		case link != "":
			_, err := io.WriteString(out, link)
			return err
		}
		file, err := a.sub.Open(name)
		if err != nil {
			return err
		}
		defer file.Close()
		st, err := file.Stat()
		if err != nil {
			return err
		}
		if _, err := io.CopyN(out, file, st.Size()); err != nil {
			return fmt.Errorf("%s changed while being archived: %w", name, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return zw.Close()
}

package install

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// extractLimits bounds what one package may unpack to.
type extractLimits struct {
	MaxBytes   int64 // sum of regular files' sizes
	MaxEntries int   // tar headers, whatever their type
	Sync       bool  // fsync each file before closing it
}

// extractTarGz unpacks an npm package tarball (gzip over tar) into root.
// See extractTar for the rules.
func extractTarGz(r io.Reader, root *os.Root, lim extractLimits) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return newErr(ErrBadPackage, "", "", fmt.Errorf("tarball is not gzip: %w", err))
	}
	defer zr.Close()
	return extractTar(zr, root, lim)
}

// extractTar unpacks a tar stream into root, dropping the first path
// component of every entry ("package/" in npm tarballs) as npm does.
//
// Refused, with an ErrUnsafeArchive error naming the entry: absolute names,
// names with a ".." component, entries whose parent path passes through a
// symlink, symlinks with an absolute target or one that resolves outside
// root, hard links, devices, fifos and unknown entry types; a name that
// exists already (duplicate entries). Over MaxEntries headers or MaxBytes
// of file data: ErrTooLarge. Regular files keep the executable bit (mode
// 0755, else 0644); owners, times and setuid bits are not restored.
//
// Everything goes through root (os.Root), so even a mistake in these checks
// cannot write outside it. On error, root is left partly filled: the caller
// removes it.
func extractTar(r io.Reader, root *os.Root, lim extractLimits) error {
	tr := tar.NewReader(r)
	var entries int
	var total int64
	realDirs := map[string]bool{} // parents already seen to be real directories
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return newErr(ErrBadPackage, "", "", fmt.Errorf("reading tarball: %w", err))
		}
		entries++
		if entries > lim.MaxEntries {
			return newErr(ErrTooLarge, "", "", fmt.Errorf("tarball has over %d entries", lim.MaxEntries))
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		name, err := entryPath(hdr.Name)
		if err != nil {
			return unsafeEntry(hdr.Name, err.Error())
		}
		if name == "" {
			continue // the top directory itself, or a file beside it
		}
		if err := checkParents(root, name, realDirs); err != nil {
			return unsafeEntry(hdr.Name, err.Error())
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := root.MkdirAll(name, 0o755); err != nil {
				return unsafeEntry(hdr.Name, err.Error())
			}
		case tar.TypeReg:
			if hdr.Size < 0 || hdr.Size > lim.MaxBytes-total {
				return newErr(ErrTooLarge, "", "", fmt.Errorf("unpacked files exceed the cap of %d bytes (at %q)", lim.MaxBytes, hdr.Name))
			}
			n, err := writeFile(root, name, tr, hdr.Mode, lim.Sync)
			total += n
			if err != nil {
				if errors.Is(err, fs.ErrExist) {
					return unsafeEntry(hdr.Name, "duplicate entry")
				}
				var e *Error
				if errors.As(err, &e) {
					return e
				}
				return newErr(ErrFilesystem, "", "", fmt.Errorf("writing %q: %w", name, err))
			}
		case tar.TypeSymlink:
			if err := checkLinkTarget(name, hdr.Linkname); err != nil {
				return unsafeEntry(hdr.Name, err.Error())
			}
			if err := mkParent(root, name); err != nil {
				return unsafeEntry(hdr.Name, err.Error())
			}
			if err := root.Symlink(hdr.Linkname, name); err != nil {
				if errors.Is(err, fs.ErrExist) {
					return unsafeEntry(hdr.Name, "duplicate entry")
				}
				return newErr(ErrFilesystem, "", "", fmt.Errorf("symlink %q: %w", name, err))
			}
		case tar.TypeLink:
			return unsafeEntry(hdr.Name, fmt.Sprintf("hard link to %q is not allowed", hdr.Linkname))
		case tar.TypeChar, tar.TypeBlock:
			return unsafeEntry(hdr.Name, "device files are not allowed")
		case tar.TypeFifo:
			return unsafeEntry(hdr.Name, "fifos are not allowed")
		default:
			return unsafeEntry(hdr.Name, fmt.Sprintf("entry type %q is not allowed", hdr.Typeflag))
		}
	}
	return checkSymlinks(root)
}

func unsafeEntry(name, why string) error {
	if len(name) > 200 {
		name = name[:200] + "…"
	}
	return newErr(ErrUnsafeArchive, "", "", fmt.Errorf("entry %q: %s", name, why))
}

// Bounds on entry names. os.Root resolves a name component by component,
// so without them one deeply nested name (PAX headers allow ~1 MB) costs
// time quadratic in its depth, and an unremovable-in-practice tree.
const (
	maxNameLen   = 4096
	maxNameDepth = 64
)

// entryPath turns a tar name into a slash path relative to the package root,
// "" for entries to skip.
func entryPath(raw string) (string, error) {
	if raw == "" {
		return "", errors.New("empty name")
	}
	if len(raw) > maxNameLen {
		return "", fmt.Errorf("name longer than %d bytes", maxNameLen)
	}
	if strings.HasPrefix(raw, "/") {
		return "", errors.New("absolute path")
	}
	var parts []string
	for c := range strings.SplitSeq(raw, "/") {
		switch c {
		case "..":
			return "", errors.New(`".." in path`)
		case "", ".":
			continue
		}
		parts = append(parts, c)
	}
	if len(parts) > maxNameDepth+1 {
		return "", fmt.Errorf("path deeper than %d directories", maxNameDepth)
	}
	if len(parts) < 2 {
		return "", nil
	}
	rest := strings.Join(parts[1:], "/")
	if !filepath.IsLocal(filepath.FromSlash(rest)) || strings.ContainsRune(rest, 0) {
		return "", errors.New("path leaves the package")
	}
	return rest, nil
}

// checkParents refuses a name one of whose parent directories is a symlink
// (or not a directory): entries are written into real directories only, so a
// link's own location is what its path says. A directory once seen stays
// one (nothing is ever removed or replaced during extraction), so known is
// a cache of verified prefixes.
func checkParents(root *os.Root, name string, known map[string]bool) error {
	dir := path.Dir(name)
	if dir == "." {
		return nil
	}
	p := ""
	for c := range strings.SplitSeq(dir, "/") {
		p = path.Join(p, c)
		if known[p] {
			continue
		}
		fi, err := root.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil // the rest will be created as directories
		}
		if err != nil {
			return err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("parent %q is a symlink", p)
		}
		if !fi.IsDir() {
			return fmt.Errorf("parent %q is not a directory", p)
		}
		known[p] = true
	}
	return nil
}

// checkLinkTarget refuses symlink targets that are empty, absolute, or
// lexically outside the package when resolved from the link's directory.
// checkSymlinks later resolves the finished tree for real.
func checkLinkTarget(name, target string) error {
	switch {
	case target == "" || strings.ContainsRune(target, 0):
		return errors.New("symlink with an empty or invalid target")
	case strings.HasPrefix(target, "/"):
		return fmt.Errorf("symlink to absolute path %q", target)
	case len(target) > maxNameLen || strings.Count(target, "/") >= 2*maxNameDepth:
		return errors.New("symlink target too long")
	}
	if !isInside(path.Join(path.Dir(name), target)) {
		return fmt.Errorf("symlink to %q leaves the package", target)
	}
	return nil
}

func isInside(p string) bool {
	p = path.Clean(p)
	return p != ".." && !strings.HasPrefix(p, "../") && !strings.HasPrefix(p, "/")
}

func mkParent(root *os.Root, name string) error {
	if dir := path.Dir(name); dir != "." {
		return root.MkdirAll(dir, 0o755)
	}
	return nil
}

func writeFile(root *os.Root, name string, r io.Reader, mode int64, sync bool) (int64, error) {
	if err := mkParent(root, name); err != nil {
		return 0, err
	}
	perm := os.FileMode(0o644)
	if mode&0o111 != 0 {
		perm = 0o755
	}
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(f, r)
	if err != nil {
		f.Close()
		return n, newErr(ErrBadPackage, "", "", fmt.Errorf("reading tarball at %q: %w", name, err))
	}
	if sync {
		if err := f.Sync(); err != nil {
			f.Close()
			return n, err
		}
	}
	return n, f.Close()
}

// checkSymlinks resolves every symlink of the extracted tree component by
// component, following links as the kernel would, and refuses the package
// if one leads outside root (e.g. through a chain of links each harmless by
// itself), loops, or goes absurdly deep.
func checkSymlinks(root *os.Root) error {
	cache := map[string]lstatResult{}
	return fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return newErr(ErrFilesystem, "", "", err)
		}
		if d.Type()&fs.ModeSymlink == 0 {
			return nil
		}
		if err := resolveInside(root, p, cache); err != nil {
			return unsafeEntry(p, err.Error())
		}
		return nil
	})
}

// lstatResult caches what resolveInside learnt of a path: the tree does not
// change while it is checked.
type lstatResult struct {
	link   bool
	target string
	err    error
}

func resolveInside(root *os.Root, name string, cache map[string]lstatResult) error {
	var stack []string
	pending := strings.Split(name, "/")
	links := 0
	for len(pending) > 0 {
		c := pending[0]
		pending = pending[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(stack) == 0 {
				return errors.New("symlink resolves outside the package")
			}
			stack = stack[:len(stack)-1]
			continue
		}
		if len(stack) >= 2*maxNameDepth {
			return errors.New("symlink resolves too deep")
		}
		cand := path.Join(append(stack, c)...)
		r, ok := cache[cand]
		if !ok {
			fi, err := root.Lstat(cand)
			switch {
			case err != nil:
				r.err = err
			case fi.Mode()&fs.ModeSymlink != 0:
				r.link = true
				r.target, r.err = root.Readlink(cand)
			}
			cache[cand] = r
		}
		if !r.link {
			// A directory, a file, or a missing component (which cannot
			// be a link): go on lexically.
			stack = append(stack, c)
			continue
		}
		if r.err != nil {
			return r.err
		}
		if links++; links > 40 {
			return errors.New("symlink loop")
		}
		if strings.HasPrefix(r.target, "/") {
			return fmt.Errorf("symlink %q to absolute path", cand)
		}
		pending = append(strings.Split(r.target, "/"), pending...)
	}
	return nil
}

package install

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"runtime"
	"strings"
)

// Libc values of Platform.Libc on linux.
const (
	Glibc = "glibc"
	Musl  = "musl"
)

// Platform is what selects an agent's npm package: OS and CPU in npm's naming
// ("linux"/"darwin", "x64"/"arm64") and, on linux, the C library.
type Platform struct {
	OS   string // "linux" or "darwin"
	Arch string // "x64" or "arm64"
	Libc string // Glibc or Musl on linux, "" elsewhere
	// LibcGuessed is true when no probe gave an answer and Libc is the glibc default.
	LibcGuessed bool
	// NoAVX2 is true on x64 when the CPU is known to lack AVX2 (OpenCode then
	// uses its "baseline" build). False when unknown.
	NoAVX2 bool
}

// String gives npm's platform key, e.g. "linux-x64", "linux-arm64-musl", "darwin-arm64".
func (p Platform) String() string {
	s := p.OS + "-" + p.Arch
	if p.Libc == Musl {
		s += "-musl"
	}
	return s
}

// UnsupportedPlatformError names a GOOS/GOARCH for which agentd installs nothing.
type UnsupportedPlatformError struct {
	GOOS, GOARCH string
}

func (e *UnsupportedPlatformError) Error() string {
	return fmt.Sprintf("%s/%s: agentd installs agents on linux and darwin, amd64 and arm64, only "+
		"(point AGENTD_<AGENT>_BIN at a binary or put it on PATH to use one anyway)", e.GOOS, e.GOARCH)
}

func (e *UnsupportedPlatformError) Is(target error) bool { return target == ErrUnsupportedPlatform }

// CurrentPlatform detects the platform agentd runs on: runtime.GOOS and
// runtime.GOARCH, the libc from the root filesystem on linux, and on darwin
// whether an amd64 agentd runs under Rosetta (then arm64 builds are used,
// as the vendors' own wrappers do).
func CurrentPlatform() (Platform, error) {
	p, err := DetectPlatform(runtime.GOOS, runtime.GOARCH, os.DirFS("/"))
	if err != nil {
		return p, err
	}
	if p.OS == "darwin" {
		translated, avx2Known, avx2 := darwinProbe()
		if translated {
			p.Arch = "arm64"
		} else if p.Arch == "x64" && avx2Known && !avx2 {
			p.NoAVX2 = true
		}
	}
	return p, nil
}

// DetectPlatform maps goos/goarch to a Platform and, on linux, probes root
// (the filesystem as seen from "/") for the C library and for AVX2 in
// /proc/cpuinfo. Tests pass a fake root. The error, for any other OS or
// CPU, is an *UnsupportedPlatformError (errors.Is ErrUnsupportedPlatform).
func DetectPlatform(goos, goarch string, root fs.FS) (Platform, error) {
	var p Platform
	switch goos {
	case "linux", "darwin":
		p.OS = goos
	default:
		return p, &UnsupportedPlatformError{goos, goarch}
	}
	switch goarch {
	case "amd64":
		p.Arch = "x64"
	case "arm64":
		p.Arch = "arm64"
	default:
		return Platform{}, &UnsupportedPlatformError{goos, goarch}
	}
	if goos == "linux" && root != nil {
		p.Libc, p.LibcGuessed = detectLibc(root, goarch)
		if p.Arch == "x64" {
			if b, err := readSmall(root, "proc/cpuinfo", 4<<20); err == nil && bytes.Contains(b, []byte("flags")) {
				p.NoAVX2 = !hasFlag(b, "avx2")
			}
		}
	} else if goos == "linux" {
		p.Libc, p.LibcGuessed = Glibc, true
	}
	return p, nil
}

// detectLibc, in order of trust:
//  1. the ELF interpreter of /bin/sh (what the system's programs actually load);
//  2. the glibc loader for this CPU (Debian's "musl" package adds a musl
//     loader next to glibc, so glibc wins when both are present);
//  3. the musl loader, or /etc/alpine-release;
//  4. otherwise glibc, flagged as a guess.
func detectLibc(root fs.FS, goarch string) (libc string, guessed bool) {
	if interp := elfInterp(root, "bin/sh"); interp != "" {
		base := path.Base(interp)
		switch {
		case strings.HasPrefix(base, "ld-musl-"):
			return Musl, false
		case strings.HasPrefix(base, "ld-linux"), strings.HasPrefix(base, "ld64.so"):
			return Glibc, false
		}
	}
	glibcLoaders := map[string][]string{
		"amd64": {"lib64/ld-linux-x86-64.so.2", "lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", "usr/lib64/ld-linux-x86-64.so.2"},
		"arm64": {"lib/ld-linux-aarch64.so.1", "lib/aarch64-linux-gnu/ld-linux-aarch64.so.1", "usr/lib/ld-linux-aarch64.so.1"},
	}[goarch]
	for _, name := range glibcLoaders {
		if exists(root, name) {
			return Glibc, false
		}
	}
	muslArch := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[goarch]
	if exists(root, "lib/ld-musl-"+muslArch+".so.1") || exists(root, "etc/alpine-release") {
		return Musl, false
	}
	return Glibc, true
}

func exists(root fs.FS, name string) bool {
	_, err := fs.Stat(root, name)
	return err == nil
}

// resolveLink follows symlinks of the last component of name inside root,
// treating absolute targets as relative to root (as the system would see
// them from inside a container whose "/" is root).
func resolveLink(root fs.FS, name string) string {
	for range 16 {
		fi, err := fs.Lstat(root, name)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			return name
		}
		target, err := fs.ReadLink(root, name)
		if err != nil {
			return name
		}
		if strings.HasPrefix(target, "/") {
			name = path.Clean(strings.TrimLeft(target, "/"))
		} else {
			name = path.Join(path.Dir(name), target)
		}
		if name == ".." || strings.HasPrefix(name, "../") {
			return ""
		}
	}
	return name
}

// elfInterp returns the PT_INTERP of an ELF file, "" if there is none or the
// file cannot be read or parsed.
func elfInterp(root fs.FS, name string) string {
	name = resolveLink(root, name)
	if name == "" || !fs.ValidPath(name) {
		return ""
	}
	f, err := root.Open(name)
	if err != nil {
		return ""
	}
	defer f.Close()
	ra, ok := f.(io.ReaderAt)
	if !ok {
		b, err := io.ReadAll(io.LimitReader(f, 16<<20))
		if err != nil {
			return ""
		}
		ra = bytes.NewReader(b)
	}
	ef, err := elf.NewFile(ra)
	if err != nil {
		return ""
	}
	for _, prog := range ef.Progs {
		if prog.Type != elf.PT_INTERP || prog.Filesz == 0 || prog.Filesz > 4096 {
			continue
		}
		b := make([]byte, prog.Filesz)
		if _, err := prog.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
			return ""
		}
		return string(bytes.TrimRight(b, "\x00"))
	}
	return ""
}

func readSmall(root fs.FS, name string, max int64) ([]byte, error) {
	f, err := root.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, max))
}

// hasFlag reports whether a "flags" line of /proc/cpuinfo lists flag.
func hasFlag(cpuinfo []byte, flag string) bool {
	for line := range strings.SplitSeq(string(cpuinfo), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(k) != "flags" {
			continue
		}
		for f := range strings.FieldsSeq(v) {
			if f == flag {
				return true
			}
		}
	}
	return false
}

package install

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// seedTars are the tarballs of the tests (uncompressed), good and bad.
func seedTars(t testing.TB) [][]byte {
	bin := tarEntry{name: "package/amp", body: "#!/bin/sh\n", mode: 0o755}
	sets := [][]tarEntry{
		{bin, {name: "package/bin/helper", body: "#!/bin/sh\n", mode: 0o755}, {name: "package/README.md", body: "r"}},
		{bin, {name: "package/dir/", typ: '5'}, {name: "package/dir/f", body: "x"}},
		{bin, {name: "../x", body: "evil"}},
		{bin, {name: "/abs", body: "evil"}},
		{bin, {name: "package/evil", typ: '2', link: "../../etc"}, {name: "package/evil/passwd", body: "evil"}},
		{bin, {name: "package/etc", typ: '2', link: "/etc"}},
		{bin, {name: "package/sub/f", body: "x"}, {name: "package/lnk", typ: '2', link: "sub"}, {name: "package/lnk/g", body: "x"}},
		{bin, {name: "package/d/l1", typ: '2', link: ".."}, {name: "package/l2", typ: '2', link: "d/l1/.."}},
		{bin, {name: "package/a", typ: '2', link: "b"}, {name: "package/b", typ: '2', link: "a"}},
		{bin, {name: "package/h", typ: '1', link: "package/amp"}},
		{bin, {name: "package/null", typ: '3'}},
		{bin, {name: "package/p", typ: '6'}},
		{bin, {name: "package/amp", body: "again"}},
		{{name: "package/real/amp", body: "x", mode: 0o755}, {name: "package/amp", typ: '2', link: "real/amp"}},
	}
	var out [][]byte
	for _, s := range sets {
		out = append(out, makeTar(t, s))
	}
	return out
}

// FuzzExtract feeds arbitrary tar streams to extractTar. Whatever the
// input: no panic, errors are *Error, nothing appears or changes outside
// the extraction root, and a successful extraction leaves no symlink that
// resolves outside it.
//
// Each execution creates and removes a small tree, so executions take
// milliseconds: cap minimization (else the default 60 s of it eats a short
// run) and, where the disk is mounted with "discard", put TMPDIR on a tmpfs:
//
//	TMPDIR=/dev/shm go test -run '^$' -fuzz FuzzExtract -fuzztime 20s -fuzzminimizetime 200x ./internal/install
func FuzzExtract(f *testing.F) {
	for _, s := range seedTars(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		outer := t.TempDir()
		if err := os.WriteFile(filepath.Join(outer, "sentinel"), []byte("keep"), 0o644); err != nil {
			t.Fatal(err)
		}
		rootDir := filepath.Join(outer, "root")
		if err := os.Mkdir(rootDir, 0o755); err != nil {
			t.Fatal(err)
		}
		root, err := os.OpenRoot(rootDir)
		if err != nil {
			t.Fatal(err)
		}
		err = extractTar(bytes.NewReader(data), root, extractLimits{MaxBytes: 1 << 20, MaxEntries: 256})
		root.Close()
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error of type %T: %v", err, err)
			}
		}

		entries, rerr := os.ReadDir(outer)
		if rerr != nil {
			t.Fatal(rerr)
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		if !slices.Equal(names, []string{"root", "sentinel"}) {
			t.Fatalf("outside the root: %q", names)
		}
		if b, _ := os.ReadFile(filepath.Join(outer, "sentinel")); string(b) != "keep" {
			t.Fatalf("sentinel changed: %q", b)
		}
		if fi, err := os.Lstat(rootDir); err != nil || !fi.IsDir() {
			t.Fatalf("root replaced: %v", err)
		}
		if err != nil {
			return
		}
		realRoot, _ := filepath.EvalSymlinks(rootDir)
		filepath.WalkDir(rootDir, func(p string, d fs.DirEntry, werr error) error {
			if werr != nil || d.Type()&fs.ModeSymlink == 0 {
				return nil
			}
			target, _ := os.Readlink(p)
			if filepath.IsAbs(target) {
				t.Fatalf("absolute symlink %s -> %s", p, target)
			}
			if resolved, err := filepath.EvalSymlinks(p); err == nil {
				if resolved != realRoot && !strings.HasPrefix(resolved, realRoot+string(filepath.Separator)) {
					t.Fatalf("symlink %s resolves outside: %s", p, resolved)
				}
			} else if rel, _ := filepath.Rel(rootDir, filepath.Join(filepath.Dir(p), target)); !filepath.IsLocal(rel) && rel != "." {
				t.Fatalf("dangling symlink %s -> %s points outside", p, target)
			}
			return nil
		})
	})
}

// The seeds double as a table of what extractTar accepts.
func TestExtractSeeds(t *testing.T) {
	var ok int
	for _, s := range seedTars(t) {
		root, err := os.OpenRoot(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if extractTar(bytes.NewReader(s), root, extractLimits{MaxBytes: 1 << 20, MaxEntries: 256}) == nil {
			ok++
		}
		root.Close()
	}
	if ok != 3 {
		t.Errorf("%d seed tarballs extracted, want 3 (the good ones)", ok)
	}
}

func TestExtractRejectsCorruptInput(t *testing.T) {
	root, err := os.OpenRoot(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	lim := extractLimits{MaxBytes: 1 << 20, MaxEntries: 10}
	if err := extractTarGz(strings.NewReader("not gzip"), root, lim); !errors.Is(err, ErrBadPackage) {
		t.Errorf("not gzip: %v", err)
	}
	tgz := makeTgz(t, []tarEntry{{name: "package/a", body: strings.Repeat("a", 5000)}})
	if err := extractTarGz(bytes.NewReader(tgz[:len(tgz)/2]), root, lim); !errors.Is(err, ErrBadPackage) {
		t.Errorf("truncated: %v", err)
	}
}

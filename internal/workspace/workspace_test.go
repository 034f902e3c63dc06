package workspace

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"go.uber.org/goleak"

	"github.com/agentd-dev/agentd/internal/apierr"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newFS is a workspace over a fresh root, with outside a sibling
// directory the root must never reach.
func newFS(t *testing.T, opts Options) (f *FS, root, outside string) {
	t.Helper()
	dir := t.TempDir()
	root, outside = filepath.Join(dir, "root"), filepath.Join(dir, "outside")
	for _, d := range []string{root, outside} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	opts.Root = root
	f, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, root, outside
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// wantKind fails unless err is an apierr of the kind whose detail
// contains substr.
func wantKind(t *testing.T, err error, kind apierr.Kind, substr string) {
	t.Helper()
	e, ok := apierr.As(err)
	if !ok {
		t.Fatalf("err = %v (%T), want %s", err, err, kind)
	}
	if e.Kind != kind || !strings.Contains(e.Detail, substr) {
		t.Fatalf("err = %s %q, want %s containing %q", e.Kind, e.Detail, kind, substr)
	}
}

func TestResolve(t *testing.T) {
	f, root, outside := newFS(t, Options{})
	for _, tc := range []struct {
		base, p, rel, err string
	}{
		{".", ".", ".", ""},
		{".", "a/b", "a/b", ""},
		{".", "./a//b/", "a/b", ""},
		{"s", "a", "s/a", ""},
		{"s", root + "/x", "x", ""},
		{".", root, ".", ""},
		{".", "../x", "", "invalid relative path"},
		{".", "a/../../x", "", "invalid relative path"},
		{".", root + "/../outside/secret", "", "'..'"},
		{".", outside + "/secret", "", "outside the root"},
		{".", "/etc/passwd", "", "outside the root"},
		{".", root + "x/y", "", "outside the root"},
		{".", "", "", "empty"},
		{".", "a\x00b", "", "NUL"},
	} {
		p, err := f.Resolve(tc.base, tc.p)
		if tc.err != "" {
			wantKind(t, err, apierr.InvalidRequest, tc.err)
			continue
		}
		if err != nil || p.Rel != tc.rel {
			t.Errorf("Resolve(%q, %q) = %+v, %v; want %q", tc.base, tc.p, p, err, tc.rel)
		}
	}
	if b, err := f.Base(root + "/proj"); err != nil || b != "proj" {
		t.Errorf("Base = %q %v", b, err)
	}
	if _, err := f.Base(outside); err == nil {
		t.Error("a session directory outside the root was accepted")
	}
}

func TestSymlinkOutIsRefused(t *testing.T) {
	f, root, outside := newFS(t, Options{})
	os.Symlink(outside, filepath.Join(root, "out"))
	os.Symlink(filepath.Join(outside, "secret"), filepath.Join(root, "secret"))
	os.Symlink("../outside", filepath.Join(root, "rel"))
	for _, p := range []string{"out/secret", "secret", "rel/secret"} {
		if _, _, _, err := f.Open(".", p); err == nil {
			t.Fatalf("read through %s escaped", p)
		} else {
			wantKind(t, err, apierr.InvalidRequest, "escapes the root")
		}
		if _, err := f.Stat(".", p); err == nil {
			t.Fatalf("stat through %s escaped", p)
		}
		if _, _, err := f.Write(".", p, strings.NewReader("x"), -1); err == nil {
			t.Fatalf("write through %s escaped", p)
		}
	}
	if _, err := f.List(".", "out"); err == nil {
		t.Fatal("listing through a symlink escaped")
	}
	if _, err := f.Mkdir(".", "out/new"); err == nil {
		t.Fatal("mkdir through a symlink escaped")
	}
	if _, _, err := f.Move(".", "out/secret", "stolen", false); err == nil {
		t.Fatal("move through a symlink escaped")
	}
	if _, err := f.Delete(".", "out/secret", false); err == nil {
		t.Fatal("delete through a symlink escaped")
	}
	// The link itself may be listed and deleted: that touches nothing outside.
	ents, err := f.List(".", ".")
	if err != nil || len(ents) != 3 || !ents[0].Symlink || ents[0].Type != TypeFile {
		t.Fatalf("list = %+v, %v", ents, err)
	}
	if _, err := f.Delete(".", "out", false); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(outside, "secret")); string(b) != "secret" {
		t.Fatal("the outside file changed")
	}
	// A symlink chain that loops is a clear error, not a hang.
	os.Symlink("loop2", filepath.Join(root, "loop1"))
	os.Symlink("loop1", filepath.Join(root, "loop2"))
	if _, err := f.Stat(".", "loop1"); err == nil {
		t.Fatal("a symlink loop was stat'ed")
	} else if e, ok := apierr.As(err); !ok || e.Kind != apierr.InvalidRequest {
		t.Fatalf("loop: %v", err)
	}
}

func TestFileOperations(t *testing.T) {
	f, root, _ := newFS(t, Options{})
	p, n, err := f.Write(".", "dir/sub/a.txt", strings.NewReader("hello"), 5)
	if err != nil || n != 5 || p.Abs != filepath.Join(root, "dir/sub/a.txt") {
		t.Fatalf("write = %+v %d %v", p, n, err)
	}
	st, err := f.Stat(".", "dir/sub/a.txt")
	if err != nil || st.Type != TypeFile || st.Size != 5 || st.Modified.IsZero() {
		t.Fatalf("stat = %+v %v", st, err)
	}
	file, info, _, err := f.Open("dir", "sub/a.txt")
	if err != nil || info.Size() != 5 {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(file)
	file.Close()
	if string(b) != "hello" {
		t.Fatalf("read %q", b)
	}
	if _, _, _, err := f.Open(".", "dir"); err == nil {
		t.Fatal("opened a directory as a file")
	} else {
		wantKind(t, err, apierr.InvalidRequest, "not a file")
	}
	if _, err := f.List(".", "dir/sub/a.txt"); err == nil {
		t.Fatal("listed a file")
	} else {
		wantKind(t, err, apierr.InvalidRequest, "not a directory")
	}
	if _, err := f.Stat(".", "missing"); err == nil {
		t.Fatal("stat of a missing path")
	} else {
		wantKind(t, err, apierr.InvalidRequest, "path not found: "+filepath.Join(root, "missing"))
	}
	// Overwrite keeps the mode.
	os.Chmod(filepath.Join(root, "dir/sub/a.txt"), 0o600)
	if _, _, err := f.Write(".", "dir/sub/a.txt", strings.NewReader("bye"), -1); err != nil {
		t.Fatal(err)
	}
	if info, _ := os.Stat(filepath.Join(root, "dir/sub/a.txt")); info.Mode().Perm() != 0o600 {
		t.Fatalf("mode after overwrite %v", info.Mode())
	}
	// Writing through an in-root symlink replaces its target, not the link.
	os.Symlink("sub/a.txt", filepath.Join(root, "dir/alias"))
	if _, _, err := f.Write(".", "dir/alias", strings.NewReader("via link"), -1); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "dir/sub/a.txt")); string(b) != "via link" {
		t.Fatalf("target after write through link: %q", b)
	}
	if l, err := os.Readlink(filepath.Join(root, "dir/alias")); err != nil || l != "sub/a.txt" {
		t.Fatalf("link replaced: %q %v", l, err)
	}
	os.Remove(filepath.Join(root, "dir/alias"))
	if _, err := f.Mkdir(".", "dir/sub/a.txt"); err == nil {
		t.Fatal("mkdir over a file")
	}
	if _, err := f.Mkdir(".", "x/y/z"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Mkdir(".", "x/y/z"); err != nil {
		t.Fatalf("mkdir of an existing directory: %v", err)
	}
	// Delete: non-empty needs recursive; the root never goes.
	if _, err := f.Delete(".", "x", false); err == nil {
		t.Fatal("deleted a non-empty directory without recursive")
	} else {
		wantKind(t, err, apierr.InvalidRequest, "not empty")
	}
	if _, err := f.Delete(".", "x", true); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Delete(".", ".", true); err == nil {
		t.Fatal("deleted the root")
	}
	if _, err := f.Delete(".", root, true); err == nil {
		t.Fatal("deleted the root by its absolute path")
	}
	if _, err := f.Delete(".", "x", true); err == nil {
		t.Fatal("deleted a missing path")
	}
	// Move.
	f.Write(".", "b.txt", strings.NewReader("b"), -1)
	if _, _, err := f.Move(".", "b.txt", "dir/sub/a.txt", false); err == nil {
		t.Fatal("move over an existing file without overwrite")
	} else {
		wantKind(t, err, apierr.InvalidRequest, "destination already exists")
	}
	if _, _, err := f.Move(".", "b.txt", "new/place/b.txt", false); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.Move(".", "new", "dir/sub", true); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "dir/sub/place/b.txt")); string(b) != "b" {
		t.Fatalf("after move: %q", b)
	}
	if _, _, err := f.Move(".", "dir", "dir/inside", false); err == nil {
		t.Fatal("moved a directory into itself")
	}
	ents, err := f.List(".", "dir/sub")
	if err != nil || len(ents) != 1 || ents[0].Name != "place" || ents[0].Type != TypeDirectory {
		t.Fatalf("list = %+v %v", ents, err)
	}
}

func TestPermissionDenied(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads everything")
	}
	f, root, _ := newFS(t, Options{})
	write(t, filepath.Join(root, "locked"), "x")
	os.Chmod(filepath.Join(root, "locked"), 0)
	_, _, _, err := f.Open(".", "locked")
	wantKind(t, err, apierr.PermissionDenied, "permission denied")
}

func TestFormatModified(t *testing.T) {
	ts := time.Date(2026, 2, 11, 8, 36, 10, 123456789, time.FixedZone("x", 3600))
	if got := FormatModified(ts); got != "2026-02-11T07:36:10.123456789+00:00" {
		t.Fatal(got)
	}
	if got := FormatModified(ts.Truncate(time.Second)); got != "2026-02-11T07:36:10+00:00" {
		t.Fatal(got)
	}
}

// TestWriteIsAtomic: a write whose body fails or is too large leaves
// neither the file nor a temporary behind, and an existing file intact.
func TestWriteIsAtomic(t *testing.T) {
	f, root, _ := newFS(t, Options{MaxWriteBytes: 1000})
	write(t, filepath.Join(root, "keep.txt"), "old")
	broken := io.MultiReader(strings.NewReader(strings.Repeat("x", 500)), iotest.ErrReader(io.ErrUnexpectedEOF))
	if _, _, err := f.Write(".", "keep.txt", broken, -1); err == nil {
		t.Fatal("a broken body was written")
	}
	if _, _, err := f.Write(".", "new.txt", strings.NewReader(strings.Repeat("x", 1001)), -1); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized write: %v", err)
	}
	if _, _, err := f.Write(".", "new.txt", strings.NewReader(""), 5000); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("announced oversized write: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "keep.txt")); string(b) != "old" {
		t.Fatalf("existing file is now %q", b)
	}
	ents, _ := os.ReadDir(root)
	if len(ents) != 1 {
		t.Fatalf("left behind: %v", ents)
	}
	if _, n, err := f.Write(".", "exact.txt", strings.NewReader(strings.Repeat("x", 1000)), -1); err != nil || n != 1000 {
		t.Fatalf("write at the limit: %d %v", n, err)
	}
}

// tarEntry is one member of a test archive.
type tarEntry struct {
	name, body, link string
	typ              byte
	size             int64 // announced size when body is empty
}

func makeTar(t *testing.T, gz bool, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.Writer = &buf
	var zw *gzip.Writer
	if gz {
		zw = gzip.NewWriter(&buf)
		w = zw
	}
	tw := tar.NewWriter(w)
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		hdr := &tar.Header{Name: e.name, Typeflag: typ, Linkname: e.link, Mode: 0o644, Size: int64(len(e.body)), ModTime: time.Unix(1700000000, 0)}
		if typ == tar.TypeDir {
			hdr.Mode = 0o755
		}
		if typ != tar.TypeReg {
			hdr.Size = 0
		}
		if e.size > 0 {
			hdr.Size = e.size
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if e.body != "" {
			tw.Write([]byte(e.body))
		}
	}
	if err := tw.Close(); err != nil && !strings.Contains(err.Error(), "missed writing") {
		t.Fatal(err)
	}
	if zw != nil {
		zw.Close()
	}
	return buf.Bytes()
}

func TestUpload(t *testing.T) {
	for _, gz := range []bool{false, true} {
		f, root, _ := newFS(t, Options{})
		data := makeTar(t, gz,
			tarEntry{name: "./", typ: tar.TypeDir},
			tarEntry{name: "d/", typ: tar.TypeDir},
			tarEntry{name: "d/a.txt", body: "A"},
			tarEntry{name: "./b.txt", body: "B"},
			tarEntry{name: "d/link", link: "a.txt", typ: tar.TypeSymlink},
			tarEntry{name: "hard", link: "d/a.txt", typ: tar.TypeLink},
		)
		res, err := f.Upload(".", "up", "application/x-tar", bytes.NewReader(data))
		if err != nil {
			t.Fatalf("gz=%v: %v", gz, err)
		}
		want := []string{"up/d", "up/d/a.txt", "up/b.txt", "up/d/link", "up/hard"}
		for i := range want {
			want[i] = filepath.Join(root, want[i])
		}
		if !slices.Equal(res.Paths, want) || res.Truncated {
			t.Fatalf("paths = %v, want %v", res.Paths, want)
		}
		for name, content := range map[string]string{"up/d/a.txt": "A", "up/b.txt": "B", "up/d/link": "A", "up/hard": "A"} {
			if b, err := os.ReadFile(filepath.Join(root, name)); err != nil || string(b) != content {
				t.Errorf("gz=%v %s = %q %v", gz, name, b, err)
			}
		}
	}
}

func TestUploadContentType(t *testing.T) {
	f, _, _ := newFS(t, Options{})
	for _, ct := range []string{"", "application/json", "application/octet-stream"} {
		_, err := f.Upload(".", ".", ct, bytes.NewReader(makeTar(t, false)))
		wantKind(t, err, apierr.InvalidRequest, "content-type must be application/x-tar")
	}
	if _, err := f.Upload(".", ".", "application/x-tar; charset=binary", bytes.NewReader(makeTar(t, false))); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Upload(".", ".", "application/gzip", bytes.NewReader(makeTar(t, true))); err != nil {
		t.Fatal(err)
	}
	_, err := f.Upload(".", ".", "application/x-tar", strings.NewReader(strings.Repeat("garbage!", 100)))
	wantKind(t, err, apierr.InvalidRequest, "invalid tar archive")
}

// TestUploadEscapes: every way an archive entry could land outside the
// root is refused with a 400, and nothing lands outside.
func TestUploadEscapes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries []tarEntry
		detail  string
	}{
		{"dotdot", []tarEntry{{name: "../evil", body: "x"}}, "invalid relative path"},
		{"nested dotdot", []tarEntry{{name: "a/../../evil", body: "x"}}, "invalid relative path"},
		{"absolute", []tarEntry{{name: "/tmp/evil", body: "x"}}, "invalid relative path"},
		{"symlink absolute", []tarEntry{{name: "l", link: "/", typ: tar.TypeSymlink}}, "points outside the root"},
		{"symlink up", []tarEntry{{name: "a/l", link: "../../outside", typ: tar.TypeSymlink}}, "points outside the root"},
		{"symlink up from a subdirectory", []tarEntry{{name: "a/b/l", link: "../../../outside/secret", typ: tar.TypeSymlink}}, "points outside the root"},
		{"symlink then write through it (tar-slip)", []tarEntry{{name: "l", link: "../outside", typ: tar.TypeSymlink}, {name: "l/secret", body: "pwned"}}, "points outside the root"},
		{"hard link absolute", []tarEntry{{name: "h", link: "/etc/passwd", typ: tar.TypeLink}}, "escapes the destination"},
		{"hard link up", []tarEntry{{name: "h", link: "../outside/secret", typ: tar.TypeLink}}, "escapes the destination"},
		{"hard link to a missing entry", []tarEntry{{name: "h", link: "nope", typ: tar.TypeLink}}, "not in the archive"},
		{"char device", []tarEntry{{name: "null", typ: tar.TypeChar}}, "device or fifo"},
		{"block device", []tarEntry{{name: "sda", typ: tar.TypeBlock}}, "device or fifo"},
		{"fifo", []tarEntry{{name: "pipe", typ: tar.TypeFifo}}, "device or fifo"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, root, outside := newFS(t, Options{})
			_, err := f.Upload(".", ".", "application/x-tar", bytes.NewReader(makeTar(t, false, tc.entries...)))
			wantKind(t, err, apierr.InvalidRequest, tc.detail)
			if b, _ := os.ReadFile(filepath.Join(outside, "secret")); string(b) != "secret" {
				t.Fatal("the outside file changed")
			}
			ents, _ := os.ReadDir(outside)
			if len(ents) != 1 {
				t.Fatalf("outside now holds %v", ents)
			}
			if _, err := os.Lstat(filepath.Join(filepath.Dir(root), "evil")); err == nil {
				t.Fatal("evil landed beside the root")
			}
		})
	}
	// A symlink already on disk that points out cannot be written through.
	f, root, outside := newFS(t, Options{})
	os.Symlink(outside, filepath.Join(root, "out"))
	_, err := f.Upload(".", ".", "application/x-tar", bytes.NewReader(makeTar(t, false, tarEntry{name: "out/secret", body: "pwned"})))
	wantKind(t, err, apierr.InvalidRequest, "escapes the root")
	if _, err := f.Upload(".", "out", "application/x-tar", bytes.NewReader(makeTar(t, false, tarEntry{name: "x", body: "pwned"}))); err == nil {
		t.Fatal("extracted into a destination that is a symlink out")
	}
	if b, _ := os.ReadFile(filepath.Join(outside, "secret")); string(b) != "secret" {
		t.Fatal("the outside file changed")
	}
}

func TestUploadCaps(t *testing.T) {
	t.Run("entries", func(t *testing.T) {
		f, _, _ := newFS(t, Options{MaxUploadEntries: 10})
		var entries []tarEntry
		for i := range 11 {
			entries = append(entries, tarEntry{name: "f" + strings.Repeat("x", i), body: "x"})
		}
		_, err := f.Upload(".", ".", "application/x-tar", bytes.NewReader(makeTar(t, false, entries...)))
		if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "more than 10 entries") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("default entry cap of 10000", func(t *testing.T) {
		f, root, _ := newFS(t, Options{})
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for i := range DefaultMaxUploadEntries + 1 {
			tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("d/%06d", i), Typeflag: tar.TypeReg, Mode: 0o644})
		}
		tw.Close()
		_, err := f.Upload(".", ".", "application/x-tar", &buf)
		if !errors.Is(err, ErrTooLarge) {
			t.Fatalf("err = %v", err)
		}
		ents, _ := os.ReadDir(filepath.Join(root, "d"))
		if len(ents) != DefaultMaxUploadEntries {
			t.Fatalf("%d files extracted before the cap", len(ents))
		}
	})
	t.Run("announced size", func(t *testing.T) {
		f, root, _ := newFS(t, Options{MaxUploadBytes: 1000})
		_, err := f.Upload(".", ".", "application/x-tar", bytes.NewReader(makeTar(t, false, tarEntry{name: "a", body: strings.Repeat("x", 600)}, tarEntry{name: "b", body: strings.Repeat("x", 600)})))
		if !errors.Is(err, ErrTooLarge) {
			t.Fatalf("err = %v", err)
		}
		if _, err := os.Stat(filepath.Join(root, "b")); err == nil {
			t.Fatal("the entry over the cap was written")
		}
	})
	t.Run("gzip bomb", func(t *testing.T) {
		// 16 MiB of zeros in one entry compress to about 16 KiB; the cap
		// refuses the entry from its header, before inflating it.
		f, root, _ := newFS(t, Options{MaxUploadBytes: 1 << 20})
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		tw := tar.NewWriter(zw)
		tw.WriteHeader(&tar.Header{Name: "bomb", Typeflag: tar.TypeReg, Mode: 0o644, Size: 16 << 20})
		zero := make([]byte, 1<<20)
		for range 16 {
			tw.Write(zero)
		}
		tw.Close()
		zw.Close()
		if buf.Len() > 1<<20 {
			t.Fatalf("bomb is %d bytes compressed", buf.Len())
		}
		_, err := f.Upload(".", ".", "application/gzip", &buf)
		if !errors.Is(err, ErrTooLarge) {
			t.Fatalf("err = %v", err)
		}
		ents, _ := os.ReadDir(root)
		if len(ents) != 0 {
			t.Fatalf("left behind: %v", ents)
		}
	})
	t.Run("truncated entry leaves no half file", func(t *testing.T) {
		f, root, _ := newFS(t, Options{})
		data := makeTar(t, false, tarEntry{name: "whole", body: "ok"}, tarEntry{name: "half", body: strings.Repeat("x", 4096)})
		_, err := f.Upload(".", ".", "application/x-tar", bytes.NewReader(data[:len(data)-1024-2048]))
		wantKind(t, err, apierr.InvalidRequest, "invalid tar archive")
		ents, _ := os.ReadDir(root)
		if len(ents) != 1 || ents[0].Name() != "whole" {
			t.Fatalf("root holds %v", ents)
		}
	})
}

func TestUploadTruncatesPaths(t *testing.T) {
	f, _, _ := newFS(t, Options{})
	var entries []tarEntry
	for i := range MaxUploadPaths + 5 {
		entries = append(entries, tarEntry{name: "f" + strconv.Itoa(i)})
	}
	res, err := f.Upload(".", ".", "application/x-tar", bytes.NewReader(makeTar(t, false, entries...)))
	if err != nil || len(res.Paths) != MaxUploadPaths || !res.Truncated {
		t.Fatalf("%d paths, truncated %v, err %v", len(res.Paths), res.Truncated, err)
	}
}

// TestArchiveRoundTrip packs a tree as tar.gz and zip, and unpacks the
// tar.gz with Upload elsewhere: the same files, links and modes come back.
func TestArchiveRoundTrip(t *testing.T) {
	f, root, _ := newFS(t, Options{})
	write(t, filepath.Join(root, "src/a.txt"), "alpha")
	write(t, filepath.Join(root, "src/sub/b.bin"), string([]byte{0, 1, 2, 255}))
	os.MkdirAll(filepath.Join(root, "src/empty"), 0o755)
	os.Symlink("a.txt", filepath.Join(root, "src/link"))
	os.Chmod(filepath.Join(root, "src/sub/b.bin"), 0o755)

	a, err := f.PrepareArchive(".", "src", FormatTarGz)
	if err != nil {
		t.Fatal(err)
	}
	if a.Entries != 5 || a.Bytes != 9 || a.Filename() != "src.tar.gz" || a.ContentType() != "application/gzip" {
		t.Fatalf("archive = %+v %s", a, a.Filename())
	}
	var buf bytes.Buffer
	if _, err := a.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	a.Close()
	if _, err := f.Upload(".", "copy", "application/gzip", &buf); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a.txt", "sub/b.bin"} {
		want, _ := os.ReadFile(filepath.Join(root, "src", name))
		got, err := os.ReadFile(filepath.Join(root, "copy", name))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: %q %v", name, got, err)
		}
	}
	if l, err := os.Readlink(filepath.Join(root, "copy/link")); err != nil || l != "a.txt" {
		t.Fatalf("link = %q %v", l, err)
	}
	if info, err := os.Stat(filepath.Join(root, "copy/sub/b.bin")); err != nil || info.Mode().Perm() != 0o755 {
		t.Fatalf("mode %v %v", info.Mode(), err)
	}
	if info, err := os.Stat(filepath.Join(root, "copy/empty")); err != nil || !info.IsDir() {
		t.Fatal("empty directory lost")
	}

	z, err := f.PrepareArchive(".", "src", FormatZip)
	if err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	z.WriteTo(&buf)
	z.Close()
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, zf := range zr.File {
		rc, _ := zf.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		got[zf.Name] = string(b)
		if zf.Name == "link" && zf.Mode()&fs.ModeSymlink == 0 {
			t.Error("zip lost the symlink")
		}
	}
	if got["a.txt"] != "alpha" || got["link"] != "a.txt" || got["sub/b.bin"] != "\x00\x01\x02\xff" {
		t.Fatalf("zip = %q", got)
	}
	if _, ok := got["empty/"]; !ok {
		t.Fatalf("zip lacks the empty directory: %q", got)
	}
}

func TestArchiveCaps(t *testing.T) {
	f, root, outside := newFS(t, Options{MaxArchiveEntries: 3, MaxArchiveBytes: 10})
	write(t, filepath.Join(root, "few/a"), "12345")
	write(t, filepath.Join(root, "big/a"), "123456")
	write(t, filepath.Join(root, "big/b"), "123456")
	for i := range 4 {
		write(t, filepath.Join(root, "many", strconv.Itoa(i)), "")
	}
	if _, err := f.PrepareArchive(".", "big", FormatTarGz); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("bytes cap: %v", err)
	}
	if _, err := f.PrepareArchive(".", "many", FormatZip); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("entries cap: %v", err)
	}
	if _, err := f.PrepareArchive(".", "few", "rar"); err == nil {
		t.Fatal("unknown format accepted")
	}
	if _, err := f.PrepareArchive(".", "few/a", FormatZip); err == nil {
		t.Fatal("archived a file")
	}
	os.Symlink(outside, filepath.Join(root, "out"))
	if _, err := f.PrepareArchive(".", "out", FormatTarGz); err == nil {
		t.Fatal("archived a directory outside the root")
	}
}

func TestWatch(t *testing.T) {
	f, root, _ := newFS(t, Options{MaxWatchEntries: 5})
	write(t, filepath.Join(root, "w/keep"), "1")
	write(t, filepath.Join(root, "w/gone"), "1")
	w, err := f.Watch(".", "w")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if ch, err := w.Poll(); err != nil || len(ch) != 0 {
		t.Fatalf("first poll: %v %v", ch, err)
	}
	write(t, filepath.Join(root, "w/keep"), "22")
	os.Remove(filepath.Join(root, "w/gone"))
	write(t, filepath.Join(root, "w/d/new"), "")
	// An atomic write caught half-way: its temporary file is not a change.
	write(t, filepath.Join(root, "w/d/"+tempPrefix+"123"), "partial")
	ch, err := w.Poll()
	if err != nil {
		t.Fatal(err)
	}
	want := []Change{
		{Deleted, filepath.Join(root, "w/gone"), TypeFile},
		{Created, filepath.Join(root, "w/d"), TypeDirectory},
		{Created, filepath.Join(root, "w/d/new"), TypeFile},
		{Modified, filepath.Join(root, "w/keep"), TypeFile},
	}
	if !slices.Equal(ch, want) {
		t.Fatalf("changes %v, want %v", ch, want)
	}
	for i := range 5 {
		write(t, filepath.Join(root, "w/many", strconv.Itoa(i)), "")
	}
	if _, err := w.Poll(); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("over the entry cap: %v", err)
	}
	os.RemoveAll(filepath.Join(root, "w"))
	if _, err := w.Poll(); !errors.Is(err, ErrWatchGone) {
		t.Fatalf("after removal: %v", err)
	}
	if _, err := f.Watch(".", "w"); err == nil {
		t.Fatal("watched a missing directory")
	}
}

// TestWatchScanOfRemovedDir: a directory removed between Poll's check and
// its scan shows as not existing, which Poll reports as ErrWatchGone.
func TestWatchScanOfRemovedDir(t *testing.T) {
	f, root, _ := newFS(t, Options{MaxWatchEntries: 5})
	write(t, filepath.Join(root, "w/a"), "1")
	w, err := f.Watch(".", "w")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	os.RemoveAll(filepath.Join(root, "w"))
	if _, err := w.scan(); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("scan of a removed directory: %v", err)
	}
}

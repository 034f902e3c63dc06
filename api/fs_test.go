package api_test

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/agentd-dev/agentd/api"
	"github.com/agentd-dev/agentd/internal/process"
	"github.com/agentd-dev/agentd/internal/terminal"
	"github.com/agentd-dev/agentd/internal/workspace"
)

// sandbox is a test daemon with the file, process and terminal services
// over a fresh root, and a sibling directory that must stay out of reach.
type sandbox struct {
	*testServer
	root, outside string
	procs         *process.Service
	terms         *terminal.Service
}

func newSandbox(t *testing.T, fsOpts workspace.Options, deps ...func(*api.Deps)) *sandbox {
	t.Helper()
	dir := t.TempDir()
	sb := &sandbox{root: filepath.Join(dir, "root"), outside: filepath.Join(dir, "outside")}
	for _, d := range []string{sb.root, sb.outside} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(sb.outside, "secret"), []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	fsOpts.Root = sb.root
	if fsOpts.WatchInterval == 0 {
		fsOpts.WatchInterval = 10 * time.Millisecond
	}
	ws, err := workspace.New(fsOpts)
	if err != nil {
		t.Fatal(err)
	}
	sb.procs, err = process.New(process.Options{Dir: filepath.Join(dir, "processes"), Grace: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	sb.terms = terminal.New(terminal.Options{Grace: 200 * time.Millisecond,
		Environ: func() []string { return []string{"PATH=/usr/bin:/bin", "HOME=" + dir, "PS1=$ "} }})
	// Registered before the server's cleanup, so it runs after it.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLong)
		defer cancel()
		sb.terms.Shutdown(ctx)
		sb.procs.Shutdown(ctx)
		ws.Close()
	})
	sb.testServer = newTestServer(t, append([]func(*api.Deps){func(d *api.Deps) {
		d.Workspace, d.Processes, d.Terminals = ws, sb.procs, sb.terms
	}}, deps...)...)
	return sb
}

func (sb *sandbox) path(p string) string { return filepath.Join(sb.root, p) }

func q(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return "?" + v.Encode()
}

func decodeJSON[T any](t *testing.T, res response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(res.Body, &v); err != nil {
		t.Fatalf("decode %T: %v\n%s", v, err, res.Body)
	}
	return v
}

func (sb *sandbox) must(t *testing.T, ctx context.Context, status int, method, path, body string, header ...string) response {
	t.Helper()
	res := sb.request(t, ctx, method, path, body, header...)
	if res.Status != status {
		t.Fatalf("%s %s: status %d, want %d; body %s", method, path, res.Status, status, res.Body)
	}
	return res
}

var modifiedFormat = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00$`)

// TestFsRoutes walks every reference route once with the reference's
// request and response shapes.
func TestFsRoutes(t *testing.T) {
	ctx := testCtx(t)
	sb := newSandbox(t, workspace.Options{})

	w := decodeJSON[map[string]any](t, sb.must(t, ctx, 200, http.MethodPut, "/v1/fs/file"+q("path", "dir/a.txt"), "hello", "Content-Type", "application/octet-stream"))
	if w["path"] != sb.path("dir/a.txt") || w["bytesWritten"] != float64(5) || len(w) != 2 {
		t.Fatalf("write response %v", w)
	}
	entries := decodeJSON[[]map[string]any](t, sb.must(t, ctx, 200, http.MethodGet, "/v1/fs/entries"+q("path", "dir"), ""))
	if len(entries) != 1 || entries[0]["name"] != "a.txt" || entries[0]["path"] != sb.path("dir/a.txt") ||
		entries[0]["entryType"] != "file" || entries[0]["size"] != float64(5) || !modifiedFormat.MatchString(entries[0]["modified"].(string)) {
		t.Fatalf("entries %v", entries)
	}
	// path defaults to "." (the root).
	root := decodeJSON[[]map[string]any](t, sb.must(t, ctx, 200, http.MethodGet, "/v1/fs/entries", ""))
	if len(root) != 1 || root[0]["entryType"] != "directory" {
		t.Fatalf("root entries %v", root)
	}
	st := decodeJSON[map[string]any](t, sb.must(t, ctx, 200, http.MethodGet, "/v1/fs/stat"+q("path", sb.path("dir")), ""))
	if st["path"] != sb.path("dir") || st["entryType"] != "directory" || !modifiedFormat.MatchString(st["modified"].(string)) {
		t.Fatalf("stat %v", st)
	}
	read := sb.must(t, ctx, 200, http.MethodGet, "/v1/fs/file"+q("path", "dir/a.txt"), "")
	if string(read.Body) != "hello" || read.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("read %q %q", read.Body, read.Header.Get("Content-Type"))
	}
	mk := decodeJSON[map[string]any](t, sb.must(t, ctx, 200, http.MethodPost, "/v1/fs/mkdir"+q("path", "x/y"), ""))
	if mk["path"] != sb.path("x/y") {
		t.Fatalf("mkdir %v", mk)
	}
	mv := decodeJSON[map[string]any](t, sb.must(t, ctx, 200, http.MethodPost, "/v1/fs/move", `{"from":"dir/a.txt","to":"x/y/b.txt"}`))
	if mv["from"] != sb.path("dir/a.txt") || mv["to"] != sb.path("x/y/b.txt") {
		t.Fatalf("move %v", mv)
	}
	sb.must(t, ctx, 200, http.MethodPut, "/v1/fs/file"+q("path", "c.txt"), "c")
	checkProblem(t, sb.request(t, ctx, http.MethodPost, "/v1/fs/move", `{"from":"c.txt","to":"x/y/b.txt"}`),
		invalidRequest("destination already exists: "+sb.path("x/y/b.txt")))
	sb.must(t, ctx, 200, http.MethodPost, "/v1/fs/move", `{"from":"c.txt","to":"x/y/b.txt","overwrite":true}`)
	if b, _ := os.ReadFile(sb.path("x/y/b.txt")); string(b) != "c" {
		t.Fatalf("after overwrite: %q", b)
	}
	checkProblem(t, sb.request(t, ctx, http.MethodDelete, "/v1/fs/entry"+q("path", "x"), ""),
		invalidRequest("directory not empty: "+sb.path("x")+" (pass recursive=true)"))
	del := decodeJSON[map[string]any](t, sb.must(t, ctx, 200, http.MethodDelete, "/v1/fs/entry"+q("path", "x", "recursive", "true"), ""))
	if del["path"] != sb.path("x") {
		t.Fatalf("delete %v", del)
	}
	if _, err := os.Stat(sb.path("x")); !os.IsNotExist(err) {
		t.Fatal("x survived its recursive delete")
	}

	// Errors: missing path → 400 (the query does not parse), not found →
	// 400 as in the reference, not a directory / not a file → 400.
	res := sb.request(t, ctx, http.MethodGet, "/v1/fs/file", "")
	if res.Status != 400 {
		t.Fatalf("missing path: %d %s", res.Status, res.Body)
	}
	checkProblem(t, sb.request(t, ctx, http.MethodGet, "/v1/fs/stat"+q("path", "nope"), ""), invalidRequest("path not found: "+sb.path("nope")))
	checkProblem(t, sb.request(t, ctx, http.MethodGet, "/v1/fs/file"+q("path", "dir"), ""), invalidRequest("path is not a file: "+sb.path("dir")))
	checkProblem(t, sb.request(t, ctx, http.MethodGet, "/v1/fs/entries"+q("path", "x/y/b.txt"), ""), invalidRequest("path not found: "+sb.path("x/y/b.txt")))
	checkProblem(t, sb.request(t, ctx, http.MethodDelete, "/v1/fs/entry"+q("path", "."), ""), invalidRequest("refusing to delete the root directory "+sb.root))
}

func TestFsSessionDirectory(t *testing.T) {
	ctx := testCtx(t)
	sb := newSandbox(t, workspace.Options{})
	os.Mkdir(sb.path("proj"), 0o755)
	sb.must(t, ctx, 200, http.MethodPost, "/v1/sessions/s1", mustJSON(map[string]string{"agent": "mock", "directory": sb.path("proj")}))
	sb.must(t, ctx, 200, http.MethodPost, "/v1/sessions/s2", mustJSON(map[string]string{"agent": "mock", "directory": sb.outside}))
	sb.must(t, ctx, 200, http.MethodPost, "/v1/sessions/s3", `{"agent":"mock"}`)
	for _, name := range []string{"session_id", "sessionId"} {
		res := decodeJSON[map[string]any](t, sb.must(t, ctx, 200, http.MethodPut, "/v1/fs/file"+q("path", name+".txt", name, "s1"), "x"))
		if res["path"] != sb.path("proj/"+name+".txt") {
			t.Fatalf("%s: wrote %v", name, res["path"])
		}
	}
	// A session without a directory resolves against the root.
	res := decodeJSON[map[string]any](t, sb.must(t, ctx, 200, http.MethodGet, "/v1/fs/stat"+q("path", "proj", "session_id", "s3"), ""))
	if res["path"] != sb.path("proj") {
		t.Fatalf("stat %v", res)
	}
	// Absolute paths ignore the session.
	sb.must(t, ctx, 200, http.MethodGet, "/v1/fs/stat"+q("path", sb.path("proj/sessionId.txt"), "session_id", "s1"), "")
	checkProblem(t, sb.request(t, ctx, http.MethodGet, "/v1/fs/entries"+q("session_id", "nope"), ""), sessionNotFound("nope"))
	res2 := sb.request(t, ctx, http.MethodGet, "/v1/fs/entries"+q("session_id", "s2"), "")
	if res2.Status != 400 || !strings.Contains(string(res2.Body), "outside the root") {
		t.Fatalf("session directory outside the root: %d %s", res2.Status, res2.Body)
	}
}

// TestFsEscapes tries every way out of the root on every route: each is a
// 400 invalid_request, and nothing outside changes.
func TestFsEscapes(t *testing.T) {
	ctx := testCtx(t)
	sb := newSandbox(t, workspace.Options{})
	os.Symlink(sb.outside, sb.path("out"))
	os.Symlink(filepath.Join(sb.outside, "secret"), sb.path("secret-link"))
	os.WriteFile(sb.path("victim"), []byte("v"), 0o644)
	escapes := map[string]string{
		"dotdot":           "../outside/secret",
		"nested dotdot":    "a/../../outside/secret",
		"absolute outside": filepath.Join(sb.outside, "secret"),
		"absolute dotdot":  sb.root + "/../outside/secret",
		"etc":              "/etc/passwd",
		"symlink dir out":  "out/secret",
		"symlink file out": "secret-link",
	}
	for name, p := range escapes {
		t.Run(name, func(t *testing.T) {
			for _, call := range []struct {
				method, path, body string
				nameOnly           bool // acts on the last component itself, not on what it links to
			}{
				{http.MethodGet, "/v1/fs/file" + q("path", p), "", false},
				{http.MethodPut, "/v1/fs/file" + q("path", p), "pwned", false},
				{http.MethodGet, "/v1/fs/stat" + q("path", p), "", false},
				{http.MethodGet, "/v1/fs/entries" + q("path", p), "", false},
				{http.MethodDelete, "/v1/fs/entry" + q("path", p, "recursive", "true"), "", true},
				{http.MethodPost, "/v1/fs/mkdir" + q("path", p+"-dir"), "", true},
				{http.MethodPost, "/v1/fs/move", mustJSON(map[string]string{"from": p, "to": "stolen"}), true},
				{http.MethodPost, "/v1/fs/move", mustJSON(map[string]string{"from": "victim", "to": p + "-moved"}), true},
				{http.MethodGet, "/v1/fs/archive" + q("path", p), "", false},
				{http.MethodGet, "/v1/fs/watch" + q("path", p), "", false},
			} {
				if name == "symlink file out" && call.nameOnly {
					continue // deleting, moving or naming beside the link itself is fine
				}
				res := sb.request(t, ctx, call.method, call.path, call.body)
				if res.Status != http.StatusBadRequest || !strings.Contains(string(res.Body), "invalid_request") {
					t.Errorf("%s %s: status %d %s", call.method, call.path, res.Status, res.Body)
				}
			}
		})
	}
	if b, _ := os.ReadFile(filepath.Join(sb.outside, "secret")); string(b) != "secret" {
		t.Fatal("the outside file changed")
	}
	if b, _ := os.ReadFile(sb.path("victim")); string(b) != "v" {
		t.Fatal("the victim file moved")
	}
	if ents, _ := os.ReadDir(sb.outside); len(ents) != 1 {
		t.Fatalf("outside now holds %v", ents)
	}
	// The messages say why.
	checkProblem(t, sb.request(t, ctx, http.MethodGet, "/v1/fs/file"+q("path", "../x"), ""), invalidRequest("invalid relative path: ../x"))
	checkProblem(t, sb.request(t, ctx, http.MethodGet, "/v1/fs/file"+q("path", "/etc/passwd"), ""), invalidRequest("path /etc/passwd is outside the root "+sb.root))
	checkProblem(t, sb.request(t, ctx, http.MethodGet, "/v1/fs/file"+q("path", "out/secret"), ""),
		invalidRequest("path escapes the root "+sb.root+" (through a symlink?): "+sb.path("out/secret")))
}

func TestFsRangeAndContentType(t *testing.T) {
	ctx := testCtx(t)
	sb := newSandbox(t, workspace.Options{})
	png := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{0}, 100)...)
	os.WriteFile(sb.path("image"), png, 0o644)
	os.WriteFile(sb.path("data.json"), []byte(`{"a":1}`), 0o644)
	os.WriteFile(sb.path("digits"), []byte("0123456789"), 0o644)
	for p, want := range map[string]string{"image": "image/png", "data.json": "application/json", "digits": "text/plain; charset=utf-8"} {
		if ct := sb.must(t, ctx, 200, http.MethodGet, "/v1/fs/file"+q("path", p), "").Header.Get("Content-Type"); ct != want {
			t.Errorf("%s: content type %q, want %q", p, ct, want)
		}
	}
	res := sb.must(t, ctx, http.StatusPartialContent, http.MethodGet, "/v1/fs/file"+q("path", "digits"), "", "Range", "bytes=2-5")
	if string(res.Body) != "2345" || res.Header.Get("Content-Range") != "bytes 2-5/10" {
		t.Fatalf("range: %q %q", res.Body, res.Header.Get("Content-Range"))
	}
	res = sb.must(t, ctx, http.StatusPartialContent, http.MethodGet, "/v1/fs/file"+q("path", "digits"), "", "Range", "bytes=-3")
	if string(res.Body) != "789" {
		t.Fatalf("suffix range: %q", res.Body)
	}
	sb.must(t, ctx, http.StatusRequestedRangeNotSatisfiable, http.MethodGet, "/v1/fs/file"+q("path", "digits"), "", "Range", "bytes=20-30")
	lm := sb.must(t, ctx, 200, http.MethodGet, "/v1/fs/file"+q("path", "digits"), "").Header.Get("Last-Modified")
	sb.must(t, ctx, http.StatusNotModified, http.MethodGet, "/v1/fs/file"+q("path", "digits"), "", "If-Modified-Since", lm)
}

// TestFsWriteCaps: an oversized write is a 413, whether announced or not,
// and leaves neither the file nor a temporary behind; a big write within
// the cap streams through.
func TestFsWriteCaps(t *testing.T) {
	ctx := testCtx(t)
	sb := newSandbox(t, workspace.Options{MaxWriteBytes: 1 << 20})
	os.WriteFile(sb.path("keep"), []byte("old"), 0o644)
	res := sb.request(t, ctx, http.MethodPut, "/v1/fs/file"+q("path", "keep"), strings.Repeat("x", 1<<20+1))
	checkProblem(t, res, frameworkError(413, "file of 1048577 bytes is over the 1048576-byte limit"))
	// Unannounced length (chunked): found while streaming.
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, sb.URL+"/v1/fs/file"+q("path", "keep"), io.MultiReader(strings.NewReader(strings.Repeat("y", 1<<20)), strings.NewReader("!")))
	req.ContentLength = -1
	resp, err := sb.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Fatalf("chunked oversized write: %d", resp.StatusCode)
	}
	if b, _ := os.ReadFile(sb.path("keep")); string(b) != "old" {
		t.Fatalf("file is now %q", b)
	}
	if ents, _ := os.ReadDir(sb.root); len(ents) != 1 {
		t.Fatalf("left behind: %v", ents)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	sb.must(t, ctx, 200, http.MethodPut, "/v1/fs/file"+q("path", "big"), string(big))
	if got := sb.must(t, ctx, 200, http.MethodGet, "/v1/fs/file"+q("path", "big"), "").Body; !bytes.Equal(got, big) {
		t.Fatal("big file round trip differs")
	}
}

func tarOf(t *testing.T, gz bool, entries ...*tar.Header) string {
	t.Helper()
	var buf bytes.Buffer
	var w io.Writer = &buf
	zw := gzip.NewWriter(&buf)
	if gz {
		w = zw
	}
	tw := tar.NewWriter(w)
	for _, h := range entries {
		body := h.Linkname
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(body))
			h.Linkname = ""
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			io.WriteString(tw, body)
		}
	}
	tw.Close()
	zw.Close()
	return buf.String()
}

// file is a regular entry whose content rides in Linkname (see tarOf).
func file(name, content string) *tar.Header {
	return &tar.Header{Name: name, Typeflag: tar.TypeReg, Linkname: content}
}

func TestFsUploadBatch(t *testing.T) {
	ctx := testCtx(t)
	sb := newSandbox(t, workspace.Options{MaxUploadEntries: 5})
	for _, tc := range []struct {
		name, ct string
		gz       bool
	}{{"tar", "application/x-tar", false}, {"tar.gz", "application/gzip", true}, {"tar.gz sent as x-tar", "application/x-tar", true}} {
		dest := strings.ReplaceAll(tc.name, " ", "_")
		body := tarOf(t, tc.gz, &tar.Header{Name: "d/", Typeflag: tar.TypeDir, Mode: 0o755}, file("d/a.txt", "A"), file("b.txt", "B"))
		res := decodeJSON[map[string]any](t, sb.must(t, ctx, 200, http.MethodPost, "/v1/fs/upload-batch"+q("path", dest), body, "Content-Type", tc.ct))
		want := []any{sb.path(dest + "/d"), sb.path(dest + "/d/a.txt"), sb.path(dest + "/b.txt")}
		if fmt.Sprint(res["paths"]) != fmt.Sprint(want) || res["truncated"] != false {
			t.Fatalf("%s: %v", tc.name, res)
		}
		if b, _ := os.ReadFile(sb.path(dest + "/d/a.txt")); string(b) != "A" {
			t.Fatalf("%s: a.txt = %q", tc.name, b)
		}
	}
	checkProblem(t, sb.request(t, ctx, http.MethodPost, "/v1/fs/upload-batch", tarOf(t, false, file("x", "x")), "Content-Type", "application/octet-stream"),
		invalidRequest(`content-type must be application/x-tar (or application/gzip for a tar.gz), got "application/octet-stream"`))
	for name, entries := range map[string][]*tar.Header{
		"tar-slip through a symlink": {{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "../outside"}, file("l/secret", "pwned")},
		"dotdot":                     {file("../outside/secret", "pwned")},
		"absolute":                   {file(filepath.Join(sb.outside, "secret"), "pwned")},
		"hard link out":              {{Name: "h", Typeflag: tar.TypeLink, Linkname: "../outside/secret"}},
		"device":                     {{Name: "null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3}},
		"fifo":                       {{Name: "p", Typeflag: tar.TypeFifo}},
	} {
		res := sb.request(t, ctx, http.MethodPost, "/v1/fs/upload-batch", tarOf(t, false, entries...), "Content-Type", "application/x-tar")
		if res.Status != 400 || !strings.Contains(string(res.Body), "invalid_request") {
			t.Errorf("%s: %d %s", name, res.Status, res.Body)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(sb.outside, "secret")); string(b) != "secret" {
		t.Fatal("the outside file changed")
	}
	var many []*tar.Header
	for i := range 6 {
		many = append(many, file(fmt.Sprintf("m/%d", i), ""))
	}
	res := sb.request(t, ctx, http.MethodPost, "/v1/fs/upload-batch", tarOf(t, true, many...), "Content-Type", "application/gzip")
	checkProblem(t, res, frameworkError(413, "archive has more than 5 entries"))
}

func TestFsArchiveRoundTrip(t *testing.T) {
	ctx := testCtx(t)
	sb := newSandbox(t, workspace.Options{})
	os.MkdirAll(sb.path("proj/src"), 0o755)
	os.WriteFile(sb.path("proj/src/main.go"), []byte("package main\n"), 0o644)
	os.WriteFile(sb.path("proj/run.sh"), []byte("#!/bin/sh\n"), 0o755)
	os.Symlink("src/main.go", sb.path("proj/link"))

	res := sb.must(t, ctx, 200, http.MethodGet, "/v1/fs/archive"+q("path", "proj"), "")
	if res.Header.Get("Content-Type") != "application/gzip" || res.Header.Get("Content-Disposition") != `attachment; filename=proj.tar.gz` {
		t.Fatalf("headers %v", res.Header)
	}
	up := decodeJSON[map[string]any](t, sb.must(t, ctx, 200, http.MethodPost, "/v1/fs/upload-batch"+q("path", "copy"), string(res.Body), "Content-Type", "application/gzip"))
	if len(up["paths"].([]any)) != 4 {
		t.Fatalf("upload %v", up)
	}
	for _, name := range []string{"src/main.go", "run.sh", "link"} {
		want, _ := os.ReadFile(sb.path("proj/" + name))
		got, err := os.ReadFile(sb.path("copy/" + name))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: %q %v", name, got, err)
		}
	}
	if info, _ := os.Stat(sb.path("copy/run.sh")); info.Mode().Perm() != 0o755 {
		t.Fatalf("mode %v", info.Mode())
	}

	res = sb.must(t, ctx, 200, http.MethodGet, "/v1/fs/archive"+q("path", "proj", "format", "zip"), "")
	zr, err := zip.NewReader(bytes.NewReader(res.Body), int64(len(res.Body)))
	if err != nil || res.Header.Get("Content-Type") != "application/zip" {
		t.Fatalf("zip: %v %q", err, res.Header.Get("Content-Type"))
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	if fmt.Sprint(names) != "[link run.sh src/ src/main.go]" {
		t.Fatalf("zip entries %v", names)
	}
	if res := sb.request(t, ctx, http.MethodGet, "/v1/fs/archive"+q("path", "proj", "format", "rar"), ""); res.Status != 400 && res.Status != 422 {
		t.Fatalf("unknown format: %d", res.Status)
	}
}

func TestFsArchiveCap(t *testing.T) {
	ctx := testCtx(t)
	sb := newSandbox(t, workspace.Options{MaxArchiveEntries: 2})
	for i := range 3 {
		os.WriteFile(sb.path(fmt.Sprint(i)), nil, 0o644)
	}
	checkProblem(t, sb.request(t, ctx, http.MethodGet, "/v1/fs/archive", ""), frameworkError(413, "directory has more than 2 entries"))
}

// namedFrame is one SSE frame with its event name.
type namedFrame struct {
	Event, ID, Data string
}

// namedStream reads SSE frames with event names.
type namedStream struct {
	res *http.Response
	r   *bufio.Reader
}

func (sb *sandbox) openNamed(t *testing.T, ctx context.Context, path string, header ...string) *namedStream {
	t.Helper()
	res := sb.open(t, ctx, http.MethodGet, path, "", header...)
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		t.Fatalf("GET %s: %d %q %s", path, res.StatusCode, res.Header.Get("Content-Type"), b)
	}
	s := &namedStream{res: res, r: bufio.NewReader(res.Body)}
	t.Cleanup(func() { res.Body.Close() })
	return s
}

// next returns the next frame with data; io.EOF at the stream's end.
func (s *namedStream) next() (namedFrame, error) {
	var f namedFrame
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			if f.Data != "" {
				return f, io.ErrUnexpectedEOF
			}
			return f, err
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			if f.Data != "" {
				return f, nil
			}
			f = namedFrame{}
			continue
		}
		name, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch name {
		case "event":
			f.Event = value
		case "id":
			f.ID = value
		case "data":
			f.Data += value
		}
	}
}

func (s *namedStream) must(t *testing.T) namedFrame {
	t.Helper()
	f, err := s.next()
	if err != nil {
		t.Fatalf("read SSE frame: %v", err)
	}
	return f
}

// expectEnd reads to the end of the stream and fails on any data frame.
func (s *namedStream) expectEnd(t *testing.T) {
	t.Helper()
	if f, err := s.next(); !errors.Is(err, io.EOF) {
		t.Fatalf("stream went on: %+v %v", f, err)
	}
}

func TestFsWatch(t *testing.T) {
	ctx := testCtx(t)
	sb := newSandbox(t, workspace.Options{})
	os.MkdirAll(sb.path("w/sub"), 0o755)
	os.WriteFile(sb.path("w/old"), []byte("1"), 0o644)
	s := sb.openNamed(t, ctx, "/v1/fs/watch"+q("path", "w"))
	if f := s.must(t); f.Event != "ready" || !jsonSame(f.Data, map[string]any{"path": sb.path("w"), "entries": 2}) {
		t.Fatalf("first frame %+v", f)
	}
	expect := func(want ...map[string]string) {
		t.Helper()
		for _, w := range want {
			f := s.must(t)
			if f.Event != "change" || !jsonSame(f.Data, w) {
				t.Fatalf("frame %+v, want change %v", f, w)
			}
		}
	}
	sb.must(t, ctx, 200, http.MethodPut, "/v1/fs/file"+q("path", "w/sub/new.txt"), "x")
	expect(map[string]string{"entryType": "file", "path": sb.path("w/sub/new.txt"), "type": "created"})
	sb.must(t, ctx, 200, http.MethodPut, "/v1/fs/file"+q("path", "w/old"), "22")
	expect(map[string]string{"entryType": "file", "path": sb.path("w/old"), "type": "modified"})
	sb.must(t, ctx, 200, http.MethodDelete, "/v1/fs/entry"+q("path", "w/sub", "recursive", "true"), "")
	expect(map[string]string{"entryType": "directory", "path": sb.path("w/sub"), "type": "deleted"},
		map[string]string{"entryType": "file", "path": sb.path("w/sub/new.txt"), "type": "deleted"})
	sb.must(t, ctx, 200, http.MethodDelete, "/v1/fs/entry"+q("path", "w", "recursive", "true"), "")
	expect(map[string]string{"entryType": "file", "path": sb.path("w/old"), "type": "deleted"})
	if f := s.must(t); f.Event != "error" || !strings.Contains(f.Data, "removed") {
		t.Fatalf("after removal: %+v", f)
	}
	s.expectEnd(t)
}

func TestFsWatchCap(t *testing.T) {
	ctx := testCtx(t)
	sb := newSandbox(t, workspace.Options{MaxWatchEntries: 2})
	for i := range 3 {
		os.WriteFile(sb.path(fmt.Sprint(i)), nil, 0o644)
	}
	checkProblem(t, sb.request(t, ctx, http.MethodGet, "/v1/fs/watch", ""), frameworkError(413, "more than 2 entries under the watched directory"))
}

// jsonSame reports whether the JSON text holds the same value as v.
func jsonSame(text string, v any) bool {
	var a, b any
	if json.Unmarshal([]byte(text), &a) != nil {
		return false
	}
	_ = json.Unmarshal([]byte(mustJSON(v)), &b)
	return fmt.Sprint(a) == fmt.Sprint(b)
}

// benchSandbox serves the file, process and terminal APIs over a fresh
// root for benchmarks (no sessions).
func benchSandbox(b *testing.B, deps ...func(*api.Deps)) (string, *http.Client) {
	b.Helper()
	dir := b.TempDir()
	ws, err := workspace.New(workspace.Options{Root: dir})
	if err != nil {
		b.Fatal(err)
	}
	procs, err := process.New(process.Options{Dir: filepath.Join(b.TempDir(), "p")})
	if err != nil {
		b.Fatal(err)
	}
	terms := terminal.New(terminal.Options{})
	done := make(chan struct{})
	d := api.Deps{Workspace: ws, Processes: procs, Terminals: terms, Done: done}
	for _, f := range deps {
		f(&d)
	}
	h, _ := api.New(d)
	srv := httptest.NewServer(h)
	b.Cleanup(func() {
		close(done)
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), waitLong)
		defer cancel()
		terms.Shutdown(ctx)
		procs.Shutdown(ctx)
		ws.Close()
	})
	return srv.URL, srv.Client()
}

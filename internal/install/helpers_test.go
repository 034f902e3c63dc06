package install

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha512"
	"debug/elf"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// tarEntry describes one entry of a test tarball.
type tarEntry struct {
	name string
	typ  byte // tar.TypeReg when 0
	body string
	mode int64 // 0644 when 0
	link string
}

func makeTar(t testing.TB, entries []tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Linkname: e.link, Format: tar.FormatPAX}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatalf("tar header %q: %v", e.name, err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func makeTgz(t testing.TB, entries []tarEntry) []byte { return gz(t, makeTar(t, entries)) }

func sri(b []byte) string {
	s := sha512.Sum512(b)
	return "sha512-" + base64.StdEncoding.EncodeToString(s[:])
}

// fakeELF builds the smallest ELF64 file debug/elf accepts with a PT_INTERP
// naming interp ("" for a static binary without one).
func fakeELF(interp string, machine elf.Machine) []byte {
	var buf bytes.Buffer
	phnum := uint16(0)
	if interp != "" {
		phnum = 1
	}
	h := elf.Header64{
		Type: uint16(elf.ET_EXEC), Machine: uint16(machine), Version: uint32(elf.EV_CURRENT),
		Phoff: 64, Ehsize: 64, Phentsize: 56, Phnum: phnum, Shentsize: 64,
	}
	copy(h.Ident[:], elf.ELFMAG)
	h.Ident[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	h.Ident[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	h.Ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	binary.Write(&buf, binary.LittleEndian, h)
	if interp != "" {
		n := uint64(len(interp) + 1)
		binary.Write(&buf, binary.LittleEndian, elf.Prog64{
			Type: uint32(elf.PT_INTERP), Flags: uint32(elf.PF_R), Off: 64 + 56, Filesz: n, Memsz: n, Align: 1,
		})
		buf.WriteString(interp)
		buf.WriteByte(0)
	}
	return buf.Bytes()
}

// fakePkg is one version of a package served by fakeRegistry.
type fakePkg struct {
	tgz       []byte
	integrity string // as served; set by add to the tarball's sri
}

// fakeRegistry plays the npm registry: version documents at
// /<escaped name>/<version>, dist-tags at /-/package/<name>/dist-tags,
// packuments at /<escaped name>, tarballs at /tarballs/<n>.tgz.
type fakeRegistry struct {
	t   testing.TB
	srv *httptest.Server

	mu       sync.Mutex
	pkgs     map[string]map[string]*fakePkg // name → version → package
	tags     map[string]map[string]string
	tarballs map[string]*fakePkg // "/tarballs/3.tgz" → package
	uris     []string            // RequestURIs in order
	tarHits  int

	noDistTagsEndpoint bool
	// tarballHook, if set, serves tarball requests instead of the default
	// handler when it returns true.
	tarballHook func(w http.ResponseWriter, r *http.Request, p *fakePkg) bool
}

func newFakeRegistry(t testing.TB) *fakeRegistry {
	fr := &fakeRegistry{t: t, pkgs: map[string]map[string]*fakePkg{}, tags: map[string]map[string]string{},
		tarballs: map[string]*fakePkg{}}
	fr.srv = httptest.NewServer(http.HandlerFunc(fr.serve))
	t.Cleanup(fr.srv.Close)
	return fr
}

func (fr *fakeRegistry) add(name, version string, tgz []byte) *fakePkg {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	p := &fakePkg{tgz: tgz, integrity: sri(tgz)}
	if fr.pkgs[name] == nil {
		fr.pkgs[name] = map[string]*fakePkg{}
	}
	fr.pkgs[name][version] = p
	fr.tarballs[fmt.Sprintf("/tarballs/%d.tgz", len(fr.tarballs))] = p
	return p
}

func (fr *fakeRegistry) setHook(h func(w http.ResponseWriter, r *http.Request, p *fakePkg) bool) {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	fr.tarballHook = h
}

func (fr *fakeRegistry) setTag(name, tag, version string) {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	if fr.tags[name] == nil {
		fr.tags[name] = map[string]string{}
	}
	fr.tags[name][tag] = version
}

func (fr *fakeRegistry) tarballPath(p *fakePkg) string {
	for k, v := range fr.tarballs {
		if v == p {
			return k
		}
	}
	fr.t.Fatalf("tarball not registered")
	return ""
}

func (fr *fakeRegistry) tarballRequests() int {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	return fr.tarHits
}

func (fr *fakeRegistry) requests() []string {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	return append([]string(nil), fr.uris...)
}

func (fr *fakeRegistry) serve(w http.ResponseWriter, r *http.Request) {
	fr.mu.Lock()
	fr.uris = append(fr.uris, r.RequestURI)
	raw := strings.TrimPrefix(r.URL.EscapedPath(), "/")
	switch {
	case strings.HasPrefix(raw, "tarballs/"):
		p := fr.tarballs["/"+raw]
		fr.tarHits++
		hook := fr.tarballHook
		fr.mu.Unlock()
		if p == nil {
			http.NotFound(w, r)
			return
		}
		if hook != nil && hook(w, r, p) {
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(p.tgz)))
		w.Write(p.tgz)
		return
	case strings.HasPrefix(raw, "-/package/") && strings.HasSuffix(raw, "/dist-tags"):
		name, _ := url.PathUnescape(strings.TrimSuffix(strings.TrimPrefix(raw, "-/package/"), "/dist-tags"))
		tags, ok := fr.tags[name]
		no := fr.noDistTagsEndpoint
		fr.mu.Unlock()
		if no || !ok {
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode(tags)
		return
	}
	segs := strings.Split(raw, "/")
	name, _ := url.PathUnescape(segs[0])
	versions, ok := fr.pkgs[name]
	if !ok {
		fr.mu.Unlock()
		http.NotFound(w, r)
		return
	}
	doc := func(v string, p *fakePkg) map[string]any {
		return map[string]any{"name": name, "version": v, "dist": map[string]any{
			"tarball": fr.srv.URL + fr.tarballPath(p), "integrity": p.integrity, "shasum": "ignored"}}
	}
	var out any
	switch len(segs) {
	case 1:
		vs := map[string]any{}
		for v, p := range versions {
			vs[v] = doc(v, p)
		}
		out = map[string]any{"name": name, "dist-tags": fr.tags[name], "versions": vs}
	case 2:
		p, ok := versions[segs[1]]
		if !ok {
			fr.mu.Unlock()
			http.NotFound(w, r)
			return
		}
		out = doc(segs[1], p)
	default:
		fr.mu.Unlock()
		http.NotFound(w, r)
		return
	}
	fr.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

var linuxX64 = Platform{OS: "linux", Arch: "x64", Libc: Glibc}

type testEnv map[string]string

func (e testEnv) get(k string) string { return e[k] }

// newTestInstaller makes an Installer on a fresh DataDir talking to fr, on
// linux-x64 glibc, with an empty environment and nothing on PATH.
func newTestInstaller(t testing.TB, fr *fakeRegistry, mods ...func(*Config)) *Installer {
	t.Helper()
	cfg := Config{
		DataDir:        t.TempDir(),
		Registry:       fr.srv.URL,
		HTTPClient:     fr.srv.Client(),
		Getenv:         testEnv{}.get,
		LookPath:       func(string) (string, error) { return "", exec.ErrNotFound },
		DetectPlatform: func() (Platform, error) { return linuxX64, nil },
	}
	for _, m := range mods {
		m(&cfg)
	}
	in, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// ampTgz is a small stand-in for the amp package: the binary is a shell
// script, stored without its exec bit (agentd sets it).
func ampTgz(t testing.TB, script string) []byte {
	return makeTgz(t, []tarEntry{
		{name: "package/package.json", body: `{"name":"@ampcode/cli-linux-x64"}`},
		{name: "package/amp", body: script, mode: 0o644},
		{name: "package/bin/helper", body: "#!/bin/sh\n", mode: 0o755},
		{name: "package/README.md", body: "readme"},
	})
}

// listTree returns the relative paths under dir, sorted, "" for none.
func listTree(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || p == dir {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		out = append(out, rel)
		return nil
	})
	return out
}

// assertNothingInstalled checks that the agent directory holds nothing: no
// version directory, no temporary directory.
func assertNothingInstalled(t testing.TB, in *Installer, agent string) {
	t.Helper()
	entries, err := os.ReadDir(in.agentDir(agent))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("left behind in %s: %s", in.agentDir(agent), e.Name())
	}
}

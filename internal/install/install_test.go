package install

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const ampVer = "0.0.1790142911-g7618fb"

func TestInstallHappyPath(t *testing.T) {
	fr := newFakeRegistry(t)
	tgz := ampTgz(t, "#!/bin/sh\necho hello-from-amp\n")
	fr.add("@ampcode/cli-linux-x64", ampVer, tgz)
	in := newTestInstaller(t, fr)

	var mu sync.Mutex
	var seen []Progress
	b, err := in.Install(context.Background(), Amp, "", false, func(p Progress) {
		mu.Lock()
		seen = append(seen, p)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	wantPath := filepath.Join(in.cfg.DataDir, "agents", "amp", ampVer, "amp")
	want := Binary{Agent: Amp, Path: wantPath, Version: ampVer, Source: SourceManaged, Package: "@ampcode/cli-linux-x64@" + ampVer}
	if b != want {
		t.Fatalf("Install = %+v\nwant      %+v", b, want)
	}
	out, err := exec.Command(b.Path).Output()
	if err != nil || string(out) != "hello-from-amp\n" {
		t.Fatalf("running the installed binary: %q, %v", out, err)
	}
	dir := filepath.Dir(wantPath)
	for name, wantMode := range map[string]os.FileMode{"amp": 0o755, "bin/helper": 0o755, "README.md": 0o644, "package.json": 0o644} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm() & 0o111; got != wantMode&0o111 {
			t.Errorf("%s: exec bits %o, want %o", name, got, wantMode&0o111)
		}
	}
	if got := listTree(t, in.agentDir(Amp)); !slices.Equal(got, []string{ampVer, ampVer + "/.agentd-install.json",
		ampVer + "/README.md", ampVer + "/amp", ampVer + "/bin", ampVer + "/bin/helper", ampVer + "/package.json"}) {
		t.Errorf("agent dir holds %q", got)
	}

	// Progress: phases in order, the download complete.
	mu.Lock()
	var phases []Phase
	var lastDl Progress
	for _, p := range seen {
		if len(phases) == 0 || phases[len(phases)-1] != p.Phase {
			phases = append(phases, p.Phase)
		}
		if p.Phase == PhaseDownloading {
			lastDl = p
		}
		if p.Agent != Amp || p.Version != ampVer || p.Package != "@ampcode/cli-linux-x64" {
			t.Errorf("progress names %s@%s %s", p.Agent, p.Version, p.Package)
		}
	}
	mu.Unlock()
	if !slices.Equal(phases, []Phase{PhaseResolving, PhaseDownloading, PhaseExtracting, PhaseDone}) {
		t.Errorf("phases %v", phases)
	}
	if lastDl.Downloaded != int64(len(tgz)) || lastDl.Total != int64(len(tgz)) {
		t.Errorf("last download progress %+v, want %d/%d", lastDl, len(tgz), len(tgz))
	}
	if final := seen[len(seen)-1]; final.Phase != PhaseDone || final.Downloaded != int64(len(tgz)) {
		t.Errorf("final progress %+v", final)
	}

	// Resolve finds it; a second Install does not download again; reinstall does.
	if r, err := in.Resolve(context.Background(), Amp); err != nil || r != want {
		t.Fatalf("Resolve = %+v, %v", r, err)
	}
	if _, err := in.Install(context.Background(), Amp, ampVer, false, nil); err != nil || fr.tarballRequests() != 1 {
		t.Fatalf("second Install: %v, %d tarball requests", err, fr.tarballRequests())
	}
	if r, err := in.Install(context.Background(), Amp, ampVer, true, nil); err != nil || r != want || fr.tarballRequests() != 2 {
		t.Fatalf("reinstall: %+v, %v, %d tarball requests", r, err, fr.tarballRequests())
	}
	if got := listTree(t, in.agentDir(Amp)); len(got) != 7 {
		t.Errorf("after reinstall the agent dir holds %q", got)
	}
}

func TestIntegrityRefused(t *testing.T) {
	tgz := ampTgz(t, "#!/bin/sh\n")
	cases := []struct {
		name, integrity string
		wantTarball     int
		wantMsg         string
	}{
		{"mismatch", sri([]byte("something else")), 1, "the tarball is sha512-"},
		{"missing", "", 0, "no sha512 integrity"},
		{"sha1 only", "sha1-" + strings.Repeat("A", 27) + "=", 0, "no sha512 integrity"},
		{"garbage", "sha512-!!!", 0, "no sha512 integrity"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fr := newFakeRegistry(t)
			fr.add("@ampcode/cli-linux-x64", ampVer, tgz).integrity = c.integrity
			in := newTestInstaller(t, fr)
			_, err := in.Install(context.Background(), Amp, "", false, nil)
			if !errors.Is(err, ErrIntegrity) || !strings.Contains(err.Error(), c.wantMsg) {
				t.Fatalf("err = %v, want ErrIntegrity with %q", err, c.wantMsg)
			}
			if n := fr.tarballRequests(); n != c.wantTarball {
				t.Errorf("%d tarball requests, want %d", n, c.wantTarball)
			}
			assertNothingInstalled(t, in, Amp)
			if _, err := in.Resolve(context.Background(), Amp); !errors.Is(err, ErrNotInstalled) {
				t.Errorf("Resolve after a refused install: %v", err)
			}
		})
	}
}

func TestIntegrityAcceptsAnyListedSHA512(t *testing.T) {
	fr := newFakeRegistry(t)
	tgz := ampTgz(t, "#!/bin/sh\n")
	fr.add("@ampcode/cli-linux-x64", ampVer, tgz).integrity = "sha1-x " + sri([]byte("other")) + " " + sri(tgz) + "?opt"
	if _, err := newTestInstaller(t, fr).Install(context.Background(), Amp, "", false, nil); err != nil {
		t.Fatal(err)
	}
}

// TestUnsafeTarballsRefused covers tar-slip and friends end to end: each
// tarball is validly signed, and still nothing may be installed nor written
// outside the install directory.
func TestUnsafeTarballsRefused(t *testing.T) {
	bin := tarEntry{name: "package/amp", body: "#!/bin/sh\n", mode: 0o755}
	cases := []struct {
		name    string
		entries []tarEntry
		want    string // in the error
	}{
		{"dotdot", []tarEntry{bin, {name: "../x", body: "evil"}}, `"../x": ".." in path`},
		{"dotdot inside", []tarEntry{bin, {name: "package/../../x", body: "evil"}}, `".." in path`},
		{"absolute", []tarEntry{bin, {name: "/abs", body: "evil"}}, `"/abs": absolute path`},
		{"symlink escaping then file through it", []tarEntry{bin,
			{name: "package/evil", typ: '2', link: "../../etc"}, {name: "package/evil/passwd", body: "evil"}},
			`"package/evil": symlink to "../../etc" leaves the package`},
		{"absolute symlink", []tarEntry{bin, {name: "package/etc", typ: '2', link: "/etc"}}, "symlink to absolute path"},
		{"file through an in-package symlink", []tarEntry{bin, {name: "package/sub/f", body: "x"},
			{name: "package/lnk", typ: '2', link: "sub"}, {name: "package/lnk/g", body: "x"}}, `parent "lnk" is a symlink`},
		{"chain of links escaping", []tarEntry{bin, {name: "package/d/l1", typ: '2', link: ".."},
			{name: "package/l2", typ: '2', link: "d/l1/.."}}, "resolves outside the package"},
		{"symlink loop", []tarEntry{bin, {name: "package/a", typ: '2', link: "b"}, {name: "package/b", typ: '2', link: "a"}}, "symlink loop"},
		{"hard link", []tarEntry{bin, {name: "package/h", typ: '1', link: "package/amp"}}, "hard link"},
		{"char device", []tarEntry{bin, {name: "package/null", typ: '3'}}, "device files are not allowed"},
		{"block device", []tarEntry{bin, {name: "package/sda", typ: '4'}}, "device files are not allowed"},
		{"fifo", []tarEntry{bin, {name: "package/p", typ: '6'}}, "fifos are not allowed"},
		{"duplicate", []tarEntry{bin, {name: "package/amp", body: "again", mode: 0o755}}, "duplicate entry"},
		{"overwrite via symlink", []tarEntry{{name: "package/amp", typ: '2', link: "x"}, {name: "package/amp", body: "y"}}, "duplicate entry"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fr := newFakeRegistry(t)
			fr.add("@ampcode/cli-linux-x64", ampVer, makeTgz(t, c.entries))
			in := newTestInstaller(t, fr)
			before := listTree(t, in.cfg.DataDir)
			_, err := in.Install(context.Background(), Amp, "", false, nil)
			if !errors.Is(err, ErrUnsafeArchive) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v\nwant ErrUnsafeArchive containing %q", err, c.want)
			}
			assertNothingInstalled(t, in, Amp)
			after := listTree(t, in.cfg.DataDir)
			if !slices.Equal(after, append(before, "agents", filepath.Join("agents", "amp"))) {
				t.Errorf("data dir before %q, after %q", before, after)
			}
		})
	}
}

func TestSafeSymlinkKept(t *testing.T) {
	fr := newFakeRegistry(t)
	fr.add("@ampcode/cli-linux-x64", ampVer, makeTgz(t, []tarEntry{
		{name: "package/real/amp", body: "#!/bin/sh\necho via-link\n", mode: 0o755},
		{name: "package/amp", typ: '2', link: "real/amp"},
		{name: "package/real/up", typ: '2', link: "../real"},
	}))
	b, err := newTestInstaller(t, fr).Install(context.Background(), Amp, "", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(b.Path).Output(); err != nil || string(out) != "via-link\n" {
		t.Fatalf("%q %v", out, err)
	}
}

func TestMissingBinaryRefused(t *testing.T) {
	fr := newFakeRegistry(t)
	fr.add("@ampcode/cli-linux-x64", ampVer, makeTgz(t, []tarEntry{{name: "package/README.md", body: "x"}}))
	in := newTestInstaller(t, fr)
	_, err := in.Install(context.Background(), Amp, "", false, nil)
	if !errors.Is(err, ErrBadPackage) || !strings.Contains(err.Error(), "no executable at amp") {
		t.Fatalf("err = %v", err)
	}
	assertNothingInstalled(t, in, Amp)
}

func TestSizeAndEntryCaps(t *testing.T) {
	big := makeTgz(t, []tarEntry{{name: "package/amp", body: strings.Repeat("x", 10000), mode: 0o755}})
	many := makeTgz(t, []tarEntry{{name: "package/amp", body: "#!/bin/sh\n", mode: 0o755},
		{name: "package/a"}, {name: "package/b"}, {name: "package/c"}})
	chunked := func(w http.ResponseWriter, r *http.Request, p *fakePkg) bool {
		w.Write(p.tgz[:len(p.tgz)/2]) // no Content-Length: the cap is hit while streaming
		w.(http.Flusher).Flush()
		w.Write(p.tgz[len(p.tgz)/2:])
		return true
	}
	cases := []struct {
		name string
		tgz  []byte
		hook func(http.ResponseWriter, *http.Request, *fakePkg) bool
		cfg  func(*Config)
		want string
	}{
		{"unpacked bytes", big, nil, func(c *Config) { c.MaxUnpackedBytes = 9999 }, "exceed the cap of 9999 bytes"},
		{"entries", many, nil, func(c *Config) { c.MaxEntries = 3 }, "over 3 entries"},
		{"download by length", big, nil, func(c *Config) { c.MaxDownloadBytes = int64(len(big) - 1) }, "cap is"},
		{"download streamed", big, chunked, func(c *Config) { c.MaxDownloadBytes = int64(len(big) - 1) }, "exceeds the cap"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fr := newFakeRegistry(t)
			fr.add("@ampcode/cli-linux-x64", ampVer, c.tgz)
			fr.setHook(c.hook)
			in := newTestInstaller(t, fr, c.cfg)
			_, err := in.Install(context.Background(), Amp, "", false, nil)
			if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want ErrTooLarge with %q", err, c.want)
			}
			assertNothingInstalled(t, in, Amp)
		})
	}
}

func TestConcurrentInstallsShareOneDownload(t *testing.T) {
	const n = 8
	fr := newFakeRegistry(t)
	fr.add("@ampcode/cli-linux-x64", ampVer, ampTgz(t, "#!/bin/sh\n"))
	release := make(chan struct{})
	fr.setHook(func(w http.ResponseWriter, r *http.Request, p *fakePkg) bool {
		<-release
		return false
	})
	in := newTestInstaller(t, fr)
	all := make(chan struct{})
	in.flights.joined = func(key string, waiters int) {
		if waiters == n {
			close(all)
		}
	}
	var wg sync.WaitGroup
	results := make([]Binary, n)
	errs := make([]error, n)
	progressCalls := make([]int, n)
	for i := range n {
		wg.Go(func() {
			results[i], errs[i] = in.Install(context.Background(), Amp, "", false, func(Progress) { progressCalls[i]++ })
		})
	}
	<-all // every caller waits on the one flight
	close(release)
	wg.Wait()
	for i := range n {
		if errs[i] != nil || results[i] != results[0] {
			t.Fatalf("caller %d: %+v, %v", i, results[i], errs[i])
		}
		if progressCalls[i] == 0 {
			t.Errorf("caller %d saw no progress", i)
		}
	}
	if got := fr.tarballRequests(); got != 1 {
		t.Fatalf("%d tarball downloads, want 1", got)
	}
	versionDocs := 0
	for _, u := range fr.requests() {
		if strings.HasSuffix(u, "/"+ampVer) {
			versionDocs++
		}
	}
	if versionDocs != 1 {
		t.Errorf("%d version document requests, want 1", versionDocs)
	}
}

// One caller giving up must not abort the download another still waits for;
// when the last one gives up, the install stops and leaves nothing.
func TestInstallCancellation(t *testing.T) {
	fr := newFakeRegistry(t)
	fr.add("@ampcode/cli-linux-x64", ampVer, ampTgz(t, "#!/bin/sh\n"))
	arrived := make(chan struct{}, 4)
	release := make(chan struct{})
	fr.setHook(func(w http.ResponseWriter, r *http.Request, p *fakePkg) bool {
		arrived <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
			return true
		}
		return false
	})
	in := newTestInstaller(t, fr)
	two := make(chan struct{}, 1)
	in.flights.joined = func(key string, waiters int) {
		if waiters == 2 {
			two <- struct{}{}
		}
	}

	impatient, cancelImpatient := context.WithCancel(context.Background())
	errc := make(chan error, 2)
	go func() { _, err := in.Install(impatient, Amp, "", false, nil); errc <- err }()
	go func() { _, err := in.Install(context.Background(), Amp, "", false, nil); errc <- err }()
	<-two
	<-arrived
	cancelImpatient()
	if err := <-errc; !errors.Is(err, context.Canceled) || !errors.Is(err, ErrDownload) {
		t.Fatalf("impatient caller: %v", err)
	}
	close(release)
	if err := <-errc; err != nil {
		t.Fatalf("patient caller: %v", err)
	}

	// Alone and cancelled: the download stops, nothing is left.
	in2 := newTestInstaller(t, fr)
	release2 := make(chan struct{})
	fr.setHook(func(w http.ResponseWriter, r *http.Request, p *fakePkg) bool {
		w.Header().Set("Content-Length", fmt.Sprint(len(p.tgz)))
		w.Write(p.tgz[:10])
		w.(http.Flusher).Flush()
		close(release2)
		<-r.Context().Done()
		return true
	})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-release2; cancel() }()
	_, err := in2.Install(ctx, Amp, "", false, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled install: %v", err)
	}
	in2.Wait()
	assertNothingInstalled(t, in2, Amp)
}

func TestInterruptedDownloadThenRetry(t *testing.T) {
	fr := newFakeRegistry(t)
	fr.add("@ampcode/cli-linux-x64", ampVer, ampTgz(t, "#!/bin/sh\n"))
	var drop atomic.Bool
	drop.Store(true)
	fr.setHook(func(w http.ResponseWriter, r *http.Request, p *fakePkg) bool {
		if !drop.Load() {
			return false
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(p.tgz)))
		w.Write(p.tgz[:len(p.tgz)/2])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // drops the connection mid-body
	})
	in := newTestInstaller(t, fr)
	_, err := in.Install(context.Background(), Amp, "", false, nil)
	if !errors.Is(err, ErrDownload) {
		t.Fatalf("err = %v, want ErrDownload", err)
	}
	assertNothingInstalled(t, in, Amp)
	if _, err := in.Resolve(context.Background(), Amp); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("Resolve: %v", err)
	}
	drop.Store(false)
	if _, err := in.Install(context.Background(), Amp, "", false, nil); err != nil {
		t.Fatalf("retry: %v", err)
	}
}

func TestStaleTempDirsCleaned(t *testing.T) {
	fr := newFakeRegistry(t)
	fr.add("@ampcode/cli-linux-x64", ampVer, ampTgz(t, "#!/bin/sh\n"))
	in := newTestInstaller(t, fr)
	agentDir := in.agentDir(Amp)
	// Left by a crashed run: a half-extracted tree, a half-downloaded tarball, a stray file.
	os.MkdirAll(filepath.Join(agentDir, ".tmp-123", "pkg", "bin"), 0o755)
	os.WriteFile(filepath.Join(agentDir, ".tmp-123", "package.tgz"), []byte("half"), 0o600)
	os.WriteFile(filepath.Join(agentDir, ".tmp-stray"), nil, 0o600)
	// A temp dir another live install holds must survive.
	busy := filepath.Join(agentDir, ".tmp-busy")
	os.Mkdir(busy, 0o755)
	lock, ok, err := tryLockDir(busy)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	defer lock.Close()
	// A broken install (no marker) is replaced.
	os.MkdirAll(filepath.Join(agentDir, ampVer), 0o755)
	os.WriteFile(filepath.Join(agentDir, ampVer, "amp"), []byte("truncated"), 0o755)

	b, err := in.Install(context.Background(), Amp, "", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := listTree(t, agentDir); !slices.Contains(got, ".tmp-busy") || slices.Contains(got, ".tmp-123") ||
		slices.Contains(got, ".tmp-stray") || !slices.Contains(got, ampVer+"/.agentd-install.json") {
		t.Errorf("agent dir holds %q", got)
	}
	if data, _ := os.ReadFile(b.Path); string(data) != "#!/bin/sh\n" {
		t.Errorf("binary %q", data)
	}
}

func TestScopedNamesEscaped(t *testing.T) {
	for name, want := range map[string]string{
		"@ampcode/cli-linux-x64": "@ampcode%2fcli-linux-x64",
		"@openai/codex":          "@openai%2fcodex",
		"opencode-linux-x64":     "opencode-linux-x64",
	} {
		if got := escapeName(name); got != want {
			t.Errorf("escapeName(%q) = %q, want %q", name, got, want)
		}
	}
	fr := newFakeRegistry(t)
	fr.add("@ampcode/cli-linux-x64", ampVer, ampTgz(t, "#!/bin/sh\n"))
	fr.add("@openai/codex", "0.169.0-linux-x64", makeTgz(t, []tarEntry{
		{name: "package/vendor/x86_64-unknown-linux-musl/bin/codex", body: "#!/bin/sh\n", mode: 0o755}}))
	in := newTestInstaller(t, fr)
	for _, a := range []string{Amp, Codex} {
		if _, err := in.Install(context.Background(), a, "", false, nil); err != nil {
			t.Fatal(err)
		}
	}
	reqs := fr.requests()
	for _, want := range []string{"/@ampcode%2fcli-linux-x64/" + ampVer, "/@openai%2fcodex/0.169.0-linux-x64"} {
		if !slices.Contains(reqs, want) {
			t.Errorf("no request %s among %q", want, reqs)
		}
	}
	b, err := in.Resolve(context.Background(), Codex)
	if err != nil || b.Version != "0.169.0" || b.Path != filepath.Join(in.cfg.DataDir, "agents", "codex", "0.169.0", "vendor", "x86_64-unknown-linux-musl", "bin", "codex") {
		t.Fatalf("codex: %+v %v", b, err)
	}
}

func TestTarballMovedToConfiguredRegistry(t *testing.T) {
	r := &registry{base: "https://mirror.example/npm"}
	got, err := r.tarballURL("https://registry.npmjs.org/@openai/codex/-/codex-0.169.0-linux-x64.tgz")
	if err != nil || got != "https://mirror.example/npm/@openai/codex/-/codex-0.169.0-linux-x64.tgz" {
		t.Fatalf("%q %v", got, err)
	}
	r.base = DefaultRegistry
	if got, _ := r.tarballURL("https://registry.npmjs.org/a/-/a-1.tgz"); got != "https://registry.npmjs.org/a/-/a-1.tgz" {
		t.Fatal(got)
	}
	if _, err := r.tarballURL("file:///etc/passwd"); !errors.Is(err, ErrBadPackage) {
		t.Fatal(err)
	}
}

func TestVersionOverrideAndLatest(t *testing.T) {
	fr := newFakeRegistry(t)
	ocTgz := func(v string) []byte {
		return makeTgz(t, []tarEntry{{name: "package/bin/opencode", body: "#!/bin/sh\necho " + v + "\n", mode: 0o755}})
	}
	fr.add("opencode-linux-x64", "1.2.3", ocTgz("1.2.3"))
	fr.add("opencode-linux-x64", "1.9.0", ocTgz("1.9.0"))
	fr.setTag("opencode-linux-x64", "latest", "1.9.0")
	fr.add("@openai/codex", "0.170.0-linux-x64", makeTgz(t, []tarEntry{
		{name: "package/vendor/x86_64-unknown-linux-musl/bin/codex", body: "#!/bin/sh\n", mode: 0o755}}))
	fr.setTag("@openai/codex", "latest", "0.170.0")

	env := testEnv{"AGENTD_OPENCODE_VERSION": "1.2.3"}
	in := newTestInstaller(t, fr, func(c *Config) { c.Getenv = env.get })
	if got := in.DesiredVersion(OpenCode); got != "1.2.3" {
		t.Fatalf("DesiredVersion = %q", got)
	}
	if _, err := in.Resolve(context.Background(), OpenCode); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("Resolve before install: %v", err)
	}
	b, err := in.Install(context.Background(), OpenCode, "", false, nil)
	if err != nil || b.Version != "1.2.3" {
		t.Fatalf("Install with env version: %+v %v", b, err)
	}
	if r, err := in.Resolve(context.Background(), OpenCode); err != nil || r.Version != "1.2.3" {
		t.Fatalf("Resolve: %+v %v", r, err)
	}

	env["AGENTD_OPENCODE_VERSION"] = "latest"
	b, err = in.Install(context.Background(), OpenCode, "", false, nil)
	if err != nil || b.Version != "1.9.0" {
		t.Fatalf("Install latest: %+v %v", b, err)
	}
	if r, err := in.Resolve(context.Background(), OpenCode); err != nil || r.Version != "1.9.0" {
		t.Fatalf("Resolve latest picks the newest install: %+v %v", r, err)
	}
	if !slices.Contains(fr.requests(), "/-/package/opencode-linux-x64/dist-tags") {
		t.Errorf("no dist-tags request: %q", fr.requests())
	}

	// Codex: the tag is on @openai/codex and the platform suffix is added;
	// the dist-tags endpoint missing, the packument answers.
	fr.mu.Lock()
	fr.noDistTagsEndpoint = true
	fr.mu.Unlock()
	b, err = in.Install(context.Background(), Codex, "latest", false, nil)
	if err != nil || b.Version != "0.170.0" || b.Package != "@openai/codex@0.170.0-linux-x64" {
		t.Fatalf("codex latest: %+v %v", b, err)
	}
	if !slices.Contains(fr.requests(), "/@openai%2fcodex") {
		t.Errorf("no packument request: %q", fr.requests())
	}

	// Unknown version and tag, invalid version strings.
	if _, err := in.Install(context.Background(), OpenCode, "9.9.9", false, nil); !errors.Is(err, ErrVersionNotFound) {
		t.Errorf("unknown version: %v", err)
	}
	if _, err := in.Install(context.Background(), OpenCode, "beta", false, nil); !errors.Is(err, ErrVersionNotFound) {
		t.Errorf("unknown tag: %v", err)
	}
	for _, v := range []string{"../../etc", "1.0/x", ".hidden", "1..2", strings.Repeat("1", 200)} {
		if _, err := in.Install(context.Background(), OpenCode, v, false, nil); !errors.Is(err, ErrInvalidVersion) {
			t.Errorf("version %q: %v", v, err)
		}
	}
	fr.setTag("opencode-linux-x64", "evil", "../../x")
	if _, err := in.Install(context.Background(), OpenCode, "evil", false, nil); !errors.Is(err, ErrInvalidVersion) {
		t.Errorf("tag pointing at a bad version: %v", err)
	}
}

func TestResolveSources(t *testing.T) {
	fr := newFakeRegistry(t)
	dir := t.TempDir()
	exe := filepath.Join(dir, "claude")
	os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755)
	plain := filepath.Join(dir, "plain")
	os.WriteFile(plain, []byte("x"), 0o644)
	env := testEnv{}
	onPath := map[string]string{}
	in := newTestInstaller(t, fr, func(c *Config) {
		c.Getenv = env.get
		c.LookPath = func(name string) (string, error) {
			if p, ok := onPath[name]; ok {
				return p, nil
			}
			return "", exec.ErrNotFound
		}
	})
	ctx := context.Background()

	if _, err := in.Resolve(ctx, Claude); !errors.Is(err, ErrNotInstalled) || errors.Is(err, ErrUnsupportedPlatform) {
		t.Fatalf("nothing anywhere: %v", err)
	}
	onPath["claude"] = exe
	if b, err := in.Resolve(ctx, Claude); err != nil || b.Source != SourcePath || b.Path != exe {
		t.Fatalf("PATH: %+v %v", b, err)
	}
	env["AGENTD_CLAUDE_BIN"] = exe
	if b, err := in.Resolve(ctx, Claude); err != nil || b.Source != SourceEnv || b.Path != exe {
		t.Fatalf("env: %+v %v", b, err)
	}
	env["AGENTD_CLAUDE_BIN"] = plain
	if _, err := in.Resolve(ctx, Claude); !errors.Is(err, ErrNotInstalled) || !strings.Contains(err.Error(), "AGENTD_CLAUDE_BIN") {
		t.Fatalf("env naming a non-executable: %v", err)
	}
	env["AGENTD_CLAUDE_BIN"] = filepath.Join(dir, "missing")
	if _, err := in.Resolve(ctx, Claude); !errors.Is(err, ErrNotInstalled) || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("env naming a missing file: %v", err)
	}
	delete(env, "AGENTD_CLAUDE_BIN")

	// A managed install beats PATH.
	fr.add("@anthropic-ai/claude-code-linux-x64", "2.1.330", makeTgz(t, []tarEntry{{name: "package/claude", body: "#!/bin/sh\n", mode: 0o755}}))
	if _, err := in.Install(ctx, Claude, "", false, nil); err != nil {
		t.Fatal(err)
	}
	if b, err := in.Resolve(ctx, Claude); err != nil || b.Source != SourceManaged || b.Version != "2.1.330" {
		t.Fatalf("managed: %+v %v", b, err)
	}

	if _, err := in.Resolve(ctx, "cursor"); !errors.Is(err, ErrUnknownAgent) {
		t.Fatalf("unknown agent: %v", err)
	}
	if _, err := in.Install(ctx, "cursor", "", false, nil); !errors.Is(err, ErrUnknownAgent) {
		t.Fatalf("unknown agent: %v", err)
	}
}

func TestUnsupportedPlatform(t *testing.T) {
	fr := newFakeRegistry(t)
	env := testEnv{}
	in := newTestInstaller(t, fr, func(c *Config) {
		c.Getenv = env.get
		c.DetectPlatform = func() (Platform, error) { return DetectPlatform("windows", "amd64", nil) }
	})
	ctx := context.Background()
	_, err := in.Install(ctx, Claude, "", false, nil)
	if !errors.Is(err, ErrUnsupportedPlatform) || !strings.Contains(err.Error(), "windows/amd64") {
		t.Fatalf("Install: %v", err)
	}
	_, err = in.Resolve(ctx, Claude)
	if !errors.Is(err, ErrNotInstalled) || !errors.Is(err, ErrUnsupportedPlatform) {
		t.Fatalf("Resolve: %v", err)
	}
	// An agent binary given explicitly still resolves: the platform is only
	// fatal to installs.
	exe := filepath.Join(t.TempDir(), "claude")
	os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755)
	env["AGENTD_CLAUDE_BIN"] = exe
	if b, err := in.Resolve(ctx, Claude); err != nil || b.Source != SourceEnv {
		t.Fatalf("Resolve with env: %+v %v", b, err)
	}
	if len(fr.requests()) != 0 {
		t.Errorf("requests on an unsupported platform: %q", fr.requests())
	}

	// An agent without a build for a supported platform: amp on musl.
	in = newTestInstaller(t, fr, func(c *Config) {
		c.DetectPlatform = func() (Platform, error) { return Platform{OS: "linux", Arch: "arm64", Libc: Musl}, nil }
	})
	if _, err := in.Install(ctx, Amp, "", false, nil); !errors.Is(err, ErrUnsupportedPlatform) || !strings.Contains(err.Error(), "musl") {
		t.Fatalf("amp on musl: %v", err)
	}
	if _, err := in.Resolve(ctx, Amp); !errors.Is(err, ErrNotInstalled) || !errors.Is(err, ErrUnsupportedPlatform) {
		t.Fatalf("Resolve amp on musl: %v", err)
	}
}

func TestRegistryFromEnvironment(t *testing.T) {
	mk := func(cfg Config, env testEnv) string {
		cfg.DataDir = t.TempDir()
		cfg.Getenv = env.get
		in, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return in.Registry()
	}
	if got := mk(Config{}, testEnv{}); got != DefaultRegistry {
		t.Errorf("default: %s", got)
	}
	if got := mk(Config{}, testEnv{"npm_config_registry": "https://npm.example/"}); got != "https://npm.example" {
		t.Errorf("npm_config_registry: %s", got)
	}
	if got := mk(Config{}, testEnv{"npm_config_registry": "https://npm.example/", "AGENTD_NPM_REGISTRY": "http://a.example/r/"}); got != "http://a.example/r" {
		t.Errorf("AGENTD_NPM_REGISTRY: %s", got)
	}
	if got := mk(Config{Registry: "https://cfg.example"}, testEnv{"AGENTD_NPM_REGISTRY": "http://a.example"}); got != "https://cfg.example" {
		t.Errorf("Config.Registry: %s", got)
	}
	if _, err := New(Config{DataDir: t.TempDir(), Registry: "ftp://x"}); err == nil {
		t.Error("ftp registry accepted")
	}
	if _, err := New(Config{}); err == nil {
		t.Error("empty DataDir accepted")
	}
}

func TestErrorMessages(t *testing.T) {
	err := newErr(ErrIntegrity, "amp", "1.0.0", errors.New("boom"))
	if got := err.Error(); got != "install amp@1.0.0: integrity check failed: boom" {
		t.Fatal(got)
	}
	var e *Error
	if !errors.As(fmt.Errorf("wrapped: %w", err), &e) || e.Kind != ErrIntegrity {
		t.Fatal("errors.As")
	}
}

func TestStalledDownloadTimesOut(t *testing.T) {
	fr := newFakeRegistry(t)
	fr.add("@ampcode/cli-linux-x64", ampVer, ampTgz(t, "#!/bin/sh\n"))
	fr.setHook(func(w http.ResponseWriter, r *http.Request, p *fakePkg) bool {
		w.Header().Set("Content-Length", fmt.Sprint(len(p.tgz)))
		w.Write(p.tgz[:10])
		w.(http.Flusher).Flush()
		<-r.Context().Done() // then nothing more
		return true
	})
	in := newTestInstaller(t, fr, func(c *Config) { c.StallTimeout = 50 * time.Millisecond })
	_, err := in.Install(context.Background(), Amp, "", false, nil)
	if !errors.Is(err, ErrDownload) || !errors.Is(err, errStalled) {
		t.Fatalf("err = %v", err)
	}
	assertNothingInstalled(t, in, Amp)
}

// Two installers on one data dir stand for two agentd processes: the one
// that finishes second keeps the first one's install and removes its own
// copy; a reinstall then replaces the install in place.
func TestTwoInstallersShareDataDir(t *testing.T) {
	fr := newFakeRegistry(t)
	fr.add("@ampcode/cli-linux-x64", ampVer, ampTgz(t, "#!/bin/sh\necho v1\n"))
	var first atomic.Bool
	first.Store(true)
	arrived, block := make(chan struct{}), make(chan struct{})
	fr.setHook(func(w http.ResponseWriter, r *http.Request, p *fakePkg) bool {
		if first.CompareAndSwap(true, false) {
			close(arrived)
			<-block
		}
		return false
	})
	a := newTestInstaller(t, fr)
	b := newTestInstaller(t, fr, func(c *Config) { c.DataDir = a.cfg.DataDir })
	var ba Binary
	errc := make(chan error, 1)
	go func() {
		var err error
		ba, err = a.Install(context.Background(), Amp, "", false, nil)
		errc <- err
	}()
	<-arrived // a is downloading, its temp dir locked
	bb, err := b.Install(context.Background(), Amp, "", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	close(block)
	if err := <-errc; err != nil || ba != bb {
		t.Fatalf("a: %+v %v; b: %+v", ba, err, bb)
	}
	if got := listTree(t, a.agentDir(Amp)); len(got) != 7 || got[0] != ampVer {
		t.Errorf("agent dir holds %q", got)
	}

	fr.add("@ampcode/cli-linux-x64", ampVer, ampTgz(t, "#!/bin/sh\necho v2\n"))
	if _, err := b.Install(context.Background(), Amp, "", true, nil); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bb.Path).Output(); err != nil || string(out) != "v2\n" {
		t.Fatalf("after reinstall: %q %v", out, err)
	}
	if got := listTree(t, a.agentDir(Amp)); len(got) != 7 {
		t.Errorf("agent dir after reinstall holds %q", got)
	}
}

// TestInstalledVersion: the version of a binary agentd installed is read
// from its install's marker, for that very binary only.
func TestInstalledVersion(t *testing.T) {
	fr := newFakeRegistry(t)
	fr.add("@ampcode/cli-linux-x64", ampVer, ampTgz(t, "#!/bin/sh\necho never run\n"))
	in := newTestInstaller(t, fr)
	b, err := in.Install(context.Background(), Amp, "", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(b.Path)
	moved := filepath.Join(in.agentDir(Amp), "9.9.9")
	elsewhere := filepath.Join(t.TempDir(), "amp")
	if err := os.WriteFile(elsewhere, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path func() string
		want string // "" for not agentd's
	}{
		{"the installed binary", func() string { return b.Path }, ampVer},
		{"the same path, not clean", func() string { return filepath.Join(dir, "bin", "..", "amp") }, ampVer},
		{"another file of the package", func() string { return filepath.Join(dir, "bin", "helper") }, ""},
		{"a binary agentd did not install", func() string { return elsewhere }, ""},
		{"an install directory renamed away from its version", func() string {
			if err := os.Rename(dir, moved); err != nil {
				t.Fatal(err)
			}
			return filepath.Join(moved, "amp")
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := InstalledVersion(tt.path())
			if got != tt.want || ok != (tt.want != "") {
				t.Errorf("InstalledVersion = %q, %v; want %q", got, ok, tt.want)
			}
		})
	}
}

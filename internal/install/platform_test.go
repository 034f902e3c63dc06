package install

import (
	"context"
	"debug/elf"
	"errors"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

func file(b []byte) *fstest.MapFile { return &fstest.MapFile{Data: b, Mode: 0o755} }
func link(to string) *fstest.MapFile {
	return &fstest.MapFile{Data: []byte(to), Mode: os.ModeSymlink | 0o777}
}
func text(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s), Mode: 0o644} }
func muslSh(arch string) *fstest.MapFile {
	return file(fakeELF("/lib/ld-musl-"+arch+".so.1", elf.EM_X86_64))
}

func TestDetectPlatform(t *testing.T) {
	glibcSh := file(fakeELF("/lib64/ld-linux-x86-64.so.2", elf.EM_X86_64))
	cases := []struct {
		name         string
		goos, goarch string
		root         fstest.MapFS
		want         Platform
	}{
		{"alpine: /bin/sh -> /bin/busybox, musl interpreter", "linux", "amd64", fstest.MapFS{
			"bin/sh": link("/bin/busybox"), "bin/busybox": muslSh("x86_64"), "lib/ld-musl-x86_64.so.1": file(nil),
		}, Platform{OS: "linux", Arch: "x64", Libc: Musl}},
		{"debian: glibc interpreter, relative link", "linux", "amd64", fstest.MapFS{
			"bin/sh": link("dash"), "bin/dash": glibcSh,
		}, Platform{OS: "linux", Arch: "x64", Libc: Glibc}},
		{"debian with the musl package installed", "linux", "amd64", fstest.MapFS{
			"bin/sh": glibcSh, "lib/ld-musl-x86_64.so.1": file(nil), "lib64/ld-linux-x86-64.so.2": file(nil),
		}, Platform{OS: "linux", Arch: "x64", Libc: Glibc}},
		{"no shell, glibc loader only", "linux", "arm64", fstest.MapFS{
			"lib/ld-linux-aarch64.so.1": file(nil),
		}, Platform{OS: "linux", Arch: "arm64", Libc: Glibc}},
		{"no shell, both loaders: glibc wins", "linux", "amd64", fstest.MapFS{
			"lib/ld-musl-x86_64.so.1": file(nil), "lib64/ld-linux-x86-64.so.2": file(nil),
		}, Platform{OS: "linux", Arch: "x64", Libc: Glibc}},
		{"no shell, musl loader only (arm64)", "linux", "arm64", fstest.MapFS{
			"lib/ld-musl-aarch64.so.1": file(nil),
		}, Platform{OS: "linux", Arch: "arm64", Libc: Musl}},
		{"static busybox on alpine", "linux", "arm64", fstest.MapFS{
			"bin/sh": file(fakeELF("", elf.EM_AARCH64)), "etc/alpine-release": text("3.22.0\n"),
		}, Platform{OS: "linux", Arch: "arm64", Libc: Musl}},
		{"a shell script as /bin/sh, musl loader", "linux", "amd64", fstest.MapFS{
			"bin/sh": text("#!/bin/busybox\n"), "lib/ld-musl-x86_64.so.1": file(nil),
		}, Platform{OS: "linux", Arch: "x64", Libc: Musl}},
		{"link escaping the root is not followed", "linux", "amd64", fstest.MapFS{
			"bin/sh": link("../../../bin/sh"),
		}, Platform{OS: "linux", Arch: "x64", Libc: Glibc, LibcGuessed: true}},
		{"distroless: nothing to go by", "linux", "amd64", fstest.MapFS{},
			Platform{OS: "linux", Arch: "x64", Libc: Glibc, LibcGuessed: true}},
		{"x64 CPU without AVX2", "linux", "amd64", fstest.MapFS{
			"bin/sh": glibcSh, "proc/cpuinfo": text("processor\t: 0\nflags\t\t: fpu sse sse2 avx\n\nprocessor\t: 1\nflags\t\t: fpu sse sse2 avx\n"),
		}, Platform{OS: "linux", Arch: "x64", Libc: Glibc, NoAVX2: true}},
		{"x64 CPU with AVX2", "linux", "amd64", fstest.MapFS{
			"bin/sh": glibcSh, "proc/cpuinfo": text("flags\t\t: fpu sse avx avx2 bmi2\n"),
		}, Platform{OS: "linux", Arch: "x64", Libc: Glibc}},
		{"darwin", "darwin", "arm64", fstest.MapFS{"bin/sh": glibcSh}, Platform{OS: "darwin", Arch: "arm64"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := DetectPlatform(c.goos, c.goarch, c.root)
			if err != nil || got != c.want {
				t.Fatalf("DetectPlatform = %+v, %v\nwant %+v", got, err, c.want)
			}
		})
	}
}

func TestDetectPlatformUnsupported(t *testing.T) {
	for _, c := range [][2]string{{"windows", "amd64"}, {"linux", "386"}, {"linux", "riscv64"}, {"freebsd", "arm64"}, {"darwin", "arm"}} {
		_, err := DetectPlatform(c[0], c[1], fstest.MapFS{})
		if !errors.Is(err, ErrUnsupportedPlatform) || !strings.Contains(err.Error(), c[0]+"/"+c[1]) {
			t.Errorf("%s/%s: %v", c[0], c[1], err)
		}
	}
}

// The machine running the tests: its real /bin/sh must give a definite answer.
func TestCurrentPlatform(t *testing.T) {
	p, err := CurrentPlatform()
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" {
		if !errors.Is(err, ErrUnsupportedPlatform) {
			t.Fatal(err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("this machine: %s (libc %q, guessed %v, no AVX2 %v)", p, p.Libc, p.LibcGuessed, p.NoAVX2)
	if runtime.GOOS == "linux" && (p.Libc == "" || p.LibcGuessed) {
		if _, err := os.Stat("/bin/sh"); err == nil {
			t.Errorf("libc not detected from the real /bin/sh: %+v", p)
		}
	}
}

// TestPackageTable pins the package names per platform, checked against the
// vendors' wrapper packages (their optionalDependencies) and, where this
// registry has them, `npm view <name>@<version> dist`.
func TestPackageTable(t *testing.T) {
	type row struct{ pkg, pkgVersion, bin string }
	plats := map[string]Platform{
		"linux-x64":               {OS: "linux", Arch: "x64", Libc: Glibc},
		"linux-x64-noavx2":        {OS: "linux", Arch: "x64", Libc: Glibc, NoAVX2: true},
		"linux-arm64":             {OS: "linux", Arch: "arm64", Libc: Glibc},
		"linux-x64-musl":          {OS: "linux", Arch: "x64", Libc: Musl},
		"linux-x64-musl-noavx2":   {OS: "linux", Arch: "x64", Libc: Musl, NoAVX2: true},
		"linux-arm64-musl":        {OS: "linux", Arch: "arm64", Libc: Musl},
		"darwin-x64":              {OS: "darwin", Arch: "x64"},
		"darwin-x64-noavx2":       {OS: "darwin", Arch: "x64", NoAVX2: true},
		"darwin-arm64":            {OS: "darwin", Arch: "arm64"},
		"linux-arm64-musl-noavx2": {OS: "linux", Arch: "arm64", Libc: Musl, NoAVX2: true}, // NoAVX2 means nothing on arm64
	}
	want := map[string]map[string]row{
		Claude: {
			"linux-x64":               {"@anthropic-ai/claude-code-linux-x64", "2.1.330", "claude"},
			"linux-x64-noavx2":        {"@anthropic-ai/claude-code-linux-x64", "2.1.330", "claude"},
			"linux-arm64":             {"@anthropic-ai/claude-code-linux-arm64", "2.1.330", "claude"},
			"linux-x64-musl":          {"@anthropic-ai/claude-code-linux-x64-musl", "2.1.330", "claude"},
			"linux-x64-musl-noavx2":   {"@anthropic-ai/claude-code-linux-x64-musl", "2.1.330", "claude"},
			"linux-arm64-musl":        {"@anthropic-ai/claude-code-linux-arm64-musl", "2.1.330", "claude"},
			"linux-arm64-musl-noavx2": {"@anthropic-ai/claude-code-linux-arm64-musl", "2.1.330", "claude"},
			"darwin-x64":              {"@anthropic-ai/claude-code-darwin-x64", "2.1.330", "claude"},
			"darwin-x64-noavx2":       {"@anthropic-ai/claude-code-darwin-x64", "2.1.330", "claude"},
			"darwin-arm64":            {"@anthropic-ai/claude-code-darwin-arm64", "2.1.330", "claude"},
		},
		Codex: {
			"linux-x64":               {"@openai/codex", "0.169.0-linux-x64", "vendor/x86_64-unknown-linux-musl/bin/codex"},
			"linux-x64-noavx2":        {"@openai/codex", "0.169.0-linux-x64", "vendor/x86_64-unknown-linux-musl/bin/codex"},
			"linux-arm64":             {"@openai/codex", "0.169.0-linux-arm64", "vendor/aarch64-unknown-linux-musl/bin/codex"},
			"linux-x64-musl":          {"@openai/codex", "0.169.0-linux-x64", "vendor/x86_64-unknown-linux-musl/bin/codex"},
			"linux-x64-musl-noavx2":   {"@openai/codex", "0.169.0-linux-x64", "vendor/x86_64-unknown-linux-musl/bin/codex"},
			"linux-arm64-musl":        {"@openai/codex", "0.169.0-linux-arm64", "vendor/aarch64-unknown-linux-musl/bin/codex"},
			"linux-arm64-musl-noavx2": {"@openai/codex", "0.169.0-linux-arm64", "vendor/aarch64-unknown-linux-musl/bin/codex"},
			"darwin-x64":              {"@openai/codex", "0.169.0-darwin-x64", "vendor/x86_64-apple-darwin/bin/codex"},
			"darwin-x64-noavx2":       {"@openai/codex", "0.169.0-darwin-x64", "vendor/x86_64-apple-darwin/bin/codex"},
			"darwin-arm64":            {"@openai/codex", "0.169.0-darwin-arm64", "vendor/aarch64-apple-darwin/bin/codex"},
		},
		OpenCode: {
			"linux-x64":               {"opencode-linux-x64", "1.18.34", "bin/opencode"},
			"linux-x64-noavx2":        {"opencode-linux-x64-baseline", "1.18.34", "bin/opencode"},
			"linux-arm64":             {"opencode-linux-arm64", "1.18.34", "bin/opencode"},
			"linux-x64-musl":          {"opencode-linux-x64-musl", "1.18.34", "bin/opencode"},
			"linux-x64-musl-noavx2":   {"opencode-linux-x64-baseline-musl", "1.18.34", "bin/opencode"},
			"linux-arm64-musl":        {"opencode-linux-arm64-musl", "1.18.34", "bin/opencode"},
			"linux-arm64-musl-noavx2": {"opencode-linux-arm64-musl", "1.18.34", "bin/opencode"},
			"darwin-x64":              {"opencode-darwin-x64", "1.18.34", "bin/opencode"},
			"darwin-x64-noavx2":       {"opencode-darwin-x64-baseline", "1.18.34", "bin/opencode"},
			"darwin-arm64":            {"opencode-darwin-arm64", "1.18.34", "bin/opencode"},
		},
		Amp: {
			"linux-x64":         {"@ampcode/cli-linux-x64", ampVer, "amp"},
			"linux-x64-noavx2":  {"@ampcode/cli-linux-x64", ampVer, "amp"},
			"linux-arm64":       {"@ampcode/cli-linux-arm64", ampVer, "amp"},
			"darwin-x64":        {"@ampcode/cli-darwin-x64", ampVer, "amp"},
			"darwin-x64-noavx2": {"@ampcode/cli-darwin-x64", ampVer, "amp"},
			"darwin-arm64":      {"@ampcode/cli-darwin-arm64", ampVer, "amp"},
			// no musl builds
		},
	}
	for _, agent := range Agents() {
		for pname, p := range plats {
			in := &Installer{cfg: Config{Getenv: testEnv{}.get}, platform: p}
			spec, err := in.Spec(agent, "")
			w, ok := want[agent][pname]
			if !ok {
				if !errors.Is(err, ErrUnsupportedPlatform) {
					t.Errorf("%s on %s: %+v, %v; want unsupported", agent, pname, spec, err)
				}
				continue
			}
			if err != nil || (row{spec.Package, spec.PkgVersion, spec.Bin}) != w || spec.Version != DefaultVersion(agent) {
				t.Errorf("%s on %s: %+v, %v\nwant %+v", agent, pname, spec, err, w)
			}
		}
	}
	if !slices.Equal(Agents(), []string{"claude", "codex", "opencode", "amp"}) {
		t.Error(Agents())
	}
}

// The package chosen follows the detected libc end to end: a fake musl root
// makes the installer ask the registry for the musl build.
func TestMuslRootSelectsMuslPackage(t *testing.T) {
	fr := newFakeRegistry(t)
	fr.add("@anthropic-ai/claude-code-linux-arm64-musl", "2.1.330", makeTgz(t, []tarEntry{{name: "package/claude", body: "#!/bin/sh\n", mode: 0o755}}))
	root := fstest.MapFS{"bin/sh": link("/bin/busybox"), "bin/busybox": muslSh("aarch64")}
	in := newTestInstaller(t, fr, func(c *Config) {
		c.DetectPlatform = func() (Platform, error) { return DetectPlatform("linux", "arm64", root) }
	})
	b, err := in.Install(context.Background(), Claude, "", false, nil)
	if err != nil || b.Package != "@anthropic-ai/claude-code-linux-arm64-musl@2.1.330" {
		t.Fatalf("%+v %v", b, err)
	}
	if !slices.Contains(fr.requests(), "/@anthropic-ai%2fclaude-code-linux-arm64-musl/2.1.330") {
		t.Errorf("requests %q", fr.requests())
	}

	// The same data dir seen from a glibc system: the musl install is not
	// taken for the glibc one.
	in2 := newTestInstaller(t, fr, func(c *Config) {
		c.DataDir = in.cfg.DataDir
		c.DetectPlatform = func() (Platform, error) { return Platform{OS: "linux", Arch: "arm64", Libc: Glibc}, nil }
	})
	if _, err := in2.Resolve(context.Background(), Claude); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("glibc Resolve of a musl install: %v", err)
	}
}

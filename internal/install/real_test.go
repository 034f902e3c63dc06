package install

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestRealRegistryInstall installs the smallest agent (amp, a 42 MB tarball)
// from the real npm registry, or the one named by AGENTD_NPM_REGISTRY /
// npm_config_registry, and runs it. Skipped with -short, off linux-x64
// glibc, and when the registry does not answer.
func TestRealRegistryInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("downloads ~42 MB from the npm registry")
	}
	p, err := CurrentPlatform()
	if err != nil || p.String() != "linux-x64" {
		t.Skipf("amp %s is checked on linux-x64 glibc only (this is %s, %v)", ampVer, p, err)
	}
	in, err := New(Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	probe, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(probe, http.MethodGet, in.Registry()+"/-/package/"+escapeName("@ampcode/cli-linux-x64")+"/dist-tags", nil)
	resp, err := in.cfg.HTTPClient.Do(req)
	if err != nil {
		t.Skipf("registry %s unreachable: %v", in.Registry(), err)
	}
	resp.Body.Close()

	ctx, cancel2 := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel2()
	var last Progress
	start := time.Now()
	b, err := in.Install(ctx, Amp, ampVer, false, func(p Progress) { last = p })
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("installed %s in %v: %+v (last progress %+v)", b.Package, time.Since(start).Round(time.Millisecond), b, last)
	fi, err := os.Stat(b.Path)
	if err != nil || fi.Size() < 10<<20 || fi.Mode().Perm()&0o100 == 0 {
		t.Fatalf("binary %s: %v %v", b.Path, fi, err)
	}
	run, cancel3 := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel3()
	cmd := exec.CommandContext(run, b.Path, "--version")
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	out, err := cmd.Output()
	if err != nil || !strings.Contains(string(out), ampVer) {
		t.Fatalf("amp --version: %q %v", out, err)
	}
	if r, err := in.Resolve(context.Background(), Amp); err != nil || r != b {
		t.Fatalf("Resolve: %+v %v", r, err)
	}
}

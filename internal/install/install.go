// Package install finds and installs the native binaries of the coding
// agents (Claude Code, Codex, OpenCode, Amp) from the npm registry.
//
// Each agent publishes one npm package per platform holding a native
// executable; agentd fetches that package alone (no npm, no node, no
// install scripts):
//
//	agent     package (linux-x64 shown)              version                 binary in the package
//	claude    @anthropic-ai/claude-code-linux-x64    2.1.330                 claude
//	codex     @openai/codex                          0.169.0-linux-x64       vendor/x86_64-unknown-linux-musl/bin/codex
//	opencode  opencode-linux-x64                     1.18.34                 bin/opencode
//	amp       @ampcode/cli-linux-x64                 0.0.1790142911-g7618fb  amp
//
// Other platforms follow each vendor's naming (see agentTable): the suffix
// is darwin-x64, darwin-arm64, linux-arm64, plus "-musl" on musl systems for
// Claude and OpenCode, and "-baseline" for OpenCode on x64 CPUs without AVX2.
// Codex's linux builds are static musl binaries and serve both libcs. Amp
// has no musl build.
//
// An install downloads the tarball named by the registry's version document
// to a temporary directory under <DataDir>/agents/<agent>/, checks it
// against the document's sha512 integrity, unpacks it through an os.Root
// (refusing anything that could land outside), and renames the result to
// <DataDir>/agents/<agent>/<version>/ in one step. Concurrent requests for
// the same agent and version share one download.
package install

import (
	"bufio"
	"context"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/agentd-dev/agentd/internal/agentproc"
)

// Source tells where a Binary was found.
type Source string

const (
	SourceManaged Source = "managed" // installed by agentd under DataDir
	SourceEnv     Source = "env"     // AGENTD_<AGENT>_BIN
	SourcePath    Source = "path"    // found on PATH
)

// Binary is an agent executable ready to run.
type Binary struct {
	Agent   string
	Path    string // absolute path of the executable
	Version string // agent version; "" when unknown (env or PATH binaries are not run to ask)
	Source  Source
	Package string // "name@version" of the npm package, for managed installs
}

// Phase of an install, reported through Progress.
type Phase string

const (
	PhaseResolving   Phase = "resolving"   // asking the registry for the version or dist-tag
	PhaseDownloading Phase = "downloading" // tarball bytes arriving
	PhaseExtracting  Phase = "extracting"  // integrity verified, unpacking
	PhaseDone        Phase = "done"        // installed (or found installed)
)

// Progress is reported to Install's callback. Downloaded and Total count
// tarball bytes; Total is -1 when the server sends no length.
type Progress struct {
	Agent      string
	Version    string
	Package    string
	Phase      Phase
	Downloaded int64
	Total      int64
}

// Config configures an Installer. Only DataDir is required.
type Config struct {
	// DataDir holds installs, under DataDir/agents/<agent>/<version>/.
	DataDir string
	// Registry is the npm registry base URL. Empty: $AGENTD_NPM_REGISTRY,
	// else $npm_config_registry (or NPM_CONFIG_REGISTRY), else DefaultRegistry.
	Registry string
	// HTTPClient for registry requests. Nil: a client whose transport uses
	// the HTTP(S)_PROXY/NO_PROXY environment (http.ProxyFromEnvironment).
	HTTPClient *http.Client
	// MaxDownloadBytes caps a tarball (default 1 GiB).
	MaxDownloadBytes int64
	// MaxUnpackedBytes caps the files unpacked from one tarball (default 4 GiB).
	MaxUnpackedBytes int64
	// MaxEntries caps the entries of one tarball (default 100,000).
	MaxEntries int
	// MetadataTimeout bounds each registry metadata request (default 1 min).
	MetadataTimeout time.Duration
	// StallTimeout aborts a download when no byte arrives for this long (default 2 min).
	// The whole install is bounded by the caller's context.
	StallTimeout time.Duration
	// Getenv reads the environment (default os.Getenv); for tests.
	Getenv func(string) string
	// LookPath finds commands on PATH (default agentproc.LookPath); for tests.
	LookPath func(string) (string, error)
	// DetectPlatform gives the platform (default CurrentPlatform); for tests.
	DetectPlatform func() (Platform, error)
}

// Installer resolves and installs agents. It is safe for concurrent use.
type Installer struct {
	cfg         Config
	reg         *registry
	platform    Platform
	platformErr error
	flights     flightGroup
}

const markerName = ".agentd-install.json"

// marker is written into every install directory before it is renamed into
// place; an install directory without a matching marker is not an install.
type marker struct {
	Agent          string    `json:"agent"`
	Version        string    `json:"version"`
	Package        string    `json:"package"`
	PackageVersion string    `json:"packageVersion"`
	Integrity      string    `json:"integrity"`
	Platform       string    `json:"platform"`
	Bin            string    `json:"bin"`
	InstalledAt    time.Time `json:"installedAt"`
}

// New makes an Installer. An unsupported platform is not an error here:
// agents given by AGENTD_<AGENT>_BIN or PATH still resolve, and only
// installs fail, naming the platform.
func New(cfg Config) (*Installer, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("install: DataDir is required")
	}
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("install: %w", err)
	}
	cfg.DataDir = dataDir
	if cfg.Getenv == nil {
		cfg.Getenv = os.Getenv
	}
	if cfg.LookPath == nil {
		cfg.LookPath = agentproc.LookPath
	}
	if cfg.DetectPlatform == nil {
		cfg.DetectPlatform = CurrentPlatform
	}
	if cfg.MaxDownloadBytes <= 0 {
		cfg.MaxDownloadBytes = 1 << 30
	}
	if cfg.MaxUnpackedBytes <= 0 {
		cfg.MaxUnpackedBytes = 4 << 30
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = 100_000
	}
	if cfg.MetadataTimeout <= 0 {
		cfg.MetadataTimeout = time.Minute
	}
	if cfg.StallTimeout <= 0 {
		cfg.StallTimeout = 2 * time.Minute
	}
	if cfg.HTTPClient == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.Proxy = http.ProxyFromEnvironment
		cfg.HTTPClient = &http.Client{Transport: tr}
	}
	base := cfg.Registry
	for _, k := range []string{"AGENTD_NPM_REGISTRY", "npm_config_registry", "NPM_CONFIG_REGISTRY"} {
		if base == "" {
			base = cfg.Getenv(k)
		}
	}
	if base == "" {
		base = DefaultRegistry
	}
	base = strings.TrimRight(base, "/")
	if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("install: registry %q is not an http(s) URL", base)
	}
	cfg.Registry = base
	in := &Installer{
		cfg: cfg,
		reg: &registry{base: base, client: cfg.HTTPClient, metaTimeout: cfg.MetadataTimeout, stallTimeout: cfg.StallTimeout},
	}
	in.platform, in.platformErr = cfg.DetectPlatform()
	return in, nil
}

// Platform returns the detected platform, or why agents cannot be installed here.
func (in *Installer) Platform() (Platform, error) { return in.platform, in.platformErr }

// Registry returns the registry base URL in use.
func (in *Installer) Registry() string { return in.cfg.Registry }

// DefaultVersion is the version agentd pins for an agent ("" for an unknown agent).
func DefaultVersion(agent string) string { return agentTable[agent].defaultVersion }

// DesiredVersion is $AGENTD_<AGENT>_VERSION if set (a version or a dist-tag
// such as "latest"), else DefaultVersion.
func (in *Installer) DesiredVersion(agent string) string {
	if v := strings.TrimSpace(in.cfg.Getenv(envName(agent, "VERSION"))); v != "" {
		return v
	}
	return DefaultVersion(agent)
}

// Spec gives the package for an agent version on this platform without
// asking the registry; version "" means DesiredVersion, and a dist-tag is
// refused (ErrInvalidVersion) since only the registry can resolve it.
func (in *Installer) Spec(agent, version string) (PackageSpec, error) {
	def, ok := agentTable[agent]
	if !ok {
		return PackageSpec{}, newErr(ErrUnknownAgent, agent, "", nil)
	}
	if version == "" {
		version = in.DesiredVersion(agent)
	}
	if in.platformErr != nil {
		return PackageSpec{}, newErr(ErrUnsupportedPlatform, agent, version, in.platformErr)
	}
	return def.spec(in.platform, version)
}

func (in *Installer) agentDir(agent string) string {
	return filepath.Join(in.cfg.DataDir, "agents", agent)
}

// Resolve finds the binary to run for an agent, without network access, in
// this order: $AGENTD_<AGENT>_BIN (an error if it names no executable file);
// agentd's own install of DesiredVersion (for a dist-tag such as "latest",
// the most recently installed version); the agent's command on PATH.
// Otherwise the error is ErrNotInstalled (and also ErrUnsupportedPlatform
// when agentd could not install it here either).
func (in *Installer) Resolve(ctx context.Context, agent string) (Binary, error) {
	def, ok := agentTable[agent]
	if !ok {
		return Binary{}, newErr(ErrUnknownAgent, agent, "", nil)
	}
	if p := in.cfg.Getenv(envName(agent, "BIN")); p != "" {
		abs, err := executable(p)
		if err != nil {
			return Binary{}, newErr(ErrNotInstalled, agent, "", fmt.Errorf("%s=%s: %w", envName(agent, "BIN"), p, err))
		}
		return Binary{Agent: agent, Path: abs, Source: SourceEnv}, nil
	}
	want := in.DesiredVersion(agent)
	if in.platformErr == nil {
		if isTag(want) {
			if b, ok := in.newestManaged(def); ok {
				return b, nil
			}
		} else if spec, err := def.spec(in.platform, want); err == nil {
			if b, ok := in.managed(spec); ok {
				return b, nil
			}
		}
	}
	if p, err := in.cfg.LookPath(def.command); err == nil {
		if abs, err := executable(p); err == nil {
			return Binary{Agent: agent, Path: abs, Source: SourcePath}, nil
		}
	}
	if in.platformErr != nil {
		return Binary{}, newErr(ErrNotInstalled, agent, "", in.platformErr)
	}
	if _, _, _, err := def.pkg(in.platform); err != nil {
		return Binary{}, newErr(ErrNotInstalled, agent, "", fmt.Errorf("%w: %w", ErrUnsupportedPlatform, err))
	}
	return Binary{}, newErr(ErrNotInstalled, agent, want, nil)
}

func executable(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return "", fmt.Errorf("%s is not an executable file", abs)
	}
	return abs, nil
}

// managed returns the install of spec if its directory holds a marker for
// exactly that package and the binary is an executable file.
func (in *Installer) managed(spec PackageSpec) (Binary, bool) {
	dir := filepath.Join(in.agentDir(spec.Agent), spec.Version)
	m, ok := readMarker(dir)
	if !ok || m.Agent != spec.Agent || m.Version != spec.Version || m.Package != spec.Package ||
		m.PackageVersion != spec.PkgVersion || m.Bin != spec.Bin {
		return Binary{}, false
	}
	p := filepath.Join(dir, filepath.FromSlash(spec.Bin))
	if _, err := executable(p); err != nil {
		return Binary{}, false
	}
	return Binary{Agent: spec.Agent, Path: p, Version: spec.Version, Source: SourceManaged,
		Package: spec.Package + "@" + spec.PkgVersion}, true
}

func readMarker(dir string) (marker, bool) {
	var m marker
	b, err := os.ReadFile(filepath.Join(dir, markerName))
	if err != nil || json.Unmarshal(b, &m) != nil {
		return m, false
	}
	return m, true
}

// InstalledVersion returns the version of the agent whose binary is at
// path if agentd installed it: the marker of its install says so. Running
// `--version` is what it saves. Some agents take seconds to answer it, and
// they would do so on a daemon's first session. The marker must name exactly
// this binary, in a directory named after the version it records.
func InstalledVersion(path string) (string, bool) {
	bin := filepath.Clean(path)
	dir := filepath.Dir(bin)
	for range maxBinDepth {
		if m, ok := readMarker(dir); ok {
			if m.Bin != "" && m.Version == filepath.Base(dir) && filepath.Join(dir, filepath.FromSlash(m.Bin)) == bin {
				return m.Version, true
			}
			return "", false
		}
		up := filepath.Dir(dir)
		if up == dir {
			break
		}
		dir = up
	}
	return "", false
}

// maxBinDepth bounds the search for a marker above a binary: the deepest
// binary of a package is codex's, vendor/<target>/bin/codex.
const maxBinDepth = 6

// newestManaged picks, among the valid installs for this platform, the one
// installed last.
func (in *Installer) newestManaged(def agentDef) (Binary, bool) {
	entries, err := os.ReadDir(in.agentDir(def.id))
	if err != nil {
		return Binary{}, false
	}
	var best Binary
	var bestAt time.Time
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		spec, err := def.spec(in.platform, e.Name())
		if err != nil {
			continue
		}
		b, ok := in.managed(spec)
		if !ok {
			continue
		}
		m, _ := readMarker(filepath.Join(in.agentDir(def.id), e.Name()))
		if best.Path == "" || !m.InstalledAt.Before(bestAt) { // ties: the later name wins
			best, bestAt = b, m.InstalledAt
		}
	}
	return best, best.Path != ""
}

// Install installs version of agent ("" means DesiredVersion; a dist-tag
// such as "latest" is resolved through the registry) and returns its
// binary. An existing valid install is returned as is unless reinstall is
// set. progress, if not nil, is called from the installing goroutine with
// the install's phases and download counts; it must return quickly and not
// call back into the Installer.
//
// Concurrent calls for the same agent and version share one download; the
// download stops early only when every caller's context has ended. On any
// failure nothing is left under DataDir but what was there before.
func (in *Installer) Install(ctx context.Context, agent, version string, reinstall bool, progress func(Progress)) (Binary, error) {
	def, ok := agentTable[agent]
	if !ok {
		return Binary{}, newErr(ErrUnknownAgent, agent, version, nil)
	}
	if version == "" {
		version = in.DesiredVersion(agent)
	}
	if in.platformErr != nil {
		return Binary{}, newErr(ErrUnsupportedPlatform, agent, version, in.platformErr)
	}
	if !validVersion(version) {
		return Binary{}, newErr(ErrInvalidVersion, agent, version, fmt.Errorf("%q is neither a version nor a dist-tag", version))
	}
	report := func(p Progress) {
		if progress != nil {
			progress(p)
		}
	}
	if isTag(version) {
		name, suffix, _, err := def.pkg(in.platform)
		if err != nil {
			return Binary{}, newErr(ErrUnsupportedPlatform, agent, version, err)
		}
		report(Progress{Agent: agent, Version: version, Package: name, Phase: PhaseResolving, Total: -1})
		v, err := in.reg.distTag(ctx, name, version)
		if err != nil {
			return Binary{}, withAgent(err, ErrDownload, agent, version)
		}
		if suffix != "" {
			v = strings.TrimSuffix(v, suffix)
		}
		if !validVersion(v) || isTag(v) {
			return Binary{}, newErr(ErrInvalidVersion, agent, version, fmt.Errorf("dist-tag %q of %s points at %q", version, name, v))
		}
		version = v
	}
	spec, err := def.spec(in.platform, version)
	if err != nil {
		return Binary{}, err
	}
	if !reinstall {
		if b, ok := in.managed(spec); ok {
			report(Progress{Agent: agent, Version: spec.Version, Package: spec.Package, Phase: PhaseDone, Total: -1})
			return b, nil
		}
	}
	key := agent + "@" + spec.Version
	if reinstall {
		key += "#reinstall"
	}
	b, err, _ := in.flights.do(ctx, key, progress, func(ctx context.Context, report func(Progress)) (Binary, error) {
		return in.install(ctx, spec, reinstall, report)
	})
	if err != nil {
		return Binary{}, withAgent(err, ErrDownload, agent, spec.Version)
	}
	return b, nil
}

// Wait blocks until no install is running, including installs all of whose
// callers have given up and that are still removing their temporary files.
// Call it before exiting to leave DataDir tidy.
func (in *Installer) Wait() { in.flights.running.Wait() }

// install does one install of spec; it runs inside a flight.
func (in *Installer) install(ctx context.Context, spec PackageSpec, reinstall bool, report func(Progress)) (Binary, error) {
	prog := Progress{Agent: spec.Agent, Version: spec.Version, Package: spec.Package, Total: -1}
	// Phases after the download keep reporting its final counts.
	step := func(ph Phase, done, total int64) {
		if ph == PhaseDownloading {
			prog.Downloaded, prog.Total = done, total
		}
		p := prog
		p.Phase = ph
		report(p)
	}
	if !reinstall {
		if b, ok := in.managed(spec); ok { // another process may have finished meanwhile
			step(PhaseDone, 0, -1)
			return b, nil
		}
	}
	agentDir := in.agentDir(spec.Agent)
	if err := os.MkdirAll(agentDir, 0o755); err != nil {
		return Binary{}, newErr(ErrFilesystem, "", "", err)
	}
	cleanStale(agentDir)
	tmp, lock, err := makeTemp(agentDir)
	if err != nil {
		return Binary{}, newErr(ErrFilesystem, "", "", err)
	}
	defer func() {
		os.RemoveAll(tmp)
		lock.Close()
	}()

	step(PhaseResolving, 0, -1)
	doc, err := in.reg.version(ctx, spec.Package, spec.PkgVersion)
	if err != nil {
		return Binary{}, err
	}
	digests := sriSHA512(doc.Dist.Integrity)
	if len(digests) == 0 {
		return Binary{}, newErr(ErrIntegrity, "", "", fmt.Errorf("the registry gives no sha512 integrity for %s@%s (dist.integrity %q); refusing an unverifiable download",
			spec.Package, spec.PkgVersion, doc.Dist.Integrity))
	}
	tarURL, err := in.reg.tarballURL(doc.Dist.Tarball)
	if err != nil {
		return Binary{}, err
	}

	tgz, err := os.OpenFile(filepath.Join(tmp, "package.tgz"), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return Binary{}, newErr(ErrFilesystem, "", "", err)
	}
	defer tgz.Close()
	h := sha512.New()
	step(PhaseDownloading, 0, -1)
	if _, err := in.reg.download(ctx, tarURL, io.MultiWriter(tgz, h), in.cfg.MaxDownloadBytes, func(done, total int64) {
		step(PhaseDownloading, done, total)
	}); err != nil {
		return Binary{}, err
	}
	sum := h.Sum(nil)
	if !matchesAny(sum, digests) {
		return Binary{}, newErr(ErrIntegrity, "", "", fmt.Errorf("%s@%s: the tarball is sha512-%s but the registry's integrity is %q",
			spec.Package, spec.PkgVersion, base64.StdEncoding.EncodeToString(sum), doc.Dist.Integrity))
	}

	step(PhaseExtracting, 0, -1)
	if _, err := tgz.Seek(0, io.SeekStart); err != nil {
		return Binary{}, newErr(ErrFilesystem, "", "", err)
	}
	pkgDir := filepath.Join(tmp, "pkg")
	if err := os.Mkdir(pkgDir, 0o755); err != nil {
		return Binary{}, newErr(ErrFilesystem, "", "", err)
	}
	if err := in.unpack(tgz, pkgDir, spec, doc.Dist.Integrity); err != nil {
		return Binary{}, err
	}

	b, err := in.publish(spec, tmp, pkgDir, reinstall)
	if err != nil {
		return Binary{}, err
	}
	step(PhaseDone, 0, -1)
	return b, nil
}

// unpack extracts the tarball into pkgDir, checks and chmods the binary and
// writes the marker.
func (in *Installer) unpack(tgz io.Reader, pkgDir string, spec PackageSpec, integrity string) error {
	root, err := os.OpenRoot(pkgDir)
	if err != nil {
		return newErr(ErrFilesystem, "", "", err)
	}
	defer root.Close()
	lim := extractLimits{MaxBytes: in.cfg.MaxUnpackedBytes, MaxEntries: in.cfg.MaxEntries, Sync: true}
	if err := extractTarGz(bufio.NewReaderSize(tgz, 1<<20), root, lim); err != nil {
		return err
	}
	fi, err := root.Stat(spec.Bin)
	if err != nil || !fi.Mode().IsRegular() {
		return newErr(ErrBadPackage, "", "", fmt.Errorf("%s@%s has no executable at %s", spec.Package, spec.PkgVersion, spec.Bin))
	}
	if err := root.Chmod(spec.Bin, 0o755); err != nil {
		return newErr(ErrFilesystem, "", "", err)
	}
	m, _ := json.MarshalIndent(marker{
		Agent: spec.Agent, Version: spec.Version, Package: spec.Package, PackageVersion: spec.PkgVersion,
		Integrity: integrity, Platform: spec.Platform.String(), Bin: spec.Bin, InstalledAt: time.Now().UTC(),
	}, "", "  ")
	// A package file of that name is overwritten: the marker is agentd's.
	_ = root.Remove(markerName)
	if err := root.WriteFile(markerName, append(m, '\n'), 0o644); err != nil {
		return newErr(ErrFilesystem, "", "", err)
	}
	return nil
}

// publish renames pkgDir to the version directory. An existing valid
// install wins unless reinstall is set; anything else there (a broken
// install, an older one being replaced) is moved into tmp to be removed
// with it.
func (in *Installer) publish(spec PackageSpec, tmp, pkgDir string, reinstall bool) (Binary, error) {
	agentDir := in.agentDir(spec.Agent)
	dest := filepath.Join(agentDir, spec.Version)
	for attempt := range 5 {
		if !reinstall {
			if b, ok := in.managed(spec); ok {
				return b, nil // a concurrent install got there first
			}
		}
		if err := os.Rename(dest, filepath.Join(tmp, fmt.Sprintf("old-%d", attempt))); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return Binary{}, newErr(ErrFilesystem, "", "", err)
		}
		err := os.Rename(pkgDir, dest)
		if err == nil {
			syncDir(agentDir)
			b, ok := in.managed(spec)
			if !ok {
				return Binary{}, newErr(ErrFilesystem, "", "", fmt.Errorf("install at %s vanished", dest))
			}
			return b, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return Binary{}, newErr(ErrFilesystem, "", "", err)
		}
	}
	return Binary{}, newErr(ErrFilesystem, "", "", fmt.Errorf("could not place %s: concurrent installs keep replacing it", dest))
}

func matchesAny(sum []byte, digests [][]byte) bool {
	for _, d := range digests {
		if subtle.ConstantTimeCompare(sum, d) == 1 {
			return true
		}
	}
	return false
}

// makeTemp creates and locks a fresh .tmp-* directory in agentDir. The lock
// tells cleanStale of other installs (in this process or another) that the
// directory is in use; a directory removed between creation and locking by
// such a cleaner is detected and replaced.
func makeTemp(agentDir string) (string, *os.File, error) {
	var lastErr error
	for range 10 {
		dir, err := os.MkdirTemp(agentDir, ".tmp-")
		if err != nil {
			return "", nil, err
		}
		f, ok, err := tryLockDir(dir)
		if err != nil || !ok {
			lastErr = err
			continue
		}
		fi1, err1 := f.Stat()
		fi2, err2 := os.Stat(dir)
		if err1 != nil || err2 != nil || !os.SameFile(fi1, fi2) {
			f.Close()
			continue
		}
		return dir, f, nil
	}
	if lastErr == nil {
		lastErr = errors.New("temporary directory kept disappearing")
	}
	return "", nil, lastErr
}

// cleanStale removes .tmp-* entries left in agentDir by installs that died
// (crash, kill): those no one holds the lock of.
func cleanStale(agentDir string) {
	entries, err := os.ReadDir(agentDir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".tmp-") {
			continue
		}
		p := filepath.Join(agentDir, e.Name())
		if !e.IsDir() {
			os.Remove(p)
			continue
		}
		f, ok, err := tryLockDir(p)
		if err != nil || !ok {
			continue
		}
		os.RemoveAll(p)
		f.Close()
	}
}

func syncDir(dir string) {
	if f, err := os.Open(dir); err == nil {
		f.Sync()
		f.Close()
	}
}

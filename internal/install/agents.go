package install

import (
	"fmt"
	"regexp"
	"strings"
)

// Agent ids.
const (
	Claude   = "claude"
	Codex    = "codex"
	OpenCode = "opencode"
	Amp      = "amp"
)

// Agents lists the agents this package can install, in a stable order.
func Agents() []string { return []string{Claude, Codex, OpenCode, Amp} }

// PackageSpec says where an agent's native build for one platform lives on npm.
type PackageSpec struct {
	Agent      string
	Platform   Platform
	Package    string // npm package name, e.g. "@anthropic-ai/claude-code-linux-x64"
	Version    string // agent version, also the install directory's name, e.g. "0.169.0"
	PkgVersion string // npm version to fetch; differs from Version for Codex ("0.169.0-linux-x64")
	Bin        string // slash-separated path of the executable inside the package
}

// agentDef is one row of the table. Every agent ships one npm package per
// platform holding a native executable, the packages the vendors' wrapper
// packages list as optionalDependencies (checked for the pinned versions:
// see the package documentation in install.go).
type agentDef struct {
	id             string
	defaultVersion string
	command        string // name looked up on PATH
	// pkg gives the package name, the suffix that turns an agent version into
	// the package's version, and the binary's path, or an error naming what
	// the vendor does not build.
	pkg func(p Platform) (name, versionSuffix, bin string, err error)
}

var agentTable = map[string]agentDef{
	Claude: {
		id: Claude, defaultVersion: "2.1.330", command: "claude",
		// @anthropic-ai/claude-code-{linux,darwin}-{x64,arm64}[-musl]; binary "claude" at the top.
		pkg: func(p Platform) (string, string, string, error) {
			return "@anthropic-ai/claude-code-" + p.String(), "", "claude", nil
		},
	},
	Codex: {
		id: Codex, defaultVersion: "0.169.0", command: "codex",
		// Platform builds are versions of @openai/codex itself ("0.169.0-linux-x64").
		// The linux builds are static musl binaries, so one build serves glibc and musl.
		pkg: func(p Platform) (string, string, string, error) {
			triple := map[string]string{
				"linux-x64": "x86_64-unknown-linux-musl", "linux-arm64": "aarch64-unknown-linux-musl",
				"darwin-x64": "x86_64-apple-darwin", "darwin-arm64": "aarch64-apple-darwin",
			}[p.OS+"-"+p.Arch]
			if triple == "" {
				return "", "", "", fmt.Errorf("codex has no build for %s", p)
			}
			return "@openai/codex", "-" + p.OS + "-" + p.Arch, "vendor/" + triple + "/bin/codex", nil
		},
	},
	OpenCode: {
		id: OpenCode, defaultVersion: "1.18.34", command: "opencode",
		// opencode-{linux,darwin}-{x64,arm64}[-baseline][-musl]; "baseline" (no AVX2) exists for x64 only.
		pkg: func(p Platform) (string, string, string, error) {
			name := "opencode-" + p.OS + "-" + p.Arch
			if p.Arch == "x64" && p.NoAVX2 {
				name += "-baseline"
			}
			if p.Libc == Musl {
				name += "-musl"
			}
			return name, "", "bin/opencode", nil
		},
	},
	Amp: {
		id: Amp, defaultVersion: "0.0.1790142911-g7618fb", command: "amp",
		// @ampcode/cli-{linux,darwin}-{x64,arm64}; the linux binary is glibc-linked
		// and the vendor publishes no musl build.
		pkg: func(p Platform) (string, string, string, error) {
			if p.Libc == Musl {
				return "", "", "", fmt.Errorf("amp publishes no musl build (its linux binaries need glibc); this system is %s", p)
			}
			return "@ampcode/cli-" + p.String(), "", "amp", nil
		},
	},
}

// envName gives AGENTD_<AGENT>_<SUFFIX>.
func envName(agent, suffix string) string {
	return "AGENTD_" + strings.ToUpper(agent) + "_" + suffix
}

// versionRE accepts npm versions and dist-tag names that are also safe as a
// directory name: no slash, no leading dot, nothing but [0-9A-Za-z.+_-].
var versionRE = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z.+_-]{0,127}$`)

func validVersion(v string) bool { return versionRE.MatchString(v) && !strings.Contains(v, "..") }

// isTag tells a dist-tag ("latest", "next") from a version: versions start with a digit.
func isTag(v string) bool { return v != "" && (v[0] < '0' || v[0] > '9') }

// spec builds the PackageSpec of an agent version (not a tag) for a platform.
func (d agentDef) spec(p Platform, version string) (PackageSpec, error) {
	name, suffix, bin, err := d.pkg(p)
	if err != nil {
		return PackageSpec{}, newErr(ErrUnsupportedPlatform, d.id, version, err)
	}
	// Accept the package version too ("0.169.0-linux-x64" for codex).
	if suffix != "" {
		version = strings.TrimSuffix(version, suffix)
	}
	if !validVersion(version) || isTag(version) {
		return PackageSpec{}, newErr(ErrInvalidVersion, d.id, version, fmt.Errorf("%q is not a version", version))
	}
	return PackageSpec{Agent: d.id, Platform: p, Package: name, Version: version, PkgVersion: version + suffix, Bin: bin}, nil
}

package install

import (
	"errors"
	"strings"
)

// Kinds of failure. Every error that Resolve and Install return is an *Error
// whose Kind is one of these, so callers test with errors.Is(err, ErrIntegrity)
// and so on. The underlying cause (a context error, an *os.PathError, …) is
// reachable with errors.Is / errors.As as well.
var (
	// ErrUnknownAgent: the agent is not one of Agents().
	ErrUnknownAgent = errors.New("unknown agent")
	// ErrUnsupportedPlatform: no build of the agent exists for this OS, CPU or libc.
	ErrUnsupportedPlatform = errors.New("unsupported platform")
	// ErrNotInstalled: Resolve found no binary (managed install, AGENTD_<AGENT>_BIN or PATH).
	ErrNotInstalled = errors.New("agent not installed")
	// ErrInvalidVersion: a version string that is not a plain version or dist-tag.
	ErrInvalidVersion = errors.New("invalid version")
	// ErrVersionNotFound: the registry has no such version or dist-tag of the package.
	ErrVersionNotFound = errors.New("version not found in registry")
	// ErrDownload: the registry could not be reached, answered with an error, or
	// the transfer broke off (also used when the caller's context ends).
	ErrDownload = errors.New("download failed")
	// ErrIntegrity: the registry gave no sha512 integrity, or the tarball does not match it.
	ErrIntegrity = errors.New("integrity check failed")
	// ErrTooLarge: a download, entry count or unpacked size over the configured cap.
	ErrTooLarge = errors.New("package too large")
	// ErrUnsafeArchive: the tarball holds entries that could write outside the
	// install directory or that agentd never extracts (links, devices, …).
	ErrUnsafeArchive = errors.New("unsafe package archive")
	// ErrBadPackage: a package that is well formed but unusable (no binary at the
	// expected path, metadata for another package, …).
	ErrBadPackage = errors.New("bad package")
	// ErrFilesystem: the data directory could not be written.
	ErrFilesystem = errors.New("install directory error")
)

// Error is the error type of this package.
type Error struct {
	Kind    error  // one of the Err* values above
	Agent   string // agent id, when known
	Version string // version asked for or resolved, when known
	Err     error  // the cause, may be nil
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("install")
	if e.Agent != "" {
		b.WriteString(" " + e.Agent)
		if e.Version != "" {
			b.WriteString("@" + e.Version)
		}
	}
	b.WriteString(": ")
	b.WriteString(e.Kind.Error())
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap exposes both the kind and the cause to errors.Is and errors.As.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

func newErr(kind error, agent, version string, cause error) *Error {
	return &Error{Kind: kind, Agent: agent, Version: version, Err: cause}
}

// withAgent fills agent and version into an *Error produced by a lower layer
// (registry, extraction) that did not know them, or wraps any other error
// with the given kind.
func withAgent(err error, kind error, agent, version string) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		if e.Agent == "" {
			e.Agent = agent
		}
		if e.Version == "" {
			e.Version = version
		}
		return e
	}
	return newErr(kind, agent, version, err)
}

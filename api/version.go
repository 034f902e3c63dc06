package api

import (
	"runtime/debug"
	"sync"
)

// Commit and Date may be stamped with -ldflags -X for builds made outside a
// git checkout; otherwise they come from the VCS stamp Go writes into the
// binary (the commit and its time, so reproducible builds stay identical).
var (
	Commit = ""
	Date   = ""
)

// BuildInfo is what a binary says about its build.
type BuildInfo struct {
	Version string `json:"version"`
	Commit  string `json:"commit,omitempty" doc:"The git commit built, with a -dirty suffix for uncommitted changes"`
	Date    string `json:"date,omitempty" doc:"The time of that commit (RFC 3339)"`
}

var buildOnce = sync.OnceValue(func() BuildInfo {
	b := BuildInfo{Version: Version, Commit: Commit, Date: Date}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	var dirty bool
	for _, s := range info.Settings {
		switch {
		case s.Key == "vcs.revision" && b.Commit == "":
			b.Commit = s.Value
		case s.Key == "vcs.time" && b.Date == "":
			b.Date = s.Value
		case s.Key == "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if dirty && Commit == "" && b.Commit != "" {
		b.Commit += "-dirty"
	}
	return b
})

// Build reports the running binary's version, commit and date.
func Build() BuildInfo { return buildOnce() }

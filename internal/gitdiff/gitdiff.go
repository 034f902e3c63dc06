// Package gitdiff reports what changed in a working tree since its last
// commit — tracked edits, deletions, renames and new untracked files — as
// `git` sees it, without touching the repository: the user's index is never
// written and new blobs go to a throwaway object directory.
package gitdiff

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/agentd-dev/agentd/internal/agentproc"
)

// Options bound the work; zero values take defaults.
type Options struct {
	// Git is the git binary; "" looks it up on PATH.
	Git string
	// MaxPatch bounds the unified diff in bytes (default 4 MiB); a longer
	// one is cut and the result marked truncated.
	MaxPatch int
	// MaxFiles bounds the file list (default 10000).
	MaxFiles int
	// NoPatch leaves the unified diff out.
	NoPatch bool
	// Timeout bounds the whole diff (default 60 s).
	Timeout time.Duration
}

// ChangedFile is one changed path.
type ChangedFile struct {
	Path    string `json:"path"`
	OldPath string `json:"oldPath,omitempty" doc:"The path before a rename or copy"`
	Status  string `json:"status" enum:"added,modified,deleted,renamed,copied,typeChanged" doc:"How the path changed; new untracked files are added"`
	// Additions and Deletions are line counts, absent for binary files.
	Additions *int `json:"additions,omitempty"`
	Deletions *int `json:"deletions,omitempty"`
	Binary    bool `json:"binary"`
}

// Result is a working tree's changes.
type Result struct {
	// Repository is false when the directory is not inside a git work tree.
	Repository bool `json:"repository"`
	// Root is the work tree's top directory.
	Root string `json:"root,omitempty"`
	// Base is the commit compared against; empty in a repository without commits.
	Base  string        `json:"base,omitempty"`
	Files []ChangedFile `json:"files"`
	// Patch is the unified diff (git's format, rename detection on).
	Patch     string `json:"patch,omitempty"`
	Truncated bool   `json:"truncated" doc:"The file list or the patch was cut at its bound"`
}

// ErrNoGit means no git binary could be found.
var ErrNoGit = errors.New("git is not installed")

// Diff compares dir's work tree, untracked files included (ignored files
// excluded), with its HEAD commit.
func Diff(ctx context.Context, dir string, o Options) (Result, error) {
	o = withDefaults(o)
	if o.Git == "" {
		p, err := agentproc.LookPath("git")
		if err != nil {
			return Result{}, ErrNoGit
		}
		o.Git = p
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	g := &git{bin: o.Git, dir: dir, env: baseEnv()}
	top, objects, ok, err := g.repo(ctx)
	if err != nil || !ok {
		return Result{Files: []ChangedFile{}}, err
	}
	scratch, err := os.MkdirTemp("", "agentd-gitdiff-")
	if err != nil {
		return Result{}, fmt.Errorf("gitdiff: scratch dir: %w", err)
	}
	defer os.RemoveAll(scratch)
	// git only takes an object directory that exists as the repository's.
	if err := os.Mkdir(filepath.Join(scratch, "objects"), 0o700); err != nil {
		return Result{}, fmt.Errorf("gitdiff: scratch dir: %w", err)
	}
	g.dir = top
	g.env = append(g.env, "GIT_INDEX_FILE="+filepath.Join(scratch, "index"),
		"GIT_OBJECT_DIRECTORY="+filepath.Join(scratch, "objects"), "GIT_ALTERNATE_OBJECT_DIRECTORIES="+objects)
	base, against, err := g.snapshot(ctx)
	if err != nil {
		return Result{}, err
	}
	res := Result{Repository: true, Root: top, Base: base}
	if res.Files, res.Truncated, err = g.files(ctx, against, o.MaxFiles); err != nil {
		return Result{}, err
	}
	if !o.NoPatch && len(res.Files) > 0 {
		patch, cut, err := g.output(ctx, o.MaxPatch, diff(against)...)
		if err != nil {
			return Result{}, err
		}
		res.Patch, res.Truncated = string(patch), res.Truncated || cut
	}
	return res, nil
}

func withDefaults(o Options) Options {
	if o.MaxPatch <= 0 {
		o.MaxPatch = 4 << 20
	}
	if o.MaxFiles <= 0 {
		o.MaxFiles = 10000
	}
	if o.Timeout <= 0 {
		o.Timeout = time.Minute
	}
	return o
}

// diff compares the scratch index with a tree. Settings a repository could
// use to run programs (external diff, textconv) are switched off here, and
// fsmonitor and hooks in output: the work tree is the agent's, not ours to
// trust.
func diff(against string, extra ...string) []string {
	args := []string{"diff", "--cached", "--no-color", "--no-ext-diff", "--no-textconv", "-M"}
	return append(append(args, extra...), against)
}

// git runs git commands in one directory with a fixed environment.
type git struct {
	bin, dir string
	env      []string
}

// baseEnv passes what git needs to find the user's config (safe.directory,
// identity) and nothing of the daemon's secrets.
func baseEnv() []string {
	env := []string{"GIT_TERMINAL_PROMPT=0", "GIT_OPTIONAL_LOCKS=0", "LC_ALL=C"}
	for _, k := range []string{"PATH", "HOME", "XDG_CONFIG_HOME"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// repo finds the work tree's top and object directory; ok is false outside
// a work tree.
func (g *git) repo(ctx context.Context) (top, objects string, ok bool, err error) {
	out, _, err := g.output(ctx, 1<<16, "rev-parse", "--path-format=absolute", "--show-toplevel", "--git-path", "objects")
	var fail *exitError
	if errors.As(err, &fail) && strings.Contains(fail.stderr, "not a git repository") {
		return "", "", false, nil
	}
	if err != nil {
		return "", "", false, err
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 {
		return "", "", false, fmt.Errorf("gitdiff: unexpected rev-parse output %q", out)
	}
	return lines[0], lines[1], true, nil
}

// snapshot fills the scratch index with the work tree as `git add -A`
// would stage it. It returns the HEAD commit ("" if there is none) and the
// tree to compare against (HEAD, or the empty tree).
func (g *git) snapshot(ctx context.Context) (base, against string, err error) {
	head, _, err := g.output(ctx, 1<<10, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
	var fail *exitError
	switch {
	case errors.As(err, &fail) && fail.code == 1: // no commits yet
		// Written (to the scratch objects) so that diff can read it, in
		// whichever hash format the repository uses.
		var empty []byte
		if empty, _, err = g.output(ctx, 1<<10, "hash-object", "-w", "-t", "tree", "/dev/null"); err == nil {
			against = strings.TrimSpace(string(empty))
			_, _, err = g.output(ctx, 0, "read-tree", "--empty")
		}
	case err == nil:
		base = strings.TrimSpace(string(head))
		against = base
		_, _, err = g.output(ctx, 0, "read-tree", base)
	}
	if err != nil {
		return "", "", err
	}
	if _, _, err := g.output(ctx, 0, "add", "--all", "--", "."); err != nil {
		return "", "", err
	}
	return base, against, nil
}

// files lists the changed paths with their line counts.
func (g *git) files(ctx context.Context, against string, max int) ([]ChangedFile, bool, error) {
	status, cut1, err := g.output(ctx, 64<<20, diff(against, "--name-status", "-z")...)
	if err != nil {
		return nil, false, err
	}
	counts, cut2, err := g.output(ctx, 64<<20, diff(against, "--numstat", "-z")...)
	if err != nil {
		return nil, false, err
	}
	files, cut3 := parseNameStatus(status, max)
	addCounts(files, counts)
	return files, cut1 || cut2 || cut3, nil
}

var statusNames = map[byte]string{'A': "added", 'M': "modified", 'D': "deleted", 'R': "renamed", 'C': "copied", 'T': "typeChanged"}

// parseNameStatus reads `--name-status -z`: "S\0path\0", or for renames
// and copies "R100\0old\0new\0".
func parseNameStatus(b []byte, max int) ([]ChangedFile, bool) {
	fields := strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
	files := []ChangedFile{}
	for i := 0; i < len(fields) && fields[i] != ""; {
		if len(files) == max {
			return files, true
		}
		code := fields[i][0]
		name, known := statusNames[code]
		if !known {
			name = "modified"
		}
		if (code == 'R' || code == 'C') && i+2 < len(fields) {
			files = append(files, ChangedFile{Status: name, OldPath: fields[i+1], Path: fields[i+2]})
			i += 3
			continue
		}
		if i+1 >= len(fields) {
			break
		}
		files = append(files, ChangedFile{Status: name, Path: fields[i+1]})
		i += 2
	}
	return files, false
}

// addCounts reads `--numstat -z`: "add\tdel\tpath\0", or for renames
// "add\tdel\t\0old\0new\0"; binary files count "-".
func addCounts(files []ChangedFile, b []byte) {
	byPath := make(map[string]*ChangedFile, len(files))
	for i := range files {
		byPath[files[i].Path] = &files[i]
	}
	fields := strings.Split(string(b), "\x00")
	for i := 0; i < len(fields); i++ {
		parts := strings.SplitN(fields[i], "\t", 3)
		if len(parts) != 3 {
			continue
		}
		path := parts[2]
		if path == "" && i+2 < len(fields) { // a rename: old and new follow
			path = fields[i+2]
			i += 2
		}
		f := byPath[path]
		if f == nil {
			continue
		}
		add, err1 := strconv.Atoi(parts[0])
		del, err2 := strconv.Atoi(parts[1])
		if err1 != nil || err2 != nil {
			f.Binary = true
			continue
		}
		f.Additions, f.Deletions = &add, &del
	}
}

// exitError is a git command that failed.
type exitError struct {
	args   []string
	code   int
	stderr string
}

func (e *exitError) Error() string {
	return fmt.Sprintf("git %s: exit code %d: %s", strings.Join(e.args, " "), e.code, strings.TrimSpace(e.stderr))
}

// output runs git and returns at most limit bytes of its stdout (all of it
// when limit is 0 and discarding it); cut is true when there was more, in
// which case git is stopped rather than waited for.
func (g *git) output(ctx context.Context, limit int, args ...string) (out []byte, cut bool, err error) {
	full := append([]string{"-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null", "-c", "safe.directory=*"}, args...)
	p, err := agentproc.Start(ctx, agentproc.Spec{Path: g.bin, Args: full, Dir: g.dir, Env: g.env}, agentproc.Options{Grace: time.Second})
	if err != nil {
		return nil, false, fmt.Errorf("gitdiff: %w", err)
	}
	defer p.Stdout.Close()
	stop := context.AfterFunc(ctx, func() { p.Stop(context.Background()) })
	defer stop()
	var buf bytes.Buffer
	n, _ := io.Copy(&buf, io.LimitReader(p.Stdout, int64(limit)+1))
	if limit > 0 && n > int64(limit) {
		p.Stop(ctx)
		return buf.Bytes()[:limit], true, nil
	}
	_, _ = io.Copy(io.Discard, p.Stdout) // limit 0: drain so git never blocks on a full pipe
	<-p.Done()
	if err := ctx.Err(); err != nil {
		return nil, false, fmt.Errorf("gitdiff: %w", err)
	}
	if exit := p.Exit(); !exit.Success() {
		r := p.Stderr().Report()
		return nil, false, &exitError{args: args, code: exit.Code, stderr: r.Head + "\n" + r.Tail}
	}
	return buf.Bytes(), false, nil
}

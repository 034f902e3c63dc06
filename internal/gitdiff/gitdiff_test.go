package gitdiff

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func gitCmd(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func write(t *testing.T, dir, name, body string) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func needGit(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
}

// fingerprint hashes everything under .git, so a test can prove the
// repository was not written to.
func fingerprint(t *testing.T, dir string) string {
	t.Helper()
	h := sha256.New()
	err := filepath.WalkDir(filepath.Join(dir, ".git"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		fmt.Fprintf(h, "%s %x\n", p, sha256.Sum256(b))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

func ints(a, d int) (*int, *int) { return &a, &d }

func TestDiffWorkTree(t *testing.T) {
	needGit(t)
	dir := t.TempDir()
	gitCmd(t, dir, "init", "-q")
	write(t, dir, "keep.txt", "same\n")
	write(t, dir, "edit.txt", "one\ntwo\nthree\n")
	write(t, dir, "gone.txt", "bye\n")
	write(t, dir, "old/name.txt", strings.Repeat("a line that makes the rename detectable\n", 20))
	write(t, dir, ".gitignore", "ignored.log\n")
	gitCmd(t, dir, "add", "-A")
	gitCmd(t, dir, "commit", "-q", "-m", "base")
	head := strings.TrimSpace(gitCmd(t, dir, "rev-parse", "HEAD"))

	write(t, dir, "edit.txt", "one\n2\nthree\nfour\n")
	if err := os.Remove(filepath.Join(dir, "gone.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "new"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "old/name.txt"), filepath.Join(dir, "new/name.txt")); err != nil {
		t.Fatal(err)
	}
	write(t, dir, "untracked.txt", "fresh\n")
	write(t, dir, "blob.bin", "\x00\x01\x02binary")
	write(t, dir, "ignored.log", "noise\n")
	// Something staged in the user's own index must stay staged, unchanged.
	write(t, dir, "staged.txt", "staged\n")
	gitCmd(t, dir, "add", "staged.txt")
	before := fingerprint(t, dir)

	res, err := Diff(t.Context(), filepath.Join(dir, "new"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	e1a, e1d := ints(2, 1)
	z, zz := ints(0, 0)
	one, oz := ints(1, 0)
	zero, od := ints(0, 1)
	_ = zz
	want := []ChangedFile{
		{Path: "blob.bin", Status: "added", Binary: true},
		{Path: "edit.txt", Status: "modified", Additions: e1a, Deletions: e1d},
		{Path: "gone.txt", Status: "deleted", Additions: zero, Deletions: od},
		{Path: "new/name.txt", OldPath: "old/name.txt", Status: "renamed", Additions: z, Deletions: z},
		{Path: "staged.txt", Status: "added", Additions: one, Deletions: oz},
		{Path: "untracked.txt", Status: "added", Additions: one, Deletions: oz},
	}
	if !reflect.DeepEqual(res.Files, want) {
		t.Errorf("files:\n%s\nwant:\n%s", show(res.Files), show(want))
	}
	if !res.Repository || res.Base != head || res.Truncated {
		t.Errorf("result %+v", res)
	}
	real, _ := filepath.EvalSymlinks(dir)
	if res.Root != dir && res.Root != real {
		t.Errorf("root %q, want %q", res.Root, dir)
	}
	for _, s := range []string{"+fresh", "-two\n+2", "+four", "rename from old/name.txt", "Binary files /dev/null and b/blob.bin differ"} {
		if !strings.Contains(res.Patch, s) {
			t.Errorf("patch lacks %q:\n%s", s, res.Patch)
		}
	}
	if strings.Contains(res.Patch, "noise") {
		t.Error("ignored file in the patch")
	}
	if after := fingerprint(t, dir); after != before {
		t.Error("the repository was written to")
	}
}

func show(fs []ChangedFile) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "  %s %s<-%s bin=%v", f.Status, f.Path, f.OldPath, f.Binary)
		if f.Additions != nil {
			fmt.Fprintf(&b, " +%d -%d", *f.Additions, *f.Deletions)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func TestDiffEdgeCases(t *testing.T) {
	needGit(t)
	t.Run("not a repository", func(t *testing.T) {
		res, err := Diff(t.Context(), t.TempDir(), Options{})
		if err != nil || res.Repository || res.Files == nil || len(res.Files) != 0 {
			t.Fatalf("%+v %v", res, err)
		}
	})
	t.Run("no commits yet", func(t *testing.T) {
		dir := t.TempDir()
		gitCmd(t, dir, "init", "-q")
		write(t, dir, "first.txt", "hello\n")
		res, err := Diff(t.Context(), dir, Options{})
		if err != nil || !res.Repository || res.Base != "" || len(res.Files) != 1 || res.Files[0].Status != "added" ||
			!strings.Contains(res.Patch, "+hello") {
			t.Fatalf("%+v %v", res, err)
		}
	})
	t.Run("clean tree", func(t *testing.T) {
		dir := t.TempDir()
		gitCmd(t, dir, "init", "-q")
		write(t, dir, "a.txt", "a\n")
		gitCmd(t, dir, "add", "-A")
		gitCmd(t, dir, "commit", "-q", "-m", "a")
		res, err := Diff(t.Context(), dir, Options{})
		if err != nil || len(res.Files) != 0 || res.Patch != "" {
			t.Fatalf("%+v %v", res, err)
		}
	})
	t.Run("bounds", func(t *testing.T) {
		dir := t.TempDir()
		gitCmd(t, dir, "init", "-q")
		for i := range 5 {
			write(t, dir, fmt.Sprintf("f%d.txt", i), strings.Repeat("line\n", 1000))
		}
		res, err := Diff(t.Context(), dir, Options{MaxPatch: 1000, MaxFiles: 3})
		if err != nil || !res.Truncated || len(res.Files) != 3 || len(res.Patch) != 1000 {
			t.Fatalf("truncated=%v files=%d patch=%d err=%v", res.Truncated, len(res.Files), len(res.Patch), err)
		}
		res, err = Diff(t.Context(), dir, Options{NoPatch: true})
		if err != nil || res.Truncated || len(res.Files) != 5 || res.Patch != "" {
			t.Fatalf("no patch: %+v %v", res, err)
		}
	})
	t.Run("repository config cannot run programs", func(t *testing.T) {
		dir := t.TempDir()
		gitCmd(t, dir, "init", "-q")
		write(t, dir, "a.txt", "a\n")
		gitCmd(t, dir, "add", "-A")
		gitCmd(t, dir, "commit", "-q", "-m", "a")
		marker := filepath.Join(t.TempDir(), "ran")
		script := filepath.Join(t.TempDir(), "evil.sh")
		if err := os.WriteFile(script, []byte("#!/bin/sh\ntouch "+marker+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, kv := range [][2]string{{"core.fsmonitor", script}, {"diff.external", script}, {"core.hooksPath", filepath.Dir(script)}} {
			gitCmd(t, dir, "config", kv[0], kv[1])
		}
		write(t, dir, ".gitattributes", "*.txt diff=evil\n")
		gitCmd(t, dir, "config", "diff.evil.textconv", script)
		write(t, dir, "a.txt", "b\n")
		if _, err := Diff(t.Context(), dir, Options{}); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(marker); err == nil {
			t.Fatal("a program named in the repository's config ran")
		}
	})
	t.Run("no git", func(t *testing.T) {
		_, err := Diff(t.Context(), t.TempDir(), Options{Git: filepath.Join(t.TempDir(), "missing-git")})
		if err == nil {
			t.Fatal("no error")
		}
	})
}

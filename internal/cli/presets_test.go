package cli

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServerRefusesBadPresets: a presets file that does not parse stops
// the daemon before it opens anything, with an error naming the file.
func TestServerRefusesBadPresets(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "presets.json")
	if err := os.WriteFile(bad, []byte(`{"presets": {"a": {"agnet": "claude"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{bad, filepath.Join(dir, "missing.json")} {
		opts := &serverOptions{IO: IO{Out: io.Discard, Err: io.Discard}, NoToken: true, DataDir: filepath.Join(dir, "data"), Presets: path}
		err := runServer(t.Context(), opts)
		var usage usageError
		if !errors.As(err, &usage) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: err = %v, want a usage error naming the file", path, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); !os.IsNotExist(err) {
		t.Errorf("the data directory was created: %v", err)
	}
}

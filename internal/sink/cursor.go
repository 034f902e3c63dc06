package sink

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Cursor keeps a sink's shipped position across restarts.
type Cursor interface {
	Load() (int64, error)
	Save(pos int64) error
}

// FileCursor keeps the position in a file, replaced atomically: a crash
// leaves the old position or the new one, never a torn file. The rename is
// not synced: losing it to a power cut only re-ships a batch, which
// destinations absorb, and saves one fsync per batch.
type FileCursor struct {
	Path string
}

// Load returns the saved position, 0 when nothing was saved yet.
func (c FileCursor) Load() (int64, error) {
	b, err := os.ReadFile(c.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read cursor: %w", err)
	}
	pos, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || pos < 0 {
		return 0, fmt.Errorf("cursor %s holds %q, not a position", c.Path, b)
	}
	return pos, nil
}

// Save replaces the saved position.
func (c FileCursor) Save(pos int64) error {
	return writeFileSynced(c.Path, []byte(strconv.FormatInt(pos, 10)+"\n"))
}

// writeFileSynced replaces path with data through a synced temporary file.
func writeFileSynced(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) //nolint:errcheck // gone after the rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	return nil
}

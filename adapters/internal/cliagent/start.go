package cliagent

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/internal/apierr"
)

// Resolve finds the binary with resolve. Every failure wraps
// adapters.ErrNotInstalled, which the engine reports as such.
func Resolve(ctx context.Context, resolve func(context.Context) (string, error)) (string, error) {
	path, err := resolve(ctx)
	if err != nil {
		if errors.Is(err, adapters.ErrNotInstalled) {
			return "", err
		}
		return "", fmt.Errorf("%w: %v", adapters.ErrNotInstalled, err)
	}
	return path, nil
}

// Directory returns the directory a session of agent runs in: dir, or the
// daemon's working directory when dir is empty. One that is not a
// directory is the client's mistake (InvalidRequest).
func Directory(agent, dir string) (string, error) {
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return "", fmt.Errorf("%s: working directory: %w", agent, err)
		}
		dir = wd
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return "", apierr.New(apierr.InvalidRequest, "directory does not exist or is not a directory: %s", dir)
	}
	return dir, nil
}

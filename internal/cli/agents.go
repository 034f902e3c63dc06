package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/internal/install"
	"github.com/agentd-dev/agentd/internal/metrics"
	"github.com/agentd-dev/agentd/internal/session"
)

// agentInstaller lets the engine install agents on first use.
type agentInstaller struct {
	inst    *install.Installer
	metrics *metrics.Metrics // nil when metrics are off
}

func (a agentInstaller) Installable(agent string) bool {
	return slices.Contains(install.Agents(), agent)
}

func (a agentInstaller) Install(ctx context.Context, agent, version string, reinstall bool, progress func(session.InstallProgress)) error {
	var report func(install.Progress)
	if progress != nil {
		report = func(p install.Progress) {
			progress(session.InstallProgress{Phase: string(p.Phase), Version: p.Version, Package: p.Package,
				Downloaded: p.Downloaded, Total: p.Total})
		}
	}
	start := time.Now()
	_, err := a.inst.Install(ctx, agent, version, reinstall, report)
	a.metrics.InstallDone(agent, time.Since(start), err)
	return err
}

// resolver finds an agent's binary through the installer (its env
// override, its own installs, PATH), then through fallback.
func (a agentInstaller) resolver(agent string, fallback func(context.Context) (string, error)) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		b, err := a.inst.Resolve(ctx, agent)
		if err == nil {
			return b.Path, nil
		}
		if !errors.Is(err, install.ErrNotInstalled) {
			return "", fmt.Errorf("%w: %v", adapters.ErrNotInstalled, err)
		}
		return fallback(ctx)
	}
}

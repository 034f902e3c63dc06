package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/adapters/amp"
	"github.com/agentd-dev/agentd/adapters/mock"
	"github.com/agentd-dev/agentd/internal/eventlog"
	"github.com/agentd-dev/agentd/internal/install"
	"github.com/agentd-dev/agentd/internal/session"
)

// BenchmarkWarmStart measures what an installed agent adds to session
// creation: each iteration creates, through the engine as the daemon wires
// it, one session of each of
//
//	mock       the baseline: nothing to find or check
//	fixed      amp with its binary's path given: the adapter's own work
//	installed  amp found by the daemon's resolver among agentd's installs
//
// interleaved, so that the ratios hold on a noisy machine. Amp because
// creating its session starts no process: what is left is finding the
// binary, checking credentials and the engine's own work. It uses the
// installs TestRealRegistryAgents caches (run that first) and skips without.
//
//	go test -short -run '^$' -bench WarmStart -benchtime 200x ./internal/cli
func BenchmarkWarmStart(b *testing.B) {
	installed, path := installedAmp(b)
	fixed := amp.New(amp.WithResolver(func(context.Context) (string, error) { return path, nil }))
	m := benchManager(b, mock.New(), named{fixed, "fixed"}, named{installed, "installed"})
	ctx := context.Background()
	dir := b.TempDir()
	for _, agent := range []string{"fixed", "installed"} { // the one-off --version probe is BenchmarkFirstStart's
		if _, err := m.Create(ctx, "warm-"+agent, session.CreateRequest{Agent: agent, Directory: dir}); err != nil {
			b.Fatal(err)
		}
	}
	var took [3]time.Duration
	b.ResetTimer()
	for i := range b.N {
		for j, agent := range []string{"mock", "fixed", "installed"} {
			start := time.Now()
			if _, err := m.Create(ctx, fmt.Sprintf("%s-%d", agent, i), session.CreateRequest{Agent: agent, Directory: dir}); err != nil {
				b.Fatal(err)
			}
			took[j] += time.Since(start)
		}
	}
	b.StopTimer()
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(b.N) }
	b.ReportMetric(per(took[0]), "mock-µs/op")
	b.ReportMetric(per(took[1]), "fixed-µs/op")
	b.ReportMetric(per(took[2]), "installed-µs/op")
	b.ReportMetric(per(took[2]-took[0]), "added-vs-mock-µs/op")
	b.ReportMetric(per(took[2]-took[1]), "added-by-install-µs/op")
	b.ReportMetric(float64(took[2])/float64(took[0]), "installed/mock")
}

// BenchmarkFirstStart is the first session of a daemon for an installed
// agent: a fresh adapter each time, so it includes the agent's --version
// probe (run once per binary, on the session-creating request).
//
//	go test -short -run '^$' -bench FirstStart -benchtime 5x ./internal/cli
func BenchmarkFirstStart(b *testing.B) {
	_, path := installedAmp(b)
	ctx := context.Background()
	dir := b.TempDir()
	var first, mockTook time.Duration
	for i := range b.N {
		a := amp.New(amp.WithResolver(func(context.Context) (string, error) { return path, nil }))
		m := benchManager(b, mock.New(), named{a, "amp"})
		start := time.Now()
		if _, err := m.Create(ctx, fmt.Sprintf("mock-%d", i), session.CreateRequest{Agent: "mock", Directory: dir}); err != nil {
			b.Fatal(err)
		}
		mockTook += time.Since(start)
		start = time.Now()
		if _, err := m.Create(ctx, fmt.Sprintf("amp-%d", i), session.CreateRequest{Agent: "amp", Directory: dir}); err != nil {
			b.Fatal(err)
		}
		first += time.Since(start)
	}
	b.ReportMetric(float64(mockTook.Microseconds())/float64(b.N), "mock-µs/op")
	b.ReportMetric(float64(first.Microseconds())/float64(b.N), "first-µs/op")
	b.ReportMetric(float64(first)/float64(mockTook), "first/mock")
}

// installedAmp is amp as the daemon wires it, resolved among the installs
// of the cached data dir, and its binary's path; it skips when amp is not
// installed there.
func installedAmp(b *testing.B) (adapters.Agent, string) {
	b.Helper()
	// Only agentd's own install may answer, not AGENTD_AMP_BIN or PATH.
	inst, err := install.New(install.Config{DataDir: registryDataDir(b),
		Getenv: func(k string) string {
			if strings.HasPrefix(k, "AGENTD_") {
				return ""
			}
			return os.Getenv(k)
		},
		LookPath: func(string) (string, error) { return "", errors.New("no PATH lookups") }})
	if err != nil {
		b.Fatal(err)
	}
	bin, err := inst.Resolve(context.Background(), install.Amp)
	if err != nil || bin.Source != install.SourceManaged {
		b.Skipf("amp is not installed in %s (%v): run AGENTD_REAL_REGISTRY=1 go test -run TestRealRegistryAgents ./internal/cli", registryDataDir(b), err)
	}
	b.Setenv("AMP_API_KEY", "bench") // its credential check passes; no turn runs
	resolve := agentInstaller{inst: inst}.resolver(install.Amp, func(context.Context) (string, error) {
		return "", adapters.ErrNotInstalled
	})
	return amp.New(amp.WithResolver(resolve)), bin.Path
}

// named gives an agent another id, so that variants of one agent can be
// created side by side.
type named struct {
	adapters.Agent
	id string
}

func (n named) ID() string { return n.id }

// benchManager is an engine over an event log in a temp dir, shut down at
// the end of the benchmark.
func benchManager(b *testing.B, agents ...adapters.Agent) *session.Manager {
	b.Helper()
	ctx := context.Background()
	log, err := eventlog.Open(ctx, b.TempDir(), eventlog.Options{})
	if err != nil {
		b.Fatal(err)
	}
	m, err := session.New(ctx, log, agents, session.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		m.Shutdown(ctx)
		_ = log.Close()
	})
	return m
}

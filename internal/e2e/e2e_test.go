package e2e

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/internal/fakemodel"
)

var update = flag.Bool("update", false, "rewrite the golden streams and docs/agent-coverage.md")

const coverageDoc = "../../docs/agent-coverage.md"

// TestAgents runs every scenario through every agent (agents in parallel,
// scenarios in turn), compares each stream with its golden, then the
// coverage table with the committed one.
func TestAgents(t *testing.T) {
	if testing.Short() {
		t.Skip("real-agent harness: skipped under -short")
	}
	p := newProofs()
	t.Run("agent", func(t *testing.T) {
		for _, r := range rigs {
			t.Run(r.agent, func(t *testing.T) {
				t.Parallel()
				rigT := t
				bin, err := r.find(t.Context())
				if err != nil {
					p.skipped(r.agent)
					t.Skipf("%s not found (%v): its column of the coverage table is not proven by this run", r.agent, err)
				}
				// One scripted model per agent: scenarios pick their
				// script by the marker in their prompts.
				fake := fakemodel.New()
				base, err := fake.Start(context.WithoutCancel(t.Context()))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(fake.Close)
				var agent adapters.Agent
				for _, sc := range scenarios {
					sc, ok := r.adjust(sc)
					if !ok {
						continue
					}
					t.Run(sc.name, func(t *testing.T) {
						a := agent
						if a == nil && r.shared {
							a = r.build(rigT, bin, base, sc)
							agent = a
						} else if a == nil {
							a = r.build(t, bin, base, sc)
						}
						d := startDaemon(t, a)
						evs := play(t, d, r.agent, sc, t.TempDir())
						p.record(t, r.agent, r.how, sc.name, evs)
						golden(t, filepath.Join("testdata", r.agent, sc.name+".golden"), []byte(shapes(t, evs)))
					})
				}
			})
		}
	})
	if t.Failed() {
		return
	}
	if len(p.missed) > 0 {
		t.Skipf("coverage table not compared: %v could not run here", p.missed)
	}
	names := make([]string, len(rigs))
	want := 0
	for i, r := range rigs {
		names[i] = r.agent
		for _, sc := range scenarios {
			if _, ok := r.adjust(sc); ok {
				want++
			}
		}
	}
	if p.runs != want {
		t.Logf("coverage table not compared: %d of %d scenario runs selected", p.runs, want)
		return
	}
	golden(t, coverageDoc, []byte(p.table(names)))
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from this run (review, then -update):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// Package adaptertest holds what the adapters' tests share: an Emitter that
// records a session's events and lets a test wait for them, on events
// rather than time.
package adaptertest

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/schema"
)

// Collector is an Emitter that keeps every event it is given.
type Collector struct {
	// Timeout bounds every wait: generous, so a loaded machine does not
	// flake.
	Timeout time.Duration
	// Describe, if set, says what a failed wait saw (by default the events'
	// types).
	Describe func([]adapters.Event) string

	mu      sync.Mutex
	events  []adapters.Event
	changed chan struct{} // closed and replaced on every Emit
}

// NewCollector returns a Collector whose waits last at most timeout.
func NewCollector(timeout time.Duration) *Collector {
	return &Collector{Timeout: timeout, changed: make(chan struct{})}
}

func (c *Collector) Emit(_ context.Context, evs ...adapters.Event) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, evs...)
	close(c.changed)
	c.changed = make(chan struct{})
	return nil
}

// Events returns the events so far.
func (c *Collector) Events() []adapters.Event {
	evs, _ := c.snapshot()
	return evs
}

func (c *Collector) snapshot() ([]adapters.Event, chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]adapters.Event(nil), c.events...), c.changed
}

// WaitFor waits until n events match, and returns every event so far. It
// fails the test when ctx ends or Timeout passes first.
func (c *Collector) WaitFor(t testing.TB, ctx context.Context, what string, n int, match func(adapters.Event) bool) []adapters.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	for {
		evs, changed := c.snapshot()
		if Count(evs, match) >= n {
			return evs
		}
		select {
		case <-changed:
		case <-ctx.Done():
			t.Fatalf("no %d× %s within %v; %d events:\n%s", n, what, c.Timeout, len(evs), c.describe(evs))
		}
	}
}

// WaitTurns waits until n turns have ended, and returns every event so far.
func (c *Collector) WaitTurns(t testing.TB, ctx context.Context, n int) []adapters.Event {
	t.Helper()
	return c.WaitFor(t, ctx, "turn.ended", n, IsType(schema.EventTurnEnded))
}

func (c *Collector) describe(evs []adapters.Event) string {
	if c.Describe != nil {
		return c.Describe(evs)
	}
	var b strings.Builder
	for _, ev := range evs {
		b.WriteString(string(ev.Type))
		b.WriteByte('\n')
	}
	return b.String()
}

// Count is how many of evs match.
func Count(evs []adapters.Event, match func(adapters.Event) bool) int {
	n := 0
	for _, ev := range evs {
		if match(ev) {
			n++
		}
	}
	return n
}

// IsType matches events of type typ.
func IsType(typ schema.EventType) func(adapters.Event) bool {
	return func(ev adapters.Event) bool { return ev.Type == typ }
}

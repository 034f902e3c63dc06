package cliagent

import (
	"context"
	"sync"

	"github.com/agentd-dev/agentd/adapters"
)

// Sink hands a session's events to the engine. Once the engine refuses
// some, the session has ended for it, and Deliver drops what follows.
type Sink struct {
	adapters.Emitter

	mu   sync.Mutex
	dead bool
}

// Deliver emits events, unless the engine refused earlier ones.
func (k *Sink) Deliver(ctx context.Context, events []adapters.Event) {
	if len(events) == 0 || k.Dead() {
		return
	}
	if err := k.Emit(ctx, events...); err != nil {
		k.mu.Lock()
		k.dead = true
		k.mu.Unlock()
	}
}

// Dead reports whether the engine refused events.
func (k *Sink) Dead() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.dead
}

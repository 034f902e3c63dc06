package cliagent

import (
	"context"
	"errors"
	"testing"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/schema"
)

// refuser records what it is given and refuses it from the second call on.
type refuser struct{ got [][]adapters.Event }

func (r *refuser) Emit(_ context.Context, events ...adapters.Event) error {
	r.got = append(r.got, events)
	if len(r.got) > 1 {
		return errors.New("session ended")
	}
	return nil
}

func TestSink(t *testing.T) {
	r := &refuser{}
	k := &Sink{Emitter: r}
	ev := []adapters.Event{{Type: schema.EventTurnEnded}}
	k.Deliver(t.Context(), nil) // nothing to hand over: the engine is not called
	k.Deliver(t.Context(), ev)
	if k.Dead() {
		t.Fatal("dead after an accepted event")
	}
	k.Deliver(t.Context(), ev)
	k.Deliver(t.Context(), ev)
	if !k.Dead() || len(r.got) != 2 {
		t.Fatalf("dead %v, %d calls; want dead after 2 calls", k.Dead(), len(r.got))
	}
}

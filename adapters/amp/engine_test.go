package amp

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/internal/eventlog"
	engine "github.com/agentd-dev/agentd/internal/session"
	"github.com/agentd-dev/agentd/schema"
)

// TestRecordingsThroughEngine runs every recording through the real engine,
// played by the fake amp, with every prompt sent at once (so all but the
// first queue): the engine accepts every batch, every turn ends, the
// session stays open, and the stored stream is well formed (items start
// before their deltas and completion, complete once, and carry itm_ ids).
func TestRecordingsThroughEngine(t *testing.T) {
	for _, path := range recordings(t) {
		name := filepath.Base(path)
		t.Run(strings.TrimSuffix(name, ".jsonl"), func(t *testing.T) {
			ctx := t.Context()
			log, err := eventlog.Open(ctx, t.TempDir(), eventlog.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer log.Close()
			m, err := engine.New(ctx, log, []adapters.Agent{newFake(t, name).agent(t)})
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				sctx, cancel := context.WithTimeout(context.Background(), waitLong)
				defer cancel()
				m.Shutdown(sctx)
			}()
			if _, err := m.Create(ctx, "s", engine.CreateRequest{Agent: "amp", Directory: t.TempDir()}); err != nil {
				t.Fatal(err)
			}
			s, err := m.Get("s")
			if err != nil {
				t.Fatal(err)
			}
			turns := 0
			for _, line := range readLines(t, path) {
				if bytes.Contains(line, []byte(`"type":"result"`)) {
					turns++
				}
			}
			for range turns {
				if err := s.Send(ctx, adapters.Message{Text: "go"}); err != nil {
					t.Fatal(err)
				}
			}
			evs := waitStored(t, log, turns)
			checkItemOrder(t, evs)
			for _, e := range evs {
				if e.Type == schema.EventSessionEnded || (e.Type == schema.EventError && e.Source == schema.SourceDaemon) {
					t.Errorf("event %d: %s %s", e.Sequence, e.Type, e.Data)
				}
			}
		})
	}
}

// waitStored waits until the session's log holds n turn.ended events and
// returns every stored event.
func waitStored(t *testing.T, log *eventlog.Log, n int) []schema.UniversalEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitLong)
	defer cancel()
	for {
		changed := log.Changed("s")
		recs, err := log.Read(ctx, "s", 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		evs := make([]schema.UniversalEvent, len(recs))
		ended := 0
		for i, r := range recs {
			if err := json.Unmarshal(r.Body, &evs[i]); err != nil {
				t.Fatal(err)
			}
			if evs[i].Type == schema.EventTurnEnded {
				ended++
			}
		}
		if ended >= n {
			return evs
		}
		select {
		case <-changed:
		case <-ctx.Done():
			t.Fatalf("%d of %d turns ended after %v", ended, n, waitLong)
		}
	}
}

// checkItemOrder: every delta and completion follows its item's start, and
// no item completes twice.
func checkItemOrder(t *testing.T, evs []schema.UniversalEvent) {
	t.Helper()
	started, completed := map[string]bool{}, map[string]bool{}
	for _, e := range evs {
		switch e.Type {
		case schema.EventItemStarted, schema.EventItemCompleted:
			var d schema.ItemEventData
			if err := json.Unmarshal(e.Data, &d); err != nil {
				t.Fatal(err)
			}
			id := d.Item.ItemID
			if !strings.HasPrefix(id, "itm_") {
				t.Errorf("item id %q", id)
			}
			if e.Type == schema.EventItemStarted {
				started[id] = true
				continue
			}
			if !started[id] || completed[id] {
				t.Errorf("completion %d of %s: started %v, completed before %v", e.Sequence, id, started[id], completed[id])
			}
			completed[id] = true
		case schema.EventItemDelta:
			var d schema.ItemDeltaData
			if err := json.Unmarshal(e.Data, &d); err != nil {
				t.Fatal(err)
			}
			if !started[d.ItemID] || completed[d.ItemID] {
				t.Errorf("delta %d on %s outside its item", e.Sequence, d.ItemID)
			}
		}
	}
}

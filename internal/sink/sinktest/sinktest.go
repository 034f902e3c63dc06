// Package sinktest holds what the destination tests share: a local log with
// engine-like events and a shipper goroutine owned by the test.
package sinktest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/agentd-dev/agentd/internal/eventlog"
	"github.com/agentd-dev/agentd/internal/sink"
)

// Ctx is the deadline every wait of a test is bounded by.
func Ctx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// OpenLog opens a fresh log closed at the end of the test.
func OpenLog(t testing.TB) *eventlog.Log {
	t.Helper()
	l, err := eventlog.Open(Ctx(t), t.TempDir(), eventlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// Body is a stored event envelope like the engine writes: session.started
// first, then item deltas, one second apart.
func Body(sessionID string, seq uint64) []byte {
	typ, data := "item.delta", fmt.Sprintf(`{"item_id":"itm_1","delta":"chunk %d"}`, seq)
	if seq == 1 {
		typ, data = "session.started", `{"metadata":null}`
	}
	return fmt.Appendf(nil, `{"event_id":"evt_%d","sequence":%d,"time":"2026-11-23T10:00:%02d.5Z","session_id":%q,`+
		`"native_session_id":null,"synthetic":false,"source":"agent","type":%q,"data":%s,"raw":null}`,
		seq, seq, seq%60, sessionID, typ, data)
}

// Record is event seq of the session; every fourth carries a raw payload.
func Record(sessionID string, seq uint64) eventlog.Record {
	r := eventlog.Record{Seq: seq, Type: "item.delta", Body: Body(sessionID, seq)}
	if seq == 1 {
		r.Type = "session.started"
	}
	if seq%4 == 0 {
		r.Raw = fmt.Appendf(nil, `{"native":%d}`, seq)
	}
	return r
}

// Append writes events from..to of the session, creating it at 1.
func Append(t testing.TB, l *eventlog.Log, sessionID string, from, to uint64) {
	t.Helper()
	ctx := Ctx(t)
	for seq := from; seq <= to; seq++ {
		var err error
		if seq == 1 {
			info := fmt.Appendf(nil, `{"sessionId":%q,"agent":"mock","eventCount":1}`, sessionID)
			err = l.CreateSession(ctx, eventlog.Session{ID: sessionID, Info: info, CreatedAt: 1, UpdatedAt: 1}, []eventlog.Record{Record(sessionID, 1)})
		} else {
			err = l.Append(ctx, sessionID, nil, int64(seq), Record(sessionID, seq))
		}
		if err != nil {
			t.Fatalf("append %s/%d: %v", sessionID, seq, err)
		}
	}
}

// Running is a shipper goroutine owned by a test.
type Running struct {
	*sink.Shipper
	cancel context.CancelFunc
	done   chan struct{}
}

// Stop ends the shipper and waits for it; a test's cleanup does too.
func (r *Running) Stop() {
	r.cancel()
	<-r.done
}

// Start runs a shipper with fast backoff until the test ends.
func Start(t testing.TB, l *eventlog.Log, dst sink.Destination, opts sink.Options) *Running {
	t.Helper()
	if opts.Name == "" {
		opts.Name = dst.Kind()
	}
	if opts.MinBackoff == 0 {
		opts.MinBackoff, opts.MaxBackoff = 5*time.Millisecond, 100*time.Millisecond
	}
	s, err := sink.New(l, dst, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Running{Shipper: s, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		_ = s.Run(ctx)
	}()
	t.Cleanup(r.Stop)
	return r
}

// WaitAll waits until everything committed to l so far is shipped.
func WaitAll(t testing.TB, l *eventlog.Log, s *Running) {
	t.Helper()
	ctx := Ctx(t)
	head, err := l.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.WaitShipped(ctx, head); err != nil {
		t.Fatalf("%v (status %+v)", err, s.Status(ctx))
	}
}

package sink

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/agentd-dev/agentd/internal/eventlog"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestFileCursor(t *testing.T) {
	dir := t.TempDir()
	c := FileCursor{Path: filepath.Join(dir, "sub", "x.cursor")}
	if pos, err := c.Load(); err != nil || pos != 0 {
		t.Fatalf("Load of a missing cursor = %d, %v; want 0", pos, err)
	}
	for _, pos := range []int64{7, 123456789012} {
		if err := c.Save(pos); err != nil {
			t.Fatal(err)
		}
		if got, err := c.Load(); err != nil || got != pos {
			t.Fatalf("Load = %d, %v; want %d", got, err, pos)
		}
	}
	if entries, _ := os.ReadDir(filepath.Dir(c.Path)); len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
	if err := os.WriteFile(c.Path, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Load(); err == nil {
		t.Fatal("Load of a corrupt cursor succeeded")
	}
}

func TestBackoff(t *testing.T) {
	s := &Shipper{opts: Options{MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second}}
	ms := time.Millisecond
	for attempt, want := range []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, time.Second, time.Second} {
		if got := s.backoff(attempt); got != want {
			t.Errorf("backoff(%d) = %v; want %v", attempt, got, want)
		}
	}
	if got := s.backoff(1000); got != time.Second {
		t.Errorf("backoff(1000) = %v; want the cap", got)
	}
}

// flaky is a destination that refuses its first failures calls, then keeps
// what it is given.
type flaky struct {
	mu       sync.Mutex
	failures int
	got      []string
}

func (f *flaky) Kind() string { return "test" }
func (f *flaky) Close() error { return nil }
func (f *flaky) Ship(_ context.Context, b Batch) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failures > 0 {
		f.failures--
		return errors.New("destination down")
	}
	if len(b.Sessions) == 0 {
		return errors.New("batch without sessions")
	}
	for _, e := range b.Events {
		f.got = append(f.got, fmt.Sprintf("%s/%d", e.SessionID, e.Seq))
	}
	return nil
}

func TestShipperRetriesInOrderAndTracksBacklog(t *testing.T) {
	ctx := testCtx(t)
	l, err := eventlog.Open(ctx, t.TempDir(), eventlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var want []string
	mk := func(id string, seq uint64) eventlog.Record {
		want = append(want, fmt.Sprintf("%s/%d", id, seq))
		return eventlog.Record{Seq: seq, Type: "x", Body: fmt.Appendf(nil, `{"time":"2020-01-01T00:00:00Z","raw":null}`)}
	}
	for _, id := range []string{"a", "b"} {
		if err := l.CreateSession(ctx, eventlog.Session{ID: id, Info: []byte(`{}`)}, []eventlog.Record{mk(id, 1)}); err != nil {
			t.Fatal(err)
		}
	}
	dst := &flaky{failures: 3}
	cursor := FileCursor{Path: filepath.Join(t.TempDir(), "c")}
	s, err := New(l, dst, Options{Name: "t", Cursor: cursor, BatchSize: 2, MinBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if st := s.Status(ctx); st.Backlog != 2 || st.LagSeconds < 3600 || st.Kind != "test" || st.Name != "t" {
		t.Fatalf("status before running: %+v", st)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(runCtx) }()
	for seq := uint64(2); seq <= 5; seq++ {
		if err := l.Append(ctx, "a", nil, 1, mk("a", seq)); err != nil {
			t.Fatal(err)
		}
	}
	head, _ := l.Head(ctx)
	if err := s.WaitShipped(ctx, head); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(dst.got) != fmt.Sprint(want) {
		t.Fatalf("shipped %v; want %v", dst.got, want)
	}
	if st := s.Status(ctx); st.Backlog != 0 || st.LastError != "" || st.Shipped != head {
		t.Fatalf("status after shipping: %+v", st)
	}
	if pos, _ := cursor.Load(); pos != head {
		t.Fatalf("saved cursor %d; want %d", pos, head)
	}
}

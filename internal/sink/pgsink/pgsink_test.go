package pgsink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agentd-dev/agentd/internal/eventlog"
	"github.com/agentd-dev/agentd/internal/sink"
	"github.com/agentd-dev/agentd/internal/sink/sinktest"
)

const daemon = "d1"

func newSink(t testing.TB, url string) *Sink {
	t.Helper()
	s, err := New(url, daemon)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// checkExact asserts the database holds exactly sequences 1..want[s] of
// every session s, each once, and nothing else.
func checkExact(t testing.TB, conn *pgx.Conn, want map[string]uint64) {
	t.Helper()
	ctx := sinktest.Ctx(t)
	var total, distinct int64
	if err := conn.QueryRow(ctx, `SELECT count(*), count(DISTINCT (daemon_id, session_id, sequence)) FROM agentd.events`).Scan(&total, &distinct); err != nil {
		t.Fatal(err)
	}
	var wantTotal int64
	for _, n := range want {
		wantTotal += int64(n)
	}
	if total != wantTotal || distinct != wantTotal {
		t.Fatalf("events rows: %d (%d distinct); want %d", total, distinct, wantTotal)
	}
	rows, err := conn.Query(ctx, `SELECT session_id, min(sequence), max(sequence), count(*) FROM agentd.events WHERE daemon_id = $1 GROUP BY session_id`, daemon)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]uint64{}
	for rows.Next() {
		var id string
		var lo, hi, n int64
		if err := rows.Scan(&id, &lo, &hi, &n); err != nil {
			t.Fatal(err)
		}
		if lo != 1 || hi != n {
			t.Fatalf("session %s: sequences %d..%d in %d rows; want 1..%d gap-free", id, lo, hi, n, n)
		}
		got[id] = uint64(n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events per session = %v; want %v", got, want)
	}
}

func TestShipSessions(t *testing.T) {
	srv := needPG(t)
	url := srv.newDB(t)
	l := sinktest.OpenLog(t)
	want := map[string]uint64{"alpha": 30, "beta": 7, "gamma": 1}
	for id, n := range want {
		sinktest.Append(t, l, id, 1, n)
	}
	cursor := sink.FileCursor{Path: filepath.Join(t.TempDir(), "pg.cursor")}
	s := sinktest.Start(t, l, newSink(t, url), sink.Options{Cursor: cursor, BatchSize: 8})
	sinktest.WaitAll(t, l, s)
	conn := connect(t, url)
	checkExact(t, conn, want)

	ctx := sinktest.Ctx(t)
	// One event, column by column, against what was appended.
	var eid, typ, origin, data, raw string
	var at time.Time
	var synthetic bool
	err := conn.QueryRow(ctx, `SELECT event_id, type, time, origin, synthetic, data::text, raw::text FROM agentd.events
		WHERE daemon_id = $1 AND session_id = 'alpha' AND sequence = 4`, daemon).Scan(&eid, &typ, &at, &origin, &synthetic, &data, &raw)
	if err != nil {
		t.Fatal(err)
	}
	wantAt := time.Date(2026, 11, 23, 10, 0, 4, 5e8, time.UTC)
	if eid != "evt_4" || typ != "item.delta" || !at.Equal(wantAt) || origin != "agent" || synthetic ||
		data != `{"delta": "chunk 4", "item_id": "itm_1"}` || raw != `{"native": 4}` {
		t.Fatalf("alpha/4 = %s %s %s %s %v %s %s", eid, typ, at, origin, synthetic, data, raw)
	}
	var agent string
	var last int64
	if err := conn.QueryRow(ctx, `SELECT agent, last_sequence FROM agentd.sessions WHERE daemon_id = $1 AND session_id = 'alpha'`, daemon).Scan(&agent, &last); err != nil {
		t.Fatal(err)
	}
	if agent != "mock" || last != 30 {
		t.Fatalf("sessions row alpha: agent %q last_sequence %d", agent, last)
	}
	st := s.Status(ctx)
	if st.Backlog != 0 || st.LastError != "" || st.Kind != "postgres" {
		t.Fatalf("status after shipping everything: %+v", st)
	}

	// A second shipper from position 0, as after a lost cursor file: every
	// row is offered again and none is doubled.
	s.Stop()
	again := sinktest.Start(t, l, newSink(t, url), sink.Options{Cursor: sink.FileCursor{Path: filepath.Join(t.TempDir(), "c")}, BatchSize: 16})
	sinktest.WaitAll(t, l, again)
	checkExact(t, conn, want)
	if pos, err := cursor.Load(); err != nil || pos != st.Shipped {
		t.Fatalf("saved cursor = %d, %v; want %d", pos, err, st.Shipped)
	}
}

// failures is a slog handler that reports each "sink failing" record.
type failures struct {
	ch chan string
}

func (f failures) Enabled(context.Context, slog.Level) bool { return true }
func (f failures) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		var msg strings.Builder
		msg.WriteString(r.Message)
		r.Attrs(func(a slog.Attr) bool {
			msg.WriteString(" " + a.String())
			return true
		})
		select {
		case f.ch <- msg.String():
		default:
		}
	}
	return nil
}
func (f failures) WithAttrs([]slog.Attr) slog.Handler { return f }
func (f failures) WithGroup(string) slog.Handler      { return f }

func waitFailure(t testing.TB, f failures) string {
	t.Helper()
	select {
	case msg := <-f.ch:
		return msg
	case <-sinktest.Ctx(t).Done():
		t.Fatal("no shipping failure reported")
		return ""
	}
}

// TestPostgresRestartMidStream crashes PostgreSQL while events are being
// written and shipped, writes more while it is down, restarts it and checks
// that every event arrives exactly once.
func TestPostgresRestartMidStream(t *testing.T) {
	srv := needPG(t)
	url := srv.newDB(t)
	l := sinktest.OpenLog(t)
	fails := failures{ch: make(chan string, 1)}
	s := sinktest.Start(t, l, newSink(t, url), sink.Options{
		Cursor: sink.FileCursor{Path: filepath.Join(t.TempDir(), "pg.cursor")}, BatchSize: 10,
		Logger: slog.New(fails),
	})
	ctx := sinktest.Ctx(t)
	const sessions, perSession = 4, 60
	want := map[string]uint64{}
	write := func(from, to uint64) {
		var wg sync.WaitGroup
		for i := range sessions {
			id := fmt.Sprintf("s%d", i)
			want[id] = to
			wg.Go(func() { sinktest.Append(t, l, id, from, to) })
		}
		wg.Wait()
	}
	write(1, perSession/3)
	// Crash the server while the writers are still going.
	writers := make(chan struct{})
	go func() {
		defer close(writers)
		for seq := uint64(perSession/3 + 1); seq <= perSession*2/3; seq++ {
			for i := range sessions {
				sinktest.Append(t, l, fmt.Sprintf("s%d", i), seq, seq)
			}
		}
	}()
	if err := s.WaitShipped(ctx, 20); err != nil {
		t.Fatal(err)
	}
	srv.stop(syscall.SIGQUIT)
	<-writers
	for id := range want {
		want[id] = perSession * 2 / 3
	}
	write(perSession*2/3+1, perSession)
	t.Logf("while PostgreSQL is down: %s", waitFailure(t, fails))
	st := s.Status(ctx)
	if st.Backlog == 0 || st.LastError == "" || st.LagSeconds <= 0 {
		t.Fatalf("status while PostgreSQL is down: %+v; want a backlog, a lag and an error", st)
	}
	if err := srv.start(); err != nil {
		t.Fatal(err)
	}
	sinktest.WaitAll(t, l, s)
	checkExact(t, connect(t, url), want)
	if st := s.Status(ctx); st.Backlog != 0 || st.LastError != "" {
		t.Fatalf("status after recovery: %+v", st)
	}
}

// crashingCursor saves normally until its crash-th save, which it refuses
// after cancelling the shipper: the process "dies" after PostgreSQL has
// committed a batch and before the local cursor records it.
type crashingCursor struct {
	sink.FileCursor
	crash  int
	saves  int
	cancel context.CancelFunc
}

func (c *crashingCursor) Save(pos int64) error {
	c.saves++
	if c.saves == c.crash {
		c.cancel()
		return errors.New("crashed before the cursor was saved")
	}
	return c.FileCursor.Save(pos)
}

func TestCrashBetweenRemoteCommitAndCursor(t *testing.T) {
	srv := needPG(t)
	url := srv.newDB(t)
	l := sinktest.OpenLog(t)
	want := map[string]uint64{"a": 25, "b": 25}
	for id, n := range want {
		sinktest.Append(t, l, id, 1, n)
	}
	ctx, cancel := context.WithCancel(sinktest.Ctx(t))
	path := filepath.Join(t.TempDir(), "pg.cursor")
	cursor := &crashingCursor{FileCursor: sink.FileCursor{Path: path}, crash: 3, cancel: cancel}
	s, err := sink.New(l, newSink(t, url), sink.Options{Name: "pg", Cursor: cursor, BatchSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Run(ctx); err != nil {
		t.Fatal(err)
	}
	saved, err := sink.FileCursor{Path: path}.Load()
	if err != nil {
		t.Fatal(err)
	}
	conn := connect(t, url)
	var stored int64
	if err := conn.QueryRow(sinktest.Ctx(t), `SELECT count(*) FROM agentd.events`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if saved != 20 || stored != 30 {
		t.Fatalf("after the crash: cursor %d, %d rows; want cursor 20 and 30 rows (one batch committed but not recorded)", saved, stored)
	}
	// The restarted daemon re-ships the batch from the saved cursor.
	again := sinktest.Start(t, l, newSink(t, url), sink.Options{Cursor: sink.FileCursor{Path: path}, BatchSize: 10})
	sinktest.WaitAll(t, l, again)
	checkExact(t, conn, want)
	if st := again.Status(sinktest.Ctx(t)); st.LastError != "" {
		t.Fatalf("re-shipping a committed batch failed: %s", st.LastError)
	}
}

func TestMigrateConcurrently(t *testing.T) {
	srv := needPG(t)
	url := srv.newDB(t)
	errs := make(chan error, 5)
	for range 5 {
		go func() {
			conn, err := pgx.Connect(sinktest.Ctx(t), url)
			if err != nil {
				errs <- err
				return
			}
			defer conn.Close(context.Background())
			errs <- Migrate(sinktest.Ctx(t), conn)
		}()
	}
	for range 5 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	var v int
	if err := connect(t, url).QueryRow(sinktest.Ctx(t), `SELECT version FROM agentd.schema_version`).Scan(&v); err != nil || v != schemaVersion {
		t.Fatalf("schema version = %d, %v", v, err)
	}
}

// TestOddPayloads ships what jsonb would refuse or what does not decode:
// shipping must not stall on one bad event.
func TestOddPayloads(t *testing.T) {
	srv := needPG(t)
	url := srv.newDB(t)
	l := sinktest.OpenLog(t)
	ctx := sinktest.Ctx(t)
	recs := []eventlog.Record{
		{Seq: 1, Type: "item.delta", Body: []byte(`{"event_id":"evt_1","time":"2026-11-23T10:00:00Z","source":"agent","type":"item.delta","data":{"delta":"a\u0000b"},"raw":null}`), Raw: []byte(`{"x":"\u0000"}`)},
		{Seq: 2, Type: "agent.unparsed", Body: []byte(`not json`), Raw: []byte(`also not json`)},
	}
	if err := l.CreateSession(ctx, eventlog.Session{ID: "odd", Info: []byte(`{"agent":"mock"}`)}, recs); err != nil {
		t.Fatal(err)
	}
	s := sinktest.Start(t, l, newSink(t, url), sink.Options{Cursor: sink.FileCursor{Path: filepath.Join(t.TempDir(), "c")}})
	sinktest.WaitAll(t, l, s)
	conn := connect(t, url)
	var delta, raw1, data2, raw2 string
	if err := conn.QueryRow(ctx, `SELECT data->>'delta', raw::text FROM agentd.events WHERE sequence = 1`).Scan(&delta, &raw1); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, `SELECT data::text, raw::text FROM agentd.events WHERE sequence = 2`).Scan(&data2, &raw2); err != nil {
		t.Fatal(err)
	}
	if delta != "a\uFFFDb" || raw1 != `{"x": "`+"\uFFFD"+`"}` || data2 != `"not json"` || raw2 != `"also not json"` {
		t.Fatalf("got %q %q %q %q", delta, raw1, data2, raw2)
	}
}

func TestPasswordNeverInErrors(t *testing.T) {
	srv := needPG(t)
	const secret = "s3cr3t-pw"
	url := strings.Replace(srv.url("nodb"), "postgres@", "postgres:"+secret+"@", 1)
	if got := Redact(url); strings.Contains(got, secret) {
		t.Fatalf("Redact kept the password: %s", got)
	}
	s := newSink(t, url)
	err := s.Ship(sinktest.Ctx(t), sink.Batch{Events: []eventlog.Entry{{Pos: 1, SessionID: "x", Record: sinktest.Record("x", 1)}}})
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Fatalf("Ship to a missing database: %v", err)
	}
}

package pgsink

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agentd-dev/agentd/internal/eventlog"
	"github.com/agentd-dev/agentd/internal/sink"
	"github.com/agentd-dev/agentd/internal/sink/sinktest"
)

// BenchmarkShip measures shipping throughput end to end (local log read,
// sessions looked up, one transaction per batch, cursor file synced) against
// a baseline of plain batched INSERTs of the same rows in the same run:
// compare the two events/s figures.
func BenchmarkShip(b *testing.B) {
	srv := needPG(b)
	const batch = 500
	l := sinktest.OpenLog(b)
	const sessions = 10
	for i := range sessions {
		appendBulk(b, l, fmt.Sprintf("s%d", i), 2000)
	}
	entries, err := l.ReadAfter(testCtx(b), 0, 0)
	if err != nil {
		b.Fatal(err)
	}

	b.Run("shipper", func(b *testing.B) {
		var events int
		for b.Loop() {
			b.StopTimer()
			url := srv.newDB(b)
			s, err := sink.New(l, newSink(b, url), sink.Options{Name: "bench", BatchSize: batch,
				Cursor: sink.FileCursor{Path: filepath.Join(b.TempDir(), "c")}})
			if err != nil {
				b.Fatal(err)
			}
			// Schema creation is a one-off, not throughput.
			if err := Migrate(testCtx(b), connect(b, url)); err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			b.StartTimer()
			go func() {
				defer close(done)
				_ = s.Run(ctx)
			}()
			if err := s.WaitShipped(testCtx(b), entries[len(entries)-1].Pos); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			cancel()
			<-done
			events += len(entries)
			b.StartTimer()
		}
		b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	})

	b.Run("plain-insert", func(b *testing.B) {
		var events int
		for b.Loop() {
			b.StopTimer()
			conn := connect(b, srv.newDB(b))
			if err := Migrate(testCtx(b), conn); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			for from := 0; from < len(entries); from += batch {
				plainInsert(b, conn, entries[from:min(from+batch, len(entries))])
			}
			events += len(entries)
		}
		b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	})
}

// plainInsert is the baseline: one INSERT per event into the same table,
// sent as one pipelined batch in one transaction; no reading, no decoding,
// no cursor.
func plainInsert(b testing.TB, conn *pgx.Conn, entries []eventlog.Entry) {
	ctx := testCtx(b)
	var q pgx.Batch
	for _, e := range entries {
		at, _ := sink.EventTime(e.Body)
		var raw any
		if len(e.Raw) > 0 {
			raw = string(e.Raw)
		}
		q.Queue(`INSERT INTO agentd.events (daemon_id, session_id, sequence, event_id, type, time, origin, synthetic, data, raw)
			VALUES ($1, $2, $3, $4, $5, $6, 'agent', false, $7, $8)`,
			daemon, e.SessionID, int64(e.Seq), fmt.Sprintf("evt_%d", e.Seq), e.Type, at, string(e.Body), raw)
	}
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error { return tx.SendBatch(ctx, &q).Close() })
	if err != nil {
		b.Fatal(err)
	}
}

func appendBulk(b testing.TB, l *eventlog.Log, id string, n uint64) {
	recs := make([]eventlog.Record, 0, n)
	for seq := uint64(1); seq <= n; seq++ {
		recs = append(recs, sinktest.Record(id, seq))
	}
	info := fmt.Appendf(nil, `{"sessionId":%q,"agent":"mock"}`, id)
	if err := l.CreateSession(testCtx(b), eventlog.Session{ID: id, Info: info, CreatedAt: 1, UpdatedAt: time.Now().UnixMilli()}, recs); err != nil {
		b.Fatal(err)
	}
}

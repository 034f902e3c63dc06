package eventlog

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// benchRec is a ~300-byte event, the size of a typical agent message.
func benchRec(sessionID string, seq uint64) Record {
	body := fmt.Appendf(nil, `{"session":%q,"seq":%d,"type":"message","ts":1732363200123,"data":{"role":"assistant","text":%q},"raw":null}`,
		sessionID, seq, strings.Repeat("lorem ipsum ", 18))
	return Record{Seq: seq, Type: "message", Body: body}
}

func reportRate(b *testing.B, n int) {
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

func benchLog(b *testing.B, sessions int) (*Log, []string) {
	b.Helper()
	l := openLog(b, b.TempDir(), Options{})
	b.Cleanup(func() { closeLog(b, l) })
	ids := make([]string, sessions)
	for i := range ids {
		ids[i] = fmt.Sprintf("bench-%02d", i)
		if err := l.CreateSession(context.Background(), mkSession(ids[i], 1), nil); err != nil {
			b.Fatal(err)
		}
	}
	return l, ids
}

// BenchmarkAppendOneSession: one appender, one event per Append, each
// waiting for its commit.
func BenchmarkAppendOneSession(b *testing.B) {
	l, ids := benchLog(b, 1)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := l.Append(ctx, ids[0], nil, int64(i), benchRec(ids[0], uint64(i+1))); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportRate(b, b.N)
}

// BenchmarkAppend50Sessions: 50 concurrent appenders, one per session, one
// event per Append; b.N events in all.
func BenchmarkAppend50Sessions(b *testing.B) {
	const sessions = 50
	l, ids := benchLog(b, sessions)
	ctx := context.Background()
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	for _, id := range ids {
		wg.Go(func() {
			for seq := uint64(1); next.Add(1) <= int64(b.N); seq++ {
				if err := l.Append(ctx, id, nil, int64(seq), benchRec(id, seq)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	reportRate(b, b.N)
}

// baselineDB is the same database, schema and pragmas the log uses, driven
// directly: a prepared INSERT, one row per transaction, no batching.
func baselineDB(b *testing.B) (insertTx func(id string, r Record) error, cleanup func()) {
	b.Helper()
	db, err := openDB(filepath.Join(b.TempDir(), "agentd.db"), true)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := migrate(ctx, db); err != nil {
		b.Fatal(err)
	}
	ins, err := db.PrepareContext(ctx, `INSERT INTO events (session_id, seq, type, body, raw) VALUES (?, ?, ?, ?, ?)`)
	if err != nil {
		b.Fatal(err)
	}
	return func(id string, r Record) error {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			if _, err := tx.StmtContext(ctx, ins).ExecContext(ctx, id, r.Seq, r.Type, r.Body, nil); err != nil {
				tx.Rollback() //nolint:errcheck
				return err
			}
			return tx.Commit()
		}, func() {
			ins.Close()
			db.Close()
		}
}

// BenchmarkBaselineSQLiteInsertPerTx: raw modernc SQLite, one INSERT per
// transaction, one goroutine.
func BenchmarkBaselineSQLiteInsertPerTx(b *testing.B) {
	insert, cleanup := baselineDB(b)
	defer cleanup()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := insert("bench-00", benchRec("bench-00", uint64(i+1))); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportRate(b, b.N)
}

// BenchmarkBaselineSQLiteInsertPerTx50: the same, with 50 goroutines sharing
// the single write connection.
func BenchmarkBaselineSQLiteInsertPerTx50(b *testing.B) {
	insert, cleanup := baselineDB(b)
	defer cleanup()
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	for g := range 50 {
		id := fmt.Sprintf("bench-%02d", g)
		wg.Go(func() {
			for seq := uint64(1); next.Add(1) <= int64(b.N); seq++ {
				if err := insert(id, benchRec(id, seq)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	reportRate(b, b.N)
}

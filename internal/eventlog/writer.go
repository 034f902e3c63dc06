package eventlog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
)

// write is one unit of work for the writer goroutine.
type write struct {
	sessionID string
	create    *Session // insert this session row
	info      []byte   // replace the session's info, if non-nil
	updatedAt int64
	recs      []Record
	done      chan error
}

// CreateSession stores a new session together with its first events.
func (l *Log) CreateSession(ctx context.Context, s Session, recs []Record) error {
	s.LastSeq = lastSeq(recs, 0)
	return l.submit(ctx, &write{sessionID: s.ID, create: &s, updatedAt: s.UpdatedAt, recs: recs})
}

// Append stores events of one session, already numbered by the caller, and
// optionally replaces its info. It returns once they are committed.
func (l *Log) Append(ctx context.Context, sessionID string, info []byte, updatedAt int64, recs ...Record) error {
	return l.submit(ctx, &write{sessionID: sessionID, info: info, updatedAt: updatedAt, recs: recs})
}

func (l *Log) submit(ctx context.Context, w *write) error {
	w.done = make(chan error, 1)
	// Register as a sender while holding mu, so that Close, which sets
	// l.close under mu and then waits for senders, only stops the writer
	// once no write can still be put on the queue. (Selecting on l.stop
	// instead would let a write be queued after the writer's final drain,
	// leaving its caller waiting forever.)
	l.mu.Lock()
	if l.close {
		l.mu.Unlock()
		return ErrClosed
	}
	l.senders.Add(1)
	l.mu.Unlock()
	select {
	case l.writes <- w:
		l.senders.Done()
	case <-ctx.Done():
		l.senders.Done()
		return ctx.Err()
	}
	// Once queued, the write is committed or failed by the writer; waiting
	// for it regardless of ctx keeps the caller's view of sequences true.
	return <-w.done
}

// writer commits queued writes in batches until Close, then drains the queue.
func (l *Log) writer() {
	defer close(l.done)
	batch := make([]*write, 0, l.opts.MaxBatch)
	for {
		var first *write
		select {
		case first = <-l.writes:
		case <-l.stop:
			l.drain(batch)
			return
		}
		batch = append(batch[:0], first)
	fill:
		for len(batch) < l.opts.MaxBatch {
			select {
			case w := <-l.writes:
				batch = append(batch, w)
			default:
				break fill
			}
		}
		l.commit(batch)
	}
}

func (l *Log) drain(batch []*write) {
	for {
		batch = batch[:0]
	fill:
		for len(batch) < l.opts.MaxBatch {
			select {
			case w := <-l.writes:
				batch = append(batch, w)
			default:
				break fill
			}
		}
		if len(batch) == 0 {
			return
		}
		l.commit(batch)
	}
}

// commit runs a batch in one transaction; if that fails it retries each
// write alone so that one bad write cannot fail its neighbours.
var DebugBatches, DebugWrites atomic.Int64

func (l *Log) commit(batch []*write) {
	DebugBatches.Add(1)
	DebugWrites.Add(int64(len(batch)))
	if err := l.runTx(batch); err == nil {
		l.finish(batch, nil)
		return
	}
	for _, w := range batch {
		l.finish([]*write{w}, l.runTx([]*write{w}))
	}
}

func (l *Log) finish(batch []*write, err error) {
	for _, w := range batch {
		if err == nil && len(w.recs) > 0 {
			l.publish(w.sessionID, w.recs)
		}
		w.done <- err
	}
}

func (l *Log) runTx(batch []*write) error {
	ctx := context.Background()
	tx, err := l.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit this is a no-op
	ins, err := tx.PrepareContext(ctx, `INSERT INTO events (session_id, seq, type, body, raw) VALUES (?, ?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("prepare insert: %w", err)
	}
	defer ins.Close()
	for _, w := range batch {
		if err := applyWrite(ctx, tx, ins, w); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func applyWrite(ctx context.Context, tx *sql.Tx, ins *sql.Stmt, w *write) error {
	if w.create != nil {
		s := w.create
		_, err := tx.ExecContext(ctx, `INSERT INTO sessions (id, info, created_at, updated_at, last_seq) VALUES (?, ?, ?, ?, ?)`,
			s.ID, s.Info, s.CreatedAt, s.UpdatedAt, s.LastSeq)
		if err != nil {
			if strings.Contains(err.Error(), "UNIQUE") || strings.Contains(err.Error(), "PRIMARY KEY") {
				return ErrExists
			}
			return fmt.Errorf("insert session %q: %w", s.ID, err)
		}
	} else {
		res, err := tx.ExecContext(ctx, `UPDATE sessions SET info = COALESCE(?, info), updated_at = ?, last_seq = MAX(last_seq, ?) WHERE id = ?`,
			w.info, w.updatedAt, lastSeq(w.recs, 0), w.sessionID)
		if err != nil {
			return fmt.Errorf("update session %q: %w", w.sessionID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("update session %q: %w", w.sessionID, errors.New("no such session"))
		}
	}
	for _, r := range w.recs {
		var raw any
		if len(r.Raw) > 0 {
			raw = r.Raw
		}
		if _, err := ins.ExecContext(ctx, w.sessionID, r.Seq, r.Type, r.Body, raw); err != nil {
			return fmt.Errorf("insert event %s/%d: %w", w.sessionID, r.Seq, err)
		}
	}
	return nil
}

func lastSeq(recs []Record, def uint64) uint64 {
	if len(recs) == 0 {
		return def
	}
	return recs[len(recs)-1].Seq
}

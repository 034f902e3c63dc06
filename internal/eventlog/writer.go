package eventlog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"strings"
)

// write is one unit of work for the writer goroutine.
type write struct {
	sessionID string
	create    *Session // insert this session row
	info      []byte   // replace the session's info, if non-nil
	updatedAt int64
	recs      []Record
	onCommit  func()
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
	return l.AppendThen(ctx, sessionID, info, updatedAt, nil, recs...)
}

// AppendThen is Append with a hook that runs once the events are committed
// and before any reader is told of them, so that state derived from them
// (e.g. "the session has ended") is visible to whoever reads them.
func (l *Log) AppendThen(ctx context.Context, sessionID string, info []byte, updatedAt int64, onCommit func(), recs ...Record) error {
	return l.submit(ctx, &write{sessionID: sessionID, info: info, updatedAt: updatedAt, recs: recs, onCommit: onCommit})
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
		batch = l.fill(append(batch[:0], first))
		// Group commit: the callers woken by the previous commit are
		// usually runnable but have not queued their next write yet.
		// Yielding lets them do so, so that they share this transaction
		// instead of each paying for one. Stop yielding as soon as a
		// yield brings nothing new; alone, a yield costs next to nothing.
		for range maxLinger {
			if len(batch) >= l.opts.MaxBatch {
				break
			}
			n := len(batch)
			runtime.Gosched()
			if batch = l.fill(batch); len(batch) == n {
				break
			}
		}
		l.commit(batch)
	}
}

// maxLinger bounds how many times the writer yields to let a batch grow.
const maxLinger = 8

// fill adds queued writes to batch without waiting, up to MaxBatch.
func (l *Log) fill(batch []*write) []*write {
	for len(batch) < l.opts.MaxBatch {
		select {
		case w := <-l.writes:
			batch = append(batch, w)
		default:
			return batch
		}
	}
	return batch
}

func (l *Log) drain(batch []*write) {
	for {
		if batch = l.fill(batch[:0]); len(batch) == 0 {
			return
		}
		l.commit(batch)
	}
}

// commit runs a batch in one transaction; if that fails it retries each
// write alone so that one bad write cannot fail its neighbours.
func (l *Log) commit(batch []*write) {
	if err := l.runTx(batch); err == nil {
		l.finish(batch, nil)
		l.committed()
		return
	}
	for _, w := range batch {
		l.finish([]*write{w}, l.runTx([]*write{w}))
	}
}

func (l *Log) finish(batch []*write, err error) {
	published := false
	for _, w := range batch {
		if err == nil && w.onCommit != nil {
			w.onCommit()
		}
		if err == nil && len(w.recs) > 0 {
			l.publish(w.sessionID, w.recs)
			published = true
		}
		w.done <- err
	}
	if published {
		l.global.wake()
	}
}

// Statements of the writer, prepared once on its single connection.
const (
	insertEventSQL   = `INSERT INTO events (session_id, seq, type, body, raw) VALUES (?, ?, ?, ?, ?)`
	insertSessionSQL = `INSERT INTO sessions (id, info, created_at, updated_at, last_seq) VALUES (?, ?, ?, ?, ?)`
	updateSessionSQL = `UPDATE sessions SET info = COALESCE(?, info), updated_at = ?, last_seq = MAX(last_seq, ?) WHERE id = ?`
)

type writerStmts struct {
	insertEvent, insertSession, updateSession *sql.Stmt
}

func prepareWriter(ctx context.Context, db *sql.DB) (*writerStmts, error) {
	var st writerStmts
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&st.insertEvent, insertEventSQL},
		{&st.insertSession, insertSessionSQL},
		{&st.updateSession, updateSessionSQL},
	} {
		s, err := db.PrepareContext(ctx, p.sql)
		if err != nil {
			st.close()
			return nil, fmt.Errorf("prepare %q: %w", p.sql, err)
		}
		*p.stmt = s
	}
	return &st, nil
}

func (st *writerStmts) close() error {
	var errs []error
	for _, s := range []*sql.Stmt{st.insertEvent, st.insertSession, st.updateSession} {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	return errors.Join(errs...)
}

// txStmts are the writer's statements bound to one transaction; binding
// reuses the statements already prepared on the connection.
type txStmts struct {
	ctx                                       context.Context
	tx                                        *sql.Tx
	st                                        *writerStmts
	insertEvent, insertSession, updateSession *sql.Stmt
}

func (t *txStmts) bind(s **sql.Stmt, from *sql.Stmt) *sql.Stmt {
	if *s == nil {
		*s = t.tx.StmtContext(t.ctx, from)
	}
	return *s
}

func (l *Log) runTx(batch []*write) error {
	ctx := context.Background()
	tx, err := l.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit this is a no-op
	t := &txStmts{ctx: ctx, tx: tx, st: l.stmts}
	for _, w := range batch {
		if err := t.apply(w); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func (t *txStmts) apply(w *write) error {
	if w.create != nil {
		s := w.create
		_, err := t.bind(&t.insertSession, t.st.insertSession).ExecContext(t.ctx,
			s.ID, s.Info, s.CreatedAt, s.UpdatedAt, s.LastSeq)
		if err != nil {
			if strings.Contains(err.Error(), "UNIQUE") || strings.Contains(err.Error(), "PRIMARY KEY") {
				return ErrExists
			}
			return fmt.Errorf("insert session %q: %w", s.ID, err)
		}
	} else {
		var info any // SQL NULL keeps the stored info
		if len(w.info) > 0 {
			info = w.info
		}
		res, err := t.bind(&t.updateSession, t.st.updateSession).ExecContext(t.ctx,
			info, w.updatedAt, lastSeq(w.recs, 0), w.sessionID)
		if err != nil {
			return fmt.Errorf("update session %q: %w", w.sessionID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("update session %q: %w", w.sessionID, errors.New("no such session"))
		}
	}
	if len(w.recs) == 0 {
		return nil
	}
	ins := t.bind(&t.insertEvent, t.st.insertEvent)
	for _, r := range w.recs {
		var raw any
		if len(r.Raw) > 0 {
			raw = r.Raw
		}
		if _, err := ins.ExecContext(t.ctx, w.sessionID, r.Seq, r.Type, r.Body, raw); err != nil {
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

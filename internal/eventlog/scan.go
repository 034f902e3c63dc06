package eventlog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
)

// Entry is an event with its place in the whole log. Pos orders events of
// every session by commit: the events table's rowid. One writer commits
// transactions one after another and rows are only ever appended (never
// deleted, never vacuumed), so rowids grow in commit order and any reader's
// snapshot holds every position up to its highest one.
type Entry struct {
	Pos       int64
	SessionID string
	Record
}

// globalNotify wakes readers that follow every session at once.
type globalNotify struct {
	mu sync.Mutex
	ch chan struct{}
}

func (g *globalNotify) channel() chan struct{} {
	if g.ch == nil {
		g.ch = make(chan struct{})
	}
	return g.ch
}

func (g *globalNotify) wait() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.channel()
}

func (g *globalNotify) wake() {
	g.mu.Lock()
	defer g.mu.Unlock()
	close(g.channel())
	g.ch = make(chan struct{})
}

// Committed returns a channel that is closed at the next commit of events
// to any session (or at Close). Take it before ReadAfter, then wait on it
// if the read came back empty: nothing can fall between the two.
func (l *Log) Committed() <-chan struct{} {
	l.mu.RLock()
	closed := l.close
	l.mu.RUnlock()
	if closed {
		c := make(chan struct{})
		close(c)
		return c
	}
	return l.global.wait()
}

// ReadAfter returns up to limit events of every session with position >
// after, in commit order (limit <= 0: all of them).
func (l *Log) ReadAfter(ctx context.Context, after int64, limit int) ([]Entry, error) {
	sqlLimit := int64(limit)
	if limit <= 0 {
		sqlLimit = -1
	}
	rows, err := l.rdb.QueryContext(ctx, readAfterSQL, after, sqlLimit)
	if err != nil {
		return nil, fmt.Errorf("read events after position %d: %w", after, err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var e Entry
		if err := rows.Scan(&e.Pos, &e.SessionID, &e.Seq, &e.Type, &e.Body, &e.Raw); err != nil {
			return nil, fmt.Errorf("scan event: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read events after position %d: %w", after, err)
	}
	return out, nil
}

const readAfterSQL = `SELECT rowid, session_id, seq, type, body, raw FROM events WHERE rowid > ? ORDER BY rowid LIMIT ?`

// Head returns the position of the last committed event, 0 when there is none.
func (l *Log) Head(ctx context.Context) (int64, error) {
	var head sql.NullInt64
	if err := l.rdb.QueryRowContext(ctx, `SELECT max(rowid) FROM events`).Scan(&head); err != nil {
		return 0, fmt.Errorf("read head position: %w", err)
	}
	return head.Int64, nil
}

// ErrNoSession is returned by Session for an id that is not stored.
var ErrNoSession = errors.New("no such session")

// Session returns one stored session.
func (l *Log) Session(ctx context.Context, id string) (Session, error) {
	s := Session{ID: id}
	err := l.rdb.QueryRowContext(ctx, `SELECT info, created_at, updated_at, last_seq FROM sessions WHERE id = ?`, id).
		Scan(&s.Info, &s.CreatedAt, &s.UpdatedAt, &s.LastSeq)
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, fmt.Errorf("session %q: %w", id, ErrNoSession)
	}
	if err != nil {
		return Session{}, fmt.Errorf("read session %q: %w", id, err)
	}
	return s, nil
}
